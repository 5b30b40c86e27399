#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
// The gradient of layer normalisation (layernorm.comp) through its statistics, one
// invocation (LANES = 0) or LANES lanes of a subgroup (GPUs) per row of [rows, D] (D in
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
// LANES: 0, a lane per row (CPU devices); else lanes per row (GPUs: a power of two
// up to the subgroup's width, so that a lane takes about two quads: rows of 256
// f16 two a subgroup), the subgroup's rows side by side
layout(constant_id = 2) const uint LANES = 0u;
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
    bool sg = LANES != 0u;
    uint lanes = sg ? min(LANES, gl_SubgroupSize) : 1u, per = sg ? gl_SubgroupSize / lanes : 1u;
    uint first = sg ? gl_SubgroupInvocationID % lanes : 0u, step = lanes;  // this lane's quads of its row
    uint row0 = sg ? (gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID) * per + gl_SubgroupInvocationID / lanes
                   : gl_GlobalInvocationID.x;
    uint rows_step = sg ? gl_NumWorkGroups.x * gl_NumSubgroups * per : gl_NumWorkGroups.x * 64u;
    // (rows past the end run with `live` false: the shuffles stay in uniform control flow)
    for (uint base = row0 - row0 % per; base < p.rows; base += rows_step) {
        uint row = base + row0 % per;
        bool live = row < p.rows;
        row = live ? row : p.rows - 1u;  // (a dead lane reads the last row, writes nothing)
        uint q0 = row * nq;
        float mean = MEAN[row], rstd = RSTD[row], a = 0.0, c = 0.0, g[EPQ], gw[EPQ], xh[EPQ];
        for (uint q = first; q < nq; q += step) {
            load(q0, q, mean, rstd, g, gw, xh);
            [[unroll]] for (uint k = 0u; k < EPQ; k++) {
                a += gw[k];
                c += gw[k] * xh[k];
            }
        }
        a = cl_sum(a, lanes);
        c = cl_sum(c, lanes);
        a *= inv_d;
        c *= inv_d;
        for (uint q = first; q < nq && live; q += step) {
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
