#version 450
#extension GL_GOOGLE_include_directive : require
// One SGD step in place (PyTorch semantics): d = g + wd*w; with momentum
// buf = first ? d : momentum*buf + (1-dampening)*d; d = nesterov ? d + momentum*buf : buf.
// Bindings: 0 param (inout), 1 grad (in), 2 buf (inout; a dummy without momentum).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform P {
    uint n; float lr; float momentum; float dampening; uint nesterov; float wd; uint first;
} p;
BUF_INOUT(0, W)
BUF_IN(1, G)
BUF_INOUT(2, BUF)

float upd(uint i) {
    float w = LD(W, i);
    float d = LD(G, i) + p.wd * w;
    if (p.momentum != 0.0) {
        float b = p.first == 1u ? d : p.momentum * LD32(BUF, i) + (1.0 - p.dampening) * d;
        ST32(BUF, i, b);
        d = p.nesterov == 1u ? d + p.momentum * b : b;
    }
    return w - p.lr * d;
}

void main() {
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        float w0 = upd(i);
        float w1 = (EPU == 2u && i + 1u < p.n) ? upd(i + 1u) : 0.0;
        ST_UNIT(W, u, w0, w1);
    }
}
