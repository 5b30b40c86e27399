#version 450
#extension GL_GOOGLE_include_directive : require
// One SGD step in place (PyTorch semantics): d = g + wd*w; with momentum
// buf = first ? d : momentum*buf + (1-dampening)*d; d = nesterov ? d + momentum*buf : buf.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform P {
    uint n; uint prm; uint g; uint buf; float lr; float momentum; float dampening;
    uint nesterov; float wd; uint first;
} p;

float upd(uint i) {
    float w = ld(p.prm, i);
    float d = ld(p.g, i) + p.wd * w;
    if (p.momentum != 0.0) {
        float b = p.first == 1u ? d : p.momentum * ld32(p.buf, i) + (1.0 - p.dampening) * d;
        st32(p.buf, i, b);
        d = p.nesterov == 1u ? d + p.momentum * b : b;
    }
    return w - p.lr * d;
}

void main() {
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        float w0 = upd(i);
        float w1 = (EPU == 2u && i + 1u < p.n) ? upd(i + 1u) : 0.0;
        st_unit(p.prm, u, w0, w1);
    }
}
