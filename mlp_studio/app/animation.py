"""Recording the decision regions while training runs, for an animated
GIF of the run."""

from __future__ import annotations

import io
import logging
import time
from collections import deque

import numpy as np

from mlp_studio.core.files import write_atomically

from . import colors

log = logging.getLogger(__name__)

MAX_FRAMES = 300
FRAME_INTERVAL = 0.1  # seconds between recorded frames, at most 10 a second
FRAME_SIZE = 200  # pixels of the GIF's square (the grid's own size)


class Recorder:
    """Keeps the last MAX_FRAMES pictures of the decision regions.

    A frame is kept at most every FRAME_INTERVAL seconds, and only when the
    weights changed; a new network (fewer updates than the last frame, or
    other sizes) starts a new recording.
    """

    def __init__(self):
        self.frames: deque = deque(maxlen=MAX_FRAMES)
        self._last_time = 0.0
        self._key = None
        self._lut = colors.diverging_lut()
        self._class_rgb = colors.pastel(colors.class_rgb())

    def record(self, snapshot, points) -> None:
        grid = snapshot.output_grid
        if grid is None:
            return
        key = (snapshot.sizes, snapshot.feature_names, snapshot.task)
        last = self.frames[-1][0] if self.frames else -1
        if key != self._key or snapshot.updates < last:
            self.frames.clear()
            self._key = key
        if snapshot.updates == last:
            return
        now = time.perf_counter()
        if self.frames and now - self._last_time < FRAME_INTERVAL:
            if snapshot.running:
                return
            # Where training stopped is always kept: it replaces a frame
            # taken only an instant before.
            self.frames.pop()
        self._last_time = now
        # Keep the output, small and coarse, and make the picture only
        # when the animation is saved: recording costs the frame little.
        step = max(1, grid.shape[0] // FRAME_SIZE)
        with np.errstate(over="ignore", invalid="ignore"):
            # A diverging run's huge values become inf: the ends of the
            # colour map in the picture.
            coarse = grid[::step, ::step].astype(np.float16)
        frame = (coarse, snapshot.task, snapshot.domain, points)
        self.frames.append((snapshot.updates, frame))

    def pictures(self):
        """The recorded frames as (FRAME_SIZE, FRAME_SIZE, 3) uint8."""
        return [self._picture(*frame) for _, frame in self.frames]

    def _picture(self, grid, task, domain, points):
        """(FRAME_SIZE, FRAME_SIZE, 3) uint8: regions, then the points."""
        # Bounded, so that the arithmetic below cannot overflow.
        grid = np.clip(np.nan_to_num(np.asarray(grid, float)), -1e6, 1e6)
        if task == "multiclass":
            rgb = grid @ self._class_rgb[: grid.shape[-1]]
        else:
            span = 1.0 if task == "binary" else max(
                float(np.abs(grid).max()), 1e-9)
            low = 0.0 if task == "binary" else -span
            index = ((grid - low) / (span - low) * 255).clip(0, 255)
            rgb = self._lut[index.astype(int)]
        picture = np.ascontiguousarray(rgb[::-1].clip(0, 255), np.uint8)
        if picture.shape[0] != FRAME_SIZE:
            repeat = -(-FRAME_SIZE // picture.shape[0])
            picture = np.ascontiguousarray(np.repeat(np.repeat(
                picture, repeat, 0), repeat, 1)[:FRAME_SIZE, :FRAME_SIZE])
        _draw_points(picture, points, domain)
        return picture

    def save_gif(self, path) -> int:
        """Write the frames as an animated GIF; returns their number."""
        try:
            from PIL import Image
        except ImportError:  # pragma: no cover - Pillow is a dependency
            raise ValueError("writing GIF needs the Pillow package") from None
        if len(self.frames) < 2:
            raise ValueError("nothing recorded yet: train for a while first")
        images = [Image.fromarray(picture).convert(
                      "P", palette=Image.Palette.ADAPTIVE, colors=64)
                  for picture in self.pictures()]
        buffer = io.BytesIO()
        images[0].save(buffer, format="GIF", save_all=True,
                       append_images=images[1:],
                       duration=int(FRAME_INTERVAL * 1000), loop=0)
        write_atomically(path, buffer.getvalue())
        return len(images)


def _draw_points(picture, points, domain):
    """Small squares in the class colours (or grey for regression)."""
    if points is None or not len(points):
        return
    size = picture.shape[0]
    cells = ((points.X + domain) / (2 * domain) * (size - 1)).round()
    cols = cells[:, 0].clip(1, size - 2).astype(int)
    rows = (size - 1 - cells[:, 1]).clip(1, size - 2).astype(int)
    if points.task == "regression":
        fill = np.tile([40, 40, 40], (len(points), 1))
    else:
        fill = colors.class_rgb()[points.y.astype(int)]
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            picture[rows + dr, cols + dc] = fill
