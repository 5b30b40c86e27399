// f(x) for unary4.comp (OP, p.alpha, p.beta from the includer).
float powf(float x, float e) {  // pow() is undefined for x < 0 in GLSL
    if (e == floor(e)) {
        float r = pow(abs(x), e);
        return (x < 0.0 && mod(e, 2.0) == 1.0) ? -r : r;
    }
    return pow(x, e);
}

float f(float x) {
    switch (OP) {
        case U_NEG: return -x;
        case U_EXP: return exp(x);
        case U_LOG: return log(x);
        case U_SQRT: return sqrt(x);
        case U_RELU: return max(x, 0.0);
        case U_SIGMOID: return sigmoid_f(x);
        case U_TANH: return tanh_f(x);
        case U_GELU: return gelu_f(x);
        case U_GELU_TANH: return gelu_tanh_f(x);
        case U_AFFINE: return x * p.alpha + p.beta;
        case U_POW: return powf(x, p.alpha);
        case U_CLAMP: return min(max(x, p.alpha), p.beta);
        case U_CLIP_COEF: return min(1.0, p.alpha / (x + 1e-6));
    }
    return x;
}

