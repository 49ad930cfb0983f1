"""Training: stated quality, every optimizer, reproducibility, divergence."""

import numpy as np
import pytest

from mlp_studio.core import MLP, FeatureMap, NonFiniteLossError, make_dataset
from mlp_studio.core.network import forward_layers


def train(model, data, lr, batch, epochs, target):
    """Train until accuracy reaches ``target``; return the epochs used."""
    for epoch in range(1, epochs + 1):
        model.train_epoch(data.X, data.y, lr, batch)
        if model.accuracy(data.X, data.y) > target:
            return epoch
    return None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spiral_above_95_percent_within_400_epochs(seed, spiral):
    model = MLP(2, [8, 8], 1, "tanh", "binary", seed=seed, optimizer="adam")
    assert train(model, spiral, lr=0.01, batch=10, epochs=400, target=0.95)


@pytest.mark.parametrize("name", ["circle", "xor"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_circle_and_xor_above_97_percent_within_50_epochs(name, seed):
    data = make_dataset(name, 500, 0.0, seed=seed)
    model = MLP(2, [8, 8], 1, "tanh", "binary", seed=seed)
    assert train(model, data, lr=0.03, batch=10, epochs=50, target=0.97)


def test_perceptron_separates_circle_given_squared_features():
    data = make_dataset("circle", 400, 0.0, seed=0)
    features = FeatureMap(["x1^2", "x2^2"])
    X = features.transform(data.X)
    model = MLP(2, [], 1, task="binary", seed=0, optimizer="adam")
    for _ in range(200):
        model.train_epoch(X, data.y, 0.05, 20)
    assert model.accuracy(X, data.y) > 0.97


def test_several_classes_are_learned():
    data = make_dataset("blobs", 600, 0.0, seed=0, classes=5)
    model = MLP(2, [8], 5, "relu", "multiclass", seed=0, optimizer="adam")
    for _ in range(60):
        model.train_epoch(data.X, data.y, 0.01, 16)
    assert model.accuracy(data.X, data.y) > 0.95
    probs = model.predict(data.X)
    assert probs.shape == (600, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_regression_fits_the_plane():
    data = make_dataset("plane", 400, 0.0, seed=0)
    model = MLP(2, [4], 1, "linear", "regression", seed=0)
    first = model.loss(data.X, data.y)
    for _ in range(50):
        model.train_epoch(data.X, data.y, 0.01, 10)
    assert model.loss(data.X, data.y) < 1e-4 < first


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("regularization", ["none", "l1", "l2"])
def test_every_optimizer_reduces_the_loss(optimizer, regularization):
    data = make_dataset("gauss", 200, 0.1, seed=4)
    model = MLP(2, [6], 1, "tanh", "binary", seed=0, optimizer=optimizer,
                regularization=regularization, reg_rate=1e-3)
    first = model.objective(data.X, data.y)
    for _ in range(20):
        model.train_epoch(data.X, data.y, 0.01, 10)
    assert model.objective(data.X, data.y) < 0.5 * first


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sgd_follows_its_update_rule_and_regularization_joins_it(dtype, rng):
    # Plain SGD takes a fused path of its own; with a penalty it takes the
    # general one. Both must be theta -= lr * gradient of the objective.
    X = rng.normal(size=(40, 2))
    y = rng.integers(0, 2, 40)
    for kind, rate in (("none", 0.0), ("l2", 0.05), ("l1", 0.05)):
        model = MLP(2, [3], 1, seed=0, regularization=kind, reg_rate=rate,
                    dtype=dtype)
        tolerance = 1e-12 if dtype == "float64" else 1e-5
        for batch in (40, 7):  # one batch; batches of 7 and a tail of 5
            theta = model.flat_params().astype(np.float64)
            expected = theta.copy()
            model.train_updates(X, y, 0.1, batch, count=1)
            order = model.epoch_state()["order"]
            rows = order[:batch]
            expected -= 0.1 * _flat_gradient(model_at(model, theta),
                                             X[rows], y[rows])
            np.testing.assert_allclose(model.flat_params(), expected,
                                       rtol=tolerance, atol=tolerance)


def model_at(model, theta):
    """A float64 twin of ``model`` with parameters ``theta``."""
    twin = MLP(2, [3], 1, seed=0, regularization=model.regularization,
               reg_rate=model.reg_rate)
    twin.set_flat_params(theta)
    return twin


def test_momentum_and_adam_follow_their_update_rules(rng):
    X = rng.normal(size=(5, 2))
    y = rng.integers(0, 2, 5)
    grads = []
    momentum = MLP(2, [3], 1, seed=0, optimizer="momentum")
    plain = MLP(2, [3], 1, seed=0)
    theta = momentum.flat_params()
    g1 = _flat_gradient(plain, X, y)
    momentum.step(X, y, 0.1)
    np.testing.assert_allclose(momentum.flat_params(), theta - 0.1 * g1)
    g2 = _flat_gradient(momentum, X, y)
    theta = momentum.flat_params()
    momentum.step(X, y, 0.1)
    np.testing.assert_allclose(momentum.flat_params(),
                               theta - 0.1 * (0.9 * g1 + g2))

    adam = MLP(2, [3], 1, seed=0, optimizer="adam")
    m = v = 0.0
    theta = adam.flat_params()
    for t in (1, 2, 3):
        g = _flat_gradient(adam, X, y)
        grads.append(g)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
        theta = theta - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
        adam.step(X, y, 0.01)
        np.testing.assert_allclose(adam.flat_params(), theta, rtol=1e-6,
                                   atol=1e-12)


def _flat_gradient(model, X, y):
    flat = np.zeros(model.n_params)
    for (w, b), (wv, bv) in zip(model.gradients(X, y), model.unflatten(flat)):
        wv[...] = w
        bv[...] = b
    return flat


@pytest.mark.parametrize("batch", [1, 7, 10, 500])
def test_same_seed_gives_bit_identical_weights(batch, spiral):
    runs = []
    for _ in range(2):
        model = MLP(2, [8, 8], 1, "tanh", "binary", seed=11, optimizer="adam")
        for _ in range(3):
            model.train_epoch(spiral.X, spiral.y, 0.01, batch)
        runs.append(model.flat_params())
    assert np.array_equal(runs[0], runs[1])


def test_reset_replays_training_and_reseed_changes_it(spiral):
    model = MLP(2, [8, 8], 1, "tanh", "binary", seed=5, optimizer="momentum")
    initial = model.flat_params()
    model.train_epoch(spiral.X, spiral.y, 0.03, 10)
    trained = model.flat_params()
    assert model.updates == 50 and not np.array_equal(trained, initial)

    model.reset()
    assert np.array_equal(model.flat_params(), initial)
    assert model.updates == 0 and model.epochs == 0
    model.train_epoch(spiral.X, spiral.y, 0.03, 10)
    assert np.array_equal(model.flat_params(), trained)

    seed = model.reseed()
    assert model.seed == seed
    assert not np.array_equal(model.flat_params(), initial)
    model.reseed(5)
    assert np.array_equal(model.flat_params(), initial)


def test_params_round_trip_and_are_copies():
    model = MLP(2, [3, 4], 1, seed=0)
    params = model.params()
    assert [w.shape for w, _ in params] == [(2, 3), (3, 4), (4, 1)]
    assert [b.shape for _, b in params] == [(3,), (4,), (1,)]
    params[0][0][0, 0] = 123.0
    assert model.params()[0][0][0, 0] != 123.0
    model.set_params(params)
    assert model.params()[0][0][0, 0] == 123.0


def test_zero_hidden_layers_is_a_perceptron():
    model = MLP(2, [], 1, seed=0)
    (w, b), = model.params()
    assert w.shape == (2, 1) and b.shape == (1,)
    X = np.array([[1.0, 2.0]])
    expected = 1 / (1 + np.exp(-(X @ w + b)))
    np.testing.assert_allclose(model.predict(X), expected[:, 0])


def test_ten_hidden_layers_of_64_train():
    data = make_dataset("xor", 200, 0.0, seed=0)
    model = MLP(2, [64] * 10, 1, "relu", "binary", seed=0, optimizer="adam")
    first = model.loss(data.X, data.y)
    for _ in range(5):
        model.train_epoch(data.X, data.y, 0.001, 20)
    assert model.loss(data.X, data.y) < first


@pytest.mark.parametrize("task, outputs", [("binary", 1), ("multiclass", 3),
                                           ("regression", 1)])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear",
                                        "leaky_relu", "swish"])
def test_predict_matches_the_plain_forward_pass(task, outputs, activation):
    # More points than one chunk of the compiled pass, and a ragged tail.
    model = MLP(2, [5, 3], outputs, activation, task, seed=4)
    rng = np.random.default_rng(1)
    model.set_flat_params(rng.normal(0, 1.5, model.n_params))
    X = rng.uniform(-6, 6, (2 * 4096 + 37, 2))
    expected = forward_layers(model.params(), [activation] * 2, task, X)[-1]
    if outputs == 1:
        expected = expected[:, 0]
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(model.predict(X, dtype=np.float32), expected,
                               rtol=1e-5, atol=1e-5)
    # A smaller call after a larger one reuses nothing stale.
    np.testing.assert_allclose(model.predict(X[:10]), expected[:10],
                               rtol=1e-12, atol=1e-12)


def test_float32_prediction_matches_float64(spiral):
    model = MLP(2, [8, 8], 1, "tanh", "binary", seed=0)
    grid = np.random.default_rng(0).uniform(-6, 6, (10_000, 2))
    np.testing.assert_allclose(model.predict(grid, dtype=np.float32),
                               model.predict(grid), atol=1e-5)


def test_divergence_is_detected_and_the_bad_update_undone():
    data = make_dataset("plane", 100, 0.0, seed=0)
    X = data.X * 1e100  # finite, but a learning rate of 1 blows it up
    model = MLP(2, [4], 1, "relu", "regression", seed=0)
    previous = model.flat_params()
    with pytest.raises(NonFiniteLossError) as info:
        for _ in range(20):
            previous = model.flat_params()
            model.step(X[:10], data.y[:10], 1.0)
    assert "smaller learning rate" in str(info.value)
    assert np.isfinite(model.flat_params()).all()
    np.testing.assert_array_equal(model.flat_params(), previous)
    assert model.updates == info.value.updates


def test_divergence_during_an_epoch_keeps_the_last_good_weights():
    data = make_dataset("plane", 100, 0.0, seed=0)
    model = MLP(2, [8], 1, "relu", "regression", seed=0, optimizer="momentum")
    with pytest.raises(NonFiniteLossError):
        for _ in range(50):
            model.train_epoch(data.X * 1e80, data.y * 1e80, 10.0, 5)
    assert np.isfinite(model.flat_params()).all()
    assert 0 < model.updates < 50 * 20


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_divergence_inside_an_epoch_keeps_exactly_the_updates_before_it(
        optimizer):
    # The epoch checks the weights once, at its end, and replays to find
    # the bad update: it must stop where single updates, each checked,
    # stop.
    data = make_dataset("plane", 100, 0.0, seed=0)
    X, y = data.X * 1e30, data.y * 1e30
    lr = 1.0 if optimizer != "adam" else 1e300

    def model():
        return MLP(2, [8], 1, "relu", "regression", seed=0,
                   optimizer=optimizer)

    single = model()
    with pytest.raises(NonFiniteLossError):
        for _ in range(200):
            single.train_updates(X, y, lr, 5, count=1)
    whole = model()
    with pytest.raises(NonFiniteLossError):
        for _ in range(10):
            whole.train_epoch(X, y, lr, 5)
    assert single.updates > 0
    assert whole.updates == single.updates
    np.testing.assert_array_equal(whole.flat_params(), single.flat_params())

    # The optimizer's moments and step count are restored alike too.
    np.testing.assert_array_equal(whole._state, single._state)
    assert whole._opt_steps == single._opt_steps


def test_changing_optimizer_keeps_weights():
    data = make_dataset("gauss", 100, 0.0, seed=0)
    model = MLP(2, [4], 1, seed=0)
    model.train_epoch(data.X, data.y, 0.1, 10)
    theta = model.flat_params()
    model.optimizer = "adam"
    assert np.array_equal(model.flat_params(), theta)
    model.train_epoch(data.X, data.y, 0.01, 10)
    assert not np.array_equal(model.flat_params(), theta)


def test_updates_in_any_chunks_add_up_to_whole_epochs(spiral):
    whole = MLP(2, [8, 8], 1, "tanh", "binary", seed=3, optimizer="adam")
    for _ in range(3):
        whole.train_epoch(spiral.X, spiral.y, 0.01, 12)
    chunked = MLP(2, [8, 8], 1, "tanh", "binary", seed=3, optimizer="adam")
    completed = 0
    for count in [1, 5, 40, 0, 7, 60, 9]:  # 122 updates; an epoch is 42
        completed += chunked.train_updates(spiral.X, spiral.y, 0.01, 12, count)
    assert completed == 2 and chunked.epochs == 2
    assert chunked.epoch_progress == pytest.approx(38 / 42)
    completed += chunked.train_updates(spiral.X, spiral.y, 0.01, 12, 4)
    assert completed == 3 and chunked.updates == whole.updates == 126
    assert np.array_equal(chunked.flat_params(), whole.flat_params())


def test_reset_mid_epoch_replays_from_the_start(spiral):
    model = MLP(2, [4], 1, seed=0)
    model.train_updates(spiral.X, spiral.y, 0.1, 10, 3)
    first = model.flat_params()
    model.train_updates(spiral.X, spiral.y, 0.1, 10, 20)
    model.reset()
    model.train_updates(spiral.X, spiral.y, 0.1, 10, 3)
    assert np.array_equal(model.flat_params(), first)


def test_new_data_starts_a_new_epoch(spiral):
    model = MLP(2, [4], 1, seed=0)
    model.train_updates(spiral.X, spiral.y, 0.1, 10, 5)
    assert model.epoch_progress == pytest.approx(0.1)
    smaller = spiral.subset(np.arange(100))
    model.train_updates(smaller.X, smaller.y, 0.1, 10, 5)
    assert model.epoch_progress == pytest.approx(0.5)


@pytest.mark.parametrize("task, outputs, labels", [
    ("binary", 1, [0, 1, 1, 0, 1, 0]),
    ("multiclass", 3, [0, 2, 1, 1, 0, 2]),
    ("regression", 1, [0.5, -1.0, 2.0, 0.0, 0.1, -0.3]),
])
def test_epoch_loss_is_the_mean_of_the_batch_losses(task, outputs, labels, rng):
    X = rng.normal(size=(6, 2))
    y = np.array(labels)
    model = MLP(2, [5], outputs, "tanh", task, seed=0)
    twin = MLP(2, [5], outputs, "tanh", task, seed=0)
    full = model.train_epoch(X, y, 0.1, batch_size=None)
    assert full == pytest.approx(twin.loss(X, y), rel=1e-12)
    # Two batches of three, in the order the model shuffles them.
    twin.train_epoch(X, y, 0.1)  # same updates so far
    model.reset()
    twin.reset()
    halves = model.train_epoch(X, y, 0.1, batch_size=3, shuffle=False)
    first = twin.step(X[:3], y[:3], 0.1)
    second = twin.step(X[3:], y[3:], 0.1)
    assert halves == pytest.approx((first + second) / 2, rel=1e-12)
    # A batch of four and a tail of two: each point counts once.
    model.reset()
    twin.reset()
    uneven = model.train_epoch(X, y, 0.1, batch_size=4, shuffle=False)
    first = twin.step(X[:4], y[:4], 0.1)
    second = twin.step(X[4:], y[4:], 0.1)
    assert uneven == pytest.approx((4 * first + 2 * second) / 6, rel=1e-12)


def test_the_run_records_its_path_and_thins_it_evenly():
    from mlp_studio.core.training import TrainingRun, Trajectory

    run = TrainingRun.default()
    run.run(250)  # 10 epochs of 25 updates
    snapshot = run.snapshot(grids=False)
    assert snapshot.trajectory.shape == (11, run.model.n_params)
    assert snapshot.trajectory_updates.tolist() == list(range(0, 251, 25))
    np.testing.assert_array_equal(snapshot.trajectory[-1],
                                  run.model.flat_params())
    run.run(25)
    assert snapshot.trajectory.shape == (11, run.model.n_params)  # a copy
    path = Trajectory(3, capacity=4)
    for k in range(9):
        path.append(np.full(3, k), k)
    rows, steps = path.view()
    assert steps.tolist() == [0, 4, 8]  # capacity 4: every 4th kept


@pytest.mark.parametrize("dataset, regularization", [("spiral", "l2"),
                                                     ("blobs", "l1")])
def test_a_snapshot_gives_the_run_s_gradient_when_asked(dataset,
                                                        regularization):
    from mlp_studio.core.training import ModelSettings, TrainingRun, TrainSettings

    data = make_dataset(dataset, 120, 0.1, seed=2)
    run = TrainingRun(data, ModelSettings(features=("x1", "x2", "x1*x2")),
                      TrainSettings(regularization=regularization,
                                    reg_rate=0.01))
    run.run(60)
    snapshot = run.snapshot(grids=False)
    expected = run.model.gradients(run.X_train, run.train.y)
    run.run(30)  # the snapshot's answer stays that of its own moment
    assert len(snapshot.gradients) == len(expected)
    for (w, b), (w_expected, b_expected) in zip(snapshot.gradients, expected):
        np.testing.assert_allclose(w, w_expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(b, b_expected, rtol=1e-12, atol=1e-15)
        assert not w.flags.writeable


# ----------------------------------------------------------------------
# Training in float32


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("task, outputs, dataset", [
    ("binary", 1, "xor"), ("multiclass", 4, "blobs"),
    ("regression", 1, "multi-gauss")])
def test_float32_training_follows_float64(optimizer, task, outputs, dataset):
    kwargs = {"classes": 4} if dataset == "blobs" else {}
    data = make_dataset(dataset, 300, 0.1, seed=1, **kwargs)

    def model(dtype):
        return MLP(2, [16, 16], outputs, ["relu", "tanh"], task, seed=3,
                   optimizer=optimizer, regularization="l2", reg_rate=1e-3,
                   dtype=dtype)

    single, double = model("float32"), model(np.float64)
    assert single.flat_params().dtype == np.float32
    losses = []
    for _ in range(5):
        losses.append((single.train_epoch(data.X, data.y, 0.01, 16),
                       double.train_epoch(data.X, data.y, 0.01, 16)))
    # Five epochs apart only by float32's rounding.
    np.testing.assert_allclose(*zip(*losses), rtol=1e-3)
    np.testing.assert_allclose(single.flat_params(), double.flat_params(),
                               rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(single.predict(data.X), double.predict(data.X),
                               rtol=1e-3, atol=1e-4)
    for (w32, b32), (w64, b64) in zip(single.gradients(data.X, data.y),
                                      double.gradients(data.X, data.y)):
        np.testing.assert_allclose(w32, w64, rtol=1e-2, atol=1e-4)
        np.testing.assert_allclose(b32, b64, rtol=1e-2, atol=1e-4)


def test_float32_training_is_reproducible_and_reaches_the_same_quality():
    data = make_dataset("xor", 500, 0.0, seed=0)
    first = MLP(2, [8, 8], 1, "tanh", "binary", seed=0, dtype="float32")
    second = MLP(2, [8, 8], 1, "tanh", "binary", seed=0, dtype="float32")
    assert train(first, data, lr=0.03, batch=10, epochs=50, target=0.97)
    for _ in range(first.epochs):
        second.train_epoch(data.X, data.y, 0.03, 10)
    assert np.array_equal(first.flat_params(), second.flat_params())


@pytest.mark.parametrize("dtype", ["float16", "int32", "nonsense", object])
def test_a_dtype_other_than_float32_or_float64_is_refused(dtype):
    with pytest.raises(ValueError, match="dtype must be float64 or float32"):
        MLP(2, [4], 1, dtype=dtype)


def test_training_leaves_numpy_s_error_handling_as_the_caller_set_it():
    data = make_dataset("plane", 100, 0.0, seed=0)
    model = MLP(2, [4], 1, "relu", "regression", seed=0)
    before = np.geterr()
    with pytest.raises(NonFiniteLossError):  # overflows, silently
        for _ in range(20):
            model.train_epoch(data.X * 1e100, data.y, 1.0, 10)
    fresh = MLP(2, [4], 1, "relu", "regression", seed=0)
    fresh.step(data.X[:10], data.y[:10], 0.01)
    assert np.geterr() == before
    with pytest.raises(FloatingPointError), np.errstate(over="raise"):
        np.array([1e308]) * 10.0  # the caller's own settings still hold
