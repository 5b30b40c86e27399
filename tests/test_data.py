import numpy as np
import pytest

import vkgrad as vg
from vkgrad.data import DataLoader


def test_every_sample_once_per_epoch(bk):
    x = np.arange(50, dtype=np.float64).reshape(25, 2)
    y = np.arange(25)
    dl = DataLoader(x, y, batch_size=4, shuffle=True, seed=3, device=bk.device, dtype=bk.dtype)
    assert len(dl) == 7
    for _ in range(2):
        seen = []
        for xb, yb in dl:
            assert xb.device.startswith(bk.device) and yb.dtype == "i32"
            np.testing.assert_array_equal(xb.numpy()[:, 0].astype(int) // 2, yb.numpy())
            seen.extend(yb.numpy().tolist())
        assert sorted(seen) == list(range(25))


def test_shuffle_changes_order_and_drop_last():
    x = np.arange(10.0).reshape(10, 1)
    dl = DataLoader(x, batch_size=3, shuffle=True, seed=0, drop_last=True)
    assert len(dl) == 3
    e1 = np.concatenate([b.numpy()[:, 0] for b in dl])
    e2 = np.concatenate([b.numpy()[:, 0] for b in dl])
    assert len(e1) == 9 and not np.array_equal(e1, e2)
    plain = DataLoader(x, batch_size=4, shuffle=False)
    assert [b.shape[0] for b in plain] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b.numpy()[:, 0] for b in plain]), np.arange(10))
    # the defaults: ggmlR's ag_dataloader(x, y) shuffles; x alone is PyTorch's DataLoader(array), in
    # order (a test set's predictions line up with its labels: it shuffled silently before)
    assert DataLoader(x, x[:, 0]).shuffle and not DataLoader(x).shuffle
    np.testing.assert_array_equal(np.concatenate([b.numpy()[:, 0] for b in DataLoader(x, batch_size=4)]),
                                  np.arange(10))
    # a list of numbers or strings alone: PyTorch's samples (strings kept as lists; they raised)
    assert [b.numpy().tolist() for b in DataLoader([3, 1, 2], batch_size=2, device="cpu")] == [[3, 1], [2]]
    assert list(DataLoader(["a.png", "b.png", "c.png"], batch_size=2)) == [["a.png", "b.png"], ["c.png"]]
    assert [b.shape[0] for b in DataLoader(x, 4)] == [4, 4, 2]  # (PyTorch's positional batch_size)
    with pytest.raises(TypeError, match=r"DataLoader: got batch_size twice \(4 in y's place"):
        DataLoader(x, 4, batch_size=5)


def test_dataloader_errors():
    with pytest.raises(ValueError, match="x has 5 samples but y has 4"):
        DataLoader(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(np.zeros((5, 2)), batch_size=0)
    with pytest.raises(ValueError, match=r"x must be one array of samples, got a tuple .*DataLoader\(x, y\)"):
        DataLoader((np.zeros((5, 2)), np.zeros(5)))


def test_map_style_datasets():
    """A DataLoader over PyTorch-style datasets: TensorDataset, a custom Dataset with
    a collate_fn, Subsets from random_split (counts or fractions); every sample once
    per epoch, integer fields kept integers; bad arguments named."""
    x = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    ds = vg.data.TensorDataset(x, y)
    assert len(ds) == 10 and ds[3][1] == 3
    seen = []
    for xb, yb in vg.data.DataLoader(ds, batch_size=4, shuffle=True, seed=0, device="cpu"):
        assert xb.shape[1:] == (2,) and yb.dtype == "i32" and xb.dtype == "f32"
        np.testing.assert_array_equal(xb.numpy()[:, 0], 2 * yb.numpy())
        seen += yb.numpy().tolist()
    assert sorted(seen) == list(range(10))

    class Squares(vg.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"v": float(i) ** 2}
    dl = vg.data.DataLoader(Squares(), batch_size=2, shuffle=False, device="cpu",
                            collate_fn=lambda ss: np.array([s["v"] for s in ss]))
    assert [b.numpy().tolist() for b in dl] == [[0.0, 1.0], [4.0, 9.0], [16.0]] and len(dl) == 3
    a, b = vg.data.random_split(ds, [0.7, 0.3], seed=1)
    assert (len(a), len(b)) == (7, 3) and sorted(a.indices + b.indices) == list(range(10))
    a2, _ = vg.data.random_split(ds, [7, 3], seed=1)
    assert a2.indices == a.indices
    with pytest.raises(ValueError, match="random_split: lengths \\[4, 4\\] must be counts summing to 10"):
        vg.data.random_split(ds, [4, 4])
    with pytest.raises(ValueError, match="TensorDataset: the arrays' first axes differ"):
        vg.data.TensorDataset(x, y[:5])
    with pytest.raises(ValueError, match="DataLoader: give a dataset alone"):
        vg.data.DataLoader(ds, y)

    class Records(vg.data.Dataset):  # dict samples with a string field: collated key by key
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"x": np.full(2, float(i)), "label": i, "name": f"item{i}"}
    (b,) = list(vg.data.DataLoader(Records(), batch_size=3, device="cpu"))
    assert sorted(b) == ["label", "name", "x"] and b["x"].shape == (3, 2) and b["label"].dtype == "i32"
    assert b["name"] == ["item0", "item1", "item2"]
    # PyTorch's defaults and arguments for the dataset form: in order unless asked
    dl = vg.data.DataLoader(ds, batch_size=3, num_workers=4, pin_memory=True, persistent_workers=True,
                            device="cpu")
    assert [int(v) for _, yb in dl for v in yb.numpy()] == list(range(10)) and not dl.shuffle
    assert vg.data.DataLoader(x, y).shuffle  # (the arrays form: ggmlR's shuffled default)
    with pytest.raises(ValueError, match="DataLoader: num_workers must be a non-negative int, got -1"):
        vg.data.DataLoader(ds, num_workers=-1)


