"""Small bundled data sets."""
from __future__ import annotations

import os

import numpy as np

_HERE = os.path.dirname(__file__)
IRIS_CLASSES = ("setosa", "versicolor", "virginica")


def load_iris():
    """Fisher's iris data (150 rows): features [150, 4] float64, labels [150] int."""
    x, y = [], []
    with open(os.path.join(_HERE, "iris.csv")) as f:
        next(f)
        for line in f:
            *feat, species = line.strip().split(",")
            x.append([float(v) for v in feat])
            y.append(IRIS_CLASSES.index(species))
    return np.array(x), np.array(y, dtype=np.int64)


def iris_split(seed=42, n_train=120):
    """The seed's split: standardised features, one-hot labels, a random 120/30 split.

    Returns (x_tr, y_tr, x_vl, y_vl) as NumPy arrays, batch-first."""
    x, y = load_iris()
    x = (x - x.mean(0)) / x.std(0, ddof=1)  # R's scale()
    y_oh = np.eye(3)[y]
    idx = np.random.default_rng(seed).permutation(len(x))
    tr, vl = idx[:n_train], idx[n_train:]
    return x[tr], y_oh[tr], x[vl], y_oh[vl]


def synthetic_classification(n, features, classes, seed=0, noise=1.0):
    """Gaussian clusters: a learnable, reproducible data set of any size."""
    r = np.random.default_rng(seed)
    centers = r.standard_normal((classes, features)) * 2.0
    y = r.integers(0, classes, n)
    x = centers[y] + noise * r.standard_normal((n, features))
    return x.astype(np.float32), y
