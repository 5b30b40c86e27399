#version 450
#extension GL_GOOGLE_include_directive : require
// d logits = (probs - target) * g / rows, elementwise; g is a 0-d tensor.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform P { uint n; uint probs; uint t; uint g; uint y; float inv_rows; } p;

void main() {
    float s = ld(p.g, 0u) * p.inv_rows;
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        float v0 = (ld(p.probs, i) - ld(p.t, i)) * s;
        float v1 = (EPU == 2u && i + 1u < p.n) ? (ld(p.probs, i + 1u) - ld(p.t, i + 1u)) * s : 0.0;
        st_unit(p.y, u, v0, v1);
    }
}
