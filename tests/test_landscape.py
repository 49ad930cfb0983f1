"""The loss landscape: slices of the training loss and the path on them."""

import sys
import time

import numpy as np
import pytest

from mlp_studio.core import MLP, make_dataset
from mlp_studio.core.landscape import (
    SliceCancelledError,
    bias_index,
    describe_param,
    flatten_params,
    loss_slice,
    param_blocks,
    pca_directions,
    project_path,
    random_directions,
    slice_axis,
    unflatten_params,
    weight_directions,
    weight_index,
)
from mlp_studio.core.training import TrainingRun

# ----------------------------------------------------------------------
# Helpers


def trained_path(run, steps=10, every=50):
    """(steps + 1, n_params) weights recorded every ``every`` updates."""
    path = [run.model.flat_params()]
    for _ in range(steps):
        run.run(every)
        path.append(run.model.flat_params())
    return np.array(path)


def naive_slice(model, X, y, center, d1, d2, span, resolution):
    """The slice one network at a time, through the engine's own loss."""
    axis = slice_axis(span, resolution)
    probe = MLP(model.inputs, model.hidden, model.outputs,
                [a.name for a in model.activations], model.task)
    losses = np.empty((resolution, resolution))
    for i, beta in enumerate(axis):
        for j, alpha in enumerate(axis):
            probe.set_flat_params(center + alpha * d1 + beta * d2)
            losses[i, j] = probe.loss(X, y)
    return losses


@pytest.fixture(scope="module")
def spiral_model():
    data = make_dataset("spiral", 500, 0.0, seed=0)
    model = MLP(2, [8, 8], 1, "tanh", "binary", seed=3)
    model.train_epoch(data.X, data.y, 0.03, batch_size=10)
    return model, data.X, data.y


NETWORKS = [
    ("spiral", 1, [8, 8], "tanh", "binary"),
    ("blobs", 3, [5, 4, 3], "relu", "multiclass"),
    ("plane", 1, [6], "swish", "regression"),
]


@pytest.fixture(params=NETWORKS, ids=[n[4] for n in NETWORKS])
def any_model(request):
    name, outputs, hidden, activation, task = request.param
    data = make_dataset(name, 120, 0.1, seed=1)
    model = MLP(2, hidden, outputs, activation, task, seed=2)
    model.train_epoch(data.X, data.y, 0.01, batch_size=20)
    return model, data.X, data.y


# ----------------------------------------------------------------------
# Layout


def test_flat_layout_is_the_networks(any_model):
    model, _, _ = any_model
    theta = flatten_params(model.params())
    assert np.array_equal(theta, model.flat_params())
    assert param_blocks(model.sizes)[-1][1] == model.n_params
    for (w, b), (w_back, b_back) in zip(model.params(),
                                        unflatten_params(theta, model.sizes)):
        assert np.array_equal(w, w_back) and np.array_equal(b, b_back)


def test_indices_name_the_weights_the_diagram_shows():
    model = MLP(2, [3], 1, "tanh", "binary", seed=0)
    theta = np.arange(model.n_params, dtype=float)
    layers = model.unflatten(theta)
    assert theta[weight_index(model.sizes, 0, 1, 2)] == layers[0][0][1, 2]
    assert theta[bias_index(model.sizes, 1, 0)] == layers[1][1][0]
    assert describe_param(model.sizes, weight_index(model.sizes, 0, 1, 2)) \
        == "w[1](2→3)"
    assert describe_param(model.sizes, bias_index(model.sizes, 1, 0)) \
        == "b[2](1)"


# ----------------------------------------------------------------------
# The slice


def test_the_centre_of_the_slice_is_the_current_loss(any_model):
    model, X, y = any_model
    d1, d2 = random_directions(model.params(), seed=5)
    alphas, betas, losses = loss_slice(model, X, y, model.flat_params(),
                                       d1, d2, span=0.7, resolution=9)
    assert alphas[4] == betas[4] == 0.0
    assert losses.shape == (9, 9)
    assert losses[4, 4] == pytest.approx(model.loss(X, y), abs=1e-12)


