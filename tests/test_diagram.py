"""The network diagram: one edge per weight styled by the weight, live
updates that reuse the scene, hover and click, and a layout without
overlap from a perceptron up to ten layers of sixteen."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QGraphicsSimpleTextItem

from mlp_studio.app import diagram
from mlp_studio.app.diagram import EdgeItem, NetworkDiagram, NodeItem
from mlp_studio.core import make_dataset
from mlp_studio.core.training import ModelSettings, TrainingRun


@pytest.fixture(scope="module")
def trained():
    """The default spiral network after 200 updates, and its run."""
    run = TrainingRun.default()
    run.run(200)
    return run, run.snapshot()


@pytest.fixture
def view(qtbot):
    view = NetworkDiagram()
    qtbot.addWidget(view)
    view.resize(520, 420)
    view.show()
    qtbot.waitExposed(view)
    return view


def with_weights(snapshot, layer, weights=None, biases=None):
    """``snapshot`` with layer ``layer``'s weights or biases replaced."""
    params = list(snapshot.params)
    old_w, old_b = params[layer]
    params[layer] = (
        old_w if weights is None else np.asarray(weights, float),
        old_b if biases is None else np.asarray(biases, float),
    )
    return replace(snapshot, params=tuple(params))


def scene_edges(view):
    return [item for item in view.scene().items() if isinstance(item, EdgeItem)]


def scene_nodes(view):
    return [item for item in view.scene().items() if isinstance(item, NodeItem)]


def width(view, layer, i, j):
    return view.edge_item(layer, i, j).pen().widthF()


def is_blue(color):
    return color.blue() > color.red()


def is_orange(color):
    return color.red() > color.blue()


def path_points(edge, count=101):
    path = edge.path()
    points = (path.pointAtPercent(t) for t in np.linspace(0, 1, count))
    return np.array([(point.x(), point.y()) for point in points])


def viewport_point_on(view, edge, clearance=3.0):
    """A viewport point on ``edge`` at least ``clearance`` scene units
    from every other edge of its layer: edges cross, so not every point
    of the curve will do."""
    others = np.concatenate([
        path_points(other) for other in view.edge_items()
        if other.layer == edge.layer and other is not edge
    ])
    for point in path_points(edge, 41)[4:-4]:
        if np.hypot(*(others - point).T).min() >= clearance:
            return view.mapFromScene(QPointF(*point))
    raise AssertionError(f"no clear point on edge {edge.layer, edge.i, edge.j}")


# ----------------------------------------------------------------------
# Edges


def test_a_new_frame_paints_without_calling_into_python(view, trained):
    """Restyled edges and biases are drawn by Qt alone. A call back into
    Python from the event loop would wait for the trainer thread to let go
    of the interpreter, once for each edge whose pen changed."""
    import sys

    _, snapshot = trained
    view.show_snapshot(snapshot)
    QApplication.processEvents()
    # Every weight and bias changes: every edge and bias marker restyles.
    params = tuple((-2.0 * w, -2.0 * b) for w, b in snapshot.params)
    view.show_snapshot(replace(snapshot, params=params))

    called = []

    def watch(frame, event, arg):
        if event == "call":
            called.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")

    sys.setprofile(watch)
    try:
        QApplication.processEvents()
    finally:
        sys.setprofile(None)
    assert [name for name in called if "mlp_studio" in name] == []


def test_one_edge_item_per_weight(view, trained):
    _, snapshot = trained
    view.show_snapshot(snapshot)

    weights = sum(w.size for w, _ in snapshot.params)
    assert weights == 2 * 8 + 8 * 8 + 8 * 1
    assert len(scene_edges(view)) == weights
    for layer, (w, _) in enumerate(snapshot.params):
        for i, j in itertools.product(*map(range, w.shape)):
            edge = view.edge_item(layer, i, j)
            assert (edge.layer, edge.i, edge.j) == (layer, i, j)