def test_samplers():
    """DataLoader(sampler=...) serves the sampler's order, batch_sampler its batches;
    WeightedRandomSampler draws by its weights, RandomSampler with or without
    replacement, SubsetRandomSampler only its indices; bad arguments raise."""
    D = vg.data
    x, y = np.arange(10.0)[:, None], np.arange(10)
    dl = D.DataLoader(x, y, batch_size=4, sampler=D.SequentialSampler(x))
    assert [b[1].numpy().tolist() for b in dl] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] and len(dl) == 3
    sub = D.SubsetRandomSampler([7, 2, 5], seed=1)
    got = [int(v) for _, yb in D.DataLoader(x, y, batch_size=2, sampler=sub) for v in yb.numpy()]
    assert sorted(got) == [2, 5, 7]
    bs = D.BatchSampler(D.SequentialSampler(range(7)), 3, drop_last=True)
    assert list(bs) == [[0, 1, 2], [3, 4, 5]] and len(bs) == 2
    dl = D.DataLoader(x, y, batch_sampler=bs)
    assert [yb.numpy().tolist() for _, yb in dl] == [[0, 1, 2], [3, 4, 5]] and len(dl) == 2
    w = np.array([0.0, 1.0, 3.0, 0.0])
    draws = np.array(list(D.WeightedRandomSampler(w, 4000, seed=3)))
    assert set(draws.tolist()) == {1, 2} and abs((draws == 2).mean() - 0.75) < 0.03
    assert sorted(D.WeightedRandomSampler(w, 2, replacement=False, seed=4)) == [1, 2]
    r = list(D.RandomSampler(range(6), seed=5))
    assert sorted(r) == list(range(6))
    rr = list(D.RandomSampler(range(3), replacement=True, num_samples=20, seed=6))
    assert len(rr) == 20 and set(rr) <= {0, 1, 2}
    ds = D.TensorDataset(x, y)
    batches = list(D.DataLoader(ds, batch_size=5, sampler=D.RandomSampler(ds, seed=7)))
    assert sorted(int(v) for _, yb in batches for v in yb.numpy()) == list(range(10))
    with pytest.raises(ValueError, match="DataLoader: give sampler or batch_sampler, not both"):
        D.DataLoader(x, y, sampler=D.SequentialSampler(x), batch_sampler=bs)
    with pytest.raises(IndexError, match=r"DataLoader: the sampler gave indices in \[3, 12\], outside the 10"):
        list(D.DataLoader(x, y, sampler=[3, 12]))
    with pytest.raises(ValueError, match="WeightedRandomSampler: weights must be finite, non-negative"):
        D.WeightedRandomSampler([0.0, -1.0], 3)
    with pytest.raises(ValueError, match=r"WeightedRandomSampler: num_samples must be >= 1 \(and without replacement"):
        D.WeightedRandomSampler(w, 3, replacement=False)
    with pytest.raises(ValueError, match=r"RandomSampler: num_samples must lie in \[1, 6\]"):
        D.RandomSampler(range(6), num_samples=7)


