"""The bnviz engine: a NumPy batch-norm network, its trainer and records.

Pure NumPy (plus scikit-learn for the bundled data sets): importing it loads
no Qt module, so scripts, notebooks and tests can use it without a screen.
"""
from .compare import Comparison
from .config import PRESETS, ConfigError, RunConfig, preset
from .data import Dataset, DatasetError, load_dataset
from .history import History, HistorySnapshot
from .layers import BatchNorm, Linear, make_activation
from .lessons import LESSONS, Lesson, lesson
from .losses import softmax_cross_entropy
from .model import MLP
from .optim import GD, SGD, Adam, Momentum, RMSProp, make_optimizer
from .records import Evaluation, LayerRecord, StepRecord
from .session import SessionError, load_runs, save_runs
from .testtime import ExampleInspection, inspect_example
from .trainer import Trainer

__all__ = [
    "PRESETS", "ConfigError", "RunConfig", "preset", "Dataset", "DatasetError", "load_dataset",
    "History", "HistorySnapshot", "BatchNorm", "Linear", "make_activation", "softmax_cross_entropy",
    "MLP", "GD", "SGD", "Adam", "Momentum", "RMSProp", "make_optimizer", "Evaluation",
    "LayerRecord", "StepRecord", "Trainer", "Comparison", "LESSONS", "Lesson", "lesson",
    "ExampleInspection", "inspect_example", "SessionError", "load_runs", "save_runs",
]
