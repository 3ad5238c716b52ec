"""The normalization family beside BatchNorm: LayerNorm, GroupNorm, Batch
Renormalization and "noisy" BN, as forward/backward pairs with BatchNorm's
interface (``layers.BatchNorm``): ``forward(x, training, update_stats)``,
``backward(dy)``, learnable ``gamma``/``beta`` with ``dgamma``/``dbeta``,
and what a training forward saw (``x_hat``, ``gamma_used``, ``beta_used``)
for records.

Inputs are (N, C) for a dense layer or (N, C, H, W) for a convolution;
gamma and beta are per feature (channel). Only BN and its two variants keep
running statistics (``has_running_stats``); LayerNorm and GroupNorm
normalise each example by its own statistics, alike in training and at
test time.
"""
from __future__ import annotations

import numpy as np

from .layers import BatchNorm



def _channel_shape(x: np.ndarray) -> tuple[int, ...]:
    """(1, C) or (1, C, 1, 1): per-channel vectors broadcast against x."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


class GroupNorm:
    """Wu & He 2018: the C channels split into ``groups`` groups of C/G
    consecutive channels; each example's group is normalised by its own
    mean and biased variance (over its channels and, in a convolution,
    every pixel), then ``y = gamma * x_hat + beta`` per channel.
    ``torch.nn.GroupNorm(groups, C)``."""

    kind = "group"
    has_running_stats = False
    # What a training forward keeps for records and sessions, besides x_hat.
    CACHE = ("gamma_used", "beta_used")

    def __init__(self, num_features: int, groups: int, eps: float = 1e-5, dtype=np.float32):
        if groups < 1 or num_features % groups:
            raise ValueError(f"{num_features} features cannot be split into {groups} equal groups")
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps!r}")
        self.num_features, self.groups, self.eps = int(num_features), int(groups), float(eps)
        self.dtype = np.dtype(dtype)
        self.gamma = np.ones(num_features, dtype=self.dtype)
        self.beta = np.zeros(num_features, dtype=self.dtype)
        self.dgamma = np.zeros_like(self.gamma)
        self.dbeta = np.zeros_like(self.beta)
        self.x_hat = self._inv_std = None
        self.gamma_used = self.beta_used = None

    def _normalized(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if x.ndim not in (2, 4) or x.shape[1] != self.num_features:
            raise ValueError(f"expected input of shape (N, {self.num_features}[, H, W]), got {x.shape}")
        xg = x.reshape(x.shape[0], self.groups, -1)
        centered = xg - xg.mean(axis=2, keepdims=True)
        inv_std = 1.0 / np.sqrt((centered * centered).mean(axis=2, keepdims=True) + self.eps)
        return (centered * inv_std).reshape(x.shape), inv_std

    def forward(self, x: np.ndarray, training: bool = True, update_stats: bool = True) -> np.ndarray:
        x_hat, inv_std = self._normalized(x)
        shape = _channel_shape(x)
        y = x_hat * self.gamma.reshape(shape) + self.beta.reshape(shape)
        if training and update_stats:
            self.x_hat, self._inv_std = x_hat, inv_std
            self.gamma_used, self.beta_used = self.gamma.copy(), self.beta.copy()
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """With g = dy * gamma, per example and group:
        dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))."""
        if self.x_hat is None:
            raise RuntimeError("backward needs a training forward first")
        axes = (0,) + tuple(range(2, dy.ndim))
        self.dgamma[...] = (dy * self.x_hat).sum(axis=axes)
        self.dbeta[...] = dy.sum(axis=axes)
        n = dy.shape[0]
        g = (dy * self.gamma.reshape(_channel_shape(dy))).reshape(n, self.groups, -1)
        xh = self.x_hat.reshape(n, self.groups, -1)
        dx = g - g.mean(axis=2, keepdims=True)
        dx -= xh * (g * xh).mean(axis=2, keepdims=True)
        dx *= self._inv_std
        return dx.reshape(dy.shape)

    def unit_affine(self):
        return None   # each example has its own statistics: not an affine map per unit


class LayerNorm(GroupNorm):
    """Ba, Kiros & Hinton 2016: each example normalised over all its
    features (GroupNorm with one group), per-feature gamma and beta. For a
    dense layer this is ``torch.nn.LayerNorm(C)``; for a convolution it is
    the form Wu & He compare, ``torch.nn.GroupNorm(1, C)`` (per-channel
    gamma and beta, not per pixel)."""

    kind = "layer"

    def __init__(self, num_features: int, eps: float = 1e-5, dtype=np.float32):
        super().__init__(num_features, 1, eps, dtype)


def renorm_limits(step, r_max: float, d_max: float, warmup: int, ramp: int):
    """Batch Renorm's (r_max, d_max) at training step(s) ``step`` (0 = the
    first; a number or an array): 1 and 0 during the warm-up, then relaxed
    linearly over ``ramp`` steps (at once if 0)."""
    step = np.asarray(step, dtype=np.float64)
    if ramp == 0:
        f = (step >= warmup).astype(np.float64)
    else:
        f = np.clip((step - warmup) / ramp, 0.0, 1.0)
    return 1.0 + (r_max - 1.0) * f, d_max * f


class BatchRenorm(BatchNorm):
    """Ioffe 2017, Algorithm 1, for dense inputs (N, C). In training,
    ``x_hat = (x - mu_B) / sigma_B * r + d`` with ``sigma_B = sqrt(var_B +
    eps)`` (biased), ``r = clip(sigma_B / sigma, 1/r_max, r_max)`` and
    ``d = clip((mu_B - mu) / sigma, -d_max, d_max)`` from the running mean
    mu and running standard deviation sigma, both held constant in the
    backward pass; then ``mu += m (mu_B - mu)`` and ``sigma += m (sigma_B -
    sigma)``. sigma is kept as ``running_var = sigma^2 - eps``, so that
    inference is BatchNorm's: ``gamma * (x - mu) / sigma + beta``.

    The paper's schedule: plain BN (r_max = 1, d_max = 0) for the first
    ``warmup`` steps, then both limits relaxed linearly to ``r_max`` and
    ``d_max`` over ``ramp`` steps (the paper relaxes r over 40k steps and d
    over 25k; one ramp here)."""

    kind = "renorm"
    CACHE = BatchNorm.CACHE + ("r", "d")

    def __init__(self, num_features: int, momentum: float | None = 0.01, eps: float = 1e-5,
                 r_max: float = 3.0, d_max: float = 5.0, warmup: int = 500, ramp: int = 2000,
                 dtype=np.float32):
        super().__init__(num_features, momentum, eps, unbiased_running_var=False, dtype=dtype)
        if r_max < 1 or d_max < 0 or warmup < 0 or ramp < 0:
            raise ValueError("Batch Renorm needs r_max >= 1, d_max >= 0, warmup >= 0, ramp >= 0")
        self.r_max, self.d_max, self.warmup, self.ramp = float(r_max), float(d_max), int(warmup), int(ramp)
        self.r = self.d = self._z = None

    def limits(self, step: int) -> tuple[float, float]:
        """(r_max, d_max) at training step ``step`` (0 = the first)."""
        r, d = renorm_limits(step, self.r_max, self.d_max, self.warmup, self.ramp)
        return float(r), float(d)

    def forward(self, x: np.ndarray, training: bool = True, update_stats: bool = True) -> np.ndarray:
        # Inference, and test batches normalised by their own statistics, are BN's.
        if not (training and update_stats):
            return super().forward(x, training, update_stats)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"expected input of shape (N, {self.num_features}), got {x.shape}")
        n = x.shape[0]
        if n < 2:
            raise ValueError(f"Batch Renorm needs a batch of at least 2 examples, got {n}")
        mu = x.mean(axis=0)
        z = x - mu
        var = (z * z).mean(axis=0)
        sigma_b = np.sqrt(var + self.eps)
        sigma = np.sqrt(self.running_var + self.eps)
        r_max, d_max = self.limits(self.num_batches_tracked)
        r = np.clip(sigma_b / sigma, 1.0 / r_max, r_max).astype(x.dtype)
        d = np.clip((mu - self.running_mean) / sigma, -d_max, d_max).astype(x.dtype)
        inv_std = (1.0 / sigma_b).astype(x.dtype)
        z *= inv_std
        x_hat = z * r + d
        y = x_hat * self.gamma + self.beta
        self.batch_mean, self.batch_var = mu, var
        self.x_hat, self._z, self._inv_std, self.r, self.d = x_hat, z, inv_std, r, d
        self.gamma_used, self.beta_used = self.gamma.copy(), self.beta.copy()
        self.num_batches_tracked += 1
        m = self.momentum if self.momentum is not None else 1.0 / self.num_batches_tracked
        self.running_mean += m * (mu - self.running_mean)
        sigma = sigma + m * (sigma_b - sigma)
        self.running_var[...] = sigma * sigma - self.eps
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """r and d are constants: with z = (x - mu_B) / sigma_B and
        g = dy * gamma * r, dx = (g - mean(g) - z * mean(g * z)) / sigma_B."""
        if self.x_hat is None or self._z is None:
            raise RuntimeError("backward needs a training forward first")
        self.dgamma[...] = (dy * self.x_hat).sum(axis=0)
        self.dbeta[...] = dy.sum(axis=0)
        g = dy * (self.gamma * self.r)
        z = self._z
        dx = g - g.mean(axis=0)
        dx -= z * (g * z).mean(axis=0)
        dx *= self._inv_std
        return dx

    def unit_affine(self):
        """y = scale * (x - batch_mean) + shift per unit, for records."""
        g = self.gamma_used
        return self.batch_mean, g * self.r * self._inv_std, self.beta_used + g * self.d


class NoisyBatchNorm(BatchNorm):
    """Santurkar et al. 2018, section 2.1: BatchNorm whose training output
    gets noise of non-zero mean and non-unit variance, a new distribution at
    every step. At each training step, per unit j, a mean mu_j ~ U(-s, s)
    and a standard deviation sigma_j ~ U(0, s) are drawn (s =
    ``noise_scale``), then every activation gets its own draw:
    ``y[n, j] = gamma_j x_hat[n, j] + beta_j + mu_j + sigma_j e[n, j]``,
    e ~ N(0, 1). The noise is added, so the backward is BatchNorm's; at
    test time (and in test batches) there is no noise."""

    kind = "noisy"
    CACHE = BatchNorm.CACHE + ("noise_mean", "noise_std")

    def __init__(self, num_features: int, momentum: float | None = 0.1, eps: float = 1e-5,
                 unbiased_running_var: bool = True, noise_scale: float = 0.5,
                 rng: np.random.Generator | None = None, dtype=np.float32):
        super().__init__(num_features, momentum, eps, unbiased_running_var, dtype)
        if noise_scale < 0:
            raise ValueError(f"noise_scale must be at least 0, got {noise_scale!r}")
        self.noise_scale = float(noise_scale)
        self.rng = rng if rng is not None else np.random.default_rng()
        self.noise_mean = self.noise_std = None

    def forward(self, x: np.ndarray, training: bool = True, update_stats: bool = True) -> np.ndarray:
        y = super().forward(x, training, update_stats)
        if not (training and update_stats):
            return y
        s, d = self.noise_scale, self.num_features
        mean = self.rng.uniform(-s, s, d).astype(y.dtype)
        std = self.rng.uniform(0.0, s, d).astype(y.dtype)
        noise = self.rng.standard_normal(y.shape).astype(y.dtype)
        noise *= std
        noise += mean
        y += noise
        self.noise_mean, self.noise_std = mean, std
        return y

    def unit_affine(self):
        return None   # each activation has its own noise: not an affine map per unit


def make_norm(kind: str, width: int, *, momentum: float | None, eps: float,
              unbiased_running_var: bool, dtype, rng: np.random.Generator | None = None,
              groups: int = 4, r_max: float = 3.0, d_max: float = 5.0, warmup: int = 500,
              ramp: int = 2000, noise_scale: float = 0.5):
    """The normalization layer ``kind`` (config's ``norm``) of ``width`` features.
    ``rng``: noisy BN's generator of its noise."""
    if kind == "batch":
        return BatchNorm(width, momentum, eps, unbiased_running_var, dtype)
    if kind == "layer":
        return LayerNorm(width, eps, dtype)
    if kind == "group":
        return GroupNorm(width, groups, eps, dtype)
    if kind == "renorm":
        return BatchRenorm(width, momentum, eps, r_max, d_max, warmup, ramp, dtype)
    if kind == "noisy":
        return NoisyBatchNorm(width, momentum, eps, unbiased_running_var, noise_scale, rng, dtype)
    raise ValueError(f"unknown normalization {kind!r}")


def norm_options(config) -> dict:
    """make_norm's options from a RunConfig."""
    return dict(groups=config.gn_groups, r_max=config.renorm_rmax, d_max=config.renorm_dmax,
                warmup=config.renorm_warmup, ramp=config.renorm_ramp, noise_scale=config.noise_scale)
