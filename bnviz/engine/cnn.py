"""A small convolutional network: convolution blocks (convolution, an
optional normalization per channel, activation, 2x2 pooling), flattening,
dense hidden layers as in the MLP, and a linear softmax head.

Each block's normalization sits between the convolution and the activation
(BN's place in the paper) or after the activation, as the MLP's: BatchNorm,
Batch Renorm and noisy BN per channel over (N, H, W) (``conv.PerChannel``),
GroupNorm and LayerNorm in their convolutional forms (over each example's
channels of a group and every pixel). Where it keeps running statistics
and directly follows the convolution, the convolution's bias is dropped,
as in the MLP.

A block is one of the network's ``layers`` beside the dense ones: its
units are its channels, and what records, the history and the test-time
statistics read of it is "rows" (N*H*W, C), every pixel of every example
one sample of its channel's distribution, which is exactly what BN
normalises per channel. So every panel that shows a dense layer's units
shows a block's channels unchanged.
"""
from __future__ import annotations

import numpy as np

from .conv import Conv2d, PerChannel, Pool2d, from_rows, to_rows
from .layers import make_activation
from .model import LayeredModel, RecordedLayer, dense_stack, init_weights
from .norms import make_norm

# Values in the widest im2col matrix of one inference pass: at most 64 MB in
# float32, so that many examples (a test set of 28x28 images, which at once
# would take gigabytes) pass in parts.
INFER_VALUES = 1 << 24


class ConvBlock(RecordedLayer):
    """Convolution (the block's ``linear`` map), normalization, activation,
    then 2x2 pooling where the image's sides are even; the network's last
    block also flattens its output for the dense layers. Input: (N, C*H*W)
    rows of images, or (N, C, H, W)."""

    kind = "conv"

    def __init__(self, conv: Conv2d, norm, activation, pool: Pool2d | None, in_shape, placement: str,
                 flatten: bool):
        self.linear, self.norm, self.act, self.pool = conv, norm, activation, pool
        self.in_shape = tuple(int(s) for s in in_shape)   # (C, H, W)
        self.placement, self.flatten = placement, flatten
        self._pooled_shape = None
        # What the last training forward saw, as rows (N*H*W, C); records read them.
        self.pre = self.act_in = self.bn_in = self.bn_out = self.out = None

    @property
    def width(self) -> int:
        return self.linear.W.shape[0]

    @property
    def map_shape(self) -> tuple[int, int]:
        """(H, W) of the convolution's output (= its input: "same" padding)."""
        return self.in_shape[1:]

    @property
    def bn(self):
        norm = self.norm
        return norm if norm is not None and norm.has_running_stats else None

    def _image(self, x: np.ndarray) -> np.ndarray:
        return x.reshape((x.shape[0],) + self.in_shape) if x.ndim == 2 else x

    def _pool_flatten(self, a: np.ndarray, training: bool) -> np.ndarray:
        out = a if self.pool is None else self.pool.forward(a, training)
        if self.flatten:
            if training:
                self._pooled_shape = out.shape
            out = out.reshape(out.shape[0], -1)
        return out

    def forward(self, x, training=True, update_stats=True):
        z = self.linear.forward(self._image(x), training)
        norm = self.norm
        bn_in, bn_out, act_in, a = self._through(
            z, lambda v: norm.forward(v, training, update_stats), training)
        if training and update_stats:
            maps = {"pre": z, "act_in": act_in, "bn_in": bn_in, "bn_out": bn_out, "out": a}
            self._set_rows(maps)
        return self._pool_flatten(a, training)

    def _set_rows(self, maps: dict) -> None:
        """Keep each distinct map once as rows; aliases stay aliases (records test them by identity)."""
        seen = {}
        for attr in self.FORWARD:
            m = maps[attr]
            if m is None:
                setattr(self, attr, None)
            else:
                if id(m) not in seen:
                    seen[id(m)] = to_rows(m)
                setattr(self, attr, seen[id(m)])

    def backward(self, dout, need_dx=True):
        if self.flatten:
            dout = dout.reshape(self._pooled_shape)
        if self.pool is not None:
            dout = self.pool.backward(dout)
        return self.linear.backward(self._back_through(dout), need_dx)

    def normalized(self) -> np.ndarray | None:
        """The last training forward's x_hat as rows (N*H*W, C)."""
        x_hat = None if self.norm is None else self.norm.x_hat
        return to_rows(x_hat) if x_hat is not None and x_hat.ndim == 4 else x_hat

    def infer(self, a, normalize, pres=None, stop_after_norm=False):
        """As ``HiddenLayer.infer``; ``normalize`` is given rows (N*H*W, C),
        the normalization's output is returned as rows too."""
        z = self.linear.forward(self._image(a), training=False)
        if pres is not None:
            pres.append(to_rows(z))
        norm = self.norm

        def apply(v):
            if self.bn is None:   # LayerNorm, GroupNorm: each example's own statistics
                return norm.forward(v, training=False)
            return from_rows(normalize(norm, to_rows(v)), v.shape)

        # (a block is never last: its activation always feeds the next layer)
        _, out, _, act = self._through(z, apply, False)
        return self._pool_flatten(act, training=False), (None if out is None else to_rows(out))

    def feature_maps(self, a) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Inference mode with the running statistics, writing nothing: what
        the normalization takes (the convolution's maps z, or g(z) with the
        normalization after the activation; z without one), what it gives
        (None without), each (N, C, H, W), and the block's output."""
        z = self.linear.forward(self._image(a), training=False)
        norm = self.norm
        taken, out, _, act = self._through(z, lambda v: norm.forward(v, training=False), False)
        return (z if taken is None else taken), out, self._pool_flatten(act, training=False)

    # ---------------------------------------------------------------- state
    def _rows(self, batch_rows: int) -> int:
        h, w = self.map_shape
        return batch_rows * h * w

    def _set_x_hat(self, x_hat: np.ndarray, batch_rows: int) -> None:
        norm = self.norm
        if isinstance(norm, PerChannel):   # its dense norm keeps rows already
            norm.x_hat = x_hat
        else:                              # GroupNorm, LayerNorm: (N, C, H, W)
            norm.x_hat = from_rows(x_hat, (batch_rows, self.width, *self.map_shape))


