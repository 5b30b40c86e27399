#version 450
#extension GL_GOOGLE_include_directive : require
// Exact batch-norm gradient through the batch statistics, one workgroup per channel:
//   dbeta = sum g, dgamma = sum g * xhat, dx = invstd * gamma * (g - dbeta/N - xhat * dgamma/N).
// Bindings: 0 g, 1 x, 2 mean, 3 invstd, 4 gamma (in); 5 dx, 6 dgamma, 7 dbeta (out, f32).
#include "common.glsl"
#include "rowreduce.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint N; uint C; uint serial; } p;
BUF_IN(0, G)
BUF_IN(1, X)
BUF_IN(2, MEAN)
BUF_IN(3, INV)
BUF_IN(4, GAM)
BUF_OUT(5, DX)
BUF_OUT(6, DG)
BUF_OUT(7, DB)

void main() {
    uint tid = gl_LocalInvocationID.x;
    float n = float(p.N);
    if (p.serial == 1u) {  // small batches: one invocation per channel, no barriers
        for (uint c = gl_GlobalInvocationID.x; c < p.C; c += gl_NumWorkGroups.x * 64u) {
            float mean = LD(MEAN, c), inv = LD(INV, c), gam = LD(GAM, c);
            float db = 0.0, dg = 0.0;
            for (uint r = 0u; r < p.N; r++) {
                float g = LD(G, r * p.C + c);
                db += g;
                dg += g * (LD(X, r * p.C + c) - mean) * inv;
            }
            for (uint r = 0u; r < p.N; r++) {
                float g = LD(G, r * p.C + c);
                float xh = (LD(X, r * p.C + c) - mean) * inv;
                ST32(DX, r * p.C + c, inv * gam * (g - db / n - xh * dg / n));
            }
            ST32(DG, c, dg);
            ST32(DB, c, db);
        }
        return;
    }
    for (uint c = gl_WorkGroupID.x; c < p.C; c += gl_NumWorkGroups.x) {
        float mean = LD(MEAN, c), inv = LD(INV, c), gam = LD(GAM, c);
        float db = 0.0, dg = 0.0;
        for (uint r = tid; r < p.N; r += 64u) {
            float g = LD(G, r * p.C + c);
            db += g;
            dg += g * (LD(X, r * p.C + c) - mean) * inv;
        }
        db = wg_reduce(db, false);
        dg = wg_reduce(dg, false);
        for (uint r = tid; r < p.N; r += 64u) {
            float g = LD(G, r * p.C + c);
            float xh = (LD(X, r * p.C + c) - mean) * inv;
            ST32(DX, r * p.C + c, inv * gam * (g - db / n - xh * dg / n));
        }
        if (tid == 0u) {
            ST32(DG, c, dg);
            ST32(DB, c, db);
        }
    }
}
