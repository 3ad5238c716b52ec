"""The MLP: hidden layers with optional normalization, then a linear softmax head.

A hidden layer computes ``z = a_prev @ W (+ b)`` and then either
``a = g(N(z))`` (placement "before", as in the paper and the note) or
``a = N(g(z))`` (placement "after"), N being BatchNorm or another of the
family (``norms``). Where BN (or a variant) directly follows the linear map
the bias is redundant (the batch mean cancels it), so it is dropped unless
``keep_bias`` asks to keep it for demonstration; LayerNorm and GroupNorm
subtract a mean over features, which a per-feature bias survives.
"""
from __future__ import annotations

import numpy as np

from .layers import BatchNorm, Linear, make_activation
from .norms import make_norm
from .state import StateError, array, count, set_generator_state


def init_weights(rng: np.random.Generator, fan_in: int, fan_out: int, scheme: str,
                 std: float, dtype) -> np.ndarray:
    """Gaussian N(0, std^2) (the paper's "small random Gaussian"),
    Glorot N(0, 2/(fan_in+fan_out)) or He N(0, 2/fan_in)."""
    if scheme == "glorot":
        std = np.sqrt(2.0 / (fan_in + fan_out))
    elif scheme == "he":
        std = np.sqrt(2.0 / fan_in)
    elif scheme != "gaussian":
        raise ValueError(f"unknown initialisation {scheme!r}")
    return (rng.standard_normal((fan_in, fan_out)) * std).astype(dtype)


class RecordedLayer:
    """What a layer's last training forward saw (``FORWARD``: distinct arrays
    and aliases), its running statistics and its normalization's cache, as
    sessions save and restore them. Subclasses give ``width``, ``norm``,
    ``bn``, ``linear``, ``placement``, ``normalized()`` and, where the rows
    are not examples, ``_rows`` and ``_set_x_hat``."""

    # The last forward's arrays; the others are aliases of these, fixed by
    # where batch norm sits (see forward).
    FORWARD = ("pre", "act_in", "bn_in", "bn_out", "out")
    ALIASES = {None: {"act_in": "pre"}, "before": {"bn_in": "pre", "bn_out": "act_in"},
               "after": {"act_in": "pre", "bn_out": "out"}}

    def _aliases(self) -> dict:
        return self.ALIASES[self.placement if self.norm is not None else None]

    def _through(self, z, normalize, training: bool, activate: bool = True):
        """z through the normalization (``normalize(v)``, where there is one)
        and the activation, in the order ``placement`` says: (bn_in, bn_out,
        act_in, output). ``activate=False``: the activation that would
        follow the normalization is not computed (its output is None)."""
        if self.norm is None:
            return None, None, z, (self.act.forward(z, training) if activate else None)
        if self.placement == "before":
            out = normalize(z)
            return z, out, out, (self.act.forward(out, training) if activate else None)
        g = self.act.forward(z, training)
        out = normalize(g)
        return g, out, z, out

    def _back_through(self, dout):
        """``_through``'s backward: dL/dz from dL/d(output)."""
        if self.norm is None:
            return self.act.backward(dout)
        if self.placement == "before":
            return self.norm.backward(self.act.backward(dout))
        return self.act.backward(self.norm.backward(dout))

    def _rows(self, batch_rows: int) -> int:
        """Rows of the recorded arrays for a batch of ``batch_rows`` examples."""
        return batch_rows

    def _set_x_hat(self, x_hat: np.ndarray, batch_rows: int) -> None:
        self.norm.x_hat = x_hat

    def saved_arrays(self) -> dict[str, np.ndarray]:
        """Running statistics, and the last training forward's distinct arrays."""
        out = {}
        aliases = self._aliases()
        for attr in self.FORWARD:
            if attr not in aliases and getattr(self, attr) is not None:
                out[attr] = getattr(self, attr)
        if self.bn is not None:
            out["running_mean"], out["running_var"] = self.bn.running_mean, self.bn.running_var
        norm = self.norm
        if norm is not None:
            for attr in norm.CACHE:
                if getattr(norm, attr) is not None:
                    out[attr] = getattr(norm, attr)
            x_hat = self.normalized()
            if x_hat is not None:
                out["x_hat"] = x_hat
        return out

    def load_arrays(self, arrays: dict, p: str, batch_rows: int | None) -> None:
        """Take ``saved_arrays()``'s (keyed ``p`` + name), rebuilding the
        aliases as forward() makes them."""
        width, dt, bn, norm = self.width, self.linear.W.dtype, self.bn, self.norm
        if bn is not None:
            bn.running_mean[...] = array(arrays, p + "running_mean", (width,), dt)
            bn.running_var[...] = array(arrays, p + "running_var", (width,), dt)
        if batch_rows is None:
            return
        rows = (self._rows(batch_rows), width)
        aliases = self._aliases()
        for attr in self.FORWARD:
            if attr in aliases or (attr in ("bn_in", "bn_out") and norm is None):
                continue
            setattr(self, attr, array(arrays, p + attr, rows, dt))
        for attr, source in aliases.items():
            setattr(self, attr, getattr(self, source))
        if norm is not None:
            for attr in norm.CACHE:
                setattr(norm, attr, array(arrays, p + attr, (width,), dt))
            self._set_x_hat(array(arrays, p + "x_hat", rows, dt), batch_rows)


