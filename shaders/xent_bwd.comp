#version 450
#extension GL_GOOGLE_include_directive : require
// d logits = (probs - target) * g / rows, elementwise; g is a 0-d tensor.
// Bindings: 0 probs (in), 1 t (in), 2 g (in), 3 y (out).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform P { uint n; float inv_rows; } p;
BUF_IN(0, PR)
BUF_IN(1, T)
BUF_IN(2, G)
BUF_OUT(3, Y)

void main() {
    float s = LD(G, 0u) * p.inv_rows;
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        float v0 = (LD(PR, i) - LD(T, i)) * s;
        float v1 = (EPU == 2u && i + 1u < p.n) ? (LD(PR, i + 1u) - LD(T, i + 1u)) * s : 0.0;
        ST_UNIT(Y, u, v0, v1);
    }
}
