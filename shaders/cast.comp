#version 450
#extension GL_GOOGLE_include_directive : require
// dtype conversion: -DIN_F16 reads halves, -DF16 writes halves (else f32), eight
// elements per invocation and step (two 16-byte quads of f32, one of halves), in
// the quad loop of vec4.glsl; the last n % 8 elements by one invocation, word by
// word.  -DTEXEL_IN (the "cast_tx" twin, CPU devices): x through a texel view.
// Bindings: 0 x (in), 1 y (out).
#define H2_PLAIN true  // halves to floats, nothing compared (common.glsl)
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint n; } p;
BUF4_IN(0, X)
BUF4_OUT(1, Y)

void main() {
    uint n8 = p.n / 8u;
    for (uint end_ = quad_end(n8), o = quad_first(n8); o < end_; o += quad_step()) {
#ifdef IN_F16
        uvec4 h = LDQ(X, o);
        Y[2u * o] = floatBitsToUint(vec4(unpack_h2(h.x), unpack_h2(h.y)));
        Y[2u * o + 1u] = floatBitsToUint(vec4(unpack_h2(h.z), unpack_h2(h.w)));
#else
        vec4 a = uintBitsToFloat(LDQ(X, 2u * o)), b = uintBitsToFloat(LDQ(X, 2u * o + 1u));
        Y[o] = uvec4(pack_half2(a.xy), pack_half2(a.zw), pack_half2(b.xy), pack_half2(b.zw));
#endif
    }
    if (gl_GlobalInvocationID.x == 0u) {
#ifdef IN_F16
        for (uint e = n8 * 8u; e < p.n; e++)  // a word of y per element
            STW(Y, e, floatBitsToUint(unpack_h2(LDW(X, e >> 1u))[e & 1u]));
#else
        for (uint w = n8 * 4u; w < (p.n + 1u) / 2u; w++)  // a word of y per two elements
            STW(Y, w, pack_half2(vec2(uintBitsToFloat(LDW(X, 2u * w)),
                                      2u * w + 1u < p.n ? uintBitsToFloat(LDW(X, 2u * w + 1u)) : 0.0)));
#endif
    }
}
