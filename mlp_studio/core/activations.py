"""Hidden-layer activation functions.

Each activation is written twice, on purpose:

* ``value`` and ``slope`` are plain functions that allocate their result.
  They are the reference: easy to read, used for explanations, gradients
  and the point inspector.
* ``forward_ops`` and ``slope_ops`` return the same computations as lists
  of numpy calls on buffers that the training loop owns, so that one
  update allocates nothing (see ``network._Program``). Tests check that
  both versions agree.

An op is a pair ``(function, args)``; running it means ``function(*args)``.
numpy's ufuncs and ``np.dot`` take their output array as the last
positional argument, which is what makes this form possible.
"""

from __future__ import annotations

from functools import partial

import numpy as np

LEAKY_SLOPE = 0.01


def run(ops):
    """Execute a list of ops."""
    for function, args in ops:
        function(*args)


# Below this many elements an op costs its call, not its arithmetic, and
# numpy takes a Python float operand noticeably slower than an array of the
# operand's own shape (it converts the float on every call).
_SMALL = 4096
# np.maximum and np.minimum have no fast loop for a 0-d operand: against
# an array of the full shape they run two to three times faster at every
# size. Up to this many elements (2 MB in float64) they get one.
_FULL_LIMIT = 1 << 18
# Where ReLU's slope changes method (see ReLU.slope_ops).
_SMALL_SLOPE = 1536


_CONSTANTS: dict[tuple, np.ndarray] = {}


def constant(value, like, full=False):
    """``value`` as an operand for elementwise ops on ``like``: an array of
    ``like``'s shape when that is small (or ``full`` is set, for
    np.maximum and np.minimum, and it is not huge), else a 0-d array;
    either way of ``like``'s dtype, so the op computes in it. Shared and
    read-only."""
    limit = _FULL_LIMIT if full else _SMALL
    shape = like.shape if like.size <= limit else ()
    key = (value, shape, like.dtype)
    array = _CONSTANTS.get(key)
    if array is None:
        if len(_CONSTANTS) > 256:
            _CONSTANTS.clear()  # compiled calls keep their own references
        array = _CONSTANTS[key] = np.full(shape, value, like.dtype)
        array.flags.writeable = False
    return array


def sigmoid_ops(z, out):
    """Ops writing 1 / (1 + e^-z) into ``out``, through tanh so that a large
    |z| cannot overflow."""
    half = constant(0.5, out)
    return [
        (np.multiply, (z, half, out)),
        (np.tanh, (out, out)),
        (np.multiply, (out, half, out)),
        (np.add, (out, half, out)),
    ]


def sigmoid(z):
    return 0.5 + 0.5 * np.tanh(0.5 * z)


