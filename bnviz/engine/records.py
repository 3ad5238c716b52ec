"""Frozen records of one training step, made to cross a thread boundary.

Every array in a record is a private, read-only copy: the trainer may go on
updating its parameters in place while another thread reads the record.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .state import StateError, array

PERCENTILES = (15.0, 50.0, 85.0)


def frozen_copy(a: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return None
    out = np.array(a, copy=True)
    out.flags.writeable = False
    return out


def read_only(a: np.ndarray | None) -> np.ndarray | None:
    """Mark an array the trainer will never touch again as read-only."""
    if a is not None:
        a.flags.writeable = False
    return a


@dataclass(frozen=True)
class LayerRecord:
    """One hidden layer at one step. (B, D) arrays are the mini-batch;
    (D,) arrays are per unit and None where the layer has no normalization
    (the batch and running statistics: where it keeps none, as LayerNorm
    and GroupNorm)."""

    index: int                      # 0-based hidden-layer index
    width: int
    has_bn: bool                    # has a normalization (BN or another of the family)
    placement: str                  # "before" or "after" the activation
    pre: np.ndarray                 # (B, D) z = W a_prev (+ b)
    bn_in: np.ndarray | None        # (B, D) what the normalization takes: z ("before") or g(z) ("after")
    normalized: np.ndarray | None   # (B, D) x_hat
    bn_out: np.ndarray | None       # (B, D) gamma * x_hat + beta (+ noisy BN's noise)
    act_in: np.ndarray              # (B, D) what enters the activation function
    batch_mean: np.ndarray | None
    batch_var: np.ndarray | None    # biased, the one used to normalise
    running_mean: np.ndarray | None
    running_var: np.ndarray | None
    gamma: np.ndarray | None        # the gamma and beta this step's forward used
    beta: np.ndarray | None         # (the update that follows is in the next record)
    grad_norm_W: float              # ||dL/dW||_F
    grad_norm_b: float | None       # ||dL/db|| where a bias is kept
    grad_norm_gamma: float | None
    grad_norm_beta: float | None
    norm: str | None = None         # the normalization's kind (config's ``norm``), None without
    renorm_r: np.ndarray | None = None   # Batch Renorm's r and d at this step, per unit
    renorm_d: np.ndarray | None = None
    kind: str = "dense"             # "dense", or "conv": a convolution block whose units are its
                                    # channels and whose (B, D) arrays are (B*H*W, C), every pixel a row


@dataclass(frozen=True)
class StepRecord:
    """The state of a run right after one optimizer step."""

    step: int                       # steps done so far (1 after the first)
    epoch: int                      # 1-based epoch the step's batch came from
    loss: float                     # mini-batch loss before the update
    batch_accuracy: float
    lr: float
    layers: tuple[LayerRecord, ...]
    grad_norm_head: float
    labels: np.ndarray              # (B,) the batch's labels

    @property
    def finite(self) -> bool:
        """False once the loss or any batch statistic is NaN or Inf."""
        if not np.isfinite(self.loss):
            return False
        for L in self.layers:
            for a in (L.batch_mean, L.batch_var, L.running_mean, L.running_var):
                if a is not None and not np.all(np.isfinite(a)):
                    return False
        return True


@dataclass(frozen=True)
class Evaluation:
    """Test-set figures at one step (see ``Trainer.evaluate``)."""

    step: int
    test_loss: float
    test_accuracy: float               # inference mode, running statistics
    test_accuracy_population: float    # precise BN: training-set statistics
    test_accuracy_batch: float         # test mini-batches, their own statistics
    population_mean: tuple[np.ndarray | None, ...]   # per hidden layer, (D,)
    population_var: tuple[np.ndarray | None, ...]
    test_accuracy_single: float = float("nan")   # one example in training mode (output -> beta)
    ema_gap_mean: tuple[float | None, ...] = ()  # per hidden layer, see stats.ema_gaps
    ema_gap_var: tuple[float | None, ...] = ()
    population_step: int = 0           # step at which the population statistics were computed
    eval_batch_size: int = 0           # k of the test mini-batches behind test_accuracy_batch

    def as_dict(self) -> dict[str, float]:
        """The four figures ``Trainer.evaluate`` returns."""
        return {"test_loss": self.test_loss, "test_accuracy": self.test_accuracy,
                "test_accuracy_population": self.test_accuracy_population,
                "test_accuracy_batch": self.test_accuracy_batch}

    def scalars(self) -> dict[str, float]:
        """Every scalar of the evaluation, named as the history's eval columns."""
        out = {**self.as_dict(), "test_accuracy_single": self.test_accuracy_single,
               "population_step": self.population_step, "eval_batch_size": self.eval_batch_size}
        for i, (gm, gv) in enumerate(zip(self.ema_gap_mean, self.ema_gap_var)):
            if gm is not None:
                out[f"L{i}.ema_gap_mean"] = gm
                out[f"L{i}.ema_gap_var"] = gv
        return out


def evaluation_state(ev: Evaluation) -> dict:
    """An Evaluation as a state (see ``state``): scalars and per-layer
    numbers in ``meta``, per-layer arrays as ``<field>/<layer>``."""
    scalars, per_layer, layer_scalars, arrays = {}, {}, {}, {}
    for f in dataclasses.fields(ev):
        v = getattr(ev, f.name)
        if isinstance(v, tuple) and all(a is None or isinstance(a, float) for a in v):
            layer_scalars[f.name] = list(v)   # one number (or None) per hidden layer
        elif isinstance(v, tuple):            # one array (or None) per hidden layer
            per_layer[f.name] = [a is not None for a in v]
            arrays.update({f"{f.name}/{k}": a for k, a in enumerate(v) if a is not None})
        else:
            scalars[f.name] = v
    return {"meta": {"scalars": scalars, "per_layer": per_layer, "layer_scalars": layer_scalars},
            "arrays": arrays}


