"""Backpropagation against central finite differences, in float64."""

import itertools

import numpy as np
import pytest

from mlp_studio.core import ACTIVATIONS, MLP
from mlp_studio.core.activations import run
from mlp_studio.core.heads import run_calls

RELATIVE = 1e-6


def numeric_gradient(model, X, y, h=1e-6):
    theta = model.flat_params()
    grad = np.empty_like(theta)
    for i in range(len(theta)):
        for sign in (1, -1):
            shifted = theta.copy()
            shifted[i] += sign * h
            model.set_flat_params(shifted)
            value = model.objective(X, y)
            grad[i] = value / (2 * h) if sign == 1 else grad[i] - value / (2 * h)
    model.set_flat_params(theta)
    return grad


def flatten(pairs, model):
    flat = np.zeros(model.n_params)
    for (w, b), (wv, bv) in zip(pairs, model.unflatten(flat)):
        wv[...] = w
        bv[...] = b
    return flat


def assert_close(analytic, numeric):
    scale = max(np.linalg.norm(analytic), np.linalg.norm(numeric), 1e-12)
    assert np.linalg.norm(analytic - numeric) / scale < RELATIVE
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-8 * scale)


def make_problem(task, rng, n=12, inputs=3, classes=4):
    X = rng.normal(0.0, 1.5, (n, inputs))
    if task == "binary":
        return X, rng.integers(0, 2, n), 1
    if task == "multiclass":
        return X, rng.integers(0, classes, n), classes
    return X, rng.normal(0.0, 1.0, n), 1


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_gradients_match_finite_differences(activation, task, rng):
    X, y, outputs = make_problem(task, rng)
    model = MLP(3, [5, 4], outputs, activation, task, seed=3)
    # Non-zero biases so that every parameter is exercised.
    model.set_flat_params(model.flat_params() + rng.normal(0, 0.3, model.n_params))
    analytic = flatten(model.gradients(X, y), model)
    assert_close(analytic, numeric_gradient(model, X, y))


@pytest.mark.parametrize("regularization", ["l1", "l2"])
def test_penalty_gradients_match_finite_differences(regularization, rng):
    X, y, _ = make_problem("binary", rng)
    model = MLP(3, [6], 1, "tanh", "binary", seed=1,
                regularization=regularization, reg_rate=0.05)
    model.set_flat_params(model.flat_params() + rng.normal(0, 0.3, model.n_params))
    assert model.penalty() > 0
    analytic = flatten(model.gradients(X, y), model)
    assert_close(analytic, numeric_gradient(model, X, y))


def test_biases_are_not_regularized(rng):
    model = MLP(2, [4], 1, "tanh", "binary", seed=0, regularization="l2",
                reg_rate=1.0)
    before = model.penalty()
    theta = model.flat_params()
    theta[model.weight_mask == 0] = 100.0
    model.set_flat_params(theta)
    assert model.penalty() == pytest.approx(before)


def test_perceptron_gradient_is_the_textbook_one(rng):
    # With no hidden layer: dL/dw = mean((p - y) x), dL/db = mean(p - y).
    X, y, _ = make_problem("binary", rng, inputs=2)
    model = MLP(2, [], 1, task="binary", seed=0)
    p = model.predict(X)
    (grad_w, grad_b), = model.gradients(X, y)
    np.testing.assert_allclose(grad_w[:, 0], ((p - y)[:, None] * X).mean(0))
    np.testing.assert_allclose(grad_b, [(p - y).mean()])


@pytest.mark.parametrize(
    "activations, task",
    list(itertools.product(
        [["tanh", "tanh"], ["relu", "swish"], ["sigmoid", "leaky_relu"],
         ["linear", "tanh"]],
        ["binary", "multiclass", "regression"],
    )),
)
def test_training_update_uses_the_reference_gradient(activations, task, rng):
    """The compiled training pass and the reference pass agree: one SGD step
    moves the weights by exactly -lr times the reference gradient."""
    X, y, outputs = make_problem(task, rng, n=7)
    model = MLP(3, [5, 4], outputs, activations, task, seed=2)
    model.set_flat_params(model.flat_params() + rng.normal(0, 0.2, model.n_params))
    expected = flatten(model.gradients(X, y), model)
    before = model.flat_params()
    loss = model.step(X, y, lr=0.1)
    np.testing.assert_allclose((before - model.flat_params()) / 0.1, expected,
                               rtol=1e-9, atol=1e-12)
    model.set_flat_params(before)
    assert loss == pytest.approx(model.loss(X, y), rel=1e-12)


