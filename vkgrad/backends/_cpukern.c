/* vkgrad's CPU loops in C, called through ctypes by vkgrad/backends/cpu.py: Adam's
 * update, im2col / col2im, the max pool of tiling windows with its gradient, batched transposes, GELU,
 * the LSTM cell and layer norm with their gradients, softmax and softmax
 * cross-entropy, the GRU cell and its gradient; and a pool of threads (at the end) for oneDNN's float32
 * products (vkg_sgemm_par) and these loops' rows (vkg_rows_par).
 *
 * Each loop computes exactly the float32 operations, in the same order, that the
 * NumPy path of the CPU backend runs array by array, so both give the same bits
 * (tests/test_cpu_backend.py checks) -- GELU and the LSTM cell apart, whose exp and
 * tanh are their own (NumPy's are not C's either), and layer norm and the softmax
 * family, whose row sums are in double: within 1e-6 of NumPy's path.  Compiled with
 * -ffp-contract=off (no multiply-add fused where NumPy rounds twice) and without
 * -ffast-math; sqrtf and the division are IEEE's, as NumPy's.  One pass instead of NumPy's many: the MLP
 * 784-1024-1024-10's Adam step took 1.25 ms against 4.9 (1.86 M parameters, two
 * threads); the CNN's step (two convolutions and max pools) 0.85x the time, the
 * transformer block's 0.85x with GELU, 0.74x with layer norm too, the LSTM's 0.69x.
 *
 * Built by setup.py as an optional extension; without a C compiler the CPU
 * backend runs its NumPy path. No Python API is used (plain C, loaded by ctypes).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* one body per instruction set, chosen when the library loads (GCC / clang on x86-64) */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__APPLE__)
#define VKG_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VKG_CLONES
#endif

#define VKG_EXPORT __attribute__((visibility("default")))

/* A float's bits and back, and a select by the bits: memcpy, not a union (a union,
 * and a float select feeding an int conversion, kept GCC from vectorising). */
static inline unsigned vkg_bits(float f)
{
    unsigned u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float vkg_float(unsigned u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* a where c holds, else b */
static inline float vkg_pick(int c, float a, float b)
{
    unsigned m = 0u - (unsigned)c;
    return vkg_float((vkg_bits(a) & m) | (vkg_bits(b) & ~m));
}

/* The Adam / AdamW update of n float32 values in place (the backend's "adam" form):
 *   d = g                       (+ wd * p before the update when wd_mode == 1: L2 in the gradient)
 *   v = b2 * v + c2 * d^2       (c2: 1 - b2, or the caller's coefficient)
 *   m = b1 * m + omb1 * d
 *   p = p (* decay when wd_mode == 2: decoupled) - step_size * m / (sqrt(v) * ibc2 + eps)
 * with NumPy's order of operations (cpu.py, CpuBackend.adam_'s "one"). */
VKG_CLONES VKG_EXPORT
void vkg_adam_f32(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                  ptrdiff_t n, float b1, float omb1, float b2, float c2, float step_size, float ibc2,
                  float eps, int wd_mode, float wd, float decay)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        float pp = p[i];
        float d = g[i];
        if (wd_mode == 1) {
            float w = wd * pp;
            d = d + w;
        }
        float t = d * d;
        t *= c2;
        float vv = v[i] * b2;
        vv += t;
        v[i] = vv;
        float mm = m[i] * b1;
        float u = d * omb1;
        mm += u;
        m[i] = mm;
        float s = sqrtf(vv);
        s *= ibc2;
        s += eps;
        s = mm / s;
        s *= step_size;
        if (wd_mode == 2)
            pp *= decay;
        pp -= s;
        p[i] = pp;
    }
}

/* im2col: x [N, C, H, W] (4-byte elements: float32 or int32, copied as bits) into
 * out [N, OH, OW, C, kh, kw], the windows' taps (stride, padding before, dilation);
 * taps outside the input take pad's bits.  (The CNN's two: 3.1 -> 1.8 ms a step; a body
 * per instruction set since session 26: [64, 16, 14, 14] 2.38 -> 2.13 ms, col2im's back
 * 2.73 -> 2.39, one core.) */
VKG_CLONES VKG_EXPORT
void vkg_im2col_32(const unsigned *restrict x, unsigned *restrict out, ptrdiff_t N, ptrdiff_t C,
                   ptrdiff_t H, ptrdiff_t W, int kh, int kw, int sh, int sw, int ph, int pw, int dh,
                   int dw, ptrdiff_t OH, ptrdiff_t OW, unsigned pad)
{
    for (ptrdiff_t n = 0; n < N; n++)
        for (ptrdiff_t oh = 0; oh < OH; oh++)
            for (ptrdiff_t ow = 0; ow < OW; ow++) {
                ptrdiff_t iw0 = ow * sw - pw;
                /* every tap inside: copies without a test (the windows away from the edges) */
                int inside = iw0 >= 0 && iw0 + (ptrdiff_t)(kw - 1) * dw < W && oh * sh - ph >= 0
                             && oh * sh - ph + (ptrdiff_t)(kh - 1) * dh < H;
                unsigned *o = out + ((n * OH + oh) * OW + ow) * C * kh * kw;
                for (ptrdiff_t c = 0; c < C; c++) {
                    const unsigned *plane = x + (n * C + c) * H * W;
                    if (inside) {
                        const unsigned *at = plane + (oh * sh - ph) * W + iw0;
                        for (int i = 0; i < kh; i++, o += kw, at += (ptrdiff_t)dh * W) {
                            if (dw == 1 && kw == 3) {  /* (the common 3 x 3: no loop) */
                                o[0] = at[0];
                                o[1] = at[1];
                                o[2] = at[2];
                            } else if (dw == 1)
                                for (int j = 0; j < kw; j++)
                                    o[j] = at[j];
                            else
                                for (int j = 0; j < kw; j++)
                                    o[j] = at[(ptrdiff_t)j * dw];
                        }
                        continue;
                    }
                    for (int i = 0; i < kh; i++, o += kw) {
                        ptrdiff_t ih = oh * sh - ph + (ptrdiff_t)i * dh;
                        if (ih < 0 || ih >= H) {
                            for (int j = 0; j < kw; j++)
                                o[j] = pad;
                            continue;
                        }
                        const unsigned *row = plane + ih * W;
                        for (int j = 0; j < kw; j++) {
                            ptrdiff_t iw = iw0 + (ptrdiff_t)j * dw;
                            o[j] = (iw >= 0 && iw < W) ? row[iw] : pad;
                        }
                    }
                }
            }
}

/* col2im: the windows' rows cols [N, OH, OW, C, kh, kw] summed back into out
 * [N, C, H, W] (float32); each element's terms added tap by tap in the window's
 * row-major order from 0, as the NumPy path and the shader add them: the same bits.
 * Terms that fall in the padding are dropped.  (The CNN's: 3.4 -> 1.5 ms a step.) */
VKG_CLONES VKG_EXPORT
void vkg_col2im_f32(const float *restrict cols, float *restrict out, ptrdiff_t N, ptrdiff_t C,
                    ptrdiff_t H, ptrdiff_t W, int kh, int kw, int sh, int sw, int ph, int pw, int dh,
                    int dw, ptrdiff_t OH, ptrdiff_t OW)
{
    ptrdiff_t K = (ptrdiff_t)kh * kw, row_len = C * K;
    for (ptrdiff_t n = 0; n < N; n++)
        for (ptrdiff_t c = 0; c < C; c++) {
            float *o = out + (n * C + c) * H * W;
            for (ptrdiff_t e = 0; e < H * W; e++)
                o[e] = 0.0f;
            const float *g = cols + n * OH * OW * row_len + c * K;
            for (int i = 0; i < kh; i++)
                for (int j = 0; j < kw; j++)
                    for (ptrdiff_t oh = 0; oh < OH; oh++) {
                        ptrdiff_t ih = oh * sh - ph + (ptrdiff_t)i * dh;
                        if (ih < 0 || ih >= H)
                            continue;
                        float *orow = o + ih * W;
                        const float *grow = g + oh * OW * row_len + (ptrdiff_t)i * kw + j;
                        for (ptrdiff_t ow = 0; ow < OW; ow++) {
                            ptrdiff_t iw = ow * sw - pw + (ptrdiff_t)j * dw;
                            if (iw >= 0 && iw < W)
                                orow[iw] += grow[ow * row_len];
                        }
                    }
        }
}

/* 2 x 2 windows over rows of whole windows (W = 2 OW): each input row's pairs first,
 * in one stride-2 pass over a block of rows (a long loop that vectorises: the
 * pair's maximum and its column), then the two rows of each window -- the taps in
 * row-major order as vkg_maxpool_f32 takes them, below (a row's first maximum, or first NaN, against the
 * other row's: the second only if greater, or a NaN where the first is not).
 * [64, 16, 28, 28]: 1.44 -> 0.96 ms on one core. */
#define VKG_PAIRS 4096
VKG_CLONES
void vkg_maxpool_2x2(const float *restrict x, float *restrict y, int *restrict idx, ptrdiff_t P,
                     ptrdiff_t H, ptrdiff_t W, ptrdiff_t OH, ptrdiff_t OW)
{
    float hm[VKG_PAIRS];
    int hj[VKG_PAIRS];
    ptrdiff_t block = VKG_PAIRS / OW / 2 * 2;  /* input rows a block: whole windows' pairs of rows */
    for (ptrdiff_t t = 0; t < P; t++)
        for (ptrdiff_t r0 = 0; r0 < 2 * OH; r0 += block) {  /* (rows past the last window: not read) */
            ptrdiff_t r1 = r0 + block < 2 * OH ? r0 + block : 2 * OH, n = (r1 - r0) * OW;
            const float *xs = x + (t * H + r0) * W;
            for (ptrdiff_t e = 0; e < n; e++) {
                float a = xs[2 * e], b = xs[2 * e + 1];
                int take = (b > a) | ((b != b) & (a == a));
                hm[e] = vkg_pick(take, b, a);
                hj[e] = take;
            }
            for (ptrdiff_t q = 0; q < (r1 - r0) / 2; q++) {
                const float *m0 = hm + 2 * q * OW, *m1 = m0 + OW;
                const int *j0 = hj + 2 * q * OW, *j1 = j0 + OW;
                ptrdiff_t o = (t * OH + r0 / 2 + q) * OW;
                for (ptrdiff_t ow = 0; ow < OW; ow++) {
                    float a = m0[ow], b = m1[ow];
                    int take = (b > a) | ((b != b) & (a == a));
                    y[o + ow] = vkg_pick(take, b, a);  /* (bit selects and a product: OW < 16 runs the
                                                         * scalar loop, which branched on random values) */
                    idx[o + ow] = j0[ow] + take * (2 + j1[ow] - j0[ow]);
                }
            }
        }
}

/* A max pool whose windows tile the input (stride = kernel, no padding or
 * dilation): x [P, H, W] float32 planes (N * C), y and idx [P, OH, OW]; each
 * window's taps taken in row-major order, the first maximum kept, a NaN taking
 * the window (its first), as window_max.comp and the NumPy path.  Tap by tap over
 * a row of windows, without a branch (a branch per tap on random values
 * mispredicted: 1.8x NumPy's time; selects by the bits and the index by a product:
 * a row of fewer windows than a vector runs the scalar loop, whose selects GCC
 * compiled to branches -- 2 x 2 over [1024, 28, 28], one core, random values 1.05 ->
 * 0.58-0.66 ms, sorted ones 0.51 before); 2 x 2 over rows of whole windows as above. */
