#version 450
#extension GL_GOOGLE_include_directive : require
// Fused softmax + cross-entropy rows: probs [rows, C] (f32) and each row's
// loss sum_j t_j * (logsumexp - x_j) (f32); the mean is a reduce afterwards.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint rows; uint C; uint x; uint t; uint probs; uint loss; } p;
shared float s[64];

float wg_reduce(float v, bool is_max) {
    uint tid = gl_LocalInvocationID.x;
    s[tid] = v;
    barrier();
    for (uint st = 32u; st > 0u; st >>= 1u) {
        if (tid < st) s[tid] = is_max ? max(s[tid], s[tid + st]) : s[tid] + s[tid + st];
        barrier();
    }
    float r = s[0];
    barrier();
    return r;
}

void main() {
    uint tid = gl_LocalInvocationID.x;
    for (uint row = gl_WorkGroupID.x; row < p.rows; row += gl_NumWorkGroups.x) {
        uint base = row * p.C;
        float m = uintBitsToFloat(0xff800000u);
        for (uint j = tid; j < p.C; j += 64u) m = max(m, ld(p.x, base + j));
        m = wg_reduce(m, true);
        float sum = 0.0;
        for (uint j = tid; j < p.C; j += 64u) sum += exp(ld(p.x, base + j) - m);
        float lse = m + log(wg_reduce(sum, false));
        float l = 0.0;
        for (uint j = tid; j < p.C; j += 64u) {
            float z = ld(p.x, base + j) - lse;
            l -= ld(p.t, base + j) * z;
            st32(p.probs, base + j, exp(z));
        }
        l = wg_reduce(l, false);
        if (tid == 0u) st32(p.loss, row, l);
    }
}
