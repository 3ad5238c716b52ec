"""RunConfig: validation, serialisation round trips, presets."""
from __future__ import annotations

import dataclasses
import math

import pytest

from bnviz.engine.config import PRESETS, ConfigError, RunConfig, preset


def test_defaults_validate():
    cfg = RunConfig()
    assert cfg.validate() is cfg
    assert cfg.bn_momentum == 0.1 and cfg.bn_eps == 1e-5 and cfg.unbiased_running_var is True
    assert cfg.hidden == (100, 100, 100) and cfg.bn_layers() == (True, True, True)


def test_configerror_is_valueerror():
    err = ConfigError("lr", "must be positive")
    assert isinstance(err, ValueError)
    assert err.field == "lr" and "lr" in str(err) and "must be positive" in str(err)


def test_lists_become_tuples_and_bn_layers():
    cfg = RunConfig(hidden=[8, 4], batchnorm=[True, False])
    assert cfg.hidden == (8, 4) and cfg.batchnorm == (True, False)
    assert cfg.bn_layers() == (True, False)
    assert RunConfig(hidden=(3, 3), batchnorm=False).bn_layers() == (False, False)


# ----------------------------------------------------------- round trips

ROUND_TRIP_CONFIGS = [
    RunConfig(),
    RunConfig(bn_momentum=None),
    RunConfig(dataset="spiral", hidden=(16, 8, 4), batchnorm=(True, False, True), bn_placement="after",
              keep_bias=True, activation="leaky_relu", leaky_slope=0.2, init="he", optimizer="adam",
              lr=3e-4, batch_size=17, adam_beta2=0.95, opt_eps=1e-7, seed=123456, dtype="float64",
              noise=0.3, n_samples=777, test_fraction=0.33, bn_eps=1e-3, unbiased_running_var=False),
    RunConfig(dataset="file", data_path="/tmp/some data/x.csv", hidden=(5,), bn_momentum=0.01),
]


@pytest.mark.parametrize("cfg", ROUND_TRIP_CONFIGS)
def test_dict_round_trip(cfg):
    d = cfg.to_dict()
    assert isinstance(d["hidden"], list)
    assert None not in d.values()
    back = RunConfig.from_dict(d)
    assert back == cfg
    assert isinstance(back.hidden, tuple)


@pytest.mark.parametrize("cfg", ROUND_TRIP_CONFIGS)
def test_toml_round_trip(cfg):
    text = cfg.to_toml()
    assert "[run]" in text
    back = RunConfig.from_toml(text)
    assert back == cfg
    assert type(back.hidden) is tuple
    assert type(back.batchnorm) is type(cfg.batchnorm)


def test_cumulative_momentum_spelling():
    cfg = RunConfig(bn_momentum=None)
    assert cfg.to_dict()["bn_momentum"] == "cumulative"
    assert 'bn_momentum = "cumulative"' in cfg.to_toml()
    assert RunConfig.from_toml('[run]\nbn_momentum = "cumulative"\n').bn_momentum is None
    assert RunConfig.from_dict({"bn_momentum": "cumulative"}).bn_momentum is None


def test_from_toml_without_run_table_and_partial():
    cfg = RunConfig.from_toml('lr = 0.5\nhidden = [3, 4]\n')
    assert cfg == RunConfig(lr=0.5, hidden=(3, 4))


def test_save_load_round_trip(tmp_path):
    cfg = ROUND_TRIP_CONFIGS[2].replace(bn_momentum=None)
    path = tmp_path / "run.toml"
    cfg.save(path)
    assert path.exists()
    assert RunConfig.load(path) == cfg
    assert RunConfig.load(str(path)) == cfg


def test_load_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        RunConfig.load(tmp_path / "nope.toml")
    assert info.value.field == "file"
    assert "nope.toml" in str(info.value)


# ------------------------------------------------------------- rejection

# (field, bad value, substring the message must contain about what is allowed)
INVALID = [
    ("dataset", "mnist", "digits"),
    ("dataset", 3, "moons"),
    ("hidden", [], "layer widths"),
    ("hidden", 0, "layer widths"),
    ("hidden", "abc", "layer widths"),
    ("hidden", (10, 0), "from 1 to"),
    ("hidden", (10, 2.5), "integer"),
    ("hidden", (1,) * 17, "1 to 16"),
    ("activation", "softplus", "sigmoid"),
    ("batchnorm", (True, False), "3"),
    ("batchnorm", "yes", "true/false"),
    ("bn_placement", "middle", "before"),
    ("init", "xavier", "glorot"),
    ("bn_momentum", 0, "(0"),
    ("bn_momentum", 1.5, "1.0]"),
    ("bn_momentum", float("nan"), "cumulative"),
    ("bn_momentum", "fast", "cumulative"),
    ("bn_eps", 0, "1e-12"),
    ("optimizer", "lbfgs", "adam"),
    ("lr", 0, "(0"),
    ("lr", -1, "(0"),
    ("lr", float("nan"), "(0"),
    ("lr", "0.1", "number"),
    ("batch_size", 1, "2"),
    ("batch_size", 60.0, "integer"),
    ("sgd_momentum", 1.0, "1.0)"),
    ("adam_beta2", 1.0, "1.0)"),
    ("rmsprop_rho", -0.1, "[0"),
    ("seed", -1, "integer from 0"),
    ("seed", True, "integer"),
    ("dtype", "float16", "float32"),
    ("test_fraction", 0.0, "0.05"),
    ("test_fraction", 0.95, "0.9"),
    ("keep_bias", 1, "true or false"),
    ("unbiased_running_var", "yes", "true or false"),
    ("n_samples", 5, "20"),
    ("init_std", 0, "number"),
    ("eval_batch_size", 1, "or 0"),
    ("eval_batch_size", -1, "2 to 100000"),
    ("eval_batch_size", 100_001, "2 to 100000"),
    ("eval_batch_size", 8.0, "integer"),
    ("eval_batch_size", False, "integer"),
    ("population_every", -1, "from 0"),
    ("population_every", 2.5, "integer"),
    ("population_every", True, "integer"),
]


