import numpy as np
import pytest

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


def test_dataloader_errors():
    with pytest.raises(ValueError, match="x has 5 samples but y has 4"):
        DataLoader(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(np.zeros((5, 2)), batch_size=0)
    with pytest.raises(ValueError, match=r"x must be one array of samples, got a tuple .*DataLoader\(x, y\)"):
        DataLoader((np.zeros((5, 2)), np.zeros(5)))