VKG_CLONES VKG_EXPORT
void vkg_maxpool_f32(const float *restrict x, float *restrict y, int *restrict idx, ptrdiff_t P,
                     ptrdiff_t H, ptrdiff_t W, int kh, int kw, ptrdiff_t OH, ptrdiff_t OW)
{
    if (kh == 2 && kw == 2 && W == 2 * OW && 2 * OW <= VKG_PAIRS) {
        vkg_maxpool_2x2(x, y, idx, P, H, W, OH, OW);
        return;
    }
    for (ptrdiff_t t = 0; t < P; t++)
        for (ptrdiff_t oh = 0; oh < OH; oh++) {
            const float *row0 = x + (t * H + oh * kh) * W;
            float *restrict m = y + (t * OH + oh) * OW;
            int *restrict best = idx + (t * OH + oh) * OW;
            for (ptrdiff_t ow = 0; ow < OW; ow++) {
                m[ow] = row0[ow * kw];
                best[ow] = 0;
            }
            for (int i = 0; i < kh; i++)
                for (int j = i == 0; j < kw; j++) {
                    const float *at = row0 + (ptrdiff_t)i * W + j;
                    int k = i * kw + j;
                    for (ptrdiff_t ow = 0; ow < OW; ow++) {
                        float v = at[ow * kw], cur = m[ow];
                        int take = (v > cur) | ((v != v) & (cur == cur));
                        m[ow] = vkg_pick(take, v, cur);
                        best[ow] += take * (k - best[ow]);
                    }
                }
        }
}

/* Its gradient: g [P, OH, OW] (4-byte elements, copied as bits) into y [P, H, W] at
 * each window's tap idx (in [0, kh * kw); another: no tap), +0.0 at the other taps and
 * past the last window.  A window at a time, each tap's value g's bits masked by
 * whether idx names it: no branch (the selects had compiled to branches, which random
 * maxima mispredicted: one core, 3 x 3 over [1024, 28, 28] 0.72-0.87 ms, 2 x 2 over
 * [2048, 14, 14] 1.0 ms; now 0.56-0.70 and 0.35-0.50; tap by tap with masks, the
 * strided stores ran 1.25-1.6 ms for the 3 x 3). */
static inline void vkg_maxpool_bwd_windows(const unsigned *restrict go, const int *restrict io,
                                           unsigned *restrict row0, ptrdiff_t W, int kh, int kw, ptrdiff_t OW)
{
    for (ptrdiff_t ow = 0; ow < OW; ow++) {
        unsigned v = go[ow];
        int k = io[ow];
        for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++)
                row0[(ptrdiff_t)i * W + ow * kw + j] = v & (0u - (unsigned)(k == i * kw + j));  /* (no branch) */
    }
}

VKG_CLONES VKG_EXPORT
void vkg_maxpool_bwd_32(const unsigned *restrict g, const int *restrict idx, unsigned *restrict y,
                        ptrdiff_t P, ptrdiff_t H, ptrdiff_t W, int kh, int kw, ptrdiff_t OH, ptrdiff_t OW)
{
    for (ptrdiff_t t = 0; t < P; t++) {
        unsigned *plane = y + t * H * W;
        for (ptrdiff_t oh = 0; oh < OH; oh++) {
            const unsigned *go = g + (t * OH + oh) * OW;
            const int *io = idx + (t * OH + oh) * OW;
            unsigned *row0 = plane + oh * kh * W;
            if (kh == 2 && kw == 2)  /* (2 x 2 and 3 x 3 by bodies of constant size, unrolled) */
                vkg_maxpool_bwd_windows(go, io, row0, W, 2, 2, OW);
            else if (kh == 3 && kw == 3)
                vkg_maxpool_bwd_windows(go, io, row0, W, 3, 3, OW);
            else
                vkg_maxpool_bwd_windows(go, io, row0, W, kh, kw, OW);
            for (int i = 0; i < kh; i++)  /* (columns past the last window) */
                for (ptrdiff_t w = OW * kw; w < W; w++)
                    row0[(ptrdiff_t)i * W + w] = 0u;
        }
        for (ptrdiff_t e = OH * kh * W; e < H * W; e++)
            plane[e] = 0u;
    }
}

/* Column sums of x [R, ld] (float32) over n columns from x (a chunk of them), each in
 * double in row order (so the same bits whatever the chunks), 256 columns at a time
 * down all the rows: a bias's gradient, [1024, 512] 53 us, NumPy's pairwise float32
 * sums 75 (two threads); steps: transformer 0.964x, LSTM 0.976x, MLP 0.982x the time,
 * paired.  (Tall, narrow ones -- a convolution's [N OH OW, C] -- stay BLAS's gemv:
 * 8 columns a chunk do not fill a vector.) */
VKG_CLONES VKG_EXPORT
void vkg_colsum_f32(const float *restrict x, float *restrict out, ptrdiff_t n, ptrdiff_t R, ptrdiff_t ld)
{
    enum { B = 256 };
    double acc[B];
    for (ptrdiff_t c0 = 0; c0 < n; c0 += B) {
        ptrdiff_t m = n - c0 < B ? n - c0 : B;
        for (ptrdiff_t j = 0; j < m; j++)
            acc[j] = 0.0;
        for (ptrdiff_t r = 0; r < R; r++) {
            const float *row = x + r * ld + c0;
            for (ptrdiff_t j = 0; j < m; j++)
                acc[j] += row[j];
        }
        for (ptrdiff_t j = 0; j < m; j++)
            out[c0 + j] = (float)acc[j];
    }
}

/* y[idx[p]] += rows[p] (rows of D floats) for every position p in order (idx in [0,
 * rows of y): the caller checks): np.add.at's sums, bit for bit -- an embedding's
 * gradient ([1024, 128] into 512 rows: 0.36-0.6 ms by NumPy's ranked adds, 38 us so;
 * the transformer block's step 0.973x the time, paired). */
VKG_CLONES VKG_EXPORT
void vkg_index_add_rows_f32(float *restrict y, const int *restrict idx, const float *restrict rows, ptrdiff_t B,
                            ptrdiff_t D)
{
    for (ptrdiff_t p = 0; p < B; p++) {
        float *yr = y + (ptrdiff_t)idx[p] * D;
        const float *r = rows + p * D;
        for (ptrdiff_t j = 0; j < D; j++)
            yr[j] += r[j];
    }
}

/* A permute that is B matrices [R, C] transposed (4-byte elements, their bits):
 * y[b, c, r] = x[b, r, c], by 16 x 16 tiles, so that both the rows read and the
 * rows written stay in the cache (a convolution's rows [64, 784, 16] to channels
 * first: 262 us against NumPy's strided copy's 480, one core). */
VKG_CLONES VKG_EXPORT
void vkg_transpose_32(const unsigned *restrict x, unsigned *restrict y, ptrdiff_t B, ptrdiff_t R, ptrdiff_t C)
{
    enum { T = 16 };
    for (ptrdiff_t b = 0; b < B; b++) {
        const unsigned *xb = x + b * R * C;
        unsigned *yb = y + b * R * C;
        for (ptrdiff_t r0 = 0; r0 < R; r0 += T)
            for (ptrdiff_t c0 = 0; c0 < C; c0 += T) {
                ptrdiff_t r1 = r0 + T < R ? r0 + T : R, c1 = c0 + T < C ? c0 + T : C;
                if (r1 - r0 == T && c1 - c0 == T) {  /* (a whole tile: constant bounds, unrolled) */
                    for (ptrdiff_t c = c0; c < c0 + T; c++)
                        for (ptrdiff_t r = r0; r < r0 + T; r++)
                            yb[c * R + r] = xb[r * C + c];
                } else {
                    for (ptrdiff_t c = c0; c < c1; c++)
                        for (ptrdiff_t r = r0; r < r1; r++)
                            yb[c * R + r] = xb[r * C + c];
                }
            }
    }
}

/* exp(x) for x <= 0, in plain arithmetic so that a loop calling it vectorises
 * (libm's expf is a call per element): Cephes' expf -- x = n ln2 + r, |r| <= ln2 / 2,
 * a degree-6 polynomial in r, times 2^n in two halves (down to 2^-150: subnormal
 * results); within 2 ULP of NumPy's exp (not its bits); a NaN gives itself. */
static inline float vkg_exp_nonpos(float x)
{
    unsigned ab = vkg_bits(x) & 0x7fffffffu;
    float xc = vkg_pick(ab > 0x42d00000u, -104.0f, x);  /* |x| > 104 or NaN: -104 */
    float v = xc * 1.44269504088896341f;
    int ni = (int)(v - 0.5f);                             /* nearest, for v <= 0 */
    float n = (float)ni;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int n1 = ni / 2, n2 = ni - n1;
    float y = p * vkg_float((unsigned)(n1 + 127) << 23) * vkg_float((unsigned)(n2 + 127) << 23);
    return vkg_pick(ab > 0x7f800000u, x, y);  /* a NaN: itself */
}

/* erf by Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7), the steps of cpu.erf and the
 * shaders' erf_f in their order, exp apart (vkg_exp_nonpos). */
static inline float vkg_erf(float x)
{
    float a = fabsf(x);
    float t = a * 0.3275911f;
    t += 1.0f;
    t = 1.0f / t;
    float p = t * 1.061405429f;
    p += -1.453152027f;
    p *= t;
    p += 1.421413741f;
    p *= t;
    p += -0.284496736f;
    p *= t;
    p += 0.254829592f;
    p *= t;
    p *= vkg_exp_nonpos(-(a * a));
    p = 1.0f - p;
    return copysignf(p, x);
}

/* ReLU with NumPy's maximum(x, 0)'s bits: x where x > 0 or a NaN (its payload
 * kept), else +0 (-0 too); and its gradient g (x > 0), a product by 1 or 0 as
 * NumPy's g * (x > 0) (-0 where g < 0 and x <= 0; a NaN g stays NaN).  y may be x
 * (in place: each element read before its own write). */
VKG_CLONES VKG_EXPORT
void vkg_relu_f32(const float *x, float *y, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = (v > 0.0f) | (v != v) ? v : 0.0f;
    }
}

VKG_CLONES VKG_EXPORT
void vkg_relu_bwd_f32(const float *x, const float *g, float *out, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        out[i] = x[i] <= 0.0f ? 0.0f : g[i];  /* (a select, as PyTorch's threshold_backward: an inf gradient
                                                 at 0 is 0, not NaN; a NaN x passes g) */
}

/* y = a + b over whole arrays (NumPy's add's bits: one IEEE addition), y may be a or
 * b: a residual's add and a gradient's sum, split over the C pool (NumPy's add runs
 * on one thread: [32, 32, 32, 32] 1.04 ms) */
VKG_CLONES VKG_EXPORT
void vkg_add_f32(const float *a, const float *b, float *y, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

/* GELU, x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, as cpu._gelu (NumPy: 16 passes) */
VKG_CLONES VKG_EXPORT
void vkg_gelu_f32(const float *restrict x, float *restrict y, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i];
        float e = vkg_erf(v * 0.70710678118654752f);
        e += 1.0f;
        e *= v;
        e *= 0.5f;
        y[i] = e;
    }
}

/* g GELU'(x) = g (Phi(x) + x phi(x)), as cpu._gelu_bwd */
VKG_CLONES VKG_EXPORT
void vkg_gelu_bwd_f32(const float *restrict x, const float *restrict g, float *restrict out, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i];
        float d = vkg_erf(v * 0.70710678118654752f);
        d += 1.0f;
        d *= 0.5f;
        float t = v * v;
        t *= -0.5f;
        t = vkg_exp_nonpos(t);
        t *= v;
        t *= 0.398942280401432678f;
        d += t;
        d *= g[i];
        out[i] = d;
    }
}

/* the shaders' and cpu._sigmoid's sigmoid: e = exp(-|x|), (x > 0 ? 1 : e) / (1 + e) */
static inline float vkg_sigmoid(float x)
{
    float e = vkg_exp_nonpos(-fabsf(x));
    float u = x > 0.0f ? 1.0f : e;
    u = e > u ? e : u;                    /* (max(e, x > 0), as the NumPy path) */
    return u / (e + 1.0f);
}

/* tanh: Cephes' tanhf -- x + x^3 P(x^2) below 0.625, 1 - 2 e / (1 + e) with
 * e = exp(-2|x|) above, the sign put back; both computed, one kept by the bits.
 * Within a few ULP of NumPy's tanh. */
