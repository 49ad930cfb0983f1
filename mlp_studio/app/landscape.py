"""The loss landscape panel: the mountain gradient descent walks down.

A heat map with contour lines shows the training loss on a plane through
weight space (``mlp_studio.core.landscape``), and the optimizer's path is
projected onto it, growing as training runs.

The slice is computed by ``SliceWorker``, a thread of its own with a
one-slot request box: the panel posts the newest request, replacing any
that waits, and the worker always computes the newest. While training
runs the panel asks at most every ``MIN_INTERVAL`` seconds, and at most
half the time (a slice that took 0.4 s waits 0.8 s for the next). The
worker runs at a lower priority (nice 10 on Linux), so on a busy machine
slices come later and training and drawing go on. Moving the path is
cheap and happens on every snapshot, on the GUI thread.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QSize, QThread, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from mlp_studio.core.features import FeatureMap
from mlp_studio.core.landscape import (
    SliceCancelledError,
    describe_param,
    flatten_params,
    loss_slice,
    pca_directions,
    project_path,
    random_directions,
    unflatten_params,
    weight_directions,
)
from mlp_studio.core.training import Snapshot

from . import colors
from .plots import contour

log = logging.getLogger(__name__)

MODES = (
    ("random", "random (filter-normalised)"),
    ("pca", "principal directions of the path"),
    ("weights", "two chosen weights"),
)
RESOLUTION = 51
MIN_INTERVAL = 0.5  # seconds between slices while the centre moves
CONTOURS = 10
SMOOTHING = 4  # image pixels per grid step
COLORMAP = "viridis"
PATH_COLOR = "#ffffff"
NOW_COLOR = colors.TEST_LOSS
_LOG_FLOOR = 1e-12  # a loss of exactly 0 still has a logarithm to draw


# ----------------------------------------------------------------------
# The computation, free of Qt


@dataclass(frozen=True, eq=False)
class SliceRequest:
    """Everything one slice needs, immutable, handed to the worker.

    ``sizes``, ``activations`` and ``task`` describe the network, so the
    request itself serves as the ``net`` argument of ``loss_slice``.
    """

    serial: int
    sizes: tuple
    activations: tuple
    task: str
    X: np.ndarray  # (n, inputs) features of the training points
    y: np.ndarray  # (n,)
    center: np.ndarray  # (n_params,) the current weights
    path: np.ndarray  # (m, n_params), ending at ``center``
    mode: str  # one of MODES' keys
    seed: int  # random directions
    indices: tuple[int, int]  # two chosen parameters
    span: float  # the smallest half-width of the grid
    resolution: int
    urgent: bool  # the settings changed: cancel what is being computed
    updates: int = 0  # of the snapshot whose weights are the centre

    @property
    def settings(self) -> tuple:
        """What chose the plane, to compare with the panel's settings."""
        return _settings_key(self.mode, self.seed, self.indices, self.span,
                             self.resolution)


def _settings_key(mode, seed, indices, span, resolution):
    # A setting that the mode does not use does not count.
    return (mode, seed if mode == "random" else None,
            tuple(indices) if mode == "weights" else None, span, resolution)


@dataclass(frozen=True, eq=False)
class SliceResult:
    """A computed slice (see ``loss_slice``) and how it was made."""

    request: SliceRequest
    alphas: np.ndarray  # (res,)
    betas: np.ndarray  # (res,)
    losses: np.ndarray  # (res, res), rows are beta
    d1: np.ndarray  # (n_params,)
    d2: np.ndarray
    explained: np.ndarray | None  # (2,) for principal directions
    span: float  # the grid's half-width, widened to hold the path
    seconds: float


