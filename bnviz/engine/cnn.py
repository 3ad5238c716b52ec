"""A small convolutional network: convolution blocks (convolution, an
optional normalization per channel, activation, 2x2 pooling), flattening,
dense hidden layers as in the MLP, and a linear softmax head.

Each block's normalization sits between the convolution and the activation
(BN's place in the paper): BatchNorm, Batch Renorm and noisy BN per channel
over (N, H, W) (``conv.PerChannel``), GroupNorm and LayerNorm in their
convolutional forms (over each example's channels of a group and every
pixel). Where it keeps running statistics the convolution's bias is dropped,
as in the MLP.
"""
from __future__ import annotations

import numpy as np

from .conv import Conv2d, Flatten, PerChannel, Pool2d
from .layers import make_activation
from .model import dense_stack, init_weights, layer_parameters
from .norms import make_norm


class ConvBlock:
    def __init__(self, conv: Conv2d, norm, activation, pool: Pool2d | None):
        self.conv, self.norm, self.act, self.pool = conv, norm, activation, pool
        self.pre = self.out = None   # what the last training forward saw (records read them)

    def forward(self, x, training=True, update_stats=True):
        z = self.conv.forward(x, training)
        a = z if self.norm is None else self.norm.forward(z, training, update_stats)
        a = self.act.forward(a, training)
        out = a if self.pool is None else self.pool.forward(a, training)
        if training and update_stats:
            self.pre, self.out = z, out
        return out

    def backward(self, dout, need_dx=True):
        if self.pool is not None:
            dout = self.pool.backward(dout)
        dout = self.act.backward(dout)
        if self.norm is not None:
            dout = self.norm.backward(dout)
        return self.conv.backward(dout, need_dx)


def conv_norm(kind: str, channels: int, rng, momentum, eps, unbiased_running_var, dtype, **options):
    """A block's normalization: BN and its variants per channel, GroupNorm
    and LayerNorm over groups of channels and every pixel."""
    norm = make_norm(kind, channels, momentum=momentum, eps=eps, unbiased_running_var=unbiased_running_var,
                     dtype=dtype, rng=rng, **options)
    return PerChannel(norm) if norm.has_running_stats else norm


class CNN:
    """(C, H, W) images -> conv blocks -> flatten -> dense layers -> logits."""

    def __init__(self, in_shape: tuple[int, int, int], channels: tuple[int, ...], kernel: int,
                 hidden: tuple[int, ...], n_out: int, *, pool: str = "max", activation: str = "relu",
                 norm: str | None = "batch", bn_momentum=0.1, bn_eps=1e-5, unbiased_running_var=True,
                 norm_options: dict | None = None, init: str = "he", init_std: float = 0.1, seed: int = 0,
                 dtype=np.float32):
        self.dtype = np.dtype(dtype)
        c, h, w = in_shape
        options = dict(momentum=bn_momentum, eps=bn_eps, unbiased_running_var=unbiased_running_var,
                       dtype=self.dtype, **(norm_options or {}))
        self.blocks: list[ConvBlock] = []
        for i, f in enumerate(channels):
            rng = np.random.default_rng([seed, 6, i])
            fan_in = c * kernel * kernel
            W = (init_weights(rng, fan_in, f, init, init_std, self.dtype).T
                 .reshape(f, c, kernel, kernel).copy())
            block_norm = (conv_norm(norm, f, np.random.default_rng([seed, 7, i]), **options)
                          if norm else None)
            b = None if block_norm is not None and block_norm.has_running_stats else np.zeros(f, self.dtype)
            pooling = Pool2d(pool) if h % 2 == 0 and w % 2 == 0 and h > 1 else None
            self.blocks.append(ConvBlock(Conv2d(W, b), block_norm, make_activation(activation), pooling))
            c = f
            if pooling is not None:
                h, w = h // 2, w // 2
        self.flatten = Flatten()
        self.layers, self.head = dense_stack(
            c * h * w, hidden, n_out, [norm] * len(hidden), options, activation=activation,
            leaky_slope=0.01, placement="before", keep_bias=False, init=init, init_std=init_std,
            seed=seed, dtype=self.dtype)

    def forward(self, x: np.ndarray, training: bool = True, update_stats: bool = True) -> np.ndarray:
        a = x
        for block in self.blocks:
            a = block.forward(a, training, update_stats)
        a = self.flatten.forward(a, training)
        for layer in self.layers:
            a = layer.forward(a, training, update_stats)
        return self.head.forward(a, training)

    def backward(self, dlogits: np.ndarray) -> None:
        da = self.head.backward(dlogits)
        for layer in reversed(self.layers):
            da = layer.backward(da)
        da = self.flatten.backward(da)
        for i in range(len(self.blocks) - 1, -1, -1):
            da = self.blocks[i].backward(da, need_dx=i > 0)

    def named_parameters(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        out = []
        for i, block in enumerate(self.blocks, start=1):
            out += layer_parameters(f"conv{i}", block.conv, block.norm)
        for i, layer in enumerate(self.layers, start=1):
            out += layer_parameters(f"layer{i}", layer.linear, layer.norm)
        return out + layer_parameters("head", self.head, None)
