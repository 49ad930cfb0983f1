"""The numerical engine of MLP Studio.

Imports numpy and nothing of Qt, so it runs in a notebook, a script or a
test without a display.
"""

from .activations import ACTIVATIONS, get_activation
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
    "DataSpec",
    "Dataset",
    "FeatureMap",
    "Momentum",
    "NonFiniteLossError",
    "forward_layers",
    "get_activation",
    "make_dataset",
    "make_optimizer",
]
