"""The network a config describes: an MLP, or a CNN on image data."""
from __future__ import annotations

from .cnn import CNN
from .config import ConfigError, RunConfig
from .model import MLP
from .norms import norm_options


def build_network(config: RunConfig, n_in: int, n_classes: int, image_shape: tuple[int, int] | None):
    """The config's network for n_in features and n_classes classes; a CNN
    reads the features as images of ``image_shape`` (H, W) with n_in / (H*W)
    channels, and refuses data that are not images."""
    common = dict(activation=config.activation, leaky_slope=config.leaky_slope,
                  keep_bias=config.keep_bias, init=config.init, init_std=config.init_std,
                  bn_momentum=config.bn_momentum, bn_eps=config.bn_eps,
                  unbiased_running_var=config.unbiased_running_var,
                  norm_options=norm_options(config), seed=config.seed, dtype=config.dtype)
    if not config.is_cnn():
        return MLP(n_in, config.hidden, n_classes, bn_layers=config.bn_layers(),
                   bn_placement=config.bn_placement, norm=config.norm, **common)
    if image_shape is None:
        raise ConfigError("architecture", f"a CNN needs image data (the digits, or a file of images "
                                          f"such as MNIST); data set {config.dataset!r} is not images")
    h, w = image_shape
    if n_in % (h * w):
        raise ConfigError("architecture", f"{n_in} features are not whole {h}×{w} images")
    return CNN((n_in // (h * w), h, w), config.conv_channels, config.conv_kernel, config.hidden,
               n_classes, pool=config.conv_pool, norms=config.norm_kinds(),
               placement=config.bn_placement, **common)
