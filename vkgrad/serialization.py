"""save/load as NumPy .npz (arrays only; no pickled code)."""
from __future__ import annotations

import numpy as np

from .nn.module import Module
from .tensor import Tensor

SEP = "/"  # joins the keys of nested dicts in the file (module keys use ".")


def _flatten(obj, prefix, out):
    for k, v in obj.items():
        if not isinstance(k, str) or SEP in k or not k:
            raise TypeError(f"save: keys must be non-empty strings without {SEP!r} (it nests), got {k!r}")
        name = prefix + k
        if isinstance(v, Module):
            v = v.state_dict()
        if isinstance(v, dict):
            if not v:  # kept as a marker: load gives the empty dict back
                out[name + SEP] = np.zeros(0, np.float32)
            _flatten(v, name + SEP, out)
            continue
        a = v.numpy() if isinstance(v, Tensor) else np.asarray(v)
        if a.dtype == object:
            raise TypeError(f"save: entry {name!r} is not a numeric array, a string or a dict "
                            f"(got {type(v).__name__})")
        out[name] = a


def save(obj, path, format="npz"):
    """Save a Module's state dict, or a dict of tensors / arrays / numbers / strings,
    to ``path`` (.npz).  Dicts may nest (e.g. ``{"model": model.state_dict(),
    "opt": opt.state_dict(), "sched": sched.state_dict(), "epoch": 7}``; a Module
    as a value stands for its state dict); ``load`` gives the same nesting back.

    ``format="torch"``: PyTorch's checkpoint format instead (torch.save's zip, its
    pickle naming only tensor rebuilds, storages and containers), which
    ``torch.load`` reads -- ``weights_only=True`` too -- and ``load`` reads back:
    vkgrad weights for a PyTorch model (``vg.save(model, "m.pt", format="torch")``),
    written without PyTorch; tensors and arrays there become PyTorch tensors, dicts,
    lists, tuples, numbers and strings stay."""
    if isinstance(obj, Module):
        obj = obj.state_dict()
    if format == "torch":
        return _save_torch(obj, path)
    if format != "npz":
        raise ValueError(f"save: format must be 'npz' or 'torch', got {format!r}")
    if not isinstance(obj, dict):
        raise TypeError(f"save: expected a Module or a dict of arrays, got {type(obj).__name__}")
    state = {}
    _flatten(obj, "", state)
    if hasattr(path, "write"):  # (a file object -- io.BytesIO, an open file --, as PyTorch's save takes)
        np.savez(path, **state)
        return
    with open(path, "wb") as f:
        np.savez(f, **state)


def load(path, model=None, *, map_location=None, weights_only=None, mmap=None):  # noqa: ARG001
    """Read what ``save`` wrote: a dict name -> NumPy array (numbers and strings as
    0-d arrays), nested as it was saved; with ``model``, also load a model's state
    dict into it (names and shapes checked) and return the model.  PyTorch's
    ``map_location``, ``weights_only`` and ``mmap`` are accepted so its code runs:
    nothing is unpickled (arrays only, whatever ``weights_only`` says) and arrays
    have no device (``load_state_dict`` puts them on the model's).

    A file ``torch.save`` wrote (its zip format, PyTorch 1.6 on) is read too, without
    PyTorch: its tensors as NumPy arrays (bfloat16 widened to float32), the dicts,
    lists, numbers and strings around them as they were -- so a PyTorch model's
    weights load into the vkgrad model of the same layers (``vg.load("resnet.pt",
    model)``).  Only those are unpickled, as PyTorch's ``weights_only=True``: any
    other object in the file (pickled code, a whole saved Module) is refused.

    ``path``: a file name, or a file object open for binary reading (io.BytesIO)."""
    if hasattr(path, "read"):  # (a file object: read whole -- the zip readers below seek)
        import io
        path = io.BytesIO(path.read())
    if _is_torch_checkpoint(path):
        state = _load_torch(path)
        if model is not None:
            model.load_state_dict(state)
            return model
        return state
    if _first_byte(path) == b"\x80":  # (a pickle's first opcode: PROTO)
        raise ValueError(f"load: {_name(path)} is a pickle (PyTorch's legacy torch.save format, before 1.6, "
                         "or another): not read; save it again with torch.save (its zip format) or vkgrad.save")
    with np.load(path, allow_pickle=False) as z:
        state = {}
        for k in z.files:
            *path_, leaf = k.split(SEP)
            d = state
            for part in path_:
                d = d.setdefault(part, {})
            if leaf:  # (an empty leaf: the marker of an empty dict)
                d[leaf] = z[k]
    if model is not None:
        model.load_state_dict(state)
        return model
    return state


def _first_byte(path):
    if hasattr(path, "seek"):
        path.seek(0)
        b = path.read(1)
        path.seek(0)
        return b
    with open(path, "rb") as f:
        return f.read(1)


def _name(path):
    return "the file object" if hasattr(path, "read") else repr(str(path))


# -- PyTorch's checkpoints (torch.save's zip: data.pkl, its storages in data/<key>) --------------------
_TORCH_STORAGES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "BFloat16Storage": "<u2",
                   "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
                   "ByteStorage": "u1", "BoolStorage": "?"}
_TORCH_DTYPES = {"float32": "f32", "float": "f32", "float64": "f64", "double": "f64", "float16": "f16",
                 "half": "f16", "int32": "i32", "int": "i32", "int64": "i32", "long": "i32", "bool": "f32",
                 "bfloat16": "f32", "uint8": "i32", "int8": "i32", "int16": "i32"}


