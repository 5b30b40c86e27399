// f(x) for unary4.comp (OP, p.alpha, p.beta from the includer).

// sin (c = 0) or cos (c = 1) of x by our own reduction and polynomials (Cephes'
// sinf / cosf coefficients, ~1 ulp on [-pi/4, pi/4]): GLSL's builtins promise only
// 2^-11 absolute inside [-pi, pi] and nothing outside, and drivers differ.  The
// reduction subtracts q pi/2 in three parts (Cody-Waite), good for |x| < 8192;
// beyond that the driver's own sin / cos (whose range reduction is its own).
float sincos_f(float x, uint c) {
    if (!(abs(x) < 8192.0)) return isinf(x) ? QNAN : (c == 0u ? sin(x) : cos(x));
    float q = round(x * 0.63661977236758134);  // nearest multiple of pi/2
    float r = ((x - q * 1.5703125) - q * 4.837512969970703125e-4) - q * 7.54978995489188216e-8;
    float r2 = r * r;
    uint n = uint(int(q) & 3) + c;
    float s = r + r * r2 * (-1.6666654611e-1 + r2 * (8.3321608736e-3 + r2 * -1.9515295891e-4));
    float k = 1.0 - 0.5 * r2 + r2 * r2 * (4.166664568298827e-2 + r2 * (-1.388731625493765e-3 + r2 * 2.443315711809948e-5));
    float v = (n & 1u) == 0u ? s : k;
    return (n & 2u) == 0u ? v : -v;
}

// erf with relative accuracy near 0 (a Maclaurin series for |x| < 0.5: erf_as's
// 1.5e-7 absolute error is most of a small erf), erf_as beyond
float erf_f(float x) {
    if (abs(x) >= 0.5) return erf_as(x);
    float t = x * x;
    return x * 1.1283791670955126 * (1.0 + t * (-1.0 / 3.0 + t * (0.1 + t * (-1.0 / 42.0 + t * (1.0 / 216.0 + t * (-1.0 / 1320.0))))));
}

// inverse trigonometric and hyperbolic functions from atan_f and log1p_f, without
// the cancellation of their textbook forms near 0 and +-1
float asin_f(float x) { return atan_f(x / sqrt((1.0 - x) * (1.0 + x))); }  // (|x| > 1: NaN)
float acos_f(float x) { return 2.0 * atan_f(sqrt((1.0 - x) / (1.0 + x))); }

float asinh_f(float x) {
    float a = abs(x);  // past 2^12, asinh a = log(2a) to within a^-2 / 4 (and a * a would overflow)
    float r = a > 4096.0 ? log(a) + 0.6931471805599453 : log1p_f(a + a * a / (1.0 + sqrt(1.0 + a * a)));
    return x < 0.0 ? -r : r;
}

float acosh_f(float x) {
    if (!(x >= 1.0)) return QNAN;
    float t = x - 1.0;
    return x > 4096.0 ? log(x) + 0.6931471805599453 : log1p_f(t + sqrt(2.0 * t + t * t));
}

float atanh_f(float x) {  // odd: of |x|, so log1p's argument is >= 0 (no cancellation near -1)
    float a = abs(x), r = 0.5 * log1p_f(2.0 * a / (1.0 - a));  // (1: inf; beyond: NaN)
    return x < 0.0 ? -r : r;
}

// log with relative accuracy near 1 (x - 1 is exact there): log1p's series
float log_f(float x) { return (x > 0.75 && x < 1.25) ? log1p_f(x - 1.0) : log(x); }

float f(float x) {
    switch (OP) {
        case U_NEG: return -x;
        case U_EXP: return exp(x);
        case U_LOG: return log_f(x);
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
        case U_SIN: return sincos_f(x, 0u);
        case U_COS: return sincos_f(x, 1u);
        case U_LOG1P: return log1p_f(x);
        case U_EXPM1: return expm1_f(x);
        case U_ERF: return erf_f(x);
        case U_SIGN: return isnan(x) ? x : sign(x);
        case U_FLOOR: return floor(x);
        case U_CEIL: return ceil(x);
        case U_ROUND: return roundEven(x);
        case U_TRUNC: return trunc(x);
        case U_ATAN: return atan_f(x);
        case U_ASIN: return asin_f(x);
        case U_ACOS: return acos_f(x);
        case U_ASINH: return asinh_f(x);
        case U_ACOSH: return acosh_f(x);
        case U_ATANH: return atanh_f(x);
    }
    return x;
}

