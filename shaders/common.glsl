// Shared by every vkgrad shader: operand bindings and f32 / packed-f16 access.
#extension GL_EXT_control_flow_attributes : enable

// Every operand is its own binding: a range of vkgrad's arena given by a
// per-dispatch descriptor (exact offset and size), declared readonly,
// writeonly or read-write to match what the shader does, so the validation
// layer and the driver see the true dependencies.
#define BUF_IN(n, name) layout(std430, binding = n) readonly buffer name##_b { uint name[]; };
#define BUF_OUT(n, name) layout(std430, binding = n) writeonly buffer name##_b { uint name[]; };
#define BUF_INOUT(n, name) layout(std430, binding = n) buffer name##_b { uint name[]; };

// Two floats to packed halves, rounding to nearest even.  With -DSOFT_HALF
// (the variants CPU devices get) by integer arithmetic (F. Giesen's
// float_to_half_fast3_rtne, lane-wise selects): lavapipe's packHalf2x16 made
// an f16 add 3x slower than the same add without the pack; this one measured
// 1.3x faster than it and bit-identical on 420k values (ties, subnormals,
// overflow, infinities).  GPUs convert in hardware: packHalf2x16.
#ifdef SOFT_HALF
uint f2h_bits(float x) {
    uint f = floatBitsToUint(x), sign = (f >> 16) & 0x8000u;
    f &= 0x7fffffffu;
    uint inf_nan = f > 0x7f800000u ? 0x7e00u : 0x7c00u;
    uint sub = floatBitsToUint(uintBitsToFloat(f) + 0.5) - 0x3f000000u;  // subnormal: align by adding 0.5
    uint nrm = (f + 0xc8000fffu + ((f >> 13) & 1u)) >> 13;  // rebias the exponent, round half to even
    return (f >= 0x47800000u ? inf_nan : (f < 0x38800000u ? sub : nrm)) | sign;
}
uint pack_half2(vec2 v) { return f2h_bits(v.x) | (f2h_bits(v.y) << 16); }
#else
uint pack_half2(vec2 v) { return packHalf2x16(v); }
#endif

// Halves to floats for the elementwise kernels.  With -DSOFT_HALF (CPU devices)
// the widened value passes through an OR with a zero LLVM cannot see
// (min(gl_NumWorkGroups.y, 1) - 1: a grid has at least one row): lavapipe's LLVM
// otherwise folds a compare of a widened half into a half-precision compare,
// which it runs 2-2.6x slower (f16 eq, relu_bwd, sigmoid, tanh, measured).
// The OR costs where nothing is compared, so an includer whose arithmetic on
// the values has no compares defines H2_PLAIN (an expression of specialisation
// constants it declares before including this file) and gets them widened
// plainly (lavapipe, paired, bits unchanged: f16 sums 1.04-1.07x, add 1.02x
// faster; batch norm and dropout within noise; max and the activations keep it).
#ifndef H2_PLAIN
#define H2_PLAIN false
#endif
#ifdef SOFT_HALF
vec2 unpack_h2(uint w) {
    vec2 v = unpackHalf2x16(w);
    return H2_PLAIN ? v : uintBitsToFloat(floatBitsToUint(v) | uvec2(min(gl_NumWorkGroups.y, 1u) - 1u));
}
#else
vec2 unpack_h2(uint w) { return unpackHalf2x16(w); }
#endif

// A quiet NaN: what an out-of-range class label makes of its row (onehot, xent):
// labels on a device are not range-checked on the host (that would cost a read)
#define QNAN uintBitsToFloat(0x7fc00000u)
#define INF uintBitsToFloat(0x7f800000u)

#define LD32(B, i) uintBitsToFloat(B[i])
#define ST32(B, i, v) B[i] = floatBitsToUint(v)
#define LD16(B, i) ((((i) & 1u) == 0u) ? unpack_h2(B[(i) >> 1]).x : unpack_h2(B[(i) >> 1]).y)

// With -DF16 the tensors an elementwise shader reads and writes hold IEEE
// halves packed two per word; each invocation then owns a whole word (two
// elements), so no two invocations write one word.
#ifdef F16
#define EPU 2u
#define LD(B, i) LD16(B, i)
#define ST_UNIT(B, u, v0, v1) B[u] = pack_half2(vec2(v0, v1))
#else
#define EPU 1u
#define LD(B, i) LD32(B, i)
#define ST_UNIT(B, u, v0, v1) B[u] = floatBitsToUint(v0)
#endif

