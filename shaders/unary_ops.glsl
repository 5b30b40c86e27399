// f(x) for unary4.comp (OP, p.alpha, p.beta from the includer).

// 2/pi's bits, 32 a word (the first word's top bit weighs 1/2)
const uint TWO_OVER_PI[8] = uint[8](0xA2F9836Eu, 0x4E441529u, 0xFC2757D1u, 0xF534DDC0u,
                                    0xDB629599u, 0x3C439041u, 0xFE5163ABu, 0xDEBBC561u);

// bits [s, s + 32) of the 160-bit number w (w[0] least significant), 0 <= s < 128
uint bits_at(uint w[5], uint s) {
    uint k = s >> 5u, b = s & 31u;
    return b == 0u ? w[k] : (w[k] >> b) | (w[k + 1u] << (32u - b));
}

// Payne-Hanek: |x| (finite, >= 2^13) * 2/pi = q + f with q an integer and |f| <= 1/2;
// returns q mod 4 and f * pi/2 in r.  |x| = m 2^e (m the 24-bit significand) times
// 128 bits of 2/pi from the word where the product's bits of weight 4 and up stop
// mattering (they are whole turns), as integers: exact to 2^-71 of a quarter turn.
uint reduce_big(float ax, out float r) {
    uint bits = floatBitsToUint(ax);
    int e = int(bits >> 23u) - 150;            // |x| = m 2^e
    uint m = (bits & 0x7fffffu) | 0x800000u;
    uint j = uint(max(e - 2, 0)) >> 5u;        // 2/pi's bits before word j add multiples of 4
    int t = e - 32 * int(j);                   // -10 <= t <= 33
    uint w[5], c = 0u;                         // m * words j .. j + 3 (160 bits)
    for (int i = 3; i >= 0; i--) {
        uint hi, lo;
        umulExtended(m, TWO_OVER_PI[j + uint(i)], hi, lo);
        uint carry;
        w[3 - i] = uaddCarry(lo, c, carry);
        c = hi + carry;
    }
    w[4] = c;
    // the product times 2^(t - 128): 2 bits of integer and 62 of fraction from bit 66 - t
    uint s = uint(66 - t), lo = bits_at(w, s), hi = bits_at(w, s + 32u) + 0x20000000u;  // + 1/2
    int f = int(hi & 0x3fffffffu) - 0x20000000;   // the fraction's top bits, in [-2^29, 2^29)
    r = (float(f) * 9.313225746154785e-10 + float(lo) * 2.168404344971009e-19) * 1.5707963267948966;
    return hi >> 30u;
}