def test_edge_width_grows_with_magnitude_and_is_clamped(view, trained):
    _, snapshot = trained
    ramp = np.linspace(0.0, 2.8, 8)
    weights = np.array([ramp, [0.5, -0.5, 1e3, -1e6, 1e9, 0.5, -2.0, 2.0]])
    view.show_snapshot(with_weights(snapshot, 0, weights))

    widths = [width(view, 0, 0, j) for j in range(8)]
    assert all(a < b for a, b in itertools.pairwise(widths)), widths
    assert width(view, 0, 1, 0) == width(view, 0, 1, 1) == width(view, 0, 1, 5)
    assert width(view, 0, 1, 6) == width(view, 0, 1, 7)
    huge = [width(view, 0, 1, j) for j in (2, 3, 4)]
    assert huge == [diagram.EDGE_MAX_WIDTH] * 3
    assert diagram.EDGE_MAX_WIDTH <= 10
    assert max(widths) <= diagram.EDGE_MAX_WIDTH


def test_edge_colour_shows_the_sign(view, trained):
    _, snapshot = trained
    view.show_snapshot(snapshot)

    signs = {True: 0, False: 0}
    for layer, (w, _) in enumerate(snapshot.params):
        for (i, j), value in np.ndenumerate(w):
            color = view.edge_item(layer, i, j).pen().color()
            assert is_blue(color) if value >= 0 else is_orange(color)
            signs[value >= 0] += 1
    assert signs[True] and signs[False]  # both colours were checked


def test_a_new_snapshot_restyles_the_same_items(view, trained):
    run, first = trained
    view.show_snapshot(first)
    edges = view.edge_items()
    nodes = view.node_items()
    before = [edge.pen().widthF() for edge in edges]

    second = with_weights(first, 1, -2.0 * first.params[1][0])
    view.show_snapshot(second)

    assert all(a is b for a, b in zip(view.edge_items(), edges))
    assert all(a is b for a, b in zip(view.node_items(), nodes))
    assert len(scene_edges(view)) == len(edges)
    after = [edge.pen().widthF() for edge in edges]
    assert after != before
    for (i, j), value in np.ndenumerate(second.params[1][0]):
        expected = min(diagram.EDGE_MAX_WIDTH,
                       diagram.EDGE_MIN_WIDTH + diagram.EDGE_GAIN * abs(value))
        assert width(view, 1, i, j) == pytest.approx(
            expected, abs=diagram.EDGE_WIDTH_STEP / 2)
        assert is_orange(view.edge_item(1, i, j).pen().color()) == (value < 0)


def test_a_new_architecture_rebuilds_the_scene(view, trained):
    _, snapshot = trained
    view.show_snapshot(snapshot)
    old_edges = view.edge_items()

    run = TrainingRun(make_dataset("spiral", 200, 0.0, seed=0),
                      ModelSettings(features=("x1", "x2", "x1^2"),
                                    hidden=(3,), activations=("relu",)))
    other = run.snapshot()
    view.show_snapshot(other)

    assert len(scene_edges(view)) == 3 * 3 + 3 * 1
    assert len(scene_nodes(view)) == 3 + 3 + 1
    assert not any(new is old for new in view.edge_items() for old in old_edges)
    texts = {item.text() for item in view.scene().items()
             if isinstance(item, QGraphicsSimpleTextItem)}
    assert {"ReLU", "3 neurons", "x₁²"} <= texts
    assert "Tanh" not in texts


def test_changing_only_an_activation_rebuilds_the_captions(view, trained):
    _, snapshot = trained
    view.show_snapshot(snapshot)
    view.show_snapshot(replace(snapshot, activations=("tanh", "sigmoid")))

    texts = {item.text() for item in view.scene().items()
             if isinstance(item, QGraphicsSimpleTextItem)}
    assert {"Tanh", "Sigmoid"} <= texts


# ----------------------------------------------------------------------
# Nodes and biases


def test_input_nodes_show_their_feature_upright(view, trained):
    _, snapshot = trained
    view.show_snapshot(snapshot)

    x1 = view.node_item(0, 0).image()
    x2 = view.node_item(0, 1).image()
    last = x1.width() - 1
    assert is_orange(x1.pixelColor(0, 0)) and is_blue(x1.pixelColor(last, 0))
    # Image row 0 is the top of the plane, where x2 is largest.
    assert is_blue(x2.pixelColor(0, 0)) and is_orange(x2.pixelColor(0, last))