static inline float vkg_tanh(float x)
{
    float a = fabsf(x), s = x * x;
    float p = -5.70498872745e-3f;
    p = p * s + 2.06390887954e-2f;
    p = p * s - 5.37397155531e-2f;
    p = p * s + 1.33314422036e-1f;
    p = p * s - 3.33332819422e-1f;
    float small = p * s * x + x;
    float e = vkg_exp_nonpos(-2.0f * a);
    float large = 1.0f - 2.0f * e / (1.0f + e);
    large = copysignf(large, x);
    return vkg_pick(vkg_bits(a) < 0x3f200000u, small, large);  /* |x| < 0.625 (a NaN: large's, NaN) */
}

/* One LSTM step, as cpu.lstm_cell: s = xg + hg [N, 4H]; acts = [sigmoid(i),
 * sigmoid(f), tanh(g), sigmoid(o)]; c2 = f c + i g; h = o tanh(c2) (float32). */
VKG_CLONES VKG_EXPORT
void vkg_lstm_cell_f32(const float *restrict xg, const float *restrict hg, const float *restrict c,
                       float *restrict h, float *restrict c2, float *restrict acts, ptrdiff_t N, ptrdiff_t H)
{
    for (ptrdiff_t r = 0; r < N; r++) {
        const float *xs = xg + r * 4 * H, *hs = hg + r * 4 * H;
        float *a = acts + r * 4 * H;
        for (ptrdiff_t k = 0; k < 2 * H; k++)
            a[k] = vkg_sigmoid(xs[k] + hs[k]);
        for (ptrdiff_t k = 2 * H; k < 3 * H; k++)
            a[k] = vkg_tanh(xs[k] + hs[k]);
        for (ptrdiff_t k = 3 * H; k < 4 * H; k++)
            a[k] = vkg_sigmoid(xs[k] + hs[k]);
        for (ptrdiff_t j = 0; j < H; j++) {
            float fc = a[H + j] * c[r * H + j];
            float ig = a[j] * a[2 * H + j];
            float cn = fc + ig;
            c2[r * H + j] = cn;
            h[r * H + j] = a[3 * H + j] * vkg_tanh(cn);
        }
    }
}

/* Its gradient, as cpu.lstm_cell_bwd: dct = dh o (1 - tanh(c2)^2) (+ dc);
 * dgates = [dct g i (1 - i), dct c f (1 - f), dct i (1 - g^2), dh tanh(c2) o (1 - o)];
 * dc_prev = dct f.  dc may be NULL: nothing added (not + 0, which turns -0 to +0). */
static inline void vkg_lstm_bwd_rows(const float *restrict dh, const float *restrict dc,
                                     const float *restrict acts, const float *restrict c,
                                     const float *restrict c2, float *restrict dg, float *restrict dcp,
                                     ptrdiff_t N, ptrdiff_t H, int has_dc)
{
    for (ptrdiff_t r = 0; r < N; r++) {
        const float *a = acts + r * 4 * H;
        float *d = dg + r * 4 * H;
        for (ptrdiff_t j = 0; j < H; j++) {
            ptrdiff_t e = r * H + j;
            float i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
            float tc = vkg_tanh(c2[e]);
            float dct = dh[e] * o;
            dct *= 1.0f - tc * tc;
            if (has_dc)
                dct += dc[e];
            d[j] = dct * g * i * (1.0f - i);
            d[H + j] = dct * c[e] * f * (1.0f - f);
            d[2 * H + j] = dct * i * (1.0f - g * g);
            d[3 * H + j] = dh[e] * tc * o * (1.0f - o);
            dcp[e] = dct * f;
        }
    }
}

VKG_CLONES VKG_EXPORT
void vkg_lstm_cell_bwd_f32(const float *restrict dh, const float *restrict dc, const float *restrict acts,
                           const float *restrict c, const float *restrict c2, float *restrict dg,
                           float *restrict dcp, ptrdiff_t N, ptrdiff_t H)
{
    if (dc)
        vkg_lstm_bwd_rows(dh, dc, acts, c, c2, dg, dcp, N, H, 1);
    else
        vkg_lstm_bwd_rows(dh, dc, acts, c, c2, dg, dcp, N, H, 0);
}

/* 16 floats, 8 doubles: GCC's vector extensions, one 512-bit register in the AVX-512
 * clone, two or four narrower ones in the others -- for the rows' sums (in double, 16
 * lanes: an in-order sum does not vectorise, and the auto-vectoriser left 8-lane
 * loops scalar).  Their helpers always inline: a static function is compiled for the
 * default target, and an uninlined one ran every clone's rows in SSE2 (softmax over
 * [4096, 64]: 2.5 ns an element, 1.25 now; setup.py's -Wno-psabi: their vectors never
 * cross a call). */
typedef float vkg_f16v __attribute__((vector_size(64)));
typedef int vkg_i16v __attribute__((vector_size(64)));
typedef float vkg_f8v __attribute__((vector_size(32)));
typedef double vkg_d8v __attribute__((vector_size(64)));

static inline __attribute__((always_inline)) vkg_f16v vkg_load16(const float *p)
{
    vkg_f16v v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* v's 16 floats in double, added lane-wise into *lo, *hi (the sums' 16 lanes) */
static inline __attribute__((always_inline)) void vkg_acc_d(vkg_f16v v, vkg_d8v *lo, vkg_d8v *hi)
{
    vkg_f8v a, b;
    memcpy(&a, &v, sizeof a);
    memcpy(&b, (const char *)&v + sizeof a, sizeof b);
    *lo += __builtin_convertvector(a, vkg_d8v);
    *hi += __builtin_convertvector(b, vkg_d8v);
}

static inline __attribute__((always_inline)) double vkg_sum_d(vkg_d8v lo, vkg_d8v hi)
{
    vkg_d8v t = lo + hi;
    double s = 0.0;
    for (int k = 0; k < 8; k++)
        s += t[k];
    return s;
}

/* p[0:n]'s sum in double: 16 lanes, then the tail in order */
static inline __attribute__((always_inline)) double vkg_row_sum_d(const float *p, ptrdiff_t n)
{
    ptrdiff_t nv = n - n % 16;
    vkg_d8v lo = {0}, hi = {0};
    for (ptrdiff_t j = 0; j < nv; j += 16)
        vkg_acc_d(vkg_load16(p + j), &lo, &hi);
    double s = vkg_sum_d(lo, hi);
    for (ptrdiff_t j = nv; j < n; j++)
        s += p[j];
    return s;
}

/* p[0:n]'s squared differences from m, (p - m)^2 each in float32, summed in double
 * (16 lanes, then the tail in order) */
static inline __attribute__((always_inline)) double vkg_row_sqdev_d(const float *p, ptrdiff_t n, float m)
{
    ptrdiff_t nv = n - n % 16;
    vkg_d8v lo = {0}, hi = {0};
    for (ptrdiff_t j = 0; j < nv; j += 16) {
        vkg_f16v d = vkg_load16(p + j) - m;
        vkg_acc_d(d * d, &lo, &hi);
    }
    double q = vkg_sum_d(lo, hi);
    for (ptrdiff_t j = nv; j < n; j++) {
        float d = p[j] - m;
        q += (double)(d * d);
    }
    return q;
}

/* Layer norm over the rows of x [R, D] (float32), as cpu.layer_norm: mean, rstd =
 * 1 / sqrt(mean((x - mean)^2) + eps), y = (x - mean) rstd (* w) (+ b); w, b may be
 * NULL.  The rows' sums in double, in 16 lanes (NumPy's path: float32 pairwise
 * sums), so within 1e-6 of it, not its bits. */
VKG_CLONES VKG_EXPORT
void vkg_layer_norm_f32(const float *restrict x, const float *restrict w, const float *restrict b,
                        float *restrict y, float *restrict mean, float *restrict rstd, ptrdiff_t R, ptrdiff_t D,
                        float eps)
{
    for (ptrdiff_t r = 0; r < R; r++) {
        const float *xr = x + r * D;
        float *yr = y + r * D;
        float m = (float)(vkg_row_sum_d(xr, D) / (double)D);
        float var = (float)(vkg_row_sqdev_d(xr, D, m) / (double)D);
        float rs = 1.0f / sqrtf(var + eps);
        for (ptrdiff_t j = 0; j < D; j++) {
            float d = (xr[j] - m) * rs;
            if (w)
                d *= w[j];
            if (b)
                d += b[j];
            yr[j] = d;
        }
        mean[r] = m;
        rstd[r] = rs;
    }
}

/* Its gradient, as cpu.layer_norm_bwd: xhat = (x - mean) rstd, gw = g (* w),
 * dx = rstd (gw - mean(gw) - xhat mean(gw xhat)); gx = g xhat (the weight's
 * gradient before its sum over rows) where gx is not NULL. */
VKG_CLONES VKG_EXPORT
void vkg_layer_norm_bwd_f32(const float *restrict g, const float *restrict x, const float *restrict w,
                            const float *restrict mean, const float *restrict rstd, float *restrict dx,
                            float *restrict gx, ptrdiff_t R, ptrdiff_t D)
{
    ptrdiff_t Dv = D - D % 16;
    for (ptrdiff_t r = 0; r < R; r++) {
        const float *gr = g + r * D, *xr = x + r * D;
        float m = mean[r], rs = rstd[r];
        vkg_d8v a1lo = {0}, a1hi = {0}, a2lo = {0}, a2hi = {0};
        for (ptrdiff_t j = 0; j < Dv; j += 16) {
            vkg_f16v xh = (vkg_load16(xr + j) - m) * rs, gw = vkg_load16(gr + j);
            if (w)
                gw *= vkg_load16(w + j);
            vkg_acc_d(gw, &a1lo, &a1hi);
            vkg_acc_d(gw * xh, &a2lo, &a2hi);
        }
        double s1 = vkg_sum_d(a1lo, a1hi), s2 = vkg_sum_d(a2lo, a2hi);
        for (ptrdiff_t j = Dv; j < D; j++) {
            float xh = (xr[j] - m) * rs;
            float gw = w ? gr[j] * w[j] : gr[j];
            s1 += gw;
            s2 += (double)(gw * xh);
        }
        float a = (float)(s1 / (double)D), c = (float)(s2 / (double)D);
        for (ptrdiff_t j = 0; j < D; j++) {
            float xh = (xr[j] - m) * rs;
            float gw = w ? gr[j] * w[j] : gr[j];
            dx[r * D + j] = rs * (gw - a - xh * c);
            if (gx)
                gx[r * D + j] = gr[j] * xh;
        }
    }
}

/* Batch norm over channel planes, as cpu.batchnorm_fwd on rows [N S, C] but without
 * the transposes there and back: x [N, C, S] (float32), nc channels from the
 * pointers' (x, y at the chunk's first channel's plane of image 0; mean, var,
 * invstd, gamma, beta at its entry).  Each channel's statistics over its N planes
 * in double (the mean, then the squared differences from it), y = (x - mean)
 * (invstd gamma) + beta.  (The rows' way: a transpose, NumPy's passes over a tall
 * narrow [N S, C] -- its axis-0 sums run their inner loop once a row --, a
 * transpose back.) */
VKG_CLONES VKG_EXPORT
void vkg_bn_planes_f32(const float *x, float *y, float *mean, float *var, float *invstd, const float *gamma,
                       const float *beta, ptrdiff_t nc, ptrdiff_t N, ptrdiff_t C, ptrdiff_t S, float eps)
{
    double M = (double)(N * S);
    for (ptrdiff_t c = 0; c < nc; c++) {
        double sum = 0.0, q = 0.0;
        for (ptrdiff_t n = 0; n < N; n++)
            sum += vkg_row_sum_d(x + (n * C + c) * S, S);
        float m = (float)(sum / M);
        for (ptrdiff_t n = 0; n < N; n++)
            q += vkg_row_sqdev_d(x + (n * C + c) * S, S, m);
        float v = (float)(q / M), is = 1.0f / sqrtf(v + eps), k = is * gamma[c], b = beta[c];
        for (ptrdiff_t n = 0; n < N; n++) {
            const float *xp = x + (n * C + c) * S;
            float *yp = y + (n * C + c) * S;
            for (ptrdiff_t i = 0; i < S; i++)
                yp[i] = (xp[i] - m) * k + b;
        }
        mean[c] = m;
        var[c] = v;
        invstd[c] = is;
    }
}

