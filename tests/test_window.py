"""The real main window, driven as a person would, headless."""

import time

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtWidgets import QApplication

from mlp_studio.app.main_window import MainWindow
from mlp_studio.app.trainer import SPEEDS
from mlp_studio.core.training import plane_grid


@pytest.fixture
def window(open_window):
    return open_window()


def full_speed(window):
    window.speed.setValue(SPEEDS.index(None))


def wait_for(qtbot, window, condition, timeout=10000):
    qtbot.waitUntil(lambda: window.snapshot is not None
                    and condition(window.snapshot), timeout=timeout)
    return window.snapshot


def test_opens_ready_to_train_on_the_spiral(window):
    snapshot = window.snapshot
    assert snapshot.sizes == (2, 8, 8, 1)
    assert snapshot.activations == ("tanh", "tanh")
    assert snapshot.train.name == "spiral"
    assert snapshot.updates == 0 and not snapshot.running
    assert snapshot.output_grid.shape == (200, 200)
    assert window.controls.dataset.currentData() == "spiral"


def test_space_trains_until_the_loss_falls_and_pauses(qtbot, window):
    first = window.snapshot.train_loss
    full_speed(window)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    wait_for(qtbot, window, lambda s: s.running and s.updates > 2000
             and s.train_loss < 0.8 * first)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    paused = wait_for(qtbot, window, lambda s: not s.running)
    qtbot.wait(100)
    assert window.snapshot.updates == paused.updates  # really paused
    assert window.play_action.text().endswith("Train")
    assert "Epoch" in window.status_epoch.text()


def test_status_bar_follows_training_a_few_times_a_second(window):
    from dataclasses import replace

    from mlp_studio.app.main_window import STATUS_INTERVAL

    now = [1e6]
    window._clock = lambda: now[0]
    first = window.snapshot
    for n in range(1, 11):  # ten frames within one interval
        window.show_snapshot(replace(first, updates=n, epochs=n, running=True))
        now[0] += STATUS_INTERVAL / 20
    assert "1 updates" in window.status_epoch.text()
    now[0] += STATUS_INTERVAL
    window.show_snapshot(replace(first, updates=11, epochs=11, running=True))
    assert "11 updates" in window.status_epoch.text()
    # A paused run shows its numbers at once.
    window.show_snapshot(replace(first, updates=12, epochs=12, running=False))
    assert "12 updates" in window.status_epoch.text()


def test_step_takes_exactly_one_update(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_S)
    wait_for(qtbot, window, lambda s: s.updates == 1)
    qtbot.keyClick(window, Qt.Key.Key_S)
    wait_for(qtbot, window, lambda s: s.updates == 2)
    qtbot.keyClick(window, Qt.Key.Key_E)  # to the end of the epoch
    snapshot = wait_for(qtbot, window, lambda s: s.epochs == 1)
    assert snapshot.updates == 25  # 250 training points in batches of 10
    assert not snapshot.running


def test_reset_gives_the_initial_weights_back(qtbot, window):
    initial = [w.copy() for w, _ in window.snapshot.params]
    full_speed(window)
    window.trainer.train_for(500)
    trained = wait_for(qtbot, window, lambda s: s.updates == 500
                       and not s.running)
    assert not np.array_equal(trained.params[0][0], initial[0])
    qtbot.keyClick(window, Qt.Key.Key_R)
    reset = wait_for(qtbot, window, lambda s: s.updates == 0)
    for (w, _), first in zip(reset.params, initial):
        np.testing.assert_array_equal(w, first)
    assert len(reset.history) == 1


def test_a_changed_learning_rate_reaches_the_running_trainer(qtbot, window):
    full_speed(window)
    window.trainer.start_training()
    wait_for(qtbot, window, lambda s: s.running and s.updates > 0)
    combo = window.controls.learning_rate
    combo.setCurrentIndex(combo.findData(0.1))
    snapshot = wait_for(qtbot, window, lambda s: s.training.learning_rate == 0.1)
    assert snapshot.running  # the change did not stop or restart training
    before = snapshot.updates
    wait_for(qtbot, window, lambda s: s.updates > before)


