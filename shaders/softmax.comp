#version 450
#extension GL_GOOGLE_include_directive : require
// Row-wise (log-)softmax of x [rows, C] -> y (f32); one workgroup per row.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint LOG = 0u;
layout(push_constant) uniform P { uint rows; uint C; uint x; uint y; } p;
shared float s[64];

float wg_reduce(float v, bool is_max) {
    uint tid = gl_LocalInvocationID.x;
    s[tid] = v;
    barrier();
    for (uint st = 32u; st > 0u; st >>= 1u) {
        if (tid < st) s[tid] = is_max ? max(s[tid], s[tid + st]) : s[tid] + s[tid + st];
        barrier();
    }
    float r = s[0];
    barrier();
    return r;
}

void main() {
    uint tid = gl_LocalInvocationID.x;
    for (uint row = gl_WorkGroupID.x; row < p.rows; row += gl_NumWorkGroups.x) {
        uint base = row * p.C;
        float m = uintBitsToFloat(0xff800000u);
        for (uint j = tid; j < p.C; j += 64u) m = max(m, ld(p.x, base + j));
        m = wg_reduce(m, true);
        float sum = 0.0;
        for (uint j = tid; j < p.C; j += 64u) sum += exp(ld(p.x, base + j) - m);
        sum = wg_reduce(sum, false);
        float lse = m + log(sum);
        for (uint j = tid; j < p.C; j += 64u) {
            float z = ld(p.x, base + j) - lse;
            st32(p.y, base + j, LOG == 1u ? z : exp(z));
        }
    }
}
