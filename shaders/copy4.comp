#version 450
#extension GL_GOOGLE_include_directive : require
// Contiguous copy in 16-byte quads (also the copy-bandwidth probe of vkgrad.bench),
// reading x through a uniform texel buffer like every quad kernel (vec4.glsl).
// Bindings: 0 x (in, RGBA32UI texel buffer), 1 y (out).  n counts 32-bit words, a multiple of 4.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint n; } p;
layout(binding = 0) uniform usamplerBuffer X;
layout(std430, binding = 1) writeonly buffer Y_b { uvec4 Y[]; };

void main() {
    for (uint q = gl_GlobalInvocationID.x; q < p.n / 4u; q += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
        Y[q] = texelFetch(X, int(q));
}
