#version 450
#extension GL_GOOGLE_include_directive : require
// where(c, a, b): y = a where c is nonzero (NaN counts), else b, elementwise over
// three contiguous operands of one size, as bits (no conversions: halves select
// halves), by 16-byte quads and a tail of words (vec4.glsl; -DTEXEL_IN, the "_tx"
// twin for CPU devices, reads them as texel buffers).
// Bindings: 0 c, 1 a, 2 b (in), 3 y (out).
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint n; } p;
BUF4_IN(0, C)
BUF4_IN(1, A)
BUF4_IN(2, B)
BUF4_OUT(3, Y)

// a word of y from words of c, a and b: per element (one f32, or two halves), a's
// bits where c's are nonzero but for the sign, else b's
uint pick(uint c, uint a, uint b) {
#ifdef F16
    uint m = ((c & 0x7fffu) != 0u ? 0xffffu : 0u) | ((c & 0x7fff0000u) != 0u ? 0xffff0000u : 0u);
#else
    uint m = (c & 0x7fffffffu) != 0u ? 0xffffffffu : 0u;
#endif
    return (a & m) | (b & ~m);
}

void main() {
    FOR_QUADS(p.n, q) {
        uvec4 c = LDQ(C, q), a = LDQ(A, q), b = LDQ(B, q);
        Y[q] = uvec4(pick(c.x, a.x, b.x), pick(c.y, a.y, b.y), pick(c.z, a.z, b.z), pick(c.w, a.w, b.w));
    }
    FOR_TAIL_WORDS(p.n, w) STW_BITS(Y, w, p.n, pick(LDW(C, w), LDW(A, w), LDW(B, w)));
}
