// f(a, b) for binary.comp and binary4.comp (OP, p.alpha, p.beta from the includer).

// sqrt(x^2 + y^2) without overflow or underflow on the way (C's hypot: inf wins over NaN)
float hypot_f(float x, float y) {
    x = abs(x), y = abs(y);
    if (isinf(x) || isinf(y)) return INF;
    if (isnan(x) || isnan(y)) return QNAN;
    float m = max(x, y), n = min(x, y);
    if (m == 0.0) return 0.0;
    float r = n / m;
    return m * sqrt(1.0 + r * r);
}

float f(float x, float g) {
    switch (OP) {
        case B_ADD: return x + g;
        case B_SUB: return x - g;
        case B_MUL: return x * g;
        case B_DIV: return x / g;
        case B_EQ: return x == g ? 1.0 : 0.0;
        case B_RELU_BWD: return x <= 0.0 ? 0.0 : g;  // (NaN passes g, as PyTorch's threshold_backward)
        case B_SIGMOID_BWD: return g * x * (1.0 - x);
        case B_TANH_BWD: return g * (1.0 - x * x);
        case B_GELU_BWD: return g * (0.5 * (1.0 + erf_as(x * SQRT1_2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x));
        case B_GELU_TANH_BWD: return g * gelu_tanh_grad(x);
        case B_POW_BWD: return g * p.alpha * powf(x, p.alpha - 1.0);
        case B_CLAMP_BWD: return (x >= p.alpha && x <= p.beta) ? g : 0.0;
        case B_MAXIMUM: return nmax(x, g);  // NaN from either side (common.glsl)
        case B_MINIMUM: return nmin(x, g);
        case B_GT: return x > g ? 1.0 : 0.0;
        case B_GE: return x >= g ? 1.0 : 0.0;
        case B_ERF_BWD: return g * 1.1283791670955126 * exp(-x * x);  // 2 / sqrt(pi)
        case B_ATAN2: return atan2_f(x, g);
        case B_HYPOT: return hypot_f(x, g);
    }
    return x;
}

