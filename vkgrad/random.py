"""Seeding: parameter initialisation and dropout masks draw from here."""
from __future__ import annotations

import numpy as np

from ._values import scalar

_state = {"rng": np.random.default_rng(0), "seed": 0, "counter": 0}


def manual_seed(seed):
    """Seed initialisation, dropout masks and DataLoader shuffles (when not given a seed)."""
    seed = int(seed)
    _state["rng"] = np.random.default_rng(seed)
    _state["seed"] = seed
    _state["counter"] = 0


def initial_seed():
    """The seed last given to ``manual_seed`` (or ``seed``)."""
    return _state["seed"]


def seed():
    """Seed the generator from the operating system's entropy; returns that seed."""
    s = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1)
    manual_seed(s)
    return s


def next_seed():
    """A fresh 32-bit seed for a counter-based mask (same on every backend)."""
    _state["counter"] += 1
    return (_state["seed"] * 1000003 + _state["counter"] * 2654435761) & 0xFFFFFFFF


def _state_of(gen, seed, counter):
    """A PCG64 generator's state with its seed and mask counter, as numbers and strings."""
    bg = gen.bit_generator.state
    return {"seed": seed, "counter": counter, "bit_generator": bg["bit_generator"],
            "state": str(bg["state"]["state"]), "inc": str(bg["state"]["inc"]),  # (128-bit integers)
            "has_uint32": int(bg["has_uint32"]), "uinteger": int(bg["uinteger"])}


def _from_state(state, op):
    """(generator, seed, counter) from _state_of's dict (0-d arrays from vkgrad.load too)."""
    try:
        kind = str(scalar(state["bit_generator"]))
        if kind != "PCG64":
            raise ValueError(f"{op}: a {kind} state; vkgrad's generators are PCG64")
        gen = np.random.default_rng()
        gen.bit_generator.state = {"bit_generator": kind,
                                   "state": {"state": int(str(scalar(state["state"]))),
                                             "inc": int(str(scalar(state["inc"])))},
                                   "has_uint32": int(scalar(state["has_uint32"])),
                                   "uinteger": int(scalar(state["uinteger"]))}
        return gen, int(scalar(state["seed"])), int(scalar(state["counter"]))
    except (KeyError, TypeError) as e:
        raise ValueError(f"{op}: expected the dict get_rng_state() gives, got {type(state).__name__} "
                         f"({type(e).__name__}: {e})") from None


def get_rng_state():
    """The state of the generator behind initialisation, dropout masks and DataLoader
    shuffles, as numbers and strings (``vkgrad.save`` stores it with a checkpoint):
    ``set_rng_state`` restores it, so dropout and shuffles go on as if training had
    not stopped."""
    return _state_of(_state["rng"], _state["seed"], _state["counter"])


def set_rng_state(state):
    """Restore ``get_rng_state()``'s values (0-d arrays from ``vkgrad.load`` too)."""
    gen, seed, counter = _from_state(state, "set_rng_state")
    _state.update(rng=gen, seed=seed, counter=counter)


class Generator:
    """PyTorch's ``torch.Generator``: random numbers of its own for the ``generator=``
    argument of ``randn`` / ``rand`` / ``randint`` / ``randperm``, ``multinomial``,
    ``bernoulli``, ``poisson``, ``binomial``, the in-place samplers (``uniform_``,
    ``normal_``, ``random_``, ...), ``nn.init``'s, ``random_split``, ``DataLoader`` and
    the samplers -- so a split or a shuffle is reproducible without reseeding
    vkgrad's own generator (``manual_seed``), which it leaves alone.  Drawn on the
    host (NumPy's PCG64): a seed gives the same numbers on every backend.  A new
    one starts from PyTorch's default seed, 67280421310721."""

    def __init__(self, device="cpu"):
        self.device = device
        self.manual_seed(67280421310721)

    def manual_seed(self, seed):
        """Seed it (any int); returns the generator, as PyTorch's."""
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self):
        """Seed it from the operating system's entropy; returns that seed."""
        s = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1)
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """Its state (a dict of numbers and strings, as ``get_rng_state``'s)."""
        return _state_of(self._rng, self._seed, 0)

    def set_state(self, state):
        self._rng, self._seed, _ = _from_state(state, "Generator.set_state")
        return self

    def __repr__(self):
        return f"vkgrad.Generator(seed={self._seed})"


def rng(generator=None):
    """The NumPy generator to draw from: ``generator``'s (a vkgrad.Generator), else
    vkgrad's own."""
    if generator is None:
        return _state["rng"]
    if not isinstance(generator, Generator):
        raise TypeError(f"generator: expected a vkgrad.Generator, got {type(generator).__name__}")
    return generator._rng
