"""Asking a point: its gradients, its step, its wish field, agreement."""

import numpy as np
import pytest

from mlp_studio.core import MLP, FeatureMap, make_dataset
from mlp_studio.core.inspect import (
    agreement,
    boundary_moves,
    dissent,
    numeric_gradient,
    output_change,
    point_wish,
    predictions,
)

CASES = [
    ("binary", 1, ["tanh", "relu"], ("x1", "x2"), 1),
    ("multiclass", 3, ["swish", "sigmoid"], ("x1", "x2", "x1*x2"), 2),
    ("regression", 1, ["leaky_relu", "linear"], ("x1", "sin(x2)"), 0.7),
]


def trained(task, outputs, acts, features, seed=0):
    rng = np.random.default_rng(seed)
    model = MLP(len(features), [5, 4], outputs, acts, task, seed=seed)
    model.set_flat_params(model.flat_params()
                          + rng.normal(0, 0.3, model.n_params))
    return model


@pytest.mark.parametrize("task, outputs, acts, features, label", CASES)
def test_point_gradients_match_finite_differences(task, outputs, acts,
                                                  features, label):
    model = trained(task, outputs, acts, features)
    params = model.params()
    point = np.array([1.3, -0.7])
    wish = point_wish(params, acts, task, features, point, label)
    for layer, (gw, gb) in enumerate(wish.grads):
        for i in range(gw.shape[0]):
            for j in range(gw.shape[1]):
                numeric = numeric_gradient(params, acts, task, features,
                                           point, label, layer, i, j)
                assert gw[i, j] == pytest.approx(numeric, rel=1e-5,
                                                 abs=1e-8)
        for i in range(gb.shape[0]):
            numeric = numeric_gradient(params, acts, task, features, point,
                                       label, layer, i)
            assert gb[i] == pytest.approx(numeric, rel=1e-5, abs=1e-8)
    # The same numbers as the engine's own backpropagation.
    X = FeatureMap(features).transform(point[None, :])
    engine = model.point_gradients(X[0], label)
    for (gw, gb), (ew, eb) in zip(wish.grads, engine.grads):
        np.testing.assert_allclose(gw, ew, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gb, eb, rtol=1e-12, atol=1e-15)
    assert wish.loss == pytest.approx(model.loss(X, [label]))


@pytest.mark.parametrize("task, outputs, acts, features, label", CASES)
def test_one_step_for_the_point_lowers_its_loss(task, outputs, acts,
                                                features, label):
    model = trained(task, outputs, acts, features, seed=3)
    params = model.params()
    point = np.array([-2.0, 0.5])
    wish = point_wish(params, acts, task, features, point, label)
    after = point_wish(wish.step(params, 1e-3), acts, task, features, point,
                       label)
    assert after.loss < wish.loss


@pytest.mark.parametrize("task, outputs, acts, features, label", CASES)
def test_the_wish_field_predicts_the_change_to_first_order(
        task, outputs, acts, features, label):
    model = trained(task, outputs, acts, features, seed=5)
    params = model.params()
    point = np.array([0.4, 2.2])
    wish = point_wish(params, acts, task, features, point, label)
    grid = np.random.default_rng(0).uniform(-6, 6, (400, 2))
    column = int(label) if task == "multiclass" else 0
    errors = []
    for lr in (1e-2, 1e-3):
        step = [(-lr * gw, -lr * gb) for gw, gb in wish.grads]
        predicted = output_change(params, acts, task, features, step, grid,
                                  column)
        before = predictions(params, acts, task, features, grid)
        after = predictions(wish.step(params, lr), acts, task, features,
                            grid)
        actual = after - before
        if task == "multiclass":
            actual = actual[:, column]
        errors.append(np.abs(predicted - actual).max()
                      / np.abs(actual).max())
    # The error of a first-order prediction shrinks with the step size.
    assert errors[1] < 0.2 * errors[0]
    assert errors[1] < 1e-2


