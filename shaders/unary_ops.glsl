// f(x) for unary4.comp (OP, p.alpha, p.beta from the includer).

float f(float x) {
    switch (OP) {
        case U_NEG: return -x;
        case U_EXP: return exp(x);
        case U_LOG: return log(x);
        case U_SQRT: return sqrt(x);
        case U_RELU: return nmax(x, 0.0);
        case U_SIGMOID: return sigmoid_f(x);
        case U_TANH: return tanh_f(x);
        case U_GELU: return gelu_f(x);
        case U_GELU_TANH: return gelu_tanh_f(x);
        case U_AFFINE: return x * p.alpha + p.beta;
        case U_POW: return powf(x, p.alpha);
        case U_CLAMP: return nmin(nmax(x, p.alpha), p.beta);
        case U_CLIP_COEF: return nmin(1.0, p.alpha / (x + 1e-6));
    }
    return x;
}

