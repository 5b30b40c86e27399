#version 450
#extension GL_GOOGLE_include_directive : require
// adam.comp for f32 tensors of a whole number of 16-byte quads: four elements
// per invocation with 16-byte loads and stores (large parameters).  -DGRAD16:
// the gradient is packed halves (an f16 parameter's f32 master), four per 8 bytes.
// Bindings: 0 param (inout), 1 grad (in), 2 m (inout), 3 v (inout); with
// -DTEXEL_IN 0-3 in, 4 param, 5 m, 6 v out (below).
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P {
    uint n; float lr; float b1; float b2; float eps; float wd; float step_size; float rbc2;
    uint decoupled;
} p;
#ifdef TEXEL_IN
// (CPU devices; see vec4.glsl) param, grad, m, v read through texel views
// (bindings 0-3: RGBA32F, the halves' grad RG32UI) and param, m, v written
// through storage buffers of the same ranges (4-6): each invocation reads its
// own quads before it writes them.
layout(binding = 0) uniform samplerBuffer W_in;
layout(binding = 2) uniform samplerBuffer M_in;
layout(binding = 3) uniform samplerBuffer V_in;
layout(std430, binding = 4) writeonly buffer W_b { vec4 W[]; };
layout(std430, binding = 5) writeonly buffer M_b { vec4 M[]; };
layout(std430, binding = 6) writeonly buffer V_b { vec4 V[]; };
#define LW(q) texelFetch(W_in, int(q))
#define LM(q) texelFetch(M_in, int(q))
#define LV(q) texelFetch(V_in, int(q))
#ifdef GRAD16
layout(binding = 1) uniform usamplerBuffer G_in;
vec4 grad(uint q) { uvec2 h = texelFetch(G_in, int(q)).xy; return vec4(unpackHalf2x16(h.x), unpackHalf2x16(h.y)); }
#else
layout(binding = 1) uniform samplerBuffer G_in;
vec4 grad(uint q) { return texelFetch(G_in, int(q)); }
#endif
#else
layout(std430, binding = 0) buffer W_b { vec4 W[]; };
#ifdef GRAD16
layout(std430, binding = 1) readonly buffer G_b { uvec2 G2[]; };
vec4 grad(uint q) { return vec4(unpackHalf2x16(G2[q].x), unpackHalf2x16(G2[q].y)); }
#else
layout(std430, binding = 1) readonly buffer G_b { vec4 G[]; };
vec4 grad(uint q) { return G[q]; }
#endif
layout(std430, binding = 2) buffer M_b { vec4 M[]; };
layout(std430, binding = 3) buffer V_b { vec4 V[]; };
#define LW(q) W[q]
#define LM(q) M[q]
#define LV(q) V[q]
#endif

void main() {
    FOR_QUADS(p.n, q) {
        vec4 w = LW(q), d = grad(q);
        if (p.decoupled == 0u) d += p.wd * w;
        else w *= 1.0 - p.lr * p.wd;
        vec4 m = p.b1 * LM(q) + (1.0 - p.b1) * d;
        vec4 v = p.b2 * LV(q) + (1.0 - p.b2) * d * d;
        M[q] = m;
        V[q] = v;
        W[q] = w - p.step_size * m / (sqrt(v) * p.rbc2 + p.eps);
    }
}
