// Adam/AdamW over up to PARAMS (4 or 8) parameters in one dispatch (adam.comp's
// update), included by adam_multi.comp (4: 16 storage buffers, the Vulkan
// minimum) and adam_multi8.comp (8: 32 buffers, where the device allows).
// Parameters absent from a dispatch have n = 0 (bound to a dummy).
// Bindings: 4k+0 param (inout), 4k+1 grad (in), 4k+2 m (inout), 4k+3 v (inout), k < PARAMS.
#include "common.glsl"
// The workgroup size is specialisation constant 0: 256 on GPUs; a CPU device
// (lavapipe) is given one subgroup, as it pays per subgroup for setting up 32
// bindings (measured on the iris model's 8 parameters: 82 us at 256, 54 at 8).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint FORM = 0u;  // adam_update.glsl
layout(push_constant) uniform P {
    uint n[PARAMS]; float lr; float b1; float b2; float eps; float wd; float step_size; float rbc2;
    uint decoupled; float c2; float aux;
} p;
BUF_INOUT(0, W0) BUF_IN(1, G0) BUF_INOUT(2, M0) BUF_INOUT(3, V0)
BUF_INOUT(4, W1) BUF_IN(5, G1) BUF_INOUT(6, M1) BUF_INOUT(7, V1)
BUF_INOUT(8, W2) BUF_IN(9, G2) BUF_INOUT(10, M2) BUF_INOUT(11, V2)
BUF_INOUT(12, W3) BUF_IN(13, G3) BUF_INOUT(14, M3) BUF_INOUT(15, V3)
#if PARAMS == 8
BUF_INOUT(16, W4) BUF_IN(17, G4) BUF_INOUT(18, M4) BUF_INOUT(19, V4)
BUF_INOUT(20, W5) BUF_IN(21, G5) BUF_INOUT(22, M5) BUF_INOUT(23, V5)
BUF_INOUT(24, W6) BUF_IN(25, G6) BUF_INOUT(26, M6) BUF_INOUT(27, V6)
BUF_INOUT(28, W7) BUF_IN(29, G7) BUF_INOUT(30, M7) BUF_INOUT(31, V7)
#endif

// -DGRAD16: f32 parameters (f16 parameters' f32 masters) with f16 gradients,
// read as they are rather than converted by a pass of their own.
#ifdef GRAD16
#define LDG(B, i) LD16(B, i)
#else
#define LDG(B, i) LD(B, i)
#endif
#include "adam_update.glsl"
#define UPD(W, G, M, V, nk, i, out_) { \
    float w_ = LD(W, i), d_ = LDG(G, i), m_ = LD32(M, i), v_ = LD32(V, i); \
    float b_ = FORM == 7u ? LD32(M, MOM_AT(nk) + (i)) : 0.0; \
    ADAM_UPDATE(w_, d_, m_, v_, b_) \
    ST32(M, i, m_); ST32(V, i, v_); \
    if (FORM == 7u) ST32(M, MOM_AT(nk) + (i), b_); \
    out_ = w_; }

#define SEG(W, G, M, V, nk, u) { \
    uint i_ = (u) * EPU; float w0_ = 0.0, w1_ = 0.0; \
    UPD(W, G, M, V, nk, i_, w0_); \
    if (EPU == 2u && i_ + 1u < nk) UPD(W, G, M, V, nk, i_ + 1u, w1_); \
    ST_UNIT(W, u, w0_, w1_); }

// One grid-stride loop per parameter rather than an if-chain per unit:
// lavapipe runs every side of a divergent branch under a lane mask, but skips
// a loop no lane enters (the chain cost four updates per unit).
void main() {
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x, id = gl_GlobalInvocationID.x;
    for (uint u = id; u < (p.n[0] + EPU - 1u) / EPU; u += stride) SEG(W0, G0, M0, V0, p.n[0], u)
    for (uint u = id; u < (p.n[1] + EPU - 1u) / EPU; u += stride) SEG(W1, G1, M1, V1, p.n[1], u)
    for (uint u = id; u < (p.n[2] + EPU - 1u) / EPU; u += stride) SEG(W2, G2, M2, V2, p.n[2], u)
    for (uint u = id; u < (p.n[3] + EPU - 1u) / EPU; u += stride) SEG(W3, G3, M3, V3, p.n[3], u)
#if PARAMS == 8
    for (uint u = id; u < (p.n[4] + EPU - 1u) / EPU; u += stride) SEG(W4, G4, M4, V4, p.n[4], u)
    for (uint u = id; u < (p.n[5] + EPU - 1u) / EPU; u += stride) SEG(W5, G5, M5, V5, p.n[5], u)
    for (uint u = id; u < (p.n[6] + EPU - 1u) / EPU; u += stride) SEG(W6, G6, M6, V6, p.n[6], u)
    for (uint u = id; u < (p.n[7] + EPU - 1u) / EPU; u += stride) SEG(W7, G7, M7, V7, p.n[7], u)
#endif
}
