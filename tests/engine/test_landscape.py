"""Santurkar et al.'s measures: internal covariate shift against an
independent computation, the landscape's losses against direct
evaluation, the smoothness on a quadratic of known constant, and the
power iteration against an explicit Hessian."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from bnviz.engine.config import RunConfig
from bnviz.engine.landscape import (STEP_MULTIPLES, along_gradient, covariate_shift, landscape,
                                    loss_and_gradient, top_hessian_eigenvalue)
from bnviz.engine.losses import softmax_cross_entropy
from bnviz.engine.trainer import Trainer

SMALL = RunConfig(dataset="digits", hidden=(16, 12), activation="tanh", batchnorm=True, optimizer="momentum",
                  lr=0.1, batch_size=32, dtype="float64", seed=2)


def one_step(cfg, warm=5):
    """A trainer after ``warm`` steps, the model before the next step, that
    step's batch and each parameter's change in it."""
    tr = Trainer(cfg)
    tr.advance(warm)
    snapshot = copy.deepcopy(tr.model)
    idx = tr.next_indices()
    before = [p.copy() for _, p, _ in tr.model.named_parameters()]
    tr.train_batch(idx)
    update = [p - b for (_, p, _), b in zip(tr.model.named_parameters(), before)]
    return tr, snapshot, tr.x_train[idx], tr.y_train[idx], update


def grads_of(model, x, y):
    m = copy.deepcopy(model)
    _, d, _ = softmax_cross_entropy(m.forward(x, training=True), y)
    m.backward(d)
    return m


@pytest.mark.parametrize("norm", ["batch", "noisy", None])
def test_covariate_shift_is_the_gradient_change_the_lower_layers_cause(norm):
    cfg = SMALL.replace(norm=norm or "batch", batchnorm=norm is not None)
    tr, snapshot, x, y, update = one_step(cfg)
    ics = covariate_shift(snapshot, update, x, y, step=6)
    assert ics.step == 6 and ics.distance[0] is None and len(ics.distance) == 3   # 2 layers + head
    # By hand: layer 2's gradient before, then with layer 1 moved by its update.
    g = grads_of(snapshot, x, y).layers[1].linear.dW
    moved = copy.deepcopy(snapshot)
    first = moved.layers[0]
    step = dict(zip([n for n, _, _ in snapshot.named_parameters()], update))
    first.linear.W += step["layer1.W"]
    if first.norm is not None:
        first.norm.gamma += step["layer1.gamma"]
        first.norm.beta += step["layer1.beta"]
    else:
        first.linear.b += step["layer1.b"]
    g2 = grads_of(moved, x, y).layers[1].linear.dW
    assert ics.distance[1] == pytest.approx(float(np.linalg.norm(g - g2)), rel=1e-12)
    cos = float(np.vdot(g, g2) / (np.linalg.norm(g) * np.linalg.norm(g2)))
    assert ics.cosine[1] == pytest.approx(cos, rel=1e-12)
    assert 0 < ics.distance[1] and -1 <= ics.cosine[2] <= 1
    # the head sees both layers moved
    both = copy.deepcopy(moved)
    both.layers[1].linear.W += step["layer2.W"]
    for name in ("gamma", "beta") if both.layers[1].norm is not None else ("b",):
        target = both.layers[1].norm if name != "b" else both.layers[1].linear
        getattr(target, name)[...] += step[f"layer2.{name}"]
    g_head = grads_of(snapshot, x, y).head.dW
    g_head2 = grads_of(both, x, y).head.dW
    assert ics.distance[2] == pytest.approx(float(np.linalg.norm(g_head - g_head2)), rel=1e-12)


def test_measuring_leaves_the_run_untouched():
    tr, snapshot, x, y, update = one_step(SMALL.replace(norm="noisy"))
    state = copy.deepcopy(snapshot.state_dict())
    covariate_shift(snapshot, update, x, y)
    landscape(snapshot, x, y, 0.1)
    after = snapshot.state_dict()
    for k, a in state["arrays"].items():
        np.testing.assert_array_equal(a, after["arrays"][k], err_msg=k)
    assert state["meta"] == after["meta"]
    # the same noise in every gradient: two evaluations agree exactly
    assert loss_and_gradient(snapshot, x, y)[0] == loss_and_gradient(snapshot, x, y)[0]


def test_landscape_losses_are_the_losses_along_the_gradient():
    tr, snapshot, x, y, _ = one_step(SMALL)
    lr = 0.1
    land = landscape(snapshot, x, y, lr, step=6)
    assert land.step_sizes == tuple(m * lr for m in STEP_MULTIPLES)
    g = grads_of(snapshot, x, y)
    grads = [gr.copy() for _, _, gr in g.named_parameters()]
    for eta, loss, change in zip(land.step_sizes, land.losses, land.gradient_changes):
        moved = copy.deepcopy(snapshot)
        for (_, p, _), gr in zip(moved.named_parameters(), grads):
            p -= eta * gr
        direct = softmax_cross_entropy(copy.deepcopy(moved).forward(x, training=True), y)[0]
        assert loss == pytest.approx(float(direct), rel=1e-12)
        there = grads_of(moved, x, y)
        expect = np.sqrt(sum(np.sum((a - b) ** 2) for (_, _, a), b in zip(there.named_parameters(), grads)))
        assert change == pytest.approx(float(expect), rel=1e-10)
    assert land.loss_range == max(land.losses) - min(land.losses)
    assert land.smoothness == pytest.approx(max(c / (e * land.gradient_norm)
                                                for c, e in zip(land.gradient_changes, land.step_sizes)))


def test_smoothness_on_a_quadratic_is_its_constant():
    """f(v) = v'Av/2 has gradient Av, whose Lipschitz constant is A's largest eigenvalue, 7."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    A = q @ np.diag([1.0, 3.0, 7.0]) @ q.T

    def f(values):
        v = values[0]
        return 0.5 * float(v @ A @ v), [A @ v]
    top = along_gradient(f, [q[:, 2] * 2.0], (0.01, 0.05, 0.1))
    assert top.smoothness == pytest.approx(7.0, rel=1e-12)        # the gradient along the top eigenvector
    some = along_gradient(f, [rng.standard_normal(3)], (0.01, 0.05, 0.1))
    assert 1.0 <= some.smoothness <= 7.0 + 1e-12
    assert top_hessian_eigenvalue(f, [rng.standard_normal(3)], iterations=60) == pytest.approx(7.0, rel=1e-6)


