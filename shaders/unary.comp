#version 450
#extension GL_GOOGLE_include_directive : require
// y = f(x) elementwise; f chosen by specialisation constant OP (ops.glsl).
// Bindings: 0 x (in), 1 y (out).  For OP = fill, x is bound to y's range.
#include "common.glsl"
#include "ops.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0u;
layout(push_constant) uniform P { uint n; float alpha; float beta; } p;
BUF_IN(0, X)
BUF_OUT(1, Y)

#include "unary_ops.glsl"

float at(uint i) { return OP == U_FILL ? p.beta : f(LD(X, i)); }

void main() {
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        ST_UNIT(Y, u, at(i), (EPU == 2u && i + 1u < p.n) ? at(i + 1u) : 0.0);
    }
}
