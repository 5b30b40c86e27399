#version 450
#extension GL_GOOGLE_include_directive : require
// y = f(a, b) with NumPy broadcasting over up to 6 dimensions: y is contiguous
// with shape dim, a and b are read with strides sa, sb (0 on broadcast axes);
// contig = 1 when both are contiguous of y's shape; 2 (3) when a (b) is and the
// other repeats along leading axes.
// Bindings: 0 a (in), 1 b (in), 2 y (out).
#include "common.glsl"
#include "ops.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0u;
layout(push_constant) uniform P {
    uint n; float alpha; float beta; uint contig; uint dim[6]; uint sa[6]; uint sb[6];
} p;
BUF_IN(0, A)
BUF_IN(1, B)
BUF_OUT(2, Y)

#include "binary_ops.glsl"

float at(uint i) {
    if (p.contig == 1u) return f(LD(A, i), LD(B, i));
    uint ia = 0u, ib = 0u, r = i;
    // dims are right-aligned and merged where possible: stop at the first unused one
    for (int d = 5; d >= 0 && r > 0u; d--) {
        uint c = r % p.dim[d];
        r /= p.dim[d];
        ia += c * p.sa[d];
        ib += c * p.sb[d];
    }
    return f(LD(A, ia), LD(B, ib));
}

void main() {
    if (p.contig >= 2u) {
        // one operand (size nb, in sb[0] for b / sa[0] for a) repeats along leading
        // axes -- a bias row, per-channel statistics: an invocation owns a column
        // (two in f16; nb is then even) and walks the rows, so no index division
        uint nb = p.contig == 2u ? p.sb[0] : p.sa[0], rows = p.n / nb, ub = nb / EPU;
        for (uint u = gl_GlobalInvocationID.x; u < (nb + EPU - 1u) / EPU;
             u += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
            uint j = u * EPU;
            bool two = EPU == 2u && j + 1u < nb;
            float s0 = p.contig == 2u ? LD(B, j) : LD(A, j);
            float s1 = two ? (p.contig == 2u ? LD(B, j + 1u) : LD(A, j + 1u)) : 0.0;
            for (uint r = 0u; r < rows; r++) {
                uint i = r * nb + j;
                float v0 = p.contig == 2u ? f(LD(A, i), s0) : f(s0, LD(B, i));
                float v1 = two ? (p.contig == 2u ? f(LD(A, i + 1u), s1) : f(s1, LD(B, i + 1u))) : 0.0;
                ST_UNIT(Y, r * ub + u, v0, v1);
            }
        }
        return;
    }
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        ST_UNIT(Y, u, at(i), (EPU == 2u && i + 1u < p.n) ? at(i + 1u) : 0.0);
    }
}
