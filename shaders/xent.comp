#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
// Fused softmax + cross-entropy rows, forward and backward: d [rows, C] (f32),
// the loss's gradient (softmax(x) * sum(t) - t) * inv_rows (dense rows need not sum
// to 1: a zeroed row, a multi-hot one; the sum is a pass over t first; labels: 1), and each row's share of the
// mean loss, sum_j t_j * (logsumexp - x_j) * inv_rows (f32).  Targets are dense rows or, with
// LABELS = 1, int32 labels (one outside [0, C) makes its row's loss share and
// gradient NaN: labels on a device are not range-checked on the host), a row whose
// label is p.ignore (PyTorch's ignore_index) taking no part: loss term and gradient 0,
// and with SERIAL = 2 the mean over the other rows (else the caller rescales).  With serial = 2 a single workgroup does every row
// and writes the mean loss to L[0] (no separate reduce dispatch); otherwise
// the mean is a reduce afterwards.  QUADS = 1 (serial 1 or 2): 16-byte loads
// and stores of the whole quads in a row, its ends word by word (rowreduce.glsl),
// and d in x's dtype (packed halves with -DF16), so f16 needs no conversion pass.  QUADS = 2
// (serial 1, rows of at least a subgroup's worth of quads): a subgroup per row.
// -DTEXEL_IN (the "_tx" twin, CPU devices): the QUADS and serial paths (not a
// workgroup per row), x and t read through texel buffers (vec4.glsl; labels,
// and with QUADS = 0 every operand, through R32UI views).
// Bindings: 0 x (in), 1 t (in), 2 d (out), 3 loss (out).
#include "common.glsl"
layout(constant_id = 0) const uint LABELS = 0u;  // 1: T holds int32 class labels [rows]
layout(constant_id = 1) const uint QUADS = 0u;
#include "vec4.glsl"
#define ROWS_IN_QUADS
BUF4_IN(0, X4)
BUF4_IN(1, T4)
layout(std430, binding = 2) writeonly buffer PR4_b { uvec4 PR4[]; };
#include "rowreduce.glsl"
layout(local_size_x = 64) in;
// SERIAL as a specialisation constant, not a push constant: the paths a dispatch
// does not take (barriers among them) are not compiled in (see binary4.comp).
layout(constant_id = 2) const uint SERIAL = 0u;
layout(push_constant) uniform P { uint rows; uint C; float inv_rows; int ignore; } p;
float inv_n;  // the gradient's divisor: 1 / rows, or 1 / the rows kept (SERIAL = 2)
BUF_OUT(3, L)
// the target of column j for class label lab: 1 or 0, NaN for a label out of range
// (an ignored row's: 0)
float lab_t(int lab, int j) {
    return lab == p.ignore ? 0.0 : lab < 0 || lab >= int(p.C) ? QNAN : j == lab ? 1.0 : 0.0;
}
float lab_keep(int lab) { return lab == p.ignore ? 0.0 : 1.0; }  // a labelled row's sum(t)
#ifdef TEXEL_IN
int label(uint row) { return int(LDQ(T4, row).x); }  // an R32UI view of the labels
// with QUADS = 0 (rows not in whole quads, an invocation per row) x and dense t
// are R32UI views of their words
float x_el(uint i) {
    if (QUADS == 0u) return LDE_WORDS(X4, i);
    float v[EPQ];
    LOADQ(LDQ(X4, i / EPQ), v);
    return v[i % EPQ];
}
float tgt(uint row, uint j) {
    if (LABELS == 1u) return lab_t(label(row), int(j));
    return LDE_WORDS(T4, row * p.C + j);
}
#else
BUF_IN(0, X)
BUF_IN(1, T)
int label(uint row) { return int(T[row]); }
float x_el(uint i) { return LD(X, i); }

float tgt(uint row, uint j) {
    if (LABELS == 1u) return lab_t(label(row), int(j));
    return LD(T, row * p.C + j);
}
#endif

layout(std430, binding = 2) buffer PR_wb { uint PR_w[]; };  // d by words (atomics: see STORE_END_WORD)
void st_pr(uint i, float v) { PR_w[i] = floatBitsToUint(v); }  // (QUADS = 0: d in f32)

// QUADS: the sum of the dense targets of the row [s, t) (across: a subgroup's
// shares summed), read as row_lse4 reads x
float t_sum4(uint s, uint t, uint first, uint step, bool across) {
    float a = 0.0, v[EPQ];
    uvec2 qr = row_quads(s, t);
    for (uint q = qr.x + first; q < qr.y; q += step) {
        LOADQ(LDQ(T4, q), v);
        [[unroll]] for (uint k = 0u; k < EPQ; k++) a += v[k];
    }
    FOR_END_WORDS(s, t, qr, first, step, w) {
        vec2 tg = mix(vec2(0.0), unpack_w(LDW(T4, w)), in_row(w, s, t));
        a += tg.x + tg.y;
    }
    return across ? sg_sum(a) : a;
}

