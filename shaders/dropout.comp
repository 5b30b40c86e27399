#version 450
#extension GL_GOOGLE_include_directive : require
// Inverted dropout: the mask (0 or 1/(1-p)) from a counter-based hash of
// (index, seed), lowbias32, bit-identical to vkgrad.backends.cpu.hash_uniform,
// and y = x * mask, in one pass.  Bindings: 0 x (in), 1 y (out), 2 mask (out).
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint QUADS = 0u;  // n % EPQ == 0: 16-byte loads and stores
layout(push_constant) uniform P { uint n; uint seed_mix; float p; float scale; } p;
BUF_IN(0, X)
BUF_OUT(1, Y)
BUF_OUT(2, MASK)
BUF4_IN_SSBO(0, X4)
BUF4_OUT(1, Y4)
BUF4_OUT(2, MASK4)

float mask(uint i) {
    uint h = i + p.seed_mix;
    h ^= h >> 16u;
    h *= 0x7FEB352Du;
    h ^= h >> 15u;
    h *= 0x846CA68Bu;
    h ^= h >> 16u;
    float u = float(h >> 8u) * (1.0 / 16777216.0);
    return u >= p.p ? p.scale : 0.0;
}

void main() {
    if (QUADS == 1u) {  // the same mask per element as below, a quad per invocation
        FOR_QUADS(p.n, q) {
            float x[EPQ], m[EPQ];
            LOADQ(X4[q], x);
            [[unroll]] for (uint k = 0u; k < EPQ; k++) {
                m[k] = mask(q * EPQ + k);
                x[k] *= m[k];
            }
            Y4[q] = STOREQ(x);
            MASK4[q] = STOREQ(m);
        }
        return;
    }
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        float m0 = mask(i), m1 = (EPU == 2u && i + 1u < p.n) ? mask(i + 1u) : 0.0;
        ST_UNIT(MASK, u, m0, m1);
        ST_UNIT(Y, u, LD(X, i) * m0, (EPU == 2u && i + 1u < p.n) ? LD(X, i + 1u) * m1 : 0.0);
    }
}
