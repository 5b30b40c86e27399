// Strided element walks for the texel twins of copy.comp and unslice.comp (CPU
// devices): y (contiguous, shape p.dim) by 16-byte quads (walk_y: then the words
// after the last whole quad, walk_tail), each subgroup's quads
// one contiguous run (vec4.glsl, included first; y is the includer's Y4), the
// current element's index in y kept as digits in the mixed radix of y's shape
// and advanced with carries: no division per element (a 1024 x 1024 transpose
// ran 23x a contiguous copy's time dividing them out).  The includer defines
// element_bits(), the current element's bits (a word, or a half in the low 16
// bits), from idx; ELEM_BITS reads element e of a texel view of words.
#ifdef F16
#define ELEM_BITS(view, e) ((texelFetch(view, int((e) >> 1u)).x >> (16u * ((e) & 1u))) & 0xffffu)
#else
#define ELEM_BITS(view, e) texelFetch(view, int(e)).x
#endif

// NDIM (specialisation constant 0): y's dimensions, the last NDIM of the 6 (the
// backend pads the front with 1s); loops over exactly those, unrolled (2-d, on
// lavapipe: a slice gradient 2.5x, a transpose 1.3x faster than over all six)
layout(constant_id = 0) const int NDIM = 6;
#define FOR_DIMS_DOWN(d) [[unroll]] for (int d = 5; d >= 6 - NDIM; d--)
#define FOR_DIMS_UP(d) [[unroll]] for (int d = 6 - NDIM; d < 6; d++)

uint idx[6];
uint element_bits();

void digits(uint i, out uint dg[6]) {  // i in the mixed radix of y's shape (divisions)
    FOR_DIMS_DOWN(d) {
        dg[d] = i % p.dim[d];
        i /= p.dim[d];
    }
}

void advance(uint by[6]) {  // idx plus a number given by its digits
    uint carry = 0u;
    FOR_DIMS_DOWN(d) {
        uint v = idx[d] + by[d] + carry;
        carry = v >= p.dim[d] ? 1u : 0u;  // digits and by[d] < dim[d]: at most one wrap
        idx[d] = v - carry * p.dim[d];
    }
}

void walk_quads() {
    uint nq = p.n / EPQ, q = quad_first(nq), end_ = quad_end(nq);
    if (q >= end_) return;
    uint one[6], skip[6];  // 1, and the elements between this lane's quads, as digits
    digits(1u, one);
    digits((quad_step() - 1u) * EPQ, skip);
    digits(q * EPQ, idx);
    for (; q < end_; q += quad_step()) {
        uint w[EPQ];
        [[unroll]] for (uint k = 0u; k < EPQ; k++) {
            w[k] = element_bits();
            advance(one);
        }
#ifdef F16
        Y4[q] = uvec4(w[0] | (w[1] << 16u), w[2] | (w[3] << 16u), w[4] | (w[5] << 16u), w[6] | (w[7] << 16u));
#else
        Y4[q] = uvec4(w[0], w[1], w[2], w[3]);
#endif
        advance(skip);
    }
}

// The words of y after its whole quads (n not a whole number of quads: at most
// three) by the first invocation, their digits by division; an f16 word past
// n's last element keeps +0 in its upper half.
void walk_tail() {
    FOR_TAIL_WORDS(p.n, w) {
        uint e = w * (EPQ / 4u);
        digits(e, idx);
        uint v = element_bits();
        if (EPQ == 8u && e + 1u < p.n) {
            digits(e + 1u, idx);
            v |= element_bits() << 16u;
        }
        STW(Y4, w, v);
    }
}

void walk_y() {
    walk_quads();
    walk_tail();
}

// QUADS (the includer's specialisation constant): p.dim, the strides and p.n
// counted in 16-byte quads -- the walk's innermost axis runs contiguously in x
// and y, in whole quads from quad-aligned offsets -- so each step moves a quad
// (a head permute of [16, 64, 4, 32] on lavapipe: one gather per quad, where
// walk_quads takes four): quad_at(q), the includer's, for quads q of the walk in
// order (y's, gathering from x; or x's, scattered into y).
void quad_at(uint q);

void walk_quad_elements() {
    uint q = quad_first(p.n), end_ = quad_end(p.n);
    if (q >= end_) return;
    uint by[6];  // the quads between this lane's, as digits
    digits(quad_step(), by);
    digits(q, idx);
    for (; q < end_; q += quad_step()) {
        quad_at(q);
        advance(by);
    }
}
