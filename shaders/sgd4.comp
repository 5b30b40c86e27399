#version 450
#extension GL_GOOGLE_include_directive : require
// sgd.comp for f32 tensors of a whole number of 16-byte quads (16-byte loads/stores).
// -DGRAD16: the gradient is packed halves (an f16 parameter's f32 master).
// Bindings: 0 param (inout), 1 grad (in), 2 buf (inout; a dummy without momentum);
// with -DTEXEL_IN 0-2 in, 3 param, 4 buf out (below).
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
// momentum != 0 and nesterov as specialisation constants (fixed per optimizer):
// no run-time branch around BUF's load and store (measured ~10% on lavapipe)
layout(constant_id = 0) const uint MOM = 1u;
layout(constant_id = 1) const uint NEST = 0u;
layout(push_constant) uniform P {
    uint n; float lr; float momentum; float dampening; uint nesterov; float wd; uint first;
} p;
#ifdef TEXEL_IN
// (CPU devices; see vec4.glsl and adam4.comp) param, grad, buf read through
// texel views (bindings 0-2), param and buf written through storage buffers of
// the same ranges (3, 4).
layout(binding = 0) uniform samplerBuffer W_in;
layout(binding = 2) uniform samplerBuffer B_in;
layout(std430, binding = 3) writeonly buffer W_b { vec4 W[]; };
layout(std430, binding = 4) writeonly buffer B_b { vec4 BUF[]; };
#define LW(q) texelFetch(W_in, int(q))
#define LB(q) texelFetch(B_in, int(q))
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
layout(std430, binding = 2) buffer B_b { vec4 BUF[]; };
#define LW(q) W[q]
#define LB(q) BUF[q]
#endif

void main() {
    FOR_QUADS(p.n, q) {
        vec4 w = LW(q);
        vec4 d = grad(q) + p.wd * w;
        if (MOM == 1u) {
            vec4 b = p.first == 1u ? d : p.momentum * LB(q) + (1.0 - p.dampening) * d;
            BUF[q] = b;
            d = NEST == 1u ? d + p.momentum * b : b;
        }
        W[q] = w - p.lr * d;
    }
}
