"""The loss landscape: two-dimensional slices of the training loss.

Gradient descent walks down a surface E(theta) over every weight and bias
at once. A slice shows it along two directions d1, d2 through a centre
c: the loss at c + alpha d1 + beta d2 over a grid of (alpha, beta), with
the optimizer's path projected onto the same plane.

Three kinds of directions, after Li et al. 2018, "Visualizing the Loss
Landscape of Neural Nets":

* ``random_directions``: Gaussian, then filter-normalised: rescaled per
  neuron to the size of that neuron's own parameters, so that a step of 1
  changes every neuron by about as much as it already holds;
* ``pca_directions``: the two principal directions of the trajectory, so
  that the plane holds as much of the path as any plane can;
* ``weight_directions``: two single parameters, the plane a person can
  read off the diagram.

Flat parameter vectors use the layout of ``MLP.flat_params``: layer after
layer, a block (fan_out, fan_in + 1) raveled row by row, whose row k holds
unit k's incoming weights and then its bias. A row is one neuron, which is
what filter normalisation needs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from .activations import get_activation
from .heads import get_head

log = logging.getLogger(__name__)

# Grid points whose forward pass runs as one batch hold about this many
# values per layer (points x units x grid points): 8 MB arrays. Smaller
# batches are no faster alone, and in a thread beside the trainer they
# are slower for both: every numpy call hands Python's interpreter lock
# back and forth, and fewer, larger calls mean fewer handovers.
_CHUNK_VALUES = 1_000_000


class SliceCancelledError(Exception):
    """``loss_slice`` stopped early because its ``cancelled`` callback
    said so."""


# ----------------------------------------------------------------------
# Layout


def param_blocks(sizes: Sequence[int]) -> list[tuple[int, int, int, int]]:
    """Where each layer lives in a flat parameter vector.

    Returns
    -------
    Per weight layer (start, stop, fan_in, fan_out): the layer's block is
    ``theta[start:stop].reshape(fan_out, fan_in + 1)``.
    """
    sizes = [int(k) for k in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"layer sizes must be 2 or more positive counts, "
                         f"got {tuple(sizes)}")
    blocks, start = [], 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        stop = start + fan_out * (fan_in + 1)
        blocks.append((start, stop, fan_in, fan_out))
        start = stop
    return blocks


def flatten_params(params) -> np.ndarray:
    """One flat float64 vector from per-layer (W (fan_in, fan_out),
    b (fan_out,)) pairs, in the layout of ``MLP.flat_params``."""
    pieces = []
    for layer, pair in enumerate(params):
        try:
            weights, bias = (np.asarray(part, dtype=np.float64)
                             for part in pair)
        except (TypeError, ValueError):
            raise ValueError(f"layer {layer}: expected a (W, b) pair") from None
        if weights.ndim != 2 or bias.shape != (weights.shape[1],):
            raise ValueError(
                f"layer {layer}: W (fan_in, fan_out) and b (fan_out,) "
                f"expected, got {weights.shape} and {bias.shape}")
        pieces.append(np.column_stack([weights.T, bias]).ravel())
    if not pieces:
        raise ValueError("no layers given")
    return np.concatenate(pieces)


def unflatten_params(theta, sizes: Sequence[int]) -> list:
    """Per-layer (W (fan_in, fan_out), b (fan_out,)) views of a flat
    vector, the inverse of ``flatten_params``."""
    theta = np.asarray(theta)
    blocks = param_blocks(sizes)
    if theta.shape != (blocks[-1][1],):
        raise ValueError(f"expected {blocks[-1][1]} parameters, got shape "
                         f"{theta.shape}")
    layers = []
    for start, stop, fan_in, fan_out in blocks:
        block = theta[start:stop].reshape(fan_out, fan_in + 1)
        layers.append((block[:, :-1].T, block[:, -1]))
    return layers


def params_sizes(params) -> tuple[int, ...]:
    """Layer sizes (inputs, hidden..., outputs) of (W, b) pairs."""
    shapes = [np.shape(weights) for weights, _ in params]
    if not shapes:
        raise ValueError("no layers given")
    return (shapes[0][0], *(shape[1] for shape in shapes))


def weight_index(sizes: Sequence[int], layer: int, i: int, j: int) -> int:
    """Flat index of weight ``params[layer][0][i, j]``: from unit i of
    layer ``layer`` (0 = the inputs) to unit j of the next."""
    start, _, fan_in, fan_out = _block(sizes, layer)
    if not (0 <= i < fan_in and 0 <= j < fan_out):
        raise ValueError(f"layer {layer} has weights (0..{fan_in - 1}, "
                         f"0..{fan_out - 1}), not ({i}, {j})")
    return start + j * (fan_in + 1) + i


def bias_index(sizes: Sequence[int], layer: int, unit: int) -> int:
    """Flat index of bias ``params[layer][1][unit]``."""
    start, _, fan_in, fan_out = _block(sizes, layer)
    if not 0 <= unit < fan_out:
        raise ValueError(f"layer {layer} has {fan_out} biases, not {unit}")
    return start + unit * (fan_in + 1) + fan_in


def describe_param(sizes: Sequence[int], index: int) -> str:
    """A parameter's name as the diagram writes it, counted from 1:
    ``w[1](2→5)`` for a weight, ``b[2](3)`` for a bias."""
    for layer, (start, stop, fan_in, _) in enumerate(param_blocks(sizes)):
        if start <= index < stop:
            unit, column = divmod(index - start, fan_in + 1)
            if column == fan_in:
                return f"b[{layer + 1}]({unit + 1})"
            return f"w[{layer + 1}]({column + 1}→{unit + 1})"
    raise ValueError(f"no parameter {index} in a network of sizes "
                     f"{tuple(sizes)}")


def _block(sizes, layer):
    blocks = param_blocks(sizes)
    if not 0 <= layer < len(blocks):
        raise ValueError(f"layer must be 0 to {len(blocks) - 1}, got {layer}")
    return blocks[layer]


# ----------------------------------------------------------------------
# Directions


def random_directions(params, seed: int = 0,
                      include_bias: bool = True
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian directions, filter-normalised per neuron.

    For every neuron, the part of each direction that belongs to it (its
    incoming weights and, with ``include_bias``, its bias) is rescaled to
    the norm of the same part of ``params``. A step of alpha = 1 then
    changes each neuron by as much as it holds, however large or small
    its weights, which makes slices of different networks comparable.

    The bias is part of its neuron by default. Li et al. zero the bias
    part of their directions in most of their plots, but their networks
    are deep convolutional nets whose biases barely matter; here a unit
    of a 2-input layer has three parameters, one of them the bias that
    places its line in the plane, and a slice blind to biases misses a
    third of the landscape.

    Parameters
    ----------
    params : per layer (W (fan_in, fan_out), b (fan_out,)), the point the
        directions are scaled to (the slice's centre).
    seed : seed of the random draw. The same seed gives the same raw
        directions for any weights of the same architecture, so a slice
        that follows training keeps its orientation.
    include_bias : False to zero the bias entries, as Li et al. do, and
        scale to the norm of the incoming weights only.

    Returns
    -------
    d1, d2 : (n_params,) flat vectors in the ``MLP.flat_params`` layout.
        A neuron whose parameters are all zero gets a zero direction.
    """
    theta = flatten_params(params)
    if not np.isfinite(theta).all():
        raise ValueError("the weights contain NaN or infinity")
    blocks = param_blocks(params_sizes(params))
    rng = np.random.default_rng(seed)
    directions = []
    for _ in range(2):
        direction = rng.standard_normal(len(theta))
        for start, stop, fan_in, fan_out in blocks:
            rows = direction[start:stop].reshape(fan_out, fan_in + 1)
            own = theta[start:stop].reshape(fan_out, fan_in + 1)
            if not include_bias:
                rows[:, -1] = 0.0
                own = own[:, :-1]
            target = np.linalg.norm(own, axis=1)
            norm = np.linalg.norm(rows, axis=1)
            rows *= (target / norm)[:, None]  # a Gaussian row is never 0
        directions.append(direction)
    return directions[0], directions[1]


