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
