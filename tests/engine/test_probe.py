"""The probe behind Fig. 1 (b, c): fixed held-out examples, percentile series
equal to np.percentile of an independent forward in each mode, and no
change to the model."""
from __future__ import annotations

import numpy as np
import pytest

from bnviz.engine import RunConfig, Trainer
from bnviz.engine.probe import PROBE_SIZE, probe_rows

Q = (15, 50, 85)
CFG = RunConfig(dataset="moons", n_samples=300, hidden=(12, 7), activation="tanh", batchnorm=True,
                optimizer="adam", lr=0.01, batch_size=20, seed=2)


def sigmoidish(cfg, z):
    return {"tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
            "relu": lambda v: np.maximum(v, 0)}[cfg.activation](z)


def reference(tr: Trainer, mode: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(pre, act_in) per hidden layer over the probe, written out from the
    formulas: z = a W (+ b); BN y = gamma (x - mean) / sqrt(var + eps) + beta
    with the probe's own mean and biased variance ("batch"), the running
    statistics ("running"), or the training set's, layer by layer ("population")."""
    cfg = tr.config
    probe = tr.x_test[probe_rows(len(tr.y_test), cfg.seed)]
    a, a_train = probe, tr.x_train
    out = []
    for layer in tr.model.layers:
        W, b, bn = layer.linear.W, layer.linear.b, layer.bn
        z, z_train = a @ W, a_train @ W
        if b is not None:
            z, z_train = z + b, z_train + b
        if bn is None:
            out.append((z, z))
            a, a_train = sigmoidish(cfg, z), sigmoidish(cfg, z_train)
            continue
        before = layer.placement == "before"
        x, x_train = (z, z_train) if before else (sigmoidish(cfg, z), sigmoidish(cfg, z_train))
        if mode == "batch":
            mean, var = x.mean(axis=0), x.var(axis=0)
        elif mode == "running":
            mean, var = bn.running_mean, bn.running_var
        else:
            x64 = x_train.astype(np.float64)
            mean, var = (x64.mean(axis=0).astype(x.dtype), x64.var(axis=0).astype(x.dtype))
        pop_mean, pop_var = (x_train.astype(np.float64).mean(axis=0).astype(x.dtype),
                             x_train.astype(np.float64).var(axis=0).astype(x.dtype))
        y = bn.gamma * (x - mean) / np.sqrt(var + bn.eps) + bn.beta
        y_train = bn.gamma * (x_train - pop_mean) / np.sqrt(pop_var + bn.eps) + bn.beta
        if before:
            out.append((z, y))
            a, a_train = sigmoidish(cfg, y), sigmoidish(cfg, y_train)
        else:
            out.append((z, z))
            a, a_train = y, y_train
    return out


def model_state(tr: Trainer) -> list:
    """Everything a probe must leave alone: cached forward arrays (by
    identity and value) and BN statistics."""
    state = []
    for L in tr.model.layers:
        for name in ("pre", "act_in", "bn_in", "bn_out", "out"):
            v = getattr(L, name)
            state.append((name, id(v), None if v is None else v.copy()))
        if L.bn is not None:
            bn = L.bn
            for name in ("running_mean", "running_var", "batch_mean", "batch_var", "x_hat", "gamma", "beta"):
                state.append((name, id(getattr(bn, name)), getattr(bn, name).copy()))
            state.append(("tracked", bn.num_batches_tracked, None))
    return state


def assert_same_state(a, b):
    assert len(a) == len(b)
    for (na, ia, va), (nb, ib, vb) in zip(a, b):
        assert na == nb and ia == ib, na
        if va is not None:
            np.testing.assert_array_equal(va, vb, err_msg=na)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["batch", "running", "population"])
@pytest.mark.parametrize("placement,bn", [("before", True), ("after", True), ("before", False),
                                          ("before", (True, False))])
def test_probe_series_equal_numpy_percentiles(dtype, mode, placement, bn):
    tr = Trainer(CFG.replace(bn_placement=placement, batchnorm=bn, dtype=dtype, probe_statistics=mode),
                 summary_every=4)
    tr.step(6)   # summaries at steps 4 and 6 (the last)
    snap = tr.history.snapshot().summaries
    assert list(snap["step"]) == [4, 6]
    ref = reference(tr, mode)
    rtol, atol = (1e-4, 1e-5) if dtype == "float32" else (1e-10, 1e-12)
    row = tr._recorder.probe_row(tr.probe_x, tr.probe_stats())
    for i, (pre, act_in) in enumerate(ref):
        want = {"pre_probe_pct": np.percentile(pre, Q), "act_in_probe_pct": np.percentile(act_in, Q),
                "pre_unit_probe_pct": np.percentile(pre, Q, axis=0),
                "act_in_unit_probe_pct": np.percentile(act_in, Q, axis=0)}
        for name, w in want.items():
            got = row[f"L{i}.{name}"]
            assert got.shape == w.shape == ((3,) if "unit" not in name else (3, tr.config.hidden[i]))
            np.testing.assert_allclose(got, w, rtol=rtol, atol=atol, err_msg=f"L{i}.{name}")
            stored = snap[f"L{i}.{name}"][-1]   # the history holds the same, in its own dtype
            np.testing.assert_array_equal(stored, np.asarray(got, dtype=stored.dtype))


