"""The File menu: sessions, data, exports, recent files, unsaved changes.

Everything that reads the training run (saving a session, exporting the
model) runs in the trainer thread through ``Trainer.submit`` and reports
back with a callback; opening a session builds a new run here and hands it
to the trainer. A file that cannot be read changes nothing.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path

import pyqtgraph.exporters
from PySide6.QtCore import QObject, QRectF, QStandardPaths, QTimer
from PySide6.QtGui import QKeySequence, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QFileDialog, QMessageBox

from mlp_studio.core import export, session
from mlp_studio.core.files import write_atomically
from mlp_studio.core.training import History

log = logging.getLogger(__name__)

MAX_RECENT = 8
AUTOSAVE = "autosave.mlpstudio"
LOCK = "running.lock"
AUTOSAVE_SECONDS = 60
SESSION_FILTER = "MLP Studio sessions (*.mlpstudio)"
OPEN_FILTER = ("Sessions and data (*.mlpstudio *.csv);;"
               f"{SESSION_FILTER};;CSV data (*.csv)")
MODEL_FILTERS = {
    ".onnx": "ONNX model (*.onnx)",
    ".json": "JSON model (*.json)",
    ".py": "Python script (*.py)",
}


class FileActions(QObject):
    """The File menu of ``window`` and the state it keeps: the current
    session file and whether there are unsaved changes."""

    def __init__(self, window, data_dir=None):
        super().__init__(window)
        self.window = window
        self.path: str | None = None
        self.dirty = False
        self._saved_updates = 0
        self.ask_before_discarding = True  # tests and headless runs: off
        window.trainer.command_done.connect(self._command_done)

        # Autosave: the session goes to the user's data folder every minute
        # while it has unsaved changes; a lock file marks a running window,
        # so that one left behind tells the next start it crashed.
        if data_dir is None:
            data_dir = QStandardPaths.writableLocation(
                QStandardPaths.StandardLocation.AppDataLocation)
        self.data_dir = Path(data_dir)
        self.autosave_path = self.data_dir / AUTOSAVE
        self.lock_path = self.data_dir / LOCK
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_SECONDS * 1000)
        self.autosave_timer.timeout.connect(self.autosave)

    # ------------------------------------------------------------------
    # The menu

    def build(self, menu):
        window = self.window
        entries = (
            ("&Open…", "Ctrl+O", self.open),
            ("&Save session", "Ctrl+S", self.save),
            ("Save session &as…", "Ctrl+Shift+S", self.save_as),
            (None, None, None),
            ("Save &data as…", None, window.save_data),
            ("&Empty canvas", "Ctrl+N", window.empty_canvas),
            (None, None, None),
            ("Export &model…", "Ctrl+E", self.export_model),
            ("Export decision &plot…", None,
             lambda: self.export_picture("plot")),
            ("Export &network diagram…", None,
             lambda: self.export_picture("diagram")),
            ("Export loss &history…", None, self.export_history),
            ("Export training &animation (GIF)…", None, self.export_animation),
        )
        for text, shortcut, slot in entries:
            if text is None:
                menu.addSeparator()
                continue
            action = menu.addAction(text)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(lambda _=False, f=slot: f())
        self.recent_menu = menu.addMenu("Open &recent")
        self._fill_recent()
        menu.addSeparator()

    def _fill_recent(self):
        self.recent_menu.clear()
        for path in self.recent_files():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open(p))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def recent_files(self) -> list[str]:
        value = self.window.settings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            return []
        return [str(p) for p in value if isinstance(p, str)][:MAX_RECENT]

    def _remember(self, path):
        path = os.path.abspath(path)
        files = [p for p in self.recent_files() if p != path]
        self.window.settings.setValue("recent", [path, *files][:MAX_RECENT])
        self._fill_recent()

    # ------------------------------------------------------------------
    # Unsaved changes and the title

    def changed(self):
        """Something worth saving changed (data, settings, weights)."""
        if not self.dirty:
            self.dirty = True
            self.update_title()

    def snapshot_shown(self, snapshot):
        if snapshot.updates != self._saved_updates:
            self.changed()

    def update_title(self):
        name = Path(self.path).name if self.path else "untitled"
        self.window.setWindowTitle(
            f"{name}{'*' if self.dirty else ''} — MLP Studio")

    def may_discard(self) -> bool:
        """True when unsaved changes may go: none, or the user agrees (or
        saved them)."""
        if not self.dirty or not self.ask_before_discarding:
            return True
        answer = QMessageBox.question(
            self.window, "Unsaved changes",
            "Save the session before closing it?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save(wait=True)
        return answer == QMessageBox.StandardButton.Discard

    # ------------------------------------------------------------------
    # Sessions

    def open(self, path: str | None = None) -> bool:
        """Open a session (.mlpstudio) or data (.csv)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self.window, "Open", "", OPEN_FILTER)
            if not path:
                return False
        if not path.lower().endswith(session.SUFFIX):
            if self.window.open_data(path):
                self._remember(path)
                return True
            return False
        if not self.may_discard():
            return False
        try:
            opened = session.read_session(path)
        except (session.SessionFileError, OSError) as exc:
            self._report(f"Could not open {path}: {exc}")
            return False
        self.window.load_session(opened)
        self.path = path
        self.dirty = False
        self._saved_updates = opened.run.model.updates
        self.update_title()
        self._remember(path)
        self.window.statusBar().showMessage(f"Opened {path}", 5000)
        return True

    def save(self, wait=False) -> bool:
        if self.path is None:
            return self.save_as(wait=wait)
        return self._save_to(self.path, wait)

    def save_as(self, path: str | None = None, wait=False) -> bool:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self.window, "Save session", "untitled.mlpstudio",
                SESSION_FILTER)
            if not path:
                return False
        if not path.lower().endswith(session.SUFFIX):
            path += session.SUFFIX
        return self._save_to(path, wait)

    def _save_to(self, path, wait):
        points = self.window.editor.points

        def command(run):
            session.save_session(run, path, points=points)
            return path, run.model.updates

        self.window.trainer.submit(command, self._saved)
        if wait:
            # Closing the window: the trainer finishes the save before
            # it reads its stop command.
            return True
        return True

    def _saved(self, result, error):
        if error:
            self._report(f"Could not save the session: {error}")
            return
        path, updates = result
        self.path = path
        self.dirty = False
        self._saved_updates = updates
        self.update_title()
        self._remember(path)
        self.window.statusBar().showMessage(f"Saved {path}", 5000)

    # ------------------------------------------------------------------
    # Autosave and recovery

    def start_autosave(self):
        """Offer a session a crash left behind, then keep autosaving."""
        crashed = self.lock_path.exists() and self.autosave_path.exists()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            write_atomically(self.lock_path, str(os.getpid()).encode())
        except OSError as exc:
            log.warning("autosave is off: %s", exc)
            return
        if crashed:
            self.offer_recovery()
        self.autosave_timer.start()

    def offer_recovery(self) -> bool:
        """Open the autosaved session if the user wants it back."""
        if self.ask_before_discarding:
            answer = QMessageBox.question(
                self.window, "Recover session",
                "MLP Studio did not close properly last time. Open the "
                "session it saved automatically?")
            if answer != QMessageBox.StandardButton.Yes:
                return False
        try:
            opened = session.read_session(self.autosave_path)
        except (session.SessionFileError, OSError) as exc:
            self._report(f"Could not recover the session: {exc}")
            return False
        self.window.load_session(opened)
        self.path = None
        self.dirty = True
        self.update_title()
        self.window.statusBar().showMessage("Recovered the autosaved "
                                            "session", 8000)
        return True

    def autosave(self):
        if not self.dirty:
            return
        points = self.window.editor.points
        target = self.autosave_path

        def command(run):
            session.save_session(run, target, points=points)
            return target

        self.window.trainer.submit(command, self._autosaved)

    def _autosaved(self, result, error):
        if error:
            log.warning("autosave failed: %s", error)
        else:
            log.debug("autosaved to %s", result)

    def stop_autosave(self):
        """A clean exit: nothing to recover next time."""
        self.autosave_timer.stop()
        for path in (self.lock_path, self.autosave_path):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not remove %s: %s", path, exc)

    # ------------------------------------------------------------------
    # Exports

    def export_model(self, path: str | None = None) -> bool:
        """The trained model as ONNX, JSON or a Python script."""
        if path is None:
            path, chosen = QFileDialog.getSaveFileName(
                self.window, "Export model", "model.onnx",
                ";;".join(MODEL_FILTERS.values()))
            if not path:
                return False
            suffix = Path(path).suffix.lower()
            if suffix not in MODEL_FILTERS:
                for ending, label in MODEL_FILTERS.items():
                    if label == chosen:
                        path += ending
        suffix = Path(path).suffix.lower()
        savers = {".onnx": export.save_onnx, ".json": export.save_json,
                  ".py": export.save_python}
        if suffix not in savers:
            self._report(f"Cannot export a model as {suffix or 'a file '}"
                         "without an extension: use .onnx, .json or .py")
            return False
        saver = savers[suffix]

        def command(run):
            try:
                saver(run.model, run.features, path)
            except ImportError as exc:
                raise ValueError(str(exc)) from None
            return path

        self.window.trainer.submit(command, self._exported)
        return True

    def _exported(self, result, error):
        if error:
            self._report(f"Could not export: {error}")
        else:
            self.window.statusBar().showMessage(f"Exported {result}", 5000)

    def export_picture(self, which: str, path: str | None = None) -> bool:
        """The decision plot or the diagram as PNG or SVG."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self.window, "Export picture", f"{which}.png",
                "PNG image (*.png);;SVG drawing (*.svg)")
            if not path:
                return False
        try:
            if which == "plot":
                self._export_plot(path)
            else:
                self._export_diagram(path)
        except (OSError, ValueError) as exc:
            self._report(f"Could not export the picture: {exc}")
            return False
        self.window.statusBar().showMessage(f"Exported {path}", 5000)
        return True

    def _export_plot(self, path):
        plot = self.window.decision
        if path.lower().endswith(".svg"):
            # Qt's own SVG generator: pyqtgraph's exporter fails on the
            # NaN-separated boundary lines this plot draws.
            _render_svg(plot.scene(), plot.getPlotItem().sceneBoundingRect(),
                        path, "MLP Studio decision regions")
        else:
            exporter = pyqtgraph.exporters.ImageExporter(plot.getPlotItem())
            exporter.parameters()["width"] = 1200
            exporter.export(path)

    def _export_diagram(self, path):
        diagram = self.window.diagram
        if path.lower().endswith(".svg"):
            scene = diagram.scene()
            _render_svg(scene, scene.sceneRect(), path,
                        "MLP Studio network diagram")
        elif not diagram.grab().save(path):
            raise OSError(f"cannot write {path}")

    def export_animation(self, path: str | None = None) -> bool:
        """The decision regions over the run so far, as an animated GIF."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self.window, "Export training animation", "training.gif",
                "GIF animation (*.gif)")
            if not path:
                return False
        try:
            frames = self.window.recorder.save_gif(path)
        except (OSError, ValueError) as exc:
            self._report(f"Could not export the animation: {exc}")
            return False
        self.window.statusBar().showMessage(
            f"Exported {frames} frames to {path}", 5000)
        return True

    def export_history(self, path: str | None = None) -> bool:
        """The loss and accuracy history as CSV."""
        snapshot = self.window.snapshot
        if snapshot is None:
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self.window, "Export loss history", "history.csv",
                "CSV files (*.csv)")
            if not path:
                return False
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(History.COLUMNS)
        for row in snapshot.history:
            writer.writerow([int(row[0]), *(repr(float(v)) for v in row[1:])])
        try:
            write_atomically(path, text.getvalue().encode("utf-8"))
        except OSError as exc:
            self._report(f"Could not export the history: {exc}")
            return False
        self.window.statusBar().showMessage(f"Exported {path}", 5000)
        return True

    # ------------------------------------------------------------------

    def _command_done(self, callback, result, error):
        callback(result, error)

    def _report(self, message):
        log.warning("%s", message)
        self.window.alert.setText(message)
        if self.ask_before_discarding and self.window.isVisible():
            QMessageBox.warning(self.window, "MLP Studio", message)


def _render_svg(scene, rect, path, title):
    """Draw ``rect`` of a graphics scene into an SVG file, atomically."""
    part = f"{path}.part"
    generator = QSvgGenerator()
    generator.setFileName(part)
    generator.setSize(rect.size().toSize())
    generator.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
    generator.setTitle(title)
    painter = QPainter(generator)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        scene.render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
    finally:
        painter.end()
    os.replace(part, path)
