#version 450
#extension GL_GOOGLE_include_directive : require
// binary.comp for two contiguous operands of the output's shape, in whole
// 16-byte quads.  Bindings: 0 a (in), 1 b (in), 2 y (out).
#include "common.glsl"
#include "ops.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint OP = 0u;
layout(push_constant) uniform P { uint n; float alpha; float beta; } p;
BUF4_IN(0, A)
BUF4_IN(1, B)
BUF4_OUT(2, Y)
#include "binary_ops.glsl"

void main() {
    FOR_QUADS(p.n, q) {
        float a[EPQ], b[EPQ];
        LOADQ(A[q], a);
        LOADQ(B[q], b);
        [[unroll]] for (uint k = 0u; k < EPQ; k++) a[k] = f(a[k], b[k]);
        Y[q] = STOREQ(a);
    }
}
