#version 450
#extension GL_GOOGLE_include_directive : require
// y [B, C, R] = x [B, R, C] transposed (x contiguous; R and C whole numbers of
// 16-byte quads' elements, EPQ), by blocks of EPQ x EPQ elements: an invocation
// reads a block's EPQ quads (EPQ rows of x), moves the bits (halves too: no
// conversions) and writes EPQ quads (EPQ rows of y).  A subgroup takes a tile
// of SG block columns x 128 rows of x: lane l block column l of it, the tile's
// block rows one after another (from a start of its own), so x is read in rows
// of SG quads and each row of y the tile writes gets its 512 bytes from one lane.  The strided walk
// (copy.comp) read a column of x per row of y -- a page per element at large
// sizes (lavapipe: 2048^2 at 0.18 of a copy's rate).  -DTEXEL_IN (the "_tx"
// twin, CPU devices): x through a texel view of quads (vec4.glsl).
// Bindings: 0 x (in), 1 y (out).
#extension GL_KHR_shader_subgroup_basic : require
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint B; uint R; uint C; } p;
BUF4_IN(0, X)
BUF4_OUT(1, Y)

const uint T = 128u / EPQ;  // block rows per tile (128 rows of x; the backend's _T4_ROWS)
const uint STAG = 8u;       // quads between the lanes' first block rows (see main)

// half k (0 .. 7) of a quad of packed halves
uint half_of(uvec4 q, uint k) { return (q[k >> 1u] >> (16u * (k & 1u))) & 0xffffu; }

void main() {
    uint SG = gl_SubgroupSize, lane = gl_SubgroupInvocationID;
    uint RB = p.R / EPQ, CB = p.C / EPQ;  // blocks per row / column of x
    uint tr = (RB + T - 1u) / T, tc = (CB + SG - 1u) / SG, items = p.B * tr * tc;
    for (uint w = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID; w < items;
         w += gl_NumWorkGroups.x * gl_NumSubgroups) {  // one tile per subgroup
        uint cb = (w % tc) * SG + lane, t = w / tc, b = t / tr, rb0 = (t % tr) * T;
        if (cb >= CB) continue;
        // each lane walks the tile's block rows from its own start, STAG quads (128
        // bytes) after the lane before's: the lines of y written at once then fall in
        // different L1 sets, where rows 2^k bytes apart share one (lavapipe, 2048^2 and
        // 4096^2 f32: 1.25x; 1024^2, 2052^2: 1.04-1.06x; 32 rows and no stagger before)
        uint nrb = min(rb0 + T, RB) - rb0;
        for (uint st = 0u; st < nrb; st++) {
            uint rb = rb0 + (st + STAG * lane) % nrb;
            uvec4 q[EPQ];
            [[unroll]] for (uint i = 0u; i < EPQ; i++) q[i] = LDQ(X, (b * p.R + rb * EPQ + i) * CB + cb);
            [[unroll]] for (uint j = 0u; j < EPQ; j++) {  // row cb * EPQ + j of y: element j of each quad
                uvec4 o;
                if (EPQ == 4u) {
                    o = uvec4(q[0][j], q[1][j], q[2][j], q[3][j]);
                } else {
                    [[unroll]] for (uint m = 0u; m < 4u; m++)
                        o[m] = half_of(q[2u * m], j) | (half_of(q[2u * m + 1u], j) << 16u);
                }
                Y[(b * p.C + cb * EPQ + j) * RB + rb] = o;
            }
        }
    }
}
