#version 450
#extension GL_GOOGLE_include_directive : require
// A max pool in one pass: y [N, C, OH, OW] the maximum of each window of x
// [N, C, H, W] (the backend's Window; taps outside x skipped, as padding of
// -inf), idx (int32, the same layout) its first tap i * kw + j holding it, a NaN
// counting as the maximum (its first), the first valid tap where every value is
// -inf.  No window rows are written (im2col's K x the input), and y comes out
// in x's layout.  Kernel, stride and dilation are specialisation constants (taps
// unrolled); RUN units (an element; two packed halves with -DF16) per
// invocation, the index divided out once a run and carried (CPU devices 64:
// lavapipe divides lane by lane; GPUs 1).  BATCH = 1 (GPUs): an invocation per
// unit at one place (oh, ow) of every plane's block of y (OH * OW elements; the
// backend takes it when that is whole units), walking a chunk of the planes
// (p.chunk of them): its place divided out once, not per element (as im2col.comp).
// -DTEXEL_IN (the "window_max_tx" twin, CPU devices): x through an R32UI view of
// its words.  Bindings: 0 x (in), 1 y (out), 2 idx (out).
#include "common.glsl"
#include "batchwalk.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint RUN = 1u;
layout(constant_id = 1) const uint KH = 1u;
layout(constant_id = 2) const uint KW = 1u;
layout(constant_id = 3) const uint SH = 1u;
layout(constant_id = 4) const uint SW = 1u;
layout(constant_id = 5) const uint DH = 1u;
layout(constant_id = 6) const uint DW = 1u;
layout(constant_id = 7) const uint BATCH = 0u;
layout(push_constant) uniform P { uint n; uint H; uint W; uint ph; uint pw; uint OH; uint OW; uint planes;
                                  uint chunk; } p;
#ifdef TEXEL_IN
#include "vec4.glsl"
layout(binding = 0) uniform usamplerBuffer X_t;
float x_at(uint i) { return LDE_WORDS(X_t, i); }
#else
BUF_IN(0, X)
float x_at(uint i) { return LD(X, i); }
#endif
BUF_OUT(1, Y)
layout(std430, binding = 2) writeonly buffer IDX_b { uint IDX[]; };

// the window at (oh, ow) of plane t (n * C + c): its maximum, and idx[e] its tap
float window(uint t, uint oh, uint ow, uint e) {
    float m = uintBitsToFloat(0xff800000u);
    uint best = 0u;
    bool found = false;
    [[unroll]] for (uint i = 0u; i < KH; i++) {
        int h = int(oh * SH + i * DH) - int(p.ph);
        if (h < 0 || h >= int(p.H)) continue;
        [[unroll]] for (uint j = 0u; j < KW; j++) {
            int w = int(ow * SW + j * DW) - int(p.pw);
            if (w < 0 || w >= int(p.W)) continue;
            float v = x_at((t * p.H + uint(h)) * p.W + uint(w));
            if (!found || v > m || (isnan(v) && !isnan(m))) { m = v; best = i * KW + j; }
            found = true;
        }
    }
    IDX[e] = best;
    return m;
}

// y's planes of a chunk at one place each (BATCH = 1)
void batch_walk() {
    uint units = p.OH * p.OW / EPU;
    FOR_BATCH_UNIT(units, p.planes, p.chunk, u, t0, t1) {
        uvec2 at[2];  // the unit's elements' (oh, ow)
        [[unroll]] for (uint k = 0u; k < EPU; k++)
            at[k] = uvec2((u * EPU + k) / p.OW, (u * EPU + k) % p.OW);
        for (uint t = t0; t < t1; t++) {
            float v[2];
            [[unroll]] for (uint k = 0u; k < EPU; k++)
                v[k] = window(t, at[k].x, at[k].y, t * units * EPU + u * EPU + k);
            ST_UNIT(Y, t * units + u, v[0], v[1]);
        }
    }
}

void main() {
    if (BATCH == 1u) {
        batch_walk();
        return;
    }
    uint units = (p.n + EPU - 1u) / EPU;
    for (uint u0 = gl_GlobalInvocationID.x * RUN; u0 < units; u0 += gl_NumWorkGroups.x * gl_WorkGroupSize.x * RUN) {
        uint e = u0 * EPU, ow = e % p.OW, t = e / p.OW, oh = t % p.OH;
        t /= p.OH;
        for (uint u = u0; u < min(u0 + RUN, units); u++) {
            float v[2];
            [[unroll]] for (uint k = 0u; k < EPU; k++) {
                v[k] = u * EPU + k < p.n ? window(t, oh, ow, u * EPU + k) : 0.0;
                if (++ow == p.OW) { ow = 0u; if (++oh == p.OH) { oh = 0u; t++; } }
            }
            ST_UNIT(Y, u, v[0], v[1]);
        }
    }
}