def compute_slice(request: SliceRequest, cancelled=None) -> SliceResult:
    """Directions, then the loss over the plane they span.

    The grid is widened beyond ``request.span`` when the projected path
    reaches further, so the whole walk is always on the map. Raises
    ValueError with a message for the user when no slice can be made,
    and ``SliceCancelledError`` when ``cancelled()`` turns True.
    """
    start = time.perf_counter()
    center, explained = request.center, None
    if request.mode == "random":
        layers = unflatten_params(center, request.sizes)
        d1, d2 = random_directions(layers, request.seed)
    elif request.mode == "pca":
        d1, d2, explained = pca_directions(request.path)
    elif request.mode == "weights":
        d1, d2 = weight_directions(len(center), *request.indices)
    else:
        raise ValueError(f"unknown kind of directions {request.mode!r}")

    coords = project_path(request.path, center, d1, d2)
    reach = np.abs(coords[np.isfinite(coords)]).max(initial=0.0)
    span = max(request.span, 1.1 * float(reach))
    alphas, betas, losses = loss_slice(
        request, request.X, request.y, center, d1, d2, span,
        request.resolution, cancelled=cancelled)
    return SliceResult(request, alphas, betas, losses, d1, d2, explained,
                       span, time.perf_counter() - start)


# ----------------------------------------------------------------------
# The worker thread


SLICE_NICENESS = 10  # the slice thread's: training and drawing come first


def _yield_to_others():
    """Lower the calling thread's priority, where the system allows one
    thread's alone (Linux), so that training and the window come first.

    Not Qt's IdlePriority: on Linux that is SCHED_IDLE, which runs only
    on an idle core, and with one core busy elsewhere a slice of a tenth
    of a second was seen to wait ten seconds and more.
    """
    if not (sys.platform.startswith("linux") and hasattr(os, "setpriority")):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                       os.getpriority(os.PRIO_PROCESS, 0) + SLICE_NICENESS)
    except OSError as exc:  # not allowed here: run at the normal priority
        log.debug("slice thread keeps its priority: %s", exc)


class SliceWorker(QThread):
    """Computes slices in its own thread, the newest request first.

    ``submit`` puts a request in a one-slot box, replacing any that has
    not started; an urgent request also stops the slice in progress at
    its next batch of grid points. Results come back through ``computed``
    and errors meant for the user through ``failed``.
    """

    computed = Signal(object)  # SliceResult
    failed = Signal(object, str)  # the SliceRequest, a message

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("landscape")
        self._wake = threading.Condition()
        self._request: SliceRequest | None = None
        self._stop = False

    def submit(self, request: SliceRequest) -> None:
        with self._wake:
            self._request = request
            self._wake.notify()

    def stop(self) -> None:
        """Ask the thread to finish; follow with ``wait()``."""
        with self._wake:
            self._stop = True
            self._wake.notify()

    def run(self):
        log.debug("landscape thread started")
        _yield_to_others()
        while True:
            with self._wake:
                while self._request is None and not self._stop:
                    self._wake.wait()
                if self._stop:
                    break
                request, self._request = self._request, None
            self._compute(request)
        log.debug("landscape thread finished")

    def _compute(self, request):
        try:
            result = compute_slice(request, self._superseded)
        except SliceCancelledError:
            log.debug("slice %d cancelled", request.serial)
        except ValueError as exc:
            self.failed.emit(request, str(exc))
        except Exception as exc:  # a bug must not kill the thread
            log.exception("landscape slice failed")
            self.failed.emit(request, f"internal error: {exc}")
        else:
            log.debug("slice %d in %.3f s", request.serial, result.seconds)
            self.computed.emit(result)

    def _superseded(self) -> bool:
        with self._wake:
            waiting = self._request
            return self._stop or (waiting is not None and waiting.urgent)


# ----------------------------------------------------------------------
# 3-D


_GL_REASON: str | None = None


def opengl_unavailable() -> str:
    """Why the 3-D view cannot be shown, or "" when it can."""
    global _GL_REASON
    if _GL_REASON is None:
        _GL_REASON = _probe_opengl()
        if _GL_REASON:
            log.debug("no 3-D view: %s", _GL_REASON)
    return _GL_REASON


