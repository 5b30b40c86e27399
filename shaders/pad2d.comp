#version 450
#extension GL_GOOGLE_include_directive : require
// y[i, j] = x[i*s0 + j*s1] for i < R, j < C, else 0, for y [R2, C2] in f32:
// transposes, zero-pads and widens f16 in one pass (matmul_sg's operand prep),
// or crops (R2, C2 <= R, C).  Bindings: 0 x (in), 1 y (out).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint R; uint C; uint R2; uint C2; uint s0; uint s1; } p;
BUF_IN(0, X)
BUF_OUT(1, Y)

void main() {
    uint n = p.R2 * p.C2;
    for (uint o = gl_GlobalInvocationID.x; o < n; o += gl_NumWorkGroups.x * 64u) {
        uint i = o / p.C2, j = o % p.C2;
        ST32(Y, o, (i < p.R && j < p.C) ? LD(X, i * p.s0 + j * p.s1) : 0.0);
    }
}
