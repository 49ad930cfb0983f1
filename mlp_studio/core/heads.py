"""Output heads: how the last layer's values become predictions and a loss.

A head pairs an output function with the loss it is meant for, so that
dL/dz at the output is simply ``prediction - target``:

* ``binary``: one sigmoid unit, log-loss (binary cross-entropy);
* ``multiclass``: softmax over 2 to 6 units, cross-entropy;
* ``regression``: one linear unit, half the mean squared error,
  L = mean((y_hat - y)^2) / 2.

Losses are means over the points.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from .activations import constant

MAX_CLASSES = 6
TASKS = ("binary", "multiclass", "regression")


_SIGNS: dict[np.dtype, np.ndarray] = {}


def _signs(dtype):
    """[1, -1] in ``dtype``: 1 - 2 y for the labels y = 0 and 1."""
    signs = _SIGNS.get(dtype)
    if signs is None:
        signs = _SIGNS[dtype] = np.array([1.0, -1.0], dtype)
    return signs


def run_calls(calls):
    """Run ``calls`` in order; the last one's result."""
    for call in calls[:-1]:
        call()
    return calls[-1]()


class Head:
    task = ""

    def check_outputs(self, outputs: int) -> None:
        raise NotImplementedError

    def check_labels(self, y: np.ndarray, outputs: int) -> np.ndarray:
        """Validate labels; return them in the form ``targets`` expects."""
        raise NotImplementedError

    def output(self, z: np.ndarray) -> np.ndarray:
        """Predictions for logits ``z`` of shape (n, outputs)."""
        raise NotImplementedError

    def point_losses(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Loss of each point, shape (n,)."""
        raise NotImplementedError

    def delta(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dL_i/dz for each point's own loss L_i, shape (n, outputs)."""
        raise NotImplementedError

    # The training loop works on points as columns: logits of shape
    # (outputs, n) and a target prepared once per data set (``prepare``).
    # Its ops may compute dL/dz up to a constant factor, ``delta_factor``,
    # which the caller folds into the step size.
    delta_factor = 1.0

    def prepare(self, y: np.ndarray, outputs: int) -> np.ndarray:
        """The target in the form ``delta_ops`` uses, shape (outputs, n)."""
        out = np.empty((outputs, len(y)))
        self.prepare_into(y, out)
        return out

    def prepare_into(self, y: np.ndarray, out: np.ndarray) -> None:
        """``prepare`` into an existing (outputs, n) array."""
        raise NotImplementedError

    def prepared_losses(self, z, target):
        """(n,) point losses from logits (outputs, n) and the prepared
        (outputs, n) target."""
        raise NotImplementedError

    def prepared_loss_sum(self, z, target, scratch):
        """The sum of ``prepared_losses``; ``scratch`` is a (2, n) array
        the head may use."""
        return float(self.prepared_losses(z, target).sum())

    def loss_sum_calls(self, z, target, scratch) -> list:
        """``prepared_loss_sum`` as calls bound to these arrays, to run in
        order whenever they hold new values: the last returns the sum."""
        return [partial(self.prepared_loss_sum, z, target, scratch)]

    def quick_loss_sum_calls(self, z, target) -> list | None:
        """Calls like ``loss_sum_calls`` by a shorter formula that may
        overflow where the sum does not, and whose rounding errors do not
        shrink with the losses: when the last call's result is not finite,
        or is near zero, run ``loss_sum_calls`` instead. None when the head
        has no shorter formula."""
        return None

    def delta_ops(self, z, target, out, losses, column, scratch):
        """Ops writing dL/dz / delta_factor for logits ``z`` (outputs, n)
        into ``out`` and each point's loss into ``losses`` (1, n), unless
        that is None. ``column`` (1, n) and ``scratch`` (outputs, n) are
        scratch."""
        raise NotImplementedError


class BinaryHead(Head):
    task = "binary"
    delta_factor = 0.5

    def check_outputs(self, outputs):
        if outputs != 1:
            raise ValueError(
                f"a binary task has 1 output unit, not {outputs}"
            )

    def check_labels(self, y, outputs):
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"labels must be a 1-D array, got shape {y.shape}")
        if y.dtype.kind in "iu":
            # Every label is 0 or 1 exactly when their bitwise or is: one
            # reduction, where .min() and .max() would take two and more.
            if y.size and not 0 <= np.bitwise_or.reduce(y) <= 1:
                bad = y[(y != 0) & (y != 1)][0].item()
                raise ValueError(
                    f"binary labels must be 0 or 1; found {bad!r}")
            return y  # integers index the sign table in prepare_into
        if y.dtype.kind != "b" and not ((y == 0) | (y == 1)).all():
            bad = y[(y != 0) & (y != 1)][0].item()
            raise ValueError(f"binary labels must be 0 or 1; found {bad!r}")
        return y.astype(np.float64)

    def output(self, z):
        return 0.5 + 0.5 * np.tanh(0.5 * z)

    def point_losses(self, z, y):
        # -[y log p + (1 - y) log(1 - p)] = log(1 + e^(t z)) with
        # t = 1 - 2 y. (As log(1 + e^z) - y z it would cancel for a
        # confident class 1, leaving rounding noise for its tiny loss.)
        return np.logaddexp(0.0, (1.0 - 2.0 * y) * z[:, 0])

    def delta(self, z, y):
        return self.output(z) - y[:, None]

    def prepare_into(self, y, out):
        # 2 (p - y) = tanh(z / 2) + (1 - 2 y): one tanh and one add.
        if y.dtype.kind in "iu":  # checked labels: 0 or 1
            _signs(out.dtype).take(y, out=out[0])
        else:
            np.add(y, y, out[0])
            np.subtract(constant(1.0, out), out, out)

    def prepared_losses(self, z, target):
        return np.logaddexp(0.0, target[0] * z[0])

    def prepared_loss_sum(self, z, target, scratch):
        return float(run_calls(self.loss_sum_calls(z, target, scratch)))

    def loss_sum_calls(self, z, target, scratch):
        # log(1 + e^x) with x = t z, as max(x, 0) + log1p(e^-|x|): what
        # np.logaddexp computes too, but one element at a time; this way
        # each step is a vectorized loop, three times as fast on 500
        # points and more.
        x, rest = scratch[0, :z.shape[1]], scratch[1, :z.shape[1]]
        return [
            partial(np.multiply, target[0], z[0], x),
            partial(np.absolute, x, rest),
            partial(np.negative, rest, rest),
            partial(np.exp, rest, rest),
            partial(np.log1p, rest, rest),
            partial(np.maximum, x, constant(0.0, x, True), out=x),
            partial(np.add, x, rest, x),
            partial(np.add.reduce, x),
        ]

    def quick_loss_sum_calls(self, z, target):
        # log(1 + e^x) = x / 2 + log 2 + log cosh(x / 2), and with x = t z
        # and t = +-1, cosh(x / 2) = cosh(z / 2): five calls against eight,
        # with one product giving all three sums. cosh overflows past
        # |z| = 1420. For a confidently right point the terms nearly
        # cancel, leaving a rounding error of a few units in the last
        # place of |z| / 2, which can exceed its loss: fine for a sum that
        # is not near zero in float64, too coarse in float32.
        if z.dtype != np.float64:
            return None
        n = z.shape[1]
        rows = np.empty((3, n))
        half_z, signed_z, ones = rows
        ones[:] = 1.0
        weights = np.repeat([1.0, 0.5, math.log(2.0)], n)
        return [
            partial(np.multiply, z[0], constant(0.5, half_z), half_z),
            partial(np.cosh, half_z, half_z),
            partial(np.log, half_z, half_z),
            partial(np.multiply, target[0], z[0], signed_z),
            partial(rows.reshape(-1).dot, weights),
        ]

    def delta_ops(self, z, target, out, losses, column, scratch):
        ops = [
            (np.multiply, (z, constant(0.5, z), out)),
            (np.tanh, (out, out)),
            (np.add, (out, target, out)),
        ]
        if losses is not None:
            # With t = 1 - 2y the loss is log(1 + e^(t z)).
            ops += [(np.multiply, (z, target, losses)),
                    (np.logaddexp, (constant(0.0, losses), losses, losses))]
        return ops


