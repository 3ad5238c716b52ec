"""What a session stores of one run, both ways: a trainer's state as named
arrays (``run_arrays``), and a trainer rebuilt from them (``load_run``).

See ``session`` for the file around it. Loading goes through a reader whose
every check raises SessionError; nothing read is ever executed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np

from .compare import same_data
from .config import ConfigError, RunConfig
from .data import DatasetError
from .records import Evaluation
from .trainer import Trainer

# A hidden layer's last-forward arrays; the rest are aliases of these,
# fixed by where batch norm sits (see HiddenLayer.forward).
FORWARD = ("pre", "act_in", "bn_in", "bn_out", "out")
ALIASES = {None: {"act_in": "pre"}, "before": {"bn_in": "pre", "bn_out": "act_in"},
           "after": {"act_in": "pre", "bn_out": "out"}}
BN_ARRAYS = ("batch_mean", "batch_var", "gamma_used", "beta_used", "_inv_std")


def data_fingerprint(tr: Trainer) -> str:
    """SHA-256 of the train/test arrays, their shapes and dtypes."""
    h = hashlib.sha256()
    for a in (tr.x_train, tr.y_train, tr.x_test, tr.y_test):
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _text(s: str) -> np.ndarray:
    return np.array(s, dtype=np.str_)


# ------------------------------------------------------------------- saving
def run_arrays(tr: Trainer, p: str) -> dict[str, np.ndarray]:
    """Everything that decides how the run goes on, keyed under prefix ``p``."""
    opt = tr.optimizer
    ev = tr.last_evaluation
    state = {
        "summary_every": tr.summary_every, "step_count": tr.step_count, "epoch": tr.epoch,
        "cursor": tr._cursor, "last_loss": tr.last_loss, "last_accuracy": tr.last_accuracy,
        "rng": tr._batch_rng.bit_generator.state,
        "optimizer": {"name": opt.name, "t": opt.t, "slots": sorted(opt.state),
                      "hyper": {k: v for k, v in vars(opt).items() if isinstance(v, float)}},
        "num_batches_tracked": [bn.num_batches_tracked for bn in tr.model.batchnorms()],
        "history": {},
        "evaluation": None,
        # Population statistics kept between evaluations (config.population_every).
        "population": None if tr.population is None else [st is not None for st in tr.population],
        "population_step": tr.population_step,
    }
    out = {p + "config": _text(tr.config.to_toml()), p + "data_sha256": _text(data_fingerprint(tr)),
           p + "order": tr._order}
    if tr.last_labels is not None:
        out[p + "labels"] = tr.last_labels
    for name, param, grad in tr.model.named_parameters():
        out[f"{p}param/{name}"] = param
        out[f"{p}grad/{name}"] = grad
    for slot, arrays in opt.state.items():
        for (name, _, _), a in zip(tr.model.named_parameters(), arrays):
            out[f"{p}opt/{slot}/{name}"] = a
    for k, layer in enumerate(tr.model.layers, start=1):
        aliases = ALIASES[layer.placement if layer.bn else None]
        for attr in FORWARD:
            if attr not in aliases and getattr(layer, attr) is not None:
                out[f"{p}layer{k}/{attr}"] = getattr(layer, attr)
        if layer.bn is not None:
            bn = layer.bn
            out[f"{p}layer{k}/running_mean"] = bn.running_mean
            out[f"{p}layer{k}/running_var"] = bn.running_var
            for attr in BN_ARRAYS + ("x_hat",):
                if getattr(bn, attr) is not None:
                    out[f"{p}layer{k}/{attr}"] = getattr(bn, attr)
    for k, st in enumerate(tr.population or ()):
        if st is not None:
            out[f"{p}population/{k}/mean"], out[f"{p}population/{k}/var"] = st
    if ev is not None:
        scalars, per_layer, layer_scalars = {}, {}, {}
        for f in dataclasses.fields(ev):
            v = getattr(ev, f.name)
            if isinstance(v, tuple) and all(a is None or isinstance(a, float) for a in v):
                layer_scalars[f.name] = list(v)   # one number (or None) per hidden layer
            elif isinstance(v, tuple):  # one array (or None) per hidden layer
                per_layer[f.name] = [a is not None for a in v]
                out.update({f"{p}eval/{f.name}/{k}": a for k, a in enumerate(v) if a is not None})
            else:
                scalars[f.name] = v
        state["evaluation"] = {"scalars": scalars, "per_layer": per_layer,
                               "layer_scalars": layer_scalars}
    for name, store in tr.history.stores().items():
        st = store.state_dict()
        state["history"][name] = st["counters"]
        for col, a in st["arrays"].items():
            out[f"{p}history/{name}/{col}"] = a
    out[p + "state"] = _text(json.dumps(state))
    return out


# ------------------------------------------------------------------ loading
def load_run(r, p: str, first: Trainer | None) -> Trainer:
    try:
        config = RunConfig.from_toml(r.text(p + "config"))
    except ConfigError as exc:
        r.fail(f"{p}config: invalid setting {exc.field!r}: {exc.message}")
    state = r.json_of(r.text(p + "state"), p + "state")
    if not isinstance(state, dict):
        r.fail(f"{p}state: expected a JSON object")
    shared = first.data if first is not None and same_data(first.config, config) else None
    try:  # as Comparison.__init__: runs on A's data share its arrays
        tr = Trainer(config, dataset=shared,
                     summary_every=r.number(state.get("summary_every"), "summary_every", lo=1))
    except ConfigError as exc:
        r.fail(f"{p}config: invalid setting {exc.field!r}: {exc.message}")
    except DatasetError as exc:
        r.fail(f"the data of {p[:-1]} cannot be loaded: {exc}")
    except ValueError as exc:
        r.fail(f"{p[:-1]} cannot be rebuilt from its config: {exc}")
    if data_fingerprint(tr) != r.text(p + "data_sha256"):
        r.fail(f"the data of {p[:-1]} ({config.data_path or config.dataset}) changed since the "
               "session was saved; the run cannot be continued on different data")
    _fill(tr, r, p, state)
    return tr


def _fill(tr: Trainer, r, p: str, state: dict) -> None:
    """Put the saved state into a freshly built trainer, checking every array."""
    n_train, dt, model = len(tr.y_train), tr.dtype, tr.model
    tr.step_count = stepped = r.number(state.get("step_count"), "step_count")
    tr.epoch = r.number(state.get("epoch"), "epoch")
    tr.last_loss = r.number(state.get("last_loss"), "last_loss", float)
    tr.last_accuracy = r.number(state.get("last_accuracy"), "last_accuracy", float)
    order = r.get(p + "order")
    tr._order = r.array(p + "order", (order.size if order.size == n_train else 0,), np.int64)
    if order.size and not np.array_equal(np.sort(tr._order), np.arange(n_train)):
        r.fail(f"{p}order: not a permutation of the training set")
    tr._cursor = r.number(state.get("cursor"), "cursor")
    if tr._cursor > tr._order.size:
        r.fail(f"{p}state: cursor {tr._cursor} is past the batch order")
    try:
        tr._batch_rng.bit_generator.state = state.get("rng")
    except (TypeError, ValueError, KeyError) as exc:
        r.fail(f"{p}state: invalid random generator state ({exc})")
    batch = (tr.batch_size,)
    tr.last_labels = r.array(p + "labels", batch, np.int64) if stepped else None
    params = model.named_parameters()
    for name, param, grad in params:
        param[...] = r.array(f"{p}param/{name}", param.shape, dt)
        grad[...] = r.array(f"{p}grad/{name}", grad.shape, dt)
    opt, saved = tr.optimizer, state.get("optimizer")
    if not isinstance(saved, dict) or saved.get("name") != opt.name:
        r.fail(f"{p}state: optimizer does not match the config's {opt.name!r}")
    opt.t = r.number(saved.get("t"), "optimizer step")
    hyper = saved.get("hyper") if isinstance(saved.get("hyper"), dict) else {}
    for k in [k for k, v in vars(opt).items() if isinstance(v, float)]:
        setattr(opt, k, r.number(hyper.get(k), f"optimizer {k}", float))
    if saved.get("slots") != (sorted(opt.slots) if opt.t else []):
        r.fail(f"{p}state: optimizer slots {saved.get('slots')!r} do not fit {opt.name!r} at step {opt.t}")
    for slot in saved["slots"]:
        opt.state[slot] = [r.array(f"{p}opt/{slot}/{name}", a.shape, dt) for name, a, _ in params]
    counts = state.get("num_batches_tracked")
    if not isinstance(counts, list) or len(counts) != len(model.batchnorms()):
        r.fail(f"{p}state: 'num_batches_tracked' needs one count per batch-norm layer")
    for bn, c in zip(model.batchnorms(), counts):
        bn.num_batches_tracked = r.number(c, "num_batches_tracked")
    for k, layer in enumerate(model.layers, start=1):
        _fill_layer(r, f"{p}layer{k}/", layer, stepped, batch[0], dt)
    _fill_evaluation(tr, r, p, state.get("evaluation"))
    _fill_population(tr, r, p, state)
    counters = state.get("history")
    for name, store in tr.history.stores().items():
        c = counters.get(name) if isinstance(counters, dict) else None
        if not isinstance(c, dict):
            r.fail(f"{p}state: the counters of history store {name!r} are missing")
        prefix = f"{p}history/{name}/"
        arrays = {k[len(prefix):]: a for k, a in r.arrays.items() if k.startswith(prefix)}
        try:
            store.load_state_dict({"counters": c, "arrays": arrays})
        except ValueError as exc:
            r.fail(f"{p}history/{name}: {exc}")


def _fill_layer(r, p: str, layer, stepped: int, batch: int, dt) -> None:
    """BN statistics and the last forward's arrays, aliases rebuilt as in forward()."""
    width = layer.linear.W.shape[1]
    bn = layer.bn
    if bn is not None:
        bn.running_mean[...] = r.array(p + "running_mean", (width,), dt)
        bn.running_var[...] = r.array(p + "running_var", (width,), dt)
    if not stepped:
        return
    aliases = ALIASES[layer.placement if bn else None]
    for attr in FORWARD:
        if attr in aliases:
            continue
        if attr in ("bn_in", "bn_out") and bn is None:
            continue
        setattr(layer, attr, r.array(p + attr, (batch, width), dt))
    for attr, source in aliases.items():
        setattr(layer, attr, getattr(layer, source))
    if bn is not None:
        for attr in BN_ARRAYS:
            setattr(bn, attr, r.array(p + attr, (width,), dt))
        bn.x_hat = r.array(p + "x_hat", (batch, width), dt)


