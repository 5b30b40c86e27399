#version 450
#extension GL_GOOGLE_include_directive : require
// Batch norm over axis 0 of [N, C] (train mode), one workgroup per channel:
// y = (x - mean) * invstd * gamma + beta, with mean, biased var and invstd; outputs f32
// (the backend converts y to x's dtype; the statistics stay f32).
// With update = 1 it also moves the f32 running statistics in place:
// rm += momentum * (mean - rm), rv += momentum * (var * N/(N-1) - rv).
// Bindings: 0 x, 1 gamma, 2 beta (in); 3 y, 4 mean, 5 var, 6 invstd (out);
// 7 running mean, 8 running var (read-write, f32; a dummy when update = 0).
#include "common.glsl"
#include "rowreduce.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint N; uint C; float eps; uint update; float momentum; } p;
BUF_IN(0, X)
BUF_IN(1, GAM)
BUF_IN(2, BET)
BUF_OUT(3, Y)
BUF_OUT(4, MEAN)
BUF_OUT(5, VAR)
BUF_OUT(6, INV)
BUF_INOUT(7, RM)
BUF_INOUT(8, RV)
layout(constant_id = 0) const uint QUADS = 0u;  // f32, C % 4 == 0, serial: channels in 16-byte quads
// SERIAL as a specialisation constant, not a push constant: the paths a dispatch
// does not take (barriers among them) are not compiled in (see binary4.comp).
layout(constant_id = 1) const uint SERIAL = 0u;
// PAIRS (-DF16, SERIAL = 1, C even): an invocation owns two neighbouring channels
// and writes y as packed halves (one word per row), so no conversion pass follows
layout(constant_id = 2) const uint PAIRS = 0u;
#ifndef F16
layout(std430, binding = 0) readonly buffer X4_b { vec4 X4[]; };
layout(std430, binding = 1) readonly buffer GAM4_b { vec4 GAM4[]; };
layout(std430, binding = 2) readonly buffer BET4_b { vec4 BET4[]; };
layout(std430, binding = 3) writeonly buffer Y4_b { vec4 Y4[]; };
layout(std430, binding = 4) writeonly buffer MEAN4_b { vec4 MEAN4[]; };
layout(std430, binding = 5) writeonly buffer VAR4_b { vec4 VAR4[]; };
layout(std430, binding = 6) writeonly buffer INV4_b { vec4 INV4[]; };
layout(std430, binding = 7) buffer RM4_b { vec4 RM4[]; };
layout(std430, binding = 8) buffer RV4_b { vec4 RV4[]; };

// One invocation per 4 channels: a quarter of the loads of the scalar loop below
// (lavapipe pays per load).
void quads() {
    uint cq4 = p.C / 4u;
    float n = float(p.N);
    for (uint c = gl_GlobalInvocationID.x; c < cq4; c += gl_NumWorkGroups.x * 64u) {
        vec4 a = vec4(0.0), v = vec4(0.0);
        for (uint r = 0u; r < p.N; r++) a += X4[r * cq4 + c];
        vec4 mean = a / n;
        for (uint r = 0u; r < p.N; r++) {
            vec4 d = X4[r * cq4 + c] - mean;
            v += d * d;
        }
        vec4 var = v / n, inv = inversesqrt(var + p.eps);
        vec4 gi = inv * GAM4[c], bet = BET4[c];
        for (uint r = 0u; r < p.N; r++) Y4[r * cq4 + c] = (X4[r * cq4 + c] - mean) * gi + bet;
        MEAN4[c] = mean;
        VAR4[c] = var;
        INV4[c] = inv;
        if (p.update == 1u) {
            RM4[c] += p.momentum * (mean - RM4[c]);
            RV4[c] += p.momentum * (var * n / (n - 1.0) - RV4[c]);
        }
    }
}
#endif

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
#ifndef F16
    if (QUADS == 1u) {
        quads();
        return;
    }
#endif
    if (SERIAL == 1u && PAIRS == 1u) {
        for (uint cp = gl_GlobalInvocationID.x; cp < p.C / 2u; cp += gl_NumWorkGroups.x * 64u) {
            uint c = 2u * cp;
            vec2 a = vec2(0.0), v = vec2(0.0);
            for (uint r = 0u; r < p.N; r++) a += vec2(LD(X, r * p.C + c), LD(X, r * p.C + c + 1u));
            vec2 mean = a / n;
            for (uint r = 0u; r < p.N; r++) {
                vec2 d = vec2(LD(X, r * p.C + c), LD(X, r * p.C + c + 1u)) - mean;
                v += d * d;
            }
            vec2 var = v / n, inv = inversesqrt(var + p.eps);
            vec2 gi = inv * vec2(LD(GAM, c), LD(GAM, c + 1u)), bet = vec2(LD(BET, c), LD(BET, c + 1u));
            for (uint r = 0u; r < p.N; r++)
                Y[(r * p.C + c) / 2u] = pack_half2((vec2(LD(X, r * p.C + c), LD(X, r * p.C + c + 1u)) - mean) * gi + bet);
            [[unroll]] for (uint h = 0u; h < 2u; h++) {
                ST32(MEAN, c + h, mean[h]);
                ST32(VAR, c + h, var[h]);
                ST32(INV, c + h, inv[h]);
                running(c + h, mean[h], var[h]);
            }
        }
        return;
    }
    if (SERIAL == 1u) {  // small batches: one invocation per channel, no barriers
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
