"""Built-in two-dimensional data sets and the Dataset container.

The shapes follow the ones people know from TensorFlow Playground: points
live in about [-5, 5]^2 and the plot shows [-6, 6]^2. ``noise`` runs from 0
(clean) to 1; the playground's slider covers 0 to 0.5 of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .heads import MAX_CLASSES

DOMAIN = 6.0  # the plane shown is [-DOMAIN, DOMAIN]^2
MAX_POINTS = 100_000


@dataclass(frozen=True, eq=False)
class Dataset:
    """Labelled points in the plane. The arrays are read-only.

    Attributes
    ----------
    X : (n, 2) float64 coordinates (x1, x2).
    y : (n,) int64 class labels, or float64 targets for regression.
    task : "binary", "multiclass" or "regression".
    n_classes : number of classes; 0 for regression.
    name : the generator's name, or a file name.
    """

    X: np.ndarray
    y: np.ndarray
    task: str
    n_classes: int
    name: str = ""

    def __post_init__(self):
        X = np.array(self.X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != 2:
            raise ValueError(f"X must have shape (n, 2), got {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("X contains NaN or infinity")
        if self.task == "regression":
            y = np.array(self.y, dtype=np.float64)
            if not np.isfinite(y).all():
                raise ValueError("targets contain NaN or infinity")
        elif self.task in ("binary", "multiclass"):
            y = np.array(self.y)
            if y.size and not np.array_equal(y.astype(np.int64), y):
                raise ValueError("class labels must be whole numbers")
            y = y.astype(np.int64)
            if y.size and (y.min() < 0 or y.max() >= self.n_classes):
                raise ValueError(
                    f"class labels must be 0 to {self.n_classes - 1}"
                )
        else:
            raise ValueError(f"unknown task {self.task!r}")
        if y.shape != (len(X),):
            raise ValueError(
                f"y must have shape ({len(X)},), got {y.shape}"
            )
        X.setflags(write=False)
        y.setflags(write=False)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)

    def __len__(self):
        return len(self.X)

    def subset(self, index) -> Dataset:
        """The points at ``index`` (an index array or a boolean mask)."""
        return Dataset(self.X[index], self.y[index], self.task,
                       self.n_classes, self.name)

    def split(self, train_ratio: float = 0.5, seed: int = 0):
        """Random (train, test) split with ``train_ratio`` of the points
        (rounded) in the training set."""
        if not 0.0 <= float(train_ratio) <= 1.0:
            raise ValueError(
                f"train ratio must be between 0 and 1, got {train_ratio}"
            )
        order = np.random.default_rng(seed).permutation(len(self))
        n_train = int(round(train_ratio * len(self)))
        return self.subset(np.sort(order[:n_train])), self.subset(
            np.sort(order[n_train:]))


def _circle(rng, n, noise, classes):
    radius = 5.0
    inner = n // 2
    r = np.concatenate([
        rng.uniform(0.0, 0.5 * radius, inner),
        rng.uniform(0.7 * radius, radius, n - inner),
    ])
    angle = rng.uniform(0.0, 2.0 * math.pi, n)
    X = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    X += rng.uniform(-radius, radius, X.shape) * noise
    y = np.concatenate([np.ones(inner), np.zeros(n - inner)])
    return X, y


def _xor(rng, n, noise, classes):
    padding = 0.3
    X = rng.uniform(-5.0, 5.0, (n, 2))
    # Push points off the axes so the four quadrants are clearly apart.
    X += np.where(X > 0, padding, -padding)
    y = (X[:, 0] * X[:, 1] >= 0).astype(float)
    X += rng.uniform(-5.0, 5.0, X.shape) * noise
    return X, y


def _gauss(rng, n, noise, classes):
    spread = math.sqrt(0.5 + 7.0 * noise)
    half = n // 2
    centres = np.array([[2.0, 2.0]] * half + [[-2.0, -2.0]] * (n - half))
    X = centres + rng.normal(0.0, spread, (n, 2))
    y = np.concatenate([np.ones(half), np.zeros(n - half)])
    return X, y


def _spiral(rng, n, noise, classes):
    half = n // 2
    parts, labels = [], []
    for arm, (count, label) in enumerate(((half, 1.0), (n - half, 0.0))):
        i = np.arange(count)
        r = i / max(count, 1) * 5.0
        t = 1.75 * i / max(count, 1) * 2.0 * math.pi + arm * math.pi
        points = np.column_stack([r * np.sin(t), r * np.cos(t)])
        parts.append(points + rng.uniform(-1.0, 1.0, points.shape) * noise)
        labels.append(np.full(count, label))
    return np.concatenate(parts), np.concatenate(labels)


def _moons(rng, n, noise, classes):
    half = n // 2
    t_upper = rng.uniform(0.0, math.pi, half)
    t_lower = rng.uniform(0.0, math.pi, n - half)
    upper = np.column_stack([np.cos(t_upper), np.sin(t_upper)])
    lower = np.column_stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)])
    X = (np.concatenate([upper, lower]) - [0.5, 0.25]) * 3.3
    X += rng.normal(0.0, 0.1 + 3.0 * noise, X.shape)
    y = np.concatenate([np.ones(half), np.zeros(n - half)])
    return X, y


def _blobs(rng, n, noise, classes):
    angles = 2.0 * math.pi * np.arange(classes) / classes + math.pi / 2
    centres = 3.5 * np.column_stack([np.cos(angles), np.sin(angles)])
    y = np.arange(n) % classes
    X = centres[y] + rng.normal(0.0, 0.7 + 3.0 * noise, (n, 2))
    return X, y.astype(float)


def _plane(rng, n, noise, classes):
    X = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    y = (X[:, 0] + X[:, 1]) / 10.0 + rng.normal(0.0, noise, n)
    return X, y


def _multi_gauss(rng, n, noise, classes):
    X = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    # Six bumps of alternating sign on a 3 x 2 grid.
    bumps = [(-4.0, 2.5, 1.0), (0.0, 2.5, -1.0), (4.0, 2.5, 1.0),
             (-4.0, -2.5, -1.0), (0.0, -2.5, 1.0), (4.0, -2.5, -1.0)]
    y = np.zeros(n)
    for cx, cy, sign in bumps:
        d2 = (X[:, 0] - cx) ** 2 + (X[:, 1] - cy) ** 2
        y += sign * np.exp(-d2 / (2.0 * 1.5**2))
    y += rng.normal(0.0, noise, n)
    return X, y


# name: (generator, task, label shown to people)
DATASETS: dict[str, tuple[Callable, str, str]] = {
    "circle": (_circle, "binary", "Circle"),
    "xor": (_xor, "binary", "Exclusive or"),
    "gauss": (_gauss, "binary", "Two Gaussians"),
    "spiral": (_spiral, "binary", "Spiral"),
    "moons": (_moons, "binary", "Two moons"),
    "blobs": (_blobs, "multiclass", "Blobs (several classes)"),
    "plane": (_plane, "regression", "Plane (regression)"),
    "multi-gauss": (_multi_gauss, "regression", "Multi-Gaussian (regression)"),
}


def make_dataset(name: str = "spiral", n: int = 500, noise: float = 0.0,
                 seed: int = 0, *, classes: int = 3) -> Dataset:
    """Generate a built-in data set.

    Parameters
    ----------
    name : one of ``DATASETS``: circle, xor, gauss, spiral, moons, blobs
        (several classes), plane and multi-gauss (regression).
    n : number of points, 1 to 100,000.
    noise : 0 (clean) to 1.
    seed : seed of the random generator; the same seed gives the same set.
    classes : number of classes for "blobs", 2 to 6.

    Returns
    -------
    Dataset with X of shape (n, 2) and y of shape (n,).
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(
            f"unknown data set {name!r}; expected one of: {', '.join(DATASETS)}"
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"number of points must be a whole number, got {n!r}")
    if not 1 <= n <= MAX_POINTS:
        raise ValueError(f"number of points must be 1 to {MAX_POINTS}, got {n}")
    try:
        noise = float(noise)
    except (TypeError, ValueError):
        raise ValueError(f"noise must be a number, got {noise!r}") from None
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be between 0 and 1, got {noise}")
    generator, task, _ = DATASETS[key]
    if task == "multiclass" and not 2 <= classes <= MAX_CLASSES:
        raise ValueError(f"classes must be 2 to {MAX_CLASSES}, got {classes}")
    X, y = generator(np.random.default_rng(seed), int(n), noise, classes)
    n_classes = {"binary": 2, "multiclass": classes, "regression": 0}[task]
    return Dataset(X, y, task, n_classes, key)


@dataclass(frozen=True)
class DataSpec:
    """How to make a built-in data set: the arguments of ``make_dataset``
    plus the train/test split."""

    name: str = "spiral"
    points: int = 500
    noise: float = 0.0
    seed: int = 0
    classes: int = 3
    train_ratio: float = 0.5

    def make(self) -> Dataset:
        return make_dataset(self.name, self.points, self.noise, self.seed,
                            classes=self.classes)

    @property
    def task(self) -> str:
        return DATASETS[self.name][1]
