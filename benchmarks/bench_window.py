"""How the main window keeps up while it trains.

Run from the repository root::

    python -m benchmarks.bench_window [--quick] [--rounds N] [--markdown FILE]

Measures, for the default network (2-8-8-1 tanh on the spiral) and for six
hidden layers of eight:

* training speed with the whole window shown and redrawing, against the
  same training run headless, in alternating rounds: the ratio is the
  median of each round's own ratio, as the two halves of a round meet the
  machine in nearly the same state;
* how late a 10 ms timer in the GUI thread fires while training runs at
  full speed (99th percentile);
* frames the window draws per second while training;
* the time from starting the program to a shown, drawn window.

Without a screen it uses Qt's offscreen platform, which draws the same
pixels as a real one.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import (  # noqa: E402
    QElapsedTimer,
    QEventLoop,
    QSettings,
    QTimer,
)

from mlp_studio.app.application import create_application  # noqa: E402
from mlp_studio.app.main_window import MainWindow  # noqa: E402
from mlp_studio.app.trainer import SPEEDS  # noqa: E402
from mlp_studio.core.training import (  # noqa: E402
    ModelSettings,
    TrainingRun,
)

NETWORKS = {
    "2-8-8-1 tanh": ModelSettings(),
    "6 x 8 tanh": ModelSettings(hidden=(8,) * 6, activations=("tanh",) * 6),
}

STARTUP_PROBE = """
import sys, time
from mlp_studio.app.application import create_application
app = create_application()
from mlp_studio.app.main_window import MainWindow
from PySide6.QtCore import QSettings
import tempfile, os
folder = tempfile.mkdtemp()
settings = QSettings(os.path.join(folder, "s.ini"), QSettings.Format.IniFormat)
window = MainWindow(settings=settings, restore=False, autosave=False)
window.show()
def shown(snapshot):
    print("shown", flush=True)
    window.close()
    app.quit()
