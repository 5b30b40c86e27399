#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_KHR_shader_subgroup_basic : require
// C[M, N] = act(A @ B + bias), in f32, for A [M, K] and B [K, N] in f32 (K and N
// multiples of 4) or, with -DF16, packed halves (K a multiple of 4, N of 8);
// the backend transposes and zero-pads operands first when needed, with
// pad2d.comp; bias has n_valid entries, padded columns are cropped later).  A subgroup of
// SG lanes computes 2*SG rows x 8 columns of C: lane l owns rows m0+l and
// m0+SG+l; per k-step of SG, lane l loads row k+l of B (two 16-byte quads) and
// the other lanes take it with subgroupShuffle, so B is read once per subgroup
// instead of once per lane (lavapipe issues loads lane by lane; on GPUs this
// is register-level sharing).
// Bindings: 0 A (in), 1 B (in), 2 bias (in; a dummy when has_bias = 0), 3 C (out).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint ACT = 0u;
layout(push_constant) uniform P { uint M; uint N; uint K; uint has_bias; uint n_valid; } p;
#ifdef F16  // packed halves: 4 of A in 8 bytes, 8 of B in 16 (N a multiple of 8)
layout(std430, binding = 0) readonly buffer A_b { uvec2 A[]; };
layout(std430, binding = 1) readonly buffer B_b { uvec4 B[]; };
vec4 h4(uvec2 w) { return vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)); }
#define LOAD_A(i) h4(A[i])
#define LOAD_B(k, n0, b0, b1) { uvec4 w_ = B[((k) * p.N + (n0)) / 8u]; b0 = h4(w_.xy); b1 = h4(w_.zw); }
#else
layout(std430, binding = 0) readonly buffer A_b { vec4 A[]; };
layout(std430, binding = 1) readonly buffer B_b { vec4 B[]; };
#define LOAD_A(i) A[i]
#define LOAD_B(k, n0, b0, b1) { uint i_ = ((k) * p.N + (n0)) / 4u; b0 = B[i_]; if ((n0) + 4u < p.N) b1 = B[i_ + 1u]; }
#endif
BUF_IN(2, BIAS)
BUF_OUT(3, C)
void main() {
    uint SG = gl_SubgroupSize, lane = gl_SubgroupInvocationID;
    uint sg_global = (gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID);
    uint sg_total = gl_NumWorkGroups.x * gl_NumSubgroups;
    uint bn = (p.N + 7u) / 8u, blocks = ((p.M + 2u * SG - 1u) / (2u * SG)) * bn;
    for (uint t = sg_global; t < blocks; t += sg_total) {
        uint m0 = (t / bn) * 2u * SG, n0 = (t % bn) * 8u;
        uint row = m0 + lane, row2 = m0 + SG + lane;
        vec4 c0 = vec4(0.0), c1 = vec4(0.0), d0 = vec4(0.0), d1 = vec4(0.0);
        for (uint k = 0u; k < p.K; k += SG) {
            vec4 b0 = vec4(0.0), b1 = vec4(0.0);
            if (k + lane < p.K) LOAD_B(k + lane, n0, b0, b1)
            for (uint kq = 0u; kq < SG; kq += 4u) {
                vec4 a = (row < p.M && k + kq < p.K) ? LOAD_A((row * p.K + k + kq) / 4u) : vec4(0.0);
                vec4 a2 = (row2 < p.M && k + kq < p.K) ? LOAD_A((row2 * p.K + k + kq) / 4u) : vec4(0.0);
                [[unroll]] for (uint j = 0u; j < 4u; j++) {
                    vec4 s0 = subgroupShuffle(b0, kq + j), s1 = subgroupShuffle(b1, kq + j);
                    c0 += a[j] * s0;
                    c1 += a[j] * s1;
                    d0 += a2[j] * s0;
                    d1 += a2[j] * s1;
                }
            }
        }
        [[unroll]] for (uint j = 0u; j < 8u; j++) {
            if (n0 + j >= p.N) break;
            float bias = (p.has_bias == 1u && n0 + j < p.n_valid) ? LD(BIAS, n0 + j) : 0.0;
            if (row < p.M) ST32(C, row * p.N + n0 + j, activate(ACT, (j < 4u ? c0[j] : c1[j - 4u]) + bias));
            if (row2 < p.M) ST32(C, row2 * p.N + n0 + j, activate(ACT, (j < 4u ? d0[j] : d1[j - 4u]) + bias));
        }
    }
}
