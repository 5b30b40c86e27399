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