def test_architecture_change_restarts_from_the_seed(qtbot, window):
    window.controls.add_layer.click()
    snapshot = wait_for(qtbot, window, lambda s: len(s.sizes) == 5)
    assert snapshot.sizes == (2, 8, 8, 8, 1) and snapshot.updates == 0
    window.controls.feature_boxes["x1^2"].setChecked(True)
    snapshot = wait_for(qtbot, window, lambda s: s.sizes[0] == 3)
    assert snapshot.feature_names == ("x1", "x2", "x1^2")


def test_several_classes_and_regression(qtbot, window):
    problem = window.controls.problem
    problem.setCurrentIndex(problem.findData("multiclass"))
    snapshot = wait_for(qtbot, window, lambda s: s.task == "multiclass")
    assert snapshot.sizes[-1] == 3
    assert snapshot.output_grid.shape == (200, 200, 3)
    window.controls.classes.setValue(5)
    wait_for(qtbot, window, lambda s: s.sizes[-1] == 5)
    problem.setCurrentIndex(problem.findData("regression"))
    snapshot = wait_for(qtbot, window, lambda s: s.task == "regression")
    assert np.isnan(snapshot.train_accuracy)
    assert window.status_accuracy.text() == ""


def test_divergence_pauses_and_keeps_the_last_good_weights(qtbot, window):
    controls = window.controls
    controls.problem.setCurrentIndex(controls.problem.findData("regression"))
    controls.optimizer.setCurrentIndex(controls.optimizer.findData("sgd"))
    controls.learning_rate.setCurrentIndex(controls.learning_rate.findData(10.0))
    controls.layer_rows[0].activation.setCurrentIndex(
        controls.layer_rows[0].activation.findData("linear"))
    wait_for(qtbot, window, lambda s: s.training.learning_rate == 10.0
             and s.activations[0] == "linear")
    full_speed(window)
    window.trainer.start_training()
    qtbot.waitUntil(lambda: "diverged" in window.alert.text(), timeout=10000)
    snapshot = wait_for(qtbot, window, lambda s: not s.running)
    assert all(np.isfinite(w).all() and np.isfinite(b).all()
               for w, b in snapshot.params)


def test_the_window_never_holds_more_than_one_pending_snapshot(qtbot, window):
    emitted = []
    window.trainer.snapshot_ready.connect(
        lambda: emitted.append(1), Qt.ConnectionType.DirectConnection)
    full_speed(window)
    window.trainer.start_training()
    wait_for(qtbot, window, lambda s: s.running)
    for _ in range(3):
        # The GUI thread is busy; the trainer goes on training meanwhile
        # but posts at most one notice, and keeps the snapshot fresh.
        qtbot.wait(20)
        emitted.clear()
        block_start = window.snapshot.updates
        time.sleep(0.3)
        assert len(emitted) <= 1
        pending = window.trainer.take_snapshot()
        assert pending is not None and pending.updates > block_start
        assert window.trainer.take_snapshot() is None


def _trained_here(updates):
    """The default run, trained ``updates`` updates in this thread."""
    from mlp_studio.core.training import TrainingRun

    run = TrainingRun.default()
    run.run(updates)
    return run


def _assert_same_run(snapshot, run):
    for (w, b), (w_here, b_here) in zip(snapshot.params, run.model.params()):
        np.testing.assert_array_equal(w, w_here)
        np.testing.assert_array_equal(b, b_here)
    np.testing.assert_array_equal(snapshot.history, run.history.view())


def test_full_speed_trains_in_a_process_and_pauses_exactly(qtbot, window):
    full_speed(window)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    trainer = window.trainer
    qtbot.waitUntil(lambda: trainer.trains_in_process, timeout=20000)
    moved_at = window.snapshot.updates
    wait_for(qtbot, window, lambda s: s.updates > moved_at + 3000)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    paused = wait_for(qtbot, window, lambda s: not s.running)
    assert not trainer.trains_in_process
    # The weights, history and path are those of training right here.
    run = _trained_here(paused.updates)
    _assert_same_run(paused, run)
    np.testing.assert_array_equal(paused.trajectory, run.trajectory.view()[0])

    # A step goes on from there, in the thread.
    qtbot.keyClick(window, Qt.Key.Key_S)
    stepped = wait_for(qtbot, window, lambda s: s.updates == paused.updates + 1)
    run.run(1)
    _assert_same_run(stepped, run)

    process = trainer.process
    window.close()
    assert process.exit_code == 0


