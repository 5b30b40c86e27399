"""The Vulkan backend: every primitive is a GLSL compute shader run through Kompute.

Memory: arenas (kp tensors of 32-bit words, each at most maxStorageBufferRange
bytes; a new one is added when the others are full) hold every tensor; a
handle is a block of one.  Where device memory is the host's (lavapipe, integrated
GPUs) the arena is host-visible and uploads/downloads are plain copies; on
other devices it is device-local with a host-visible staging twin, and each
upload or download records a copy of just that block's bytes
(``VKGRAD_VULKAN_ARENA=host|device`` overrides the choice).  A pipeline is made once per shader
variant; each dispatch binds its operands' exact ranges of the arena through
its own descriptor set (see _vkext.cpp).  Freed blocks return to
per-size-class free lists; an allocation takes one of its class, else bump
space, else splits a larger free block, else adds an arena within a bound
(_may_grow), and only then waits for pending work (whose blocks come back).

Execution: dispatches are recorded into a pending program (see _vkext.cpp)
and submitted when the host needs a value (``.numpy()``, ``.item()``) or
``synchronize()``.  A compute->compute barrier goes in front of a dispatch
only when it reads or writes a block written, or writes a block read, since
the last barrier; independent dispatches get none.  Blocks used by pending
work are kept alive until the submission finishes, so a freed block is never
reused under a running shader.
"""
from __future__ import annotations

import atexit
import json
import math
import os
import struct
import weakref

import numpy as np

try:
    import kp
except ImportError as e:  # pragma: no cover - depends on the machine
    raise ImportError(f"Kompute (kp) is not installed: {e}") from None
try:
    from . import _vkext
except ImportError as e:  # pragma: no cover
    raise ImportError(f"vkgrad's Kompute companion (_vkext) is not built: {e}") from None

from ..base import ADAM_FORMS, BINARY_OPS, UNARY_OPS, Backend, BackendError, Device, adam_scalars, check_op

_SHADER_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "shaders")
_MANIFEST = os.path.join(_SHADER_DIR, "manifest.json")
if not os.path.exists(_MANIFEST):
    raise ImportError(f"compiled shaders not found in {_SHADER_DIR}; reinstall vkgrad with "
                      "glslangValidator present (bash ci/setup.sh)")

# Per shader: words of its push-constant block, and its bindings in order as
# declared in the GLSL: i readonly, o writeonly, b read-write.  Both must match
# the shader; the dependency tracker reads the binding modes.
_SHADERS = {
    "binary": (22, "iio"), "copy": (14, "io"), "unslice": (25, "ioi"), "cast": (1, "io"),
    "reduce": (5, "io"), "matmul": (11, "iiio"), "softmax": (2, "io"), "xent": (4, "iioo"),
    "bn_fwd": (5, "iiioooobb"), "bn_bwd": (2, "iiiiiooo"),
    "dropout": (4, "ioo"), "onehot": (2, "io"), "adam": (11, "bibb"), "sgd": (7, "bib"),
    # contiguous fast paths in 16-byte quads, and the benchmark's FMA probe
    "unary4": (3, "io"), "binary4": (5, "iio"), "reduce4": (5, "io"), "copy4": (1, "io"), "peak_fma": (3, "o"),
    "matmul4": (7, "iiio"), "matmul_sg": (6, "iiio"), "matmul_sm": (7, "iiio"), "matmul_splitk": (4, "iio"), "pad2d": (7, "io"), "pad2d_h": (7, "io"),
    "act_bias_bwd": (2, "iioo"), "adam4": (11, "bibb"), "sgd4": (7, "bib"), "adam_multi": (14, "bibb" * 4),
    "adam_multi8": (18, "bibb" * 8), "cast_multi": (8, "io" * 8), "transpose4": (3, "io"),
    "transpose_sm": (3, "io"),
    "bn_part": (4, "iiio"), "bn_comb": (7, "iiibobbbooo"), "bn_apply": (2, "iiio"), "select4": (1, "iiio"),
    "gather_rows": (3, "iio"), "index_add": (4, "iib"), "col2im": (10, "iio"), "window_max": (9, "ioo"),
    "argmax": (3, "io"), "layernorm": (3, "iiiooo"), "layernorm_bwd": (2, "iiiiioo"),
    "unpool": (5, "iio"), "rnn_cell": (2, "iiiiiooo"), "sort_stage": (9, "bb"), "sort_rows_sm": (4, "io"),
    "im2col": (10, "io"),
}
for _n in ("act_bias_bwd", "cast", "copy", "dropout", "copy4", "unslice", "unary4", "binary4", "reduce4", "matmul4",
           "softmax", "xent", "transpose4", "bn_part", "bn_apply", "select4", "col2im", "window_max",
           "index_add", "gather_rows", "layernorm", "layernorm_bwd", "unpool", "rnn_cell"):  # texel-read twins (see _tx)
    _SHADERS[_n + "_tx"] = _SHADERS[_n]
_SHADERS["pad2d_tx"] = _SHADERS["pad2d_h_tx"] = (7, "ioi")  # x again as 16-byte texels (contiguous rows)
# the optimizers' twins read through texel views and write the same ranges through
# storage buffers: every read-write operand bound twice (inputs, then outputs)
_SHADERS["adam4_tx"] = (11, "iiiiooo")
_SHADERS["sgd4_tx"] = (7, "iiioo")
# binding indices each shader reads and writes ("b": both)
_ACCESS = {name: (tuple(i for i, m in enumerate(modes) if m != "o"), tuple(i for i, m in enumerate(modes) if m != "i"))
           for name, (_, modes) in _SHADERS.items()}
# Shaders reading some operands through uniform texel buffers (see matmul_sg.comp):
# the VkFormat of each binding's view (0: a storage buffer), by dtype and spec constants
_RGBA32F, _RGBA32UI, _RG32UI, _R32F, _R32UI = 109, 107, 101, 100, 98
_TEXEL = {
    # the quad kernels' "_tx" twins (CPU devices): inputs in 16-byte texels (vec4.glsl)
    "act_bias_bwd_tx": lambda tag, spec: [_RGBA32UI, _RGBA32UI, 0, 0],  # its QUADS path only
    "cast_tx": lambda tag, spec: [_RGBA32UI, 0],
    "dropout_tx": lambda tag, spec: [_RGBA32UI, 0, 0],
    # x's words (f32 or two halves), gathered; QUADS 1 or 3 (spec 1): x's quads
    "copy_tx": lambda tag, spec: [_RGBA32UI if spec[1:] and spec[1] in (1, 3) else _R32UI, 0],
    # g's words, y, the base's words; QUADS (spec 2): their quads
    "unslice_tx": lambda tag, spec: [_RGBA32UI, 0, _RGBA32UI] if spec[2:] and spec[2] else [_R32UI, 0, _R32UI],
    "copy4_tx": lambda tag, spec: [_RGBA32UI, 0],
    "unary4_tx": lambda tag, spec: [_RGBA32UI, 0],
    "binary4_tx": lambda tag, spec: [_RGBA32UI, _RGBA32UI, 0],
    "reduce4_tx": lambda tag, spec: [_RGBA32UI, 0],
    "transpose4_tx": lambda tag, spec: [_RGBA32UI, 0],
    "bn_part_tx": lambda tag, spec: [_RGBA32UI, _RGBA32UI, 0, 0],
    "bn_apply_tx": lambda tag, spec: [_RGBA32UI, _RGBA32UI, _RGBA32UI, 0],
    "select4_tx": lambda tag, spec: [_RGBA32UI, _RGBA32UI, _RGBA32UI, 0],
    "col2im_tx": lambda tag, spec: [_R32UI, _R32UI, 0],  # x's words (f32 or two halves), idx
    "unpool_tx": lambda tag, spec: [_R32UI, _R32UI, 0],  # g's words, idx
    "window_max_tx": lambda tag, spec: [_R32UI, 0, 0],
    "gather_rows_tx": lambda tag, spec: [_RGBA32UI, _R32UI, 0],  # W's quads, idx
    "layernorm_tx": lambda tag, spec: [_RGBA32UI] * 3 + [0] * 3,  # x, w, b
    "layernorm_bwd_tx": lambda tag, spec: [_RGBA32UI] * 3 + [0] * 4,  # g, x, w
    "rnn_cell_tx": lambda tag, spec: [_RGBA32UI] * 5 + [0] * 3,
    "index_add_tx": lambda tag, spec: [_R32UI, _RGBA32UI if spec[0] else _R32UI, 0],  # g's words, idx
    # softmax / xent: their QUADS and serial paths; rows not in whole quads read by words
    "softmax_tx": lambda tag, spec: [_RGBA32UI if spec[1] else _R32UI, 0],
    "xent_tx": lambda tag, spec: [_RGBA32UI if spec[1] else _R32UI,
                                  _RGBA32UI if spec[1] and not spec[0] else _R32UI, 0, 0],  # labels or targets
    "adam4_tx": lambda tag, spec: [_RGBA32F, _RG32UI if tag == "g16" else _RGBA32F, _RGBA32F, _RGBA32F, 0, 0, 0],
    "sgd4_tx": lambda tag, spec: [_RGBA32F, _RG32UI if tag == "g16" else _RGBA32F, _RGBA32F, 0, 0],
    "pad2d_tx": lambda tag, spec: [_R32UI, 0, _RGBA32F],  # x's words, y, x as quads
    "pad2d_h_tx": lambda tag, spec: [_R32UI, 0, _RGBA32UI],  # x's halves as words, y, x as quads
    # A and B by their 4-value loads (RGBA32F, or RG32UI: 4 halves), bias, C
    "matmul4_tx": lambda tag, spec: ([_RGBA32F, _RGBA32F] if tag == "f32" else [_RG32UI, _RG32UI]) + [0, 0],
    # A (RG32UI: 4 halves of 4 rows of one k when TA = 1 in f16), B, bias, C
    "matmul_sg": lambda tag, spec: ([_RGBA32F, _RGBA32F] if tag == "f32" else
                                    [_RG32UI if spec[2] else _RGBA32UI, _RGBA32UI]) + [0, 0],
}
_T4_ROWS = 128  # rows of x per tile of transpose4.comp (its T block rows)
_ACT_ID = {None: 0, "relu": 1, "sigmoid": 2, "tanh": 3, "gelu": 4, "gelu_tanh": 5}
_NP = {"f32": np.float32, "f16": np.float16, "i32": np.int32}
_MAX_DIMS = 6
_MAX_GROUPS = 4096  # shaders loop over the rest (grid-stride)
# a batch walk's grid (im2col.comp, col2im.comp and window_max.comp BATCH): about this
# many invocations (an H200 holds 270 k resident), each walking a chunk of the batch
_BATCH_LANES = 1 << 19
# lavapipe (gallivm) ends every loop of an invocation once it has run 65535 iterations
# in all, silently (a guard against hung shaders): a [1, 100000] @ [100000, 1] product
# came out 65535, softmax over [4096, 4096] left its last 59 rows unwritten.  On CPU
# devices an invocation's loops stay under this many iterations (matmul's K in
# slices, softmax / xent rows a lane each only while short, small grids only for
# small work); GPUs have no such limit
_LOOP_CAP = 1 << 15
_ARGMAX_PART = 4096  # argmax walks rows up to this long in one invocation, splits longer ones
_ONEHOT_MAX = 1 << 24  # index_add_rows: the one-hot product up to this many [B, V] elements
_ONEHOT_MAX_CPU = 1 << 22  # the same on CPU devices for B not a multiple of 4 (else the scan, always)
_UNROLLED_TAPS = 64  # col2im / window_max unroll windows up to this many taps (col2im.comp's UNROLLED)
_SG_MIN_WORK = 1 << 18  # matmul_sg from this many multiply-adds (below: matmul4)
_BMM_ITEM_GPU = 1 << 24  # bmm on GPUs: the tuned product per item from items this large
_REPLAY_SLOTS = (2, 3)  # the submitter's slots for captured steps (0 and 1: the two eager programs)


def _serial(length, outputs):
    """On GPUs, one invocation per output (a serial loop, no shared memory or
    barriers) when the loop is short or there are enough outputs to fill the
    device; else one workgroup per output with a tree reduction.  CPU devices:
    VulkanBackend._serial."""
    return length <= 256 or outputs >= 1024


def _thread_ids():
    """This process's thread ids (Linux; an empty set elsewhere)."""
    try:
        return {int(t) for t in os.listdir("/proc/self/task")}
    except OSError:
        return set()


def device_count():
    return _vkext.device_count()


def list_devices():
    out = []
    for i in range(device_count()):
        lim = _vkext.device_limits(i)
        out.append({"device": f"vulkan:{i}", "kind": "vulkan", **lim})
    return out


def shader_build_info():
    with open(_MANIFEST) as f:
        m = json.load(f)
    return (f"shaders: {len(m['variants'])} SPIR-V modules in {_SHADER_DIR} "
            f"(source sha256 {m['source_sha256'][:12]}, spirv-val "
            f"{'passed' if m['validated'] else 'not run'})")


def _f2u(v):
    return struct.unpack("<I", struct.pack("<f", float(v)))[0]


def _val(x):
    """A scalar argument, or a zero-argument callable giving it (re-read on replay)."""
    return x() if callable(x) else x


class CaptureError(BackendError):
    """Something inside a captured step cannot be replayed (e.g. a host read)."""


class Capture:
    """A recorded step: its program, the blocks it uses, and what changes per replay."""

    def __init__(self):
        self.prog = None
        self.keep = []
        self.slot = None    # the submitter slot its replays use
        self.dynamic = []   # (dispatch index, push builder)
        self.hooks = []     # run before each replay: advance Python-side counters
        self.replays = 0
        self.released = False

    def release(self):
        """Drop the recorded program (its descriptor pools) while the device lives."""
        self.prog, self.keep, self.released = None, [], True


def _env_choice(name, choices):
    """The value of environment variable ``name``, one of ``choices`` (the first is
    the default when it is unset); anything else is an error naming them."""
    v = os.environ.get(name) or choices[0]
    if v not in choices:
        raise BackendError(f"{name} must be {', '.join(choices[:-1])} or {choices[-1]}, got {v!r}")
    return v


_SPIN_CHOICES = ("auto", "0", "50", "200", "1000")


def _fence_spin_us(choice, device_type):
    """How long host waits poll the fence before blocking in the driver (one of
    _SPIN_CHOICES, VKGRAD_FENCE_SPIN_US).  auto: 200 us on discrete GPUs, whose
    blocked waiter's wake-up outlasts a small step's work (an H200: a tiny op and
    its read 81-83 us blocking, 50-51 us polling 200 or 1000 us first); 0 elsewhere:
    never on CPU devices, whose driver threads need the cores a polling wait would
    hold, nor on integrated GPUs, which share the host's power."""
    if device_type == "Cpu":
        return 0
    if choice == "auto":
        return 200 if device_type == "DiscreteGpu" else 0
    return int(choice)


def _epq(dtype):
    """Elements per 16-byte quad: 4 f32, 8 packed halves."""
    return 8 if dtype == "f16" else 4


def _merge_lattice(shape, starts, steps, lens):
    """A slice's lattice (shape, starts, steps, lens per axis) over fewer axes:
    size-1 axes left out (start 0, one value), and an axis merged with the one
    after it where that one is taken whole and this one with step 1 (the runs
    join up: [2, 3, 4, 5][:, 1:2] is one run of 5 values in each of 2 x 3 x 4
    ... ), so more slices fit the kernels' 6 axes."""
    keep = [i for i, d in enumerate(shape) if d != 1] or ([len(shape) - 1] if shape else [])
    out = [[shape[i], starts[i], steps[i], lens[i]] for i in keep]
    i = len(out) - 2
    while i >= 0:
        d, s, st, n = out[i]
        d1, s1, st1, n1 = out[i + 1]
        if s1 == 0 and n1 == d1 and (st1 == 1 or n1 == 1) and (st == 1 or n == 1):
            out[i:i + 2] = [[d * d1, s * d1, 1, n * d1]]
        i -= 1
    return [list(v) for v in zip(*out)] if out else [[], [], [], []]


def _bits_tag(dtype):
    """The shader variant of kernels that only move elements' bits: int32 moves as
    f32 words (no int32 variants are built)."""
    return "f32" if dtype == "i32" else dtype


