#version 450
#extension GL_GOOGLE_include_directive : require
// matmul.comp's fast path for small products: the dimension each operand is
// read along (K for A unless TA, M when TA; N for B unless TB, K when TB) is a
// multiple of 4, so every load takes 4 values (16 bytes, 8 with -DF16: packed
// halves): 8 loads per 64 FMAs of a 4 x 4 block of C.
// TA / TB (specialisation constants 1, 2): A stored [K, M] / B stored [N, K].
// OUT16 (3; -DF16, N even): C in packed halves, so an f16 product needs no
// conversion pass; otherwise C is f32.
// -DTEXEL_IN (the "matmul4_tx" twin, CPU devices): A and B through texel views of
// their 4-value loads (RGBA32F; RG32UI for 4 halves), which lavapipe gathers where it
// loads a storage buffer lane by lane (the iris step's products, paired: see the
// backend's matmul).
// Batched (the backend's bmm: small aligned products): `batch` products, the z-th
// reading A from load z*sa, B from load z*sb and writing C from z*M*N (no bias).
// Bindings: 0 A (in), 1 B (in), 2 bias (in; a dummy when has_bias = 0), 3 C (out).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint ACT = 0u;
layout(constant_id = 1) const uint TA = 0u;
layout(constant_id = 2) const uint TB = 0u;
layout(constant_id = 3) const uint OUT16 = 0u;
layout(push_constant) uniform P { uint M; uint N; uint K; uint has_bias; uint batch; uint sa; uint sb; } p;
#if defined(TEXEL_IN) && defined(F16)
layout(binding = 0) uniform usamplerBuffer A_t;
layout(binding = 1) uniform usamplerBuffer B_t;
#define A(i) texelFetch(A_t, int(i)).xy
#define B(i) texelFetch(B_t, int(i)).xy
vec4 ld4(uvec2 w) { return vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)); }
#elif defined(TEXEL_IN)
layout(binding = 0) uniform samplerBuffer A_t;
layout(binding = 1) uniform samplerBuffer B_t;
#define A(i) texelFetch(A_t, int(i))
#define B(i) texelFetch(B_t, int(i))
vec4 ld4(vec4 v) { return v; }
#elif defined(F16)
layout(std430, binding = 0) readonly buffer A_b { uvec2 A_s[]; };
layout(std430, binding = 1) readonly buffer B_b { uvec2 B_s[]; };
#define A(i) A_s[i]
#define B(i) B_s[i]
vec4 ld4(uvec2 w) { return vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)); }
#else
layout(std430, binding = 0) readonly buffer A_b { uvec4 A_s[]; };
layout(std430, binding = 1) readonly buffer B_b { uvec4 B_s[]; };
#define A(i) A_s[i]
#define B(i) B_s[i]
vec4 ld4(uvec4 w) { return uintBitsToFloat(w); }
#endif
BUF_IN(2, BIAS)
BUF_OUT(3, C)

void main() {
    uint bn = (p.N + 3u) / 4u, blocks = ((p.M + 3u) / 4u) * bn;
    for (uint bt = gl_GlobalInvocationID.x; bt < p.batch * blocks; bt += gl_NumWorkGroups.x * 64u) {
        uint z = bt / blocks, t = bt % blocks, m0 = (t / bn) * 4u, n0 = (t % bn) * 4u;
        uint oa = z * p.sa, ob = z * p.sb, oc = z * p.M * p.N;
        vec4 acc[4] = vec4[4](vec4(0.0), vec4(0.0), vec4(0.0), vec4(0.0));
        for (uint k = 0u; k < p.K; k += 4u) {
            vec4 a[4], b[4];  // a[i][kk] = A(m0+i, k+kk); b[kk][j] = B(k+kk, n0+j)
            if (TA == 0u) {
                [[unroll]] for (uint i = 0u; i < 4u; i++)
                    a[i] = m0 + i < p.M ? ld4(A(oa + ((m0 + i) * p.K + k) / 4u)) : vec4(0.0);
            } else {
                vec4 at[4];  // at[kk][i]
                [[unroll]] for (uint kk = 0u; kk < 4u; kk++)
                    at[kk] = k + kk < p.K ? ld4(A(oa + ((k + kk) * p.M + m0) / 4u)) : vec4(0.0);
                [[unroll]] for (uint i = 0u; i < 4u; i++) a[i] = vec4(at[0][i], at[1][i], at[2][i], at[3][i]);
            }
            if (TB == 0u) {
                [[unroll]] for (uint kk = 0u; kk < 4u; kk++)
                    b[kk] = k + kk < p.K ? ld4(B(ob + ((k + kk) * p.N + n0) / 4u)) : vec4(0.0);
            } else {
                vec4 bt[4];  // bt[j][kk]
                [[unroll]] for (uint j = 0u; j < 4u; j++)
                    bt[j] = n0 + j < p.N ? ld4(B(ob + ((n0 + j) * p.K + k) / 4u)) : vec4(0.0);
                [[unroll]] for (uint kk = 0u; kk < 4u; kk++) b[kk] = vec4(bt[0][kk], bt[1][kk], bt[2][kk], bt[3][kk]);
            }
            [[unroll]] for (uint i = 0u; i < 4u; i++)
                acc[i] += a[i].x * b[0] + a[i].y * b[1] + a[i].z * b[2] + a[i].w * b[3];
        }
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            if (m0 + i >= p.M) break;
            vec4 v = acc[i];
            [[unroll]] for (uint j = 0u; j < 4u; j++) {
                if (p.has_bias == 1u && n0 + j < p.N) v[j] += LD(BIAS, n0 + j);
                v[j] = activate(ACT, v[j]);
            }
            if (OUT16 == 1u) {  // N even: the block's column pairs are whole words
                uint w = (oc + (m0 + i) * p.N + n0) / 2u;
                C[w] = pack_half2(v.xy);
                if (n0 + 2u < p.N) C[w + 1u] = pack_half2(v.zw);
                continue;
            }
            [[unroll]] for (uint j = 0u; j < 4u; j++) {
                if (n0 + j >= p.N) break;
                ST32(C, oc + (m0 + i) * p.N + n0 + j, v[j]);
            }
        }
    }
}
