#version 450
#extension GL_GOOGLE_include_directive : require
// pad2d.comp with packed-half input and output (the f16 matmul kernels'
// operand prep): y [R2, C2] f16, C2 a multiple of 4, y[i, j] = x[i*s0 + j*s1]
// inside [R, C], zeros outside; each invocation writes 4 halves of a row
// (8 bytes).  With -DTEXEL_IN x is read as words through a uniform texel
// buffer (R32UI view).  Bindings: 0 x (in), 1 y (out).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint R; uint C; uint R2; uint C2; uint s0; uint s1; } p;
#include "pad2d_in.glsl"
layout(std430, binding = 1) writeonly buffer Y_b { uvec2 Y[]; };

void main() {
    // quad o = i * cq + jq of y; the row and column advance by the grid stride
    // without a division per quad (a vector division is 8 scalar ones on a CPU)
    uint cq = p.C2 / 4u, n = p.R2 * cq, o = gl_GlobalInvocationID.x, stride = gl_NumWorkGroups.x * 64u;
    uint i = o / cq, jq = o % cq, di = stride / cq, dj = stride % cq;
    for (; o < n; o += stride) {
        uint j0 = 4u * jq;
        vec4 v;
        [[unroll]] for (uint c = 0u; c < 4u; c++) {
            bool in_x = i < p.R && j0 + c < p.C;
            float x = ldx(in_x ? i * p.s0 + (j0 + c) * p.s1 : 0u);  // index 0 outside: always in range
            v[c] = in_x ? x : 0.0;
        }
        Y[o] = uvec2(pack_half2(v.xy), pack_half2(v.zw));
        i += di;
        jq += dj;
        if (jq >= cq) {
            jq -= cq;
            i++;
        }
    }
}
