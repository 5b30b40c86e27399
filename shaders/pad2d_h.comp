#version 450
#extension GL_GOOGLE_include_directive : require
// pad2d.comp with packed-half output (for the f16 subgroup matmul): y [R2, C2]
// f16, C2 even, y[i, j] = x[i*s0 + j*s1] inside [R, C], zeros outside; each
// invocation writes one word (two neighbours in a row).  Bindings: 0 x (in), 1 y (out).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint R; uint C; uint R2; uint C2; uint s0; uint s1; } p;
BUF_IN(0, X)
BUF_OUT(1, Y)

float at(uint o) {
    uint i = o / p.C2, j = o % p.C2;
    return (i < p.R && j < p.C) ? LD(X, i * p.s0 + j * p.s1) : 0.0;
}

void main() {
    FOR_UNITS(p.R2 * p.C2, u) ST_UNIT(Y, u, at(2u * u), at(2u * u + 1u));
}
