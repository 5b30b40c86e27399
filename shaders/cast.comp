#version 450
#extension GL_GOOGLE_include_directive : require
// dtype conversion: -DIN_F16 reads halves, -DIN_I32 int32 (else f32); -DF16 writes
// halves, -DOUT_I32 int32 (else f32); eight elements per invocation and step (two
// 16-byte quads of 32-bit words, one of halves), in the quad loop of vec4.glsl; the
// last n % 8 elements by one invocation, word by word.  To int32: truncation toward
// zero, and NaN or a value outside int32's range gives INT32_MIN, as NumPy's astype
// (x86) and so the CPU backend give them.  -DTEXEL_IN (the "cast_tx" twin, CPU
// devices): x through a texel view.
// Bindings: 0 x (in), 1 y (out).
#define H2_PLAIN true  // halves to floats, nothing compared (common.glsl)
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint n; } p;
BUF4_IN(0, X)
BUF4_OUT(1, Y)

#ifdef IN_I32
vec4 in4(uvec4 w) { return vec4(ivec4(w)); }
#else
vec4 in4(uvec4 w) { return uintBitsToFloat(w); }
#endif
#ifdef OUT_I32
uint to_i32(float x) {  // (GLSL leaves int() of NaN and out of range undefined)
    return x != x || x >= 2147483648.0 || x < -2147483648.0 ? 0x80000000u : uint(int(x));
}
uvec4 out4(vec4 v) { return uvec4(to_i32(v.x), to_i32(v.y), to_i32(v.z), to_i32(v.w)); }
uint out1(float x) { return to_i32(x); }
#else
uvec4 out4(vec4 v) { return floatBitsToUint(v); }
uint out1(float x) { return floatBitsToUint(x); }
#endif

// element e of x as a float (the tail)
float x_el(uint e) {
#ifdef IN_F16
    return unpack_h2(LDW(X, e >> 1u))[e & 1u];
#else
    return in4(uvec4(LDW(X, e))).x;
#endif
}

void main() {
    uint n8 = p.n / 8u;
    for (uint end_ = quad_end(n8), o = quad_first(n8); o < end_; o += quad_step()) {
        vec4 a, b;  // the step's eight elements
#ifdef IN_F16
        uvec4 h = LDQ(X, o);
        a = vec4(unpack_h2(h.x), unpack_h2(h.y));
        b = vec4(unpack_h2(h.z), unpack_h2(h.w));
#else
        a = in4(LDQ(X, 2u * o));
        b = in4(LDQ(X, 2u * o + 1u));
#endif
#ifdef F16
        Y[o] = uvec4(pack_half2(a.xy), pack_half2(a.zw), pack_half2(b.xy), pack_half2(b.zw));
#else
        Y[2u * o] = out4(a);
        Y[2u * o + 1u] = out4(b);
#endif
    }
    if (gl_GlobalInvocationID.x == 0u) {
#ifdef F16
        for (uint w = n8 * 4u; w < (p.n + 1u) / 2u; w++)  // a word of y per two elements
            STW(Y, w, pack_half2(vec2(x_el(2u * w), 2u * w + 1u < p.n ? x_el(2u * w + 1u) : 0.0)));
#else
        for (uint e = n8 * 8u; e < p.n; e++)  // a word of y per element
            STW(Y, e, out1(x_el(e)));
#endif
    }
}
