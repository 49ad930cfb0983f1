"""A training run: data, features, network, settings and history together.

This is the plain training loop the window drives from its trainer thread.
It imports no Qt and runs, and is tested, without an event loop: the
thread only calls ``run`` and ``snapshot`` and passes settings in.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from .datasets import DOMAIN, Dataset, make_dataset
from .features import FeatureMap
from .network import MLP, REGULARIZATIONS
from .optimizers import OPTIMIZERS

log = logging.getLogger(__name__)

GRID_RESOLUTION = 200  # decision plot: GRID_RESOLUTION^2 evaluations
NEURON_RESOLUTION = 48  # each node's small heat map


@dataclass(frozen=True)
class ModelSettings:
    """What the network is: changing any of it restarts from the seed."""

    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (8, 8)
    activations: tuple[str, ...] = ("tanh", "tanh")
    seed: int = 0

    def __post_init__(self):
        if len(self.activations) != len(self.hidden):
            raise ValueError(
                f"{len(self.activations)} activations for "
                f"{len(self.hidden)} hidden layers"
            )


@dataclass(frozen=True)
class TrainSettings:
    """How it learns: these apply to a running training at once."""

    learning_rate: float = 0.01
    batch_size: int = 10
    optimizer: str = "adam"
    regularization: str = "none"
    reg_rate: float = 0.0

    def __post_init__(self):
        rate = self.learning_rate
        if not (isinstance(rate, (int, float)) and math.isfinite(rate)
                and rate > 0):
            raise ValueError(f"learning rate must be positive, got {rate!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ValueError(
                f"batch size must be a whole number >= 1, got {self.batch_size!r}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}")
        if self.regularization not in REGULARIZATIONS:
            raise ValueError(f"unknown regularization {self.regularization!r}")
        if not (math.isfinite(self.reg_rate) and self.reg_rate >= 0):
            raise ValueError(
                f"regularization rate must be >= 0, got {self.reg_rate!r}"
            )


class History:
    """Per-epoch metrics, append-only.

    ``view`` hands out read-only views of the filled part. Rows once
    written never change and a full buffer is replaced, not resized, so
    a view given to another thread stays valid and unchanged.
    """

    COLUMNS = ("epoch", "train_loss", "test_loss", "train_accuracy",
               "test_accuracy")

    def __init__(self, capacity=1024):
        self._data = np.full((capacity, len(self.COLUMNS)), np.nan)
        self._size = 0

    def __len__(self):
        return self._size

    def append(self, row):
        if self._size == len(self._data):
            bigger = np.full((2 * len(self._data), len(self.COLUMNS)), np.nan)
            bigger[: self._size] = self._data
            self._data = bigger
        self._data[self._size] = row
        self._size += 1

    def extend(self, rows) -> None:
        """Append (k, 5) rows, as another process's run recorded them."""
        for row in np.asarray(rows, dtype=np.float64).reshape(
                -1, len(self.COLUMNS)):
            self.append(row)

    def view(self) -> np.ndarray:
        """(epochs, 5) read-only array, columns as in ``COLUMNS``."""
        view = self._data[: self._size]
        view.setflags(write=False)
        return view


