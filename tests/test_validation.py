"""Bad arguments raise a ValueError that names the problem."""

import numpy as np
import pytest

from mlp_studio.core import MLP


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(activation="softplus"), "unknown activation 'softplus'"),
        (dict(hidden=[8, 0]), "hidden layer 2 must be 1 to"),
        (dict(hidden=[8, 2.5]), "hidden layer 2 must be a whole number"),
        (dict(hidden=[4] * 17), "at most 16 hidden layers"),
        (dict(task="ranking"), "unknown task 'ranking'"),
        (dict(task="multiclass", outputs=7), "2 to 6 output units"),
        (dict(task="binary", outputs=2), "binary task has 1 output"),
        (dict(activation=["tanh"]), "got 1 activations for 2 hidden layers"),
        (dict(optimizer="rmsprop"), "unknown optimizer"),
        (dict(regularization="l3"), "unknown regularization"),
        (dict(reg_rate=-1.0), "regularization rate must be >= 0"),
        (dict(reg_rate=float("nan")), "regularization rate must be finite"),
        (dict(seed=-3), "seed"),
        (dict(inputs=0), "inputs must be 1 to"),
    ],
)
def test_bad_construction(kwargs, message):
    settings = dict(inputs=2, hidden=[8, 8], outputs=1)
    settings.update(kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        MLP(**settings)


@pytest.fixture
def model():
    return MLP(2, [4], 1, "tanh", "binary", seed=0)


def test_labels_that_do_not_fit_the_task(model):
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="binary labels must be 0 or 1; found 2"):
        model.train_epoch(X, [0, 1, 2], 0.1)
    with pytest.raises(ValueError, match="binary labels"):
        model.step(X, [0.5, 1, 0], 0.1)
    multi = MLP(2, [4], 3, task="multiclass")
    with pytest.raises(ValueError, match="integers 0 to 2"):
        multi.train_epoch(X, [0, 1, 3], 0.1)
    regression = MLP(2, [4], 1, task="regression")
    with pytest.raises(ValueError, match="NaN"):
        regression.train_epoch(X, [0.0, np.nan, 1.0], 0.1)


def test_nan_in_x_is_named(model):
    X = np.array([[0.0, 1.0], [np.nan, 0.0]])
    before = model.flat_params()
    with pytest.raises(ValueError, match="NaN"):
        model.train_epoch(X, [0, 1], 0.1)
    with pytest.raises(ValueError, match="NaN"):
        model.step(X, [0, 1], 0.1)
    with pytest.raises(ValueError, match="NaN"):
        model.predict(X)
    assert np.array_equal(model.flat_params(), before)


def test_wrong_shapes_and_settings(model):
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        model.predict(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="3 rows but y has 2"):
        model.loss(np.zeros((3, 2)), [0, 1])
    with pytest.raises(ValueError, match="learning rate must be positive"):
        model.step(np.zeros((1, 2)), [0], 0.0)
    with pytest.raises(ValueError, match="learning rate must be finite"):
        model.step(np.zeros((1, 2)), [0], float("inf"))
    with pytest.raises(ValueError, match="batch size must be at least 1"):
        model.train_epoch(np.zeros((3, 2)), [0, 1, 0], 0.1, batch_size=0)
    with pytest.raises(ValueError, match="empty"):
        model.train_epoch(np.zeros((0, 2)), [], 0.1)
    with pytest.raises(ValueError, match="W must have shape"):
        model.set_params([(np.zeros((3, 4)), np.zeros(4)),
                          (np.zeros((4, 1)), np.zeros(1))])
    with pytest.raises(ValueError, match="NaN"):
        model.set_params([(np.full((2, 4), np.nan), np.zeros(4)),
                          (np.zeros((4, 1)), np.zeros(1))])