def test_the_loss_first_falls_along_the_negative_gradient(spiral_model):
    model, X, y = spiral_model
    downhill = -flatten_params(model.gradients(X, y))
    downhill /= np.linalg.norm(downhill)
    _, side = random_directions(model.params(), seed=1)
    _, _, losses = loss_slice(model, X, y, model.flat_params(), downhill,
                              side, span=0.05, resolution=11)
    middle = 5
    assert losses[middle, middle + 1] < losses[middle, middle]
    assert losses[middle, middle - 1] > losses[middle, middle]


def test_the_batched_slice_equals_one_network_at_a_time(any_model):
    model, X, y = any_model
    d1, d2 = random_directions(model.params(), seed=7)
    center = model.flat_params()
    _, _, fast = loss_slice(model, X, y, center, d1, d2, 1.5, 5)
    slow = naive_slice(model, X, y, center, d1, d2, 1.5, 5)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-10)


def test_rows_of_the_slice_are_beta():
    model = MLP(2, [4], 1, "tanh", "binary", seed=0)
    X = np.array([[0.5, -1.0], [2.0, 1.0]])
    y = np.array([0, 1])
    center = model.flat_params()
    d1, d2 = weight_directions(model.n_params, 0, 5)
    alphas, betas, losses = loss_slice(model, X, y, center, d1, d2, 2.0, 5)
    model.set_flat_params(center + alphas[4] * d1 + betas[1] * d2)
    assert losses[1, 4] == pytest.approx(model.loss(X, y), abs=1e-12)


def test_diverged_weights_give_inf_or_nan_without_warnings(spiral_model):
    model, X, y = spiral_model
    d1, d2 = weight_directions(model.n_params, 0, 1)
    _, _, losses = loss_slice(model, X, y, model.flat_params(), 1e300 * d1,
                              1e300 * d2, span=1e10, resolution=3)
    assert np.isfinite(losses[1, 1])
    assert not np.isfinite(losses).all() or losses.max() > 100


def test_a_slice_can_be_cancelled(spiral_model):
    model, X, y = spiral_model
    d1, d2 = random_directions(model.params(), seed=0)
    with pytest.raises(SliceCancelledError):
        loss_slice(model, X, y, model.flat_params(), d1, d2,
                   cancelled=lambda: True)


# ----------------------------------------------------------------------
# Directions


@pytest.mark.parametrize("include_bias", [True, False])
def test_random_directions_are_filter_normalised(spiral_model, include_bias):
    model, _, _ = spiral_model
    theta = model.flat_params()
    for direction in random_directions(model.params(), 4, include_bias):
        for start, stop, fan_in, fan_out in param_blocks(model.sizes):
            rows = direction[start:stop].reshape(fan_out, fan_in + 1)
            own = theta[start:stop].reshape(fan_out, fan_in + 1)
            if not include_bias:
                assert (rows[:, -1] == 0).all()
                rows, own = rows[:, :-1], own[:, :-1]
            np.testing.assert_allclose(np.linalg.norm(rows, axis=1),
                                       np.linalg.norm(own, axis=1),
                                       rtol=1e-12)


def test_random_directions_keep_their_orientation_as_weights_change(
        spiral_model):
    model, _, _ = spiral_model
    d1, d2 = random_directions(model.params(), seed=9)
    again = random_directions(model.params(), seed=9)
    assert np.array_equal(d1, again[0]) and np.array_equal(d2, again[1])
    doubled = [(2 * w, 2 * b) for w, b in model.params()]
    np.testing.assert_allclose(random_directions(doubled, seed=9)[0], 2 * d1)
    assert not np.allclose(random_directions(model.params(), seed=10)[0], d1)
    assert not np.allclose(d1, d2)


def test_principal_directions_explain_the_path_in_order():
    run = TrainingRun.default()
    path = trained_path(run)
    d1, d2, explained = pca_directions(path)
    np.testing.assert_allclose([d1 @ d1, d2 @ d2, d1 @ d2], [1, 1, 0],
                               atol=1e-12)
    assert 1.0 >= explained[0] >= explained[1] >= 0.0
    assert explained.sum() <= 1.0 + 1e-12


