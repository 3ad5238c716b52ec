"""Tests for bnviz.engine.data: toys, digits, user files and their rejection."""
from __future__ import annotations

import numpy as np
import pytest

from bnviz.engine.data import DATASETS, Dataset, DatasetError, load_dataset

TOYS = ("moons", "circles", "spiral", "xor", "blobs")
TOY_CLASSES = {"moons": 2, "circles": 2, "spiral": 2, "xor": 2, "blobs": 3}


def _write_csv(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def _tabular(n=40, seed=1):
    """A small separable 3-feature problem with labels 0/1/2."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(size=(n, 3)) + y[:, None] * 4.0
    return x, y


# ------------------------------------------------------------------ toys

@pytest.mark.parametrize("name", TOYS)
def test_toy_shapes_classes_and_split(name):
    ds = load_dataset(name, n_samples=200, test_fraction=0.25, seed=3)
    assert isinstance(ds, Dataset) and ds.name == name
    assert ds.x_train.shape == (150, 2) and ds.x_test.shape == (50, 2)
    assert ds.y_train.shape == (150,) and ds.y_test.shape == (50,)
    assert ds.is_2d and ds.image_shape is None
    assert ds.n_classes == TOY_CLASSES[name]
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_test_raw.shape == (50, 2)
    y_all = np.concatenate([ds.y_train, ds.y_test])
    assert set(np.unique(y_all)) == set(range(ds.n_classes))
    counts = np.bincount(y_all)
    # Toys are (nearly) balanced; xor labels come from uniform quadrants.
    assert counts.min() >= (0.3 if name == "xor" else 0.9) * 200 / ds.n_classes
    assert ds.x_train.flags.c_contiguous


@pytest.mark.parametrize("name", TOYS)
def test_toy_determinism_seed_and_noise(name):
    a = load_dataset(name, n_samples=120, seed=5)
    b = load_dataset(name, n_samples=120, seed=5)
    for field in ("x_train", "y_train", "x_test", "y_test", "x_test_raw", "feature_mean"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
        assert getattr(a, field).tobytes() == getattr(b, field).tobytes()
    c = load_dataset(name, n_samples=120, seed=6)
    assert not np.array_equal(a.x_train, c.x_train)
    d = load_dataset(name, n_samples=120, seed=5, noise=0.6)
    assert not np.array_equal(a.x_test_raw, d.x_test_raw)


def test_noise_zero_xor_is_clean_and_noise_blurs_it():
    clean = load_dataset("xor", n_samples=400, noise=0.0, seed=0)
    raw = clean.x_test_raw.astype(np.float64)
    assert np.abs(raw).max() <= 1.0
    expect = (np.sign(raw[:, 0]) * np.sign(raw[:, 1]) > 0).astype(np.int64)
    assert np.array_equal(expect, clean.y_test)
    noisy = load_dataset("xor", n_samples=400, noise=1.0, seed=0)
    assert np.abs(noisy.x_test_raw).max() > 1.5


def test_blobs_spread_grows_with_noise():
    tight = load_dataset("blobs", n_samples=300, noise=0.0, seed=0)
    loose = load_dataset("blobs", n_samples=300, noise=1.0, seed=0)
    assert np.all(loose.feature_std > tight.feature_std)


def test_float64_dtype_and_readonly():
    ds = load_dataset("moons", n_samples=100, dtype=np.float64)
    assert ds.x_train.dtype == np.float64 and ds.x_test.dtype == np.float64
    for arr in (ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.feature_mean,
                ds.feature_std, ds.x_test_raw):
        assert not arr.flags.writeable
    with pytest.raises(ValueError):
        ds.x_train[0, 0] = 1.0


def test_bad_options():
    assert issubclass(DatasetError, ValueError)
    with pytest.raises(DatasetError, match="unknown data set 'mnist'.*moons.*digits.*file"):
        load_dataset("mnist")
    with pytest.raises(DatasetError, match="noise"):
        load_dataset("moons", noise=6.0)
    with pytest.raises(DatasetError, match="test_fraction"):
        load_dataset("moons", test_fraction=1.0)
    with pytest.raises(DatasetError, match="n_samples"):
        load_dataset("moons", n_samples=5)
    with pytest.raises(DatasetError, match="dtype"):
        load_dataset("moons", dtype=np.int32)
    with pytest.raises(DatasetError, match="path is empty"):
        load_dataset("file")
    assert set(DATASETS) == set(TOYS) | {"digits", "file"}


# ---------------------------------------------------------------- digits

def test_digits():
    ds = load_dataset("digits", test_fraction=0.2, seed=0)
    assert ds.x_train.shape[1] == 64 and ds.n_classes == 10 and not ds.is_2d
    assert ds.image_shape == (8, 8)
    assert len(ds.y_train) + len(ds.y_test) == 1797
    assert len(ds.y_test) == int(np.ceil(0.2 * 1797))  # 360
    assert ds.class_names == tuple(str(i) for i in range(10))
    # stratified: each digit keeps its share in the test part
    assert np.bincount(ds.y_test, minlength=10).min() >= 34
    # raw test pixels are the original 0..16 intensities
    assert ds.x_test_raw.min() == 0 and ds.x_test_raw.max() == 16


def test_standardisation_uses_training_statistics():
    ds = load_dataset("digits", seed=2, dtype=np.float64)
    raw_train = ds.x_train * ds.feature_std + ds.feature_mean
    varying = raw_train.std(axis=0) > 0
    assert varying.sum() > 50
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(ds.x_train.std(axis=0)[varying], 1, atol=1e-10)
    # constant training features (digits' corner pixels) keep std 1, not 0
    assert np.all(ds.feature_std[~varying] == 1.0)
    # test part: the TRAIN statistics, checked against a manual computation
    mean = raw_train.mean(axis=0)
    std = np.where(raw_train.std(axis=0) > 0, raw_train.std(axis=0), 1.0)
    np.testing.assert_allclose(ds.feature_mean, mean, atol=1e-9)
    np.testing.assert_allclose(ds.x_test, (ds.x_test_raw - mean) / std, atol=1e-9)
    # and they differ from what the test part's own statistics would give
    assert not np.allclose(ds.x_test.mean(axis=0), 0, atol=1e-3)


# ------------------------------------------------------------------ CSV

def test_csv_without_header_label_first(tmp_path):
    x, y = _tabular()
    lines = [",".join([str(lab)] + [repr(float(v)) for v in row]) for lab, row in zip(y, x)]
    path = _write_csv(tmp_path / "plain.csv", "\n".join(lines) + "\n")
    ds = load_dataset("file", path=path, test_fraction=0.25, seed=0, dtype=np.float64)
    assert ds.name == "plain.csv" and ds.n_classes == 3 and ds.image_shape is None
    assert ds.x_train.shape == (30, 3) and ds.x_test.shape == (10, 3)
    # every raw test row is a row of the file with its own label
    for row, lab in zip(ds.x_test_raw, ds.y_test):
        i = np.flatnonzero(np.all(x == row, axis=1))
        assert len(i) == 1 and y[i[0]] == lab
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-12)


def test_csv_header_label_column_by_name_and_string_labels(tmp_path):
    rows = ["f1,f2,Class"]
    names = ["setosa", "versicolor", "virginica"]
    for i in range(30):
        rows.append(f"{i * 0.5},{i % 3 + 0.25},{names[i % 3]}")
    path = _write_csv(tmp_path / "iris.csv", "\n".join(rows) + "\n")
    ds = load_dataset("file", path=path, seed=1)
    assert ds.n_classes == 3 and ds.class_names == tuple(names) and ds.is_2d
    # label k is the k-th sorted name; feature 2 encodes the class (i % 3)
    raw = ds.x_test_raw.astype(np.float64)
    np.testing.assert_allclose(raw[:, 1] - 0.25, ds.y_test)


def test_csv_headerless_string_labels_and_numeric_label_order(tmp_path):
    rows = [f"{'cat' if i % 2 else 'dog'},{i},{i % 2}" for i in range(20)]
    ds = load_dataset("file", path=_write_csv(tmp_path / "pets.csv", "\n".join(rows)), seed=0)
    assert ds.class_names == ("cat", "dog") and len(ds.y_train) + len(ds.y_test) == 20
    np.testing.assert_array_equal(ds.x_test_raw[:, 1], 1 - ds.y_test)  # cat -> 0, odd i
    # integer labels sort numerically (10 after 9), with a header naming "target"
    rows = ["a,target"] + [f"{i},{(i % 11) + 1}" for i in range(44)]
    ds = load_dataset("file", path=_write_csv(tmp_path / "num.csv", "\n".join(rows)), seed=0)
    assert ds.class_names == tuple(str(i) for i in range(1, 12))
    np.testing.assert_array_equal(ds.x_test_raw[:, 0] % 11, ds.y_test)


# ------------------------------------------------------------------ NPZ

def test_npz_mnist_like_given_split(tmp_path):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, size=(30, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    y_train = np.arange(30, dtype=np.uint8) % 10
    y_test = np.arange(12, dtype=np.uint8) % 10
    path = tmp_path / "mnist.npz"
    np.savez_compressed(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    ds = load_dataset("file", path=str(path), test_fraction=0.5)
    assert ds.image_shape == (28, 28) and ds.n_classes == 10 and ds.name == "mnist.npz"
    assert ds.x_train.shape == (30, 784) and ds.x_test.shape == (12, 784)  # split kept
    np.testing.assert_array_equal(ds.y_train, y_train)
    np.testing.assert_array_equal(ds.y_test, y_test)
    np.testing.assert_array_equal(ds.x_test_raw, x_test.reshape(12, 784))
    mean = x_train.reshape(30, -1).mean(axis=0)
    np.testing.assert_allclose(ds.feature_mean, mean)
    np.testing.assert_allclose(ds.x_test, (x_test.reshape(12, -1) - mean) / ds.feature_std,
                               rtol=1e-5, atol=1e-5)


def test_npz_x_y_is_split(tmp_path):
    x, y = _tabular(n=50)
    path = tmp_path / "xy.npz"
    np.savez(path, X=x, y=y)
    ds = load_dataset("file", path=str(path), test_fraction=0.2, seed=4)
    assert ds.x_train.shape == (40, 3) and ds.x_test.shape == (10, 3)
    assert ds.image_shape is None and ds.n_classes == 3
    again = load_dataset("file", path=str(path), test_fraction=0.2, seed=4)
    assert again.x_test.tobytes() == ds.x_test.tobytes()


# ----------------------------------------------------------- rejections

def _npz(tmp_path, name="bad.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def test_reject_missing_file(tmp_path):
    with pytest.raises(DatasetError, match=r"nope\.csv: file not found"):
        load_dataset("file", path=str(tmp_path / "nope.csv"))


def test_reject_corrupt_npz(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(DatasetError, match=r"junk\.npz: not a readable \.npz"):
        load_dataset("file", path=str(path))
    # a zip header followed by garbage
    path.write_bytes(b"PK\x03\x04" + np.random.default_rng(1).bytes(300))
    with pytest.raises(DatasetError, match=r"junk\.npz: not a readable \.npz"):
        load_dataset("file", path=str(path))


def test_reject_object_array_npz(tmp_path):
    x = np.empty(20, dtype=object)
    x[:] = [[1.0, 2.0]] * 20
    path = _npz(tmp_path, "obj.npz", X=x, y=np.arange(20) % 2)
    with pytest.raises(DatasetError, match=r"obj\.npz: .*object arrays, which need pickle"):
        load_dataset("file", path=path)


def test_reject_missing_keys(tmp_path):
    path = _npz(tmp_path, "keys.npz", data=np.zeros((20, 2)), labels=np.zeros(20))
    with pytest.raises(DatasetError, match=r"keys\.npz: missing arrays; expected keys x_train, "
                                           r"y_train, x_test, y_test .* or X, y \(found: data, labels\)"):
        load_dataset("file", path=path)


def test_reject_length_mismatch(tmp_path):
    path = _npz(tmp_path, X=np.zeros((20, 2)), y=np.arange(19) % 2)
    with pytest.raises(DatasetError, match=r"20 feature rows .* but 19 labels"):
        load_dataset("file", path=path)


def test_reject_wrong_dims(tmp_path):
    path = _npz(tmp_path, X=np.zeros((20, 2, 2, 2)), y=np.arange(20) % 2)
    with pytest.raises(DatasetError, match=r"shape \(20, 2, 2, 2\); expected"):
        load_dataset("file", path=path)


def test_reject_nan_and_inf(tmp_path):
    x, y = _tabular()
    x[3, 1] = np.nan
    with pytest.raises(DatasetError, match="NaN or Inf"):
        load_dataset("file", path=_npz(tmp_path, X=x, y=y))
    x[3, 1] = np.inf
    with pytest.raises(DatasetError, match="NaN or Inf"):
        load_dataset("file", path=_npz(tmp_path, X=x, y=y))
    rows = ["label,a"] + [f"{i % 2},{'nan' if i == 5 else i}" for i in range(20)]
    with pytest.raises(DatasetError, match=r"nan\.csv: features contains NaN or Inf"):
        load_dataset("file", path=_write_csv(tmp_path / "nan.csv", "\n".join(rows)))


def test_reject_non_integer_and_negative_labels(tmp_path):
    x, y = _tabular()
    with pytest.raises(DatasetError, match="labels must be integers, found 1.5"):
        load_dataset("file", path=_npz(tmp_path, X=x, y=np.where(y == 1, 1.5, y)))
    with pytest.raises(DatasetError, match="labels must not be negative, found -1"):
        load_dataset("file", path=_npz(tmp_path, X=x, y=y - 1))
    rows = [f"{0.5 if i == 3 else i % 2},{i}" for i in range(20)]
    with pytest.raises(DatasetError, match=r"frac\.csv: labels must be integers, found 0.5"):
        load_dataset("file", path=_write_csv(tmp_path / "frac.csv", "\n".join(rows)))


def test_reject_non_numeric_features(tmp_path):
    rows = ["label,a,b"] + [f"{i % 2},{i},{'oops' if i == 4 else i}" for i in range(20)]
    with pytest.raises(DatasetError, match=r"words\.csv: line 6 has a non-numeric feature 'oops'"):
        load_dataset("file", path=_write_csv(tmp_path / "words.csv", "\n".join(rows)))
    path = _npz(tmp_path, X=np.array([["a", "b"]] * 20), y=np.arange(20) % 2)
    with pytest.raises(DatasetError, match="non-numeric features"):
        load_dataset("file", path=path)


def test_reject_ragged_csv(tmp_path):
    rows = [f"{i % 2},{i},{i}" for i in range(20)]
    rows[7] = "1,7"
    with pytest.raises(DatasetError, match=r"ragged\.csv: line 8 has 2 columns, expected 3"):
        load_dataset("file", path=_write_csv(tmp_path / "ragged.csv", "\n".join(rows)))


def test_reject_single_class_and_too_few(tmp_path):
    rows = [f"7,{i},{i * 2}" for i in range(20)]
    with pytest.raises(DatasetError, match=r"one\.csv: only one class .*need at least 2 classes"):
        load_dataset("file", path=_write_csv(tmp_path / "one.csv", "\n".join(rows)))
    rows = [f"{i % 2},{i}" for i in range(6)]
    with pytest.raises(DatasetError, match=r"few\.csv: only 6 examples, need at least 10"):
        load_dataset("file", path=_write_csv(tmp_path / "few.csv", "\n".join(rows)))


def test_reject_empty_files(tmp_path):
    with pytest.raises(DatasetError, match=r"empty\.csv: the file is empty"):
        load_dataset("file", path=_write_csv(tmp_path / "empty.csv", ""))
    with pytest.raises(DatasetError, match=r"blank\.csv: the file is empty"):
        load_dataset("file", path=_write_csv(tmp_path / "blank.csv", "\n \n\n"))
    with pytest.raises(DatasetError, match=r"head\.csv: only a header row"):
        load_dataset("file", path=_write_csv(tmp_path / "head.csv", "label,a,b\n"))
    (tmp_path / "e.npz").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"e\.npz: the file is empty"):
        load_dataset("file", path=str(tmp_path / "e.npz"))


def test_reject_unsupported_extension(tmp_path):
    path = _write_csv(tmp_path / "data.txt", "1,2\n")
    with pytest.raises(DatasetError, match=r"data\.txt: unsupported file type '\.txt'"):
        load_dataset("file", path=path)
