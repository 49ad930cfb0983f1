"""Training in a process of its own: the frames, the state it carries, and
a real child process that must train exactly as this process would."""

import io
import struct
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlp_studio.core import NonFiniteLossError, make_dataset
from mlp_studio.core.process import (
    ProtocolError,
    TrainingProcess,
    apply_report,
    open_processes,
    read_message,
    write_message,
)
from mlp_studio.core.session import capture_state, restore_state
from mlp_studio.core.training import (
    ModelSettings,
    TrainingRun,
    TrainSettings,
    Trajectory,
)

# ---------------------------------------------------------------- frames


def test_a_frame_carries_its_header_and_arrays_exactly():
    arrays = {"theta": np.array([0.1, -np.inf, np.nan, 5e-324]),
              "order": np.arange(7, dtype=np.int32)[::-1],
              "rows": np.arange(12.0).reshape(3, 4).T,  # not contiguous
              "none": np.empty((0, 5))}
    stream = io.BytesIO()
    write_message(stream, {"kind": "progress", "n": 3}, arrays)
    write_message(stream, {"kind": "quit"})
    stream.seek(0)

    header, read = read_message(stream)
    assert header == {"kind": "progress", "n": 3}
    assert set(read) == set(arrays)
    for name, array in arrays.items():
        assert read[name].shape == array.shape
        np.testing.assert_array_equal(read[name], array)
    assert read["order"].dtype == np.int64
    assert read_message(stream) == ({"kind": "quit"}, {})
    assert read_message(stream) is None  # the end of the stream


def _frame(header_bytes, payload=b"", magic=b"MLPt"):
    return (struct.pack("<4sII", magic, len(header_bytes), len(payload))
            + header_bytes + payload)


@pytest.mark.parametrize("data, message", [
    (_frame(b"{}", magic=b"HTTP"), "not a frame"),
    (_frame(b"{not json"), "bad frame header"),
    (_frame(b"[1, 2]"), "without a kind"),
    (_frame(b'{"kind": "x", "arrays": [["a", "|O", [1], 0]]}', b"12345678"),
     "bad array"),
    (_frame(b'{"kind": "x", "arrays": [["a", "<f8", [2], 0]]}', b"12345678"),
     "bad array"),
    (_frame(b'{"kind": "x"}')[:-3], "ended inside a frame"),
    (b"MLP", "ended inside a frame"),
])
def test_a_bad_frame_is_refused_with_what_is_wrong(data, message):
    with pytest.raises(ProtocolError, match=message):
        read_message(io.BytesIO(data))


def test_an_array_of_another_kind_is_not_sent():
    with pytest.raises(TypeError, match="dtype"):
        write_message(io.BytesIO(), {"kind": "x"},
                      {"names": np.array(["a", "b"])})


# ------------------------------------------------- the state, as arrays


def _run(hidden=(8, 8), **training):
    run = TrainingRun.default()
    run.set_model(ModelSettings(hidden=hidden,
                                activations=("tanh",) * len(hidden)))
    run.set_training(TrainSettings(**training))
    return run


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("updates", [0, 30, 50])  # 25 updates an epoch
def test_a_restored_state_trains_on_bit_identically(optimizer, updates):
    source = _run(optimizer=optimizer)
    source.run(updates)
    copy = _run(optimizer=optimizer)
    copy.run(7)  # somewhere else, to be overwritten
    restore_state(copy, *capture_state(source))

    source.run(60)
    copy.run(60)
    np.testing.assert_array_equal(copy.model.flat_params(),
                                  source.model.flat_params())
    assert (copy.model.updates, copy.model.epochs) == \
        (source.model.updates, source.model.epochs)


def test_a_state_that_does_not_fit_is_refused_and_changes_nothing():
    run = _run()
    run.run(40)
    before = run.model.flat_params()
    fields, arrays = capture_state(_run(hidden=(4,)))
    with pytest.raises(ValueError, match="theta: expected shape"):
        restore_state(run, fields, arrays)

    fields, arrays = capture_state(run)
    bad_order = dict(arrays, epoch_order=np.zeros_like(arrays["epoch_order"]))
    with pytest.raises(ValueError, match="not a permutation"):
        restore_state(run, fields, bad_order)
    with pytest.raises(ValueError, match="not a training state"):
        restore_state(run, {"updates": 3}, arrays)
    np.testing.assert_array_equal(run.model.flat_params(), before)
    assert run.model.updates == 40