def _fill_population(tr: Trainer, r, p: str, state: dict) -> None:
    present = state.get("population")
    tr.population_step = r.number(state.get("population_step", -1), "population_step", lo=-1)
    if present is None:
        return
    widths = [L.linear.W.shape[1] for L in tr.model.layers]
    if not isinstance(present, list) or len(present) != len(widths):
        r.fail(f"{p}state: 'population' needs one entry per hidden layer")
    tr.population = [(r.array(f"{p}population/{k}/mean", (w,), tr.dtype),
                      r.array(f"{p}population/{k}/var", (w,), tr.dtype)) if has else None
                     for k, (has, w) in enumerate(zip(present, widths))]


def _fill_evaluation(tr: Trainer, r, p: str, saved) -> None:
    if saved is None:
        return
    if not isinstance(saved, dict) or not isinstance(saved.get("scalars"), dict) \
            or not isinstance(saved.get("per_layer"), dict):
        r.fail(f"{p}state: invalid 'evaluation'")
    fields = dict(saved["scalars"])
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in fields.values()):
        r.fail(f"{p}state: evaluation figures must be numbers")
    widths = [L.linear.W.shape[1] for L in tr.model.layers]
    for name, present in saved["per_layer"].items():
        if not isinstance(present, list) or len(present) != len(widths):
            r.fail(f"{p}state: evaluation field {name!r} needs one entry per hidden layer")
        arrays = []
        for k, (has, w) in enumerate(zip(present, widths)):
            a = r.array(f"{p}eval/{name}/{k}", (w,), tr.dtype) if has else None
            if a is not None:
                a.flags.writeable = False
            arrays.append(a)
        fields[name] = tuple(arrays)
    layer_scalars = saved.get("layer_scalars", {})
    if not isinstance(layer_scalars, dict):
        r.fail(f"{p}state: invalid 'evaluation'")
    for name, values in layer_scalars.items():
        if not isinstance(values, list) or len(values) != len(widths) or not all(
                v is None or isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            r.fail(f"{p}state: evaluation field {name!r} needs one number per hidden layer")
        fields[name] = tuple(None if v is None else float(v) for v in values)
    try:
        tr.last_evaluation = Evaluation(**fields)
    except TypeError as exc:
        r.fail(f"{p}state: evaluation does not fit this bnviz ({exc})")
