#version 450
#extension GL_GOOGLE_include_directive : require
// y = f(x) elementwise, f chosen by specialisation constant OP (ops.glsl), for
// contiguous tensors by 16-byte quads (a tail of fewer than a quad's elements by
// one invocation, word by word).  Bindings: 0 x (in), 1 y (out); for OP = fill,
// x is bound to y's range.
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
    FOR_TAIL_WORDS(p.n, w) {  // n not a whole number of quads
        vec2 v = unpack_w(LDW(X, w));
        v.x = OP == U_FILL ? p.beta : f(v.x);
        v.y = EPQ == 8u && 2u * w + 1u < p.n ? (OP == U_FILL ? p.beta : f(v.y)) : 0.0;
        STW(Y, w, pack_w(v));
    }
}
