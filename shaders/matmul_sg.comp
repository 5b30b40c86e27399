#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_KHR_shader_subgroup_basic : require
// C[M, N] = act(A @ B + bias), in f32, for A [M, K] and B [K, N] in f32 (K and N
// multiples of 4) or, with -DF16, packed halves (K and N multiples of 8);
// the backend transposes and zero-pads operands first when needed, with
// pad2d.comp; bias has n_valid entries, padded columns are cropped later.
//
// A subgroup of SG lanes computes a tile of 4*SG rows x 16 columns of C: lane l
// owns rows m0 + l + i*SG (i < 4) and keeps 4 x 16 accumulators.  Per k-step of
// SG, lane l loads row k+l of B's 16 columns (four 16-byte quads, two in f16)
// and the other lanes take it with subgroupShuffle, so B is read once per
// subgroup; each lane reads its own rows of A, 16 bytes per 4 k (8 k in f16).
// Why this shape: lavapipe issues every buffer load lane by lane, and loads,
// not FMAs, bound the rate (measured: the FMA-only loop runs 5-6x faster), so
// the tile is as large as the registers allow; on GPUs the shuffles are
// register-level sharing.
//
// SGC (specialisation constant 1) is the device's reported subgroup size: when
// gl_SubgroupSize equals it the k-loop is unrolled with constant shuffle
// indices (20% faster on lavapipe); otherwise the same code runs with the
// size read at run time, so a device that varies it still gets right results.
// Bindings: 0 A (in), 1 B (in), 2 bias (in; a dummy when has_bias = 0), 3 C (out).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint ACT = 0u;
layout(constant_id = 1) const uint SGC = 8u;
layout(push_constant) uniform P { uint M; uint N; uint K; uint has_bias; uint n_valid; } p;
#ifdef F16  // packed halves, 8 in 16 bytes: a load of A covers 8 k, one of B 8 columns
layout(std430, binding = 0) readonly buffer A_b { uvec4 A[]; };
layout(std430, binding = 1) readonly buffer B_b { uvec4 B[]; };
vec4 h4(uvec2 w) { return vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)); }
#define QB 8u  // columns per B load, k per A load
#else
layout(std430, binding = 0) readonly buffer A_b { vec4 A[]; };
layout(std430, binding = 1) readonly buffer B_b { vec4 B[]; };
#define QB 4u
#endif
BUF_IN(2, BIAS)
BUF_OUT(3, C)

vec4 acc[4][4];  // acc[i][q]: row m0 + lane + i*SG, columns n0 + 4q .. n0 + 4q + 3
uint arow[4];    // the rows this lane reads (clamped to M - 1; stores are guarded)

// One k-step of SG: rows k .. k+SG-1 of B (zero past K when tail).
void kstep(uint k, uint SG, uint lane, uint n0, bool tail) {
    vec4 b[4] = vec4[4](vec4(0.0), vec4(0.0), vec4(0.0), vec4(0.0));
    if (!tail || k + lane < p.K) {
        uint bi = ((k + lane) * p.N + n0) / QB;
#ifdef F16
        [[unroll]] for (uint h = 0u; h < 2u; h++) {
            if (n0 + 8u * h < p.N) {
                uvec4 w = B[bi + h];
                b[2u * h] = h4(w.xy);
                b[2u * h + 1u] = h4(w.zw);
            }
        }
#else
        [[unroll]] for (uint q = 0u; q < 4u; q++)
            if (n0 + 4u * q < p.N) b[q] = B[bi + q];
#endif
    }
    [[unroll]] for (uint kq = 0u; kq < SG; kq += QB) {
        if (tail && k + kq >= p.K) break;
        vec4 a[4][QB / 4u];  // a[i][h][j]: row i, k + kq + 4h + j
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
#ifdef F16
            uvec4 w = A[(arow[i] * p.K + k + kq) / 8u];
            a[i][0] = h4(w.xy);
            a[i][1] = h4(w.zw);
#else
            a[i][0] = A[(arow[i] * p.K + k + kq) / 4u];
#endif
        }
        [[unroll]] for (uint j = 0u; j < QB; j++) {
            [[unroll]] for (uint q = 0u; q < 4u; q++) {
                vec4 s = subgroupShuffle(b[q], kq + j);
                [[unroll]] for (uint i = 0u; i < 4u; i++) acc[i][q] += a[i][j / 4u][j % 4u] * s;
            }
        }
    }
}

void tile(uint SG, uint lane, uint m0, uint n0) {
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        arow[i] = min(m0 + lane + i * SG, p.M - 1u);
        [[unroll]] for (uint q = 0u; q < 4u; q++) acc[i][q] = vec4(0.0);
    }
    uint kfull = p.K - p.K % SG, k = 0u;
    for (; k < kfull; k += SG) kstep(k, SG, lane, n0, false);
    if (k < p.K) kstep(k, SG, lane, n0, true);
}

void main() {
    uint SG = gl_SubgroupSize, lane = gl_SubgroupInvocationID;
    uint sg_global = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID;
    uint sg_total = gl_NumWorkGroups.x * gl_NumSubgroups;
    uint bn = (p.N + 15u) / 16u, blocks = ((p.M + 4u * SG - 1u) / (4u * SG)) * bn;
    for (uint t = sg_global; t < blocks; t += sg_total) {
        uint m0 = (t / bn) * 4u * SG, n0 = (t % bn) * 16u;
        if (SG == SGC) tile(SGC, lane, m0, n0);  // constant trip counts: unrolled
        else tile(SG, lane, m0, n0);
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            uint row = m0 + lane + i * SG;
            if (row >= p.M) continue;
            [[unroll]] for (uint j = 0u; j < 16u; j++) {
                uint n = n0 + j;
                if (n >= p.N) break;
                float bias = (p.has_bias == 1u && n < p.n_valid) ? LD(BIAS, n) : 0.0;
                ST32(C, row * p.N + n, activate(ACT, acc[i][j / 4u][j % 4u] + bias));
            }
        }
    }
}
