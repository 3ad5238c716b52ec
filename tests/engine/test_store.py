"""SeriesStore: the whole run at one resolution. Steps strictly increasing,
even spacing outside the recent window, covered step ranges contiguous and
complete, envelopes containing every merged value, snapshots that never
change, and state that continues identically."""
from __future__ import annotations

import numpy as np
import pytest

from bnviz.engine.store import SeriesStore

SHAPES = {"step": (), "loss": (), "gamma": (3,), "pct": (3, 2)}
KINDS = {"loss": "mean", "gamma": "last", "pct": "avg"}


def make(budget=4096, **kw) -> SeriesStore:
    return SeriesStore(SHAPES, budget_bytes=budget, min_capacity=32, kinds=KINDS, **kw)


def feed(store, steps, seed=0):
    rng = np.random.default_rng(seed)
    ref = {"loss": [], "gamma": [], "pct": []}
    for s in steps:
        row = {"step": s, "loss": rng.normal() * 10 ** rng.integers(0, 3), "gamma": np.full(3, s * 0.5),
               "pct": rng.normal(size=(3, 2))}
        store.append(row)
        for k in ref:
            ref[k].append(np.float32(row[k]))
    return {k: np.array(v) for k, v in ref.items()}


def check_cover(view, steps):
    """Every recorded step in exactly one row, rows in order, each row's
    step_count its number of recorded steps."""
    first, last, count = (np.asarray(view[k]) for k in ("step_first", "step", "step_count"))
    assert np.all(first <= last) and np.all(last[:-1] < first[1:]), "rows in order, disjoint"
    assert first[0] == steps[0] and last[-1] == steps[-1]
    which = np.searchsorted(last, steps)   # the row holding each recorded step
    assert np.all(first[which] <= steps)
    np.testing.assert_array_equal(np.bincount(which, minlength=len(last)), count)
    return first, last, count, which


