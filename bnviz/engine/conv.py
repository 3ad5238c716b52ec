"""Convolutional layers as forward/backward pairs, for inputs (N, C, H, W):
2-D convolution (stride 1, "same" padding), 2x2 average and max pooling,
flattening, and batch norm per channel (``BatchNorm2d``).

Vectorised with NumPy: the convolution is one matrix product over every
pixel's window (im2col, built with one copy per kernel offset: 9 for a 3x3
kernel); its backward scatters the windows' gradients back with one array
addition per offset, never a Python loop over pixels.
"""
from __future__ import annotations

import numpy as np

from .layers import BatchNorm

KERNEL_SIZES = (3, 5)


class Conv2d:
    """``torch.nn.Conv2d(C, F, k, padding=k // 2)``: W (F, C, k, k), b (F,)."""

    def __init__(self, W: np.ndarray, b: np.ndarray | None):
        if W.ndim != 4 or W.shape[2] != W.shape[3] or W.shape[2] % 2 == 0:
            raise ValueError(f"expected weights (F, C, k, k) with an odd k, got {W.shape}")
        self.W, self.b = W, b
        self.dW = np.zeros_like(W)
        self.db = None if b is None else np.zeros_like(b)
        self.k = W.shape[2]
        self._cols = self._shape = None

    def _columns(self, x: np.ndarray) -> np.ndarray:
        """(C*k*k, N*H*W): for every channel and kernel offset, the whole
        batch's zero-padded image shifted by it (one contiguous copy per
        offset, channel-major, so that the products below read it in order)."""
        n, c, h, w = x.shape
        k, p = self.k, self.k // 2
        padded = np.zeros((c, n, h + 2 * p, w + 2 * p), dtype=x.dtype)
        padded[:, :, p:p + h, p:p + w] = x.transpose(1, 0, 2, 3)
        cols = np.empty((c, k, k, n, h, w), dtype=x.dtype)
        for i in range(k):
            for j in range(k):
                cols[:, i, j] = padded[:, :, i:i + h, j:j + w]
        return cols.reshape(c * k * k, n * h * w)

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        if x.ndim != 4 or x.shape[1] != self.W.shape[1]:
            raise ValueError(f"expected input (N, {self.W.shape[1]}, H, W), got {x.shape}")
        n, _, h, w = x.shape
        cols = self._columns(x)
        out = self.W.reshape(self.W.shape[0], -1) @ cols   # (F, N*H*W)
        if self.b is not None:
            out += self.b[:, None]
        if training:
            self._cols, self._shape = cols, x.shape
        return out.reshape(self.W.shape[0], n, h, w).transpose(1, 0, 2, 3)

    def backward(self, dout: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        """dout (N, F, H, W) -> dx (N, C, H, W); sets dW and db."""
        n, c, h, w = self._shape
        f, k = self.W.shape[0], self.k
        dmat = dout.transpose(1, 0, 2, 3).reshape(f, n * h * w)
        np.matmul(dmat, self._cols.T, out=self.dW.reshape(f, -1))
        if self.b is not None:
            self.db[...] = dmat.sum(axis=1)
        if not need_dx:
            return None
        dcols = (self.W.reshape(f, -1).T @ dmat).reshape(c, k, k, n, h, w)
        p = k // 2
        dpadded = np.zeros((c, n, h + 2 * p, w + 2 * p), dtype=dout.dtype)
        for i in range(k):
            for j in range(k):
                dpadded[:, :, i:i + h, j:j + w] += dcols[:, i, j]
        return dpadded[:, :, p:p + h, p:p + w].transpose(1, 0, 2, 3)


class Pool2d:
    """2x2 pooling with stride 2 (H and W must be even): "avg"
    (``torch.nn.AvgPool2d(2)``) or "max" (``torch.nn.MaxPool2d(2)``; the
    gradient goes to the first largest value of each window)."""

    def __init__(self, kind: str):
        if kind not in ("avg", "max"):
            raise ValueError(f"unknown pooling {kind!r}")
        self.kind = kind
        self._mask = self._shape = None

    # The four corners of every window, as strided views: top-left, top-right,
    # bottom-left, bottom-right (elementwise work on them beats reshaping).
    CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        n, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"2x2 pooling needs an even height and width, got {h}x{w}")
        corners = [x[:, :, i::2, j::2] for i, j in self.CORNERS]
        if self.kind == "avg":
            out = corners[0] + corners[1]
            out += corners[2]
            out += corners[3]
            out *= 0.25
        else:
            out = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
            if training:   # which corner gave each maximum: the first of equal ones
                taken = np.zeros(out.shape, dtype=bool)
                masks = []
                for corner in corners:
                    mask = (corner == out) & ~taken
                    taken |= mask
                    masks.append(mask)
                self._mask = masks
        if training:
            self._shape = x.shape
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = np.empty(self._shape, dtype=dout.dtype)
        for k, (i, j) in enumerate(self.CORNERS):
            if self.kind == "avg":
                np.multiply(dout, 0.25, out=dx[:, :, i::2, j::2])
            else:
                np.multiply(dout, self._mask[k], out=dx[:, :, i::2, j::2])
        return dx


class Flatten:
    """(N, C, H, W) -> (N, C*H*W), in C, H, W order (``torch.flatten(x, 1)``)."""

    def __init__(self):
        self._shape = None

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        if training:
            self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout.reshape(self._shape)


# The convolution hands on its output channel-major, (C, N, H, W) in memory
# seen as (N, C, H, W): then these are views, not copies, and so is every
# array that elementwise operations make from them (NumPy keeps the layout).
def to_rows(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N*H*W, C): every pixel of every example a row."""
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def from_rows(rows: np.ndarray, shape) -> np.ndarray:
    n, c, h, w = shape
    return rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)


class PerChannel:
    """A dense normalization with running statistics (BatchNorm, Batch
    Renorm, noisy BN) applied per channel of (N, C, H, W) inputs: its
    statistics over (N, H, W), as ``torch.nn.BatchNorm2d`` (the running
    variance's unbiased factor uses n = N*H*W, as PyTorch's does).
    Every other attribute is the dense layer's (gamma, running_mean...), read or written."""

    def __init__(self, dense):
        self.dense = dense

    def __setattr__(self, name, value):
        # Settings and restored counters (momentum, num_batches_tracked...) belong to the dense norm.
        if name == "dense":
            object.__setattr__(self, name, value)
        else:
            setattr(self.dense, name, value)

    def __getattr__(self, name):
        try:
            dense = self.__dict__["dense"]
        except KeyError:   # not set up yet (a copy being made)
            raise AttributeError(name) from None
        return getattr(dense, name)

    def forward(self, x: np.ndarray, training: bool = True, update_stats: bool = True) -> np.ndarray:
        return from_rows(self.dense.forward(to_rows(x), training, update_stats), x.shape)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return from_rows(self.dense.backward(to_rows(dy)), dy.shape)


def BatchNorm2d(channels: int, momentum=0.1, eps=1e-5, unbiased_running_var=True, dtype=np.float32):
    """Batch norm per channel over (N, H, W), ``torch.nn.BatchNorm2d``'s."""
    return PerChannel(BatchNorm(channels, momentum, eps, unbiased_running_var, dtype))