/* Its gradient, as cpu.batchnorm_bwd: xhat = (x - mean) invstd, dbeta = sum g,
 * dgamma = sum g xhat (in double), dx = invstd gamma (g - dbeta / M - xhat dgamma / M)
 * over the M = N S values of each channel. */
VKG_CLONES VKG_EXPORT
void vkg_bn_planes_bwd_f32(const float *g, const float *x, float *dx, float *dgamma, float *dbeta, const float *mean,
                           const float *invstd, const float *gamma, ptrdiff_t nc, ptrdiff_t N, ptrdiff_t C, ptrdiff_t S)
{
    double M = (double)(N * S);
    ptrdiff_t Sv = S - S % 16;
    for (ptrdiff_t c = 0; c < nc; c++) {
        float m = mean[c], is = invstd[c];
        vkg_d8v alo = {0}, ahi = {0}, blo = {0}, bhi = {0};
        double db = 0.0, dg = 0.0;
        for (ptrdiff_t n = 0; n < N; n++) {
            const float *gp = g + (n * C + c) * S, *xp = x + (n * C + c) * S;
            for (ptrdiff_t i = 0; i < Sv; i += 16) {
                vkg_f16v gv = vkg_load16(gp + i), xh = (vkg_load16(xp + i) - m) * is;
                vkg_acc_d(gv, &alo, &ahi);
                vkg_acc_d(gv * xh, &blo, &bhi);
            }
            for (ptrdiff_t i = Sv; i < S; i++) {
                db += gp[i];
                dg += (double)(gp[i] * ((xp[i] - m) * is));
            }
        }
        db += vkg_sum_d(alo, ahi);
        dg += vkg_sum_d(blo, bhi);
        float k = is * gamma[c], a = (float)(db / M), b = (float)(dg / M);
        for (ptrdiff_t n = 0; n < N; n++) {
            const float *gp = g + (n * C + c) * S, *xp = x + (n * C + c) * S;
            float *dp = dx + (n * C + c) * S;
            for (ptrdiff_t i = 0; i < S; i++)
                dp[i] = k * (gp[i] - a - ((xp[i] - m) * is) * b);
        }
        dbeta[c] = (float)db;
        dgamma[c] = (float)dg;
    }
}

/* A row's maximum (a NaN if the row has one, as NumPy's) and its exps' sum after
 * e[j] = exp(x[j] - max) into e; the sums in double over 16 lanes. */
static inline __attribute__((always_inline)) float vkg_row_exp(const float *restrict x, float *restrict e, ptrdiff_t V, double *sum)
{
    ptrdiff_t Vv = V - V % 16;
    float m = x[0];
    int nan = 0;
    if (Vv) {
        vkg_f16v mx = vkg_load16(x);
        vkg_i16v bad = mx != mx;
        for (ptrdiff_t j = 16; j < Vv; j += 16) {
            vkg_f16v v = vkg_load16(x + j);
            vkg_i16v gt = v > mx;
            bad |= v != v;
            mx = (vkg_f16v)(((vkg_i16v)v & gt) | ((vkg_i16v)mx & ~gt));
        }
        m = mx[0];
        for (int k = 1; k < 16; k++) {
            m = mx[k] > m ? mx[k] : m;
            nan |= bad[k];
        }
        nan |= bad[0];
    }
    for (ptrdiff_t j = Vv; j < V; j++) {
        nan |= x[j] != x[j];
        m = x[j] > m ? x[j] : m;
    }
    if (nan)
        m = NAN;
    for (ptrdiff_t j = 0; j < V; j++)
        e[j] = vkg_exp_nonpos(x[j] - m);
    *sum = vkg_row_sum_d(e, V);
    return m;
}

/* softmax (or log-softmax) of the rows of x [R, V] (float32), as cpu's softmax: a
 * row with a NaN, or of -inf only, comes out NaN.  Within 1e-6 of NumPy's path. */
VKG_CLONES VKG_EXPORT
void vkg_softmax_f32(const float *restrict x, float *restrict y, ptrdiff_t R, ptrdiff_t V, int log_)
{
    for (ptrdiff_t r = 0; r < R; r++) {
        const float *xr = x + r * V;
        float *yr = y + r * V;
        double s;
        float m = vkg_row_exp(xr, yr, V, &s);
        float fs = (float)s;
        if (log_) {
            float ls = logf(fs);
            for (ptrdiff_t j = 0; j < V; j++)
                yr[j] = (xr[j] - m) - ls;
        } else {
            for (ptrdiff_t j = 0; j < V; j++)
                yr[j] /= fs;
        }
    }
}

/* softmax's gradient over the rows of y, g [R, V] (float32), as Backend.softmax_bwd:
 * dx = y (g - sum(g y)), or for log-softmax (y its output, <= 0) dx = g - exp(y) sum(g);
 * the sums in double over 16 lanes (NumPy's: float32 pairwise), so within 1e-6 of it.
 * NumPy's path is four passes and their temporaries: the transformer's step 0.966x with
 * this one (paired). */
VKG_CLONES VKG_EXPORT
void vkg_softmax_bwd_f32(const float *restrict y, const float *restrict g, float *restrict dx, ptrdiff_t R,
                         ptrdiff_t V, int log_)
{
    ptrdiff_t Vv = V - V % 16;
    for (ptrdiff_t r = 0; r < R; r++) {
        const float *yr = y + r * V, *gr = g + r * V;
        float *dr = dx + r * V;
        if (log_) {
            float fs = (float)vkg_row_sum_d(gr, V);
            for (ptrdiff_t j = 0; j < V; j++)
                dr[j] = gr[j] - vkg_exp_nonpos(yr[j]) * fs;
            continue;
        }
        vkg_d8v lo = {0}, hi = {0};  /* (sum(g y): the same lanes over the products) */
        for (ptrdiff_t j = 0; j < Vv; j += 16)
            vkg_acc_d(vkg_load16(gr + j) * vkg_load16(yr + j), &lo, &hi);
        double s = vkg_sum_d(lo, hi);
        for (ptrdiff_t j = Vv; j < V; j++)
            s += (double)(gr[j] * yr[j]);
        float fs = (float)s;
        for (ptrdiff_t j = 0; j < V; j++)
            dr[j] = yr[j] * (gr[j] - fs);
    }
}

/* Softmax cross-entropy of logits [R, V] against int32 labels (tgt NULL) or against
 * target rows tgt [R, V] (lab NULL), as cpu's softmax_xent: grad = (softmax * sum(target) - target)
 * / n, the rows' log-softmax at their labels, or times their targets (terms of zero
 * targets left out: 0 log 0 where a logit is -inf), summed (returned in double; the
 * caller negates and divides).  Returns NaN, grad unwritten past that row, if a
 * label is outside [0, V): the caller takes NumPy's path, which makes that row NaN. */
VKG_CLONES VKG_EXPORT
double vkg_softmax_xent_f32(const float *restrict c, const int *restrict lab, const float *restrict tgt,
                            float *restrict grad, ptrdiff_t R, ptrdiff_t V, float n)
{
    double loss = 0.0;
    for (ptrdiff_t r = 0; r < R; r++) {
        int l = lab ? lab[r] : 0;
        if (l < 0 || l >= V)
            return NAN;
        const float *cr = c + r * V;
        float *gr = grad + r * V;
        double s;
        float m = vkg_row_exp(cr, gr, V, &s);
        float fs = (float)s;
        float ls = logf(fs);
        if (lab) {
            loss += (double)((cr[l] - m) - ls);
            for (ptrdiff_t j = 0; j < V; j++)
                gr[j] /= fs;
            gr[l] -= 1.0f;
        } else {  /* gradient softmax * sum(t) - t: rows need not sum to 1 (zeroed, multi-hot) */
            const float *tr = tgt + r * V;
            float st = 0.0f;
            for (ptrdiff_t j = 0; j < V; j++)
                st += tr[j];
            vkg_d8v lo = {0}, hi = {0};
            ptrdiff_t Vv = V - V % 16;
            for (ptrdiff_t j = 0; j < Vv; j += 16) {
                vkg_f16v t = vkg_load16(tr + j), z = (vkg_load16(cr + j) - m) - ls;
                vkg_f16v g = vkg_load16(gr + j) / fs * st - t;
                vkg_acc_d((vkg_f16v)((vkg_i16v)(t * z) & (t != 0.0f)), &lo, &hi);  /* (zero targets: +0) */
                memcpy(gr + j, &g, sizeof g);
            }
            for (ptrdiff_t j = Vv; j < V; j++) {
                float t = tr[j], z = (cr[j] - m) - ls;
                loss += t != 0.0f ? (double)(t * z) : 0.0;
                gr[j] = gr[j] / fs * st - t;
            }
            loss += vkg_sum_d(lo, hi);
        }
        for (ptrdiff_t j = 0; j < V; j++)
            gr[j] /= n;
    }
    return loss;
}

/* vkg_softmax_xent_f32 over nb blocks of `per` rows (the last of what is left of
 * rows_left), each block's loss sum into loss[b] as a float (cpu.softmax_xent's
 * blocks, fixed by the shape, summed in order by the caller: the same bits whatever
 * the thread count); NaN in a block with a label out of range */
VKG_EXPORT
void vkg_xent_blocks_f32(const float *c, const int *lab, const float *tgt, float *grad, float *loss,
                         ptrdiff_t rows_left, ptrdiff_t nb, ptrdiff_t per, ptrdiff_t V, float n)
{
    for (ptrdiff_t b = 0; b < nb; b++) {
        ptrdiff_t rows = rows_left - b * per < per ? rows_left - b * per : per;
        loss[b] = (float)vkg_softmax_xent_f32(c + b * per * V, lab ? lab + b * per : NULL,
                                              tgt ? tgt + b * per * V : NULL, grad + b * per * V, rows, V, n);
    }
}

/* The GRU cell, as cpu.gru_cell: gates [r, z, n] from xg and hg [N, 3H] (PyTorch's
 * order), r = sigmoid(xr + hr), z = sigmoid(xz + hz), n = tanh(xn + r hn),
 * h' = n + z (h - n); acts = [r, z, n]. */
VKG_CLONES VKG_EXPORT
void vkg_gru_cell_f32(const float *restrict xg, const float *restrict hg, const float *restrict h,
                      float *restrict hn, float *restrict acts, ptrdiff_t N, ptrdiff_t H)
{
    for (ptrdiff_t r = 0; r < N; r++) {
        const float *xs = xg + r * 3 * H, *hs = hg + r * 3 * H;
        float *a = acts + r * 3 * H;
        for (ptrdiff_t k = 0; k < 2 * H; k++)
            a[k] = vkg_sigmoid(xs[k] + hs[k]);
        for (ptrdiff_t j = 0; j < H; j++) {
            float rh = a[j] * hs[2 * H + j];
            float n = vkg_tanh(xs[2 * H + j] + rh);
            a[2 * H + j] = n;
            float d = h[r * H + j] - n;
            d *= a[H + j];
            hn[r * H + j] = n + d;
        }
    }
}

/* Its gradient, as cpu.gru_cell_bwd: dn = dh (1 - z) (1 - n^2), dz = dh (h - n) z (1 - z),
 * dr = dn hn r (1 - r); dxg = [dr, dz, dn], dhg = [dr, dz, dn r], dh_prev's direct part dh z. */
