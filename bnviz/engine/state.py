"""Saved state of a component: ``{"meta": JSON-able dict, "arrays": {name: array}}``.

Each component (model, optimizer, history store, trainer) writes its own
with ``state_dict()`` and reads it back with ``load_state_dict()``, checking
every value it takes: a ``StateError`` names the first that does not fit.
A component's state nests its parts' under their names (``nest``, ``part``),
and the session codec turns the whole into one file and back.
"""
from __future__ import annotations

import math

import numpy as np

MAX_COUNT = 2**62   # counters beyond this are corrupt, not long runs


class StateError(ValueError):
    """A saved state does not fit the component; the message names the value."""


def nest(meta: dict, arrays: dict, **parts: dict) -> dict:
    """A state of ``meta`` and ``arrays`` with each of ``parts`` under its name."""
    meta, arrays = dict(meta), dict(arrays)
    for name, state in parts.items():
        meta[name] = state["meta"]
        arrays.update({f"{name}/{k}": a for k, a in state["arrays"].items()})
    return {"meta": meta, "arrays": arrays}


def part(state: dict, name: str) -> dict:
    """The state of part ``name`` of a ``nest``ed state."""
    meta = state["meta"].get(name)
    if not isinstance(meta, dict):
        raise StateError(f"{name}: missing or not an object")
    p = name + "/"
    return {"meta": meta, "arrays": {k[len(p):]: a for k, a in state["arrays"].items() if k.startswith(p)}}


def count(meta: dict, key: str, lo: int = 0, hi: int = MAX_COUNT) -> int:
    """``meta[key]``, checked to be an int in [lo, hi)."""
    v = meta.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v < hi:
        raise StateError(f"{key} is missing or out of range ({v!r})")
    return v


def number(meta: dict, key: str, finite: bool = False) -> float:
    """``meta[key]`` as a float (NaN and Inf allowed unless ``finite``)."""
    v = meta.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (finite and not math.isfinite(v)):
        raise StateError(f"{key} is missing or not a{' finite' if finite else ''} number ({v!r})")
    return float(v)


def set_generator_state(rng: np.random.Generator, state, what: str = "random generator") -> None:
    """Give ``rng`` a saved ``bit_generator.state``, checked by NumPy itself."""
    try:
        rng.bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise StateError(f"invalid {what} state ({exc})") from None


def array(arrays: dict, key: str, shape, dtype) -> np.ndarray:
    """A private, writable copy of ``arrays[key]``, checked for shape and dtype."""
    a = arrays.get(key)
    if a is None:
        raise StateError(f"missing array {key!r}")
    if not isinstance(a, np.ndarray) or a.shape != tuple(shape) or a.dtype != np.dtype(dtype):
        got = f"{a.dtype} of shape {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
        raise StateError(f"{key}: expected {np.dtype(dtype)} of shape {tuple(shape)}, got {got}")
    return np.array(a)
