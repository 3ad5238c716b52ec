"""The test-time lab's "inspect one example": what a trained network says
about one test example under each kind of normalisation statistic.

Nothing here changes the trainer: every forward pass runs with the
inference-mode layers or the side-effect-free training-mode forward of
``stats.train_mode_forward``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .records import frozen_copy
from .stats import forward_with_stats, population_statistics, train_mode_forward

MODES = ("running", "population", "batch", "single")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise ``exp(l - max) / sum exp(l - max)``, in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def bn_outputs_single(model, x: np.ndarray) -> list[np.ndarray | None]:
    """Per hidden layer, the BN output (N, D) of each row of x taken as a
    batch of one (None where a layer has no BN): ``gamma * 0 + beta`` in
    every row, which shows the collapse in numbers."""
    return train_mode_forward(model, x, single=True)[1]


@dataclass(frozen=True)
class ExampleInspection:
    """One test example and its class probabilities (K,) under each statistic."""

    index: int                     # row of the test set
    step: int                      # training step the network had reached
    label: int                     # true class index
    features: np.ndarray           # (F,) unstandardised features (data.x_test_raw)
    image: np.ndarray | None       # features reshaped to data.image_shape, if the data are images
    class_names: tuple[str, ...]
    k: int                         # size of the test mini-batch
    batch_indices: np.ndarray      # (k,) test rows of that batch; the example is first
    probs_running: np.ndarray      # inference mode, running statistics
    probs_population: np.ndarray   # population statistics of the training set
    probs_batch: np.ndarray        # training mode in the batch above
    probs_single: np.ndarray       # training mode alone: BN outputs beta
    single_beta_gap: float = float("nan")   # max |BN output - beta| alone, over dense BN layers (0: collapsed)
    # A CNN's blocks, in inference mode with the running statistics: per
    # block (the normalization's input maps (C, H, W): z, or g(z) with it
    # after the activation; its output maps, or None).
    feature_maps: tuple = ()
    population_step: int = 0       # the step of the population statistics behind probs_population
    run: int = 0                   # the run inspected, in compare mode (0 = A)

    def probs(self, mode: str) -> np.ndarray:
        """The probabilities of one of MODES."""
        return getattr(self, f"probs_{mode}")

    def predicted(self, mode: str) -> int:
        return int(np.argmax(self.probs(mode)))


def inspect_example(trainer, index: int, k: int | None = None, rng_seed: int = 0) -> ExampleInspection:
    """Class probabilities of test example ``index`` under running,
    population (computed now, exactly, with the current weights), batch and
    single-example statistics.

    The batch is the example plus k-1 other test examples drawn without
    replacement by ``np.random.default_rng(rng_seed)``: the same seed gives
    the same companions, another seed shows how much they matter. ``k``
    defaults to the trainer's ``eval_batch_size()`` (at most the test set).
    """
    x_test, y_test = trainer.x_test, trainer.y_test
    n = len(y_test)
    index = int(index)
    if not 0 <= index < n:
        raise IndexError(f"test example {index} out of range 0..{n - 1}")
    if k is None:
        k = min(trainer.eval_batch_size(), n)
    if not 2 <= k <= n:
        raise ValueError(f"k must be from 2 to the test set size {n} (a batch of one is the "
                         f"'single' mode), got {k}")
    model = trainer.model
    x = x_test[index:index + 1]
    others = np.delete(np.arange(n), index)
    companions = np.random.default_rng(rng_seed).choice(others, size=k - 1, replace=False)
    batch = np.concatenate([[index], np.sort(companions)])
    running = model.forward(x, training=False)
    population_step = trainer.step_count
    if model.batchnorms():
        # The evaluation's, when it was taken at this very step (the same
        # numbers: weights unchanged); else a fresh pass over the training set.
        # A CNN's pass takes seconds on MNIST, and the window inspects twice a
        # second: it reuses the last evaluation's, and says from which step.
        current = trainer.population is not None and trainer.population_step == trainer.step_count
        reuse = trainer.population is not None and model.infer_batch is not None
        if current or reuse:
            stats, population_step = trainer.population, trainer.population_step
        else:
            stats = population_statistics(model, trainer.x_train)
        population = forward_with_stats(model, x, stats)
    else:
        population = running
    in_batch = train_mode_forward(model, x_test[batch])[0][:1]
    single, outputs = train_mode_forward(model, x, single=True)
    # Only a dense layer collapses: a convolution block normalises the example over its own pixels.
    gaps = [float(np.max(np.abs(out - layer.bn.beta))) for out, layer in zip(outputs, model.layers)
            if out is not None and layer.bn is not None and layer.kind == "dense"]
    maps = tuple((frozen_copy(z[0]), frozen_copy(None if normed is None else normed[0]))
                 for z, normed in model.feature_maps(x))
    data = trainer.data
    raw = data.x_test_raw[index]
    image = raw.reshape(data.image_shape) if data.image_shape is not None else None
    return ExampleInspection(
        index=index, step=trainer.step_count, label=int(y_test[index]), features=frozen_copy(raw),
        image=frozen_copy(image), class_names=tuple(data.class_names), k=int(k),
        batch_indices=frozen_copy(batch),
        probs_running=frozen_copy(softmax(running)[0]), probs_population=frozen_copy(softmax(population)[0]),
        probs_batch=frozen_copy(softmax(in_batch)[0]), probs_single=frozen_copy(softmax(single)[0]),
        single_beta_gap=max(gaps) if gaps else float("nan"), feature_maps=maps,
        population_step=int(population_step))
