#version 450
#extension GL_GOOGLE_include_directive : require
// im2col on GPUs: y [N * OH * OW, C * KH * KW] from x [N, C, H, W] read in place
// (row (n, oh, ow), column (c, i, j) = x[n, c, oh * SH - ph + i * DH, ow * SW - pw
// + j * DW], the pad bits where that falls outside x: no padded copy first).  The
// bits are moved as they are (halves too).
// Why not copy.comp's walk: every element there advanced six carried digits and
// multiplied them out (some 40 integer operations an element), which kept an
// H200 at 12% of a copy's rate.  Here an invocation owns one unit (an element;
// two packed halves with -DF16) at the same place in every image's block of y
// (OH * OW * C * KH * KW elements, contiguous): its source offset within an
// image and whether it reads the pad are worked out once, then it walks a chunk
// of the batch, an add per element (neighbours' writes adjacent: coalesced;
// their reads a few cache lines of one image).  The window is specialisation
// constants (a pipeline per window shape, as col2im.comp: its divisions by
// constants).  The backend takes this path when an image's block is a whole
// number of units (f16: even).  Bindings: 0 x (in), 1 y (out).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint KH = 1u;
layout(constant_id = 1) const uint KW = 1u;
layout(constant_id = 2) const uint SH = 1u;
layout(constant_id = 3) const uint SW = 1u;
layout(constant_id = 4) const uint DH = 1u;
layout(constant_id = 5) const uint DW = 1u;
// pad: the pad value's bits (a half's in the low 16 bits); chunk: images an invocation walks
layout(push_constant) uniform P { uint N; uint C; uint H; uint W; uint ph; uint pw; uint OH; uint OW;
                                  uint pad; uint chunk; } p;
BUF_IN(0, X)
BUF_OUT(1, Y)
#include "batchwalk.glsl"

const uint PAD = 0xffffffffu;  // "reads the pad"
// element e of an image's block: its offset in the image's x, or PAD
uint source(uint e) {
    uint K = p.C * KH * KW, row = e / K, col = e - row * K;
    uint oh = row / p.OW, ow = row - oh * p.OW;
    uint c = col / (KH * KW), t = col - c * (KH * KW), i = t / KW, j = t - i * KW;
    // (before the input: the unsigned difference wraps past H or W)
    uint ih = oh * SH + i * DH - p.ph, iw = ow * SW + j * DW - p.pw;
    return ih < p.H && iw < p.W ? (c * p.H + ih) * p.W + iw : PAD;
}

uint bits(uint base, uint s) { return s == PAD ? p.pad : LD_BITS(X, base + s); }

void main() {
    uint units = p.OH * p.OW * p.C * KH * KW / EPU;  // an image's block of y in units
    uint img = p.C * p.H * p.W;
    FOR_BATCH_UNIT(units, p.N, p.chunk, u, b0, b1) {
        uint s0 = source(u * EPU), s1 = EPU == 2u ? source(u * EPU + 1u) : 0u;
        for (uint b = b0; b < b1; b++) {
            uint v = bits(b * img, s0);
            if (EPU == 2u) v |= bits(b * img, s1) << 16u;
            Y[b * units + u] = v;
        }
    }
}
