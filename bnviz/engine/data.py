"""Data sets for the lab: 2-D toys, sklearn's 8x8 digits, and user files.

Everything comes back as a frozen :class:`Dataset` of read-only arrays,
standardised with statistics fitted on the training part only (fitting on all
data would leak the test set into training). The same arguments always give
bit-identical arrays. User files (.csv / .npz) are validated up front so a bad
file fails with one clear :class:`DatasetError` naming the file and problem,
not with a shape error deep inside training.
"""
from __future__ import annotations

import csv
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import sklearn_data
from .npzfile import HOW_TO_RAISE, NpzError, TooLarge, data_limit, human_bytes, read_npz
from .settings import BY_NAME, choice_values

# scikit-learn's data sets and split come from sklearn_data, which never
# imports scikit-learn (seconds to load): only its digits file is read.

DATASETS = choice_values("dataset")
LABEL_COLUMNS = ("label", "y", "target", "class")
MIN_EXAMPLES = 10
MAX_CLASSES = 1000   # the head has one output per class
CSV_BYTES_PER_LIMIT = 8   # a CSV is parsed in memory: its text may be 1/8 of the data limit
_CHUNK = 8192  # rows per block when standardising, bounds float64 temporaries


class DatasetError(ValueError):
    """A data file or data option is unusable; the message names the file and the problem."""


@dataclass(frozen=True)
class Dataset:
    """A train/test split ready for the network (all arrays read-only)."""

    name: str
    x_train: np.ndarray            # (N_train, F) standardised, `dtype`
    y_train: np.ndarray            # (N_train,) int64 in 0..n_classes-1
    x_test: np.ndarray             # (N_test, F)
    y_test: np.ndarray             # (N_test,)
    n_classes: int
    image_shape: tuple[int, int] | None
    feature_mean: np.ndarray       # (F,) float64, training part only
    feature_std: np.ndarray        # (F,) float64, training part only, zeros -> 1
    x_test_raw: np.ndarray         # (N_test, F) unstandardised, `dtype`
    class_names: tuple[str, ...] = ()  # original label of each class index

    @property
    def is_2d(self) -> bool:
        """True when there are exactly two features (a decision boundary can be drawn)."""
        return self.x_train.shape[1] == 2


def load_dataset(name: str, *, n_samples: int = 600, noise: float = 0.15,
                 test_fraction: float = 0.2, seed: int = 0, path: str = "",
                 dtype=np.float32) -> Dataset:
    """Build the named data set; raises DatasetError for any unusable input."""
    if name not in DATASETS:
        raise DatasetError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise DatasetError(f"dtype must be float32 or float64, not {dtype}")
    if not 0.0 < test_fraction < 1.0:
        raise DatasetError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise DatasetError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    seed = int(seed)

    image_shape, class_names = None, ()
    if name == "digits":
        try:
            x, y = sklearn_data.load_digits()
        except (OSError, EOFError, ValueError) as exc:   # missing, truncated or corrupt
            raise DatasetError(f"the digits need scikit-learn's data file: {exc}") from None
        parts, image_shape = [(x, y.astype(np.int64))], (8, 8)
    elif name == "file":
        try:
            parts, image_shape, class_names = _load_file(path)
        except DatasetError:
            raise
        except (TypeError, ValueError, IndexError, OverflowError, AttributeError) as exc:
            # A value no check foresaw: still the file's problem (the message says so).
            raise DatasetError(f"{Path(path).name}: cannot be used (unexpected: "
                               f"{type(exc).__name__}: {str(exc)[:200]})") from None
        name = Path(path).name
    else:
        # The ranges RunConfig checks (the schema's), so the form and this agree.
        for setting, value in (("n_samples", n_samples), ("noise", noise)):
            if isinstance(value, np.generic):
                value = value.item()
            problem = BY_NAME[setting].problem(value)
            if problem is not None:
                raise DatasetError(f"{BY_NAME[setting].label} ({setting}) {problem}")
        parts = [_toy(name, int(n_samples), float(noise), seed)]
    if not class_names:  # built-in sets already have labels 0..K-1
        class_names = tuple(str(c) for c in range(int(parts[0][1].max()) + 1))
    # A file may fix the split (x_train/x_test); otherwise split here.
    (x_tr, y_tr), (x_te, y_te) = parts if len(parts) == 2 else _split(*parts[0], test_fraction, seed, name)
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = _moments(x_tr)
        x_train, x_test = _standardise(x_tr, mean, std, dtype), _standardise(x_te, mean, std, dtype)
        x_test_raw = np.ascontiguousarray(x_te, dtype=dtype)
    for values in (mean, std, x_train, x_test, x_test_raw):
        if not np.isfinite(values).all():
            big = max(float(np.abs(x_tr).max()), float(np.abs(x_te).max()) if x_te.size else 0.0)
            raise DatasetError(f"{name}: features too large to standardise in {dtype} (largest "
                               f"magnitude {big:.3g}); rescale them, e.g. divide by a power of ten")
    return Dataset(
        name=name,
        x_train=_frozen(x_train),
        y_train=_frozen(np.ascontiguousarray(y_tr, dtype=np.int64)),
        x_test=_frozen(x_test),
        y_test=_frozen(np.ascontiguousarray(y_te, dtype=np.int64)),
        n_classes=len(class_names),
        image_shape=image_shape,
        feature_mean=_frozen(mean),
        feature_std=_frozen(std),
        x_test_raw=_frozen(x_test_raw),
        class_names=class_names,
    )


