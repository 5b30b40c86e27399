#version 450
#extension GL_GOOGLE_include_directive : require
// Strided gather into a contiguous output (permute, broadcast_to, copy, slices):
// y[i] = x[base + sum_d idx_d(i) * sx[d]] over up to 6 dimensions.
// Bindings: 0 x (in), 1 y (out).
//
// -DTEXEL_IN (the "copy_tx" twin, CPU devices; n a whole number of 16-byte
// quads of y): x's words through a uniform texel buffer (R32UI: a gather per
// 8 lanes, where lavapipe loads a storage buffer lane by lane), the bits moved
// as they are (halves too: no conversions), y written a quad at a time, each
// subgroup's quads one contiguous run (vec4.glsl), and the index of x advanced
// digit by digit (mixed radix, carries) instead of divided out per element:
// a 1024 x 1024 transpose ran 23x a contiguous copy's time before.
#include "common.glsl"
layout(push_constant) uniform P { uint n; uint base; uint dim[6]; uint sx[6]; } p;
#ifdef TEXEL_IN
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) uniform usamplerBuffer XW;
BUF4_OUT(1, Y4)

uint idx[6], ix;  // the digits of the current element's index in y, and its index in x

void digits(uint i, out uint dg[6]) {  // i in the mixed radix of y's shape (divisions)
    for (int d = 5; d >= 0; d--) {
        dg[d] = i % p.dim[d];
        i /= p.dim[d];
    }
}

void seek(uint i) {
    digits(i, idx);
    ix = p.base;
    for (int d = 0; d < 6; d++) ix += idx[d] * p.sx[d];
}

void advance(uint by[6]) {  // the index plus a number given by its digits
    uint carry = 0u;
    for (int d = 5; d >= 0; d--) {
        uint v = idx[d] + by[d] + carry;
        carry = v >= p.dim[d] ? 1u : 0u;  // digits and by[d] < dim[d]: at most one wrap
        idx[d] = v - carry * p.dim[d];
    }
    ix = p.base;
    for (int d = 0; d < 6; d++) ix += idx[d] * p.sx[d];
}

uint bits_at(uint e) {  // element e of x: its word, or its half in the low bits
#ifdef F16
    uint w = texelFetch(XW, int(e >> 1u)).x;
    return (e & 1u) == 1u ? w >> 16u : w & 0xffffu;
#else
    return texelFetch(XW, int(e)).x;
#endif
}

void main() {
    uint nq = p.n / EPQ, q = quad_first(nq), end_ = quad_end(nq);
    if (q >= end_) return;
    uint one[6], skip[6];  // 1, and the elements between this lane's quads, as digits
    digits(1u, one);
    digits((quad_step() - 1u) * EPQ, skip);
    seek(q * EPQ);
    for (; q < end_; q += quad_step()) {
        uint w[EPQ];
        [[unroll]] for (uint k = 0u; k < EPQ; k++) {
            w[k] = bits_at(ix);
            advance(one);
        }
#ifdef F16
        Y4[q] = uvec4(w[0] | (w[1] << 16u), w[2] | (w[3] << 16u), w[4] | (w[5] << 16u), w[6] | (w[7] << 16u));
#else
        Y4[q] = uvec4(w[0], w[1], w[2], w[3]);
#endif
        advance(skip);
    }
}
#else
layout(local_size_x = 256) in;
BUF_IN(0, X)
BUF_OUT(1, Y)

float at(uint i) {
    uint ix = p.base, r = i;
    for (int d = 5; d >= 0 && r > 0u; d--) {
        ix += (r % p.dim[d]) * p.sx[d];
        r /= p.dim[d];
    }
    return LD(X, ix);
}

void main() {
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        ST_UNIT(Y, u, at(i), (EPU == 2u && i + 1u < p.n) ? at(i + 1u) : 0.0);
    }
}
#endif