def _probe_opengl():
    platform = QCoreApplication.instance().platformName()
    if platform in ("offscreen", "minimal"):
        return f"there is no display to draw 3-D on (Qt platform {platform})"
    try:
        import pyqtgraph.opengl  # noqa: F401
    except Exception as exc:  # ImportError, or OpenGL failing to load
        return f"pyqtgraph's 3-D module could not be loaded ({exc})"
    from PySide6.QtGui import QOffscreenSurface, QOpenGLContext
    context = QOpenGLContext()
    if not context.create():
        return "no OpenGL context could be created"
    surface = QOffscreenSurface()
    surface.create()
    if not context.makeCurrent(surface):
        return "the OpenGL context could not be used"
    context.doneCurrent()
    return ""


class _Surface3D:
    """The slice as a surface in a GLViewWidget, with the path on it.

    Built only once ``opengl_unavailable()`` returned "".
    """

    def __init__(self):
        import pyqtgraph.opengl as gl

        self.view = gl.GLViewWidget()
        self.view.setBackgroundColor(colors.PAPER)
        self.surface = gl.GLSurfacePlotItem(computeNormals=False,
                                            smooth=False)
        self.surface.setGLOptions("opaque")
        self.path = gl.GLLinePlotItem(width=2.0, antialias=True,
                                      color=(0.13, 0.13, 0.13, 1.0))
        self.path.setGLOptions("translucent")
        self.now = gl.GLScatterPlotItem(size=11.0, pxMode=True,
                                        color=pg.mkColor(NOW_COLOR).getRgbF())
        self.now.setGLOptions("translucent")
        for item in (self.surface, self.path, self.now):
            self.view.addItem(item)
        self._key = None

    def show(self, result, values, levels, cmap, coords):
        """Draw ``values`` (res, res) over the result's grid; the path
        (m, 2) rides on the surface."""
        span = result.span
        low, high = levels
        # Height in the units of the floor, so the mountain keeps its
        # proportions whatever the loss's scale.
        heights = (values - low) / (high - low) * span
        rgba = cmap.map(((values - low) / (high - low)).T.ravel(), "float")
        # One colour per vertex, in the surface's vertex order (x outer,
        # y inner): what ``.T.ravel()`` gave.
        self.surface.setData(x=result.alphas, y=result.betas, z=heights.T,
                             colors=rgba)
        self.show_path(result, heights, coords)
        key = (span, result.request.mode)
        if key != self._key:
            self._key = key
            self.view.setCameraPosition(
                pos=pg.Vector(0.0, 0.0, 0.4 * span), distance=3.4 * span,
                elevation=30, azimuth=-55)

    def show_path(self, result, heights, coords):
        z = _bilinear(heights, result.alphas, coords) + 0.01 * result.span
        points = np.column_stack([coords, z])
        self.path.setData(pos=points, mode="line_strip")
        self.now.setData(pos=points[-1:])


def _bilinear(grid, axis, coords):
    """Values of a (res, res) grid (rows along beta) at (m, 2) points
    (alpha, beta), clamped to the grid's edge."""
    last = len(axis) - 1
    where = (coords - axis[0]) / (axis[1] - axis[0])
    where = np.clip(np.nan_to_num(where), 0, last)
    col, row = where[:, 0], where[:, 1]
    c0 = np.minimum(col.astype(int), last - 1)
    r0 = np.minimum(row.astype(int), last - 1)
    fc, fr = col - c0, row - r0
    return ((grid[r0, c0] * (1 - fc) + grid[r0, c0 + 1] * fc) * (1 - fr)
            + (grid[r0 + 1, c0] * (1 - fc) + grid[r0 + 1, c0 + 1] * fc) * fr)


# ----------------------------------------------------------------------
# The panel


