#version 450
#extension GL_GOOGLE_include_directive : require
// C[M, N] = act(op(A) op(B) + bias), written in f32 (or halves: OUT16).  A(m, k) at m*sam + k*sak,
// B(k, n) at k*sbk + n*sbn, so every transpose is a choice of strides.  Batched
// (the backend's bmm): `batch` products, the z-th reading A from z*sa and B from
// z*sb and writing C from z*M*N (no bias).  Each
// invocation computes a 4 x 4 block of C in registers (4 + 4 loads per 16
// FMAs, no shared memory: lavapipe runs shared memory and barriers slowly and
// GPUs cache these re-reads).  The f32 path with aligned sizes uses matmul4.
// Bindings: 0 A (in), 1 B (in), 2 bias (in; a dummy when has_bias = 0), 3 C (out).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint ACT = 0u;
// OUT16 (N even): C in packed halves, a word per two neighbouring columns of a
// block (an f16 product needs no conversion pass)
layout(constant_id = 1) const uint OUT16 = 0u;
layout(push_constant) uniform P {
    uint M; uint N; uint K; uint has_bias; uint sam; uint sak; uint sbk; uint sbn; uint batch; uint sa; uint sb;
} p;
BUF_IN(0, A)
BUF_IN(1, B)
BUF_IN(2, BIAS)
BUF_OUT(3, C)

void main() {
    uint bn = (p.N + 3u) / 4u, blocks = ((p.M + 3u) / 4u) * bn;
    for (uint bt = gl_GlobalInvocationID.x; bt < p.batch * blocks; bt += gl_NumWorkGroups.x * 64u) {
        uint z = bt / blocks, t = bt % blocks, m0 = (t / bn) * 4u, n0 = (t % bn) * 4u;
        uint oa = z * p.sa, ob = z * p.sb, oc = z * p.M * p.N;
        vec4 acc[4] = vec4[4](vec4(0.0), vec4(0.0), vec4(0.0), vec4(0.0));
        for (uint k = 0u; k < p.K; k++) {
            vec4 b;
            [[unroll]] for (uint j = 0u; j < 4u; j++)
                b[j] = n0 + j < p.N ? LD(B, ob + k * p.sbk + (n0 + j) * p.sbn) : 0.0;
            [[unroll]] for (uint i = 0u; i < 4u; i++) {
                float a = m0 + i < p.M ? LD(A, oa + (m0 + i) * p.sam + k * p.sak) : 0.0;
                acc[i] += a * b;
            }
        }
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            if (m0 + i >= p.M) break;
            vec4 v = acc[i];
            [[unroll]] for (uint j = 0u; j < 4u; j++)
                v[j] = activate(ACT, v[j] + (p.has_bias == 1u && n0 + j < p.N ? LD(BIAS, n0 + j) : 0.0));
            if (OUT16 == 1u) {  // N even: the pairs (n0, n0 + 1), (n0 + 2, n0 + 3) are whole words
                [[unroll]] for (uint h = 0u; h < 2u; h++)
                    if (n0 + 2u * h < p.N) C[(oc + (m0 + i) * p.N + n0 + 2u * h) / 2u] = pack_half2(vec2(v[2u * h], v[2u * h + 1u]));
            } else {
                [[unroll]] for (uint j = 0u; j < 4u; j++) {
                    if (n0 + j >= p.N) break;
                    ST32(C, oc + (m0 + i) * p.N + n0 + j, v[j]);
                }
            }
        }
    }
}
