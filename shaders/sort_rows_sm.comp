#version 450
#extension GL_GOOGLE_include_directive : require
// A whole bitonic sort of each row of x [rows, n] (f32) in shared memory, for GPUs:
// a workgroup per row, its keys (sortkey.glsl: stable, NaN last, -0 as +0) and
// positions padded to N (a power of 2 up to 2048: 16 KB of shared memory), all
// log2(N) (log2(N) + 1) / 2 stages with a barrier after each, then the first n
// positions written.  sort_stage.comp's passes over memory (up to four stages
// each: 15 for N = 1024) ran rows of 1000 at 1% of an H200's copy rate; lavapipe,
// whose shared memory is slow, keeps them.  Bindings: 0 x (in), 1 positions (out, int32).
#include "common.glsl"
#include "sortkey.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform P { uint rows; uint N; uint n; uint desc; } p;
BUF_IN(0, X)
BUF_OUT(1, POS)
const uint MAXN = 2048u;
shared uint sk[MAXN];
shared uint si[MAXN];

void main() {
    uint tid = gl_LocalInvocationID.x;
    for (uint row = gl_WorkGroupID.x; row < p.rows; row += gl_NumWorkGroups.x) {
        uint x0 = row * p.n;
        for (uint i = tid; i < p.N; i += 256u) {
            sk[i] = sort_key(i < p.n ? X[x0 + i] : 0u, i, p.n, p.desc);
            si[i] = i;
        }
        barrier();
        for (uint k = 2u; k <= p.N; k <<= 1u) {
            for (uint j = k >> 1u; j > 0u; j >>= 1u) {
                for (uint t = tid; t < p.N / 2u; t += 256u) {  // pair t: (a, a + j), a's bit j clear
                    uint a = ((t & ~(j - 1u)) << 1u) | (t & (j - 1u)), b = a + j;
                    uint ka = sk[a], kb = sk[b], ia = si[a], ib = si[b];
                    if (after(ka, ia, kb, ib) == ((a & k) == 0u)) {  // ascending where a's bit k is clear
                        sk[a] = kb; sk[b] = ka;
                        si[a] = ib; si[b] = ia;
                    }
                }
                barrier();
            }
        }
        for (uint i = tid; i < p.n; i += 256u) POS[x0 + i] = si[i];
        barrier();  // the next row overwrites sk, si
    }
}
