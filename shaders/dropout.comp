#version 450
#extension GL_GOOGLE_include_directive : require
// Inverted-dropout mask from a counter-based hash of (index, seed): lowbias32,
// bit-identical to vkgrad.backends.cpu.hash_uniform.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform P { uint n; uint y; uint seed_mix; float p; float scale; } p;

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
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        st_unit(p.y, u, mask(i), (EPU == 2u && i + 1u < p.n) ? mask(i + 1u) : 0.0);
    }
}
