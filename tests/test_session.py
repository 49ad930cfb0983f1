"""Session files: exact round trips, strict checks, atomic saves."""

import copy
import functools
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlp_studio.core import make_dataset
from mlp_studio.core.datasets import DataSpec
from mlp_studio.core.editing import PointSet
from mlp_studio.core.session import (
    SessionFileError,
    decode_session,
    encode_session,
    load_session,
    read_session,
    save_session,
)
from mlp_studio.core.training import ModelSettings, TrainingRun, TrainSettings


def make_run(name="spiral", n=90, *, optimizer="adam", batch=7,
             hidden=(6, 5), activations=("tanh", "relu"),
             features=("x1", "x2"), regularization="none", classes=3):
    return TrainingRun(
        make_dataset(name, n, 0.2, seed=3, classes=classes),
        ModelSettings(features, hidden, activations, seed=2),
        TrainSettings(0.02, batch, optimizer, regularization, 0.001),
        train_ratio=0.6, split_seed=4)


def same_bits(a, b):
    """Equal arrays, telling -0.0 from 0.0 and NaN from a number."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and (
        a.tobytes() == b.tobytes())


def reopened(run, **kwargs):
    return decode_session(encode_session(run, **kwargs)).run


def assert_same_state(run, other):
    a, b = run.model, other.model
    assert same_bits(a._state, b._state)  # weights and optimizer buffers
    assert (a._opt_steps, a.updates, a.epochs, a.seed) == (
        b._opt_steps, b.updates, b.epochs, b.seed)
    assert a._shuffle_rng.bit_generator.state == (
        b._shuffle_rng.bit_generator.state)
    assert same_bits(run.history.view(), other.history.view())


# ---------------------------------------------------------- round trips


@pytest.mark.parametrize("name, features", [
    ("spiral", ("x1", "x2")),
    ("circle", ("x1^2", "x2^2", "sin(x1)")),
    ("blobs", ("x1", "x2")),
    ("multi-gauss", ("x1", "x2", "x1*x2")),
])
def test_an_opened_session_predicts_bit_identically(name, features):
    run = make_run(name, features=features)
    run.run(40)
    other = reopened(run)

    grid = run.features.transform(make_dataset("xor", 300, 0.5).X)
    assert same_bits(run.model.predict(grid), other.model.predict(grid))
    assert same_bits(run.output_grid(50), other.output_grid(50))
    assert run.metrics() == pytest.approx(other.metrics(), nan_ok=True)
    assert other.model_settings == run.model_settings
    assert other.training == run.training
    assert_same_state(run, other)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("batch, saved_after", [
    (7, 0),      # before any update
    (7, 21),     # in the middle of an epoch (8 batches each)
    (7, 24),     # exactly at the end of an epoch
    (500, 3),    # one batch per epoch: its order is drawn only once
])
def test_training_an_opened_session_continues_bit_identically(
        optimizer, batch, saved_after):
    run = make_run(optimizer=optimizer, batch=batch, regularization="l2")
    run.run(saved_after)
    other = reopened(run)

    run.run(61)
    other.run(61)
    assert run.model.updates == saved_after + 61
    assert_same_state(run, other)


def test_the_epoch_in_progress_is_saved():
    run = make_run(batch=7)
    run.run(5)  # of 8 batches per epoch
    state = json.loads(encode_session(run))["state"]
    assert state["epoch"]["next_batch"] == 5
    assert sorted(state["epoch"]["order"]) == list(range(len(run.train)))


def test_a_session_saved_twice_is_the_same_file():
    run = make_run()
    run.run(33)
    data = encode_session(run)
    assert encode_session(decode_session(data).run) == data


def test_changed_settings_and_optimizer_hyperparameters_survive():
    run = make_run(optimizer="momentum")
    run.run(20)
    run.set_training(TrainSettings(0.05, 4, "adam", "l1", 0.01))
    run.model.set_optimizer("adam", beta1=0.8, eps=1e-6)
    run.run(15)
    other = reopened(run)
    assert other.model.optimizer == run.model.optimizer
    run.run(30)
    other.run(30)
    assert_same_state(run, other)


def test_history_is_kept_with_missing_metrics_as_nan():
    run = make_run("plane", hidden=(4,), activations=("linear",))
    run.run(100)
    assert np.isnan(run.history.view()[:, 3]).all()  # no regression accuracy
    other = reopened(run)
    assert len(other.history) == len(run.history) > 5
    assert same_bits(other.history.view(), run.history.view())


def test_points_keep_their_order_and_test_flags():
    rng = np.random.default_rng(0)
    points = PointSet(rng.uniform(-5, 5, (40, 2)), rng.integers(0, 4, 40),
                      rng.random(40) < 0.3, "multiclass", 4)
    train, test = points.split()
    run = TrainingRun(points.dataset(), ModelSettings(hidden=(5,),
                                                      activations=("relu",)))
    run.set_data(points.dataset(), split=(train, test))
    run.run(12)
    spec = DataSpec("drawn", train_ratio=0.7, seed=9)

    session = decode_session(encode_session(run, points=points, spec=spec))
    assert session.points.same_as(points)
    assert session.spec == spec
    assert same_bits(session.run.train.X, run.train.X)
    assert same_bits(session.run.test.y, run.test.y)


def test_without_points_the_run_s_split_is_saved():
    run = make_run(n=50)
    session = decode_session(encode_session(run))
    assert session.spec is None
    assert session.points.same_as(PointSet.from_split(run.train, run.test))


def test_points_that_are_not_the_run_s_are_refused():
    run = make_run(n=50)
    points = PointSet.from_split(run.train, run.test)
    moved = points.move(0, (1.0, 1.0))
    with pytest.raises(ValueError, match="not the run's"):
        encode_session(run, points=moved)


def test_an_empty_canvas_round_trips():
    points = PointSet.empty("binary")
    run = TrainingRun(points.dataset())
    session = decode_session(encode_session(run, points=points))
    assert len(session.points) == 0 and len(session.run.train) == 0


def test_save_and_load_through_a_file(tmp_path):
    run = make_run()
    run.run(9)
    path = tmp_path / "run.mlpstudio"
    save_session(run, path)
    assert_same_state(run, load_session(path))
    assert read_session(path).points.same_as(
        PointSet.from_split(run.train, run.test))
    # Strict JSON, no NaN: any JSON reader takes it.
    json.loads(path.read_text("utf-8"),
               parse_constant=lambda name: pytest.fail(name))


# ------------------------------------------------------------ bad files


@functools.cache
def valid_document():
    run = make_run(n=30, hidden=(3,), activations=("tanh",))
    run.run(5)
    return json.loads(encode_session(run, spec=DataSpec("spiral", 30)))


class Raw(str):
    """JSON text to put in a document as it is, such as ``1e999``."""


DELETE = object()
_RAW = "raw JSON goes here"


def with_change(path, value):
    """The valid document with the field at ``path`` (keys and list
    indices) set to ``value``, or deleted when value is DELETE."""
    document = copy.deepcopy(valid_document())
    *parents, last = path
    target = document
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = _RAW if isinstance(value, Raw) else value
    text = json.dumps(document)
    if isinstance(value, Raw):
        text = text.replace(json.dumps(_RAW), value)
    return text.encode()


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"\xff\xfe{}", "UTF-8"),
    (b"{\"format\": ", "truncated"),
    (b"{\"format\": 1,}", "not valid JSON"),
    (b"[1, 2]", "not an MLP Studio session"),
    (b"{\"format\": \"something-else\", \"version\": 1}",
     "not an MLP Studio session"),
    (b"{\"format\": \"mlp-studio-session\", \"version\": NaN}", "NaN"),
    (b"{\"format\": \"mlp-studio-session\", \"format\": 1}", "twice"),
    (b"[" * 100_000, "not valid JSON"),
    (b"{\"format\": \"mlp-studio-session\", \"version\": 1" + b"0" * 5000
     + b"}", "not valid JSON"),
])
def test_unreadable_files_are_refused(data, message):
    with pytest.raises(SessionFileError, match=message):
        decode_session(data)


def test_a_truncated_session_is_refused():
    data = json.dumps(valid_document()).encode()
    for size in (1, len(data) // 3, len(data) - 2):
        with pytest.raises(SessionFileError, match="truncated"):
            decode_session(data[:size])


@pytest.mark.parametrize("path, value, message", [
    (("version",), 2, "newer MLP Studio"),
    (("version",), "1", "version: expected a whole number"),
    (("version",), 0, "version"),
    (("state",), DELETE, "missing state"),
    (("model", "colour"), "red", "model: unknown field 'colour'"),
    (("data",), [], "data: expected an object, got a list"),
    (("data", "task"), "ranking", "data.task: unknown name 'ranking'"),
    (("data", "n_classes"), 3, "data.n_classes: 3 classes for a binary"),
    (("data", "X", 2), [1.0], "data.X: point 2 is not a pair"),
    (("data", "X", 2), [1.0, "2"], "data.X: point 2"),
    (("data", "X", 0, 1), Raw("1e999"), "data.X: .*not finite"),
    (("data", "X", 0, 1), Raw("-Infinity"), "Infinity"),
    (("data", "y", 4), 2, "data.y: label 4 is 2, not a class number"),
    (("data", "y", 4), 1.0, "data.y: label 4"),
    (("data", "y"), [0, 1], "data.y: 2 labels, expected 30"),
    (("data", "test", 3), 1, "data.test: flag 3"),
    (("data", "test"), [True], "data.test: 1 flags, expected 30"),
    (("data", "train_ratio"), 0.0, "data.train_ratio"),
    (("data", "spec", "name"), "galaxy", "data.spec.name: unknown name"),
    (("data", "spec", "points"), -5, "data.spec.points: must be 1 to"),
    (("model", "features"), ["x1", "x3"], "model.features: unknown name"),
    (("model", "features"), [], "model.features"),
    (("model", "hidden"), [3, 1000], "model.hidden: must be 1 to 256"),
    (("model", "hidden"), [3, 4], "model.activations: 1 activations, "
                                  "expected 2"),
    (("model", "activations"), ["softsign"], "unknown activation"),
    (("model", "seed"), -1, "model.seed: must be 0 to"),
    (("training", "optimizer"), "rmsprop", "training.optimizer: unknown"),
    (("training", "learning_rate"), -0.1, "training.learning_rate: must be "
                                          "positive"),
    (("training", "batch_size"), True, "training.batch_size: expected a "
                                       "whole number, got true or false"),
    (("training", "regularization"), "l3", "training.regularization"),
    (("state", "theta"), [0.5] * 7, "state.theta: 7 parameters, expected"),
    (("state", "theta", 3), "0.5", "state.theta: item 3 is text"),
    (("state", "theta", 3), None, "state.theta: item 3 is null"),
    (("state", "theta", 3), 10**400, "state.theta: .*not finite"),
    (("state", "initial_theta"), [], "state.initial_theta: 0 parameters"),
    (("state", "optimizer", "name"), "sgd", "state.optimizer.name: 'sgd' "
                                            "is not the training optimizer"),
    (("state", "optimizer", "beta1"), 1.5, "state.optimizer: beta1"),
    (("state", "optimizer", "gamma"), 1.0, "state.optimizer"),
    (("state", "optimizer_buffers"), [], "state.optimizer_buffers: 0 "
                                         "buffers, expected 2"),
    (("state", "optimizer_buffers", 1, 0), float("nan"), "NaN"),
    (("state", "updates"), 2.5, "state.updates: expected a whole number"),
    (("state", "epochs"), -1, "state.epochs: must be 0 or more"),
    (("state", "shuffle_rng", "bit_generator"), "MT19937",
     "state.shuffle_rng.bit_generator"),
    (("state", "shuffle_rng", "state", "inc"), 2, "must be odd"),
    (("state", "shuffle_rng", "state", "state"), 2**129, "must be 0 to"),
    (("state", "epoch"), {"order": [0, 0, 1], "next_batch": 0},
     "state.epoch.order: 3 indices, expected 18"),
    (("state", "epoch"), {"order": [0] * 18, "next_batch": 0},
     "not a permutation"),
    (("state", "epoch"), {"order": list(range(18)), "next_batch": 9},
     "state.epoch.next_batch: must be 0 to 3"),
    (("history", 0), [0, 0.5], "history: row 0 is not a list of 5"),
    (("history", 1, 0), 7, r"history\[1\] epoch: must be 0 to 1"),
    (("history", 1, 2), "x", r"history\[1\]: expected a number"),
])
def test_bad_fields_are_named(path, value, message):
    with pytest.raises(SessionFileError, match=message):
        decode_session(with_change(path, value))


def test_the_valid_document_used_above_is_valid():
    document = valid_document()
    assert document["state"]["epoch"] is not None
    assert len(document["data"]["X"]) == 30
    decode_session(json.dumps(document).encode())


def test_files_over_the_size_limit_are_refused_unread(tmp_path):
    path = tmp_path / "big.mlpstudio"
    path.write_bytes(json.dumps(valid_document()).encode())
    with pytest.raises(SessionFileError, match="larger than"):
        read_session(path, max_bytes=2**20 // 2**10)


def test_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_session(tmp_path / "none.mlpstudio")


FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats()
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def opens_or_refuses(data):
    try:
        session = decode_session(data)
    except SessionFileError:
        return
    assert isinstance(session.run, TrainingRun)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_are_refused_cleanly(data):
    opens_or_refuses(data)


@FUZZ
@given(json_values)
def test_random_json_is_refused_cleanly(value):
    opens_or_refuses(json.dumps(value).encode())
    header = {"format": "mlp-studio-session", "version": 1}
    if isinstance(value, dict):
        opens_or_refuses(json.dumps({**value, **header}).encode())


def paths(value, prefix=()):
    """Every place in a JSON value, the first few items of each list."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            yield from paths(item, (*prefix, index))


PLACES = [place for place in paths(valid_document()) if place]


@FUZZ
@given(st.sampled_from(PLACES), json_values | st.just(DELETE))
def test_a_session_with_any_field_changed_opens_or_is_refused(path, value):
    opens_or_refuses(with_change(path, value))


# --------------------------------------------------------------- saving


def test_an_interrupted_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "run.mlpstudio"
    run = make_run()
    save_session(run, path)
    before = path.read_bytes()

    def refuse(*args):
        raise OSError("disk full")

    run.run(30)
    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        save_session(run, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.mlpstudio"]


def test_a_failed_open_changes_nothing(tmp_path):
    path = tmp_path / "run.mlpstudio"
    run = make_run()
    run.run(10)
    save_session(run, path)
    theta = run.model.flat_params()
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(SessionFileError):
        load_session(path)
    assert same_bits(run.model.flat_params(), theta)
