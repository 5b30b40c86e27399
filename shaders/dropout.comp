#version 450
#extension GL_GOOGLE_include_directive : require
// Inverted dropout: the mask (0 or 1/(1-p)) from a counter-based hash of
// (index, seed), lowbias32, bit-identical to vkgrad.backends.cpu.hash_uniform,
// and y = x * mask, in one pass: 16-byte quads, and a tail of fewer than a
// quad's elements by one invocation, word by word.  -DTEXEL_IN (the "_tx" twin,
// CPU devices): x through a texel view.  Bindings: 0 x (in), 1 y (out), 2 mask (out).
#define H2_PLAIN true  // the mask compares its hash, not x (common.glsl)
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint n; uint seed_mix; float p; float scale; } p;
BUF4_IN(0, X4)
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
    // f16: the mask's halves are 0 or scale's bits, chosen per element -- no packing
    // of floats (lavapipe packs halves by integer arithmetic: a pack per element cost
    // about as much as the rest of the kernel)
    uint sh = pack_half2(vec2(p.scale, 0.0));
    FOR_QUADS(p.n, q) {
        float x[EPQ], m[EPQ];
        LOADQ(LDQ(X4, q), x);
        [[unroll]] for (uint k = 0u; k < EPQ; k++) {
            m[k] = mask(q * EPQ + k);
            x[k] *= m[k];
        }
        Y4[q] = STOREQ(x);
        if (EPQ == 8u) {
            uvec4 mb;
            [[unroll]] for (uint j = 0u; j < 4u; j++)
                mb[j] = (m[2u * j] != 0.0 ? sh : 0u) | (m[2u * j + 1u] != 0.0 ? sh << 16u : 0u);
            MASK4[q] = mb;
        } else {
            MASK4[q] = STOREQ(m);
        }
    }
    FOR_TAIL_WORDS(p.n, w) {  // the same mask per element (the pad half of an odd f16 count: 0)
        uint i = w * (EPQ / 4u);
        vec2 x = unpack_w(LDW(X4, w)), m = vec2(mask(i), EPQ == 8u && i + 1u < p.n ? mask(i + 1u) : 0.0);
        STW(Y4, w, pack_w(x * m));
        STW(MASK4, w, pack_w(m));
    }
}