def test_iterable_concat_chain_stack_datasets_and_distributed_sampler():
    """IterableDataset streams through the DataLoader in batches (sharded every
    world-th sample; no shuffle), ConcatDataset / ChainDataset / StackDataset
    combine datasets, DistributedSampler splits an epoch's order across replicas
    (padded to equal shares, reshuffled by set_epoch), as PyTorch's."""
    from vkgrad.utils.data import (ChainDataset, ConcatDataset, DistributedSampler, IterableDataset, StackDataset,
                                   TensorDataset, default_convert, get_worker_info)

    class Count(IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter([(np.array([float(i)]), i) for i in range(self.n)])

        def __len__(self):
            return self.n
    dl = vg.utils.data.DataLoader(Count(7), batch_size=3, device="cpu")
    batches = list(dl)
    assert [b[1].numpy().tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]] and len(dl) == 3
    assert batches[0][0].shape == (3, 1)
    dl = vg.utils.data.DataLoader(Count(7), batch_size=3, drop_last=True, device="cpu")
    assert len(list(dl)) == 2 == len(dl)
    dl.shard = (1, 2)
    assert [b[1].numpy().tolist() for b in dl] == [[1, 3, 5]]
    with pytest.raises(ValueError, match="DataLoader: an IterableDataset streams its samples: no y, shuffle"):
        vg.utils.data.DataLoader(Count(3), shuffle=True)
    chain = Count(2) + Count(3)
    assert isinstance(chain, ChainDataset) and [s[1] for s in chain] == [0, 1, 0, 1, 2] and len(chain) == 5
    a, b = TensorDataset(np.arange(3.0)), TensorDataset(np.arange(10.0, 14.0))
    cat = ConcatDataset([a, b])
    assert len(cat) == 7 and cat[2][0] == 2.0 and cat[3][0] == 10.0 and cat[-1][0] == 13.0
    with pytest.raises(IndexError, match="ConcatDataset: index 7 out of range for 7 samples"):
        cat[7]
    with pytest.raises(TypeError, match="ConcatDataset: iterable datasets have no indices"):
        ConcatDataset([Count(2)])
    st = StackDataset(img=np.arange(4.0), label=np.arange(4) * 2)
    assert st[1] == {"img": 1.0, "label": 2} and len(st) == 4
    assert StackDataset(np.arange(3.0), np.arange(3.0) + 1)[2] == (2.0, 3.0)
    with pytest.raises(ValueError, match=r"StackDataset: the datasets' lengths differ: \[2, 3\]"):
        StackDataset(np.arange(2), np.arange(3))
    shares = [list(DistributedSampler(range(10), num_replicas=3, rank=r, shuffle=False)) for r in range(3)]
    assert shares == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]  # (padded from the start: PyTorch's)
    assert [list(DistributedSampler(range(10), 3, r, shuffle=False, drop_last=True)) for r in range(3)] == \
        [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    s = DistributedSampler(range(12), num_replicas=2, rank=0, seed=3)
    e0 = list(s)
    s.set_epoch(1)
    e1 = list(s)
    other = DistributedSampler(range(12), num_replicas=2, rank=1, seed=3)
    assert e0 != e1 and sorted(e0 + list(other)) == list(range(12)) and len(s) == 6
    with pytest.raises(ValueError, match="DistributedSampler: rank 2 out of range for 2 replicas"):
        DistributedSampler(range(4), 2, 2)
    loader = vg.utils.data.DataLoader(TensorDataset(np.arange(10.0)), batch_size=2,
                                      sampler=DistributedSampler(range(10), 2, 1, shuffle=False), device="cpu")
    assert [b[0].numpy().tolist() for b in loader] == [[1.0, 3.0], [5.0, 7.0], [9.0]]
    assert default_convert({"a": (1, [2, 3])}) == {"a": [1, [2, 3]]} and get_worker_info() is None  # (PyTorch's)


def test_distributed_sampler_matches_torch_without_shuffle_if_available():
    torch = pytest.importorskip("torch")
    from vkgrad.utils.data import DistributedSampler
    for n, w, drop in ((10, 3, False), (10, 3, True), (2, 4, False), (7, 7, False)):
        for r in range(w):
            ours = list(DistributedSampler(range(n), w, r, shuffle=False, drop_last=drop))
            theirs = list(torch.utils.data.DistributedSampler(range(n), w, r, shuffle=False, drop_last=drop))
            assert ours == theirs, (n, w, r, drop)


def test_loader_without_batching():
    """batch_size=None (PyTorch's): each sample as it is -- no batch axis --, its
    arrays and NumPy scalars tensors, for a dataset, arrays x / y and an iterable
    dataset; len() counts samples; drop_last with it raises (it failed with a
    TypeError)."""
    x, y = np.arange(8.0, dtype=np.float32).reshape(4, 2), np.arange(4)
    ds = vg.data.TensorDataset(x, y)
    got = list(vg.data.DataLoader(ds, batch_size=None))
    assert len(got) == 4 and len(vg.data.DataLoader(ds, batch_size=None)) == 4
    assert got[2][0].shape == (2,) and got[2][1].shape == () and int(got[2][1].item()) == 2
    np.testing.assert_array_equal(got[3][0].numpy(), x[3])
    pairs = list(vg.data.DataLoader(x, y, batch_size=None, shuffle=False))
    assert [int(b.item()) for _, b in pairs] == [0, 1, 2, 3] and pairs[0][0].shape == (2,)

    class Stream(vg.data.IterableDataset):
        def __iter__(self):
            return iter([(np.ones(3) * k, k) for k in range(3)])
    items = list(vg.data.DataLoader(Stream(), batch_size=None))
    assert len(items) == 3 and items[1][0].shape == (3,) and items[1][1] == 1
    with pytest.raises(ValueError, match="DataLoader: batch_size=None .* excludes drop_last"):
        vg.data.DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match=r"DataLoader: batch_size must be a positive int or None, got 0"):
        vg.data.DataLoader(ds, batch_size=0)


