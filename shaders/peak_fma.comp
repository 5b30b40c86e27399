#version 450
#extension GL_GOOGLE_include_directive : require
// The device's FMA ceiling (vkgrad.bench): independent FMA chains per invocation,
// 12 scalar (VEC4 = 0) or 4 vec4 (VEC4 = 1), the loop body unrolled 8 times so
// the loop's own cost vanishes; the result is stored so nothing is optimised
// away.  FLOPs = invocations * iters * 8 * 2 * 12 (or * 16 for vec4).  Why so
// few chains: with more, llvmpipe (16 vector registers) spills and reports a
// third of its peak; 8-16 independent FMAs cover the FMA latency everywhere.
// Binding: 0 y (out), one word per invocation.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint VEC4 = 0u;
layout(push_constant) uniform P { uint iters; float m; float c; } p;
BUF_OUT(0, Y)

void main() {
    uint id = gl_GlobalInvocationID.x;
    float s = float(id) * 1e-6;
    if (VEC4 == 1u) {
        vec4 a[4];
        [[unroll]] for (uint j = 0u; j < 4u; j++) a[j] = vec4(s, s + 0.1, s + 0.2, s + 0.3) + float(j);
        vec4 m = vec4(p.m), c = vec4(p.c);
        for (uint i = 0u; i < p.iters; i++)
            [[unroll]] for (uint u = 0u; u < 8u; u++)
                [[unroll]] for (uint j = 0u; j < 4u; j++) a[j] = fma(a[j], m, c);
        ST32(Y, id, dot(a[0] + a[1] + a[2] + a[3], vec4(1.0)));
    } else {
        float a[12];
        [[unroll]] for (uint j = 0u; j < 12u; j++) a[j] = s + float(j);
        for (uint i = 0u; i < p.iters; i++)
            [[unroll]] for (uint u = 0u; u < 8u; u++)
                [[unroll]] for (uint j = 0u; j < 12u; j++) a[j] = fma(a[j], p.m, p.c);
        float t = 0.0;
        [[unroll]] for (uint j = 0u; j < 12u; j++) t += a[j];
        ST32(Y, id, t);
    }
}
