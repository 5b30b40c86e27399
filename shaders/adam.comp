#version 450
#extension GL_GOOGLE_include_directive : require
// One Adam/AdamW step in place: parameter and gradient in the storage dtype,
// moments m, v in f32.  step_size = lr / (1 - beta1^t), rbc2 = 1/sqrt(1 - beta2^t).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform P {
    uint n; uint prm; uint g; uint m; uint v; float lr; float b1; float b2; float eps;
    float wd; float step_size; float rbc2; uint decoupled;
} p;

float upd(uint i) {
    float w = ld(p.prm, i);
    float d = ld(p.g, i);
    if (p.decoupled == 0u) d += p.wd * w;
    else w *= 1.0 - p.lr * p.wd;
    float m = p.b1 * ld32(p.m, i) + (1.0 - p.b1) * d;
    float v = p.b2 * ld32(p.v, i) + (1.0 - p.b2) * d * d;
    st32(p.m, i, m);
    st32(p.v, i, v);
    return w - p.step_size * m / (sqrt(v) * p.rbc2 + p.eps);
}

void main() {
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        float w0 = upd(i);
        float w1 = (EPU == 2u && i + 1u < p.n) ? upd(i + 1u) : 0.0;
        st_unit(p.prm, u, w0, w1);
    }
}