def test_hidden_heat_map_follows_the_grid_values(view, trained):
    _, snapshot = trained
    grids = list(snapshot.neuron_grids)
    rows = grids[0].shape[1]
    ramp = np.linspace(-1, 1, rows, dtype=np.float32)[:, None]  # bottom up
    grids[0] = np.broadcast_to(ramp, grids[0].shape).copy()
    view.show_snapshot(replace(snapshot, neuron_grids=tuple(grids)))

    image = view.node_item(1, 0).image()
    top, bottom = image.pixelColor(5, 0), image.pixelColor(5, rows - 1)
    middle = image.pixelColor(5, rows // 2)
    assert is_blue(top) and is_orange(bottom)
    assert min(middle.red(), middle.green(), middle.blue()) > 200


def test_multiclass_outputs_show_probabilities(view):
    run = TrainingRun(make_dataset("blobs", 300, 0.1, 0, classes=4),
                      ModelSettings(hidden=(), activations=()))
    run.run(100)
    snapshot = run.snapshot()
    view.show_snapshot(snapshot)

    assert len(scene_edges(view)) == 2 * 4
    probabilities = snapshot.neuron_grids[-1]
    for unit in range(4):
        image = view.node_item(1, unit).image()
        assert image is not None
        # Where class ``unit`` is unlikely, the map is near white.
        rows, columns = np.unravel_index(np.argmin(probabilities[unit]),
                                         probabilities[unit].shape)
        pale = image.pixelColor(int(columns), image.height() - 1 - int(rows))
        assert min(pale.red(), pale.green(), pale.blue()) > 200


def test_bias_marker_shows_sign_and_magnitude(view, trained):
    _, snapshot = trained
    biases = np.array([0.0, 0.2, 0.8, 3.0, -0.2, -0.8, -3.0, 1e6])
    view.show_snapshot(with_weights(snapshot, 0, biases=biases))

    markers = [view.node_item(1, unit).bias for unit in range(8)]
    sides = [marker.side for marker in markers]
    assert sides[0] < sides[1] < sides[2] < sides[3]
    assert sides[1:4] == sides[4:7]
    assert sides[7] == diagram.BIAS_MAX_SIDE
    assert all(marker.key % 2 == 1 for marker in markers[4:7])
    assert all(marker.key % 2 == 0 for marker in markers[:4])


def test_a_diverging_run_shows_without_warnings(view, trained):
    _, snapshot = trained
    weights = snapshot.params[1][0].copy()
    weights[0, :3] = (np.inf, -np.inf, np.nan)
    weights[1, 0] = 1e308
    grids = list(snapshot.neuron_grids)
    grids[0] = grids[0].copy()
    grids[0][0, :2, 0] = (np.finfo(np.float32).max, np.nan)
    grids[0][1, :2, 0] = (np.inf, -np.inf)
    broken = with_weights(snapshot, 1, weights, biases=[np.nan] * 8)
    view.show_snapshot(replace(broken, neuron_grids=tuple(grids),
                               activations=("relu", "tanh")))

    assert width(view, 1, 0, 0) == diagram.EDGE_MAX_WIDTH
    assert width(view, 1, 1, 0) == diagram.EDGE_MAX_WIDTH
    assert view.node_item(1, 0).image() is not None


def test_a_snapshot_without_grids_keeps_the_heat_maps(view, trained):
    run, snapshot = trained
    view.show_snapshot(snapshot)
    image = view.node_item(1, 0).image()
    view.show_snapshot(replace(snapshot, neuron_grids=()))
    assert view.node_item(1, 0).image() is image


# ----------------------------------------------------------------------
# Hover and click


def test_hovering_a_node_reports_the_unit(view, trained, qtbot):
    _, snapshot = trained
    view.show_snapshot(snapshot)
    last = len(snapshot.sizes) - 1
    seen = []
    view.unit_hovered.connect(lambda layer, unit: seen.append((layer, unit)))
    outside = QPoint(3, 3)  # the scene's empty top-left margin

    for layer, unit in ((0, 1), (2, 5), (last, 0)):
        centre = view.mapFromScene(view.node_item(layer, unit).scenePos())
        with qtbot.waitSignal(view.unit_hovered):
            qtbot.mouseMove(view.viewport(), centre)
        assert seen[-1] == (layer, unit)

        with qtbot.waitSignal(view.unit_hovered):
            qtbot.mouseMove(view.viewport(), outside)
        assert seen[-1] == (-1, -1)
    assert seen == [(0, 1), (-1, -1), (2, 5), (-1, -1), (last, 0), (-1, -1)]


def test_moving_from_node_to_node_ends_on_the_new_unit(view, trained, qtbot):
    _, snapshot = trained
    view.show_snapshot(snapshot)
    seen = []
    view.unit_hovered.connect(lambda layer, unit: seen.append((layer, unit)))

    for unit in (2, 3):
        centre = view.mapFromScene(view.node_item(1, unit).scenePos())
        qtbot.mouseMove(view.viewport(), centre)
    qtbot.waitUntil(lambda: seen[-1:] == [(1, 3)])
    assert seen == [(1, 2), (-1, -1), (1, 3)]


def test_a_rebuild_under_the_mouse_ends_the_hover(view, trained, qtbot):
    _, snapshot = trained
    view.show_snapshot(snapshot)
    centre = view.mapFromScene(view.node_item(1, 0).scenePos())
    with qtbot.waitSignal(view.unit_hovered):
        qtbot.mouseMove(view.viewport(), centre)

    # The hovered item is deleted with the old scene: the window must not
    # keep showing a unit that no longer exists.
    smaller = TrainingRun(make_dataset("circle", 100, 0.0, seed=0),
                          ModelSettings(hidden=(), activations=()))
    with qtbot.waitSignal(view.unit_hovered) as blocker:
        view.show_snapshot(smaller.snapshot())
    assert blocker.args == [-1, -1]


def test_hovering_an_edge_highlights_it_and_shows_w_and_gradient(
        view, trained, qtbot):
    _, snapshot = trained
    view.show_snapshot(snapshot)
    edge = view.edge_item(1, 3, 5)
    point = viewport_point_on(view, edge)

    qtbot.mouseMove(view.viewport(), point)
    qtbot.waitUntil(lambda: view.info_text() != "")

    w = snapshot.params[1][0][3, 5]
    grad = snapshot.gradients[1][0][3, 5]
    # People count layers and units from 1, as the weight editor does.
    assert view.info_text() == f"w[2](4→6) = {w:.3g}, ∂E/∂w = {grad:.3g}"
    assert edge.zValue() > view.edge_item(1, 3, 4).zValue()

    qtbot.mouseMove(view.viewport(), point + QPoint(0, 200))
    qtbot.waitUntil(lambda: edge.zValue() == 0)


def test_hovering_a_bias_shows_its_value(view, trained, qtbot):
    _, snapshot = trained
    view.show_snapshot(snapshot)
    marker = view.node_item(2, 4).bias

    qtbot.mouseMove(view.viewport(), view.mapFromScene(marker.scenePos()))
    bias = snapshot.params[1][1][4]
    qtbot.waitUntil(lambda: view.info_text() == f"bias b = {bias:.3g}")


def test_clicking_an_edge_reports_its_weight(view, trained, qtbot):
    _, snapshot = trained
    view.show_snapshot(snapshot)

    for layer, i, j in ((0, 1, 6), (1, 3, 5), (2, 7, 0)):
        point = viewport_point_on(view, view.edge_item(layer, i, j))
        with qtbot.waitSignal(view.edge_clicked) as blocker:
            qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                             pos=point)
        assert blocker.args == [layer, i, j]


