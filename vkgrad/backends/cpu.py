"""NumPy implementation of the primitive set.

f16 handles are stored as float16 and computed in float32, like the Vulkan
shaders, so both backends round the same way.
"""
from __future__ import annotations

import collections
import ctypes
import functools
import glob
import math
import os
import struct
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .base import (ADAM_FORMS, BINARY_OPS, UNARY_OPS, Backend, BackendError, Device, adam_scalars, check_op,
                   mom_at)

# rows this short take their maximum column by column: NumPy's loop per row of 4
# cost 11x that on [200704, 4] (a max pool's windows); an argmax so ran 1.6x slower
_SHORT_ROW = 16

_NP = {"f32": np.float32, "f16": np.float16, "f64": np.float64, "i32": np.int32}
_FROM_NP = {np.dtype(v): k for k, v in _NP.items()}
_F16 = np.dtype(np.float16)  # (handles' dtypes are NumPy's native singletons: from_numpy makes them)
_SQRT1_2 = 1.0 / math.sqrt(2.0)
_SQRT2_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# Intra-op threads: NumPy releases the GIL inside its loops, so an op split into
# chunks of its leading axis runs them in parallel (PyTorch's CPU ops do the same).
# Only per-row work is split -- no sum changes order -- so results do not depend on
# the thread count (but for a product's last bits: BLAS's kernels differ by shape).
# A chunk holds at least _PAR_MIN elements: a task costs ~30 us.
_PAR_MIN = 1 << 16
_threads = None
_pool = None


def _default_threads():
    env = os.environ.get("VKGRAD_NUM_THREADS")
    if env:
        return _check_threads(int(env) if env.strip().isdigit() else env, "VKGRAD_NUM_THREADS")
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # (not on every OS)
        return max(1, os.cpu_count() or 1)


def _check_threads(n, what):
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{what}: expected a positive int of threads, got {n!r}")
    return n


def set_num_threads(n):
    """Threads the CPU backend splits a large op over (default: the CPUs this
    process may run on, or ``VKGRAD_NUM_THREADS``), as ``torch.set_num_threads``.
    Its products run NumPy's OpenBLAS on one thread inside each of them (see
    _blas_enter); NumPy's own products elsewhere keep BLAS's threads."""
    global _threads, _pool
    n = _check_threads(n, "set_num_threads")
    if n != get_num_threads() and _pool is not None:
        _pool.shutdown(wait=True)
        _pool = None
    _threads = n


def get_num_threads():
    global _threads
    if _threads is None:
        _threads = _default_threads()
    return _threads


_task = threading.local()  # .busy: this thread runs a chunk (an op inside it stays on it)


