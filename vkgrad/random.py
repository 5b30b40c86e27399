"""Seeding: parameter initialisation and dropout masks draw from here."""
from __future__ import annotations

import numpy as np

_state = {"rng": np.random.default_rng(0), "seed": 0, "counter": 0}


def manual_seed(seed):
    """Seed initialisation, dropout masks and DataLoader shuffles (when not given a seed)."""
    seed = int(seed)
    _state["rng"] = np.random.default_rng(seed)
    _state["seed"] = seed
    _state["counter"] = 0


def rng():
    return _state["rng"]


def next_seed():
    """A fresh 32-bit seed for a counter-based mask (same on every backend)."""
    _state["counter"] += 1
    return (_state["seed"] * 1000003 + _state["counter"] * 2654435761) & 0xFFFFFFFF
