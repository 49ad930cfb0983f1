"""The network diagram: units as small heat maps, weights as edges.

Every unit is a square showing its value over the input plane; every
weight is a curve from unit i of one layer to unit j of the next, as wide
as |w| (up to a limit) and blue or orange by sign. A small square on each
unit's lower-left corner shows its bias.

The scene is built once per architecture. While training runs,
``show_snapshot`` is called for every frame the window draws, so it only
restyles the items it already has: an edge's look is one entry of a fixed
pen table, indexed by quantized width and sign, and only the edges whose
entry changed are touched.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QTransform,
)
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QWidget,
)

from mlp_studio.core.activations import ACTIVATIONS
from mlp_studio.core.features import FEATURES, FeatureMap
from mlp_studio.core.training import NEURON_RESOLUTION, Snapshot, plane_grid

from . import colors

log = logging.getLogger(__name__)

# The window's shared Okabe-Ito colours: positive weights and values are
# blue, negative ones orange, class k has the colour class k has in the
# decision plot.
BLUE = QColor(colors.POSITIVE)
ORANGE = QColor(colors.NEGATIVE)
NEUTRAL = QColor(colors.NEUTRAL)
BACKGROUND = QColor(colors.PAPER)
TEXT = QColor(colors.INK)
MUTED_TEXT = QColor("#6B6B6B")
FRAME = QColor("#8A8A8A")

# Layout, in scene units (pixels at zoom 1). Fixed sizes and spacing make
# overlap impossible whatever the architecture; big networks scroll.
NODE_SIZE = 42.0
ROW_PITCH = 56.0  # node centre to node centre within a column
COLUMN_PITCH = 150.0  # between layer columns
MARGIN_LEFT = 66.0  # room for the input labels
MARGIN_RIGHT = 70.0  # room for the output labels
# Limitation: labels keep their size in pixels while these margins scale
# with the zoom. Below about 0.55 (reachable only by zooming out by hand)
# the captions of a network taller than the view are cut at the top when
# it is scrolled all the way up.
MARGIN_TOP = 56.0  # room for the two-line column captions
MARGIN_BOTTOM = 22.0

# Edge width = min(EDGE_MAX_WIDTH, EDGE_MIN_WIDTH + EDGE_GAIN * |w|),
# rounded to EDGE_WIDTH_STEP so that a finite table of pens covers it.
EDGE_MIN_WIDTH = 0.5
EDGE_MAX_WIDTH = 7.0
EDGE_GAIN = 2.0
EDGE_WIDTH_STEP = 0.25
# Pointing: an edge answers within EDGE_REACH_PIXELS of the pointer on
# screen (at least EDGE_MIN_REACH, at most EDGE_HIT_WIDTH / 2 scene units),
# and where several do, the nearest wins, not the one drawn last.
EDGE_HIT_WIDTH = 20.0  # twice the farthest reach, in scene units
EDGE_REACH_PIXELS = 7.0
EDGE_MIN_REACH = 4.0
_EDGE_SAMPLES = 24  # points of the polyline distances are measured to
_EDGE_STEPS = round((EDGE_MAX_WIDTH - EDGE_MIN_WIDTH) / EDGE_WIDTH_STEP) + 1

# Bias marker side = BIAS_MIN_SIDE + (BIAS_MAX_SIDE - BIAS_MIN_SIDE)
# * tanh(|b|): grows fast for small biases and never outgrows its corner.
BIAS_MIN_SIDE = 3.0
BIAS_MAX_SIDE = 12.0
BIAS_SIDE_STEP = 0.5

BIAS_UNIT = 26.0  # the "1" unit's diameter, when biases are shown as units
MIN_FIT_SCALE = 0.6  # zoom_to_fit never shrinks below this: it scrolls
MAX_FIT_SCALE = 1.25  # nor blows a perceptron up to cartoon size
MIN_SCALE = 0.4  # below this the column captions would collide
# (captions keep their size in pixels at any zoom, to stay readable)
MAX_SCALE = 4.0

_NODE_RECT = QRectF(-NODE_SIZE / 2, -NODE_SIZE / 2, NODE_SIZE, NODE_SIZE)
_NODE_PEN = QPen(FRAME, 1.0)
_HOVERED_NODE_PEN = QPen(QColor("#111111"), 2.5)
_EMPTY_NODE = QColor("#EEEEEE")
_BIAS_OUTLINE = QPen(QColor("#FFFFFF"), 1.0)
_BIAS_BRUSHES = (QBrush(BLUE), QBrush(ORANGE))  # by (b < 0)

_OUTPUT_CAPTIONS = {
    "binary": ("sigmoid", "P(y = 1)"),
    "multiclass": ("softmax", None),
    "regression": ("linear", "ŷ"),
}


# ----------------------------------------------------------------------
# Colours


# (256, 4) lookup tables for the heat maps: orange - white - blue for
# signed values, white - class colour for class probabilities.
DIVERGING_LUT = colors.qt_order(colors.diverging_map().getLookupTable(
    0.0, 1.0, 256, alpha=False))
CLASS_LUTS = tuple(
    colors.qt_order(pg.ColorMap([0.0, 1.0], [NEUTRAL, QColor(color)])
              .getLookupTable(0.0, 1.0, 256, alpha=False))
    for color in colors.CLASS_COLORS
)


def value_range(kind: str, values: np.ndarray) -> tuple[float, float]:
    """The value range a unit's heat map spans.

    Sigmoids and probabilities live in [0, 1] and tanh in [-1, 1]; the
    rest are unbounded, so they span the largest |value| shown, keeping
    zero in the middle (white).
    """
    # Limitation: one range per layer, so that units of a layer compare;
    # a single unit with a huge range leaves the others of its layer pale.
    if kind in ("sigmoid", "binary", "multiclass"):
        return 0.0, 1.0
    if kind == "tanh":
        return -1.0, 1.0
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    if not np.isfinite(peak) or peak < 1e-9:
        peak = 1.0
    return -peak, peak


@functools.lru_cache(maxsize=64)
def feature_pixels(name: str, resolution: int, domain: float) -> np.ndarray:
    """(r, r, 4) heat map pixels of input feature ``name`` over the plane.

    Computed once per feature and resolution: it never changes.
    """
    points = plane_grid(resolution, domain)
    values = FeatureMap([name]).transform(points)[:, 0]
    values = values.reshape(resolution, resolution)
    low, high = value_range("feature", values)
    pixels = colors.colorize(values, low, high, DIVERGING_LUT)
    pixels.setflags(write=False)
    return pixels


def edge_pen_keys(weights: np.ndarray) -> np.ndarray:
    """Pen table index of each weight: 2 * width step + (w < 0)."""
    weights = np.asarray(weights)
    # fmin, unlike minimum, also turns NaN into the widest pen.
    width = np.fmin(EDGE_MIN_WIDTH + EDGE_GAIN * np.abs(weights),
                    EDGE_MAX_WIDTH)
    steps = (width - EDGE_MIN_WIDTH) / EDGE_WIDTH_STEP + 0.5
    return 2 * steps.astype(np.intp) + (weights < 0)


def bias_keys(biases: np.ndarray) -> np.ndarray:
    """Marker table index of each bias: 2 * side step + (b < 0)."""
    biases = np.asarray(biases)
    side = np.fmin((BIAS_MAX_SIDE - BIAS_MIN_SIDE) * np.tanh(np.abs(biases)),
                   BIAS_MAX_SIDE - BIAS_MIN_SIDE)
    steps = side / BIAS_SIDE_STEP + 0.5
    return 2 * steps.astype(np.intp) + (biases < 0)


def _mix(color: QColor, background: QColor, amount: float) -> QColor:
    """``amount`` of ``color`` over ``background``, opaque."""
    return QColor.fromRgbF(*(
        amount * c + (1 - amount) * b
        for c, b in zip(color.getRgbF()[:3], background.getRgbF()[:3])))


@functools.cache
def _contested_pens() -> tuple[QPen, ...]:
    """The edge pens, dashed: for weights the points pull both ways."""
    pens = []
    for pen in _edge_pens():
        dashed = QPen(pen)
        dashed.setStyle(Qt.PenStyle.DashLine)
        pens.append(dashed)
    return tuple(pens)


@functools.cache
def _edge_pens() -> tuple[QPen, ...]:
    # Thin edges are also paler, so that a bundle of weak weights does not
    # read as one strong weight. The colours are mixed with the background
    # rather than made translucent: blending thousands of antialiased
    # curves costs the raster engine several times more.
    pens = []
    for step in range(_EDGE_STEPS):
        width = EDGE_MIN_WIDTH + step * EDGE_WIDTH_STEP
        strength = (width - EDGE_MIN_WIDTH) / (EDGE_MAX_WIDTH - EDGE_MIN_WIDTH)
        for base in (BLUE, ORANGE):
            pen = QPen(_mix(base, BACKGROUND, 0.45 + 0.55 * strength), width)
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            pens.append(pen)
    return tuple(pens)


def edge_controls(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(n, 4, 2) control points of gentle S-shaped cubic curves from each
    of ``starts`` (n, 2) to ``ends`` (n, 2): they leave and arrive
    horizontally."""
    bend = np.zeros_like(starts)
    bend[:, 0] = (ends[:, 0] - starts[:, 0]) / 2
    return np.stack([starts, starts + bend, ends - bend, ends], axis=1)


