#version 450
#extension GL_GOOGLE_include_directive : require
// reduce.comp's fast path in 16-byte quads (4 f32 or 8 f16 per load): sum
// (OP 0), max (1) or sum of squares (2) of x viewed as [outer, R, inner] over R,
// in parts of `chunk` rows: y[outer, P, inner] in f32, P = ceil(R / chunk) (the
// backend reduces the parts again while P > 1).  ROWS = 0: inner is a multiple
// of the quad, an invocation owns QPI adjacent quads of columns of one part and
// walks its rows (QPI = 4: a subgroup reads 512 contiguous bytes per row, which
// the CPU's prefetcher follows better than 128; measured 0.6 -> 0.8 of the copy
// probe on lavapipe).  ROWS = 1: inner = 1 and R any length, an invocation sums
// `chunk` consecutive elements (a multiple of the quad) of one row; ROWS = 3
// (GPUs) the same by a subgroup, lane l the quads l, l + SG, ... of the part.  ROWS = 2 (columns when
// a row has at least a subgroup's worth of quads): a subgroup owns a span of
// SG * QPI quads of columns, lane l the quads l, l + SG, ..., so each row's span
// is read as one contiguous run (up to 4 KB: a CPU's prefetcher streams it and
// the walk goes page by page, where ROWS = 0 hops a page per row for 512
// bytes; measured 1.3-1.5x faster on lavapipe; coalesced on a GPU).  Why
// quads at all: lavapipe pays per load, so a quad costs about what one element
// costs in reduce.comp.  SPLIT = 1 (ROWS = 2, GPUs): the workgroup's subgroups
// share one item, subgroup s its rows s, s + K, ... (K subgroups), their sums
// added through shared memory -- a K-th of the partial rows for the same loads
// in flight (f16 [32768, 1024] had 2048 parts: 8 MB of partials written and read
// again on 64 MB of input, and two more passes).
// Bindings: 0 x (in), 1 y (out, f32).
#extension GL_KHR_shader_subgroup_basic : require
layout(constant_id = 0) const uint OP = 0u;
#define H2_PLAIN (OP != 1u)  // sums compare nothing (common.glsl)
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64, local_size_x_id = 3) in;  // (SPLIT: 256)
layout(constant_id = 1) const uint ROWS = 0u;
// quads per invocation (ROWS = 0: adjacent, dividing inner / EPQ; ROWS = 2: SG apart)
layout(constant_id = 2) const uint QPI = 1u;
layout(constant_id = 4) const uint SPLIT = 0u;
// SPLIT: QPI * EPQ * the workgroup's size (a subgroup's sums, side by side)
layout(constant_id = 5) const uint SPLIT_FLOATS = 1u;
shared float s_split[SPLIT_FLOATS];
layout(push_constant) uniform P { uint outer; uint R; uint inner; float scale; uint chunk; } p;
BUF4_IN(0, X)
layout(std430, binding = 1) writeonly buffer Y_b { vec4 Y[]; };
layout(std430, binding = 1) writeonly buffer Ys_b { float Ys[]; };

shared float s_sg[64];  // ROWS = 3: a subgroup's partials (64 / SG subgroups of SG lanes)

float comb(float a, float b) { return OP == 1u ? nmax(a, b) : a + b; }