VKG_CLONES VKG_EXPORT
void vkg_gru_cell_bwd_f32(const float *restrict dh, const float *restrict acts, const float *restrict hg,
                          const float *restrict h, float *restrict dxg, float *restrict dhg, float *restrict dhp,
                          ptrdiff_t N, ptrdiff_t H)
{
    for (ptrdiff_t r = 0; r < N; r++) {
        const float *a = acts + r * 3 * H, *hs = hg + r * 3 * H;
        float *dx = dxg + r * 3 * H, *dg = dhg + r * 3 * H;
        for (ptrdiff_t j = 0; j < H; j++) {
            ptrdiff_t e = r * H + j;
            float rr = a[j], z = a[H + j], n = a[2 * H + j], g = dh[e];
            float dn = g * (1.0f - z);
            dn *= 1.0f - n * n;
            float dz = g * (h[e] - n);
            dz *= z;
            dz *= 1.0f - z;
            float dr = dn * hs[2 * H + j];
            dr *= rr;
            dr *= 1.0f - rr;
            dx[j] = dr;
            dx[H + j] = dz;
            dx[2 * H + j] = dn;
            dg[j] = dr;
            dg[H + j] = dz;
            dg[2 * H + j] = dn * rr;
            dhp[e] = g * z;
        }
    }
}

/* ---- float32 products and the loops above split over a pool of spinning threads ----
 * vkg_sgemm_par runs C = op(A) op(B) (the caller's dnnl_sgemm, alpha 1, beta 0; then
 * + bias and ReLU where given, each chunk while it is in the cache) in `chunks` parts of C's rows (by_cols = 0) or columns (1), or of a batch's items
 * (batch > 1; item i at A + i sa, B + i sb, C + i sc), each on one OpenMP thread;
 * vkg_rows_par one of the loops above over `chunks` parts of its leading axis's rows.
 * The calling thread and the pool's threads claim the chunks in turn (an atomic
 * ticket), so a job never waits for a sleeping worker to wake: the caller runs what
 * nobody took (a waking worker took 100-300 us on this 2-core VM, longer than the
 * product after a pause; each worker with its own fixed chunk, the LSTM's step took
 * 10.6-13.3 ms, claimed 10.8-11.3: alternating processes, four pairs).  Python's
 * threads handed a chunk over in 115-215 us here (a futex wake-up of an idle
 * virtual CPU, then the GIL), longer than a [64, 128] @ [128, 512] product or a
 * softmax over [256, 1000] takes; these workers poll for the next job for
 * VKG_SPIN_NS after each (pause, then sched_yield: a runnable thread on their core
 * goes first), then sleep on a condition variable.
 * One job at a time: a caller that finds the pool busy (another Python thread's
 * job) runs its own whole. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

typedef int (*vkg_gemm_t)(char, char, int64_t, int64_t, int64_t, float, const float *, int64_t,
                          const float *, int64_t, float, float *, int64_t);
typedef void (*vkg_set_threads_t)(int);
typedef int (*vkg_max_threads_t)(void);
/* a loop above called on count rows from the argument words w (addresses already at the chunk's rows) */
typedef void (*vkg_rows_t)(const int64_t *w, int64_t count);

#define VKG_MAX_WORKERS 63
/* 1 ms: a training step's Python between two jobs outlasts 200 us, and a sleeping worker
 * left the caller all the chunks (transformer step 0.934x, CNN 0.966x, MLP 0.982x the time
 * of 200 us, LSTM 1.00x, paired; 3 ms no better) */
#define VKG_SPIN_NS 1000000L
#define VKG_MAX_WORDS 24

struct vkg_job {
    int chunks;
    /* a product (rows == NULL) */
    vkg_gemm_t gemm;
    vkg_set_threads_t set_threads;
    vkg_max_threads_t max_threads;
    int by_cols;
    char ta, tb;
    int64_t M, N, K;
    const float *A;
    int64_t lda;
    const float *B;
    int64_t ldb;
    float *C;
    int64_t ldc;
    int64_t batch, sa, sb, sc;           /* items (more than one: chunks of whole items) and their strides */
    const float *bias;                   /* the epilogue on each chunk while it is in the cache: + bias[N] */
    int relu;                            /* (NULL / 0: none), then ReLU */
    /* or a loop over rows */
    vkg_rows_t rows;
    int64_t n, unit;                     /* rows, and the count the loop takes per row */
    int nw;
    int64_t w[VKG_MAX_WORDS], step[VKG_MAX_WORDS];  /* argument words; bytes a row of the address ones */
};
static struct vkg_job vkg_job;           /* the pool's current job */
static _Atomic long vkg_epoch;           /* bumped for each job (workers wait for a change) */
/* the current job's epoch << 32 | its chunks << 16 | the next chunk to claim: claimed by
 * compare-and-swap, so a claim names its job (a late worker claims nothing of a
 * finished one); the job stays published until all its chunks are done */
static _Atomic uint64_t vkg_ticket;
static _Atomic int vkg_done;             /* the job's chunks done */
static _Atomic int vkg_status;           /* the largest dnnl status of the job's chunks */
static int vkg_workers;                  /* threads started */
static long vkg_seen0[VKG_MAX_WORKERS];   /* the epoch at each one's start */
static int vkg_sleepers;                 /* workers waiting on vkg_wake (under vkg_sleep) */
static pthread_mutex_t vkg_busy = PTHREAD_MUTEX_INITIALIZER;   /* one job at a time */
static pthread_mutex_t vkg_sleep = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t vkg_wake = PTHREAD_COND_INITIALIZER;

static long vkg_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void vkg_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* C [M, N] (rows ldc apart) += bias[N] where bias, then ReLU where relu (vkg_relu_f32):
 * NumPy's epilogue (cpu._epilogue) on a product's chunk while it is in the cache */
VKG_CLONES
void vkg_bias_relu_f32(float *C, int64_t M, int64_t N, int64_t ldc, const float *bias, int relu)
{
    for (int64_t i = 0; i < M; i++) {
        float *row = C + i * ldc;
        if (bias)
            for (int64_t k = 0; k < N; k++)
                row[k] += bias[k];
        if (relu)
            vkg_relu_f32(row, row, N);
    }
}

/* a product chunk's gemm, then its epilogue */
static int vkg_gemm_chunk(const struct vkg_job *j, int64_t M, int64_t N, const float *A, const float *B, float *C,
                          const float *bias)
{
    int st = j->gemm(j->ta, j->tb, M, N, j->K, 1.0f, A, j->lda, B, j->ldb, 0.0f, C, j->ldc);
    if (st == 0 && (bias || j->relu))
        vkg_bias_relu_f32(C, M, N, j->ldc, bias, j->relu);
    return st;
}

/* chunk c of job j: its rows, items, or its product's rows or columns, cut as n * c / chunks */
static int vkg_chunk(const struct vkg_job *j, int c)
{
    int64_t n = j->rows ? j->n : j->batch > 1 ? j->batch : j->by_cols ? j->N : j->M;
    int64_t s = n * c / j->chunks, e = n * (c + 1) / j->chunks;
    if (j->rows) {
        int64_t w[VKG_MAX_WORDS];
        for (int i = 0; i < j->nw; i++)
            w[i] = j->w[i] + s * j->step[i];
        if (e > s)
            j->rows(w, (e - s) * j->unit);
        return 0;
    }
    const float *A = j->A, *B = j->B;
    float *C = j->C;
    int64_t M = j->M, N = j->N;
    if (j->batch > 1) {
        int st = 0;
        for (int64_t i = s; i < e && st == 0; i++)
            st = vkg_gemm_chunk(j, M, N, A + i * j->sa, B + i * j->sb, C + i * j->sc, j->bias);
        return st;
    }
    if (e <= s)
        return 0;
    const float *bias = j->bias;
    if (j->by_cols) {  /* B(k, j) at B[k ldb + j] ('N') or B[j ldb + k] ('T') */
        B += j->tb == 'N' ? s : s * j->ldb;
        C += s;
        bias = bias ? bias + s : NULL;
        N = e - s;
    } else {           /* A(i, k) at A[i lda + k] ('N') or A[k lda + i] ('T') */
        A += j->ta == 'N' ? s * j->lda : s;
        C += s * j->ldc;
        M = e - s;
    }
    return vkg_gemm_chunk(j, M, N, A, B, C, bias);
}

/* the whole of j (one chunk) on the calling thread (a product's OpenMP count one for the call, then put back) */
static int vkg_whole(const struct vkg_job *j)
{
    if (j->rows)
        return vkg_chunk(j, 0);
    int before = j->max_threads();
    j->set_threads(1);
    int st = vkg_chunk(j, 0);
    j->set_threads(before);
    return st;
}

static void vkg_note_status(int st)
{
    int cur = atomic_load(&vkg_status);
    while (st > cur && !atomic_compare_exchange_weak(&vkg_status, &cur, st))
        ;
}

/* claim and run chunks of the published job until none is left; a product's
 * chunks on one OpenMP thread (*omp_set: this thread's count already one) */
