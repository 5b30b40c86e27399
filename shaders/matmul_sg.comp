#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_KHR_shader_subgroup_basic : require
// C[M, N] = act(op(A) @ op(B) + bias) in f32, for A and B in f32 or, with -DF16,
// packed halves; QB = 4 (f32) or 8 (f16) values per 16-byte load.
//   A: [M, K] (TA = 0; K a multiple of QB) or stored [K, M] (TA = 1; K a
//      multiple of QB, M of 4).
//   B: [K, N] (TB = 0; N a multiple of QB) or stored [N, K] (TB = 1; K a
//      multiple of QB, any N).
// Other shapes are transposed / zero-padded by the backend first (pad2d.comp,
// pad2d_h.comp).
// C is [M, n_valid]: columns of a padded B past n_valid are not stored; bias has
// n_valid entries.  batch: that many products of these shapes, item i's operands
// and C at i times their sizes (contiguous batches; the backend's bmm), tiles
// of all of them in one grid.
//
// A subgroup of SG lanes computes a tile of 4*SG rows x 16 columns of C: lane l
// owns rows m0 + 4l .. m0 + 4l + 3 and keeps 4 x 16 accumulators.  Per k-step
// of SG, the subgroup loads B's SG x 16 block once, spread over the lanes, and
// each lane takes the values it needs with subgroupShuffle: with TB = 0 lane l
// loads row k+l (four 16-byte quads, two in f16); with TB = 1 each group of 8
// lanes loads the 8 x 16 block of 8 values of k, lane l columns l%8 and l%8 + 8.  Each lane reads its own rows
// of A: along k (TA = 0) or, transposed, one 16-byte load per k for its four
// rows (TA = 1).  Why this shape: on lavapipe loads weigh as much as the FMAs
// (1024^3 f32 with texel reads: FMAs ~45% of the time, A's fetches ~28%, B's
// ~23%, shuffles ~10%), so the tile is as large as the registers allow (64
// accumulators: 128 spill and run 2x slower; 4 x 8 and 4 x 12 measured 0.85x and
// 0.74x), updated a column quad at a time (kstep); on GPUs the shuffles are
// register-level sharing.  f16 storage halves the fetches: with its
// conversions replaced by two integer ops it ran 1.14-1.17x f32, with them
// 1.08-1.15x (paired), so lavapipe's FMAs and shuffles bound both.
//
// SGC (specialisation constant 1) is the device's reported subgroup size: when
// gl_SubgroupSize equals it the k-loop is unrolled with constant shuffle
// indices (20% faster on lavapipe); otherwise the same code runs with the
// size read at run time, so a device that varies it still gets right results.
// OUT16 (specialisation constant 4; -DF16, n_valid even): C in packed halves,
// so an f16 product needs no conversion pass.  A row's 16 columns are stored as
// 16-byte quads when they are whole quads of C (lavapipe stores lane by lane:
// a quad costs about what one scalar does).
// Bindings: 0 A (in), 1 B (in), 2 bias (in; a dummy when has_bias = 0), 3 C (out).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint ACT = 0u;
layout(constant_id = 1) const uint SGC = 8u;
layout(constant_id = 2) const uint TA = 0u;
layout(constant_id = 3) const uint TB = 0u;
layout(constant_id = 4) const uint OUT16 = 0u;
layout(push_constant) uniform P { uint M; uint N; uint K; uint has_bias; uint n_valid; uint batch; } p;
// A and B are read through uniform texel buffers (texelFetch): lavapipe loads a
// storage buffer lane by lane behind a branch per lane, a texel fetch in one
// gather (matmul 1.7x faster).  The backend binds views of 16-byte texels
// (RGBA32F, or RGBA32UI for 8 packed halves), or 8-byte ones (RG32UI) for A
// when TA = 1 in f16.
#ifdef F16  // packed halves, 8 in 16 bytes
layout(binding = 0) uniform usamplerBuffer A_t;
layout(binding = 1) uniform usamplerBuffer B_t;
vec4 h4(uvec2 w) { return vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)); }
#define QB 8u
#define A(i) texelFetch(A_t, int(i))
#define B(i) texelFetch(B_t, int(i))
#define LOAD_AT(i) h4(A(i).xy)
#else
layout(binding = 0) uniform samplerBuffer A_t;
layout(binding = 1) uniform samplerBuffer B_t;
#define QB 4u
#define A(i) texelFetch(A_t, int(i))
#define B(i) texelFetch(B_t, int(i))
#define LOAD_AT(i) A(i)
#endif
BUF_IN(2, BIAS)
BUF_OUT(3, C)
layout(std430, binding = 3) writeonly buffer C4_b { uvec4 C4[]; };  // C by quads of words