def test_generators_make_splits_and_shuffles_reproducible():
    """random_split / DataLoader / the samplers take ``generator=`` as PyTorch's (the
    tutorials' random_split(ds, [0.8, 0.2], generator=Generator().manual_seed(42))):
    the same seed, the same split and order, independent of vkgrad.manual_seed; a
    generator and a seed together are refused."""
    D = vg.data
    ds = D.TensorDataset(np.arange(20, dtype=np.float32))
    splits = []
    for s in (0, 1):
        vg.manual_seed(s)  # (vkgrad's own generator: no effect on a split drawn from g)
        a, b = D.random_split(ds, [0.8, 0.2], generator=vg.Generator().manual_seed(42))
        splits.append((list(a.indices), list(b.indices)))
    assert splits[0] == splits[1] and sorted(splits[0][0] + splits[0][1]) == list(range(20))
    assert splits[0][0] == np.random.default_rng(42).permutation(20)[:16].tolist()
    orders = [[int(v) for xb, in D.DataLoader(ds, batch_size=5, shuffle=True, generator=vg.Generator().manual_seed(3))
               for v in xb.numpy()] for _ in range(2)]
    assert orders[0] == orders[1] == np.random.default_rng(3).permutation(20).tolist()
    g = vg.Generator().manual_seed(9)
    first = list(D.RandomSampler(range(6), generator=g))
    assert first == np.random.default_rng(9).permutation(6).tolist()
    assert list(D.SubsetRandomSampler([4, 5, 6], generator=vg.Generator().manual_seed(2))) == \
        np.array([4, 5, 6])[np.random.default_rng(2).permutation(3)].tolist()
    assert len(list(D.WeightedRandomSampler([1.0, 2.0], 5, generator=vg.Generator().manual_seed(1)))) == 5
    with pytest.raises(ValueError, match="random_split: give seed or generator, not both"):
        D.random_split(ds, [10, 10], generator=g, seed=1)


def test_tensor_datasets_give_tensors_and_lists_of_samples_are_datasets(monkeypatch):
    """TensorDataset items are tensors (PyTorch's: x.unsqueeze(0) on ds[0] worked there,
    not on the arrays it gave), on the device of the tensors given and in their dtype;
    a DataLoader over it -- or over Subsets of it from random_split -- indexes the
    arrays for a whole batch instead of collating samples (the same batches); a list
    of (array, label) samples is a dataset, as PyTorch's (it raised: not stackable)."""
    D = vg.data
    x = np.arange(20.0, dtype=np.float32).reshape(10, 2)
    ds = D.TensorDataset(vg.tensor(x, device="cpu", dtype="f64"), np.arange(10))
    xi, yi = ds[3]
    assert isinstance(xi, vg.Tensor) and xi.dtype == "f64" and xi.device == "cpu" and yi.dtype == "i32"
    assert xi.unsqueeze(0).shape == (1, 2) and yi.item() == 3
    train, _ = D.random_split(ds, [6, 4], generator=vg.Generator().manual_seed(0))
    collated = [tuple(b.numpy() for b in batch) for batch in
                D.DataLoader(train, batch_size=4, device="cpu", collate_fn=D.default_collate)]
    calls = []
    monkeypatch.setattr(D.TensorDataset, "__getitem__", lambda self, i: calls.append(i))
    fast = [tuple(b.numpy() for b in batch) for batch in D.DataLoader(train, batch_size=4, device="cpu")]
    assert not calls and len(fast) == len(collated) == 2  # (no sample fetched one by one)
    for (fx, fy), (cx, cy) in zip(fast, collated):
        np.testing.assert_array_equal(fx, cx)
        np.testing.assert_array_equal(fy, cy)
    monkeypatch.undo()
    assert fast[0][0].dtype == np.float64  # (the given tensor's dtype kept)
    samples = [(np.full(3, float(i)), i) for i in range(5)]
    batches = list(D.DataLoader(samples, batch_size=2, device="cpu"))
    assert [b[1].numpy().tolist() for b in batches] == [[0, 1], [2, 3], [4]] and batches[0][0].shape == (2, 3)
    assert [b.numpy().tolist() for b in D.DataLoader([[1.0, 2.0], [3.0, 4.0]], batch_size=2, shuffle=False,
                                                     device="cpu")] == [[[1.0, 2.0], [3.0, 4.0]]]