class LandscapePanel(QWidget):
    """The training loss around the current weights, and the path there.

    Feed it with ``show_snapshot(snapshot, trajectory)`` from every
    snapshot the window receives; call ``shutdown()`` before the window
    closes.

    Signals
    -------
    slice_shown : a newly computed slice is on screen.
    """

    slice_shown = Signal()

    def sizeHint(self):
        # A dock beside the window's own views: room for a square plot,
        # not half the window.
        return QSize(440, 560)

    def __init__(self, parent=None, resolution: int = RESOLUTION):
        super().__init__(parent)
        self.resolution = int(resolution)
        self._snapshot: Snapshot | None = None
        self._theta: np.ndarray | None = None
        self._network = None  # (sizes, activations, task, features)
        self._path: np.ndarray | None = None  # (m, n_params), ends at theta
        self._features = None  # (Dataset, feature names, X)
        self._result: SliceResult | None = None
        self._values = None  # (values, levels) drawn from the result
        self._serial = 0
        self._requested_center: np.ndarray | None = None
        self._last_request = -np.inf
        self._seed = 0
        self._closed = False
        self._surface3d: _Surface3D | None = None
        self._cmap = pg.colormap.get(COLORMAP)

        self.worker = SliceWorker(self)
        self.worker.computed.connect(self._on_computed)
        self.worker.failed.connect(self._on_failed)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(lambda: self._request(urgent=False))
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

        column = QVBoxLayout(self)
        column.setContentsMargins(4, 4, 4, 4)
        column.addLayout(self._build_direction_row())
        column.addWidget(self._build_weights_row())
        column.addLayout(self._build_view_row())
        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_plot())
        column.addWidget(self.stack, 1)
        self.status = QLabel("The landscape appears with the network's first "
                             "snapshot.")
        self.status.setWordWrap(True)
        column.addWidget(self.status)
        self._mode_changed()

    # ------------------------------------------------------------------
    # Building

    def _build_direction_row(self):
        row = QHBoxLayout()
        row.addWidget(QLabel("Directions:"))
        self.mode = QComboBox()
        for key, text in MODES:
            self.mode.addItem(text, key)
        self.mode.setToolTip(
            "The plane through the current weights that the map shows:\n"
            "random directions scaled to each neuron's weights (Li et al. "
            "2018),\nthe two directions along which the path varied most, "
            "or two single weights")
        self.mode.currentIndexChanged.connect(self._mode_changed)
        row.addWidget(self.mode, 1)
        self.new_random = QPushButton("New random directions")
        self.new_random.setToolTip("Draw two other random directions")
        self.new_random.clicked.connect(self._new_random)
        row.addWidget(self.new_random)
        return row

    def _build_weights_row(self):
        self.weights_box = QWidget()
        weights = QHBoxLayout(self.weights_box)
        weights.setContentsMargins(0, 0, 0, 0)
        self.index1, self.index2 = QSpinBox(), QSpinBox()
        self.name1, self.name2 = QLabel(), QLabel()
        for axis, spin, name, value in (("α", self.index1, self.name1, 0),
                                        ("β", self.index2, self.name2, 1)):
            # Any index until the first snapshot tells the real count.
            spin.setRange(0, 2**31 - 1)
            spin.setValue(value)
            spin.setToolTip(
                f"Flat index of the parameter along {axis}: layer after "
                "layer, each unit's incoming weights, then its bias")
            spin.valueChanged.connect(self._indices_changed)
            weights.addWidget(QLabel(f"{axis}:"))
            weights.addWidget(spin)
            name.setMinimumWidth(80)
            weights.addWidget(name)
        weights.addStretch(1)
        return self.weights_box

    def _build_view_row(self):
        row = QHBoxLayout()
        row.addWidget(QLabel("Span ±"))
        self.span = QDoubleSpinBox()
        self.span.setRange(0.01, 100.0)
        self.span.setDecimals(2)
        self.span.setSingleStep(0.1)
        self.span.setValue(1.0)
        self.span.setToolTip(
            "Half-width of the map in units of the directions; it widens "
            "by itself when the path reaches further")
        self.span.valueChanged.connect(lambda _: self._request(urgent=True))
        row.addWidget(self.span)
        self.log_scale = QCheckBox("Log scale")
        self.log_scale.setChecked(True)
        self.log_scale.setToolTip(
            "Colour by log₁₀ of the loss, so that the valley floor shows "
            "detail next to the peaks")
        self.log_scale.toggled.connect(self._redraw)
        row.addWidget(self.log_scale)
        self.three_d = QCheckBox("3-D")
        self.three_d.toggled.connect(self._three_d_toggled)
        row.addWidget(self.three_d)
        row.addStretch(1)
        return row

    def _build_plot(self):
        self.plot_widget = pg.PlotWidget(background=colors.PAPER)
        self.plot_widget.setMinimumSize(300, 280)
        plot = self.plot = self.plot_widget.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        for axis in ("bottom", "left"):
            plot.getAxis(axis).setPen(colors.INK)
            plot.getAxis(axis).setTextPen(colors.INK)

        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(self._cmap)
        self.image.setZValue(-10)
        plot.addItem(self.image)
        self.contours = pg.PlotDataItem(
            pen=pg.mkPen(255, 255, 255, 110, width=1), connect="finite")
        self.contours.setZValue(-5)
        plot.addItem(self.contours)
        # A dark edge under the white path keeps it visible on the bright
        # (high-loss) parts of the map too.
        self.path_edge = pg.PlotDataItem(pen=pg.mkPen(colors.INK, width=3.5))
        plot.addItem(self.path_edge)
        self.path_item = pg.PlotDataItem(
            pen=pg.mkPen(PATH_COLOR, width=1.5), symbol="o", symbolSize=4,
            symbolPen=None, symbolBrush=PATH_COLOR)
        plot.addItem(self.path_item)
        self.start_item = pg.ScatterPlotItem(
            size=9, pxMode=True, brush=None, pen=pg.mkPen(PATH_COLOR, width=2))
        plot.addItem(self.start_item)
        self.now_item = pg.ScatterPlotItem(
            size=12, pxMode=True, brush=pg.mkBrush(NOW_COLOR),
            pen=pg.mkPen(PATH_COLOR, width=2))
        self.now_item.setZValue(10)
        plot.addItem(self.now_item)
        self.center_item = pg.ScatterPlotItem(
            size=10, pxMode=True, symbol="+",
            pen=pg.mkPen(PATH_COLOR, width=1.5))
        plot.addItem(self.center_item)

        self.colorbar = pg.ColorBarItem(
            colorMap=self._cmap, interactive=False, width=12,
            pen=colors.INK, colorMapMenu=False)
        self.colorbar.setImageItem(self.image, insert_in=plot)
        bar_axis = self.colorbar.getAxis("right")
        bar_axis.setTextPen(colors.INK)
        bar_axis.setPen(colors.INK)
        bar_axis.enableAutoSIPrefix(False)
        bar_axis.setWidth(58)  # room for "-0.25" beside the label
        return self.plot_widget

    # ------------------------------------------------------------------
    # Input

    def show_snapshot(self, snapshot: Snapshot, trajectory=None) -> None:
        """Follow a new snapshot of the run.

        Parameters
        ----------
        snapshot : the window's newest Snapshot; the slice is centred on
            its weights and computed on its training points.
        trajectory : (m, n_params) flat parameter vectors (the layout of
            ``MLP.flat_params``) recorded along the run, oldest first, or
            None. The snapshot's own weights are appended when they differ
            from the last row. A trajectory of another architecture is
            ignored.
        """
        if self._closed:
            return
        theta = flatten_params(snapshot.params)
        network = (snapshot.sizes, snapshot.activations, snapshot.task,
                   snapshot.feature_names)
        changed = network != self._network
        self._snapshot, self._theta, self._network = snapshot, theta, network
        self._path = _path_to(trajectory, theta)
        if changed:
            self._architecture_changed()
        self._redraw_path()
        if self._requested_center is None or not np.array_equal(
                theta, self._requested_center):
            self._request(urgent=changed)

    def set_weight_indices(self, index1: int, index2: int) -> None:
        """Show the plane of two chosen parameters (flat indices, see
        ``core.landscape.weight_index``), e.g. two weights picked on the
        diagram."""
        for spin, index in ((self.index1, index1), (self.index2, index2)):
            spin.blockSignals(True)
            spin.setValue(int(index))
            spin.blockSignals(False)
        self._name_indices()
        row = self._mode_row("weights")
        if self.mode.currentIndex() != row:
            self.mode.setCurrentIndex(row)  # which asks for the slice
        else:
            self._request(urgent=True)

    def shutdown(self) -> None:
        """Stop the worker thread and wait for it. The panel shows nothing
        new afterwards."""
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        self.worker.stop()
        self.worker.wait()
        log.debug("landscape panel shut down")

    @property
    def result(self) -> SliceResult | None:
        """The slice on screen, or None."""
        return self._result

    def current_mode(self) -> str:
        return self.mode.currentData()

    # ------------------------------------------------------------------
    # Requests

    def _settings(self):
        """What decides the plane, apart from where the weights are."""
        return _settings_key(self.current_mode(), self._seed,
                             self._indices(), self.span.value(),
                             self.resolution)

    def _indices(self):
        return self.index1.value(), self.index2.value()

    def _request(self, urgent: bool) -> None:
        """Ask for a slice at the current weights: now when the settings
        changed, else when the last request is old enough."""
        if self._closed or self._snapshot is None:
            return
        if not self.isVisible():
            self._requested_center = None  # ask again when shown
            return
        interval = MIN_INTERVAL
        if self._result is not None:
            interval = max(interval, 2.0 * self._result.seconds)
        wait = self._last_request + interval - time.perf_counter()
        if not urgent and wait > 0:
            if not self._timer.isActive():
                self._timer.start(int(1000 * wait) + 1)
            return
        self._timer.stop()
        request = self._make_request(urgent)
        if request is None:
            return
        if not self.worker.isRunning():
            self.worker.start()
        self.worker.submit(request)
        self._requested_center = self._theta
        self._last_request = time.perf_counter()

    def _make_request(self, urgent):
        snapshot = self._snapshot
        X, y = self._training_points(snapshot)
        if X is None:
            self._clear_plot()
            self._show_message("There are no training points: draw some, "
                               "or generate a data set.")
            return None
        self._serial += 1
        return SliceRequest(
            serial=self._serial, sizes=tuple(snapshot.sizes),
            activations=tuple(snapshot.activations), task=snapshot.task,
            X=X, y=y, center=self._theta,
            # A copy: the window may grow its trajectory in place.
            path=self._path.copy(), mode=self.current_mode(),
            seed=self._seed, indices=self._indices(),
            span=self.span.value(), resolution=self.resolution,
            urgent=urgent, updates=snapshot.updates)

    def _training_points(self, snapshot):
        """(X features, y) of the snapshot's training set, cached while
        the data set and features stay the same objects."""
        train = snapshot.train
        if train is None or len(train) == 0:
            return None, None
        cached = self._features
        if (cached is None or cached[0] is not train
                or cached[1] != snapshot.feature_names):
            X = FeatureMap(snapshot.feature_names).transform(train.X)
            X.setflags(write=False)
            self._features = cached = (train, snapshot.feature_names, X)
        return cached[2], train.y

    # ------------------------------------------------------------------
    # Controls

    def _mode_row(self, key):
        return [k for k, _ in MODES].index(key)

    def _mode_changed(self):
        mode = self.current_mode()
        self.weights_box.setVisible(mode == "weights")
        self.new_random.setVisible(mode == "random")
        self._request(urgent=True)

    def _indices_changed(self):
        self._name_indices()
        if self.current_mode() == "weights":
            self._request(urgent=True)

    def _new_random(self):
        self._seed += 1
        self._request(urgent=True)

    def _name_indices(self):
        if self._snapshot is None:
            return
        for spin, name in ((self.index1, self.name1),
                           (self.index2, self.name2)):
            name.setText(describe_param(self._snapshot.sizes, spin.value()))

    def _architecture_changed(self):
        """Another network: the old slice means nothing any more."""
        last = len(self._theta) - 1
        for spin, index in ((self.index1, 0), (self.index2, 1)):
            spin.blockSignals(True)
            spin.setMaximum(last)
            if spin.value() > last:
                spin.setValue(index)
            spin.blockSignals(False)
        self._name_indices()
        self._clear_plot()

    def _clear_plot(self):
        self._result = self._values = None
        for item in (self.path_edge, self.path_item, self.start_item,
                     self.now_item, self.center_item, self.contours):
            item.setData([], [])
        self.image.clear()

    def _three_d_toggled(self, on):
        if on and self._surface3d is None:
            try:
                self._surface3d = _Surface3D()
            except Exception as exc:
                log.warning("the 3-D view failed to start: %s", exc)
                self._disable_three_d(f"The 3-D view failed to start: {exc}")
                return
            self.stack.addWidget(self._surface3d.view)
        view = self._surface3d.view if on else self.plot_widget
        self.stack.setCurrentWidget(view)
        self._redraw()

    def _disable_three_d(self, reason):
        self.three_d.blockSignals(True)
        self.three_d.setChecked(False)
        self.three_d.blockSignals(False)
        self.three_d.setEnabled(False)
        self.three_d.setToolTip(reason)

    # ------------------------------------------------------------------
    # Results

    def _on_computed(self, result: SliceResult):
        if self._closed or self._theta is None:
            return
        request = result.request
        if (len(request.center) != len(self._theta)
                or request.settings != self._settings()):
            log.debug("slice %d is for old settings: dropped", request.serial)
            return
        self._result = result
        self._redraw()
        self.slice_shown.emit()

    def _on_failed(self, request: SliceRequest, message: str):
        if self._closed or request.settings != self._settings():
            return
        log.debug("no slice: %s", message)
        self._clear_plot()
        self._show_message(message[:1].upper() + message[1:] + ".")

    def _show_message(self, text):
        self.status.setText(text)

    def _redraw(self):
        """Draw the slice on screen again (after a new one, or a change of
        scale or view)."""
        result = self._result
        if result is None:
            return
        values, levels = self._display_values(result.losses)
        if values is None:
            self._show_message("The loss is not finite anywhere on this "
                               "slice: the weights are too large.")
            return
        self._values = (values, levels)
        self._draw_image(result, values, levels)
        self._label_axes(result)
        self._redraw_path()
        self._describe(result)
        if self.three_d.isChecked() and self._surface3d is not None:
            self._surface3d.show(result, values, levels, self._cmap,
                                 self._coords(result))

    def _display_values(self, losses):
        """(values, (low, high)): the losses as coloured, log10 or not,
        with inf and NaN shown as the top of the scale."""
        values = losses
        if self.log_scale.isChecked():
            with np.errstate(all="ignore"):
                values = np.log10(np.maximum(losses, _LOG_FLOOR))
        finite = np.isfinite(values)
        if not finite.any():
            return None, None
        low, high = float(values[finite].min()), float(values[finite].max())
        if high <= low:
            high = low + 1.0
        return np.where(finite, values, high), (low, high)

    def _draw_image(self, result, values, levels):
        span = result.span
        # Drawn finer than computed, so the colours run smoothly rather
        # than in blocks; each value is the centre of its pixel.
        fine = _upsample(values, SMOOTHING)
        half = span / (len(fine) - 1)
        self.image.setImage(fine, autoLevels=False, levels=levels)
        self.image.setRect(-span - half, -span - half, 2 * (span + half),
                           2 * (span + half))
        self.colorbar.setLevels(levels)
        self.colorbar.axis.setLabel(
            "log₁₀ loss" if self.log_scale.isChecked() else "loss",
            color=colors.INK)

        xs, ys = [], []
        for level in np.linspace(*levels, CONTOURS + 2)[1:-1]:
            x, y = contour(values, level, span)
            xs.append(x)
            ys.append(y)
        self.contours.setData(np.concatenate(xs), np.concatenate(ys))
        self.plot.setRange(xRange=(-span, span), yRange=(-span, span),
                           padding=0)

    def _label_axes(self, result):
        request = result.request
        if request.mode == "pca":
            share = result.explained * 100
            names = (f"α: 1st principal direction ({share[0]:.0f} %)",
                     f"β: 2nd principal direction ({share[1]:.0f} %)")
        elif request.mode == "weights":
            names = tuple(f"{axis}: change of "
                          f"{describe_param(request.sizes, index)}"
                          for axis, index in zip("αβ", request.indices))
        else:
            names = ("α: random direction 1", "β: random direction 2")
        self.plot.setLabel("bottom", names[0], color=colors.INK)
        self.plot.setLabel("left", names[1], color=colors.INK)

    def _describe(self, result):
        middle = len(result.alphas) // 2
        loss = result.losses[middle, middle]
        self._show_message(
            f"Loss at the centre {loss:.4g} (after "
            f"{result.request.updates} updates). The white line is the path "
            f"projected onto this plane, ● where the weights are now. "
            f"{len(result.alphas)}×{len(result.betas)} slice in "
            f"{result.seconds:.2f} s.")

    def _coords(self, result):
        request = result.request
        path = self._path
        if path is None or path.shape[1] != len(request.center):
            return np.zeros((0, 2))
        return project_path(path, request.center, result.d1, result.d2)

    def _redraw_path(self):
        result = self._result
        if result is None:
            return
        coords = self._coords(result)
        if not len(coords):
            return
        self.path_edge.setData(coords[:, 0], coords[:, 1])
        self.path_item.setData(coords[:, 0], coords[:, 1])
        self.start_item.setData(coords[:1, 0], coords[:1, 1])
        self.now_item.setData(coords[-1:, 0], coords[-1:, 1])
        self.center_item.setData([0.0], [0.0])
        if (self.three_d.isChecked() and self._surface3d is not None
                and self._values is not None):
            heights = self._values[0]
            low, high = self._values[1]
            self._surface3d.show_path(
                result, (heights - low) / (high - low) * result.span, coords)

    # ------------------------------------------------------------------
    # Qt events

    def showEvent(self, event):
        super().showEvent(event)
        if not self._closed and not self._surface3d:
            reason = opengl_unavailable()
            if reason:
                self._disable_three_d(f"No 3-D view: {reason}.")
        if self._requested_center is None:
            self._request(urgent=True)

    def closeEvent(self, event):
        # Only a panel shown as a window of its own gets this; inside the
        # main window, the window calls ``shutdown``.
        self.shutdown()
        super().closeEvent(event)


def _upsample(grid, factor):
    """A (res, res) grid interpolated bilinearly onto ((res - 1) * factor
    + 1)^2 points spanning the same square."""
    res = len(grid)
    axis = np.linspace(0.0, res - 1, (res - 1) * factor + 1)
    low = np.minimum(axis.astype(int), res - 2)
    frac = axis - low
    rows = grid[low] * (1 - frac)[:, None] + grid[low + 1] * frac[:, None]
    return rows[:, low] * (1 - frac) + rows[:, low + 1] * frac


def _path_to(trajectory, theta):
    """The recorded path, checked, ending at the current weights theta."""
    current = theta[None, :]
    if trajectory is None:
        return current
    path = np.asarray(trajectory, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] != len(theta) or not len(path):
        if path.size:
            log.debug("trajectory of shape %s ignored for %d parameters",
                      path.shape, len(theta))
        return current
    if np.array_equal(path[-1], theta):
        return path
    return np.concatenate([path, current])