class Trajectory:
    """The flat weights along the run, one row per recorded epoch.

    At most ``capacity`` rows: when full, every other row goes and only
    every other epoch is recorded from then on, so a long run keeps an
    even picture of its whole path. Rows handed out by ``view`` never
    change (a thinned buffer is a new array).
    """

    def __init__(self, n_params, capacity=1000):
        self._capacity = capacity
        self._data = np.empty((capacity, n_params))
        self._updates = np.empty(capacity, np.int64)
        self._size = 0
        self._stride = 1
        self._seen = 0
        # When a list: (epochs seen, weights, updates) of each row kept,
        # for ``replay`` in another process.
        self.journal: list | None = None

    @classmethod
    def continuing(cls, n_params, counters, capacity=1000) -> Trajectory:
        """An empty trajectory that keeps, from now on, the rows that one
        with these ``counters`` would keep; its ``journal`` says which."""
        path = cls(n_params, capacity)
        path._size, path._stride, path._seen = (int(c) for c in counters)
        if not 0 <= path._size <= capacity or path._stride < 1:
            raise ValueError(f"trajectory counters out of range: {counters}")
        path.journal = []
        return path

    def counters(self) -> tuple[int, int, int]:
        """(rows, stride, epochs seen): what decides the rows kept next."""
        return self._size, self._stride, self._seen

    def replay(self, seen, thetas, updates, total_seen) -> None:
        """Append what another trajectory's journal recorded, keeping and
        thinning rows as it did: ``seen`` (k,) epochs seen at each row,
        ``thetas`` (k, n_params), ``updates`` (k,); ``total_seen`` its
        count at the end."""
        for count, theta, step in zip(seen, thetas, updates):
            self._seen = int(count) - 1
            self.append(theta, int(step))
        self._seen = int(total_seen)

    def __len__(self):
        return self._size

    def append(self, theta, updates):
        self._seen += 1
        if (self._seen - 1) % self._stride:
            return
        if self._size == self._capacity:
            keep = np.arange(0, self._size, 2)
            data = np.empty_like(self._data)
            data[: len(keep)] = self._data[keep]
            steps = np.empty_like(self._updates)
            steps[: len(keep)] = self._updates[keep]
            self._data, self._updates = data, steps
            self._size = len(keep)
            self._stride *= 2
        self._data[self._size] = theta
        self._updates[self._size] = updates
        self._size += 1
        if self.journal is not None:
            self.journal.append((self._seen, np.array(theta), updates))

    def view(self):
        """((rows, n_params) weights, (rows,) update counts), read-only."""
        data = self._data[: self._size]
        steps = self._updates[: self._size]
        data.setflags(write=False)
        steps.setflags(write=False)
        return data, steps


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The state of a run at one moment, for the window to show.

    Every array is a copy (or a view of data that never changes again) and
    read-only: the trainer thread never touches it after handing it out.
    """

    serial: int
    sizes: tuple[int, ...]
    feature_names: tuple[str, ...]
    activations: tuple[str, ...]
    task: str
    n_classes: int
    params: tuple  # ((W (fan_in, fan_out), b (fan_out,)), ...) per layer
    updates: int
    epochs: int
    epoch_progress: float
    train_loss: float
    test_loss: float
    train_accuracy: float
    test_accuracy: float
    history: np.ndarray  # see History.COLUMNS
    domain: float
    output_grid: np.ndarray | None  # (res, res) or (res, res, classes)
    neuron_grids: tuple = ()  # per layer: (units, r, r) float32
    trajectory: np.ndarray | None = None  # (rows, n_params) flat weights
    trajectory_updates: np.ndarray | None = None  # (rows,) when recorded
    model_settings: ModelSettings | None = None
    training: TrainSettings | None = None
    train: Dataset | None = None  # the points, immutable
    test: Dataset | None = None
    running: bool = False
    message: str = ""
    extras: dict = field(default_factory=dict)

    @cached_property
    def gradients(self) -> tuple:
        """The gradient of the training objective (the data loss plus the
        penalty) at ``params``, in their layout; () without training
        points.

        Computed when first asked for, and then kept: the window asks only
        when a weight is pointed at, and the trainer has better things to
        do with each frame's time.
        """
        train, settings = self.train, self.model_settings
        if train is None or not len(train) or settings is None:
            return ()
        training = self.training or TrainSettings()
        model = MLP(len(self.feature_names), self.sizes[1:-1],
                    self.sizes[-1], list(self.activations), self.task,
                    regularization=training.regularization,
                    reg_rate=training.reg_rate)
        model.set_params([(np.asarray(w), np.asarray(b))
                          for w, b in self.params])
        X = FeatureMap(self.feature_names).transform(train.X)
        with np.errstate(all="ignore"):  # a run about to diverge
            grads = model.gradients(X, train.y)
        return tuple((_frozen(w), _frozen(b)) for w, b in grads)


def plane_grid(resolution: int, domain: float = DOMAIN) -> np.ndarray:
    """(resolution^2, 2) points covering [-domain, domain]^2, row by row
    from the bottom (x2 = -domain) up, x1 varying fastest."""
    axis = np.linspace(-domain, domain, resolution)
    x1, x2 = np.meshgrid(axis, axis)
    return np.column_stack([x1.ravel(), x2.ravel()])


def _frozen(array):
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


class TrainingRun:
    """Data, features, a network and its training settings, with history.

    Parameters
    ----------
    dataset : all the points; split into train and test by ``train_ratio``.
    model : ModelSettings.
    training : TrainSettings.
    train_ratio : fraction of the points used for training.
    split_seed : seed of the train/test split.
    """

    def __init__(self, dataset: Dataset, model: ModelSettings | None = None,
                 training: TrainSettings | None = None,
                 train_ratio: float = 0.5, split_seed: int = 0):
        self.model_settings = model or ModelSettings()
        self.training = training or TrainSettings()
        self._serial = 0
        self._grids: dict = {}
        self.set_data(dataset, train_ratio, split_seed, restart=True)

    @classmethod
    def default(cls) -> TrainingRun:
        """Spiral, two hidden layers of 8 tanh units: ready to train."""
        return cls(make_dataset("spiral", 500, 0.0, seed=0))

    # ------------------------------------------------------------------
    # Changing what is trained

    def set_data(self, dataset: Dataset, train_ratio: float | None = None,
                 split_seed: int | None = None, *, restart: bool = True,
                 split=None):
        """Train on new points.

        With ``restart`` the network goes back to its seed (a new data set);
        without it training continues on the new points (drawing while
        training). ``split`` may give explicit (train, test) data sets.
        """
        if train_ratio is not None:
            if not 0.0 < train_ratio <= 1.0:
                raise ValueError(
                    f"train ratio must be in (0, 1], got {train_ratio}")
            self.train_ratio = float(train_ratio)
        if split_seed is not None:
            self.split_seed = int(split_seed)
        self.dataset = dataset
        if split is None:
            split = dataset.split(self.train_ratio, self.split_seed)
        self.train, self.test = split
        needs_new_model = (
            restart or not hasattr(self, "model")
            or self._outputs(dataset) != self.model.outputs
            or dataset.task != self.model.task
        )
        self._features_changed()
        if needs_new_model:
            self._build_model()

    def set_model(self, settings: ModelSettings):
        """New architecture, features or seed: restart from the seed."""
        self.model_settings = settings
        self._features_changed()
        self._build_model()

    def set_training(self, settings: TrainSettings):
        """Apply learning rate, batch size, optimizer and regularization to
        the running training."""
        self.training = settings
        self._apply_training()

    def reset(self):
        """Back to the initial weights; the history is cleared."""
        self.model.reset()
        self.history = History()
        self.trajectory = None
        self._record()

    def reseed(self, seed: int | None = None) -> int:
        """New initial weights from ``seed`` (random when None)."""
        seed = self.model.reseed(seed)
        self.model_settings = replace(self.model_settings, seed=seed)
        self.history = History()
        self.trajectory = None
        self._record()
        return seed

    def _outputs(self, dataset):
        return dataset.n_classes if dataset.task == "multiclass" else 1

    def _features_changed(self):
        self.features = FeatureMap(self.model_settings.features)
        self.X_train = _frozen(self.features.transform(self.train.X))
        self.X_test = _frozen(self.features.transform(self.test.X))
        self._grids.clear()

    def _build_model(self):
        settings = self.model_settings
        self.model = MLP(
            len(self.features), list(settings.hidden),
            self._outputs(self.dataset), list(settings.activations),
            self.dataset.task, settings.seed,
        )
        self._apply_training()
        self.history = History()
        self.trajectory = None
        self._record()
        log.debug("new model %r", self.model)

    def _apply_training(self):
        settings = self.training
        self.model.optimizer = settings.optimizer
        self.model.regularization = settings.regularization
        self.model.reg_rate = settings.reg_rate

    # ------------------------------------------------------------------
    # Training

    def run(self, count: int) -> int:
        """Take ``count`` updates; record metrics after each finished epoch.

        Returns the number of epochs completed. Raises the engine's
        NonFiniteLossError (the bad update undone) on divergence.
        """
        if len(self.train) == 0:
            raise ValueError("there are no training points: draw some, or "
                             "generate a data set")
        completed = 0
        while count > 0:
            per_epoch = math.ceil(len(self.train) / min(
                self.training.batch_size, len(self.train)))
            left = max(1, round((1.0 - self.model.epoch_progress) * per_epoch))
            take = min(count, left)
            done = self.model.train_updates(
                self.X_train, self.train.y, self.training.learning_rate,
                self.training.batch_size, take)
            count -= take
            if done:
                completed += done
                self._record()
        return completed

    def run_epoch(self) -> None:
        """Finish the current epoch (or run a whole one)."""
        per_epoch = math.ceil(len(self.train) / max(1, min(
            self.training.batch_size, len(self.train))))
        left = round((1.0 - self.model.epoch_progress) * per_epoch)
        self.run(left or per_epoch)

    def metrics(self) -> tuple[float, float, float, float]:
        """(train loss, test loss, train accuracy, test accuracy)."""
        train_loss, train_acc = self.model.evaluate(self.X_train, self.train.y)
        if len(self.test):
            test_loss, test_acc = self.model.evaluate(self.X_test, self.test.y)
        else:
            test_loss = test_acc = float("nan")
        return train_loss, test_loss, train_acc, test_acc

    def restart_path(self):
        """Forget the recorded path; it starts again at the current
        weights (after weights were set from outside, as when opening)."""
        self.trajectory = Trajectory(self.model.n_params)
        self.trajectory.append(self.model.flat_params(), self.model.updates)

    def _record(self):
        with np.errstate(all="ignore"):
            self.history.append((self.model.epochs, *self.metrics()))
        if self.trajectory is None or \
                self.trajectory._data.shape[1] != self.model.n_params:
            self.trajectory = Trajectory(self.model.n_params)
        self.trajectory.append(self.model.flat_params(), self.model.updates)

    # ------------------------------------------------------------------
    # What the window shows

    def _grid_features(self, resolution):
        grid = self._grids.get(resolution)
        if grid is None:
            grid = self.features.transform(plane_grid(resolution),
                                           dtype=np.float32)
            self._grids[resolution] = grid
        return grid

    def output_grid(self, resolution=GRID_RESOLUTION) -> np.ndarray:
        """The model's output over the plane: (res, res) for binary
        (probability of class 1) and regression, (res, res, classes)."""
        values = self.model.predict(self._grid_features(resolution),
                                    dtype=np.float32)
        shape = (resolution, resolution) + values.shape[1:]
        return values.reshape(shape)

    def neuron_grids(self, resolution=NEURON_RESOLUTION) -> tuple:
        """Each hidden and output unit's value over the plane, per layer
        a (units, res, res) float32 array. The output layer shows the
        head's prediction (probability or value)."""
        outs = self.model.layer_outputs(self._grid_features(resolution),
                                        dtype=np.float32)
        return tuple(
            _frozen(out.T.reshape(out.shape[1], resolution, resolution))
            for out in outs
        )

    def snapshot(self, *, grids: bool = True, running: bool = False,
                 message: str = "") -> Snapshot:
        """An immutable picture of the run for the window.

        A run on its way to diverging may hold weights so large that
        the pictures overflow; they then show inf or NaN, without warning.
        """
        with np.errstate(all="ignore"):
            return self._snapshot(grids, running, message)

    def _snapshot(self, grids, running, message):
        self._serial += 1
        model = self.model
        params = tuple((_frozen(w), _frozen(b)) for w, b in model.params())
        train_loss, test_loss, train_acc, test_acc = self.metrics()
        path, path_updates = self.trajectory.view()
        output = _frozen(self.output_grid()) if grids else None
        neurons = self.neuron_grids() if grids else ()
        return Snapshot(
            serial=self._serial,
            sizes=model.sizes,
            feature_names=self.features.names,
            activations=tuple(a.name for a in model.activations),
            task=model.task,
            n_classes=self.dataset.n_classes,
            params=params,
            updates=model.updates,
            epochs=model.epochs,
            epoch_progress=model.epoch_progress,
            train_loss=train_loss,
            test_loss=test_loss,
            train_accuracy=train_acc,
            test_accuracy=test_acc,
            history=self.history.view(),
            domain=DOMAIN,
            output_grid=output,
            neuron_grids=neurons,
            trajectory=path,
            trajectory_updates=path_updates,
            model_settings=self.model_settings,
            training=self.training,
            train=self.train,
            test=self.test,
            running=running,
            message=message,
        )
