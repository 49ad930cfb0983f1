"""The mlp-studio command: screenshot mode and argument errors."""

import os
import subprocess
import sys

from PySide6.QtGui import QImage


def run_cli(*args, timeout=120):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "mlp_studio", *args],
                          capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_screenshot_trains_and_renders_the_whole_window(tmp_path, qapp):
    path = tmp_path / "window.png"
    result = run_cli("--screenshot", str(path), "--steps", "300")
    assert result.returncode == 0, result.stderr
    image = QImage(str(path))
    assert image.width() >= 1200 and image.height() >= 700
    # Not blank: the picture holds many distinct colours.
    colours = {image.pixel(x, y) for x in range(0, image.width(), 13)
               for y in range(0, image.height(), 13)}
    assert len(colours) > 200


def test_bad_arguments_exit_with_2():
    result = run_cli("--steps", "-4")
    assert result.returncode == 2
    assert "--steps" in result.stderr
    assert run_cli("--bogus").returncode == 2


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and "MLP Studio" in result.stdout
