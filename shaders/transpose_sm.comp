#version 450
#extension GL_GOOGLE_include_directive : require
// y [B, C, R] = x [B, R, C] transposed (x contiguous; R and C whole numbers of
// 16-byte quads' elements, EPQ) through shared memory, for GPUs: a workgroup
// takes a tile of 32 x 32 elements, reads it by quads along x's rows (adjacent
// invocations, adjacent quads: whole 128-byte lines in f32), keeps each element's
// bits in shared memory (halves too: no conversions), and writes it by quads
// along y's rows the same way.  f16: tiles of 64 x 32, each word of shared memory
// a pair of x rows' halves -- y's two adjacent elements -- so y's rows of a tile
// are 128 bytes and shared memory moves two halves a word (32 x 32 tiles, a word
// a half: 57-66% of a copy's rate on an H200, f32 95%; 64 x 64 tiles of a word a
// half, 16.6 KB of shared memory: 16%).  transpose4.comp (no shared memory: each
// lane writes its own rows of y) suits lavapipe, whose shared memory is slow
// (2048^2 f32 there: 0.06-0.09 of a copy's rate against transpose4's 0.36); on a
// GPU its writes scatter a quad to each of a subgroup's rows (H100: 13% of a
// copy's rate).
// The row of shared memory has one element more than the tile:
// a column read then touches 32 different banks.
// Bindings: 0 x (in), 1 y (out).
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint B; uint R; uint C; } p;
BUF4_IN(0, X)
BUF4_OUT(1, Y)
const uint TC = 32u;                     // tile columns (x's): y's rows in a tile
const uint PR = EPQ / 4u;                // x rows a word of shared memory holds (f16: a row pair)
const uint TR = 32u * PR;                // tile rows (x's): f16 64, so y's rows are 128 bytes too
const uint QR = TC / EPQ;                // quads per tile row of x
const uint QY = TR / EPQ;                // quads per tile row of y (8)
shared uint s[TR / PR][TC + 1u];         // the tile's words: s[x row (pair)][x column]

void main() {
    uint i = gl_LocalInvocationID.x, CB = p.C / EPQ, RB = p.R / EPQ;
    uint tr = (p.R + TR - 1u) / TR, tc = (p.C + TC - 1u) / TC, tiles = p.B * tr * tc;
    for (uint t = gl_WorkGroupID.x; t < tiles; t += gl_NumWorkGroups.x) {  // the same t for the whole workgroup
        uint b = t / (tr * tc), r0 = (t / tc) % tr * TR, c0 = t % tc * TC;
        [[unroll]] for (uint k = 0u; k < 32u * QR / 64u; k++) {  // row (pair) pr of x, its quad qc
            uint item = i + 64u * k, pr = item / QR, qc = item % QR, row = r0 + pr * PR;
            if (row < p.R && c0 / EPQ + qc < CB) {
                uvec4 q = LDQ(X, (b * p.R + row) * CB + c0 / EPQ + qc);
                if (PR == 1u) {
                    [[unroll]] for (uint e = 0u; e < 4u; e++) s[pr][qc * 4u + e] = q[e];
                } else {  // (R a whole number of quads: row + 1 < R) the pair's halves in one word
                    uvec4 q1 = LDQ(X, (b * p.R + row + 1u) * CB + c0 / EPQ + qc);
                    [[unroll]] for (uint e = 0u; e < 8u; e++) {
                        uint sh = 16u * (e & 1u);
                        s[pr][qc * 8u + e] = ((q[e >> 1u] >> sh) & 0xffffu) | (((q1[e >> 1u] >> sh) & 0xffffu) << 16u);
                    }
                }
            }
        }
        barrier();
        [[unroll]] for (uint k = 0u; k < TC * QY / 64u; k++) {  // y's row c0 + yr, its quad qo
            uint item = i + 64u * k, yr = item / QY, qo = item % QY;
            if (c0 + yr < p.C && r0 / EPQ + qo < RB)
                Y[(b * p.C + c0 + yr) * RB + r0 / EPQ + qo] =
                    uvec4(s[qo * 4u][yr], s[qo * 4u + 1u][yr], s[qo * 4u + 2u][yr], s[qo * 4u + 3u][yr]);
        }
        barrier();  // the next tile overwrites s
    }
}