// QUADS: d of an end word w of the row [s, t) and its loss terms (st: the row's target sum)
float d_word(uint w, uint s, uint t, int lab, float lse, float st) {
    vec2 z = unpack_w(LDW(X4, w)) - lse;
    int j = int(w * EPW - s);  // column of the word's first value
    vec2 tg = LABELS == 1u ? vec2(lab_t(lab, j), lab_t(lab, j + 1)) : unpack_w(LDW(T4, w));
    tg = mix(vec2(0.0), tg, in_row(w, s, t));  // (another row's target: no term)
    STORE_END_WORD(PR_w, w, s, t, (exp(z) * st - tg) * inv_n);
    if (LABELS == 1u) return 0.0;  // (the label's term is taken once per row)
    return (tg.x == 0.0 ? 0.0 : tg.x * z.x) + (EPW == 2u && tg.y != 0.0 ? tg.y * z.y : 0.0);
}

float row_loss(uint row) {  // one invocation (QUADS = 2: one subgroup) does the whole row
    if (QUADS != 0u) {
        uint s = row * p.C, e = s + p.C;
        uint first = QUADS == 2u ? gl_SubgroupInvocationID : 0u, step = QUADS == 2u ? gl_SubgroupSize : 1u;
        float lse = row_lse4(s, e, first, step, QUADS == 2u), l = 0.0, v[EPQ], t[EPQ];
        int lab = LABELS == 1u ? label(row) : -1;
        float st = LABELS == 1u ? lab_keep(lab) : t_sum4(s, e, first, step, QUADS == 2u);
        if (LABELS == 1u && first == 0u)  // the label's term (a label out of range: NaN)
            l = lab == p.ignore ? 0.0 : lab >= 0 && lab < int(p.C) ? lse - x_el(s + uint(lab)) : QNAN;
        uvec2 qr = row_quads(s, e);
        for (uint q = qr.x + first; q < qr.y; q += step) {
            LOADQ(LDQ(X4, q), v);
            if (LABELS == 0u) {
                LOADQ(LDQ(T4, q), t);
                [[unroll]] for (uint k = 0u; k < EPQ; k++) l -= t[k] == 0.0 ? 0.0 : t[k] * (v[k] - lse);
            }
            uint j0 = q * EPQ - s;  // column of v[0]
            [[unroll]] for (uint k = 0u; k < EPQ; k++)
                v[k] = (exp(v[k] - lse) * st - (LABELS == 1u ? lab_t(lab, int(j0 + k)) : t[k])) * inv_n;
            PR4[q] = STOREQ(v);
        }
        FOR_END_WORDS(s, e, qr, first, step, w) l -= d_word(w, s, e, lab, lse, st);
        return QUADS == 2u ? sg_sum(l) : l;
    }
    uint base = row * p.C;
    float lse = row_lse_el(base, p.C), l = 0.0, st = LABELS == 1u ? lab_keep(label(row)) : 0.0;
    if (LABELS == 0u)
        for (uint j = 0u; j < p.C; j++) st += tgt(row, j);
    for (uint j = 0u; j < p.C; j++) {
        float z = x_el(base + j) - lse;
        float t = tgt(row, j);
        l -= t == 0.0 ? 0.0 : t * z;  // (0 * -inf, a masked logit: no term)
        st_pr(base + j, (exp(z) * st - t) * inv_n);
    }
    return l;
}

void main() {
    uint tid = gl_LocalInvocationID.x;
    inv_n = p.inv_rows;
    if (SERIAL == 2u) {  // one workgroup: rows per invocation, then the mean
        float l = 0.0, inv_l = p.inv_rows;
        if (LABELS == 1u) {  // the mean over the rows kept (none: a NaN loss, a zero gradient)
            for (uint row = tid; row < p.rows; row += 64u) l += lab_keep(label(row));
            l = wg_reduce(l, false);
            inv_l = 1.0 / l;
            inv_n = l > 0.0 ? inv_l : 0.0;
            l = 0.0;
        }
        for (uint row = tid; row < p.rows; row += 64u) l += row_loss(row);
        l = wg_reduce(l, false);
        if (tid == 0u) ST32(L, 0u, l * inv_l);
        return;
    }
    if (QUADS == 2u) {  // a subgroup per row
        for (uint row = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID; row < p.rows;
             row += gl_NumWorkGroups.x * gl_NumSubgroups) {
            float l = row_loss(row);
            if (gl_SubgroupInvocationID == 0u) ST32(L, row, l * p.inv_rows);
        }
        return;
    }
    if (SERIAL == 1u) {  // short rows: one invocation per row, no barriers
        for (uint row = gl_GlobalInvocationID.x; row < p.rows; row += gl_NumWorkGroups.x * 64u)
            ST32(L, row, row_loss(row) * p.inv_rows);
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
        float l = 0.0, st = LABELS == 1u ? lab_keep(label(row)) : 1.0;
        if (LABELS == 0u) {
            for (uint j = tid; j < p.C; j += 64u) l += tgt(row, j);
            st = wg_reduce(l, false);
            l = 0.0;
        }
        for (uint j = tid; j < p.C; j += 64u) {
            float z = LD(X, base + j) - lse;
            float t = tgt(row, j);
            l -= t == 0.0 ? 0.0 : t * z;  // (0 * -inf, a masked logit: no term)
            st_pr(base + j, (exp(z) * st - t) * inv_n);
        }
        l = wg_reduce(l, false);
        if (tid == 0u) ST32(L, row, l * p.inv_rows);
    }
#endif
}