def test_regularized_training_update_uses_the_reference_gradient(rng):
    X, y, _ = make_problem("binary", rng, n=9)
    for kind in ("l1", "l2"):
        model = MLP(3, [4], 1, "tanh", "binary", seed=5, regularization=kind,
                    reg_rate=0.1)
        expected = flatten(model.gradients(X, y), model)
        before = model.flat_params()
        model.step(X, y, lr=0.5)
        np.testing.assert_allclose((before - model.flat_params()) / 0.5,
                                   expected, rtol=1e-9, atol=1e-12)


# Small and large layers: the compiled ops choose their method and their
# constants' shape by size.
@pytest.mark.parametrize("shape", [(4, 6), (48, 64), (80, 64)])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_ops_match_reference(name, shape, rng):
    act = ACTIVATIONS[name]
    z = rng.normal(0.0, 3.0, shape)
    z.flat[:6] = [0.0, -0.0, 1e-310, -1e-310, np.inf, -np.inf]
    z.flat[-1] = np.nan
    a, aux, slope = np.empty_like(z), np.empty_like(z), np.empty_like(z)
    with np.errstate(invalid="ignore", over="ignore"):
        run(act.forward_ops(z, a, aux))
        run(act.slope_ops(z, a, aux, slope))
        value = act.value(z)
        expected_slope = act.slope(z, value)
    np.testing.assert_allclose(a, value, rtol=1e-12, atol=1e-15)
    # At NaN the reference may say 0 (ReLU's z > 0); the ops keep NaN.
    known = ~np.isnan(z)
    np.testing.assert_allclose(slope[known], expected_slope[known],
                               rtol=1e-12, atol=1e-15)
    assert np.isnan(a.flat[-1])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_slope_matches_finite_differences(name, rng):
    act = ACTIVATIONS[name]
    z = rng.normal(0.0, 3.0, 200)
    z = z[np.abs(z) > 1e-3]  # away from the rectifiers' kink
    h = 1e-6
    numeric = (act.value(z + h) - act.value(z - h)) / (2 * h)
    np.testing.assert_allclose(act.slope(z, act.value(z)), numeric,
                               rtol=1e-6, atol=1e-9)


def test_point_gradients_are_one_row_of_the_batch(rng):
    X, y, outputs = make_problem("multiclass", rng, n=6)
    model = MLP(3, [5], outputs, "tanh", "multiclass", seed=0)
    batch = model.backprop(X, y)
    point = model.point_gradients(X[2], y[2])
    for layer in range(2):
        np.testing.assert_allclose(point.deltas[layer][0],
                                   batch.deltas[layer][2])
        np.testing.assert_allclose(point.activations[layer][0],
                                   batch.activations[layer][2])
    per_point = model.per_point_gradients(X, y)
    for layer, (grad_w, grad_b) in enumerate(batch.grads):
        np.testing.assert_allclose(per_point[layer][0].mean(0), grad_w)
        np.testing.assert_allclose(per_point[layer][1].mean(0), grad_b)
    point_w = point.grads[1][0]
    np.testing.assert_allclose(point_w, per_point[1][0][2])


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_epoch_loss_sum_matches_the_point_losses(task, rng):
    """The epoch's loss, summed in one go from prepared targets, agrees
    with each point's own loss, out to logits far beyond any overflow."""
    outputs = 3 if task == "multiclass" else 1
    head = MLP(2, [], outputs, "tanh", task, seed=0).head
    n = 300
    z = rng.normal(0.0, 4.0, (n, outputs))
    z[:8, 0] = [0.0, -0.0, 40.0, -40.0, 800.0, -800.0, 1e-300, -1e-300]
    y = (rng.integers(0, outputs, n) if task == "multiclass" else
         rng.integers(0, 2, n) if task == "binary" else rng.normal(size=n))
    target = head.prepare(y, outputs)
    scratch = np.empty((2, n))
    total = head.prepared_loss_sum(np.ascontiguousarray(z.T), target,
                                   scratch)
    expected = head.point_losses(z, y)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(total, expected.sum(), rtol=1e-12)


