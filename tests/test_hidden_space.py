"""Where a hidden layer puts the plane: the data and the grid lines."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlp_studio.core import MLP, FeatureMap, make_dataset
from mlp_studio.core.hidden_space import (
    GRID_LINES,
    LINE_SAMPLES,
    hidden_view,
    plane_lines,
    principal_directions,
)

FEATURES = ("x1", "x2", "x1*x2")
ACTS = ["tanh", "relu", "sigmoid"]


@pytest.fixture(scope="module")
def net():
    model = MLP(3, [5, 2, 4], 1, ACTS, "binary", seed=3)
    rng = np.random.default_rng(1)
    model.set_flat_params(model.flat_params()
                          + rng.normal(0, 0.4, model.n_params))
    return model


@pytest.fixture(scope="module")
def data():
    return make_dataset("spiral", n=120, noise=0.1, seed=0).split(0.5, 0)


def by_hand(model, X, layer):
    """Hidden layer ``layer``'s outputs, one product at a time."""
    a = FeatureMap(FEATURES).transform(X)
    funcs = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0),
             "sigmoid": lambda z: 1 / (1 + np.exp(-z))}
    for (weight, bias), name in zip(model.params()[:layer], ACTS):
        a = funcs[name](a @ weight + bias)
    return a


def view(model, data, layer, **options):
    train, test = data
    return hidden_view(model.params(), ACTS, "binary", FEATURES, layer,
                       train.X, test.X, 6.0, **options)


def test_the_grid_lines_cross_the_plane_evenly():
    lines = plane_lines(6.0)
    assert lines.shape == (2 * GRID_LINES, LINE_SAMPLES, 2)
    across = np.linspace(-6, 6, GRID_LINES)
    np.testing.assert_array_equal(lines[:GRID_LINES, :, 0],
                                  np.repeat(across[:, None], LINE_SAMPLES, 1))
    np.testing.assert_array_equal(lines[GRID_LINES:, :, 1],
                                  np.repeat(across[:, None], LINE_SAMPLES, 1))
    assert lines[0, 0, 1] == -6.0 and lines[0, -1, 1] == 6.0
    with pytest.raises(ValueError, match="domain"):
        plane_lines(float("nan"))