def test_a_thin_edge_is_easy_to_hit(view, qtbot):
    run = TrainingRun(make_dataset("circle", 100, 0.0, seed=0),
                      ModelSettings(hidden=(), activations=()))
    snapshot = run.snapshot()
    view.show_snapshot(with_weights(snapshot, 0, [[0.0], [0.0]]))
    edge = view.edge_item(0, 0, 0)
    assert edge.pen().widthF() == diagram.EDGE_MIN_WIDTH

    beside = view.mapFromScene(edge.path().pointAtPercent(0.3)) + QPoint(0, 4)
    with qtbot.waitSignal(view.edge_clicked) as blocker:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                         pos=beside)
    assert blocker.args == [0, 0, 0]


def test_clicking_beside_an_edge_reports_nothing(view, qtbot):
    run = TrainingRun(make_dataset("circle", 100, 0.0, seed=0),
                      ModelSettings(hidden=(), activations=()))
    view.show_snapshot(run.snapshot())
    # The perceptron's two edges meet at the output: between the inputs,
    # well away from both curves, is empty background.
    between = (view.node_item(0, 0).scenePos()
               + view.node_item(0, 1).scenePos()) / 2
    assert view.edge_at(between + QPointF(60, 0)) is None
    with qtbot.assertNotEmitted(view.edge_clicked, wait=100):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                         pos=view.mapFromScene(between + QPointF(60, 0)))


