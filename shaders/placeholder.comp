#version 450
// Never dispatched: the shader kp builds an algorithm with before vkgrad
// rebuilds it for texel-buffer bindings (backends/vulkan: _algo).  It uses one
// storage buffer and no push constants, so it fits any algorithm's layout.
layout(local_size_x = 1) in;
layout(std430, binding = 0) writeonly buffer B_b { uint B[]; };
void main() {
    if (gl_GlobalInvocationID.x > 0xfffffff0u) B[0] = 0u;
}
