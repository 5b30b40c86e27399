#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
// Row-wise (log-)softmax of x [rows, C] -> y (f32); one workgroup per row, or
// one invocation per row when serial = 1 (short rows).  QUADS = 1 (serial = 1):
// 16-byte loads and stores of the whole quads in a row, its ends word by word
// (rowreduce.glsl), and y in x's dtype (packed halves with -DF16), so f16 needs
// no conversion pass.  QUADS = 2: the
// same with a subgroup per row (rows of at least a subgroup's worth of quads).
// -DTEXEL_IN (the "_tx" twin, CPU devices): the QUADS and serial paths (not a
// workgroup per row), x read through a texel buffer (vec4.glsl; an R32UI view
// of its words with QUADS = 0).  Bindings: 0 x (in), 1 y (out).
#include "common.glsl"
#include "vec4.glsl"
#define ROWS_IN_QUADS
BUF4_IN(0, X4)  // a texel buffer with -DTEXEL_IN (CPU devices; QUADS only)
layout(std430, binding = 1) writeonly buffer Y4_b { uvec4 Y4[]; };
#include "rowreduce.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint LOG = 0u;
layout(constant_id = 1) const uint QUADS = 0u;
// SERIAL as a specialisation constant, not a push constant: the paths a dispatch
// does not take (barriers among them) are not compiled in (see binary4.comp).
layout(constant_id = 2) const uint SERIAL = 0u;
layout(push_constant) uniform P { uint rows; uint C; } p;
layout(std430, binding = 1) buffer Y_wb { uint Y_w[]; };  // y by words (atomics: see STORE_END_WORD)
void st_y(uint i, float v) { Y_w[i] = floatBitsToUint(v); }  // (y in f32)
void y_word(uint w, uint s, uint t, float lse) {
    vec2 z = unpack_w(LDW(X4, w)) - lse;
    STORE_END_WORD(Y_w, w, s, t, LOG == 1u ? z : exp(z));
}
#ifdef TEXEL_IN
// serial rows, QUADS = 0: an R32UI view of x's words
float x_el(uint i) { return LDE_WORDS(X4, i); }
#else
BUF_IN(0, X)
float x_el(uint i) { return LD(X, i); }
#endif

void main() {
    uint tid = gl_LocalInvocationID.x;
    if (QUADS != 0u) {  // 1: a lane per row; 2: a subgroup per row, lanes taking every SG-th quad
        bool sg = QUADS == 2u;
        uint first = sg ? gl_SubgroupInvocationID : 0u, step = sg ? gl_SubgroupSize : 1u;
        uint row0 = sg ? gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID : gl_GlobalInvocationID.x;
        uint rows_step = sg ? gl_NumWorkGroups.x * gl_NumSubgroups : gl_NumWorkGroups.x * 64u;
        for (uint row = row0; row < p.rows; row += rows_step) {
            uint s = row * p.C, t = s + p.C;
            float lse = row_lse4(s, t, first, step, sg), v[EPQ];
            uvec2 qr = row_quads(s, t);
            for (uint q = qr.x + first; q < qr.y; q += step) {
                LOADQ(LDQ(X4, q), v);
                [[unroll]] for (uint k = 0u; k < EPQ; k++) v[k] = LOG == 1u ? v[k] - lse : exp(v[k] - lse);
                Y4[q] = STOREQ(v);
            }
            FOR_END_WORDS(s, t, qr, first, step, w) y_word(w, s, t, lse);
        }
        return;
    }
    if (SERIAL == 1u) {  // short rows: one invocation per row, no barriers
        for (uint row = gl_GlobalInvocationID.x; row < p.rows; row += gl_NumWorkGroups.x * 64u) {
            uint base = row * p.C;
            float lse = row_lse_el(base, p.C);
            for (uint j = 0u; j < p.C; j++) {
                float z = x_el(base + j) - lse;
                st_y(base + j, LOG == 1u ? z : exp(z));
            }
        }
        return;
    }
#ifndef TEXEL_IN
    for (uint row = gl_WorkGroupID.x; row < p.rows; row += gl_NumWorkGroups.x) {
        uint base = row * p.C;
        float m = uintBitsToFloat(0xff800000u);
        for (uint j = tid; j < p.C; j += 64u) m = max(m, LD(X, base + j));
        m = wg_reduce(m, true);
        float sum = 0.0;
        for (uint j = tid; j < p.C; j += 64u) sum += exp(LD(X, base + j) - m);
        float lse = m + log(wg_reduce(sum, false));
        for (uint j = tid; j < p.C; j += 64u) {
            float z = LD(X, base + j) - lse;
            st_y(base + j, LOG == 1u ? z : exp(z));
        }
    }
#endif
}
