"""Where a hidden layer puts the plane.

Each hidden layer maps every point of the input plane to a point of its
own space, one axis per unit. The output layer then only has to draw a
straight boundary (a hyperplane) in the last hidden layer's space: a
network that has learned the spiral has bent and stretched the plane
until the two arms come apart along a line. Showing that space, with the
data and the plane's grid lines carried along, shows the bending.

A layer of more than two units has more axes than a picture. The view
takes two of them: two units chosen by the user, or the two directions
along which the training points' activations spread the most (principal
components; the share of the spread they hold is reported, so a view
that hides most of the picture says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .features import FeatureMap
from .network import forward_layers

GRID_LINES = 13  # lines each way across the plane
LINE_SAMPLES = 97  # points along each line


@dataclass(frozen=True)
class HiddenView:
    """Two coordinates of one hidden layer's space for the data and the
    plane's grid lines.

    Attributes
    ----------
    layer : the hidden layer, counted from 1.
    units : (i, j) the units on the axes, or None for principal directions.
    train, test : (n, 2) coordinates of the points.
    lines : (lines, samples, 2) the plane's grid lines, carried along.
    directions : (units, 2) the projection used; None for two units.
    center : (units,) what the projection subtracts first; None for units.
    explained : (2,) share of the training points' spread along each axis
        (principal directions; for two units, their share of the total).
    """

    layer: int
    units: tuple[int, int] | None
    train: np.ndarray
    test: np.ndarray
    lines: np.ndarray
    directions: np.ndarray | None
    center: np.ndarray | None
    explained: np.ndarray


def plane_lines(domain: float, count: int = GRID_LINES,
                samples: int = LINE_SAMPLES) -> np.ndarray:
    """(2 * count, samples, 2): lines of constant x1, then of constant
    x2, evenly across [-domain, domain]^2."""
    if not (np.isfinite(domain) and domain > 0):
        raise ValueError(f"domain must be a positive number, got {domain!r}")
    across = np.linspace(-domain, domain, count)
    along = np.linspace(-domain, domain, samples)
    lines = np.empty((2 * count, samples, 2))
    lines[:count, :, 0] = across[:, None]
    lines[:count, :, 1] = along[None, :]
    lines[count:, :, 0] = along[None, :]
    lines[count:, :, 1] = across[:, None]
    return lines


def principal_directions(activations: np.ndarray,
                         previous: np.ndarray | None = None):
    """The two directions along which the rows of ``activations`` (n,
    units) spread the most: (directions (units, 2), center (units,),
    explained (2,)).

    A direction's sign is arbitrary. It is chosen to agree with
    ``previous`` (the directions of the frame before), so the picture does
    not flip while training runs; without one, each direction's largest
    component is positive. A layer of one unit gets a second direction of
    zeros.
    """
    activations = np.asarray(activations, dtype=np.float64)
    n, units = activations.shape
    center = activations.mean(axis=0) if n else np.zeros(units)
    directions = np.zeros((units, 2))
    explained = np.zeros(2)
    if n:
        _, spread, right = np.linalg.svd(activations - center,
                                         full_matrices=False)
        kept = min(2, len(spread))
        directions[:, :kept] = right[:kept].T
        total = float(np.sum(spread ** 2))
        if total > 0:
            explained[:kept] = spread[:kept] ** 2 / total
    elif units:
        directions[0, 0] = 1.0
        if units > 1:
            directions[1, 1] = 1.0
    for k in range(2):
        column = directions[:, k]
        if previous is not None and previous.shape == directions.shape:
            flip = column @ previous[:, k] < 0
        else:
            flip = column[np.argmax(np.abs(column))] < 0
        if flip:
            directions[:, k] = -column
    return directions, center, explained


def hidden_view(params, activations, task: str, feature_names, layer: int,
                train_X, test_X, domain: float,
                units: tuple[int, int] | None = None,
                previous: np.ndarray | None = None) -> HiddenView:
    """Where hidden layer ``layer`` (from 1) puts the training points
    ``train_X``, the test points ``test_X`` (raw (x1, x2) rows) and the
    plane's grid lines.

    ``units``: the two units to show; None shows the principal directions
    of the training points' activations (of all points when there are no
    training points), with signs kept from ``previous``.
    """
    hidden = len(activations)
    if not hidden:
        raise ValueError("the network has no hidden layer")
    if not (isinstance(layer, (int, np.integer)) and 1 <= layer <= hidden):
        raise ValueError(f"layer must be 1 to {hidden}, got {layer!r}")
    width = np.shape(params[layer - 1][1])[0]
    if units is not None:
        i, j = units
        if not all(isinstance(u, (int, np.integer)) and 0 <= u < width
                   for u in (i, j)) or i == j:
            raise ValueError(
                f"units must be two different units of 0 to {width - 1}, "
                f"got {units!r}")
    features = FeatureMap(tuple(feature_names))
    train_X = np.asarray(train_X, dtype=np.float64).reshape(-1, 2)
    test_X = np.asarray(test_X, dtype=np.float64).reshape(-1, 2)
    lines = plane_lines(domain)
    inputs = np.concatenate([train_X, test_X, lines.reshape(-1, 2)])
    hidden_out = forward_layers(params[:layer], activations[:layer], task,
                                features.transform(inputs))[-1]
    n_train, n_test = len(train_X), len(test_X)
    # The spread that sets the axes (and the share reported): the
    # training points', or without any, all the points'.
    basis = hidden_out[:n_train] if n_train else hidden_out[:n_test]
    if units is not None:
        coordinates = hidden_out[:, list(units)]
        spread = basis.var(axis=0) if len(basis) else np.zeros(width)
        total = float(spread.sum())
        explained = (spread[list(units)] / total if total > 0
                     else np.zeros(2))
        directions = center = None
    else:
        directions, center, explained = principal_directions(basis,
                                                             previous)
        coordinates = (hidden_out - center) @ directions
    return HiddenView(
        layer=int(layer),
        units=None if units is None else (int(units[0]), int(units[1])),
        train=coordinates[:n_train],
        test=coordinates[n_train:n_train + n_test],
        lines=coordinates[n_train + n_test:].reshape(lines.shape),
        directions=directions,
        center=center,
        explained=explained,
    )