# --------------------------------------------------------------------- toys

def _toy(name: str, n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generate a 2-D toy problem; one generator per call keeps it reproducible."""
    rng = np.random.default_rng(seed)
    # sklearn wants a legacy int seed; derive it from the same generator so the
    # toy data and the split (random_state=seed) do not share a random stream.
    sk_seed = int(rng.integers(2**31 - 1))
    if name == "moons":
        return sklearn_data.make_moons(n, noise=noise, random_state=sk_seed)
    if name == "circles":
        return sklearn_data.make_circles(n, noise=noise, factor=0.5, random_state=sk_seed)
    if name == "blobs":
        # Fixed, well-separated centres so only `noise` controls the overlap.
        centers = np.array([[0.0, 3.0], [-2.6, -1.5], [2.6, -1.5]])
        return sklearn_data.make_blobs(n, centers=centers, cluster_std=0.5 + 3.0 * noise,
                                       random_state=sk_seed)
    y = np.arange(n) % 2
    if name == "spiral":
        t = np.sqrt(rng.uniform(size=n))          # sqrt: even density along the arm
        theta = t * 3.0 * np.pi + y * np.pi          # 1.5 turns, arms half a turn apart
        x = t[:, None] * np.column_stack([np.cos(theta), np.sin(theta)])
        # Arms are only ~1/3 apart, so jitter is half of `noise` to stay learnable.
        x += rng.normal(scale=0.5 * noise, size=x.shape)
    else:  # xor
        x = rng.uniform(-1.0, 1.0, size=(n, 2))
        y = (np.sign(x[:, 0]) * np.sign(x[:, 1]) > 0).astype(np.int64)
        x += rng.normal(scale=noise, size=x.shape)  # labels come from the clean points
    order = rng.permutation(n)
    return x[order], y[order]


# -------------------------------------------------------------------- files

def _load_file(path: str):
    """Read a user .csv/.npz; returns ([(x, y)] or [train, test], image_shape, class_names)."""
    if not path:
        raise DatasetError("no data file chosen (path is empty)")
    p = Path(path)
    fname = p.name
    if not p.is_file():
        raise DatasetError(f"{fname}: file not found ({path})")
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".npz"):
        raise DatasetError(f"{fname}: unsupported file type {p.suffix!r}; expected .csv or .npz")
    size = p.stat().st_size
    if size == 0:
        raise DatasetError(f"{fname}: the file is empty")
    limit = data_limit()
    if suffix == ".csv" and size > limit // CSV_BYTES_PER_LIMIT:
        raise DatasetError(f"{fname}: too large to load: a CSV of {human_bytes(size)}, more than "
                           f"the {human_bytes(limit // CSV_BYTES_PER_LIMIT)} of CSV text bnviz "
                           f"parses (1/{CSV_BYTES_PER_LIMIT} of the data limit of "
                           f"{human_bytes(limit)}, raised with {HOW_TO_RAISE}); "
                           "save it as .npz, which may hold up to the limit")
    if suffix == ".csv":
        x, labels = _read_csv(p, fname)
        tags, xs, ys = ["features"], [x], [labels]
    else:
        arrays = _read_npz(p, fname)
        if all(k in arrays for k in ("x_train", "y_train", "x_test", "y_test")):
            tags = ["x_train", "x_test"]
            xs, ys = [arrays["x_train"], arrays["x_test"]], [arrays["y_train"], arrays["y_test"]]
        elif ("X" in arrays or "x" in arrays) and "y" in arrays:
            tags = ["X" if "X" in arrays else "x"]
            xs, ys = [arrays[tags[0]]], [arrays["y"]]
        else:
            found = ", ".join(sorted(arrays)) or "none"
            raise DatasetError(f"{fname}: missing arrays; expected keys x_train, y_train, x_test, "
                               f"y_test (a given split) or X, y (found: {found})")
    checked = [_check_features(x, fname, tag) for x, tag in zip(xs, tags)]
    shapes = [shape or x.shape[1:] for x, shape in checked]
    if len(shapes) == 2 and shapes[0] != shapes[1]:
        raise DatasetError(f"{fname}: x_train examples have shape {shapes[0]} but x_test has {shapes[1]}")
    ys, names = _encode_labels(ys, fname)
    for (x, _), y, tag in zip(checked, ys, tags):
        if len(x) != len(y):
            raise DatasetError(f"{fname}: {len(x)} feature rows ({tag}) but {len(y)} labels; lengths must match")
        if len(x) == 0:
            raise DatasetError(f"{fname}: no examples in {tag}")
    total = sum(len(y) for y in ys)
    if total < MIN_EXAMPLES:
        raise DatasetError(f"{fname}: only {total} examples, need at least {MIN_EXAMPLES}")
    if len(names) > MAX_CLASSES:
        raise DatasetError(f"{fname}: {len(names)} different labels; bnviz trains at most "
                           f"{MAX_CLASSES} classes")
    if len(names) < 2:
        raise DatasetError(f"{fname}: only one class ({names[0]}) in the labels; need at least 2 classes")
    return [(x, y) for (x, _), y in zip(checked, ys)], checked[0][1], names


def _read_npz(p: Path, fname: str) -> dict[str, np.ndarray]:
    """Every array of an .npz, each member's header checked against the size
    limit before its data is read; nothing is unpickled (see ``npzfile``)."""
    # Checked first: a lone .npy or random bytes are not an archive of named arrays.
    if not zipfile.is_zipfile(p):
        raise DatasetError(f"{fname}: not a readable .npz archive (not a zip file)")
    try:
        return read_npz(p, kinds="biufUS")
    except TooLarge as exc:
        raise DatasetError(f"{fname}: too large to load: {exc}") from None
    except NpzError as exc:
        raise DatasetError(f"{fname}: not a readable .npz archive: {exc}") from None
    except OSError as exc:
        raise DatasetError(f"{fname}: cannot read the file ({exc.strerror or exc})") from None


def _read_csv(p: Path, fname: str) -> tuple[np.ndarray, list[str]]:
    """Parse label + numeric feature columns with the csv module (never eval)."""
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            rows = [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{fname}: cannot read as CSV text ({exc})") from None
    if not rows:
        raise DatasetError(f"{fname}: the file is empty")
    first = rows[0][1]
    # A first row with a non-numeric cell is a header, unless that cell's column
    # is non-numeric below too (then it is a string label of a headerless file).
    below = rows[1][1] if len(rows) > 1 else []
    num = [_to_float(c) is not None for c in first]
    header = not any(num) or any(not ok and i < len(below) and _to_float(below[i]) is not None
                                 for i, ok in enumerate(num))
    label_col = 0
    if header:
        lowered = [c.strip().lower() for c in first]
        label_col = next((i for i, c in enumerate(lowered) if c in LABEL_COLUMNS), 0)
        rows = rows[1:]
    if not rows:
        raise DatasetError(f"{fname}: only a header row, no data")
    width = len(first)
    if width < 2:
        raise DatasetError(f"{fname}: needs a label column and at least one feature column")
    x = np.empty((len(rows), width - 1))
    labels = []
    for r, (line, row) in enumerate(rows):
        if len(row) != width:
            raise DatasetError(f"{fname}: line {line} has {len(row)} columns, expected {width} (ragged rows)")
        labels.append(row[label_col].strip())
        if not labels[-1]:  # an empty cell would silently become its own class
            raise DatasetError(f"{fname}: line {line} has an empty label")
        for c, cell in enumerate(row[:label_col] + row[label_col + 1:]):
            try:
                x[r, c] = float(cell)
            except ValueError:
                raise DatasetError(f"{fname}: line {line} has a non-numeric feature {cell.strip()!r}") from None
    return x, labels


def _pixel_values(x: np.ndarray) -> bool:
    """Whether every value is a whole number from 0 to 255 (8-bit pixels:
    MNIST as uint8, or as the integers of a CSV)."""
    if x.dtype == np.uint8:
        return True
    if x.dtype.kind not in "iuf" or x.size == 0:
        return False
    return bool(x.min() >= 0 and x.max() <= 255 and np.all(np.mod(x, 1) == 0))


def _check_features(x: np.ndarray, fname: str, tag: str) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Validate a feature array; flatten (N, h, w) images to (N, h*w)."""
    if x.dtype.kind not in "biuf":
        raise DatasetError(f"{fname}: {tag} has non-numeric features (dtype {x.dtype})")
    if x.ndim not in (2, 3):
        raise DatasetError(f"{fname}: {tag} has shape {x.shape}; expected (N, features) "
                           f"or (N, height, width) images")
    shape = (int(x.shape[1]), int(x.shape[2])) if x.ndim == 3 else None
    side = math.isqrt(x.shape[1])
    if x.ndim == 2 and x.shape[1] >= 16 and side * side == x.shape[1] and _pixel_values(x):
        shape = (side, side)  # flat rows of pixel values with a square count (e.g. 784) are images too
    x = x.reshape(x.shape[0], math.prod(x.shape[1:]))
    if x.dtype.kind == "b":
        x = x.astype(np.uint8)  # bool arithmetic (ptp, subtraction) is not defined
    if x.shape[1] == 0:
        raise DatasetError(f"{fname}: {tag} has no features")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise DatasetError(f"{fname}: {tag} contains NaN or Inf values")
    return x, shape


def _encode_labels(ys: list, fname: str) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """Map the sorted unique labels of all parts jointly to 0..K-1."""
    # (N, 1) column vectors are common; accept them as (N,).
    arrays = [a.reshape(-1) if a.ndim == 2 and a.shape[1] == 1 else a for a in map(np.asarray, ys)]
    for a in arrays:
        if a.ndim != 1:
            raise DatasetError(f"{fname}: labels must be 1-D, got shape {a.shape}")
    for a in arrays:
        if a.dtype.kind not in "biufUS":
            raise DatasetError(f"{fname}: labels have unsupported type {a.dtype}")
    if len({a.dtype.kind in "US" for a in arrays}) > 1:
        raise DatasetError(f"{fname}: the labels of one part are text, of the other numbers")
    flat = np.concatenate(arrays)
    if flat.dtype.kind in "US":
        if any(_to_float(v) is None for v in flat):  # genuine string labels: sort as text
            uniq = sorted(set(str(v) for v in flat))
            index = {u: i for i, u in enumerate(uniq)}
            return [np.array([index[str(v)] for v in a], dtype=np.int64) for a in arrays], tuple(uniq)
        try:
            arrays = [a.astype(np.float64) for a in arrays]  # numbers written as text
        except (ValueError, OverflowError):
            raise DatasetError(f"{fname}: labels written as numbers that cannot be read as such") from None
        flat = np.concatenate(arrays)
    if flat.dtype.kind not in "biuf":
        raise DatasetError(f"{fname}: labels have unsupported type {flat.dtype}")
    bad = flat[~np.isfinite(flat) | (flat != np.round(flat))] if flat.dtype.kind == "f" else []
    if len(bad):
        raise DatasetError(f"{fname}: labels must be integers, found {float(bad[0])}")
    if flat.size and flat.min() < 0:
        raise DatasetError(f"{fname}: labels must not be negative, found {flat.min().item()}")
    if flat.size and (flat.max() >= 2.0**63 if flat.dtype.kind == "f" else flat.max() > 2**63 - 1):
        raise DatasetError(f"{fname}: labels must be below 2**63 (int64), found {flat.max().item()}")
    uniq = np.unique(flat.astype(np.int64))  # numeric sort, so 10 comes after 9
    return ([np.searchsorted(uniq, a.astype(np.int64)).astype(np.int64) for a in arrays],
            tuple(str(u) for u in uniq))


def _to_float(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------ split & standardise

def _split(x, y, test_fraction, seed, name):
    """Seeded split, stratified when every class has at least two examples
    (scikit-learn's train_test_split, see sklearn_data)."""
    counts = np.bincount(y)
    stratify = bool(counts[counts > 0].min() >= 2)
    # Stratifying also fails when a part is smaller than the number of classes;
    # then fall back to a plain shuffled split.
    for strat in ((True, False) if stratify else (False,)):
        try:
            train, test = sklearn_data.split_indices(y, test_fraction, seed, strat)
            return (x[train], y[train]), (x[test], y[test])
        except ValueError as exc:
            error = exc
    raise DatasetError(f"{name}: cannot split {len(y)} examples with test_fraction "
                       f"{test_fraction} ({error})")


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and population std in float64, two passes in row blocks."""
    blocks = range(0, len(x), _CHUNK)
    mean = sum(x[i:i + _CHUNK].sum(axis=0, dtype=np.float64) for i in blocks) / len(x)
    std = np.sqrt(sum(((x[i:i + _CHUNK] - mean) ** 2).sum(axis=0) for i in blocks) / len(x))
    # Constant features: the rounding residue of the mean is not real spread.
    std[(std == 0) | (np.ptp(x, axis=0) == 0)] = 1.0
    return mean, std


def _standardise(x, mean, std, dtype) -> np.ndarray:
    """(x - mean) / std computed in float64 per block, stored in `dtype`."""
    out = np.empty(x.shape, dtype=dtype)
    for i in range(0, len(x), _CHUNK):
        out[i:i + _CHUNK] = (x[i:i + _CHUNK] - mean) / std
    return out


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a
