"""The numerical engine of MLP Studio.

Imports numpy and nothing of Qt, so it runs in a notebook, a script or a
test without a display.
"""

from .activations import ACTIVATIONS, get_activation
from .dataset_io import DataFileError, LoadedData, load_csv, save_csv
from .datasets import DATASETS, Dataset, DataSpec, make_dataset
from .features import DEFAULT_FEATURES, FEATURES, FeatureMap
from .heads import MAX_CLASSES, TASKS
from .network import (
    MLP,
    REGULARIZATIONS,
    Backprop,
    NonFiniteLossError,
    forward_layers,
)
from .optimizers import SGD, Adam, Momentum, make_optimizer

__all__ = [
    "ACTIVATIONS",
    "DATASETS",
    "DEFAULT_FEATURES",
    "FEATURES",
    "MAX_CLASSES",
    "MLP",
    "REGULARIZATIONS",
    "SGD",
    "TASKS",
    "Adam",
    "Backprop",
    "DataFileError",
    "DataSpec",
    "Dataset",
    "FeatureMap",
    "LoadedData",
    "Momentum",
    "NonFiniteLossError",
    "forward_layers",
    "get_activation",
    "load_csv",
    "make_dataset",
    "make_optimizer",
    "save_csv",
]
