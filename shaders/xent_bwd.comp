#version 450
#extension GL_GOOGLE_include_directive : require
// d logits = (probs - target) * g / rows, elementwise; g is a 0-d tensor.
// Bindings: 0 probs (in), 1 t (in; int32 labels [rows] when LABELS = 1), 2 g (in), 3 y (out).
#include "common.glsl"
layout(constant_id = 0) const uint LABELS = 0u;  // 1: T holds int32 class labels [rows]
layout(local_size_x = 256) in;
layout(push_constant) uniform P { uint n; float inv_rows; uint C; } p;
BUF_IN(0, PR)
BUF_IN(1, T)
BUF_IN(2, G)
BUF_OUT(3, Y)

float tgt(uint i) {
    if (LABELS == 1u) return int(T[i / p.C]) == int(i % p.C) ? 1.0 : 0.0;
    return LD(T, i);
}

void main() {
    float s = LD(G, 0u) * p.inv_rows;
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        float v0 = (LD(PR, i) - tgt(i)) * s;
        float v1 = (EPU == 2u && i + 1u < p.n) ? (LD(PR, i + 1u) - tgt(i + 1u)) * s : 0.0;
        ST_UNIT(Y, u, v0, v1);
    }
}