def bezier_points(controls: np.ndarray, count: int) -> np.ndarray:
    """(n, count, 2) points evenly spaced in t along cubic curves given by
    (n, 4, 2) control points."""
    t = np.linspace(0.0, 1.0, count)[:, None]
    u = 1.0 - t
    weights = np.stack([u ** 3, 3 * u * u * t, 3 * u * t * t, t ** 3])
    # weights: (4, count, 1); controls: (n, 4, 2)
    return np.einsum("kcd,nkd->ncd", weights, controls)


def polyline_distances(polylines: np.ndarray, point) -> np.ndarray:
    """(n,) distance from ``point`` (x, y) to each of (n, m, 2) polylines."""
    starts, ends = polylines[:, :-1], polylines[:, 1:]
    along = ends - starts
    offset = np.asarray(point, dtype=float) - starts
    length2 = np.maximum(np.einsum("nmd,nmd->nm", along, along), 1e-12)
    t = np.clip(np.einsum("nmd,nmd->nm", offset, along) / length2, 0.0, 1.0)
    gap = offset - t[..., None] * along
    return np.sqrt(np.einsum("nmd,nmd->nm", gap, gap).min(axis=1))


@functools.cache
def _hover_pen(key: int) -> QPen:
    """The pen of a pointed-at edge: darker and a little wider."""
    base = _edge_pens()[key]
    pen = QPen(base.color().darker(160), base.widthF() + 2.0)
    pen.setCapStyle(Qt.PenCapStyle.FlatCap)
    return pen


def _edge_pen(width: float, negative: bool = False) -> QPen:
    step = round((width - EDGE_MIN_WIDTH) / EDGE_WIDTH_STEP)
    return _edge_pens()[2 * step + negative]


# ----------------------------------------------------------------------
# Scene items


# The items below are Qt's own path, rectangle and pixmap items, painted by
# Qt in C++: no Python runs while a frame is drawn. That matters because
# the trainer thread holds Python's interpreter lock most of the time, and
# each Python paint call would first have to wait for it.


class EdgeItem(QGraphicsPathItem):
    """One weight: a cubic curve from unit ``i`` of layer ``layer`` to
    unit ``j`` of the next layer. ``layer`` indexes ``Snapshot.params``.

    It overrides nothing, so that Qt draws it and finds its bounds without
    calling into Python: with every frame its pen changes, and Qt then
    asks for its shape again from the event loop, where a call into
    Python would wait for the trainer thread to let go of the interpreter.
    The pointer finds edges through their layer's ``_LayerBand``.
    """

    def __init__(self, owner: NetworkDiagram, layer: int, i: int, j: int,
                 controls: np.ndarray):
        start, first, second, end = (QPointF(*point) for point in controls)
        path = QPainterPath(start)
        path.cubicTo(first, second, end)
        super().__init__(path)
        self._owner = owner
        self.layer, self.i, self.j = layer, i, j
        self.key = -1
        self.contested = False
        self._hovered = False
        self.setPen(_edge_pens()[0])
        self.setAcceptHoverEvents(False)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_pen_key(self, key: int):
        """Restyle with pen ``key`` of the table (see edge_pen_keys)."""
        self.key = key
        if not self._hovered:
            self.setPen(self._pens()[key])

    def set_contested(self, contested: bool):
        """Dashed while the points disagree on this weight's direction."""
        if contested != self.contested:
            self.contested = contested
            if not self._hovered:
                self.setPen(self._pens()[max(self.key, 0)])

    def _pens(self):
        return _contested_pens() if self.contested else _edge_pens()

    def info_text(self) -> str:
        return self._owner.edge_text(self.layer, self.i, self.j)

    def set_hovered(self, hovered: bool):
        self._hovered = hovered
        self.setZValue(1 if hovered else 0)  # still under the nodes
        key = max(self.key, 0)
        self.setPen(_hover_pen(key) if hovered else self._pens()[key])