def test_agreement_is_one_when_all_agree_and_zero_when_two_cancel():
    model = MLP(2, [3], 1, "tanh", "binary", seed=0)
    X = np.array([[1.0, 2.0], [1.0, 2.0]])
    same = agreement(model.per_point_gradients(X, [1, 1]))
    for gw, gb in same:
        np.testing.assert_allclose(gw, 1.0)
        np.testing.assert_allclose(gb, 1.0)
    # With a zero output layer p = 0.5: a point labelled 1 and its twin
    # labelled 0 pull every weight exactly opposite ways.
    params = model.params()
    params[-1] = (np.zeros_like(params[-1][0]), np.zeros_like(params[-1][1]))
    model.set_params(params)
    opposed = agreement(model.per_point_gradients(X, [1, 0]))
    gw, gb = opposed[-1]
    assert np.abs(gw).max() < 1e-12 and np.abs(gb).max() < 1e-12


def test_the_mislabelled_point_dissents_most():
    data = make_dataset("gauss", 60, 0.0, seed=0)
    y = data.y.copy()
    suspect = int(np.argmax(data.X.sum(axis=1)))  # deep in class 1
    y[suspect] = 0
    model = MLP(2, [4], 1, "tanh", "binary", seed=0, optimizer="adam")
    for _ in range(30):
        model.train_epoch(data.X, y, 0.02, 10)
    scores = dissent(model.per_point_gradients(data.X, y))
    assert int(np.argmin(scores)) == suspect
    assert scores[suspect] < 0


def test_a_perceptron_line_moves_towards_a_misclassified_point():
    model = MLP(2, [], 1, task="binary", seed=0)
    model.set_params([(np.array([[1.0], [0.0]]), np.array([0.0]))])
    params = model.params()
    # x1 > 0 is class 1: (-1, 0) labelled 1 is on the wrong side.
    wrong = point_wish(params, [], "binary", ("x1", "x2"), (-1.0, 0.5), 1)
    feet, shifts, towards = boundary_moves(params, ("x1", "x2"), wrong, 0.1)
    np.testing.assert_allclose(feet, [[0.0, 0.5]], atol=1e-12)
    assert towards[0] and shifts[0, 0] < 0
    assert not wrong.helps[0]
    right = point_wish(params, [], "binary", ("x1", "x2"), (3.0, 0.0), 1)
    _, shifts, towards = boundary_moves(params, ("x1", "x2"), right, 0.1)
    assert not towards[0] and shifts[0, 0] < 0  # pushed away from it
    assert right.helps[0]


def test_boundary_moves_match_the_step_for_curved_features():
    model = trained("binary", 1, ["tanh", "tanh"], ("x1^2", "x2^2", "x1"))
    params = model.params()
    features = ("x1^2", "x2^2", "x1")
    wish = point_wish(params, ["tanh", "tanh"], "binary", features,
                      (1.0, 1.5), 0)
    lr = 1e-3
    feet, shifts, _ = boundary_moves(params, features, wish, lr)
    after = wish.step(params, lr)[0]
    fmap = FeatureMap(features)
    z_before = fmap.transform(feet) @ params[0][0] + params[0][1]
    z_after = fmap.transform(feet + shifts) @ after[0] + after[1]
    units = np.flatnonzero(np.isfinite(feet[:, 0]))
    assert len(units) >= 3
    # Feet lie on the old boundaries, and the shifted feet on the new ones
    # to first order: far closer than the step moved z there.
    moved = np.abs(fmap.transform(feet) @ after[0] + after[1]
                   - z_before)[units, units]
    np.testing.assert_allclose(z_before[units, units], 0.0, atol=1e-9)
    assert np.all(np.abs(z_after[units, units]) < 2e-2 * moved + 1e-12)


def test_per_point_grads_from_params_match_the_engine():
    model = trained("multiclass", 3, ["tanh", "relu"], ("x1", "x2"))
    rng = np.random.default_rng(2)
    points = rng.uniform(-5, 5, (30, 2))
    labels = rng.integers(0, 3, 30)
    from mlp_studio.core.inspect import per_point_grads
    ours = per_point_grads(model.params(), ["tanh", "relu"], "multiclass",
                           ("x1", "x2"), points, labels)
    engine = model.per_point_gradients(points, labels)
    for (gw, gb), (ew, eb) in zip(ours, engine):
        np.testing.assert_allclose(gw, ew, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gb, eb, rtol=1e-12, atol=1e-15)
