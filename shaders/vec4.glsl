// 16-byte loads and stores: four f32 or eight f16 per word quad.  Used by the
// contiguous fast paths (lavapipe issues one memory operation per lane per
// load, so wide loads matter there; on GPUs they coalesce either way).
// With -DTEXEL_IN (the "_tx" variants CPU devices get) inputs are uniform
// texel buffers (the backend binds RGBA32UI views, a quad a texel), read by
// LDQ: lavapipe loads a storage buffer lane by lane behind a branch per lane,
// a texel fetch in one gather (copy 1.4x, sums 2-3x faster).  GPUs keep
// storage buffers (coalesced either way; no texel-count limit).
// LDW / STW: word w of an operand (a tail shorter than a quad; see FOR_TAIL_WORDS),
// through the texel view, or a second declaration of the storage buffer as words.
#ifdef TEXEL_IN
#define BUF4_IN(n, name) layout(binding = n) uniform usamplerBuffer name;
#define LDQ(name, q) texelFetch(name, int(q))
#define LDW(name, w) texelFetch(name, int((w) >> 2u))[(w) & 3u]
#else
#define BUF4_IN(n, name) layout(std430, binding = n) readonly buffer name##_b { uvec4 name[]; }; \
    layout(std430, binding = n) readonly buffer name##_wb { uint name##_w[]; };
#define LDQ(name, q) name[q]
#define LDW(name, w) name##_w[w]
#endif
#define BUF4_OUT(n, name) layout(std430, binding = n) writeonly buffer name##_b { uvec4 name[]; }; \
    layout(std430, binding = n) writeonly buffer name##_wb { uint name##_w[]; };
#define STW(name, w, v) name##_w[w] = (v)
// word w of an output from bits v: with halves, the one past n elements kept +0
#define STW_BITS(name, w, n, v) STW(name, w, EPQ == 8u && 2u * (w) + 1u >= (n) ? (v) & 0xffffu : (v))
// element e of an operand (f32, or a half of packed halves), as a float
#define LDE(name, e) unpack_w(LDW(name, (e) / (EPQ / 4u)))[(e) % (EPQ / 4u)]
// element e as a float through a texel view of single words (R32UI: one gather
// per element, where a quad view gathers four)
#ifdef F16
#define LDE_WORDS(view, e) unpack_h2(texelFetch(view, int((e) >> 1u)).x)[(e) & 1u]
#else
#define LDE_WORDS(view, e) uintBitsToFloat(texelFetch(view, int(e)).x)
#endif
#ifdef F16
#define EPQ 8u
void unpack8(uvec4 w, out float v[8]) {
    vec2 a = unpack_h2(w.x), b = unpack_h2(w.y), c = unpack_h2(w.z), d = unpack_h2(w.w);
    v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y; v[4] = c.x; v[5] = c.y; v[6] = d.x; v[7] = d.y;
}
uvec4 pack8(float v[8]) {
    return uvec4(pack_half2(vec2(v[0], v[1])), pack_half2(vec2(v[2], v[3])),
                 pack_half2(vec2(v[4], v[5])), pack_half2(vec2(v[6], v[7])));
}
#define LOADQ(word_, arr_) unpack8(word_, arr_)
#define STOREQ(arr_) pack8(arr_)
vec2 unpack_w(uint w) { return unpack_h2(w); }
uint pack_w(vec2 v) { return pack_half2(v); }
#else
#define EPQ 4u
#define LOADQ(word_, arr_) { vec4 t_ = uintBitsToFloat(word_); arr_[0] = t_.x; arr_[1] = t_.y; arr_[2] = t_.z; arr_[3] = t_.w; }
#define STOREQ(arr_) floatBitsToUint(vec4(arr_[0], arr_[1], arr_[2], arr_[3]))
vec2 unpack_w(uint w) { return vec2(uintBitsToFloat(w), 0.0); }
uint pack_w(vec2 v) { return floatBitsToUint(v.x); }
#endif
// FOR_TAIL_WORDS(n, w): the words after n's whole quads (at most 3), by the first
// invocation; unpack_w gives a word's one (f32) or two (f16) values, pack_w
// takes them back (an odd f16 count's last word: its pad half is the caller's to zero)
#define FOR_TAIL_WORDS(n, w) \
    if (gl_GlobalInvocationID.x == 0u) \
        for (uint w = (n) / EPQ * 4u; w < ((n) + EPQ / 4u - 1u) / (EPQ / 4u); w++)
// FOR_QUADS(n, q): every quad of n elements (the caller checks n % EPQ == 0) once.
// GPUs: a grid-stride loop (a workgroup's lanes read adjacent quads: coalesced).
// -DTEXEL_IN (CPU devices): each subgroup takes one contiguous run of quads, its
// lanes interleaved within it.  lavapipe runs a workgroup's subgroups one after
// another, each to its end: with the grid stride each subgroup read 128 of every
// workgroup's 1024 bytes, so each pass hopped; in one run a core streams memory
// (paired: copy 1.8x, Adam 1.76x, add 1.67x faster).  quad_step also serves loops that keep their own
// indices in step with q (binary4's repeating operand).
#ifdef TEXEL_IN
#extension GL_KHR_shader_subgroup_basic : require
// (a subgroup's width capped at the workgroup's: a subgroup wider than the
// workgroup has only that many invocations)
#define SG_W min(gl_SubgroupSize, gl_WorkGroupSize.x)
uint quad_run(uint nq) {  // quads per subgroup, a whole number of subgroup widths
    uint lanes = gl_NumWorkGroups.x * gl_NumSubgroups * SG_W;
    return (nq + lanes - 1u) / lanes * SG_W;
}
uint quad_first(uint nq) {
    return (gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID) * quad_run(nq) + gl_SubgroupInvocationID;
}
uint quad_end(uint nq) {
    return min(nq, (gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID + 1u) * quad_run(nq));
}
#define quad_step() SG_W
#else
#define quad_first(nq) gl_GlobalInvocationID.x
#define quad_end(nq) (nq)
#define quad_step() (gl_NumWorkGroups.x * gl_WorkGroupSize.x)
#endif
#define FOR_QUADS(n, q) \
    for (uint end_ = quad_end((n) / EPQ), q = quad_first((n) / EPQ); q < end_; q += quad_step())
