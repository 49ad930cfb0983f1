"""The hidden space panel in the real window, headless."""

import numpy as np
import pytest

from mlp_studio.core import FeatureMap
from mlp_studio.core.hidden_space import hidden_view
from mlp_studio.core.network import forward_layers


@pytest.fixture
def window(open_window):
    window = open_window()
    window.hidden_action.trigger()  # View > Hidden space
    assert window.hidden_dock.isVisible()
    return window


def layer_outputs(snapshot, layer, X):
    features = FeatureMap(snapshot.feature_names).transform(X)
    return forward_layers(snapshot.params[:layer],
                          snapshot.activations[:layer], snapshot.task,
                          features)[-1]


def test_it_opens_on_the_last_hidden_layer(window):
    panel = window.hidden_space
    snapshot = window.snapshot
    assert [panel.layer.itemText(i) for i in range(panel.layer.count())] \
        == ["1: 8 tanh", "2: 8 tanh"]
    view = panel.view
    assert view.layer == 2 and view.units is None
    expected = hidden_view(snapshot.params, snapshot.activations,
                           snapshot.task, snapshot.feature_names, 2,
                           snapshot.train.X, snapshot.test.X,
                           snapshot.domain)
    np.testing.assert_allclose(view.train, expected.train, atol=1e-12)
    x, y = panel.train_points.getData()
    np.testing.assert_array_equal(np.column_stack([x, y]), view.train)
    assert len(panel.test_points.getData()[0]) == len(snapshot.test)
    assert f"{view.explained.sum():.0%}" in panel.summary.text()


def test_it_follows_training(window, train_window):
    panel = window.hidden_space
    before = panel.view.train.copy()
    snapshot = train_window(window, 600)
    assert panel.view is not None
    assert not np.allclose(panel.view.train, before)
    now = layer_outputs(snapshot, 2, snapshot.train.X)
    np.testing.assert_allclose(
        panel.view.train, (now - panel.view.center) @ panel.view.directions,
        atol=1e-9)


def test_two_chosen_units_are_their_outputs(window):
    panel = window.hidden_space
    panel.layer.setCurrentIndex(0)
    panel.axes.setCurrentIndex(panel.axes.findData("units"))
    assert panel.unit_x.isVisible() and panel.unit_x.value() == 1
    assert panel.unit_y.value() == 2
    panel.unit_y.setValue(5)
    snapshot = window.snapshot
    outputs = layer_outputs(snapshot, 1, snapshot.train.X)
    np.testing.assert_allclose(panel.view.train, outputs[:, [0, 4]],
                               atol=1e-12)
    item = panel.plot.getPlotItem()
    assert item.getAxis("left").labelText == "unit 5"
    panel.unit_x.setValue(5)  # the same unit twice
    assert panel.view is None
    assert "two different units" in panel.message.text()


def test_a_new_architecture_offers_its_layers(qtbot, window):
    panel = window.hidden_space
    controls = window.controls
    controls.layer_rows[0].units.setValue(3)
    controls._add_layer_clicked()
    qtbot.waitUntil(lambda: window.snapshot.sizes == (2, 3, 8, 8, 1),
                    timeout=5000)
    assert panel.layer.count() == 3
    assert panel.layer.itemText(0) == "1: 3 tanh"
    while controls.layer_rows:
        controls._remove_layer(controls.layer_rows[-1])
    qtbot.waitUntil(lambda: window.snapshot.sizes == (2, 1), timeout=5000)
    assert panel.layer.count() == 0 and panel.view is None
    assert "no hidden space" in panel.message.text()


def test_a_hidden_panel_costs_nothing(open_window, train_window):
    window = open_window()
    assert not window.hidden_dock.isVisible()
    train_window(window, 200)
    assert window.hidden_space.view is None
    window.hidden_action.trigger()
    assert window.hidden_space.view is not None  # drawn when shown


def test_points_wear_their_class_or_value(qtbot, window):
    from mlp_studio.app import colors

    panel = window.hidden_space
    snapshot = window.snapshot
    for item, data in ((panel.train_points, snapshot.train),
                       (panel.test_points, snapshot.test)):
        fills = [spot.brush().color().name().lower()
                 for spot in item.points()]
        assert fills == [colors.CLASS_COLORS[label].lower()
                         for label in data.y]
    controls = window.controls
    controls.problem.setCurrentIndex(controls.problem.findData("regression"))
    qtbot.waitUntil(lambda: window.snapshot.task == "regression"
                    and panel.view is not None
                    and len(panel.train_points.getData()[0])
                    == len(window.snapshot.train), timeout=5000)
    values = window.snapshot.train.y
    fills = [spot.brush().color() for spot in panel.train_points.points()]
    # The highest value is the map's blue end, the lowest its orange end.
    assert fills[int(np.argmax(values))].blue() > \
        fills[int(np.argmax(values))].red()
    assert fills[int(np.argmin(values))].red() > \
        fills[int(np.argmin(values))].blue()


def test_test_points_follow_the_test_data_toggle(window):
    panel = window.hidden_space
    count = len(window.snapshot.test)
    assert len(panel.test_points.getData()[0]) == count
    window.test_action.trigger()  # T: hide the test points
    assert not window.decision.test_points.isVisible()
    assert not panel.test_points.isVisible()
    window.test_action.trigger()
    assert panel.test_points.isVisible()
    x, y = panel.test_points.getData()
    np.testing.assert_array_equal(np.column_stack([x, y]), panel.view.test)
    assert len(x) == count