vec4 acc[4][4];  // acc[i][q]: row m0 + 4*lane + i, columns n0 + 4q .. n0 + 4q + 3
uint arow0;      // this lane's first row, clamped in range (stores are guarded)
uint aoff, boff; // the current item's first elements of A and B (multiples of QB)

// B's quads.  TB = 0: b[q] = row k + lane, columns n0 + 4q .. (one k-step of SG).
// TB = 1, per 8 values of k: lane l of each group of 8 lanes holds bt[h][u] =
// column n0 + (l % 8) + 8h, k + 4u .. k + 4u + 3 (groups of 8 whatever the
// subgroup size, so every index is a compile-time constant).
vec4 b[4];
vec4 bt[2][2];

void load_b(uint k, uint lane, uint n0, bool tail) {
    [[unroll]] for (uint q = 0u; q < 4u; q++) b[q] = vec4(0.0);
    if (tail && k + lane >= p.K) return;
    uint bi = (boff + (k + lane) * p.N + n0) / QB;
#ifdef F16
    [[unroll]] for (uint h = 0u; h < 2u; h++) {
        if (n0 + 8u * h < p.N) {
            uvec4 w = B(bi + h);
            b[2u * h] = h4(w.xy);
            b[2u * h + 1u] = h4(w.zw);
        }
    }
#else
    [[unroll]] for (uint q = 0u; q < 4u; q++)
        if (n0 + 4u * q < p.N) b[q] = B(bi + q);
#endif
}

void load_bt(uint k, uint lane, uint n0) {  // zero past K (a multiple of QB)
    [[unroll]] for (uint h = 0u; h < 2u; h++) {
        uint c = n0 + lane % 8u + 8u * h;
        bool ok = c < p.N;
#ifdef F16
        uvec4 w = ok ? B((boff + c * p.K + k) / 8u) : uvec4(0u);
        bt[h][0] = h4(w.xy);
        bt[h][1] = h4(w.zw);
#else
        bt[h][0] = ok ? B((boff + c * p.K + k) / 4u) : vec4(0.0);
        bt[h][1] = ok && k + 4u < p.K ? B((boff + c * p.K + k) / 4u + 1u) : vec4(0.0);
#endif
    }
}

// a[i][h][j]: row arow0 + i, k + 4h + j, for QB values of k
void load_a(uint k, out vec4 a[4][QB / 4u]) {
    if (TA == 0u) {
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            uint r = min(arow0 + i, p.M - 1u);
#ifdef F16
            uvec4 w = A((aoff + r * p.K + k) / 8u);
            a[i][0] = h4(w.xy);
            a[i][1] = h4(w.zw);
#else
            a[i][0] = A((aoff + r * p.K + k) / 4u);
#endif
        }
    } else {
        [[unroll]] for (uint kk = 0u; kk < QB; kk++) {
            vec4 t = LOAD_AT((aoff + (k + kk) * p.M + arow0) / 4u);  // rows arow0 .. arow0 + 3
            [[unroll]] for (uint i = 0u; i < 4u; i++) a[i][kk / 4u][kk % 4u] = t[i];
        }
    }
}

// acc[.][q] += a[.][j] * s: column quad q of the four rows, value j of the loaded k
void fma_q(vec4 a[4][QB / 4u], uint j, uint q, vec4 s) {
    [[unroll]] for (uint i = 0u; i < 4u; i++) acc[i][q] += a[i][j / 4u][j % 4u] * s;
}

