#version 450
#extension GL_GOOGLE_include_directive : require
// y[r] = the first index of the maximum of row r of x [R, C] (int32), a NaN
// counting as the maximum (its first one), as NumPy's and PyTorch's argmax.
// One invocation per row, walking it: rows are short where this runs hot (a max
// pool's windows, 4 to 9 taps) and a batch's rows of classes are few.
// Bindings: 0 x (in), 1 y (out).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform P { uint R; uint C; } p;
BUF_IN(0, X)
BUF_OUT(1, Y)

void main() {
    for (uint r = gl_GlobalInvocationID.x; r < p.R; r += gl_NumWorkGroups.x * 64u) {
        uint base = r * p.C, best = 0u;
        float m = LD(X, base);
        for (uint j = 1u; j < p.C && !isnan(m); j++) {
            float v = LD(X, base + j);
            if (v > m || isnan(v)) { m = v; best = j; }
        }
        Y[r] = best;
    }
}
