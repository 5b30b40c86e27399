#version 450
#extension GL_GOOGLE_include_directive : require
// dtype conversion: -DIN_F16 reads halves, -DF16 writes halves (else f32).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform P { uint n; uint x; uint y; } p;

#ifdef IN_F16
float src(uint i) { return ld16(p.x, i); }
#else
float src(uint i) { return ld32(p.x, i); }
#endif

void main() {
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        st_unit(p.y, u, src(i), (EPU == 2u && i + 1u < p.n) ? src(i + 1u) : 0.0);
    }
}
