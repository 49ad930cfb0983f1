"""Starting the application: Qt set-up, logging of Qt's messages, the
application icon, and the headless screenshot and self-test modes."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)
_qt_log = logging.getLogger("qt")

ORGANIZATION = "MLP Studio"
APPLICATION = "MLP Studio"
ICON_SIZES = (16, 32, 48, 64, 128, 256)  # resources/icons/icon-N.png


def ensure_platform(headless: bool) -> None:
    """Use Qt's offscreen platform when asked to render without a screen
    and none is available."""
    no_screen = not (os.environ.get("DISPLAY")
                     or os.environ.get("WAYLAND_DISPLAY"))
    if headless and no_screen and sys.platform.startswith("linux"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _route_qt_messages(mode, context, message):
    from PySide6.QtCore import QtMsgType

    if "propagateSizeHints" in message:
        return  # the offscreen platform says this about every window
    level = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
    }.get(mode, logging.ERROR)
    _qt_log.log(level, "%s", message)


def create_application(argv=None):
    """The QApplication, configured for MLP Studio (created once)."""
    import pyqtgraph as pg
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        qInstallMessageHandler(_route_qt_messages)
        app = QApplication(list(argv or sys.argv[:1]))
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    # Matches resources/mlp-studio.desktop, so Wayland shows our icon.
    app.setDesktopFileName("mlp-studio")
    app.setWindowIcon(application_icon())
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    return app


def icon_files() -> list[Path]:
    """The application icon's PNG files, smallest first; the ones missing
    from the installation are left out."""
    # A plain path: from source, from a wheel and from the PyInstaller
    # bundle the package's resources are ordinary files.
    folder = Path(str(resources.files("mlp_studio") / "resources"))
    found = [folder / f"icon-{size}.png" for size in ICON_SIZES]
    return [path for path in found if path.is_file()]


def application_icon():
    """The application's QIcon, every size of it (null if none is found)."""
    from PySide6.QtGui import QIcon

    icon = QIcon()
    for path in icon_files():
        icon.addFile(str(path))
    if icon.isNull():
        log.warning("no application icon found in the package's resources")
    return icon


def run_window(open_path=None) -> int:
    """Open the main window and run until it closes."""
    started = time.perf_counter()
    app = create_application()
    from .main_window import MainWindow

    window = MainWindow()
    window.show()
    log.info("window shown %.2f s after start",
             time.perf_counter() - started)
    if open_path:
        window.files.open(str(open_path))
    return app.exec()


def take_screenshot(path: str, steps: int, timeout: float = 60.0) -> int:
    """Train ``steps`` updates on the default settings, render the whole
    window to ``path`` (PNG) and exit. Works without a screen."""
    ensure_platform(headless=True)
    app = create_application()
    from PySide6.QtCore import QElapsedTimer, QSettings

    from .main_window import MainWindow

    with tempfile.TemporaryDirectory() as folder:
        settings = QSettings(os.path.join(folder, "settings.ini"),
                             QSettings.Format.IniFormat)
        window = MainWindow(settings=settings, restore=False, autosave=False)
        # Nobody is there to answer "discard the training?" on closing.
        window.files.ask_before_discarding = False
        window.resize(1600, 960)
        window.show()
        if steps > 0:
            window.trainer.train_for(steps)
        else:
            window.trainer.request_snapshot()

        clock = QElapsedTimer()
        clock.start()
        while clock.elapsed() < timeout * 1000:
            app.processEvents()
            shown = window.snapshot
            if shown is not None and shown.updates >= steps \
                    and not shown.running:
                break
            time.sleep(0.005)
        else:
            window.close()
            raise TimeoutError(f"training {steps} updates took over "
                               f"{timeout:.0f} s")
        for _ in range(5):
            app.processEvents()
        ok = window.grab().save(path)
        window.close()
    if not ok:
        raise OSError(f"could not write {path}")
    return 0


# ---------------------------------------------------------------- self-test


class SelfTestError(Exception):
    """A self-test check failed; it has already been reported."""


def self_test(report, updates: int = 300, timeout: float = 30.0) -> int:
    """Check that this installation works: the engine trains, both model
    exports read back the same predictions, and the window opens and
    draws (headless when there is no screen).

    Calls ``report`` (the command line's ``print``) with one line per
    check, then "selftest passed" or "selftest failed"; returns the exit
    status, 0 or 1. Everything it writes goes to a temporary folder,
    deleted afterwards.
    """
    started = time.perf_counter()
    age = _process_age()
    if age is not None:
        report(f"ok    start: {age:.2f} s from process start to self-test")
    try:
        with tempfile.TemporaryDirectory(prefix="mlp-studio-") as name:
            folder = Path(name)
            run = _check(report, "training", _train, updates)
            _check(report, "training process", _train_in_process, updates,
                   timeout)
            _check(report, "JSON export", _json_round_trip, run, folder)
            _check(report, "Python export", _python_round_trip, run,
                   folder)
            _check(report, "window", _open_window, folder, timeout)
    except SelfTestError:
        report("selftest failed")
        return 1
    report(f"selftest passed ({time.perf_counter() - started:.1f} s)")
    return 0


def _check(report, name, function, *args):
    """Run one check, report its line; raise SelfTestError if it fails."""
    started = time.perf_counter()
    try:
        value, detail = function(*args)
    except Exception as error:
        log.debug("self-test check %s failed", name, exc_info=True)
        report(f"FAIL  {name}: {type(error).__name__}: {error}")
        raise SelfTestError(name) from error
    report(f"ok    {name}: {detail} ({time.perf_counter() - started:.2f} s)")
    return value


