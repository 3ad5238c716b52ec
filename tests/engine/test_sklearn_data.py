"""sklearn_data makes exactly what scikit-learn makes, without importing it."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bnviz.engine import sklearn_data
from bnviz.engine.data import load_dataset

sklearn_datasets = pytest.importorskip("sklearn.datasets")
model_selection = pytest.importorskip("sklearn.model_selection")


def assert_same(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_digits_are_read_as_scikit_learn_reads_them():
    assert_same(sklearn_data.load_digits(), sklearn_datasets.load_digits(return_X_y=True))


@pytest.mark.parametrize("n", [2, 7, 100, 501])
@pytest.mark.parametrize("noise", [None, 0.0, 0.2])
@pytest.mark.parametrize("seed", [0, 12345, 2**31 - 2])
def test_moons_and_circles_are_scikit_learns(n, noise, seed):
    assert_same(sklearn_data.make_moons(n, noise=noise, random_state=seed),
                sklearn_datasets.make_moons(n, noise=noise, random_state=seed))
    assert_same(sklearn_data.make_circles(n, noise=noise, factor=0.5, random_state=seed),
                sklearn_datasets.make_circles(n, noise=noise, factor=0.5, random_state=seed))


@pytest.mark.parametrize("n", [3, 10, 301])
@pytest.mark.parametrize("std", [0.5, 2.0])
@pytest.mark.parametrize("seed", [0, 99])
def test_blobs_are_scikit_learns(n, std, seed):
    centers = np.array([[0.0, 3.0], [-2.6, -1.5], [2.6, -1.5]])
    assert_same(sklearn_data.make_blobs(n, centers=centers, cluster_std=std, random_state=seed),
                sklearn_datasets.make_blobs(n, centers=centers, cluster_std=std, random_state=seed))


def _labels(rng, n, k, skew):
    p = np.ones(k) if not skew else np.geomspace(1, 20, k)
    return rng.choice(k, size=n, p=p / p.sum())


@pytest.mark.parametrize("case", range(60))
def test_splits_are_train_test_splits(case):
    """Random sizes, class counts (balanced, skewed, with ties), fractions
    and seeds, stratified or not: the same rows in the same order, and the
    same refusals."""
    rng = np.random.default_rng(case)
    n = int(rng.integers(4, 400))
    k = int(rng.integers(2, 12))
    y = _labels(rng, n, k, skew=case % 2 == 1)
    fraction = float(rng.choice([0.1, 0.2, 0.25, 1 / 3, 0.5, 0.9, rng.uniform(0.01, 0.99)]))
    seed = int(rng.integers(2**31 - 1))
    x = np.arange(n * 2, dtype=np.float64).reshape(n, 2)
    for stratify in (False, True):
        try:
            x_tr, x_te, y_tr, y_te = model_selection.train_test_split(
                x, y, test_size=fraction, random_state=seed, stratify=y if stratify else None)
        except ValueError:
            with pytest.raises(ValueError):
                sklearn_data.split_indices(y, fraction, seed, stratify)
            continue
        train, test = sklearn_data.split_indices(y, fraction, seed, stratify)
        assert_same((x[train], x[test], y[train], y[test]), (x_tr, x_te, y_tr, y_te))


def test_a_training_process_data_set_loads_without_importing_scikit_learn():
    """The point of sklearn_data: building every built-in data set imports no
    scikit-learn (and so no SciPy)."""
    code = ("import sys; from bnviz.engine.data import load_dataset\n"
            "for name in ('digits', 'moons', 'circles', 'blobs', 'spiral', 'xor'):\n"
            "    load_dataset(name, n_samples=200, noise=0.1, test_fraction=0.2, seed=3)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_digits_split_is_the_one_scikit_learn_made():
    ds = load_dataset("digits", test_fraction=0.2, seed=0, dtype=np.float64)
    x, y = sklearn_datasets.load_digits(return_X_y=True)
    _, x_te, _, y_te = model_selection.train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    np.testing.assert_array_equal(ds.y_test, y_te)
    np.testing.assert_array_equal(ds.x_test_raw, x_te)
