#version 450
#extension GL_GOOGLE_include_directive : require
// A max pool's gradient where its windows tile the input (stride = kernel KH x KW,
// no padding or dilation; rows and columns past the last window get 0): y [N, C,
// H, W] from g and int32 idx [N, C, OH, OW] (window_max's taps), each element g of
// its window where idx names its tap, else 0 -- one tap per element, so a gather,
// not col2im's walk over every tap (lavapipe, [64, 16, 28, 28]: see the backend).
// y by 16-byte quads (n a whole number of them), RUN quads per invocation in a
// row, its element's (w, h, plane) carried, not divided out per element.
// Bindings: 0 g, 1 idx (in), 2 y (out).  -DTEXEL_IN (CPU devices): g and idx
// through R32UI views of their words.
#define H2_PLAIN true  // (the values are only moved: common.glsl)
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint RUN = 1u;
layout(constant_id = 1) const uint KH = 2u;
layout(constant_id = 2) const uint KW = 2u;
layout(push_constant) uniform P { uint n; uint H; uint W; uint OH; uint OW; } p;
#ifdef TEXEL_IN
layout(binding = 0) uniform usamplerBuffer G_t;
layout(binding = 1) uniform usamplerBuffer IDX_t;
float g_at(uint i) { return LDE_WORDS(G_t, i); }
uint idx_at(uint i) { return texelFetch(IDX_t, int(i)).x; }
#else
BUF_IN(0, G)
BUF_IN(1, IDX)
float g_at(uint i) { return LD(G, i); }
uint idx_at(uint i) { return IDX[i]; }
#endif
layout(std430, binding = 2) writeonly buffer Y4_b { uvec4 Y4[]; };

void main() {
    uint nq = p.n / EPQ;
    for (uint q0 = gl_GlobalInvocationID.x * RUN; q0 < nq; q0 += gl_NumWorkGroups.x * 64u * RUN) {
        uint e = q0 * EPQ, w = e % p.W, t = e / p.W, h = t % p.H, plane = t / p.H;
        for (uint q = q0; q < min(q0 + RUN, nq); q++) {
            float v[EPQ];
            [[unroll]] for (uint k = 0u; k < EPQ; k++) {
                uint oh = h / KH, ow = w / KW;  // (constant divisors)
                v[k] = 0.0;
                if (oh < p.OH && ow < p.OW) {
                    uint at = (plane * p.OH + oh) * p.OW + ow;
                    if (idx_at(at) == (h - oh * KH) * KW + (w - ow * KW)) v[k] = g_at(at);
                }
                if (++w == p.W) {
                    w = 0u;
                    if (++h == p.H) { h = 0u; plane++; }
                }
            }
            Y4[q] = STOREQ(v);
        }
    }
}