def pca_directions(trajectory) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two principal directions of a path through weight space.

    As Li et al. do, the path is taken relative to its last point and the
    directions are the top two principal components (of the centred
    points, as PCA is); its last point is then the natural centre of the
    slice.

    Parameters
    ----------
    trajectory : (m, n_params) flat parameter vectors in the order
        training visited them, m >= 3.

    Returns
    -------
    d1, d2 : (n_params,) orthonormal vectors, d1 the direction along which
        the path varies most. Their signs are chosen so that the path's
        first point lies at negative alpha and beta.
    explained : (2,) fraction of the path's variance along d1 and d2,
        in decreasing order.
    """
    path = _check_trajectory(trajectory)
    if len(path) < 3:
        raise ValueError(
            f"principal directions need a path of at least 3 recorded "
            f"points, got {len(path)}: train a little longer")
    offsets = path - path[-1]
    centred = offsets - offsets.mean(axis=0)
    _, singular, rows = np.linalg.svd(centred, full_matrices=False)
    if len(rows) < 2:
        raise ValueError("a plane needs at least 2 parameters")
    variance = singular**2
    total = variance.sum()
    if total == 0.0:
        raise ValueError("the path does not move: all its points are equal")
    d1, d2 = rows[0].copy(), rows[1].copy()
    # An SVD's signs are arbitrary; fix them so the picture does not flip
    # from one update of the path to the next.
    for direction in (d1, d2):
        if direction @ offsets[0] > 0:
            direction *= -1.0
    return d1, d2, variance[:2] / total


def weight_directions(n_params: int, index1: int,
                      index2: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors along two single parameters.

    Parameters
    ----------
    n_params : length of the flat parameter vector.
    index1, index2 : different flat indices (see ``weight_index`` and
        ``bias_index``).

    Returns
    -------
    d1, d2 : (n_params,) vectors, 1 at their index and 0 elsewhere; alpha
        and beta are then the change of those two parameters.
    """
    n_params = _count("n_params", n_params, 2)
    for index in (index1, index2):
        if not (isinstance(index, (int, np.integer))
                and 0 <= index < n_params):
            raise ValueError(f"a parameter index must be 0 to "
                             f"{n_params - 1}, got {index!r}")
    if index1 == index2:
        raise ValueError(f"choose two different parameters, not {index1} twice")
    d1, d2 = np.zeros(n_params), np.zeros(n_params)
    d1[index1] = d2[index2] = 1.0
    return d1, d2