@pytest.mark.parametrize("layer", [1, 2, 3])
def test_two_units_are_that_layers_outputs(net, data, layer):
    units = (0, 1)
    shown = view(net, data, layer, units=units)
    train, test = data
    np.testing.assert_allclose(shown.train,
                               by_hand(net, train.X, layer)[:, units],
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(shown.test,
                               by_hand(net, test.X, layer)[:, units],
                               rtol=1e-12, atol=1e-12)
    lines = plane_lines(6.0)
    carried = by_hand(net, lines.reshape(-1, 2), layer)[:, units]
    np.testing.assert_allclose(shown.lines, carried.reshape(lines.shape),
                               rtol=1e-12, atol=1e-12)
    spread = by_hand(net, train.X, layer).var(axis=0)
    np.testing.assert_allclose(shown.explained,
                               spread[list(units)] / spread.sum())


def test_principal_directions_spread_the_training_points_most(net, data):
    shown = view(net, data, 1)  # five units
    hidden = by_hand(net, data[0].X, 1)
    coordinates = shown.train
    np.testing.assert_allclose(coordinates.mean(axis=0), 0, atol=1e-12)
    covariance = np.cov(coordinates.T, bias=True)
    assert abs(covariance[0, 1]) < 1e-12
    eigen = np.sort(np.linalg.eigvalsh(np.cov(hidden.T, bias=True)))[::-1]
    np.testing.assert_allclose(np.diag(covariance), eigen[:2], rtol=1e-9)
    np.testing.assert_allclose(shown.explained, eigen[:2] / eigen.sum(),
                               rtol=1e-9)
    # Test points and lines go through the same projection.
    np.testing.assert_allclose(
        shown.test,
        (by_hand(net, data[1].X, 1) - shown.center) @ shown.directions,
        atol=1e-12)


def test_a_two_unit_layer_keeps_its_shape_under_principal_directions(
        net, data):
    """Two units: the principal directions only turn and shift the
    picture, so every distance stays."""
    turned = view(net, data, 2)
    plain = view(net, data, 2, units=(0, 1))

    def distances(points):
        return np.hypot(*(points[:, None, :] - points[None, :, :]).T)

    np.testing.assert_allclose(distances(turned.train),
                               distances(plain.train), atol=1e-12)
    assert turned.explained.sum() == pytest.approx(1.0, abs=1e-12)


def test_the_picture_does_not_flip_between_frames(net, data):
    first = view(net, data, 3)
    for k in range(2):  # without a previous frame: largest part positive
        column = first.directions[:, k]
        assert column[np.argmax(np.abs(column))] > 0
    flipped = -first.directions
    second = view(net, data, 3, previous=flipped)
    np.testing.assert_allclose(second.directions, flipped, atol=1e-12)
    np.testing.assert_allclose(second.train, -first.train, atol=1e-12)


def test_without_training_points_the_test_points_set_the_axes(net, data):
    train, test = data
    shown = hidden_view(net.params(), ACTS, "binary", FEATURES, 1,
                        np.empty((0, 2)), test.X, 6.0)
    assert shown.train.shape == (0, 2) and shown.test.shape == (len(test), 2)
    np.testing.assert_allclose(shown.test.mean(axis=0), 0, atol=1e-12)
    nothing = hidden_view(net.params(), ACTS, "binary", FEATURES, 1,
                          np.empty((0, 2)), np.empty((0, 2)), 6.0)
    assert nothing.lines.shape == (2 * GRID_LINES, LINE_SAMPLES, 2)
    assert np.isfinite(nothing.lines).all()


@pytest.mark.parametrize("options, message", [
    ({"layer": 0}, "layer must be 1 to 3"),
    ({"layer": 4}, "layer must be 1 to 3"),
    ({"layer": 1.0}, "layer must be 1 to 3"),
    ({"layer": 2, "units": (0, 0)}, "two different units of 0 to 1"),
    ({"layer": 2, "units": (0, 2)}, "two different units of 0 to 1"),
    ({"layer": 1, "units": (-1, 2)}, "two different units of 0 to 4"),
])
def test_nonsense_is_refused_by_name(net, data, options, message):
    layer = options.pop("layer")
    with pytest.raises(ValueError, match=message):
        view(net, data, layer, **options)


def test_a_perceptron_has_no_hidden_space(data):
    model = MLP(3, [], 1, [], "binary", seed=0)
    with pytest.raises(ValueError, match="no hidden layer"):
        hidden_view(model.params(), [], "binary", FEATURES, 1,
                    data[0].X, data[1].X, 6.0)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(3, 30), st.integers(2, 6)),
              elements=st.floats(-5, 5)))
def test_principal_directions_are_orthonormal_and_ordered(activations):
    directions, center, explained = principal_directions(activations)
    np.testing.assert_allclose(center, activations.mean(axis=0))
    spread = np.var((activations - center) @ directions, axis=0)
    assert spread[0] >= spread[1] - 1e-9
    assert 0 <= explained.sum() <= 1 + 1e-9
    rank = np.linalg.matrix_rank(activations - center, tol=1e-8)
    if rank >= 2:
        np.testing.assert_allclose(directions.T @ directions, np.eye(2),
                                   atol=1e-9)


def test_two_units_without_training_points_report_the_test_spread(net,
                                                                  data):
    _, test = data
    shown = hidden_view(net.params(), ACTS, "binary", FEATURES, 1,
                        np.empty((0, 2)), test.X, 6.0, units=(1, 3))
    spread = by_hand(net, test.X, 1).var(axis=0)
    np.testing.assert_allclose(shown.explained, spread[[1, 3]] / spread.sum())
    nothing = hidden_view(net.params(), ACTS, "binary", FEATURES, 1,
                          np.empty((0, 2)), np.empty((0, 2)), 6.0,
                          units=(1, 3))
    np.testing.assert_array_equal(nothing.explained, [0.0, 0.0])