def test_probe_modes_differ_where_they_should():
    """The three modes are three computations with BN (and one without)."""
    rows = {}
    for mode in ("batch", "running", "population"):
        tr = Trainer(CFG.replace(probe_statistics=mode))
        tr.step(30)
        rows[mode] = tr.history.snapshot().summaries["L1.act_in_unit_probe_pct"][-1]
    assert not np.allclose(rows["batch"], rows["running"], atol=1e-3)
    assert not np.allclose(rows["running"], rows["population"], atol=1e-3)
    plain = []
    for mode in ("batch", "running", "population"):
        tr = Trainer(CFG.replace(batchnorm=False, probe_statistics=mode))
        tr.step(30)
        plain.append(tr.history.snapshot().summaries["L1.act_in_unit_probe_pct"][-1])
    np.testing.assert_array_equal(plain[0], plain[1])
    np.testing.assert_array_equal(plain[0], plain[2])


@pytest.mark.parametrize("mode", ["batch", "running", "population"])
def test_probe_leaves_the_model_alone(mode):
    tr = Trainer(CFG.replace(probe_statistics=mode, bn_placement="after"), summary_every=1000)
    tr.step(3)
    before = model_state(tr)
    tr._recorder.probe_row(tr.probe_x, tr.probe_stats())
    assert_same_state(before, model_state(tr))
    # And a run with probe summaries at every step trains exactly like one without.
    a, b = Trainer(tr.config, summary_every=1), Trainer(tr.config, summary_every=1000)
    a.advance(12)
    b.advance(12)
    np.testing.assert_array_equal(a.history.snapshot().steps["loss"], b.history.snapshot().steps["loss"])
    np.testing.assert_array_equal(a.model.layers[0].bn.running_var, b.model.layers[0].bn.running_var)


def test_probe_is_the_test_set_or_512_of_it_fixed_by_the_config():
    tr = Trainer(CFG)
    np.testing.assert_array_equal(tr.probe_x, tr.x_test)   # 60 test examples: all of them
    big = RunConfig(dataset="moons", n_samples=5000, hidden=(4,), batch_size=50, seed=7)
    a, b = Trainer(big), Trainer(big.replace(lr=0.3))
    rows = probe_rows(len(a.y_test), 7)
    assert len(a.y_test) == 1000 and rows.shape == (PROBE_SIZE,)
    assert np.all(np.diff(rows) > 0) and rows[-1] < 1000
    np.testing.assert_array_equal(a.probe_x, a.x_test[rows])
    np.testing.assert_array_equal(a.probe_x, b.probe_x)    # another setting, the same probe
    assert not np.array_equal(rows, probe_rows(1000, 8))   # another seed, another probe


def test_population_probe_shares_the_evaluations_statistics():
    tr = Trainer(CFG.replace(probe_statistics="population", population_every=10), summary_every=4)
    tr.step(4)
    first, at = tr.population, tr.population_step
    assert at == 4
    tr.step(4)   # 4 steps later: reused (population_every = 10)
    assert tr.population is first and tr.population_step == 4
    tr.evaluate()
    assert tr.population is first
    tr.step(4)   # step 12: 8 steps after, still reused; step 16: recomputed
    tr.step(4)
    assert tr.population_step == 16 and tr.population is not first


@pytest.mark.parametrize("n", [1, 2, 7, 11_999, 12_000, 12_001, 36000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flat_percentiles_equal_numpy(n, dtype):
    from bnviz.engine.records import flat_percentiles
    rng = np.random.default_rng(n)
    v = rng.standard_normal(n).astype(dtype)
    v[::3] = v[0]   # ties
    np.testing.assert_allclose(flat_percentiles(v), np.percentile(v, Q), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(flat_percentiles(v.reshape(-1, 1)), np.percentile(v, Q), rtol=1e-6, atol=1e-7)


def test_probe_series_are_exported():
    import io

    from bnviz.export import csv_bytes, npz_bytes
    tr = Trainer(CFG, summary_every=2)
    tr.step(6)
    snap = tr.history.snapshot()
    header = csv_bytes(snap).decode().splitlines()[0].split(",")
    assert {"L1.act_in_probe_pct.p15", "L1.act_in_probe_pct.p85", "L0.pre_probe_pct.p50"} <= set(header)
    unit_header = csv_bytes(snap, per_unit=True).decode().splitlines()[0].split(",")
    assert "L1.act_in_unit_probe_pct.p50[6]" in unit_header
    with np.load(io.BytesIO(npz_bytes(snap))) as z:
        np.testing.assert_array_equal(z["summaries/L1.act_in_unit_probe_pct"],
                                      snap.summaries["L1.act_in_unit_probe_pct"])


def test_a_units_band_is_beta_plus_gamma_times_its_x_hat_percentiles():
    """The Distributions '?': with BN before the activation, normalised by the
    batch's own statistics (the mini-batch, or the probe in "batch" mode), a
    unit's band is beta + gamma * the percentiles of its x_hat."""
    tr = Trainer(CFG.replace(dtype="float64"))
    tr.step(4)
    rec = tr.record()
    L, bn = rec.layers[0], tr.model.layers[0].bn
    s = tr.history.snapshot().summaries
    # the mini-batch: the record's x_hat, gamma and beta of that forward
    np.testing.assert_allclose(s["L0.act_in_unit_pct"][-1],
                               L.beta + L.gamma * np.percentile(L.normalized, Q, axis=0), rtol=1e-10)
    # the probe: its own x_hat with the current gamma and beta
    z = tr.probe_x @ tr.model.layers[0].linear.W
    x_hat = (z - z.mean(axis=0)) / np.sqrt(z.var(axis=0) + bn.eps)
    np.testing.assert_allclose(s["L0.act_in_unit_probe_pct"][-1],
                               bn.beta + bn.gamma * np.percentile(x_hat, Q, axis=0), rtol=1e-10)