class Activation:
    """Base class: one activation function and its derivative."""

    name = ""
    label = ""
    # Swish keeps sigmoid(z) from the forward pass in an extra buffer.
    needs_aux = False

    def value(self, z: np.ndarray) -> np.ndarray:
        """f(z), a new array."""
        raise NotImplementedError

    def slope(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """f'(z), a new array, given ``a = value(z)``."""
        raise NotImplementedError

    def forward_ops(self, z, a, aux):
        """Ops writing f(z) into ``a``; ``a`` must not overlap ``z``."""
        raise NotImplementedError

    def slope_ops(self, z, a, aux, out):
        """Ops writing f'(z) into ``out``, after ``forward_ops`` ran."""
        raise NotImplementedError

    def __repr__(self):
        return f"<activation {self.name}>"


class Tanh(Activation):
    name, label = "tanh", "Tanh"

    def value(self, z):
        return np.tanh(z)

    def slope(self, z, a):
        return 1.0 - a * a

    def forward_ops(self, z, a, aux):
        return [(np.tanh, (z, a))]

    def slope_ops(self, z, a, aux, out):
        return [(np.multiply, (a, a, out)),
                (np.subtract, (constant(1.0, out), out, out))]


class Sigmoid(Activation):
    name, label = "sigmoid", "Sigmoid"

    def value(self, z):
        return sigmoid(z)

    def slope(self, z, a):
        return a * (1.0 - a)

    def forward_ops(self, z, a, aux):
        return sigmoid_ops(z, a)

    def slope_ops(self, z, a, aux, out):
        return [(np.subtract, (constant(1.0, out), a, out)),
                (np.multiply, (out, a, out))]


class ReLU(Activation):
    name, label = "relu", "ReLU"

    def value(self, z):
        return np.maximum(z, 0.0)

    def slope(self, z, a):
        return (z > 0.0).astype(z.dtype)

    def forward_ops(self, z, a, aux):
        # np.maximum takes its output only by keyword.
        return [(partial(np.maximum, out=a), (z, constant(0.0, z, True)))]

    def slope_ops(self, z, a, aux, out):
        # 1 where z > 0 and 0 elsewhere (NaN stays NaN), computed in floats:
        # np.greater would cast its booleans into ``out``, which is slower.
        # On a small layer, sign(a) is one cheap call. np.sign has no
        # vectorized loop, though, so on a large one ceil(min(a, 1)) is
        # about half the time in two calls; both are exact, as a >= 0.
        if out.size <= _SMALL_SLOPE:
            return [(np.sign, (a, out))]
        return [(partial(np.minimum, out=out), (a, constant(1.0, a, True))),
                (np.ceil, (out, out))]


class LeakyReLU(Activation):
    name, label = "leaky_relu", "Leaky ReLU"

    def value(self, z):
        return np.where(z > 0.0, z, LEAKY_SLOPE * z)

    def slope(self, z, a):
        return np.where(z > 0.0, 1.0, LEAKY_SLOPE).astype(z.dtype)

    def forward_ops(self, z, a, aux):
        return [
            (np.multiply, (z, constant(LEAKY_SLOPE, z), a)),
            (partial(np.maximum, out=a), (z, a)),
        ]

    def slope_ops(self, z, a, aux, out):
        # LEAKY_SLOPE + (1 - LEAKY_SLOPE) * [z > 0]
        return [
            (np.greater, (z, constant(0.0, z), out)),
            (np.multiply, (out, constant(1.0 - LEAKY_SLOPE, out), out)),
            (np.add, (out, constant(LEAKY_SLOPE, out), out)),
        ]


class Linear(Activation):
    name, label = "linear", "Linear"

    def value(self, z):
        return z.copy()

    def slope(self, z, a):
        return np.ones_like(z)

    def forward_ops(self, z, a, aux):
        # A ufunc rather than np.copyto, which dispatches on every call.
        return [(np.positive, (z, a))]

    def slope_ops(self, z, a, aux, out):
        return [(np.positive, (constant(1.0, out), out))]


class Swish(Activation):
    """Swish (SiLU): z * sigmoid(z)."""

    name, label = "swish", "Swish"
    needs_aux = True

    def value(self, z):
        return z * sigmoid(z)

    def slope(self, z, a):
        s = sigmoid(z)
        return s * (1.0 + z * (1.0 - s))

    def forward_ops(self, z, a, aux):
        return sigmoid_ops(z, aux) + [(np.multiply, (z, aux, a))]

    def slope_ops(self, z, a, aux, out):
        # s (1 + z (1 - s)) with s = sigmoid(z) kept in aux
        one = constant(1.0, out)
        return [
            (np.subtract, (one, aux, out)),
            (np.multiply, (out, z, out)),
            (np.add, (out, one, out)),
            (np.multiply, (out, aux, out)),
        ]


ACTIVATIONS: dict[str, Activation] = {
    act.name: act
    for act in (Tanh(), ReLU(), Sigmoid(), Linear(), LeakyReLU(), Swish())
}


def get_activation(name: str) -> Activation:
    """Look an activation up by name, with a clear error for a bad one."""
    if isinstance(name, Activation):
        return name
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    key = {"leakyrelu": "leaky_relu", "silu": "swish"}.get(key, key)
    try:
        return ACTIVATIONS[key]
    except KeyError:
        known = ", ".join(ACTIVATIONS)
        raise ValueError(
            f"unknown activation {name!r}; expected one of: {known}"
        ) from None
