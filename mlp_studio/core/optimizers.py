"""Optimizers that update one flat parameter vector in place.

The network keeps every weight and bias in a single contiguous array, so an
optimizer step is a handful of whole-array operations whatever the depth of
the network. Optimizer state (momentum, Adam's moments) lives in buffers of
the same length that the network owns and passes in; an optimizer object
holds only its hyperparameters and can be swapped while training runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SGD:
    """Plain stochastic gradient descent: theta -= lr * g."""

    name = "sgd"
    label = "SGD"
    n_buffers = 0

    def update(self, theta, grad, buffers, lr, scale, t):
        """Apply one step.

        Parameters
        ----------
        theta : (P,) array, updated in place.
        grad : (P,) array holding the gradient divided by ``scale``; used
            as scratch and left changed.
        buffers : list of (P,) state arrays, ``n_buffers`` of them.
        lr : learning rate.
        scale : factor that turns ``grad`` into the true gradient.
        t : 1-based number of this update (for bias correction).
        """
        np.multiply(grad, _scalar(lr * scale, grad.dtype), grad)
        np.subtract(theta, grad, theta)


@dataclass(frozen=True)
class Momentum:
    """SGD with (heavy-ball) momentum: v = mu v + g; theta -= lr v."""

    momentum: float = 0.9
    name = "momentum"
    label = "SGD + momentum"
    n_buffers = 1

    def __post_init__(self):
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(
                f"momentum must be in [0, 1), got {self.momentum!r}"
            )

    def update(self, theta, grad, buffers, lr, scale, t):
        (velocity,) = buffers
        dtype = grad.dtype
        np.multiply(velocity, _scalar(self.momentum, dtype), velocity)
        if scale != 1.0:
            np.multiply(grad, _scalar(scale, dtype), grad)
        np.add(velocity, grad, velocity)
        np.multiply(velocity, _scalar(lr, dtype), grad)
        np.subtract(theta, grad, theta)


@dataclass(frozen=True)
class Adam:
    """Adam (Kingma and Ba, 2015) with bias-corrected moments."""

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    name = "adam"
    label = "Adam"
    n_buffers = 2

    def __post_init__(self):
        for field, value in (("beta1", self.beta1), ("beta2", self.beta2)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{field} must be in [0, 1), got {value!r}")
        if not self.eps > 0.0:
            raise ValueError(f"eps must be positive, got {self.eps!r}")

    def update(self, theta, grad, buffers, lr, scale, t):
        m, v = buffers
        b1, b2 = self.beta1, self.beta2
        dtype = grad.dtype
        np.multiply(m, _scalar(b1, dtype), m)
        np.multiply(v, _scalar(b2, dtype), v)

        # grad becomes (1 - b1) g, then (1 - b2) g^2, with no scratch array.
        np.multiply(grad, _scalar(scale * (1.0 - b1), dtype), grad)
        np.add(m, grad, m)
        np.multiply(grad, grad, grad)
        np.multiply(grad, _scalar((1.0 - b2) / (1.0 - b1) ** 2, dtype), grad)
        np.add(v, grad, v)

        # theta -= lr_t * m / (sqrt(v) + eps_t), the paper's efficient form.
        # These two change with every step: fresh 0-d arrays, not cached.
        correction1 = 1.0 - b1**t
        correction2 = 1.0 - b2**t
        lr_t = np.array(lr * math.sqrt(correction2) / correction1, dtype)
        eps_t = np.array(self.eps * math.sqrt(correction2), dtype)
        np.sqrt(v, grad)
        np.add(grad, eps_t, grad)
        np.divide(m, grad, grad)
        np.multiply(grad, lr_t, grad)
        np.subtract(theta, grad, theta)


_SCALARS: dict[tuple, np.ndarray] = {}


def _scalar(value: float, dtype) -> np.ndarray:
    """``value`` as a 0-d array of ``dtype``: numpy multiplies an array by
    a 0-d array faster than by a Python float, and an update runs this
    many times. (Of another dtype, it would make numpy compute in the
    wider of the two.)"""
    key = (value, dtype)
    array = _SCALARS.get(key)
    if array is None:
        if len(_SCALARS) > 256:
            _SCALARS.clear()
        array = _SCALARS[key] = np.array(value, dtype)
    return array


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(spec, **hyper):
    """An optimizer from a name ("sgd", "momentum", "adam") or an instance."""
    if isinstance(spec, (SGD, Momentum, Adam)):
        if hyper:
            raise ValueError("pass hyperparameters with a name, not an instance")
        return spec
    key = str(spec).strip().lower()
    try:
        cls = OPTIMIZERS[key]
    except KeyError:
        known = ", ".join(OPTIMIZERS)
        raise ValueError(
            f"unknown optimizer {spec!r}; expected one of: {known}"
        ) from None
    try:
        return cls(**hyper)
    except TypeError as exc:
        raise ValueError(f"bad settings for optimizer {key!r}: {exc}") from None
