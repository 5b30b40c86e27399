#version 450
#extension GL_GOOGLE_include_directive : require
// One time step of an LSTM or GRU cell, forward or backward (MODE), over the
// state [N, H] by 16-byte quads of units (H a whole number of quads: 4 f32 or 8
// halves); the gates [N, G * H] (G = 4: i, f, g, o; G = 3: r, z, n, PyTorch's
// order) hold gate k of row r's units j at r * G * H + k * H + j.  Arithmetic in
// f32, values stored in the tensors' dtype.  One dispatch where the composed
// step (Backend.lstm_cell and its siblings) ran ~12 (forward) and ~16 (backward).
//   MODE 0, LSTM forward: 0 xg, 1 hg (the input's and the state's projections),
//     2 c -> 5 h', 6 c', 7 acts = [sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)]
//     of xg + hg; c' = f c + i g, h' = o tanh(c').
//   MODE 1, LSTM backward: 0 dh, 1 dc (HAS_DC; zero else), 2 acts, 3 c (the
//     previous), 4 c' -> 5 dgates (the pre-activations'), 6 dc (the previous c's).
//   MODE 2, GRU forward: 0 xg, 1 hg (with b_hh), 2 h -> 5 h', 6 acts = [r, z, n]:
//     r, z = sigmoid(xg + hg), n = tanh(xg_n + r hg_n), h' = n + z (h - n).
//   MODE 3, GRU backward: 0 dh, 1 acts, 2 hg, 3 h -> 5 dxg, 6 dhg (the
//     projections' gradients), 7 dh z (h's gradient but through hg).
// Unused bindings are bound to a dummy.
// -DTEXEL_IN (the "_tx" twin, CPU devices): the inputs through texel views of quads.
#include "common.glsl"
#include "vec4.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint MODE = 0u;
layout(constant_id = 1) const uint HAS_DC = 0u;
layout(push_constant) uniform P { uint n; uint H; } p;  // n = N * H
BUF4_IN(0, I0)
BUF4_IN(1, I1)
BUF4_IN(2, I2)
BUF4_IN(3, I3)
BUF4_IN(4, I4)
layout(std430, binding = 5) writeonly buffer O5_b { uvec4 O5[]; };
layout(std430, binding = 6) writeonly buffer O6_b { uvec4 O6[]; };
layout(std430, binding = 7) writeonly buffer O7_b { uvec4 O7[]; };

#define LDA(name, q, arr) LOADQ(LDQ(name, q), arr)

