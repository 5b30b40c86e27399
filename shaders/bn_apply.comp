#version 450
#extension GL_GOOGLE_include_directive : require
// Batch norm for large batches, pass 3 of 3: y = S[c] (x - M[c]) + K[c] (forward)
// or dx = that + A[c] g (backward; coefficients from bn_comb.comp, COEF rows S,
// M, K, A), c the element's channel, in x's dtype: whole 16-byte quads (vec4.glsl's FOR_QUADS),
// a tail word by word.  QUADS = 1 (C a whole number of quads): a quad's
// coefficients by 16-byte loads; else by word, the channel stepped per element.
// -DTEXEL_IN (the "_tx" twin, CPU devices): inputs through texel views of quads.
// Bindings: 0 x, 1 g (BWD; x's dtype), 2 COEF [3 or 4, C] (f32) (in); 3 y (out).
#define H2_PLAIN true  // affine in x and g: nothing compared (common.glsl)
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint BWD = 0u;
layout(constant_id = 1) const uint QUADS = 0u;
layout(push_constant) uniform P { uint n; uint C; } p;
BUF4_IN(0, X)
BUF4_IN(1, G)
BUF4_IN(2, CO)
BUF4_OUT(3, Y)

float coef(uint i) { return uintBitsToFloat(LDW(CO, i)); }
float f(uint c, float x, float g) {
    return coef(c) * (x - coef(p.C + c)) + coef(2u * p.C + c) + (BWD == 1u ? coef(3u * p.C + c) * g : 0.0);
}

void main() {
    float v[EPQ], u[EPQ], cf[4][EPQ];
    // the quads of FOR_QUADS (vec4.glsl), c0 the channel of each one's first element
    // advanced with q (no vector division per quad: a CPU device does 8 scalar ones)
    uint nq = p.n / EPQ, end_ = quad_end(nq), q = quad_first(nq);
    uint c0 = (q * EPQ) % p.C, dc = (quad_step() * EPQ) % p.C;
    // dc = 0 (a GPU's grid sized so its step is whole rows: _bn_apply_groups): every
    // quad of this invocation has the same channels, their coefficients loaded once
    // (an H200, this pass alone over 1024 workgroups, f16 [131072, 256]: 1.3x; f32 equal)
    bool have = false;
    for (; q < end_; q += quad_step(), c0 = c0 + dc >= p.C ? c0 + dc - p.C : c0 + dc) {
        LOADQ(LDQ(X, q), v);
        if (BWD == 1u) { LOADQ(LDQ(G, q), u); }
        uint c = c0;
        if (QUADS == 1u) {  // the quad's EPQ channels: c .. c + EPQ - 1
            if (dc != 0u || !have) {
                [[unroll]] for (uint i = 0u; i < 3u + BWD; i++)
                    [[unroll]] for (uint h = 0u; h < EPQ / 4u; h++) {
                        vec4 t = uintBitsToFloat(LDQ(CO, (i * p.C + c) / 4u + h));
                        [[unroll]] for (uint j = 0u; j < 4u; j++) cf[i][4u * h + j] = t[j];
                    }
                have = true;
            }
            [[unroll]] for (uint k = 0u; k < EPQ; k++)
                v[k] = cf[0][k] * (v[k] - cf[1][k]) + cf[2][k] + (BWD == 1u ? cf[3][k] * u[k] : 0.0);
        } else {
            [[unroll]] for (uint k = 0u; k < EPQ; k++) {
                v[k] = f(c, v[k], BWD == 1u ? u[k] : 0.0);
                c = c + 1u == p.C ? 0u : c + 1u;
            }
        }
        Y[q] = STOREQ(v);
    }
    FOR_TAIL_WORDS(p.n, w) {  // n not a whole number of quads
        vec2 x = unpack_w(LDW(X, w)), g = BWD == 1u ? unpack_w(LDW(G, w)) : vec2(0.0);
        uint e = w * (EPQ / 4u);
        STW(Y, w, pack_w(vec2(f(e % p.C, x.x, g.x), EPQ == 8u && e + 1u < p.n ? f((e + 1u) % p.C, x.y, g.y) : 0.0)));
    }
}
