"""Input features computed from a point's two coordinates (x1, x2).

A network sees the features switched on, in the fixed order of
``FEATURES``, not the raw point. Giving it x1^2 and x2^2, for example, lets
a single perceptron separate the circle data set.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

FEATURES: dict[str, tuple[str, object]] = {
    # id: (label shown to people, function of x1 and x2)
    "x1": ("x₁", lambda x1, x2: x1),
    "x2": ("x₂", lambda x1, x2: x2),
    "x1^2": ("x₁²", lambda x1, x2: x1 * x1),
    "x2^2": ("x₂²", lambda x1, x2: x2 * x2),
    "x1*x2": ("x₁x₂", lambda x1, x2: x1 * x2),
    "sin(x1)": ("sin x₁", lambda x1, x2: np.sin(x1)),
    "sin(x2)": ("sin x₂", lambda x1, x2: np.sin(x2)),
}

DEFAULT_FEATURES = ("x1", "x2")


class FeatureMap:
    """An ordered selection of features.

    Parameters
    ----------
    names : iterable of feature ids from ``FEATURES``. They are kept in the
        canonical order, whatever order they are given in.
    """

    def __init__(self, names: Iterable[str] = DEFAULT_FEATURES):
        if isinstance(names, str):
            names = [names]
        chosen = set()
        for name in names:
            if name not in FEATURES:
                known = ", ".join(FEATURES)
                raise ValueError(
                    f"unknown input feature {name!r}; expected some of: {known}"
                )
            chosen.add(name)
        if not chosen:
            raise ValueError("at least one input feature must be switched on")
        self.names: tuple[str, ...] = tuple(n for n in FEATURES if n in chosen)

    def __len__(self):
        return len(self.names)

    def __eq__(self, other):
        return isinstance(other, FeatureMap) and other.names == self.names

    def __hash__(self):
        return hash(self.names)

    def __repr__(self):
        return f"FeatureMap({list(self.names)!r})"

    @property
    def labels(self) -> list[str]:
        return [FEATURES[n][0] for n in self.names]

    @property
    def is_identity(self) -> bool:
        return self.names == ("x1", "x2")

    def transform(self, points: np.ndarray, dtype=np.float64) -> np.ndarray:
        """Features of ``points``.

        Parameters
        ----------
        points : (n, 2) array of (x1, x2).

        Returns
        -------
        (n, len(self)) array.
        """
        points = np.asarray(points, dtype=dtype)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(
                f"points must have shape (n, 2), got {points.shape}"
            )
        if self.is_identity:
            return points.copy()
        x1, x2 = points[:, 0], points[:, 1]
        out = np.empty((len(points), len(self.names)), dtype=dtype)
        for column, name in enumerate(self.names):
            out[:, column] = FEATURES[name][1](x1, x2)
        return out
