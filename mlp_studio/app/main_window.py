"""The main window: controls, network diagram, decision regions, error curve.

The window drives the engine through the ``Trainer`` thread and shows the
newest ``Snapshot`` the trainer publishes. It never touches the training
run itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import (
    QByteArray,
    QCoreApplication,
    QEvent,
    QSettings,
    Qt,
    Signal,
    qVersion,
)
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSlider,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from mlp_studio import __version__
from mlp_studio.core import DataFileError, get_activation, load_csv, save_csv
from mlp_studio.core.editing import DataEditor, PointSet
from mlp_studio.core.features import FeatureMap
from mlp_studio.core.inspect import (
    agreement,
    boundary_moves,
    dissent,
    numeric_gradient,
    output_change,
    per_point_grads,
    point_wish,
)
from mlp_studio.core.network import forward_layers
from mlp_studio.core.training import Snapshot, TrainingRun, plane_grid

from .animation import Recorder
from .controls import DRAWN, ControlPanel
from .diagram import NetworkDiagram
from .drawing import Canvas, DrawingPalette
from .file_actions import FileActions
from .hidden_space import HiddenSpacePanel
from .inspector import PointInspector, formal_text, top_dissenters
from .landscape import LandscapePanel
from .plots import DecisionPlot, LossPlot, SquareFrame
from .trainer import SPEEDS, Trainer

log = logging.getLogger(__name__)

UNIT_RESOLUTION = 100  # a hovered unit's map in the decision plot
WISH_RESOLUTION = 80  # the wish field, recomputed every frame
SETTINGS_VERSION = 1
MAX_FPS = 31  # frames a second while training: smooth, and cheap enough
STATUS_INTERVAL = 0.15  # seconds between status bar updates while training
DEFAULT_SPEED = 1000  # updates/s: the spiral takes shape in a few seconds


def _headless() -> bool:
    return os.environ.get("QT_QPA_PLATFORM") == "offscreen"


def session_controls(run, spec) -> dict:
    """The control panel's state for an opened run."""
    model, training = run.model_settings, run.training
    state = {
        "problem": run.dataset.task,
        "features": list(model.features), "hidden": list(model.hidden),
        "activations": list(model.activations), "seed": model.seed,
        "learning_rate": training.learning_rate,
        "batch": training.batch_size, "optimizer": training.optimizer,
        "regularization": training.regularization,
        "reg_rate": training.reg_rate,
        "ratio": round(100 * run.train_ratio),
    }
    if spec is not None:
        state.update(dataset=spec.name, points=spec.points,
                     noise=round(100 * spec.noise), data_seed=spec.seed,
                     classes=spec.classes)
    return state


def speed_label(speed):
    return "full speed" if speed is None else f"{speed:,} updates/s"