class _LayerBand(QGraphicsRectItem):
    """An invisible strip over the edges of one layer, under the nodes,
    that takes the pointer for them: the view decides which edge, if
    any, the pointer means (``NetworkDiagram.edge_at``). It draws nothing
    and its shape never changes, so Qt calls into Python only when the
    pointer moves over it."""

    def __init__(self, owner: NetworkDiagram, layer: int, rect: QRectF):
        super().__init__(rect)
        self._owner = owner
        self.layer = layer
        self.setPen(Qt.PenStyle.NoPen)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        self.setZValue(1.5)  # over every edge, hovered ones too
        self.setAcceptHoverEvents(True)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)

    def hoverEnterEvent(self, event):
        self._owner._point_at_edges(self.layer, event.scenePos())

    def hoverMoveEvent(self, event):
        self._owner._point_at_edges(self.layer, event.scenePos())

    def hoverLeaveEvent(self, event):
        self._owner._point_at_edges(self.layer, None)

    def mousePressEvent(self, event):
        pressed = self._owner.edge_at(event.scenePos())
        self._owner._pressed_edge = pressed
        if pressed is None:
            event.ignore()  # background: the view pans instead

    def mouseReleaseEvent(self, event):
        owner = self._owner
        pressed = owner._pressed_edge
        owner._pressed_edge = None
        if pressed is not None and pressed is owner.edge_at(event.scenePos()):
            owner._report_click(pressed)


class NodeItem(QGraphicsRectItem):
    """One unit: its frame, with its heat map over the input plane behind
    it. ``layer`` 0 is the inputs, ``len(sizes) - 1`` the output layer."""

    def __init__(self, owner: NetworkDiagram, layer: int, unit: int,
                 description: str):
        super().__init__(_NODE_RECT)
        self._owner = owner
        self.layer, self.unit = layer, unit
        self.description = description
        self._image: QImage | None = None
        self._pixels: np.ndarray | None = None  # the image's memory
        self.bias: BiasItem | None = None
        self.setPen(_NODE_PEN)
        self.setBrush(_EMPTY_NODE)
        self.setAcceptHoverEvents(True)
        self.setZValue(2)
        self._map = QGraphicsPixmapItem(self)
        self._map.setFlag(
            QGraphicsItem.GraphicsItemFlag.ItemStacksBehindParent, True)
        self._map.setTransformationMode(
            Qt.TransformationMode.SmoothTransformation)
        self._map.setAcceptHoverEvents(False)
        self._map.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._map_size = 0

    def set_pixels(self, pixels: np.ndarray):
        """Show ``pixels``, a C-contiguous (r, r, 4) uint8 array from
        ``colors.colorize``."""
        rows, columns = pixels.shape[:2]
        self._pixels = pixels  # QImage does not own or copy the buffer
        self._image = QImage(pixels.data, columns, rows, 4 * columns,
                             QImage.Format.Format_RGB32)
        if columns != self._map_size:
            self._map_size = columns
            self._map.setTransform(QTransform.fromScale(
                NODE_SIZE / columns, NODE_SIZE / rows))
            self._map.setPos(_NODE_RECT.topLeft())
            self.setBrush(Qt.BrushStyle.NoBrush)  # the frame shows the map
        self._map.setPixmap(QPixmap.fromImage(self._image))

    def image(self) -> QImage | None:
        return self._image

    def info_text(self) -> str:
        if self.bias is None:
            return self.description
        return f"{self.description}, {self.bias.info_text()}"

    def hoverEnterEvent(self, event):
        self.setPen(_HOVERED_NODE_PEN)
        self._owner._hover_entered(self)

    def hoverLeaveEvent(self, event):
        self.setPen(_NODE_PEN)
        self._owner._hover_left(self)


