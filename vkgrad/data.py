"""DataLoader: shuffled mini-batches of (x, y) -- arrays, or a map-style dataset
(PyTorch's: ``__len__`` and ``__getitem__``; TensorDataset, Subset, random_split)
-- as tensors on the default device."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .random import rng
from .tensor import Tensor, tensor


class Dataset:
    """A map-style dataset, as PyTorch's: ``__len__`` and ``__getitem__(i)`` giving a
    sample (an array, a number, or a tuple of them)."""

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, i):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Samples ``(a[i], b[i], ...)`` of tensors (or arrays) sharing their first axis:
    each a tensor, as PyTorch's -- on the device of the first tensor given, the CPU
    for arrays -- in its dtype (integers stay integers).  Held on the host, so a
    DataLoader gathers whole batches by indexing (also through Subsets)."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array")
        given = [a for a in arrays if isinstance(a, Tensor)]
        self.device = given[0].device if given else "cpu"
        self.dtypes = [a.dtype if isinstance(a, Tensor) else None for a in arrays]
        self.arrays = [a.numpy() if isinstance(a, Tensor) else np.asarray(a) for a in arrays]
        n = {a.shape[0] if a.ndim else None for a in self.arrays}
        if len(n) != 1 or None in n:
            raise ValueError(f"TensorDataset: the arrays' first axes differ: {[list(a.shape) for a in self.arrays]}")

    def __len__(self):
        return self.arrays[0].shape[0]

    def __getitem__(self, i):
        return self._take(i, None, self.device)

    def _take(self, rows, dtype, device):
        """Each array's ``rows`` (a sample, or a DataLoader's batch) as a tensor on
        ``device`` (None: the default): floats in ``dtype`` or the given tensor's,
        integers kept."""
        return tuple(tensor(a[rows], dtype=None if a.dtype.kind in "iub" else dtype or dt, device=device)
                     for a, dt in zip(self.arrays, self.dtypes))


class IterableDataset:
    """An iterable-style dataset, as PyTorch's: ``__iter__`` yields samples (a
    stream: no length, no shuffling by the loader)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other):
        return ChainDataset([self, other])


class ConcatDataset(Dataset):
    """The samples of several map-style datasets, one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: expected at least one dataset")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset: iterable datasets have no indices (use ChainDataset)")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]))

    def __len__(self):
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, i):
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"ConcatDataset: index {i} out of range for {n} samples")
        i = i + n if i < 0 else i
        k = int(np.searchsorted(self.cumulative_sizes, i, side="right"))
        return self.datasets[k][i - (int(self.cumulative_sizes[k - 1]) if k else 0)]


class ChainDataset(IterableDataset):
    """The samples of several iterable datasets, one stream after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        for d in self.datasets:
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


class StackDataset(Dataset):
    """Samples zipped from datasets of one length: a tuple (positional datasets)
    or a dict (keyword datasets), as PyTorch's."""

    def __init__(self, *args, **kwargs):
        if bool(args) == bool(kwargs):
            raise ValueError("StackDataset: give datasets either positionally or by keyword")
        self.datasets = args or kwargs
        lengths = {len(d) for d in (args or kwargs.values())}
        if len(lengths) != 1:
            raise ValueError(f"StackDataset: the datasets' lengths differ: {sorted(lengths)}")
        self._length = lengths.pop()

    def __len__(self):
        return self._length

    def __getitem__(self, i):
        if isinstance(self.datasets, dict):
            return {k: d[i] for k, d in self.datasets.items()}
        return tuple(d[i] for d in self.datasets)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, [int(i) for i in indices]

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.dataset[self.indices[i]]


def _own_rng(op, seed, generator):
    """A sampler's NumPy generator: one from ``seed``, or ``generator``'s (a
    vkgrad.Generator, shared as PyTorch's: drawing advances it), else None (vkgrad's
    generator at each draw)."""
    if seed is not None and generator is not None:
        raise ValueError(f"{op}: give seed or generator, not both")
    if generator is not None:
        return rng(generator)
    return np.random.default_rng(seed) if seed is not None else None


