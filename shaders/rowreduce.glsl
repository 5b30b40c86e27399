// Workgroup-wide max/sum over 64 invocations (row-wise shaders); with
// ROWS_IN_QUADS, log-sum-exp over rows of 16-byte quads by one invocation or
// by one subgroup (the includer enables GL_KHR_shader_subgroup_shuffle).
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

// A row of C elements from base, by one invocation: its log-sum-exp with the
// online max and sum (one pass, not two); the includer defines x_el(i).
float x_el(uint i);
// The exps are taken against safe(max): 0 while the max is still -inf (masked
// logits -inf leading a row), where exp(-inf - -inf) would be NaN; exp(-inf - 0)
// is 0, so the sum stays 0 until a finite value arrives.
float safe(float mx) { return mx == uintBitsToFloat(0xff800000u) ? 0.0 : mx; }
float row_lse_el(uint base, uint C) {
    float m = uintBitsToFloat(0xff800000u), sum = 0.0;
    for (uint j = 0u; j < C; j++) {
        float v = x_el(base + j), mn = max(m, v), ms = safe(mn);
        sum = sum * exp(m - ms) + exp(v - ms);
        m = mn;
    }
    return m + log(sum);
}

#ifdef ROWS_IN_QUADS
// Rows in words (the includer declares X4, the input as uvec4, and includes
// vec4.glsl): a row is words [ws, wt) -- f32 a value a word, f16 two (f16 rows
// of an even length) -- read as the whole 16-byte quads within it, and word by
// word at its ends when it does not start or end on a quad.  row_lse4: its
// log-sum-exp in one pass, the online max moving once per quad (EPQ + 1 exps per
// quad, not 2 * EPQ).  This invocation takes the quads (and end words) first,
// first + step, ...: (0, 1) the whole row; (lane, SG) a subgroup's share -- a
// subgroup per row (rows of at least SG quads; GPUs), so each load of the subgroup
// is one contiguous run (coalesced; a lane per row reads SG rows far apart, which
// lavapipe runs faster) -- whose partial maxima and sums `across` then combines
// by a butterfly of shuffles (call it in subgroup-uniform control flow).
#define EPW (EPQ / 4u)  // values per word
float sg_max(float v) {
    for (uint o = gl_SubgroupSize / 2u; o > 0u; o >>= 1u) v = max(v, subgroupShuffleXor(v, o));
    return v;
}
float sg_sum(float v) {
    for (uint o = gl_SubgroupSize / 2u; o > 0u; o >>= 1u) v += subgroupShuffleXor(v, o);
    return v;
}
// the whole quads [x, y) of words [ws, wt); the words before x * 4 and from y * 4 are its ends
uvec2 row_quads(uint ws, uint wt) {
    uint qa = (ws + 3u) / 4u;
    return uvec2(qa, max(wt / 4u, qa));
}
// word w's values (f32: the second is -inf, adding nothing) as one online step
void lse_word(inout float m, inout float s, uint w) {
    vec2 x = unpack_w(LDW(X4, w));
    float b = EPW == 2u ? x.y : uintBitsToFloat(0xff800000u);
    float mn = max(m, max(x.x, b)), ms = safe(mn);
    s = s * exp(m - ms) + exp(x.x - ms) + (EPW == 2u ? exp(b - ms) : 0.0);
    m = mn;
}
float row_lse4(uint ws, uint wt, uint first, uint step, bool across) {
    float m = uintBitsToFloat(0xff800000u), s = 0.0, v[EPQ];
    uvec2 qr = row_quads(ws, wt);
    for (uint q = qr.x + first; q < qr.y; q += step) {
        LOADQ(LDQ(X4, q), v);
        float mq = v[0];
        [[unroll]] for (uint k = 1u; k < EPQ; k++) mq = max(mq, v[k]);
        float mn = max(m, mq), ms = safe(mn), t = 0.0;
        [[unroll]] for (uint k = 0u; k < EPQ; k++) t += exp(v[k] - ms);
        s = s * exp(m - ms) + t;
        m = mn;
    }
    for (uint w = ws + first; w < min(qr.x * 4u, wt); w += step) lse_word(m, s, w);
    for (uint w = qr.y * 4u + first; w < wt; w += step) lse_word(m, s, w);
    if (!across) return m + log(s);
    float mall = sg_max(m);
    return mall + log(sg_sum(s == 0.0 ? 0.0 : s * exp(m - mall)));  // a lane without quads adds 0
}
#endif
