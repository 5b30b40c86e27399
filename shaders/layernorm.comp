#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
// Layer normalisation of x [rows, D] (D a whole number of 16-byte quads: 4 f32 or
// 8 halves), one invocation per row (LANES = 0, CPU devices) or LANES lanes per row
// (GPUs: lanes on adjacent quads, loads coalesced; a lane per row of 256 ran at 13%
// of a copy's rate on an H200, a subgroup per row at 71% in f32, 56% in f16): mean, then the biased variance of x - mean
// (two passes: no cancellation of a large mean), rstd = 1 / sqrt(var + eps),
// then y = (x - mean) * rstd * w + b (HAS_W / HAS_B; a dummy binding else), in
// x's dtype; the row's mean and rstd in f32 for the backward (layernorm_bwd.comp).
// One dispatch for what the composed op ran in nine (lavapipe, [1024, 128]).
// Bindings: 0 x, 1 w, 2 b (in), 3 y, 4 mean, 5 rstd (out).
// -DTEXEL_IN (the "_tx" twin, CPU devices): x, w, b through texel views of quads.
#define H2_PLAIN true  // (no compares of the values: common.glsl)
#include "common.glsl"
#include "vec4.glsl"
#include "subgroup.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint HAS_W = 0u;
layout(constant_id = 1) const uint HAS_B = 0u;
// LANES: 0, a lane per row (CPU devices); else lanes per row (GPUs: a power of two
// up to the subgroup's width, so that a lane takes about two quads: rows of 256
// f16 two a subgroup), the subgroup's rows side by side
layout(constant_id = 2) const uint LANES = 0u;
layout(push_constant) uniform P { uint rows; uint D; float eps; } p;
BUF4_IN(0, X4)
BUF4_IN(1, W4)
BUF4_IN(2, B4)
layout(std430, binding = 3) writeonly buffer Y4_b { uvec4 Y4[]; };
layout(std430, binding = 4) writeonly buffer M_b { float MEAN[]; };
layout(std430, binding = 5) writeonly buffer R_b { float RSTD[]; };

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
        float v[EPQ], s = 0.0;
        for (uint q = first; q < nq; q += step) {
            LOADQ(LDQ(X4, q0 + q), v);
            [[unroll]] for (uint k = 0u; k < EPQ; k++) s += v[k];
        }
        float mean = cl_sum(s, lanes) * inv_d, ss = 0.0;
        for (uint q = first; q < nq; q += step) {
            LOADQ(LDQ(X4, q0 + q), v);
            [[unroll]] for (uint k = 0u; k < EPQ; k++) ss += (v[k] - mean) * (v[k] - mean);
        }
        float rstd = inversesqrt(cl_sum(ss, lanes) * inv_d + p.eps);
        for (uint q = first; q < nq && live; q += step) {
            float w[EPQ], b[EPQ];
            LOADQ(LDQ(X4, q0 + q), v);
            if (HAS_W == 1u) LOADQ(LDQ(W4, q), w);
            if (HAS_B == 1u) LOADQ(LDQ(B4, q), b);
            [[unroll]] for (uint k = 0u; k < EPQ; k++) {
                v[k] = (v[k] - mean) * rstd;
                if (HAS_W == 1u) v[k] *= w[k];
                if (HAS_B == 1u) v[k] += b[k];
            }
            Y4[q0 + q] = STOREQ(v);
        }
        if (first == 0u && live) {
            MEAN[row] = mean;
            RSTD[row] = rstd;
        }
    }
}
