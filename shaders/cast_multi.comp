#version 450
#extension GL_GOOGLE_include_directive : require
// Up to eight f32 -> f16 conversions in one dispatch: the f32 master weights
// of f16 parameters written back after an optimizer step (one dispatch, not
// one per parameter).  Pairs absent from a dispatch have n = 0 (bound to a
// dummy).  A loop per pair, as in adam_multi.glsl (lavapipe runs every side
// of a divergent branch under a mask but skips a loop no lane enters).
// Bindings: 2k x_k (in, f32), 2k+1 y_k (out, packed halves), k < 8.
#define F16
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform P { uint n[8]; } p;
BUF_IN(0, X0) BUF_OUT(1, Y0) BUF_IN(2, X1) BUF_OUT(3, Y1) BUF_IN(4, X2) BUF_OUT(5, Y2)
BUF_IN(6, X3) BUF_OUT(7, Y3) BUF_IN(8, X4) BUF_OUT(9, Y4) BUF_IN(10, X5) BUF_OUT(11, Y5)
BUF_IN(12, X6) BUF_OUT(13, Y6) BUF_IN(14, X7) BUF_OUT(15, Y7)

// one word of halves: elements 2u, 2u + 1 (the second 0 past n)
#define PAIR(X, Y, nk) \
    for (uint u = gl_GlobalInvocationID.x; u < ((nk) + 1u) / 2u; u += gl_NumWorkGroups.x * 256u) \
        ST_UNIT(Y, u, LD32(X, 2u * u), 2u * u + 1u < (nk) ? LD32(X, 2u * u + 1u) : 0.0);

void main() {
    PAIR(X0, Y0, p.n[0]) PAIR(X1, Y1, p.n[1]) PAIR(X2, Y2, p.n[2]) PAIR(X3, Y3, p.n[3])
    PAIR(X4, Y4, p.n[4]) PAIR(X5, Y5, p.n[5]) PAIR(X6, Y6, p.n[6]) PAIR(X7, Y7, p.n[7])
}
