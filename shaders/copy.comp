#version 450
#extension GL_GOOGLE_include_directive : require
// Strided gather into a contiguous output (permute, broadcast_to, copy, slices):
// y[i] = x[base + sum_d idx_d(i) * sx[d]] over up to 6 dimensions.
// Bindings: 0 x (in), 1 y (out).  The bits are moved as they are (halves too).
//
// -DTEXEL_IN (the "copy_tx" twin, CPU devices; any n: whole 16-byte quads of y,
// then a tail of words): x's words through a uniform texel buffer (R32UI: a gather per
// 8 lanes, where lavapipe loads a storage buffer lane by lane), the bits moved
// as they are (halves too: no conversions), y walked by digits.glsl (GPUs: the
// same walks over storage buffers); QUADS
// (constant 1): a walk of whole quads (digits.glsl), 1: x's quads (a view of
// quads), 2: x's element repeated over each quad (its innermost stride 0), 3:
// the other way round, x's quads in order (p.dim its shape in quads) written into
// y at base + sum idx * sx (one piece of a cat: only its region of y written).
#include "common.glsl"
layout(push_constant) uniform P { uint n; uint base; uint dim[6]; uint sx[6]; } p;
#include "vec4.glsl"
BUF4_OUT(1, Y4)
layout(constant_id = 1) const uint QUADS = 0u;
#ifdef TEXEL_IN
layout(local_size_x = 64) in;
layout(binding = 0) uniform usamplerBuffer XW;
#define X_QUAD(i) texelFetch(XW, int(i))
#define X_BITS(e) ELEM_BITS(XW, e)
#else
// GPUs (storage buffers): the twin's walks too (a lane's first quad's index divided
// into digits, carried from there on; dividing out each element's index instead ran
// im2col's copy at 6% of a copy's rate on an H200)
layout(local_size_x = 256) in;
BUF_IN(0, X)
BUF4_IN(0, X4)
#define X_QUAD(i) X4[i]
#define X_BITS(e) LD_BITS(X, e)
#endif
#include "digits.glsl"

uint x_index() {
    uint ix = p.base;
    FOR_DIMS_UP(d) ix += idx[d] * p.sx[d];
    return ix;
}

uint element_bits() { return X_BITS(x_index()); }

uvec4 element_quad() {
    if (QUADS == 2u) {  // x's element repeated along y's innermost axis (a broadcast)
        uint b = element_bits();
#ifdef F16
        b |= b << 16u;
#endif
        return uvec4(b);
    }
    return X_QUAD(x_index());
}

void quad_at(uint q) {
    if (QUADS == 3u) Y4[x_index()] = X_QUAD(q);  // (x_index: here y's quad)
    else Y4[q] = element_quad();
}

void main() {
    if (QUADS != 0u) walk_quad_elements();
    else walk_y();
}
