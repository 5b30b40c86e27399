#version 450
#extension GL_GOOGLE_include_directive : require
// binary.comp for contiguous operands by 16-byte quads: both of the output's
// shape (a tail of fewer than a quad's elements by one invocation, word by
// word), or, in whole quads, one repeating along its leading axes (see rep_a / rep_b).  Bindings: 0 a (in), 1 b (in), 2 y (out).
#include "ops.glsl"
layout(constant_id = 0) const uint OP = 0u;
#define H2_PLAIN (OP <= B_DIV)  // add, sub, mul, div: no compares (common.glsl)
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
// REP = 0: both operands of the output's shape; 1: a repeats, 2: b repeats, 3:
// both (rep_a / rep_b below); 4 (5): a (b) is constant along y's trailing axes,
// rep_a (rep_b) quads of y per value.  A specialisation constant, not a run-time
// branch: lavapipe ran the same-shape loop 1.3x (f32) to 1.9x (f16) slower
// with the other paths compiled in.
layout(constant_id = 1) const uint REP = 1u;
layout(push_constant) uniform P { uint n; float alpha; float beta; uint rep_a; uint rep_b; } p;
BUF4_IN(0, A)
BUF4_IN(1, B)
BUF4_OUT(2, Y)
#include "binary_ops.glsl"

// rep_a / rep_b: 0, or the operand's size in quads when it repeats along the
// leading axes of the output (a bias row, a per-feature mask).
float a[EPQ], b[EPQ];
void apply(uint q) {
    [[unroll]] for (uint k = 0u; k < EPQ; k++) a[k] = f(a[k], b[k]);
    Y[q] = STOREQ(a);
}
#ifdef F16
// relu_bwd on halves as bits: g where x > 0 (bits 1 .. 0x7c00: positive, not NaN),
// else +0, exactly as f() gives it -- no conversions (lavapipe converts halves by
// integer arithmetic, and packing them cost more than the rest of the kernel)
uint relu_bwd_h(uint x, uint g) {
    uint lo = (x & 0xffffu) - 1u < 0x7c00u ? g & 0xffffu : 0u;
    return lo | ((x >> 16u) - 1u < 0x7c00u ? g & 0xffff0000u : 0u);
}
#define BITS_OP (OP == B_RELU_BWD)
#else
#define BITS_OP false
uint relu_bwd_h(uint x, uint g) { return 0u; }
#endif
uvec4 relu_bwd_q(uvec4 x, uvec4 g) {
    return uvec4(relu_bwd_h(x.x, g.x), relu_bwd_h(x.y, g.y), relu_bwd_h(x.z, g.z), relu_bwd_h(x.w, g.w));
}
// quad q of y from quads qa of A and qb of B
void quad(uint q, uint qa, uint qb) {
    if (BITS_OP) {
        Y[q] = relu_bwd_q(LDQ(A, qa), LDQ(B, qb));
        return;
    }
    LOADQ(LDQ(A, qa), a);
    LOADQ(LDQ(B, qb), b);
    apply(q);
}
// quad q of y where A (REP 4) or B (REP 5) holds one value, its element v, for all of it
void quad_const(uint q, uint v) {
    if (BITS_OP) {  // the value's half in both halves of each word
        uint w = REP == 4u ? LDW(A, v >> 1u) : LDW(B, v >> 1u), h = (w >> (16u * (v & 1u))) & 0xffffu;
        uvec4 o = REP == 4u ? LDQ(B, q) : LDQ(A, q), s = uvec4(h | (h << 16u));
        Y[q] = REP == 4u ? relu_bwd_q(s, o) : relu_bwd_q(o, s);
        return;
    }
    float s = REP == 4u ? LDE(A, v) : LDE(B, v);
    if (REP == 4u) {
        [[unroll]] for (uint k = 0u; k < EPQ; k++) a[k] = s;
        LOADQ(LDQ(B, q), b);
    } else {
        LOADQ(LDQ(A, q), a);
        [[unroll]] for (uint k = 0u; k < EPQ; k++) b[k] = s;
    }
    apply(q);
}

void main() {
    if (REP == 0u) {  // same shapes: no index arithmetic
        FOR_QUADS(p.n, q) quad(q, q, q);
        FOR_TAIL_WORDS(p.n, w) {  // n not a whole number of quads
            if (BITS_OP) {  // as bits here too (NVIDIA's conversions make any NaN 0x7fff)
                STW_BITS(Y, w, p.n, relu_bwd_h(LDW(A, w), LDW(B, w)));
                continue;
            }
            vec2 x = unpack_w(LDW(A, w)), g = unpack_w(LDW(B, w));
            STW(Y, w, pack_w(vec2(f(x.x, g.x), EPQ == 8u && 2u * w + 1u < p.n ? f(x.y, g.y) : 0.0)));
        }
    } else if (REP >= 4u) {  // 4: a, 5: b holds one value per dq quads of y (constant along
        // y's trailing axes: a column [rows, 1], a scalar); v, its index, advances with q
        uint nq = p.n / EPQ, end_ = quad_end(nq), q = quad_first(nq), dq = REP == 4u ? p.rep_a : p.rep_b;
        uint v = q / dq, r = q % dq, dv = quad_step() / dq, dr = quad_step() % dq;
        for (; q < end_; q += quad_step()) {
            quad_const(q, v);
            v += dv;
            r += dr;
            if (r >= dq) {
                r -= dq;
                v++;
            }
        }
    } else if (REP == 3u) {  // both repeating
        FOR_QUADS(p.n, q) quad(q, q % p.rep_a, q % p.rep_b);
    } else {  // REP 1: a repeats, 2: b repeats; its quad c advances with q by the
        // loop's step (no vector division per quad: a CPU device does 8 scalar ones)
        uint nq = p.n / EPQ, end_ = quad_end(nq), q = quad_first(nq), rq = REP == 1u ? p.rep_a : p.rep_b;
        uint c = q % rq, dc = quad_step() % rq;
        for (; q < end_; q += quad_step()) {
            quad(q, REP == 1u ? c : q, REP == 1u ? q : c);
            c += dc;
            if (c >= rq) c -= rq;
        }
    }
}