def _train(updates):
    from mlp_studio.core.training import TrainingRun

    run = TrainingRun.default()
    before = run.metrics()[0]
    run.run(updates)
    after = run.metrics()[0]
    if not after < before:
        raise AssertionError(f"the training loss did not fall: {before:.4g} "
                             f"before, {after:.4g} after {updates} updates")
    return run, f"loss {before:.4g} -> {after:.4g} in {updates} updates"


def _train_in_process(updates, timeout):
    """Train the default run in a training process (as the window does at
    full speed) and check it against the same training done here."""
    import numpy as np

    from mlp_studio.core.process import TrainingProcess, apply_report
    from mlp_studio.core.training import TrainingRun

    run = TrainingRun.default()
    process = TrainingProcess()
    try:
        deadline = time.monotonic() + timeout
        while not process.ready:
            if not process.alive or time.monotonic() > deadline:
                raise RuntimeError("the training process did not start")
            time.sleep(0.01)
        process.train(run, 0.02)
        kind, stopping = "progress", False
        while kind == "progress":
            report = process.next_report(deadline - time.monotonic())
            if report is None:
                raise TimeoutError("the training process stopped answering")
            header, arrays = report
            kind = header["kind"]
            if kind not in ("progress", "stopped"):
                raise RuntimeError(header.get("message", kind))
            apply_report(run, header, arrays)
            if not stopping and run.model.updates >= updates:
                process.stop()
                stopping = True
    finally:
        process.close()
    here = TrainingRun.default()
    here.run(run.model.updates)
    if not np.array_equal(here.model.flat_params(), run.model.flat_params()):
        raise AssertionError("the weights differ from training here")
    return None, (f"{run.model.updates} updates, the same weights as "
                  "training here")


def _expected(run, points):
    """(n,) or (n, classes): the run's own outputs for ``points``."""
    outputs = run.model.layer_outputs(run.features.transform(points))[-1]
    return outputs[:, 0] if outputs.shape[1] == 1 else outputs


def _json_round_trip(run, folder):
    import numpy as np

    from mlp_studio.core import export
    from mlp_studio.core.network import forward_layers

    path = folder / "model.json"
    export.save_json(run.model, run.features, path)
    params, activations, task, features = export.load_json(path)
    points = run.test.X
    outputs = forward_layers(params, activations, task,
                             features.transform(points))[-1]
    outputs = outputs[:, 0] if outputs.shape[1] == 1 else outputs
    if not np.allclose(outputs, _expected(run, points), rtol=0, atol=1e-12):
        raise AssertionError("the model read back predicts differently")
    return path, f"{path.name} read back, {len(points)} predictions agree"


def _python_round_trip(run, folder):
    import importlib.util

    import numpy as np

    from mlp_studio.core import export

    path = folder / "model.py"
    export.save_python(run.model, run.features, path)
    spec = importlib.util.spec_from_file_location("exported_model", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    points = run.test.X
    if not np.allclose(script.predict(points), _expected(run, points),
                       rtol=0, atol=1e-12):
        raise AssertionError("the exported script predicts differently")
    return path, f"{path.name} imported, {len(points)} predictions agree"


def _open_window(folder, timeout):
    ensure_platform(headless=True)
    started = time.perf_counter()
    app = create_application()
    from PySide6.QtCore import QSettings

    from .main_window import MainWindow

    if app.windowIcon().isNull():
        raise AssertionError("the application icon was not found")
    settings = QSettings(str(folder / "settings.ini"),
                         QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, restore=False, autosave=False)
    try:
        window.show()
        _process_until(app, lambda: window.snapshot is not None, timeout,
                       "the window's first snapshot")
        drawn = time.perf_counter() - started
        for _ in range(5):  # let the snapshot's pictures be painted
            app.processEvents()
        image = window.grab().toImage()
        path = folder / "window.png"
        if not image.save(str(path)):
            raise OSError(f"could not write {path}")
        if _colours(image) < 16:
            raise AssertionError("the window's picture is blank")
    finally:
        window.close()
    _process_until(app, window.trainer.isFinished, 5.0,
                   "the trainer thread to stop")
    return path, (f"shown, first snapshot drawn {drawn:.2f} s after the "
                  f"application was created (platform "
                  f"{app.platformName()}); {image.width()}x{image.height()} "
                  f"picture saved")


def _process_until(app, condition, timeout, what):
    """Process Qt events until ``condition()`` holds; TimeoutError after
    ``timeout`` seconds, naming ``what`` was awaited."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        app.processEvents()
        time.sleep(0.005)


def _colours(image, samples: int = 64) -> int:
    """Distinct colours on a ``samples`` x ``samples`` grid of the image."""
    seen = set()
    for row in range(samples):
        y = row * (image.height() - 1) // (samples - 1)
        for column in range(samples):
            x = column * (image.width() - 1) // (samples - 1)
            seen.add(image.pixel(x, y))
    return len(seen)


def _process_age() -> float | None:
    """Seconds since this process started, from /proc (Linux only)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            # After the parenthesised command name, field 22 (start time
            # in clock ticks since boot) is the 20th.
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as uptime:
            now = float(uptime.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return now - ticks / os.sysconf("SC_CLK_TCK")