def test_a_lost_training_process_leaves_the_training_to_the_thread(
        qtbot, window):
    full_speed(window)
    window.trainer.start_training()
    trainer = window.trainer
    qtbot.waitUntil(lambda: trainer.trains_in_process, timeout=20000)
    wait_for(qtbot, window, lambda s: s.updates > 1000)
    trainer.process._process.kill()  # as if the system had killed it

    qtbot.waitUntil(lambda: trainer.process is None, timeout=10000)
    assert not trainer.trains_in_process
    lost_at = window.snapshot.updates
    wait_for(qtbot, window, lambda s: s.running and s.updates > lost_at + 500)
    window.trainer.pause()
    paused = wait_for(qtbot, window, lambda s: not s.running)
    # The run went on from the last whole state the process reported.
    _assert_same_run(paused, _trained_here(paused.updates))


def test_a_hung_training_process_is_ended_and_the_thread_trains(
        qtbot, window):
    import os
    import signal

    full_speed(window)
    trainer = window.trainer
    trainer.silence_limit = 0.5
    trainer.start_training()
    qtbot.waitUntil(lambda: trainer.trains_in_process, timeout=20000)
    wait_for(qtbot, window, lambda s: s.updates > 1000)
    child = trainer.process._process
    os.kill(child.pid, signal.SIGSTOP)  # alive, but silent
    try:
        qtbot.waitUntil(lambda: trainer.process is None, timeout=10000)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGCONT)
    assert child.poll() is not None  # killed, not left stopped
    stopped_at = window.snapshot.updates
    wait_for(qtbot, window,
             lambda s: s.running and s.updates > stopped_at + 500)
    trainer.pause()
    paused = wait_for(qtbot, window, lambda s: not s.running)
    _assert_same_run(paused, _trained_here(paused.updates))


def test_edges_thicken_with_the_weights(qtbot, window):
    full_speed(window)
    window.trainer.train_for(1000)
    snapshot = wait_for(qtbot, window, lambda s: s.updates == 1000
                        and not s.running)
    weights = snapshot.params[1][0]
    widths = np.array([[window.diagram.edge_item(1, i, j).pen().widthF()
                        for j in range(weights.shape[1])]
                       for i in range(weights.shape[0])])
    order = np.argsort(np.abs(weights).ravel())
    assert np.all(np.diff(widths.ravel()[order]) >= 0)
    assert widths.ravel()[order[-1]] > widths.ravel()[order[0]]


def test_editing_a_weight_by_hand(qtbot, window):
    window.set_weight(0, 1, 2, 3.25)
    snapshot = wait_for(qtbot, window, lambda s: s.params[0][0][1, 2] == 3.25)
    assert snapshot.updates == 0


def test_hovering_a_unit_shows_it_large(qtbot, window):
    window.diagram.unit_hovered.emit(1, 3)
    assert window.decision._unit_image is not None
    values = window.decision._unit_image[0]
    assert values.shape == (100, 100)
    assert np.abs(values).max() <= 1.0  # a tanh unit
    window.diagram.unit_hovered.emit(-1, -1)
    assert window.decision._unit_image is None


def test_hovering_a_first_layer_unit_marks_its_neuron_line(window):
    decision = window.decision
    line = decision.hovered_line
    window.diagram.unit_hovered.emit(1, 3)
    assert not line.isVisible()  # the neuron lines are off
    window.diagram.unit_hovered.emit(-1, -1)
    decision.set_show_lines(True)
    window.diagram.unit_hovered.emit(1, 3)
    assert line.isVisible()
    # On the line, unit 3 of the first layer is at zero. Its input is
    # (x1, x2), so z is linear in the plane and tracing it is exact.
    weight, bias = window.snapshot.params[0]
    x, y = line.getData()
    finite = np.isfinite(x)
    assert finite.sum() > 10
    z = np.column_stack([x[finite], y[finite]]) @ weight[:, 3] + bias[3]
    assert np.abs(z).max() < 1e-9
    window.diagram.unit_hovered.emit(2, 3)  # a second-layer unit: no line
    assert not line.isVisible()
    window.diagram.unit_hovered.emit(1, 0)
    window.diagram.unit_hovered.emit(-1, -1)
    assert not line.isVisible()
    assert decision.lines.isVisible()


