#version 450
#extension GL_GOOGLE_include_directive : require
// Batch norm over axis 0 of [N, C] (train mode), one workgroup per channel:
// y = (x - mean) * invstd * gamma + beta, with mean, biased var and invstd; outputs f32.
// With update = 1 it also moves the f32 running statistics in place:
// rm += momentum * (mean - rm), rv += momentum * (var * N/(N-1) - rv).
// Bindings: 0 x, 1 gamma, 2 beta (in); 3 y, 4 mean, 5 var, 6 invstd (out);
// 7 running mean, 8 running var (read-write, f32; a dummy when update = 0).
#include "common.glsl"
#include "rowreduce.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint N; uint C; float eps; uint serial; uint update; float momentum; } p;
BUF_IN(0, X)
BUF_IN(1, GAM)
BUF_IN(2, BET)
BUF_OUT(3, Y)
BUF_OUT(4, MEAN)
BUF_OUT(5, VAR)
BUF_OUT(6, INV)
BUF_INOUT(7, RM)
BUF_INOUT(8, RV)

void running(uint c, float mean, float var) {
    if (p.update == 1u) {
        float rm = LD32(RM, c), rv = LD32(RV, c);
        ST32(RM, c, rm + p.momentum * (mean - rm));
        ST32(RV, c, rv + p.momentum * (var * float(p.N) / float(p.N - 1u) - rv));
    }
}

void main() {
    uint tid = gl_LocalInvocationID.x;
    float n = float(p.N);
    if (p.serial == 1u) {  // small batches: one invocation per channel, no barriers
        for (uint c = gl_GlobalInvocationID.x; c < p.C; c += gl_NumWorkGroups.x * 64u) {
            float a = 0.0;
            for (uint r = 0u; r < p.N; r++) a += LD(X, r * p.C + c);
            float mean = a / n, v = 0.0;
            for (uint r = 0u; r < p.N; r++) {
                float d = LD(X, r * p.C + c) - mean;
                v += d * d;
            }
            float var = v / n, inv = inversesqrt(var + p.eps);
            float gam = LD(GAM, c), bet = LD(BET, c);
            for (uint r = 0u; r < p.N; r++)
                ST32(Y, r * p.C + c, (LD(X, r * p.C + c) - mean) * inv * gam + bet);
            ST32(MEAN, c, mean);
            ST32(VAR, c, var);
            ST32(INV, c, inv);
            running(c, mean, var);
        }
        return;
    }
    for (uint c = gl_WorkGroupID.x; c < p.C; c += gl_NumWorkGroups.x) {
        float a = 0.0;
        for (uint r = tid; r < p.N; r += 64u) a += LD(X, r * p.C + c);
        float mean = wg_reduce(a, false) / n;
        float v = 0.0;
        for (uint r = tid; r < p.N; r += 64u) {
            float d = LD(X, r * p.C + c) - mean;
            v += d * d;
        }
        float var = wg_reduce(v, false) / n;
        float inv = inversesqrt(var + p.eps);
        float gam = LD(GAM, c), bet = LD(BET, c);
        for (uint r = tid; r < p.N; r += 64u)
            ST32(Y, r * p.C + c, (LD(X, r * p.C + c) - mean) * inv * gam + bet);
        if (tid == 0u) {
            ST32(MEAN, c, mean);
            ST32(VAR, c, var);
            ST32(INV, c, inv);
            running(c, mean, var);
        }
    }
}
