#version 450
#extension GL_GOOGLE_include_directive : require
// C[M, N] = act(op(A) op(B) + bias) in f32; A(m, k) at m*sam + k*sak and
// B(k, n) at k*sbk + n*sbn, so every transpose is a choice of strides.
// TILE x TILE output tile per workgroup, grid-stride over tiles.
// Bindings: 0 A (in), 1 B (in), 2 bias (in; a dummy when has_bias = 0), 3 C (out).
#include "common.glsl"
#ifndef TILE
#define TILE 16
#endif
layout(local_size_x = TILE, local_size_y = TILE) in;
layout(constant_id = 0) const uint ACT = 0u;
layout(push_constant) uniform P {
    uint M; uint N; uint K; uint has_bias; uint sam; uint sak; uint sbk; uint sbn;
} p;
BUF_IN(0, A)
BUF_IN(1, B)
BUF_IN(2, BIAS)
BUF_OUT(3, C)
shared float As[TILE][TILE + 1];
shared float Bs[TILE][TILE + 1];

void main() {
    uint lx = gl_LocalInvocationID.x, ly = gl_LocalInvocationID.y;
    uint tilesN = (p.N + TILE - 1u) / TILE;
    uint tiles = ((p.M + TILE - 1u) / TILE) * tilesN;
    for (uint t = gl_WorkGroupID.x; t < tiles; t += gl_NumWorkGroups.x) {
        uint m0 = (t / tilesN) * TILE, n0 = (t % tilesN) * TILE;
        float acc = 0.0;
        for (uint k0 = 0u; k0 < p.K; k0 += TILE) {
            uint ar = m0 + ly, ak = k0 + lx;
            As[ly][lx] = (ar < p.M && ak < p.K) ? LD(A, ar * p.sam + ak * p.sak) : 0.0;
            uint bk = k0 + ly, bn = n0 + lx;
            Bs[ly][lx] = (bk < p.K && bn < p.N) ? LD(B, bk * p.sbk + bn * p.sbn) : 0.0;
            barrier();
            [[unroll]] for (uint k = 0u; k < TILE; k++) acc += As[ly][k] * Bs[k][lx];
            barrier();
        }
        uint row = m0 + ly, col = n0 + lx;
        if (row < p.M && col < p.N) {
            if (p.has_bias == 1u) acc += LD(BIAS, col);
            ST32(C, row * p.N + col, activate(ACT, acc));
        }
    }
}
