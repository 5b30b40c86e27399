// pad2d's input x: ldx(i) is element i as a float (x in f32, or packed halves
// with -DF16), from a storage buffer or, with -DTEXEL_IN, a uniform texel
// buffer of x's words (R32UI; vec4.glsl's LDE_WORDS).
#ifdef TEXEL_IN
layout(binding = 0) uniform usamplerBuffer X;
float ldx(uint i) { return LDE_WORDS(X, i); }
#else
BUF_IN(0, X)
float ldx(uint i) { return LD(X, i); }
#endif
