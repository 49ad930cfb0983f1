"""Saving and opening a whole session: data, settings, weights and history.

A session file (``.mlpstudio``) is one UTF-8 JSON document::

    {"format": "mlp-studio-session", "version": 1,
     "data": {...}, "model": {...}, "training": {...},
     "state": {...}, "history": [[epoch, train_loss, test_loss,
                                  train_accuracy, test_accuracy], ...]}

``json`` writes floats in their shortest round-trip form, so the weights,
the optimizer's buffers and the points come back bit for bit. The state
also holds the shuffle generator's state and the order of the epoch in
progress: an opened session predicts exactly what the saved run predicted,
and training it further gives exactly the weights the saved run would
have reached.

Opening builds new objects and checks every field first; a bad file
raises ``SessionFileError`` naming the field, and nothing is evaluated or
unpickled.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass

import numpy as np

from .activations import get_activation
from .datasets import DATASETS, MAX_POINTS, DataSpec
from .editing import PointSet
from .features import FEATURES
from .files import read_bounded, write_atomically
from .heads import MAX_CLASSES, TASKS
from .network import MAX_HIDDEN_LAYERS, MAX_UNITS, REGULARIZATIONS
from .optimizers import OPTIMIZERS, make_optimizer
from .training import History, ModelSettings, TrainingRun, TrainSettings

log = logging.getLogger(__name__)

FORMAT = "mlp-studio-session"
VERSION = 1
SUFFIX = ".mlpstudio"
MAX_BYTES = 50 * 2**20

# The window's name for points drawn or opened by hand (app.controls.DRAWN;
# the engine may not import the window).
_DRAWN = "drawn"
_MAX_SEED = 2**63 - 1
_BITS_128 = 2**128 - 1


class SessionFileError(ValueError):
    """A session file that cannot be opened; the message says what is
    wrong and, for a bad field, where (``state.theta: ...``)."""


@dataclass(frozen=True, eq=False)
class Session:
    """What a session file holds.

    Attributes
    ----------
    run : the training run, ready to predict and to continue training.
    points : every point with its train/test flag, in the saved order.
    spec : how the points were generated, or None.
    """

    run: TrainingRun
    points: PointSet
    spec: DataSpec | None = None


# ---------------------------------------------------------------- saving


def save_session(run: TrainingRun, path: str | os.PathLike, *,
                 points: PointSet | None = None,
                 spec: DataSpec | None = None) -> None:
    """Write ``run`` to ``path`` as a session file.

    The file is written under a temporary name next to ``path``, synced
    and renamed over it: ``path`` holds the old contents or the new,
    never part of either.

    Parameters
    ----------
    run : the run to save, between updates (not while another thread
        trains it).
    path : file to create or replace; ``.mlpstudio`` by convention.
    points : the points as the window keeps them, with per-point test
        flags; their training and test subsets must be the run's. None
        takes the run's training points followed by its test points.
    spec : how the points were generated, kept so that the window can
        show its data settings again.

    Raises
    ------
    ValueError
        If ``points`` are not the run's training and test points.
    OSError
        If the file cannot be written.
    """
    data = encode_session(run, points=points, spec=spec)
    write_atomically(path, data)
    log.debug("saved session (%d updates) to %s", run.model.updates, path)


def encode_session(run: TrainingRun, *, points: PointSet | None = None,
                   spec: DataSpec | None = None) -> bytes:
    """The session file's contents for ``run``; see ``save_session``."""
    document = {
        "format": FORMAT,
        "version": VERSION,
        "data": _data_fields(run, points, spec),
        "model": _model_fields(run.model_settings),
        "training": _training_fields(run.training),
        "state": _state_fields(run),
        "history": [_history_row(row) for row in run.history.view()],
    }
    # allow_nan=False: a non-finite number would make the file unreadable
    # by strict JSON readers, so fail here instead.
    text = json.dumps(document, allow_nan=False, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


def encode_setup(run: TrainingRun) -> dict:
    """What ``run`` trains and how, without where it stands: the "data",
    "model" and "training" fields of a session document. With
    ``capture_state`` it lets another process continue the run exactly
    (``mlp_studio.core.process``)."""
    return {
        "data": _data_fields(run, None, None),
        "model": _model_fields(run.model_settings),
        "training": _training_fields(run.training),
    }


def _data_fields(run, points, spec):
    if points is None:
        points = PointSet.from_split(run.train, run.test)
    else:
        _check_points_match(run, points)
    if points.task == "regression":
        labels = [float(v) for v in points.y.tolist()]
    else:
        labels = [int(v) for v in points.y.tolist()]
    return {
        "name": run.dataset.name,
        "task": points.task,
        "n_classes": int(points.n_classes),
        "X": points.X.tolist(),
        "y": labels,
        "test": [bool(flag) for flag in points.test.tolist()],
        "train_ratio": float(run.train_ratio),
        "split_seed": int(run.split_seed),
        "spec": None if spec is None else _spec_fields(spec),
    }


def _check_points_match(run, points):
    # Opening trains on the subsets of ``points``: anything else would not
    # continue the saved run.
    train, test = points.split()
    same = (
        points.task == run.dataset.task
        and points.n_classes == run.dataset.n_classes
        and all(np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
                for a, b in ((train, run.train), (test, run.test)))
    )
    if not same:
        raise ValueError("the points are not the run's training and test "
                         "points")


def _spec_fields(spec):
    return {
        "name": str(spec.name),
        "points": int(spec.points),
        "noise": float(spec.noise),
        "seed": int(spec.seed),
        "classes": int(spec.classes),
        "train_ratio": float(spec.train_ratio),
    }


def _model_fields(settings):
    return {
        "features": [str(name) for name in settings.features],
        "hidden": [int(units) for units in settings.hidden],
        "activations": [str(name) for name in settings.activations],
        "seed": int(settings.seed),
    }


def _training_fields(settings):
    return {
        "learning_rate": float(settings.learning_rate),
        "batch_size": int(settings.batch_size),
        "optimizer": str(settings.optimizer),
        "regularization": str(settings.regularization),
        "reg_rate": float(settings.reg_rate),
    }


def _state_fields(run):
    # The MLP keeps its training state in underscore attributes; this
    # module reads and restores them so that TrainingRun and MLP need no
    # serialisation code of their own.
    model = run.model
    optimizer = model.optimizer
    hyper = {field.name: float(getattr(optimizer, field.name))
             for field in dataclasses.fields(optimizer)}
    return {
        "theta": model.flat_params().tolist(),
        "optimizer": {"name": optimizer.name, **hyper},
        "optimizer_buffers": [buffer.tolist()
                              for buffer in model._opt_buffers],
        "optimizer_steps": int(model._opt_steps),
        "updates": int(model.updates),
        "epochs": int(model.epochs),
        "seed": int(model.seed),
        "initial_theta": model._initial_theta.tolist(),
        "shuffle_rng": model._shuffle_rng.bit_generator.state,
        "epoch": _epoch_fields(run),
    }


def _epoch_fields(run):
    """The order and position of the epoch in progress, or None when the
    next update starts a new epoch with a freshly drawn order."""
    position = _epoch_position(run)
    if position is None:
        return None
    order, cursor = position
    return {"order": order.tolist(), "next_batch": cursor}


def _epoch_position(run):
    """(order, batches taken) of the epoch in progress, or None."""
    n = len(run.train)
    state = run.model.epoch_state()
    if state is None or n == 0:
        return None
    batch = min(run.training.batch_size, n)
    if state["batch_size"] != batch or len(state["order"]) != n:
        return None  # the next update lays out a new epoch anyway
    return state["order"], int(state["cursor"])


def _history_row(row):
    # JSON has no NaN: a metric that does not exist (no test points, the
    # accuracy of a regression) is written as null.
    # Limitation: so is an infinite loss, which opens as NaN.
    values = [float(v) if math.isfinite(v) else None for v in row[1:]]
    return [int(row[0]), *values]


# ------------------------------------------- the state, as arrays


def capture_state(run: TrainingRun, *, full: bool = True
                  ) -> tuple[dict, dict[str, np.ndarray]]:
    """Where ``run`` stands, as JSON-ready fields and arrays, for
    ``restore_state`` on a run of the same setup in another process.

    The same state as a session file's "state", without the cost of
    writing every number as text. Without ``full``, only what training
    changes: the optimizer, the seed and the initial weights are left out.

    Returns
    -------
    (fields, arrays): arrays "theta" (n_params,), "optimizer_buffers"
    (buffers, n_params), "epoch_order" (training points,) when an epoch is
    in progress, and with ``full`` "initial_theta" (n_params,).
    """
    model = run.model
    n = model.n_params
    fields = {
        "optimizer_steps": int(model._opt_steps),
        "updates": int(model.updates),
        "epochs": int(model.epochs),
        "shuffle_rng": model._shuffle_rng.bit_generator.state,
        "next_batch": None,
    }
    arrays = {
        "theta": model._state[:n].copy(),
        "optimizer_buffers": model._state[n:].reshape(-1, n).copy(),
    }
    position = _epoch_position(run)
    if position is not None:
        arrays["epoch_order"], fields["next_batch"] = position
    if full:
        optimizer = model.optimizer
        fields["seed"] = int(model.seed)
        fields["optimizer"] = {
            "name": optimizer.name,
            **{field.name: float(getattr(optimizer, field.name))
               for field in dataclasses.fields(optimizer)},
        }
        arrays["initial_theta"] = np.array(model._initial_theta)
    return fields, arrays


def restore_state(run: TrainingRun, fields: dict,
                  arrays: dict[str, np.ndarray]) -> None:
    """Set ``run`` to the state ``capture_state`` took of a run of the
    same setup; training then goes on exactly as it would have there.

    Raises
    ------
    ValueError
        If an array does not fit the run's network or data, or a field
        is missing; the run is then unchanged.
    """
    model = run.model
    n = model.n_params
    try:
        optimizer = None
        if "optimizer" in fields:
            hyper = dict(fields["optimizer"])
            optimizer = make_optimizer(hyper.pop("name"), **hyper)
        buffers = (optimizer or model.optimizer).n_buffers
        theta = _array(arrays, "theta", (n,))
        buffer_values = _array(arrays, "optimizer_buffers", (buffers, n))
        initial = None
        if "initial_theta" in arrays:
            initial = _array(arrays, "initial_theta", (n,))
        rng = np.random.Generator(np.random.PCG64(0))
        rng.bit_generator.state = fields["shuffle_rng"]
        epoch = None
        if fields["next_batch"] is not None:
            epoch = _epoch_arrays(run, arrays, int(fields["next_batch"]))
        values = {key: int(fields[key])
                  for key in ("optimizer_steps", "updates", "epochs")}
        seed = int(fields["seed"]) if "seed" in fields else None
    except (KeyError, TypeError) as error:
        raise ValueError(f"not a training state: {error!r}") from None
    _set_state(run, theta=theta, buffers=buffer_values,
               steps=values["optimizer_steps"], updates=values["updates"],
               epochs=values["epochs"], rng=rng, epoch=epoch,
               optimizer=optimizer, seed=seed, initial=initial)


def _epoch_arrays(run, arrays, cursor):
    n = len(run.train)
    order = _array(arrays, "epoch_order", (n,)).astype(np.int64)
    if not np.array_equal(np.sort(order), np.arange(n)):
        raise ValueError("epoch_order: not a permutation of the training "
                         "points")
    batches = -(-n // min(run.training.batch_size, n))
    if not 0 <= cursor <= batches:
        raise ValueError(f"next_batch: {cursor} of {batches} batches")
    return order, cursor


def _array(arrays, name, shape):
    array = arrays.get(name)
    if array is None or array.shape != shape:
        found = "none" if array is None else f"shape {array.shape}"
        raise ValueError(f"{name}: expected shape {shape}, got {found}")
    return array


# ---------------------------------------------------------------- opening


def load_session(path: str | os.PathLike) -> TrainingRun:
    """Open a session file as a new TrainingRun.

    Raises
    ------
    SessionFileError
        If the file is not a valid session; the message says why.
    OSError
        If the file cannot be read.
    """
    return read_session(path).run


def read_session(path: str | os.PathLike, *,
                 max_bytes: int = MAX_BYTES) -> Session:
    """Open a session file: the run, the points with their test flags and
    the data set's generator settings. See ``load_session``."""
    data = read_bounded(path, max_bytes, SessionFileError)
    session = decode_session(data)
    log.debug("opened session from %s", path)
    return session


def decode_session(data: bytes) -> Session:
    """A Session from the contents of a session file.

    Raises
    ------
    SessionFileError
        If ``data`` is not a valid session.
    """
    document = _parse_json(data)
    _check_header(document)
    _check_keys(document, "", ("format", "version", "data", "model",
                               "training", "state", "history"))
    points, data_fields = _read_data(document["data"])
    model = _read_model(document["model"])
    training = _read_training(document["training"])
    run = _new_run(points, data_fields, model, training)
    _restore_state(run, document["state"])
    run.history = _read_history(document["history"], run.model.epochs)
    run.restart_path()  # the path on the error landscape starts here
    return Session(run, points, data_fields["spec"])


def decode_setup(fields: dict) -> TrainingRun:
    """A new run, at its seed, from ``encode_setup``'s fields.

    Raises
    ------
    SessionFileError
        If a field is not valid.
    """
    _check_keys(fields, "", ("data", "model", "training"))
    points, data_fields = _read_data(fields["data"])
    return _new_run(points, data_fields, _read_model(fields["model"]),
                    _read_training(fields["training"]))


def _parse_json(data):
    if not data.strip():
        raise SessionFileError("the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SessionFileError(
            f"not UTF-8 text (bad byte at offset {error.start})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant,
                          object_pairs_hook=_unique_keys)
    except SessionFileError:
        raise
    except json.JSONDecodeError as error:
        if not text[error.pos:].strip():
            raise SessionFileError(
                "the JSON ends too early (is the file truncated?)") from None
        raise SessionFileError(
            f"not valid JSON: {error.msg} at line {error.lineno} column "
            f"{error.colno}") from None
    except RecursionError:
        raise SessionFileError("not valid JSON: nested too deeply") from None
    except ValueError as error:  # e.g. an integer thousands of digits long
        raise SessionFileError(f"not valid JSON: {error}") from None


def _reject_constant(name):
    raise SessionFileError(f"not valid JSON: {name} is not a number in JSON")


def _unique_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise SessionFileError(f"not valid JSON: the key {key!r} "
                                   "appears twice in one object")
        result[key] = value
    return result


def _check_header(document):
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SessionFileError("not an MLP Studio session file")
    version = document.get("version")
    if type(version) is not int:
        raise SessionFileError(
            f"version: expected a whole number, got {_kind(version)}")
    if version > VERSION:
        raise SessionFileError(
            f"the file was saved by a newer MLP Studio (session format "
            f"version {version}); this one opens version {VERSION}")
    if version < 1:
        raise SessionFileError(f"version: {version} is not a version")


# ------------------------------------------------------------ the data


def _read_data(fields):
    where = "data"
    _check_keys(fields, where, ("name", "task", "n_classes", "X", "y",
                                "test", "train_ratio", "split_seed", "spec"))
    name = _text(fields["name"], "data.name")
    task = _choice(fields["task"], "data.task", TASKS)
    n_classes = _integer(fields["n_classes"], "data.n_classes", 0,
                         MAX_CLASSES)
    expected = {"binary": (2, 2), "multiclass": (2, MAX_CLASSES),
                "regression": (0, 0)}[task]
    if not expected[0] <= n_classes <= expected[1]:
        raise SessionFileError(
            f"data.n_classes: {n_classes} classes for a {task} task")

    X = _points(fields["X"])
    n = len(X)
    if task == "regression":
        y = _vector(fields["y"], "data.y", n)
    else:
        y = _labels(fields["y"], n_classes, n)
    test = _flags(fields["test"], "data.test", n)
    train_ratio = _real(fields["train_ratio"], "data.train_ratio", 0.0, 1.0)
    if train_ratio == 0.0:
        raise SessionFileError("data.train_ratio: must be above 0")
    split_seed = _integer(fields["split_seed"], "data.split_seed", 0,
                          _MAX_SEED)
    spec = None if fields["spec"] is None else _read_spec(fields["spec"])
    points = PointSet(X, y, test, task, n_classes)
    return points, {"name": name, "train_ratio": train_ratio,
                    "split_seed": split_seed, "spec": spec}


def _points(value):
    where = "data.X"
    rows = _list(value, where, max_length=MAX_POINTS)
    for i, row in enumerate(rows):
        if not (type(row) is list and len(row) == 2
                and all(type(v) in (int, float) for v in row)):
            raise SessionFileError(
                f"{where}: point {i} is not a pair of numbers [x1, x2]")
    X = _finite(rows, where, np.float64).reshape(len(rows), 2)
    return X


def _labels(value, n_classes, n):
    where = "data.y"
    labels = _list(value, where, length=n, what="labels")
    for i, label in enumerate(labels):
        if type(label) is not int or not 0 <= label < n_classes:
            raise SessionFileError(
                f"{where}: label {i} is {_show(label)}, not a class number "
                f"0 to {n_classes - 1}")
    return np.array(labels, dtype=np.int64)


def _flags(value, where, n):
    flags = _list(value, where, length=n, what="flags")
    for i, flag in enumerate(flags):
        if type(flag) is not bool:
            raise SessionFileError(
                f"{where}: flag {i} is {_kind(flag)}, not true or false")
    return np.array(flags, dtype=bool)


def _read_spec(fields):
    where = "data.spec"
    _check_keys(fields, where, ("name", "points", "noise", "seed",
                                "classes", "train_ratio"))
    name = _choice(fields["name"], "data.spec.name", (*DATASETS, _DRAWN))
    return DataSpec(
        name=name,
        points=_integer(fields["points"], "data.spec.points", 1, MAX_POINTS),
        noise=_real(fields["noise"], "data.spec.noise", 0.0, 1.0),
        seed=_integer(fields["seed"], "data.spec.seed", 0, _MAX_SEED),
        classes=_integer(fields["classes"], "data.spec.classes", 2,
                         MAX_CLASSES),
        train_ratio=_real(fields["train_ratio"], "data.spec.train_ratio",
                          0.0, 1.0),
    )


# --------------------------------------------------- the settings


def _read_model(fields):
    where = "model"
    _check_keys(fields, where, ("features", "hidden", "activations", "seed"))
    features = _list(fields["features"], "model.features",
                     max_length=len(FEATURES))
    for name in features:
        _choice(name, "model.features", FEATURES)
    if not features or len(set(features)) != len(features):
        raise SessionFileError(
            "model.features: expected one or more different feature names")
    hidden = _list(fields["hidden"], "model.hidden",
                   max_length=MAX_HIDDEN_LAYERS)
    for units in hidden:
        _integer(units, "model.hidden", 1, MAX_UNITS)
    activations = _list(fields["activations"], "model.activations",
                        length=len(hidden), what="activations")
    for name in activations:
        _text(name, "model.activations")
        try:
            get_activation(name)
        except ValueError as error:
            raise SessionFileError(f"model.activations: {error}") from None
    seed = _integer(fields["seed"], "model.seed", 0, _MAX_SEED)
    return ModelSettings(tuple(features), tuple(hidden), tuple(activations),
                         seed)


def _read_training(fields):
    where = "training"
    _check_keys(fields, where, ("learning_rate", "batch_size", "optimizer",
                                "regularization", "reg_rate"))
    learning_rate = _real(fields["learning_rate"], "training.learning_rate")
    if learning_rate <= 0.0:
        raise SessionFileError(
            f"training.learning_rate: must be positive, got {learning_rate}")
    return TrainSettings(
        learning_rate=learning_rate,
        batch_size=_integer(fields["batch_size"], "training.batch_size", 1,
                            None),
        optimizer=_choice(fields["optimizer"], "training.optimizer",
                          OPTIMIZERS),
        regularization=_choice(fields["regularization"],
                               "training.regularization", REGULARIZATIONS),
        reg_rate=_real(fields["reg_rate"], "training.reg_rate", 0.0, None),
    )


def _new_run(points, fields, model, training):
    name = fields["name"]
    dataset = points.dataset(name)
    split = points.split(name)
    try:
        run = TrainingRun(dataset, model, training, fields["train_ratio"],
                          fields["split_seed"])
        # The saved flags, not a fresh random split, say which points train.
        run.set_data(dataset, restart=True, split=split)
    except ValueError as error:
        raise SessionFileError(
            f"the settings do not fit the data: {error}") from None
    return run


# ------------------------------------------------------- the state


def _restore_state(run, fields):
    where = "state"
    _check_keys(fields, where, ("theta", "optimizer", "optimizer_buffers",
                                "optimizer_steps", "updates", "epochs",
                                "seed", "initial_theta", "shuffle_rng",
                                "epoch"))
    model = run.model
    n = model.n_params
    theta = _vector(fields["theta"], "state.theta", n, what="parameters")
    optimizer = _read_optimizer(fields["optimizer"], run.training.optimizer)
    buffer_lists = _list(fields["optimizer_buffers"],
                         "state.optimizer_buffers",
                         length=optimizer.n_buffers, what="buffers")
    buffers = [
        _vector(values, f"state.optimizer_buffers[{i}]", n,
                what="numbers")
        for i, values in enumerate(buffer_lists)
    ]
    steps = _integer(fields["optimizer_steps"], "state.optimizer_steps", 0,
                     None)
    updates = _integer(fields["updates"], "state.updates", 0, None)
    epochs = _integer(fields["epochs"], "state.epochs", 0, None)
    seed = _integer(fields["seed"], "state.seed", 0, _MAX_SEED)
    initial = _vector(fields["initial_theta"], "state.initial_theta", n,
                      what="parameters")
    rng = _read_rng(fields["shuffle_rng"])

    epoch = fields["epoch"]
    if epoch is not None:
        epoch = _read_epoch(run, epoch)
    _set_state(run, theta=theta, buffers=buffers, steps=steps,
               updates=updates, epochs=epochs, rng=rng, epoch=epoch,
               optimizer=optimizer, seed=seed, initial=initial)


def _set_state(run, *, theta, buffers, steps, updates, epochs, rng, epoch,
               optimizer=None, seed=None, initial=None):
    """Set the network's own training state: MLP attributes that only this
    module touches from outside the network. ``epoch`` is (order, batches
    taken) or None; ``optimizer``, ``seed`` and ``initial`` None keep the
    network's own."""
    model = run.model
    n = model.n_params
    if optimizer is not None:
        model.optimizer = optimizer  # new buffers when it differs
    if seed is not None:
        model.seed = seed
    if initial is not None:
        model._initial_theta = np.array(initial, dtype=np.float64)
    model._state[:n] = theta
    for buffer, values in zip(model._opt_buffers, buffers):
        buffer[:] = values
    model._opt_steps = steps
    model.updates = updates
    model.epochs = epochs
    model._has_backup = False
    model._shuffle_rng = rng
    if epoch is None:
        model._epoch = None  # the next update draws a fresh order
    else:
        order, cursor = epoch
        model.resume_epoch(run.X_train, run.train.y,
                           run.training.batch_size, order, cursor)


def _read_optimizer(fields, name):
    where = "state.optimizer"
    if type(fields) is not dict:
        raise SessionFileError(
            f"{where}: expected an object, got {_kind(fields)}")
    if fields.get("name") != name:
        raise SessionFileError(
            f"{where}.name: {_show(fields.get('name'))} is not the "
            f"training optimizer {name!r}")
    hyper = {key: _real(value, f"{where}.{key}")
             for key, value in fields.items() if key != "name"}
    try:
        return make_optimizer(name, **hyper)
    except ValueError as error:
        raise SessionFileError(f"{where}: {error}") from None


def _read_rng(fields):
    where = "state.shuffle_rng"
    _check_keys(fields, where, ("bit_generator", "state", "has_uint32",
                                "uinteger"))
    if fields["bit_generator"] != "PCG64":
        raise SessionFileError(
            f"{where}.bit_generator: {_show(fields['bit_generator'])} is "
            "not 'PCG64'")
    inner = fields["state"]
    _check_keys(inner, f"{where}.state", ("state", "inc"))
    state = _integer(inner["state"], f"{where}.state.state", 0, _BITS_128)
    inc = _integer(inner["inc"], f"{where}.state.inc", 0, _BITS_128)
    if inc % 2 == 0:
        raise SessionFileError(f"{where}.state.inc: must be odd")
    has_uint32 = _integer(fields["has_uint32"], f"{where}.has_uint32", 0, 1)
    uinteger = _integer(fields["uinteger"], f"{where}.uinteger", 0,
                        2**32 - 1)
    rng = np.random.Generator(np.random.PCG64(0))
    try:
        rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": state, "inc": inc},
            "has_uint32": has_uint32,
            "uinteger": uinteger,
        }
    except (TypeError, ValueError, OverflowError) as error:
        raise SessionFileError(f"{where}: {error}") from None
    return rng


def _read_epoch(run, fields):
    where = "state.epoch"
    _check_keys(fields, where, ("order", "next_batch"))
    n = len(run.train)
    if n == 0:
        raise SessionFileError(f"{where}: there are no training points")
    order = _list(fields["order"], f"{where}.order", length=n,
                  what="indices")
    for index in order:
        _integer(index, f"{where}.order", 0, n - 1)
    order = np.array(order, dtype=np.int64)
    if len(np.unique(order)) != n:
        raise SessionFileError(
            f"{where}.order: not a permutation of the {n} training points")

    batch = min(run.training.batch_size, n)
    batches = -(-n // batch)
    next_batch = _integer(fields["next_batch"], f"{where}.next_batch", 0,
                          batches)
    return order, next_batch


def _read_history(value, epochs):
    where = "history"
    rows = _list(value, where)
    history = History(capacity=max(16, len(rows)))
    last = 0
    for i, row in enumerate(rows):
        if not (type(row) is list and len(row) == len(History.COLUMNS)):
            raise SessionFileError(
                f"{where}: row {i} is not a list of "
                f"{len(History.COLUMNS)} values")
        epoch = _integer(row[0], f"{where}[{i}] epoch", last, epochs)
        metrics = [
            math.nan if v is None else _real(v, f"{where}[{i}]")
            for v in row[1:]
        ]
        history.append((epoch, *metrics))
        last = epoch
    return history


# ------------------------------------------------------- field checks


def _check_keys(fields, where, keys):
    """``fields`` must be an object with exactly ``keys``."""
    label = where or "the file"
    if type(fields) is not dict:
        raise SessionFileError(
            f"{label}: expected an object, got {_kind(fields)}")
    missing = [key for key in keys if key not in fields]
    if missing:
        raise SessionFileError(f"{label}: missing {', '.join(missing)}")
    unknown = [key for key in fields if key not in keys]
    if unknown:
        names = ", ".join(repr(key) for key in unknown[:5])
        raise SessionFileError(f"{label}: unknown field {names}")


def _list(value, where, *, length=None, max_length=None, what="items"):
    if type(value) is not list:
        raise SessionFileError(f"{where}: expected a list, got {_kind(value)}")
    if length is not None and len(value) != length:
        raise SessionFileError(
            f"{where}: {len(value)} {what}, expected {length}")
    if max_length is not None and len(value) > max_length:
        raise SessionFileError(
            f"{where}: {len(value)} {what}, at most {max_length} allowed")
    return value


def _vector(value, where, length, *, what="values"):
    """A list of ``length`` finite numbers as a float64 array."""
    values = _list(value, where, length=length, what=what)
    for i, number in enumerate(values):
        if type(number) not in (int, float):
            raise SessionFileError(
                f"{where}: item {i} is {_kind(number)}, not a number")
    return _finite(values, where, np.float64)


def _finite(values, where, dtype):
    try:
        array = np.array(values, dtype=dtype)
    except OverflowError:
        array = np.array([math.inf])
    if not np.isfinite(array).all():
        raise SessionFileError(f"{where}: contains a number too large for "
                               "a float, or not finite")
    return array


def _integer(value, where, low, high):
    if type(value) is not int:
        raise SessionFileError(
            f"{where}: expected a whole number, got {_kind(value)}")
    if value < low or (high is not None and value > high):
        bound = f"{low} to {high}" if high is not None else f"{low} or more"
        raise SessionFileError(f"{where}: must be {bound}, got {value}")
    return value


def _real(value, where, low=None, high=None):
    if type(value) not in (int, float):
        raise SessionFileError(
            f"{where}: expected a number, got {_kind(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise SessionFileError(f"{where}: {_show(value)} is not finite")
    if (low is not None and number < low) or (
            high is not None and number > high):
        bound = (f"{low} to {high}" if high is not None
                 else f"{low} or more")
        raise SessionFileError(f"{where}: must be {bound}, got {number}")
    return number


def _text(value, where):
    if type(value) is not str:
        raise SessionFileError(f"{where}: expected text, got {_kind(value)}")
    return value


def _choice(value, where, choices):
    _text(value, where)
    if value not in choices:
        known = ", ".join(choices)
        raise SessionFileError(
            f"{where}: unknown name {_show(value)}; expected one of: {known}")
    return value


_KINDS = {dict: "an object", list: "a list", str: "text",
          bool: "true or false", int: "a whole number", float: "a number",
          type(None): "null"}


def _kind(value):
    return _KINDS.get(type(value), type(value).__name__)


def _show(value, limit=40):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
