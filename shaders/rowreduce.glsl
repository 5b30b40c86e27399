// Workgroup-wide max/sum over 64 invocations (row-wise shaders).
shared float s_red[64];

float wg_reduce(float v, bool is_max) {
    uint tid = gl_LocalInvocationID.x;
    s_red[tid] = v;
    barrier();
    for (uint st = 32u; st > 0u; st >>= 1u) {
        if (tid < st) s_red[tid] = is_max ? max(s_red[tid], s_red[tid + st]) : s_red[tid] + s_red[tid + st];
        barrier();
    }
    float r = s_red[0];
    barrier();
    return r;
}

#ifdef ROWS_IN_QUADS
// Rows of whole 16-byte quads (the includer declares X4, the input as uvec4,
// and includes vec4.glsl): the log-sum-exp of quads q0 .. q0+nq-1 in one pass,
// the online max moving once per quad (EPQ + 1 exps per quad, not 2 * EPQ).
float row_lse4(uint q0, uint nq) {
    float m = uintBitsToFloat(0xff800000u), s = 0.0, v[EPQ];
    for (uint q = q0; q < q0 + nq; q++) {
        LOADQ(X4[q], v);
        float mq = v[0];
        [[unroll]] for (uint k = 1u; k < EPQ; k++) mq = max(mq, v[k]);
        float mn = max(m, mq), t = 0.0;
        [[unroll]] for (uint k = 0u; k < EPQ; k++) t += exp(v[k] - mn);
        s = s * exp(m - mn) + t;
        m = mn;
    }
    return m + log(s);
}
#endif
