#version 450
#extension GL_GOOGLE_include_directive : require
// unary.comp for contiguous tensors of a whole number of 16-byte quads.
// Bindings: 0 x (in), 1 y (out).
#include "common.glsl"
#include "ops.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint OP = 0u;
layout(push_constant) uniform P { uint n; float alpha; float beta; } p;
BUF4_IN(0, X)
BUF4_OUT(1, Y)
#include "unary_ops.glsl"

void main() {
    FOR_QUADS(p.n, q) {
        float v[EPQ];
        LOADQ(LDQ(X, q), v);
        [[unroll]] for (uint k = 0u; k < EPQ; k++) v[k] = OP == U_FILL ? p.beta : f(v[k]);
        Y[q] = STOREQ(v);
    }
}
