"""Convolutional networks in the trainer: records per channel, test-time
statistics through the blocks, images from files, the presets."""
from __future__ import annotations

import numpy as np
import pytest

from bnviz.engine import cnn as cnn_module
from bnviz.engine.config import ConfigError, RunConfig, preset
from bnviz.engine.conv import to_rows
from bnviz.engine.data import load_dataset
from bnviz.engine.stats import population_statistics, single_example_logits, walk
from bnviz.engine.testtime import inspect_example
from bnviz.engine.trainer import Trainer

CNN = RunConfig(dataset="digits", architecture="cnn", conv_channels=(4, 6), hidden=(16,), activation="relu",
                init="he", lr=0.05, batch_size=32, dtype="float64")


def test_records_of_a_block_are_its_channels_over_every_pixel():
    tr = Trainer(CNN)
    rec = tr.step(3)
    conv1, conv2, dense = rec.layers
    assert (conv1.kind, conv2.kind, dense.kind) == ("conv", "conv", "dense")
    assert (conv1.width, conv2.width, dense.width) == (4, 6, 16)
    # 8x8 digits, then pooled to 4x4 for the second block
    assert conv1.pre.shape == (32 * 64, 4) and conv2.pre.shape == (32 * 16, 6)
    assert dense.pre.shape == (32, 16)
    # BatchNorm2d: the batch statistics are each channel's over (N, H, W)
    np.testing.assert_allclose(conv1.batch_mean, conv1.pre.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv1.batch_var, conv1.pre.var(axis=0), rtol=1e-10)
    np.testing.assert_allclose(conv1.normalized, (conv1.pre - conv1.pre.mean(0)) / np.sqrt(
        conv1.pre.var(0) + CNN.bn_eps), atol=1e-10)
    assert conv1.act_in is conv1.bn_out          # BN before the activation: aliases stay aliases
    # The history keeps them per channel
    h = tr.history.snapshot()
    assert h.layer(0, "batch_mean").shape[1] == 4 and h.layer(1, "running_var").shape[1] == 6


def test_rows_are_the_channels_values_in_pixel_order():
    x = np.arange(2 * 3 * 2 * 2, dtype=np.float64).reshape(2, 3, 2, 2)
    rows = to_rows(x)
    assert rows.shape == (8, 3)
    np.testing.assert_array_equal(rows[:, 1], x[:, 1].reshape(-1))


def test_cnn_learns_the_digits():
    """README: "95% test accuracy after 100 steps, 97% after 1,000" (measured 94.7%, 96.9%)."""
    tr = Trainer(preset("Small CNN on digits"))
    tr.advance(100)
    assert round(tr.evaluate()["test_accuracy"], 2) == 0.95
    tr.advance(900)
    ev = tr.evaluate()
    assert round(ev["test_accuracy"], 2) == 0.97, ev
    assert ev["test_accuracy_population"] > 0.95, ev


