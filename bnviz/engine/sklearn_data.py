"""scikit-learn's data, without importing scikit-learn.

Importing scikit-learn takes about 2.5 s on a slow machine (most of it
SciPy's statistics), more than everything else a training process does
before its first frame, and about 80 MB. bnviz needs only its 8x8 digits
file and four small routines, reproduced here step for step so that every
data set and split is the one scikit-learn makes (tests/engine/
test_sklearn_data.py compares them, array for array):

- ``load_digits``: ``sklearn.datasets.load_digits(return_X_y=True)``;
- ``make_moons``, ``make_circles``, ``make_blobs`` (given centres);
- ``train_test_split`` with ``test_size``, ``random_state`` and optionally
  ``stratify`` (StratifiedShuffleSplit or ShuffleSplit, as scikit-learn).

All randomness is a legacy ``np.random.RandomState(seed)``, as in
scikit-learn's ``check_random_state``.
"""
from __future__ import annotations

import gzip
import importlib.util
import math
from pathlib import Path

import numpy as np


def digits_file() -> Path | None:
    """Where the installed scikit-learn keeps digits.csv.gz (found without
    importing it), or None."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """(data (1797, 64) float64, target (1797,) int) as scikit-learn reads them.
    Raises FileNotFoundError when scikit-learn (its data file) is not installed."""
    path = digits_file()
    if path is None:
        raise FileNotFoundError("scikit-learn's digits.csv.gz (install scikit-learn)")
    with gzip.open(path, mode="rt", encoding="utf-8") as text:
        data = np.loadtxt(text, delimiter=",")
    return data[:, :-1], data[:, -1].astype(int, copy=False)


def _shuffle(rng: np.random.RandomState, *arrays):
    """sklearn.utils.shuffle: one permutation of the rows of every array."""
    indices = np.arange(arrays[0].shape[0])
    rng.shuffle(indices)
    return tuple(a[indices] for a in arrays)


def _two_rings(outer_x, outer_y, inner_x, inner_y, n_out, n_in, noise, rng):
    x = np.vstack([np.append(outer_x, inner_x), np.append(outer_y, inner_y)]).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    x, y = _shuffle(rng, x, y)
    if noise is not None:
        x += rng.normal(scale=noise, size=x.shape)
    return x, y


def make_moons(n_samples: int, noise: float | None = None, random_state: int = 0):
    """sklearn.datasets.make_moons(n_samples, noise=noise, random_state=random_state)."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    rng = np.random.RandomState(random_state)
    return _two_rings(np.cos(np.linspace(0, np.pi, n_out)), np.sin(np.linspace(0, np.pi, n_out)),
                      1 - np.cos(np.linspace(0, np.pi, n_in)),
                      1 - np.sin(np.linspace(0, np.pi, n_in)) - 0.5, n_out, n_in, noise, rng)


def make_circles(n_samples: int, noise: float | None = None, factor: float = 0.8,
                 random_state: int = 0):
    """sklearn.datasets.make_circles(n_samples, noise=, factor=, random_state=)."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    rng = np.random.RandomState(random_state)
    out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    inner = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    return _two_rings(np.cos(out), np.sin(out), np.cos(inner) * factor, np.sin(inner) * factor,
                      n_out, n_in, noise, rng)


def make_blobs(n_samples: int, centers: np.ndarray, cluster_std: float, random_state: int = 0):
    """sklearn.datasets.make_blobs(n_samples, centers=centers (K, d),
    cluster_std=cluster_std, random_state=random_state)."""
    rng = np.random.RandomState(random_state)
    centers = np.asarray(centers, dtype=np.float64)
    n_centers, n_features = centers.shape
    per_center = [int(n_samples // n_centers)] * n_centers
    for i in range(n_samples % n_centers):
        per_center[i] += 1
    x = np.empty((sum(per_center), n_features), dtype=np.float64)
    y = np.empty((sum(per_center),), dtype=int)
    start = 0
    for i, n in enumerate(per_center):
        x[start:start + n] = rng.normal(loc=centers[i], scale=cluster_std, size=(n, n_features))
        y[start:start + n] = i
        start += n
    return _shuffle(rng, x, y)


def _approximate_mode(class_counts: np.ndarray, n_draws: int, rng) -> np.ndarray:
    """sklearn.utils.extmath._approximate_mode: how many of each class a
    stratified draw of ``n_draws`` takes, ties broken by ``rng``."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            inds = rng.choice(inds, size=add_now, replace=False)
            floored[inds] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


def split_indices(y: np.ndarray, test_size: float, random_state: int,
                  stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, test rows) as train_test_split(..., test_size=,
    random_state=, stratify=y if stratify else None) chooses them; raises
    ValueError where it does."""
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
    n = len(y)
    n_test = math.ceil(test_size * n)
    n_train = n - n_test
    if n_train == 0:
        raise ValueError(f"with n_samples={n} and test_size={test_size} the training set is empty")
    rng = np.random.RandomState(random_state)
    if not stratify:
        permutation = rng.permutation(n)
        return permutation[n_test:n_test + n_train], permutation[:n_test]
    classes, y_indices, class_counts = np.unique(y, return_inverse=True, return_counts=True)
    n_classes = classes.shape[0]
    if np.min(class_counts) < 2:
        raise ValueError("the least populated class has only 1 member")
    if n_train < n_classes or n_test < n_classes:
        raise ValueError(f"train size {n_train} and test size {n_test} must each be at least "
                         f"the number of classes, {n_classes}")
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train, test = [], []
    for i in range(n_classes):
        rows = class_indices[i].take(rng.permutation(class_counts[i]), mode="clip")
        train.extend(rows[:n_i[i]])
        test.extend(rows[n_i[i]:n_i[i] + t_i[i]])
    return rng.permutation(train), rng.permutation(test)