def _is_torch_checkpoint(path):
    import zipfile
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as z:
            return any(n == "data.pkl" or n.endswith("/data.pkl") for n in z.namelist())
    except OSError:
        return False


def _rebuild_tensor(storage, offset, size, stride, *_):
    """torch._utils._rebuild_tensor_v2: a strided view of the storage, copied out."""
    a = storage[0]
    if not size:
        return a[offset:offset + 1].reshape(()).copy()
    item = a.itemsize
    view = np.lib.stride_tricks.as_strided(a[offset:], shape=tuple(size), strides=tuple(s * item for s in stride))
    out = np.array(view)
    return (out.astype(np.uint32) << 16).view(np.float32) if storage[1] else out  # (bfloat16: its high half)


def _load_torch(path):
    import io
    import pickle
    import zipfile
    from collections import OrderedDict
    allowed = {("collections", "OrderedDict"): OrderedDict,
               ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
               ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
               ("torch._utils", "_rebuild_parameter"): lambda data, *_: data,
               ("torch._utils", "_rebuild_parameter_with_state"): lambda data, *_: data,
               ("torch.nn.parameter", "Parameter"): lambda data, *_: data,
               ("torch", "Size"): tuple, ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
               ("builtins", "slice"): slice, ("builtins", "complex"): complex}
    allowed.update({("torch", n): n for n in _TORCH_STORAGES})
    allowed.update({("torch", n): _TORCH_DTYPES[n] for n in _TORCH_DTYPES})
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = next(n for n in names if n == "data.pkl" or n.endswith("/data.pkl"))
        root = pkl[:-len("data.pkl")]
        big = root + "byteorder" in names and z.read(root + "byteorder").strip() == b"big"
        storages = {}

        class Unpickler(pickle.Unpickler):
            def find_class(self, module, name):
                if (module, name) not in allowed:
                    raise pickle.UnpicklingError(
                        f"load: {module}.{name} in {_name(path)} is not a tensor, a container, a number or a string; "
                        "only weights are read (as PyTorch's weights_only=True): save the state_dict() instead")
                return allowed[(module, name)]

            def persistent_load(self, pid):
                if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage"):
                    raise pickle.UnpicklingError(f"load: unknown persistent id {pid!r} in {_name(path)}")
                kind, key = pid[1], str(pid[2])
                if kind not in _TORCH_STORAGES:
                    raise pickle.UnpicklingError(f"load: storage type {kind!r} in {_name(path)} is not supported")
                if key not in storages:
                    dt = np.dtype(_TORCH_STORAGES[kind])
                    storages[key] = (np.frombuffer(z.read(f"{root}data/{key}"),
                                                   dt.newbyteorder(">") if big else dt), kind == "BFloat16Storage")
                return storages[key]
        return Unpickler(io.BytesIO(z.read(pkl))).load()


_STORAGE_OF = {"float32": "FloatStorage", "float64": "DoubleStorage", "float16": "HalfStorage", "int32": "IntStorage",
               "int64": "LongStorage", "int16": "ShortStorage", "int8": "CharStorage", "uint8": "ByteStorage",
               "bool": "BoolStorage"}


def _save_torch(obj, path):
    """torch.save's zip layout (archive/data.pkl, archive/data/<key> little-endian, archive/byteorder,
    archive/version), written with the Python pickler so that PyTorch's names go in as names."""
    import io
    import pickle
    import zipfile
    from collections import OrderedDict

    class Name:  # a global by name: PyTorch need not be importable here
        def __init__(self, module, name):
            self.module, self.name = module, name

        def __call__(self, *args):  # (the pickler takes only callables as a reduction's function)
            raise TypeError(f"{self.module}.{self.name} is a name written into the file")

    class Storage:
        def __init__(self, key, kind, n):
            self.key, self.kind, self.n = key, kind, n
    rebuild, arrays = Name("torch._utils", "_rebuild_tensor_v2"), []

    class Pickler(pickle._Pickler):
        def persistent_id(self, o):
            return ("storage", Name("torch", o.kind), o.key, "cpu", o.n) if isinstance(o, Storage) else None

        def save(self, o, save_persistent_id=True):
            if isinstance(o, Name):
                self.write(pickle.GLOBAL + f"{o.module}\n{o.name}\n".encode())
                return
            super().save(o, save_persistent_id)

        def reducer_override(self, o):
            if isinstance(o, Tensor):
                o = o.detach().numpy()
            if not isinstance(o, np.ndarray) or isinstance(o, np.generic):
                return NotImplemented
            kind = _STORAGE_OF.get(o.dtype.name)
            if kind is None:
                raise TypeError(f"save: an array of dtype {o.dtype} has no PyTorch storage type")
            a = np.ascontiguousarray(o).astype(o.dtype.newbyteorder("<"), copy=False)
            arrays.append(a)
            stride = tuple(int(np.prod(a.shape[d + 1:])) for d in range(a.ndim))
            return rebuild, (Storage(str(len(arrays) - 1), kind, a.size), 0, tuple(a.shape), stride, False,
                             OrderedDict())
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(obj)
    target = path if hasattr(path, "write") else open(path, "wb")
    try:
        with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as z:
            z.writestr("archive/data.pkl", buf.getvalue())
            z.writestr("archive/byteorder", "little")
            for k, a in enumerate(arrays):
                z.writestr(f"archive/data/{k}", a.tobytes())
            z.writestr("archive/version", "3\n")
    finally:
        if target is not path:
            target.close()
