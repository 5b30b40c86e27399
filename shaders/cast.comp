#version 450
#extension GL_GOOGLE_include_directive : require
// dtype conversion: -DIN_F16 reads halves, -DF16 writes halves (else f32).
// Bindings: 0 x (in), 1 y (out).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform P { uint n; } p;
BUF_IN(0, X)
BUF_OUT(1, Y)

#ifdef IN_F16
float src(uint i) { return LD16(X, i); }
#else
float src(uint i) { return LD32(X, i); }
#endif

void main() {
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        ST_UNIT(Y, u, src(i), (EPU == 2u && i + 1u < p.n) ? src(i + 1u) : 0.0);
    }
}
