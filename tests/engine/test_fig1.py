"""The fig1 lesson's claims about its probe bands, asserted in numbers on the
lesson's own runs (the explanation in lessons._FIG1, sentence by sentence)."""
from __future__ import annotations

import numpy as np
import pytest

from bnviz.engine.compare import Comparison
from bnviz.engine.lessons import lesson
from bnviz.engine.stats import train_mode_forward

LAYER = "L2"      # the last hidden layer
AT = (100, 500, 1000, 2800)


@pytest.fixture(scope="module")
def fig1():
    """The lesson's two runs to its 3000 steps: per checkpoint, each run's
    per-unit probe band of the last layer (3, D) with that layer's gamma and
    beta and the test accuracy; the last 200 steps summarised at every step."""
    les = lesson("fig1")
    cmp = Comparison(*les.configs, summary_every=100)
    out, done = {}, 0

    def grab(n):
        for j, t in enumerate(cmp.runs):
            s = t.history.snapshot().summaries
            assert s["step"][-1] == n
            bn = t.model.layers[2].bn
            out[j, n] = {"band": np.array(s[f"{LAYER}.act_in_unit_probe_pct"][-1], np.float64),
                         "gamma": None if bn is None else bn.gamma.astype(np.float64),
                         "beta": None if bn is None else bn.beta.astype(np.float64),
                         "accuracy": t.evaluate()["test_accuracy"]}
    for n in AT:
        cmp.advance(n - done)
        done = n
        grab(n)
    for t in cmp.runs:
        t.summary_every = 1
    cmp.advance(les.steps - done)
    grab(les.steps)
    return les, cmp, out


def spread(band):
    return float((band[2] - band[0]).mean())   # 85th - 15th, mean over the layer's units


def test_bn_climbs_faster_and_stays_ahead(fig1):
    les, _, out = fig1
    assert out[0, 500]["accuracy"] > 0.9 and out[1, 500]["accuracy"] < 0.5   # measured 0.967, 0.311
    for n in (*AT[1:], les.steps):
        assert out[0, n]["accuracy"] > out[1, n]["accuracy"], n


def test_the_probe_is_the_360_test_examples(fig1):
    _, cmp, _ = fig1
    for t in cmp.runs:
        assert t.probe_x.shape[0] == 360 == len(t.y_test)
        np.testing.assert_array_equal(t.probe_x, t.x_test)


def test_mini_batch_bands_jitter_more_than_ten_times_as_much(fig1):
    _, cmp, _ = fig1
    for t in cmp.runs:
        s = t.history.snapshot().summaries
        late = s["step"] > 2800   # summarised at every step
        assert late.sum() == 200
        jitter = {src: np.abs(np.diff(np.asarray(s[f"{LAYER}.act_in_unit{src}_pct"], np.float64)[late],
                                      axis=0)).mean() for src in ("", "_probe")}
        # measured: 15.8x with BN, 26.7x without
        assert jitter[""] > 10 * jitter["_probe"], jitter


def test_with_bn_the_band_is_beta_plus_gamma_times_x_hats_percentiles(fig1):
    les, cmp, out = fig1
    # x_hat over the probe: mean 0 and variance 1 by construction
    t = cmp.runs[0]
    bn = t.model.layers[2].bn
    _, outs = train_mode_forward(t.model, t.probe_x)
    x_hat = (outs[2].astype(np.float64) - bn.beta) / bn.gamma
    np.testing.assert_allclose(x_hat.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_array_less(x_hat.var(axis=0), 1)           # var / (var + eps)
    np.testing.assert_allclose(x_hat.var(axis=0), 1, atol=2e-3)
    for n in (*AT, les.steps):
        o = out[0, n]
        assert np.all(o["gamma"] > 0)
        x_hat_pct = (o["band"] - o["beta"]) / o["gamma"]    # the band = beta + gamma * these
        # near -1.1, 0 and 1.1 throughout (measured -1.09..-1.13, 0.00, 1.09..1.12)
        np.testing.assert_allclose(x_hat_pct.mean(axis=1), (-1.1, 0.0, 1.1), atol=0.06, err_msg=str(n))
    # widens slowly as gamma is learned: by about a third in 3000 steps (measured 1.33x)
    growth = spread(out[0, les.steps]["band"]) / spread(out[0, 100]["band"])
    assert 1.2 < growth < 1.45, growth
    gammas = [out[0, n]["gamma"].mean() for n in (*AT, les.steps)]
    assert all(a < b for a, b in zip(gammas, gammas[1:])), gammas   # 1.05 ... 1.37


def test_without_bn_the_band_drifts_and_widens(fig1):
    les, _, out = fig1
    first, last = out[1, 100]["band"], out[1, les.steps]["band"]
    assert spread(first) < 0.12, spread(first)              # a sliver, about 0.1 wide (0.079)
    assert spread(last) > 20 * spread(first), (spread(first), spread(last))   # measured 34x
    drift = {j: np.abs(out[j, les.steps]["band"][1] - out[j, 100]["band"][1]).mean() for j in (0, 1)}
    assert drift[1] > 4 * drift[0], drift                   # measured 0.58 vs 0.088
