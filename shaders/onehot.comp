#version 450
#extension GL_GOOGLE_include_directive : require
// y[b, c] = (labels[b] == c), labels int32 [B]; n = B * C.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform P { uint n; uint C; uint labels; uint y; } p;

float at(uint i) { return int(mem[p.labels + i / p.C]) == int(i % p.C) ? 1.0 : 0.0; }

void main() {
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        st_unit(p.y, u, at(i), (EPU == 2u && i + 1u < p.n) ? at(i + 1u) : 0.0);
    }
}