def test_the_wish_field_each_frame_leaves_the_neuron_lines_alone(
        window, monkeypatch):
    decision = window.decision
    decision.set_show_lines(True)
    values = np.zeros((10, 10))
    redrawn = []
    original = decision._redraw_lines
    monkeypatch.setattr(decision, "_redraw_lines",
                        lambda: (redrawn.append(1), original()))
    for _ in range(3):  # as the wish field arrives with every snapshot
        decision.show_unit(values, kind="wish")
    assert redrawn == []
    decision.show_unit(values, line=2)  # a first-layer unit hovered
    decision.show_unit(None)
    assert len(redrawn) == 2


def test_hovering_the_error_curve_reads_out_that_epoch(qtbot, window):
    window.trainer.train_for(500)
    snapshot = wait_for(qtbot, window, lambda s: s.updates == 500
                        and not s.running)
    curve = window.curve
    history = snapshot.history
    row = history[len(history) // 2]
    viewport = curve.viewport()
    at = curve.mapFromScene(curve.loss.vb.mapViewToScene(
        QPointF(row[0], row[1])))
    qtbot.mouseMove(viewport, at)
    qtbot.waitUntil(curve.readout.isVisible, timeout=2000)
    text = curve.readout.textItem.toPlainText()
    # The nearest epoch to the pointer, within a pixel or so of the row.
    epoch = int(text.split("\n")[0].split()[1])
    shown = history[history[:, 0] == epoch][0]
    assert abs(epoch - row[0]) <= 2
    assert f"training loss {shown[1]:.4f}" in text
    assert f"test loss {shown[2]:.4f}" in text
    assert f"accuracy {shown[3]:.1%} / {shown[4]:.1%}" in text
    QApplication.sendEvent(curve, QEvent(QEvent.Type.Leave))
    assert not curve.readout.isVisible()
    assert not curve.cursor.isVisible()


def test_every_control_explains_itself(window):
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSpinBox,
        QComboBox,
        QSlider,
    )

    silent = []
    for kind in (QAbstractButton, QAbstractSpinBox, QComboBox, QSlider):
        for widget in window.findChildren(kind):
            # Qt's own dock button has no tooltip of ours to give.
            if widget.isVisible() and not widget.toolTip() \
                    and not widget.objectName().startswith("qt_"):
                silent.append(f"{type(widget).__name__} "
                              f"{getattr(widget, 'text', str)()!r}")
    assert len(window.controls.findChildren(QComboBox)) >= 6
    assert silent == []


def test_settings_persist(qtbot, settings):
    first = MainWindow(settings=settings, restore=True)
    qtbot.addWidget(first)
    combo = first.controls.learning_rate
    combo.setCurrentIndex(combo.findData(0.3))
    first.controls.points.setValue(300)
    first.close()
    assert first.trainer.isFinished()

    second = MainWindow(settings=settings, restore=True)
    qtbot.addWidget(second)
    assert second.controls.learning_rate.currentData() == 0.3
    assert second.controls.points.value() == 300
    qtbot.waitUntil(lambda: second.snapshot is not None, timeout=5000)
    assert len(second.snapshot.train) + len(second.snapshot.test) == 300
    second.close()


def test_malformed_saved_settings_fall_back_to_defaults(qtbot, settings):
    settings.setValue("version", 1)
    settings.setValue("controls", {"learning_rate": "fast", "hidden": [0, 99],
                                   "activations": ["tanh"], "points": -5,
                                   "dataset": "nope", "features": ["x9"]})
    settings.setValue("speed", "max")
    window = MainWindow(settings=settings, restore=True)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.snapshot is not None, timeout=5000)
    assert window.snapshot.sizes == (2, 8, 8, 1)
    window.close()


