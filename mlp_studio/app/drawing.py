"""Drawing data on the decision plot: the tool palette and the mouse.

The palette picks a tool (add, spray, erase, move), a class (or, for
regression, a value), the brush and where new points go (training or test
set). ``Canvas`` turns mouse presses and drags on the plot into edits of a
``DataEditor`` and says when the points changed; the window passes them to
the trainer.
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QColor,
    QFont,
    QIcon,
    QKeySequence,
    QPainter,
    QPixmap,
)
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QSlider,
    QToolBar,
)

from mlp_studio.core.editing import DataEditor, spray
from mlp_studio.core.heads import MAX_CLASSES

from . import colors

log = logging.getLogger(__name__)

TOOLS = {
    # name: (label, key, tip)
    "inspect": ("Inspect", "I", "Click a point to ask it what it wants "
                "(Alt+click works with any tool)"),
    "add": ("Add", "A", "Click to add a point"),
    "spray": ("Spray", "B", "Drag to spray points with the brush"),
    "erase": ("Erase", "X", "Click or drag to erase the points under the "
              "brush"),
    "move": ("Move", "M", "Drag a point to move it"),
}
SPRAY_INTERVAL_MS = 40  # a held brush sprays this often
PICK_PIXELS = 8  # how near (on screen) a point must be to be moved


def _swatch(color: str, number: int) -> QIcon:
    """A square of the class colour with the class number on it."""
    pixmap = QPixmap(20, 20)
    pixmap.fill(QColor(color))
    painter = QPainter(pixmap)
    font = QFont(painter.font())
    font.setBold(True)
    font.setPixelSize(13)
    painter.setFont(font)
    # Dark figures on light colours, white on dark ones.
    light = QColor(color).lightnessF() > 0.55
    painter.setPen(QColor(colors.INK) if light else QColor("#ffffff"))
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, str(number))
    painter.end()
    return QIcon(pixmap)


class DrawingPalette(QToolBar):
    """Tools, classes, value, brush and destination of new points."""

    tool_changed = Signal(str)  # "" when no tool is chosen

    def __init__(self, parent=None):
        super().__init__("Drawing", parent)
        self.setObjectName("drawing_toolbar")
        self.setMovable(False)
        # The tools are words (a button without an icon shows its text),
        # the classes numbered swatches.
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)

        self.tools = QActionGroup(self)
        self.tools.setExclusionPolicy(
            QActionGroup.ExclusionPolicy.ExclusiveOptional)
        self.tool_actions = {}
        for name, (label, key, tip) in TOOLS.items():
            action = QAction(label, self)
            action.setCheckable(True)
            action.setShortcut(QKeySequence(key))
            action.setToolTip(f"{tip} ({key}; Esc for no tool)")
            action.setData(name)
            self.tools.addAction(action)
            self.addAction(action)
            self.tool_actions[name] = action
        self.tools.triggered.connect(
            lambda _: self.tool_changed.emit(self.tool()))
        self.addSeparator()

        # Classes are numbered from 0 here as everywhere in the window
        # (the diagram's outputs, the inspector), and keys 0 to 5 pick
        # them. The buttons are swatches with the number on them, so that
        # all six fit beside the tools.
        self.classes = QActionGroup(self)
        self.class_actions = []
        for label in range(MAX_CLASSES):
            action = QAction(_swatch(colors.CLASS_COLORS[label], label), "",
                             self)
            action.setCheckable(True)
            action.setShortcut(QKeySequence(str(label)))
            action.setToolTip(f"Draw points of class {label} ({label})")
            action.setData(label)
            self.classes.addAction(action)
            self.addAction(action)
            self.class_actions.append(action)
        self.class_actions[1].setChecked(True)

        self.value_label = QLabel(" value ")
        self.value = QDoubleSpinBox()
        self.value.setRange(-1.0, 1.0)
        self.value.setSingleStep(0.1)
        self.value.setValue(0.5)
        self.value.setToolTip("The value a drawn point carries (regression)")
        self._value_actions = [self.addWidget(self.value_label),
                               self.addWidget(self.value)]
        self.addSeparator()

        # The brush and the destination of new points: a second row.
        self.second_row = QToolBar("Brush", parent)
        self.second_row.setObjectName("brush_toolbar")
        self.second_row.setMovable(False)
        row = self.second_row
        row.addWidget(QLabel(" brush "))
        self.radius = QSlider(Qt.Orientation.Horizontal)
        self.radius.setRange(1, 30)  # tenths of a unit
        self.radius.setValue(8)
        self.radius.setFixedWidth(70)
        self.radius.setToolTip("Brush radius, 0.1 to 3 units")
        row.addWidget(self.radius)
        row.addWidget(QLabel(" density "))
        self.density = QSlider(Qt.Orientation.Horizontal)
        self.density.setRange(1, 20)
        self.density.setValue(4)
        self.density.setFixedWidth(70)
        self.density.setToolTip("Points the brush sprays each 40 ms")
        row.addWidget(self.density)
        row.addSeparator()

        self.destination = QComboBox()
        self.destination.addItem("by training share", "ratio")
        self.destination.addItem("to training", "train")
        self.destination.addItem("to test", "test")
        self.destination.setToolTip(
            "Where new points go: drawn at random with the training share, "
            "or all to one set")
        row.addWidget(QLabel(" new points "))
        row.addWidget(self.destination)
        self.set_task("binary")

    def tool(self) -> str:
        action = self.tools.checkedAction()
        return action.data() if action is not None else ""

    def set_tool(self, name: str) -> None:
        for tool, action in self.tool_actions.items():
            action.setChecked(tool == name)
        self.tool_changed.emit(self.tool())

    def label(self) -> int:
        return self.classes.checkedAction().data()

    def brush_radius(self) -> float:
        return self.radius.value() / 10.0

    def set_task(self, task: str) -> None:
        """Show classes or the value slider, whichever the task uses."""
        regression = task == "regression"
        for action in self.class_actions:
            action.setVisible(not regression)
        for action in self._value_actions:
            action.setVisible(regression)


class Canvas(QObject):
    """Mouse edits on the decision plot.

    Parameters
    ----------
    plot : the DecisionPlot drawn on.
    palette : the DrawingPalette with the current tool and settings.
    editor : the DataEditor changed.
    train_share : callable giving the training share for new points.
    """

    points_changed = Signal(object)  # the new PointSet
    point_picked = Signal(int)  # index into the points; -1 for none

    def __init__(self, plot, palette, editor: DataEditor, train_share,
                 parent=None):
        super().__init__(parent)
        self.plot = plot
        self.palette = palette
        self.editor = editor
        self.train_share = train_share
        self.rng = np.random.default_rng()
        self._dragging = False
        self._moving: int | None = None
        self._last = None
        self._spray_timer = QTimer(self)
        self._spray_timer.setInterval(SPRAY_INTERVAL_MS)
        self._spray_timer.timeout.connect(self._spray_now)
        plot.viewport().installEventFilter(self)
        palette.tool_changed.connect(self._tool_changed)

    # ------------------------------------------------------------------

    def to_plane(self, position) -> np.ndarray:
        """Viewport pixel position to plane coordinates (x1, x2)."""
        scene = self.plot.mapToScene(position.toPoint()
                                     if isinstance(position, QPointF)
                                     else position)
        point = self.plot.getPlotItem().vb.mapSceneToView(scene)
        return np.array([point.x(), point.y()])

    def pixels_to_units(self, pixels: float) -> float:
        box = self.plot.getPlotItem().vb
        width = box.viewRect().width()
        return pixels * width / max(box.width(), 1.0)

    def eventFilter(self, watched, event):
        tool = self.palette.tool()
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and (
                tool == "inspect"
                or event.modifiers() & Qt.KeyboardModifier.AltModifier):
            if event.button() != Qt.MouseButton.LeftButton:
                return False
            pick = self.pixels_to_units(2 * PICK_PIXELS)
            index = self.editor.points.nearest(
                self.to_plane(event.position()), pick)
            self.point_picked.emit(-1 if index is None else index)
            return True
        if tool == "inspect":
            return False
        if not tool or kind not in (QEvent.Type.MouseButtonPress,
                                    QEvent.Type.MouseMove,
                                    QEvent.Type.MouseButtonRelease):
            return False
        if kind == QEvent.Type.MouseButtonPress:
            if event.button() != Qt.MouseButton.LeftButton:
                return False
            self._press(tool, self.to_plane(event.position()))
        elif kind == QEvent.Type.MouseMove:
            if self._dragging:
                self._drag(tool, self.to_plane(event.position()))
        elif self._dragging:
            self._release()
        return True

    # ------------------------------------------------------------------

    def _press(self, tool, point):
        self._dragging = True
        self._last = point
        self.editor.begin_stroke()
        if tool == "add":
            self._add([point])
        elif tool == "spray":
            self._spray_now()
            self._spray_timer.start()
        elif tool == "erase":
            self._erase(point)
        elif tool == "move":
            pick = self.pixels_to_units(PICK_PIXELS)
            self._moving = self.editor.points.nearest(point, pick)

    def _drag(self, tool, point):
        previous, self._last = self._last, point
        if tool == "erase":
            # A fast mouse jumps: erase along the whole way it went.
            radius = self.palette.brush_radius()
            steps = int(np.hypot(*(point - previous)) / (0.5 * radius)) + 1
            for t in np.linspace(0.0, 1.0, steps + 1)[1:]:
                self._erase(previous + t * (point - previous))
        elif tool == "move" and self._moving is not None:
            self._change(self.editor.points.move(self._moving, point))

    def _release(self):
        self._dragging = False
        self._moving = None
        self._spray_timer.stop()
        self.editor.end_stroke()

    def _tool_changed(self, tool):
        if self._dragging:
            self._release()

    def _destinations(self, count):
        mode = self.palette.destination.currentData()
        if mode == "train":
            return np.zeros(count, bool)
        if mode == "test":
            return np.ones(count, bool)
        return self.rng.uniform(size=count) >= self.train_share()

    def _label(self):
        if self.editor.points.task == "regression":
            return self.palette.value.value()
        return self.palette.label()

    def _add(self, points):
        points = np.clip(np.asarray(points, float), -6.0, 6.0)
        self._change(self.editor.points.add(
            points, self._label(), self._destinations(len(points))))

    def _spray_now(self):
        if self._last is None:
            return
        points = spray(self.rng, self._last, self.palette.brush_radius(),
                       self.palette.density.value())
        self._add(points)

    def _erase(self, point):
        hit = self.editor.points.within(point, self.palette.brush_radius())
        if len(hit):
            self._change(self.editor.points.remove(hit))

    def _change(self, points):
        self.editor.apply(points)
        self.points_changed.emit(points)

