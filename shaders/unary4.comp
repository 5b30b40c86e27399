#version 450
#extension GL_GOOGLE_include_directive : require
// y = f(x) elementwise, f chosen by specialisation constant OP (ops.glsl), for
// contiguous tensors by 16-byte quads (a tail of fewer than a quad's elements by
// one invocation, word by word).  Bindings: 0 x (in), 1 y (out); for OP = fill,
// x is bound to y's range.
#include "common.glsl"
#include "ops.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint OP = 0u;
layout(push_constant) uniform P { uint n; float alpha; float beta; } p;
BUF4_IN(0, X)
BUF4_OUT(1, Y)
#include "unary_ops.glsl"

#ifdef F16
// relu, neg and fill on halves as bits (no conversions: lavapipe converts halves by
// integer arithmetic, and that was most of these kernels' time): relu keeps x in
// 1 .. 0x7c00 (positive, not NaN) and NaN, else +0; neg flips the sign; fill writes beta's
#define BITS_OP (OP == U_RELU || OP == U_NEG || OP == U_FILL)
uint bits2(uint w, uint fill) {
    if (OP == U_NEG) return w ^ 0x80008000u;
    if (OP == U_FILL) return fill;
    uint lo = w & 0xffffu, hi = w >> 16u;  // kept: positive (1 .. 0x7c00) or NaN (exponent ones, mantissa not 0)
    return (lo - 1u < 0x7c00u || (lo & 0x7fffu) > 0x7c00u ? lo : 0u) | (hi - 1u < 0x7c00u || (hi & 0x7fffu) > 0x7c00u ? w & 0xffff0000u : 0u);
}
#else
#define BITS_OP false
uint bits2(uint w, uint fill) { return w; }
#endif

void main() {
    uint fill = OP == U_FILL && EPQ == 8u ? pack_half2(vec2(p.beta)) : 0u;
    FOR_QUADS(p.n, q) {
        if (BITS_OP) {
            uvec4 w = OP == U_FILL ? uvec4(0u) : LDQ(X, q);
            Y[q] = uvec4(bits2(w.x, fill), bits2(w.y, fill), bits2(w.z, fill), bits2(w.w, fill));
            continue;
        }
        float v[EPQ];
        LOADQ(LDQ(X, q), v);
        [[unroll]] for (uint k = 0u; k < EPQ; k++) v[k] = OP == U_FILL ? p.beta : f(v[k]);
        Y[q] = STOREQ(v);
    }
    FOR_TAIL_WORDS(p.n, w) {  // n not a whole number of quads
        if (BITS_OP) {  // as bits here too (NVIDIA's conversions make any NaN 0x7fff)
            STW_BITS(Y, w, p.n, bits2(OP == U_FILL ? 0u : LDW(X, w), fill));
            continue;
        }
        vec2 v = unpack_w(LDW(X, w));
        v.x = OP == U_FILL ? p.beta : f(v.x);
        v.y = EPQ == 8u && 2u * w + 1u < p.n ? (OP == U_FILL ? p.beta : f(v.y)) : 0.0;
        STW(Y, w, pack_w(v));
    }
}
