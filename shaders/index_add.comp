#version 450
#extension GL_GOOGLE_include_directive : require
// The adjoint of gather_rows (an embedding's weight gradient): y [V, D] (f32,
// zeroed by the backend) += the rows g[p, :] of positions p in [p0, p1) whose
// index idx[p] is v, added in ascending p -- an invocation per row v scanning
// the indices, so no two invocations write one row (no atomics: deterministic,
// the CPU backend's order).  An index outside [0, V) makes every row NaN (as
// the one-hot product it replaces: device indices are not range-checked).
// Loop turns: the scan plus D / 4 per match (the backend sizes [p0, p1) to
// stay under lavapipe's loop limit).  Where it beats: an embedding of 1000
// rows over 16000 positions, lavapipe, a [16000, 1000] one-hot times g took
// 360 ms.  Bindings: 0 g (in), 1 idx (in), 2 y (in / out).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint V; uint D; uint p0; uint p1; } p;
BUF_INOUT(2, Y)
// -DTEXEL_IN (the "index_add_tx" twin, CPU devices): g and idx through R32UI views
// of their words (lavapipe gathers a texel fetch, loads a storage buffer lane by lane)
#ifdef TEXEL_IN
#include "vec4.glsl"
layout(binding = 0) uniform usamplerBuffer G_t;
layout(binding = 1) uniform usamplerBuffer IDX_t;  // RGBA32UI with Q4: four indices a texel
float g_at(uint i) { return LDE_WORDS(G_t, i); }
uint idx_at(uint i) { return texelFetch(IDX_t, int(i)).x; }
uvec4 idx4_at(uint i) { return texelFetch(IDX_t, int(i)); }
#else
BUF_IN(0, G)
BUF_IN(1, IDX)
layout(std430, binding = 1) readonly buffer IDX4_b { uvec4 IDX4[]; };
float g_at(uint i) { return LD(G, i); }
uint idx_at(uint i) { return IDX[i]; }
uvec4 idx4_at(uint i) { return IDX4[i]; }
#endif
// Q4 (specialisation constant 0): [p0, p1) in whole quads of indices, read four at a time
layout(constant_id = 0) const uint Q4 = 0u;

void add_row(uint row, uint q) {
    uint at = q * p.D, d = 0u;
    for (; d + 4u <= p.D; d += 4u)
        [[unroll]] for (uint j = 0u; j < 4u; j++)
            Y[row + d + j] = floatBitsToUint(uintBitsToFloat(Y[row + d + j]) + g_at(at + d + j));
    for (; d < p.D; d++) Y[row + d] = floatBitsToUint(uintBitsToFloat(Y[row + d]) + g_at(at + d));
}

void main() {
    for (uint v = gl_GlobalInvocationID.x; v < p.V; v += gl_NumWorkGroups.x * 64u) {
        bool bad = false;
        uint row = v * p.D;
        if (Q4 == 1u) {
            for (uint q4 = p.p0 / 4u; q4 < p.p1 / 4u; q4++) {
                uvec4 k4 = idx4_at(q4);
                bad = bad || any(greaterThanEqual(k4, uvec4(p.V)));
                if (all(notEqual(k4, uvec4(v)))) continue;
                [[unroll]] for (uint j = 0u; j < 4u; j++)
                    if (k4[j] == v) add_row(row, 4u * q4 + j);
            }
        } else {
            for (uint q = p.p0; q < p.p1; q++) {
                uint k = idx_at(q);
                bad = bad || k >= p.V;
                if (k == v) add_row(row, q);
            }
        }
        if (bad)
            for (uint d = 0u; d < p.D; d++) Y[row + d] = floatBitsToUint(QNAN);
    }
}