class MulticlassHead(Head):
    task = "multiclass"

    def check_outputs(self, outputs):
        if not 2 <= outputs <= MAX_CLASSES:
            raise ValueError(
                f"a multiclass task has 2 to {MAX_CLASSES} output units, "
                f"not {outputs}"
            )

    def check_labels(self, y, outputs):
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"labels must be a 1-D array, got shape {y.shape}")
        as_int = y.astype(np.int64, copy=False) if y.size else y
        if y.size and (
            not np.array_equal(as_int, y) or as_int.min() < 0
            or as_int.max() >= outputs
        ):
            raise ValueError(
                f"class labels must be integers 0 to {outputs - 1}; "
                f"found values from {y.min().item()!r} to {y.max().item()!r}"
            )
        return as_int.astype(np.int64)

    def output(self, z):
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        return e / e.sum(axis=1, keepdims=True)

    def point_losses(self, z, y):
        shifted = z - z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1))
        return log_norm - shifted[np.arange(len(y)), y]

    def delta(self, z, y):
        d = self.output(z)
        d[np.arange(len(y)), y] -= 1.0
        return d

    def prepare_into(self, y, out):
        out[...] = 0.0
        out[y, np.arange(len(y))] = 1.0

    def prepared_losses(self, z, target):
        shifted = z - z.max(axis=0)
        return np.log(np.exp(shifted).sum(axis=0)) - (shifted * target).sum(0)

    def delta_ops(self, z, target, out, losses, column, scratch):
        # delta = softmax(z) - onehot and loss = log(sum e^s) - s_label,
        # with s = z minus its column maximum.
        shift = [
            (np.maximum.reduce, (z, 0, None, column, True)),
            (np.subtract, (z, column, out)),
        ]
        label_score = [
            (np.multiply, (out, target, scratch)),
            (np.add.reduce, (scratch, 0, None, losses, True)),
        ]
        softmax = [
            (np.exp, (out, out)),
            (np.add.reduce, (out, 0, None, column, True)),
            (np.divide, (out, column, out)),
            (np.subtract, (out, target, out)),
        ]
        log_norm = [
            (np.log, (column, column)),
            (np.subtract, (column, losses, losses)),
        ]
        if losses is None:
            return shift + softmax
        return shift + label_score + softmax + log_norm


