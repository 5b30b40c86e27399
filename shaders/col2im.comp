#version 450
#extension GL_GOOGLE_include_directive : require
// The adjoint of im2col (the backend's Window over [N, C, H, W]): y [N, C, H, W]
// from columns x [N * OH * OW, C * kh * kw], each element the sum in f32, in
// window order (i, then j), of the entries im2col copies from it -- a gather over
// the taps that reach it, so no two invocations write one word (no atomics).
// The taps of row h are i with h + ph - i * dh = oh * sh, 0 <= oh < OH: walked
// with (oh, remainder) kept as i steps and as h and w advance, so nothing is
// divided per element (lavapipe divides lane by lane: an element-wise division
// of its index ran 5x slower).  RUN (specialisation constant): units (an
// element; two packed halves with -DF16) per invocation, consecutive; the index
// is divided out once per run (CPU devices 64; GPUs 1, neighbours' writes adjacent).
// SCATTER = 1 (a max pool's gradient): x holds one value per window and channel,
// [N * OH * OW * C], and int32 idx the tap (i * kw + j) it goes to -- the
// windows' argmax --, the other taps taking 0 (col2im of that one-hot, without it).
// Bindings: 0 x (in), 1 idx (in; a dummy when SCATTER = 0), 2 y (out).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint RUN = 1u;
layout(constant_id = 1) const uint SCATTER = 0u;
layout(push_constant) uniform P {
    uint n; uint N; uint C; uint H; uint W;
    uint kh; uint kw; uint sh; uint sw; uint ph; uint pw; uint dh; uint dw; uint OH; uint OW;
} p;
BUF_IN(0, X)
BUF_IN(1, IDX)
BUF_OUT(2, Y)

// the sum at (b, c) for rows h + ph = qh * sh + rh, columns w + pw = qw * sw + rw
float taps(uint b, uint c, int qh, int rh, int qw, int rw) {
    int dqh = int(p.dh / p.sh), drh = int(p.dh % p.sh), dqw = int(p.dw / p.sw), drw = int(p.dw % p.sw);
    uint cols = p.C * p.kh * p.kw;
    float s = 0.0;
    for (uint i = 0u; i < p.kh && qh >= 0; i++) {  // (qh < 0: the row is before the padded input)
        if (rh == 0 && uint(qh) < p.OH) {
            int q = qw, r = rw;
            for (uint j = 0u; j < p.kw && q >= 0; j++) {
                if (r == 0 && uint(q) < p.OW) {
                    uint row = (b * p.OH + uint(qh)) * p.OW + uint(q);
                    if (SCATTER == 0u) s += LD(X, row * cols + (c * p.kh + i) * p.kw + j);
                    else if (IDX[row * p.C + c] == i * p.kw + j) s += LD(X, row * p.C + c);
                }
                q -= dqw; r -= drw;
                if (r < 0) { r += int(p.sw); q--; }
            }
        }
        qh -= dqh; rh -= drh;
        if (rh < 0) { rh += int(p.sh); qh--; }
    }
    return s;
}

void main() {
    uint units = (p.n + EPU - 1u) / EPU;
    int qw0 = int(p.pw / p.sw), rw0 = int(p.pw % p.sw), qh0 = int(p.ph / p.sh), rh0 = int(p.ph % p.sh);
    for (uint u0 = gl_GlobalInvocationID.x * RUN; u0 < units; u0 += gl_NumWorkGroups.x * gl_WorkGroupSize.x * RUN) {
        uint e = u0 * EPU, w = e % p.W, t = e / p.W, h = t % p.H;
        t /= p.H;
        uint c = t % p.C, b = t / p.C;
        int qh = int((h + p.ph) / p.sh), rh = int((h + p.ph) % p.sh);
        int qw = int((w + p.pw) / p.sw), rw = int((w + p.pw) % p.sw);
        for (uint u = u0; u < min(u0 + RUN, units); u++) {
            float v[2];
            for (uint k = 0u; k < EPU; k++) {
                v[k] = u * EPU + k < p.n ? taps(b, c, qh, rh, qw, rw) : 0.0;
                // the next element: w, then h, c, b carried
                w++; rw++;
                if (rw == int(p.sw)) { rw = 0; qw++; }
                if (w == p.W) {
                    w = 0u; qw = qw0; rw = rw0;
                    h++; rh++;
                    if (rh == int(p.sh)) { rh = 0; qh++; }
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