// sin (c = 0) or cos (c = 1) of x by our own reduction and polynomials (Cephes'
// sinf / cosf coefficients, ~1 ulp on [-pi/4, pi/4]): GLSL's builtins promise only
// 2^-11 absolute inside [-pi, pi] and nothing outside, and drivers differ (an H200's
// sin(9000) was 4e-4 off).  Below 8192 the reduction subtracts q pi/2 in three
// parts (Cody-Waite); beyond, reduce_big.
float sincos_f(float x, uint c) {
    if (isinf(x) || isnan(x)) return QNAN;
    float r;
    uint n;
    if (abs(x) < 8192.0) {
        float q = round(x * 0.63661977236758134);  // nearest multiple of pi/2
        r = ((x - q * 1.5703125) - q * 4.837512969970703125e-4) - q * 7.54978995489188216e-8;
        n = uint(int(q) & 3);
    } else {  // -x: the quadrant and the remainder negated
        n = reduce_big(abs(x), r);
        if (x < 0.0) { n = (4u - n) & 3u; r = -r; }
    }
    float r2 = r * r;
    n += c;
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

// sin(pi x) with x reduced by its nearest integer first (exact), so poles and
// zeros at the integers come out exact
float sinpi_f(float x) {
    float n = round(x), r = x - n;
    float s = sincos_f(3.141592653589793 * r, 0u);
    return (int(n) & 1) != 0 ? -s : s;
}

// log |Gamma(x)|: shifted up by the recurrence to x >= 8, then Stirling's series
// (relative 1e-7; absolute ~1e-6 next to the roots at 1 and 2); x < 0.5 by the
// reflection formula; the poles at 0, -1, ... give +inf
float lgamma_f(float x) {
    if (isnan(x)) return x;
    if (x == 1.0 || x == 2.0) return 0.0;  // (its roots exact)
    if (isinf(x)) return INF;
    float refl = 0.0;
    bool reflected = x < 0.5;
    if (reflected) {
        float s = sinpi_f(x);
        if (s == 0.0) return INF;
        refl = log(3.141592653589793 / abs(s));
        x = 1.0 - x;
    }
    float prod = 1.0;
    for (int i = 0; i < 8 && x < 8.0; i++) { prod *= x; x += 1.0; }
    float r = 1.0 / x, r2 = r * r;
    float st = (x - 0.5) * log(x) - x + 0.91893853320467274 + r * (0.083333333333333333 + r2 * (-0.0027777777777777778
               + r2 * (0.00079365079365079365 + r2 * -0.00059523809523809524)));
    st -= log(prod);
    return reflected ? refl - st : st;
}

// digamma (psi): reflection below 0.5, the recurrence up to 6, then the asymptotic
// series; 0 gives -inf, the negative integers NaN (PyTorch's)
float digamma_f(float x) {
    if (isnan(x) || x == INF) return x;
    if (x == 0.0) return -INF;
    float acc = 0.0;
    if (x < 0.5) {
        float s = sinpi_f(x);
        if (s == 0.0) return QNAN;
        float r = 3.141592653589793 * (x - round(x));  // -pi cot(pi x) = -pi cot(pi r), r to the nearest integer
        acc = -3.141592653589793 * sincos_f(r, 1u) / sincos_f(r, 0u);
        x = 1.0 - x;
    }
    for (int i = 0; i < 6 && x < 6.0; i++) { acc -= 1.0 / x; x += 1.0; }
    float r = 1.0 / x, r2 = r * r;
    return acc + log(x) - 0.5 * r - r2 * (0.083333333333333333 - r2 * (0.0083333333333333333 - r2 * 0.0039682539682539683));
}

// trigamma (psi'): digamma's gradient, the same way (its reflection pi^2 / sin^2)
float trigamma_f(float x) {
    if (isnan(x)) return x;
    float sign = 1.0, acc = 0.0;
    if (x < 0.5) {
        float s = sinpi_f(x);
        if (s == 0.0) return INF;
        acc = 9.869604401089358 / (s * s);
        sign = -1.0;
        x = 1.0 - x;
    }
    float t = 0.0;
    for (int i = 0; i < 6 && x < 6.0; i++) { t += 1.0 / (x * x); x += 1.0; }
    float r = 1.0 / x, r2 = r * r;
    t += r + 0.5 * r2 + r * r2 * (0.16666666666666667 - r2 * (0.033333333333333333 - r2 * (0.023809523809523810
         - r2 * 0.033333333333333333)));
    return acc + sign * t;
}

// erfc with relative accuracy in the tails (Numerical Recipes' erfcc, fractional
// error below 1.2e-7 everywhere): 1 - erf loses every digit past x ~ 4
float erfc_f(float x) {
    float z = abs(x), t = 1.0 / (1.0 + 0.5 * z);
    float r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
              + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
    return x >= 0.0 ? r : 2.0 - r;
}

// erfinv by Giles' single-precision approximation (two polynomials in log(1 - x^2)),
// one Newton step on erf after it; +-1 give +-inf, |x| > 1 NaN
float erfinv_f(float x) {
    if (!(abs(x) <= 1.0)) return QNAN;
    if (abs(x) == 1.0) return x * INF;
    float w = -log((1.0 - x) * (1.0 + x)), p;
    if (w < 5.0) {
        w -= 2.5;
        p = 2.81022636e-08;
        p = 3.43273939e-07 + p * w; p = -3.5233877e-06 + p * w; p = -4.39150654e-06 + p * w;
        p = 0.00021858087 + p * w; p = -0.00125372503 + p * w; p = -0.00417768164 + p * w;
        p = 0.246640727 + p * w; p = 1.50140941 + p * w;
    } else {
        w = sqrt(w) - 3.0;
        p = -0.000200214257;
        p = 0.000100950558 + p * w; p = 0.00134934322 + p * w; p = -0.00367342844 + p * w;
        p = 0.00573950773 + p * w; p = -0.0076224613 + p * w; p = 0.00943887047 + p * w;
        p = 1.00167406 + p * w; p = 2.83297682 + p * w;
    }
    float y = p * x;
    float e = (abs(y) < 0.5 ? erf_f(y) : 1.0 - erfc_f(y)) - x;  // (erf from erfc: relative where it matters)
    return y - e / (1.1283791670955126 * exp(-y * y));
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
        case U_LGAMMA: return lgamma_f(x);
        case U_DIGAMMA: return digamma_f(x);
        case U_TRIGAMMA: return trigamma_f(x);
        case U_ERFC: return erfc_f(x);
        case U_ERFINV: return erfinv_f(x);
    }
    return x;
}

