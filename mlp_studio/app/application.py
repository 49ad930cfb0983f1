"""Starting the application: Qt set-up, logging of Qt's messages, and the
headless screenshot mode."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time

log = logging.getLogger(__name__)
_qt_log = logging.getLogger("qt")

ORGANIZATION = "MLP Studio"
APPLICATION = "MLP Studio"


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
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    return app


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
