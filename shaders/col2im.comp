#version 450
#extension GL_GOOGLE_include_directive : require
// The adjoint of im2col (the backend's Window over [N, C, H, W]): y [N, C, H, W]
// from columns x [N * OH * OW, C * kh * kw], each element the sum in f32, in
// window order (i, then j), of the entries im2col copies from it -- a gather over
// the taps that reach it, so no two invocations write one word (no atomics).
// The kernel, stride and dilation are specialisation constants (a pipeline per
// window shape; the taps' loops unrolled, their strides constant): the taps of
// row h are i with h + ph - i * dh = oh * sh, 0 <= oh < OH, walked with (oh,
// remainder) kept as h and w advance, so nothing is divided per element
// (lavapipe divides lane by lane: dividing each element's index ran 2.2x slower;
// with the window as push constants, [12544, 144] -> [64, 16, 14, 14] took 13.0
// ms and a max pool's scatter to [64, 16, 28, 28] 27.8, now 8.3 and 15.7).  RUN: units (an element; two packed
// halves with -DF16) per invocation, consecutive; the index is divided out once
// per run (CPU devices 64; GPUs 1, neighbours' writes adjacent).
// SCATTER = 1 (a max pool's gradient): x holds one value per window and channel,
// [N, C, OH, OW], and int32 idx (the same layout) the tap (i * kw + j) it goes to
// -- window_max.comp's argmax --, the other taps taking 0 (col2im of that
// one-hot, without it).
// BATCH = 1 (GPUs): an invocation per unit at one place in every image's block of y
// (C * H * W elements; the backend takes it when that is whole units), walking a
// chunk of the batch (p.chunk images): its (c, h, w) divided out once, not per
// element (as im2col.comp).
// -DTEXEL_IN (the "col2im_tx" twin, CPU devices): x and idx read through R32UI
// views of their words (lavapipe gathers a texel fetch, loads a storage buffer
// lane by lane: the same two 1.4x / 1.3x faster).  Bindings: 0 x (in), 1 idx (in; a dummy when SCATTER = 0), 2 y (out).
#include "common.glsl"
#include "batchwalk.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint RUN = 1u;
layout(constant_id = 1) const uint SCATTER = 0u;
layout(constant_id = 2) const uint KH = 1u;
layout(constant_id = 3) const uint KW = 1u;
layout(constant_id = 4) const uint SH = 1u;
layout(constant_id = 5) const uint SW = 1u;
layout(constant_id = 6) const uint DH = 1u;
layout(constant_id = 7) const uint DW = 1u;
layout(constant_id = 8) const uint BATCH = 0u;
layout(push_constant) uniform P { uint n; uint N; uint C; uint H; uint W; uint ph; uint pw; uint OH; uint OW;
                                  uint chunk; } p;
BUF_OUT(2, Y)
#ifdef TEXEL_IN
#include "vec4.glsl"
layout(binding = 0) uniform usamplerBuffer X_t;
layout(binding = 1) uniform usamplerBuffer IDX_t;
float x_at(uint i) { return LDE_WORDS(X_t, i); }
uint idx_at(uint i) { return texelFetch(IDX_t, int(i)).x; }
#else
BUF_IN(0, X)
BUF_IN(1, IDX)
float x_at(uint i) { return LD(X, i); }
uint idx_at(uint i) { return IDX[i]; }
#endif

// the sum at (b, c) for rows h + ph = qh * SH + rh, columns w + pw = qw * SW + rw
float taps(uint b, uint c, int qh, int rh, int qw, int rw) {
    const int dqh = int(DH / SH), drh = int(DH % SH), dqw = int(DW / SW), drw = int(DW % SW);
    uint cols = p.C * KH * KW;
    float s = 0.0;
    [[unroll]] for (uint i = 0u; i < KH; i++) {
        if (rh == 0 && qh >= 0 && uint(qh) < p.OH) {  // (qh < 0: before the padded input)
            int q = qw, r = rw;
            [[unroll]] for (uint j = 0u; j < KW; j++) {
                if (r == 0 && q >= 0 && uint(q) < p.OW) {
                    uint row = (b * p.OH + uint(qh)) * p.OW + uint(q);
                    uint at = ((b * p.C + c) * p.OH + uint(qh)) * p.OW + uint(q);  // (SCATTER)
                    if (SCATTER == 0u) s += x_at(row * cols + (c * KH + i) * KW + j);
                    else if (idx_at(at) == i * KW + j) s += x_at(at);
                }
                q -= dqw; r -= drw;
                if (r < 0) { r += int(SW); q--; }
            }
        }
        qh -= dqh; rh -= drh;
        if (rh < 0) { rh += int(SH); qh--; }
    }
    return s;
}