@pytest.mark.parametrize("field,value,allowed", INVALID, ids=lambda v: repr(v)[:20])
def test_invalid_field_raises(field, value, allowed):
    cfg = RunConfig(**{field: value})
    with pytest.raises(ConfigError) as info:
        cfg.validate()
    err = info.value
    assert isinstance(err, ValueError)
    assert err.field == field
    assert field in str(err)
    assert allowed in err.message, err.message
    # The same through from_dict (where the value is representable in a dict).
    with pytest.raises(ConfigError) as info2:
        RunConfig.from_dict({field: list(value) if isinstance(value, tuple) else value})
    assert info2.value.field == field


@pytest.mark.parametrize("path,allowed", [("", ".csv"), ("data.txt", ".csv")])
def test_file_dataset_needs_path(path, allowed):
    with pytest.raises(ConfigError) as info:
        RunConfig(dataset="file", data_path=path).validate()
    assert info.value.field == "data_path"
    assert allowed in info.value.message and ".npz" in info.value.message
    RunConfig(dataset="file", data_path="data.npz").validate()  # the suffix is enough to validate


def test_unknown_key_raises():
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict({"lr": 0.1, "learning_rate": 0.1})
    assert info.value.field == "learning_rate"
    assert "learning_rate" in str(info.value) and "unknown" in str(info.value)
    with pytest.raises(ConfigError) as info:
        RunConfig.from_toml('[run]\nlr = 0.1\nwidth = 3\n')
    assert info.value.field == "width"


def test_unknown_table_raises():
    with pytest.raises(ConfigError) as info:
        RunConfig.from_toml('[run]\nlr = 0.1\n[extra]\nx = 1\n')
    assert info.value.field == "extra"


def test_malformed_toml_raises():
    with pytest.raises(ConfigError) as info:
        RunConfig.from_toml('[run]\nlr = = 0.1\n')
    assert info.value.field == "toml"
    assert "TOML" in str(info.value)


def test_not_a_table_raises():
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict([("lr", 0.1)])
    assert info.value.field == "config"


def test_boundary_values_are_valid():
    RunConfig(bn_momentum=1.0, lr=100.0, batch_size=2, sgd_momentum=0.0, seed=2**32 - 1,
              test_fraction=0.05, hidden=(4096,), bn_eps=1.0).validate()
    RunConfig(test_fraction=0.9, hidden=(1,) * 16, batchnorm=(False,) * 16).validate()
    RunConfig(eval_batch_size=2, population_every=1).validate()
    RunConfig(eval_batch_size=100_000, population_every=0).validate()
    cfg = RunConfig(eval_batch_size=7, population_every=50)
    assert RunConfig.from_toml(cfg.to_toml()) == cfg
    with pytest.raises(ConfigError) as info:
        RunConfig(seed=2**32).validate()
    assert info.value.field == "seed"


# --------------------------------------------------------------- presets

@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_validate_and_copy(name):
    cfg = preset(name)
    if cfg.dataset == "file":   # a preset for the user's own file: valid once it is chosen
        with pytest.raises(ConfigError, match="needs the path"):
            cfg.validate()
        cfg = cfg.replace(data_path="mnist.npz")
        assert cfg.validate() is cfg
        return
    assert cfg.validate() is cfg
    assert cfg == PRESETS[name] and cfg is not PRESETS[name]
    original = dataclasses.replace(PRESETS[name])
    cfg.lr = 42.0
    cfg.hidden = (1,)
    cfg.bn_momentum = None
    assert PRESETS[name] == original
    assert PRESETS[name].lr != 42.0
    # Round trips too.
    assert RunConfig.from_toml(PRESETS[name].to_toml()) == PRESETS[name]


def test_keras_preset():
    cfg = preset("Keras defaults")
    assert cfg.bn_momentum == 0.01 and cfg.bn_eps == 1e-3 and cfg.unbiased_running_var is False
    assert math.isclose(1 - cfg.bn_momentum, 0.99)


def test_unknown_preset():
    with pytest.raises(ConfigError) as info:
        preset("no such preset")
    assert info.value.field == "preset"
    assert "Keras defaults" in str(info.value)