def test_a_click_slot_may_rebuild_the_diagram(view, trained, qtbot):
    _, snapshot = trained
    view.show_snapshot(snapshot)
    smaller = TrainingRun(make_dataset("circle", 100, 0.0, seed=0),
                          ModelSettings(hidden=(), activations=()))
    view.edge_clicked.connect(
        lambda *where: view.show_snapshot(smaller.snapshot()))

    point = viewport_point_on(view, view.edge_item(1, 3, 5))
    with qtbot.waitSignal(view.edge_clicked):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                         pos=point)
    assert len(scene_edges(view)) == 2


# ----------------------------------------------------------------------
# Layout and zoom


def test_ten_layers_of_sixteen_do_not_overlap(view):
    sizes = (16,) * 10
    run = TrainingRun(make_dataset("spiral", 200, 0.0, seed=0),
                      ModelSettings(hidden=sizes, activations=("tanh",) * 10))
    view.show_snapshot(run.snapshot())

    nodes = scene_nodes(view)
    assert len(nodes) == 2 + 160 + 1
    rects = [node.mapRectToScene(diagram._NODE_RECT) for node in nodes]
    for a, b in itertools.combinations(rects, 2):
        assert not a.intersects(b)
    scene = view.sceneRect()
    assert all(scene.contains(rect) for rect in rects)
    assert rects[0].width() >= 40  # fixed size: readable when zoomed to 1
    # It does not fit at a readable zoom, so the view scrolls.
    assert view.zoom() == pytest.approx(diagram.MIN_FIT_SCALE)
    assert view.horizontalScrollBar().maximum() > 0


def test_a_perceptron_is_not_blown_up(view):
    run = TrainingRun(make_dataset("circle", 100, 0.0, seed=0),
                      ModelSettings(hidden=(), activations=()))
    view.show_snapshot(run.snapshot())
    assert len(scene_edges(view)) == 2
    assert view.zoom() == pytest.approx(diagram.MAX_FIT_SCALE)


def test_ctrl_wheel_zooms_and_plain_wheel_does_not(view, trained):
    _, snapshot = trained
    view.show_snapshot(snapshot)
    start = view.zoom()

    def wheel(modifiers):
        centre = QPointF(view.viewport().rect().center())
        event = QWheelEvent(centre, view.viewport().mapToGlobal(centre),
                            QPoint(), QPoint(0, 120), Qt.MouseButton.NoButton,
                            modifiers, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(view.viewport(), event)

    wheel(Qt.KeyboardModifier.NoModifier)
    assert view.zoom() == start
    wheel(Qt.KeyboardModifier.ControlModifier)
    assert view.zoom() > start

    view.zoom_to_fit()
    assert view.zoom() == pytest.approx(start)


def test_size_hint_is_roomy(view):
    hint = view.sizeHint()
    assert hint.width() >= 480 and hint.height() >= 400
    assert view.minimumSize().width() >= 300


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_output_names_clear_the_inspected_values(view, task):
    """With a point inspected, each unit's value is written beside it; the
    output units' names must stay clear of it, at any zoom."""
    classes = 3 if task == "multiclass" else 2
    data = make_dataset("blobs" if task == "multiclass" else "spiral", 60,
                        0.0, seed=0, classes=classes)
    run = TrainingRun(data, ModelSettings(hidden=(4,), activations=("tanh",)))
    snapshot = run.snapshot()
    view.show_snapshot(snapshot)
    grads = [(np.ones_like(w), np.ones_like(b)) for w, b in snapshot.params]
    values = [np.full(size, -0.93) for size in snapshot.sizes]
    view.show_wishes(grads, values)
    names = {"P(y = 1)"} if task == "binary" else {
        f"class {k}" for k in range(classes)}

    def on_screen(item):
        transform = item.deviceTransform(view.viewportTransform())
        return transform.mapRect(item.boundingRect())

    for zoom in (1.0, 2.5):
        view.resetTransform()
        view.scale(zoom, zoom)
        texts = [item for item in view.scene().items()
                 if isinstance(item, QGraphicsSimpleTextItem)
                 and item.isVisible()]
        labels = [item for item in texts if item.text() in names]
        written = [item for item in texts if item.text() == "-0.93"]
        assert len(labels) == len(names)
        assert len(written) == sum(snapshot.sizes)
        for label in labels:
            for value in written:
                assert not on_screen(label).intersects(on_screen(value)), (
                    label.text(), zoom)
