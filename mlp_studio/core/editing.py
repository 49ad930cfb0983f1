"""Editing a data set by hand, with undo and redo.

The points a person draws live in ``PointSet``, an immutable value: every
edit makes a new one, so undo is keeping the old one, and the trainer
thread can be handed a set without copying or locking. ``DataEditor`` holds
the history. A brush stroke, however many points it sprays, is one step.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from .datasets import DOMAIN, Dataset
from .heads import MAX_CLASSES

log = logging.getLogger(__name__)

MAX_HISTORY = 200


@dataclass(frozen=True, eq=False)
class PointSet:
    """Points with labels and a train/test flag each. Arrays are read-only.

    Attributes
    ----------
    X : (n, 2) float64 coordinates.
    y : (n,) int64 class labels, or float64 values for regression.
    test : (n,) bool, True for points in the test set.
    task : "binary", "multiclass" or "regression".
    n_classes : number of classes (0 for regression); at least 2 for
        classification, so a binary task stays binary while empty.
    """

    X: np.ndarray
    y: np.ndarray
    test: np.ndarray
    task: str
    n_classes: int

    def __post_init__(self):
        for name in ("X", "y", "test"):
            array = getattr(self, name)
            if array.flags.writeable:
                array = array.copy()
                array.setflags(write=False)
                object.__setattr__(self, name, array)

    def __len__(self):
        return len(self.X)

    @classmethod
    def empty(cls, task="binary") -> PointSet:
        dtype = np.float64 if task == "regression" else np.int64
        n_classes = 0 if task == "regression" else 2
        return cls(np.zeros((0, 2)), np.zeros(0, dtype), np.zeros(0, bool),
                   task, n_classes)

    @classmethod
    def from_split(cls, train: Dataset, test: Dataset) -> PointSet:
        return cls(np.vstack([train.X, test.X]),
                   np.concatenate([train.y, test.y]),
                   np.concatenate([np.zeros(len(train), bool),
                                   np.ones(len(test), bool)]),
                   train.task, max(train.n_classes, test.n_classes))

    def split(self, name="drawn") -> tuple[Dataset, Dataset]:
        """(train, test) Datasets."""
        return (
            Dataset(self.X[~self.test], self.y[~self.test], self.task,
                    self.n_classes, name),
            Dataset(self.X[self.test], self.y[self.test], self.task,
                    self.n_classes, name),
        )

    def dataset(self, name="drawn") -> Dataset:
        return Dataset(self.X, self.y, self.task, self.n_classes, name)

    # ------------------------------------------------------------------
    # Edits: each returns a new PointSet

    def add(self, points, label, test) -> PointSet:
        """Points (m, 2) with one label and per-point test flags (m,).

        A class label of 2 or more turns a binary set into a multiclass
        one; labels must be below MAX_CLASSES.
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if not np.isfinite(points).all():
            raise ValueError("points must be finite")
        test = np.broadcast_to(np.asarray(test, bool), (len(points),))
        task, n_classes = self.task, self.n_classes
        if task == "regression":
            value = float(label)
            if not math.isfinite(value):
                raise ValueError(f"a value must be finite, got {label!r}")
            labels = np.full(len(points), value)
        else:
            label = int(label)
            if not 0 <= label < MAX_CLASSES:
                raise ValueError(
                    f"class must be 0 to {MAX_CLASSES - 1}, got {label}")
            labels = np.full(len(points), label, np.int64)
            n_classes = max(n_classes, label + 1)
            if n_classes > 2:
                task = "multiclass"
        return PointSet(np.vstack([self.X, points]),
                        np.concatenate([self.y, labels]),
                        np.concatenate([self.test, test]), task, n_classes)

    def remove(self, index) -> PointSet:
        """Without the points at ``index`` (indices or a boolean mask)."""
        keep = np.ones(len(self), bool)
        keep[index] = False
        return PointSet(self.X[keep], self.y[keep], self.test[keep],
                        self.task, self.n_classes)

    def move(self, index: int, to) -> PointSet:
        X = self.X.copy()
        X[index] = np.clip(np.asarray(to, float), -DOMAIN, DOMAIN)
        return PointSet(X, self.y, self.test, self.task, self.n_classes)

    def cleared(self) -> PointSet:
        empty = PointSet.empty(self.task)
        return PointSet(empty.X, empty.y, empty.test, self.task,
                        self.n_classes)

    # ------------------------------------------------------------------
    # Queries

    def within(self, centre, radius) -> np.ndarray:
        """Indices of the points within ``radius`` of ``centre``."""
        if not len(self):
            return np.zeros(0, np.intp)
        d2 = ((self.X - np.asarray(centre, float)) ** 2).sum(axis=1)
        return np.flatnonzero(d2 <= radius * radius)

    def nearest(self, centre, radius) -> int | None:
        """The index of the point nearest ``centre`` within ``radius``."""
        if not len(self):
            return None
        d2 = ((self.X - np.asarray(centre, float)) ** 2).sum(axis=1)
        index = int(np.argmin(d2))
        return index if d2[index] <= radius * radius else None

    def same_as(self, other: PointSet) -> bool:
        return (self.task == other.task and self.n_classes == other.n_classes
                and np.array_equal(self.X, other.X)
                and np.array_equal(self.y, other.y)
                and np.array_equal(self.test, other.test))


def spray(rng: np.random.Generator, centre, radius: float,
          count: int) -> np.ndarray:
    """``count`` points uniformly in the disc around ``centre``, kept inside
    the plane."""
    angle = rng.uniform(0.0, 2.0 * math.pi, count)
    r = radius * np.sqrt(rng.uniform(0.0, 1.0, count))
    points = np.asarray(centre, float) + np.column_stack(
        [r * np.cos(angle), r * np.sin(angle)])
    return np.clip(points, -DOMAIN, DOMAIN)


class DataEditor:
    """The current PointSet with undo and redo.

    Every change goes through ``apply`` (one undo step) or through a stroke
    (``begin_stroke``, any number of ``apply`` calls, ``end_stroke``: one
    undo step in all).
    """

    def __init__(self, points: PointSet | None = None):
        self.points = points or PointSet.empty()
        self._undo: list[PointSet] = []
        self._redo: list[PointSet] = []
        self._stroke_start: PointSet | None = None

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def apply(self, points: PointSet) -> None:
        if self._stroke_start is None:
            self._push(self.points)
        self.points = points

    def begin_stroke(self) -> None:
        self._stroke_start = self.points

    def end_stroke(self) -> None:
        start, self._stroke_start = self._stroke_start, None
        if start is not None and not start.same_as(self.points):
            self._push(start)

    def undo(self) -> bool:
        self.end_stroke()
        if not self._undo:
            return False
        self._redo.append(self.points)
        self.points = self._undo.pop()
        return True

    def redo(self) -> bool:
        self.end_stroke()
        if not self._redo:
            return False
        self._undo.append(self.points)
        self.points = self._redo.pop()
        return True

    def _push(self, points):
        self._undo.append(points)
        del self._undo[:-MAX_HISTORY]
        self._redo.clear()