@given(st.integers(1, 40), st.integers(0, 60), st.integers(2, 6))
def test_a_replayed_journal_keeps_the_rows_one_path_would(first, more,
                                                           capacity):
    whole = Trajectory(2, capacity)
    here = Trajectory(2, capacity)
    for k in range(first):
        whole.append(np.full(2, k), k)
        here.append(np.full(2, k), k)
    away = Trajectory.continuing(2, here.counters(), capacity)
    for k in range(first, first + more):
        whole.append(np.full(2, k), k)
        away.append(np.full(2, k), k)

    seen, thetas, steps = zip(*away.journal) if away.journal else ((), (), ())
    here.replay(seen, thetas, steps, away.counters()[2])
    assert here.counters() == whole.counters()
    for mine, theirs in zip(here.view(), whole.view()):
        np.testing.assert_array_equal(mine, theirs)


# ------------------------------------------------------ a real child


@pytest.fixture(scope="module")
def child():
    process = TrainingProcess()
    deadline = time.monotonic() + 30
    while not process.ready:
        assert process.alive and time.monotonic() < deadline, \
            "the training process did not start"
        time.sleep(0.01)
    yield process
    process.close()
    assert process.exit_code == 0
    assert open_processes() == 0


def _train_away(child, run, at_least):
    """Train ``run`` in the child until at least ``at_least`` more
    updates are done; returns the last report's header."""
    start = run.model.updates
    child.train(run, 0.01)
    header = None
    while run.model.updates < start + at_least:
        header, arrays = child.next_report(10.0)
        assert header["kind"] == "progress", header
        apply_report(run, header, arrays)
    child.stop()
    while header["kind"] == "progress":
        header, arrays = child.next_report(10.0)
        apply_report(run, header, arrays)
    return header


def _same(run, local):
    np.testing.assert_array_equal(run.model.flat_params(),
                                  local.model.flat_params())
    np.testing.assert_array_equal(run.history.view(), local.history.view())
    for mine, theirs in zip(run.trajectory.view(), local.trajectory.view()):
        np.testing.assert_array_equal(mine, theirs)
    a, b = capture_state(run), capture_state(local)
    assert a[0] == b[0]
    for name in a[1]:
        np.testing.assert_array_equal(a[1][name], b[1][name])


def test_the_child_trains_exactly_as_this_process_would(child):
    run = _run(hidden=(8,) * 3)
    run.run(37)  # mid-epoch
    header = _train_away(child, run, 3000)
    assert header["kind"] == "stopped"
    assert run.model.updates >= 3037

    local = _run(hidden=(8,) * 3)
    local.run(run.model.updates)
    _same(run, local)


def test_a_second_session_takes_the_new_settings(child):
    run, local = _run(), _run()
    _train_away(child, run, 500)
    local.run(run.model.updates)

    # What a command would change between two sessions.
    for each in (run, local):
        each.set_training(TrainSettings(learning_rate=0.05,
                                        optimizer="momentum", batch_size=7))
    _train_away(child, run, 500)
    local.run(run.model.updates - local.model.updates)
    _same(run, local)

    for each in (run, local):
        each.reset()
    _train_away(child, run, 300)
    local.run(run.model.updates)
    _same(run, local)


def test_divergence_in_the_child_keeps_the_last_good_weights(child):
    def diverging():
        run = TrainingRun(make_dataset("plane", 100, 0.0, seed=0))
        run.set_training(TrainSettings(learning_rate=10.0, optimizer="sgd",
                                       batch_size=5))
        run.set_model(ModelSettings(hidden=(8,), activations=("relu",)))
        return run

    run = diverging()
    child.train(run, 0.01)
    header = {"kind": "progress"}
    while header["kind"] == "progress":
        header, arrays = child.next_report(10.0)
        apply_report(run, header, arrays)
    assert header["kind"] == "failed"

    local = diverging()
    with pytest.raises(NonFiniteLossError) as error:
        local.run(10**6)
    assert header["message"] == str(error.value)
    assert np.isfinite(run.model.flat_params()).all()
    _same(run, local)


def test_a_child_whose_parent_goes_ends_itself():
    process = TrainingProcess()
    process._process.stdin.close()  # as when the window crashes
    process._process.wait(10)
    assert process.exit_code == 0
    header, _ = process.next_report(10.0)
    assert header["kind"] == "gone"
    process.close()


def test_a_killed_child_is_reported_gone():
    others = open_processes()
    process = TrainingProcess()
    assert open_processes() == others + 1
    process._process.kill()
    header, _ = process.next_report(10.0)
    assert header["kind"] == "gone"
    assert not process.alive
    with pytest.raises(OSError, match="has ended"):
        process.train(_run(), 0.01)
    process.close()
    assert open_processes() == others
