#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
// Batch norm for large batches, pass 2 of 3: an invocation per channel combines
// the P parts' partials (bn_part.comp); LANES = 1 (GPUs): a subgroup per
// channel, lane l the parts l, l + SG, ..., their sums combined by shuffles
// (an invocation per channel is C threads on the whole GPU, each a chain of 2P
// dependent loads).  Forward (BWD = 0): the parts' (count,
// mean, sum of squared deviations) merged (Chan, Golub and LeVeque's two-level
// decomposition) -> mean, biased var, invstd; the running statistics moved (update = 1: rm +=
// momentum * (mean - rm), rv += momentum * (var * N/(N-1) - rv)); and the
// coefficients of bn_apply.comp's out = S (x - mean) + K [+ A g]: forward y with
// S = invstd * gamma, K = beta.  Backward (BWD = 1): dbeta = sum g, dgamma =
// invstd * sum g (x - mean), and dx = A g + S (x - mean) + K with A = invstd *
// gamma, S = -A invstd dgamma / N, K = -A dbeta / N (the exact gradient through
// the batch statistics).  (x - mean), not x: S x and K - S mean of a mean far
// from 0 would cancel.
// Bindings: 0 PART (in, f32), 1 gamma, 2 beta (in, their dtype); 3 mean, 5 invstd
// (out forward, in backward; f32), 4 var (out, forward); 6 running mean, 7 running
// var (read-write, f32; dummies unless updated); 8 COEF [4, sub * C]: S, mean, K, A
// (A backward), 9 dgamma, 10 dbeta
// (out, f32; dgamma and dbeta backward).
#include "common.glsl"
#include "subgroup.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint BWD = 0u;
layout(constant_id = 1) const uint LANES = 0u;
// sub: rows of x per row of bn_part's view (1, or e where e rows of a width not in whole
// quads made one row of e * C columns): its partials [2, P, sub * C] are [2, P * sub, C],
// part j covering view rows [j / sub * chunk, ...); coefficients written sub times over
layout(push_constant) uniform P { uint N; uint C; uint chunk; float eps; uint update; float momentum; uint sub; } p;
BUF_IN(0, PART)
BUF_IN(1, GAM)
BUF_IN(2, BET)
BUF_INOUT(3, MEAN)
BUF_OUT(4, VAR)
BUF_INOUT(5, INV)
BUF_INOUT(6, RM)
BUF_INOUT(7, RV)
BUF_OUT(8, COEF)
BUF_OUT(9, DG)
BUF_OUT(10, DB)

uint count(uint j) {  // rows in part j
    uint ns = p.N / p.sub, j0 = j / p.sub * p.chunk;
    return min(ns, j0 + p.chunk) - j0;
}
void coef(uint i, uint c, float v) {
    for (uint k = 0u; k < p.sub; k++) ST32(COEF, (i * p.sub + k) * p.C + c, v);
}

// the sum over the parts of the partial sums of this invocation (LANES: the subgroup's)
float over_parts(float v) { return LANES == 1u ? sg_sum(v) : v; }

// channel c's statistics from the parts j0, j0 + js, ... < P of this invocation;
// `lead` writes them
void channel(uint c, uint P, uint j0, uint js, bool lead) {
    float A = LD(GAM, c), N = float(p.N);
    if (BWD == 0u) {
        // the mean as the first part's plus the parts' weighted deviations from it
        // (a running mean far from 0 would gather a rounding error per part), then
        // M2 = sum of the parts' M2 + n_b (mean_b - mean)^2
        float k = LD32(PART, c), s = 0.0, m2 = 0.0;
        for (uint j = j0; j < P; j += js)
            s += float(count(j)) * (LD32(PART, j * p.C + c) - k);
        float mean = k + over_parts(s) / N;
        for (uint j = j0; j < P; j += js) {
            float d = LD32(PART, j * p.C + c) - mean;
            m2 += LD32(PART, (P + j) * p.C + c) + float(count(j)) * d * d;
        }
        m2 = over_parts(m2);
        if (!lead) return;
        float var = m2 / N, inv = inversesqrt(var + p.eps);
        ST32(MEAN, c, mean);
        ST32(VAR, c, var);
        ST32(INV, c, inv);
        if (p.update == 1u) {
            float rm = LD32(RM, c), rv = LD32(RV, c);
            ST32(RM, c, rm + p.momentum * (mean - rm));
            ST32(RV, c, rv + p.momentum * (var * N / (N - 1.0) - rv));
        }
        coef(0u, c, A * inv);
        coef(1u, c, mean);
        coef(2u, c, LD(BET, c));
    } else {
        float sg = 0.0, sgx = 0.0;
        for (uint j = j0; j < P; j += js) {
            sg += LD32(PART, j * p.C + c);
            sgx += LD32(PART, (P + j) * p.C + c);
        }
        sg = over_parts(sg);
        sgx = over_parts(sgx);
        if (!lead) return;
        float inv = LD32(INV, c), dg = inv * sgx;
        A *= inv;
        ST32(DG, c, dg);
        ST32(DB, c, sg);
        coef(0u, c, -A * inv * dg / N);
        coef(1u, c, LD32(MEAN, c));
        coef(2u, c, -A * sg / N);
        coef(3u, c, A);
    }
}

void main() {
    uint P = (p.N / p.sub + p.chunk - 1u) / p.chunk * p.sub;
    if (LANES == 1u) {  // c is the same across the subgroup: the shuffles see every lane
        uint lane = gl_SubgroupInvocationID;
        for (uint c = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID; c < p.C;
             c += gl_NumWorkGroups.x * gl_NumSubgroups)
            channel(c, P, lane, gl_SubgroupSize, lane == 0u);
    } else {
        for (uint c = gl_GlobalInvocationID.x; c < p.C; c += gl_NumWorkGroups.x * 64u) channel(c, P, 0u, 1u, true);
    }
}
