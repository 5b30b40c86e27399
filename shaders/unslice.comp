#version 450
#extension GL_GOOGLE_include_directive : require
// The gradient of a slice: y (the sliced tensor's shape `dim`) holds g where its
// index lies on the slice's lattice (start[d] + k*step[d], k < len[d]) and 0
// elsewhere, over up to 6 dimensions; BASE = 1 (a slice written over a tensor:
// cat): A's element there instead of 0.  Bindings: 0 g, 2 A (BASE; y's shape)
// (in), 1 y (out).
// -DTEXEL_IN (the "unslice_tx" twin, CPU devices; any n: whole 16-byte quads of y,
// then a tail of words): g's words through a texel view, y walked by digits.glsl (no
// division per element where the slice's steps are 1); QUADS (constant 2): a walk
// of whole quads, g and A bound as views of quads (digits.glsl).
#include "common.glsl"
layout(push_constant) uniform P { uint n; uint dim[6]; uint start[6]; uint step[6]; uint len[6]; } p;
layout(constant_id = 1) const uint BASE = 0u;
#ifdef TEXEL_IN
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) uniform usamplerBuffer GW;
BUF4_OUT(1, Y4)
layout(binding = 2) uniform usamplerBuffer AW;
layout(constant_id = 2) const bool QUADS = false;
layout(constant_id = 3) const bool STEPS1 = false;  // every step 1 (the backend's)
#include "digits.glsl"

// y's idx on the slice's lattice: g's index ig (and y's iy, BASE), or off_lattice
// != 0 -- straight-line code (with a return per dimension lavapipe ran it 2.5x slower)
void locate(out uint ig, out uint iy, out uint off_lattice) {
    uint gs = 1u, ys = 1u;  // (bitwise ors: && would branch per lane)
    ig = 0u; iy = 0u; off_lattice = 0u;
    FOR_DIMS_DOWN(d) {
        uint off = idx[d] - p.start[d], k = off;  // below the start: wraps, k >= len
        if (STEPS1) {  // every step 1 (padding, cat): on the lattice where inside the slice
            off_lattice |= uint(k >= p.len[d]);
        } else {
            if (p.step[d] != 1u) k /= p.step[d];  // a branch, not a select: no division where steps are 1
            off_lattice |= uint(k >= p.len[d]) | uint(k * p.step[d] != off);
        }
        ig += k * gs;
        gs *= p.len[d];
        if (BASE == 1u) {
            iy += idx[d] * ys;
            ys *= p.dim[d];
        }
    }
    if (off_lattice != 0u) ig = 0u;
}

uint element_bits() {  // g's element at y's idx, or 0 / A's off the slice's lattice
    uint ig, iy, off_lattice;
    locate(ig, iy, off_lattice);
    uint b = ELEM_BITS(GW, ig), a = BASE == 1u ? ELEM_BITS(AW, iy) : 0u;
    return off_lattice == 0u ? b : a;
}

uvec4 element_quad() {  // QUADS: the same in quads (a slice's runs in whole quads)
    uint ig, iy, off_lattice;
    locate(ig, iy, off_lattice);
    uvec4 b = texelFetch(GW, int(ig)), a = BASE == 1u ? texelFetch(AW, int(iy)) : uvec4(0u);
    return off_lattice == 0u ? b : a;
}

void quad_at(uint q) { Y4[q] = element_quad(); }

void main() {
    if (QUADS) walk_quad_elements();
    else walk_y();
}
#else
layout(local_size_x = 256) in;
BUF_IN(0, G)
BUF_OUT(1, Y)
BUF_IN(2, A)

uint at(uint i) {  // element i's bits (LD_BITS), 0 (or A's) off the slice's lattice
    uint ig = 0u, gs = 1u, r = i, off = BASE == 1u ? LD_BITS(A, i) : 0u;
    for (int d = 5; d >= 0; d--) {
        uint c = r % p.dim[d];
        r /= p.dim[d];
        if (c < p.start[d] || (c - p.start[d]) % p.step[d] != 0u) return off;
        uint k = (c - p.start[d]) / p.step[d];
        if (k >= p.len[d]) return off;
        ig += k * gs;
        gs *= p.len[d];
    }
    return LD_BITS(G, ig);
}

void main() {
    FOR_UNITS(p.n, u) ST_UNIT_BITS(Y, u, p.n, at(u * EPU), at(u * EPU + 1u));
}
#endif
