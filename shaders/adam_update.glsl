// The Adam family's update of one value or four (float or vec4 lvalues w, m, v
// updated in place; d the gradient, changed by L2 weight decay), one piece of code
// for adam.comp, adam4.comp and adam_multi.glsl.  The includer's push constants
// hold lr, b1, b2, c2, eps, wd, step_size, rbc2, decoupled and aux; FORM, a
// specialisation constant (a pipeline per form: as a push constant its branch
// took Adam on lavapipe from 97 / 84% of the copy to 74 / 72%, f32 / f16 masters),
// is one of
//   0 Adam / AdamW / RMSprop / Adagrad: m = b1 m + (1 - b1) d, v = b2 v + c2 d^2,
//     w -= step_size m / (sqrt(v) rbc2 + eps);
//   1 RMSprop with momentum b1: m = b1 m + d / (sqrt(v) + eps), w -= step_size m;
//   2 centered RMSprop: m (the gradient's average) = b1 m + (1 - b1) d,
//     w -= step_size d / (sqrt(v - m^2) + eps);
//   3 Adamax: v = max(b2 v, |d| + eps), w -= step_size m / v;
//   4 NAdam: w -= (step_size m + aux d) / (sqrt(v) rbc2 + eps) (the host's
//     momentum-schedule coefficients in step_size and aux);
//   5 RAdam: w -= m (step_size / (sqrt(v) + eps) + aux) (rectified: aux = 0; in
//     the first steps step_size = 0, an SGD-with-momentum step);
//   6 Adadelta: v first, d = sqrt(m + eps) / sqrt(v + eps) d, m (the updates'
//     average) = b2 m + (1 - b2) d^2, w -= step_size d;
//   7 centered RMSprop with momentum b1: v first, m (the gradient's average) =
//     b2 m + (1 - b2) d, b (the momentum buffer: m's second half, MOM_AT) = b1 b +
//     d / (sqrt(v - m^2) + eps), w -= step_size b.
// (aux: the push constant after c2.)  b: an lvalue the includer loads and stores
// for FORM 7 only (the second half of m's buffer, from element MOM_AT(n)).
#define MOM_AT(n) (((n) + 63u) & ~63u)  // (256-byte aligned: its own state view on any device)
#define ADAM_UPDATE(w, d, m, v, b) { \
    if (p.decoupled == 0u) d += p.wd * w; else w *= 1.0 - p.lr * p.wd; \
    if (FORM == 7u) { \
        v = p.b2 * v + p.c2 * d * d; \
        m = p.b2 * m + (1.0 - p.b2) * d; \
        b = p.b1 * b + d / (sqrt(v - m * m) + p.eps); \
        w = w - p.step_size * b; \
    } else if (FORM == 1u) { \
        v = p.b2 * v + p.c2 * d * d; \
        m = p.b1 * m + d / (sqrt(v) + p.eps); \
        w = w - p.step_size * m; \
    } else if (FORM == 6u) { \
        v = p.b2 * v + p.c2 * d * d; \
        d = sqrt(m + p.eps) / sqrt(v + p.eps) * d; \
        m = p.b2 * m + (1.0 - p.b2) * d * d; \
        w = w - p.step_size * d; \
    } else { \
        m = p.b1 * m + (1.0 - p.b1) * d; \
        v = FORM == 3u ? max(p.b2 * v, abs(d) + p.eps) : p.b2 * v + p.c2 * d * d; \
        if (FORM == 2u) w = w - p.step_size * d / (sqrt(v - m * m) + p.eps); \
        else if (FORM == 3u) w = w - p.step_size * m / v; \
        else if (FORM == 4u) w = w - (p.step_size * m + p.aux * d) / (sqrt(v) * p.rbc2 + p.eps); \
        else if (FORM == 5u) w = w - m * (p.step_size / (sqrt(v) + p.eps) + p.aux); \
        else w = w - p.step_size * m / (sqrt(v) * p.rbc2 + p.eps); \
    } }
