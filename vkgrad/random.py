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


def rng():
    return _state["rng"]


def next_seed():
    """A fresh 32-bit seed for a counter-based mask (same on every backend)."""
    _state["counter"] += 1
    return (_state["seed"] * 1000003 + _state["counter"] * 2654435761) & 0xFFFFFFFF


def get_rng_state():
    """The state of the generator behind initialisation, dropout masks and DataLoader
    shuffles, as numbers and strings (``vkgrad.save`` stores it with a checkpoint):
    ``set_rng_state`` restores it, so dropout and shuffles go on as if training had
    not stopped."""
    bg = _state["rng"].bit_generator.state
    return {"seed": _state["seed"], "counter": _state["counter"], "bit_generator": bg["bit_generator"],
            "state": str(bg["state"]["state"]), "inc": str(bg["state"]["inc"]),  # (128-bit integers)
            "has_uint32": int(bg["has_uint32"]), "uinteger": int(bg["uinteger"])}


def set_rng_state(state):
    """Restore ``get_rng_state()``'s values (0-d arrays from ``vkgrad.load`` too)."""
    try:
        kind = str(scalar(state["bit_generator"]))
        if kind != "PCG64":
            raise ValueError(f"set_rng_state: a {kind} state; vkgrad's generator is PCG64")
        rng_ = np.random.default_rng()
        rng_.bit_generator.state = {"bit_generator": kind,
                                    "state": {"state": int(str(scalar(state["state"]))),
                                              "inc": int(str(scalar(state["inc"])))},
                                    "has_uint32": int(scalar(state["has_uint32"])),
                                    "uinteger": int(scalar(state["uinteger"]))}
        seed, counter = int(scalar(state["seed"])), int(scalar(state["counter"]))
    except (KeyError, TypeError) as e:
        raise ValueError(f"set_rng_state: expected the dict get_rng_state() gives, got {type(state).__name__} "
                         f"({type(e).__name__}: {e})") from None
    _state.update(rng=rng_, seed=seed, counter=counter)
