// Workgroup-wide max/sum over 64 invocations (row-wise shaders); with
// ROWS_IN_QUADS, log-sum-exp over rows of 16-byte quads by one invocation or
// by one subgroup (the includer enables GL_KHR_shader_subgroup_shuffle).
shared float s_red[64];

float wg_reduce(float v, bool is_max) {
    uint tid = gl_LocalInvocationID.x;
    s_red[tid] = v;
    barrier();
    for (uint st = 32u; st > 0u; st >>= 1u) {
        if (tid < st) s_red[tid] = is_max ? max(s_red[tid], s_red[tid + st]) : s_red[tid] + s_red[tid + st];
        barrier();
    }
    float r = s_red[0];
    barrier();
    return r;
}

// A row of C elements from base, by one invocation: its log-sum-exp with the
// online max and sum (one pass, not two); the includer defines x_el(i).
float x_el(uint i);
// The exps are taken against safe(max): 0 while the max is still -inf (masked
// logits -inf leading a row), where exp(-inf - -inf) would be NaN; exp(-inf - 0)
// is 0, so the sum stays 0 until a finite value arrives.
float safe(float mx) { return mx == uintBitsToFloat(0xff800000u) ? 0.0 : mx; }
float row_lse_el(uint base, uint C) {
    float m = uintBitsToFloat(0xff800000u), sum = 0.0;
    for (uint j = 0u; j < C; j++) {
        float v = x_el(base + j), mn = max(m, v), ms = safe(mn);
        sum = sum * exp(m - ms) + exp(v - ms);
        m = mn;
    }
    return m + log(sum);
}

#ifdef ROWS_IN_QUADS
// Rows as element ranges [s, t) of X4 (the includer declares it, the input as
// uvec4, and includes vec4.glsl): read as the whole 16-byte quads within the row
// (row_quads), and word by word at its ends where it does not start or end on a
// quad (f32 a value a word, f16 two: a word at an end of an f16 row of an odd
// length holds a half of the next or previous row, which in_row leaves out).
// row_lse4: the row's log-sum-exp in one pass, the online max moving once per
// quad (EPQ + 1 exps per quad, not 2 * EPQ).  This invocation takes the quads
// (and end words) first, first + step, ...: (0, 1) the whole row; (lane, SG) a
// subgroup's share -- a subgroup per row (rows of at least SG quads; GPUs), so
// each load of the subgroup is one contiguous run (coalesced; a lane per row
// reads SG rows far apart, which lavapipe runs faster) -- whose partial maxima
// and sums `across` then combines by a butterfly of shuffles (call it in
// subgroup-uniform control flow).
#define EPW (EPQ / 4u)  // values per word
#include "subgroup.glsl"
// the whole quads [x, y) of elements [s, t); its end words are [s / EPW, x * 4)
// and [y * 4, ceil(t / EPW)) (FOR_END_WORDS)
uvec2 row_quads(uint s, uint t) {
    uint qa = (s + EPQ - 1u) / EPQ;
    return uvec2(qa, max(t / EPQ, qa));
}
#define FOR_END_WORDS(s, t, qr, first, step, w) \
    for (uint w1_ = ((t) + EPW - 1u) / EPW, h_ = 0u; h_ < 2u; h_++) \
        for (uint w = (h_ == 0u ? (s) / EPW : (qr).y * 4u) + (first); \
             w < (h_ == 0u ? min((qr).x * 4u, w1_) : w1_); w += (step))
// which of word w's values are the row's (f32: the first; the second is padding)
bvec2 in_row(uint w, uint s, uint t) { return bvec2(w * EPW >= s, EPW == 2u && w * EPW + 1u < t); }
// word w's values of the row as one online step (the others -inf: nothing added)
void lse_word(inout float m, inout float sum, uint w, uint s, uint t) {
    vec2 x = mix(vec2(uintBitsToFloat(0xff800000u)), unpack_w(LDW(X4, w)), in_row(w, s, t));
    float mn = max(m, max(x.x, x.y)), ms = safe(mn);
    sum = sum * exp(m - ms) + exp(x.x - ms) + (EPW == 2u ? exp(x.y - ms) : 0.0);
    m = mn;
}
float row_lse4(uint s_, uint t_, uint first, uint step, bool across) {
    float m = uintBitsToFloat(0xff800000u), s = 0.0, v[EPQ];
    uvec2 qr = row_quads(s_, t_);
    for (uint q = qr.x + first; q < qr.y; q += step) {
        LOADQ(LDQ(X4, q), v);
        float mq = v[0];
        [[unroll]] for (uint k = 1u; k < EPQ; k++) mq = max(mq, v[k]);
        float mn = max(m, mq), ms = safe(mn), t = 0.0;
        [[unroll]] for (uint k = 0u; k < EPQ; k++) t += exp(v[k] - ms);
        s = s * exp(m - ms) + t;
        m = mn;
    }
    FOR_END_WORDS(s_, t_, qr, first, step, w) lse_word(m, s, w, s_, t_);
    if (!across) return m + log(s);
    float mall = sg_max(m);
    return mall + log(sg_sum(s == 0.0 ? 0.0 : s * exp(m - mall)));  // a lane without quads adds 0
}
// Word w of an output (Y_w: declared without writeonly) given the word's values:
// where it holds a half of another row, this row's half alone, by atomics on
// the bits (the other row's invocation does the same with the other half)
#define STORE_END_WORD(Y_w, w, s, t, val) { \
    bvec2 in_ = in_row(w, s, t); \
    uint bits_ = pack_w(val); \
    if (EPW == 1u || all(in_)) { \
        Y_w[w] = bits_; \
    } else { \
        uint mine_ = in_.x ? 0x0000ffffu : 0xffff0000u; \
        atomicAnd(Y_w[w], ~mine_); \
        atomicOr(Y_w[w], bits_ & mine_); \
    } }
#endif