def test_collate_structure_and_sampler_conflicts_are_pytorchs():
    """Batches of tuple or list samples are lists of fields (PyTorch's default_collate;
    tuples before), nested dicts / lists / strings alike; default_collate itself gives
    tensors (stacked tensors keep their device and dtype), default_convert makes a
    sample's arrays tensors; shuffle with a sampler, and batch_size / drop_last with a
    batch_sampler, raise as PyTorch's (they were silently overridden); a namedtuple
    keeps its type."""
    D = vg.data

    class DS(D.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"a": (np.array([float(i)]), [i, i + 1]), "name": f"s{i}"}, i
    batches = list(D.DataLoader(DS(), batch_size=2, device="cpu"))
    (d, lab) = batches[0]
    assert isinstance(batches[0], list) and isinstance(d["a"], list) and isinstance(d["a"][1], list)
    assert d["a"][0].numpy().tolist() == [[0.0], [1.0]] and d["a"][1][1].numpy().tolist() == [1, 2]
    assert d["name"] == ["s0", "s1"] and lab.dtype == "i32" and lab.numpy().tolist() == [0, 1]
    td = D.TensorDataset(np.zeros((4, 2)), np.arange(4))
    assert isinstance(next(iter(D.DataLoader(td, batch_size=2, device="cpu"))), list)
    x = vg.tensor(np.ones(2), dtype="f64", device="cpu")
    got = D.default_collate([(x, 1), (x * 2, 3)])
    assert isinstance(got, list) and got[0].dtype == "f64" and got[0].device == "cpu" and got[0].shape == (2, 2)
    assert isinstance(got[1], vg.Tensor) and got[1].dtype == "i32" and got[1].numpy().tolist() == [1, 3]
    assert isinstance(D.default_convert((np.ones(2), 3)), list)
    assert [type(b).__name__ for b in D.DataLoader([(np.ones(2), 1), (np.zeros(2), 0)], batch_size=None)] == \
        ["list", "list"]
    # a namedtuple sample keeps its type, batched or not (it became a list; batch_size=None raised)
    import collections
    Pt = collections.namedtuple("Pt", "x y")
    pts = [Pt(np.ones(2) * i, float(i)) for i in range(3)]
    b = next(iter(D.DataLoader(pts, batch_size=3, device="cpu")))
    assert type(b) is Pt and b.x.shape == (3, 2) and b.y.numpy().tolist() == [0.0, 1.0, 2.0]
    one = next(iter(D.DataLoader(pts, batch_size=None, device="cpu")))
    assert type(one) is Pt and one.x.shape == (2,) and one.y == 0.0
    assert type(D.default_collate(pts)) is Pt
    conv = D.default_convert({"x": np.arange(3), "s": "t", "f": np.float32(2.5)})
    assert isinstance(conv["x"], vg.Tensor) and conv["s"] == "t" and conv["f"].item() == 2.5
    with pytest.raises(ValueError, match="DataLoader: shuffle=True with a sampler or batch_sampler"):
        D.DataLoader(range(4), shuffle=True, sampler=[0, 1])
    with pytest.raises(ValueError, match="DataLoader: batch_sampler makes the batches: no batch_size or drop_last"):
        D.DataLoader(range(4), batch_size=3, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="no batch_size or drop_last"):
        D.DataLoader(range(4), batch_sampler=[[0]], drop_last=True)
    assert [b.numpy().tolist() for b in D.DataLoader(range(4), batch_sampler=[[3, 0], [1]], device="cpu")] == \
        [[3, 0], [1]]
    assert repr(D.DataLoader.__init__.__defaults__[1]) == "32"  # (the default batch size, as documented)
