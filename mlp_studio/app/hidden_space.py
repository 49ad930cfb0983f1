"""The hidden space panel: the plane as one hidden layer sees it.

The panel draws the data and the input plane's grid lines where a hidden
layer puts them (``mlp_studio.core.hidden_space``): on two units of the
layer, or on the two directions along which the training points spread
most there. While training runs one watches the layer bend the plane
until the classes come apart.

It follows the snapshots while it is shown, on the GUI thread, at most
ten times a second: a picture costs about 7 ms here, most of it
pyqtgraph's (the point markers and the lines); the forward pass of some
2,500 points through the layers takes under a millisecond. The view's
range follows the picture, but only when the picture leaves it or
shrinks well inside it, so it does not twitch with every frame.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from mlp_studio.core.hidden_space import GRID_LINES, hidden_view
from mlp_studio.core.training import Snapshot

from . import colors
from .plots import TEST_RIM, TRAIN_RIM, point_brushes, value_span

log = logging.getLogger(__name__)

PRINCIPAL = "principal"
UNITS = "units"
_SHRINK = 0.35  # refit the range when the picture fills less than this
# While training runs: a picture of the layer costs about as much as the
# rest of a frame (mostly pyqtgraph painting), and a third of the window's
# frame rate follows the bending smoothly enough.
FRAMES_PER_SECOND = 10


class HiddenSpacePanel(QWidget):
    """Layer and axes pickers over a plot of the chosen hidden space."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.layer = QComboBox()
        self.layer.setToolTip("The hidden layer whose space is shown")
        self.layer.setMinimumContentsLength(10)  # "10: 16 tanh" in full
        self.layer.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.axes = QComboBox()
        self.axes.addItem("principal directions", PRINCIPAL)
        self.axes.addItem("two units", UNITS)
        self.axes.setToolTip(
            "Principal directions: the two directions in which the "
            "training points spread most in this layer. Two units: the "
            "outputs of two chosen neurons")
        self.unit_x = QSpinBox()
        self.unit_y = QSpinBox()
        for box, axis in ((self.unit_x, "horizontal"),
                          (self.unit_y, "vertical")):
            box.setPrefix("unit ")
            box.setToolTip(f"The neuron on the {axis} axis (numbered from "
                           "1, top to bottom on the diagram)")
        self.summary = QLabel()
        self.summary.setWordWrap(True)

        pickers = QHBoxLayout()
        pickers.addWidget(QLabel("Layer"))
        pickers.addWidget(self.layer, 1)
        pickers.addWidget(QLabel("Axes"))
        pickers.addWidget(self.axes, 1)
        pickers.addWidget(self.unit_x)
        pickers.addWidget(self.unit_y)

        self.plot = pg.PlotWidget(background=colors.PAPER)
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        # One scale on both axes: distances in the layer's space, which
        # tell how far apart it has pulled the classes, stay true.
        item.setAspectLocked(True)
        for name in ("bottom", "left"):
            axis = item.getAxis(name)
            axis.setPen(colors.INK)
            axis.setTextPen(colors.INK)
        # Qt's own one-pixel pens (width 0): wider antialiased lines cost
        # Qt's raster engine several times as much.
        self.lines = pg.PlotDataItem(pen=pg.mkPen("#b8b8b8", width=0),
                                     connect="finite")
        # The lines through the plane's middle (x1 = 0 and x2 = 0), darker,
        # to tell the grid's centre and its two directions apart.
        self.axis_lines = pg.PlotDataItem(pen=pg.mkPen("#555555", width=0),
                                          connect="finite")
        self.train_points = pg.ScatterPlotItem(size=7, pxMode=True)
        self.test_points = pg.ScatterPlotItem(size=7, pxMode=True)
        for plot_item in (self.lines, self.axis_lines, self.train_points,
                          self.test_points):
            item.addItem(plot_item)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.plot)
        self.stack.addWidget(self.message)

        column = QVBoxLayout(self)
        column.addLayout(pickers)
        column.addWidget(self.summary)
        column.addWidget(self.stack, 1)

        self.view = None  # the HiddenView drawn last
        self._snapshot: Snapshot | None = None
        self._previous: dict = {}  # (sizes, layer) -> directions
        self._range = None
        self._shape = None
        self._names = None
        self._clock = time.monotonic
        self._due = 0.0
        self.frames_per_second = FRAMES_PER_SECOND
        self.layer.currentIndexChanged.connect(self._layer_picked)
        self.axes.currentIndexChanged.connect(self._picked)
        self.unit_x.valueChanged.connect(self._picked)
        self.unit_y.valueChanged.connect(self._picked)
        self._sync_pickers()

    def set_show_test(self, on: bool):
        """Show or hide the test points, as the decision plot does."""
        self.test_points.setVisible(bool(on))
        if self.view is not None and self._snapshot is not None:
            self._draw_view(self.view, self._snapshot)

    def sizeHint(self):
        # A dock beside the window's own views: room for a square plot,
        # not half the window.
        return QSize(440, 560)

    # ------------------------------------------------------------------

    def show_snapshot(self, snapshot: Snapshot) -> bool:
        """Draw the chosen hidden space for ``snapshot``; while training
        runs, at most ``frames_per_second`` times a second. Returns
        whether it drew."""
        self._snapshot = snapshot
        shape = (snapshot.sizes, snapshot.activations)
        if shape != self._shape:
            self._shape = shape
            self._fill_layers(snapshot)
        now = self._clock()
        if snapshot.running and now < self._due:
            return False
        self._due = now + 1.0 / self.frames_per_second
        self._draw()
        return True

    def _fill_layers(self, snapshot):
        chosen = self.layer.currentIndex()
        self.layer.blockSignals(True)
        self.layer.clear()
        for k, (units, activation) in enumerate(
                zip(snapshot.sizes[1:-1], snapshot.activations), start=1):
            self.layer.addItem(f"{k}: {units} {activation}", k)
        count = self.layer.count()
        # The last hidden layer is where the output draws its line.
        self.layer.setCurrentIndex(chosen if 0 <= chosen < count
                                   else count - 1)
        self.layer.blockSignals(False)
        self._range = None
        self._sync_pickers(first_units=True)

    def _layer_picked(self):
        self._sync_pickers(first_units=True)
        self._range = None
        self._draw()

    def _picked(self):
        self._sync_pickers()
        self._range = None
        self._draw()

    def _sync_pickers(self, first_units=False):
        """Fit the unit pickers to the chosen layer; ``first_units`` sets
        them to its units 1 and 2 (a new layer)."""
        layer = self.layer.currentData()
        width = 0
        if layer is not None and self._snapshot is not None:
            width = self._snapshot.sizes[layer]
        two = self.axes.currentData() == UNITS
        for box, first in ((self.unit_x, 1), (self.unit_y, 2)):
            box.blockSignals(True)
            box.setRange(1, max(width, 1))
            if first_units:
                box.setValue(min(first, max(width, 1)))
            box.blockSignals(False)
            box.setVisible(two)
            box.setEnabled(width >= 2)

    def _units(self):
        if self.axes.currentData() != UNITS:
            return None
        return self.unit_x.value() - 1, self.unit_y.value() - 1

    def _draw(self):
        snapshot = self._snapshot
        if snapshot is None:
            return
        layer = self.layer.currentData()
        if layer is None:
            self._say("A network without hidden layers has no hidden "
                      "space: its output draws its line in the plane "
                      "itself.")
            return
        units = self._units()
        if units is not None and snapshot.sizes[layer] < 2:
            self._say("This layer has one unit: choose the principal "
                      "directions to see it along a line.")
            return
        if units is not None and units[0] == units[1]:
            self._say("Choose two different units.")
            return
        train, test = snapshot.train, snapshot.test
        key = (snapshot.sizes, layer)
        try:
            view = hidden_view(
                snapshot.params, snapshot.activations, snapshot.task,
                snapshot.feature_names, layer,
                train.X if train is not None else np.empty((0, 2)),
                test.X if test is not None else np.empty((0, 2)),
                snapshot.domain, units=units,
                previous=self._previous.get(key))
        except ValueError as exc:
            log.warning("hidden space not drawn: %s", exc)
            self._say(f"Cannot draw this view: {exc}")
            return
        if view.directions is not None:
            self._previous = {key: view.directions}
        self.view = view
        self.stack.setCurrentWidget(self.plot)
        self._draw_view(view, snapshot)

    def _say(self, text):
        self.view = None
        self.message.setText(text)
        self.summary.setText("")
        self.stack.setCurrentWidget(self.message)

    def _draw_view(self, view, snapshot):
        lines = view.lines
        gaps = np.full((len(lines), 1, 2), np.nan)
        joined = np.concatenate([lines, gaps], axis=1).reshape(-1, 2)
        self.lines.setData(joined[:, 0], joined[:, 1])
        middle = np.concatenate(
            [lines[[GRID_LINES // 2, GRID_LINES + GRID_LINES // 2]],
             gaps[:2]], axis=1).reshape(-1, 2)
        self.axis_lines.setData(middle[:, 0], middle[:, 1])

        span = value_span(snapshot.train, snapshot.test)
        for item, data, coordinates, rim in (
                (self.train_points, snapshot.train, view.train, TRAIN_RIM),
                (self.test_points, snapshot.test, view.test, TEST_RIM)):
            if data is None or not len(data) or not item.isVisible():
                # Hidden test points cost nothing; shown again, they
                # are drawn at once (set_show_test).
                item.setData([], [])
                continue
            item.setData(x=coordinates[:, 0], y=coordinates[:, 1],
                         brush=point_brushes(data.y, snapshot.task, span),
                         pen=rim)

        if view.units is None:
            names = ("1st principal direction", "2nd principal direction")
        else:
            names = tuple(f"unit {u + 1}" for u in view.units)
        if names != self._names:
            # A new label lays the axis out again: only when it changes.
            self._names = names
            item = self.plot.getPlotItem()
            item.setLabel("bottom", names[0], color=colors.INK)
            item.setLabel("left", names[1], color=colors.INK)
        share = view.explained.sum()
        what = ("these two directions" if view.units is None
                else "these two units")
        summary = (f"Layer {view.layer}: grey lines are the plane's grid, "
                   f"carried through the layer; {what} hold {share:.0%} of "
                   "the training points' spread here.")
        if summary != self.summary.text():
            self.summary.setText(summary)
        self._fit(np.concatenate([lines.reshape(-1, 2), view.train,
                                  view.test]))

    def _fit(self, points):
        points = points[np.isfinite(points).all(axis=1)]
        if not len(points):
            return
        low, high = points.min(axis=0), points.max(axis=0)
        size = np.maximum(high - low, 1e-6)
        current = self._range
        if current is not None:
            (x0, x1), (y0, y1) = current
            inside = (low[0] >= x0 and high[0] <= x1
                      and low[1] >= y0 and high[1] <= y1)
            filled = np.prod(size) / ((x1 - x0) * (y1 - y0))
            if inside and filled >= _SHRINK:
                return
        # Room to move before the next refit, which lays the axes out anew.
        low, high = low - 0.12 * size, high + 0.12 * size
        self._range = ((low[0], high[0]), (low[1], high[1]))
        self.plot.getPlotItem().setRange(xRange=self._range[0],
                                         yRange=self._range[1], padding=0)
