#version 450
#extension GL_GOOGLE_include_directive : require
// y[b, c] = (labels[b] == c) for int32 labels [B]; n = B * C.  A label outside
// [0, C) makes its row NaN (not a silent row of zeros: see QNAN).
// Bindings: 0 labels (in), 1 y (out).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform P { uint n; uint C; } p;
BUF_IN(0, LAB)
BUF_OUT(1, Y)

float at(uint i) {
    int lab = int(LAB[i / p.C]);
    return lab < 0 || lab >= int(p.C) ? QNAN : lab == int(i % p.C) ? 1.0 : 0.0;
}

void main() {
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        ST_UNIT(Y, u, at(i), (EPU == 2u && i + 1u < p.n) ? at(i + 1u) : 0.0);
    }
}