static void vkg_claim(int *omp_set)
{
    uint64_t t = atomic_load_explicit(&vkg_ticket, memory_order_acquire);
    for (;;) {
        if ((t & 0xffff) >= ((t >> 16) & 0xffff))
            return;
        if (!atomic_compare_exchange_weak_explicit(&vkg_ticket, &t, t + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;  /* (t reloaded: another claim, or another job) */
        if (!vkg_job.rows && !*omp_set) {
            vkg_job.set_threads(1);
            *omp_set = 1;
        }
        vkg_note_status(vkg_chunk(&vkg_job, (int)(t & 0xffff)));
        atomic_fetch_add_explicit(&vkg_done, 1, memory_order_acq_rel);
        t = atomic_load_explicit(&vkg_ticket, memory_order_acquire);
    }
}

static void *vkg_worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    long seen = vkg_seen0[me];    /* the epoch when it was started: its first job's is next */
    int omp_set = 0;
    for (;;) {
        long start = vkg_now_ns();
        for (int i = 0; atomic_load_explicit(&vkg_epoch, memory_order_acquire) == seen; i++) {
            if (i % 64 == 63) {
                if (vkg_now_ns() - start > VKG_SPIN_NS) {
                    pthread_mutex_lock(&vkg_sleep);
                    vkg_sleepers++;
                    while (atomic_load(&vkg_epoch) == seen)
                        pthread_cond_wait(&vkg_wake, &vkg_sleep);
                    vkg_sleepers--;
                    pthread_mutex_unlock(&vkg_sleep);
                    break;
                }
                sched_yield();
            } else {
                vkg_relax();
            }
        }
        seen = atomic_load_explicit(&vkg_epoch, memory_order_acquire);
        vkg_claim(&omp_set);
    }
    return NULL;
}

static void vkg_after_fork(void)  /* the child has none of the workers */
{
    vkg_workers = 0;
    vkg_sleepers = 0;
    pthread_mutex_init(&vkg_busy, NULL);
    pthread_mutex_init(&vkg_sleep, NULL);
    pthread_cond_init(&vkg_wake, NULL);
}

/* job in `chunks` parts over the pool (fewer where fewer threads could be started),
 * or whole on this thread (one chunk, or the pool busy): 0, or the largest status
 * of the chunks */
static int vkg_run(struct vkg_job *job, int chunks)
{
    job->chunks = 1;
    if (chunks > VKG_MAX_WORKERS + 1)
        chunks = VKG_MAX_WORKERS + 1;
    if (chunks <= 1 || pthread_mutex_trylock(&vkg_busy) != 0)
        return vkg_whole(job);
    static int at_fork;
    if (!at_fork)
        at_fork = pthread_atfork(NULL, NULL, vkg_after_fork) == 0;
    while (vkg_workers < chunks - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        vkg_seen0[vkg_workers] = atomic_load(&vkg_epoch);
        int bad = pthread_create(&t, &attr, vkg_worker, (void *)(intptr_t)vkg_workers);
        pthread_attr_destroy(&attr);
        if (bad)
            break;
        vkg_workers++;
    }
    job->chunks = chunks < vkg_workers + 1 ? chunks : vkg_workers + 1;
    vkg_job = *job;
    atomic_store(&vkg_status, 0);
    atomic_store(&vkg_done, 0);
    /* the ticket before the epoch: a worker that sees the new epoch sees its chunks */
    long epoch = atomic_load(&vkg_epoch) + 1;
    atomic_store_explicit(&vkg_ticket, (uint64_t)(uint32_t)epoch << 32 | (uint64_t)job->chunks << 16,
                          memory_order_release);
    atomic_store_explicit(&vkg_epoch, epoch, memory_order_release);
    pthread_mutex_lock(&vkg_sleep);
    if (vkg_sleepers)
        pthread_cond_broadcast(&vkg_wake);
    pthread_mutex_unlock(&vkg_sleep);
    int before = job->rows ? 0 : job->max_threads(), omp_set = 0;
    vkg_claim(&omp_set);
    if (omp_set)
        job->set_threads(before);
    /* the chunks the workers claimed: running, not waiting to wake */
    for (int i = 0; atomic_load_explicit(&vkg_done, memory_order_acquire) < job->chunks; i++) {
        if (i % 64 == 63)
            sched_yield();
        else
            vkg_relax();
    }
    int st = atomic_load(&vkg_status);
    pthread_mutex_unlock(&vkg_busy);
    return st;
}

VKG_EXPORT
int vkg_sgemm_par(void *gemm, void *set_threads, void *max_threads, int chunks, int by_cols, char ta, char tb,
                  int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                  float *C, int64_t ldc, int64_t batch, int64_t sa, int64_t sb, int64_t sc, const float *bias,
                  int relu)
{
    struct vkg_job job = {.gemm = (vkg_gemm_t)gemm, .set_threads = (vkg_set_threads_t)set_threads,
                          .max_threads = (vkg_max_threads_t)max_threads, .by_cols = by_cols, .ta = ta, .tb = tb,
                          .M = M, .N = N, .K = K, .A = A, .lda = lda, .B = B, .ldb = ldb, .C = C, .ldc = ldc,
                          .batch = batch, .sa = sa, .sb = sb, .sc = sc, .bias = bias, .relu = relu};
    return vkg_run(&job, chunks);
}

/* ---- a whole recurrence: one direction of one layer, as ops.recurrence's step loop
 * (no packed lengths, no projection) ----
 * A batch row's state at step t depends on that row's alone at t - 1, so a chunk of
 * rows runs all T steps with no barrier between chunks (vkg_rows_par: one chunk a
 * thread): each step its rows' product with w_hh (the caller's dnnl_sgemm, on this
 * thread) and the cell above.  Python's loop paid its calls and a pool hand-over per
 * product and per cell, its cells on one thread (an LSTM's recurrence, hidden 128 over
 * 32 steps, batch 64, 2 threads: forward 5.06 ms that way, 2.29 this). */
enum { VKG_RNN_TANH, VKG_RNN_RELU, VKG_RNN_LSTM, VKG_RNN_GRU };

static int vkg_rnn_gates(int mode)
{
    return mode == VKG_RNN_LSTM ? 4 : mode == VKG_RNN_GRU ? 3 : 1;
}

/* Forward over n rows (every array at the chunk's first row; a step's rows N rows
 * apart): xg [T, N, G H], h0 [N, H], c0 [N, H] (LSTM); writes out [T, N, H] (each
 * step's h'), cs [T, N, H] (LSTM: each step's c'), acts [T, N, G H] (LSTM, GRU:
 * the cells' acts), hg the state's products (+ bhh: a GRU's) -- [n, G H] reused, or
 * [T, N, 3 H] kept for a GRU's gradient --, status[0] dnnl's (0: done).  whh_t [H, G H]
 * (w_hh transposed: its 'N' product ran 1.5x faster than 'T' here). */
VKG_CLONES VKG_EXPORT
void vkg_rnn_seq_f32(const float *xg, const float *h0, const float *c0, float *out, float *cs, float *acts,
                     float *hg, int32_t *status, ptrdiff_t n, int mode, ptrdiff_t T, ptrdiff_t N, ptrdiff_t H,
                     int reverse, const float *whh_t, const float *bhh, void *gemm, void *set_threads,
                     void *max_threads)
{
    vkg_gemm_t mm = (vkg_gemm_t)gemm;
    ptrdiff_t GH = vkg_rnn_gates(mode) * H;
    int before = ((vkg_max_threads_t)max_threads)(), st = 0;
    ((vkg_set_threads_t)set_threads)(1);  /* (this thread's OpenMP count: the chunks are the threads) */
    const float *h = h0, *c = c0;
    for (ptrdiff_t k = 0; k < T && st == 0; k++) {
        ptrdiff_t t = reverse ? T - 1 - k : k;
        float *g = mode == VKG_RNN_GRU ? hg + t * N * GH : hg, *ht = out + t * N * H;
        const float *x = xg + t * N * GH;
        st = mm('N', 'N', n, GH, H, 1.0f, h, H, whh_t, GH, 0.0f, g, GH);
        if (st)
            break;
        if (bhh)
            for (ptrdiff_t r = 0; r < n; r++)
                for (ptrdiff_t j = 0; j < GH; j++)
                    g[r * GH + j] += bhh[j];
        if (mode == VKG_RNN_LSTM) {
            vkg_lstm_cell_f32(x, g, c, ht, cs + t * N * H, acts + t * N * GH, n, H);
            c = cs + t * N * H;
        } else if (mode == VKG_RNN_GRU) {
            vkg_gru_cell_f32(x, g, h, ht, acts + t * N * GH, n, H);
        } else {
            for (ptrdiff_t i = 0; i < n * H; i++)
                ht[i] = x[i] + g[i];
            if (mode == VKG_RNN_TANH)
                for (ptrdiff_t i = 0; i < n * H; i++)
                    ht[i] = vkg_tanh(ht[i]);
            else
                vkg_relu_f32(ht, ht, n * H);
        }
        h = ht;
    }
    ((vkg_set_threads_t)set_threads)(before);
    status[0] = st;
}

/* Its gradient through the steps, from the last to the first, over n rows: gout
 * [T, N, H] the outputs' gradient (NULL: none); dh [n, H] in: h_n's gradient
 * (zeros where none), out: h0's; dc [n, H] (LSTM) in: c_n's (has_dc 0: none), out:
 * c0's; tmp [n, H] (LSTM: dc's other half, GRU: the direct part of dh_prev);
 * writes dxg [T, N, G H] (the pre-activations' gradients) and, for a GRU, dhg
 * [T, N, 3 H] (its state products'); acts, cs, hgs, out, h0, c0 the forward's;
 * whh [G H, H]. */
VKG_CLONES VKG_EXPORT
void vkg_rnn_seq_bwd_f32(const float *gout, const float *acts, const float *cs, const float *hgs,
                         const float *out, const float *h0, const float *c0, float *dxg, float *dhg, float *dh,
                         float *dc, float *tmp, int32_t *status, ptrdiff_t n, int mode, ptrdiff_t T, ptrdiff_t N,
                         ptrdiff_t H, int reverse, int has_dc, const float *whh, void *gemm, void *set_threads,
                         void *max_threads)
{
    vkg_gemm_t mm = (vkg_gemm_t)gemm;
    ptrdiff_t GH = vkg_rnn_gates(mode) * H;
    int before = ((vkg_max_threads_t)max_threads)(), st = 0;
    ((vkg_set_threads_t)set_threads)(1);
    float *dcur = dc, *dnext = tmp;
    for (ptrdiff_t k = T - 1; k >= 0 && st == 0; k--) {
        ptrdiff_t t = reverse ? T - 1 - k : k, tp = reverse ? t + 1 : t - 1;  /* (tp: the step before, k > 0) */
        float *dx = dxg + t * N * GH, *dg = dx;
        if (gout)
            for (ptrdiff_t i = 0; i < n * H; i++)
                dh[i] += gout[t * N * H + i];
        if (mode == VKG_RNN_LSTM) {
            vkg_lstm_cell_bwd_f32(dh, has_dc ? dcur : NULL, acts + t * N * GH, k ? cs + tp * N * H : c0,
                                  cs + t * N * H, dx, dnext, n, H);
            float *sw = dcur;
            dcur = dnext;
            dnext = sw;
            has_dc = 1;
        } else if (mode == VKG_RNN_GRU) {
            dg = dhg + t * N * GH;
            vkg_gru_cell_bwd_f32(dh, acts + t * N * GH, hgs + t * N * GH, k ? out + tp * N * H : h0, dx, dg,
                                 tmp, n, H);
        } else if (mode == VKG_RNN_TANH) {
            const float *y = out + t * N * H;
            for (ptrdiff_t i = 0; i < n * H; i++)
                dx[i] = dh[i] * (1.0f - y[i] * y[i]);
        } else {
            vkg_relu_bwd_f32(out + t * N * H, dh, dx, n * H);  /* (h' > 0 where its input was) */
        }
        st = mm('N', 'N', n, H, GH, 1.0f, dg, GH, whh, H, 0.0f, dh, H);
        if (mode == VKG_RNN_GRU)
            for (ptrdiff_t i = 0; i < n * H; i++)
                dh[i] += tmp[i];
    }
    if (mode == VKG_RNN_LSTM && dcur != dc)
        memcpy(dc, dcur, (size_t)(n * H) * sizeof *dc);
    ((vkg_set_threads_t)set_threads)(before);
    status[0] = st;
}

/* ---- conv2d, a few images at a time ----
 * ops.conv2d's composition gathers every image's windows into rows [N OH OW, C kh kw]
 * (9x the input for 3 x 3, element by element), multiplies, then transposes [N, OH,
 * OW, OC] to [N, OC, OH, OW]; its gradient transposes back, multiplies, and sums the
 * rows back by col2im -- each a pass over arrays larger than the cache.  Here a unit
 * of m images (the caller's choice by the shape: their taps about 256 KiB) at a time:
 * their taps gathered tap-major, cols [C kh kw, m OH OW] (each tap's row a shifted
 * copy of input rows: runs of OW that vectorise) into a buffer of this thread's that
 * stays in the cache, and products that read and write [OC, m OH OW] blocks, each
 * image's [OC, OH OW] planes copied out of or into them: out = w cols, dcols = w^T g
 * (summed back into dx from the buffer), dw += g cols^T (the taps gathered again).
 * (One image a product: [32, 144] x [144, 196] ran at 64 GFLOP/s on one core, four
 * at 117.)  Groups: the taps' rows of a group's channels are one slice of cols, so a
 * group is a product on its slices of w, cols and the block.  geo: C, H, W, kh, kw,
 * sh, sw, ph, pw, dh, dw, OH, OW, OC, m, G; w [OC, C / G kh kw] (im2col's tap order).
 * status[0]: dnnl's first non-zero status, -1 when the buffers could not be had. */
struct vkg_conv {
    ptrdiff_t C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW, OC, m, G;
    ptrdiff_t P, CK, img, gK, gO;  /* OH OW, C kh kw, C H W; a group's taps C kh kw / G and outputs OC / G */
    int plane;  /* the output's rows are the input's (stride 1, OW = W): taps as shifted planes (vkg_tap_plane) */
};

/* the output columns [lo, hi) of a row whose tap column iw = ow sw + off falls inside [0, W) */
static inline __attribute__((always_inline)) void vkg_tap_span(const struct vkg_conv *v, ptrdiff_t off,
                                                               ptrdiff_t *lo, ptrdiff_t *hi)
{
    ptrdiff_t a = off >= 0 ? 0 : (-off + v->sw - 1) / v->sw;
    ptrdiff_t b = v->W - 1 - off < 0 ? 0 : (v->W - 1 - off) / v->sw + 1;
    *lo = a < v->OW ? a : v->OW;
    *hi = b < *lo ? *lo : b < v->OW ? b : v->OW;
}

/* A tap's plane where the output's rows are the input's (stride 1, OW = W): the tap
 * reads the input plane shifted by s = ri W + cj (ri = i dh - ph, cj = j dw - pw), so
 * one run [a, e) of the plane, clipped to the input; its rows [lo, hi) (the others
 * fall outside the input), and in each of them the cj columns that wrapped round
 * into the next row.  Per row of OW elements the loops cost more than the copy. */
struct vkg_tap {
    ptrdiff_t s, cj, lo, hi, a, e;
};

static inline __attribute__((always_inline)) struct vkg_tap vkg_tap_plane(const struct vkg_conv *v, ptrdiff_t i,
                                                                         ptrdiff_t j)
{
    struct vkg_tap t;
    ptrdiff_t ri = i * v->dh - v->ph, HW = v->H * v->W;
    t.cj = j * v->dw - v->pw;
    t.s = ri * v->W + t.cj;
    t.lo = ri < 0 ? -ri : 0;
    t.lo = t.lo < v->OH ? t.lo : v->OH;
    t.hi = v->H - ri < v->OH ? v->H - ri : v->OH;
    t.hi = t.hi < t.lo ? t.lo : t.hi;
    t.a = t.lo * v->W > -t.s ? t.lo * v->W : -t.s;
    t.e = t.hi * v->W < HW - t.s ? t.hi * v->W : HW - t.s;
    t.a = t.a < t.hi * v->W ? t.a : t.hi * v->W;
    t.e = t.e > t.a ? t.e : t.a;
    return t;
}

/* zeros in the tap's wrapped columns of rows [lo, hi) of o (a plane OW = W wide) */
static inline __attribute__((always_inline)) void vkg_tap_edges(const struct vkg_conv *v, const struct vkg_tap *t,
                                                               float *o)
{
    ptrdiff_t c0 = t->cj < 0 ? 0 : v->W - t->cj, c1 = t->cj < 0 ? -t->cj : v->W;
    c0 = c0 < 0 ? 0 : c0;
    c1 = c1 > v->W ? v->W : c1;
    if (t->cj != 0)
        for (ptrdiff_t oh = t->lo; oh < t->hi; oh++)
            for (ptrdiff_t ow = c0; ow < c1; ow++)
                o[oh * v->W + ow] = 0.0f;
}

/* one image x [C, H, W] to its columns of cols [C kh kw, ld] (zeros outside the input;
 * the helpers inline into each instruction set's body: a static function is compiled
 * for the default target) */
static inline __attribute__((always_inline)) void vkg_taps(const struct vkg_conv *v, const float *restrict x,
                                                           float *restrict cols, ptrdiff_t ld)
{
    for (ptrdiff_t c = 0; c < v->C; c++)
        for (ptrdiff_t i = 0; i < v->kh; i++)
            for (ptrdiff_t j = 0; j < v->kw; j++) {
                float *o = cols + ((c * v->kh + i) * v->kw + j) * ld;
                if (v->plane) {
                    struct vkg_tap t = vkg_tap_plane(v, i, j);
                    const float *xp = x + c * v->H * v->W + t.s;
                    for (ptrdiff_t p = 0; p < t.a; p++)
                        o[p] = 0.0f;
                    for (ptrdiff_t p = t.a; p < t.e; p++)
                        o[p] = xp[p];
                    for (ptrdiff_t p = t.e; p < v->P; p++)
                        o[p] = 0.0f;
                    vkg_tap_edges(v, &t, o);
                    continue;
                }
                ptrdiff_t off = j * v->dw - v->pw, lo, hi;
                vkg_tap_span(v, off, &lo, &hi);
                for (ptrdiff_t oh = 0; oh < v->OH; oh++, o += v->OW) {
                    ptrdiff_t ih = oh * v->sh - v->ph + i * v->dh;
                    if (ih < 0 || ih >= v->H) {
                        for (ptrdiff_t ow = 0; ow < v->OW; ow++)
                            o[ow] = 0.0f;
                        continue;
                    }
                    const float *row = x + (c * v->H + ih) * v->W + off;
                    for (ptrdiff_t ow = 0; ow < lo; ow++)
                        o[ow] = 0.0f;
                    if (v->sw == 1)
                        for (ptrdiff_t ow = lo; ow < hi; ow++)
                            o[ow] = row[ow];
                    else
                        for (ptrdiff_t ow = lo; ow < hi; ow++)
                            o[ow] = row[ow * v->sw];
                    for (ptrdiff_t ow = hi; ow < v->OW; ow++)
                        o[ow] = 0.0f;
                }
            }
}

/* one image's columns of cols [C kh kw, ld] summed back into dx [C, H, W]: each
 * element's terms tap by tap in the window's row-major order from 0, as
 * vkg_col2im_f32 adds them (the plane path zeroes the wrapped columns in cols and
 * adds them: + 0 to a sum begun at +0 changes no bits) */
static inline __attribute__((always_inline)) void vkg_untaps(const struct vkg_conv *v, float *restrict cols,
                                                             ptrdiff_t ld, float *restrict dx)
{
    for (ptrdiff_t e = 0; e < v->C * v->H * v->W; e++)
        dx[e] = 0.0f;
    for (ptrdiff_t c = 0; c < v->C; c++)
        for (ptrdiff_t i = 0; i < v->kh; i++)
            for (ptrdiff_t j = 0; j < v->kw; j++) {
                float *g = cols + ((c * v->kh + i) * v->kw + j) * ld;
                if (v->plane) {
                    struct vkg_tap t = vkg_tap_plane(v, i, j);
                    float *dp = dx + c * v->H * v->W + t.s;
                    vkg_tap_edges(v, &t, g);
                    for (ptrdiff_t p = t.a; p < t.e; p++)
                        dp[p] += g[p];
                    continue;
                }
                ptrdiff_t off = j * v->dw - v->pw, lo, hi;
                vkg_tap_span(v, off, &lo, &hi);
                for (ptrdiff_t oh = 0; oh < v->OH; oh++, g += v->OW) {
                    ptrdiff_t ih = oh * v->sh - v->ph + i * v->dh;
                    if (ih < 0 || ih >= v->H)
                        continue;
                    float *row = dx + (c * v->H + ih) * v->W + off;
                    if (v->sw == 1)
                        for (ptrdiff_t ow = lo; ow < hi; ow++)
                            row[ow] += g[ow];
                    else
                        for (ptrdiff_t ow = lo; ow < hi; ow++)
                            row[ow * v->sw] += g[ow];
                }
            }
}

/* a call's state: the geometry, this thread's buffers cols [C kh kw, m P] and blk
 * [OC, m P], the product, and the OpenMP thread count to put back */
struct vkg_conv_run {
    struct vkg_conv v;
    float *cols, *blk;
    vkg_gemm_t mm;
    vkg_set_threads_t set_threads;
    int before;
};

/* r from the geometry words g; the buffers had and this thread's OpenMP count 1 (the
 * chunks are the threads): 0; -1 (status[0] too) where the buffers could not be had */
static int vkg_conv_start(const int64_t *g, void *gemm, void *set_threads, void *max_threads,
                          struct vkg_conv_run *r, int32_t *status)
{
    struct vkg_conv u = {g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14],
                         g[15], g[11] * g[12], g[0] * g[3] * g[4], g[0] * g[1] * g[2], g[0] * g[3] * g[4] / g[15],
                         g[13] / g[15], g[5] == 1 && g[6] == 1 && g[12] == g[2]};
    r->v = u;
    r->cols = malloc((size_t)(u.CK * u.m * u.P) * sizeof *r->cols);
    r->blk = malloc((size_t)(u.OC * u.m * u.P) * sizeof *r->blk);
    if (!r->cols || !r->blk) {
        free(r->cols);
        free(r->blk);
        status[0] = -1;
        return -1;
    }
    r->mm = (vkg_gemm_t)gemm;
    r->set_threads = (vkg_set_threads_t)set_threads;
    r->before = ((vkg_max_threads_t)max_threads)();
    r->set_threads(1);
    return 0;
}