@pytest.mark.parametrize("every", [1, 3])
def test_many_doublings_keep_one_resolution(every):
    store = make()
    steps = np.arange(every, 40_000 * every + 1, every)
    ref = feed(store, steps)
    assert store.stride >= 256, "many doublings happened"
    view = store.snapshot()
    first, last, count, which = check_cover(view, steps)
    assert np.all(np.diff(last) > 0)
    # Outside the recent window every row is one whole bucket of `stride` steps.
    older = count > 1
    n_old = int(np.argmin(older)) if not older.all() else len(older)
    assert np.all(older[:n_old]) and not np.any(older[n_old:]), "older rows first, then recent"
    s = store.stride
    np.testing.assert_array_equal((first[:n_old] - 1) // s, (last[:n_old] - 1) // s)
    np.testing.assert_array_equal(np.diff((last[:n_old] - 1) // s), 1)
    assert len(view["step"]) - n_old >= store.window
    # Merged values: mean and envelope of noisy rows, the last state, averaged summaries.
    for j in range(len(last)):
        rows = which == j
        lo, hi, mean = view["loss.min"][j], view["loss.max"][j], view["loss"][j]
        assert lo == ref["loss"][rows].min() and hi == ref["loss"][rows].max()
        assert abs(mean - ref["loss"][rows].astype(np.float64).mean()) <= 1e-5 * max(1, abs(hi), abs(lo))
        np.testing.assert_array_equal(view["gamma"][j], ref["gamma"][rows][-1])
        np.testing.assert_allclose(view["pct"][j], ref["pct"][rows].mean(axis=0), rtol=1e-5, atol=1e-6)


def test_snapshots_never_change_and_are_read_only():
    store = make()
    kept = []
    for chunk in range(20):
        feed(store, range(chunk * 2000 + 1, chunk * 2000 + 2001), seed=chunk)
        view = store.snapshot()
        kept.append((view, {k: np.array(view[k]) for k in view}))
    for view, copy in kept:
        for k in view:
            np.testing.assert_array_equal(view[k], copy[k])
            with pytest.raises(ValueError):
                view[k][...] = 0


def test_state_continues_identically():
    a, b = make(), make()
    feed(a, range(1, 9_001))
    state = a.state_dict()
    b.load_state_dict(state)
    for store in (a, b):
        feed(store, range(9_001, 30_001), seed=5)
    va, vb = a.snapshot(), b.snapshot()
    assert a.state_dict()["counters"] == b.state_dict()["counters"]
    for k in va:
        np.testing.assert_array_equal(va[k], vb[k])


def test_state_mid_doubling_continues_identically():
    a = make(budget=2**20)   # large enough that doubling takes several appends
    for s in range(1, 200_000):
        feed(a, [s], seed=s)
        if a._next is not None and a._merged > 0:
            break
    assert a.state_dict()["counters"]["doubling"]
    b = make(budget=2**20)
    b.load_state_dict(a.state_dict())
    for store in (a, b):
        feed(store, range(s + 1, s + 3_000), seed=1)
    for k in a.snapshot():
        np.testing.assert_array_equal(a.snapshot()[k], b.snapshot()[k])


def test_bad_state_is_refused_and_changes_nothing():
    a = make()
    feed(a, range(1, 5_000))
    before = {k: np.array(v) for k, v in a.snapshot().items()}
    good = a.state_dict()
    for counters in ({**good["counters"], "stride": 3}, {**good["counters"], "capacity": 1},
                     {**good["counters"], "start": good["counters"]["end"] + 1},
                     {**good["counters"], "end": 2**70}, {**good["counters"], "pending": 1}):
        with pytest.raises(ValueError):
            a.load_state_dict({"counters": counters, "arrays": good["arrays"]})
    arrays = dict(good["arrays"])
    arrays["recent/mean/float32"] = arrays["recent/mean/float32"][:-1]
    with pytest.raises(ValueError, match="recent/mean/float32"):
        a.load_state_dict({"counters": good["counters"], "arrays": arrays})
    for k, v in a.snapshot().items():
        np.testing.assert_array_equal(v, before[k])


def test_float64_store_keeps_float64():
    store = make(dtype=np.float64)
    feed(store, range(1, 20_000))
    view = store.snapshot()
    assert view["loss"].dtype == view["loss.max"].dtype == view["gamma"].dtype == np.float64
    assert view["step"].dtype == view["step_count"].dtype == np.int64


def test_reused_memory_never_changes_a_kept_array():
    """Dropped chunks are written again only when nothing refers to them: an
    array taken from a snapshot (a view into a chunk) keeps its values."""
    store = make()
    feed(store, range(1, 6))
    kept = store.snapshot()["loss"]          # one part: a view of the first chunk
    assert kept.base is not None
    frozen = kept.copy()
    feed(store, range(6, 30_000), seed=9)   # folds, drops and reuses chunks many times
    np.testing.assert_array_equal(kept, frozen)
    assert len(store._spare_chunks) + len(store._chunks) < 40   # memory is reused


def test_column_and_take_equal_indexing_the_whole():
    store = make()
    feed(store, range(1, 12_000))
    view = store.snapshot()
    whole = np.array(view["gamma"])
    rows = np.unique(np.random.default_rng(0).integers(0, len(whole), 300))
    np.testing.assert_array_equal(view.take("gamma", rows), whole[rows])
    np.testing.assert_array_equal(view.column("gamma", (2,)), whole[:, 2])
    np.testing.assert_array_equal(view.column("pct", (slice(None), 1)), np.array(view["pct"])[:, :, 1])
    assert "loss.min" in view and "nothing" not in view


def _same_state(a: SeriesStore, b: SeriesStore) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["counters"] == sb["counters"]
    assert sa["arrays"].keys() == sb["arrays"].keys()
    for k in sa["arrays"]:
        np.testing.assert_array_equal(sa["arrays"][k], sb["arrays"][k], err_msg=k)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_copy_fed_the_new_rows_in_batches_ends_in_the_same_state(seed):
    """The window's copy of a history: rows_since / extend in batches of any
    size (one row to several chunks) reproduce appends one by one exactly,
    through folds and many doublings of the stride."""
    rng = np.random.default_rng(seed)
    source, copy = make(), make()
    mark = source.end
    source.pin(mark)
    steps = np.arange(1, 30_001)
    done = 0
    while done < len(steps):
        n = int(rng.choice([1, 2, 7, 40, 300, 1500]))
        feed(source, steps[done:done + n], seed=done)
        done += n
        if rng.random() < 0.7:    # now and then a frame: what is new since the last
            blocks, count = source.rows_since(mark)
            assert count == source.end - mark
            copy.extend(blocks, count)
            mark = source.end
            source.pin(mark)
            _same_state(source, copy)
    assert source.stride >= 64
    blocks, count = source.rows_since(mark)
    copy.extend(blocks, count)
    _same_state(source, copy)
    view_a, view_b = source.snapshot(), copy.snapshot()
    for k in view_a:
        np.testing.assert_array_equal(view_a[k], view_b[k])


def test_rows_before_the_pin_are_gone_and_extend_checks_its_blocks():
    store = make()
    feed(store, np.arange(1, 5001))
    with pytest.raises(ValueError, match="no longer kept"):
        store.rows_since(0)
    blocks, n = store.rows_since(store.end - 3)
    assert n == 3
    other = make()
    with pytest.raises(ValueError, match="does not fit"):
        other.extend(blocks, 4)