def test_about_names_the_version(window):
    from mlp_studio import __version__

    text = window.about_text()
    assert f"MLP Studio {__version__}" in text and "Qt" in text
    menus = [action.text() for action in window.menuBar().actions()]
    assert menus[-1] == "&Help"


def test_the_error_landscape_follows_the_run(qtbot, window):
    window.speed.setValue(SPEEDS.index(None))
    window.trainer.train_for(500)
    qtbot.waitUntil(lambda: window.snapshot.updates == 500
                    and not window.snapshot.running, timeout=10000)
    with qtbot.waitSignal(window.landscape.slice_shown, timeout=10000):
        window.landscape_action.trigger()
    assert window.landscape_dock.isVisible()
    result = window.landscape.result
    centre = result.losses[result.losses.shape[0] // 2,
                           result.losses.shape[1] // 2]
    assert centre == pytest.approx(window.snapshot.train_loss, rel=1e-9)
    assert len(window.snapshot.trajectory) == 21  # 20 epochs and the start


def test_the_decision_picture_is_the_output_over_the_plane(window,
                                                           train_window):
    from PySide6.QtCore import QPointF

    from mlp_studio.app import colors

    snapshot = train_window(window, 2000)
    item = window.decision.image
    picture = item.pixmap().toImage()
    assert (picture.width(), picture.height()) == (200, 200)

    # Each pixel is centred on its sample of the plane, with pixel row 0
    # at the bottom (x2 = -6) and the samples running from edge to edge.
    samples = plane_grid(200, 6.0).reshape(200, 200, 2)
    for row, column in [(0, 0), (199, 199), (0, 199), (120, 35)]:
        centre = item.mapToParent(QPointF(column + 0.5, row + 0.5))
        assert (centre.x(), centre.y()) == pytest.approx(
            tuple(samples[row, column]), abs=1e-9)

    # Each pixel is the colour map's colour for the probability there.
    lut = colors.diverging_lut().astype(int)
    grid = snapshot.output_grid
    assert grid.min() < 0.3 and grid.max() > 0.7  # a picture worth testing
    for row, column in [(0, 0), (199, 0), (0, 199), (120, 35), (57, 160)]:
        color = picture.pixelColor(column, row)
        shown = np.array([color.red(), color.green(), color.blue()])
        index = int(grid[row, column] * 255)
        nearest = np.abs(lut[max(index - 1, 0): index + 2] - shown).sum(1)
        assert nearest.min() == 0, (row, column)


def test_the_plane_fills_the_decision_plot_in_any_shape(qtbot, window):
    """The plot keeps itself square, so its locked aspect does not stretch
    an axis far past the plane."""
    from mlp_studio.app.plots import SquareFrame

    frame = window.decision.parentWidget()
    assert isinstance(frame, SquareFrame)
    view = window.decision.getPlotItem().vb
    for size in ((900, 420), (420, 900)):
        frame.resize(*size)
        side = min(size)
        qtbot.waitUntil(lambda side=side: window.decision.width() == side)
        geometry = window.decision.geometry()
        assert geometry.width() == geometry.height() == min(size)
        assert geometry.center().x() == pytest.approx(size[0] / 2, abs=1)
        assert geometry.center().y() == pytest.approx(size[1] / 2, abs=1)
        qtbot.wait(50)  # pyqtgraph fits the range on its next update
        for low, high in view.viewRange():
            assert -7.0 < low <= -6.0 and 6.0 <= high < 7.0


def test_a_diverging_regression_shows_without_warnings(window):
    """Outputs beyond single precision (a run about to diverge) show as the
    colour map's ends; no warning escapes into the event loop."""
    from dataclasses import replace

    snapshot = window.snapshot
    grid = np.full((200, 200), 1e300)
    grid[:, :50] = -np.inf
    grid[:50] = np.nan
    for task in ("regression", "binary"):
        window.show_snapshot(replace(snapshot, task=task, output_grid=grid))
        assert window.decision.image.pixmap().width() == 200


def test_the_application_icon_comes_from_resources_in_every_size(qapp):
    from pathlib import Path

    from mlp_studio.app.application import ICON_SIZES, application_icon

    icons = Path(__file__).resolve().parent.parent / "resources" / "icons"
    assert (icons / "icon.svg").is_file()
    sizes = {size.width() for size in application_icon().availableSizes()}
    assert sizes == set(ICON_SIZES)
    for size in ICON_SIZES:
        assert (icons / f"icon-{size}.png").is_file()


def test_a_screenshot_closes_without_asking_even_on_a_screen(
        qapp, tmp_path, monkeypatch):
    # With a real screen the window asks before discarding a trained run;
    # a screenshot has nobody to answer and must not ask.
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from mlp_studio.app import application, main_window

    monkeypatch.setattr(main_window, "_headless", lambda: False)
    asked = []

    def dismiss():  # a safety net: a question left open would hang here
        dialog = QApplication.activeModalWidget()
        if dialog is not None:
            asked.append(dialog.windowTitle())
            dialog.reject()

    watchdog = QTimer()
    watchdog.timeout.connect(dismiss)
    watchdog.start(100)
    path = tmp_path / "window.png"
    try:
        assert application.take_screenshot(str(path), steps=40) == 0
    finally:
        watchdog.stop()
    assert asked == []
    assert path.stat().st_size > 10_000


def _curve_points(item):
    path = item.path()
    return np.array([(path.elementAt(i).x, path.elementAt(i).y)
                     for i in range(path.elementCount())])


def test_the_error_curves_follow_the_history_in_both_scales(window,
                                                            train_window):
    snapshot = train_window(window, 600)
    history = snapshot.history
    plot = window.curve
    for item, column in plot.curves:
        # A short history: each epoch is a run of its own, drawn as its
        # lowest and highest value, which are the same.
        points = _curve_points(item)
        np.testing.assert_allclose(points[::2, 0], history[:, 0])
        np.testing.assert_allclose(points[::2, 1], history[:, column])
        np.testing.assert_allclose(points[1::2], points[::2])

    plot.set_log_scale(True)
    train_loss, _ = plot.curves[0]
    np.testing.assert_allclose(_curve_points(train_loss)[::2, 1],
                               np.log10(history[:, 1]))
    accuracy, _ = plot.curves[2]
    np.testing.assert_allclose(_curve_points(accuracy)[::2, 1], history[:, 3])


def test_a_growing_history_is_thinned_keeping_its_peaks():
    from mlp_studio.app.plots import PeakEnvelope

    rng = np.random.default_rng(0)
    n = 100_000
    history = np.empty((n, 5))
    history[:, 0] = np.arange(1, n + 1)
    history[:, 1:] = np.exp(-history[:, :1] / 30_000) + rng.normal(
        0, 0.01, (n, 4))
    history[[7, 54_321], 1] = [5.0, -1.0]  # two spikes
    history[60_000:62_000, 2] = np.nan  # a stretch with no test loss

    envelope = PeakEnvelope(1000)
    seen = 0
    while seen < n:  # frames, each bringing a few new epochs
        seen = min(n, seen + int(rng.integers(1, 3000)))
        envelope.update(history[:seen])
        starts, low, high = envelope.runs(history[:seen])
        assert len(starts) <= 1000 // 2 + 1
    assert starts[0] == 1.0 and np.all(np.diff(starts) > 0)
    assert np.nanmax(high[:, 0]) == 5.0 and np.nanmin(low[:, 0]) == -1.0
    assert np.isnan(low[:, 1]).any()  # the gap stays a gap
    # Every complete run holds exactly its rows' extremes.
    size = envelope.size
    for run in rng.integers(0, envelope.rows // size, 20):
        rows = history[run * size: (run + 1) * size, 1:]
        np.testing.assert_array_equal(low[run], np.fmin.reduce(rows, axis=0))
        np.testing.assert_array_equal(high[run], np.fmax.reduce(rows, axis=0))

    # Another, shorter history (a new run) starts afresh.
    envelope.update(history[:10])
    starts, low, _ = envelope.runs(history[:10])
    np.testing.assert_array_equal(starts, history[:10, 0])
    np.testing.assert_array_equal(low, history[:10, 1:])
