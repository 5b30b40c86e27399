/* vkgrad's fused CPU loops, called through ctypes by vkgrad/backends/cpu.py.
 *
 * Each loop computes exactly the float32 operations, in the same order, that the
 * NumPy path of the CPU backend runs array by array, so both give the same bits:
 * it is compiled with -ffp-contract=off (no multiply-add fused where NumPy rounds
 * twice) and without -ffast-math; sqrtf and the division are IEEE's, as NumPy's.
 * One pass over the arrays instead of NumPy's dozen: the MLP 784-1024-1024-10's
 * Adam step took 1.25 ms against 4.9 (1.86 M parameters, two threads).
 *
 * Built by setup.py as an optional extension; without a C compiler the CPU
 * backend runs its NumPy path. No Python API is used (plain C, loaded by ctypes).
 */
#include <math.h>
#include <stddef.h>

/* one body per instruction set, chosen when the library loads (GCC / clang on x86-64) */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__APPLE__)
#define VKG_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VKG_CLONES
#endif

#define VKG_EXPORT __attribute__((visibility("default")))

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
