#version 450
#extension GL_GOOGLE_include_directive : require
// y [B, C, R] = x [B, R, C] transposed (x contiguous; R and C whole numbers of
// 16-byte quads' elements, EPQ) through shared memory, for GPUs: a workgroup
// takes a tile of 32 x 32 elements, reads it by quads along x's rows (adjacent
// invocations, adjacent quads: whole 128-byte lines in f32), keeps each element's
// bits in shared memory (halves too: no conversions), and writes it by quads
// along y's rows the same way.  transpose4.comp (no shared memory: each lane
// writes its own rows of y) suits lavapipe, whose shared memory is slow
// (2048^2 f32 there: 0.06-0.09 of a copy's rate against transpose4's 0.36);
// on a GPU its writes scatter a quad to each of a subgroup's rows (H100: 13% of
// a copy's rate).  f16 tiles of 64 x 64 (whole 128-byte lines, 16.6 KB of shared
// memory) ran at 16% of a copy's rate on an H200 against these tiles' 62%.
// The row of shared memory has one element more than the tile:
// a column read then touches 32 different banks.
// Bindings: 0 x (in), 1 y (out).
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint B; uint R; uint C; } p;
BUF4_IN(0, X)
BUF4_OUT(1, Y)
const uint TS = 32u, QR = TS / EPQ;  // tile side in elements, quads per tile row
const uint ROWS = 64u / QR;          // tile rows one pass of the workgroup covers
shared uint s[TS][TS + 1u];          // the tile's element bits, by x row

void main() {
    uint i = gl_LocalInvocationID.x, qc = i % QR, CB = p.C / EPQ, RB = p.R / EPQ;
    uint tr = (p.R + TS - 1u) / TS, tc = (p.C + TS - 1u) / TS, tiles = p.B * tr * tc;
    for (uint t = gl_WorkGroupID.x; t < tiles; t += gl_NumWorkGroups.x) {  // the same t for the whole workgroup
        uint b = t / (tr * tc), r0 = (t / tc) % tr * TS, c0 = t % tc * TS;
        [[unroll]] for (uint k = 0u; k < TS / ROWS; k++) {  // rows r0 + row of x
            uint row = i / QR + k * ROWS;
            if (r0 + row < p.R && c0 / EPQ + qc < CB) {
                uvec4 q = LDQ(X, (b * p.R + r0 + row) * CB + c0 / EPQ + qc);
                [[unroll]] for (uint e = 0u; e < EPQ; e++)
                    s[row][qc * EPQ + e] = EPQ == 4u ? q[e] : (q[e >> 1u] >> (16u * (e & 1u))) & 0xffffu;
            }
        }
        barrier();
        [[unroll]] for (uint k = 0u; k < TS / ROWS; k++) {  // rows c0 + row of y (x's columns)
            uint row = i / QR + k * ROWS;
            if (c0 + row < p.C && r0 / EPQ + qc < RB) {
                uvec4 o;
                [[unroll]] for (uint m = 0u; m < 4u; m++)
                    o[m] = EPQ == 4u ? s[qc * 4u + m][row]
                                     : s[qc * 8u + 2u * m][row] | (s[qc * 8u + 2u * m + 1u][row] << 16u);
                Y[(b * p.C + c0 + row) * RB + r0 / EPQ + qc] = o;
            }
        }
        barrier();  // the next tile overwrites s
    }
}
