#version 450
#extension GL_GOOGLE_include_directive : require
// adam.comp for f32 tensors of a whole number of 16-byte quads: four elements
// per invocation with 16-byte loads and stores (large parameters).  -DGRAD16:
// the gradient is packed halves (an f16 parameter's f32 master), four per 8 bytes.
// Bindings: 0 param (inout), 1 grad (in), 2 m (inout), 3 v (inout).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P {
    uint n; float lr; float b1; float b2; float eps; float wd; float step_size; float rbc2;
    uint decoupled;
} p;
layout(std430, binding = 0) buffer W_b { vec4 W[]; };
#ifdef GRAD16
layout(std430, binding = 1) readonly buffer G_b { uvec2 G2[]; };
#define GRAD(q) vec4(unpackHalf2x16(G2[q].x), unpackHalf2x16(G2[q].y))
#else
layout(std430, binding = 1) readonly buffer G_b { vec4 G[]; };
#define GRAD(q) G[q]
#endif
layout(std430, binding = 2) buffer M_b { vec4 M[]; };
layout(std430, binding = 3) buffer V_b { vec4 V[]; };

void main() {
    for (uint q = gl_GlobalInvocationID.x; q < p.n / 4u; q += gl_NumWorkGroups.x * 64u) {
        vec4 w = W[q], d = GRAD(q);
        if (p.decoupled == 0u) d += p.wd * w;
        else w *= 1.0 - p.lr * p.wd;
        vec4 m = p.b1 * M[q] + (1.0 - p.b1) * d;
        vec4 v = p.b2 * V[q] + (1.0 - p.b2) * d * d;
        M[q] = m;
        V[q] = v;
        W[q] = w - p.step_size * m / (sqrt(v) * p.rbc2 + p.eps);
    }
}
