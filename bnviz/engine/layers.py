"""Layers as forward/backward pairs. Shapes: x is (N, D) throughout.

Each layer caches what its backward needs during a training forward; the
backward returns the gradient with respect to its input and stores the
parameter gradients on the layer (``dW``, ``db``, ``dgamma``, ``dbeta``).
"""
from __future__ import annotations

import numpy as np


_ONES: dict[tuple[int, np.dtype], np.ndarray] = {}


def column_ones(n: int, dtype) -> np.ndarray:
    """A cached (n,) vector of ones: ``ones @ x`` sums the columns of x
    several times faster than ``x.sum(axis=0)`` for small batches."""
    key = (n, np.dtype(dtype))
    v = _ONES.get(key)
    if v is None:
        v = _ONES[key] = np.ones(n, dtype=dtype)
        v.flags.writeable = False
    return v


class Linear:
    """``z = x @ W + b``. W: (D_in, D_out), b: (D_out,) or None."""

    def __init__(self, W: np.ndarray, b: np.ndarray | None):
        self.W = W
        self.b = b
        self.dW = np.zeros_like(W)
        self.db = None if b is None else np.zeros_like(b)
        self._x = None

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        if training:
            self._x = x
        z = x @ self.W
        if self.b is not None:
            z += self.b
        return z

    def backward(self, dz: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        """dz: (N, D_out) -> dx: (N, D_in); sets dW = x^T dz, db = sum_n dz.
        The first layer passes ``need_dx=False``: nobody needs dL/dinput."""
        np.matmul(self._x.T, dz, out=self.dW)
        if self.b is not None:
            np.matmul(column_ones(dz.shape[0], dz.dtype), dz, out=self.db)
        return dz @ self.W.T if need_dx else None


class BatchNorm:
    """Batch normalisation over the batch axis of (N, D) inputs.

    Training: ``mu = mean(x)``, ``var = mean((x - mu)^2)`` (biased, as every
    framework normalises), ``x_hat = (x - mu) / sqrt(var + eps)``,
    ``y = gamma * x_hat + beta``; then the running statistics move towards
    the batch's: ``r = (1 - momentum) * r + momentum * batch_stat``
    (PyTorch's convention; ``momentum=None`` is the cumulative average).
    The running variance stores ``N/(N-1) * var`` when
    ``unbiased_running_var`` (PyTorch), else ``var`` (Keras, Flax).
    Inference: the same affine map with the running statistics.
    """

    kind = "batch"
    has_running_stats = True
    # What a training forward keeps, per unit, for records and sessions (besides x_hat).
    CACHE = ("batch_mean", "batch_var", "gamma_used", "beta_used", "_inv_std")

    def __init__(self, num_features: int, momentum: float | None = 0.1, eps: float = 1e-5,
                 unbiased_running_var: bool = True, dtype=np.float32):
        if momentum is not None and not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum must be in (0, 1] or None, got {momentum!r}")
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps!r}")
        self.num_features = int(num_features)
        self.momentum = momentum
        self.eps = float(eps)
        self.unbiased_running_var = bool(unbiased_running_var)
        self.dtype = np.dtype(dtype)
        self.gamma = np.ones(num_features, dtype=self.dtype)
        self.beta = np.zeros(num_features, dtype=self.dtype)
        self.running_mean = np.zeros(num_features, dtype=self.dtype)
        self.running_var = np.ones(num_features, dtype=self.dtype)
        self.num_batches_tracked = 0
        self.dgamma = np.zeros_like(self.gamma)
        self.dbeta = np.zeros_like(self.beta)
        # Filled by a training forward, read by backward and by the recorder.
        self.batch_mean = None
        self.batch_var = None
        self.x_hat = None
        self._inv_std = None
        self.gamma_used = self.beta_used = None

    def forward(self, x: np.ndarray, training: bool = True, update_stats: bool = True) -> np.ndarray:
        """x: (N, D) -> y: (N, D). ``update_stats=False`` normalises with the
        batch's statistics without touching the running ones (used to
        evaluate with test-batch statistics)."""
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"expected input of shape (N, {self.num_features}), got {x.shape}")
        if not training:
            inv_std = 1.0 / np.sqrt(self.running_var + self.eps)
            scale = self.gamma * inv_std
            return x * scale + (self.beta - self.running_mean * scale)
        n = x.shape[0]
        if n < 2:
            raise ValueError(
                "Expected more than 1 value per channel when training: batch norm "
                f"needs a batch of at least 2 examples to estimate a variance, got {n}")
        ones = column_ones(n, x.dtype)
        inv_n = 1.0 / n
        mu = (ones @ x) * inv_n
        x_hat = x - mu
        var = (ones @ (x_hat * x_hat)) * inv_n
        inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat *= inv_std
        y = x_hat * self.gamma
        y += self.beta
        if update_stats:
            self.batch_mean, self.batch_var = mu, var
            self.x_hat, self._inv_std = x_hat, inv_std
            # The optimizer changes gamma and beta in place after this step;
            # records must show the values that produced y.
            self.gamma_used, self.beta_used = self.gamma.copy(), self.beta.copy()
            self._update_running(mu, var, n)
        return y

    def _update_running(self, mu: np.ndarray, var: np.ndarray, n: int) -> None:
        self.num_batches_tracked += 1
        m = self.momentum if self.momentum is not None else 1.0 / self.num_batches_tracked
        stored_var = var * (n / (n - 1)) if self.unbiased_running_var else var
        self.running_mean *= 1.0 - m
        self.running_mean += m * mu
        self.running_var *= 1.0 - m
        self.running_var += m * stored_var

    def unit_affine(self):
        """(batch_mean, scale, shift) with the last training output
        ``y = scale * (x - batch_mean) + shift`` per unit, for records."""
        return self.batch_mean, self.gamma_used * self._inv_std, self.beta_used

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy: (N, D) -> dx: (N, D); sets dgamma = sum(dy * x_hat), dbeta = sum(dy).

        With g = dy * gamma: dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat)).
        """
        if self.x_hat is None:
            raise RuntimeError("backward needs a training forward first")
        x_hat = self.x_hat
        n = dy.shape[0]
        ones = column_ones(n, dy.dtype)
        np.matmul(ones, dy * x_hat, out=self.dgamma)
        np.matmul(ones, dy, out=self.dbeta)
        # mean(g) = gamma * dbeta / n and mean(g * x_hat) = gamma * dgamma / n,
        # folded into per-unit coefficients so only three (N, D) passes remain.
        a = self.gamma * self._inv_std
        dx = dy * a
        dx -= (a * self.dbeta) * (1.0 / n)
        dx -= x_hat * ((a * self.dgamma) * (1.0 / n))
        return dx


# --------------------------------------------------------------- activations
class Activation:
    """Elementwise ``a = f(z)``; backward multiplies by f'(z)."""

    name = "identity"

    def __init__(self):
        self._cache = None

    def forward(self, z: np.ndarray, training: bool = True) -> np.ndarray:
        a = self.f(z)
        if training:
            self._cache = (z, a)
        return a

    def backward(self, da: np.ndarray) -> np.ndarray:
        z, a = self._cache
        return self.grad(da, z, a)

    def f(self, z):
        return z

    def grad(self, da, z, a):
        return da