window.snapshot_shown.connect(shown)
app.exec()
"""


def headless_rate(settings: ModelSettings, seconds: float) -> float:
    """Updates per second of the bare training loop, chunked as the
    trainer thread chunks it."""
    run = TrainingRun.default()
    run.set_model(settings)
    run.run(500)  # warm-up: buffers and compiled updates
    start, done = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        run.run(256)
        done += 256
    return done / (time.perf_counter() - start)


class ShownWindow:
    """The real window, shown at 1600 x 960 with its speed at full, and
    settings of its own in a temporary folder."""

    def __init__(self, app):
        self.app = app
        self.folder = tempfile.TemporaryDirectory()
        qsettings = QSettings(os.path.join(self.folder.name, "s.ini"),
                              QSettings.Format.IniFormat)
        self.window = MainWindow(settings=qsettings, restore=False,
                                 autosave=False)
        self.window.resize(1600, 960)
        self.window.show()
        self.window.speed.setValue(SPEEDS.index(None))

    def close(self):
        self.window.close()
        self.folder.cleanup()


class WindowProbe(ShownWindow):
    """The real window, training at full speed, measured from outside."""

    def __init__(self, app, settings: ModelSettings):
        super().__init__(app)
        self.window.trainer.submit(lambda run: run.set_model(settings))
        self._arrivals: list[tuple[float, int]] = []
        self.window.snapshot_shown.connect(self._shown)

    def _shown(self, snapshot):
        self._arrivals.append((time.perf_counter(), snapshot.updates))

    def measure(self, seconds: float) -> dict:
        window = self.window
        window.trainer.start_training()
        self._spin(0.5)  # warm-up
        self._arrivals.clear()
        lateness = []
        timer_clock = QElapsedTimer()

        def tick():
            elapsed = timer_clock.nsecsElapsed() / 1e6
            lateness.append(max(0.0, elapsed - 10.0))
            timer_clock.restart()

        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(tick)
        timer_clock.start()
        timer.start()
        self._spin(seconds)
        timer.stop()
        window.trainer.pause()
        self._spin(0.2)
        (t0, u0), (t1, u1) = self._arrivals[0], self._arrivals[-1]
        return {
            "rate": (u1 - u0) / (t1 - t0),
            "fps": (len(self._arrivals) - 1) / (t1 - t0),
            "late_p99": float(np.percentile(lateness, 99)),
            "late_median": float(np.median(lateness)),
        }

    def _spin(self, seconds):
        # Qt's own event loop, as in the application: a Python loop around
        # processEvents would need the interpreter lock between events and
        # wait for the trainer thread each time.
        loop = QEventLoop()
        QTimer.singleShot(round(seconds * 1000), loop.quit)
        loop.exec()


def startup_seconds() -> float:
    """Wall time from starting a new Python process to a drawn window."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ["QT_QPA_PLATFORM"])
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", STARTUP_PROBE],
                               stdout=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline()
    elapsed = time.perf_counter() - start
    process.wait(timeout=30)
    if line.strip() != "shown":
        raise RuntimeError("the start-up probe did not show its window")
    return elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--quick", action="store_true",
                        help="2 rounds of 0.5 s: a smoke test")
    parser.add_argument("--markdown", metavar="FILE",
                        help="also write the table to FILE")
    parser.add_argument("--hidden-space", action="store_true",
                        help="measure with the hidden space panel shown")
    args = parser.parse_args(argv)
    rounds, seconds = (2, 0.5) if args.quick else (args.rounds, args.seconds)

    app = create_application()
    rows = []
    for name, settings in NETWORKS.items():
        probe = WindowProbe(app, settings)
        probe.window.hidden_dock.setVisible(args.hidden_space)
        headless, shown = [], []
        for round_ in range(rounds):
            # Alternate which goes first, so drifts in machine load fall
            # on both alike.
            order = (0, 1) if round_ % 2 == 0 else (1, 0)
            for which in order:
                if which == 0:
                    headless.append(headless_rate(settings, seconds))
                else:
                    shown.append(probe.measure(seconds))
        probe.close()
        rate = statistics.median(r["rate"] for r in shown)
        bare = statistics.median(headless)
        ratios = [r["rate"] / h for r, h in zip(shown, headless)]
        rows.append((name, bare, rate, ratios,
                     statistics.median(r["fps"] for r in shown),
                     statistics.median(r["late_p99"] for r in shown),
                     statistics.median(r["late_median"] for r in shown)))

    starts = sorted(startup_seconds() for _ in range(max(3, rounds)))
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"Window benchmark, {when} UTC, Qt platform "
        f"{os.environ['QT_QPA_PLATFORM']}"
        f"{', hidden space panel shown' if args.hidden_space else ''}: "
        f"medians of {rounds} alternating rounds of {seconds:g} s; the "
        "ratio is the median of the rounds' own ratios, with the middle "
        "half of them in brackets.",
        "",
        "| network | headless updates/s | with window updates/s | ratio "
        "(target >= 70 %) | frames/s (target >= 30) | 10 ms timer late, "
        "p99 (target < 20 ms) | late, median |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, bare, rate, ratios, fps, p99, median in rows:
        low, _, high = statistics.quantiles(ratios, n=4) \
            if len(ratios) > 1 else ratios * 3
        lines.append(f"| {name} | {bare:,.0f} | {rate:,.0f} | "
                     f"{statistics.median(ratios):.0%} ({low:.0%} to "
                     f"{high:.0%}) | {fps:.0f} | {p99:.1f} ms | "
                     f"{median:.1f} ms |")
    lines += ["", f"Start to drawn window (target < 1.5 s): median "
              f"{statistics.median(starts):.2f} s, best {starts[0]:.2f} s, "
              f"worst {starts[-1]:.2f} s of {len(starts)}."]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        target = os.path.abspath(args.markdown)
        with tempfile.NamedTemporaryFile(
                "w", dir=os.path.dirname(target), delete=False,
                suffix=".tmp", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.replace(handle.name, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
