#version 450
#extension GL_GOOGLE_include_directive : require
// matmul_sm's split K, the last step: C[i] = act(sum_s P[s, i] + bias[i % n]) for
// the partial products P [splits, M, n] (f32), C [M, n] in f32 (the backend
// converts f16 products).  An invocation per element of C: neighbouring
// invocations read neighbouring words of each slice (coalesced).
// Bindings: 0 P (in), 1 bias (in; a dummy when has_bias = 0), 2 C (out).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint ACT = 0u;
layout(push_constant) uniform Q { uint total; uint n; uint splits; uint has_bias; } p;
BUF_IN(0, P)
BUF_IN(1, BIAS)
BUF_OUT(2, C)

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.total; i += gl_NumWorkGroups.x * 256u) {
        float v = p.has_bias == 1u ? LD(BIAS, i % p.n) : 0.0;
        for (uint s = 0u; s < p.splits; s++) v += LD32(P, s * p.total + i);
        ST32(C, i, activate(ACT, v));
    }
}
