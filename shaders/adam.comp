#version 450
#extension GL_GOOGLE_include_directive : require
// One Adam/AdamW step in place: parameter and gradient in the storage dtype,
// moments m, v in f32.  step_size = lr / (1 - beta1^t), rbc2 = 1/sqrt(1 - beta2^t);
// v = b2 v + c2 g^2 with c2 = 1 - b2 (Adam, RMSprop) or b2 = c2 = 1 (Adagrad's sum);
// the forms in adam_update.glsl.
// Bindings: 0 param (inout), 1 grad (in), 2 m (inout), 3 v (inout).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform P {
    uint n; float lr; float b1; float b2; float eps; float wd; float step_size; float rbc2;
    uint decoupled; float c2; float aux;
} p;
BUF_INOUT(0, W)
BUF_IN(1, G)
BUF_INOUT(2, M)
BUF_INOUT(3, V)

layout(constant_id = 0) const uint FORM = 0u;  // adam_update.glsl
#include "adam_update.glsl"

float upd(uint i) {
    uint bi = MOM_AT(p.n) + i;  // (FORM 7: the momentum buffer's element in m's buffer)
    float w = LD(W, i), d = LD(G, i), m = LD32(M, i), v = LD32(V, i), b = FORM == 7u ? LD32(M, bi) : 0.0;
    ADAM_UPDATE(w, d, m, v, b)
    ST32(M, i, m);
    ST32(V, i, v);
    if (FORM == 7u) ST32(M, bi, b);
    return w;
}

void main() {
    FOR_UNITS(p.n, u) {
        uint i = u * EPU;
        float w0 = upd(i);
        float w1 = (EPU == 2u && i + 1u < p.n) ? upd(i + 1u) : 0.0;
        ST_UNIT(W, u, w0, w1);
    }
}
