#version 450
#extension GL_GOOGLE_include_directive : require
// Stages of a bitonic sort of rows of N (a power of 2, >= 16) keys K with their
// original positions I, in place.  The pair (i, i + j) with i's bit j clear is put
// in order -- ascending where i's bit k is clear, descending where set -- by
// (key, position): equal keys keep their order (a stable sort, as NumPy's and
// PyTorch's stable=True).  The first pass turns the rows' f32 values into keys
// whose unsigned order is the sort's: -0 as +0, NaN after every number (before
// it, with desc: the keys complemented), positions >= n (the padding) last.
// An invocation holds a block of BLK elements s apart (s a power of 2) in
// registers -- rows split into groups of BLK s elements, each s interleaved
// blocks -- and runs the stages k = p.k .. p.kmax with the j among 8s, 4s, 2s, s
// in [p.jmin, p.jmax] and below k (the pairs they touch stay in the block):
// the backend's log2(N) (log2(N) + 1) / 2 stages in passes of up to four each
// (N = 1024: 15 passes over memory, not 55).
// Bindings: 0 K, 1 I (both read-write).
#include "common.glsl"
layout(local_size_x = 256) in;
// (lgs: log2 of s -- shifts, not divisions, which lavapipe does lane by lane)
layout(push_constant) uniform P { uint units; uint N; uint n; uint k; uint kmax; uint jmax; uint desc; uint lgs;
                                  uint jmin; } p;
BUF_INOUT(0, K)
BUF_INOUT(1, I)
#define BLK 16u

#include "sortkey.glsl"
uint key_of(uint bits, uint pos) { return sort_key(bits, pos, p.n, p.desc); }

void main() {
    uint stride = gl_NumWorkGroups.x * 256u, st = 1u << p.lgs;
    for (uint q = gl_GlobalInvocationID.x; q < p.units; q += stride) {
        // group q >> lgs of BLK s elements, block q & (s - 1) within it
        uint first = ((q >> p.lgs) << (p.lgs + 4u)) + (q & (st - 1u));  // the block's first index
        uint col = first & (p.N - 1u);  // ... within its row
        uint kk[BLK], id[BLK];
        [[unroll]] for (uint e = 0u; e < BLK; e++) {
            kk[e] = p.k == 2u ? key_of(K[first + e * st], col + e * st) : K[first + e * st];
            id[e] = I[first + e * st];
        }
        for (uint k = p.k; k <= p.kmax; k *= 2u) {
            [[unroll]] for (uint s = 0u; s < 4u; s++) {  // j = 8s, 4s, 2s, s: those up to jmax, below k
                uint jj = (BLK / 2u) >> s;
                if ((jj << p.lgs) > p.jmax || (jj << p.lgs) < p.jmin || (2u * jj << p.lgs) > k) continue;
                [[unroll]] for (uint t = 0u; t < BLK / 2u; t++) {
                    uint a = (t / jj) * 2u * jj + t % jj, b = a + jj;
                    bool swap = after(kk[a], id[a], kk[b], id[b]) == (((col + (a << p.lgs)) & k) == 0u);
                    uint ka = kk[a], kb = kk[b], ia = id[a], ib = id[b];
                    kk[a] = swap ? kb : ka; kk[b] = swap ? ka : kb;
                    id[a] = swap ? ib : ia; id[b] = swap ? ia : ib;
                }
            }
        }
        [[unroll]] for (uint e = 0u; e < BLK; e++) { K[first + e * st] = kk[e]; I[first + e * st] = id[e]; }
    }
}
