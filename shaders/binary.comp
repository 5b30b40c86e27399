#version 450
#extension GL_GOOGLE_include_directive : require
// y = f(a, b) with NumPy broadcasting over up to 6 dimensions: y is contiguous
// with shape dim, a and b are read with strides sa, sb (0 on broadcast axes);
// contig = 1 when both are contiguous of y's shape.
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
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        ST_UNIT(Y, u, at(i), (EPU == 2u && i + 1u < p.n) ? at(i + 1u) : 0.0);
    }
}
