#version 450
#extension GL_GOOGLE_include_directive : require
// A fused linear-layer backward step: gp = g * act'(.) and db = sum over rows of
// gp, each invocation owning columns and walking the rows (used for short
// batches).  For relu, sigmoid and tanh Y is the layer's output, for the gelu
// family its input.  QUADS = 1 (specialisation constant 1; cols a whole number
// of 16-byte quads): a quad of columns per invocation, 16-byte loads and stores
// (lavapipe: 3-5x faster than a column per invocation).  -DTEXEL_IN (the "_tx"
// twin, CPU devices): the QUADS path only, Y and G read through texel views.
// Bindings: 0 Y (in), 1 G (in), 2 GP (out), 3 DB (out).
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint ACT = 1u;
layout(constant_id = 1) const uint QUADS = 0u;
layout(push_constant) uniform P { uint rows; uint cols; } p;
BUF4_IN(0, Y4)
BUF4_IN(1, G4)
BUF4_OUT(2, GP4)
BUF4_OUT(3, DB4)

float dact(float y, float g) {
    if (ACT == 1u) return y <= 0.0 ? 0.0 : g;  // (NaN passes g, as PyTorch's threshold_backward)
    if (ACT == 2u) return g * y * (1.0 - y);
    if (ACT == 3u) return g * (1.0 - y * y);
    if (ACT == 4u) return g * (0.5 * (1.0 + erf_as(y * SQRT1_2)) + y * INV_SQRT_2PI * exp(-0.5 * y * y));
    return g * gelu_tanh_grad(y);
}

void quads() {
    uint cq = p.cols / EPQ;
    for (uint c = gl_GlobalInvocationID.x; c < cq; c += gl_NumWorkGroups.x * 64u) {
        float db[EPQ], y[EPQ], g[EPQ];
        [[unroll]] for (uint k = 0u; k < EPQ; k++) db[k] = 0.0;
        for (uint r = 0u; r < p.rows; r++) {
            uint q = r * cq + c;
            LOADQ(LDQ(Y4, q), y);
            LOADQ(LDQ(G4, q), g);
            [[unroll]] for (uint k = 0u; k < EPQ; k++) {
                y[k] = dact(y[k], g[k]);
                db[k] += y[k];
            }
            GP4[q] = STOREQ(y);
        }
        DB4[c] = STOREQ(db);
    }
}

#ifdef TEXEL_IN
void main() { quads(); }
#else
BUF_IN(0, Y)
BUF_IN(1, G)
BUF_OUT(2, GP)
BUF_OUT(3, DB)

void main() {
    if (QUADS == 1u) {
        quads();
        return;
    }
#ifdef F16
    // packed halves (cols even): two neighbouring columns per invocation, so each
    // writes whole words of gp and db (in halves, the layer's dtype)
    for (uint cp = gl_GlobalInvocationID.x; cp < p.cols / 2u; cp += gl_NumWorkGroups.x * 64u) {
        vec2 db = vec2(0.0);
        for (uint r = 0u; r < p.rows; r++) {
            uint w = (r * p.cols) / 2u + cp;
            vec2 y = unpackHalf2x16(Y[w]), g = unpackHalf2x16(G[w]);
            vec2 v = vec2(dact(y.x, g.x), dact(y.y, g.y));
            GP[w] = pack_half2(v);
            db += v;
        }
        DB[cp] = pack_half2(db);
    }
#else
    for (uint c = gl_GlobalInvocationID.x; c < p.cols; c += gl_NumWorkGroups.x * 64u) {
        float db = 0.0;
        for (uint r = 0u; r < p.rows; r++) {
            uint i = r * p.cols + c;
            float v = dact(LD32(Y, i), LD32(G, i));
            ST32(GP, i, v);
            db += v;
        }
        ST32(DB, c, db);
    }
#endif
}
#endif