// Windows of more than UNROLLED taps (a global pool's gradient: 56 x 56 unrolled
// took lavapipe minutes to compile, and every element walked all 3136 taps):
// loops over the taps that reach y[b, c, h, w] alone -- without dilation the
// rows i = hp % SH + m * SH (window row o = hp / SH - m) from the last window
// row in range, a window's worth of them at most; with dilation every row,
// those off the stride skipped -- in the same order (i, then j), so the same
// sums.  Their loop turns count towards lavapipe's limit (the backend's RUN
// and grid allow for them).
const uint UNROLLED = 64u;
const bool LOOPED = KH * KW > UNROLLED;
// the first tap along an axis whose window index o = (hp - i * D) / S is at most
// last (when D = 1; else 0), and the step between taps reaching hp
uvec2 first_tap(int hp, uint S, uint D, uint last) {
    if (D != 1u) return uvec2(0u, 1u);
    uint i = uint(hp) % S, o = uint(hp) / S;
    return uvec2(o > last ? i + (o - last) * S : i, S);
}
float taps_looped(uint b, uint c, uint h, uint w) {
    uint cols = p.C * KH * KW;
    int hp = int(h + p.ph), wp = int(w + p.pw);
    uvec2 fi = first_tap(hp, SH, DH, p.OH - 1u), fj = first_tap(wp, SW, DW, p.OW - 1u);
    float s = 0.0;
    for (uint i = fi.x; i < KH; i += fi.y) {
        int dh_ = hp - int(i * DH);
        if (dh_ < 0) break;
        if (DH != 1u && dh_ % int(SH) != 0) continue;
        uint oh = uint(dh_) / SH;
        if (oh >= p.OH) continue;
        for (uint j = fj.x; j < KW; j += fj.y) {
            int dw_ = wp - int(j * DW);
            if (dw_ < 0) break;
            if (DW != 1u && dw_ % int(SW) != 0) continue;
            uint ow = uint(dw_) / SW;
            if (ow >= p.OW) continue;
            uint row = (b * p.OH + oh) * p.OW + ow;
            uint at = ((b * p.C + c) * p.OH + oh) * p.OW + ow;  // (SCATTER)
            if (SCATTER == 0u) s += x_at(row * cols + (c * KH + i) * KW + j);
            else if (idx_at(at) == i * KW + j) s += x_at(at);
        }
    }
    return s;
}

// element e of y: its (b, c, h, w) (divisions)
uvec4 place(uint e) {
    uint w = e % p.W, t = e / p.W, h = t % p.H;
    t /= p.H;
    return uvec4(t / p.C, t % p.C, h, w);
}

// y[b, c, h, w] for each b of a chunk (BATCH = 1)
void batch_walk() {
    uint units = p.C * p.H * p.W / EPU;
    FOR_BATCH_UNIT(units, p.N, p.chunk, u, b0, b1) {
        uvec4 e[2];  // the unit's elements' places in the image (b = 0)
        ivec4 win[2];  // and their window digits (qh, rh, qw, rw)
        [[unroll]] for (uint k = 0u; k < EPU; k++) {
            e[k] = place(u * EPU + k);
            uint hp = e[k].z + p.ph, wp = e[k].w + p.pw;
            win[k] = ivec4(hp / SH, hp % SH, wp / SW, wp % SW);
        }
        for (uint b = b0; b < b1; b++) {
            float v[2];
            [[unroll]] for (uint k = 0u; k < EPU; k++)
                v[k] = LOOPED ? taps_looped(b, e[k].y, e[k].z, e[k].w)
                              : taps(b, e[k].y, win[k].x, win[k].y, win[k].z, win[k].w);
            ST_UNIT(Y, b * units + u, v[0], v[1]);
        }
    }
}

void main() {
    if (BATCH == 1u) {
        batch_walk();
        return;
    }
    uint units = (p.n + EPU - 1u) / EPU;
    int qw0 = int(p.pw / SW), rw0 = int(p.pw % SW), qh0 = int(p.ph / SH), rh0 = int(p.ph % SH);
    for (uint u0 = gl_GlobalInvocationID.x * RUN; u0 < units; u0 += gl_NumWorkGroups.x * gl_WorkGroupSize.x * RUN) {
        uvec4 at = place(u0 * EPU);
        uint b = at.x, c = at.y, h = at.z, w = at.w;
        int qh = int((h + p.ph) / SH), rh = int((h + p.ph) % SH);
        int qw = int((w + p.pw) / SW), rw = int((w + p.pw) % SW);
        for (uint u = u0; u < min(u0 + RUN, units); u++) {
            float v[2];
            [[unroll]] for (uint k = 0u; k < EPU; k++) {
                v[k] = u * EPU + k >= p.n ? 0.0 : LOOPED ? taps_looped(b, c, h, w) : taps(b, c, qh, rh, qw, rw);
                // the next element: w, then h, c, b carried
                w++; rw++;
                if (rw == int(SW)) { rw = 0; qw++; }
                if (w == p.W) {
                    w = 0u; qw = qw0; rw = rw0;
                    h++; rh++;
                    if (rh == int(SH)) { rh = 0; qh++; }
                    if (h == p.H) {
                        h = 0u; qh = qh0; rh = rh0;
                        c++;
                        if (c == p.C) { c = 0u; b++; }
                    }
                }
            }
            ST_UNIT(Y, u, v[0], v[1]);
        }
    }
}