class RegressionHead(Head):
    task = "regression"

    def check_outputs(self, outputs):
        if outputs != 1:
            raise ValueError(
                f"a regression task has 1 output unit, not {outputs}"
            )

    def check_labels(self, y, outputs):
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"targets must be a 1-D array, got shape {y.shape}")
        if not np.issubdtype(y.dtype, np.number) or y.dtype == bool:
            raise ValueError(
                f"regression targets must be numbers, got dtype {y.dtype}"
            )
        y = y.astype(np.float64)
        if not np.isfinite(y).all():
            raise ValueError("regression targets contain NaN or infinity")
        return y

    def output(self, z):
        return z.copy()

    def point_losses(self, z, y):
        return 0.5 * (z[:, 0] - y) ** 2

    def delta(self, z, y):
        return z - y[:, None]

    def prepare_into(self, y, out):
        np.copyto(out[0], y)

    def prepared_losses(self, z, target):
        return 0.5 * (z[0] - target[0]) ** 2

    def delta_ops(self, z, target, out, losses, column, scratch):
        ops = [(np.subtract, (z, target, out))]
        if losses is not None:
            ops += [(np.multiply, (out, out, losses)),
                    (np.multiply, (losses, constant(0.5, losses), losses))]
        return ops


HEADS: dict[str, Head] = {
    head.task: head
    for head in (BinaryHead(), MulticlassHead(), RegressionHead())
}


def get_head(task: str) -> Head:
    key = str(task).strip().lower()
    key = {"classes": "multiclass", "classification": "binary"}.get(key, key)
    try:
        return HEADS[key]
    except KeyError:
        raise ValueError(
            f"unknown task {task!r}; expected one of: {', '.join(TASKS)}"
        ) from None
