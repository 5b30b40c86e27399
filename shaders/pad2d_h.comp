#version 450
#extension GL_GOOGLE_include_directive : require
// pad2d.comp with packed-half input and output (the f16 matmul kernels'
// operand prep): y [R2, C2] f16, C2 a multiple of 4, y[i, j] = x[i*s0 + j*s1]
// inside [R, C], fill (its half's bits) outside; each invocation writes 4 halves of a row
// (8 bytes).  With -DTEXEL_IN x is read as words through a uniform texel
// buffer (R32UI view), and for s1 = 1 (ROWS = 1, specialisation constant 0)
// a quad's 4 halves are moved as bits from the two 16-byte texels covering
// them (binding 2: an RGBA32UI view of x): 2 fetches, no conversions.
// Bindings: 0 x (in), 1 y (out), 2 x again (in; the -DTEXEL_IN twin only).
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint R; uint C; uint R2; uint C2; uint s0; uint s1; uint fill; } p;
#include "pad2d_in.glsl"
layout(std430, binding = 1) writeonly buffer Y_b { uvec2 Y[]; };
#ifdef TEXEL_IN
layout(constant_id = 0) const uint ROWS = 0u;
layout(binding = 2) uniform usamplerBuffer X8;  // 8 halves a texel
uint word_of(uvec4 lo, uvec4 hi, uint k) {  // word k (0..7) of the 8 in lo, hi
    uvec4 q = k < 4u ? lo : hi;
    uint m = k & 3u;
    return m == 0u ? q.x : m == 1u ? q.y : m == 2u ? q.z : q.w;
}
uvec2 row_halves(uint base) {  // halves x[base .. base + 3] as 2 words; texels past the view clamped
    int t0 = int(base >> 3u), last = textureSize(X8) - 1;
    uvec4 lo = texelFetch(X8, min(t0, last)), hi = texelFetch(X8, min(t0 + 1, last));
    uint r = base & 7u, a = r >> 1u;
    uint w0 = word_of(lo, hi, a), w1 = word_of(lo, hi, a + 1u), w2 = word_of(lo, hi, min(a + 2u, 7u));
    return (r & 1u) == 0u ? uvec2(w0, w1) : uvec2((w0 >> 16) | (w1 << 16), (w1 >> 16) | (w2 << 16));
}
#else
const uint ROWS = 0u;
uvec2 row_halves(uint base) { return uvec2(0u); }
#endif

void main() {
    // quad o = i * cq + jq of y; the row and column advance by the loop's step
    // without a division per quad (a vector division is 8 scalar ones on a CPU)
    uint cq = p.C2 / 4u, n = quad_end(p.R2 * cq), o = quad_first(p.R2 * cq), stride = quad_step();
    uint i = o / cq, jq = o % cq, di = stride / cq, dj = stride % cq;
    for (; o < n; o += stride) {
        uint j0 = 4u * jq;
        if (ROWS == 1u) {
            uvec2 w = row_halves(i < p.R ? i * p.s0 + j0 : 0u);
            bool in_r = i < p.R;  // halves outside [R, C] take the fill's bits
            uint m0 = (in_r && j0 < p.C ? 0xffffu : 0u) | (in_r && j0 + 1u < p.C ? 0xffff0000u : 0u);
            uint m1 = (in_r && j0 + 2u < p.C ? 0xffffu : 0u) | (in_r && j0 + 3u < p.C ? 0xffff0000u : 0u);
            uint f2 = p.fill | (p.fill << 16);
            Y[o] = uvec2((w.x & m0) | (f2 & ~m0), (w.y & m1) | (f2 & ~m1));
        } else {
            vec4 v;
            [[unroll]] for (uint c = 0u; c < 4u; c++) {
                bool in_x = i < p.R && j0 + c < p.C;
                float x = ldx(in_x ? i * p.s0 + (j0 + c) * p.s1 : 0u);  // index 0 outside: always in range
                v[c] = in_x ? x : unpackHalf2x16(p.fill).x;
            }
            Y[o] = uvec2(pack_half2(v.xy), pack_half2(v.zw));
        }
        i += di;
        jq += dj;
        if (jq >= cq) {
            jq -= cq;
            i++;
        }
    }
}
