"""Sessions, exports and unsaved changes, in the real window."""

import time

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from mlp_studio.app.trainer import SPEEDS
from mlp_studio.core import export


@pytest.fixture
def window(open_window, train_window):
    window = open_window()
    train_window(window, 700)
    return window


def test_a_saved_session_reopens_with_the_same_predictions(
        qtbot, window, open_window, tmp_path):
    path = str(tmp_path / "run.mlpstudio")
    assert "*" in window.windowTitle()
    window.files.save_as(path)
    qtbot.waitUntil(lambda: window.files.path == path, timeout=5000)
    assert window.windowTitle().startswith("run.mlpstudio —")
    assert window.files.recent_files()[0].endswith("run.mlpstudio")
    saved = window.snapshot

    other = open_window()
    assert other.files.open(path)
    qtbot.waitUntil(lambda: other.snapshot.updates == 700, timeout=5000)
    for (w1, b1), (w2, b2) in zip(saved.params, other.snapshot.params):
        np.testing.assert_array_equal(w1, w2)
        np.testing.assert_array_equal(b1, b2)
    np.testing.assert_array_equal(saved.output_grid, other.snapshot.output_grid)
    assert other.editor.points.same_as(window.editor.points)
    assert "*" not in other.windowTitle()
    other.trainer.step()
    qtbot.waitUntil(lambda: "*" in other.windowTitle(), timeout=5000)
    other.close()


def test_a_malformed_session_changes_nothing(qtbot, window, tmp_path):
    path = tmp_path / "bad.mlpstudio"
    path.write_text('{"format": "mlp-studio-session", "version": 1}',
                    encoding="utf-8")
    before, points = window.snapshot, window.editor.points
    assert not window.files.open(str(path))
    qtbot.wait(100)
    assert window.editor.points is points
    for (w1, _), (w2, _) in zip(before.params, window.snapshot.params):
        np.testing.assert_array_equal(w1, w2)
    assert "Could not open" in window.alert.text()


@pytest.mark.parametrize("suffix", [".json", ".py", ".onnx"])
def test_export_the_model(qtbot, window, tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    assert window.files.export_model(str(path))
    qtbot.waitUntil(path.exists, timeout=5000)
    if suffix == ".json":
        params, activations, task, features = export.load_json(path)
        for (w1, b1), (w2, b2) in zip(params, window.snapshot.params):
            np.testing.assert_array_equal(w1, w2)
            np.testing.assert_array_equal(b1, b2)


def test_export_pictures_and_history(qtbot, window, tmp_path):
    for which in ("plot", "diagram"):
        png, svg = tmp_path / f"{which}.png", tmp_path / f"{which}.svg"
        assert window.files.export_picture(which, str(png))
        assert window.files.export_picture(which, str(svg))
        assert QImage(str(png)).width() > 300
        assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    history = tmp_path / "history.csv"
    assert window.files.export_history(str(history))
    lines = history.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "epoch,train_loss,test_loss,train_accuracy," \
                       "test_accuracy"
    assert len(lines) == 1 + len(window.snapshot.history)


def test_closing_with_unsaved_changes_asks(qtbot, open_window, monkeypatch):
    window = open_window()
    window.trainer.step()
    qtbot.waitUntil(lambda: "*" in window.windowTitle(), timeout=5000)
    window.files.ask_before_discarding = True
    answers = [QMessageBox.StandardButton.Cancel,
               QMessageBox.StandardButton.Discard]
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kwargs: answers.pop(0))
    window.close()
    assert window.isVisible() and window.trainer.isRunning()
    window.close()
    assert not window.isVisible() and window.trainer.isFinished()


def test_a_crash_leaves_a_session_to_recover(qtbot, open_window, tmp_path):
    import shutil

    first = open_window(data_dir=tmp_path / "first")
    first.trainer.train_for(300)
    qtbot.waitUntil(lambda: first.snapshot.updates == 300
                    and not first.snapshot.running, timeout=10000)
    assert (tmp_path / "first" / "running.lock").exists()
    first.files.autosave()
    autosaved = tmp_path / "first" / "autosave.mlpstudio"
    qtbot.waitUntil(autosaved.exists, timeout=5000)
    # What a crash leaves behind: the lock and the autosave.
    shutil.copytree(tmp_path / "first", tmp_path / "crashed")
    first.close()
    assert not autosaved.exists()  # a clean exit tidies up

    second = open_window(data_dir=tmp_path / "crashed")
    qtbot.waitUntil(lambda: second.snapshot.updates == 300, timeout=5000)
    for (w1, _), (w2, _) in zip(first.snapshot.params,
                                second.snapshot.params):
        np.testing.assert_array_equal(w1, w2)
    assert "*" in second.windowTitle()
    second.close()


def test_export_an_animation_of_the_run(qtbot, open_window, tmp_path):
    from PIL import Image

    window = open_window()
    empty = tmp_path / "empty.gif"
    assert not window.files.export_animation(str(empty))
    assert "nothing recorded" in window.alert.text()
    # 1.5 s of slow motion: the recorder keeps a frame per 0.1 s of the
    # window's time, so even a window held up for a second by a busy
    # machine records several.
    window.speed.setValue(SPEEDS.index(300))
    window.trainer.train_for(450)
    qtbot.waitUntil(lambda: window.snapshot.updates == 450
                    and not window.snapshot.running, timeout=15000)
    path = tmp_path / "run.gif"
    assert window.files.export_animation(str(path))
    with Image.open(path) as gif:
        assert gif.n_frames >= 3
        assert gif.size == (200, 200)
    updates = [u for u, _ in window.recorder.frames]
    assert updates == sorted(updates) and updates[-1] == 450
    window.close()


def test_the_recorder_takes_a_diverging_run_without_warnings():
    import dataclasses

    from mlp_studio.app.animation import Recorder
    from mlp_studio.core.training import TrainingRun

    run = TrainingRun.default()
    snapshot = dataclasses.replace(run.snapshot(), task="regression")
    recorder = Recorder()
    recorder.record(snapshot, None)
    time.sleep(0.12)  # frames are at most ten a second
    huge = np.full_like(snapshot.output_grid, 1e300, dtype=np.float64)
    huge[0, 0] = np.nan
    diverged = dataclasses.replace(snapshot, output_grid=huge, updates=1,
                                   task="regression", running=False)
    recorder.record(diverged, None)  # warnings are errors in the tests
    pictures = recorder.pictures()
    assert len(pictures) == 2 and pictures[1].shape == (200, 200, 3)
