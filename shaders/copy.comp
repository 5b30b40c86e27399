#version 450
#extension GL_GOOGLE_include_directive : require
// Strided gather into a contiguous output (permute, broadcast_to, copy, slices):
// y[i] = x[base + sum_d idx_d(i) * sx[d]] over up to 6 dimensions.
// Bindings: 0 x (in), 1 y (out).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform P { uint n; uint base; uint dim[6]; uint sx[6]; } p;
BUF_IN(0, X)
BUF_OUT(1, Y)

float at(uint i) {
    uint ix = p.base, r = i;
    for (int d = 5; d >= 0 && r > 0u; d--) {
        ix += (r % p.dim[d]) * p.sx[d];
        r /= p.dim[d];
    }
    return LD(X, ix);
}

void main() {
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        ST_UNIT(Y, u, at(i), (EPU == 2u && i + 1u < p.n) ? at(i + 1u) : 0.0);
    }
}
