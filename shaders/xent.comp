#version 450
#extension GL_GOOGLE_include_directive : require
// Fused softmax + cross-entropy rows: probs [rows, C] (f32) and each row's
// loss sum_j t_j * (logsumexp - x_j) (f32); the mean is a reduce afterwards.
// Bindings: 0 x (in), 1 t (in), 2 probs (out), 3 loss (out).
#include "common.glsl"
#include "rowreduce.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint rows; uint C; uint serial; } p;
BUF_IN(0, X)
BUF_IN(1, T)
BUF_OUT(2, PR)
BUF_OUT(3, L)

void main() {
    uint tid = gl_LocalInvocationID.x;
    if (p.serial == 1u) {  // short rows: one invocation per row, no barriers
        for (uint row = gl_GlobalInvocationID.x; row < p.rows; row += gl_NumWorkGroups.x * 64u) {
            uint base = row * p.C;
            float m = uintBitsToFloat(0xff800000u);
            for (uint j = 0u; j < p.C; j++) m = max(m, LD(X, base + j));
            float sum = 0.0;
            for (uint j = 0u; j < p.C; j++) sum += exp(LD(X, base + j) - m);
            float lse = m + log(sum), l = 0.0;
            for (uint j = 0u; j < p.C; j++) {
                float z = LD(X, base + j) - lse;
                l -= LD(T, base + j) * z;
                ST32(PR, base + j, exp(z));
            }
            ST32(L, row, l);
        }
        return;
    }
    for (uint row = gl_WorkGroupID.x; row < p.rows; row += gl_NumWorkGroups.x) {
        uint base = row * p.C;
        float m = uintBitsToFloat(0xff800000u);
        for (uint j = tid; j < p.C; j += 64u) m = max(m, LD(X, base + j));
        m = wg_reduce(m, true);
        float sum = 0.0;
        for (uint j = tid; j < p.C; j += 64u) sum += exp(LD(X, base + j) - m);
        float lse = m + log(wg_reduce(sum, false));
        float l = 0.0;
        for (uint j = tid; j < p.C; j += 64u) {
            float z = LD(X, base + j) - lse;
            l -= LD(T, base + j) * z;
            ST32(PR, base + j, exp(z));
        }
        l = wg_reduce(l, false);
        if (tid == 0u) ST32(L, row, l);
    }
}