// Element i's bits (with -DF16 a half, in the low 16 bits), and unit u of a buffer
// from its elements' bits b0, b1 (b1 read only for a second element below n):
// data movement without conversions (NVIDIA's half conversions make any NaN 0x7fff)
#define LD_BITS(B, i) (EPU == 2u ? (B[(i) >> 1u] >> (16u * ((i) & 1u))) & 0xffffu : B[i])
#define ST_UNIT_BITS(B, u, n, b0, b1) \
    B[u] = EPU == 2u ? (b0) | (2u * (u) + 1u < (n) ? (b1) << 16u : 0u) : (b0)

// Grid-stride loop over units (one element in f32, two in f16).
#define FOR_UNITS(n, u) \
    for (uint u = gl_GlobalInvocationID.x; u < ((n) + EPU - 1u) / EPU; \
         u += gl_NumWorkGroups.x * gl_WorkGroupSize.x)

const float SQRT1_2 = 0.70710678118654752;
const float SQRT2_PI = 0.79788456080286536;
const float INV_SQRT_2PI = 0.39894228040143268;

// Abramowitz-Stegun 7.1.26, |error| < 1.5e-7 (the NumPy backend uses the same)
float erf_as(float x) {
    float s = sign(x), a = abs(x);
    float t = 1.0 / (1.0 + 0.3275911 * a);
    float y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t
                      - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
    return s * y;
}

float sigmoid_f(float x) {
    float e = exp(-abs(x));
    return x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

// log(1 + x) and exp(x) - 1 with relative accuracy near 0: series for |x| < 1/4.
// (Goldberg's trick, log(u) x / (u - 1) with u = 1 + x, needs a log accurate near
// 1, and GLSL promises only 2^-21 absolute there: lavapipe's log1p(1e-6) was 3% off.)
// log1p: 2 atanh(s), s = x / (2 + x), |s| <= 1/7: terms to s^11 (s^12 < 2e-11).
float log1p_f(float x) {
    if (!(abs(x) < 0.25)) return log(1.0 + x);  // (NaN, inf and -1 too: log's)
    float s = x / (2.0 + x), t = s * s;
    return 2.0 * s * (1.0 + t * (1.0 / 3.0 + t * (0.2 + t * (1.0 / 7.0 + t * (1.0 / 9.0 + t * (1.0 / 11.0))))));
}

// expm1: Taylor's terms to x^8 / 8! (the next below 1e-9 of x)
float expm1_f(float x) {
    if (!(abs(x) < 0.25)) return exp(x) - 1.0;
    return x * (1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + x * 0.25 * (1.0 + x * 0.2 * (1.0 + x * (1.0 / 6.0)
               * (1.0 + x * (1.0 / 7.0) * (1.0 + x * 0.125)))))));
}

// tanh x = -expm1(-2|x|) / (2 + expm1(-2|x|)), the sign of x: GLSL's tanh overflows
// to NaN for large |x| on some drivers, and (1 - e) / (1 + e) cancels near 0
float tanh_f(float x) {
    float t = expm1_f(-2.0 * abs(x)), r = -t / (2.0 + t);
    return (floatBitsToUint(x) >> 31) != 0u ? -r : r;
}

float gelu_f(float x) { return 0.5 * x * (1.0 + erf_as(x * SQRT1_2)); }

float gelu_tanh_f(float x) { return 0.5 * x * (1.0 + tanh_f(SQRT2_PI * (x + 0.044715 * x * x * x))); }

float gelu_tanh_grad(float x) {
    float t = tanh_f(SQRT2_PI * (x + 0.044715 * x * x * x));
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT2_PI * (1.0 + 3.0 * 0.044715 * x * x);
}

