#version 450
#extension GL_GOOGLE_include_directive : require
// sgd.comp for f32 tensors by 16-byte quads (16-byte loads/stores), and a tail of
// fewer than four elements by one invocation (see adam4.comp).
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
layout(std430, binding = 3) writeonly buffer W_sb { float W_s[]; };
layout(std430, binding = 4) writeonly buffer B_sb { float BUF_s[]; };
#define LW(q) texelFetch(W_in, int(q))
#define LB(q) texelFetch(B_in, int(q))
#define LW_E(i) LW((i) >> 2u)[(i) & 3u]
#define LB_E(i) LB((i) >> 2u)[(i) & 3u]
#else
layout(std430, binding = 0) buffer W_b { vec4 W[]; };
layout(std430, binding = 2) buffer B_b { vec4 BUF[]; };
layout(std430, binding = 0) buffer W_sb { float W_s[]; };
layout(std430, binding = 2) buffer B_sb { float BUF_s[]; };
#define LW(q) W[q]
#define LB(q) BUF[q]
#define LW_E(i) W_s[i]
#define LB_E(i) BUF_s[i]
#endif
#include "grad4.glsl"

// one step for four elements (w and the momentum buffer b updated in place)
void update(inout vec4 w, vec4 d, inout vec4 b) {
    d += p.wd * w;
    if (MOM == 1u) {
        b = p.first == 1u ? d : p.momentum * b + (1.0 - p.dampening) * d;
        d = NEST == 1u ? d + p.momentum * b : b;
    }
    w -= p.lr * d;
}

void main() {
    FOR_QUADS(p.n, q) {
        vec4 w = LW(q), b = MOM == 1u ? LB(q) : vec4(0.0);
        update(w, grad(q), b);
        if (MOM == 1u) BUF[q] = b;
        W[q] = w;
    }
    if (gl_GlobalInvocationID.x == 0u) {
        for (uint i = p.n / 4u * 4u; i < p.n; i++) {  // n not a whole number of quads
            vec4 w = vec4(LW_E(i)), b = vec4(MOM == 1u ? LB_E(i) : 0.0);
            update(w, vec4(GRAD_E(i)), b);
            if (MOM == 1u) BUF_s[i] = b.x;
            W_s[i] = w.x;
        }
    }
}
