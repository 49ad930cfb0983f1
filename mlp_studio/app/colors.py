"""Colours shared by every view, so a class or a sign looks the same
everywhere: in the decision plot, on the points and on the diagram's edges.

Class colours are the Okabe-Ito palette, which stays distinguishable under
the common forms of colour blindness. Class 0 and negative values are
orange, class 1 and positive values blue, as in TensorFlow Playground.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from mlp_studio.core.activations import constant

CLASS_COLORS = ("#E69F00", "#0072B2", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
NEGATIVE = CLASS_COLORS[0]
POSITIVE = CLASS_COLORS[1]
NEUTRAL = "#f4f4f4"
PAPER = "#ffffff"
INK = "#222222"

TRAIN_LOSS = "#333333"
TEST_LOSS = "#D55E00"


def class_rgb() -> np.ndarray:
    """(6, 3) float array of the class colours, 0-255."""
    return np.array([QColor(c).getRgb()[:3] for c in CLASS_COLORS], float)


def diverging_map() -> pg.ColorMap:
    """Orange - near white - blue: low values, middle, high values."""
    return pg.ColorMap([0.0, 0.5, 1.0], [NEGATIVE, NEUTRAL, POSITIVE])


def pastel(rgb: np.ndarray, amount: float = 0.3) -> np.ndarray:
    """Blend colours towards white, so that points drawn on top stand out."""
    return rgb + (255.0 - rgb) * amount


def diverging_lut(amount: float = 0.3, size: int = 256) -> np.ndarray:
    """(size, 3) uint8 look-up table of the diverging map, lightened."""
    table = diverging_map().getLookupTable(0.0, 1.0, size, alpha=False)
    return pastel(table.astype(float), amount).astype(np.uint8)


def qt_order(lut: np.ndarray) -> np.ndarray:
    """(n, 3) RGB rows as (n, 4) uint8 pixels in the byte order of
    QImage's Format_RGB32 (B, G, R, 255), which Qt copies and draws
    without converting."""
    table = np.full((len(lut), 4), 255, np.uint8)
    table[:, 2::-1] = np.asarray(lut)[:, :3]
    return table


def colorize(values: np.ndarray, low: float, high: float, lut: np.ndarray,
             top_down: bool = True) -> np.ndarray:
    """Pixels of value grids, ready for a Format_RGB32 QImage.

    Parameters
    ----------
    values : (..., r, c) array, row 0 at the bottom of the plane.
    low, high : the values mapped to the ends of ``lut``; beyond them,
        infinities and NaN take an end of the table.
    lut : (n, 4) uint8 look-up table from ``qt_order``, n <= 256.
    top_down : put row 0 of the result at the top of the plane, as
        images run; else keep the rows as they are.

    Returns
    -------
    (..., r, c, 4) C-contiguous uint8 array.
    """
    top = len(lut) - 1
    scale = top / max(high - low, 1e-12)
    # A diverging run hands out values that overflow single precision:
    # they become infinities, which the table's ends show.
    with np.errstate(over="ignore", invalid="ignore"):
        index = np.asarray(values, dtype=np.float32) * np.float32(scale)
        index -= np.float32(low * scale)
    # fmax and fmin, unlike clip, also send NaN to an end of the table.
    # Against whole arrays they take a vectorized loop; against a scalar
    # they take one element at a time, four times slower.
    np.fmax(index, constant(0.0, index, full=True), out=index)
    np.fmin(index, constant(float(top), index, full=True), out=index)
    if top_down:
        index = index[..., ::-1, :]
    # One 32-bit word per colour: a gather of words is several times
    # faster than a gather of (n, 4) rows.
    # The indices are in range already; "clip" skips take's bounds check,
    # which costs as much as the gather itself.
    words = np.ascontiguousarray(lut, dtype=np.uint8).view(np.uint32)[:, 0]
    pixels = words.take(index.astype(np.uint8), mode="clip")
    return pixels.view(np.uint8).reshape(*pixels.shape, 4)

