// A subgroup's maximum / sum of v, by a butterfly of shuffles: every lane gets
// it (call in subgroup-uniform control flow; the includer enables
// GL_KHR_shader_subgroup_shuffle and GL_KHR_shader_subgroup_basic).
float sg_max(float v) {
    for (uint o = gl_SubgroupSize / 2u; o > 0u; o >>= 1u) v = max(v, subgroupShuffleXor(v, o));
    return v;
}
// The sum of v over each aligned cluster of `lanes` lanes (a power of two dividing
// the subgroup's width; 1: v itself), every lane of a cluster getting its own
float cl_sum(float v, uint lanes) {
    for (uint o = lanes / 2u; o > 0u; o >>= 1u) v += subgroupShuffleXor(v, o);
    return v;
}
float sg_sum(float v) { return cl_sum(v, gl_SubgroupSize); }