static void vkg_conv_end(struct vkg_conv_run *r, int st, int32_t *status)
{
    r->set_threads(r->before);
    free(r->cols);
    free(r->blk);
    status[0] = st;
}

/* C_q = op(A_q) op(B_q) (+ C_q where acc) for each group q, the operands' q-th blocks
 * sa, sb, sc floats apart (a group's rows of w, of the taps and of the block); dnnl's
 * first non-zero status */
static int vkg_conv_mm(const struct vkg_conv_run *r, char ta, char tb, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                       const float *A, ptrdiff_t lda, ptrdiff_t sa, const float *B, ptrdiff_t ldb, ptrdiff_t sb,
                       int acc, float *C, ptrdiff_t ldc, ptrdiff_t sc)
{
    int st = 0;
    for (ptrdiff_t q = 0; q < r->v.G && st == 0; q++)
        st = r->mm(ta, tb, M, N, K, 1.0f, A + q * sa, lda, B + q * sb, ldb, acc ? 1.0f : 0.0f, C + q * sc, ldc);
    return st;
}

/* n units of m images (images_left: from the chunk's first unit on; the last unit may
 * be short) */
VKG_CLONES VKG_EXPORT
void vkg_conv_fwd_f32(const float *x, float *out, int32_t *status, ptrdiff_t images_left, ptrdiff_t n,
                      const int64_t *geo, const float *w, const float *bias, void *gemm, void *set_threads,
                      void *max_threads)
{
    struct vkg_conv_run r;
    if (vkg_conv_start(geo, gemm, set_threads, max_threads, &r, status))
        return;
    const struct vkg_conv v = r.v;
    int st = 0;
    for (ptrdiff_t u = 0; u < n && st == 0; u++) {
        ptrdiff_t i0 = u * v.m, m = images_left - i0 < v.m ? images_left - i0 : v.m, mP = m * v.P;
        float *o = out + i0 * v.OC * v.P, *blk = m == 1 ? o : r.blk;  /* (one image: its planes are the block) */
        for (ptrdiff_t b = 0; b < m; b++)
            vkg_taps(&v, x + (i0 + b) * v.img, r.cols + b * v.P, mP);
        st = vkg_conv_mm(&r, 'N', 'N', v.gO, mP, v.gK, w, v.gK, v.gO * v.gK, r.cols, mP, v.gK * mP, 0, blk, mP,
                         v.gO * mP);
        for (ptrdiff_t b = 0; b < m && st == 0; b++)
            for (ptrdiff_t c = 0; c < v.OC; c++) {
                float *oc = o + (b * v.OC + c) * v.P, bc = bias ? bias[c] : 0.0f;
                const float *rc = blk + c * mP + b * v.P;
                if (rc != oc)
                    memcpy(oc, rc, (size_t)v.P * sizeof *oc);
                if (bias)
                    for (ptrdiff_t p = 0; p < v.P; p++)
                        oc[p] += bc;
            }
    }
    vkg_conv_end(&r, st, status);
}

/* Its gradients over nb blocks of ib images (a multiple of m; images_left as above):
 * dx [.., C, H, W] (NULL: none), dwp [nb, OC, C kh kw] (NULL: none) each block's sum
 * of its units' dw in order, and dbp [nb, OC] (NULL: none) its sums of g's planes
 * (the bias's gradient; each plane in double, vkg_row_sum_d: NumPy's sum over three axes
 * took 0.2-0.3 ms for the CNN's).  Units and blocks are the caller's choice by the
 * shape alone, so the bits do not depend on the thread count (the caller adds the
 * blocks' sums in order). */