// atan by Cephes' atanf (reduced to |z| <= tan(pi/8), a degree-9 odd polynomial:
// ~2 ulp): GLSL's atan promises nothing about its accuracy
float atan_f(float x) {
    float a = abs(x), base = 0.0, z = a;
    if (a > 2.414213562373095) {  // tan(3 pi / 8)
        base = 1.5707963267948966;
        z = -1.0 / a;
    } else if (a > 0.41421356237309503) {  // tan(pi / 8)
        base = 0.7853981633974483;
        z = (a - 1.0) / (a + 1.0);
    }
    float z2 = z * z;
    float r = base + ((((8.05374449538e-2 * z2 - 1.38776856032e-1) * z2 + 1.99777106478e-1) * z2
                       - 3.33329491539e-1) * z2 * z + z);
    return x < 0.0 ? -r : r;  // (NaN stays NaN)
}

// atan2(y, x) as C's: the quadrant from the signs (signed zeros included)
float atan2_f(float y, float x) {
    if (isnan(x) || isnan(y)) return QNAN;
    bool xneg = (floatBitsToUint(x) >> 31) != 0u, yneg = (floatBitsToUint(y) >> 31) != 0u;
    float r;
    if (isinf(x) && isinf(y)) r = xneg ? 2.356194490192345 : 0.7853981633974483;
    else if (x == 0.0 && y == 0.0) r = xneg ? 3.141592653589793 : 0.0;
    else if (abs(x) >= abs(y)) r = atan_f(abs(y) / abs(x)), r = xneg ? 3.141592653589793 - r : r;
    else r = 1.5707963267948966 - atan_f(abs(x) / abs(y)), r = xneg ? 3.141592653589793 - r : r;
    return yneg ? -r : r;
}

// x ** e as NumPy computes it: GLSL's pow() is undefined for x < 0 (an integer e
// takes |x| and the sign) and for x = 0 with e <= 0 (lavapipe's gave 0 ** 0 = 0 and
// 0 ** -1 = 0: x ** 1's gradient at 0 was 0), and lavapipe's gave pow(NaN, 2) = 0
float powf(float x, float e) {
    if (e == 0.0) return 1.0;  // (NaN ** 0 too)
    if (isnan(x)) return x;
    bool whole = e == floor(e), odd = whole && mod(e, 2.0) == 1.0;
    if (x == 0.0) {  // C's: +-0 for e > 0, +-inf for e < 0, the sign kept for an odd integer e
        float r = e > 0.0 ? 0.0 : INF;
        return (odd && (floatBitsToUint(x) >> 31) != 0u) ? -r : r;
    }
    if (isinf(x) && x < 0.0 && !whole)  // C's -inf ** 1.5 = inf, ** -1.5 = 0; ** 0.5 is sqrt's NaN (NumPy's)
        return e == 0.5 ? QNAN : e > 0.0 ? INF : 0.0;
    if (abs(e) <= 16.0 && 2.0 * e == floor(2.0 * e)) {  // by squaring (x ** 2 is x * x, x ** -1 is 1 / x),
        if (!whole && x < 0.0) return QNAN;               // a half power times sqrt(x): pow() is exp2(e log2 x),
        float r = 1.0, b = x;                             // lavapipe's 6-46 ulps off for e in 1 .. 4
        for (uint n = uint(abs(e)); n != 0u; n >>= 1) {
            if ((n & 1u) != 0u) r *= b;
            b *= b;
        }
        if (!whole) r *= sqrt(x);
        return e < 0.0 ? 1.0 / r : r;
    }
    if (isinf(x)) return e > 0.0 ? (odd && x < 0.0 ? -INF : INF) : (odd && x < 0.0 ? -0.0 : 0.0);
    if (whole) {
        float r = pow(abs(x), e);
        return (x < 0.0 && odd) ? -r : r;
    }
    return x < 0.0 ? QNAN : pow(x, e);
}

// max / min that propagate NaN as NumPy and PyTorch do: GLSL's max(x, NaN) may
// return x (lavapipe gave relu(NaN) = 0, and a row's maximum past a NaN in it)
float nmax(float a, float b) { return a > b || isnan(a) ? a : b; }
float nmin(float a, float b) { return a < b || isnan(a) ? a : b; }

// Activation ids (matmul epilogue): 0 none, 1 relu, 2 sigmoid, 3 tanh, 4 gelu, 5 gelu_tanh
float activate(uint act, float v) {
    if (act == 1u) return nmax(v, 0.0);
    if (act == 2u) return sigmoid_f(v);
    if (act == 3u) return tanh_f(v);
    if (act == 4u) return gelu_f(v);
    if (act == 5u) return gelu_tanh_f(v);
    return v;
}