def evaluation_from_state(state: dict, widths, dtype) -> Evaluation:
    """The Evaluation ``evaluation_state`` wrote, for hidden layers of ``widths``."""
    meta, arrays = state["meta"], state["arrays"]
    scalars, per_layer = meta.get("scalars"), meta.get("per_layer")
    layer_scalars = meta.get("layer_scalars", {})
    if not all(isinstance(x, dict) for x in (scalars, per_layer, layer_scalars)):
        raise StateError("evaluation: expected scalars, per_layer and layer_scalars")
    fields = dict(scalars)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in fields.values()):
        raise StateError("evaluation figures must be numbers")
    for name, present in per_layer.items():
        if not isinstance(present, list) or len(present) != len(widths):
            raise StateError(f"evaluation field {name!r} needs one entry per hidden layer")
        values = []
        for k, (has, w) in enumerate(zip(present, widths)):
            a = array(arrays, f"{name}/{k}", (w,), dtype) if has else None
            if a is not None:
                a.flags.writeable = False
            values.append(a)
        fields[name] = tuple(values)
    for name, values in layer_scalars.items():
        if not isinstance(values, list) or len(values) != len(widths) or not all(
                v is None or isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise StateError(f"evaluation field {name!r} needs one number per hidden layer")
        fields[name] = tuple(None if v is None else float(v) for v in values)
    try:
        return Evaluation(**fields)
    except TypeError as exc:
        raise StateError(f"evaluation does not fit this bnviz ({exc})") from None


@lru_cache(maxsize=64)
def _interpolation(n: int, q: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pos = np.asarray(q, dtype=np.float64) / 100.0 * (n - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    return lo, hi, pos - lo


@lru_cache(maxsize=64)
def _interpolation_matrix(n: int, q: tuple[float, ...], dtype) -> np.ndarray:
    """(len(q), n) weights W with W @ sorted = the percentiles."""
    lo, hi, frac = _interpolation(n, q)
    w = np.zeros((len(q), n), dtype=dtype)
    rows = np.arange(len(q))
    w[rows, lo] += 1.0 - frac
    w[rows, hi] += frac
    return w


def sorted_percentiles(sorted_values: np.ndarray, q: tuple[float, ...] = PERCENTILES) -> np.ndarray:
    """Percentiles (linear interpolation, as ``np.percentile``) of data
    already sorted along axis 0. (N,) -> (len(q),); (N, D) -> (len(q), D)."""
    n = sorted_values.shape[0]
    if sorted_values.ndim == 2:
        # One small matrix product beats indexing and blending row by row.
        return _interpolation_matrix(n, tuple(q), sorted_values.dtype) @ sorted_values
    lo, hi, frac = _interpolation(n, tuple(q))
    return sorted_values[lo] * (1.0 - frac) + sorted_values[hi] * frac


def layer_percentiles(pre: np.ndarray, act_in: np.ndarray, affine=None) -> tuple[np.ndarray, ...]:
    """(pre per unit (3, D), pre over the layer (3,), act_in per unit, act_in
    over the layer) for one layer's values pre, act_in: (N, D). Where
    act_in is pre, nothing is sorted twice. ``affine`` = (center, scale,
    shift), each (D,), says that act_in = (pre - center) * scale + shift
    (BN before the activation): per unit an increasing (scale > 0) or
    decreasing map of pre, so act_in's percentiles per unit follow from
    pre's without another sort."""
    pre_unit = sorted_percentiles(np.sort(pre, axis=0))
    pre_all = flat_percentiles(pre)
    if act_in is pre:
        return pre_unit, pre_all, pre_unit, pre_all
    if affine is None:
        act_unit = sorted_percentiles(np.sort(act_in, axis=0))
    else:
        center, scale, shift = affine
        mapped = (pre_unit - center) * scale + shift
        act_unit = np.where(scale >= 0, mapped, mapped[::-1])
    return pre_unit, pre_all, act_unit, flat_percentiles(act_in)


FLAT_SORT_BELOW = 12_000   # values; below this one sort beats the partitions (measured)


def flat_percentiles(values: np.ndarray, q: tuple[float, ...] = PERCENTILES) -> np.ndarray:
    """Percentiles of all of ``values`` (any shape), as ``np.percentile``
    (linear interpolation) -> (len(q),). Large arrays are not sorted: the
    needed order statistics are placed by partitions (the middle one first,
    then each side), and each one's successor is the least value between it
    and the next one placed."""
    flat = values.reshape(-1)
    n = flat.size
    if n < FLAT_SORT_BELOW:
        return sorted_percentiles(np.sort(flat), q)
    lo, _, frac = _interpolation(n, tuple(q))
    ks = sorted(set(int(k) for k in lo))
    p = np.array(flat, copy=True)
    _place(p, ks, 0, n)
    at, after = {}, {}
    for k, k_next in zip(ks, [*ks[1:], n - 1]):
        at[k] = p[k]
        after[k] = p[k + 1:k_next + 1].min() if k + 1 < n else p[k]
    a = np.array([at[int(k)] for k in lo])
    b = np.array([after[int(k)] for k in lo])
    return a * (1.0 - frac) + b * frac


def _place(p: np.ndarray, ks: list[int], start: int, stop: int) -> None:
    """Partition p[start:stop] in place so that each index in ``ks`` (sorted,
    within the range) holds the value a sort would put there."""
    if ks:
        m = len(ks) // 2
        k = ks[m]
        p[start:stop].partition(k - start)
        _place(p, ks[:m], start, k)
        _place(p, ks[m + 1:], k + 1, stop)
