#version 450
#extension GL_GOOGLE_include_directive : require
// y[i, j] = x[i*s0 + j*s1] for i < R, j < C, else fill (its f32 bits; 0 for the
// matmul kernels' operand prep, -inf for maxima), for y [R2, C2] in f32, C2 a
// multiple of 4: transposes and pads in one pass.  Each invocation writes one 16-byte quad of a row of
// y (f16 operands: pad2d_h.comp).  With -DTEXEL_IN x is read through a
// uniform texel buffer (R32F view; see vec4.glsl), and for s1 = 1 (ROWS = 1,
// specialisation constant 0) a quad's 4 values of x are the two 16-byte texels
// covering them (binding 2: an RGBA32F view of x), 2 fetches instead of 4.
// Bindings: 0 x (in), 1 y (out), 2 x again (in; the -DTEXEL_IN twin only).
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint R; uint C; uint R2; uint C2; uint s0; uint s1; uint fill; } p;
#include "pad2d_in.glsl"
layout(std430, binding = 1) writeonly buffer Y_b { vec4 Y[]; };
#ifdef TEXEL_IN
layout(constant_id = 0) const uint ROWS = 0u;
layout(binding = 2) uniform samplerBuffer X4;
vec4 row_quad(uint base) {  // x[base .. base + 3]; texels past the view's end clamped (unused values)
    int t0 = int(base >> 2u), last = textureSize(X4) - 1;
    vec4 lo = texelFetch(X4, min(t0, last)), hi = texelFetch(X4, min(t0 + 1, last));
    uint r = base & 3u;
    return r == 0u ? lo : r == 1u ? vec4(lo.yzw, hi.x) : r == 2u ? vec4(lo.zw, hi.xy) : vec4(lo.w, hi.xyz);
}
#else
const uint ROWS = 0u;
vec4 row_quad(uint base) { return vec4(0.0); }
#endif

void main() {
    // quad o = i * cq + jq of y; the row and column advance by the loop's step
    // without a division per quad (a vector division is 8 scalar ones on a CPU)
    uint cq = p.C2 / 4u, n = quad_end(p.R2 * cq), o = quad_first(p.R2 * cq), stride = quad_step();
    uint i = o / cq, jq = o % cq, di = stride / cq, dj = stride % cq;
    for (; o < n; o += stride) {
        uint j0 = 4u * jq;
        vec4 v;
        if (ROWS == 1u) {
            vec4 w = row_quad(i < p.R ? i * p.s0 + j0 : 0u);
            [[unroll]] for (uint c = 0u; c < 4u; c++) v[c] = i < p.R && j0 + c < p.C ? w[c] : uintBitsToFloat(p.fill);
        } else {
            [[unroll]] for (uint c = 0u; c < 4u; c++) {
                bool in_x = i < p.R && j0 + c < p.C;
                float x = ldx(in_x ? i * p.s0 + (j0 + c) * p.s1 : 0u);  // index 0 outside: always in range
                v[c] = in_x ? x : uintBitsToFloat(p.fill);
            }
        }
        Y[o] = v;
        i += di;
        jq += dj;
        if (jq >= cq) {
            jq -= cq;
            i++;
        }
    }
}
