// The batch walks of im2col.comp, col2im.comp and window_max.comp (the backend's
// _batch_grid): N images (a max pool: planes) each a block of `units` units; the
// grid's workgroups of 256 take (a workgroup's units, a chunk of the images) items
// in a grid-stride loop; the body runs once for each invocation whose unit u is in
// the block, with the chunk's images [b0, b1) -- the invocation's place worked out
// once, then the images stepped through.  (The includer's local size is 256.)
#define FOR_BATCH_UNIT(units, N, chunk, u, b0, b1) \
    for (uint g_ = gl_WorkGroupID.x, groups_ = ((units) + 255u) / 256u; \
         g_ < groups_ * (((N) + (chunk) - 1u) / (chunk)); g_ += gl_NumWorkGroups.x) \
        for (uint u = (g_ % groups_) * 256u + gl_LocalInvocationID.x, b0 = g_ / groups_ * (chunk), \
             b1 = min((N), b0 + (chunk)); u < (units); u = (units))
