// The Adam family's update of one value or four (float or vec4 lvalues w, m, v
// updated in place; d the gradient, changed by L2 weight decay), one piece of code
// for adam.comp, adam4.comp and adam_multi.glsl.  The includer's push constants
// hold lr, b1, b2, c2, eps, wd, step_size, rbc2 and decoupled; FORM, a
// specialisation constant (a pipeline per form: as a push constant its branch
// took Adam on lavapipe from 97 / 84% of the copy to 74 / 72%, f32 / f16 masters),
// is one of
//   0 Adam / AdamW / RMSprop / Adagrad: m = b1 m + (1 - b1) d, v = b2 v + c2 d^2,
//     w -= step_size m / (sqrt(v) rbc2 + eps);
//   1 RMSprop with momentum b1: m = b1 m + d / (sqrt(v) + eps), w -= step_size m;
//   2 centered RMSprop: m (the gradient's average) = b1 m + (1 - b1) d,
//     w -= step_size d / (sqrt(v - m^2) + eps).
#define ADAM_UPDATE(w, d, m, v) { \
    if (p.decoupled == 0u) d += p.wd * w; else w *= 1.0 - p.lr * p.wd; \
    if (FORM == 1u) { \
        v = p.b2 * v + p.c2 * d * d; \
        m = p.b1 * m + d / (sqrt(v) + p.eps); \
        w = w - p.step_size * m; \
    } else { \
        m = p.b1 * m + (1.0 - p.b1) * d; \
        v = p.b2 * v + p.c2 * d * d; \
        w = FORM == 2u ? w - p.step_size * d / (sqrt(v - m * m) + p.eps) \
                         : w - p.step_size * m / (sqrt(v) * p.rbc2 + p.eps); \
    } }