def _words(n, dtype):
    return max(1, (n + 1) // 2 if dtype == "f16" else n)


def _size_class(words, min_words=16):
    return max(min_words, 1 << max(0, (words - 1).bit_length()))


def _contig_strides(shape):
    st, acc = [], 1
    for d in reversed(shape):
        st.append(acc)
        acc *= d
    return list(reversed(st))


def _bcast_strides(src, shape):
    """Strides of a contiguous tensor of shape ``src`` along the axes of ``shape`` it
    broadcasts to (0 where it repeats)."""
    st, lead = _contig_strides(src), len(shape) - len(src)
    return [0] * lead + [0 if d == 1 and shape[i + lead] != 1 else st[i] for i, d in enumerate(src)]


def _merge_dims(dims, *strides):
    """Merge adjacent axes that every operand walks contiguously (fewer index
    divisions in the shader): axis i-1 and i merge when s[i-1] == s[i] * dims[i]
    for each stride list.  Size-1 axes are dropped."""
    if not dims:  # 0-d
        return ([1], *[[0] for _ in strides])
    keep = [i for i, d in enumerate(dims) if d != 1] or [len(dims) - 1]
    dims = [dims[i] for i in keep]
    strides = [[s[i] for i in keep] for s in strides]
    out_d, out_s = [dims[0]], [[s[0]] for s in strides]
    for i in range(1, len(dims)):
        if all(os_[-1] == s[i] * dims[i] for os_, s in zip(out_s, strides)):
            out_d[-1] *= dims[i]
            for os_, s in zip(out_s, strides):
                os_[-1] = s[i]
        else:
            out_d.append(dims[i])
            for os_, s in zip(out_s, strides):
                os_.append(s[i])
    return (out_d, *out_s)


class Arena:
    """One kp tensor of words, its mapped host view, its bump pointer, and the
    algorithm that names its buffer to recorded programs."""

    __slots__ = ("index", "tensor", "view", "words", "bump", "holder")


class Block:
    """A run of an arena's words; returns itself to the free list when collected."""

    __slots__ = ("off", "cls", "arena", "backend", "__weakref__")

    def __init__(self, off, cls, arena, backend):
        self.off, self.cls, self.arena, self.backend = off, cls, arena, backend

    def __del__(self):
        be = self.backend
        if be is not None and be.arenas:
            be._free.setdefault((self.arena, self.cls), []).append(self.off)
            be.counters["live_bytes"] -= self.cls * 4


class VkArray:
    """A handle: shape, dtype and the arena block holding the data."""

    __slots__ = ("shape", "dtype", "block", "size", "nbytes", "range")

    def __init__(self, shape, dtype, block, size=None):
        self.shape, self.dtype, self.block = tuple(shape), dtype, block
        self.size = n = math.prod(self.shape) if size is None else size
        self.nbytes = 4 * _words(n, dtype)
        # (byte offset, bytes) as dispatches bind it: whole words, and at least one
        # 16-byte texel (a descriptor's or view's range must not be empty; every
        # block has 64 bytes or more)
        self.range = (block.off * 4, max(self.nbytes, 16))

    @property
    def off(self):  # in words (a view of an item of its block starts past the block's start)
        return self.range[0] // 4

    def __repr__(self):
        return f"VkArray(shape={self.shape}, dtype={self.dtype}, off={self.block.off})"


def _reshaped(h, shape, dtype=None):
    """h's bytes as ``shape`` (and ``dtype``): a handle on its block at h's own
    offset (h may be a view past the block's start: Backend.rows, bmm's items)."""
    v = VkArray(shape, dtype or h.dtype, h.block)
    v.range = (h.range[0], v.range[1])
    return v


class VulkanBackend(Backend):
    name = "vulkan"

    def __init__(self, index=0):
        n = device_count()
        if index >= n:
            raise BackendError(f"vulkan:{index} does not exist: this machine has {n} Vulkan "
                               f"device(s) ({', '.join(d['name'] for d in list_devices()) or 'none'})")
        self.index = index
        self.device = Device(f"vulkan:{index}")
        self.limits = _vkext.device_limits(index)
        threads_before = _thread_ids()
        self.mgr = kp.Manager(index)  # a CPU driver starts its worker threads here (GIL held)
        driver_threads = _thread_ids() - threads_before
        self._queue = self.mgr.sequence()  # only its device and queue are used
        self._submitter = _vkext.Submitter(self._queue)
        if self.limits.get("device_type") == "Cpu" and os.environ.get("VKGRAD_VULKAN_PLACE_THREADS", "1") != "0":
            # keeps them off the core of the thread recording the next step (see Submitter)
            self._submitter.set_driver_threads(sorted(driver_threads))
        self._driver_threads = driver_threads
        self._submitter.set_spin_us(_fence_spin_us(_env_choice("VKGRAD_FENCE_SPIN_US", _SPIN_CHOICES),
                                                   self.limits.get("device_type")))
        atexit.register(self.close)
        self.max_words = self.limits["max_storage_buffer_range"] // 4
        # blocks start at multiples of the smallest size class: keep them aligned
        self._min_words = max(16, int(self.limits.get("min_storage_buffer_offset_alignment", 4)) // 4,
                              int(self.limits.get("min_texel_buffer_offset_alignment", 4)) // 4)
        # the choices tuned per device kind (read paths, grids, work splits, kernels):
        # a CPU device's (lavapipe) or a GPU's; VKGRAD_DEVICE_TUNING=cpu|gpu forces
        # one, so CI without a GPU runs the GPU's paths (values, not speed) too
        tuning = _env_choice("VKGRAD_DEVICE_TUNING", ("auto", "cpu", "gpu"))
        cpu_like = tuning == "cpu" or (tuning == "auto" and self.limits.get("device_type") == "Cpu")
        self._texel = True  # arenas may back texel buffer views (cleared if a device refuses)
        self._max_texels = int(self.limits.get("max_texel_buffer_elements", 0))
        # CPU devices read the quad kernels' inputs as texel buffers (the "_tx"
        # shaders: lavapipe gathers a texel fetch, but loads a storage buffer lane
        # by lane); GPUs keep storage buffers
        self._texel_reads = cpu_like
        # total bytes of arenas (None: until the device refuses); also settable at run time
        cap = os.environ.get("VKGRAD_VULKAN_MAX_BYTES")
        self.memory_limit = int(cap) if cap else None
        # for tests only: proves the validation test catches a missing barrier
        self._skip_barriers = os.environ.get("VKGRAD_DEBUG_SKIP_BARRIERS") == "1"
        self.arena_kind = os.environ.get("VKGRAD_VULKAN_ARENA") or (
            "host" if self.limits.get("device_type") in ("Cpu", "IntegratedGpu") else "device")
        if self.arena_kind not in ("host", "device"):
            raise BackendError(f"VKGRAD_VULKAN_ARENA must be 'host' or 'device', got {self.arena_kind!r}")
        self.counters = {}
        self.reset_counters()
        self.counters["live_bytes"] = 0
        self.arenas = []
        self._free = {}
        self._classes = {}
        self._algos = {}
        self._spirv = {}
        # CPU devices get the variants that pack halves by integer arithmetic (common.glsl)
        self._soft_half = cpu_like
        # small grids on a CPU device (lavapipe): one workgroup per thread (one in
        # all for the tiniest), as a workgroup's start and a worker thread's wake-up
        # cost more there than the few invocations they would run (A/B on the iris
        # step: 10% for the cap, 3-7% more for the single workgroup)
        self._small_grid = (os.cpu_count() or 1) if cpu_like else 0
        # a property of the driver, not of the tuning: lavapipe's loop limit (_LOOP_CAP)
        self._loop_cap = _LOOP_CAP if self.limits.get("device_type") == "Cpu" else 0
        # workgroups of a texel twin's quad loop (_quad_groups): a few runs per core
        self._quad_cap = max(128, 32 * (os.cpu_count() or 1))
        # parallel parts of a long reduction (reduce4, bn_part): a CPU device streams long
        # runs better; a GPU needs loads in flight (an H200, paired against the probe,
        # 65536 vs 16384: a sum of 32 Mi f32 92 vs 80% of the copy shader, batch norm
        # [131072, 256] 50 / 51 vs 36 / 26%; column sums take a second pass over their
        # partials, below).  VKGRAD_REDUCE_ITEMS picks another count (an A/B knob)
        items = _env_choice("VKGRAD_REDUCE_ITEMS", ("auto", "1024", "4096", "16384", "65536", "262144"))
        self._reduce_items = int(items) if items != "auto" else 1024 if self._small_grid else 65536
        # batch norm's parts (bn_part.comp) take the same count (an H200, all three passes
        # over [131072, 256], paired, forward / backward: 16384 parts f32 30 / 31% of the
        # copy, f16 41 / 29%; 65536 parts 55 / 56%, 45 / 48% -- though bn_part alone ran
        # faster with fewer, bn_comb then has more to merge).  bn_apply's grid in backward on
        # GPUs: about this many workgroups, their step whole rows, so that an invocation
        # loads its four coefficient rows once (the H200, backward, f32 / f16 [131072,
        # 256] and [32768, 1000]: 55.5 / 47.7 / 54.7 / 47.1% -> 56.9 / 55.3 / 57.5 /
        # 56.7%; forward, three rows, ran slower so in all four: it keeps a quad per
        # invocation).  0: an invocation per quad (CPU devices take the texel twin)
        self._bn_apply_groups = 0 if self._small_grid else 1024
        # row sums: a subgroup per part of a row, its lanes reading adjacent quads, on
        # GPUs (coalesced); CPU devices stream a part per invocation faster
        sg = self.limits.get("subgroup_size", 0)
        self._rows_by_subgroup = not self._small_grid and 8 <= sg <= 64 and 64 % sg == 0
        # lanes of a subgroup summing by shuffles on GPUs: batch norm's parts combined by a
        # subgroup per channel (bn_comb.comp LANES: an invocation per channel is C threads,
        # each a chain of loads), layer norm's rows (_ln_grid)
        self._shuffle_lanes = self._rows_by_subgroup and bool(self.limits.get("subgroup_shuffle"))
        # column sums by subgroup spans, by the dtype read: (16-byte quads per lane per
        # row, parts in parallel as a multiple of _reduce_items / subgroup width).  A
        # CPU: 128 accumulators (spilled to its cache), parts by its threads.  A GPU, an
        # H200 paired and alternated over [32768, 1024] and [8192, 4096] (session 12):
        # f32 2 quads, 65536 items 85-89% of the copy (4 quads 75%; 1 quad 77-86%;
        # 16384 / 262144 items 48-52% / 32-82%); f16 1 quad, 4 x 65536 items 54-64%
        # (2 quads, 65536: 41-42%; 4 quads 13-17%) -- halves need more parts in flight
        self._col_spans = ({"f32": (32, 0), "f16": (16, 0)} if self._small_grid
                           else {"f32": (2, 1), "f16": (1, 4)})
        # GPUs: a column-sum item (span, part) by a workgroup of 256, its subgroups on
        # interleaved rows, added in shared memory (reduce4.comp SPLIT): the same
        # subgroups reading, an eighth of the partial rows (f16 [32768, 1024]: 8 MB of
        # partials and two more passes on 64 MB read, at 53% of the copy on an H200).
        # Unmeasured on a GPU yet; VKGRAD_COL_SPLIT=0 takes a subgroup per item
        split = _env_choice("VKGRAD_COL_SPLIT", ("auto", "0", "1"))
        self._col_split = split == "1" or (split == "auto" and not self._small_grid and 0 < sg <= 64)
        # large products: matmul_sm (shared-memory tiles) on GPUs, matmul_sg (subgroup
        # shuffles, no shared memory) on CPU devices; VKGRAD_MATMUL_KERNEL=sg|sm
        # picks one (to compare them on a device: ci/gpu-bench.sh runs both)
        kern = _env_choice("VKGRAD_MATMUL_KERNEL", ("auto", "sg", "sm"))
        self.matmul_kernel = kern if kern != "auto" else "sg" if self._small_grid else "sm"
        # matmul_sm's block: 128 x 128 (8 x 8 per invocation, 64 accumulators) on
        # desktop GPUs (NVIDIA, AMD, Intel: register files that hold them), for
        # products that fill such blocks; 64 x 64 elsewhere.  VKGRAD_MATMUL_TILE=64|128
        # forces one (ci/gpu-bench.sh times both)
        tile = _env_choice("VKGRAD_MATMUL_TILE", ("auto", "64", "128"))
        desktop = self.limits.get("vendor_id") in (0x10DE, 0x1002, 0x8086) and not self._small_grid
        self.matmul_tile = int(tile) if tile != "auto" else 128 if desktop else 64
        splitk = _env_choice("VKGRAD_MATMUL_SPLITK", ("auto", "0", "1"))
        # split K for products of few blocks (_k_splits) on discrete GPUs: an H200,
        # device-timed (session 11): 256 x 784 x 1024 0.04 vs 0.05 ms, 333 x 777 x 555
        # 0.03 vs 0.05 ms (session 8's contrary H100 figures were wall-clocked: the
        # bench's timer bug).  Not on integrated GPUs: their few compute units are
        # filled by fewer blocks, and the slices' partials would cost memory traffic
        self._splitk = splitk == "1" or splitk == "auto" and not self._small_grid and \
            self.limits.get("device_type") != "IntegratedGpu"
        # transposes of the last two axes: shared-memory tiles on GPUs (reads and
        # writes along rows), transpose4's blocks on CPU devices (lavapipe's shared
        # memory is slow); VKGRAD_TRANSPOSE=blocks|tiles picks one
        tr = _env_choice("VKGRAD_TRANSPOSE", ("auto", "blocks", "tiles"))
        self.transpose_kernel = tr if tr != "auto" else "blocks" if cpu_like else "tiles"
        # im2col, col2im (window_scatter too) and max pools: "batch" on GPUs, an invocation
        # per place in an image (a pool: a plane), walking the batch (im2col.comp,
        # col2im.comp and window_max.comp BATCH: a place's index divided once, not per
        # element); "runs" on CPU devices, runs of consecutive elements (copy.comp's walk
        # over the padded input, col2im's RUN: lavapipe streams them; im2col.comp ran
        # 0.5x there, loading storage buffers lane by lane).  VKGRAD_WINDOW_WALK=runs|batch
        # picks one
        walk = _env_choice("VKGRAD_WINDOW_WALK", ("auto", "runs", "batch"))
        self.window_walk = walk if walk != "auto" else "runs" if cpu_like else "batch"
        self._tile_forced = tile != "auto"
        self._capture = None
        self._captures = weakref.WeakSet()  # recorded steps, released before the device
        # two programs in turn: one submitted (running), one being recorded
        self._progs = [_vkext.Program(), _vkext.Program()]
        self._inflight = [[], []]  # blocks each submitted program uses, held until its fence
        self._settled_live = 0  # bytes live after the last wait for all work (none pending then)
        # bytes live (pending work's blocks too) when the last training step ended (end_step:
        # not any flush, or a loop's own waits would raise the bound _may_grow holds it to)
        self._step_live = 0
        self._replaying = {}  # slot -> the captured step last submitted there (kept alive until its fence)
        self._recorded = 0  # captures so far: recordings made in turn take the replay slots in turn
        self._pi = 0
        self._begin_program(0)
        self._add_arena(min(self.max_words, 8 << 20))  # 32 MiB first; later ones double
        self._dummy = self._alloc((1,), "f32")  # bound where a shader's optional operand is absent

    def close(self):
        """Release this device's Vulkan objects, the programs and submitter before
        the kp.Manager that owns the device (at exit, module teardown order is
        arbitrary)."""
        if self.mgr is None:
            return
        self._submitter.wait_all()
        for cap in list(self._captures):  # recordings a user still holds (e.g. globals)
            cap.release()
        self._prog = self._progs = self._submitter = self._queue = self._capture = None
        self._keep, self._inflight, self._replaying = [], [[], []], {}
        self._algos.clear()
        self._free.clear()
        self.arenas = []
        self.mgr.destroy()
        self.mgr = None

    # -- bookkeeping ---------------------------------------------------------
    def reset_counters(self):
        live = self.counters.get("live_bytes", 0)
        arena = self.counters.get("arena_bytes", 0)
        self.counters.update(dispatches=0, submissions=0, replays=0, barriers=0, uploads=0, downloads=0,
                             upload_bytes=0, download_bytes=0, pipelines_created=0,
                             blocks_created=0, blocks_reused=0)
        self.counters["live_bytes"] = live
        self.counters["arena_bytes"] = arena

    def _begin_program(self, i):
        """Record into program i from now on: wait for its last submission, drop
        what that kept alive, and clear it (its descriptor pools are reset, not
        destroyed and created again every step)."""
        self._submitter.wait(i)
        self._inflight[i] = []
        self._pi, self._prog = i, self._progs[i]
        self._prog.clear()
        if self.arenas:
            self._prog.set_arenas([a.holder for a in self.arenas])
        self._keep = []
        self._written = set()
        self._read = set()
        self._lead = True  # the first command waits for earlier submissions (see _track)

    def flush(self):
        """Submit what is recorded without waiting; recording goes on into the
        other program while the device runs this one (the end of an eager step)."""
        if self._capture is not None or len(self._prog) == 0:
            return
        self._prog.host_read_barrier()  # a later fence wait then shows its results to the host
        self._submitter.submit(self._prog, self._pi)
        self._inflight[self._pi] = self._keep
        self.counters["submissions"] += 1
        self._begin_program(1 - self._pi)

    def _add_arena(self, words, must=True):
        """A new arena of ``words``; None past ``memory_limit`` (or, unless ``must``,
        where the device refuses the memory)."""
        total = sum(a.words for a in self.arenas) + words
        if self.memory_limit is not None and total * 4 > self.memory_limit:
            return None
        ttype = kp.TensorTypes.host if self.arena_kind == "host" else kp.TensorTypes.device
        try:
            t = self.mgr.tensor_t(np.zeros(words, dtype=np.uint32), tensor_type=ttype)
        except Exception as e:  # vkAllocateMemory / vkCreateBuffer failed: out of device memory
            if not must:
                return None
            raise BackendError(f"vulkan: could not allocate a {words * 4}-byte arena on "
                               f"{self.limits['name']} ({sum(a.words for a in self.arenas) * 4} bytes "
                               f"in use): {e}; free tensors or use smaller batches") from None
        a = Arena()
        a.index, a.tensor, a.view, a.words, a.bump = len(self.arenas), t, t.data(), words, 0
        # names this arena's buffer to programs (and serves buffer copies within it)
        # (a one-binding shader, never dispatched through this algorithm)
        a.holder = self.mgr.algorithm([t], self._spirv_of("peak_fma_f32"), (1, 1, 1),
                                      np.array([0], dtype=np.uint32), np.zeros(3, dtype=np.uint32))
        self.counters["pipelines_created"] += 1
        self._texel = self._texel and _vkext.add_texel_usage(a.holder)
        self.arenas.append(a)
        self._prog.set_arenas([x.holder for x in self.arenas])
        self.counters["arena_bytes"] = total * 4
        return a

    def _alloc(self, shape, dtype):
        shape = tuple(shape)
        known = self._classes.get((shape, dtype))  # (elements, size class): shapes recur every step
        if known is None:
            if dtype not in _NP:
                raise BackendError(f"vulkan: dtype {dtype} is not supported by the shaders (f32, f16, "
                                   "i32 labels); f64 gradient checks run on the CPU backend")
            n = math.prod(shape)
            words = _words(n, dtype)
            if words > self.max_words:
                raise BackendError(
                    f"vulkan: a {dtype} tensor of shape {list(shape)} needs {words * 4} bytes, more than "
                    f"this device's maxStorageBufferRange ({self.max_words * 4} bytes)")
            known = n, _size_class(words, self._min_words)
            if len(self._classes) < 4096:
                self._classes[(shape, dtype)] = known
        n, cls = known
        found = self._take_free(cls) or self._bump_alloc(cls) or self._split_free(cls)
        if found is None:
            grow = min(self.max_words, max(cls, 2 * self.arenas[-1].words))  # a new arena's words
            # rather than wait, an arena added within _may_grow's bound (a capture cannot
            # wait: it keeps its blocks); else the blocks pending work holds come back
            if self._capture is None and not (self._may_grow(grow) and self._add_arena(grow, must=False)):
                self.synchronize()
                found = self._take_free(cls) or self._split_free(cls)
            found = found or self._bump_alloc(cls)  # (in an arena just added)
            if found is None:
                if self._add_arena(grow) is None:
                    raise BackendError(
                        f"vulkan: out of device memory allocating {list(shape)} {dtype} ({cls * 4} "
                        f"bytes): {self.counters['live_bytes']} bytes live in {len(self.arenas)} "
                        f"arena(s) of {self.counters['arena_bytes']} bytes, the limit is "
                        f"{self.memory_limit} bytes; free tensors or use smaller batches")
                found = self._bump_alloc(cls)
        arena, off = found
        self.counters["live_bytes"] += cls * 4
        return VkArray(shape, dtype, Block(off, cls, arena, self), n)

    def _take_free(self, cls):
        free = self._free
        for i in range(len(self.arenas)):
            lst = free.get((i, cls))
            if lst:
                self.counters["blocks_reused"] += 1
                return i, lst.pop()
        return None

    def memory_stats(self):
        """Bytes of live tensors (and blocks pending work still holds) and of the arenas."""
        return {"allocated_bytes": self.counters["live_bytes"], "reserved_bytes": self.counters["arena_bytes"],
                "arenas": len(self.arenas)}

    def empty_cache(self):
        """Wait for all work, then release the last arenas while they hold no tensor
        (the first one stays; one in the middle stays while a later one is in use):
        the bytes released.  Arenas grow while training (``_may_grow``) and are kept
        for reuse; this gives them back, e.g. between models (a captured step recorded
        before holds its arenas' memory until the recording is dropped)."""
        self.synchronize()
        released = 0
        while len(self.arenas) > 1:
            a = self.arenas[-1]
            keys = [k for k in self._free if k[0] == a.index]
            if sum(k[1] * len(self._free[k]) for k in keys) != a.bump:  # a block of it is live
                break
            for k in keys:
                del self._free[k]
            self.arenas.pop()  # its kp tensor goes with the last reference: the programs' below
            released += 4 * a.words
        if released:
            for prog in self._progs:
                prog.set_arenas([x.holder for x in self.arenas])
            self.counters["arena_bytes"] -= released
        return released

    def _may_grow(self, words):
        """Whether a new arena of ``words`` may be added rather than waiting for the
        blocks pending work holds: while the arenas stay within 4x the bytes live
        after the last wait for all work, or 6x those live when the last training
        step ended (256 MiB at least).  A training step's blocks are pending while
        the next records; waiting there idled the device mid-step (MLPs of 512-1536
        wide, batches 1024-8192: 1.5-2.9 submissions a step; a CNN on 28 x 28 at
        batch 64, whose windows are 9x its activations: 1.9, its arenas needing
        4.8x the bytes live at a submission -- two steps' blocks, rounded up to
        size classes, in arenas that double), and an eager loop that never submits
        is still held to a bound."""
        total = self.counters.get("arena_bytes", 0) + 4 * words
        return total <= max(256 << 20, 4 * self._settled_live, 6 * self._step_live)

    def _bump_alloc(self, cls):
        for a in self.arenas:
            if a.bump + cls <= a.words:
                off, a.bump = a.bump, a.bump + cls
                self.counters["blocks_created"] += 1
                return a.index, off
        return None

    def _split_free(self, cls):
        """A free block of exactly cls words, splitting a larger free one (buddy style)."""
        bigger = sorted((c, a) for (a, c), lst in self._free.items() if lst and c >= cls)
        if not bigger:
            return None
        c, a = bigger[0]
        off = self._free[(a, c)].pop()
        while c > cls:
            c //= 2
            self._free.setdefault((a, c), []).append(off + c)
        self.counters["blocks_reused"] += 1
        return a, off

    def _spirv_of(self, variant):
        spirv = self._spirv.get(variant)
        if spirv is None:
            path = os.path.join(_SHADER_DIR, variant + ".spv")
            soft = os.path.join(_SHADER_DIR, variant + "_soft.spv")
            if self._soft_half and os.path.exists(soft):  # halves packed by integer arithmetic
                path = soft
            with open(path, "rb") as f:
                spirv = self._spirv[variant] = f.read()
        return spirv

    def _algo(self, shader, dtype_tag, spec=()):
        key = (shader, dtype_tag, spec)
        a = self._algos.get(key)
        if a is None:
            spirv = self._spirv_of(f"{shader}_{dtype_tag}")
            words, modes = _SHADERS[shader]
            texel = _TEXEL.get(shader)
            # bound to the first arena for its layout only: each dispatch binds its
            # operands' own arenas and ranges.  kp lays out storage buffers only: a
            # shader with texel bindings is built over a placeholder, then rebuilt
            a = self.mgr.algorithm([self.arenas[0].tensor] * len(modes),
                                   self._spirv_of("placeholder_u32") if texel else spirv, (1, 1, 1),
                                   np.array(spec, dtype=np.uint32), np.zeros(words, dtype=np.uint32))
            if texel:
                _vkext.set_texel_layout(a, spirv, texel(dtype_tag, spec))
            self._algos[key] = a
            self.counters["pipelines_created"] += 1
        return a

    def _track(self, rd, wr):
        """A barrier before work that reads or writes a block written, or writes a
        block read, since the last barrier; then note this work's accesses."""
        if self._lead:  # order this program after submissions that may still be running
            self._prog.barrier()
            self._lead = False
        if ((rd | wr) & self._written or wr & self._read) and not self._skip_barriers:
            self._prog.barrier()
            self.counters["barriers"] += 1
            self._written.clear()
            self._read.clear()
        self._read |= rd
        self._written |= wr

    def _dispatch_dyn(self, shader, dtype_tag, spec, groups, build_push, operands):
        """A dispatch whose push constants are rebuilt by ``build_push()`` on replay."""
        idx = self._dispatch(shader, dtype_tag, spec, groups, build_push(), operands)
        if self._capture is not None:
            self._capture.dynamic.append((idx, build_push))

    def _dispatch(self, shader, dtype_tag, spec, groups, push, operands, small_grid=True, least=1):
        """Record one dispatch; ``operands`` are handles in binding order.
        ``small_grid=False``: not a CPU device's small grid whatever the count (work
        that would run too many loop iterations per invocation there: _LOOP_CAP);
        ``least``: the fewest workgroups that small grid may leave (_loop_groups)."""
        algo = self._algos.get((shader, dtype_tag, spec)) or self._algo(shader, dtype_tag, spec)
        # (the hot path: a few comprehensions rather than one loop of branches)
        blocks = [h.block for h in operands]  # hash by identity; kept alive until the program completes
        self._keep += blocks
        reads, writes = _ACCESS[shader]
        self._track({blocks[i] for i in reads}, {blocks[i] for i in writes})
        ranges = [v for h in operands for v in h.range]
        arenas = [b.arena for b in blocks]
        groups = max(1, min(int(groups), _MAX_GROUPS))  # shaders loop over the rest (grid-stride)
        if groups <= 64 and self._small_grid and small_grid:  # tiny: one thread (no second wake-up)
            groups = max(min(groups, least), 1 if groups <= 8 else min(groups, self._small_grid))
        idx = self._prog.dispatch(algo, groups, 1, 1, push, ranges,
                                  arenas)
        self.counters["dispatches"] += 1
        return idx

    # -- capture and replay of a whole step --------------------------------------
    @property
    def capturing(self):
        return self._capture is not None

    def begin_capture(self):
        self.synchronize()
        self._capture = Capture()

    def on_replay(self, hook):
        """Register ``hook()`` to run before each replay of the step being captured."""
        if self._capture is not None:
            self._capture.hooks.append(hook)

    def end_capture(self):
        cap, self._capture = self._capture, None
        self._prog.host_read_barrier()
        cap.prog, cap.keep = self._prog, self._keep
        cap.slot = _REPLAY_SLOTS[self._recorded % len(_REPLAY_SLOTS)]
        self._recorded += 1
        self._captures.add(cap)
        self._progs[self._pi] = _vkext.Program()  # the recording now belongs to the capture
        self._begin_program(self._pi)
        return cap

    def abort_capture(self):
        self._capture = None
        self._begin_program(self._pi)  # drop the partial recording

    def replay(self, cap, advance=True, inputs=()):
        """Submit a captured step again, not waited for (like an eager step): after
        ``advance`` (hooks, new push constants: a submission copies them, so this
        overlaps the previous replay), wait for the previous replay, write
        ``inputs`` ((block handle, array) pairs: the step's input slots) and submit.
        Host reads wait for it like for any submission."""
        if cap.released or self.mgr is None:
            raise BackendError("vulkan: this captured step was released (the device was closed); "
                               "capture it again")
        if self._capture is not None:
            raise CaptureError("vulkan: a captured step was replayed inside another capture")
        inputs = [(h, np.asarray(a)) for h, a in inputs]
        for h, a in inputs:
            if a.size != h.size:
                raise ValueError(f"replay: {a.size} input values for a block of {h.size}")
        if advance:
            for hook in cap.hooks:
                hook()
            for idx, build in cap.dynamic:
                cap.prog.set_push(idx, build())
        self.flush()  # eager work recorded before this call goes first
        self._submitter.wait(cap.slot)  # this recording's last replay read the blocks written next
        self._replaying.pop(cap.slot, None)
        for h, a in inputs:
            self._host_write(h, a)
        self._submitter.submit(cap.prog, cap.slot)
        self._replaying[cap.slot] = cap
        cap.replays += 1
        self.counters["submissions"] += 1
        self.counters["replays"] += 1

    def _host_write(self, h, a):
        """Pack ``a`` (f16 as halves, two per word) into h's words of the mapped arena."""
        flat = np.ascontiguousarray(a.astype(_NP[h.dtype], copy=False)).reshape(-1)
        if h.dtype == "f16" and flat.size % 2:
            flat = np.concatenate([flat, np.zeros(1, np.float16)])
        words = flat.view(np.uint32)
        self.arenas[h.block.arena].view[h.off:h.off + words.size] = words
        self.counters["uploads"] += 1
        self.counters["upload_bytes"] += words.size * 4
        return words.size

    def end_step(self):
        """The end of a training step: submitted, not waited for (a captured step is
        submitted by its replay)."""
        if self._capture is None:
            self._step_live = self.counters["live_bytes"]
        self.flush()

    def synchronize(self):
        """Submit what is recorded and wait for every submission (before host reads)."""
        if self._capture is not None:
            raise CaptureError(
                "vulkan: a value was read on the host (.item(), .numpy(), a NaN check or a loss "
                "scaler) inside a captured step; move the read outside the captured function")
        self.flush()
        self._submitter.wait_all()  # with the GIL released
        self._inflight = [[], []]
        self._replaying = {}
        self._settled_live = self.counters["live_bytes"]

    def timed_synchronize(self):
        """``synchronize()``, timing what was recorded with device timestamps written
        before and after its one submission: the device's seconds for it, or None
        (nothing recorded, or a queue without timestamps)."""
        if self._capture is not None or len(self._prog) == 0 or not self._submitter.set_timing(True):
            self.synchronize()
            return None
        slot = self._pi
        try:
            self.synchronize()
        finally:
            self._submitter.set_timing(False)
        t = self._submitter.elapsed(slot)
        return t if t >= 0 else None

    # -- data movement ---------------------------------------------------------
    def from_numpy(self, a, dtype):
        a = np.asarray(a)
        h = self._alloc(a.shape, dtype)
        nw = self._host_write(h, a)
        if self.arena_kind == "device" and nw:  # staging -> device copy of this block, in order
            self._track(set(), {h.block})
            self._prog.copy(self.arenas[h.block.arena].holder, h.off * 4, h.off * 4, nw * 4, True, False)
            self._keep.append(h.block)
        return h

    def to_numpy(self, h):
        nw = _words(h.size, h.dtype)
        if self.arena_kind == "device" and nw:  # device -> staging copy of this block, then wait
            self._track({h.block}, set())
            self._prog.copy(self.arenas[h.block.arena].holder, h.off * 4, h.off * 4, nw * 4, False, True)
            self._keep.append(h.block)
        self.synchronize()
        raw = self.arenas[h.block.arena].view[h.off:h.off + nw]
        self.counters["downloads"] += 1
        self.counters["download_bytes"] += nw * 4
        return raw.view(_NP[h.dtype])[:h.size].copy().reshape(h.shape)

    def full(self, shape, value, dtype):
        if dtype == "i32":  # (the fill shaders write floats: an i32 constant is a cast f32 one)
            return self.cast(self.full(shape, value, "f32"), "i32")
        h = self._alloc(shape, dtype)
        n = h.size
        self._unary_dispatch("fill", h, h, 0.0, float(value), n)
        return h

    def dtype_of(self, h):
        return h.dtype

    def shares_storage(self, a, b):
        return a.block is b.block

    def data_ptr(self, h):
        # (no host address: the arena's index and the element's byte offset in it)
        return (h.block.arena + 1) << 40 | h.off * 4

    def reshape(self, h, shape):
        return _reshaped(h, tuple(shape))

    @staticmethod
    def _view(h, start, stop):
        """A view of h[start:stop] along its first axis (no copy): h's block from the
        first row's byte (the caller keeps that offset aligned for descriptors)."""
        row = math.prod(h.shape[1:]) * (2 if h.dtype == "f16" else 4)
        v = VkArray((stop - start,) + tuple(h.shape[1:]), h.dtype, h.block)
        v.range = (h.range[0] + start * row, v.range[1])
        return v

    def _item(self, h, i):
        """A view of h[i] (no copy; the caller keeps the offset aligned)."""
        return _reshaped(self._view(h, i, i + 1), tuple(h.shape[1:]))

    def _copy_strided(self, x, out_shape, strides, out=None, base=0, op="copy"):
        dims, sx = _merge_dims([int(d) for d in out_shape], [int(s) for s in strides])
        if len(dims) > _MAX_DIMS:  # (size-1 and contiguously walked axes merged first)
            raise BackendError(f"vulkan {op}: a {len(out_shape)}-d result {list(out_shape)} whose strides "
                               f"leave {len(dims)} axes; at most {_MAX_DIMS} are supported")
        y = out if out is not None else self._alloc(out_shape, x.dtype)
        n, ndim = y.size, len(dims)
        shader, tag, spec, groups = self._walk_kernel("copy", n, x, ndim)
        e = _epq(x.dtype)
        if spec and self._quad_walk(sx[-1] == 1, [dims[-1], base] + sx[:-1], x):
            # whole quads (copy.comp QUADS 1): dims, strides and offsets in quads
            dims, sx, base, n = dims[:-1] + [dims[-1] // e], [s // e for s in sx[:-1]] + [1], base // e, n // e
            spec, groups = (ndim, 1), self._walk_groups(shader, n)
        elif spec and sx[-1] == 0 and dims[-1] % e == 0:
            # each element repeated over whole quads of y (QUADS 2): y's last axis in quads
            dims, n = dims[:-1] + [dims[-1] // e], n // e
            spec, groups = (ndim, 2), self._walk_groups(shader, n)
        pad = _MAX_DIMS - ndim
        self._dispatch(shader, tag, spec, groups, [n, int(base)] + [1] * pad + dims + [0] * pad + sx, [x, y])
        return y

    @staticmethod
    def _quad_walk(inner_contig, elems, *views):
        """Whether a strided walk (the texel twins of copy.comp, unslice.comp) can
        move whole 16-byte quads: its innermost axis contiguous (``inner_contig``),
        ``elems`` (its length, offsets and strides in elements) whole quads, and the
        views it reads (None: absent) quad-aligned."""
        e = _epq(views[0].dtype)
        return (inner_contig and all(int(v) % e == 0 for v in elems)
                and all(v.range[0] % 16 == 0 for v in views if v is not None))

    def cat(self, pieces, axis):
        """On CPU devices, pieces whose rows along ``axis`` (and after it) are whole
        16-byte quads at quad offsets: each piece's quads written into its region of
        the result (copy.comp QUADS 3: one pass over the result in all; the base
        class's unslice / put_slice rewrite it all for every piece)."""
        shape = list(pieces[0].shape)
        shape[axis] = sum(int(h.shape[axis]) for h in pieces)
        dtype, e = pieces[0].dtype, _epq(pieces[0].dtype)
        outer = int(np.prod(shape[:axis]))
        widths = [int(np.prod(h.shape[axis:])) for h in pieces]  # each piece's run in a row of the result
        W, offs = sum(widths), np.cumsum([0] + widths[:-1])
        if not (self._twins and all(self._tx("copy", _words(h.size, dtype)) == "copy_tx" for h in pieces)
                and self._quad_walk(True, widths, *pieces)):
            return super().cat(pieces, axis)
        y = self._alloc(tuple(shape), dtype)
        for h, w, off in zip(pieces, widths, offs):
            if not h.size:
                continue
            dims, sy = ([outer, w // e], [W // e, 1]) if outer > 1 else ([w // e], [1])
            pad = _MAX_DIMS - len(dims)
            n = h.size // e
            self._dispatch("copy_tx", _bits_tag(dtype), (len(dims), 3), max(1, self._quad_groups("copy_tx", n)),
                           [n, int(off) // e] + [1] * pad + dims + [0] * pad + sy, [h, y])
        return y

    def slice(self, h, starts, steps, lens):
        st = _contig_strides(h.shape)
        return self._copy_strided(h, list(lens), [s * k for s, k in zip(st, steps)], op="indexing",
                                  base=sum(a * s for a, s in zip(starts, st)))

    def unslice(self, g, shape, starts, steps):
        return self._unslice(g, tuple(shape), starts, steps, None)

    def gather_rows(self, w, idx):
        self._check_float("gather_rows", w)
        if idx.dtype != "i32" or len(idx.shape) != 1 or len(w.shape) != 2:
            raise BackendError(f"vulkan gather_rows: expected int32 indices [B] and rows [V, D], got "
                               f"{idx.dtype} {list(idx.shape)} and {list(w.shape)}")
        (V, D), B = w.shape, idx.shape[0]
        y = self._alloc((B, D), w.dtype)
        e = _epq(w.dtype)
        if y.size and D % e == 0 and self._tx("gather_rows", max(w.size // e, B)) != "gather_rows":
            # rows of whole quads, a quad a gather (the texel twin)
            shader, groups = self._quad_kernel("gather_rows", y.size, w.dtype)
            self._dispatch(shader, w.dtype, (), groups, [y.size, D, V], [w, idx, y])
        elif y.size:
            self._dispatch("gather_rows", w.dtype, (), self._groups(y.size, w.dtype), [y.size, D, V], [w, idx, y])
        return y

    def index_add_rows(self, g, idx, V):
        """The one-hot product (base class) for small [B, V] (on GPUs, unmeasured,
        until the one-hot matrix would take _ONEHOT_MAX elements); beyond,
        index_add.comp: an invocation per row scanning the indices, in spans of
        positions short enough for lavapipe's loop limit (each span a dispatch adding
        to the f32 rows, in order), four indices a load where B is a multiple of 4.
        lavapipe, one-hot / scan ms, V x B x D: 200 x 4096 x 16 6.8 / 5.6, 1000 x 16000
        x 8 163 / 49, x 64 237 / 74, 5000 x 4096 x 64 304 / 63, 10000 x 16000 x 64 (640
        MB of one-hot rows, past its 128 MiB range) - / 438; an index a load: 200 x
        4096 x 16 7.2 / 12.5, 1000 x 16000 x 64 370 / 201 -- so on CPU devices the
        scan but for small [B, V] with B not a multiple of 4."""
        self._check_float("index_add_rows", g)
        B, D = self._index_add_shapes(g, idx)
        groups = min(-(-V // 64), _MAX_GROUPS)  # (a row an invocation while V allows)
        rows = -(-V // (64 * groups))  # rows an invocation walks
        turns = rows * (2 + -(-D // 4) + D % 4)  # loop turns an invocation spends on one position
        if ((B * V <= _ONEHOT_MAX_CPU and B % 4) if self._small_grid else B * V <= _ONEHOT_MAX) or (
                self._loop_cap and turns > self._loop_cap):  # (rows too long for one position's turns)
            return Backend.index_add_rows(self, g, idx, V)
        y = self.full((V, D), 0.0, "f32")
        if y.size and B:
            span = B if not self._loop_cap else max(1, self._loop_cap // turns)
            # indices four at a time where spans can be whole quads of them (a span of four
            # positions past lavapipe's loop limit left rows short: [4, 69120] rows)
            q4 = int(B % 4 == 0 and span >= 4)
            span = span if not q4 else span - span % 4
            shader = self._tx("index_add", max(_words(g.size, g.dtype), B))
            for p0 in range(0, B, span):
                self._dispatch(shader, g.dtype, (q4,), groups, [V, D, p0, min(B, p0 + span)], [g, idx, y],
                               small_grid=False)
        return self._as(y, g.dtype)

    def sort_rows(self, x, descending=False):
        """A bitonic sort in place of keys (made from an f32 copy of the rows, padded
        to a power of 2 of at least 16) and their positions: sort_stage.comp, up to
        four stages a dispatch on blocks of 16 in registers (the first also makes
        the keys); the values then gathered from x at the positions (bits copied).
        lavapipe: topk of [256, 1000] rows 519 ms with a dispatch per stage comparing
        floats, 128 ms so (the CPU backend 31); 2^20 values 6.4 -> 1.5 s.  GPUs: rows
        of up to 2048 by sort_rows_sm.comp in shared memory instead (unmeasured; the
        passes ran [2048, 1000] at 1% of an H200's copy rate)."""
        self._check_float("sort", x)
        R, n = x.shape
        N = 1 << max(4, (n - 1).bit_length())
        keys = x if x.dtype == "f32" else self.cast(x, "f32")
        if not self._small_grid and N <= 2048 and R and n > 1:
            # GPUs: each row's whole sort in shared memory (sort_rows_sm.comp, a workgroup a row:
            # one dispatch, where the passes below ran rows of 1000 at 1% of an H200's copy rate)
            pos = self._alloc((R, n), "i32")
            self._dispatch("sort_rows_sm", "f32", (), min(R, _MAX_GROUPS), [R, N, n, int(bool(descending))],
                           [keys, pos])
            return self.gather_cols(x, pos), pos
        if N != n:  # (sorted in place: a copy of x, padded -- the padding's own copy -- or not)
            keys = self.unslice(keys, (R, N), [0, 0], [1, 1])
        elif keys is x:
            keys = self._same(x, x.shape)
        pos = self._same(self.host_constant(("sort_pos", R, N), lambda: np.tile(np.arange(N, dtype=np.int32), (R, 1)),
                                            "i32"), (R, N))
        if R and n > 1:
            units = R * N // 16

            def blocks(k, kmax, jmin, jmax, s):  # stages k .. kmax, j in [jmin, jmax], blocks of 16 s apart
                self._dispatch("sort_stage", "f32", (), self._groups(units, "f32"),
                               [units, N, n, k, kmax, jmax, int(bool(descending)), s.bit_length() - 1, jmin],
                               [keys, pos], small_grid=False)
            blocks(2, 16, 1, 8, 1)
            k = 32
            while k <= N:
                j = k // 2
                while j >= 16:  # up to four stages a pass: j .. j / 8, a block spanning no more than a row
                    s = min(max(16, j // 8), N // 16)
                    blocks(k, k, max(16, j // 8), j, s)
                    j = max(16, j // 8) // 2
                blocks(k, k, 1, 8, 1)
                k *= 2
        if N != n:
            pos = self.slice(pos, [0, 0], [1, 1], [R, n])
        return (self.gather_cols(x, pos) if n > 1 else self._same(x, x.shape)), pos

    def im2col(self, x, win, pad_value=0.0):
        """GPUs (window_walk "batch"): im2col.comp (the windows read in place, an
        invocation per place in an image's block walking the batch), where an image's
        block is whole units.  CPU devices ("runs"): a strided copy (copy.comp's walk)
        of the input, padded first where the windows reach outside it.  (lavapipe,
        paired: a shader reading the windows in place, the pad bits inline, carrying
        the digits along runs of quads, ran 0.55-0.95x as fast but for a single
        channel, 1.2x: not kept.)"""
        self._check_float("im2col", x)
        N, C, H, W = x.shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (OH, OW) = win
        grid = self._batch_grid(N, OH * OW * C * kh * kw, x.dtype)  # (an image's rows of the result)
        if grid:
            y = self._alloc((N * OH * OW, C * kh * kw), x.dtype)
            pad = np.array([pad_value], _NP[x.dtype]).view(np.uint16 if x.dtype == "f16" else np.uint32)[0]
            self._dispatch("im2col", x.dtype, (kh, kw, sh, sw, dh, dw), grid[0],
                           [N, C, H, W, ph, pw, OH, OW, int(pad), grid[1]], [x, y])
            return y
        Hp, Wp = win.extent((H, W))
        if (Hp, Wp) != (H, W):
            starts, ones = (0, 0, ph, pw), (1, 1, 1, 1)
            x = (self._unslice(x, (N, C, Hp, Wp), starts, ones, None) if pad_value == 0.0 else
                 self.put_slice(self.full((N, C, Hp, Wp), pad_value, x.dtype), x, starts, ones))
        y = self._copy_strided(x, (N, OH, OW, C, kh, kw), (C * Hp * Wp, sh * Wp, sw, Hp * Wp, dh * Wp, dw),
                               op="im2col")
        return self.reshape(y, (N * OH * OW, C * kh * kw))

    def _batch_grid(self, N, block, dtype, turns=1):
        """(workgroups, images per invocation) of a batch walk (batchwalk.glsl: im2col.comp,
        col2im.comp and window_max.comp BATCH) over N images' (a max pool: planes')
        blocks of ``block`` elements each, or None (window_walk "runs", nothing to
        do, an f16 block of an odd length -- its last word would hold two images'
        halves --, or an invocation's loops, ``turns`` a unit, past lavapipe's limit
        where the walk is forced there).  An invocation walks the whole batch while
        one image's block fills _BATCH_LANES invocations, else chunks of it that make
        up about that many."""
        units = block // (2 if dtype == "f16" else 1)
        if self.window_walk != "batch" or not N * block or (dtype == "f16" and block % 2):
            return None
        groups = -(-units // 256)
        chunk = -(-N // min(N, -(-_BATCH_LANES // (groups * 256))))
        grid = groups * -(-N // chunk)
        if self._loop_cap and -(-grid // _MAX_GROUPS) * chunk * (turns + 1) > self._loop_cap:
            return None
        return grid, chunk

    def col2im(self, cols, shape, win):
        """col2im.comp: each element gathers the taps that reach it (no atomics)."""
        self._check_float("col2im", cols)
        return self._col2im(cols, self._dummy, shape, win, 0)

    def window_scatter(self, g, idx, shape, win):
        """col2im.comp's SCATTER mode: a tap adds its window's g where idx names it
        (no one-hot rows)."""
        self._check_float("window_scatter", g)
        if idx.dtype != "i32" or idx.size != g.size:
            raise BackendError(f"vulkan window_scatter: expected int32 taps of g's {g.size} elements, got "
                               f"{idx.dtype} {list(idx.shape)}")
        (kh, kw), (OH, OW) = win.kernel, win.out
        N, C, H, W = shape
        n = N * C * H * W
        if win.tiles((H, W)) and n % _epq(g.dtype) == 0 and n:
            # windows tiling the input: a tap per element, a gather (unpool.comp; lavapipe [64, 16, 28, 28]
            # from 2 x 2 windows: 3.5 ms, 10.7 by col2im's walk over the taps)
            y = self._alloc(tuple(shape), g.dtype)
            nq = n // _epq(g.dtype)
            run = 16 if self._small_grid else 1  # quads an invocation walks (the index divided once a run)
            shader = self._tx("unpool", max(_words(g.size, g.dtype), idx.size))
            least = self._loop_groups(-(-nq // run), 64, run + 2)
            self._dispatch(shader, g.dtype, (run, kh, kw), max(-(-nq // (64 * run)), least),
                           [n, H, W, OH, OW], [g, idx, y], least=least)
            return y
        return self._col2im(g, idx, shape, win, 1)

    def window_max(self, x, win):
        """window_max.comp: the windows read in place, (y, idx) written in x's layout."""
        self._check_float("window_max", x)
        N, C, H, W = x.shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (OH, OW) = win
        if kh * kw > _UNROLLED_TAPS:  # (a global max pool: the windows' rows reduced, argmax_rows)
            return Backend.window_max(self, x, win)
        y, idx = self._alloc((N, C, OH, OW), x.dtype), self._alloc((N, C, OH, OW), "i32")
        grid = self._batch_grid(N * C, OH * OW, x.dtype)  # (GPUs: the planes walked)
        if grid:
            self._dispatch("window_max", x.dtype, (1, kh, kw, sh, sw, dh, dw, 1), grid[0],
                           [y.size, H, W, ph, pw, OH, OW, N * C, grid[1]], [x, y, idx])
        elif y.size:
            run, groups, least = self._runs(y.size, x.dtype)
            self._dispatch(self._tx("window_max", _words(x.size, x.dtype)), x.dtype, (run, kh, kw, sh, sw, dh, dw),
                           groups, [y.size, H, W, ph, pw, OH, OW, 0, 0], [x, y, idx], least=least)
        return y, idx

    def _runs(self, n, dtype, turns=1):
        """(units an invocation walks, workgroups of 256, the fewest workgroups) for n
        elements' units in runs (col2im.comp, window_max.comp): CPU devices 64 units
        a run, the index divided out once a run, not per element (lavapipe divides
        lane by lane: col2im 2.2x slower), fewer where a unit takes ``turns`` loop
        turns (col2im's looped taps), and a grid that keeps each invocation under
        lavapipe's loop limit; GPUs a unit each."""
        run = 64 if self._small_grid else 1
        if self._loop_cap:
            run = max(1, min(run, self._loop_cap // (4 * turns)))
        units = (n + 1) // 2 if dtype == "f16" else n
        runs = -(-units // run)
        least = self._loop_groups(runs, 256, run * turns + 2)
        return run, max(1, -(-runs // 256), least), least

    def _col2im(self, x, idx, shape, win, scatter):
        """col2im.comp in either mode over y of ``shape``."""
        N, C, H, W = shape
        y = self._alloc(tuple(shape), x.dtype)
        if y.size:
            (kh, kw), (sh, sw), (ph, pw), (dh, dw), (OH, OW) = win
            turns = 1  # windows of more taps than unrolled: loops over those reaching an element
            if kh * kw > _UNROLLED_TAPS:
                ti, tj = (-(-k // s) if d == 1 else k for k, s, d in ((kh, sh, dh), (kw, sw, dw)))
                turns = (ti * (tj + 1) + 1) * (2 if x.dtype == "f16" else 1)
            grid = self._batch_grid(N, C * H * W, x.dtype, turns)
            if grid:
                self._dispatch("col2im", x.dtype, (1, scatter, kh, kw, sh, sw, dh, dw, 1), grid[0],
                               [y.size, N, C, H, W, ph, pw, OH, OW, grid[1]], [x, idx, y])
                return y
            run, groups, least = self._runs(y.size, x.dtype, turns)
            shader = self._tx("col2im", max(_words(x.size, x.dtype), idx.size))
            self._dispatch(shader, x.dtype, (run, scatter, kh, kw, sh, sw, dh, dw), groups,
                           [y.size, N, C, H, W, ph, pw, OH, OW, 0], [x, idx, y], least=least)
        return y

    def argmax_rows(self, h):
        """argmax.comp: an invocation per row, or per part of _ARGMAX_PART elements of
        longer rows, whose (index, maximum) candidates a second pass (more while
        rows of them are long) picks from."""
        self._check_float("argmax", h)
        R, C = h.shape
        if not R:
            return self._alloc((0,), "i32")
        x, tag, in_pairs = h, h.dtype, 0
        while True:
            L = min(C, _ARGMAX_PART)
            parts = -(-C // L)
            y = self._alloc((R * parts * (2 if parts > 1 else 1),), "i32")
            # (a grid stride: CPU devices' capped grid ran [200704, 4] in 0.72x the time, as
            # long as an invocation's walk stays under lavapipe's loop limit: a small grid
            # of two workgroups over [4096, 4096] stopped short)
            least = self._loop_groups(R * parts, 64, L + 1)
            groups = max(self._groups(R * parts, "i32", per=64), least)
            self._dispatch("argmax", tag, (in_pairs, int(parts > 1)), groups, [R, C, L], [x, y], least=least)
            if parts == 1:
                return self.reshape(y, (R,))
            x, tag, in_pairs, C = y, "f32", 1, parts  # the candidates: pairs of words, read raw

    def select(self, c, a, b):
        if not (c.shape == a.shape == b.shape and c.dtype == a.dtype == b.dtype):
            raise BackendError(f"vulkan select: operands must share shape and dtype, got {list(c.shape)} "
                               f"{c.dtype}, {list(a.shape)} {a.dtype}, {list(b.shape)} {b.dtype}")
        self._check_float("select", a)
        y = self._alloc(a.shape, a.dtype)
        if a.size:
            shader, groups = self._quad_kernel("select4", a.size, a.dtype)
            self._dispatch(shader, a.dtype, (), groups, [a.size], [c, a, b, y])
        return y

    def put_slice(self, base, g, starts, steps):
        if base.dtype != g.dtype:
            raise BackendError(f"vulkan put_slice: the slice is {g.dtype}, the tensor {base.dtype}")
        return self._unslice(g, base.shape, starts, steps, base)

    def _unslice(self, g, shape, starts, steps, base):
        """unslice.comp: y of ``shape`` holding g on the slice's lattice and zeros (or,
        given ``base``, base's elements: BASE = 1) elsewhere."""
        if g.size == 0:  # (an empty slice: no dispatch binds an empty g -- y would keep a reused block's bits)
            return self.full(tuple(shape), 0.0, g.dtype) if base is None else self.cast(base, base.dtype)
        y = self._alloc(tuple(shape), g.dtype)
        shape_, starts_, steps_, lens_ = _merge_lattice(list(shape), list(starts), list(steps), list(g.shape))
        if len(shape_) > _MAX_DIMS:
            op = "indexing (gradient)" if base is None else "cat"
            raise BackendError(f"vulkan {op}: a {len(shape)}-d tensor whose slice leaves {len(shape_)} axes; "
                               f"at most {_MAX_DIMS} are supported")
        n, ndim = y.size, len(shape_)
        # (the texel twin only where every view it reads fits the device's texel limit)
        shader, tag, spec, groups = self._walk_kernel("unslice", n, g if base is None else base, ndim)
        quads = bool(spec) and ndim > 0 and self._quad_walk(
            steps_[-1] == 1, [shape_[-1], starts_[-1], lens_[-1]], g, base)
        if quads:  # whole quads (unslice.comp QUADS): y's last axis and the slice's on it in quads
            e = _epq(g.dtype)
            shape_[-1], starts_[-1], lens_[-1], steps_[-1], n = shape_[-1] // e, starts_[-1] // e, lens_[-1] // e, 1, n // e
            groups = max(1, self._quad_groups(shader, n))
        if shader.endswith("_tx"):  # (NDIM, BASE, QUADS, STEPS1: unit steps, no division or lattice test)
            spec = (ndim, int(base is not None), int(quads), int(all(st == 1 for st in steps_)))
        elif base is not None:  # (constant 0, the texel twin's NDIM, is absent from this variant)
            spec = (0, 1)
        pad = _MAX_DIMS - ndim
        self._dispatch(shader, tag, spec, groups, [n] + [1] * pad + shape_ + [0] * pad + starts_ + [1] * pad
                       + steps_ + [1] * pad + lens_, [g, y, self._dummy if base is None else base])
        return y

    def permute(self, h, axes):
        st = _contig_strides(h.shape)
        shape, strides = [h.shape[a] for a in axes], [st[a] for a in axes]
        dims, sx = _merge_dims(shape, strides)
        e, sg = _epq(h.dtype), self.limits.get("subgroup_size", 0)
        if (h.size and len(dims) in (2, 3) and sx[-2:] == [1, dims[-2]]  # (empty: the walk, below)
                and (len(dims) == 2 or sx[0] == dims[1] * dims[2]) and dims[-1] % e == 0 and dims[-2] % e == 0
                and (self.transpose_kernel == "tiles" or 4 <= sg <= 64 and 64 % sg == 0)):
            # a transpose of x's last two (merged) axes, [B, R, C] -> [B, C, R], in
            # whole quads: by tiles in shared memory (transpose_sm.comp) or blocks
            # (transpose4.comp)
            C, R = dims[-2:]
            B = h.size // (R * C)
            y = self._alloc(tuple(shape), h.dtype)
            if self.transpose_kernel == "tiles":  # a workgroup per tile of 32 x 32 (f16: 64 rows of x)
                tr = 64 if h.dtype == "f16" else 32
                self._dispatch("transpose_sm", _bits_tag(h.dtype), (), min(B * -(-R // tr) * -(-C // 32), _MAX_GROUPS),
                               [B, R, C], [h, y])
            else:
                items = B * -(-R // _T4_ROWS) * -(-(C // e) // sg)  # tiles of 128 rows x sg block columns
                self._dispatch(self._tx("transpose4", h.size // e), _bits_tag(h.dtype), (),
                               min(-(-items // (64 // sg)), _MAX_GROUPS), [B, R, C], [h, y])
            return y
        return self._copy_strided(h, shape, strides, op="transpose")

    def broadcast_to(self, h, shape):
        shape = tuple(shape)
        return self._copy_strided(h, shape, _bcast_strides(h.shape, shape), op="broadcast")

    def copy_(self, dst, src):
        if src.dtype != dst.dtype:  # e.g. an f32 master weight into its f16 parameter: one pass
            self.cast(src, dst.dtype, out=_reshaped(dst, src.shape))
            return dst
        self._copy_contig(src, _reshaped(dst, (src.size,)))
        return dst

    def copy_many_(self, pairs):
        """f32 -> f16 copies eight per dispatch (cast_multi.comp); the rest one by one."""
        if self.limits.get("max_per_stage_storage_buffers", 16) < 16:
            return super().copy_many_(pairs)
        casts = []
        for dst, src in pairs:
            if src.dtype == "f32" and dst.dtype == "f16" and src.size == dst.size:
                casts.append((src, dst))
            else:
                self.copy_(dst, src)
        for s in range(0, len(casts), 8):
            chunk = casts[s:s + 8]
            ns = [src.size for src, _ in chunk] + [0] * (8 - len(chunk))
            ops = [h for pair in chunk for h in pair] + [self._dummy] * (2 * (8 - len(chunk)))
            self._dispatch("cast_multi", "f32_f16", (), self._groups(max(ns), "f16"), ns, ops)

    def cast(self, h, dtype, out=None):
        if dtype == h.dtype:
            return self._same(h, h.shape) if out is None else self.copy_(out, h)
        if h.dtype not in ("f32", "f16", "i32") or dtype not in ("f32", "f16", "i32"):
            raise BackendError(f"vulkan: cast from {h.dtype} to {dtype} is not supported "
                               "(f32, f16 and i32 are)")
        y = out if out is not None else self._alloc(h.shape, dtype)
        n = h.size
        shader, groups = self._quad_kernel("cast", n, h.dtype, quads=n // 8)  # eight elements a step
        self._dispatch(shader, f"{h.dtype}_{dtype}", (), groups, [n], [h, y])
        return y

    # -- helpers ---------------------------------------------------------------
    def _groups(self, n, dtype, per=256):
        """Workgroups of ``per`` invocations for a grid-stride loop over n elements'
        units (FOR_UNITS; two halves a unit); on CPU devices at most ``_quad_cap``
        (lavapipe, paired: one-hot rows of [200704, 4] 0.56x the time, gathered rows
        0.89x; a workgroup's start costs more there than the loop's extra turns)."""
        units = (n + 1) // 2 if dtype == "f16" else n
        groups = (units + per - 1) // per
        return min(groups, self._quad_cap) if self._small_grid else groups

    def _loop_groups(self, units, per, turns):
        """The fewest workgroups of ``per`` walkers over ``units`` units of ``turns``
        loop turns each that keep every walker under lavapipe's loop limit
        (_LOOP_CAP); 1 on devices without one."""
        if not self._loop_cap:
            return 1
        return -(-units // (per * max(1, self._loop_cap // turns)))

    def _check_float(self, op, *hs):
        for h in hs:
            if h.dtype not in ("f32", "f16"):
                raise BackendError(f"vulkan {op}: dtype {h.dtype} is not supported (f32, f16)")

    # -- elementwise -------------------------------------------------------------
    @staticmethod
    def _quads(n, dtype):
        """Quads of 16 bytes when n fills whole ones, else 0 (no fast path)."""
        per = _epq(dtype)
        return n // per if n % per == 0 else 0

    @property
    def _twins(self):
        """Whether the texel-read twins run here: a CPU device whose arenas back texel views."""
        return self._texel_reads and self._texel

    def _tx(self, shader, texels):
        """``shader`` or its twin reading its inputs as texel buffers ("_tx"), which
        CPU devices take where the arena backs texel views and an input has at
        most the device's limit of texels."""
        return shader + "_tx" if self._twins and texels <= self._max_texels else shader

    def _quad_kernel(self, shader, n, dtype, quads=None):
        """(``shader`` or its texel twin, workgroups) for a FOR_QUADS loop over n
        elements of dtype in 16-byte quads, a tail of fewer by one invocation
        (``quads``: the loop's count, when its step is not one quad of dtype)."""
        quads = n // _epq(dtype) if quads is None else quads
        shader = self._tx(shader, -(-_words(n, dtype) // 4))
        return shader, self._quad_groups(shader, max(quads, 1))

    def _walk_kernel(self, shader, n, x, ndim):
        """(shader, dtype, spec, workgroups) of a strided walk (copy.comp, unslice.comp)
        writing n elements from x: CPU devices take its texel twin, which walks the
        output by quads with the index's digits (digits.glsl) over the ndim real
        dimensions only (spec constant), then the words of a size not in whole quads
        (lavapipe: broadcasts to [4095, 1001] 10-20x a negation's time by the
        storage-buffer kernel, that divides out each element's index)."""
        tx = self._tx(shader, _words(x.size, x.dtype)) if n else shader
        tag = _bits_tag(x.dtype)
        if tx != shader:
            return tx, tag, (ndim,), max(1, self._quad_groups(tx, n // _epq(x.dtype)))
        if shader == "copy":  # GPUs: the same walks over storage buffers
            return shader, tag, (ndim,), self._walk_groups(shader, n // _epq(x.dtype))
        return shader, tag, (), self._groups(n, x.dtype)

    def _walk_groups(self, shader, quads):
        """Workgroups for a digits walk over ``quads`` quads: a texel twin's (64 lanes,
        _quad_groups), or copy.comp's over storage buffers on GPUs (256 lanes, at most
        1024 workgroups: a lane's first quad divided into digits, a few more carried)."""
        if shader.endswith("_tx"):
            return max(1, self._quad_groups(shader, quads))
        return max(1, min(-(-quads // 256), 1024))

    def _quad_groups(self, shader, quads):
        """Workgroups (of 64) for a FOR_QUADS loop over ``quads`` (vec4.glsl).  The
        texel twins CPU devices take give each subgroup one contiguous run, and a
        core streams fewer, longer runs faster: at most ``_quad_cap`` workgroups
        (lavapipe, 2 cores, paired: copy, add, exp 0.73-0.75x the time of 4096
        workgroups, Adam 0.53x; 65 to 512 within noise of each other)."""
        groups = (quads + 63) // 64
        return min(groups, self._quad_cap) if shader.endswith("_tx") else groups

    def _unary_dispatch(self, op, x, y, alpha, beta, n):
        """unary4.comp: whole 16-byte quads, and a tail of fewer than a quad's
        elements by one invocation, word by word."""
        shader, groups = self._quad_kernel("unary4", n, y.dtype)
        self._dispatch(shader, y.dtype, (check_op("vulkan unary", op, UNARY_OPS),), groups,
                       [n, _f2u(alpha), _f2u(beta)], [x, y])

    def unary(self, op, x, alpha=0.0, beta=0.0, out=None):
        self._check_float(op, x)
        y = out if out is not None else self._alloc(x.shape, x.dtype)
        self._unary_dispatch(op, x, y, alpha, beta, x.size)
        return y

    def binary(self, op, a, b, alpha=0.0, beta=0.0, out=None):
        opi = check_op("vulkan binary", op, BINARY_OPS)
        self._check_float(op, a, b)
        if a.dtype != b.dtype:
            raise BackendError(f"vulkan {op}: operands have dtypes {a.dtype} and {b.dtype}")
        shape = a.shape if a.shape == b.shape else tuple(np.broadcast_shapes(a.shape, b.shape))
        if len(shape) > _MAX_DIMS:  # the strided paths index six axes, merged ones counted once
            left = len(_merge_dims(list(shape), _bcast_strides(a.shape, shape), _bcast_strides(b.shape, shape))[0])
            if left > _MAX_DIMS:
                raise BackendError(f"vulkan {op}: {len(shape)}-d operands {list(a.shape)} and {list(b.shape)} "
                                   f"leave {left} axes after merging; at most {_MAX_DIMS} are supported")
        y = out if out is not None else self._alloc(shape, a.dtype)
        n = y.size

        def repeats(small):  # small's elements repeat along shape's leading axes
            core = tuple(small)
            while core and core[0] == 1:
                core = core[1:]
            return len(core) <= len(shape) and tuple(shape[len(shape) - len(core):]) == core

        # 16-byte quads: same shapes, or one operand repeating in whole quads
        def rep(x):
            if x.shape == shape:
                return 0
            qx = self._quads(x.size, x.dtype)
            return qx if qx and repeats(x.shape) else -1
        rep_a, rep_b = rep(a), rep(b)

        def expands(x):  # quads of y per element of x, when x is constant along y's
            # trailing axes (a column [rows, 1], a scalar) in whole quads; else 0
            xs = (1,) * (len(shape) - len(x.shape)) + tuple(x.shape)
            t = max((i for i, d in enumerate(xs) if d != 1), default=-1)
            per, span = _epq(x.dtype), math.prod(shape[t + 1:])
            return span // per if xs[:t + 1] == shape[:t + 1] and span % per == 0 else 0

        # (a size not a whole number of quads: same shapes, binary4 does its tail word by word)
        rep = int(rep_a > 0) + 2 * int(rep_b > 0) if rep_a >= 0 and rep_b >= 0 else -1
        if rep < 0 and a.shape == shape:
            rep_b = expands(b)
            rep = 5 if rep_b else -1
        if rep < 0 and b.shape == shape:
            rep_a = expands(a)
            rep = 4 if rep_a else -1
        if n and rep >= 0:
            shader, groups = self._quad_kernel("binary4", n, a.dtype)
            self._dispatch(shader, a.dtype, (opi, rep), groups,
                           [n, _f2u(alpha), _f2u(beta), rep_a, rep_b], [a, b, y])
            return y
        if n and self._twins:
            # other broadcasts on CPU devices: the operands materialised by the strided
            # copy's texel twin, then binary4, for any size (both do a tail of words):
            # lavapipe, [2, 1024, 1] * [2, 1, 512] about 5x a copy's time, [4095, 1001] + a
            # row 2.6-3.7x a negation's, a scalar times [1025, 257] 1.3-2.6x; by the
            # general shader (dividing out each element's index, or walking columns) 26-30x,
            # 18x and 3.4x (the last cut short at 65535 elements by lavapipe's loop limit)
            return self.binary(op, a if a.shape == shape else self.broadcast_to(a, shape),
                               b if b.shape == shape else self.broadcast_to(b, shape), alpha, beta, out=y)

        # f16 pairs must not straddle rows: an even repeating size there
        small = b.size if a.shape == shape else a.size
        even = a.dtype != "f16" or small % 2 == 0
        # the repeating modes walk an invocation per word of the repeating operand
        # down every row: only while the walk is no longer than the walkers are many
        # (a scalar times a large tensor was one invocation for all of it) and within
        # lavapipe's loop limit (beyond it the walk stopped, silently: _LOOP_CAP)
        rows, walkers = n // max(small, 1), small // (_epq(a.dtype) // 4)
        walk = even and rows <= max(64, walkers) and not (self._loop_cap and rows >= self._loop_cap)
        if n and walk and a.shape == shape and repeats(b.shape):
            mode, args = 2, [1] * _MAX_DIMS + [0] * _MAX_DIMS + [max(b.size, 1)] + [0] * (_MAX_DIMS - 1)
            groups = (max(b.size, 1) + 255) // 256
        elif n and walk and b.shape == shape and repeats(a.shape):
            mode, args = 3, [1] * _MAX_DIMS + [max(a.size, 1)] + [0] * (_MAX_DIMS - 1) + [0] * _MAX_DIMS
            groups = (max(a.size, 1) + 255) // 256
        else:
            dims, sa, sb = _merge_dims(list(shape), _bcast_strides(a.shape, shape), _bcast_strides(b.shape, shape))
            pad = _MAX_DIMS - len(dims)
            mode, args = 0, [1] * pad + dims + [0] * pad + sa + [0] * pad + sb
            groups = self._groups(n, a.dtype)
        self._dispatch("binary", a.dtype, (opi,), groups,
                       [n, _f2u(alpha), _f2u(beta), mode] + args, [a, b, y])
        return y

    # -- reductions ----------------------------------------------------------------
    def reduce(self, op, x, axes, keepdims, f32=False):
        """(``f32``: the result kept in f32 whatever x's dtype: a stage of a longer reduction)"""
        self._check_float("reduce", x)
        code = {"sum": 0, "max": 1, "sumsq": 2}[op]
        shape = list(x.shape)
        out_shape = [1 if i in axes else d for i, d in enumerate(shape)] if keepdims else \
            [d for i, d in enumerate(shape) if i not in axes]
        if not axes:
            return self._same(x, out_shape)
        runs, cur = [], [axes[0]]
        for a in axes[1:]:
            if a == cur[-1] + 1:
                cur.append(a)
            else:
                runs.append(cur)
                cur = [a]
        runs.append(cur)
        if len(runs) == 1:
            i, j = runs[0][0], runs[0][-1]
            outer, R, inner = math.prod(shape[:i]), math.prod(shape[i:j + 1]), math.prod(shape[j + 1:])
            e = _epq(x.dtype)
            if 1 < inner and inner % e and R > e and outer * R * inner >= 1 << 16 and (
                    R % e == 0 or outer == 1 and code != 1):
                # rows of a width not in whole quads: e consecutive rows make one of e * inner
                # elements, a whole number of quads -- reduce those (reduce4's column paths),
                # then the e partial rows (R > e: else those would come back here, forever);
                # no pad pass (lavapipe: sums over [4096, 1001] axis 0 13-14.5 -> 2.0 ms, over
                # [4096, 37] 1.15 -> 0.20 ms).  A row count not in whole quads (one output row,
                # sums): the first R0 rows so (a prefix of x's block), the last few summed
                # apart and added ([2047, 1021] 6.0 -> 1.5 ms, [4095, 1001] 12.4 -> 2.0 ms)
                R0 = R - R % e
                part = self.reduce(op, _reshaped(x, (outer, R0 // e, e * inner)), [1], False, True)
                y = self.reduce("max" if code == 1 else "sum", self.reshape(part, (outer, e, inner)), [1], False, True)
                if R0 < R:
                    tail = self.slice(self.reshape(x, (R, inner)), (R0, 0), (1, 1), (R - R0, inner))
                    y = self.binary("add", y, self.reshape(self.reduce(op, tail, [0], False, True), y.shape))
                return self._as(self.reshape(y, tuple(out_shape)), "f32" if f32 else x.dtype)
        h, tag, cur_shape = x, x.dtype, shape
        for run in reversed(runs):  # innermost first keeps earlier axis indices valid
            i, j = run[0], run[-1]
            outer, R, inner = math.prod(cur_shape[:i]), math.prod(cur_shape[i:j + 1]), math.prod(cur_shape[j + 1:])
            e = _epq(tag)
            if (len(runs) == 1 and self._twins and outer * R * inner >= 1 << 16
                    and not _serial(R, outer * inner)):
                # CPU devices: columns of one output row not in whole quads (and a row
                # count that is not a multiple of the quad, else see above) are padded
                # to whole quads first (zeros for sums, -inf for maxima), pad2d's fast
                # path, for reduce4, where the general shader would take a workgroup
                # per output (lavapipe, paired: [1023, 1021] over columns 1.9-2.4x faster)
                fill = -np.inf if code == 1 else 0.0
                if outer == 1 and inner > 1 and inner % e:
                    C4 = -(-inner // e) * e  # the result: the first `inner` of C4 results
                    h, inner = self._pad2d(h, R, inner, R, C4, inner, 1, fill), C4
            # rows (inner = 1) of any length: reduce4 reads a part's ends word by word.
            # GPUs take it for rows of 1024 and more whatever the size (a lane per output
            # looping over them waits on each load), and again over the parts while many
            rows_sg = lambda: self._rows_by_subgroup and inner == 1 and R >= 1024  # noqa: E731
            quads = (outer * R * inner >= 1 << 16 or rows_sg()) and (
                inner % e == 0 or (inner == 1 and (R % e == 0 or R >= 4 * e)))
            passes4 = 0
            while quads:
                # 16-byte loads (reduce4.comp): columns in whole quads, or rows; parts of
                # the rows in parallel (about _reduce_items items), then the parts (few) below
                e = _epq(tag)
                cols, sg = inner // e, self.limits.get("subgroup_size", 0)
                if inner == 1:  # rows
                    if self._rows_by_subgroup:  # GPUs: a subgroup per part, lanes on adjacent quads
                        # (a part at least a quad per lane)
                        mode, qpi, base, target, least = 3, 1, outer, self._reduce_items // 8, sg * e
                    else:  # an invocation per part
                        mode, qpi, base, target, least = 1, 1, outer, self._reduce_items, 16 * e
                elif 0 < sg <= 64 and cols >= sg:  # a subgroup reads a contiguous span of each row
                    mode, least = 2, 16
                    lane_quads, times = self._col_spans[tag]
                    qpi = min(lane_quads, 1 << ((cols // sg).bit_length() - 1))
                    base = outer * -(-cols // (sg * qpi))  # spans per part; items are subgroups
                    # a CPU: two workgroups per thread (more parts only add a second pass);
                    # GPUs: as many subgroups, by 256 lanes an item with the split
                    target = 2 * self._small_grid * (64 // sg) if self._small_grid else \
                        times * self._reduce_items // (256 if self._col_split else sg)
                else:  # columns: an invocation owns qpi adjacent quads
                    mode, least = 0, 16
                    qpi = 4 if cols % 4 == 0 else 2 if cols % 2 == 0 else 1
                    base, target = outer * cols // qpi, self._reduce_items
                P = max(1, min(-(-target // base), R // least))
                chunk = -(-R // P)
                chunk = -(-chunk // e) * e if inner == 1 else chunk
                P = -(-R // chunk)
                y = self._alloc((outer * P * inner,), "f32")
                split = mode == 2 and self._col_split  # (a workgroup of 256 per item, SPLIT)
                self._dispatch(self._tx("reduce4", -(-outer * R * inner // e)), tag,
                               (code, mode, qpi, 256, 1, qpi * e * 256) if split else (code, mode, qpi),
                               base * P if split else -(-base * P // (64 // sg)) if mode in (2, 3)
                               else (base * P + 63) // 64,
                               [outer, R, inner, _f2u(1.0), chunk], [h, y])
                h, tag, R = y, "f32", P
                code = 0 if code == 2 else code  # later passes add up the squares
                passes4 += 1
                # GPUs: many column partials (subgroup spans) take another such pass, as the
                # last pass's lanes, one per output, would each loop over all of them
                quads = rows_sg() or (mode == 2 and not self._small_grid and R > 64)
            if R == 1 and passes4:
                cur_shape = cur_shape[:i] + [1] * (j - i + 1) + cur_shape[j + 1:]
                continue
            while R > 4096 and outer * inner < 1024:
                # long and few: partials of 1024 rows in parallel, then reduce those
                P = -(-R // 1024)
                part = self._alloc((outer * P * inner,), "f32")
                self._dispatch("reduce", tag, (code, 2), (outer * P * inner + 63) // 64,
                               [outer, R, inner, _f2u(1.0), 1024], [h, part])
                h, tag, R = part, "f32", P
                code = 0 if code == 2 else code  # later passes add up the squares
            # a lane per output on CPU devices (never slower there, paired: sums over
            # [1000, 37] axis 0 0.41 -> 0.16 ms); on GPUs only for short loops or outputs
            # that fill the device, else a workgroup's lanes read each output's values
            # side by side
            ser = bool(self._small_grid) or R <= 64 or outer * inner >= 1024
            out16 = int(ser and x.dtype == "f16" and run is runs[0] and not f32)  # the last pass writes halves
            y = self._alloc((outer * inner,), "f16" if out16 else "f32")
            units = -(-outer * inner // 2) if out16 else outer * inner
            self._dispatch("reduce", tag, (code, int(ser), out16), (units + 63) // 64 if ser else outer * inner,
                           [outer, R, inner, _f2u(1.0), 0], [h, y])
            cur_shape = cur_shape[:i] + [1] * (j - i + 1) + cur_shape[j + 1:]
            h, tag = y, y.dtype
            if code == 2:
                code = 0  # later passes add up the squares
        return self._as(_reshaped(h, tuple(out_shape)), "f32" if f32 else x.dtype)

    def _same(self, x, shape):
        y = self._copy_contig(x, self._alloc((x.size,), x.dtype))
        return VkArray(tuple(shape), x.dtype, y.block)

    def _pad2d(self, x, R, C, R2, C2, s0, s1, fill=0.0):
        """[R2, C2] in x's dtype (C2 a multiple of 4) with y[i, j] = x[i*s0 + j*s1]
        inside [R, C], ``fill`` outside: pad2d.comp (f32) or pad2d_h.comp (halves)."""
        assert C2 % 4 == 0, C2
        y = self._alloc((R2, C2), x.dtype)
        shader = self._tx("pad2d_h" if x.dtype == "f16" else "pad2d", x.size)
        tx = shader.endswith("_tx")  # contiguous rows (s1 = 1): read by 16-byte texels (ROWS)
        self._dispatch(shader, x.dtype, (int(tx and s1 == 1),), self._quad_groups(shader, R2 * C2 // 4),
                       [R, C, R2, C2, s0, s1, int(np.array(fill, _NP[x.dtype]).view(
                           np.uint16 if x.dtype == "f16" else np.uint32))], [x, y] + [x] * tx)
        return y

    def _copy_contig(self, x, y):
        words = _words(x.size, x.dtype)
        if words % 4 == 0:
            shader = self._tx("copy4", words // 4)
            self._dispatch(shader, "u32", (), self._quad_groups(shader, words // 4), [words], [x, y])
            return y
        return self._copy_strided(x, [x.size], [1], out=y)

    # -- linear algebra ------------------------------------------------------------
    def matmul(self, a, b, trans_a=False, trans_b=False, bias=None, act=None, f32_out=False):
        """The base class's product; ``f32_out``: the result in f32 whatever the
        operands' dtype (a K slice's partial sum, not rounded to halves)."""
        self._check_float("matmul", a, b)
        if a.dtype != b.dtype or (bias is not None and bias.dtype != a.dtype):
            raise BackendError(f"vulkan matmul: operands {list(a.shape)} {a.dtype} and {list(b.shape)} {b.dtype}"
                               + (f", bias {bias.dtype}" if bias is not None else "")
                               + ": expected one dtype (the shaders read them alike)")
        if len(a.shape) != 2 or len(b.shape) != 2:
            raise BackendError(f"vulkan matmul: expected 2-d operands, got {list(a.shape)} and {list(b.shape)}")
        M, K = (a.shape[1], a.shape[0]) if trans_a else a.shape
        Kb, N = (b.shape[1], b.shape[0]) if trans_b else b.shape
        if K != Kb:
            raise BackendError(f"vulkan matmul: inner sizes differ: {list(a.shape)} (trans={trans_a}) "
                               f"and {list(b.shape)} (trans={trans_b})")
        keep = "f32" if f32_out else a.dtype  # the result's dtype
        if self._loop_cap and K > self._loop_cap:  # lavapipe's loop limit (see _LOOP_CAP)
            return self._as(self._matmul_k_slices(a, b, trans_a, trans_b, M, N, K, bias, act), keep)
        # (from 2^18: below, matmul4 is as fast on lavapipe and compiles in a fraction of the time)
        big = M * N * K >= _SG_MIN_WORK
        if (big and self.matmul_kernel == "sm" and self.limits.get("max_compute_shared_memory_size", 0) >= 8192
                and self.limits.get("max_compute_work_group_invocations", 0) >= 256):
            return self._as(self._matmul_sm(a, b, trans_a, trans_b, M, N, K, bias, act), keep)
        # f16 products are written as halves (no conversion pass) where whole words allow
        out16 = int(a.dtype == "f16" and N % 2 == 0 and not f32_out)
        cdt = "f16" if out16 else "f32"
        q = _epq(a.dtype)  # values per 16-byte load
        if big and self._sg_fits(M, N, K):
            # big products: share B's loads across each subgroup; operands it cannot
            # read as stored are zero-padded in their own layout and dtype first (rows
            # copied whole: pad2d's fast path): along K, B along N, and a transposed A
            # along M to a multiple of 4 -- C then has those rows too, computed from
            # zeros and left out of the [M, N] result (a prefix of C's block)
            K4 = -(-K // q) * q
            Mk = -(-M // 4) * 4 if trans_a else M  # the rows the kernel computes
            pad = self._pad2d
            if K4 == K and Mk == M:
                a_in, ta = a, int(trans_a)
            elif trans_a:  # stored [K, M]: zero rows up to K4, zero columns up to Mk
                a_in, ta = pad(a, K, M, K4, Mk, M, 1), 1
            else:
                a_in, ta = pad(a, M, K, M, K4, K, 1), 0
            N4 = N if trans_b else -(-N // q) * q
            if K4 == K and N4 == N:
                b_in, tb = b, int(trans_b)
            elif trans_b:  # stored [N, K]: each row zero-padded to K4
                b_in, tb = pad(b, N, K, N, K4, K, 1), 1
            else:
                b_in, tb = pad(b, K, N, K4, N4, N, 1), 0
            c = self._matmul_sg(a_in, b_in, ta, tb, 1, Mk, N4, K4, N, bias, act, out16)
            if Mk != M:
                c = VkArray((M, N), cdt, c.block)  # the first M rows
            return self._as(c, keep)
        c = self._blocks(a, b, trans_a, trans_b, 1, M, K, N, out16, bias, act)
        return self._as(VkArray((M, N), c.dtype, c.block), keep)

    def _sg_fits(self, M, N, K, items=1):
        """Whether matmul_sg runs here (subgroup shuffles, a subgroup of 8 to 64, texel
        views) and ``items`` products' operands fit the device's texel limit (it
        reads A and B as texels)."""
        sg = self.limits.get("subgroup_size", 0)
        return bool(self.limits.get("subgroup_shuffle") and 8 <= sg <= 64 and self._texel
                    and items * max(M, N) * (K + 8) // 4 <= self._max_texels)

    def _matmul_sg(self, a, b, ta, tb, Bt, M, N, K, n_valid, bias, act, out16):
        """matmul_sg.comp over ``Bt`` products of [M, K] @ [K, N] (operands as the
        kernel reads them: see its header), C [Bt * M, n_valid] in halves (out16) or f32."""
        sg = self.limits["subgroup_size"]
        c = self._alloc((Bt * M, n_valid), "f16" if out16 else "f32")
        blocks = Bt * ((M + 4 * sg - 1) // (4 * sg)) * ((N + 15) // 16)  # 4*sg x 16 tiles
        groups = (blocks + 64 // sg - 1) // (64 // sg)
        if self._small_grid:  # a CPU device: its subgroups walk the tiles (grid stride), a
            # workgroup a core (lavapipe, paired: [12544, 32] @ [32, 144] 0.73x the time of a
            # workgroup per 8 tiles, [50176, 12] @ [12, 16]^T 0.60x, 1024^3 and 256 x 784 x 1024
            # equal; 8 or 32 a core within noise of it) -- yet enough of them that a
            # subgroup's loops (a turn per tile, K / sg per tile) stay under lavapipe's loop
            # limit: two workgroups left 4096 x 1024 x 4096 zero past row 992
            # (small_grid=False below: _dispatch's rule would take grids of up to 8
            # workgroups to one, a single core -- 1024 x 1024 x 512 ran at half the rate;
            # so did products of 64 tiles or fewer, an LSTM's [64, 128] @ [128, 512]:
            # from 2^18 multiply-adds, where matmul_sg starts, a core each ran them in
            # 0.53-0.74x the time, paired)
            least = self._loop_groups(blocks, 64 // sg, 2 + -(-K // sg))
            groups = min(groups, max(self._small_grid, least))
        self._dispatch("matmul_sg", a.dtype, (_ACT_ID[act], sg, ta, tb, out16), groups,
                       [M, N, K, int(bias is not None), n_valid, Bt],
                       [a, b, bias if bias is not None else self._dummy, c], small_grid=False)
        return c

    def bmm(self, a, b, trans_a=False, trans_b=False):
        """Where matmul_sg runs (CPU devices) and reads the operands as stored (K a
        whole number of 16-byte loads, ...), batches of at least _SG_MIN_WORK
        multiply-adds: every item's tiles in one matmul_sg grid (lavapipe, the
        attention's [64, 64, 32] @ [64, 32, 64] and its gradients: 3-4x matmul4's rate).
        Else products of at least _SG_MIN_WORK multiply-adds (_BMM_ITEM_GPU on GPUs) whose
        bytes keep the descriptors' offset alignment: the tuned 2-D product once per batch element
        on views of a and b (no copies), each copied into its place in the result
        (lavapipe, [32, 128, 64] @ [32, 64, 128]: 4.2 GFLOP/s against matmul.comp's
        0.9); else matmul4 or matmul.comp over the batch in
        one dispatch (its 4 x 4 blocks of every product in one grid), K beyond
        lavapipe's loop limit in slices added in f32."""
        Bt, M, K, N = self._bmm_shapes(a, b, trans_a, trans_b)
        self._check_float("bmm", a, b)
        q = _epq(a.dtype)
        if (self.matmul_kernel == "sg" and Bt * M * N * K >= _SG_MIN_WORK and K % q == 0
                and (M % 4 == 0 if trans_a else True) and (trans_b or N % q == 0)
                and not (self._loop_cap and K > self._loop_cap) and self._sg_fits(M, N, K, Bt)
                and a.range[0] % 16 == 0 and b.range[0] % 16 == 0):
            out16 = int(a.dtype == "f16" and N % 2 == 0)
            c = self._matmul_sg(a, b, int(trans_a), int(trans_b), Bt, M, N, K, N, None, None, out16)
            return self._as(VkArray((Bt, M, N), c.dtype, c.block), a.dtype)
        align = self._view_align()
        esz = 2 if a.dtype == "f16" else 4
        # (a GPU: items each filling it -- a dispatch per item, and a barrier between the
        # copies into one result, would leave it idle for small ones; not measured there)
        big = _SG_MIN_WORK if self._small_grid else _BMM_ITEM_GPU
        if M * N * K >= big and all(n * esz % align == 0 for n in (M * K, K * N, M * N)):
            y = self._alloc((Bt, M, N), a.dtype)
            for i in range(Bt):
                self._copy_contig(self.matmul(self._item(a, i), self._item(b, i), trans_a, trans_b), self._item(y, i))
            return y
        if self._loop_cap and K > self._loop_cap:
            return self._as(self._k_slices(a, b, trans_a, trans_b, K, lambda x, y: self._blocks(
                x, y, trans_a, trans_b, Bt, M, x.shape[1] if trans_a else x.shape[2], N, 0)), a.dtype)
        out16 = int(a.dtype == "f16" and N % 2 == 0)
        return self._as(self._blocks(a, b, trans_a, trans_b, Bt, M, K, N, out16), a.dtype)

    def _blocks(self, a, b, trans_a, trans_b, Bt, M, K, N, out16, bias=None, act=None):
        """[Bt, M, N] in one dispatch of 4 x 4 blocks over the batch (a 2-D product:
        Bt = 1, with bias and activation): matmul4 where each operand is read along a
        multiple of 4 (4 values a load, through texel views on CPU devices; lavapipe,
        [64, 32, 32] items: 2.4 GFLOP/s), else matmul.comp's scalar loads (0.5); a grid
        that keeps each invocation under lavapipe's loop limit."""
        c = self._alloc((Bt, M, N), "f16" if out16 else "f32")
        if c.size:
            blocks = Bt * -(-M // 4) * -(-N // 4)
            operands = [a, b, bias if bias is not None else self._dummy, c]
            head = [M, N, K, int(bias is not None)]
            if (M if trans_a else K) % 4 == 0 and (K if trans_b else N) % 4 == 0:
                least = self._loop_groups(blocks, 64, K // 4 + 2)
                self._dispatch(self._tx("matmul4", max(a.size, b.size) // 4 + 1), a.dtype,
                               (_ACT_ID[act], int(trans_a), int(trans_b), out16), max(-(-blocks // 64), least),
                               head + [Bt, M * K // 4, K * N // 4], operands, least=least)
                return c
            sam, sak = (1, M) if trans_a else (K, 1)
            sbk, sbn = (1, K) if trans_b else (N, 1)
            least = self._loop_groups(blocks, 64, K + 2)
            self._dispatch("matmul", a.dtype, (_ACT_ID[act], out16), max(-(-blocks // 64), least),
                           head + [sam, sak, sbk, sbn, Bt, M * K, K * N], operands, least=least)
        return c

    def _k_slices(self, a, b, trans_a, trans_b, K, product):
        """The sum in f32 of product(a_s, b_s) over slices of K of _LOOP_CAP (2-D or
        batched operands; each kernel loops over its K: past 65535 iterations
        lavapipe stops the loop)."""
        acc = None
        for k0 in range(0, K, self._loop_cap):
            parts = []
            for h, k_rows in ((a, trans_a), (b, not trans_b)):  # K along the rows (second-to-last axis)?
                nd = len(h.shape)
                ax = nd - 2 if k_rows else nd - 1
                starts, lens = [0] * nd, list(h.shape)
                starts[ax], lens[ax] = k0, min(self._loop_cap, K - k0)
                parts.append(self.slice(h, tuple(starts), (1,) * nd, tuple(lens)))
            p = product(*parts)
            acc = p if acc is None else self.binary("add", acc, p)
        return acc

    def _matmul_k_slices(self, a, b, trans_a, trans_b, M, N, K, bias, act):
        """A product with K beyond _LOOP_CAP on a CPU device (_k_slices): each slice's
        sum in f32 (f16 operands too, not rounded to halves first -- an f16 product
        of K 256 in slices of 6 was off by 0.005), then bias and activation, in f32."""
        acc = self._k_slices(a, b, trans_a, trans_b, K,
                             lambda x, y: self.matmul(x, y, trans_a, trans_b, f32_out=True))
        if bias is not None:
            acc = self.binary("add", acc, self._as(bias, "f32"))
        if act is not None:
            acc = self.unary(act, acc)
        return acc

    def _matmul_sm(self, a, b, trans_a, trans_b, M, N, K, bias, act):
        """matmul_sm.comp: A [M, K4] and B [K4, N4] as stored when they are so laid
        out, else brought there (transposed, zero-padded) in their dtype first."""
        K4, N4 = -(-K // 4) * 4, -(-N // 4) * 4
        pad = self._pad2d
        a_in = a if not trans_a and K4 == K else pad(a, M, K, M, K4, *((1, M) if trans_a else (K, 1)))
        b_in = b if not trans_b and K4 == K and N4 == N else pad(b, K, N, K4, N4, *((1, K) if trans_b else (N, 1)))
        c = self._alloc((M, N), "f32")
        bias_h = bias if bias is not None else self._dummy
        # 128 x 128 blocks where the device takes them and C has at least 128 of them (or
        # forced): fewer leave a large GPU's compute units idle, and 64 x 64 blocks (four
        # times as many, split along K below 128) fill them; and where C's edges waste no
        # more of them than the smaller blocks' lower rate costs (an H200, 4096^3 f32:
        # 64 x 64 blocks 33 TFLOP/s, 128 x 128 37) -- a convolution's 64 output channels
        # would leave half of every 128-wide block idle
        def used(t):  # C's share of the blocks' outputs
            return M * N / (-(-M // t) * t * -(-N // t) * t)
        bm = 128 if self.matmul_tile == 128 and (self._tile_forced or (
            -(-M // 128) * -(-N // 128) >= 128 and used(128) >= 0.89 * used(64))) else 64
        blocks = -(-M // bm) * -(-N4 // bm)
        splits = self._k_splits(blocks, K4)
        if splits == 1:
            self._dispatch("matmul_sm", a.dtype, (_ACT_ID[act], bm // 16), blocks,
                           [M, N4, K4, int(bias is not None), N, K4, 1], [a_in, b_in, bias_h, c])
            return c
        ks = -(-K4 // splits // 16) * 16  # K per slice: whole slices of either block's BK
        splits = -(-K4 // ks)
        part = self._alloc((splits * M * N,), "f32")
        self._dispatch("matmul_sm", a.dtype, (0, bm // 16), blocks * splits,
                       [M, N4, K4, 0, N, ks, splits], [a_in, b_in, self._dummy, part])
        self._dispatch("matmul_splitk", bias.dtype if bias is not None else "f32", (_ACT_ID[act],),
                       -(-M * N // 256), [M * N, N, splits, int(bias is not None)], [part, bias_h, c])
        return c

    def _k_splits(self, blocks, K):
        """Slices of K for matmul_sm (split K: GPUs but integrated ones, or
        VKGRAD_MATMUL_SPLITK=1): products whose C has fewer blocks than a GPU has
        compute units to fill get about 256 workgroups, slices of at least 256, at
        most 32 of them (a convolution's weight gradient [64, 65536] @ [65536, 576]
        ran at 8 TFLOP/s on an H200 with 8: 72 workgroups for 132 compute units;
        32 unmeasured there yet)."""
        if not self._splitk or blocks >= 128 or K < 512:
            return 1
        return max(1, min(32, 256 // blocks, K // 256))

    def _serial(self, length, outputs):
        """An invocation per output (softmax and xent rows, batch-norm channels):
        always on CPU devices, where a workgroup per output pays for its barriers
        (lavapipe, paired: softmax [512, 1000] 9.9 vs 3.9 ms, [1000, 300] 10.2
        vs 1.5 ms, even [4, 100000] 9.8 vs 4.8 ms; batch norm [500, 60] 1.28 vs
        0.26 ms) unless the loop is longer than _LOOP_CAP; on GPUs as _serial says."""
        if self._loop_cap and length > self._loop_cap:  # a workgroup each: 64 lanes on a row
            return False
        return bool(self._small_grid) or _serial(length, outputs)

    # -- softmax family ------------------------------------------------------------
    def _row_grid(self, rows, n, ser, quads):
        """(workgroups of 64, small_grid) for softmax / xent over n values in rows: a
        workgroup per row (not serial), an invocation per row, or with QUADS = 2 a
        subgroup per row -- as many subgroups as rows (up to _MAX_GROUPS workgroups;
        the shaders loop over the rest), not a lane's count of them, which left an
        H100 mostly idle; a CPU device's small grid only while its lanes' loops stay
        inside lavapipe's limit (_LOOP_CAP: three passes over n / 128 values each)."""
        small = not self._loop_cap or n <= 64 * self._loop_cap
        if not ser:
            return rows, small
        return -(-rows // self._units_per_group(quads == 2)), small

    def _units_per_group(self, by_subgroup):
        """Rows, channels, ... a workgroup of 64 takes: one an invocation, or one a subgroup."""
        return 64 // self.limits["subgroup_size"] if by_subgroup else 64

    def _quad_rows(self, C, dtype):
        """Whether rows of C elements take softmax's / xent's quad loops (whole
        16-byte quads, the ends of rows that do not start or end on one word by
        word): rows of whole quads, or of at least two quads' elements."""
        e = _epq(dtype)
        return C % e == 0 or C >= 2 * e

    def _sg_rows(self, C, dtype):
        """Rows of quads read by a subgroup each (rowreduce.glsl's row_lse4_sg): rows
        of at least a subgroup's worth of quads, on GPUs with subgroup shuffles (a
        CPU device runs a lane per row faster: lavapipe 4.2 vs 3.6 GB/s on softmax
        rows of 1000)."""
        sg = self.limits.get("subgroup_size", 0)
        return bool(not self._small_grid and self.limits.get("subgroup_shuffle") and 0 < sg <= 64
                    and C // _epq(dtype) >= sg)

    def softmax(self, x, log=False):
        self._check_float("softmax", x)
        C = x.shape[-1] if x.shape else 1
        rows = x.size // max(C, 1)
        ser = self._serial(C, rows)
        quads = int(ser and self._quad_rows(C, x.dtype))  # y then in x's dtype
        quads += quads and self._sg_rows(C, x.dtype)
        y = self._alloc(x.shape, x.dtype if quads else "f32")
        shader = self._tx("softmax", _words(x.size, x.dtype)) if ser else "softmax"  # (not a workgroup per row)
        groups, small = self._row_grid(rows, x.size, ser, quads)
        self._dispatch(shader, x.dtype, (1 if log else 0, quads, int(ser)), groups, [rows, C], [x, y],
                       small_grid=small)
        return self._as(y, x.dtype)

    def softmax_xent(self, logits, target, ignore=None):
        labels = target.dtype == "i32"
        self._check_float("softmax_xent", logits, *([] if labels else [target]))
        rows, C = logits.shape
        if rows == 0 or C == 0:  # (nothing to average: NaN, as PyTorch's mean of none)
            return self.full((), float("nan"), "f32"), self.full(logits.shape, 0.0, logits.dtype)
        one_group = rows <= 4096 and C <= 256  # rows, then the mean, in one dispatch
        ser = self._serial(C, rows)
        quads = int((one_group or ser) and self._quad_rows(C, logits.dtype))  # d in logits' dtype
        quads += quads and not one_group and self._sg_rows(C, logits.dtype)
        probs = self._alloc(logits.shape, logits.dtype if quads else "f32")  # the gradient d
        spec = (int(labels), quads)
        shader = (self._tx("xent", _words(logits.size, logits.dtype)) if one_group or ser
                  else "xent")  # (not a workgroup per row)
        ignoring = labels and ignore is not None
        push = [rows, C, _f2u(1.0 / rows), (int(ignore) if ignoring else -(1 << 31)) & 0xFFFFFFFF]
        if one_group:  # (the kernel takes the mean over the rows kept)
            loss = self._alloc((), "f32")
            self._dispatch(shader, logits.dtype, spec + (2,), 1, push, [logits, target, probs, loss])
            return loss, self._as(probs, logits.dtype)
        # rows' shares of the mean, then their sum (reduce's paths for long ones)
        rl = self._alloc((rows,), "f32")
        groups, small = self._row_grid(rows, logits.size, ser, quads)
        self._dispatch(shader, logits.dtype, spec + (int(ser),), groups, push, [logits, target, probs, rl],
                       small_grid=small)
        loss = self.reduce("sum", rl, (0,), False)
        if ignoring:  # ignored rows gave 0: the mean over the kept ones, rows / kept times that
            # (none kept: a NaN loss and a zero gradient, as PyTorch's)
            ign = self.binary("eq", self.cast(target, "f32"), self.constant((), float(ignore), "f32"))
            kept = self.unary("affine", self.reduce("sum", ign, (0,), False), -1.0, float(rows))
            n = self.constant((), float(rows), "f32")
            loss = self.binary("mul", loss, self.binary("div", n, kept))
            scale = self.binary("div", n, self.binary("maximum", kept, self.constant((), 0.5, "f32")))
            probs = self.binary("mul", probs, scale if probs.dtype == "f32" else self.cast(scale, probs.dtype))
        return loss, self._as(probs, logits.dtype)  # the loss in f32 (f16 logits too)

    def act_bias_bwd(self, act, y, g, need_db=True):
        rows, cols = g.shape if len(g.shape) == 2 else (0, 0)
        dt = g.dtype if g.dtype == y.dtype else None
        # (a CPU device runs larger ones faster unfused, as binary4 and reduce4, which
        # stream contiguous runs where this walks column strips: lavapipe, relu, the
        # median of 9 paired ratios fused / unfused: 0.38-0.72 up to 2^15 elements,
        # 0.92-1.07 at [64, 1024], f32 1.2-1.6 from 2^17 ([128, 1024], [256, 512],
        # [256, 1024], [1024, 256]), f16 0.5-1.4 there)
        if not (need_db and 0 < rows <= 1024 and (dt == "f32" or (dt == "f16" and cols % 2 == 0))
                and not (self._small_grid and rows * cols > 1 << 16)):
            return super().act_bias_bwd(act, y, g, need_db)
        gp, db = self._alloc(g.shape, dt), self._alloc((cols,), dt)
        quads = self._quads(cols, dt)  # a quad of columns per invocation
        shader = self._tx("act_bias_bwd", -(-_words(g.size, dt) // 4)) if quads else "act_bias_bwd"
        units = quads or _words(cols, dt)  # else a column per invocation (f16: two, written as halves)
        self._dispatch(shader, dt, (_ACT_ID[act], int(bool(quads))), (units + 63) // 64,
                       [rows, cols], [y, g, gp, db])
        return gp, db

    # -- normalisation --------------------------------------------------------------
    def _ln_grid(self, x):
        """(workgroups, least, lanes per row: 0 a lane each) of layernorm(_bwd).comp
        over x [R, D] (rows of whole quads), or None (the composed default). GPUs with
        subgroup shuffles take a power of two of lanes per row, up to the subgroup's
        width, so that a lane reads about two quads of it (a lane walking its own row
        of 256 ran at 13% of a copy's rate on an H200, a subgroup per row 71% in f32 --
        one lane two quads there -- and 56% in f16, one quad a lane: the halved lanes
        for f16 and short rows unmeasured); CPU devices an invocation per row, where a
        row's passes stay under lavapipe's loop limit."""
        R, D = x.shape
        nq = D // _epq(x.dtype)
        if D % _epq(x.dtype) or not R:
            return None
        if self._shuffle_lanes:
            lanes = min(self.limits["subgroup_size"], 1 << max(0, (nq // 2).bit_length() - 1))
            groups = min(-(-R // (64 // lanes)), _MAX_GROUPS)
            turns = -(-R // (groups * (64 // lanes))) * (3 * -(-nq // lanes) + 2)
            return None if self._loop_cap and turns > self._loop_cap else (groups, 0, lanes)
        if not self._serial(D, R) or (not self._small_grid and D > 256) or (
                self._loop_cap and 3 * nq + 2 > self._loop_cap):
            return None
        least = self._loop_groups(R, 64, 3 * nq + 2)
        return max(-(-R // 64), least), least, 0

    def layer_norm(self, x, w, b, eps):
        """layernorm.comp: one dispatch (the composed op took nine), else the base
        class's composition (see _ln_grid)."""
        self._check_float("layer_norm", x, *(h for h in (w, b) if h is not None))
        grid = self._ln_grid(x)
        if grid is None or any(h is not None and h.dtype != x.dtype for h in (w, b)):
            return super().layer_norm(x, w, b, eps)
        groups, least, lanes = grid
        R, D = x.shape
        y, mean, rstd = self._alloc(x.shape, x.dtype), self._alloc((R,), "f32"), self._alloc((R,), "f32")
        shader = self._tx("layernorm", -(-_words(x.size, x.dtype) // 4))
        self._dispatch(shader, x.dtype, (int(w is not None), int(b is not None), lanes), groups,
                       [R, D, _f2u(eps)], [x, w if w is not None else self._dummy,
                                           b if b is not None else self._dummy, y, mean, rstd], least=least)
        return y, mean, rstd

    def layer_norm_bwd(self, g, x, w, mean, rstd, need_gx):
        """layernorm_bwd.comp: dx (and g * xhat) in one dispatch, else the composition."""
        grid = self._ln_grid(x)
        if grid is None or g.dtype != x.dtype or (w is not None and w.dtype != x.dtype):
            return super().layer_norm_bwd(g, x, w, mean, rstd, need_gx)
        groups, least, lanes = grid
        R, D = x.shape
        dx = self._alloc(x.shape, x.dtype)
        gx = self._alloc(x.shape, x.dtype) if need_gx else None
        shader = self._tx("layernorm_bwd", -(-_words(x.size, x.dtype) // 4))
        self._dispatch(shader, x.dtype, (int(w is not None), int(need_gx), lanes), groups, [R, D],
                       [g, x, w if w is not None else self._dummy, mean, rstd, dx,
                        gx if gx is not None else self._dummy], least=least)
        return dx, gx

    # -- recurrent cells: rnn_cell.comp -----------------------------------------
    def _view_align(self):
        """The byte alignment a view's offset keeps for storage and texel descriptors."""
        return max(16, self.limits.get("min_storage_buffer_offset_alignment", 16),
                   self.limits.get("min_texel_buffer_offset_alignment", 16))

    def rows(self, h, start, stop):
        """A view (no copy) where h[start:stop]'s byte offset keeps the descriptors'
        alignment: a recurrent layer's time step of its input projection."""
        row = math.prod(h.shape[1:]) * (2 if h.dtype == "f16" else 4)
        if (start * row) % self._view_align() or row % 4:
            return super().rows(h, start, stop)
        return self._view(h, start, stop)

    def row_views(self, shape, dtype):
        """A buffer and views of its rows where every row's byte offset keeps the
        descriptors' alignment (the recurrence's step outputs written in place: no
        cat -- lavapipe, the LSTM benchmark 216 -> 152 dispatches a step, 0.97x the
        time, paired)."""
        row = math.prod(shape[1:]) * (2 if dtype == "f16" else 4)
        if row % self._view_align() or dtype not in ("f32", "f16"):
            return None
        buf = self._alloc(tuple(shape), dtype)
        return buf, [_reshaped(self._view(buf, t, t + 1), tuple(shape[1:])) for t in range(shape[0])]

    def _cell(self, mode, H, ins, outs, has_dc=0, out=None):
        """One rnn_cell.comp dispatch over [N, H] (outs: (shape) to allocate; ``out``:
        a row view for the first), or None where it does not apply (H not whole
        quads, mixed dtypes, an operand off a quad): the base class's composition
        then."""
        dtype = ins[0].dtype
        if dtype not in ("f32", "f16") or H % _epq(dtype) or any(
                h is not None and (h.dtype != dtype or h.range[0] % 16) for h in ins) or (
                out is not None and (out.dtype != dtype or out.range[0] % 16)):
            return None
        ys = [out if k == 0 and out is not None else self._alloc(shape, dtype) for k, shape in enumerate(outs)]
        n = outs[0][0] * H
        if n:
            shader = self._tx("rnn_cell", -(-_words(max(h.size for h in ins if h is not None), dtype) // 4))
            d = self._dummy
            self._dispatch(shader, dtype, (mode, has_dc), self._quad_groups(shader, n // _epq(dtype)), [n, H],
                           [h if h is not None else d for h in ins] + [d] * (5 - len(ins)) + ys + [d] * (3 - len(ys)))
        return ys

    def lstm_cell(self, xg, hg, c, out=None):
        (N, H), G = c.shape, (c.shape[0], 4 * c.shape[1])
        ys = self._cell(0, H, [xg, hg, c], [(N, H), (N, H), G], out=out)
        return tuple(ys) if ys is not None else super().lstm_cell(xg, hg, c, out)

    def lstm_cell_bwd(self, dh, dc, acts, c, c2, out=None):
        (N, H) = c.shape
        ys = self._cell(1, H, [dh, dc, acts, c, c2], [(N, 4 * H), (N, H)], int(dc is not None), out)
        return tuple(ys) if ys is not None else super().lstm_cell_bwd(dh, dc, acts, c, c2, out)

    def gru_cell(self, xg, hg, h, out=None):
        (N, H) = h.shape
        ys = self._cell(2, H, [xg, hg, h], [(N, H), (N, 3 * H)], out=out)
        return tuple(ys) if ys is not None else super().gru_cell(xg, hg, h, out)

    def gru_cell_bwd(self, dh, acts, hg, h, out=None):
        (N, H) = h.shape
        ys = self._cell(3, H, [dh, acts, hg, h], [(N, 3 * H), (N, 3 * H), (N, H)], out=out)
        return tuple(ys) if ys is not None else super().gru_cell_bwd(dh, acts, hg, h, out)

    def batchnorm_fwd(self, x, gamma, beta, eps, running_mean=None, running_var=None, momentum=0.1):
        self._check_float("batchnorm", x, gamma, beta)
        N, C = x.shape
        update = running_mean is not None
        if update and (running_mean.dtype != "f32" or running_var.dtype != "f32"):
            raise BackendError("vulkan batchnorm: running statistics must be f32, got "
                               f"{running_mean.dtype} and {running_var.dtype}")
        mean, var, inv = (self._alloc((C,), "f32") for _ in range(3))
        if self._bn_in_parts(N, C):
            part, chunk, sub = self._bn_part(x, x, self._dummy, 0)
            coef = self._alloc((3 * sub * C,), "f32")
            self._dispatch("bn_comb", gamma.dtype, (0, int(self._shuffle_lanes)),
                           -(-C // self._units_per_group(self._shuffle_lanes)),
                           [N, C, chunk, _f2u(eps), int(update), _f2u(momentum), sub],
                           [part, gamma, beta, mean, var, inv, running_mean if update else self._dummy,
                            running_var if update else self._dummy, coef, self._dummy, self._dummy])
            return self._bn_apply(x, x, coef, 0, sub), mean, var, inv
        ser = self._serial(N, C)
        quads = int(ser and x.dtype == "f32" and C % 4 == 0)  # 16-byte loads, 4 channels each
        pairs = int(ser and x.dtype == "f16" and C % 2 == 0)  # two channels each, y written as halves
        y = self._alloc(x.shape, "f16" if pairs else "f32")
        self._dispatch("bn_fwd", x.dtype, (quads, int(ser), pairs), (C // (1 + pairs) + 63) // 64 if ser else C,
                       [N, C, _f2u(eps), int(update), _f2u(momentum)],
                       [x, gamma, beta, y, mean, var, inv, running_mean if update else self._dummy,
                        running_var if update else self._dummy])
        return self._as(y, x.dtype), mean, var, inv  # statistics stay f32 (bn_bwd reads them so)

    def batchnorm_bwd(self, g, x, mean, invstd, gamma):
        if mean.dtype != "f32" or invstd.dtype != "f32":
            raise BackendError(f"vulkan batchnorm_bwd: the batch statistics must be f32 (as "
                               f"batchnorm_fwd returns them), got {mean.dtype} and {invstd.dtype}")
        N, C = x.shape
        if self._bn_in_parts(N, C):
            g = self._as(g, x.dtype)
            part, chunk, sub = self._bn_part(x, g, mean, 1)
            coef = self._alloc((4 * sub * C,), "f32")
            dg, db = self._alloc((C,), "f32"), self._alloc((C,), "f32")
            self._dispatch("bn_comb", gamma.dtype, (1, int(self._shuffle_lanes)),
                           -(-C // self._units_per_group(self._shuffle_lanes)),
                           [N, C, chunk, _f2u(0.0), 0, _f2u(0.0), sub],
                           [part, gamma, gamma, mean, self._dummy, invstd, self._dummy, self._dummy, coef, dg, db])
            dt = x.dtype
            return self._bn_apply(x, g, coef, 1, sub), self._as(dg, dt), self._as(db, dt)
        ser = self._serial(N, C)
        quads = int(ser and x.dtype == "f32" and g.dtype == "f32" and C % 4 == 0)
        # f16: two channels per invocation, every output written as halves
        pairs = int(ser and x.dtype == g.dtype == gamma.dtype == "f16" and C % 2 == 0)
        out = "f16" if pairs else "f32"
        dx = self._alloc(x.shape, out)
        dg, db = self._alloc((C,), out), self._alloc((C,), out)
        self._dispatch("bn_bwd", x.dtype, (quads, int(ser), pairs), (C // (1 + pairs) + 63) // 64 if ser else C,
                       [N, C], [g, x, mean, invstd, gamma, dx, dg, db])
        dt = x.dtype
        return self._as(dx, dt), self._as(dg, dt), self._as(db, dt)

    def _bn_in_parts(self, N, C):
        """Batch norm in three passes (bn_part, bn_comb, bn_apply: rows split into
        parts read in parallel) for large batches; small ones in one dispatch
        (bn_fwd / bn_bwd: an invocation or workgroup per channel, down every row),
        which lavapipe ran at 18x (forward) and 33x (backward) a copy's time on
        [4096, 256], 64 invocations in all (three passes: 2.5x, 2.9x).  Paired on
        lavapipe, the one dispatch was faster only below this: [150, 16] 0.08 vs
        0.14 ms, [64, 512] f32 0.39 vs 0.71 ms."""
        return N * C >= 1 << 15 and N >= 128

    def _bn_parts(self, N, C, dtype):
        """(parts P, rows per part, quads) for bn_part.comp: about _reduce_items
        invocations, parts of at least 16 rows; quads: C a whole number of quads
        (EPQ channels an invocation)."""
        e = _epq(dtype)
        quads = int(C % e == 0)
        cols = C // e if quads else C
        P = max(1, min(-(-self._reduce_items // cols), N // 16))
        chunk = -(-N // P)
        return -(-N // chunk), chunk, quads

    def _bn_view(self, x):
        """(rows, columns, sub) of x [N, C] as the three passes read it: e rows of a width
        not in whole quads as one row of e * C columns (sub = e; column j is channel
        j % C) where N allows, so they read whole quads; else as it is (sub = 1).
        lavapipe: [4096, 100] f16 forward 5.1 -> 2.5 ms, backward 7.7 -> 2.9 ms;
        [4096, 1001] f32 28.5 -> 10.8 / 50.6 -> 15.3 ms, f16 30.9 / 50.3 -> 10.8 / 15.3."""
        N, C = x.shape
        e = _epq(x.dtype)
        sub = e if C % e and N % e == 0 else 1
        return N // sub, C * sub, sub

    def _bn_part(self, x, g, mean, bwd):
        """bn_part.comp over x's view (_bn_view): (partials, rows per part, sub)."""
        Nv, Cv, sub = self._bn_view(x)
        P, chunk, quads = self._bn_parts(Nv, Cv, x.dtype)
        part = self._alloc((2 * P * Cv,), "f32")
        self._dispatch(self._tx("bn_part", -(-_words(x.size, x.dtype) // 4)), x.dtype, (bwd, quads),
                       -(-P * Cv // (_epq(x.dtype) if quads else 1) // 64),
                       [Nv, Cv, chunk, x.shape[1]], [x, g, mean, part])
        return part, chunk, sub

    def _bn_apply(self, x, g, coef, bwd, sub):
        """bn_apply.comp: y = S (x - M) + K, or dx = that + A g (bwd), in x's dtype, over
        x's view (coefficients written sub times over by bn_comb)."""
        n, C = x.size, x.shape[1] * sub
        e = _epq(x.dtype)
        y = self._alloc(x.shape, x.dtype)
        shader, groups = self._quad_kernel("bn_apply", n, x.dtype)
        if bwd and self._bn_apply_groups and shader == "bn_apply" and C % e == 0:
            # fewer workgroups, each invocation on the same channels every step (a
            # multiple of m groups is whole rows): the shader loads its coefficients once
            m = (C // e) // math.gcd(C // e, 64)
            groups = min(groups, max(m, self._bn_apply_groups // m * m))
        self._dispatch(shader, x.dtype, (bwd, int(C % e == 0)), groups, [n, C], [x, g, coef, y])
        return y

    # -- random ---------------------------------------------------------------------
    def dropout(self, x, p, seed):
        self._check_float("dropout", x)
        y, mask = self._alloc(x.shape, x.dtype), self._alloc(x.shape, x.dtype)
        n = x.size
        shader, groups = self._quad_kernel("dropout", n, x.dtype)
        self._dispatch_dyn(shader, x.dtype, (), groups,
                           lambda: [n, (int(_val(seed)) * 0x9E3779B9) & 0xFFFFFFFF, _f2u(p),
                                    _f2u(1.0 / (1.0 - p))], [x, y, mask])
        return y, mask

    def one_hot(self, labels, num_classes, dtype):
        if labels.dtype != "i32":
            raise BackendError(f"vulkan one_hot: labels must be i32, got {labels.dtype}")
        B = labels.shape[0]
        y = self._alloc((B, num_classes), dtype)
        n = y.size
        self._dispatch("onehot", dtype, (), self._groups(n, dtype),
                       [n, num_classes], [labels, y])
        return y

    # -- optimizer updates -------------------------------------------------------------
    def sgd_(self, p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first):
        n = p.size
        quads = p.dtype == "f32" and g.dtype in ("f32", "f16") and n > 0  # (a tail of words too)
        tag = "g16" if quads and g.dtype == "f16" else p.dtype  # sgd4 reads an f32 master's halves itself
        if not quads:
            g = self._as(g, p.dtype)  # e.g. an f16 gradient for an f32 master
        ops = [p, g, buf if buf is not None else self._dummy]
        shader, groups = self._quad_kernel("sgd4", n, "f32") if quads else ("sgd", self._groups(n, p.dtype))
        if shader == "sgd4_tx":
            ops += [ops[0], ops[2]]  # param and buf written through storage buffers
        self._dispatch_dyn(shader, tag, (int(_val(momentum) != 0), int(bool(nesterov))) if quads else (), groups,
                           lambda: [n, _f2u(_val(lr)), _f2u(_val(momentum)), _f2u(dampening),
                                    1 if nesterov else 0, _f2u(weight_decay), 1 if first else 0], ops)

    @staticmethod
    def _adam_push(lr, beta1, beta2, eps, weight_decay, step, decoupled, sq_coef, scalars):
        """The Adam family's push constants after the sizes (lr, beta1, step and the
        scalars re-read: a schedule may cycle beta1, OneCycleLR)."""
        lr_, b1 = _val(lr), _val(beta1)
        step_size, rbc2, aux = scalars() if scalars is not None else adam_scalars(lr_, b1, beta2, _val(step)) + (0.0,)
        return [_f2u(lr_), _f2u(b1), _f2u(beta2), _f2u(eps), _f2u(weight_decay), _f2u(step_size), _f2u(rbc2),
                1 if decoupled else 0, _f2u(1.0 - beta2 if sq_coef is None else sq_coef), _f2u(aux)]

    def adam_multi_(self, items, lr, beta1, beta2, eps, weight_decay, step, decoupled, sq_coef=None,
                    form="adam", scalars=None):
        """Eight parameters per dispatch where a shader stage may bind 32 storage
        buffers (desktop GPUs, lavapipe), else four (16, the Vulkan minimum)."""
        args = (lr, beta1, beta2, eps, weight_decay, step, decoupled, sq_coef)
        bufs = self.limits.get("max_per_stage_storage_buffers", 16)
        if bufs < 16:
            return super().adam_multi_(items, *args, form, scalars)
        per, shader = (8, "adam_multi8") if bufs >= 32 else (4, "adam_multi")
        hyper = lambda: self._adam_push(*args, scalars)  # noqa: E731
        fid = check_op("vulkan adam_multi_", form, ADAM_FORMS)

        by_dtype = {}
        for it in items:
            if it[0].dtype == "f32" and it[0].size >= 1 << 16:
                # large: its own 16-byte-load dispatch (bandwidth over dispatch count;
                # f16 gradients of f32 masters read as halves there too)
                self.adam_(*it, *args, form, scalars)
                continue
            p, g = it[0], it[1]
            if p.dtype == "f32" and g.dtype == "f16":  # f32 masters: a variant reads the halves itself
                by_dtype.setdefault("g16", []).append(it)
            else:
                by_dtype.setdefault(p.dtype, []).append((p, self._as(g, p.dtype)) + tuple(it[2:]))
        for dt, its in by_dtype.items():
            for s in range(0, len(its), per):
                chunk = its[s:s + per]
                ns = [it[0].size for it in chunk] + [0] * (per - len(chunk))
                ops = [h for it in chunk for h in it] + [self._dummy] * (4 * (per - len(chunk)))
                units = max((n + 1) // 2 if dt == "f16" else n for n in ns)  # a loop per parameter
                if self._small_grid:  # a CPU: one subgroup per workgroup, a workgroup per 16K units
                    ls = max(1, self.limits.get("subgroup_size", 8))
                    groups = max(1, min(self._small_grid, units // 16384))
                else:
                    ls, groups = 256, (units + 255) // 256
                self._dispatch_dyn(shader, dt, (ls, fid), groups, lambda ns=ns: ns + hyper(), ops)

    def adam_(self, p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled, sq_coef=None, form="adam",
              scalars=None):
        n = p.size
        g16 = p.dtype == "f32" and g.dtype == "f16"  # adam4 reads the halves itself
        if not g16:
            g = self._as(g, p.dtype)  # e.g. an f16 gradient for an f32 master
        push = lambda: [n] + self._adam_push(lr, beta1, beta2, eps, weight_decay, step, decoupled,  # noqa: E731
                                             sq_coef, scalars)
        fid = (check_op("vulkan adam_", form, ADAM_FORMS),)

        if p.dtype == "f32" and n and g.dtype in ("f32", "f16"):  # 16-byte loads and stores (and a tail)
            shader, groups = self._quad_kernel("adam4", n, "f32")
            ops = [p, g, m, v] + ([p, m, v] if shader == "adam4_tx" else [])  # outputs through storage buffers
            self._dispatch_dyn(shader, "g16" if g16 else "f32", fid, groups, push, ops)
        else:
            self._dispatch_dyn("adam", p.dtype, fid, self._groups(n, p.dtype), push, [p, g, m, v])
