#version 450
#extension GL_GOOGLE_include_directive : require
// The device's FMA ceiling (vkgrad.bench): eight independent FMA chains per
// invocation, scalar (VEC4 = 0) or vec4 (VEC4 = 1); the result is stored so
// nothing is optimised away.  FLOPs = invocations * iters * 8 * 2 (* 4 for vec4).
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
        vec4 a0 = vec4(s, s + 0.1, s + 0.2, s + 0.3), a1 = a0 + 1.0, a2 = a0 + 2.0, a3 = a0 + 3.0;
        vec4 a4 = a0 + 4.0, a5 = a0 + 5.0, a6 = a0 + 6.0, a7 = a0 + 7.0;
        vec4 m = vec4(p.m), c = vec4(p.c);
        for (uint i = 0u; i < p.iters; i++) {
            a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
            a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
        }
        ST32(Y, id, dot(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7, vec4(1.0)));
    } else {
        float a0 = s, a1 = s + 1.0, a2 = s + 2.0, a3 = s + 3.0, a4 = s + 4.0, a5 = s + 5.0;
        float a6 = s + 6.0, a7 = s + 7.0;
        for (uint i = 0u; i < p.iters; i++) {
            a0 = fma(a0, p.m, p.c); a1 = fma(a1, p.m, p.c); a2 = fma(a2, p.m, p.c); a3 = fma(a3, p.m, p.c);
            a4 = fma(a4, p.m, p.c); a5 = fma(a5, p.m, p.c); a6 = fma(a6, p.m, p.c); a7 = fma(a7, p.m, p.c);
        }
        ST32(Y, id, a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7);
    }
}
