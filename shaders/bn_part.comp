#version 450
#extension GL_GOOGLE_include_directive : require
// Batch norm over axis 0 of [N, C] for large batches, pass 1 of 3 (bn_comb.comp,
// bn_apply.comp follow): partial statistics of parts of `chunk` rows, in
// parallel, an invocation per (part, EPL adjacent channels), lanes on adjacent
// channels (a row read contiguously).  The one-kernel path (bn_fwd.comp) walks
// each channel down every row in one invocation: 64 invocations in all for 256
// channels.  Forward (BWD = 0): the part's mean and its sum of squared
// deviations from that mean, in one read of its rows as sums of x - K and (x -
// K)^2 about K = the part's first row (shifted data: no E[x^2] - E[x]^2
// cancellation while K is within a few standard deviations of the mean, as a
// sample of the batch is), combined across parts by bn_comb.comp.  Backward
// (BWD = 1): sums of g and of g * (x - mean).  Partials: PART [2, P, C] (f32).
// QUADS = 1 (C a whole number of quads): EPL = EPQ channels an invocation by
// 16-byte loads; else one, by word loads.  -DTEXEL_IN (the "_tx" twin, CPU
// devices): x and g through texel views of quads (vec4.glsl).
// Bindings: 0 x, 1 g (BWD; x's dtype), 2 mean (BWD; f32) (in); 3 PART (out).
#define H2_PLAIN true  // sums of x - K, (x - K)^2, g, g (x - mean): nothing compared (common.glsl)
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint BWD = 0u;
layout(constant_id = 1) const uint QUADS = 0u;
// cm: channels (MEAN's length): C, or C / e where the backend views e rows of a width
// not in whole quads as one row of e times as many columns (column c: channel c % cm)
layout(push_constant) uniform P { uint N; uint C; uint chunk; uint cm; } p;
BUF4_IN(0, X)
BUF4_IN(1, G)
layout(std430, binding = 2) readonly buffer M_b { float MEAN[]; };
layout(std430, binding = 3) writeonly buffer PART_b { float PART[]; };
#define EPL (QUADS == 1u ? EPQ : 1u)
// v <- the EPL values of row r from channel c
#define LOAD_ROW(B, r, c, v) \
    if (QUADS == 1u) { LOADQ(LDQ(B, ((r) * p.C + (c)) / EPQ), v); } else { v[0] = LDE(B, (r) * p.C + (c)); }

void main() {
    uint P = (p.N + p.chunk - 1u) / p.chunk, cg = p.C / EPL, items = P * cg;
    for (uint w = gl_GlobalInvocationID.x; w < items; w += gl_NumWorkGroups.x * 64u) {
        uint c = (w % cg) * EPL, part = w / cg, r0 = part * p.chunk, r1 = min(p.N, r0 + p.chunk);
        float a[EPQ], b[EPQ], mu[EPQ], v[EPQ], u[EPQ];
        [[unroll]] for (uint k = 0u; k < EPQ; k++) {
            a[k] = 0.0;
            b[k] = 0.0;
            mu[k] = BWD == 1u && k < EPL ? MEAN[(c + k) % p.cm] : 0.0;
        }
        if (BWD == 0u) { LOAD_ROW(X, r0, c, mu) }  // the shift K
        for (uint r = r0; r < r1; r++) {
            LOAD_ROW(X, r, c, v)
            if (BWD == 1u) {
                LOAD_ROW(G, r, c, u)
                [[unroll]] for (uint k = 0u; k < EPL; k++) {
                    a[k] += u[k];
                    b[k] += u[k] * (v[k] - mu[k]);
                }
            } else {
                [[unroll]] for (uint k = 0u; k < EPL; k++) {
                    float d = v[k] - mu[k];
                    a[k] += d;
                    b[k] += d * d;
                }
            }
        }
        if (BWD == 0u) {  // the part's mean and squared deviations from it
            float n = float(r1 - r0);
            [[unroll]] for (uint k = 0u; k < EPL; k++) {
                b[k] = max(b[k] - a[k] * a[k] / n, 0.0);
                a[k] = mu[k] + a[k] / n;
            }
        }
        [[unroll]] for (uint k = 0u; k < EPL; k++) {
            PART[part * p.C + c + k] = a[k];
            PART[(P + part) * p.C + c + k] = b[k];
        }
    }
}
