#version 450
#extension GL_GOOGLE_include_directive : require
// Batch norm over axis 0 of [N, C], one workgroup per channel; outputs in f32.
// BWD = 0: y = (x - mean) * invstd * gamma + beta, and mean, var, invstd.
// BWD = 1: the exact gradient through the batch statistics:
//   dbeta = sum g, dgamma = sum g * xhat,
//   dx = invstd * gamma * (g - dbeta / N - xhat * dgamma / N).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint BWD = 0u;
// Forward: in x, gamma, beta (bg); out y (out), mean, invstd, var (o1).
// Backward: in x, gamma, g (bg), mean, invstd; out dx (out), dgamma (o1), dbeta (o2).
layout(push_constant) uniform P {
    uint N; uint C; uint x; uint gamma; uint bg; uint out_; uint mean; uint invstd;
    uint o1; uint o2; float eps;
} p;
shared float s[64];
shared float s2[64];

void reduce2(inout float a, inout float b) {
    uint tid = gl_LocalInvocationID.x;
    s[tid] = a;
    s2[tid] = b;
    barrier();
    for (uint st = 32u; st > 0u; st >>= 1u) {
        if (tid < st) {
            s[tid] += s[tid + st];
            s2[tid] += s2[tid + st];
        }
        barrier();
    }
    a = s[0];
    b = s2[0];
    barrier();
}

void main() {
    uint tid = gl_LocalInvocationID.x;
    float n = float(p.N);
    for (uint c = gl_WorkGroupID.x; c < p.C; c += gl_NumWorkGroups.x) {
        float gam = ld(p.gamma, c);
        if (BWD == 0u) {
            float a = 0.0, z = 0.0;
            for (uint r = tid; r < p.N; r += 64u) a += ld(p.x, r * p.C + c);
            reduce2(a, z);
            float mean = a / n;
            float v = 0.0;
            z = 0.0;
            for (uint r = tid; r < p.N; r += 64u) {
                float d = ld(p.x, r * p.C + c) - mean;
                v += d * d;
            }
            reduce2(v, z);
            float var = v / n;
            float inv = inversesqrt(var + p.eps);
            float bet = ld(p.bg, c);
            for (uint r = tid; r < p.N; r += 64u)
                st32(p.out_, r * p.C + c, (ld(p.x, r * p.C + c) - mean) * inv * gam + bet);
            if (tid == 0u) {
                st32(p.mean, c, mean);
                st32(p.o1, c, var);
                st32(p.invstd, c, inv);
            }
        } else {
            float mean = ld(p.mean, c);
            float inv = ld(p.invstd, c);
            float db = 0.0, dg = 0.0;
            for (uint r = tid; r < p.N; r += 64u) {
                float g = ld(p.bg, r * p.C + c);
                db += g;
                dg += g * (ld(p.x, r * p.C + c) - mean) * inv;
            }
            reduce2(db, dg);
            for (uint r = tid; r < p.N; r += 64u) {
                float g = ld(p.bg, r * p.C + c);
                float xh = (ld(p.x, r * p.C + c) - mean) * inv;
                st32(p.out_, r * p.C + c, inv * gam * (g - db / n - xh * dg / n));
            }
            if (tid == 0u) {
                st32(p.o1, c, dg);
                st32(p.o2, c, db);
            }
        }
    }
}
