"""Asking a point, in the real window."""

import re

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt


@pytest.fixture
def window(open_window, train_window):
    window = open_window()
    train_window(window, 1500)
    return window


def alt_click(qtbot, window, point):
    box = window.decision.getPlotItem().vb
    pos = window.decision.mapFromScene(box.mapViewToScene(QPointF(*point)))
    qtbot.mouseClick(window.decision.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.AltModifier, pos)


def training_point(window):
    points = window.editor.points
    k = int(np.flatnonzero(~points.test)[7])
    return k, points.X[k]


def visible_wishes(window):
    return [item for item in window.diagram._wish_items if item.isVisible()]


def test_alt_click_fills_the_inspector_and_marks_the_diagram(qtbot, window):
    assert not visible_wishes(window)
    k, point = training_point(window)
    alt_click(qtbot, window, point)
    assert window._selected == k
    assert "Training point" in window.inspector.title.text()
    assert "its loss is" in window.inspector.forward.text()
    markers = visible_wishes(window)
    assert len(markers) > 10
    # Up and down triangles both appear, with the gradient's signs.
    wishes = [m.wish for m in markers]
    assert min(wishes) < 0 < max(wishes)
    labels = [label for label in window.diagram._value_labels
              if label.isVisible()]
    assert len(labels) == sum(window.snapshot.sizes)
    assert window.decision.heads  # arrows on the first-layer boundaries
    window.inspector.clear.click()
    assert not visible_wishes(window) and window._selected is None


def test_the_formal_view_checks_the_gradient(qtbot, window):
    _, point = training_point(window)
    alt_click(qtbot, window, point)
    window.diagram.edge_clicked.emit(1, 2, 3)
    text = window.inspector.formal.text()
    assert "Gradient check" in text
    analytic, numeric = (float(v) for v in re.search(
        r"analytic (\S+), finite difference (\S+) ", text).groups())
    assert analytic == pytest.approx(numeric, rel=1e-4, abs=1e-9)


def test_listening_to_a_point_lowers_its_loss(qtbot, window):
    _, point = training_point(window)
    alt_click(qtbot, window, point)
    serial = window.snapshot.serial
    window.inspector.listen.click()
    qtbot.waitUntil(lambda: "went from" in window.inspector.listened.text(),
                    timeout=5000)
    before, after = (float(v) for v in re.findall(
        r"<b>([0-9.]+)</b>", window.inspector.listened.text()))
    assert after < before
    assert window.snapshot.serial > serial
    assert window.decision.ghost.getData()[0] is not None


def test_the_wish_field_replaces_the_output_on_the_plot(qtbot, window):
    _, point = training_point(window)
    alt_click(qtbot, window, point)
    window.inspector.wish_field.setChecked(True)
    assert window.decision.overlay_kind == "wish"
    values = window.decision._unit_image[0]
    assert values.shape == (80, 80) and np.abs(values).max() > 0
    window.inspector.wish_field.setChecked(False)
    assert window.decision.overlay_kind is None


def test_agreement_and_dissenters(qtbot, window):
    _, point = training_point(window)
    alt_click(qtbot, window, point)
    assert window.inspector.dissenters.count() == 5
    window.inspector.agreement.setChecked(True)
    contested = [edge for edge in window.diagram.edge_items()
                 if edge.contested]
    assert 0 < len(contested) < len(window.diagram.edge_items())
    item = window.inspector.dissenters.item(0)
    window.inspector.dissenters.itemClicked.emit(item)
    assert window._selected is not None


def test_the_inspection_follows_training_live(qtbot, window):
    _, point = training_point(window)
    alt_click(qtbot, window, point)
    first = window.inspector.forward.text()
    window.trainer.start_training()
    qtbot.waitUntil(lambda: window.inspector.forward.text() != first,
                    timeout=5000)
    window.trainer.pause()


def test_biases_as_units(qtbot, window):
    diagram = window.diagram
    assert not diagram._bias_edges
    window.bias_units_action.setChecked(True)
    sizes = window.snapshot.sizes
    assert [len(edges) for edges in diagram._bias_edges] == list(sizes[1:])
    biases = window.snapshot.params[0][1]
    widths = [edge.pen().widthF() for edge in diagram._bias_edges[0]]
    order = np.argsort(np.abs(biases))
    assert np.all(np.diff(np.array(widths)[order]) >= 0)
    assert not any(node.bias.isVisible() for node in diagram.node_items()
                   if node.bias is not None)
    window.bias_units_action.setChecked(False)
    assert not diagram._bias_edges