def test_a_planar_path_is_all_in_its_principal_plane(rng):
    center = rng.normal(size=30)
    u, v = rng.normal(size=30), rng.normal(size=30)
    coords = rng.normal(size=(12, 2))
    path = center + coords[:, :1] * u + coords[:, 1:] * v
    d1, d2, explained = pca_directions(path)
    assert explained.sum() == pytest.approx(1.0, abs=1e-12)
    projected = project_path(path, path[-1], d1, d2)
    rebuilt = path[-1] + projected[:, :1] * d1 + projected[:, 1:] * d2
    np.testing.assert_allclose(rebuilt, path, atol=1e-10)


def test_the_projected_path_of_a_run_starts_and_ends_where_it_should():
    run = TrainingRun.default()
    path = trained_path(run)
    d1, d2, _ = pca_directions(path)
    coords = project_path(path, path[-1], d1, d2)
    assert coords.shape == (len(path), 2)
    # The final point is the centre of the slice, exactly.
    assert coords[-1].tolist() == [0.0, 0.0]
    first = path[0] - path[-1]
    np.testing.assert_allclose(coords[0], [d1 @ first, d2 @ first],
                               atol=1e-10)
    assert (coords[0] < 0).all()  # the sign convention: it comes from -, -


def test_projection_undoes_non_orthogonal_directions(rng):
    center, d1 = rng.normal(size=20), rng.normal(size=20)
    d2 = d1 + 0.3 * rng.normal(size=20)
    coords = rng.normal(size=(7, 2))
    path = center + coords[:, :1] * d1 + coords[:, 1:] * d2
    np.testing.assert_allclose(project_path(path, center, d1, d2), coords,
                               atol=1e-9)


def test_weight_directions_move_one_parameter_each():
    d1, d2 = weight_directions(10, 3, 7)
    assert d1.sum() == d2.sum() == 1.0 and d1[3] == d2[7] == 1.0


# ----------------------------------------------------------------------
# Bad input


BAD_CALLS = {
    "a path of 2 points": lambda m, X, y, c, d1, d2: pca_directions(
        np.zeros((2, len(c)))),
    "a path that never moves": lambda m, X, y, c, d1, d2: pca_directions(
        np.ones((5, len(c)))),
    "a path of NaN": lambda m, X, y, c, d1, d2: pca_directions(
        np.full((5, len(c)), np.nan)),
    "a 1-D path": lambda m, X, y, c, d1, d2: pca_directions(c),
    "one weight twice": lambda m, X, y, c, d1, d2: weight_directions(
        len(c), 2, 2),
    "a weight past the end": lambda m, X, y, c, d1, d2: weight_directions(
        len(c), 0, len(c)),
    "one feature too few": lambda m, X, y, c, d1, d2: loss_slice(
        m, X[:, :1], y, c, d1, d2),
    "no points": lambda m, X, y, c, d1, d2: loss_slice(
        m, X[:0], y[:0], c, d1, d2),
    "a label missing": lambda m, X, y, c, d1, d2: loss_slice(
        m, X, y[:-1], c, d1, d2),
    "a short centre": lambda m, X, y, c, d1, d2: loss_slice(
        m, X, y, c[:-1], d1, d2),
    "a zero span": lambda m, X, y, c, d1, d2: loss_slice(
        m, X, y, c, d1, d2, span=0.0),
    "a one-point grid": lambda m, X, y, c, d1, d2: loss_slice(
        m, X, y, c, d1, d2, resolution=1),
    "parallel directions": lambda m, X, y, c, d1, d2: project_path(
        c[None], c, d1, 2 * d1),
    "NaN weights": lambda m, X, y, c, d1, d2: random_directions(
        [(np.full((2, 3), np.nan), np.zeros(3))]),
    "a layer too many": lambda m, X, y, c, d1, d2: weight_index(
        m.sizes, 5, 0, 0),
}


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_bad_inputs_are_refused(spiral_model, call):
    model, X, y = spiral_model
    d1, d2 = random_directions(model.params(), seed=0)
    with pytest.raises(ValueError):
        call(model, X, y, model.flat_params(), d1, d2)