VKG_CLONES VKG_EXPORT
void vkg_conv_bwd_f32(const float *x, const float *g, float *dx, float *dwp, double *dbp, int32_t *status,
                      ptrdiff_t images_left, ptrdiff_t nb, const int64_t *geo, ptrdiff_t ib, const float *w,
                      void *gemm, void *set_threads, void *max_threads)
{
    struct vkg_conv_run r;
    if (vkg_conv_start(geo, gemm, set_threads, max_threads, &r, status))
        return;
    const struct vkg_conv v = r.v;
    int st = 0;
    for (ptrdiff_t k = 0; k < nb && st == 0; k++) {
        ptrdiff_t end = images_left < (k + 1) * ib ? images_left : (k + 1) * ib;
        if (dbp)
            for (ptrdiff_t c = 0; c < v.OC; c++)
                dbp[k * v.OC + c] = 0.0;
        for (ptrdiff_t i0 = k * ib; i0 < end && st == 0; i0 += v.m) {
            ptrdiff_t m = end - i0 < v.m ? end - i0 : v.m, mP = m * v.P;
            for (ptrdiff_t b = 0; b < m; b++)  /* the images' [OC, P] planes side by side */
                for (ptrdiff_t c = 0; c < v.OC; c++) {
                    const float *gp = g + ((i0 + b) * v.OC + c) * v.P;
                    memcpy(r.blk + c * mP + b * v.P, gp, (size_t)v.P * sizeof *r.blk);
                    if (dbp)
                        dbp[k * v.OC + c] += vkg_row_sum_d(gp, v.P);
                }
            if (dx) {
                st = vkg_conv_mm(&r, 'T', 'N', v.gK, mP, v.gO, w, v.gK, v.gO * v.gK, r.blk, mP, v.gO * mP, 0, r.cols,
                                 mP, v.gK * mP);
                for (ptrdiff_t b = 0; b < m && st == 0; b++)
                    vkg_untaps(&v, r.cols + b * v.P, mP, dx + (i0 + b) * v.img);
            }
            if (dwp && st == 0) {
                for (ptrdiff_t b = 0; b < m; b++)
                    vkg_taps(&v, x + (i0 + b) * v.img, r.cols + b * v.P, mP);
                st = vkg_conv_mm(&r, 'N', 'T', v.gO, v.gK, mP, r.blk, mP, v.gO * mP, r.cols, mP, v.gK * mP,
                                 i0 > k * ib, dwp + k * v.OC * v.gK, v.gK, v.gO * v.gK);
            }
        }
    }
    vkg_conv_end(&r, st, status);
}

/* The loops above as vkg_rows_t: their arguments from words in their order, the
 * row count where the loop takes it (floats as their bits) */
#define VKG_P(i) ((void *)(intptr_t)w[i])
static float vkg_word_f(int64_t v)
{
    uint32_t u = (uint32_t)v;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static void vkg_rows_im2col(const int64_t *w, int64_t n)
{
    vkg_im2col_32(VKG_P(0), VKG_P(1), n, w[2], w[3], w[4], (int)w[5], (int)w[6], (int)w[7], (int)w[8],
                  (int)w[9], (int)w[10], (int)w[11], (int)w[12], w[13], w[14], (unsigned)w[15]);
}
static void vkg_rows_col2im(const int64_t *w, int64_t n)
{
    vkg_col2im_f32(VKG_P(0), VKG_P(1), n, w[2], w[3], w[4], (int)w[5], (int)w[6], (int)w[7], (int)w[8],
                   (int)w[9], (int)w[10], (int)w[11], (int)w[12], w[13], w[14]);
}
static void vkg_rows_maxpool(const int64_t *w, int64_t n)
{
    vkg_maxpool_f32(VKG_P(0), VKG_P(1), VKG_P(2), n, w[3], w[4], (int)w[5], (int)w[6], w[7], w[8]);
}
static void vkg_rows_maxpool_bwd(const int64_t *w, int64_t n)
{
    vkg_maxpool_bwd_32(VKG_P(0), VKG_P(1), VKG_P(2), n, w[3], w[4], (int)w[5], (int)w[6], w[7], w[8]);
}
static void vkg_rows_add(const int64_t *w, int64_t n)
{
    vkg_add_f32(VKG_P(0), VKG_P(1), VKG_P(2), n);
}
static void vkg_rows_relu(const int64_t *w, int64_t n)
{
    vkg_relu_f32(VKG_P(0), VKG_P(1), n);
}
static void vkg_rows_relu_bwd(const int64_t *w, int64_t n)
{
    vkg_relu_bwd_f32(VKG_P(0), VKG_P(1), VKG_P(2), n);
}
static void vkg_rows_gelu(const int64_t *w, int64_t n)
{
    vkg_gelu_f32(VKG_P(0), VKG_P(1), n);
}
static void vkg_rows_gelu_bwd(const int64_t *w, int64_t n)
{
    vkg_gelu_bwd_f32(VKG_P(0), VKG_P(1), VKG_P(2), n);
}
static void vkg_rows_xent_blocks(const int64_t *w, int64_t n)
{
    vkg_xent_blocks_f32(VKG_P(0), VKG_P(1), VKG_P(2), VKG_P(3), VKG_P(4), w[5], n, w[6], w[7], vkg_word_f(w[8]));
}
static void vkg_rows_transpose(const int64_t *w, int64_t n)
{
    vkg_transpose_32(VKG_P(0), VKG_P(1), n, w[2], w[3]);
}
static void vkg_rows_softmax(const int64_t *w, int64_t n)
{
    vkg_softmax_f32(VKG_P(0), VKG_P(1), n, w[2], (int)w[3]);
}
static void vkg_rows_softmax_bwd(const int64_t *w, int64_t n)
{
    vkg_softmax_bwd_f32(VKG_P(0), VKG_P(1), VKG_P(2), n, w[3], (int)w[4]);
}
static void vkg_rows_layer_norm(const int64_t *w, int64_t n)
{
    vkg_layer_norm_f32(VKG_P(0), VKG_P(1), VKG_P(2), VKG_P(3), VKG_P(4), VKG_P(5), n, w[6], vkg_word_f(w[7]));
}
static void vkg_rows_layer_norm_bwd(const int64_t *w, int64_t n)
{
    vkg_layer_norm_bwd_f32(VKG_P(0), VKG_P(1), VKG_P(2), VKG_P(3), VKG_P(4), VKG_P(5), VKG_P(6), n, w[7]);
}
static void vkg_rows_rnn_seq(const int64_t *w, int64_t n)
{
    vkg_rnn_seq_f32(VKG_P(0), VKG_P(1), VKG_P(2), VKG_P(3), VKG_P(4), VKG_P(5), VKG_P(6), VKG_P(7), n, (int)w[8],
                    w[9], w[10], w[11], (int)w[12], VKG_P(13), VKG_P(14), VKG_P(15), VKG_P(16), VKG_P(17));
}
static void vkg_rows_rnn_seq_bwd(const int64_t *w, int64_t n)
{
    vkg_rnn_seq_bwd_f32(VKG_P(0), VKG_P(1), VKG_P(2), VKG_P(3), VKG_P(4), VKG_P(5), VKG_P(6), VKG_P(7), VKG_P(8),
                        VKG_P(9), VKG_P(10), VKG_P(11), VKG_P(12), n, (int)w[13], w[14], w[15], w[16], (int)w[17],
                        (int)w[18], VKG_P(19), VKG_P(20), VKG_P(21), VKG_P(22));
}
static void vkg_rows_colsum(const int64_t *w, int64_t n)
{
    vkg_colsum_f32(VKG_P(0), VKG_P(1), n, w[2], w[3]);
}
static void vkg_rows_adam(const int64_t *w, int64_t n)
{
    vkg_adam_f32(VKG_P(0), VKG_P(1), VKG_P(2), VKG_P(3), n, vkg_word_f(w[4]), vkg_word_f(w[5]),
                 vkg_word_f(w[6]), vkg_word_f(w[7]), vkg_word_f(w[8]), vkg_word_f(w[9]), vkg_word_f(w[10]),
                 (int)w[11], vkg_word_f(w[12]), vkg_word_f(w[13]));
}
static void vkg_rows_conv_fwd(const int64_t *w, int64_t n)
{
    vkg_conv_fwd_f32(VKG_P(0), VKG_P(1), VKG_P(2), w[3], n, VKG_P(4), VKG_P(5), VKG_P(6), VKG_P(7), VKG_P(8),
                     VKG_P(9));
}
static void vkg_rows_conv_bwd(const int64_t *w, int64_t n)
{
    vkg_conv_bwd_f32(VKG_P(0), VKG_P(1), VKG_P(2), VKG_P(3), VKG_P(4), VKG_P(5), w[6], n, VKG_P(7), w[8], VKG_P(9),
                     VKG_P(10), VKG_P(11), VKG_P(12));
}
static void vkg_rows_bn_planes(const int64_t *w, int64_t n)
{
    vkg_bn_planes_f32(VKG_P(0), VKG_P(1), VKG_P(2), VKG_P(3), VKG_P(4), VKG_P(5), VKG_P(6), n, w[7], w[8], w[9],
                      vkg_word_f(w[10]));
}
static void vkg_rows_bn_planes_bwd(const int64_t *w, int64_t n)
{
    vkg_bn_planes_bwd_f32(VKG_P(0), VKG_P(1), VKG_P(2), VKG_P(3), VKG_P(4), VKG_P(5), VKG_P(6), VKG_P(7), n, w[8],
                          w[9], w[10]);
}
static const struct {
    const char *name;
    vkg_rows_t fn;
} vkg_row_loops[] = {
    {"vkg_im2col_32", vkg_rows_im2col}, {"vkg_col2im_f32", vkg_rows_col2im},
    {"vkg_maxpool_f32", vkg_rows_maxpool}, {"vkg_maxpool_bwd_32", vkg_rows_maxpool_bwd},
    {"vkg_softmax_f32", vkg_rows_softmax}, {"vkg_softmax_bwd_f32", vkg_rows_softmax_bwd},
    {"vkg_layer_norm_f32", vkg_rows_layer_norm},
    {"vkg_layer_norm_bwd_f32", vkg_rows_layer_norm_bwd}, {"vkg_adam_f32", vkg_rows_adam},
    {"vkg_transpose_32", vkg_rows_transpose}, {"vkg_xent_blocks_f32", vkg_rows_xent_blocks},
    {"vkg_relu_f32", vkg_rows_relu}, {"vkg_add_f32", vkg_rows_add}, {"vkg_colsum_f32", vkg_rows_colsum},
    {"vkg_relu_bwd_f32", vkg_rows_relu_bwd}, {"vkg_gelu_f32", vkg_rows_gelu}, {"vkg_gelu_bwd_f32", vkg_rows_gelu_bwd},
    {"vkg_rnn_seq_f32", vkg_rows_rnn_seq}, {"vkg_rnn_seq_bwd_f32", vkg_rows_rnn_seq_bwd},
    {"vkg_conv_fwd_f32", vkg_rows_conv_fwd}, {"vkg_conv_bwd_f32", vkg_rows_conv_bwd},
    {"vkg_bn_planes_f32", vkg_rows_bn_planes}, {"vkg_bn_planes_bwd_f32", vkg_rows_bn_planes_bwd},
};

/* the index of the loop named `name` for vkg_rows_par, or -1 */
VKG_EXPORT
int vkg_rows_loop(const char *name)
{
    for (int i = 0; i < (int)(sizeof vkg_row_loops / sizeof vkg_row_loops[0]); i++)
        if (strcmp(vkg_row_loops[i].name, name) == 0)
            return i;
    return -1;
}

/* loop `loop` (vkg_rows_loop) over n rows in `chunks` parts: each part's words w[i] +
 * its first row * step[i], its count rows * unit; -1 for a bad loop or word count */
VKG_EXPORT
int vkg_rows_par(int loop, int chunks, int64_t n, int64_t unit, int nw, const int64_t *w, const int64_t *step)
{
    if (loop < 0 || loop >= (int)(sizeof vkg_row_loops / sizeof vkg_row_loops[0]) || nw < 0 || nw > VKG_MAX_WORDS)
        return -1;
    struct vkg_job job = {.rows = vkg_row_loops[loop].fn, .n = n, .unit = unit, .nw = nw};
    memcpy(job.w, w, nw * sizeof *w);
    memcpy(job.step, step, nw * sizeof *step);
    return vkg_run(&job, chunks);
}