def random_split(dataset, lengths, generator=None, seed=None):
    """Disjoint Subsets of ``dataset`` of ``lengths`` (counts, or fractions summing
    to 1: the remainder dealt one by one from the first, as PyTorch's), in an order
    drawn from ``generator`` (a vkgrad.Generator, as PyTorch's) or ``seed``, else
    vkgrad's generator."""
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(0 <= f <= 1 for f in lengths) and abs(sum(lengths) - 1) < 1e-9 and sum(lengths) != n:
        counts = [int(math.floor(n * f)) for f in lengths]
        for k in range(n - sum(counts)):
            counts[k % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n or any(int(k) != k or k < 0 for k in lengths):
        raise ValueError(f"random_split: lengths {lengths} must be counts summing to {n} or fractions summing to 1")
    order = (_own_rng("random_split", seed, generator) or rng()).permutation(n)
    out, o = [], 0
    for k in lengths:
        out.append(Subset(dataset, order[o:o + int(k)]))
        o += int(k)
    return out


class Sampler:
    """Base of the samplers (PyTorch's): ``__iter__`` yields sample indices, ``__len__``
    counts them.  ``DataLoader(..., sampler=...)`` serves them in that order."""

    def __iter__(self):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.n = len(data_source)

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class RandomSampler(Sampler):
    """A new permutation every epoch (``replacement``: ``num_samples`` draws with
    repeats), from ``generator`` (a vkgrad.Generator) or ``seed``, else vkgrad's generator."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None, seed=None):
        self.n, self.replacement = len(data_source), bool(replacement)
        self.num_samples = self.n if num_samples is None else int(num_samples)
        if self.num_samples < 1 or (not self.replacement and self.num_samples > self.n):
            raise ValueError(f"RandomSampler: num_samples must lie in [1, {self.n}] without replacement (>= 1 with), "
                             f"got {num_samples}")
        self._rng = _own_rng("RandomSampler", seed, generator)

    def __iter__(self):
        g = self._rng or rng()
        if self.replacement:
            return iter(g.integers(0, self.n, self.num_samples).tolist())
        return iter(g.permutation(self.n)[:self.num_samples].tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a new random order every epoch (from ``generator`` or
    ``seed``, as RandomSampler)."""

    def __init__(self, indices, generator=None, seed=None):
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self._rng = _own_rng("SubsetRandomSampler", seed, generator)

    def __iter__(self):
        return iter(self.indices[(self._rng or rng()).permutation(len(self.indices))].tolist())

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``
    (with repeats by default; PyTorch's, e.g. to balance classes)."""

    def __init__(self, weights, num_samples, replacement=True, generator=None, seed=None):
        w = np.asarray(weights.numpy() if isinstance(weights, Tensor) else weights, dtype=np.float64).reshape(-1)
        if w.size == 0 or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        self.p, self.num_samples, self.replacement = w / w.sum(), int(num_samples), bool(replacement)
        if self.num_samples < 1 or (not self.replacement and self.num_samples > int((w > 0).sum())):
            raise ValueError(f"WeightedRandomSampler: num_samples must be >= 1 (and without replacement at most "
                             f"the {int((w > 0).sum())} nonzero weights), got {num_samples}")
        self._rng = _own_rng("WeightedRandomSampler", seed, generator)

    def __iter__(self):
        g = self._rng or rng()
        return iter(g.choice(self.p.size, self.num_samples, replace=self.replacement, p=self.p).tolist())

    def __len__(self):
        return self.num_samples


class DistributedSampler(Sampler):
    """PyTorch's DistributedSampler: this replica's share of the indices -- the
    epoch's order (a permutation seeded by ``seed + epoch`` with ``shuffle``),
    padded by repeating its start to a multiple of ``num_replicas`` (or cut, with
    ``drop_last``), every num_replicas-th from ``rank``.  Call ``set_epoch(e)``
    each epoch for a new order (NumPy's permutation: PyTorch's generator draws
    another).  The replicas default to vkgrad.distributed's."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        from . import distributed
        if num_replicas is None:
            num_replicas = distributed.world_size() if distributed.is_initialized() else 1
        if rank is None:
            rank = distributed.rank() if distributed.is_initialized() else 0
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank {rank} out of range for {num_replicas} replicas")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.epoch = bool(shuffle), int(seed), bool(drop_last), 0
        n = len(dataset)
        self.num_samples = n // self.num_replicas if drop_last and n % self.num_replicas else \
            math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __iter__(self):
        n = len(self.dataset)
        order = np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle else np.arange(n)
        if self.total_size > n > 0:  # (padded by the order's start, repeated as needed: PyTorch's)
            order = np.tile(order, math.ceil(self.total_size / n))
        order = order[:self.total_size]
        return iter(order[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (the last shorter unless
    ``drop_last``), for ``DataLoader(batch_sampler=...)``."""

    def __init__(self, sampler, batch_size, drop_last=False):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"BatchSampler: batch_size must be a positive int, got {batch_size!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, bool(drop_last)

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


def _collate(samples, leaf):
    """Samples into a batch, PyTorch's default_collate's structure: dicts key by key,
    tuples and lists field by field (into a list, as PyTorch's; a namedtuple keeps
    its type), strings kept as a list, anything else -- arrays, numbers, tensors --
    stacked by ``leaf``."""
    first = samples[0]
    if isinstance(first, dict):
        return {k: _collate([s[k] for s in samples], leaf) for k in first}
    if isinstance(first, (str, bytes)):
        return list(samples)
    if isinstance(first, (tuple, list)):
        fields = [_collate([s[k] for s in samples], leaf) for k in range(len(first))]
        return type(first)(*fields) if _is_namedtuple(first) else fields
    return leaf(samples)


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _stacked_arrays(samples):
    """A field's samples stacked into one NumPy array (a DataLoader makes it a tensor
    on its device and in its dtype)."""
    return np.stack([s.numpy() if isinstance(s, Tensor) else np.asarray(s) for s in samples])


def _stacked_tensor(samples):
    if isinstance(samples[0], Tensor):  # (PyTorch's: stacked, their device and dtype kept)
        from .ops import stack
        return stack(list(samples), 0)
    return _as_tensor(_stacked_arrays(samples))


def _as_tensor(a, dtype=None, device=None):
    """An array or a NumPy scalar as a tensor (integers stay integers; floats in
    ``dtype``, None: the default) on ``device``; others as they are."""
    if isinstance(a, np.generic) and not isinstance(a, (np.str_, np.bytes_)):
        a = np.asarray(a)  # (a NumPy scalar: a 0-d tensor, as PyTorch's)
    if isinstance(a, np.ndarray) and a.dtype.kind in "iubf":
        return tensor(a, dtype="i32" if a.dtype.kind in "iu" else dtype, device=device)
    return a


def default_collate(samples):
    """A batch from a list of samples, as PyTorch's default_collate: tensors stacked
    (their device and dtype kept), arrays and numbers stacked into tensors, tuples
    and lists field by field into a list, dicts key by key, strings kept as a list.
    (A DataLoader without collate_fn collates the same way into its device and
    dtype.)"""
    return _collate(samples, _stacked_tensor)


def _convert(data, leaf):
    if isinstance(data, dict):
        return {k: _convert(v, leaf) for k, v in data.items()}
    if _is_namedtuple(data):  # (a namedtuple keeps its type)
        return type(data)(*(_convert(v, leaf) for v in data))
    if isinstance(data, (tuple, list)):  # (a tuple becomes a list, as PyTorch's default_convert)
        return [_convert(v, leaf) for v in data]
    return leaf(data)


def default_convert(data):
    """One sample as it is, its arrays and NumPy scalars made tensors: PyTorch's collate
    for batch_size None (each sample its own batch)."""
    return _convert(data, _as_tensor)


def _same(x):
    return x


def get_worker_info():
    """None: batches are made in the calling process (PyTorch's answer there)."""
    return None


def _is_dataset(x, y=None):
    """A map-style dataset: a Dataset, anything with ``__getitem__`` and ``__len__`` but
    arrays, or PyTorch's list of samples -- a list of tuples holding an array or a
    tensor, or of dicts, or (without y) of numbers or strings -- (other lists are
    ggmlR's x of samples: NumPy stacks them)."""
    if isinstance(x, (list, tuple)):
        first = x[0] if len(x) else None
        if y is None and isinstance(x, list) and x and not isinstance(first, (list, tuple, np.ndarray, Tensor)):
            return True
        return isinstance(first, dict) or isinstance(first, tuple) and any(
            isinstance(v, (Tensor, np.ndarray, list, tuple)) for v in first)
    return (isinstance(x, Dataset) or hasattr(x, "__getitem__") and hasattr(x, "__len__")
            and not isinstance(x, (np.ndarray, Tensor)))


def _rows_of(dataset):
    """(TensorDataset, its rows of the dataset's indices -- None: the same) where
    ``dataset`` is a TensorDataset or a Subset of one (nested): a batch is then its
    arrays indexed, not samples collated; else None."""
    rows = None
    while isinstance(dataset, Subset):
        here = np.asarray(dataset.indices, dtype=np.int64)
        rows = here if rows is None else here[rows]
        dataset = dataset.dataset
    return (dataset, rows) if isinstance(dataset, TensorDataset) else None


class _DefaultBatch(int):
    """The default batch size, 32, told apart from one given (batch_sampler refuses
    a given one, as PyTorch's)."""

    def __repr__(self):
        return "32"


_BATCH = _DefaultBatch(32)


class DataLoader:
    """Batches of ``(xb, yb)`` over the first axis of ``x`` and ``y``, or of a
    map-style ``dataset`` (first argument) collated by ``collate_fn`` (default:
    each field stacked), each field a tensor.

    Every sample appears once per epoch; with ``shuffle`` the order changes
    every epoch (from ``generator``, a vkgrad.Generator as PyTorch's, or ``seed``, else
    from ``vkgrad.manual_seed``'s generator).
    ``shuffle`` defaults to each form's origin: True for arrays ``x, y`` (ggmlR's
    ag_dataloader), False for a dataset or an array alone (PyTorch's DataLoader; a
    list of numbers or strings alone is a list of samples, as PyTorch's).
    ``y`` may be one-hot rows or integer labels; ``y=None`` yields ``xb`` only.
    PyTorch's ``num_workers``, ``pin_memory``, ``timeout``, ``worker_init_fn``,
    ``prefetch_factor`` and ``persistent_workers`` are accepted so its code runs:
    batches are gathered in the calling thread (NumPy indexing) and uploaded as
    they are served."""

    def __init__(self, x, y=None, batch_size=_BATCH, shuffle=None, drop_last=False, seed=None,
                 device=None, dtype=None, collate_fn=None, sampler=None, batch_sampler=None, num_workers=0,
                 pin_memory=False, timeout=0, worker_init_fn=None, prefetch_factor=None, persistent_workers=False,
                 generator=None):
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative int, got {num_workers!r}")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be >= 0, got {timeout}")
        if isinstance(y, numbers.Integral) and not isinstance(y, bool):  # PyTorch's DataLoader(dataset, 64)
            if batch_size is not _BATCH:
                raise TypeError(f"DataLoader: got batch_size twice ({y} in y's place -- PyTorch's second "
                                f"positional argument -- and {batch_size})")
            y, batch_size = None, int(y)
        self.num_workers, self.pin_memory = num_workers, bool(pin_memory)
        self.dataset, self.collate_fn, self.iterable = None, collate_fn, False
        if sampler is not None and batch_sampler is not None:
            raise ValueError("DataLoader: give sampler or batch_sampler, not both")
        if (sampler is not None or batch_sampler is not None) and shuffle:
            raise ValueError("DataLoader: shuffle=True with a sampler or batch_sampler: the sampler decides the "
                             "order (PyTorch's rule); drop shuffle, or use a RandomSampler")
        if batch_sampler is not None and (batch_size is not _BATCH or drop_last):
            raise ValueError("DataLoader: batch_sampler makes the batches: no batch_size or drop_last with it")
        self.sampler, self.batch_sampler = sampler, batch_sampler
        if sampler is not None or batch_sampler is not None:
            shuffle = False  # (the sampler decides the order)
        if isinstance(x, IterableDataset):
            if y is not None or shuffle or sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader: an IterableDataset streams its samples: no y, shuffle, sampler "
                                 "or batch_sampler")
            self.dataset, self.x, self.y, self.iterable = x, None, None, True
            shuffle = False
        elif _is_dataset(x, y):
            if y is not None:
                raise ValueError("DataLoader: give a dataset alone (its samples hold the targets), not with y")
            if len(x) == 0:
                raise ValueError("DataLoader: the dataset is empty")
            self.dataset, self.x, self.y = x, None, None
            shuffle = False if shuffle is None else shuffle  # (PyTorch's default)
        else:
            self.x, self.y = self._array("x", x), None if y is None else self._array("y", y)
            # ggmlR's ag_dataloader(x, y) shuffles; x alone is PyTorch's DataLoader(array): in order
            # (a test set's predictions line up with its labels)
            shuffle = (y is not None) if shuffle is None else shuffle
        batch_size = 32 if batch_size is _BATCH else batch_size
        if batch_size is None:  # (PyTorch's: no batching -- each sample as it is, its arrays tensors)
            if drop_last or batch_sampler is not None:
                raise ValueError("DataLoader: batch_size=None (no batching) excludes drop_last and batch_sampler")
        elif isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int or None, got {batch_size!r}")
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.device, self.dtype = device, dtype
        self._rng = _own_rng("DataLoader", seed, generator)
        self.shard = (0, 1)  # (rank, world): set by vkgrad.distributed
        if self.dataset is not None:
            return
        if self.x.ndim < 1 or self.x.shape[0] == 0:
            raise ValueError(f"DataLoader: x must have at least one sample, got shape {list(self.x.shape)}")
        if self.y is not None and self.y.shape[0] != self.x.shape[0]:
            raise ValueError(f"DataLoader: x has {self.x.shape[0]} samples but y has "
                             f"{self.y.shape[0]} (shapes {list(self.x.shape)} and {list(self.y.shape)})")

    @staticmethod
    def _array(name, a):
        if isinstance(a, Tensor):
            return a.numpy()
        try:
            return np.asarray(a)
        except ValueError as e:  # ragged: e.g. an (x, y) pair passed as x
            raise ValueError(f"DataLoader: {name} must be one array of samples, got a {type(a).__name__} "
                             f"that NumPy cannot stack ({e}); pass inputs and targets apart: "
                             f"DataLoader(x, y)") from None

    def __len__(self):
        if self.iterable:
            if not hasattr(self.dataset, "__len__"):
                raise TypeError("DataLoader: an IterableDataset without __len__ has no length")
            n = len(range(self.shard[0], len(self.dataset), self.shard[1]))
            return n if self.batch_size is None else n // self.batch_size if self.drop_last else \
                math.ceil(n / self.batch_size)
        if self.batch_sampler is not None:
            r, w = self.shard
            return len(range(r, len(self.batch_sampler), w))
        n = self._indices_len()
        return n if self.batch_size is None else n // self.batch_size if self.drop_last else \
            math.ceil(n / self.batch_size)

    def _samples(self):
        return len(self.dataset) if self.dataset is not None else self.x.shape[0]

    def _indices_len(self):
        n = len(self.sampler) if self.sampler is not None else self._samples()
        r, w = self.shard
        return len(range(r, n, w))

    def epoch_order(self):
        """The sample indices of one epoch, in the order they will be served (the
        sampler's, when one was given)."""
        if self.sampler is not None:
            order = np.fromiter((int(i) for i in self.sampler), dtype=np.int64)
        else:
            n = self._samples()
            order = (self._rng or rng()).permutation(n) if self.shuffle else np.arange(n)
        r, w = self.shard
        return order[r::w]

    def _batches(self):
        if self.batch_sampler is not None:
            r, w = self.shard
            yield from (np.asarray(b, dtype=np.int64) for k, b in enumerate(self.batch_sampler) if k % w == r)
            return
        order, bs = self.epoch_order(), self.batch_size
        for s in range(0, len(order), bs):
            if self.drop_last and len(order) - s < bs:
                return
            yield order[s:s + bs]

    def _stream(self):
        """An IterableDataset's batches: samples in groups of batch_size (this
        replica's every world-th sample under vkgrad.distributed)."""
        r, w = self.shard
        batch = []
        for k, sample in enumerate(self.dataset):
            if k % w != r:
                continue
            if self.batch_size is None:
                yield self._tensors(self.collate_fn(sample) if self.collate_fn else _convert(sample, _same))
                continue
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self._collated(batch)
                batch = []
        if batch and not self.drop_last:
            yield self._collated(batch)

    def __iter__(self):
        if self.iterable:
            yield from self._stream()
            return
        n = self._samples()
        if self.batch_size is None:
            yield from self._unbatched(n)
            return
        table = _rows_of(self.dataset) if self.dataset is not None and self.collate_fn is None else None
        for idx in self._batches():
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise IndexError(f"DataLoader: the sampler gave indices in [{idx.min()}, {idx.max()}], outside "
                                 f"the {n} samples")
            if self.dataset is not None:
                if table is not None:  # (a TensorDataset: its arrays indexed, as the collated samples)
                    td, rows = table
                    yield list(td._take(idx if rows is None else rows[idx], self.dtype, self.device))
                    continue
                yield self._collated([self.dataset[int(i)] for i in idx])
                continue
            xb = tensor(self.x[idx], dtype=self.dtype, device=self.device)
            if self.y is None:
                yield xb
            else:
                yb = tensor(self.y[idx], dtype=None if self.y.dtype.kind in "iub" else self.dtype,
                            device=self.device)
                yield xb, yb

    def _unbatched(self, n):
        """batch_size=None: each sample in the epoch's order, not collated (PyTorch's
        default_convert: arrays and NumPy scalars become tensors)."""
        for i in self.epoch_order():
            i = int(i)
            if not 0 <= i < n:
                raise IndexError(f"DataLoader: the sampler gave index {i}, outside the {n} samples")
            if self.dataset is not None:
                sample = self.dataset[i]
                yield self._tensors(self.collate_fn(sample) if self.collate_fn else _convert(sample, _same))
            else:
                xs = self._tensors(np.asarray(self.x[i]))
                yield xs if self.y is None else (xs, self._tensors(np.asarray(self.y[i])))

    def _collated(self, samples):
        """A batch of samples: collate_fn's, or PyTorch's default structure with each
        field stacked into a tensor on this loader's device and in its dtype."""
        if self.collate_fn is not None:
            return self._tensors(self.collate_fn(samples))
        return self._tensors(_collate(samples, _stacked_arrays))

    def _tensors(self, batch):
        """A collated batch's arrays as tensors (integers stay integers) on the loader's
        device (a tensor from collate_fn moved there when device= was given); tuples,
        lists and dicts kept."""
        if _is_namedtuple(batch):
            return type(batch)(*(self._tensors(b) for b in batch))
        if isinstance(batch, (tuple, list)):
            return type(batch)(self._tensors(b) for b in batch)
        if isinstance(batch, dict):
            return {k: self._tensors(v) for k, v in batch.items()}
        if isinstance(batch, Tensor):
            return batch if self.device is None else batch.to(self.device)
        return _as_tensor(batch, self.dtype, self.device)

    epoch = __iter__  # the seed's dl$epoch()
