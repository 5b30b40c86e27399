#version 450
#extension GL_GOOGLE_include_directive : require
// y = the first index of the maximum of each row of x [R, C] (int32), a NaN
// counting as the maximum (its first one), as NumPy's and PyTorch's argmax.
// One invocation per part of L elements of a row (R * ceil(C / L) parts),
// walking it: rows are short where this runs hot (a max pool's windows, 4 to 9
// taps; a batch's rows of classes).  A long row is split (the backend's
// argmax_rows): one invocation walking 230400 elements stopped at lavapipe's
// loop limit, and on a GPU would walk them alone.
//   OUT_PAIRS = 0: y[part] = the index; 1: y[2 part] = the index,
//     y[2 part + 1] = the maximum's f32 bits (a part's candidate).
//   IN_PAIRS = 1: x holds such pairs (element j: index x[2j], value x[2j + 1]),
//     the candidates of an earlier pass, and the index taken is the winner's
//     (an index into the original row); dispatched as the f32 variant.
// Ties and NaN: parts are walked in order and a later part wins only when
// greater, so the first maximum (the first NaN) of the row wins.
// Bindings: 0 x (in), 1 y (out).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint IN_PAIRS = 0u;
layout(constant_id = 1) const uint OUT_PAIRS = 0u;
layout(push_constant) uniform P { uint R; uint C; uint L; } p;
BUF_IN(0, X)
BUF_OUT(1, Y)

float val(uint i) { return IN_PAIRS == 1u ? uintBitsToFloat(X[2u * i + 1u]) : LD(X, i); }

void main() {
    uint parts = (p.C + p.L - 1u) / p.L;
    for (uint u = gl_GlobalInvocationID.x; u < p.R * parts; u += gl_NumWorkGroups.x * 64u) {
        uint r = u / parts, j0 = (u % parts) * p.L, j1 = min(j0 + p.L, p.C), base = r * p.C, best = j0;
        float m = val(base + j0);
        for (uint j = j0 + 1u; j < j1 && !isnan(m); j++) {
            float v = val(base + j);
            if (v > m || isnan(v)) { m = v; best = j; }
        }
        uint idx = IN_PAIRS == 1u ? X[2u * (base + best)] : best;
        if (OUT_PAIRS == 1u) {
            Y[2u * u] = idx;
            Y[2u * u + 1u] = floatBitsToUint(m);
        } else {
            Y[u] = idx;
        }
    }
}