// One k-step of SG: rows k .. k+SG-1 of B (zero past K when tail).  The products
// go column quad by column quad over 4 values of k at a time, so one quad's 16
// accumulators stay in registers across them: an order by k first cycled all 64
// through memory for every k (lavapipe spills past ~32 live vectors; paired,
// 1024^3 f32 1.12-1.13x, 256x784x1024 NT 1.09-1.11x faster).
void kstep(uint k, uint SG, uint lane, uint n0, bool tail) {
    vec4 a[4][QB / 4u];
    if (TB == 0u) {
        load_b(k, lane, n0, tail);
        [[unroll]] for (uint kq = 0u; kq < SG; kq += QB) {
            if (tail && k + kq >= p.K) break;
            load_a(k + kq, a);
            [[unroll]] for (uint h = 0u; h < QB; h += 4u)
                [[unroll]] for (uint q = 0u; q < 4u; q++)
                    [[unroll]] for (uint j4 = 0u; j4 < 4u; j4++)  // (a constant start: unrolled)
                        fma_q(a, h + j4, q, subgroupShuffle(b[q], kq + h + j4));
        }
    } else {
        uint g = SG == 8u ? 0u : lane & ~7u;  // this lane's group of 8 (0 when SG is 8: constant)
        [[unroll]] for (uint kb = 0u; kb < SG; kb += 8u) {
            if (tail && k + kb >= p.K) break;
            load_bt(k + kb, lane, n0);
            [[unroll]] for (uint kq = 0u; kq < 8u; kq += QB) {
                if (tail && k + kb + kq >= p.K) break;
                load_a(k + kb + kq, a);
                [[unroll]] for (uint h = 0u; h < QB; h += 4u)
                    [[unroll]] for (uint q = 0u; q < 4u; q++)
                        [[unroll]] for (uint j4 = 0u; j4 < 4u; j4++) {
                            uint j = h + j4, kk = kq + j;
                            vec4 s;  // columns 4q .. 4q + 3: lanes g + (4q + c) % 8 of bt[q / 2]
                            [[unroll]] for (uint c = 0u; c < 4u; c++)
                                s[c] = subgroupShuffle(bt[q / 2u][kk / 4u][kk % 4u], g + (4u * q + c) % 8u);
                            fma_q(a, j, q, s);
                        }
            }
        }
    }
}

void tile(uint SG, uint lane, uint m0, uint n0) {
    arow0 = TA == 1u ? min(m0 + 4u * lane, p.M - 4u) : m0 + 4u * lane;
    [[unroll]] for (uint i = 0u; i < 4u; i++)
        [[unroll]] for (uint q = 0u; q < 4u; q++) acc[i][q] = vec4(0.0);
    uint kfull = p.K - p.K % SG, k = 0u;
    for (; k < kfull; k += SG) kstep(k, SG, lane, n0, false);
    if (k < p.K) kstep(k, SG, lane, n0, true);
}

void main() {
    uint SG = gl_SubgroupSize, lane = gl_SubgroupInvocationID;
    uint sg_global = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID;
    uint sg_total = gl_NumWorkGroups.x * gl_NumSubgroups;
    uint bn = (p.N + 15u) / 16u, blocks = ((p.M + 4u * SG - 1u) / (4u * SG)) * bn;
    for (uint u = sg_global; u < blocks * p.batch; u += sg_total) {
        uint item = u / blocks, t = u - item * blocks;
        uint m0 = (t / bn) * 4u * SG, n0 = (t % bn) * 16u;
        aoff = item * p.M * p.K;
        boff = item * p.K * p.N;
        if (SG == SGC) tile(SGC, lane, m0, n0);  // constant trip counts: unrolled
        else tile(SG, lane, m0, n0);
        vec4 bias[4];  // this tile's columns of the bias, once per tile
        [[unroll]] for (uint j = 0u; j < 16u; j++)
            bias[j / 4u][j % 4u] = p.has_bias == 1u && n0 + j < p.n_valid ? LD(BIAS, n0 + j) : 0.0;
        bool quads = n0 + 16u <= p.n_valid && p.n_valid % (OUT16 == 1u ? 8u : 4u) == 0u;
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            uint row = m0 + 4u * lane + i, at = (item * p.M + row) * p.n_valid + n0;
            if (row >= p.M) continue;
            vec4 v[4];
            [[unroll]] for (uint j = 0u; j < 16u; j++)
                v[j / 4u][j % 4u] = activate(ACT, acc[i][j / 4u][j % 4u] + bias[j / 4u][j % 4u]);
            if (OUT16 == 1u) {
                if (quads) {
                    [[unroll]] for (uint h = 0u; h < 2u; h++)
                        C4[at / 8u + h] = uvec4(pack_half2(v[2u * h].xy), pack_half2(v[2u * h].zw),
                                                pack_half2(v[2u * h + 1u].xy), pack_half2(v[2u * h + 1u].zw));
                } else {
                    [[unroll]] for (uint j = 0u; j < 16u; j += 2u) {  // n_valid even: whole words
                        if (n0 + j >= p.n_valid) break;
                        C[(at + j) / 2u] = pack_half2(vec2(v[j / 4u][j % 4u], v[j / 4u][j % 4u + 1u]));
                    }
                }
            } else if (quads) {
                [[unroll]] for (uint q = 0u; q < 4u; q++) C4[at / 4u + q] = floatBitsToUint(v[q]);
            } else {
                [[unroll]] for (uint j = 0u; j < 16u; j++) {
                    if (n0 + j >= p.n_valid) break;
                    ST32(C, at + j, v[j / 4u][j % 4u]);
                }
            }
        }
    }
}
