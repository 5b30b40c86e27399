// The gradient operand (binding 1) of adam4.comp and sgd4.comp: f32, or with
// -DGRAD16 packed halves (an f16 parameter's f32 master), four per 8 bytes.
// grad(q): its quad q; GRAD_E(i): its element i, for a tail shorter than a quad
// (texel views cover whole texels; a storage buffer's quad array ends at its
// last whole quad, so the tail reads a per-element declaration).
#ifdef TEXEL_IN
#ifdef GRAD16
layout(binding = 1) uniform usamplerBuffer G_in;
vec4 grad(uint q) { uvec2 h = texelFetch(G_in, int(q)).xy; return vec4(unpackHalf2x16(h.x), unpackHalf2x16(h.y)); }
#else
layout(binding = 1) uniform samplerBuffer G_in;
vec4 grad(uint q) { return texelFetch(G_in, int(q)); }
#endif
#define GRAD_E(i) grad((i) >> 2u)[(i) & 3u]
#else
#ifdef GRAD16
layout(std430, binding = 1) readonly buffer G_b { uvec2 G2[]; };
layout(std430, binding = 1) readonly buffer G_sb { uint G_w[]; };
vec4 grad(uint q) { return vec4(unpackHalf2x16(G2[q].x), unpackHalf2x16(G2[q].y)); }
#define GRAD_E(i) unpackHalf2x16(G_w[(i) >> 1u])[(i) & 1u]
#else
layout(std430, binding = 1) readonly buffer G_b { vec4 G[]; };
layout(std430, binding = 1) readonly buffer G_sb { float G_s[]; };
vec4 grad(uint q) { return G[q]; }
#define GRAD_E(i) G_s[i]
#endif
#endif
