// pad2d's input x: ldx(i) is element i as a float (x in f32, or packed halves
// with -DF16), from a storage buffer or, with -DTEXEL_IN, a uniform texel
// buffer (R32F view of f32, R32UI of halves' words).
#ifdef TEXEL_IN
#ifdef F16
layout(binding = 0) uniform usamplerBuffer X;
float ldx(uint i) { return unpackHalf2x16(texelFetch(X, int(i >> 1u)).x)[i & 1u]; }
#else
layout(binding = 0) uniform samplerBuffer X;
float ldx(uint i) { return texelFetch(X, int(i)).x; }
#endif
#else
BUF_IN(0, X)
float ldx(uint i) { return LD(X, i); }
#endif
