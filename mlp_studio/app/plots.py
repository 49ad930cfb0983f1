"""The decision-region plot and the error curve (pyqtgraph)."""

from __future__ import annotations

import logging

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPixmap, QTransform
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QWidget,
)

from mlp_studio.core.features import FeatureMap
from mlp_studio.core.training import Snapshot, plane_grid

from . import colors

log = logging.getLogger(__name__)

LINE_RESOLUTION = 120  # grid on which first-layer boundaries are traced

pg.setConfigOptions(antialias=True)


class DecisionPlot(pg.PlotWidget):
    """The model's output over the plane, with the data on top.

    Binary tasks show the probability of class 1 on a diverging map;
    several classes blend each class colour by its probability; regression
    shows the value. Training points have a white rim, test points a dark
    one.
    """

    def __init__(self, parent=None):
        super().__init__(parent, background=colors.PAPER)
        self.setMinimumSize(320, 320)
        plot = self.getPlotItem()
        plot.setAspectLocked(True)
        plot.showGrid(x=False, y=False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)  # the plane stays put
        plot.setLabel("bottom", "x₁")
        plot.setLabel("left", "x₂")
        for axis in ("bottom", "left"):
            plot.getAxis(axis).setPen(colors.INK)
            plot.getAxis(axis).setTextPen(colors.INK)

        # The picture is a plain Qt item, not a pyqtgraph ImageItem: Qt
        # paints it without calling back into Python, and from a pixmap
        # in the screen's own format, about four times faster than an
        # indexed image. Both matter while training runs (see MainWindow).
        self.image = QGraphicsPixmapItem()
        self.image.setTransformationMode(
            Qt.TransformationMode.SmoothTransformation)
        self.image.setShapeMode(
            QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self.image.setZValue(-10)
        plot.addItem(self.image, ignoreBounds=True)
        self.lines = pg.PlotDataItem(
            pen=pg.mkPen("#555555", width=1.2, style=Qt.PenStyle.DashLine),
            connect="finite")
        self.lines.setZValue(-5)
        plot.addItem(self.lines)
        self.helping, self.hurting = (
            pg.PlotDataItem(pen=pg.mkPen(color, width=2,
                                         style=Qt.PenStyle.DashLine),
                            connect="finite")
            for color in ("#117733", "#882255"))
        for item in (self.helping, self.hurting):
            item.setZValue(-5)
            plot.addItem(item)
        self._line_helps = None
        # The boundary of the first-layer unit under the pointer on the
        # diagram, drawn over the others so one can tell which is which.
        self.hovered_line = pg.PlotDataItem(
            pen=pg.mkPen(colors.INK, width=2.5), connect="finite")
        self.hovered_line.setZValue(-3)
        plot.addItem(self.hovered_line)
        self._line_unit: int | None = None
        self.train_points = pg.ScatterPlotItem(size=7, pxMode=True)
        self.test_points = pg.ScatterPlotItem(size=7, pxMode=True)
        plot.addItem(self.train_points)
        plot.addItem(self.test_points)
        _cache(self.train_points, self.test_points,
               *(plot.getAxis(name) for name in ("left", "bottom")))

        # The point inspector's overlays: the chosen point, the arrows
        # showing where one step for it moves each first-layer boundary,
        # and the boundary before the last "listen" step, faint.
        self.selection = pg.ScatterPlotItem(
            size=17, pxMode=True, brush=None,
            pen=pg.mkPen(colors.INK, width=2.5))
        self.selection.setZValue(20)
        plot.addItem(self.selection)
        self.shafts = pg.PlotDataItem(connect="pairs",
                                      pen=pg.mkPen("#555555", width=2))
        self.shafts.setZValue(15)
        plot.addItem(self.shafts)
        self.heads: list[pg.ArrowItem] = []
        self.ghost = pg.PlotDataItem(
            pen=pg.mkPen(colors.INK, width=1.5, style=Qt.PenStyle.DotLine),
            connect="finite")
        self.ghost.setZValue(-4)
        plot.addItem(self.ghost)
        self.boundary = pg.PlotDataItem(pen=pg.mkPen(colors.INK, width=1.5),
                                        connect="finite")
        self.boundary.setZValue(-4)
        plot.addItem(self.boundary)
        # Empty until a point is inspected: hidden, or pyqtgraph paints
        # them, empty, in Python, with every frame (see _set_data).
        for item in (self.lines, self.helping, self.hurting,
                     self.hovered_line, self.selection, self.shafts,
                     self.ghost, self.boundary):
            item.setVisible(False)

        self.discretize = False
        self.show_test = True
        self.show_lines = False
        self.force_lines = False
        self._lut = colors.qt_order(colors.diverging_lut())
        self._class_rgb = colors.pastel(colors.class_rgb())
        self._strong_rgb = colors.class_rgb()
        self._snapshot: Snapshot | None = None
        self._unit_image: np.ndarray | None = None
        self.overlay_kind: str | None = None
        self._line_features = None
        self._domain = None
        self._value_span = 1.0

    # ------------------------------------------------------------------

    def set_discretize(self, on: bool):
        self.discretize = bool(on)
        self._redraw_image()

    def set_show_test(self, on: bool):
        self.show_test = bool(on)
        self.test_points.setVisible(self.show_test)

    def set_show_lines(self, on: bool):
        self.show_lines = bool(on)
        self._redraw_lines()

    def show_selection(self, point):
        """Ring the inspected point (None: no point)."""
        if point is None:
            _set_data(self.selection, [], [])
        else:
            _set_data(self.selection, [point[0]], [point[1]])

    def show_moves(self, feet=None, shifts=None, towards=None):
        """Arrows from each boundary foot along the way one step moves it,
        scaled so the longest is 1.2 units long (None: no arrows)."""
        plot = self.getPlotItem()
        for head in self.heads:
            plot.removeItem(head)
        self.heads = []
        if feet is None:
            _set_data(self.shafts, [], [])
            return
        valid = np.isfinite(feet).all(axis=1) & np.isfinite(shifts).all(axis=1)
        lengths = np.hypot(*shifts[valid].T) if valid.any() else np.zeros(0)
        if not len(lengths) or lengths.max() <= 0:
            _set_data(self.shafts, [], [])
            return
        scale = 1.2 / lengths.max()
        starts = feet[valid]
        ends = starts + scaled(shifts[valid], scale, minimum=0.15)
        pairs = np.empty((2 * len(starts), 2))
        pairs[0::2], pairs[1::2] = starts, ends
        _set_data(self.shafts, pairs[:, 0], pairs[:, 1])
        for end, start, toward in zip(ends, starts, towards[valid]):
            angle = np.degrees(np.arctan2(end[1] - start[1],
                                          end[0] - start[0]))
            color = WISH_TOWARDS if toward else WISH_AWAY
            head = pg.ArrowItem(pos=tuple(end), angle=180 - angle,
                                headLen=11, tipAngle=35, pen=None,
                                brush=color)
            head.setZValue(16)
            plot.addItem(head)
            self.heads.append(head)

    def show_contours(self, current=None, ghost=None, level=0.5):
        """The model's decision boundary (``current`` grid) and, faint, an
        earlier one (``ghost``): the ``level`` contour of each."""
        for item, grid in ((self.boundary, current), (self.ghost, ghost)):
            if grid is None:
                _set_data(item, [], [])
            else:
                _set_data(item, *contour(grid, level, self._domain or 6.0))

    def show_unit(self, values: np.ndarray | None, vmin=-1.0, vmax=1.0,
                  kind="unit", line: int | None = None):
        """Show other values (res, res) instead of the model's output: a
        hovered unit's output, or the wish field; None goes back.
        ``line``: the first-layer unit whose boundary stands out among
        the neuron lines while they are shown."""
        self._unit_image = None if values is None else (values, vmin, vmax)
        self.overlay_kind = None if values is None else kind
        self._redraw_image()
        line = None if values is None else line
        if line != self._line_unit:  # the wish field comes every frame
            self._line_unit = line
            self._redraw_lines()

    def show_snapshot(self, snapshot: Snapshot):
        """Draw the model's output from a snapshot."""
        self._snapshot = snapshot
        domain = snapshot.domain
        if domain != self._domain:
            self._domain = domain
            self.getPlotItem().setRange(xRange=(-domain, domain),
                                        yRange=(-domain, domain), padding=0)
        self._redraw_image()
        self._redraw_lines()

    def show_points(self, train, test, task: str):
        """Draw the data: ``train`` and ``test`` Datasets (or None)."""
        if task == "regression":
            self._value_span = value_span(train, test)
        for item, data in ((self.train_points, train),
                           (self.test_points, test)):
            if data is None or len(data) == 0:
                item.setData([], [])
                continue
            item.setData(x=data.X[:, 0], y=data.X[:, 1],
                         brush=point_brushes(data.y, task, self._value_span),
                         pen=TRAIN_RIM if item is self.train_points
                         else TEST_RIM)
        self.test_points.setVisible(self.show_test)

    # ------------------------------------------------------------------

    def _redraw_image(self):
        snapshot = self._snapshot
        if snapshot is None:
            return
        if self._unit_image is not None:
            values, vmin, vmax = self._unit_image
            self._set_image(values, levels=(vmin, vmax), lut=self._lut)
            return
        grid = snapshot.output_grid
        if grid is None:
            return
        if snapshot.task == "multiclass":
            self._set_image(self._class_image(grid), levels=(0, 255),
                            lut=None)
            return
        if snapshot.task == "binary":
            values, levels = grid, (0.0, 1.0)
            if self.discretize:
                values = np.where(grid >= 0.5, 0.85, 0.15)
        else:
            span = self._value_span
            values, levels = grid, (-span, span)
            if self.discretize:
                values = np.sign(grid) * 0.7 * span
        self._set_image(values, levels=levels, lut=self._lut)

    def _set_image(self, values, levels, lut):
        """Show (res, res) values through ``lut`` (levels map to its ends),
        or with ``lut`` None, a (res, res, 3) RGB picture."""
        if lut is None:
            pixels = np.empty(values.shape[:2] + (4,), np.uint8)
            pixels[..., 2::-1] = values  # RGB into Qt's B, G, R order
            pixels[..., 3] = 255
        else:
            pixels = colors.colorize(values, *levels, lut, top_down=False)
        rows, columns = pixels.shape[:2]
        image = QImage(pixels.data, columns, rows, 4 * columns,
                       QImage.Format.Format_RGB32)
        self.image.setPixmap(QPixmap.fromImage(image))  # a copy
        # The grid's samples run from edge to edge of the plane (see
        # plane_grid): pixel (column, row) is centred on its sample, so the
        # picture reaches half a pixel past the plane, where the view
        # clips it. Row 0 is the bottom, where the plot's y axis starts.
        domain = self._domain
        step_x, step_y = 2 * domain / (columns - 1), 2 * domain / (rows - 1)
        self.image.setTransform(
            QTransform.fromTranslate(-domain - step_x / 2,
                                     -domain - step_y / 2).scale(
                step_x, step_y))

    def _class_image(self, probs):
        """(res, res, k) probabilities to an RGB picture."""
        k = probs.shape[-1]
        if self.discretize:
            rgb = self._class_rgb[probs.argmax(axis=-1)]
        else:
            # Blend class colours by probability, then fade towards white
            # where the model is unsure.
            rgb = probs @ self._class_rgb[:k]
            certainty = (probs.max(axis=-1, keepdims=True) - 1.0 / k) * (
                k / (k - 1.0))
            rgb = 255.0 - (255.0 - rgb) * (0.35 + 0.65 * certainty)
        return rgb.clip(0, 255).astype(np.uint8)

    def set_line_helps(self, helps):
        """Colour each first-layer boundary by whether its unit helps the
        inspected point (green) or hurts it (wine); None: all grey."""
        self._line_helps = None if helps is None else np.asarray(helps, bool)
        self._redraw_lines()

    def _redraw_lines(self):
        snapshot = self._snapshot
        # The first weight layer's units: hidden neurons, or for a single
        # perceptron its output, whose line is the decision boundary.
        if not (self.show_lines or self.force_lines) or snapshot is None:
            for item in (self.lines, self.helping, self.hurting,
                         self.hovered_line):
                _set_data(item, [], [])
            return
        features = snapshot.feature_names
        if self._line_features is None or self._line_features[0] != features:
            points = plane_grid(LINE_RESOLUTION, snapshot.domain)
            self._line_features = (features,
                                   FeatureMap(features).transform(points))
        weight, bias = snapshot.params[0]
        z = self._line_features[1] @ weight + bias
        helps = self._line_helps
        if helps is None or len(helps) != z.shape[1]:
            groups = ((self.lines, range(z.shape[1])),
                      (self.helping, ()), (self.hurting, ()))
        else:
            groups = ((self.lines, ()),
                      (self.helping, np.flatnonzero(helps)),
                      (self.hurting, np.flatnonzero(~helps)))
        for item, units in groups:
            grids = [z[:, unit].reshape(LINE_RESOLUTION, LINE_RESOLUTION)
                     for unit in units]
            pieces = [contour(grid, 0.0, snapshot.domain) for grid in grids]
            if pieces:
                _set_data(item, np.concatenate([p[0] for p in pieces]),
                          np.concatenate([p[1] for p in pieces]))
            else:
                _set_data(item, [], [])
        unit = self._line_unit
        if unit is not None and unit < z.shape[1]:
            grid = z[:, unit].reshape(LINE_RESOLUTION, LINE_RESOLUTION)
            _set_data(self.hovered_line,
                      *contour(grid, 0.0, snapshot.domain))
        else:
            _set_data(self.hovered_line, [], [])


WISH_TOWARDS = "#117733"  # as on the diagram: green towards the point,
WISH_AWAY = "#882255"  # wine away from it


class SquareFrame(QWidget):
    """Holds one widget as the largest square that fits, centred on a
    background of the plot's paper colour.

    The decision plot's aspect is locked, so in a wide or tall space it
    would stretch its axes past the plane, with empty bands beside it.
    """

    def __init__(self, child: QWidget, parent=None):
        super().__init__(parent)
        self.child = child
        child.setParent(self)
        self.setMinimumSize(child.minimumSize())
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(self.backgroundRole(), QColor(colors.PAPER))
        self.setPalette(palette)

    def sizeHint(self):
        return self.child.sizeHint()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        width, height = self.width(), self.height()
        side = min(width, height)
        self.child.setGeometry((width - side) // 2, (height - side) // 2,
                               side, side)


def scaled(vectors, scale, minimum):
    """``vectors`` times ``scale``, each at least ``minimum`` long."""
    out = vectors * scale
    lengths = np.hypot(*out.T)
    short = (lengths < minimum) & (lengths > 0)
    out[short] *= (minimum / lengths[short])[:, None]
    return out


# Training points have a white rim, test points a dark one.
TRAIN_RIM = pg.mkPen("#ffffff", width=1.2)
TEST_RIM = pg.mkPen("#111111", width=1.5)


def value_span(*datasets) -> float:
    """The largest |target| of regression points, the colour map's end."""
    peak = max((float(np.abs(d.y).max()) for d in datasets
                if d is not None and len(d)), default=1.0)
    return peak if peak > 1e-9 else 1.0


def point_brushes(labels, task: str, span: float = 1.0) -> list:
    """A fill for each point: its class's colour, or in regression its
    value's colour on the diverging map, -span to span."""
    if task == "regression":
        index = ((np.asarray(labels) / span + 1.0) * 127.5).clip(
            0, 255).astype(int)
        table = colors.diverging_map().getLookupTable(0.0, 1.0, 256,
                                                       alpha=False)
        cache = {}
        return [cache.setdefault(i, pg.mkBrush(*table[i])) for i in index]
    brushes = [pg.mkBrush(QColor(c)) for c in colors.CLASS_COLORS]
    return [brushes[label] for label in labels]


def contour(grid, level, domain):
    """(x, y) arrays of the ``level`` contour of a (res, res) grid over
    [-domain, domain]^2, pieces separated by NaN."""
    resolution = grid.shape[0]
    step = 2 * domain / (resolution - 1)
    xs, ys = [], []
    with np.errstate(invalid="ignore"):
        pieces = pg.functions.isocurve(np.asarray(grid, float), level,
                                       connected=True)
    for piece in pieces:
        # pyqtgraph places sample i at i + 0.5 (the middle of its pixel);
        # here sample i is at -domain + i * step.
        piece = np.asarray(piece) - 0.5
        xs += [piece[:, 1] * step - domain, [np.nan]]
        ys += [piece[:, 0] * step - domain, [np.nan]]
    if not xs:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(xs), np.concatenate(ys)


MAX_CURVE_POINTS = 1000  # about two per pixel of a wide plot


class LossPlot(pg.GraphicsLayoutWidget):
    """Training and test loss against epoch, with accuracy below for
    classification. Hovering shows the epoch and the values there."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground(colors.PAPER)
        self.setMinimumSize(320, 180)
        self.loss = self.addPlot(row=0, col=0)
        self.accuracy = self.addPlot(row=1, col=0)
        self.ci.layout.setRowStretchFactor(0, 3)
        self.ci.layout.setRowStretchFactor(1, 1)
        self.accuracy.setXLink(self.loss)
        for plot, label in ((self.loss, "loss"), (self.accuracy, "accuracy")):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setLabel("left", label)
            plot.getAxis("left").enableAutoSIPrefix(False)
            for axis in ("bottom", "left"):
                plot.getAxis(axis).setPen(colors.INK)
                plot.getAxis(axis).setTextPen(colors.INK)
        self.accuracy.setLabel("bottom", "epoch")
        _cache(*(plot.getAxis(name) for plot in (self.loss, self.accuracy)
                 for name in ("left", "bottom")))
        self.accuracy.setYRange(0.0, 1.0, padding=0.05)
        legend = self.loss.addLegend(offset=(-10, 10))
        legend.setLabelTextColor(colors.INK)
        # The curves are Qt's own path items, which Qt draws without
        # calling back into Python, and their paths are thinned to at most
        # MAX_CURVE_POINTS: they are redrawn with every frame of training.
        # One-pixel pens: Qt's raster engine draws wider antialiased lines
        # several times slower. Width 0 is Qt's own one-pixel pen: a path
        # item with any other width strokes its whole path again to find
        # its bounds whenever the path changes, which is every frame.
        pens = {"training": pg.mkPen(colors.TRAIN_LOSS, width=0),
                "test": pg.mkPen(colors.TEST_LOSS, width=0)}
        self.curves = []  # (item, history column)
        for plot, column, pen in ((self.loss, 1, pens["training"]),
                                  (self.loss, 2, pens["test"]),
                                  (self.accuracy, 3, pens["training"]),
                                  (self.accuracy, 4, pens["test"])):
            item = QGraphicsPathItem()
            item.setPen(pen)
            plot.vb.addItem(item, ignoreBounds=True)
            self.curves.append((item, column))
        for name, pen in pens.items():
            legend.addItem(pg.PlotDataItem(pen=pen), name)
        # The legend paints in Python: keep a picture of it.
        _cache(legend, *(part for row in legend.items for part in row))
        self.setAntialiasing(True)  # for the path items, as pyqtgraph's own

        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("#999999"))
        self.cursor.setVisible(False)
        self.loss.addItem(self.cursor, ignoreBounds=True)
        self.readout = pg.TextItem(color=colors.INK, anchor=(0, 1),
                                   fill=pg.mkBrush(255, 255, 255, 220))
        self.readout.setVisible(False)
        self.loss.addItem(self.readout, ignoreBounds=True)
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self._history = np.empty((0, 5))
        self._envelope = PeakEnvelope(MAX_CURVE_POINTS)
        self._ranges = None
        self.log_scale = False
        for plot in (self.loss, self.accuracy):
            plot.disableAutoRange()

    def set_log_scale(self, on: bool):
        self.log_scale = bool(on)
        self.loss.setLogMode(y=self.log_scale)
        self._update_curves()

    def show_history(self, history: np.ndarray, task: str) -> bool:
        """``history`` has the columns of ``History.COLUMNS``. Returns
        whether anything changed (and so will be repainted)."""
        if history is self._history or (
                len(history) == len(self._history) and len(history)
                and history[-1, 0] == self._history[-1, 0]
                and self.accuracy.isVisible() == (task != "regression")):
            self._history = history
            return False
        self._history = history
        self._show_accuracy(task != "regression")
        self._update_curves()
        return True

    def _show_accuracy(self, visible):
        # A hidden plot keeps its row; shrink the row too, so that the
        # loss plot takes the room.
        self.accuracy.setVisible(visible)
        self.accuracy.setMaximumHeight(1e6 if visible else 0)
        self.ci.layout.setRowStretchFactor(1, 1 if visible else 0)

    def _update_curves(self):
        history = self._history
        envelope = self._envelope
        envelope.update(history)
        x, low, high = envelope.runs(history)
        self._fit_ranges(x[-1] if len(x) else 0.0, low[:, :2], high[:, :2])
        for item, column in self.curves:
            y = np.column_stack([low[:, column - 1],
                                 high[:, column - 1]]).ravel()
            if self.log_scale and column <= 2:
                # The axis shows powers of ten of what the curve holds; a
                # perfect fit sits at the floor.
                y = np.log10(np.maximum(y, 1e-12))
            item.setPath(pg.arrayToQPath(np.repeat(x, 2), y,
                                         connect="finite"))

    def _fit_ranges(self, last_epoch, low, high):
        """Set the axes' ranges in coarse steps, not to the data exactly:
        an axis whose range is unchanged keeps its cached drawing, which
        saves most of the cost of a frame."""
        x_bound = _nice_ceiling(max(last_epoch, 10.0))
        lows, highs = low[np.isfinite(low)], high[np.isfinite(high)]
        if self.log_scale:
            low = np.log10(max(lows.min(), 1e-12)) if lows.size else -3
            high = np.log10(highs.max()) if highs.size else 0
            y_range = (np.floor(low), np.ceil(high + 1e-9))
        else:
            y_range = (0.0, _nice_ceiling(highs.max() if highs.size else 1))
        if (x_bound, y_range) != self._ranges:
            self._ranges = (x_bound, y_range)
            self.loss.setXRange(0.0, x_bound, padding=0.02)
            self.loss.setYRange(*y_range, padding=0.02)

    def leaveEvent(self, event):
        super().leaveEvent(event)
        self._hide_readout()

    def _hide_readout(self):
        self.cursor.setVisible(False)
        self.readout.setVisible(False)

    def _mouse_moved(self, position):
        history = self._history
        box = self.loss.vb.sceneBoundingRect()
        if not len(history) or not box.contains(position):
            self._hide_readout()
            return
        x = self.loss.vb.mapSceneToView(position).x()
        row = history[int(np.clip(np.searchsorted(history[:, 0], x), 0,
                                  len(history) - 1))]
        text = (f"epoch {int(row[0])}\n"
                f"training loss {row[1]:.4f}\ntest loss {row[2]:.4f}")
        if not np.isnan(row[3]):
            text += f"\naccuracy {row[3]:.1%} / {row[4]:.1%}"
        self.cursor.setPos(row[0])
        self.cursor.setVisible(True)
        y = row[1]
        if self.log_scale:
            y = np.log10(max(y, 1e-12))
        self.readout.setText(text)
        self.readout.setPos(row[0], y)
        self.readout.setVisible(True)


def _set_data(item, x, y):
    """``item.setData(x, y)``, hiding an item left empty: pyqtgraph would
    still paint it, in Python, with every frame. An empty item stays as it
    is."""
    empty = len(x) == 0
    if empty and not item.isVisible():
        return
    item.setData(x, y)
    item.setVisible(not empty)


class PeakEnvelope:
    """The curves of an append-only history, thinned for drawing: each run
    of ``size`` rows becomes its lowest and highest value of each column,
    at the run's first epoch, so spikes survive. ``size`` doubles when the
    runs would pass ``limit // 2``.

    Kept up to date as rows arrive: a frame costs the new rows, not the
    whole history, which at full speed grows by a thousand rows a second.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.clear()

    def clear(self):
        self.size = 1
        self.rows = 0  # rows folded into complete runs
        self.starts = np.empty(0)  # each run's first epoch
        self.low = np.empty((0, 4))  # per run, columns 1 to 4
        self.high = np.empty((0, 4))
        self._last = None  # the last folded row, to know the history again

    def update(self, history: np.ndarray) -> None:
        """Fold in the complete runs of ``history`` (n, 5) not seen yet;
        another history (a new run) starts afresh."""
        if self.rows and (len(history) < self.rows or not np.array_equal(
                history[self.rows - 1], self._last, equal_nan=True)):
            self.clear()
        complete = len(history) // self.size * self.size
        if complete <= self.rows:
            return
        runs = history[self.rows: complete].reshape(-1, self.size, 5)
        self.starts = np.concatenate([self.starts, runs[:, 0, 0]])
        with np.errstate(invalid="ignore"):  # runs of nothing but NaN
            self.low = np.concatenate(
                [self.low, np.fmin.reduce(runs[:, :, 1:], axis=1)])
            self.high = np.concatenate(
                [self.high, np.fmax.reduce(runs[:, :, 1:], axis=1)])
        self.rows = complete
        while len(self.starts) > self.limit // 2:
            self._coarsen()
        self._last = history[self.rows - 1].copy() if self.rows else None

    def _coarsen(self):
        pairs = len(self.starts) // 2
        if len(self.starts) % 2:  # an odd run out: fold it in again later
            self.rows -= self.size
        self.size *= 2
        self.starts = self.starts[: 2 * pairs: 2]
        with np.errstate(invalid="ignore"):
            self.low = np.fmin(self.low[: 2 * pairs: 2],
                               self.low[1: 2 * pairs: 2])
            self.high = np.fmax(self.high[: 2 * pairs: 2],
                                self.high[1: 2 * pairs: 2])

    def runs(self, history: np.ndarray):
        """(starts, low, high) of every run, the rows not yet in a complete
        run making one more."""
        tail = history[self.rows:]
        if not len(tail):
            return self.starts, self.low, self.high
        with np.errstate(invalid="ignore"):
            low = np.fmin.reduce(tail[:, 1:], axis=0)
            high = np.fmax.reduce(tail[:, 1:], axis=0)
        return (np.append(self.starts, tail[0, 0]),
                np.vstack([self.low, low]), np.vstack([self.high, high]))


def _cache(*items):
    """Let Qt keep a picture of items that change rarely (points, axes)
    and copy it into each frame, rather than have pyqtgraph draw them in
    Python each time while training runs."""
    for item in items:
        item.setCacheMode(
            QGraphicsItem.CacheMode.DeviceCoordinateCache)


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 5, 7 times a power of ten that is at
    least ``value`` (for a positive value)."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    power = 10.0 ** np.floor(np.log10(value))
    for step in (1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0):
        if step * power >= value * (1 - 1e-12):
            return float(step * power)
    return float(10.0 * power)
