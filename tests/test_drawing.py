"""Drawing data by hand: the editor, and the mouse on the real plot."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPointF, Qt

from mlp_studio.app.trainer import SPEEDS
from mlp_studio.core.editing import DataEditor, PointSet, spray

# ----------------------------------------------------------------------
# The editor, without a window


def test_undo_and_redo_restore_exact_states():
    editor = DataEditor()
    states = [editor.points]
    editor.apply(editor.points.add([[1.0, 2.0]], 1, False))
    states.append(editor.points)
    editor.apply(editor.points.add([[-3.0, 0.5], [0.0, 0.0]], 0, [False, True]))
    states.append(editor.points)
    editor.apply(editor.points.move(0, [4.0, 4.0]))
    states.append(editor.points)
    editor.apply(editor.points.remove([1]))
    states.append(editor.points)
    for expected in reversed(states[:-1]):
        assert editor.undo()
        assert editor.points.same_as(expected)
    assert not editor.undo()
    for expected in states[1:]:
        assert editor.redo()
        assert editor.points.same_as(expected)
    assert not editor.redo()


def test_a_stroke_is_one_undo_step():
    editor = DataEditor()
    editor.begin_stroke()
    for k in range(5):
        editor.apply(editor.points.add([[k, k]], 0, False))
    editor.end_stroke()
    assert len(editor.points) == 5
    editor.undo()
    assert len(editor.points) == 0
    editor.redo()
    assert len(editor.points) == 5


def test_a_third_class_makes_the_set_multiclass():
    points = PointSet.empty().add([[0, 0]], 0, False).add([[1, 1]], 1, False)
    assert points.task == "binary" and points.n_classes == 2
    points = points.add([[2, 2]], 2, False)
    assert points.task == "multiclass" and points.n_classes == 3
    train, test = points.split()
    assert train.n_classes == 3 and len(test) == 0
    with pytest.raises(ValueError, match="class must be 0 to 5"):
        points.add([[0, 0]], 6, False)


def test_spray_stays_in_the_brush():
    points = spray(np.random.default_rng(0), (1.0, -1.0), 0.5, 500)
    assert points.shape == (500, 2)
    assert np.hypot(*(points - [1.0, -1.0]).T).max() <= 0.5 + 1e-12


def test_regression_points_carry_values():
    points = PointSet.empty("regression").add([[0, 0], [1, 1]], -0.25, False)
    assert points.y.tolist() == [-0.25, -0.25]
    with pytest.raises(ValueError, match="finite"):
        points.add([[0, 0]], float("nan"), False)


# ----------------------------------------------------------------------
# The real window


@pytest.fixture
def window(open_window):
    return open_window()


def pixel(window, x, y):
    """Viewport position of plane point (x, y) on the decision plot."""
    box = window.decision.getPlotItem().vb
    scene = box.mapViewToScene(QPointF(x, y))
    return window.decision.mapFromScene(scene)


def plane_units_per_pixel(window):
    box = window.decision.getPlotItem().vb
    return box.viewRect().width() / box.width()


def click(qtbot, window, x, y):
    qtbot.mouseClick(window.decision.viewport(), Qt.MouseButton.LeftButton,
                     pos=pixel(window, x, y))


def drag(qtbot, window, path):
    viewport = window.decision.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton,
                     pos=pixel(window, *path[0]))
    for point in path[1:]:
        qtbot.mouseMove(viewport, pixel(window, *point))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton,
                       pos=pixel(window, *path[-1]))


def wait_for_data(qtbot, window):
    """Until the trainer shows exactly the window's points."""
    def same():
        snapshot = window.snapshot
        points = window.editor.points
        return (snapshot.train is not None
                and len(snapshot.train) + len(snapshot.test) == len(points))
    qtbot.waitUntil(same, timeout=5000)


def test_clicks_add_points_where_they_land(qtbot, window):
    window.empty_canvas()
    assert window.palette.tool() == "add"
    targets = [(1.5, -2.0), (-4.0, 3.25), (0.0, 0.0)]
    for x, y in targets:
        click(qtbot, window, x, y)
    points = window.editor.points
    assert len(points) == 3
    tolerance = 1.5 * plane_units_per_pixel(window)
    np.testing.assert_allclose(points.X, targets, atol=tolerance)
    assert points.y.tolist() == [1, 1, 1]  # the palette's class 1
    wait_for_data(qtbot, window)


def test_drawn_points_have_no_generator_settings(qtbot, window):
    controls = window.controls
    generator = (controls.points, controls.noise, controls.data_seed,
                 controls.regenerate)
    assert all(widget.isEnabled() for widget in generator)
    window.palette.set_tool("add")
    click(qtbot, window, 1.5, -2.0)  # the spiral becomes drawn points
    drawn = window.editor.points
    assert controls.dataset.currentText() == "Drawn by hand"
    assert not any(widget.isEnabled() for widget in generator)
    assert controls.ratio.isEnabled()  # new points still use the share
    controls.dataset.setCurrentIndex(controls.dataset.findData("circle"))
    assert all(widget.isEnabled() for widget in generator)
    assert len(window.editor.points) == controls.points.value()
    window.undo()
    assert window.editor.points.same_as(drawn)
    assert controls.dataset.currentText() == "Drawn by hand"
    assert not any(widget.isEnabled() for widget in generator)