def test_a_short_path_says_how_many_points_it_needs():
    with pytest.raises(ValueError, match="at least 3"):
        pca_directions(np.zeros((2, 5)))


# ----------------------------------------------------------------------
# The panel


@pytest.fixture
def panel(qtbot):
    from mlp_studio.app.landscape import LandscapePanel

    panel = LandscapePanel(resolution=21)
    qtbot.addWidget(panel)
    panel.resize(520, 520)
    panel.show()
    yield panel
    panel.shutdown()
    assert not panel.worker.isRunning()


@pytest.fixture
def recorded():
    run = TrainingRun.default()
    path = trained_path(run)
    return run, run.snapshot(grids=False), path


def choose(panel, mode):
    from mlp_studio.app.landscape import MODES

    panel.mode.setCurrentIndex([key for key, _ in MODES].index(mode))


def test_the_panel_shows_a_slice_and_the_path(qtbot, panel, recorded):
    _, snapshot, path = recorded
    with qtbot.waitSignal(panel.slice_shown, timeout=10000):
        panel.show_snapshot(snapshot, path)
    result = panel.result
    assert result.losses.shape == (21, 21)
    assert result.losses[10, 10] == pytest.approx(snapshot.train_loss,
                                                  abs=1e-12)
    assert panel.image.image is not None
    xs, ys = panel.path_item.getData()
    assert len(xs) == len(path)
    # The slice is centred on the current weights: the path ends there.
    assert (xs[-1], ys[-1]) == (0.0, 0.0)
    now = panel.now_item.getData()
    assert (now[0][0], now[1][0]) == (0.0, 0.0)
    assert panel.status.text().startswith("Loss at the centre")


def test_switching_directions_computes_a_new_slice(qtbot, panel, recorded):
    _, snapshot, path = recorded
    with qtbot.waitSignal(panel.slice_shown, timeout=10000):
        panel.show_snapshot(snapshot, path)
    assert panel.result.request.mode == "random"
    assert not panel.weights_box.isVisible()

    with qtbot.waitSignal(panel.slice_shown, timeout=10000):
        choose(panel, "pca")
    assert panel.result.request.mode == "pca"
    assert panel.result.explained[0] >= panel.result.explained[1]
    assert "principal" in panel.plot.getAxis("bottom").labelText

    with qtbot.waitSignal(panel.slice_shown, timeout=10000):
        panel.set_weight_indices(4, 9)
    assert panel.current_mode() == "weights"
    assert panel.weights_box.isVisible()
    assert panel.result.request.indices == (4, 9)
    assert panel.name1.text() == describe_param(snapshot.sizes, 4)

    seed = panel.result.request.seed
    with qtbot.waitSignal(panel.slice_shown, timeout=10000):
        choose(panel, "random")
    with qtbot.waitSignal(panel.slice_shown, timeout=10000):
        panel.new_random.click()
    assert panel.result.request.seed == seed + 1


def test_only_the_newest_request_is_computed(qtbot, panel, recorded):
    _, snapshot, path = recorded
    with qtbot.waitSignal(panel.slice_shown, timeout=10000):
        panel.show_snapshot(snapshot, path)
    computed = []
    panel.worker.computed.connect(computed.append)
    for step in range(1, 11):
        panel.span.setValue(1.0 + 0.1 * step)
    qtbot.waitUntil(lambda: panel.result.request.span == pytest.approx(2.0),
                    timeout=10000)
    qtbot.wait(100)
    assert len(computed) < 10
    assert panel.result.request.span == pytest.approx(2.0)


def test_a_moving_centre_is_sliced_at_most_twice_a_second(qtbot, panel):
    run = TrainingRun.default()
    first = run.snapshot(grids=False)
    with qtbot.waitSignal(panel.slice_shown, timeout=10000):
        panel.show_snapshot(first, None)
    requests = []
    panel.worker.computed.connect(requests.append)
    started = time.perf_counter()
    for _ in range(5):
        run.run(10)
        panel.show_snapshot(run.snapshot(grids=False), None)
    latest = run.model.flat_params()
    qtbot.waitUntil(lambda: np.array_equal(panel.result.request.center,
                                           latest), timeout=10000)
    assert len(requests) <= 1 + (time.perf_counter() - started) / 0.5