class HiddenLayer(RecordedLayer):
    """Linear map, activation, and optionally a normalization before or after it."""

    def __init__(self, linear: Linear, norm, activation, placement: str):
        self.linear = linear
        self.norm = norm
        self.act = activation
        self.placement = placement
        # What the last training forward saw, for records (never mutated later:
        # every forward allocates fresh arrays).
        self.pre = self.act_in = self.bn_in = self.bn_out = self.out = None

    kind = "dense"

    @property
    def width(self) -> int:
        """Units: what the layer's per-unit statistics and records count."""
        return self.linear.W.shape[1]

    @property
    def bn(self) -> BatchNorm | None:
        """The normalization if it keeps running statistics (BN and its
        variants): what test-time statistics and the running-statistics
        records are about. LayerNorm and GroupNorm are ``norm`` only."""
        norm = self.norm
        return norm if norm is not None and norm.has_running_stats else None

    def forward(self, x: np.ndarray, training: bool = True, update_stats: bool = True) -> np.ndarray:
        z = self.linear.forward(x, training)
        norm = self.norm
        bn_in, bn_out, act_in, a = self._through(
            z, lambda v: norm.forward(v, training, update_stats), training)
        if training and update_stats:
            self.pre, self.act_in, self.bn_in, self.bn_out, self.out = z, act_in, bn_in, bn_out, a
        return a

    def normalized(self) -> np.ndarray | None:
        """The last training forward's x_hat (N, D)."""
        return None if self.norm is None else self.norm.x_hat

    def infer(self, a: np.ndarray, normalize, pres: list | None = None,
              stop_after_norm: bool = False) -> tuple[np.ndarray | None, np.ndarray | None]:
        """An inference-mode pass that writes nothing in the layer: returns
        (the layer's output, or None with ``stop_after_norm`` where the
        activation would follow; the normalization's output (N, D) or None).
        ``normalize(norm, v)`` stands in for a normalization with running
        statistics; LayerNorm and GroupNorm use each example's own
        statistics whatever the mode, so they are applied as they are. The
        linear map's output z (N, D) is appended to ``pres`` if given."""
        z = self.linear.forward(a, training=False)  # training=False: no cache written
        if pres is not None:
            pres.append(z)
        norm = self.norm
        apply = normalize if self.bn is not None else (lambda n, v: n.forward(v, training=False))
        _, out, _, a = self._through(z, lambda v: apply(norm, v), False, activate=not stop_after_norm)
        return a, out

    def backward(self, da: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        return self.linear.backward(self._back_through(da), need_dx)


def dense_stack(n_in: int, hidden, n_out: int, norms, norm_kwargs: dict, *, activation: str,
                leaky_slope: float, placement: str, keep_bias: bool, init: str, init_std: float,
                seed: int, dtype) -> tuple[list[HiddenLayer], Linear]:
    """Hidden layers of ``hidden`` widths, layer i normalised by ``norms[i]``
    (a kind, or None; ``make_norm`` given ``norm_kwargs``), and the linear head."""
    layers = []
    fan_in = n_in
    for i, (width, kind) in enumerate(zip(hidden, norms)):
        # One generator per layer, keyed by (seed, layer index): two
        # networks that agree on a layer's shape start with equal weights.
        rng = np.random.default_rng([seed, 1, i])
        W = init_weights(rng, fan_in, width, init, init_std, dtype)
        # Noisy BN's noise has a generator per layer, keyed like the weights.
        layer_norm = (make_norm(kind, width, rng=np.random.default_rng([seed, 5, i]), **norm_kwargs)
                      if kind else None)
        bias_redundant = layer_norm is not None and layer_norm.has_running_stats and placement == "before"
        b = np.zeros(width, dtype) if (keep_bias or not bias_redundant) else None
        layers.append(HiddenLayer(Linear(W, b), layer_norm, make_activation(activation, leaky_slope),
                                  placement))
        fan_in = width
    rng = np.random.default_rng([seed, 2])
    head = Linear(init_weights(rng, fan_in, n_out, init, init_std, dtype), np.zeros(n_out, dtype))
    return layers, head


def layer_parameters(prefix: str, weights, norm) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, parameter, gradient) of a layer's weights (W, b) and its normalization's gamma, beta."""
    out = [(f"{prefix}.W", weights.W, weights.dW)]
    if weights.b is not None:
        out.append((f"{prefix}.b", weights.b, weights.db))
    if norm is not None:
        out += [(f"{prefix}.gamma", norm.gamma, norm.dgamma), (f"{prefix}.beta", norm.beta, norm.dbeta)]
    return out


class LayeredModel:
    """What the MLP and the CNN share: ``layers`` (each with a linear map, an
    optional normalization and what its last training forward saw), a
    linear ``head``, and their state for sessions."""

    layers: list
    head: Linear
    blocks: list = ()   # a CNN's convolution blocks (the first of ``layers``)
    infer_batch: int | None = None   # examples per inference pass (a CNN's, on large images); None: all

    def in_parts(self, x: np.ndarray, fn) -> np.ndarray:
        """``fn`` of x, or of x in parts of ``infer_batch`` examples,
        concatenated: for computations where each example's result is its own."""
        step = self.infer_batch or max(len(x), 1)
        if len(x) <= step:
            return fn(x)
        return np.concatenate([fn(x[s:s + step]) for s in range(0, len(x), step)])

    def feature_maps(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Per convolution block, (the normalization's input, its output or
        None) of the examples x (N, C*H*W) in inference mode (running
        statistics), each (N, C, H, W); nothing in the model changes. An MLP has none."""
        out, a = [], x
        for block in self.blocks:
            taken, normed, a = block.feature_maps(a)
            out.append((taken, normed))
        return out

    def forward(self, x: np.ndarray, training: bool = True, update_stats: bool = True) -> np.ndarray:
        """x: (N, n_in) -> logits (N, n_out)."""
        a = x
        for layer in self.layers:
            a = layer.forward(a, training, update_stats)
        return self.head.forward(a, training)

    def backward(self, dlogits: np.ndarray) -> None:
        """Fill every parameter gradient from dL/dlogits (N, n_out)."""
        da = self.head.backward(dlogits)
        last = len(self.layers) - 1
        for i in range(last, -1, -1):
            da = self.layers[i].backward(da, need_dx=i > 0)

    def named_parameters(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(name, parameter, gradient) for every learnable array, in a fixed order."""
        out = []
        for layer, name in zip(self.layers, self.layer_names()):
            out += layer_parameters(name, layer.linear, layer.norm)
        return out + layer_parameters("head", self.head, None)

    def layer_names(self) -> list[str]:
        """The parameters' prefixes: "layer1"... for dense layers ("conv1"... in a CNN)."""
        return [f"layer{i}" for i in range(1, len(self.layers) + 1)]

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Parameters and gradients (``param/<name>``, ``grad/<name>``), each
        BN layer's running statistics and batch count, and what the last
        training forward saw (``layer<k>/<array>``, which records read)."""
        arrays = {}
        for name, param, grad in self.named_parameters():
            arrays[f"param/{name}"], arrays[f"grad/{name}"] = param, grad
        for k, layer in enumerate(self.layers, start=1):
            arrays.update({f"layer{k}/{attr}": a for attr, a in layer.saved_arrays().items()})
        return {"meta": {"num_batches_tracked": [bn.num_batches_tracked for bn in self.batchnorms()],
                         "noise_rng": [n.rng.bit_generator.state for n in self._noisy()]},
                "arrays": arrays}

    def load_state_dict(self, state: dict, batch_rows: int | None) -> None:
        """Take ``state_dict()``'s; ``batch_rows``: the rows of the last
        training batch, or None before the first step (no forward saved)."""
        meta, arrays = state["meta"], state["arrays"]
        counts = meta.get("num_batches_tracked")
        if not isinstance(counts, list) or len(counts) != len(self.batchnorms()):
            raise StateError("'num_batches_tracked' needs one count per batch-norm layer")
        for name, param, grad in self.named_parameters():
            param[...] = array(arrays, f"param/{name}", param.shape, param.dtype)
            grad[...] = array(arrays, f"grad/{name}", grad.shape, grad.dtype)
        noise = meta.get("noise_rng", [])
        if not isinstance(noise, list) or len(noise) != len(self._noisy()):
            raise StateError("'noise_rng' needs one generator state per noisy BN layer")
        for layer, st in zip(self._noisy(), noise):
            set_generator_state(layer.rng, st, "noise generator")
        for bn, c in zip(self.batchnorms(), counts):
            bn.num_batches_tracked = count({"num_batches_tracked": c}, "num_batches_tracked")
        for k, layer in enumerate(self.layers, start=1):
            layer.load_arrays(arrays, f"layer{k}/", batch_rows)

    def batchnorms(self) -> list[BatchNorm]:
        """The normalizations with running statistics (BN and its variants)."""
        return [layer.bn for layer in self.layers if layer.bn is not None]

    def norms(self) -> list:
        """Every normalization layer."""
        return [layer.norm for layer in self.layers if layer.norm is not None]

    def _noisy(self) -> list:
        return [n for n in self.norms() if n.kind == "noisy"]


class MLP(LayeredModel):
    """n_in -> hidden... -> n_out, softmax cross-entropy on top."""

    def __init__(self, n_in: int, hidden: tuple[int, ...], n_out: int, *, activation: str = "sigmoid",
                 leaky_slope: float = 0.01, bn_layers: tuple[bool, ...] | None = None,
                 bn_placement: str = "before", keep_bias: bool = False, init: str = "gaussian",
                 init_std: float = 0.1, bn_momentum: float | None = 0.1, bn_eps: float = 1e-5,
                 unbiased_running_var: bool = True, norm: str = "batch", norm_options: dict | None = None,
                 seed: int = 0, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        bn_layers = tuple(bn_layers) if bn_layers is not None else (True,) * len(hidden)
        if len(bn_layers) != len(hidden):
            raise ValueError("bn_layers needs one flag per hidden layer")
        norm_kwargs = dict(momentum=bn_momentum, eps=bn_eps, unbiased_running_var=unbiased_running_var,
                           dtype=self.dtype, **(norm_options or {}))
        self.layers, self.head = dense_stack(
            n_in, hidden, n_out, [norm if on else None for on in bn_layers], norm_kwargs,
            activation=activation, leaky_slope=leaky_slope, placement=bn_placement,
            keep_bias=keep_bias, init=init, init_std=init_std, seed=seed, dtype=self.dtype)