def test_quick_binary_loss_sum_matches_the_point_losses(rng):
    """The shorter formula the epoch uses for a binary head agrees with
    each point's own loss wherever it does not overflow."""
    head = MLP(2, [], 1, "tanh", "binary", seed=0).head
    n = 300
    z = rng.normal(0.0, 4.0, (n, 1))
    z[:8, 0] = [0.0, -0.0, 40.0, -40.0, 800.0, -800.0, 1e-300, -1e-300]
    y = rng.integers(0, 2, n)
    calls = head.quick_loss_sum_calls(np.ascontiguousarray(z.T),
                                      head.prepare(y, 1))
    np.testing.assert_allclose(float(run_calls(calls)),
                               head.point_losses(z, y).sum(), rtol=1e-12)
    z[9, 0] = 3000.0  # cosh(1500) overflows: the caller must fall back
    calls = head.quick_loss_sum_calls(np.ascontiguousarray(z.T),
                                      head.prepare(y, 1))
    with np.errstate(over="ignore"):
        assert not np.isfinite(float(run_calls(calls)))


@pytest.mark.parametrize("batch", [None, 4])
def test_an_epoch_with_huge_finite_logits_reports_its_loss(batch, rng):
    """Logits beyond the quick formula's range give the exact epoch loss,
    not a false divergence."""
    X = rng.normal(size=(6, 2))
    y = np.array([0, 1, 1, 0, 1, 0])
    model = MLP(2, [], 1, "linear", "binary", seed=0)
    model.set_params([(np.array([[2000.0], [-1500.0]]), np.array([1.0]))])
    twin = MLP(2, [], 1, "linear", "binary", seed=0)
    twin.set_params(model.params())
    loss = model.train_epoch(X, y, 1e-9, batch_size=batch, shuffle=False)
    assert np.isfinite(loss)
    if batch is None:
        assert loss == pytest.approx(twin.loss(X, y), rel=1e-12)
    else:  # a batch of four, then a tail of two
        first, second = twin.step(X[:4], y[:4], 1e-9), twin.step(
            X[4:], y[4:], 1e-9)
        assert loss == pytest.approx((4 * first + 2 * second) / 6, rel=1e-12)


def test_a_nearly_perfect_binary_fit_reports_its_tiny_loss_exactly():
    """Where every point is confidently right, the quick formula's terms
    cancel to rounding noise: the epoch's loss must still be the exact,
    positive, tiny mean."""
    X = np.random.default_rng(12345).normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    X[:, 0] += np.where(y == 1, 1.0, -1.0)  # a clear margin
    for weight in (20.0, 40.0, 100.0, 400.0):
        model = MLP(2, [], 1, "linear", "binary", seed=0)
        model.set_params([(np.array([[weight], [0.0]]), np.array([0.0]))])
        z = X[:, 0] * weight
        # log(1 + e^x) with x = -z for class 1 and z for class 0: no
        # cancellation, whatever the size of z.
        expected = np.logaddexp(0.0, np.where(y == 1, -z, z)).mean()
        assert 0.0 < expected < 1e-6
        loss = model.train_epoch(X, y, 1e-9, batch_size=None)
        assert loss == pytest.approx(expected, rel=1e-9, abs=0.0), weight


def test_binary_point_losses_keep_the_tiny_losses_of_confident_points():
    head = MLP(2, [], 1, "tanh", "binary", seed=0).head
    z = np.array([[40.0], [-40.0], [700.0], [-700.0], [2.0]])
    y = np.array([1, 0, 1, 0, 1])
    # log(1 + e^-|z|) for a right answer: e^-40 is 4.2e-18.
    expected = np.log1p(np.exp(-np.array([40.0, 40.0, 700.0, 700.0, 2.0])))
    np.testing.assert_allclose(head.point_losses(z, y), expected, rtol=1e-12,
                               atol=0.0)