# ----------------------------------------------------------------------
# The slice and the path on it


def slice_axis(span: float, resolution: int) -> np.ndarray:
    """(resolution,) offsets from -span to span, symmetric to the last
    bit; with an odd resolution the middle one is exactly 0, so the grid
    holds the centre itself."""
    span = float(span)
    if not (np.isfinite(span) and span > 0):
        raise ValueError(f"span must be a positive number, got {span!r}")
    resolution = _count("resolution", resolution, 2)
    half = (resolution - 1) / 2
    return span * ((np.arange(resolution) - half) / half)


def loss_slice(net, X, y, center, d1, d2, span: float = 1.0,
               resolution: int = 51, *,
               cancelled: Callable[[], bool] | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean data loss over a plane through weight space.

    Every grid point is a whole network, center + alpha d1 + beta d2; the
    forward passes of many of them run as one batch (weights stacked on a
    leading axis), in float64.

    Parameters
    ----------
    net : anything with ``sizes``, ``activations`` (one name or Activation
        per hidden layer) and ``task``: an MLP or a training Snapshot.
    X : (n, inputs) input features, as the network sees them.
    y : (n,) labels or targets.
    center, d1, d2 : (n_params,) flat vectors (``MLP.flat_params`` layout).
    span : the grid covers alpha, beta in [-span, span].
    resolution : grid points along each axis; odd puts the centre on the
        middle point.
    cancelled : called between batches; when it returns True the slice
        is abandoned with ``SliceCancelledError``.

    Returns
    -------
    alphas : (resolution,) offsets along d1.
    betas : (resolution,) offsets along d2.
    losses : (resolution, resolution); ``losses[i, j]`` is the loss at
        alpha = alphas[j], beta = betas[i] (rows are beta, as in an image).
        Weights so large that the network overflows give inf or NaN there,
        without a warning. No regularization penalty is included.
    """
    sizes = tuple(int(k) for k in net.sizes)
    blocks = param_blocks(sizes)
    acts = [get_activation(a) for a in net.activations]
    if len(acts) != len(blocks) - 1:
        raise ValueError(f"{len(acts)} activations for "
                         f"{len(blocks) - 1} hidden layers")
    head = get_head(net.task)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != sizes[0]:
        raise ValueError(f"X must have shape (n, {sizes[0]}), got {X.shape}")
    if len(X) == 0:
        raise ValueError("there are no points to compute the loss on")
    if not np.isfinite(X).all():
        raise ValueError("input X contains NaN or infinity")
    y = head.check_labels(y, sizes[-1])
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    n_params = blocks[-1][1]
    center, d1, d2 = (_check_vector(name, v, n_params) for name, v in
                      (("center", center), ("d1", d1), ("d2", d2)))
    axis = slice_axis(span, resolution)

    alpha, beta = (grid.ravel() for grid in np.meshgrid(axis, axis))
    widest = max(sizes[1:])
    chunk = max(1, min(len(alpha), _CHUNK_VALUES // (len(X) * widest)))
    labels = np.tile(y, chunk)
    losses = np.empty(len(alpha))
    with np.errstate(all="ignore"):
        first = _first_layer(X, blocks[0], center, d1, d2)
        for begin in range(0, len(alpha), chunk):
            if cancelled is not None and cancelled():
                raise SliceCancelledError
            end = min(begin + chunk, len(alpha))
            logits = _forward(first, blocks, acts, center, d1, d2,
                              alpha[begin:end], beta[begin:end])
            count, n = logits.shape[:2]
            point = head.point_losses(logits.reshape(count * n, -1),
                                      labels[: count * n])
            losses[begin:end] = point.reshape(count, n).mean(axis=1)
    return axis, axis.copy(), losses.reshape(len(axis), len(axis))


def _first_layer(X, block, center, d1, d2):
    """The first layer's pre-activations at center, d1 and d2, each
    (n, fan_out): linear in the weights, so any grid point's are a sum
    of these three and need no matrix product of their own."""
    start, stop, fan_in, fan_out = block
    inputs = np.column_stack([X, np.ones(len(X))])
    return [inputs @ v[start:stop].reshape(fan_out, fan_in + 1).T
            for v in (center, d1, d2)]


def _forward(first, blocks, acts, center, d1, d2, alpha, beta):
    """(g, n, outputs) logits of the g networks center + alpha d1 +
    beta d2, for (g,) alpha and beta."""
    a, b = alpha[:, None, None], beta[:, None, None]
    at_center, along_1, along_2 = first
    z = a * along_1
    z += b * along_2
    z += at_center
    for (start, stop, fan_in, fan_out), act in zip(blocks[1:], acts):
        hidden = act.value(z)
        shape = (fan_out, fan_in + 1)
        aug = (center[start:stop].reshape(shape)
               + a * d1[start:stop].reshape(shape)
               + b * d2[start:stop].reshape(shape))  # (g, fan_out, fan_in + 1)
        weights = np.ascontiguousarray(aug[:, :, :-1].transpose(0, 2, 1))
        z = np.matmul(hidden, weights)
        z += aug[:, None, :, -1]
    return z


def project_path(trajectory, center, d1, d2) -> np.ndarray:
    """Coordinates of a path in the plane center + alpha d1 + beta d2.

    Each point is projected orthogonally onto the plane (least squares:
    d1 and d2 need not be orthogonal or of unit length). Points off the
    plane land on their nearest point of it; the loss drawn beneath them
    is that of the nearest point, not theirs.

    Parameters
    ----------
    trajectory : (m, n_params) flat parameter vectors.
    center, d1, d2 : (n_params,) flat vectors; d1 and d2 independent.

    Returns
    -------
    (m, 2) array of (alpha, beta); a point equal to ``center`` gives
    exactly (0, 0).
    """
    path = _check_trajectory(trajectory, finite=False)
    n_params = path.shape[1]
    center, d1, d2 = (_check_vector(name, v, n_params) for name, v in
                      (("center", center), ("d1", d1), ("d2", d2)))
    basis = np.column_stack([d1, d2])
    if not np.isfinite(basis).all() or np.linalg.matrix_rank(basis) < 2:
        raise ValueError("the two directions must be finite and independent "
                         "(neither zero nor parallel)")
    # The pseudo-inverse comes from the directions alone, so a diverged
    # point (inf, NaN) spoils only its own coordinates, and a point at
    # the centre maps to exactly zero.
    with np.errstate(all="ignore"):
        return (path - center) @ np.linalg.pinv(basis).T


# ----------------------------------------------------------------------
# Checks


def _check_trajectory(trajectory, finite=True):
    path = np.asarray(trajectory, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] < 1:
        raise ValueError(f"a trajectory must be an (m, n_params) array, "
                         f"got shape {path.shape}")
    if finite and not np.isfinite(path).all():
        raise ValueError("the trajectory contains NaN or infinity")
    return path


def _check_vector(name, vector, n_params):
    vector = np.asarray(vector, dtype=np.float64)
    if vector.shape != (n_params,):
        raise ValueError(f"{name} must have shape ({n_params},), "
                         f"got {vector.shape}")
    return vector


def _count(what, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    if value < low:
        raise ValueError(f"{what} must be at least {low}, got {value}")
    return int(value)
