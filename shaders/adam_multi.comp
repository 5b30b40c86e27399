#version 450
#extension GL_GOOGLE_include_directive : require
// Adam over up to 4 parameters per dispatch: see adam_multi.glsl.
#define PARAMS 4
#include "adam_multi.glsl"
