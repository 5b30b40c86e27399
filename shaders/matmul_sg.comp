#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_KHR_shader_subgroup_basic : require
// C[M, N] = act(A @ B + bias) for f32 A [M, K] and B [K, N], K and N multiples
// of 4 (the backend transposes, zero-pads and widens operands first with
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
layout(std430, binding = 0) readonly buffer A_b { vec4 A[]; };
layout(std430, binding = 1) readonly buffer B_b { vec4 B[]; };
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
            if (k + lane < p.K) {
                uint base = ((k + lane) * p.N + n0) / 4u;
                b0 = B[base];
                if (n0 + 4u < p.N) b1 = B[base + 1u];
            }
            for (uint kq = 0u; kq < SG; kq += 4u) {
                vec4 a = (row < p.M && k + kq < p.K) ? A[(row * p.K + k + kq) / 4u] : vec4(0.0);
                vec4 a2 = (row2 < p.M && k + kq < p.K) ? A[(row2 * p.K + k + kq) / 4u] : vec4(0.0);
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