class BiasItem(QGraphicsRectItem):
    """A unit's bias: a square on its lower-left corner, blue or orange by
    sign, larger for a larger |b|. Its hit area is always the full size,
    so that even a zero bias can be pointed at."""

    _HIT = QRectF(-BIAS_MAX_SIDE / 2 - 1, -BIAS_MAX_SIDE / 2 - 1,
                  BIAS_MAX_SIDE + 2, BIAS_MAX_SIDE + 2)

    def __init__(self, node: NodeItem):
        super().__init__(node)
        self.node = node
        self.key = -1
        self.side = BIAS_MIN_SIDE
        self.setPen(_BIAS_OUTLINE)
        self.setBrush(_BIAS_BRUSHES[0])
        self.setRect(self._square(self.side))
        self.setPos(_NODE_RECT.bottomLeft())
        self.setAcceptHoverEvents(True)

    @staticmethod
    def _square(side):
        return QRectF(-side / 2, -side / 2, side, side)

    def set_key(self, key: int):
        """Restyle for marker ``key`` (see bias_keys)."""
        self.key = key
        self.side = BIAS_MIN_SIDE + (key // 2) * BIAS_SIDE_STEP
        self.setBrush(_BIAS_BRUSHES[key % 2])
        self.setRect(self._square(self.side))

    def shape(self):
        path = QPainterPath()
        path.addRect(self._HIT)
        return path

    def info_text(self) -> str:
        return self.node._owner.bias_text(self.node.layer, self.node.unit)

    def hoverEnterEvent(self, event):
        self.node._owner._hover_entered(self)

    def hoverLeaveEvent(self, event):
        self.node._owner._hover_left(self)


# Agreement below which an edge is dashed: the points' net pull on it is
# under 5 % of their total pull. Typical weights sit at 0.1 to 0.3.
CONTESTED = 0.05
WISH_UP = QColor("#117733")  # Paul Tol's muted green and wine: they
WISH_DOWN = QColor("#882255")  # differ in shape as well as colour
_WISH_SIZES = 8


@functools.cache
def _wish_path(up: bool, step: int) -> QPainterPath:
    side = 4.0 + 10.0 * step / (_WISH_SIZES - 1)
    tip = -side / 2 if up else side / 2
    path = QPainterPath(QPointF(0, tip))
    path.lineTo(QPointF(-side / 2, -tip))
    path.lineTo(QPointF(side / 2, -tip))
    path.closeSubpath()
    return path


class WishMarker(QGraphicsPathItem):
    """A triangle on an edge or beside a bias: up when the point wants the
    parameter larger, down when smaller, larger for a stronger wish."""

    def __init__(self):
        super().__init__()
        self.setZValue(3)
        self.setPen(QPen(QColor("#FFFFFF"), 0.8))
        self.setAcceptHoverEvents(False)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.wish = 0.0

    def set_wish(self, wish: float):
        """``wish``: -1 to 1, the wanted change relative to the largest."""
        self.wish = wish
        if not np.isfinite(wish):
            self.setVisible(False)
            return
        step = int(round(min(abs(wish), 1.0) ** 0.5 * (_WISH_SIZES - 1)))
        up = wish > 0
        self.setPath(_wish_path(up, step))
        self.setBrush(WISH_UP if up else WISH_DOWN)
        self.setVisible(abs(wish) > 1e-3)


class _Label(QGraphicsSimpleTextItem):
    """Text that keeps its size at any zoom, placed by one of its corners
    or edges (``anchor``: fractions of its width and height)."""

    def __init__(self, text: str, font: QFont, color: QColor, at: QPointF,
                 anchor: tuple[float, float]):
        super().__init__(text)
        self.setFont(font)
        self.setBrush(color)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setPos(at)
        box = self.boundingRect()
        self.setTransform(QTransform.fromTranslate(
            -anchor[0] * box.width(), -anchor[1] * box.height()))
        self.setZValue(3)


# ----------------------------------------------------------------------
# The footer: legend and hover information, under the viewport


class _Legend(QWidget):
    """What colour, thickness and the bias squares mean: two rows of
    small swatches with captions."""

    _ROWS = (
        (("positive", "w > 0"), ("negative", "w < 0"),
         ("width", "width ∝ |w|")),
        (("map", "unit value"), ("bias", "bias, size ∝ |b|")),
    )
    _SWATCH = 22

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        metrics = QFontMetrics(self.font())
        self._line = metrics.height() + 2
        columns = max(len(row) for row in self._ROWS)
        widths = [
            max(self._SWATCH + 5 + metrics.horizontalAdvance(row[c][1]) + 12
                for row in self._ROWS if c < len(row))
            for c in range(columns)
        ]
        self._lefts = [sum(widths[:c]) for c in range(columns)]
        self.setFixedSize(sum(widths) - 12, self._line * len(self._ROWS))

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for row, cells in enumerate(self._ROWS):
            mid = self._line * (row + 0.5)
            for left, (kind, text) in zip(self._lefts, cells):
                self._paint_swatch(painter, kind, left, mid)
                painter.setPen(TEXT)
                text_left = left + self._SWATCH + 5
                painter.drawText(
                    QRectF(text_left, mid - self._line / 2,
                           self.width() - text_left, self._line),
                    Qt.AlignmentFlag.AlignVCenter, text)
        painter.end()

    def _paint_swatch(self, painter, kind, left, mid):
        right = left + self._SWATCH
        frame = QPen(FRAME, 1)
        if kind in ("positive", "negative"):
            painter.setPen(_edge_pen(3.0, kind == "negative"))
            painter.drawLine(QPointF(left, mid), QPointF(right, mid))
        elif kind == "width":
            painter.setPen(_edge_pen(1.0))
            painter.drawLine(QPointF(left, mid), QPointF(left + 8, mid))
            painter.setPen(_edge_pen(EDGE_MAX_WIDTH))
            painter.drawLine(QPointF(left + 11, mid), QPointF(right, mid))
        elif kind == "map":
            bar = QRectF(left, mid - 4.5, self._SWATCH, 9)
            gradient = QLinearGradient(bar.topLeft(), bar.topRight())
            gradient.setColorAt(0.0, ORANGE)
            gradient.setColorAt(0.5, NEUTRAL)
            gradient.setColorAt(1.0, BLUE)
            painter.setPen(frame)
            painter.setBrush(gradient)
            painter.drawRect(bar)
        else:
            painter.setPen(frame)
            for x, side, color in ((left + 3, 4, BLUE),
                                   (left + 15, 9, ORANGE)):
                painter.setBrush(color)
                painter.drawRect(QRectF(x - side / 2, mid - side / 2, side,
                                        side))


class _Footer(QWidget):
    """A band under the viewport: the legend on the left, and on the
    right what the hovered item is. Outside the viewport, it never
    scrolls away and never hides part of the network."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        self.setFont(font)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(self.backgroundRole(), BACKGROUND)
        palette.setColor(self.foregroundRole(), TEXT)
        self.setPalette(palette)

        self.legend = _Legend(self)
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.PlainText)
        self.info.setAlignment(Qt.AlignmentFlag.AlignRight
                               | Qt.AlignmentFlag.AlignVCenter)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(12)
        layout.addWidget(self.legend)
        layout.addWidget(self.info, 1)
        self.setFixedHeight(self.legend.height() + 8)
        self._text = ""

    def text(self) -> str:
        return self._text

    def set_text(self, text: str):
        """Show ``text``; break lines only at ", " between its parts."""
        self._text = text
        # No-break spaces, and a word joiner after each slash ("∂E/∂w"),
        # leave ", " as the only places to wrap.
        self.info.setText(", ".join(
            part.replace(" ", "\u00a0").replace("/", "/\u2060")
            for part in text.split(", ")))
        self._make_room()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._make_room()

    def _make_room(self):
        # In a narrow view, what is hovered matters more than the legend.
        margins = self.layout().contentsMargins()
        room = (self.width() - margins.left() - margins.right()
                - self.layout().spacing() - self.legend.width())
        # The text may wrap at ", ": its widest part has to fit.
        metrics = self.info.fontMetrics()
        wanted = max(metrics.horizontalAdvance(part + ",")
                     for part in self._text.split(", "))
        self.legend.setVisible(not self._text or wanted <= room)

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.setPen(QColor("#DDDDDD"))
        painter.drawLine(0, 0, self.width(), 0)
        painter.end()


# ----------------------------------------------------------------------
# The view


class NetworkDiagram(QGraphicsView):
    """The network as a diagram that follows training live.

    Signals
    -------
    unit_hovered(layer, unit) : the pointer entered a unit; layer 0 is
        the inputs, 1 the first hidden layer, ``len(sizes) - 1`` the
        output. (-1, -1) when it left.
    edge_clicked(layer, i, j) : weight ``params[layer][0][i, j]`` was
        clicked; emitted from the event loop just after the click.
    """

    unit_hovered = Signal(int, int)
    edge_clicked = Signal(int, int, int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        scene = QGraphicsScene(self)
        # Every frame restyles dozens of edges, and a new pen width moves
        # an edge in the scene's index: without an index there is nothing
        # to keep up. Finding the items under the pointer without one
        # takes a quarter of a millisecond even for ten layers of sixteen
        # (about half what the index took).
        scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setScene(scene)
        self.setBackgroundBrush(BACKGROUND)
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform
                            | QPainter.RenderHint.TextAntialiasing)
        # Every frame of training restyles nearly every item: one repaint
        # is cheaper than merging hundreds of small dirty regions.
        self.setViewportUpdateMode(
            QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setTransformationAnchor(
            QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setMinimumSize(320, 240)

        self._caption_font = QFont(self.font())
        self._caption_font.setPointSizeF(
            max(7.0, self._caption_font.pointSizeF() - 0.5))
        self._title_font = QFont(self._caption_font)
        self._title_font.setBold(True)

        self._footer = _Footer(self)
        self.setViewportMargins(0, 0, 0, self._footer.height())

        self._architecture = None
        self._snapshot: Snapshot | None = None
        self._nodes: list[list[NodeItem]] = []
        self._edges: list[list[EdgeItem]] = []
        self._edge_keys: list[np.ndarray] = []
        self._bias_keys: list[np.ndarray] = []
        self._edge_polylines: list[np.ndarray] = []  # per layer (n, m, 2)
        self._hover_stack: list[QGraphicsItem] = []
        self._hovered_unit = (-1, -1)
        self._hovered_edge: EdgeItem | None = None
        self._pressed_edge: EdgeItem | None = None
        self._auto_fit = True
        self._shown_once = False
        self._draft = False
        self._agreements = None
        self._bias_units = False
        self._bias_edges: list[list[EdgeItem]] = []
        self._bias_edge_keys: list[np.ndarray] = []
        self._wish_items: list[WishMarker] = []
        self._value_labels: list[QGraphicsSimpleTextItem] = []

    # ------------------------------------------------------------------
    # Public API

    def sizeHint(self):
        return QSize(520, 420)

    def show_snapshot(self, snapshot: Snapshot):
        """Draw ``snapshot``: rebuild the scene if its architecture (sizes,
        features, activations, task) changed, else restyle the items."""
        architecture = (tuple(snapshot.sizes), tuple(snapshot.feature_names),
                        tuple(snapshot.activations), snapshot.task,
                        float(snapshot.domain))
        rebuilt = architecture != self._architecture
        if rebuilt:
            self._build(snapshot)
            self._architecture = architecture
        self._snapshot = snapshot

        # A run about to diverge hands out inf and NaN: they show as the
        # widest edges and the ends of the colour maps, silently.
        with np.errstate(all="ignore"):
            self._update_edges(snapshot.params)
            self._update_biases(snapshot.params)
            self._update_heat_maps(snapshot)
        if self._hover_stack:
            self._show_info()
        if rebuilt:
            self.zoom_to_fit()

    def show_wishes(self, grads, values=None):
        """Show what one point asks of every weight and bias, or hide it
        (``grads`` None).

        Parameters
        ----------
        grads : per layer (grad_W (fan_in, fan_out), grad_b (fan_out,)),
            the point's loss gradient. A weight the point wants larger
            (negative gradient) gets an upward triangle at its edge's
            middle, one it wants smaller a downward one; the size grows
            with |gradient|, relative to the largest.
        values : per layer of units (inputs first) the point's values,
            written beside each unit.
        """
        if grads is None or not self._edges:
            for item in self._wish_items:
                item.setVisible(False)
            for label in self._value_labels:
                label.setVisible(False)
            return
        self._ensure_overlays()
        peak = max(max(float(np.abs(gw).max()) for gw, _ in grads),
                   max(float(np.abs(gb).max()) for _, gb in grads), 1e-12)
        items = iter(self._wish_items)
        for gw, gb in grads:
            for value in np.concatenate([gw.ravel(), gb]):
                next(items).set_wish(-float(value) / peak)
        if values is not None:
            labels = iter(self._value_labels)
            for layer_values in values:
                for value in np.ravel(layer_values):
                    label = next(labels)
                    label.setText(f"{float(value):.2f}")
                    label.setVisible(True)

    def show_agreement(self, agreements, threshold=CONTESTED):
        """Dash the edges whose points pull both ways (agreement below
        ``threshold``), or none (``agreements`` None). The hover text then
        gives each weight's agreement."""
        self._agreements = agreements
        for layer, edges in enumerate(self._edges):
            if agreements is None:
                flags = [False] * len(edges)
            else:
                flags = (np.asarray(agreements[layer][0]).ravel()
                         < threshold).tolist()
            for edge, flag in zip(edges, flags):
                edge.set_contested(flag)

    def _ensure_overlays(self):
        """The wish markers and value labels, made on first use per
        architecture."""
        if self._wish_items:
            return
        for layer, polylines in enumerate(self._edge_polylines):
            middle = polylines[:, polylines.shape[1] // 2]
            for x, y in middle.tolist():
                self._add_wish(QPointF(x, y))
            for node in self._nodes[layer + 1]:
                self._add_wish(node.pos() + _NODE_RECT.bottomLeft()
                               + QPointF(-BIAS_MAX_SIDE, 0))
        for column in self._nodes:
            for node in column:
                label = QGraphicsSimpleTextItem()
                label.setFont(self._caption_font)
                label.setBrush(TEXT)
                label.setPos(node.pos() + QPointF(NODE_SIZE / 2 + 3, 4))
                label.setZValue(4)
                label.setVisible(False)
                self.scene().addItem(label)
                self._value_labels.append(label)

    def _add_wish(self, at):
        item = WishMarker()
        item.setPos(at)
        self.scene().addItem(item)
        self._wish_items.append(item)

    def set_draft(self, draft: bool):
        """Draw edges without antialiasing (draft) or with it.

        Antialiased wide curves cost Qt's raster engine about five times
        as much; while training runs at full speed the frames go by too
        fast to see the difference, and the window keeps more time for
        training. The last frame, once training stops, is drawn fine.
        """
        if draft == self._draft:
            return
        self._draft = draft
        self.setRenderHint(QPainter.RenderHint.Antialiasing, not draft)
        self.viewport().update()

    def zoom_to_fit(self):
        """Fit the whole network in the view, within a readable zoom
        range; when it does not fit, scroll to the inputs."""
        self._auto_fit = True
        rect = self.sceneRect()
        if rect.isEmpty():
            return
        # The size without scroll bars: fitting against it keeps the bars
        # from appearing and retriggering a fit with a smaller viewport.
        available = self.maximumViewportSize()
        scale = min((available.width() - 4) / rect.width(),
                    (available.height() - 4) / rect.height())
        scale = min(MAX_FIT_SCALE, max(MIN_FIT_SCALE, scale))
        self.setTransform(QTransform.fromScale(scale, scale))
        self.centerOn(rect.center())
        self.horizontalScrollBar().setValue(
            self.horizontalScrollBar().minimum())

    def zoom(self) -> float:
        """The current scale: 1 draws nodes NODE_SIZE pixels wide."""
        return self.transform().m11()

    def set_zoom(self, scale: float):
        """Zoom to ``scale`` (clamped), keeping the view's centre."""
        scale = min(MAX_SCALE, max(MIN_SCALE, scale))
        self._auto_fit = False
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(
            QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.scale(scale / self.zoom(), scale / self.zoom())
        self.setTransformationAnchor(anchor)

    def node_item(self, layer: int, unit: int) -> NodeItem:
        """The item of unit ``unit`` of layer ``layer`` (0 = inputs)."""
        return self._nodes[layer][unit]

    def edge_item(self, layer: int, i: int, j: int) -> EdgeItem:
        """The item of weight ``params[layer][0][i, j]``."""
        fan_out = self._architecture[0][layer + 1]
        return self._edges[layer][i * fan_out + j]

    def edge_at(self, scene_pos: QPointF) -> EdgeItem | None:
        """The edge nearest to ``scene_pos`` if the pointer there would
        pick it (within EDGE_REACH_PIXELS on screen), else None. Nodes
        are not considered: they lie above the edges."""
        if not self._edges:
            return None
        layer = int(np.floor(scene_pos.x() / COLUMN_PITCH))
        if not 0 <= layer < len(self._edges):
            return None
        reach = min(EDGE_HIT_WIDTH / 2,
                    max(EDGE_MIN_REACH, EDGE_REACH_PIXELS / self.zoom()))
        distances = polyline_distances(self._edge_polylines[layer],
                                       (scene_pos.x(), scene_pos.y()))
        nearest = int(np.argmin(distances))
        if distances[nearest] > reach:
            return None
        return self._edges[layer][nearest]

    def edge_items(self) -> list[EdgeItem]:
        return [edge for layer in self._edges for edge in layer]

    def node_items(self) -> list[NodeItem]:
        return [node for layer in self._nodes for node in layer]

    def info_text(self) -> str:
        """What the info line says about the hovered item ("" if none)."""
        return self._footer.text()

    def edge_text(self, layer: int, i: int, j: int) -> str:
        """What the info line says about weight ``params[layer][0][i, j]``.

        Layers and units are counted from 1 there, as the window's weight
        editor counts them.
        """
        snapshot = self._snapshot
        weight = float(snapshot.params[layer][0][i, j])
        text = f"w[{layer + 1}]({i + 1}→{j + 1}) = {weight:.3g}"
        if len(snapshot.gradients) > layer:
            grad = float(snapshot.gradients[layer][0][i, j])
            text += f", ∂E/∂w = {grad:.3g}"
        if self._agreements is not None and len(self._agreements) > layer:
            value = float(self._agreements[layer][0][i, j])
            text += f", agreement {value:.2f}"
        return text

    def bias_text(self, layer: int, unit: int) -> str:
        """What the info line says about the bias of a unit (layer >= 1)."""
        bias = float(self._snapshot.params[layer - 1][1][unit])
        return f"bias b = {bias:.3g}"

    # ------------------------------------------------------------------
    # Building the scene

    def _build(self, snapshot: Snapshot):
        log.debug("building the diagram for sizes %s", snapshot.sizes)
        if self._hovered_unit != (-1, -1):
            self._hovered_unit = (-1, -1)
            self.unit_hovered.emit(-1, -1)
        self._hover_stack.clear()
        self._hovered_edge = self._pressed_edge = None
        self._footer.set_text("")
        self.scene().clear()
        self._wish_items, self._value_labels = [], []

        sizes = snapshot.sizes
        centres = [
            [QPointF(column * COLUMN_PITCH,
                     (k - (count - 1) / 2) * ROW_PITCH)
             for k in range(count)]
            for column, count in enumerate(sizes)
        ]
        self._nodes = [
            [self._add_node(snapshot, layer, unit, centre)
             for unit, centre in enumerate(column)]
            for layer, column in enumerate(centres)
        ]
        self._edges, self._edge_polylines = [], []
        for layer in range(len(sizes) - 1):
            edges, polylines = self._add_edges(layer, centres[layer],
                                               centres[layer + 1])
            self._edges.append(edges)
            self._edge_polylines.append(polylines)
        self._edge_keys = [np.full(len(edges), -1, np.intp)
                           for edges in self._edges]
        self._bias_keys = [np.full(count, -1, np.intp)
                           for count in sizes[1:]]
        self._bias_edges, self._bias_edge_keys = [], []
        if self._bias_units:
            self._add_bias_units(centres)
        # A strip per layer of edges, as wide as ``edge_at`` reads the
        # layer from x, and tall enough for every edge and its reach.
        extent = self.scene().itemsBoundingRect().adjusted(
            0, -EDGE_HIT_WIDTH, 0, EDGE_HIT_WIDTH)
        for layer in range(len(self._edges)):
            self.scene().addItem(_LayerBand(self, layer, QRectF(
                layer * COLUMN_PITCH, extent.top(), COLUMN_PITCH,
                extent.height())))
        self._add_captions(snapshot)

        tallest = (max(sizes) - 1) * ROW_PITCH + NODE_SIZE
        if self._bias_units:
            tallest += 2 * ROW_PITCH  # room for the bias units below
        width = (len(sizes) - 1) * COLUMN_PITCH + NODE_SIZE
        self.setSceneRect(QRectF(
            -NODE_SIZE / 2 - MARGIN_LEFT, -tallest / 2 - MARGIN_TOP,
            width + MARGIN_LEFT + MARGIN_RIGHT,
            tallest + MARGIN_TOP + MARGIN_BOTTOM))

        resolution = self._grid_resolution(snapshot)
        for unit, name in enumerate(snapshot.feature_names):
            self._nodes[0][unit].set_pixels(
                feature_pixels(name, resolution, float(snapshot.domain)))

    def _add_bias_units(self, centres):
        """A "1" unit under each column but the last, with an edge to
        every unit of the next layer carrying its bias, drawn like a
        weight: the bias is a weight from a unit that is always 1."""
        bottom = max(c[-1].y() for c in centres) + ROW_PITCH
        for layer in range(len(centres) - 1):
            centre = QPointF(layer * COLUMN_PITCH, bottom)
            unit = QGraphicsEllipseItem(-BIAS_UNIT / 2, -BIAS_UNIT / 2,
                                        BIAS_UNIT, BIAS_UNIT)
            unit.setPos(centre)
            unit.setPen(_NODE_PEN)
            unit.setBrush(QColor("#FFFFFF"))
            unit.setZValue(2)
            unit.setToolTip("bias unit: always 1")
            self.scene().addItem(unit)
            one = QGraphicsSimpleTextItem("1", unit)
            one.setFont(self._title_font)
            box = one.boundingRect()
            one.setPos(-box.width() / 2, -box.height() / 2)
            edges = []
            for j, target in enumerate(centres[layer + 1]):
                start = np.array([[centre.x() + BIAS_UNIT / 2, centre.y()]])
                end = np.array([[target.x() - NODE_SIZE / 2, target.y()]])
                controls = edge_controls(start, end)[0]
                edge = EdgeItem(self, layer, -1, j, controls)
                edge.setToolTip(f"bias of unit {j + 1} of layer {layer + 1}")
                self.scene().addItem(edge)
                edges.append(edge)
            self._bias_edges.append(edges)
            self._bias_edge_keys.append(np.full(len(edges), -1, np.intp))
        for column in self._nodes[1:]:
            for node in column:
                node.bias.setVisible(False)

    def set_bias_units(self, on: bool):
        """Show each bias as a weight from a "1" unit (on) or as the
        square on its unit (off)."""
        if on == self._bias_units:
            return
        self._bias_units = on
        if self._snapshot is not None:
            self._architecture = None  # rebuild
            self.show_snapshot(self._snapshot)

    def _add_node(self, snapshot, layer, unit, centre) -> NodeItem:
        node = NodeItem(self, layer, unit,
                        self._describe_unit(snapshot, layer, unit))
        node.setPos(centre)
        if layer > 0:
            node.bias = BiasItem(node)
        self.scene().addItem(node)
        return node

    def _add_edges(self, layer, sources, targets):
        """Edges from every source to every target node centre, i-major
        like ``W.ravel()``, and their (n, m, 2) polylines for picking."""
        source_xy = np.array([(p.x() + NODE_SIZE / 2, p.y()) for p in sources])
        target_xy = np.array([(p.x() - NODE_SIZE / 2, p.y()) for p in targets])
        starts = np.repeat(source_xy, len(targets), axis=0)
        ends = np.tile(target_xy, (len(sources), 1))
        controls = edge_controls(starts, ends)
        edges = []
        for index, points in enumerate(controls.tolist()):
            i, j = divmod(index, len(targets))
            edge = EdgeItem(self, layer, i, j, points)
            self.scene().addItem(edge)
            edges.append(edge)
        return edges, bezier_points(controls, _EDGE_SAMPLES)

    def _add_captions(self, snapshot):
        sizes = snapshot.sizes
        top = -((max(sizes) - 1) * ROW_PITCH + NODE_SIZE) / 2 - 6
        last = len(sizes) - 1
        for layer, count in enumerate(sizes):
            if layer == 0:
                title = "input"
                detail = f"{count} feature{'s' * (count != 1)}"
            elif layer == last:
                title = "output"
                detail = _OUTPUT_CAPTIONS.get(snapshot.task, ("", None))[0]
            else:
                name = snapshot.activations[layer - 1]
                act = ACTIVATIONS.get(name)
                title = act.label if act is not None else name
                detail = f"{count} neuron{'s' * (count != 1)}"
            x = layer * COLUMN_PITCH
            self._add_label(detail, QPointF(x, top), (0.5, 1.0))
            lift = QFontMetrics(self._caption_font).height()
            self._add_label(title, QPointF(x, top), (0.5, 1.0), bold=True,
                            lift=lift)

        for unit, node in enumerate(self._nodes[0]):
            label = FEATURES[snapshot.feature_names[unit]][0]
            self._add_label(label, node.pos() - QPointF(NODE_SIZE / 2 + 6, 0),
                            (1.0, 0.5), bold=True)
        for unit, node in enumerate(self._nodes[last]):
            if snapshot.task == "multiclass":
                label = f"class {unit}"
            else:
                label = _OUTPUT_CAPTIONS.get(snapshot.task, ("", ""))[1]
            if label:
                # Above the middle: the point inspector writes the unit's
                # value beside it, below the middle.
                self._add_label(label,
                                node.pos() + QPointF(NODE_SIZE / 2 + 6, -2),
                                (0.0, 1.0))

    def _add_label(self, text, at, anchor, bold=False, lift=0.0):
        font = self._title_font if bold else self._caption_font
        label = _Label(text, font, TEXT if bold else MUTED_TEXT, at, anchor)
        if lift:
            label.setTransform(QTransform.fromTranslate(0, -lift), True)
        self.scene().addItem(label)

    @staticmethod
    def _describe_unit(snapshot, layer, unit) -> str:
        last = len(snapshot.sizes) - 1
        if layer == 0:
            name = snapshot.feature_names[unit]
            return f"input {FEATURES[name][0]}"
        if layer == last:
            if snapshot.task == "multiclass":
                return f"output {unit + 1}: P(class {unit})"
            meaning = _OUTPUT_CAPTIONS.get(snapshot.task, ("", ""))[1]
            return f"output: {meaning}" if meaning else "output"
        name = snapshot.activations[layer - 1]
        return f"layer {layer}, neuron {unit + 1} ({name})"

    @staticmethod
    def _grid_resolution(snapshot) -> int:
        if snapshot.neuron_grids:
            return int(snapshot.neuron_grids[0].shape[-1])
        return NEURON_RESOLUTION

    # ------------------------------------------------------------------
    # Updating in place

    def _update_edges(self, params):
        for layer, (weights, _) in enumerate(params):
            keys = edge_pen_keys(weights).ravel()
            changed = np.flatnonzero(keys != self._edge_keys[layer])
            edges = self._edges[layer]
            for index, key in zip(changed.tolist(), keys[changed].tolist()):
                edges[index].set_pen_key(key)
            self._edge_keys[layer] = keys

    def _update_biases(self, params):
        for layer, edges in enumerate(self._bias_edges):
            keys = edge_pen_keys(params[layer][1])
            changed = np.flatnonzero(keys != self._bias_edge_keys[layer])
            for index, key in zip(changed.tolist(), keys[changed].tolist()):
                edges[index].set_pen_key(key)
            self._bias_edge_keys[layer] = keys
        for layer, (_, biases) in enumerate(params):
            keys = bias_keys(biases)
            changed = np.flatnonzero(keys != self._bias_keys[layer])
            nodes = self._nodes[layer + 1]
            for unit, key in zip(changed.tolist(), keys[changed].tolist()):
                nodes[unit].bias.set_key(key)
            self._bias_keys[layer] = keys

    def _update_heat_maps(self, snapshot):
        grids = snapshot.neuron_grids
        if len(grids) != len(snapshot.sizes) - 1:
            return  # a snapshot taken without grids: keep the last ones
        kinds = (*snapshot.activations, snapshot.task)
        for layer, (values, kind) in enumerate(zip(grids, kinds), start=1):
            nodes = self._nodes[layer]
            if kind == "multiclass":
                for unit, node in enumerate(nodes):
                    lut = CLASS_LUTS[unit % len(CLASS_LUTS)]
                    node.set_pixels(colors.colorize(values[unit], 0.0, 1.0, lut))
                continue
            low, high = value_range(kind, values)
            pixels = colors.colorize(values, low, high, DIVERGING_LUT)
            for node, unit_pixels in zip(nodes, pixels):
                node.set_pixels(unit_pixels)

    # ------------------------------------------------------------------
    # Hover and the info line

    def _report_click(self, edge: EdgeItem):
        # Emitted once the click's event handling has returned: a slot may
        # then open a modal weight editor, or rebuild the scene (deleting
        # this edge), without pulling the item out from under its handler.
        where = (edge.layer, edge.i, edge.j)
        QTimer.singleShot(0, self, lambda: self.edge_clicked.emit(*where))

    def _point_at_edges(self, layer: int, scene_pos: QPointF | None):
        """The pointer moved among the edges of ``layer`` (None: it left
        them): highlight the one it points at, if any."""
        edge = None if scene_pos is None else self.edge_at(scene_pos)
        if edge is self._hovered_edge:
            return
        if self._hovered_edge is not None:
            self._hovered_edge.set_hovered(False)
            self._hover_left(self._hovered_edge)
        self._hovered_edge = edge
        if edge is None:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        edge.set_hovered(True)
        self.viewport().setCursor(Qt.CursorShape.PointingHandCursor)
        self._hover_entered(edge)

    def _hover_entered(self, item):
        # A bias marker is a child of its node: entering it keeps the
        # node hovered, and leaving it must bring the node's text back.
        self._hover_stack.append(item)
        self._show_info()
        if isinstance(item, NodeItem):
            self._hovered_unit = (item.layer, item.unit)
            self.unit_hovered.emit(item.layer, item.unit)

    def _hover_left(self, item):
        if item in self._hover_stack:
            self._hover_stack.remove(item)
        self._show_info()
        if isinstance(item, NodeItem) and self._hovered_unit != (-1, -1):
            self._hovered_unit = (-1, -1)
            self.unit_hovered.emit(-1, -1)

    def _show_info(self):
        if not self._hover_stack or self._snapshot is None:
            self._footer.set_text("")
            return
        self._footer.set_text(self._hover_stack[-1].info_text())

    def _place_footer(self):
        area = self.viewport().geometry()
        self._footer.setGeometry(area.left(), area.bottom() + 1,
                                 area.width(), self._footer.height())

    # ------------------------------------------------------------------
    # Qt overrides

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._place_footer()
        if self._auto_fit and self._architecture is not None:
            self.zoom_to_fit()

    def showEvent(self, event):
        super().showEvent(event)
        self._place_footer()
        if not self._shown_once and self._architecture is not None:
            self._shown_once = True
            self.zoom_to_fit()

    def mouseReleaseEvent(self, event):
        super().mouseReleaseEvent(event)
        # The view took the press (to pan the scene by hand), so the
        # release is its own too, even when no item wanted it.
        event.accept()

    def wheelEvent(self, event):
        if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(event)
            return
        factor = 1.0015 ** event.angleDelta().y()
        scale = min(MAX_SCALE, max(MIN_SCALE, self.zoom() * factor))
        self._auto_fit = False
        self.scale(scale / self.zoom(), scale / self.zoom())
        event.accept()

    def keyPressEvent(self, event):
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            key = event.key()
            if key == Qt.Key.Key_0:
                self.zoom_to_fit()
                return
            if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
                self.set_zoom(self.zoom() * 1.25)
                return
            if key == Qt.Key.Key_Minus:
                self.set_zoom(self.zoom() / 1.25)
                return
        super().keyPressEvent(event)