void main() {
    float init = OP == 1u ? uintBitsToFloat(0xff800000u) : 0.0;
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    uint P = (p.R + p.chunk - 1u) / p.chunk;
    float acc[EPQ], v[EPQ];
    if (ROWS == 0u) {
        uint cols = p.inner / EPQ, cg = cols / QPI, items = p.outer * P * cg;
        float ac[QPI][EPQ];
        for (uint w = gl_GlobalInvocationID.x; w < items; w += stride) {
            uint c0 = (w % cg) * QPI, t = w / cg, part = t % P, o = t / P;
            [[unroll]] for (uint j = 0u; j < QPI; j++)
                [[unroll]] for (uint k = 0u; k < EPQ; k++) ac[j][k] = init;
            uint r1 = min(p.R, (part + 1u) * p.chunk);
            for (uint r = part * p.chunk; r < r1; r++) {
                [[unroll]] for (uint j = 0u; j < QPI; j++) {
                    LOADQ(LDQ(X, (o * p.R + r) * cols + c0 + j), v);
                    [[unroll]] for (uint k = 0u; k < EPQ; k++) ac[j][k] = comb(ac[j][k], OP == 2u ? v[k] * v[k] : v[k]);
                }
            }
            [[unroll]] for (uint j = 0u; j < QPI; j++)
                [[unroll]] for (uint h = 0u; h < EPQ / 4u; h++)  // y row t, columns (c0+j)*EPQ + 4h ..
                    Y[(t * p.inner + (c0 + j) * EPQ) / 4u + h] =
                        p.scale * vec4(ac[j][4u * h], ac[j][4u * h + 1u], ac[j][4u * h + 2u], ac[j][4u * h + 3u]);
        }
    } else if (ROWS == 2u) {
        uint SG = gl_SubgroupSize, lane = gl_SubgroupInvocationID;
        uint cols = p.inner / EPQ, span = SG * QPI, cg = (cols + span - 1u) / span, items = p.outer * P * cg;
        // subgroups an item takes (SPLIT: the workgroup's), this one's place among them
        uint K = SPLIT == 1u ? gl_NumSubgroups : 1u, sub = SPLIT == 1u ? gl_SubgroupID : 0u;
        uint per = gl_NumSubgroups / K;  // items a workgroup takes at once
        float ac[QPI][EPQ];
        for (uint w = gl_WorkGroupID.x * per + gl_SubgroupID / K; w < items;
             w += gl_NumWorkGroups.x * per) {  // (SPLIT: the same w across the workgroup)
            uint c0 = (w % cg) * span + lane, t = w / cg, part = t % P, o = t / P;
            uint nj = c0 < cols ? min(QPI, (cols - c0 + SG - 1u) / SG) : 0u;  // the last span may be short
            [[unroll]] for (uint j = 0u; j < QPI; j++)
                [[unroll]] for (uint k = 0u; k < EPQ; k++) ac[j][k] = init;
            uint r1 = min(p.R, (part + 1u) * p.chunk);
            for (uint r = part * p.chunk + sub; r < r1; r += K) {
                uint base = (o * p.R + r) * cols + c0;
                [[unroll]] for (uint j = 0u; j < QPI; j++) {
                    if (j < nj) {
                        LOADQ(LDQ(X, base + j * SG), v);
                        [[unroll]] for (uint k = 0u; k < EPQ; k++) ac[j][k] = comb(ac[j][k], OP == 2u ? v[k] * v[k] : v[k]);
                    }
                }
            }
            if (SPLIT == 1u) {  // the first subgroup adds the others' sums to its own
                [[unroll]] for (uint j = 0u; j < QPI; j++)
                    [[unroll]] for (uint k = 0u; k < EPQ; k++)
                        s_split[((j * EPQ + k) * K + sub) * SG + lane] = ac[j][k];
                barrier();
                if (sub == 0u)
                    for (uint s = 1u; s < K; s++)
                        [[unroll]] for (uint j = 0u; j < QPI; j++)
                            [[unroll]] for (uint k = 0u; k < EPQ; k++)
                                ac[j][k] = comb(ac[j][k], s_split[((j * EPQ + k) * K + s) * SG + lane]);
                barrier();  // (s_split free for the next item)
            }
            [[unroll]] for (uint j = 0u; j < QPI; j++)
                if (j < nj && sub == 0u)
                    [[unroll]] for (uint h = 0u; h < EPQ / 4u; h++)
                        Y[(t * p.inner + (c0 + j * SG) * EPQ) / 4u + h] =
                            p.scale * vec4(ac[j][4u * h], ac[j][4u * h + 1u], ac[j][4u * h + 2u], ac[j][4u * h + 3u]);
        }
    } else {  // rows (inner = 1) of any length, in parts of `chunk` elements: ROWS = 1 by one
        // invocation, ROWS = 3 by one subgroup, its lanes on adjacent quads (GPUs: coalesced).
        // A part's elements before its first whole quad and after its last (rows not in whole
        // quads) are read word by word, in range.
        bool sgw = ROWS == 3u;
        uint lane = sgw ? gl_SubgroupInvocationID : 0u, step = sgw ? gl_SubgroupSize : 1u;
        uint w = sgw ? gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID : gl_GlobalInvocationID.x;
        uint wstep = sgw ? gl_NumWorkGroups.x * gl_NumSubgroups : stride;
        for (uint items = p.outer * P; w < items; w += wstep) {
            uint part = w % P, o = w / P;
            uint s = o * p.R + part * p.chunk, t = o * p.R + min(p.R, (part + 1u) * p.chunk);
            uint qa = (s + EPQ - 1u) / EPQ, qb = max(t / EPQ, qa);  // whole quads [qa, qb)
            [[unroll]] for (uint k = 0u; k < EPQ; k++) acc[k] = init;
            for (uint q = qa + lane; q < qb; q += step) {
                LOADQ(LDQ(X, q), v);
                [[unroll]] for (uint k = 0u; k < EPQ; k++) acc[k] = comb(acc[k], OP == 2u ? v[k] * v[k] : v[k]);
            }
            for (uint e = s + lane; e < min(qa * EPQ, t); e += step) {  // head
                float x = LDE(X, e);
                acc[0] = comb(acc[0], OP == 2u ? x * x : x);
            }
            for (uint e = qb * EPQ + lane; e < t; e += step) {  // tail
                float x = LDE(X, e);
                acc[0] = comb(acc[0], OP == 2u ? x * x : x);
            }
            float r = acc[0];
            [[unroll]] for (uint k = 1u; k < EPQ; k++) r = comb(r, acc[k]);
            if (sgw) {  // across the subgroup through shared memory (subgroup_basic
                // only: no shuffle capability asked of the device)
                uint b = gl_SubgroupID * step;
                s_sg[b + lane] = r;
                for (uint h = step / 2u; h > 0u; h >>= 1u) {
                    subgroupMemoryBarrierShared();
                    subgroupBarrier();
                    if (lane < h) s_sg[b + lane] = r = comb(r, s_sg[b + lane + h]);
                }
                if (lane == 0u) Ys[w] = p.scale * r;
                subgroupMemoryBarrierShared();
                subgroupBarrier();  // s_sg free for the next item
            } else {
                Ys[w] = p.scale * r;
            }
        }
    }
}
