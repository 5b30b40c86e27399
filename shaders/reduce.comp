#version 450
#extension GL_GOOGLE_include_directive : require
// Reduce the middle axis of x viewed as [outer, R, inner] -> y [outer, inner]
// in f32 (or halves: OUT16), one workgroup per output (or, with serial = 1, one
// invocation), times scale.
// serial = 2 is the first pass of a long reduction: partial results of chunk rows each.  OP: 0 sum, 1 max, 2 sum of squares.
// Bindings: 0 x (in), 1 y (out).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint OP = 0u;
// SERIAL as a specialisation constant, not a push constant: the paths a dispatch
// does not take (barriers among them) are not compiled in (see binary4.comp).
layout(constant_id = 1) const uint SERIAL = 0u;
// OUT16 (SERIAL = 1): y in packed halves, two outputs per invocation (an f16
// tensor's reduction needs no conversion pass)
layout(constant_id = 2) const uint OUT16 = 0u;
layout(push_constant) uniform P { uint outer; uint R; uint inner; float scale; uint chunk; } p;
BUF_IN(0, X)
BUF_OUT(1, Y)
shared float s[64];

float comb(float a, float b) { return OP == 1u ? nmax(a, b) : a + b; }

void main() {
    uint tid = gl_LocalInvocationID.x;
    uint nout = p.outer * p.inner;
    float init = OP == 1u ? uintBitsToFloat(0xff800000u) : 0.0;
    if (SERIAL == 2u) {  // long reductions, pass 1: partials [outer, P, inner] of chunk rows each
        uint P = (p.R + p.chunk - 1u) / p.chunk, items = p.outer * P * p.inner;
        for (uint w = gl_GlobalInvocationID.x; w < items; w += gl_NumWorkGroups.x * 64u) {
            uint ii = w % p.inner, t = w / p.inner, part = t % P, oo = t / P;
            uint r1 = min(p.R, (part + 1u) * p.chunk);
            float acc = init;
            for (uint r = part * p.chunk; r < r1; r++) {
                float v = LD(X, (oo * p.R + r) * p.inner + ii);
                acc = comb(acc, OP == 2u ? v * v : v);
            }
            ST32(Y, w, acc * p.scale);
        }
        return;
    }
    if (SERIAL == 1u) {  // short reductions: one invocation per output (two with OUT16), no barriers
        uint per = OUT16 == 1u ? 2u : 1u;
        for (uint u = gl_GlobalInvocationID.x; u < (nout + per - 1u) / per; u += gl_NumWorkGroups.x * 64u) {
            float res[2] = float[2](0.0, 0.0);
            [[unroll]] for (uint h = 0u; h < per; h++) {
                uint o = u * per + h;
                if (o >= nout) break;
                uint base = (o / p.inner) * p.R * p.inner + (o % p.inner);
                float acc = init;
                for (uint r = 0u; r < p.R; r++) {
                    float v = LD(X, base + r * p.inner);
                    acc = comb(acc, OP == 2u ? v * v : v);
                }
                res[h] = acc * p.scale;
            }
            if (OUT16 == 1u) Y[u] = pack_half2(vec2(res[0], res[1]));
            else ST32(Y, u, res[0]);
        }
        return;
    }
    for (uint o = gl_WorkGroupID.x; o < nout; o += gl_NumWorkGroups.x) {
        uint base = (o / p.inner) * p.R * p.inner + (o % p.inner);
        float acc = init;
        for (uint r = tid; r < p.R; r += 64u) {
            float v = LD(X, base + r * p.inner);
            acc = comb(acc, OP == 2u ? v * v : v);
        }
        s[tid] = acc;
        barrier();
        for (uint st = 32u; st > 0u; st >>= 1u) {
            if (tid < st) s[tid] = comb(s[tid], s[tid + st]);
            barrier();
        }
        if (tid == 0u) ST32(Y, o, s[0] * p.scale);
        barrier();
    }
}