def conv_norm(kind: str, channels: int, rng, momentum, eps, unbiased_running_var, dtype, **options):
    """A block's normalization: BN and its variants per channel, GroupNorm
    and LayerNorm over groups of channels and every pixel."""
    norm = make_norm(kind, channels, momentum=momentum, eps=eps, unbiased_running_var=unbiased_running_var,
                     dtype=dtype, rng=rng, **options)
    return PerChannel(norm) if norm.has_running_stats else norm


class CNN(LayeredModel):
    """(N, C*H*W) rows of (C, H, W) images -> conv blocks -> flatten -> dense
    layers -> logits. ``norms``: per layer (blocks, then hidden layers) a
    normalization kind or None; ``norm`` applies one kind to all."""

    def __init__(self, in_shape: tuple[int, int, int], channels: tuple[int, ...], kernel: int,
                 hidden: tuple[int, ...], n_out: int, *, pool: str = "max", activation: str = "relu",
                 leaky_slope: float = 0.01, norm: str | None = "batch", norms=None,
                 placement: str = "before", keep_bias: bool = False, bn_momentum=0.1, bn_eps=1e-5,
                 unbiased_running_var=True, norm_options: dict | None = None, init: str = "he",
                 init_std: float = 0.1, seed: int = 0, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        norms = list(norms) if norms is not None else [norm] * (len(channels) + len(hidden))
        if len(norms) != len(channels) + len(hidden):
            raise ValueError("norms needs one entry per convolution block and hidden layer")
        c, h, w = in_shape
        self.in_shape = tuple(in_shape)
        options = dict(momentum=bn_momentum, eps=bn_eps, unbiased_running_var=unbiased_running_var,
                       dtype=self.dtype, **(norm_options or {}))
        self.blocks: list[ConvBlock] = []
        widest = 0
        for i, f in enumerate(channels):
            rng = np.random.default_rng([seed, 6, i])
            fan_in = c * kernel * kernel
            W = (init_weights(rng, fan_in, f, init, init_std, self.dtype).T
                 .reshape(f, c, kernel, kernel).copy())
            kind = norms[i]
            block_norm = conv_norm(kind, f, np.random.default_rng([seed, 7, i]), **options) if kind else None
            redundant = block_norm is not None and block_norm.has_running_stats and placement == "before"
            b = np.zeros(f, self.dtype) if keep_bias or not redundant else None
            pooling = Pool2d(pool) if pool != "none" and h % 2 == 0 and w % 2 == 0 and h > 1 else None
            widest = max(widest, max(c, f) * kernel * kernel * h * w)
            self.blocks.append(ConvBlock(Conv2d(W, b), block_norm, make_activation(activation, leaky_slope),
                                         pooling, (c, h, w), placement, flatten=i == len(channels) - 1))
            c = f
            if pooling is not None:
                h, w = h // 2, w // 2
        dense, self.head = dense_stack(
            c * h * w, hidden, n_out, norms[len(channels):], options, activation=activation,
            leaky_slope=leaky_slope, placement=placement, keep_bias=keep_bias, init=init,
            init_std=init_std, seed=seed, dtype=self.dtype)
        self.layers = self.blocks + dense
        # Examples per inference pass (see INFER_VALUES): the widest im2col matrix bounds it.
        self.infer_batch = max(16, INFER_VALUES // max(widest, 1))

    def layer_names(self) -> list[str]:
        n = len(self.blocks)
        return [f"conv{i}" for i in range(1, n + 1)] + [
            f"layer{i}" for i in range(1, len(self.layers) - n + 1)]

    def forward(self, x: np.ndarray, training: bool = True, update_stats: bool = True) -> np.ndarray:
        if training:
            return super().forward(x, training, update_stats)
        # Inference of many examples in parts: each example's output is its own.
        return self.in_parts(x, lambda part: LayeredModel.forward(self, part, False, update_stats))