def test_erase_drag_removes_the_points_under_the_brush(qtbot, window):
    before = window.editor.points
    window.palette.set_tool("erase")
    window.palette.radius.setValue(10)  # 1 unit
    drag(qtbot, window, [(-5.5, 0.0), (-2.0, 0.0), (2.0, 0.0), (5.5, 0.0)])
    after = window.editor.points
    assert 0 < len(after) < len(before)
    # Nothing left near the stroke, everything far from it kept.
    assert np.abs(after.X[:, 1]).min() > 0.9
    far = np.abs(before.X[:, 1]) > 1.1
    assert len(after) >= far.sum()
    # The whole stroke is one undo step.
    window.undo()
    assert window.editor.points.same_as(before)
    wait_for_data(qtbot, window)


def test_spray_adds_points_in_the_brush_as_one_step(qtbot, window):
    window.empty_canvas()
    window.palette.set_tool("spray")
    window.palette.radius.setValue(5)
    viewport = window.decision.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton,
                     pos=pixel(window, 2.0, 2.0))
    qtbot.wait(150)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton,
                       pos=pixel(window, 2.0, 2.0))
    points = window.editor.points
    assert len(points) >= 8
    centre_tolerance = 1.5 * plane_units_per_pixel(window)
    assert np.hypot(*(points.X - 2.0).T).max() <= 0.5 + centre_tolerance
    window.undo()
    assert len(window.editor.points) == 0


def test_move_drags_a_point_and_undo_puts_it_back(qtbot, window):
    window.empty_canvas()
    click(qtbot, window, 1.0, 1.0)
    placed = window.editor.points
    window.palette.set_tool("move")
    drag(qtbot, window, [tuple(placed.X[0]), (2.0, 1.5), (3.0, -2.0)])
    moved = window.editor.points
    np.testing.assert_allclose(moved.X[0], [3.0, -2.0],
                               atol=1.5 * plane_units_per_pixel(window))
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.editor.points.same_as(placed)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert window.editor.points.same_as(moved)


def test_a_third_class_switches_the_task(qtbot, window):
    window.empty_canvas()
    for key, (x, y) in zip("012", [(-3, 0), (3, 0), (0, 3)]):  # classes 0-2
        qtbot.keyClick(window, getattr(Qt.Key, f"Key_{key}"))
        click(qtbot, window, x, y)
    assert window.editor.points.task == "multiclass"
    qtbot.waitUntil(lambda: window.snapshot.task == "multiclass"
                    and window.snapshot.sizes[-1] == 3, timeout=5000)


def test_drawing_while_training_reaches_the_trainer(qtbot, window):
    window.speed.setValue(SPEEDS.index(None))
    window.trainer.start_training()
    qtbot.waitUntil(lambda: window.snapshot.running
                    and window.snapshot.updates > 200, timeout=5000)
    window.palette.set_tool("add")
    window.palette.destination.setCurrentIndex(1)  # to the training set
    start = len(window.editor.points)
    for k in range(20):
        click(qtbot, window, -5 + k * 0.5, 5.0)
    assert len(window.editor.points) == start + 20
    wait_for_data(qtbot, window)
    snapshot = window.snapshot
    assert snapshot.running  # drawing did not stop training
    updates = snapshot.updates
    qtbot.waitUntil(lambda: window.snapshot.updates > updates, timeout=5000)
    drawn = window.snapshot.train.X[-20:]
    np.testing.assert_allclose(drawn[:, 1], 5.0,
                               atol=1.5 * plane_units_per_pixel(window))


def test_an_empty_canvas_says_what_is_missing(qtbot, window):
    window.empty_canvas()
    wait_for_data(qtbot, window)
    window.trainer.start_training()
    qtbot.waitUntil(lambda: "no training points" in window.alert.text(),
                    timeout=5000)
    assert not window.snapshot.running


def test_csv_round_trip_through_the_window(qtbot, window, tmp_path):
    path = tmp_path / "points.csv"
    before = window.editor.points
    assert window.save_data(str(path))
    window.clear_points()
    assert len(window.editor.points) == 0
    assert window.open_data(str(path))
    after = window.editor.points
    order = np.lexsort(before.X.T)
    again = np.lexsort(after.X.T)
    np.testing.assert_array_equal(after.X[again], before.X[order])
    np.testing.assert_array_equal(after.y[again], before.y[order])


def test_a_malformed_file_changes_nothing(qtbot, window, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x1,x2,label\n1,2,0\n3,abc,1\n", encoding="utf-8")
    before = window.editor.points
    assert not window.open_data(str(path))
    assert window.editor.points is before
    assert "line 3" in window.alert.text()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=400))
def test_random_files_never_crash_or_change_data(window, tmp_path, content):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(content)
    before = window.editor.points
    if not window.open_data(str(path)):
        assert window.editor.points is before
