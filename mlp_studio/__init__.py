"""MLP Studio: draw a data set, build a multi-layer perceptron, watch it learn."""

__version__ = "0.1.0"