def test_population_statistics_in_parts_equal_at_once(monkeypatch):
    tr = Trainer(CNN.replace(conv_channels=(4, 4), batchnorm=(True, True, True)))
    tr.advance(20)
    at_once = population_statistics(tr.model, tr.x_train)
    tr.model.infer_batch = 100   # 1,437 training examples: 15 parts
    in_parts = population_statistics(tr.model, tr.x_train)
    for a, b in zip(at_once, in_parts):
        np.testing.assert_allclose(a[0], b[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-10)
    # and they are the moments of what each block's BN takes over the whole set
    seen = {}

    def keep(i, bn, v):
        seen.setdefault(i, v)
        mean, var = at_once[i]
        return (v - mean) / np.sqrt(var + bn.eps) * bn.gamma + bn.beta
    walk(tr.model, tr.x_train, keep)
    np.testing.assert_allclose(at_once[0][0], seen[0].mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(at_once[1][1], seen[1].var(axis=0), rtol=1e-10)
    # inference in parts gives the same logits
    whole = single_example_logits(tr.model, tr.x_test)
    tr.model.infer_batch = 7
    np.testing.assert_allclose(single_example_logits(tr.model, tr.x_test), whole, rtol=1e-12)
    np.testing.assert_allclose(tr.model.forward(tr.x_test, training=False),
                               tr.model.forward(tr.x_test[:50], training=False).tolist() +
                               tr.model.forward(tr.x_test[50:], training=False).tolist(), rtol=1e-12)


@pytest.mark.parametrize("norm", ["batch", "layer", "group", "renorm", "noisy"])
def test_every_normalization_trains_a_cnn(norm):
    tr = Trainer(CNN.replace(norm=norm, gn_groups=2, renorm_warmup=3, renorm_ramp=5))
    rec = tr.step(12)
    assert rec.layers[0].norm == norm and np.isfinite(rec.loss)
    ev = tr.evaluate()
    assert 0.0 <= ev["test_accuracy"] <= 1.0
    has_stats = norm in ("batch", "renorm", "noisy")
    assert (rec.layers[0].running_mean is not None) == has_stats
    assert (tr.last_evaluation.population_mean[0] is not None) == has_stats


def test_feature_maps_are_the_inference_forward():
    tr = Trainer(CNN)
    tr.advance(10)
    x = tr.x_test[:3]
    maps = tr.model.feature_maps(x)
    assert [m[0].shape for m in maps] == [(3, 4, 8, 8), (3, 6, 4, 4)]
    # the normalization's maps: running statistics, per channel
    block = tr.model.blocks[0]
    z, normed = maps[0]
    bn = block.bn
    expect = (z - bn.running_mean[:, None, None]) / np.sqrt(bn.running_var[:, None, None] + bn.eps)
    expect = expect * bn.gamma[:, None, None] + bn.beta[:, None, None]
    np.testing.assert_allclose(normed, expect, rtol=1e-10, atol=1e-12)
    ins = inspect_example(tr, 2)
    assert len(ins.feature_maps) == 2
    np.testing.assert_allclose(ins.feature_maps[1][1], tr.model.feature_maps(tr.x_test[2:3])[1][1][0])


def test_a_cnn_needs_images(tmp_path):
    with pytest.raises(ConfigError) as err:
        CNN.replace(dataset="moons").validate()
    assert err.value.field == "architecture" and "image" in err.value.message
    points = tmp_path / "points.csv"   # a file whose rows are not images
    points.write_text("label,a,b,c\n" + "".join(f"{i % 2},{i * 0.5},{i},{-i}\n" for i in range(40)))
    with pytest.raises(ConfigError) as err:
        Trainer(CNN.replace(dataset="file", data_path=str(points)))
    assert err.value.field == "architecture" and "'file' is not images" in err.value.message
    with pytest.raises(ConfigError) as err:
        CNN.replace(conv_kernel=4).validate()
    assert err.value.field == "conv_kernel"
    with pytest.raises(ConfigError) as err:
        CNN.replace(batchnorm=(True, False)).validate()
    assert err.value.field == "batchnorm" and "convolution blocks" in err.value.message


def _mnist_like(n=120, seed=0):
    """28x28 uint8 images of two classes: a bright bar, vertical or horizontal."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, c in enumerate(y):
        if c:
            x[i, :, 12:16] = 250
        else:
            x[i, 12:16, :] = 250
    return x, y


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_mnist_files_train_as_images(tmp_path, suffix):
    x, y = _mnist_like()
    path = tmp_path / f"mnist{suffix}"
    if suffix == ".npz":
        np.savez(path, x=x, y=y)
    else:
        lines = ["label," + ",".join(f"pixel{i}" for i in range(784))]
        lines += [f"{c}," + ",".join(str(v) for v in row.reshape(-1)) for row, c in zip(x, y)]
        path.write_text("\n".join(lines))
    data = load_dataset("file", path=str(path), test_fraction=0.25, seed=0)
    assert data.image_shape == (28, 28)
    cfg = preset("CNN on MNIST (your file)").replace(data_path=str(path), batch_size=16)
    tr = Trainer(cfg)
    rec = tr.step(20)
    assert rec.layers[0].pre.shape == (16 * 28 * 28, cfg.conv_channels[0])
    tr.evaluate()
    assert tr.last_evaluation.test_accuracy > 0.8


def test_large_images_are_walked_in_parts():
    """The MNIST preset's network asks to be walked in parts below a
    test set of 10,000 (the whole of it at once would need gigabytes)."""
    cfg = preset("CNN on MNIST (your file)")
    model = cnn_module.CNN((1, 28, 28), cfg.conv_channels, cfg.conv_kernel, cfg.hidden, 10)
    assert 16 <= model.infer_batch < 10_000


def test_live_settings_and_counters_reach_the_blocks_norms():
    tr = Trainer(CNN)
    tr.advance(2)
    tr.set_live(CNN.replace(bn_momentum=0.3))
    assert tr.model.blocks[0].norm.dense.momentum == 0.3 == tr.model.layers[2].norm.momentum
    assert tr.model.blocks[1].norm.dense.num_batches_tracked == 2