@pytest.mark.parametrize("bn", [False, True])
def test_power_iteration_finds_the_explicit_hessians_top_eigenvalue(bn):
    cfg = RunConfig(dataset="moons", n_samples=60, hidden=(3,), activation="tanh", batchnorm=bn,
                    batch_size=16, dtype="float64", seed=1)
    tr = Trainer(cfg)
    tr.advance(3)
    x, y = tr.x_train[:16], tr.y_train[:16]
    model = tr.model
    x0 = [p.astype(np.float64).copy() for _, p, _ in model.named_parameters()]
    shapes = [a.shape for a in x0]
    sizes = [a.size for a in x0]
    flat0 = np.concatenate([a.ravel() for a in x0])

    def unflat(v):
        out, at = [], 0
        for shape, size in zip(shapes, sizes):
            out.append(v[at:at + size].reshape(shape))
            at += size
        return out

    def grad(v):
        return np.concatenate([g.ravel() for g in loss_and_gradient(model, x, y, unflat(v))[1]])
    n, h = flat0.size, 1e-5
    H = np.empty((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = h
        H[:, j] = (grad(flat0 + e) - grad(flat0 - e)) / (2 * h)
    H = (H + H.T) / 2
    eig = np.linalg.eigvalsh(H)
    expect = eig[np.argmax(np.abs(eig))]
    # (without BN the top two are 0.617 and 0.607 here: the iteration converges slowly)
    found = top_hessian_eigenvalue(lambda vals: loss_and_gradient(model, x, y, vals), x0, iterations=1000)
    assert found == pytest.approx(expect, rel=1e-4)


def test_the_trainers_meters_measure_its_steps_and_change_nothing():
    from bnviz.engine.landscape import Scratch, measure
    tr = Trainer(SMALL.replace(meters=True, meter_every=4))
    plain = Trainer(SMALL)
    tr.advance(8)
    plain.advance(8)
    for (_, a, _), (_, b, _) in zip(tr.model.named_parameters(), plain.model.named_parameters()):
        np.testing.assert_array_equal(a, b)                  # the run is the run without meters
    rows = tr.history.snapshot().meters
    assert list(rows["step"]) == [4, 8]
    by_hand = Trainer(SMALL)
    by_hand.advance(7)
    before = Scratch(by_hand.model)
    idx = by_hand.next_indices()
    by_hand.train_batch(idx)
    ics, land = measure(before, [p for _, p, _ in by_hand.model.named_parameters()],
                        by_hand.x_train[idx], by_hand.y_train[idx], SMALL.lr, 8)
    assert rows["landscape_smoothness"][1] == pytest.approx(land.smoothness, rel=1e-12)
    assert rows["landscape_loss_range"][1] == pytest.approx(land.loss_range, rel=1e-12)
    assert rows["L2.ics_distance"][1] == pytest.approx(ics.distance[2], rel=1e-12)
    assert rows["L1.ics_cosine"][1] == pytest.approx(ics.cosine[1], rel=1e-12)
    assert "L0.ics_distance" not in rows       # the first layer has none below it
    assert tr.last_meters[1].step == 8
    tr.set_live(tr.config.replace(meters=False))   # off, live: no more rows
    tr.advance(8)
    assert len(tr.history.snapshot().meters["step"]) == 2