class MainWindow(QMainWindow):
    """MLP Studio's main window.

    Parameters
    ----------
    settings : where layout and last settings persist; the user's own
        QSettings when None.
    restore : apply the saved settings (tests start from the defaults).
    """

    snapshot_shown = Signal(object)  # the Snapshot just drawn

    def __init__(self, settings: QSettings | None = None, restore=True,
                 parent=None, data_dir=None, autosave=True):
        super().__init__(parent)
        self.setWindowTitle("MLP Studio")
        self.settings = settings or QSettings()
        self.snapshot: Snapshot | None = None
        self.frames_shown = 0
        self._running = False
        self._rate = 0.0
        self._status_due = 0.0
        self._clock = time.monotonic  # tests may stand in their own
        self._unit_features: dict = {}

        self.controls = ControlPanel()
        self.diagram = NetworkDiagram()
        self.decision = DecisionPlot()
        self.curve = LossPlot()
        self.palette = DrawingPalette()
        self.inspector = PointInspector()
        self._selected: int | None = None  # index into editor.points
        self._listen: tuple | None = None  # (serial, loss, old grid)
        self._agreement_time = 0.0
        self.recorder = Recorder()
        self._build_layout()
        self._build_toolbar()
        self._build_status_bar()
        if restore:
            self._restore_settings()

        spec = self.controls.data_spec()
        try:
            run = TrainingRun(spec.make(), self.controls.model_settings(),
                              self.controls.train_settings(),
                              spec.train_ratio, spec.seed)
        except ValueError as exc:
            log.warning("saved settings refused (%s); using defaults", exc)
            run = TrainingRun.default()
        # The points as the window knows them: the source of truth for
        # what is drawn, edited, undone and saved.
        self.editor = DataEditor(PointSet.from_split(run.train, run.test))
        self.canvas = Canvas(self.decision, self.palette, self.editor,
                             lambda: self.controls.ratio.value() / 100.0,
                             self)
        self.canvas.points_changed.connect(self._points_edited)
        self.canvas.point_picked.connect(self.select_point)
        self.inspector.cleared.connect(lambda: self.select_point(-1))
        self.inspector.listen_requested.connect(self.listen_to_point)
        self.inspector.point_chosen.connect(self._choose_training_point)
        self.inspector.wish_field_toggled.connect(
            lambda _: self._refresh_inspection())
        self.inspector.agreement_toggled.connect(
            lambda _: self._refresh_inspection(force_agreement=True))
        self._build_menus()
        self._show_points()
        self.trainer = Trainer(run, max_fps=MAX_FPS)
        self.trainer.snapshot_ready.connect(self._take_snapshot)
        self.trainer.running_changed.connect(self._running_changed)
        self.trainer.failed.connect(self._show_failure)
        self.trainer.rate_measured.connect(self._rate_measured)
        self.trainer.set_speed(SPEEDS[self.speed.value()])

        self.controls.data_changed.connect(self._data_changed)
        self.controls.model_changed.connect(self._model_changed)
        self.controls.training_changed.connect(self._training_changed)
        self.diagram.unit_hovered.connect(self._unit_hovered)
        self.diagram.edge_clicked.connect(self._edge_clicked)

        self.files = FileActions(self, data_dir)
        self.files.ask_before_discarding = not _headless()
        self.files.build(self.file_menu)
        quit_action = self.file_menu.addAction("&Quit")
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        for signal in (self.controls.data_changed, self.controls.model_changed,
                       self.controls.training_changed,
                       self.canvas.points_changed):
            signal.connect(lambda *_: self.files.changed())
        self.files.update_title()
        self.trainer.start()
        if autosave:
            self.files.start_autosave()

    # ------------------------------------------------------------------
    # Building

    def _build_layout(self):
        canvas = QWidget()
        column = QVBoxLayout(canvas)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.palette)
        column.addWidget(self.palette.second_row)
        column.addWidget(SquareFrame(self.decision), 1)
        self.right = QSplitter(Qt.Orientation.Vertical)
        self.right.addWidget(canvas)
        self.right.addWidget(self.curve)
        self.right.setStretchFactor(0, 3)
        self.right.setStretchFactor(1, 2)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.diagram)
        self.splitter.addWidget(self.right)
        # Room given or taken (a dock opening, the window resized) is
        # shared evenly: the diagram zooms to fit, and the plot keeps room
        # for the drawing tools above it.
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.setCentralWidget(self.splitter)

        inspector_dock = QDockWidget("Point inspector", self)
        inspector_dock.setObjectName("inspector_dock")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.inspector)
        inspector_dock.setWidget(scroll)
        inspector_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea,
                           inspector_dock)
        self.inspector_dock = inspector_dock
        inspector_dock.hide()  # until a point is inspected

        # Panels that follow training only while shown, in tabs beside
        # the inspector: a hidden one costs no training time.
        self.landscape = LandscapePanel()
        self.landscape_dock = self._tab_dock(
            "Error landscape", "landscape_dock", self.landscape,
            inspector_dock, self._landscape_shown)
        self.hidden_space = HiddenSpacePanel()
        self.hidden_dock = self._tab_dock(
            "Hidden space", "hidden_space_dock", self.hidden_space,
            self.landscape_dock, self._hidden_space_shown)

        dock = QDockWidget("Settings", self)
        dock.setObjectName("settings_dock")
        dock.setWidget(self.controls)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.resize(1500, 900)

    def _tab_dock(self, title, name, panel, beside, shown):
        """A hidden dock holding ``panel``, tabbed with the dock ``beside``;
        ``shown(visible)`` hears when it is shown or hidden."""
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(panel)
        dock.setFeatures(beside.features())
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.tabifyDockWidget(beside, dock)
        dock.hide()
        dock.visibilityChanged.connect(shown)
        return dock

    def _action(self, text, tip, shortcut=None, slot=None, checkable=False):
        action = QAction(text, self)
        action.setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        if slot is not None:
            signal = action.toggled if checkable else action.triggered
            signal.connect(slot)
        self.addAction(action)
        return action

    def _build_toolbar(self):
        bar = QToolBar("Training")
        bar.setObjectName("training_toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(bar)
        self.play_action = self._action(
            "▶ Train", "Start or pause training", "Space", self._toggle)
        self.step_action = self._action(
            "Step", "Pause and take one update", "S",
            lambda: self.trainer.step(1))
        self.epoch_action = self._action(
            "Epoch", "Pause and run to the end of the epoch", "E",
            self.trainer_step_epoch)
        self.reset_action = self._action(
            "Reset", "Back to the same initial weights", "R",
            lambda: self.trainer.submit(lambda run: run.reset()))
        self.reseed_action = self._action(
            "Reseed", "Draw new initial weights", "Shift+R", self._reseed)
        for action in (self.play_action, self.step_action, self.epoch_action,
                       self.reset_action, self.reseed_action):
            bar.addAction(action)
        bar.addSeparator()
        bar.addWidget(QLabel(" Speed "))
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(0, len(SPEEDS) - 1)
        self.speed.setInvertedAppearance(True)
        self.speed.setFixedWidth(140)
        self.speed.setValue(SPEEDS.index(DEFAULT_SPEED))
        self.speed.setToolTip(
            "Training speed: from full speed (right) down to slow motion, "
            "one update a second (left), to follow single steps")
        self.speed.valueChanged.connect(self._speed_changed)
        self.speed_text = QLabel(speed_label(DEFAULT_SPEED))
        self.speed_text.setMinimumWidth(120)
        bar.addWidget(self.speed)
        bar.addWidget(self.speed_text)
        bar.addSeparator()
        self.discretize_action = self._action(
            "Discretize", "Show only the predicted class, no shades", "D",
            self.decision.set_discretize, checkable=True)
        self.test_action = self._action(
            "Test data", "Show the test points (dark rim)", "T",
            self.decision.set_show_test, checkable=True)
        self.test_action.toggled.connect(self.hidden_space.set_show_test)
        self.test_action.setChecked(True)
        self.lines_action = self._action(
            "Neuron lines",
            "Draw the boundary of each first-hidden-layer neuron; hovering "
            "one on the diagram draws its own boldly", "L",
            self.decision.set_show_lines, checkable=True)
        self.log_action = self._action(
            "Log scale", "Error curve on a logarithmic scale", None,
            self.curve.set_log_scale, checkable=True)
        for action in (self.discretize_action, self.test_action,
                       self.lines_action, self.log_action):
            bar.addAction(action)

    def trainer_step_epoch(self):
        self.trainer.step_epoch()

    def _build_status_bar(self):
        bar = self.statusBar()
        self.status_epoch = QLabel()
        self.status_rate = QLabel()
        self.status_loss = QLabel()
        self.status_accuracy = QLabel()
        for label in (self.status_epoch, self.status_rate, self.status_loss,
                      self.status_accuracy):
            label.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(label)
        self.alert = QLabel()
        self.alert.setStyleSheet("color: #b00020; font-weight: bold;")
        bar.addWidget(self.alert, 1)

    # ------------------------------------------------------------------
    # Commands

    def _toggle(self):
        self.trainer.toggle()

    def _reseed(self):
        def command(run):
            run.reseed()
        self.trainer.submit(command)

    def _speed_changed(self, index):
        speed = SPEEDS[index]
        self.speed_text.setText(speed_label(speed))
        self.trainer.set_speed(speed)

    def _data_changed(self, spec):
        if spec.name == DRAWN:
            return  # nothing to generate: the points are the user's
        try:
            dataset = spec.make()
        except ValueError as exc:
            self._show_failure(str(exc))
            return
        self.alert.clear()
        train, test = dataset.split(spec.train_ratio, spec.seed)
        self.editor.apply(PointSet.from_split(train, test))
        self._show_points()
        self.trainer.submit(lambda run: run.set_data(
            dataset, spec.train_ratio, spec.seed, restart=True,
            split=(train, test)))

    def _hidden_space_shown(self, visible):
        if visible and self.snapshot is not None:
            self.hidden_space.show_snapshot(self.snapshot)

    def _landscape_shown(self, visible):
        if visible and self.snapshot is not None:
            self.landscape.show_snapshot(self.snapshot,
                                         self.snapshot.trajectory)

    # ------------------------------------------------------------------
    # Asking a point

    def select_point(self, index: int):
        """Inspect point ``index`` of the current points (-1: none)."""
        points = self.editor.points
        if index is None or not 0 <= index < len(points):
            self._selected = None
            self._listen = None
            self.inspector.show_wish(None)
            self.inspector.show_dissenters([])
            self.diagram.show_wishes(None)
            self.diagram.show_agreement(None)
            self.decision.show_selection(None)
            self.decision.show_moves()
            self.decision.show_contours()
            self.decision.force_lines = False
            self.decision.set_line_helps(None)
            self.decision.show_unit(None)
            return
        self._selected = index
        self._agreement_time = 0.0
        self.inspector_dock.show()
        self._refresh_inspection()

    def _choose_training_point(self, train_index):
        training = np.flatnonzero(~self.editor.points.test)
        if 0 <= train_index < len(training):
            self.select_point(int(training[train_index]))

    def _refresh_inspection(self, force_agreement=False):
        if force_agreement:
            self._agreement_time = 0.0
        if self._selected is not None and self.snapshot is not None:
            self._inspect(self.snapshot)

    def _selected_point(self):
        points = self.editor.points
        k = self._selected
        return points.X[k], points.y[k], bool(points.test[k])

    def _inspect(self, snapshot):
        """Recompute what the selected point asks, for this snapshot."""
        point, label, is_test = self._selected_point()
        if snapshot.task != self.editor.points.task:
            return  # the trainer has not caught up with the data yet
        params = [(w, b) for w, b in snapshot.params]
        names = snapshot.activations
        lr = snapshot.training.learning_rate
        with np.errstate(all="ignore"):
            wish = point_wish(params, names, snapshot.task,
                              snapshot.feature_names, point, label)
            feet, shifts, towards = boundary_moves(
                params, snapshot.feature_names, wish, lr)
        self.inspector.show_wish(wish, task=snapshot.task, is_test=is_test)
        self.diagram.show_wishes(
            wish.grads, values=[wish.features, *wish.activations])
        self.decision.show_selection(point)
        self.decision.force_lines = True
        self.decision.set_line_helps(wish.helps)
        self.decision.show_moves(feet, shifts, towards)
        self._show_wish_field(snapshot, params, wish, lr, label)
        self._show_listen_result(snapshot, wish)
        self._show_agreement(snapshot, params)

    def _show_wish_field(self, snapshot, params, wish, lr, label):
        if not self.inspector.wish_field.isChecked():
            if self.decision.overlay_kind == "wish":
                self.decision.show_unit(None)
            return
        grid = self._unit_grid(snapshot, WISH_RESOLUTION)
        step = [(-lr * gw, -lr * gb) for gw, gb in wish.grads]
        column = int(label) if snapshot.task == "multiclass" else 0
        with np.errstate(all="ignore"):
            change = output_change(params, snapshot.activations,
                                   snapshot.task, snapshot.feature_names,
                                   step, grid, column)
        span = float(np.nanmax(np.abs(change))) if change.size else 0.0
        span = span if np.isfinite(span) and span > 0 else 1.0
        self.decision.show_unit(
            change.reshape(WISH_RESOLUTION, WISH_RESOLUTION), -span, span,
            kind="wish")

    def _unit_grid(self, snapshot, resolution):
        key = ("raw", resolution, snapshot.domain)
        grid = self._unit_features.get(key)
        if grid is None:
            grid = plane_grid(resolution, snapshot.domain)
            self._unit_features[key] = grid
        return grid

    def _show_agreement(self, snapshot, params):
        """Agreement over the training set: at most a few times a second
        while training runs, it costs a backward pass per point."""
        now = time.perf_counter()
        if snapshot.running and now - self._agreement_time < 0.25:
            return
        self._agreement_time = now
        train = snapshot.train
        if train is None or len(train) == 0:
            return
        with np.errstate(all="ignore"):
            grads = per_point_grads(params, snapshot.activations,
                                    snapshot.task, snapshot.feature_names,
                                    train.X, train.y)
            scores = dissent(grads)
        self.inspector.show_dissenters(top_dissenters(scores, train.X,
                                                      train.y))
        if self.inspector.agreement.isChecked():
            self.diagram.show_agreement(agreement(grads))
        else:
            self.diagram.show_agreement(None)

    def listen_to_point(self):
        """One plain gradient step for the selected point alone."""
        snapshot = self.snapshot
        if self._selected is None or snapshot is None:
            return
        point, label, _ = self._selected_point()
        lr = snapshot.training.learning_rate
        before = point_wish([(w, b) for w, b in snapshot.params],
                            snapshot.activations, snapshot.task,
                            snapshot.feature_names, point, label)
        self._listen = (snapshot.serial, before.loss,
                        self._own_class_grid(snapshot, label))

        def command(run):
            wish = point_wish(run.model.params(), snapshot.activations,
                              run.model.task, run.features.names, point,
                              label)
            run.model.set_params(wish.step(run.model.params(), lr))

        self.trainer.pause()
        self.trainer.submit(command)

    def _own_class_grid(self, snapshot, label):
        grid = snapshot.output_grid
        if grid is None:
            return None
        if snapshot.task == "multiclass":
            return grid[..., int(label)]
        return grid

    def _show_listen_result(self, snapshot, wish):
        if self._listen is None:
            self.decision.show_contours()
            return
        serial, before, ghost = self._listen
        level = 0.5 if snapshot.task != "regression" else float(wish.label)
        current = self._own_class_grid(snapshot, wish.label)
        self.decision.show_contours(current, ghost, level)
        if snapshot.serial > serial:
            self.inspector.show_listened(before, wish.loss)

    def _show_formal(self, snapshot, layer, i, j):
        point, label, _ = self._selected_point()
        params = [(w.copy(), b.copy()) for w, b in snapshot.params]
        with np.errstate(all="ignore"):
            wish = point_wish(params, snapshot.activations, snapshot.task,
                              snapshot.feature_names, point, label)
            numeric = numeric_gradient(params, snapshot.activations,
                                       snapshot.task, snapshot.feature_names,
                                       point, label, layer, i, j)
        self.inspector.show_formal(formal_text(
            wish, params, snapshot.activations, snapshot.task, layer, i, j,
            numeric))
        self.inspector_dock.show()

    # ------------------------------------------------------------------
    # Drawing and data files

    def _points_edited(self, points):
        """Drawn, erased or moved points: training goes on with them."""
        self.select_point(-1)
        self.controls.show_drawn(points.task)
        self._show_points()
        train, test = points.split()
        dataset = points.dataset()
        self.trainer.submit(lambda run: run.set_data(
            dataset, restart=False, split=(train, test)))

    def _show_points(self):
        points = self.editor.points
        train, test = points.split()
        self.decision.show_points(train, test, points.task)
        self.palette.set_task(points.task)
        self.undo_action.setEnabled(self.editor.can_undo)
        self.redo_action.setEnabled(self.editor.can_redo)

    def undo(self):
        if self.editor.undo():
            self._points_edited(self.editor.points)

    def redo(self):
        if self.editor.redo():
            self._points_edited(self.editor.points)

    def clear_points(self):
        self.editor.apply(self.editor.points.cleared())
        self._points_edited(self.editor.points)

    def empty_canvas(self):
        """Start from no points, for the current problem, ready to draw."""
        task = self.controls.problem.currentData()
        self.editor.apply(PointSet.empty(task))
        self._points_edited(self.editor.points)
        if not self.palette.tool():
            self.palette.set_tool("add")

    def load_session(self, opened):
        """Show and train an opened ``session.Session``."""
        run = opened.run
        self.select_point(-1)
        self.trainer.replace_run(run)
        self.editor.apply(opened.points)
        self.controls.restore(session_controls(run, opened.spec))
        if opened.spec is None:
            self.controls.show_drawn(run.dataset.task)
        self._show_points()

    def open_data(self, path: str | None = None) -> bool:
        """Load points from a CSV file; a bad file changes nothing."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open data", "", "CSV files (*.csv);;All files (*)")
            if not path:
                return False
        try:
            loaded = load_csv(path)
        except (DataFileError, OSError) as exc:
            message = f"Could not open {path}:\n{exc}"
            log.warning("%s", message)
            self._show_failure(f"Could not open the data file: {exc}")
            if self.isVisible() and not _headless():
                QMessageBox.warning(self, "Open data", message)
            return False
        spec = self.controls.data_spec()
        train, test = loaded.dataset.split(spec.train_ratio, spec.seed)
        self.editor.apply(PointSet.from_split(train, test))
        self._points_edited(self.editor.points)
        notes = "; ".join(loaded.notes)
        self.statusBar().showMessage(
            f"Opened {len(loaded.dataset)} points from {path}"
            + (f" ({notes})" if notes else ""), 8000)
        return True

    def save_data(self, path: str | None = None) -> bool:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Save data", "data.csv", "CSV files (*.csv)")
            if not path:
                return False
        try:
            save_csv(self.editor.points.dataset(), path)
        except OSError as exc:
            self._show_failure(f"Could not save {path}: {exc}")
            return False
        self.statusBar().showMessage(f"Saved {len(self.editor.points)} "
                                     f"points to {path}", 5000)
        return True

    def _build_menus(self):
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")  # filled by FileActions

        view = bar.addMenu("&View")
        self.bias_units_action = view.addAction("Biases as &units")
        self.bias_units_action.setCheckable(True)
        self.bias_units_action.setToolTip(
            "Show each bias as a weight from a unit that is always 1")
        self.bias_units_action.toggled.connect(self.diagram.set_bias_units)
        self.inspector_action = self.inspector_dock.toggleViewAction()
        self.inspector_action.setText("Point &inspector")
        view.addAction(self.inspector_action)
        self.landscape_action = self.landscape_dock.toggleViewAction()
        self.landscape_action.setText("Error &landscape")
        view.addAction(self.landscape_action)
        self.hidden_action = self.hidden_dock.toggleViewAction()
        self.hidden_action.setText("&Hidden space")
        view.addAction(self.hidden_action)

        edit = bar.addMenu("&Edit")
        self.undo_action = edit.addAction("&Undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.undo_action.triggered.connect(self.undo)
        self.redo_action = edit.addAction("&Redo")
        self.redo_action.setShortcut(QKeySequence("Ctrl+Shift+Z"))
        self.redo_action.triggered.connect(self.redo)
        edit.addSeparator()
        clear = edit.addAction("&Clear points")
        clear.triggered.connect(self.clear_points)
        no_tool = edit.addAction("No drawing tool")
        no_tool.setShortcut(QKeySequence("Esc"))
        no_tool.triggered.connect(lambda: self.palette.set_tool(""))

        help_menu = bar.addMenu("&Help")
        about = help_menu.addAction("&About MLP Studio")
        about.triggered.connect(self.show_about)

    def _model_changed(self, settings):
        self.alert.clear()
        self.trainer.submit(lambda run: run.set_model(settings))

    def _training_changed(self, settings):
        self.trainer.submit(lambda run: run.set_training(settings))

    def _edge_clicked(self, layer, i, j):
        snapshot = self.snapshot
        if snapshot is None:
            return
        if self._selected is not None:
            self._show_formal(snapshot, layer, i, j)
            return
        if self._running:
            self.statusBar().showMessage("Pause training to edit a weight",
                                         4000)
            return
        current = float(snapshot.params[layer][0][i, j])
        value, ok = QInputDialog.getDouble(
            self, "Edit weight",
            f"Weight of layer {layer + 1}, from unit {i + 1} to unit {j + 1}:",
            current, -1000.0, 1000.0, 4)
        if ok:
            self.set_weight(layer, i, j, value)

    def set_weight(self, layer, i, j, value):
        """Set one weight by hand (the trainer applies it)."""
        def command(run):
            params = run.model.params()
            params[layer][0][i, j] = value
            run.model.set_params(params)
        self.trainer.submit(command)

    # ------------------------------------------------------------------
    # Showing what the trainer sends

    def _take_snapshot(self):
        snapshot = self.trainer.take_snapshot()
        if snapshot is None:
            return
        # Python runs one thread at a time. The plots paint in Python
        # (pyqtgraph), so they are painted here and now, with the trainer
        # held: taking turns costs both far less than fighting over the
        # interpreter lock. The diagram paints later, from the event loop,
        # in Qt's own code, which needs no lock: it draws while the
        # trainer trains.
        held = self.trainer.hold()
        try:
            changed = self.show_snapshot(snapshot)
            if held:
                for view in changed:
                    if view is not self.diagram:
                        # The scene's deferred redraw, run now, paints the
                        # view, and leaves the event loop nothing to do.
                        QCoreApplication.sendPostedEvents(
                            view.scene(), QEvent.Type.MetaCall)
        finally:
            self.trainer.release()

    def show_snapshot(self, snapshot: Snapshot) -> list:
        """Draw a snapshot; returns the views that will repaint."""
        self.snapshot = snapshot
        self.diagram.set_draft(snapshot.running
                               and SPEEDS[self.speed.value()] is None)
        self.diagram.show_snapshot(snapshot)
        self.decision.show_snapshot(snapshot)
        changed = [self.diagram, self.decision]
        if self.curve.show_history(snapshot.history, snapshot.task):
            changed.append(self.curve)
        # Each new text lays the status bar out again, a millisecond a
        # frame, for numbers that change faster than anyone reads them:
        # while training runs they follow a few times a second, and a
        # paused run's show at once.
        now = self._clock()
        if not snapshot.running or now >= self._status_due:
            self._status_due = now + STATUS_INTERVAL
            self._update_status(snapshot)
        if self._selected is not None:
            self._inspect(snapshot)
        if hasattr(self, "files"):
            self.files.snapshot_shown(snapshot)
        if self.landscape_dock.isVisible():
            self.landscape.show_snapshot(snapshot, snapshot.trajectory)
        if self.hidden_dock.isVisible() \
                and self.hidden_space.show_snapshot(snapshot):
            changed.append(self.hidden_space.plot)
        self.recorder.record(snapshot, self.editor.points)
        self.frames_shown += 1
        self.snapshot_shown.emit(snapshot)
        return changed

    def _update_status(self, snapshot):
        self.status_epoch.setText(
            f"Epoch {snapshot.epochs:,}  ·  {snapshot.updates:,} updates")
        self.status_rate.setText(
            f"{self._rate:,.0f} updates/s" if self._running else "paused")
        self.status_loss.setText(
            f"Loss: training {snapshot.train_loss:.4f}, "
            f"test {snapshot.test_loss:.4f}")
        if snapshot.task == "regression":
            self.status_accuracy.setText("")
        else:
            self.status_accuracy.setText(
                f"Accuracy: {snapshot.train_accuracy:.1%} / "
                f"{snapshot.test_accuracy:.1%}")

    def _running_changed(self, running):
        self._running = running
        self.play_action.setText("❚❚ Pause" if running else "▶ Train")
        if running:
            self.alert.clear()
        else:
            self.status_rate.setText("paused")

    def _rate_measured(self, rate):
        self._rate = rate
        if self._running:
            self.status_rate.setText(f"{rate:,.0f} updates/s")

    def _show_failure(self, message):
        self.alert.setText(message)
        log.info("shown to the user: %s", message)

    def _unit_hovered(self, layer, unit):
        snapshot = self.snapshot
        if layer < 0 or snapshot is None:
            self.decision.show_unit(None)
            return
        values = self._unit_values(snapshot, layer, unit)
        if layer == len(snapshot.sizes) - 1:
            if snapshot.task == "regression":
                low, high = -1.0, 1.0
            else:
                low, high = 0.0, 1.0
        elif layer > 0 and snapshot.activations[layer - 1] == "sigmoid":
            low, high = 0.0, 1.0
        else:
            span = max(float(np.abs(values).max()), 1e-6)
            if layer > 0 and snapshot.activations[layer - 1] == "tanh":
                span = 1.0
            low, high = -span, span
        # A first-layer unit is one of the neuron lines (a perceptron's
        # output too: there the first layer is the output).
        self.decision.show_unit(values, low, high,
                                line=unit if layer == 1 else None)

    def _unit_values(self, snapshot, layer, unit):
        """(res, res) values of one unit over the plane."""
        features = self._unit_features.get(snapshot.feature_names)
        if features is None:
            features = FeatureMap(snapshot.feature_names).transform(
                plane_grid(UNIT_RESOLUTION, snapshot.domain))
            self._unit_features = {snapshot.feature_names: features}
        if layer == 0:
            column = features[:, unit]
        else:
            acts = [get_activation(a) for a in snapshot.activations]
            outs = forward_layers(snapshot.params[:layer], acts,
                                  snapshot.task, features)
            column = outs[layer - 1][:, unit]
        return column.reshape(UNIT_RESOLUTION, UNIT_RESOLUTION)

    # ------------------------------------------------------------------
    # Lifetime

    def _restore_settings(self):
        settings = self.settings
        try:
            if int(settings.value("version", 0)) != SETTINGS_VERSION:
                return
        except (TypeError, ValueError):
            return
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = settings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        for key, splitter in (("window/splitter", self.splitter),
                              ("window/right", self.right)):
            value = settings.value(key)
            if isinstance(value, QByteArray):
                splitter.restoreState(value)
        controls = settings.value("controls")
        if isinstance(controls, dict):
            self.controls.restore(controls)
        speed = settings.value("speed")
        with contextlib.suppress(TypeError, ValueError):
            self.speed.setValue(int(speed))
        for key, action in (("discretize", self.discretize_action),
                            ("test", self.test_action),
                            ("lines", self.lines_action),
                            ("log", self.log_action)):
            value = settings.value(f"view/{key}")
            if value is not None:
                action.setChecked(str(value).lower() == "true")

    def save_settings(self):
        settings = self.settings
        settings.setValue("version", SETTINGS_VERSION)
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        settings.setValue("window/splitter", self.splitter.saveState())
        settings.setValue("window/right", self.right.saveState())
        settings.setValue("controls", self.controls.state())
        settings.setValue("speed", self.speed.value())
        for key, action in (("discretize", self.discretize_action),
                            ("test", self.test_action),
                            ("lines", self.lines_action),
                            ("log", self.log_action)):
            settings.setValue(f"view/{key}", action.isChecked())
        settings.sync()

    def shutdown(self):
        """Stop the trainer thread and wait for it."""
        if self.trainer.isRunning():
            self.trainer.stop()
            started = time.perf_counter()
            self.trainer.wait()
            log.debug("trainer stopped in %.3f s",
                      time.perf_counter() - started)

    def closeEvent(self, event):
        if not self.files.may_discard():
            event.ignore()
            return
        self.save_settings()
        self.files.stop_autosave()
        self.landscape.shutdown()
        # Children are deleted in no particular order: stop watching
        # their events first.
        self.decision.viewport().removeEventFilter(self.canvas)
        for view in (self.diagram, self.decision, self.curve):
            view.viewport().removeEventFilter(self)
        self.shutdown()
        super().closeEvent(event)

    def about_text(self) -> str:
        return (
            f"<h3>MLP Studio {__version__}</h3>"
            "<p>Draw a data set, build a multi-layer perceptron and watch "
            "backpropagation train it; ask any training point what it wants "
            "the network to do.</p>"
            f"<p>Python {platform.python_version()}, numpy {np.__version__}, "
            f"Qt {qVersion()}, pyqtgraph {pg.__version__}</p>")

    def show_about(self):
        QMessageBox.about(self, "About MLP Studio", self.about_text())