class Sigmoid(Activation):
    name = "sigmoid"

    def f(self, z):
        # 0.5 * (1 + tanh(z / 2)) is the logistic function without overflow.
        a = np.tanh(z * 0.5)
        a += 1.0
        a *= 0.5
        return a

    def grad(self, da, z, a):
        return da * a * (1.0 - a)


class Tanh(Activation):
    name = "tanh"

    def f(self, z):
        return np.tanh(z)

    def grad(self, da, z, a):
        return da * (1.0 - a * a)


class ReLU(Activation):
    name = "relu"

    def f(self, z):
        return np.maximum(z, 0)

    def grad(self, da, z, a):
        return da * (z > 0)


class LeakyReLU(Activation):
    name = "leaky_relu"

    def __init__(self, slope: float = 0.01):
        super().__init__()
        self.slope = slope

    def f(self, z):
        return np.where(z > 0, z, z * self.slope)

    def grad(self, da, z, a):
        return np.where(z > 0, da, da * self.slope)


class Identity(Activation):
    name = "identity"


def make_activation(name: str, leaky_slope: float = 0.01) -> Activation:
    if name == "leaky_relu":
        return LeakyReLU(leaky_slope)
    table = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "identity": Identity}
    if name not in table:
        raise ValueError(f"unknown activation {name!r}")
    return table[name]()