def _par(n, fn, work):
    """fn(rows) for slices of the leading axis's n rows, in up to get_num_threads()
    chunks of at least _PAR_MIN of ``work`` elements each; the caller runs the first
    chunk.  An op called inside a chunk runs on its thread (a task waiting on tasks
    could deadlock the pool); callers on other threads (data-parallel replicas)
    share the pool."""
    global _pool
    k = min(get_num_threads(), n, work // _PAR_MIN)
    if k <= 1 or getattr(_task, "busy", False):
        fn(slice(0, n))
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(get_num_threads() - 1, thread_name_prefix="vkgrad-cpu")
    cut = [n * i // k for i in range(k + 1)]
    tasks = [_pool.submit(_run_chunk, fn, slice(cut[i], cut[i + 1])) for i in range(1, k)]
    try:
        _run_chunk(fn, slice(cut[0], cut[1]))
    finally:
        for t in tasks:
            t.result()


def _after_fork():
    """In a forked child the pool's threads do not exist (its tasks would never
    run) and a lock may be held by a thread that is gone: start both afresh."""
    global _pool, _blas_lock
    _pool = None
    _blas_lock = threading.Lock()
    _blas_depth[0] = 0


def _run_chunk(fn, rows):
    _task.busy = True
    try:
        fn(rows)
    finally:
        _task.busy = False


# Elements a block of a costly elementwise function (several passes, temporaries):
# blocks keep the temporaries in the cache (GELU of [16, 64, 512] on one thread:
# 7.8 ms whole, 3.5 in blocks of 2^16; 2^12 5.2, 2^17 3.6)
_BLOCK = 1 << 16


def _row_blocks(R, width, fn, block=None):
    """fn(rows) over blocks of about ``block`` (_BLOCK) elements of R rows of
    ``width`` (width 1: flat blocks), spread over the threads -- a function's
    temporaries stay in the cache."""
    per = max(1, (block or _BLOCK) // max(width, 1))
    starts = range(0, R, per)

    def part(r):
        for s in starts[r]:
            fn(slice(s, min(s + per, R)))
    _par(len(starts), part, R * width)


def _blockwise(f, ins, out, block=None):
    """out = f(*ins) over flat blocks (_row_blocks); ins and out (C-contiguous,
    may be one of ins) of one shape."""
    flat, fo = [a.reshape(-1) for a in ins], out.reshape(-1)

    def part(r):
        with np.errstate(over="ignore", invalid="ignore"):  # (f16 overflow is a value; the state is per thread)
            fo[r] = f(*(a[r] for a in flat))
    _row_blocks(fo.size, 1, part, block)
    return out


def _keep_freed_memory():
    """glibc's malloc hands a freed block of 128 KiB or more back to the kernel
    (munmap, or trimming the heap's top), so the next op's fresh array page-faults
    in again, every step: keep freed blocks below 16 MiB and up to 128 MiB at the
    heap's top (mallopt M_MMAP_THRESHOLD, M_TRIM_THRESHOLD).  In alternating
    processes the CNN's steps ran 1740 -> 2400 samples/s, the LSTM's 1480 -> 1900
    (the MLP and iris: unchanged).  Skipped
    where MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ are set, with
    VKGRAD_CPU_MALLOC=0, and off glibc."""
    if (os.environ.get("VKGRAD_CPU_MALLOC") == "0" or "MALLOC_MMAP_THRESHOLD_" in os.environ
            or "MALLOC_TRIM_THRESHOLD_" in os.environ or not sys.platform.startswith("linux")):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # (glibc; musl has none)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(-3, 16 << 20)) and bool(mallopt(-1, 128 << 20))


def _find_blas():
    """(set, get) of the thread count of the OpenBLAS that NumPy's wheels bundle, or
    None (another BLAS, or not found: the products then keep BLAS's own threads)."""
    base = os.path.dirname(np.__file__)
    for pattern in ("../numpy.libs/*openblas*", ".libs/*openblas*", ".dylibs/*openblas*"):
        for path in sorted(glob.glob(os.path.join(base, pattern))):
            try:
                lib = ctypes.CDLL(path)  # (the library NumPy loaded: one state)
            except OSError:
                continue
            for prefix in ("scipy_openblas", "openblas"):
                for suffix in ("64_", ""):
                    try:
                        set_, get = (getattr(lib, f"{prefix}_{v}_num_threads{suffix}") for v in ("set", "get"))
                    except AttributeError:
                        continue
                    set_.argtypes, set_.restype, get.restype = [ctypes.c_int], None, ctypes.c_int
                    return set_, get
    return None


_blas = _find_blas()
_blas_lock = threading.Lock()
_blas_depth = [0, 0]  # products between _blas_enter and _blas_exit, BLAS's thread count before them
# OpenBLAS runs a product of fewer multiply-adds than this on the calling thread
# (interface/gemm.c: SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD): no threads to
# keep from spinning, and no toggle to pay (~14 us a product in the iris step)
_BLAS_ONE_THREAD = 65536 * 4


# (the OpenMP calls: its runtime's; *_addr: the three as C function pointers, for _cpukern)
_Sgemm = collections.namedtuple("_Sgemm", "gemm set_threads max_threads name gemm_addr set_addr get_addr")


def _find_sgemm():
    """oneDNN's ``dnnl_sgemm`` (Debian / Ubuntu package libdnnl2 or libdnnl3), or
    None: float32 products then run NumPy's.  On the MLP 784-1024-1024-10's five
    large products its JIT kernels took 0.84x the time of NumPy's OpenBLAS 0.3.31
    on one thread (PyTorch's MKL: 0.78x), its training step 0.92x.  VKGRAD_CPU_SGEMM=0
    turns it off, =PATH names the library.  It runs on one OpenMP thread inside
    each of vkgrad's chunks (no OpenMP threads spinning between ops)."""
    env = os.environ.get("VKGRAD_CPU_SGEMM", "")
    if env == "0":
        return None
    for name in ([env] if env else ["libdnnl.so.3", "libdnnl.so.2", "libdnnl.3.dylib", "libdnnl.2.dylib"]):
        try:
            lib = ctypes.CDLL(name)
            # (omp_*: resolved through the library's OpenMP runtime)
            f, set_, get = lib.dnnl_sgemm, lib.omp_set_num_threads, lib.omp_get_max_threads
        except (OSError, AttributeError):
            continue
        i64, ptr, fl = ctypes.c_int64, ctypes.c_void_p, ctypes.c_float
        f.argtypes = [ctypes.c_char, ctypes.c_char, i64, i64, i64, fl, ptr, i64, ptr, i64, fl, ptr, i64]
        f.restype, set_.argtypes, set_.restype, get.restype = ctypes.c_int, [ctypes.c_int], None, ctypes.c_int
        addr = lambda fn: ctypes.cast(fn, ctypes.c_void_p).value  # noqa: E731
        return _Sgemm(f, set_, get, name, addr(f), addr(set_), addr(get))
    if env:
        raise ImportError(f"VKGRAD_CPU_SGEMM={env!r}: no library with dnnl_sgemm there")
    return None


_sgemm = _find_sgemm()


def _kernel_signatures():
    """_cpukern.c's functions: name -> (argument types, result type)."""
    ptr, fl, size, i = ctypes.c_void_p, ctypes.c_float, ctypes.c_ssize_t, ctypes.c_int
    window = [size] * 4 + [i] * 8 + [size] * 2  # (N, C, H, W, the Window's ints, OH, OW)
    pool = [size] * 3 + [i] * 2 + [size] * 2  # (planes, H, W, kh, kw, OH, OW)
    return {"vkg_adam_f32": ([ptr] * 4 + [size] + [fl] * 7 + [i, fl, fl], None),
            "vkg_im2col_32": ([ptr, ptr] + window + [ctypes.c_uint], None),
            "vkg_col2im_f32": ([ptr, ptr] + window, None),
            "vkg_maxpool_f32": ([ptr] * 3 + pool, None),
            "vkg_maxpool_bwd_32": ([ptr] * 3 + pool, None),
            "vkg_transpose_32": ([ptr, ptr] + [size] * 3, None),
            "vkg_gelu_f32": ([ptr, ptr, size], None),
            "vkg_relu_f32": ([ptr, ptr, size], None),
            "vkg_relu_bwd_f32": ([ptr, ptr, ptr, size], None),
            "vkg_add_f32": ([ptr, ptr, ptr, size], None),
            "vkg_gelu_bwd_f32": ([ptr, ptr, ptr, size], None),
            "vkg_lstm_cell_f32": ([ptr] * 6 + [size] * 2, None),
            "vkg_lstm_cell_bwd_f32": ([ptr] * 7 + [size] * 2, None),
            "vkg_gru_cell_f32": ([ptr] * 5 + [size] * 2, None),
            "vkg_gru_cell_bwd_f32": ([ptr] * 7 + [size] * 2, None),
            "vkg_layer_norm_f32": ([ptr] * 6 + [size] * 2 + [fl], None),
            "vkg_layer_norm_bwd_f32": ([ptr] * 7 + [size] * 2, None),
            "vkg_softmax_f32": ([ptr, ptr, size, size, i], None),
            "vkg_index_add_rows_f32": ([ptr] * 3 + [size] * 2, None),
            "vkg_colsum_f32": ([ptr] * 2 + [size] * 3, None),
            "vkg_softmax_bwd_f32": ([ptr] * 3 + [size, size, i], None),
            "vkg_softmax_xent_f32": ([ptr] * 4 + [size, size, fl], ctypes.c_double),
            "vkg_xent_blocks_f32": ([ptr] * 5 + [size] * 4 + [fl], None),
            "vkg_sgemm_par": ([ptr] * 3 + [i] * 2 + [ctypes.c_char] * 2 + [ctypes.c_int64] * 3
                              + [ptr, ctypes.c_int64] * 3 + [ctypes.c_int64] * 4 + [ptr, i], i),
            "vkg_rnn_seq_f32": ([ptr] * 8 + [size, i, size, size, size, i] + [ptr] * 5, None),
            "vkg_conv_fwd_f32": ([ptr] * 3 + [size] * 2 + [ptr] * 6, None),
            "vkg_bn_planes_f32": ([ptr] * 7 + [size] * 4 + [fl], None),
            "vkg_bn_planes_bwd_f32": ([ptr] * 8 + [size] * 4, None),
            "vkg_conv_bwd_f32": ([ptr] * 6 + [size, size, ptr, size] + [ptr] * 4, None),
            "vkg_rnn_seq_bwd_f32": ([ptr] * 13 + [size, i, size, size, size, i, i] + [ptr] * 4, None),
            "vkg_rows_loop": ([ctypes.c_char_p], i),
            "vkg_rows_par": ([i, i, ctypes.c_int64, ctypes.c_int64, i, ptr, ptr], i)}


_KERNEL_SIGNATURES = _kernel_signatures()


def _find_kernels():
    """vkgrad's C loops (_cpukern.c: Adam, im2col / col2im, max pools, transposes,
    GELU, the LSTM and GRU cells and whole recurrences, layer norm, softmax, its
    gradient and softmax cross-entropy, the pooled float32 products with their bias
    and ReLU; compiled at install where a C compiler is; the NumPy
    path's bits for the first four, the others within 1e-6), or None: the NumPy path.
    VKGRAD_CPU_NATIVE=0 turns them off."""
    if os.environ.get("VKGRAD_CPU_NATIVE") == "0":
        return None
    from importlib.machinery import EXTENSION_SUFFIXES
    here = os.path.dirname(os.path.abspath(__file__))
    for suffix in EXTENSION_SUFFIXES:
        path = os.path.join(here, "_cpukern" + suffix)
        if os.path.exists(path):
            try:
                lib = ctypes.CDLL(path)
                for fn, (args, res) in _KERNEL_SIGNATURES.items():
                    f = getattr(lib, fn)
                    f.argtypes, f.restype = args, res
            except (OSError, AttributeError):  # (a build older than this file: NumPy's path)
                return None
            return lib
    return None


_kern = _find_kernels()


def build_info():
    """One line: how the CPU backend runs its products and its fused loops."""
    pool = ("; large ones, and the C loops' rows, split over C threads" if _kern is not None and not _NOPOOL
            else "")
    gemm = (f"oneDNN's dnnl_sgemm ({_sgemm.name}) for float32{pool}, NumPy's BLAS otherwise"
            if _sgemm is not None
            else "NumPy's BLAS (oneDNN off: VKGRAD_CPU_SGEMM=0)" if os.environ.get("VKGRAD_CPU_SGEMM") == "0"
            else "NumPy's BLAS (oneDNN not found; Debian / Ubuntu: apt install libdnnl2)")
    loops = ("C loops (_cpukern)" if _kern is not None else
             "NumPy (off: VKGRAD_CPU_NATIVE=0)" if os.environ.get("VKGRAD_CPU_NATIVE") == "0" else
             "NumPy (_cpukern not built: no C compiler at install)")
    return (f"cpu: {get_num_threads()} threads, products by {gemm}; Adam, im2col / col2im, max pools, "
            f"transposes, GELU, LSTM / GRU cells and whole recurrences, layer norms, softmax and its gradient "
            f"by {loops}")


_from_buffer, _addressof = ctypes.c_char.from_buffer, ctypes.addressof


def _addr(a):
    """The address of a's first element: through the buffer protocol where a is a
    writable, C-contiguous, non-empty array (0.5 us; __array_interface__ builds a
    dict: 1.4 us, and an LSTM step takes ~600 addresses), else that dict's."""
    f = a.flags
    if f.c_contiguous and f.writeable and a.nbytes:
        return _addressof(_from_buffer(a))
    return a.__array_interface__["data"][0]


def _rows_loops():
    """_cpukern's loops that vkg_rows_par splits over its pool: name -> index."""
    if _kern is None:
        return {}
    found = {name: _kern.vkg_rows_loop(name.encode()) for name in _KERNEL_SIGNATURES}
    return {name: i for name, i in found.items() if i >= 0}


_ROWS_LOOPS = _rows_loops()
_f32_bits = struct.Struct("<f")


def _word(v, kind):
    """An argument of a C loop as vkg_rows_par's word: a float32's bits, an address
    (None: 0) or an integer."""
    if kind is ctypes.c_float:
        return int.from_bytes(_f32_bits.pack(v), "little")
    return 0 if v is None else int(v)


def _c_rows(fn, n, args, rest=(), unit=1, width=None, steps=None):
    """The C loop ``fn`` over the leading axis's n rows, in chunks over the threads:
    fn(*args, the chunk's rows times ``unit``, *rest), each array in ``args`` (C-
    contiguous, n rows) by its address at the chunk's first row, other args (a fixed
    address, None) as they are.  Chunks of at least _PAR_MIN elements (of the largest
    array, or ``width`` a row), run by _cpukern's pool of spinning C threads
    (vkg_rows_par: Python's pool started a chunk 215 us late here, more than a
    softmax over [256, 1000] takes); without it, ``width``: _row_blocks' cache-sized
    blocks of rows that wide, else _par's chunks.  ``steps``: each of ``args``'s
    change a row (bytes for arrays; an int too: a count of rows left, -rows a row),
    where the rows are not the arrays' leading axis."""
    at = [(_addr(a), a.nbytes // max(n, 1)) if isinstance(a, np.ndarray) else (a, None) for a in args]
    if steps is not None:
        at = [(a, st) for (a, _), st in zip(at, steps)]
    work = n * width if width is not None else max(a.size for a in args if isinstance(a, np.ndarray))
    k = min(get_num_threads(), n, work // _PAR_MIN)
    loop = _ROWS_LOOPS.get(fn.__name__)
    if k > 1 and loop is not None and not _NOPOOL and not getattr(_task, "busy", False):
        kinds = fn.argtypes[len(at) + 1:]
        words = [a or 0 for a, _ in at] + [_word(v, t) for v, t in zip(rest, kinds)]
        steps = [step or 0 for _, step in at] + [0] * len(rest)
        if _kern.vkg_rows_par(loop, k, n, unit, len(words), (ctypes.c_int64 * len(words))(*words),
                              (ctypes.c_int64 * len(steps))(*steps)) == 0:
            return

    def chunk(r):
        fn(*[a if step is None else a + r.start * step for a, step in at], (r.stop - r.start) * unit, *rest)
    if width is None:
        _par(n, chunk, work)
    else:
        _row_blocks(n, width, chunk)


def _batched_transpose(shape, axes):
    """(B, R, C) where permuting ``shape`` by ``axes`` moves the elements as B matrices
    [R, C] transposed (runs of axes that stay adjacent merged; axes of length 1 left
    out): a convolution's rows [N, OH, OW, C] to [N, C, OH, OW] is (N, OH OW, C);
    else None (B is 1 for a single transpose)."""
    keep = [a for a in axes if shape[a] != 1]
    rank = {a: i for i, a in enumerate(sorted(keep))}  # (the kept axes renumbered)
    runs = []
    for a in (rank[a] for a in keep):
        if runs and runs[-1][-1] + 1 == a:
            runs[-1].append(a)
        else:
            runs.append([a])
    size = [math.prod(shape[sorted(keep)[i]] for i in run) for run in runs]
    first = [run[0] for run in runs]
    if len(runs) == 2 and first[0] > first[1]:
        return 1, size[1], size[0]
    if len(runs) == 3 and first[0] < first[2] < first[1]:
        return size[0], size[2], size[1]
    return None


def _layout(x):
    """(b"N", leading dimension) for a row-major 2-D float32 array, (b"T", ld) for a
    column-major one (a transposed view), (None, 0) otherwise."""
    s0, s1 = x.strides
    if s1 == 4 and s0 % 4 == 0 and s0 >= 4 * x.shape[1]:
        return b"N", s0 // 4
    if s0 == 4 and s1 % 4 == 0 and s1 >= 4 * x.shape[0]:
        return b"T", s1 // 4
    return None, 0


# Multiply-adds a chunk of a product split over vkg_sgemm_par's pool at least takes
# (its hand-over costs about a microsecond; 2^19 take oneDNN ~10 us on one core)
_POOL_MIN = 1 << 19
_NOPOOL = os.environ.get("VKGRAD_CPU_POOL") == "0"  # (then Python's pool, as before)


def _pooled_product(a, b, out, threads, bias=None, relu=False):
    """out = a @ b (float32, 2-D, or 3-D batches of the same count) by oneDNN in
    chunks -- of the batch's items, else of the longer of out's axes -- run by
    _cpukern's pool of spinning threads (vkg_sgemm_par), each chunk then + ``bias``
    (float32 [N], contiguous) and ReLU'd where asked while it is in the cache (an
    LSTM's input projection [2048, 16] @ [16, 512] + bias: 691 -> 409 us, NumPy's
    bias pass alone 335 us; training steps 0.95-0.99x); False where
    the layouts, the library or this thread (a chunk of vkgrad's own split) do not
    allow it.
    Python's pool handed a chunk over in 115 us on this 2-core VM (a futex wake-up,
    then the GIL): an LSTM's [64, 128] @ [128, 512] ran 230 us split that way, 91
    on one thread."""
    if _kern is None or getattr(_task, "busy", False) or _NOPOOL:
        return False
    batch, strides = 1, [0, 0, 0]
    if a.ndim == 3:  # items by their strides (in floats; whole ones only)
        batch = a.shape[0]
        strides = [x.strides[0] // 4 if x.strides[0] % 4 == 0 else None for x in (a, b, out)]
        if None in strides or b.shape[0] != batch:
            return False
        a, b, out = a[0], b[0], out[0]
    ta, lda = _layout(a)
    tb, ldb = _layout(b)
    if not (ta and tb and out.strides[1] == 4 and out.strides[0] >= 4 * out.shape[1]):
        return False
    (M, K), N = a.shape, b.shape[1]
    chunks = max(1, min(threads, batch * M * N * K // _POOL_MIN, batch if batch > 1 else max(M, N)))
    status = _kern.vkg_sgemm_par(_sgemm.gemm_addr, _sgemm.set_addr, _sgemm.get_addr, chunks, int(M < N), ta, tb,
                                 M, N, K, _addr(a), lda, _addr(b), ldb, _addr(out), out.strides[0] // 4,
                                 batch, *strides, None if bias is None else _addr(bias), int(relu))
    return status == 0


def _apart(a, b):
    """Whether two blocks (tuples of slices with positive steps) share no element: on
    some axis their spans do not meet (a sufficient test: interleaved steps that never
    meet count as sharing)."""
    for x, y in zip(a, b):
        nx, ny = len(range(x.start, x.stop, x.step)), len(range(y.start, y.stop, y.step))
        if not nx or not ny or x.start + x.step * (nx - 1) < y.start or y.start + y.step * (ny - 1) < x.start:
            return True
    return False


def _row_bytes(arrays):
    """_c_rows' steps for arrays whose rows are their second-last axis ([T, N, X] and
    [N, X] alike: a batch row's X float32 values), None for absent ones."""
    return [None if a is None else 4 * a.shape[-1] for a in arrays]


def _check_gemm(status, op):
    """An error for a non-zero dnnl_sgemm status a C loop recorded (one a chunk; -1: its
    buffer could not be allocated)."""
    if (status == -1).any():
        raise MemoryError(f"{op}: no memory for a thread's buffer")
    if status.any():
        raise RuntimeError(f"{op}: oneDNN's dnnl_sgemm returned status {int(status.max())}")


def _mm(a, b, out):
    """out[...] = a @ b for 2-D arrays: float32 by dnnl_sgemm where it is found and the
    strides allow (on this thread), NumPy's product otherwise."""
    if _sgemm is not None and a.dtype == b.dtype == out.dtype == np.float32 and min(a.shape + b.shape) > 1:
        ta, lda = _layout(a)
        tb, ldb = _layout(b)
        if ta and tb and out.strides[1] == 4 and out.strides[0] >= 4 * out.shape[1]:
            # one OpenMP thread for this call only: the runtime (libgomp.so.1) is the one
            # PyTorch loads too where vkgrad came first -- its thread count left at 1, a
            # PyTorch CNN's step ran 1.8x slower
            before = _sgemm.max_threads()
            _sgemm.set_threads(1)
            try:
                status = _sgemm.gemm(ta, tb, a.shape[0], b.shape[1], a.shape[1], 1.0, _addr(a), lda,
                                   _addr(b), ldb, 0.0, _addr(out), out.strides[0] // 4)
            finally:
                _sgemm.set_threads(before)
            if status == 0:
                return out
    return np.matmul(a, b, out=out)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _blas_enter():
    """BLAS on one thread while vkgrad splits products over its own: OpenBLAS's
    threads spin for a while after each call and would take the cores from the
    next op's threads (a max pool after a convolution's product ran 2.4x slower)."""
    with _blas_lock:
        if _blas_depth[0] == 0:
            _blas_depth[1] = _blas[1]()
            _blas[0](1)
        _blas_depth[0] += 1


def _blas_exit():
    with _blas_lock:
        _blas_depth[0] -= 1
        if _blas_depth[0] == 0:
            _blas[0](_blas_depth[1])


def _products(a, b, batched, bias=None, act=None):
    """a @ b ([M, K] @ [K, N], or batches of them), + bias [N] and the activation
    (matmul's epilogue), BLAS on one thread (dnnl_sgemm where found, see _mm; NumPy's
    OpenBLAS through _blas_enter); float32 by oneDNN from 2^20 multiply-adds split
    over _cpukern's pool (_pooled_product); else a large product split over vkgrad's threads by
    batch, or by the longer of the output's rows and columns, each chunk with its own
    epilogue (a row split of [256, 784] @ [784, 1024] ran 1.1-1.3x the column split's
    time; the column split 1.0-1.2x OpenBLAS's own two threads', whose spinning
    afterwards cost more)."""
    M, N, K = a.shape[-2], b.shape[-1], a.shape[-1]
    flops = (a.shape[0] if batched else 1) * M * N * K
    work = flops // 256  # (a chunk of >= 16 Mflop: a split costs 40-60 us, a [64, 128] @ [128, 512] ran
    # 168 us split in two against 94 us on one thread)
    n = a.shape[0] if batched else max(M, N)
    by_dnnl = _sgemm is not None and a.dtype == b.dtype == np.float32
    own = by_dnnl and not batched  # (_mm: one thread)
    if by_dnnl and flops >= 2 * _POOL_MIN and get_num_threads() > 1 and min(M, N, K) > 1:
        out = np.empty(a.shape[:-1] + (N,), np.float32)
        # the bias and ReLU on each chunk in C where they can be (ReLU after the bias: both there or neither)
        fb = (bias if bias is not None and bias.dtype == np.float32 and bias.shape == (N,)
              and bias.flags.c_contiguous else None)
        relu = act == "relu" and (bias is None or fb is not None)
        if _pooled_product(a, b, out, get_num_threads(), fb, relu):
            return _epilogue(out, None if fb is not None else bias, None if relu else act, out=out)
    if flops < _BLAS_ONE_THREAD or (not own and (_blas is None or get_num_threads() == 1)):
        return _epilogue(np.matmul(a, b), bias, act)
    out = np.empty(a.shape[:-1] + (N,), np.result_type(a, b))
    if batched:
        def part(r):
            o = out[r]
            np.matmul(a[r], b[r], out=o)
            _epilogue(o, bias, act, out=o)
    elif M >= N:
        def part(r):
            o = out[r]
            _mm(a[r], b, o)
            _epilogue(o, bias, act, out=o)
    else:
        def part(r):
            o = out[:, r]
            _mm(a, b[:, r], o)
            _epilogue(o, None if bias is None else bias[r], act, out=o)
    if _blas is not None:
        _blas_enter()
    try:
        _par(n, part, work)
    finally:
        if _blas is not None:
            _blas_exit()
    return out


def _epilogue(r, bias, act, out=None):
    """r + bias, activated (in place where the activation is); into ``out``."""
    if bias is not None:
        r += bias
    y = _act(r, act)
    if out is not None and y is not out:
        out[...] = y
    return y


def erf(x):
    """Vectorised erf: exact for float64 (math.erf), Abramowitz-Stegun 7.1.26
    with |error| < 1.5e-7 otherwise (the same formula the shaders use), in f32
    and in place (a GELU's [16, 64, 512] 11.7 -> 4.1 ms, the same bits)."""
    if x.dtype == np.float64:
        return np.frompyfunc(math.erf, 1, 1)(x).astype(np.float64)
    if x.dtype != np.float32:
        return erf(x.astype(np.float32)).astype(x.dtype)
    a = np.abs(x)
    t = a * np.float32(0.3275911)
    t += 1.0
    np.reciprocal(t, out=t)
    p = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):  # Horner
        p += np.float32(c)
        p *= t
    np.multiply(a, a, out=a)
    np.negative(a, out=a)
    p *= np.exp(a, out=a)
    np.subtract(np.float32(1.0), p, out=p)
    return _copysign32(p, x)


def _copysign32(p, x):
    """np.copysign(p, x, out=p) for float32 by the bits (|p|'s, x's sign): NumPy's
    copysign has no SIMD loop (64K elements: 128 -> 39 us); the same bits, NaN too."""
    pb = p.view(np.uint32)
    np.bitwise_and(pb, np.uint32(0x7FFFFFFF), out=pb)
    np.bitwise_or(pb, np.bitwise_and(x.view(np.uint32), np.uint32(0x80000000)), out=pb)
    return p


_IOTA = np.arange(1 << 12, dtype=np.uint32)  # (0, 1, ...: hash_bits' counters; grown to 2^20 as needed)


def hash_bits(n, seed):
    """Counter-based random words: lowbias32 of (index + seed * phi), uint32 [n].

    The dropout shader computes the same bits, so masks agree across backends."""
    global _IOTA
    if n > _IOTA.size and n <= 1 << 20:
        _IOTA = np.arange(1 << max(12, (n - 1).bit_length()), dtype=np.uint32)
    iota = _IOTA[:n] if n <= _IOTA.size else np.arange(n, dtype=np.uint32)
    h = np.add(iota, np.uint32((int(seed) * 0x9E3779B9) & 0xFFFFFFFF))
    t = np.empty_like(h)
    for shift, mul in ((16, 0x7FEB352D), (15, 0x846CA68B), (16, None)):
        np.right_shift(h, shift, out=t)
        h ^= t
        if mul is not None:
            h *= np.uint32(mul)
    return h


def hash_uniform(n, seed):
    """hash_bits as uniform [0, 1) f32 numbers: their top 24 bits / 2^24."""
    return (hash_bits(n, seed) >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def keep_threshold(p):
    """Dropout keeps an element where its hash_uniform number u >= p (in f32, as
    the shader compares), that is where its hash_bits word h >= this bound (u's
    24 bits are exact: u >= p iff h >> 8 >= ceil(f32(p) 2^24)); None: none kept."""
    k = math.ceil(float(np.float32(p)) * 16777216.0)
    return None if k >= 1 << 24 else np.uint32(k << 8)


def _erf_op(x):
    """erf as the shaders' erf_f: exact in float64; in f32 a Maclaurin series for
    |x| < 0.5 (relative accuracy near 0, where erf's 1.5e-7 absolute error is
    most of the value), ``erf`` beyond."""
    if x.dtype == np.float64:
        return erf(x)
    t = x * x
    p = np.float32(-1.0 / 1320.0)
    for c in (1.0 / 216.0, -1.0 / 42.0, 0.1, -1.0 / 3.0, 1.0):  # Horner
        p = p * t + np.float32(c)
    return np.where(np.abs(x) < 0.5, x * np.float32(1.1283791670955126) * p, erf(x)).astype(x.dtype)


def _f64(fn):
    """An elementwise function computed in float64 (the special functions: exact to
    ~1e-15 there, so every dtype gets its correctly rounded value), in x's dtype."""
    def f(x, a, b):
        with np.errstate(all="ignore"):
            return fn(np.asarray(x, np.float64)).astype(x.dtype)
    return f


def _lgamma(x):
    def one(v):
        if v <= 0 and v == math.floor(v):
            return math.inf  # (the poles)
        return math.lgamma(v) if math.isfinite(v) else (v if math.isnan(v) else math.inf)
    return np.frompyfunc(one, 1, 1)(x).astype(np.float64)


def _polygamma01(x, n):
    """digamma (n = 0) or trigamma (n = 1) in float64: reflection below 0.5, the
    recurrence up to 10, the asymptotic series (relative ~1e-14)."""
    x = np.array(x, np.float64)
    out = np.zeros_like(x)
    refl = x < 0.5
    s = np.sin(np.pi * (x - np.round(x))) * np.where(np.round(x) % 2, -1.0, 1.0)
    if n == 0:  # -pi cot(pi x), of x's distance r to its nearest integer: cot(pi x) = cot(pi r)
        rr = x - np.round(x)
        out = np.where(refl, -np.pi * np.cos(np.pi * rr) / np.sin(np.pi * rr), 0.0)
    else:
        out = np.where(refl, np.pi ** 2 / (s * s), 0.0)
    sign = np.where(refl & (n == 1), -1.0, 1.0)
    y = np.where(refl, 1.0 - x, x)
    acc = np.zeros_like(y)
    for _ in range(10):
        small = y < 10.0
        acc += np.where(small, -1.0 / y if n == 0 else 1.0 / (y * y), 0.0)
        y = np.where(small, y + 1.0, y)
    r = 1.0 / y
    r2 = r * r
    if n == 0:
        tail = np.log(y) - 0.5 * r - r2 * (1 / 12 - r2 * (1 / 120 - r2 * (1 / 252 - r2 * (1 / 240 - r2 / 132))))
    else:
        tail = r + 0.5 * r2 + r * r2 * (1 / 6 - r2 * (1 / 30 - r2 * (1 / 42 - r2 * (1 / 30 - r2 * 5 / 66))))
    res = out + sign * (acc + tail)
    poles = (x <= 0) & (x == np.floor(x))
    res = np.where(poles, (-np.inf if n == 0 else np.inf), res)
    if n == 0:
        res = np.where(poles & (x < 0), np.nan, res)
    res = np.where(np.isnan(x), np.nan, res)
    return np.where(x == np.inf, np.inf if n == 0 else 0.0, res)


def _erfinv(x):
    """erfinv in float64: Giles' approximation refined by two Newton steps on erf."""
    x = np.array(x, np.float64)
    w = -np.log((1.0 - x) * (1.0 + x))
    lo = w - 2.5
    p1 = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164,
              0.246640727, 1.50140941):
        p1 = c + p1 * lo
    hi = np.sqrt(np.maximum(w, 0.0)) - 3.0
    p2 = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
              1.00167406, 2.83297682):
        p2 = c + p2 * hi
    y = np.where(w < 5.0, p1, p2) * x
    erf64 = np.frompyfunc(math.erf, 1, 1)
    for _ in range(2):
        fin = np.isfinite(y)
        e = np.where(fin, erf64(np.where(fin, y, 0.0)).astype(np.float64), 0.0) - x
        y = np.where(fin, y - e / (2.0 / math.sqrt(math.pi) * np.exp(-y * y)), y)
    y = np.where(np.abs(x) == 1.0, x * np.inf, y)
    return np.where(np.abs(x) > 1.0, np.nan, y)


def _native_f32(*arrays):
    """Whether the C loops take these arrays: float32, C-contiguous, of one shape."""
    return (_kern is not None and all(a.dtype == np.float32 and a.flags.c_contiguous for a in arrays)
            and all(a.shape == arrays[0].shape for a in arrays))


def _gelu(x):
    if _native_f32(x):  # (one pass: _cpukern.c; its exp within 2 ULP of NumPy's)
        y = np.empty_like(x)
        _kern.vkg_gelu_f32(_addr(x), _addr(y), x.size)
        return y
    y = erf(x * _SQRT1_2)  # (in place from here: a few passes over a fresh array)
    y += 1.0
    y *= x
    y *= 0.5
    return y


def _gelu_bwd(x, g):
    """g * GELU'(x) = g * (Phi(x) + x * phi(x))."""
    if _native_f32(x, g):
        d = np.empty_like(x)
        _kern.vkg_gelu_bwd_f32(_addr(x), _addr(g), _addr(d), x.size)
        return d
    d = erf(x * _SQRT1_2)
    d += 1.0
    d *= 0.5
    t = np.multiply(x, x)
    t *= -0.5
    np.exp(t, out=t)
    t *= x
    t *= _INV_SQRT_2PI
    d += t
    if d.shape != g.shape:  # (broadcast operands: a new array)
        return d * g
    d *= g
    return d


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(_SQRT2_PI * (x + 0.044715 * x * x * x)))


def _sigmoid(x):
    """The shaders' sigmoid_f, split by sign so exp never overflows: 1 / (1 + e) for
    x >= 0, e / (1 + e) below, e = exp(-|x|).  The numerator, exp(min(x, 0)), is
    max(e, x > 0): e <= 1 is exp(x) itself where x <= 0 -- one exp, not two, the
    same values (a NaN's sign apart), without np.where's branch per element (32x
    slower on random signs); against a row of zeros (_zeros_for): [64, 512] 126 ->
    91 -> 74 us."""
    e = np.abs(x)
    np.negative(e, out=e)
    np.exp(e, out=e)
    u = np.greater(x, _zeros_for(x), out=np.empty_like(x))
    np.maximum(e, u, out=u)
    e += 1.0
    return np.divide(u, e, out=u)


@functools.lru_cache(maxsize=64)
def _const_row(n, dtype, value):
    """A read-only row of n ``value``s, kept (relu's zeros, the tall sums' ones)."""
    z = np.full(n, value, dtype)
    z.flags.writeable = False
    return z


def _zeros_for(x):
    """0 for np.maximum / np.minimum with x: a row of zeros -- with a scalar NumPy
    skips their SIMD loops (2.4x slower on [256, 1024]) -- or, for small x, the
    scalar (no lookup); the same values either way, NaN kept."""
    return _const_row(x.shape[-1], x.dtype, 0) if x.size >= 8192 and x.shape[-1] >= 16 else x.dtype.type(0)


def _relu(x, out=None):
    """max(x, 0) against a row of zeros (_zeros_for)."""
    return np.maximum(x, _zeros_for(x), out=out)


def _act(r, act):
    """The activation of a product's result r (a fresh array: in place where the
    function allows, the costly ones in blocks over the threads)."""
    if act is None:
        return r
    if act == "relu":
        return _relu(r, out=r)
    if act == "tanh":
        return np.tanh(r, out=r)
    f = _COSTLY_ACTS.get(act)
    if f is None:
        raise BackendError(f"cpu: unknown activation {act!r}")
    if r.size >= 2 * _BLOCK and r.flags.c_contiguous:
        return _blockwise(f, (r,), r)
    return f(r)


_COSTLY_ACTS = {"sigmoid": _sigmoid, "gelu": _gelu, "gelu_tanh": _gelu_tanh}


def _affine(x, a, b):
    """x * a + b with the sum in place (x * a + b's bits, one temporary fewer: attention's
    scaled scores [16, 4, 64, 64] 130-141 -> 84-90 us).  Quiet where NumPy would warn
    -- inf * 0, a non-finite factor, f16 overflow -- as PyTorch; only those pay for
    the errstate."""
    if a == 0.0 or not (math.isfinite(a) and math.isfinite(b)) or x.dtype == np.float16:
        with np.errstate(all="ignore"):
            return _affine_raw(x, a, b)
    return _affine_raw(x, a, b)


def _affine_raw(x, a, b):
    r = x * a
    if r.dtype.kind != "f":
        return r + b
    r += b
    return r


def _gelu_tanh_grad(x):
    u = _SQRT2_PI * (x + 0.044715 * x ** 3)
    t = np.tanh(u)
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _SQRT2_PI * (1.0 + 3 * 0.044715 * x * x)


def _ieee(f):
    """f under IEEE semantics without NumPy's warnings (log(0) = -inf, sqrt(-1) = NaN,
    x / 0 = inf, exp overflow = inf), as the Vulkan backend and PyTorch give them
    silently; only the ops that can raise them pay for the errstate (~2 us)."""
    def quiet(*args):
        with np.errstate(all="ignore"):
            return f(*args)
    return quiet


_UNARY = {
    "neg": lambda x, a, b: -x,
    "exp": _ieee(lambda x, a, b: np.exp(x)),
    "log": _ieee(lambda x, a, b: np.log(x)),
    "sqrt": _ieee(lambda x, a, b: np.sqrt(x)),
    "relu": lambda x, a, b: _relu(x),
    "sigmoid": lambda x, a, b: _sigmoid(x),
    "tanh": lambda x, a, b: np.tanh(x),
    "gelu": lambda x, a, b: _gelu(x),
    "gelu_tanh": lambda x, a, b: _gelu_tanh(x),
    "affine": lambda x, a, b: _affine(x, a, b),
    "pow": _ieee(lambda x, a, b: np.power(x, a)),
    "clamp": lambda x, a, b: np.clip(x, a, b),
    "clip_coef": lambda x, a, b: np.minimum(1.0, a / (x + 1e-6)),
    "fill": lambda x, a, b: np.full_like(x, b),
    "sin": _ieee(lambda x, a, b: np.sin(x)),
    "cos": _ieee(lambda x, a, b: np.cos(x)),
    "log1p": _ieee(lambda x, a, b: np.log1p(x)),
    "expm1": _ieee(lambda x, a, b: np.expm1(x)),
    "erf": _ieee(lambda x, a, b: _erf_op(x)),  # (its series branch overflows where it is not taken)
    "sign": lambda x, a, b: np.sign(x),
    "floor": lambda x, a, b: np.floor(x),
    "ceil": lambda x, a, b: np.ceil(x),
    "round": lambda x, a, b: np.round(x),
    "trunc": lambda x, a, b: np.trunc(x),
    "atan": lambda x, a, b: np.arctan(x),
    "asin": _ieee(lambda x, a, b: np.arcsin(x)),
    "acos": _ieee(lambda x, a, b: np.arccos(x)),
    "asinh": lambda x, a, b: np.arcsinh(x),
    "acosh": _ieee(lambda x, a, b: np.arccosh(x)),
    "atanh": _ieee(lambda x, a, b: np.arctanh(x)),
    "lgamma": _f64(_lgamma),
    "digamma": _f64(lambda x: _polygamma01(x, 0)),
    "trigamma": _f64(lambda x: _polygamma01(x, 1)),
    "erfc": _f64(lambda x: np.frompyfunc(math.erfc, 1, 1)(x).astype(np.float64)),
    "erfinv": _f64(_erfinv),
}

# ops of several passes or a costly function (>= 2 ns an element on one core): in
# cache-sized blocks over the threads (_map), the others in blocks 16x that
_HEAVY = frozenset({"sigmoid", "gelu", "gelu_tanh", "erf", "acosh", "gelu_bwd", "gelu_tanh_bwd", "erf_bwd",
                    "pow_bwd", "hypot"})

_BINARY = {
    "add": lambda x, y, a, b: x + y,
    "sub": lambda x, y, a, b: x - y,
    "mul": lambda x, y, a, b: x * y,
    "div": _ieee(lambda x, y, a, b: x / y),
    "eq": lambda x, y, a, b: (x == y).astype(x.dtype),
    "relu_bwd": lambda x, g, a, b: np.where(x <= 0, 0, g),  # (selects, as PyTorch's: inf * 0 is not NaN)
    "sigmoid_bwd": lambda y, g, a, b: g * y * (1.0 - y),
    "tanh_bwd": lambda y, g, a, b: g * (1.0 - y * y),
    "gelu_bwd": lambda x, g, a, b: _gelu_bwd(x, g),
    "gelu_tanh_bwd": lambda x, g, a, b: g * _gelu_tanh_grad(x),
    "pow_bwd": _ieee(lambda x, g, a, b: g * a * np.power(x, a - 1)),
    "clamp_bwd": lambda x, g, a, b: np.where((x >= a) & (x <= b), g, 0),
    "maximum": lambda x, y, a, b: np.maximum(x, y),  # (NaN from either side, as the shaders)
    "minimum": lambda x, y, a, b: np.minimum(x, y),
    "gt": lambda x, y, a, b: (x > y).astype(x.dtype),
    "ge": lambda x, y, a, b: (x >= y).astype(x.dtype),
    "erf_bwd": lambda x, g, a, b: g * (2.0 / math.sqrt(math.pi)) * np.exp(-x * x),
    "atan2": lambda y, x, a, b: np.arctan2(y, x),
    "hypot": lambda x, y, a, b: np.hypot(x, y),
}


def _index_add(y, idx, rows):
    """y[idx[p]] += rows[p] for every position p in order -- np.add.at's sums, bit for
    bit, without its per-element path: the positions ranked within their index
    (a stable sort), then one fancy-indexed add per rank, whose indices are
    distinct (an embedding's gradient, [1024, 128] into 512 rows: 2.0 -> 0.36 ms;
    rows of one element: np.add.at's own fast path is faster).
    Where the ranks would cost more than np.add.at's elements (~20 us a rank, ~25 ns
    an element here): np.add.at itself."""
    B = idx.size
    if B == 0:
        return
    order = np.argsort(idx, kind="stable")
    si = idx[order]
    first = np.empty(B, bool)
    first[0] = True
    np.not_equal(si[1:], si[:-1], out=first[1:])
    at = np.arange(B)
    rank = at - np.maximum.accumulate(np.where(first, at, 0))  # (B elements: no per-row cost)
    ranks = int(rank.max()) + 1
    if ranks * 800 > rows.size:
        np.add.at(y, idx, rows)
        return
    for k in range(ranks):
        sel = rank == k
        y[si[sel]] += rows[order[sel]]


def _owner(a):
    """The array owning a's memory (a itself, or the end of its chain of bases)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _consecutive(arrays):
    """The flat view of memory that C-contiguous ``arrays`` cover back to back, in
    order, within the one array owning it (as ``CPUBackend.full_many`` lays them
    out), or None."""
    root = _owner(arrays[0])
    if not root.flags.c_contiguous:
        return None
    at = start = arrays[0].__array_interface__["data"][0]
    for a in arrays:
        if (a.dtype != root.dtype or not a.flags.c_contiguous or _owner(a) is not root
                or a.__array_interface__["data"][0] != at):
            return None
        at += a.nbytes
    off = (start - root.__array_interface__["data"][0]) // root.itemsize
    return root.reshape(-1)[off:off + (at - start) // root.itemsize]


class CPUBackend(Backend):
    name = "cpu"

    def __init__(self):
        self.device = Device("cpu")
        self.malloc_tuned = _keep_freed_memory()
        self._pack_cache = {}  # adam_multi_'s packed small parameters (see _packed)

    # -- helpers -------------------------------------------------------
    @staticmethod
    def _c(h):
        """Compute view: halves are widened to f32."""
        return h.astype(np.float32) if h.dtype is _F16 else h  # (is: ~100 ns less a call, ~40 a step)

    @staticmethod
    def _store(r, like_dtype, out=None):
        r = np.asarray(r)
        if out is not None:
            np.copyto(out, r, casting="unsafe")
            return out
        if r.dtype != like_dtype:
            # overflow to inf in f16 is a value here, as on a GPU (loss scaling
            # provokes it on purpose and skips the step): no NumPy warning
            with np.errstate(over="ignore", invalid="ignore"):
                r = r.astype(like_dtype)
        return r

    # -- data movement ------------------------------------------------
    def from_numpy(self, a, dtype):
        return np.array(a, dtype=_NP[dtype], copy=True, order="C")

    def to_numpy(self, h):
        return np.array(h, copy=True)

    def full(self, shape, value, dtype):
        return np.full(shape, value, dtype=_NP[dtype])

    def shares_storage(self, a, b):
        return np.shares_memory(a, b)

    def data_ptr(self, h):
        return int(h.__array_interface__["data"][0])

    def dtype_of(self, h):
        return _FROM_NP[h.dtype]

    def reshape(self, h, shape):
        return h.reshape(shape)

    def permute(self, h, axes):
        t = np.transpose(h, axes)
        if t.ndim == 0:
            return t.copy()  # (ascontiguousarray makes a 0-d array 1-d)
        out = np.empty(t.shape, t.dtype)
        brc = _batched_transpose(h.shape, axes) if _kern is not None and h.itemsize == 4 else None
        if brc and h.flags.c_contiguous and t.size >= 1 << 12:  # (_cpukern.c: by tiles, the batch split)
            B, R, C = brc
            _c_rows(_kern.vkg_transpose_32, B, (h.reshape(B, R * C), out.reshape(B, R * C)), (R, C))
            return out

        def part(r):
            out[r] = t[r]
        # a copy's chunks of at least 4 _PAR_MIN elements: a chunk's hand-over to a
        # thread (~115 us here) costs more than copying 2^16 (a transformer block's
        # head permutes, [16, 64, 4, 32]: its step 0.94x the time, paired A/B)
        _par(t.shape[0], part, t.size // 4)
        return out

    def cast(self, h, dtype):
        with np.errstate(over="ignore", invalid="ignore"):
            return h.astype(_NP[dtype])

    def copy_(self, dst, src):
        np.copyto(dst, src, casting="unsafe")
        return dst

    # -- elementwise --------------------------------------------------
    # elementwise C loops (_cpukern.c) over whole float32 arrays, split over its pool:
    # ReLU [64, 16, 28, 28] 516 -> 142 us, its gradient 729 -> 225 (NumPy: a maximum
    # against a row of zeros, a compare and a product), GELU's without _map's blocks
    _ELEMENT_LOOPS = {"relu": "vkg_relu_f32", "gelu": "vkg_gelu_f32", "relu_bwd": "vkg_relu_bwd_f32",
                      "gelu_bwd": "vkg_gelu_bwd_f32", "add": "vkg_add_f32"}

    def _element_loop(self, op, ins, out):
        """op by its C loop over the flat arrays, into out (or a fresh array), or None
        where that does not apply (no loop, small, not float32 C-contiguous arrays of
        one shape, out overlapping an input the loop does not allow)."""
        name = self._ELEMENT_LOOPS.get(op)
        if name is None or ins[0].size < 1 << 14 or not _native_f32(*ins, *(() if out is None else (out,))):
            return None
        if out is not None and op.startswith("gelu") and any(np.may_share_memory(out, a) for a in ins):
            return None  # (its loop's pointers are restrict)
        y = np.empty_like(ins[0]) if out is None else out
        _c_rows(getattr(_kern, name), y.size, [a.reshape(-1) for a in ins] + [y.reshape(-1)])
        return y

    def unary(self, op, x, alpha=0.0, beta=0.0, out=None):
        check_op("unary", op, UNARY_OPS)
        y = self._element_loop(op, (x,), out)
        if y is not None:
            return y
        f = _UNARY[op]
        if x.size < 2 * _BLOCK:  # (the common small op: _map's first case, without its closure)
            if x.ndim == 0:  # (NumPy makes scalars of 0-d arrays' results: in-place ufuncs need arrays)
                return self._store(f(self._c(x).reshape(1), alpha, beta).reshape(()), x.dtype, out)
            return self._store(f(self._c(x), alpha, beta), x.dtype, out)
        return self._map(lambda c: f(c, alpha, beta), (x,), out, op in _HEAVY)

    def binary(self, op, a, b, alpha=0.0, beta=0.0, out=None):
        check_op("binary", op, BINARY_OPS)
        y = self._element_loop(op, (a, b), out)
        if y is not None:
            return y
        f = _BINARY[op]
        if a.size < 2 * _BLOCK:
            if a.ndim == 0 or b.ndim == 0:  # (as unary's: 0-d operands as arrays of one)
                r = f(self._c(a).reshape(a.shape or (1,)), self._c(b).reshape(b.shape or (1,)), alpha, beta)
                return self._store(np.reshape(r, np.broadcast_shapes(a.shape, b.shape)), a.dtype, out)
            return self._store(f(self._c(a), self._c(b), alpha, beta), a.dtype, out)
        return self._map(lambda c, d: f(c, d, alpha, beta), (a, b), out, op in _HEAVY)

    def _map(self, f, hs, out, heavy):
        """f of the handles (computed in f32 for f16) stored in the first's dtype.
        Large handles of one shape: f in flat blocks over the threads (_blockwise),
        a costly f's blocks cache-sized, a cheap one's 16x that (below, a block's
        copy into the result costs more than a thread saves; on one thread a cheap
        f runs whole)."""
        h = hs[0]
        block = _BLOCK if heavy else 16 * _BLOCK
        if h.size < 2 * block or any(o.shape != h.shape for o in hs) or not heavy and get_num_threads() == 1:
            return self._store(f(*map(self._c, hs)), h.dtype, out)
        res = out if out is not None and out.flags.c_contiguous else np.empty(h.shape, h.dtype)
        _blockwise(lambda *c: f(*map(self._c, c)), hs, res, block)
        return res if out is None or res is out else self._store(res, h.dtype, out)

    @staticmethod
    def _slices(starts, steps, lens):
        return tuple(slice(s, s + st * n, st) for s, st, n in zip(starts, steps, lens))

    def cat(self, pieces, axis):
        return np.concatenate(pieces, axis=axis)

    def slice(self, h, starts, steps, lens):
        return h[self._slices(starts, steps, lens)].copy()

    def unslice(self, g, shape, starts, steps):
        out = np.zeros(shape, dtype=g.dtype)
        out[self._slices(starts, steps, g.shape)] = g
        return out

    def unslice_many(self, pieces, shape):
        if len(pieces) == 1:
            return self.unslice(pieces[0][0], shape, *pieces[0][1:])
        out = np.zeros(shape, np.result_type(*[g.dtype for g, _, _ in pieces]))
        boxes = [self._slices(starts, steps, g.shape) for g, starts, steps in pieces]
        apart = all(_apart(a, b) for i, a in enumerate(boxes) for b in boxes[:i])
        for (g, _, _), box in zip(pieces, boxes):
            if apart:  # (each written once: the sum's values, but a -0 kept, not 0 + -0)
                out[box] = g
            else:
                out[box] += g
        return out

    def put_slice(self, base, g, starts, steps):
        out = base.copy()
        out[self._slices(starts, steps, g.shape)] = g
        return out

    def gather_rows(self, w, idx):
        ok = (idx >= 0) & (idx < w.shape[0])
        out = w[np.where(ok, idx, 0)]
        out[~ok] = np.nan
        return out

    def index_add_rows(self, g, idx, V):
        self._index_add_shapes(g, idx)
        y = np.zeros((V, g.shape[1]), np.float64 if g.dtype == np.float64 else np.float32)
        if ((idx < 0) | (idx >= V)).any():
            y[:] = np.nan
        elif _native_f32(g) and g.ndim == 2 and idx.ndim == 1:  # (_cpukern.c: the same sums, one pass)
            idx = np.ascontiguousarray(idx)  # (int32: _index_add_shapes)
            _kern.vkg_index_add_rows_f32(_addr(y), _addr(idx), _addr(g), idx.size, g.shape[1])
        else:
            _index_add(y, idx, g)  # in position order, as the shader
        return self._store(y, g.dtype)

    def gather_cols(self, x, idx):
        R, n = x.shape
        ok = (idx >= 0) & (idx < n)
        out = np.take_along_axis(x, np.where(ok, idx, 0), 1)
        if not ok.all():
            out = np.where(ok, out, np.nan).astype(x.dtype)
        return out

    def scatter_add_cols(self, src, idx, n):
        R, m = src.shape
        y = np.zeros((R, n), np.float64 if src.dtype == np.float64 else np.float32)
        ok = (idx >= 0) & (idx < n)
        np.add.at(y, (np.repeat(np.arange(R), m).reshape(R, m), np.where(ok, idx, 0)), src)  # in position order
        y[~ok.all(1)] = np.nan
        return self._store(y, src.dtype)

    def sort_rows(self, x, descending=False):
        c = self._c(x)
        if descending:  # NaN first, then the largest; lexsort is stable, its last key first
            nan = np.isnan(c)
            pos = np.lexsort((np.where(nan, 0, -c), ~nan), axis=-1)
        else:
            pos = np.argsort(c, axis=-1, kind="stable")  # (NaN last)
        return np.take_along_axis(x, pos, -1), pos.astype(np.int32)

    def im2col(self, x, win, pad_value=0.0):
        # tap by tap into [N, OH, OW, C, kh, kw]: 1.0-2.3x the speed of one copy of
        # the 6-d strided view (its inner runs are kw elements long); images in
        # chunks over the threads
        N, C, H, W = x.shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (OH, OW) = win
        Hp, Wp = win.extent((H, W))
        out = np.empty((N, OH, OW, C, kh, kw), x.dtype)
        if _kern is not None and x.dtype.itemsize == 4 and x.flags.c_contiguous:  # (_cpukern.c: a copy)
            pad = int(np.array(pad_value, x.dtype).view(np.uint32))
            _c_rows(_kern.vkg_im2col_32, N, (x, out), (C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW, pad))
            return out.reshape(N * OH * OW, C * kh * kw)

        def part(r):
            xp = np.full((r.stop - r.start, C, Hp, Wp), pad_value, dtype=x.dtype)
            xp[:, :, ph:ph + H, pw:pw + W] = x[r]
            xt, o = xp.transpose(0, 2, 3, 1), out[r]
            for i in range(kh):
                for j in range(kw):
                    o[..., i, j] = xt[:, i * dh:i * dh + (OH - 1) * sh + 1:sh, j * dw:j * dw + (OW - 1) * sw + 1:sw]
        _par(N, part, out.size)
        return out.reshape(N * OH * OW, C * kh * kw)

    def col2im(self, cols, shape, win):
        N, C, H, W = shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (OH, OW) = win
        Hp, Wp = win.extent((H, W))
        out = np.empty(shape, cols.dtype)
        if _kern is not None and cols.dtype == np.float32 and cols.flags.c_contiguous:  # (the same sums)
            _c_rows(_kern.vkg_col2im_f32, N, (cols, out), (C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW))
            return out
        g = cols.reshape(N, OH, OW, C, kh, kw).transpose(0, 3, 4, 5, 1, 2)

        def part(r):
            gr = self._c(g[r])
            acc = np.zeros((r.stop - r.start, C, Hp, Wp), dtype=gr.dtype)
            for i in range(kh):  # window order, as the shader sums
                for j in range(kw):
                    acc[:, :, i * dh:i * dh + (OH - 1) * sh + 1:sh, j * dw:j * dw + (OW - 1) * sw + 1:sw] += gr[:, :, i, j]
            with np.errstate(over="ignore", invalid="ignore"):  # (f16 overflow is a value; thread-local state)
                out[r] = acc[:, :, ph:ph + H, pw:pw + W]
        _par(N, part, cols.size)
        return out

    def window_max(self, x, win):
        """Windows tiling the input: the maximum of each window's rows, then over
        the rows, with the first tap (row-major) holding it; NaN's rule (the first NaN takes the window) tap by tap over strided
        views where a NaN reached the result.  Others: the base class."""
        if not win.tiles(x.shape[2:]):
            return Backend.window_max(self, x, win)
        (kh, kw), (OH, OW) = win.kernel, win.out
        y, idx = np.empty(x.shape[:2] + (OH, OW), x.dtype), np.empty(x.shape[:2] + (OH, OW), np.int32)
        N, C, H, W = x.shape
        if _kern is not None and x.dtype == np.float32 and x.flags.c_contiguous:  # (_cpukern.c: one scan)
            _c_rows(_kern.vkg_maxpool_f32, N, (x, y, idx), (H, W, kh, kw, OH, OW), unit=C)
            return y, idx

        def part(r):
            v = x[r, :, :OH * kh, :OW * kw]
            m, cj = v[..., 0::kw], None
            for j in range(1, kw):  # within each row: m the maximum, cj its first column
                col = v[..., j::kw]
                take = col > m
                m = np.maximum(col, m)  # (a tie: m, the first -- -0.0 before 0.0, as the shader)
                cj = take if cj is None else cj + take * (np.int8(j) - cj)  # (np.where: a branch an element)

            def tap(i):  # the tap holding row i's maximum (taps in row-major order)
                return np.int32(i * kw) if cj is None else cj[:, :, i::kh].astype(np.int32) + i * kw
            out, oi = m[:, :, 0::kh], tap(0)
            for i in range(1, kh):
                row = m[:, :, i::kh]
                take = row > out
                out = np.maximum(row, out)
                oi = oi + take * (tap(i) - oi)
            y[r], idx[r] = out, oi
            if np.isnan(out).any():
                self._window_max_taps(x[r], y[r], idx[r], kh, kw, OH, OW)
        _par(x.shape[0], part, x.size)
        return y, idx

    @staticmethod
    def _window_max_taps(x, y, idx, kh, kw, OH, OW):
        """Tap by tap, a running maximum that a NaN takes and keeps (into y, idx)."""
        for i in range(kh):
            for j in range(kw):
                v = x[:, :, i:OH * kh:kh, j:OW * kw:kw]
                if i == j == 0:
                    y[...], idx[...] = v, 0
                    continue
                take = np.greater(v, y) | np.isnan(v) & ~np.isnan(y)
                np.copyto(y, v, where=take)
                np.copyto(idx, i * kw + j, where=take)

    def window_scatter(self, g, idx, shape, win):
        """Windows tiling the input: each tap's gradient where idx names it."""
        (kh, kw), (OH, OW) = win.kernel, win.out
        if not win.tiles(shape[2:]) or idx.size and not 0 <= idx.min() <= idx.max() < kh * kw:
            return Backend.window_scatter(self, g, idx, shape, win)
        if (_kern is not None and g.dtype.itemsize == 4 and g.flags.c_contiguous and idx.flags.c_contiguous
                and idx.dtype == np.int32):  # (_cpukern.c: g's bits at the tap, +0.0 elsewhere)
            y = np.empty(shape, g.dtype)
            _c_rows(_kern.vkg_maxpool_bwd_32, shape[0], (g, idx, y), shape[2:] + (kh, kw, OH, OW), unit=shape[1])
            return y
        y = np.zeros(shape, g.dtype) if shape[2:] != (OH * kh, OW * kw) else np.empty(shape, g.dtype)
        bits = np.dtype(f"u{g.dtype.itemsize}")

        def part(r):  # g's bits masked by each tap (np.where would branch on every element)
            yr, gr, ir = y[r], g[r].view(bits), idx[r]
            for i in range(kh):
                for j in range(kw):
                    m = (ir == i * kw + j).astype(bits)
                    np.negative(m, out=m)  # (all ones where the tap holds the maximum)
                    yr[:, :, i:OH * kh:kh, j:OW * kw:kw] = (gr & m).view(g.dtype)
        _par(shape[0], part, y.size)
        return y

    def select(self, c, a, b):
        return np.where(c != 0, a, b)  # (NaN != 0: a, as the shader's bit test)

    def broadcast_to(self, h, shape):
        return np.broadcast_to(h, shape).copy()

    # -- reductions ----------------------------------------------------
    def reduce(self, op, x, axes, keepdims, f32=False):
        c = self._c(x)
        tall = c.ndim == 2 and c.shape[0] >= 4096 and c.shape[1] <= 256
        if op == "sum" and axes == (0,) and c.ndim == 2 and not tall and c.size >= 1 << 17 and _native_f32(c):
            # (_cpukern.c: each column in double, in row order, columns split over the threads;
            # from 2^17 elements: below, its ~9 us of calls cost more than NumPy's sum -- the
            # iris step's three bias sums: 0.52-0.54x -> 0.45-0.48x PyTorch's time)
            r = np.empty(c.shape[1], np.float32)
            _c_rows(_kern.vkg_colsum_f32, c.shape[1], (c, r), c.shape, width=c.shape[0], steps=(4, 4))
            r = r[None] if keepdims else r
        elif op == "sum" and axes == (0,) and tall and _blas is not None and c.dtype.kind == "f":
            # tall rows (a convolution's bias gradient, [N * OH * OW, C]) summed by BLAS's
            # gemv, ones @ c: NumPy's axis-0 sum runs its inner loop once a row ([50176,
            # 16]: 1.25 -> 0.16 ms); BLAS on one thread, so the order is the thread count's
            _blas_enter()
            try:
                r = _const_row(c.shape[0], c.dtype, 1) @ c
            finally:
                _blas_exit()
            r = r[None] if keepdims else r
        elif op == "sum":
            r = np.add.reduce(c, axis=axes, keepdims=keepdims)  # (np.sum's Python: ~2.5 us a call)
        elif op == "max" and axes == (c.ndim - 1,) and 1 < c.shape[-1] <= _SHORT_ROW:
            r = c[..., 0]  # short rows column by column; NaN propagates as np.max
            for j in range(1, c.shape[-1]):
                r = np.maximum(r, c[..., j])
            r = r[..., None] if keepdims else r
        elif op == "max":
            r = np.maximum.reduce(c, axis=axes, keepdims=keepdims)
        elif op == "sumsq":
            r = np.add.reduce(c * c, axis=axes, keepdims=keepdims)
        else:
            raise BackendError(f"cpu: unknown reduction {op!r}")
        return self._store(r, np.float32 if f32 and x.dtype == np.float16 else x.dtype)

    # -- linear algebra ------------------------------------------------
    def matmul(self, a, b, trans_a=False, trans_b=False, bias=None, act=None):
        ca, cb = self._c(a), self._c(b)
        ca, cb = (ca.T if trans_a else ca), (cb.T if trans_b else cb)
        bias = None if bias is None else self._c(bias)
        if ca.size * cb.shape[1] < _BLAS_ONE_THREAD:  # (the common small product: no more checks)
            return self._store(_epilogue(np.matmul(ca, cb), bias, act), a.dtype)
        return self._store(_products(ca, cb, False, bias, act), a.dtype)

    def bmm(self, a, b, trans_a=False, trans_b=False):
        self._bmm_shapes(a, b, trans_a, trans_b)
        ca, cb = self._c(a), self._c(b)
        return self._store(_products(ca.transpose(0, 2, 1) if trans_a else ca,
                                     cb.transpose(0, 2, 1) if trans_b else cb, True), a.dtype)

    # -- softmax family ------------------------------------------------
    @staticmethod
    def _log_softmax(c):
        z = c - c.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    def softmax(self, x, log=False):
        c = self._c(x)
        if c.shape[-1] == 0:  # rows of no values: an empty result, as PyTorch (NumPy's max raises)
            return self._store(c, x.dtype)
        out = np.empty(x.shape, x.dtype)
        rows, cr = out.reshape(-1, x.shape[-1]), c.reshape(-1, x.shape[-1])
        if _native_f32(x):  # (_cpukern.c: one pass for the exps, within 1e-6)
            V = x.shape[-1]
            _c_rows(_kern.vkg_softmax_f32, rows.shape[0], (cr, rows), (V, log), width=V)
            return out

        def part(r):
            with np.errstate(over="ignore", invalid="ignore"):  # (rows of -inf: NaN, as the shader; f16
                z = cr[r] - cr[r].max(axis=-1, keepdims=True)  # overflow a value; the state per thread)
                if log:
                    z -= np.log(np.exp(z).sum(axis=-1, keepdims=True))
                else:
                    np.exp(z, out=z)
                    z /= z.sum(axis=-1, keepdims=True)
                rows[r] = z
        _row_blocks(rows.shape[0], rows.shape[1], part)
        return out

    def softmax_bwd(self, y, g, log=False):
        if _native_f32(y, g) and y.shape[-1]:  # (_cpukern.c: one pass a row, the sums in double)
            V = y.shape[-1]
            out = np.empty(y.shape, np.float32)
            _c_rows(_kern.vkg_softmax_bwd_f32, y.size // V, (y.reshape(-1, V), g.reshape(-1, V), out.reshape(-1, V)),
                    (V, log), width=V)
            return out
        return super().softmax_bwd(y, g, log)

    @staticmethod
    def _label_rows(labels, num_classes, dtype):
        """One-hot rows of int labels; a label outside [0, num_classes) makes its row
        NaN, as on the Vulkan backend (where labels are not range-checked on the host)."""
        out = np.zeros((labels.shape[0], num_classes), dtype=dtype)
        ok = (labels >= 0) & (labels < num_classes)
        out[~ok] = np.nan
        out[np.flatnonzero(ok), labels[ok]] = 1
        return out

    _XENT_BLOCK = 1 << 18  # elements of logits a block (a block's ~20 NumPy calls: larger than _BLOCK)

    def softmax_xent(self, logits, target, ignore=None):
        """Blocks of rows over the threads, each row's exp taken once (the loss from
        its log-sum-exp, the gradient from its softmax); each block's loss summed,
        then the blocks' sums in order -- blocks fixed by the shape, so the loss is
        the same whatever the thread count.  Rows labelled ``ignore``: the kept rows
        alone, their gradient rows 0."""
        if ignore is not None and target.dtype.kind in "iu":
            drop = target == ignore
            if drop.any():
                keep = np.flatnonzero(~drop)
                grad = np.zeros(logits.shape, logits.dtype)
                if not keep.size:  # (PyTorch's: a NaN mean, a zero gradient)
                    return self._store(np.nan, np.float32 if logits.dtype == np.float16 else logits.dtype), grad
                loss, grad[keep] = self.softmax_xent(logits[keep], target[keep])
                return loss, grad
        c = self._c(logits)
        R, V = c.shape
        labels = target.dtype.kind in "iu"
        t = None if labels else self._c(target)
        per = self._XENT_BLOCK // max(V, 1) or 1
        ldt = np.float32 if logits.dtype == np.float16 else logits.dtype  # losses of f16: f32

        # _cpukern.c's loop (within 1e-6) for int32 labels or float32 target rows (one-hot rows
        # [1024, 512]: 1.36 -> 0.93 ms, the transformer's step 0.965x)
        ilab = target if labels and target.dtype == np.int32 and target.flags.c_contiguous else None
        ftgt = target if t is not None and _native_f32(logits, target) else None
        native = (ilab is not None or ftgt is not None) and _native_f32(logits)

        def block(r):  # (the rows' summed loss terms and their gradient, in c's dtype)
            if native:  # (NaN: a label out of range or a NaN loss, NumPy's path below)
                e = np.empty((r.stop - r.start, V), np.float32)
                loss = _kern.vkg_softmax_xent_f32(_addr(c[r]), None if ilab is None else _addr(ilab[r]),
                                                  None if ftgt is None else _addr(ftgt[r]), _addr(e), r.stop - r.start,
                                                  V, R)
                if loss == loss:
                    return np.float32(loss), e
            with np.errstate(over="ignore", invalid="ignore"):  # (as softmax)
                cr = c[r]  # (ufunc reductions: the methods' Python cost ~1 us each)
                z = cr - np.maximum.reduce(cr, axis=1, keepdims=True)
                e = np.exp(z)
                s = np.add.reduce(e, axis=1, keepdims=True)
                z -= np.log(s)  # log_softmax
                e /= s  # softmax
                if labels:
                    lab, at = target[r], np.arange(r.stop - r.start)
                    ok = (lab >= 0) & (lab < V)  # (outside: a NaN row, as on the Vulkan backend)
                    if ok.all():
                        loss = z[at, lab].sum()
                        e[at, lab] -= 1
                    else:
                        loss = np.nan
                        e[at[ok], lab[ok]] -= 1
                        e[~ok] = np.nan
                else:
                    # terms of zero targets left out: 0 * log(0) where a logit is -inf (masked) is NaN
                    tr = t[r]
                    loss = np.add.reduce(tr * z, axis=None)
                    if loss != loss:  # (a NaN: perhaps only such terms; the rare case pays for the test)
                        loss = np.add.reduce(tr * np.where(tr != 0, z, 0), axis=None)
                    e *= np.add.reduce(tr, axis=1, keepdims=True)  # (rows need not sum to 1)
                    e -= tr
                e /= R
            return loss, e
        if R <= per:  # one block (the common small loss): its arrays as they come
            loss, e = block(slice(0, R))
            return self._store(-loss / R if R else np.nan, ldt), self._store(e, logits.dtype)
        grad, block_loss = np.empty(c.shape, logits.dtype), np.empty(-(-R // per), c.dtype)
        if native:  # the blocks over _cpukern's pool, written in place (a row's label out of range: below)
            # (the blocks' arguments as words: addresses moved per block, the rows left down by per)
            _c_rows(_kern.vkg_xent_blocks_f32, len(block_loss), (c, ilab, ftgt, grad, block_loss, R), (per, V, R),
                    steps=(per * V * 4, None if ilab is None else per * 4, None if ftgt is None else per * V * 4,
                           per * V * 4, 4, -per))
            if not np.isnan(block_loss).any():
                return self._store(-block_loss.sum() / R, ldt), grad

        def part(r):
            loss, e = block(r)
            block_loss[r.start // per] = loss
            with np.errstate(over="ignore"):  # (f16 overflow is a value; the state is per thread)
                grad[r] = e
        _row_blocks(R, V, part, per * V)
        loss = -block_loss.sum() / R
        return self._store(loss, ldt), grad

    def argmax_rows(self, h):
        return np.argmax(h, axis=1).astype(np.int32)  # (the first NaN, else the first maximum)

    # -- normalisation -------------------------------------------------
    def batchnorm_fwd(self, x, gamma, beta, eps, running_mean=None, running_var=None, momentum=0.1):
        c, n = self._c(x), x.shape[0]
        mean = np.add.reduce(c, 0) / n  # (np.mean's bits without its Python: ~5 us a call)
        xc = c - mean
        var = np.add.reduce(xc * xc, 0) / n
        if running_mean is not None:
            running_mean += momentum * (mean - running_mean)
            running_var += momentum * (var * (n / (n - 1.0)) - running_var)
        invstd = 1.0 / np.sqrt(var + eps)
        y = xc * (invstd * self._c(gamma)) + self._c(beta)
        dt = x.dtype
        st = np.float64 if dt == np.float64 else np.float32  # statistics: f32 at least
        return (self._store(y, dt), self._store(mean, st), self._store(var, st),
                self._store(invstd, st))

    def batchnorm_bwd(self, g, x, mean, invstd, gamma):
        cg, n = self._c(g), x.shape[0]
        inv = self._c(invstd)
        xhat = (self._c(x) - self._c(mean)) * inv
        dbeta = np.add.reduce(cg, 0)
        dgamma = np.add.reduce(cg * xhat, 0)
        dx = (inv * self._c(gamma)) * (cg - dbeta / n - xhat * (dgamma / n))
        dt = x.dtype
        return self._store(dx, dt), self._store(dgamma, dt), self._store(dbeta, dt)

    def batchnorm_planes_fwd(self, x, gamma, beta, eps, running_mean=None, running_var=None, momentum=0.1):
        """float32 by _cpukern's vkg_bn_planes_f32: channels over the threads, each
        channel's statistics over its planes in double ([64, 32, 28, 28]: forward 9.8
        -> 1.5 ms, with its gradient 31 -> 6.4 ms against the rows' way, paired)."""
        if _kern is None or not all(a.dtype == np.float32 for a in (x, gamma, beta)) or not x.size:
            return None
        x, gamma, beta = (np.ascontiguousarray(a) for a in (x, gamma, beta))
        N, C, S = x.shape
        y = np.empty(x.shape, np.float32)
        mean, var, invstd = (np.empty(C, np.float32) for _ in range(3))
        _c_rows(_kern.vkg_bn_planes_f32, C, (x, y, mean, var, invstd, gamma, beta), (N, C, S, eps), width=N * S,
                steps=(4 * S, 4 * S, 4, 4, 4, 4, 4))
        if running_mean is not None:  # (as batchnorm_fwd: the unbiased variance into the running one)
            n = N * S
            running_mean += momentum * (mean - running_mean)
            running_var += momentum * (var * (n / (n - 1.0)) - running_var)
        return y, mean, var, invstd

    def batchnorm_planes_bwd(self, g, x, mean, invstd, gamma):
        g, x, gamma = (np.ascontiguousarray(a, np.float32) for a in (g, x, gamma))
        N, C, S = x.shape
        dx = np.empty(x.shape, np.float32)
        dgamma, dbeta = np.empty(C, np.float32), np.empty(C, np.float32)
        _c_rows(_kern.vkg_bn_planes_bwd_f32, C, (g, x, dx, dgamma, dbeta, mean, invstd, gamma), (N, C, S),
                width=N * S, steps=(4 * S, 4 * S, 4 * S, 4, 4, 4, 4, 4))
        return dx, dgamma, dbeta

    def layer_norm(self, x, w, b, eps):
        """Blocks of rows over the threads (a row's statistics are its own)."""
        c = self._c(x)
        R, D = c.shape
        st = np.float64 if x.dtype == np.float64 else np.float32  # statistics: f32 at least
        y, mean, rstd = np.empty(x.shape, x.dtype), np.empty(R, st), np.empty(R, st)
        cw = None if w is None else self._c(w)
        cb = None if b is None else self._c(b)
        if _native_f32(x) and all(a is None or _native_f32(a) for a in (w, b)):  # (_cpukern.c, within 1e-6)
            fixed = [None if a is None else _addr(a) for a in (w, b)]
            _c_rows(_kern.vkg_layer_norm_f32, R, [x] + fixed + [y, mean, rstd], (D, eps), width=D)
            return y, mean, rstd

        def part(r):
            cr = c[r]
            m = cr.mean(axis=1, keepdims=True)
            d = cr - m
            rs = 1.0 / np.sqrt(np.mean(d * d, axis=1, keepdims=True) + eps)
            d *= rs
            if cw is not None:
                d *= cw
            if cb is not None:
                d += cb
            with np.errstate(over="ignore", invalid="ignore"):  # (f16 overflow is a value; per thread)
                y[r], mean[r], rstd[r] = d, m[:, 0], rs[:, 0]
        _row_blocks(R, D, part)
        return y, mean, rstd

    def layer_norm_bwd(self, g, x, w, mean, rstd, need_gx):
        """Blocks of rows over the threads; gx (g * xhat, the weight's gradient
        before its sum over rows) per element."""
        cg, cx, cm, crs = self._c(g), self._c(x), self._c(mean), self._c(rstd)
        cw = None if w is None else self._c(w)
        R, D = cx.shape
        dx = np.empty(x.shape, x.dtype)
        gx = np.empty(x.shape, rstd.dtype) if need_gx else None
        if _native_f32(g, x) and _native_f32(mean, rstd) and (w is None or _native_f32(w)):
            _c_rows(_kern.vkg_layer_norm_bwd_f32, R, (g, x, None if w is None else _addr(w), mean, rstd, dx, gx),
                    (D,), width=D)
            return dx, gx

        def part(r):
            rs = crs[r][:, None]
            gr = cg[r]
            xhat = (cx[r] - cm[r][:, None]) * rs
            gw = gr * cw if cw is not None else gr
            d = rs * (gw - gw.mean(axis=1, keepdims=True) - xhat * (gw * xhat).mean(axis=1, keepdims=True))
            with np.errstate(over="ignore", invalid="ignore"):  # (as layer_norm)
                dx[r] = d
                if need_gx:
                    gx[r] = gr * xhat
        _row_blocks(R, D, part)
        return dx, gx

    # -- recurrent cells: the base class's arithmetic in a few NumPy passes ----
    def rows(self, h, start, stop):
        return h[start:stop]  # a view (read-only by the primitives' contract)

    def _gates(self, h, G):
        c = self._c(h)
        return np.split(c, G, axis=1)

    def lstm_cell(self, xg, hg, c, out=None):
        if _native_f32(xg, hg) and _native_f32(c):  # (one pass: _cpukern.c, its tanh and exp)
            N, H = c.shape
            h, c2, acts = np.empty_like(c), np.empty_like(c), np.empty_like(xg)
            _kern.vkg_lstm_cell_f32(_addr(xg), _addr(hg), _addr(c), _addr(h), _addr(c2), _addr(acts), N, H)
            return self._store(h, c.dtype, out), c2, acts
        s = self._c(xg) + self._c(hg)
        H = s.shape[1] // 4
        acts = _sigmoid(s)  # (all four gates at once, then g's tanh over its quarter: fewer calls)
        np.tanh(s[:, 2 * H:3 * H], out=acts[:, 2 * H:3 * H])
        i, f, g, o = np.split(acts, 4, axis=1)
        c2 = f * self._c(c)
        c2 += i * g
        dt = c.dtype
        return self._store(o * np.tanh(c2), dt, out), self._store(c2, dt), self._store(acts, dt)

    def lstm_cell_bwd(self, dh, dc, acts, c, c2, out=None):
        if _native_f32(dh, c, c2, *([] if dc is None else [dc])) and _native_f32(acts):
            N, H = c.shape
            dg, dcp = np.empty_like(acts), np.empty_like(c)
            _kern.vkg_lstm_cell_bwd_f32(_addr(dh), None if dc is None else _addr(dc), _addr(acts), _addr(c),
                                        _addr(c2), _addr(dg), _addr(dcp), N, H)
            return self._store(dg, dh.dtype, out), dcp
        i, f, g, o = self._gates(acts, 4)
        cdh = self._c(dh)
        tc = np.tanh(self._c(c2))
        dct = cdh * o * (1.0 - tc * tc)
        if dc is not None:
            dct += self._c(dc)
        dg = np.concatenate([dct * g * i * (1.0 - i), dct * self._c(c) * f * (1.0 - f), dct * i * (1.0 - g * g),
                             cdh * tc * o * (1.0 - o)], 1)
        return self._store(dg, dh.dtype, out), self._store(dct * f, dh.dtype)

    _RNN_MODES = {"RNN_TANH": 0, "RNN_RELU": 1, "LSTM": 2, "GRU": 3}  # (_cpukern.c's enum)

    def recurrence_fwd(self, mode, xg, h0, c0, w_hh, b_hh, reverse):
        """float32 by _cpukern's vkg_rnn_seq_f32 where oneDNN's sgemm is found: chunks of
        the batch's rows, each through all the steps on one thread (no barrier); an
        LSTM's recurrence, hidden 128 over 32 steps, batch 64, on 2 threads: forward
        5.06 -> 2.29 ms, backward (the weight's product too) 6.25 -> 3.42 ms."""
        parts = [xg, h0, w_hh] + [a for a in (c0, b_hh) if a is not None]
        if _sgemm is None or _kern is None or any(a.dtype != np.float32 for a in parts):
            return None
        T, N, GH = xg.shape
        H = h0.shape[1]
        lstm, gru = mode == "LSTM", mode == "GRU"
        xg, h0, c0, b_hh = (None if a is None else np.ascontiguousarray(a) for a in (xg, h0, c0, b_hh))
        whh_t = np.ascontiguousarray(w_hh.T)
        out = np.empty((T, N, H), np.float32)
        cs = np.empty((T, N, H), np.float32) if lstm else None
        acts = np.empty((T, N, GH), np.float32) if lstm or gru else None
        hg = np.empty((T, N, GH) if gru else (N, GH), np.float32)  # (a GRU's kept: its gradient reads them)
        status = np.zeros((N, 1), np.int32)
        args = (xg, h0, c0, out, cs, acts, hg, status)
        _c_rows(_kern.vkg_rnn_seq_f32, N, args,
                (self._RNN_MODES[mode], T, N, H, int(reverse), _addr(whh_t), None if b_hh is None else _addr(b_hh),
                 _sgemm.gemm_addr, _sgemm.set_addr, _sgemm.get_addr), steps=_row_bytes(args))
        _check_gemm(status, "recurrence")
        last = 0 if reverse else T - 1
        return out, out[last], cs[last] if lstm else None, (mode, reverse, out, acts, cs, hg, h0, c0, w_hh)

    def recurrence_bwd(self, saved, g_out, dh, dc):
        mode, reverse, out, acts, cs, hgs, h0, c0, w_hh = saved
        T, N, H = out.shape
        GH = w_hh.shape[0]
        lstm, gru = mode == "LSTM", mode == "GRU"
        dxg = np.empty((T, N, GH), np.float32)
        dhg = np.empty((T, N, GH), np.float32) if gru else None
        dh0 = np.zeros((N, H), np.float32) if dh is None else np.array(dh, np.float32, order="C")  # (updated in place)
        dc0 = None if not lstm else (np.array(dc, np.float32, order="C") if dc is not None
                                     else np.empty((N, H), np.float32))
        tmp = np.empty((N, H), np.float32) if lstm or gru else None
        g_out = None if g_out is None else np.ascontiguousarray(g_out)
        whh = np.ascontiguousarray(w_hh)
        status = np.zeros((N, 1), np.int32)
        args = (g_out, acts, cs, hgs if gru else None, out, h0, c0, dxg, dhg, dh0, dc0, tmp, status)
        _c_rows(_kern.vkg_rnn_seq_bwd_f32, N, args,
                (self._RNN_MODES[mode], T, N, H, int(reverse), int(dc is not None), _addr(whh), _sgemm.gemm_addr,
                 _sgemm.set_addr, _sgemm.get_addr), steps=_row_bytes(args))
        _check_gemm(status, "recurrence's gradient")
        return dxg, dhg if gru else dxg, dh0, dc0

    @staticmethod
    def _conv_ready(*arrays):
        """Whether conv2d_fwd / _bwd run here: _cpukern and oneDNN's sgemm found, every
        array float32 and none empty (an empty batch: the composition's empty arrays)."""
        return _sgemm is not None and _kern is not None and all(
            a is None or a.dtype == np.float32 and a.size for a in arrays)

    @staticmethod
    def _conv_geo(x_shape, win, OC, groups):
        """vkg_conv_*'s geometry words and m, the images of a unit: their taps about
        256 KiB (one image where one's are larger), at most 16."""
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (OH, OW) = win
        m = max(1, min(16, x_shape[0], (256 << 10) // max(1, 4 * x_shape[1] * kh * kw * OH * OW)))
        return np.array(list(x_shape[1:]) + [kh, kw, sh, sw, ph, pw, dh, dw, OH, OW, OC, m, groups], np.int64), m

    def conv2d_fwd(self, x, w, bias, win, groups=1):
        """float32 by _cpukern's vkg_conv_fwd_f32 where oneDNN's sgemm is found: units of
        a few images over the threads, their windows gathered into a buffer that stays
        in the cache and multiplied into their [OC, OH OW] planes (the CNN's second
        convolution, [64, 16, 14, 14] -> 32 channels: 2.45 -> 1.01 ms against the
        composition, two threads; its step 0.62x the time, paired)."""
        if not self._conv_ready(x, w, bias):
            return None
        x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
        bias = None if bias is None else np.ascontiguousarray(bias)
        N, OC = x.shape[0], w.shape[0]
        out = np.empty((N, OC) + tuple(win.out), np.float32)
        geo, m = self._conv_geo(x.shape, win, OC, groups)
        units = -(-N // m)
        status = np.zeros((units, 1), np.int32)
        _c_rows(_kern.vkg_conv_fwd_f32, units, (x, out, status, N),
                (_addr(geo), _addr(w), None if bias is None else _addr(bias), _sgemm.gemm_addr, _sgemm.set_addr,
                 _sgemm.get_addr), steps=(m * x[0].nbytes, m * out[0].nbytes, 4, -m))
        _check_gemm(status, "conv2d")
        return out

    def conv2d_bwd(self, g, x, w, win, need_x, need_w, need_b, x_shape=None, groups=1):
        """vkg_conv_bwd_f32: dx image by image; dw and the bias's sums over blocks of
        units fixed by the shape (at most 16 blocks, at most 64 MiB of partial sums),
        then the blocks' in order -- the same bits on any thread count."""
        if not self._conv_ready(g, x, w):
            return None
        g, w = np.ascontiguousarray(g), np.ascontiguousarray(w)
        x = None if x is None else np.ascontiguousarray(x)
        x_shape = x.shape if x is not None else tuple(x_shape)
        N = x_shape[0]
        OC, CK = w.shape
        geo, m = self._conv_geo(x_shape, win, OC, groups)
        units = -(-N // m)
        nb = max(1, min(units, 16, (64 << 20) // (4 * OC * CK))) if need_w or need_b else units
        ib = -(-units // nb) * m
        nb = -(-N // ib)
        dx = np.empty(x_shape, np.float32) if need_x else None
        dwp = np.empty((nb, OC, CK), np.float32) if need_w else None
        dbp = np.empty((nb, OC), np.float64) if need_b else None
        status = np.zeros((nb, 1), np.int32)
        img = 4 * math.prod(x_shape[1:])
        _c_rows(_kern.vkg_conv_bwd_f32, nb, (x if need_w else None, g, dx, dwp, dbp, status, N),
                (_addr(geo), ib, _addr(w), _sgemm.gemm_addr, _sgemm.set_addr, _sgemm.get_addr),
                steps=(ib * img if need_w else None, ib * g[0].nbytes, ib * img if need_x else None,
                       4 * OC * CK if need_w else None, 8 * OC if need_b else None, 4, -ib))
        _check_gemm(status, "conv2d's gradient")
        return (dx, None if dwp is None else np.add.reduce(dwp, axis=0),
                None if dbp is None else np.add.reduce(dbp, axis=0).astype(np.float32))

    def gru_cell(self, xg, hg, h, out=None):
        if _native_f32(xg, hg) and _native_f32(h):  # (one pass: _cpukern.c, its tanh and exp)
            N, H = h.shape
            hn, acts = np.empty_like(h), np.empty_like(xg)
            _kern.vkg_gru_cell_f32(_addr(xg), _addr(hg), _addr(h), _addr(hn), _addr(acts), N, H)
            return self._store(hn, h.dtype, out), acts
        (xr, xz, xn), (hr, hz, hn) = self._gates(xg, 3), self._gates(hg, 3)  # (f32 views of f16)
        r, z = _sigmoid(xr + hr), _sigmoid(xz + hz)
        n = np.tanh(xn + r * hn)
        return (self._store(n + z * (self._c(h) - n), h.dtype, out),
                self._store(np.concatenate([r, z, n], 1), h.dtype))

    def gru_cell_bwd(self, dh, acts, hg, h, out=None):
        if _native_f32(dh, h) and _native_f32(acts, hg):
            N, H = h.shape
            dxg, dhg, dhp = np.empty_like(acts), np.empty_like(acts), np.empty_like(h)
            _kern.vkg_gru_cell_bwd_f32(_addr(dh), _addr(acts), _addr(hg), _addr(h), _addr(dxg), _addr(dhg),
                                       _addr(dhp), N, H)
            return self._store(dxg, dh.dtype, out), dhg, dhp
        r, z, n = self._gates(acts, 3)
        cdh = self._c(dh)
        dn = cdh * (1.0 - z) * (1.0 - n * n)
        dz = cdh * (self._c(h) - n) * z * (1.0 - z)
        dr = dn * self._gates(hg, 3)[2] * r * (1.0 - r)
        dt = dh.dtype
        return (self._store(np.concatenate([dr, dz, dn], 1), dt, out),
                self._store(np.concatenate([dr, dz, dn * r], 1), dt), self._store(cdh * z, dt))

    # -- random --------------------------------------------------------
    def dropout(self, x, p, seed):
        seed = seed() if callable(seed) else seed
        bound, scale = keep_threshold(p), x.dtype.type(1.0 / (1.0 - p))
        if bound is None:
            mask = np.zeros(x.shape, x.dtype)
        else:  # (the kept elements' scale times a 0 / 1 mask: no branch per element)
            mask = np.multiply(hash_bits(x.size, seed).reshape(x.shape) >= bound, scale)
        return self._store(self._c(x) * self._c(mask), x.dtype), mask

    def one_hot(self, labels, num_classes, dtype):
        return self._label_rows(labels, num_classes, _NP[dtype])

    # -- optimizer updates ----------------------------------------------
    # Updates work in cache-sized chunks with in-place ufuncs: on large tensors
    # this is several times faster than whole-array temporaries.  Chunks of 2^16
    # (Adam on 2^20 parameters: 3.7 ms on one thread, 2.05 on two; 2^15 chunks 2.9,
    # their Python between the ufuncs holding the GIL)
    _CHUNK = 1 << 16
    # Adam's C loop from this many parameters: below, its call (ctypes' 15 arguments,
    # the pointers: ~12 us) costs what NumPy's dozen small passes do (the iris model's
    # 2.5 K packed parameters: 14.3 against 12.6 us)
    _NATIVE_MIN = 4096

    def _each_chunk(self, fn, *arrays):
        """fn over the flat arrays' chunks of _CHUNK elements (cache-sized pieces of
        an update, in place), the chunks spread over the threads."""
        if arrays[0].size <= self._CHUNK:  # (one chunk: no split to set up)
            fn(*arrays)
            return
        flat = [a.reshape(-1) for a in arrays]
        _row_blocks(flat[0].size, 1, lambda r: fn(*[f[r] for f in flat]), self._CHUNK)

    def sgd_(self, p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first):
        lr, momentum = (lr() if callable(lr) else lr), (momentum() if callable(momentum) else momentum)

        def one(cp, cg, *cb):
            d = self._c(cg).astype(np.float32 if cp.dtype != np.float64 else np.float64)
            pc = self._c(cp)
            if weight_decay:
                d += weight_decay * pc
            if momentum:
                b = cb[0]
                if first:
                    b[...] = d
                else:
                    b *= momentum
                    b += (1.0 - dampening) * d
                if nesterov:
                    d += momentum * b
                else:
                    d[...] = b
            d *= lr
            if cp.dtype == np.float16:
                cp[...] = pc - d
            else:
                cp -= d

        self._each_chunk(one, p, g, *([buf] if momentum else []))

    def full_many(self, shapes, value, dtype):
        """The small buffers (<= _CHUNK elements) consecutive in one allocation, in
        order: the fused update of small parameters (adam_multi_) runs on their
        moments there in place, not packed and unpacked each step."""
        sizes = [math.prod(s) for s in shapes]
        small = [i for i, n in enumerate(sizes) if n <= self._CHUNK]
        flat = np.full(sum(sizes[i] for i in small), value, _NP[dtype])
        out, at = [None] * len(shapes), 0
        for i in small:
            out[i] = flat[at:at + sizes[i]].reshape(shapes[i])
            at += sizes[i]
        return [np.full(s, value, _NP[dtype]) if h is None else h for s, h in zip(shapes, out)]

    def adam_multi_(self, items, lr, beta1, beta2, eps, weight_decay, step, decoupled, sq_coef=None,
                    form="adam", scalars=None):
        lr, step = (lr() if callable(lr) else lr), (step() if callable(step) else step)
        # small parameters: one update over their concatenation beats a Python
        # loop of per-tensor updates (the iris model's step is mostly overhead)
        small, large, flats, bufs, parts = self._packed(items, form)
        if small:
            for k in (0, 2, 3):  # p, m, v not laid out together: into the buffer
                if flats[k] is not None:
                    np.concatenate(flats[k], out=bufs[k])
            np.concatenate([items[i][1].reshape(-1) for i in small], out=bufs[1])
            self.adam_(*bufs, lr, beta1, beta2, eps, weight_decay, step, decoupled, sq_coef, form, scalars)
            for k in (0, 2, 3):  # and back
                if flats[k] is not None:
                    for dst, src in zip(flats[k], parts[k]):
                        np.copyto(dst, src)
        for i in large:
            self.adam_(*items[i], lr, beta1, beta2, eps, weight_decay, step, decoupled, sq_coef, form, scalars)

    def _packed(self, items, form):
        """How adam_multi_ updates ``items``: (indices of the small f32 ones, updated
        as one flat array, or none if fewer than two; the other indices; per part p,
        g, m, v of the small ones their flat views to pack, or None where the part
        is one array already -- consecutive views of one allocation, as
        ``full_many`` makes the moments; the flat buffers the update runs on; their
        pieces to copy back).  p, m, v persist between steps, so this is cached by
        their identities (the cache holds the arrays, so the ids stay theirs): the
        iris model's ``opt.step`` 126 -> 85 us with the moments in place and one
        chunk unsplit (timeit, min)."""
        key = tuple([form] + [id(a) for it in items for a in (it[0], it[2], it[3])])
        hit = self._pack_cache.get(key)
        if hit is not None:
            return hit[1:]
        small = [i for i, it in enumerate(items)
                 if it[0].size <= self._CHUNK and it[0].dtype == np.float32 and it[2].dtype == np.float32
                 and form != "centered_momentum"  # (its m: two buffers)
                 and it[0].flags.c_contiguous and it[2].flags.c_contiguous and it[3].flags.c_contiguous]
        if len(small) < 2:
            small = []
        large = [i for i in range(len(items)) if i not in small]
        flats, bufs, parts = [None] * 4, [None] * 4, [None] * 4
        if small:
            total = sum(items[i][0].size for i in small)
            for k in range(4):
                arrays = [items[i][k] for i in small]
                whole = None if k == 1 else _consecutive(arrays)
                if whole is not None:
                    bufs[k] = whole
                    continue
                bufs[k] = np.empty(total, np.float32)
                if k != 1:  # (g: new every step)
                    at = np.cumsum([0] + [a.size for a in arrays])
                    flats[k] = [a.reshape(-1) for a in arrays]
                    parts[k] = [bufs[k][at[j]:at[j + 1]] for j in range(len(arrays))]
        if len(self._pack_cache) >= 8:
            self._pack_cache.pop(next(iter(self._pack_cache)))
        self._pack_cache[key] = ([(it[0], it[2], it[3]) for it in items], small, large, flats, bufs, parts)
        return small, large, flats, bufs, parts

    def adam_(self, p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled, sq_coef=None,
              form="adam", scalars=None):
        check_op("cpu adam_", form, ADAM_FORMS)
        lr, step = (lr() if callable(lr) else lr), (step() if callable(step) else step)
        beta1 = beta1() if callable(beta1) else beta1
        step_size, inv_sqrt_bc2, aux = (scalars() if scalars is not None else
                                        adam_scalars(lr, beta1, beta2, step) + (0.0,))
        c2 = 1.0 - beta2 if sq_coef is None else sq_coef
        if form == "centered_momentum":  # m: the gradient's average, then the momentum buffer
            n = p.size
            flat_m = m.reshape(-1)
            avg, buf = flat_m[:n], flat_m[mom_at(n):mom_at(n) + n]
            pc, cv = self._c(p).reshape(-1), v.reshape(-1)
            d = self._c(g).reshape(-1).astype(cv.dtype)
            if weight_decay and not decoupled:
                d = d + weight_decay * pc
            cv *= beta2
            cv += c2 * d * d
            avg *= beta2
            avg += (1.0 - beta2) * d
            buf *= beta1
            buf += d / (np.sqrt(cv - avg * avg) + eps)
            if weight_decay and decoupled:
                pc = pc * (1.0 - lr * weight_decay)
            p.reshape(-1)[...] = pc - step_size * buf
            return

        if (_kern is not None and form == "adam" and p.size >= self._NATIVE_MIN
                and p.dtype == g.dtype == m.dtype == v.dtype == np.float32
                and p.flags.c_contiguous and g.flags.c_contiguous and m.flags.c_contiguous
                and v.flags.c_contiguous):  # (the same bits in one pass, _cpukern.c)
            mode = 0 if not weight_decay else 2 if decoupled else 1
            _c_rows(_kern.vkg_adam_f32, p.size, [a.reshape(-1) for a in (p, g, m, v)],
                    (beta1, 1.0 - beta1, beta2, c2, step_size, inv_sqrt_bc2, eps, mode, weight_decay,
                     1.0 - lr * weight_decay))
            return

        def one(cp, cg, cm, cv):
            pc = self._c(cp)
            d = self._c(cg)
            if weight_decay and not decoupled:
                d = d + weight_decay * pc
            if form == "adamax":  # v = max(b2 v, |d| + eps)
                cv *= beta2
                np.maximum(cv, np.abs(d) + eps, out=cv)
            else:
                t = d * d
                t *= c2
                cv *= beta2
                cv += t
            if form == "adadelta":  # u = sqrt(m + eps) / sqrt(v + eps) d; m: the updates' average
                t = np.sqrt(cm + eps) / np.sqrt(cv + eps) * d
                cm *= beta2
                cm += (1.0 - beta2) * t * t
                t *= step_size
            elif form == "momentum":  # m = b1 m + d / (sqrt(v) + eps); the step lr m
                np.sqrt(cv, out=t)
                t += eps
                np.divide(d, t, out=t)
                cm *= beta1
                cm += t
                np.multiply(cm, step_size, out=t)
            else:
                cm *= beta1
                if form == "adamax":
                    cm += d * (1.0 - beta1)
                else:  # (into t, free again: a chunk's temporaries stay within the L2 cache)
                    cm += np.multiply(d, 1.0 - beta1, out=t)
                if form == "centered":  # the step lr d / (sqrt(v - m^2) + eps)
                    t = np.sqrt(cv - cm * cm)
                    t += eps
                    np.divide(d, t, out=t)
                elif form == "adamax":
                    t = cm / cv
                elif form == "nadam":  # (step_size m + aux d) / (sqrt(v) rbc2 + eps): the step whole
                    t = (cm * step_size + d * aux) / (np.sqrt(cv) * inv_sqrt_bc2 + eps)
                elif form == "radam":  # m (step_size / (sqrt(v) + eps) + aux): the step whole
                    t = cm * (step_size / (np.sqrt(cv) + eps) + aux)
                else:
                    np.sqrt(cv, out=t)
                    t *= inv_sqrt_bc2
                    t += eps
                    np.divide(cm, t, out=t)
                if form not in ("nadam", "radam"):
                    t *= step_size
            if weight_decay and decoupled:
                if cp.dtype == np.float16:
                    pc = pc * (1.0 - lr * weight_decay)
                else:
                    cp *= 1.0 - lr * weight_decay
            if cp.dtype == np.float16:
                cp[...] = pc - t
            else:
                cp -= t

        self._each_chunk(one, p, g, m, v)
