"""Trainer: one mini-batch per ``step()``, a frozen record of what happened.

Randomness is split into independent generators keyed by the seed (data
split, each layer's initial weights, the batch order), so a run is fully
determined by its config and two runs that differ in one setting still
share everything else.
"""
from __future__ import annotations

import time

import numpy as np

from .config import ConfigError, RunConfig
from .data import Dataset, load_dataset
from .history import DEFAULT_BUDGET_BYTES, History
from .landscape import Scratch, measure
from .losses import accuracy, softmax_cross_entropy
from .network import build_network
from .optim import apply_hyperparameters, make_optimizer
from .probe import probe_rows, probe_stats
from .recorder import Recorder, _norm
from .settings import LIVE_FIELDS   # settings that change between steps (the schema's live ones)
from .records import Evaluation, StepRecord, evaluation_from_state, evaluation_state
from .state import StateError, array, count, nest, number, part, set_generator_state
from .stats import evaluate_model, population_statistics

SUMMARY_ROWS = 512   # with summary growth: about this many summaries per doubling of the run
# The summary interval of runs that play on (the window's and headless runs,
# with summary growth). A summary costs about 3 ms on the Fig. 1 network, over
# four bare steps, most of it the probe's sorts; every 16th step is still
# about one a frame at the window's 600 steps/s, and 1,024 of them before growth.
PLAYING_SUMMARY_EVERY = 16



