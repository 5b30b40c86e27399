#version 450
#extension GL_GOOGLE_include_directive : require
// y[b, :] = W[idx[b], :] for int32 indices idx [B] into W [V, D] (an embedding
// lookup); n = B * D.  Bits copied (halves too, a word of y may hold two rows'
// ends); an index outside [0, V) makes its row NaN, as one-hot rows of such a
// label (labels on a device are not range-checked: that would cost a read).
// Bindings: 0 W, 1 idx (in), 2 y (out).
// -DTEXEL_IN (the "gather_rows_tx" twin, CPU devices; rows of whole 16-byte quads,
// D a multiple of 4 f32 or 8 halves): W's quads and idx through texel views, y
// by quads -- a gather per quad (lavapipe: per element, by storage-buffer loads,
// 1024 rows of 128 took 1 ms).
#include "common.glsl"
layout(push_constant) uniform P { uint n; uint D; uint V; } p;
#ifdef TEXEL_IN
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) uniform usamplerBuffer W4;
layout(binding = 1) uniform usamplerBuffer IDX;
BUF4_OUT(2, Y4)

void main() {
    uint dq = p.D / EPQ;  // quads per row
    uvec4 nan_q = uvec4(EPQ == 8u ? 0x7e007e00u : 0x7fc00000u);
    FOR_QUADS(p.n, q) {
        uint row = q / dq;
        int k = int(texelFetch(IDX, int(row)).x);
        Y4[q] = k < 0 || k >= int(p.V) ? nan_q : texelFetch(W4, int(uint(k) * dq + (q - row * dq)));
    }
}
#else
layout(local_size_x = 256) in;
BUF_IN(0, W)
BUF_IN(1, IDX)
BUF_OUT(2, Y)

uint at(uint e) {  // element e of y as bits
    int k = int(IDX[e / p.D]);
    uint nan_bits = EPU == 2u ? 0x7e00u : 0x7fc00000u;
    return k < 0 || k >= int(p.V) ? nan_bits : LD_BITS(W, uint(k) * p.D + e % p.D);
}

void main() {
    FOR_UNITS(p.n, u) ST_UNIT_BITS(Y, u, p.n, at(u * EPU), EPU == 2u && u * EPU + 1u < p.n ? at(u * EPU + 1u) : 0u);
}
#endif
