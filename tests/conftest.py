import os
import tempfile

# Qt must know before it starts that there is no screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Windows autosave to the user's data folder: never the real one in tests.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="mlp-studio-tests-")

import numpy as np
import pytest

from mlp_studio.core import make_dataset


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def spiral():
    return make_dataset("spiral", 500, 0.0, seed=0)


@pytest.fixture
def settings(tmp_path):
    """Settings in a file of the test's own, never the user's."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"),
                     QSettings.Format.IniFormat)


@pytest.fixture
def open_window(qtbot, settings):
    """Opens real main windows, shown and with a first snapshot drawn; at
    the end each is closed and must have stopped its trainer thread and
    its training process."""
    from mlp_studio.app.main_window import MainWindow

    opened = []

    def open_window(**kwargs):
        kwargs.setdefault("settings", settings)
        kwargs.setdefault("restore", False)
        window = MainWindow(**kwargs)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.snapshot is not None, timeout=5000)
        opened.append(window)
        return window

    yield open_window
    from mlp_studio.core.process import open_processes

    for window in opened:
        window.close()
        assert window.trainer.isFinished()
    assert open_processes() == 0, "a training process was left running"


@pytest.fixture
def train_window(qtbot):
    """Trains an open window at full speed until ``updates`` are done and
    training has paused; returns the last snapshot."""
    def train(window, updates):
        from mlp_studio.app.trainer import SPEEDS

        window.speed.setValue(SPEEDS.index(None))
        window.trainer.train_for(updates)
        qtbot.waitUntil(lambda: window.snapshot.updates == updates
                        and not window.snapshot.running, timeout=10000)
        return window.snapshot

    return train
