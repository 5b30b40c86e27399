#version 450
#extension GL_GOOGLE_include_directive : require
// adam.comp for f32 tensors by 16-byte quads: four elements per invocation with
// 16-byte loads and stores (large parameters), and a tail of fewer than four
// elements by one invocation (through per-element declarations of the buffers:
// a storage buffer's vec4 array ends at its last whole quad).  -DGRAD16: the
// gradient is packed halves (an f16 parameter's f32 master), four per 8 bytes.
// Bindings: 0 param (inout), 1 grad (in), 2 m (inout), 3 v (inout); with
// -DTEXEL_IN 0-3 in, 4 param, 5 m, 6 v out (below).
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P {
    uint n; float lr; float b1; float b2; float eps; float wd; float step_size; float rbc2;
    uint decoupled; float c2; float aux;
} p;
#ifdef TEXEL_IN
// (CPU devices; see vec4.glsl) param, grad, m, v read through texel views
// (bindings 0-3: RGBA32F, the halves' grad RG32UI; grad4.glsl) and param, m, v written
// through storage buffers of the same ranges (4-6): each invocation reads its
// own quads before it writes them.
layout(binding = 0) uniform samplerBuffer W_in;
layout(binding = 2) uniform samplerBuffer M_in;
layout(binding = 3) uniform samplerBuffer V_in;
layout(std430, binding = 4) writeonly buffer W_b { vec4 W[]; };
layout(std430, binding = 5) writeonly buffer M_b { vec4 M[]; };
layout(std430, binding = 6) writeonly buffer V_b { vec4 V[]; };
layout(std430, binding = 4) writeonly buffer W_sb { float W_s[]; };
layout(std430, binding = 5) writeonly buffer M_sb { float M_s[]; };
layout(std430, binding = 6) writeonly buffer V_sb { float V_s[]; };
#define LW(q) texelFetch(W_in, int(q))
#define LM(q) texelFetch(M_in, int(q))
#define LV(q) texelFetch(V_in, int(q))
// element i (the tail): the texel views cover whole texels
#define LW_E(i) LW((i) >> 2u)[(i) & 3u]
#define LM_E(i) LM((i) >> 2u)[(i) & 3u]
#define LV_E(i) LV((i) >> 2u)[(i) & 3u]
#else
layout(std430, binding = 0) buffer W_b { vec4 W[]; };
layout(std430, binding = 2) buffer M_b { vec4 M[]; };
layout(std430, binding = 3) buffer V_b { vec4 V[]; };
layout(std430, binding = 0) buffer W_sb { float W_s[]; };
layout(std430, binding = 2) buffer M_sb { float M_s[]; };
layout(std430, binding = 3) buffer V_sb { float V_s[]; };
#define LW(q) W[q]
#define LM(q) M[q]
#define LV(q) V[q]
#define LW_E(i) W_s[i]
#define LM_E(i) M_s[i]
#define LV_E(i) V_s[i]
#endif
#include "grad4.glsl"

layout(constant_id = 0) const uint FORM = 0u;  // adam_update.glsl
#include "adam_update.glsl"

// one step for four elements (w, m, v updated in place)
void update(inout vec4 w, vec4 d, inout vec4 m, inout vec4 v, inout vec4 b) ADAM_UPDATE(w, d, m, v, b)

void main() {
    uint bq = MOM_AT(p.n) / 4u;  // (FORM 7: the momentum buffer's first quad in m's buffer)
    FOR_QUADS(p.n, q) {
        vec4 w = LW(q), m = LM(q), v = LV(q), b = FORM == 7u ? LM(bq + q) : vec4(0.0);
        update(w, grad(q), m, v, b);
        M[q] = m;
        V[q] = v;
        W[q] = w;
        if (FORM == 7u) M[bq + q] = b;
    }
    if (gl_GlobalInvocationID.x == 0u) {
        for (uint i = p.n / 4u * 4u; i < p.n; i++) {  // n not a whole number of quads
            vec4 w = vec4(LW_E(i)), m = vec4(LM_E(i)), v = vec4(LV_E(i));
            vec4 b = FORM == 7u ? vec4(LM_E(4u * bq + i)) : vec4(0.0);
            update(w, vec4(GRAD_E(i)), m, v, b);
            M_s[i] = m.x;
            V_s[i] = v.x;
            W_s[i] = w.x;
            if (FORM == 7u) M_s[4u * bq + i] = b.x;
        }
    }
}