def test_the_log_scale_redraws_without_recomputing(qtbot, panel, recorded):
    _, snapshot, path = recorded
    with qtbot.waitSignal(panel.slice_shown, timeout=10000):
        panel.show_snapshot(snapshot, path)
    result = panel.result
    log_levels = panel.image.getLevels()
    panel.log_scale.setChecked(False)
    assert panel.result is result
    assert panel.image.getLevels()[1] == pytest.approx(result.losses.max())
    assert log_levels[1] == pytest.approx(np.log10(result.losses.max()))


def test_too_short_a_path_for_principal_directions_says_so(qtbot, panel):
    run = TrainingRun.default()
    choose(panel, "pca")
    with qtbot.waitSignal(panel.worker.failed, timeout=10000):
        panel.show_snapshot(run.snapshot(grids=False), None)
    assert "at least 3" in panel.status.text()
    assert panel.result is None


def test_a_new_architecture_starts_afresh(qtbot, panel, recorded):
    run, snapshot, path = recorded
    with qtbot.waitSignal(panel.slice_shown, timeout=10000):
        panel.show_snapshot(snapshot, path)
    run.set_model(type(run.model_settings)(hidden=(3,),
                                           activations=("relu",)))
    small = run.snapshot(grids=False)
    with qtbot.waitSignal(panel.slice_shown, timeout=10000):
        panel.show_snapshot(small, path)  # the old path no longer fits: ignored
    assert len(panel.result.request.center) == run.model.n_params
    assert panel.index1.maximum() == run.model.n_params - 1
    assert len(panel.path_item.getData()[0]) == 1


def test_a_hidden_panel_computes_nothing_until_shown(qtbot, recorded):
    from mlp_studio.app.landscape import LandscapePanel

    _, snapshot, path = recorded
    panel = LandscapePanel(resolution=11)
    qtbot.addWidget(panel)
    try:
        panel.show_snapshot(snapshot, path)
        assert not panel.worker.isRunning() and panel.result is None
        with qtbot.waitSignal(panel.slice_shown, timeout=10000):
            panel.show()
    finally:
        panel.shutdown()
    assert panel.worker.isFinished()


def test_shutdown_stops_the_thread_and_later_snapshots_are_ignored(
        qtbot, panel, recorded):
    _, snapshot, path = recorded
    with qtbot.waitSignal(panel.slice_shown, timeout=10000):
        panel.show_snapshot(snapshot, path)
    panel.shutdown()
    assert panel.worker.isFinished()
    panel.show_snapshot(snapshot, path)
    assert not panel.worker.isRunning()


def test_without_opengl_the_3d_switch_is_off_and_says_why(panel):
    from mlp_studio.app.landscape import opengl_unavailable

    reason = opengl_unavailable()
    if reason:
        assert not panel.three_d.isEnabled()
        assert reason in panel.three_d.toolTip()
    assert panel.stack.currentWidget() is panel.plot_widget


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="a thread's own priority is Linux's alone")
def test_the_slice_thread_yields_to_training_and_drawing():
    """Lower priority, not SCHED_IDLE (Qt's IdlePriority), which starved
    slices for ten seconds and more while one core was busy."""
    import os
    import threading

    from mlp_studio.app.landscape import SLICE_NICENESS, _yield_to_others

    seen = {}

    def thread():
        _yield_to_others()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS,
                                      threading.get_native_id())
        seen["policy"] = os.sched_getscheduler(0)

    worker = threading.Thread(target=thread)
    worker.start()
    worker.join()
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert seen["nice"] == min(19, own + SLICE_NICENESS)
    assert seen["policy"] == os.SCHED_OTHER
    assert os.getpriority(os.PRIO_PROCESS, 0) == own  # the rest unchanged
