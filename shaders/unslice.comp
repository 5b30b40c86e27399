#version 450
#extension GL_GOOGLE_include_directive : require
// The gradient of a slice: y (the sliced tensor's shape `dim`) holds g where its
// index lies on the slice's lattice (start[d] + k*step[d], k < len[d]) and 0
// elsewhere, over up to 6 dimensions.  Bindings: 0 g (in), 1 y (out).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform P { uint n; uint dim[6]; uint start[6]; uint step[6]; uint len[6]; } p;
BUF_IN(0, G)
BUF_OUT(1, Y)

float at(uint i) {
    uint ig = 0u, gs = 1u, r = i;
    for (int d = 5; d >= 0; d--) {
        uint c = r % p.dim[d];
        r /= p.dim[d];
        if (c < p.start[d] || (c - p.start[d]) % p.step[d] != 0u) return 0.0;
        uint k = (c - p.start[d]) / p.step[d];
        if (k >= p.len[d]) return 0.0;
        ig += k * gs;
        gs *= p.len[d];
    }
    return LD(G, ig);
}

void main() {
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        ST_UNIT(Y, u, at(i), (EPU == 2u && i + 1u < p.n) ? at(i + 1u) : 0.0);
    }
}