void main() {
    uint hq = p.H / EPQ, G = MODE < 2u ? 4u : 3u;
    FOR_QUADS(p.n, q) {
        uint r = q / hq, j = q - r * hq, g0 = r * G * hq + j;  // gate k's quad: g0 + k * hq
        float a[EPQ], b[EPQ], c[EPQ], d[EPQ], s[EPQ], t[EPQ], u[EPQ];
        if (MODE == 0u) {
            // a, b, c, d: the gates i, f, g, o after their nonlinearities
            LDA(I0, g0, a); LDA(I1, g0, s);
            [[unroll]] for (uint e = 0u; e < EPQ; e++) a[e] = sigmoid_f(a[e] + s[e]);
            LDA(I0, g0 + hq, b); LDA(I1, g0 + hq, s);
            [[unroll]] for (uint e = 0u; e < EPQ; e++) b[e] = sigmoid_f(b[e] + s[e]);
            LDA(I0, g0 + 2u * hq, c); LDA(I1, g0 + 2u * hq, s);
            [[unroll]] for (uint e = 0u; e < EPQ; e++) c[e] = tanh_f(c[e] + s[e]);
            LDA(I0, g0 + 3u * hq, d); LDA(I1, g0 + 3u * hq, s);
            [[unroll]] for (uint e = 0u; e < EPQ; e++) d[e] = sigmoid_f(d[e] + s[e]);
            LDA(I2, q, s);
            [[unroll]] for (uint e = 0u; e < EPQ; e++) {
                s[e] = b[e] * s[e] + a[e] * c[e];  // c'
                t[e] = d[e] * tanh_f(s[e]);        // h'
            }
            O5[q] = STOREQ(t);
            O6[q] = STOREQ(s);
            O7[g0] = STOREQ(a);
            O7[g0 + hq] = STOREQ(b);
            O7[g0 + 2u * hq] = STOREQ(c);
            O7[g0 + 3u * hq] = STOREQ(d);
        } else if (MODE == 1u) {
            LDA(I0, q, s);  // dh
            LDA(I4, q, t);  // c'
            LDA(I2, g0 + 3u * hq, d);  // o
            [[unroll]] for (uint e = 0u; e < EPQ; e++) {
                float tc = tanh_f(t[e]);
                u[e] = s[e] * tc * d[e] * (1.0 - d[e]);      // do (pre-activation)
                t[e] = s[e] * d[e] * (1.0 - tc * tc);       // dc' through h'
            }
            if (HAS_DC == 1u) {
                LDA(I1, q, s);
                [[unroll]] for (uint e = 0u; e < EPQ; e++) t[e] += s[e];
            }
            O5[g0 + 3u * hq] = STOREQ(u);
            LDA(I2, g0, a); LDA(I2, g0 + hq, b); LDA(I2, g0 + 2u * hq, c); LDA(I3, q, s);  // i, f, g, c
            [[unroll]] for (uint e = 0u; e < EPQ; e++) {
                u[e] = t[e] * b[e];                          // dc (the previous)
                b[e] = t[e] * s[e] * b[e] * (1.0 - b[e]);    // df
                s[e] = t[e] * c[e] * a[e] * (1.0 - a[e]);    // di
                c[e] = t[e] * a[e] * (1.0 - c[e] * c[e]);    // dg
            }
            O5[g0] = STOREQ(s);
            O5[g0 + hq] = STOREQ(b);
            O5[g0 + 2u * hq] = STOREQ(c);
            O6[q] = STOREQ(u);
        } else if (MODE == 2u) {
            LDA(I0, g0, a); LDA(I1, g0, s);
            [[unroll]] for (uint e = 0u; e < EPQ; e++) a[e] = sigmoid_f(a[e] + s[e]);  // r
            LDA(I0, g0 + hq, b); LDA(I1, g0 + hq, s);
            [[unroll]] for (uint e = 0u; e < EPQ; e++) b[e] = sigmoid_f(b[e] + s[e]);  // z
            LDA(I0, g0 + 2u * hq, c); LDA(I1, g0 + 2u * hq, s); LDA(I2, q, t);
            [[unroll]] for (uint e = 0u; e < EPQ; e++) {
                c[e] = tanh_f(c[e] + a[e] * s[e]);  // n
                t[e] = c[e] + b[e] * (t[e] - c[e]);  // h'
            }
            O5[q] = STOREQ(t);
            O6[g0] = STOREQ(a);
            O6[g0 + hq] = STOREQ(b);
            O6[g0 + 2u * hq] = STOREQ(c);
        } else {
            LDA(I0, q, s);  // dh
            LDA(I1, g0, a); LDA(I1, g0 + hq, b); LDA(I1, g0 + 2u * hq, c);  // r, z, n
            LDA(I2, g0 + 2u * hq, d);  // hg_n
            LDA(I3, q, t);  // h
            [[unroll]] for (uint e = 0u; e < EPQ; e++) {
                float dn = s[e] * (1.0 - b[e]) * (1.0 - c[e] * c[e]);
                float dz = s[e] * (t[e] - c[e]) * b[e] * (1.0 - b[e]);
                float dr = dn * d[e] * a[e] * (1.0 - a[e]);
                u[e] = s[e] * b[e];  // dh z
                d[e] = dn * a[e];    // dhg_n
                a[e] = dr;
                b[e] = dz;
                c[e] = dn;
            }
            O5[g0] = STOREQ(a);
            O5[g0 + hq] = STOREQ(b);
            O5[g0 + 2u * hq] = STOREQ(c);
            O6[g0] = STOREQ(a);
            O6[g0 + hq] = STOREQ(b);
            O6[g0 + 2u * hq] = STOREQ(d);
            O7[q] = STOREQ(u);
        }
    }
}
