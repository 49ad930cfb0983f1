"""Render ``resources/icons/icon.svg`` to the PNG icons beside it.

Run after changing the SVG (the PNGs are committed, so neither a build nor
the application needs to render SVG)::

    python packaging/render_icons.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZES = (16, 32, 48, 64, 128, 256)


def render(svg: Path, size: int, out: Path) -> None:
    """Draw ``svg`` on a transparent ``size`` x ``size`` image, save PNG."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not an SVG Qt can draw")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(out)):
        raise OSError(f"could not write {out}")


def main() -> int:
    # Rendering needs no screen; the offscreen platform works everywhere.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    # Painting needs an application object, alive while we paint.
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841
    svg = RESOURCES / "icon.svg"
    for size in SIZES:
        out = RESOURCES / f"icon-{size}.png"
        render(svg, size, out)
        print(f"{out.relative_to(RESOURCES.parent.parent)}: {size} px")
    return 0


if __name__ == "__main__":
    sys.exit(main())
