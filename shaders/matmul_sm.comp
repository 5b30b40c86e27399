#version 450
#extension GL_GOOGLE_include_directive : require
// C[M, n_valid] = act(A @ B + bias) in f32 for A [M, K] and B [K, N] (f32, or
// with -DF16 packed halves; K and N multiples of 4: the backend transposes or
// pads other operands first; columns of a padded B past n_valid are not
// stored), tiled through shared memory: the classic GPU matmul.
// A workgroup of 16 x 16 invocations computes a BM x BM block of C (BM = 16 *
// TM), each invocation TM x TM of it, stepping over K in slices of BK: every
// invocation loads one 4-wide piece of A's and of B's slice into shared memory
// (coalesced: neighbouring invocations read neighbouring 16 or 8 bytes), then
// all of them read the slice BK times from there (A's slice is stored
// transposed, so 4 rows an invocation needs are one vec4).  An invocation's
// rows and columns are quads 64 apart (4 ty + 64 u, 4 tx + 64 v), so
// neighbouring invocations read neighbouring vec4s of shared memory.
// TM (specialisation constant 1) comes from the device's limits (backend):
//   TM = 4: 64 x 64 blocks, BK = 16; TM = 8: 128 x 128 blocks, BK = 8, twice
//   the multiply-adds per shared-memory load (64 accumulators per invocation).
// Split K (splits > 1; products whose C has too few blocks to fill a GPU): the
// workgroups take (block, slice) pairs, slice s the K range [s ks, (s + 1) ks),
// and write partial sums without bias or activation to C [splits, M, n_valid];
// matmul_splitk.comp adds them up and applies bias and activation.
// Both use 8 KB of shared memory, within every device's minimum (16 KB).  Used
// on GPUs; lavapipe does every shared-memory access lane by lane and runs
// matmul_sg.comp instead (there, this kernel is tested for its values only).
// Bindings: 0 A (in), 1 B (in), 2 bias (in; a dummy when has_bias = 0), 3 C (out).
#include "common.glsl"
layout(local_size_x = 16, local_size_y = 16) in;
layout(constant_id = 0) const uint ACT = 0u;
layout(constant_id = 1) const uint TM = 4u;
layout(push_constant) uniform P { uint M; uint N; uint K; uint has_bias; uint n_valid; uint ks; uint splits; } p;
#ifdef F16
layout(std430, binding = 0) readonly buffer A_b { uvec2 A[]; };
layout(std430, binding = 1) readonly buffer B_b { uvec2 B[]; };
vec4 ld4(uvec2 w) { return vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)); }
#else
layout(std430, binding = 0) readonly buffer A_b { uvec4 A[]; };
layout(std430, binding = 1) readonly buffer B_b { uvec4 B[]; };
vec4 ld4(uvec4 w) { return uintBitsToFloat(w); }
#endif
BUF_IN(2, BIAS)
BUF_OUT(3, C)

const uint BM = 16u * TM, BK = 64u / TM, R = TM / 4u;  // R: quads of rows (and of columns) per invocation
shared vec4 As[BK][BM / 4u];  // As[k][r / 4][r % 4] = A(m0 + r, k0 + k)
shared vec4 Bs[BK][BM / 4u];  // Bs[k][c / 4][c % 4] = B(k0 + k, n0 + c)

void main() {
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y, tid = ty * 16u + tx;
    uint bn = (p.N + BM - 1u) / BM, blocks = ((p.M + BM - 1u) / BM) * bn;
    // the piece this invocation loads: A row ar, k ak..ak+3; B row bk, columns bc..bc+3
    uint ar = tid / (BK / 4u), ak = (tid % (BK / 4u)) * 4u, bk = tid / (BM / 4u), bc = (tid % (BM / 4u)) * 4u;
    for (uint w = gl_WorkGroupID.x; w < blocks * p.splits; w += gl_NumWorkGroups.x) {  // uniform per workgroup
        uint t = w % blocks, s = w / blocks, k1 = min(p.K, (s + 1u) * p.ks);
        uint m0 = (t / bn) * BM, n0 = (t % bn) * BM;
        vec4 acc[TM][R];  // acc[4u + i][v]: row m0 + 4 ty + 64 u + i, columns n0 + 4 tx + 64 v ..
        [[unroll]] for (uint i = 0u; i < TM; i++)
            [[unroll]] for (uint v = 0u; v < R; v++) acc[i][v] = vec4(0.0);
        for (uint k0 = s * p.ks; k0 < k1; k0 += BK) {
            vec4 a = (m0 + ar < p.M && k0 + ak < k1) ? ld4(A[((m0 + ar) * p.K + k0 + ak) / 4u]) : vec4(0.0);
            vec4 b = (k0 + bk < k1 && n0 + bc < p.N) ? ld4(B[((k0 + bk) * p.N + n0 + bc) / 4u]) : vec4(0.0);
            [[unroll]] for (uint j = 0u; j < 4u; j++) As[ak + j][ar / 4u][ar % 4u] = a[j];
            Bs[bk][bc / 4u] = b;
            barrier();
            [[unroll]] for (uint k = 0u; k < BK; k++) {
                vec4 av[R], bv[R];
                [[unroll]] for (uint u = 0u; u < R; u++) {
                    av[u] = As[k][ty + 16u * u];
                    bv[u] = Bs[k][tx + 16u * u];
                }
                [[unroll]] for (uint u = 0u; u < R; u++)
                    [[unroll]] for (uint i = 0u; i < 4u; i++)
                        [[unroll]] for (uint v = 0u; v < R; v++) acc[4u * u + i][v] += av[u][i] * bv[v];
            }
            barrier();
        }
        [[unroll]] for (uint u = 0u; u < R; u++) {
            [[unroll]] for (uint i = 0u; i < 4u; i++) {
                uint row = m0 + 4u * ty + 64u * u + i;
                if (row >= p.M) continue;
                [[unroll]] for (uint v = 0u; v < R; v++) {
                    [[unroll]] for (uint j = 0u; j < 4u; j++) {
                        uint n = n0 + 4u * tx + 64u * v + j;
                        if (n >= p.n_valid) break;
                        float bias = p.has_bias == 1u ? LD(BIAS, n) : 0.0;
                        ST32(C, (s * p.M + row) * p.n_valid + n, activate(ACT, acc[4u * u + i][v][j] + bias));
                    }
                }
            }
        }
    }
}