def two_class_order(labels: np.ndarray, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """An epoch's order of training rows in which every block of
    ``batch_size`` comes from two classes only: the larger half from one
    class, the rest from another, each drawn with probability in proportion
    to what it has left. Rows left over when no two classes can fill a batch
    sit this epoch out."""
    half = batch_size // 2
    rest = batch_size - half   # the larger half, with an odd batch size
    pools = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    used = np.zeros(len(pools), dtype=np.int64)
    sizes = np.array([len(p) for p in pools])
    batches = []
    while True:
        left = sizes - used
        big, small = np.flatnonzero(left >= rest), np.flatnonzero(left >= half)
        if not len(big) or len(small) < 2:   # (big is a part of small)
            break
        b = rng.choice(big, p=left[big] / left[big].sum())
        small = small[small != b]
        a = rng.choice(small, p=left[small] / left[small].sum())
        batches.append(pools[b][used[b]:used[b] + rest])
        batches.append(pools[a][used[a]:used[a] + half])
        used[b] += rest
        used[a] += half
    return np.concatenate(batches).astype(np.int64) if batches else np.zeros(0, np.int64)


class Trainer:
    """Trains one RunConfig; see ``step`` and ``evaluate``."""

    def __init__(self, config: RunConfig, dataset: Dataset | None = None, summary_every: int = 1,
                 summary_growth: bool = False,
                 history_budget: int = DEFAULT_BUDGET_BYTES):
        config = config.replace().validate()
        self.config = config
        self.dtype = np.dtype(config.dtype)
        self.data = dataset if dataset is not None else load_dataset(
            config.dataset, n_samples=config.n_samples, noise=config.noise,
            test_fraction=config.test_fraction, seed=config.seed, path=config.data_path,
            dtype=self.dtype)
        self.x_train = np.ascontiguousarray(self.data.x_train, dtype=self.dtype)
        self.y_train = np.asarray(self.data.y_train, dtype=np.int64)
        self.x_test = np.ascontiguousarray(self.data.x_test, dtype=self.dtype)
        self.y_test = np.asarray(self.data.y_test, dtype=np.int64)
        # The held-out examples behind Fig. 1 (b, c), fixed for the whole run.
        self.probe_x = self.x_test[probe_rows(len(self.y_test), config.seed)]
        n_train = len(self.y_train)
        self.batch_size = n_train if config.optimizer == "gd" else config.batch_size
        if self.batch_size > n_train:
            raise ConfigError("batch_size", f"must be at most the training set size, {n_train}")
        self.steps_per_epoch = n_train // self.batch_size  # the last partial batch is dropped
        if config.sampler == "two_classes" and config.optimizer != "gd":
            sizes = np.sort(np.bincount(self.y_train))[::-1]
            half = self.batch_size // 2
            if len(sizes) < 2 or sizes[0] < self.batch_size - half or sizes[1] < half:
                have = " and ".join(str(int(s)) for s in sizes[:2])
                raise ConfigError("sampler", f"two classes per batch needs two classes with "
                                  f"{self.batch_size - half} and {half} training examples for a "
                                  f"batch of {self.batch_size}; the largest have {have} (a smaller "
                                  f"batch, or shuffled batches)")
        self.model = build_network(config, self.x_train.shape[1], self.data.n_classes,
                                   self.data.image_shape)
        named = self.model.named_parameters()
        self._params = [p for _, p, _ in named]
        self._grads = [g for _, _, g in named]
        self.optimizer = make_optimizer(config)
        self._batch_rng = np.random.default_rng([config.seed, 3])
        self._order = np.arange(0)
        self._cursor = 0
        self.step_count = 0
        self.epoch = 0
        self.last_loss = float("nan")
        self.last_accuracy = float("nan")
        self.last_labels = None
        self.last_evaluation: Evaluation | None = None
        self.last_meters = None   # (CovariateShift, Landscape) of the last measured step
        self.meter_seconds = float("nan")   # what it took (the window shows the meters' cost)
        self._scratch = None
        # Population statistics kept between evaluations (config.population_every).
        self.population: list | None = None
        self.population_step = -1
        if not isinstance(summary_every, int) or summary_every < 1:
            raise ValueError(f"summary_every must be a positive integer, got {summary_every!r}")
        self.summary_every = summary_every
        # With growth the interval doubles as the run does (see summary_interval).
        self.summary_growth = bool(summary_growth)
        self._recorder = Recorder(self.model)
        self._norms = None
        self._head_norm = None
        self.history = History(config.layer_widths(), config.norm_kinds(),
                               [L.linear.b is not None for L in self.model.layers],
                               budget_bytes=history_budget, dtype=self.dtype)

    # ------------------------------------------------------------- settings
    def set_live(self, config: RunConfig) -> None:
        """Apply the settings in LIVE_FIELDS from ``config``; raise
        ConfigError if anything else differs (that needs a new Trainer)."""
        config.validate()
        current = self.config.to_dict()
        changed = {k for k, v in config.to_dict().items() if current[k] != v}
        structural = changed - LIVE_FIELDS
        if structural:
            raise ConfigError(sorted(structural)[0], "changing this setting needs a reset")
        apply_hyperparameters(self.optimizer, config)
        for bn in self.model.batchnorms():
            bn.momentum = config.bn_momentum
        self.config = config.replace()

    # ----------------------------------------------------------------- data
    def next_indices(self) -> np.ndarray | None:
        """Training-set rows of the next mini-batch (None: the whole set, for
        full-batch GD). Advances the epoch counter at each new permutation."""
        if self.batch_size == len(self.y_train):
            self.epoch += 1
            return None
        if self._cursor + self.batch_size > self._order.size:
            if self.config.sampler == "two_classes":
                self._order = two_class_order(self.y_train, self.batch_size, self._batch_rng)
            else:
                self._order = self._batch_rng.permutation(len(self.y_train))
            self._cursor = 0
            self.epoch += 1
        idx = self._order[self._cursor:self._cursor + self.batch_size]
        self._cursor += self.batch_size
        return idx

    def epoch_steps(self) -> int:
        """Steps of one pass over the training set from here: ``steps_per_epoch``,
        or with two classes a batch, the batches the epoch's order holds (fewer:
        rows that fill no two-class batch sit out), the next epoch's when this
        one is done (drawn on a copy of the generator, which is left as it is)."""
        if self.config.sampler != "two_classes" or self.batch_size == len(self.y_train):
            return self.steps_per_epoch
        order = self._order
        if self._cursor + self.batch_size > order.size:
            rng = np.random.default_rng()
            rng.bit_generator.state = self._batch_rng.bit_generator.state
            order = two_class_order(self.y_train, self.batch_size, rng)
        return max(1, order.size // self.batch_size)

    def take_sampler(self, other: "Trainer") -> None:
        """Draw the same batches as ``other`` from now on (same training set
        and batch size): its batch order, position, generator and epoch."""
        if len(other.y_train) != len(self.y_train) or other.batch_size != self.batch_size:
            raise ValueError("only a run with the same training set size and batch size")
        self._order, self._cursor, self.epoch = other._order.copy(), other._cursor, other.epoch
        self._batch_rng = np.random.default_rng()
        self._batch_rng.bit_generator.state = other._batch_rng.bit_generator.state

    # ------------------------------------------------------------- training
    def train_batch(self, indices: np.ndarray | None | bool = False) -> float:
        """One forward, backward and update, with no record or history row
        (the bare step, for benchmarks; with the meters on, a measured step
        adds its row of them). By default on the next mini-batch of this
        trainer's own order; ``indices`` (rows, or None for the whole set)
        trains on a given batch instead, which is how two runs share batches
        in lockstep. Returns the loss."""
        if indices is False:
            indices = self.next_indices()
        if indices is None:
            x, y = self.x_train, self.y_train
        else:
            x, y = self.x_train[indices], self.y_train[indices]
        cfg = self.config
        # The meters measure this step from the model as it was before it.
        before = None
        if cfg.meters and (self.step_count + 1) % cfg.meter_every == 0:
            # One scratch copy for the run's measurements, set to the model as it is now.
            before = self._scratch = (self._scratch.take(self.model) if self._scratch is not None
                                      else Scratch(self.model))
        logits = self.model.forward(x, training=True)
        loss, dlogits, _ = softmax_cross_entropy(logits, y)
        self.model.backward(dlogits)
        lr = self.optimizer.lr
        self.optimizer.update(self._params, self._grads)
        self.step_count += 1
        if before is not None:
            start = time.perf_counter()
            self.last_meters = measure(before, self._params, x, y, lr, self.step_count)
            self.meter_seconds = time.perf_counter() - start
            self.history.append_meters(*self.last_meters)
        self._norms = None
        self.last_loss = loss
        self.last_accuracy = accuracy(logits, y)
        self.last_labels = y
        return loss

    def step(self, n: int = 1) -> StepRecord:
        """Train ``n`` mini-batches, add each to the history, and return the
        record of the last one. Percentile summaries are taken every
        ``summary_every`` steps and always at the last one."""
        self.advance(n)
        return self.record()

    def advance(self, n: int = 1, stop_on_divergence: bool = False) -> int:
        """``step(n)`` without building a record (the GUI's worker builds one
        per frame, not per chunk). With ``stop_on_divergence`` it stops after
        the first step whose loss is NaN or Inf. Returns the steps done."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"step count must be a positive integer, got {n!r}")
        for k in range(n):
            self.train_batch()
            last = k == n - 1 or (stop_on_divergence and not np.isfinite(self.last_loss))
            self.write_history(summary=last)
            if last:
                return k + 1
        return n

    def write_history(self, summary: bool = False) -> None:
        """Add the last step to the history: its row always, its percentile
        summary when asked or every ``summary_every`` steps."""
        rec = self._recorder
        self._norms = rec.grad_norms()
        self._head_norm = _norm(self.model.head.dW)
        self.history.append_step(rec.step_row(
            self.step_count, self.epoch, self.last_loss, self.last_accuracy, self.optimizer.lr,
            self._norms, self._head_norm))
        if summary or self.step_count % self.summary_interval() == 0:
            self._append_summary()

    def summary_interval(self) -> int:
        """Steps between percentile summaries now: ``summary_every``, or with
        ``summary_growth`` the largest power of two not above step / 512 once
        that is larger (the same grid, so the history's buckets stay whole).
        A summary takes milliseconds (the probe's pass); a long run then keeps
        about 512 to 1,024 of them per doubling of its length, more than a
        plot has columns, and trains at nearly its bare speed."""
        every = self.summary_every
        if self.summary_growth and self.step_count >= 1024 * every:
            every = max(every, 1 << ((self.step_count // SUMMARY_ROWS).bit_length() - 1))
        return every

    def summarize(self) -> None:
        """Add a percentile summary of the last step unless it has one (the
        window takes them every ``summary_every`` steps while playing, and
        one more where it stops)."""
        if self.step_count > 0 and self.history.summaries.last_step() != self.step_count:
            self._append_summary()

    def _append_summary(self) -> None:
        rec = self._recorder
        row = rec.summary_row(self.step_count)
        row.update(rec.probe_row(self.probe_x, self.probe_stats()))
        self.history.append_summary(row)

    def probe_stats(self) -> list | None:
        """The statistics the probe is normalised with now (``probe.probe_stats``)."""
        mode = self.config.probe_statistics
        population = self.population_now() if mode == "population" and self.model.batchnorms() else None
        return probe_stats(self.model, mode, population)

    def population_now(self, force: bool = False) -> list:
        """Population statistics of the training set, reused while they are
        from this step, or (``config.population_every`` > 0) from fewer than
        that many steps ago; ``force`` recomputes them."""
        every = max(self.config.population_every, 1)
        if force or self.population is None or self.step_count - self.population_step >= every:
            self.population = population_statistics(self.model, self.x_train)
            self.population_step = self.step_count
        return self.population

    def is_finite(self) -> bool:
        """False once the last loss or any BN statistic is NaN or Inf."""
        if not np.isfinite(self.last_loss):
            return False
        for bn in self.model.batchnorms():
            for a in (bn.batch_mean, bn.batch_var, bn.running_mean, bn.running_var):
                if a is not None and not np.isfinite(a).all():
                    return False
        return True

    def record(self) -> StepRecord:
        """A frozen record of the last step (copies; safe to hand to another thread)."""
        if self.step_count == 0:
            raise RuntimeError("no step has been taken yet")
        if self._norms is None:  # the last step was a bare train_batch()
            self._norms = self._recorder.grad_norms()
            self._head_norm = _norm(self.model.head.dW)
        return self._recorder.record(self.step_count, self.epoch, self.last_loss, self.last_accuracy,
                                     self.optimizer.lr, self.last_labels, self._norms, self._head_norm)

    # ----------------------------------------------------------- evaluation
    def eval_batch_size(self) -> int:
        """k of the test mini-batches: config.eval_batch_size, or the training batch size."""
        return self.config.eval_batch_size or self.batch_size

    def evaluate(self, force_population: bool = False) -> dict[str, float]:
        """Test-set loss and accuracy: "test_accuracy" in inference mode with
        the running statistics; "test_accuracy_population" with precise-BN
        statistics of the whole training set under the current (frozen)
        weights; "test_accuracy_batch" with test mini-batches of
        ``eval_batch_size()`` normalised by their own statistics. The full
        ``Evaluation`` (with the single-example accuracy and the EMA gaps) is
        kept as ``last_evaluation`` and in the history; nothing else changes.

        With ``config.population_every`` > 0 the population statistics are
        reused until that many steps have passed since they were computed;
        ``force_population`` recomputes them now."""
        k = self.eval_batch_size()
        last = self.last_evaluation
        if (not force_population and last is not None and last.step == self.step_count
                and last.eval_batch_size == k):
            return last.as_dict()
        if self.model.batchnorms():
            self.population_now(force_population)
        ev = evaluate_model(self.model, self.x_train, self.x_test, self.y_test, k, self.step_count,
                            population=self.population, population_step=self.population_step)
        self.last_evaluation = ev
        self.history.append_eval(ev)
        return ev.as_dict()

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Everything that decides how the run goes on (see ``state``): the
        counters, the batch order and generator, the last step's loss and
        labels, population statistics, the last evaluation, and the model's,
        optimizer's and history's own states. The config and the data are
        not in it: a Trainer is built from them, then given this state."""
        meta = {"summary_every": self.summary_every, "summary_growth": self.summary_growth,
                "step_count": self.step_count,
                "epoch": self.epoch, "cursor": self._cursor, "last_loss": self.last_loss,
                "last_accuracy": self.last_accuracy, "rng": self._batch_rng.bit_generator.state,
                "population_step": self.population_step,
                "population": None if self.population is None else [st is not None for st in self.population]}
        arrays = {"order": self._order}
        if self.last_labels is not None:
            arrays["labels"] = self.last_labels
        for k, st in enumerate(self.population or ()):
            if st is not None:
                arrays[f"population/{k}/mean"], arrays[f"population/{k}/var"] = st
        names = [n for n, _, _ in self.model.named_parameters()]
        parts = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(names),
                 "history": self.history.state_dict()}
        if self.last_evaluation is not None:
            parts["evaluation"] = evaluation_state(self.last_evaluation)
        return nest(meta, arrays, **parts)

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state_dict()``'s state, on this trainer's config and
        data. StateError names the first value that does not fit; call it on
        a fresh Trainer, which is then to be dropped if it fails."""
        meta, arrays = state["meta"], state["arrays"]
        n_train = len(self.y_train)
        if count(meta, "summary_every", lo=1) != self.summary_every:
            raise StateError(f"summary_every {meta['summary_every']} differs from this trainer's")
        if meta.get("summary_growth", False) != self.summary_growth:
            raise StateError(f"summary_growth {meta.get('summary_growth')!r} differs from this trainer's")
        stepped = count(meta, "step_count")
        order = arrays.get("order")
        # A permutation of the training set, or (two classes per batch) a part of one.
        size = order.size if isinstance(order, np.ndarray) and order.size <= n_train else n_train
        order = array(arrays, "order", (size,), np.int64)
        if size and (np.any(order < 0) or np.any(order >= n_train) or np.unique(order).size != size
                     or (self.config.sampler == "shuffle" and size != n_train)):
            raise StateError("order: not a permutation of the training set")
        cursor = count(meta, "cursor", hi=order.size + 1)
        rng = np.random.default_rng([self.config.seed, 3])
        set_generator_state(rng, meta.get("rng"))
        labels = array(arrays, "labels", (self.batch_size,), np.int64) if stepped else None
        if labels is not None and not np.all((labels >= 0) & (labels < self.data.n_classes)):
            raise StateError("labels: a class outside the data's")
        params = [(n, p) for n, p, _ in self.model.named_parameters()]
        widths = [L.width for L in self.model.layers]
        loads = {"model": lambda st: self.model.load_state_dict(st, self.batch_size if stepped else None),
                 "optimizer": lambda st: self.optimizer.load_state_dict(st, params),
                 "history": self.history.load_state_dict}
        if "evaluation" in meta:
            loads["evaluation"] = lambda st: setattr(
                self, "last_evaluation", evaluation_from_state(st, widths, self.dtype))
        else:
            self.last_evaluation = None
        for name, load in loads.items():
            try:
                load(part(state, name))
            except StateError as exc:
                raise StateError(f"{name}: {exc}") from None
        present = meta.get("population")
        if present is not None and (not isinstance(present, list) or len(present) != len(widths)):
            raise StateError("'population' needs one entry per hidden layer")
        self.population = None if present is None else [
            (array(arrays, f"population/{k}/mean", (w,), self.dtype),
             array(arrays, f"population/{k}/var", (w,), self.dtype)) if has else None
            for k, (has, w) in enumerate(zip(present, widths))]
        self.population_step = count(meta, "population_step", lo=-1)
        self.step_count, self.epoch = stepped, count(meta, "epoch")
        self.last_loss, self.last_accuracy = number(meta, "last_loss"), number(meta, "last_accuracy")
        self._order, self._cursor, self._batch_rng, self.last_labels = order, cursor, rng, labels
        self._norms = None
