"""Asking one training point what it wants the network to do.

Backpropagation is a sum of wishes: each point's loss gradient says which
way every weight should move for that point alone. This module computes,
from bare parameters (so the window can work on a snapshot), everything the
point inspector shows: the forward pass for the point, its gradient on
every weight and bias, where one step for it alone would move each
first-layer boundary, how far that step's effect reaches over the plane
(the wish field), and how much the points of the training set agree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .activations import get_activation
from .features import FeatureMap
from .heads import get_head
from .network import forward_layers

log = logging.getLogger(__name__)

_NEWTON_STEPS = 8
_PLANE = 6.0


@dataclass(frozen=True, eq=False)
class PointWish:
    """One point's forward pass and its wish on every parameter.

    With L weight layers:

    Attributes
    ----------
    point : (2,) raw coordinates; features : (inputs,) its input features.
    label : its class (int) or target value (float).
    pre_activations, activations : L arrays (units,) for this point; the
        last activation is the head's prediction.
    deltas : L arrays (units,), dL/dz of this point's loss.
    grads : L pairs (grad_W (fan_in, fan_out), grad_b (fan_out,)).
    loss : this point's data loss.
    confidence : the probability the model gives the point's own class
        (classification), or the predicted value (regression).
    helps : (units,) bool per first-layer unit: True when that unit's
        current output lowers this point's loss (it "classifies the point
        correctly"), False when it raises it.
    """

    point: np.ndarray
    features: np.ndarray
    label: float
    pre_activations: tuple
    activations: tuple
    deltas: tuple
    grads: tuple
    loss: float
    confidence: float
    helps: np.ndarray

    def step(self, params, lr):
        """The parameters after one plain gradient step for this point
        alone: theta - lr * grad."""
        return [(w - lr * gw, b - lr * gb)
                for (w, b), (gw, gb) in zip(params, self.grads)]


def point_wish(params, activations, task, feature_names, point,
               label) -> PointWish:
    """Forward and backward pass for one raw point (x1, x2)."""
    point = np.asarray(point, dtype=np.float64).reshape(2)
    f, y, zs, outs, deltas, back = _backprop(
        params, activations, task, feature_names, point[None, :], [label])
    head = get_head(task)
    grads = []
    for layer, delta in enumerate(deltas):
        below = f if layer == 0 else outs[layer - 1]
        grads.append((below.T @ delta, delta[0].copy()))

    loss = float(head.point_losses(zs[-1], y)[0])
    prediction = outs[-1][0]
    if task == "multiclass":
        confidence = float(prediction[int(y[0])])
    elif task == "binary":
        confidence = float(prediction[0] if y[0] == 1 else 1 - prediction[0])
    else:
        confidence = float(prediction[0])
    if len(params) > 1:
        # A unit helps when pushing its output further the way it already
        # points would lower the loss: a * (-dL/da) > 0.
        helps = (outs[0][0] * -back[0][0]) > 0
    else:
        # A perceptron: its single unit is the output.
        helps = np.array([confidence > 0.5 if task != "regression"
                          else loss < 0.5 * float(y[0]) ** 2 + 1e-12])
    return PointWish(
        point=point, features=f[0], label=float(y[0]),
        pre_activations=tuple(z[0] for z in zs),
        activations=tuple(o[0] for o in outs),
        deltas=tuple(d[0] for d in deltas),
        grads=tuple(grads), loss=loss, confidence=confidence, helps=helps,
    )


def per_point_grads(params, activations, task, feature_names, points,
                    labels) -> list:
    """Each point's own loss gradient, from bare parameters.

    Returns
    -------
    Per layer (grad_W (n, fan_in, fan_out), grad_b (n, fan_out)).
    """
    f, _, _, outs, deltas, _ = _backprop(params, activations, task,
                                         feature_names, points, labels)
    return [
        ((f if layer == 0 else outs[layer - 1])[:, :, None]
         * delta[:, None, :], delta)
        for layer, delta in enumerate(deltas)
    ]


def _backprop(params, activations, task, feature_names, points, labels):
    """Forward and backward pass over raw ``points`` (n, 2), kept whole.

    Returns
    -------
    features (n, inputs), checked labels (n,), and per layer: the
    pre-activations, the outputs (the last is the head's prediction), the
    deltas dL_i/dz of each point's own loss, and for the hidden layers
    dL_i/da (None for the output layer).
    """
    head = get_head(task)
    acts = [get_activation(a) for a in activations]
    f = FeatureMap(feature_names).transform(points)
    y = head.check_labels(np.asarray(labels), params[-1][0].shape[1])
    zs, outs = [], []
    a = f
    for layer, (weight, bias) in enumerate(params):
        z = a @ weight + bias
        a = acts[layer].value(z) if layer < len(acts) else head.output(z)
        zs.append(z)
        outs.append(a)
    deltas = [None] * len(params)
    deltas[-1] = head.delta(zs[-1], y)
    back = [None] * len(params)
    for layer in range(len(params) - 1, 0, -1):
        back[layer - 1] = deltas[layer] @ params[layer][0].T
        deltas[layer - 1] = back[layer - 1] * acts[layer - 1].slope(
            zs[layer - 1], outs[layer - 1])
    return f, y, zs, outs, deltas, back


def output_change(params, activations, task, feature_names, direction,
                  points, column=0) -> np.ndarray:
    """First-order change of the model's output at ``points`` (m, 2) when
    the parameters move by ``direction`` (same layout as ``params``).

    This is the directional derivative of the output (forward mode, exact
    for the linearised network): what a small step does everywhere. For a
    multiclass task it is the change of class ``column``'s probability.
    """
    head = get_head(task)
    acts = [get_activation(a) for a in activations]
    a = FeatureMap(feature_names).transform(points)
    da = np.zeros_like(a)
    for layer, ((weight, bias), (dw, db)) in enumerate(zip(params,
                                                          direction)):
        z = a @ weight + bias
        dz = da @ weight + a @ dw + db
        if layer < len(acts):
            a_next = acts[layer].value(z)
            da = acts[layer].slope(z, a_next) * dz
            a = a_next
        else:
            p = head.output(z)
            if task == "binary":
                return (p * (1.0 - p) * dz)[:, 0]
            if task == "multiclass":
                dp = p * (dz - (p * dz).sum(axis=1, keepdims=True))
                return dp[:, column]
            return dz[:, 0]
    raise ValueError("a network has at least one layer")


def boundary_moves(params, feature_names, wish: PointWish, lr):
    """Where one step for the point moves each first-layer boundary.

    For each first-layer unit, a point of its boundary (z = 0) near the
    inspected point (Newton projections from the point: one is exact for a
    straight line, a few follow a curve) and how far, along the boundary's
    normal, the step moves the boundary there.

    Returns
    -------
    feet : (units, 2) points on the boundaries; NaN for a unit whose
        boundary does not come near (within the plane).
    shifts : (units, 2) displacement of the boundary at each foot.
    towards : (units,) bool, True where the boundary moves towards the
        point.
    """
    features = FeatureMap(feature_names)
    weight, bias = params[0]
    grad_w, grad_b = wish.grads[0]
    x = wish.point[None, :]
    units = weight.shape[1]
    feet = np.repeat(x, units, axis=0)
    for _ in range(_NEWTON_STEPS):
        z = np.einsum("uf,fu->u", features.transform(feet), weight) + bias
        normal = np.einsum("ufd,fu->ud", _feature_jacobians(features, feet),
                           weight)
        norm2 = np.maximum((normal ** 2).sum(axis=1), 1e-12)
        feet = np.clip(feet - (z / norm2)[:, None] * normal,
                       -2 * _PLANE, 2 * _PLANE)
    z = np.einsum("uf,fu->u", features.transform(feet), weight) + bias
    lost = np.abs(z) > 1e-6 * (1.0 + np.abs(weight).sum(axis=0))
    feet[lost] = np.nan

    # After the step, z changes at the foot by dz; the boundary there
    # moves by -dz / |grad z| along grad z / |grad z|.
    foot_features = features.transform(feet)
    dz = -lr * (np.einsum("uf,fu->u", foot_features, grad_w) + grad_b)
    foot_normal = np.einsum("ufd,fu->ud", _feature_jacobians(features, feet),
                            weight)
    foot_norm2 = np.maximum((foot_normal ** 2).sum(axis=1), 1e-12)
    shifts = -(dz / foot_norm2)[:, None] * foot_normal
    towards = (shifts * (x - feet)).sum(axis=1) > 0
    return feet, shifts, towards


def _feature_jacobians(features: FeatureMap, points) -> np.ndarray:
    """(m, features, 2): d feature / d (x1, x2) at each point."""
    x1, x2 = points[:, 0], points[:, 1]
    zero, one = np.zeros_like(x1), np.ones_like(x1)
    rows = {
        "x1": (one, zero), "x2": (zero, one),
        "x1^2": (2 * x1, zero), "x2^2": (zero, 2 * x2),
        "x1*x2": (x2, x1),
        "sin(x1)": (np.cos(x1), zero), "sin(x2)": (zero, np.cos(x2)),
    }
    return np.stack([np.column_stack(rows[name]) for name in features.names],
                    axis=1)


def agreement(per_point_grads) -> list:
    """How much the points agree on each parameter's direction.

    Parameters
    ----------
    per_point_grads : per layer (grad_W (n, fan_in, fan_out),
        grad_b (n, fan_out)), each point's own gradient.

    Returns
    -------
    Per layer (agreement_W (fan_in, fan_out), agreement_b (fan_out,)):
    |sum of the points' gradients| / sum of their sizes, 1 when all pull
    the same way, near 0 when they cancel out. 1 where all are zero.
    """
    result = []
    for gw, gb in per_point_grads:
        pair = []
        for g in (gw, gb):
            total = np.abs(g.sum(axis=0))
            size = np.abs(g).sum(axis=0)
            pair.append(np.where(size > 0, total / np.maximum(size, 1e-300),
                                 1.0))
        result.append(tuple(pair))
    return result


def dissent(per_point_grads) -> np.ndarray:
    """(n,) how much each point's wish runs against all the others': the
    cosine between its gradient and the sum of the rest, from -1 (exactly
    against) to 1. Mislabelled points tend to come out lowest."""
    flat = np.concatenate(
        [g.reshape(len(g), -1) for pair in per_point_grads for g in pair],
        axis=1)
    rest = flat.sum(axis=0)[None, :] - flat
    dot = (flat * rest).sum(axis=1)
    norms = np.linalg.norm(flat, axis=1) * np.linalg.norm(rest, axis=1)
    return np.where(norms > 0, dot / np.maximum(norms, 1e-300), 0.0)


def numeric_gradient(params, activations, task, feature_names, point, label,
                     layer, i, j=None, h=1e-6) -> float:
    """Central finite-difference estimate of dL/dW[layer][i, j] (or of
    dL/db[layer][i] when ``j`` is None) for one point: the gradient check
    shown beside the analytic value."""
    def loss_with(delta):
        shifted = [(w.copy(), b.copy()) for w, b in params]
        if j is None:
            shifted[layer][1][i] += delta
        else:
            shifted[layer][0][i, j] += delta
        return point_wish(shifted, activations, task, feature_names, point,
                          label).loss

    return (loss_with(h) - loss_with(-h)) / (2 * h)


def predictions(params, activations, task, feature_names, points):
    """The model's output at raw ``points``, as ``MLP.predict`` gives it."""
    X = FeatureMap(feature_names).transform(points)
    out = forward_layers(params, activations, task, X)[-1]
    return out if task == "multiclass" else out[:, 0]
