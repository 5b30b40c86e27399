#version 450
#extension GL_GOOGLE_include_directive : require
// Contiguous copy in 16-byte quads (also the copy-bandwidth probe of vkgrad.bench),
// reading x like every quad kernel (vec4.glsl: a texel buffer with -DTEXEL_IN).
// Bindings: 0 x (in), 1 y (out).  n counts 32-bit words, a multiple of 4.
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint n; } p;
BUF4_IN(0, X)
layout(std430, binding = 1) writeonly buffer Y_b { uvec4 Y[]; };

void main() {
    FOR_QUADS(p.n, q)
        Y[q] = LDQ(X, q);
}
