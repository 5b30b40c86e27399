#version 450
#extension GL_GOOGLE_include_directive : require
// Exact batch-norm gradient through the batch statistics, one workgroup per channel:
//   dbeta = sum g, dgamma = sum g * xhat, dx = invstd * gamma * (g - dbeta/N - xhat * dgamma/N).
// Bindings: 0 g, 1 x, 2 mean, 3 invstd (f32 whatever x's dtype), 4 gamma (in); 5 dx,
// 6 dgamma, 7 dbeta (out, f32; halves with PAIRS).
#include "common.glsl"
#include "rowreduce.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint N; uint C; } p;
BUF_IN(0, G)
BUF_IN(1, X)
BUF_IN(2, MEAN)
BUF_IN(3, INV)
BUF_IN(4, GAM)
BUF_OUT(5, DX)
BUF_OUT(6, DG)
BUF_OUT(7, DB)
layout(constant_id = 0) const uint QUADS = 0u;  // f32, C % 4 == 0, serial: channels in 16-byte quads
// SERIAL as a specialisation constant, not a push constant: the paths a dispatch
// does not take (barriers among them) are not compiled in (see binary4.comp).
layout(constant_id = 1) const uint SERIAL = 0u;
// PAIRS (-DF16, SERIAL = 1, C even): an invocation owns two neighbouring channels
// and writes dx, dgamma and dbeta as packed halves, so no conversion passes follow
layout(constant_id = 2) const uint PAIRS = 0u;
#ifndef F16
layout(std430, binding = 0) readonly buffer G4_b { vec4 G4[]; };
layout(std430, binding = 1) readonly buffer X4_b { vec4 X4[]; };
layout(std430, binding = 2) readonly buffer MEAN4_b { vec4 MEAN4[]; };
layout(std430, binding = 3) readonly buffer INV4_b { vec4 INV4[]; };
layout(std430, binding = 4) readonly buffer GAM4_b { vec4 GAM4[]; };
layout(std430, binding = 5) writeonly buffer DX4_b { vec4 DX4[]; };
layout(std430, binding = 6) writeonly buffer DG4_b { vec4 DG4[]; };
layout(std430, binding = 7) writeonly buffer DB4_b { vec4 DB4[]; };

// One invocation per 4 channels (see bn_fwd.comp).
void quads() {
    uint cq4 = p.C / 4u;
    float n = float(p.N);
    for (uint c = gl_GlobalInvocationID.x; c < cq4; c += gl_NumWorkGroups.x * 64u) {
        vec4 mean = MEAN4[c], inv = INV4[c], gam = GAM4[c];
        vec4 db = vec4(0.0), dg = vec4(0.0);
        for (uint r = 0u; r < p.N; r++) {
            vec4 g = G4[r * cq4 + c];
            db += g;
            dg += g * (X4[r * cq4 + c] - mean) * inv;
        }
        vec4 k = inv * gam, mdb = db / n, mdg = dg / n;
        for (uint r = 0u; r < p.N; r++) {
            vec4 xh = (X4[r * cq4 + c] - mean) * inv;
            DX4[r * cq4 + c] = k * (G4[r * cq4 + c] - mdb - xh * mdg);
        }
        DG4[c] = dg;
        DB4[c] = db;
    }
}
#endif

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
            vec2 mean = vec2(LD32(MEAN, c), LD32(MEAN, c + 1u)), inv = vec2(LD32(INV, c), LD32(INV, c + 1u));
            vec2 gam = vec2(LD(GAM, c), LD(GAM, c + 1u)), db = vec2(0.0), dg = vec2(0.0);
            for (uint r = 0u; r < p.N; r++) {
                vec2 g = vec2(LD(G, r * p.C + c), LD(G, r * p.C + c + 1u));
                db += g;
                dg += g * (vec2(LD(X, r * p.C + c), LD(X, r * p.C + c + 1u)) - mean) * inv;
            }
            for (uint r = 0u; r < p.N; r++) {
                vec2 g = vec2(LD(G, r * p.C + c), LD(G, r * p.C + c + 1u));
                vec2 xh = (vec2(LD(X, r * p.C + c), LD(X, r * p.C + c + 1u)) - mean) * inv;
                DX[(r * p.C + c) / 2u] = pack_half2(inv * gam * (g - db / n - xh * dg / n));
            }
            DG[cp] = pack_half2(dg);
            DB[cp] = pack_half2(db);
        }
        return;
    }
    if (SERIAL == 1u) {  // small batches: one invocation per channel, no barriers
        for (uint c = gl_GlobalInvocationID.x; c < p.C; c += gl_NumWorkGroups.x * 64u) {
            float mean = LD32(MEAN, c), inv = LD32(INV, c), gam = LD(GAM, c);
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
        float mean = LD32(MEAN, c), inv = LD32(INV, c), gam = LD(GAM, c);
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
