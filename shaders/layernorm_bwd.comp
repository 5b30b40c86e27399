#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
// The gradient of layer normalisation (layernorm.comp) through its statistics, one
// invocation (SG = 0) or one subgroup (SG = 1, GPUs) per row of [rows, D] (D in
// whole 16-byte quads): with gw = g * w
// (HAS_W; else g) and xhat = (x - mean) * rstd,
//   dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))
// in x's dtype, and (NEED_GX) gx = g * xhat, whose column sums the caller takes
// for w's gradient.  Bindings: 0 g, 1 x, 2 w, 3 mean, 4 rstd (in), 5 dx, 6 gx
// (out; a dummy without NEED_GX).  -DTEXEL_IN (CPU devices): g, x, w through
// texel views of quads.
#define H2_PLAIN true  // (no compares of the values: common.glsl)
#include "common.glsl"
#include "vec4.glsl"
#include "subgroup.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint HAS_W = 0u;
layout(constant_id = 1) const uint NEED_GX = 0u;
layout(constant_id = 2) const uint SG = 0u;
layout(push_constant) uniform P { uint rows; uint D; } p;
BUF4_IN(0, G4)
BUF4_IN(1, X4)
BUF4_IN(2, W4)
layout(std430, binding = 3) readonly buffer M_b { float MEAN[]; };
layout(std430, binding = 4) readonly buffer R_b { float RSTD[]; };
layout(std430, binding = 5) writeonly buffer DX_b { uvec4 DX4[]; };
layout(std430, binding = 6) writeonly buffer GX_b { uvec4 GX4[]; };

// quad q of the row from q0: g, gw and xhat
void load(uint q0, uint q, float mean, float rstd, out float g[EPQ], out float gw[EPQ], out float xh[EPQ]) {
    float w[EPQ];
    LOADQ(LDQ(G4, q0 + q), g);
    LOADQ(LDQ(X4, q0 + q), xh);
    if (HAS_W == 1u) LOADQ(LDQ(W4, q), w);
    [[unroll]] for (uint k = 0u; k < EPQ; k++) {
        xh[k] = (xh[k] - mean) * rstd;
        gw[k] = HAS_W == 1u ? g[k] * w[k] : g[k];
    }
}

void main() {
    uint nq = p.D / EPQ;
    float inv_d = 1.0 / float(p.D);
    bool sg = SG == 1u;
    uint first = sg ? gl_SubgroupInvocationID : 0u, step = sg ? gl_SubgroupSize : 1u;
    uint row0 = sg ? gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID : gl_GlobalInvocationID.x;
    uint rows_step = sg ? gl_NumWorkGroups.x * gl_NumSubgroups : gl_NumWorkGroups.x * 64u;
    for (uint row = row0; row < p.rows; row += rows_step) {  // (uniform in a subgroup with SG)
        uint q0 = row * nq;
        float mean = MEAN[row], rstd = RSTD[row], a = 0.0, c = 0.0, g[EPQ], gw[EPQ], xh[EPQ];
        for (uint q = first; q < nq; q += step) {
            load(q0, q, mean, rstd, g, gw, xh);
            [[unroll]] for (uint k = 0u; k < EPQ; k++) {
                a += gw[k];
                c += gw[k] * xh[k];
            }
        }
        if (sg) {
            a = sg_sum(a);
            c = sg_sum(c);
        }
        a *= inv_d;
        c *= inv_d;
        for (uint q = first; q < nq; q += step) {
            load(q0, q, mean, rstd, g, gw, xh);
            float dx[EPQ], gx[EPQ];
            [[unroll]] for (uint k = 0u; k < EPQ; k++) {
                dx[k] = rstd * (gw[k] - a - xh[k] * c);
                gx[k] = g[k] * xh[k];
            }
            DX4[q0 + q] = STOREQ(dx);
            if (NEED_GX == 1u) GX4[q0 + q] = STOREQ(gx);
        }
    }
}
