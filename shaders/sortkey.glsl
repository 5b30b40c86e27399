// Sort keys of f32 values whose unsigned order is the sort's: -0 as +0, NaN after
// every number (before it, with desc: the keys complemented), positions >= n (a
// row's padding to a power of 2) last; pairs ordered by (key, position), so equal
// keys keep their order (a stable sort, as NumPy's and PyTorch's stable=True).
uint sort_key(uint bits, uint pos, uint n, uint desc) {
    if (pos >= n) return 0xffffffffu;
    uint u = bits == 0x80000000u ? 0u : bits;  // -0 as +0 (by the bits: a compiler may drop x + 0.0)
    float v = uintBitsToFloat(u);
    uint key = isnan(v) ? 0xfffffffeu : ((u >> 31u) != 0u ? ~u : u | 0x80000000u);
    return desc != 0u ? (isnan(v) ? 0u : ~key) : key;
}

// (ka, ia) after (kb, ib): the pair wants a swap where it is ascending
bool after(uint ka, uint ia, uint kb, uint ib) { return ka > kb || (ka == kb && ia > ib); }
