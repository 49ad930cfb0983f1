"""What one frame of training costs the window, part by part.

Run from the repository root::

    python -m benchmarks.bench_frame [--rounds N]

The window is shown with its trainer paused, and snapshots recorded from
a separate training run are fed to it as fast as it takes them, each
handled as a frame of training is: taken in, the plots painted at once,
then the event loop run so that the diagram paints. The figure is the
GUI thread's processor time per frame (``time.thread_time``), which a
busy machine disturbs far less than wall-clock rates. Each part is then
left out in turn (its update replaced by nothing), in rounds alternating
with the whole, and its cost is the median of the paired differences.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop  # noqa: E402

from benchmarks.bench_window import NETWORKS, ShownWindow  # noqa: E402
from mlp_studio.app.application import create_application  # noqa: E402
from mlp_studio.app.hidden_space import (  # noqa: E402
    FRAMES_PER_SECOND as HIDDEN_SPACE_RATE,
)
from mlp_studio.core.training import TrainingRun  # noqa: E402

FRAMES = 40


def recorded_snapshots(settings, count=FRAMES):
    """Snapshots of a run well into training, 50 updates apart."""
    run = TrainingRun.default()
    run.set_model(settings)
    run.run(3000)
    snapshots = []
    for _ in range(count):
        run.run(50)
        snapshots.append(run.snapshot(grids=True, running=True))
    return snapshots


class FrameProbe(ShownWindow):
    """The window at full speed (so the diagram draws as while training
    runs flat out), its trainer idle, fed recorded snapshots."""

    def __init__(self, app, settings):
        super().__init__(app)
        self.snapshots = recorded_snapshots(settings)
        for snapshot in self.snapshots[:10]:  # warm-up
            self.frame(snapshot)

    def frame(self, snapshot):
        """A frame as MainWindow._take_snapshot draws one, minus the hold."""
        window = self.window
        for view in window.show_snapshot(snapshot):
            if view is not window.diagram:
                QCoreApplication.sendPostedEvents(view.scene(),
                                                  QEvent.Type.MetaCall)
        self.app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)

    def cost(self) -> float:
        """GUI thread processor time per frame, in ms, over one pass."""
        start = time.thread_time()
        for snapshot in self.snapshots:
            self.frame(snapshot)
        return (time.thread_time() - start) / len(self.snapshots) * 1e3


def parts(window):
    """(name, object, attribute) of each part's per-frame update."""
    return [
        ("network diagram", window.diagram, "show_snapshot"),
        ("decision plot", window.decision, "show_snapshot"),
        ("error curve", window.curve, "show_history"),
        ("status bar", window, "_update_status"),
    ]


def hidden_space_cost(probe, rounds) -> float:
    """What a picture of the hidden space panel adds to a frame, in ms:
    the median of paired passes with the panel shown (drawing every
    frame) and hidden."""
    window = probe.window
    window.hidden_space.frames_per_second = float("inf")
    differences = []
    for round_ in range(rounds):
        costs = {}
        for shown in ((True, False) if round_ % 2 == 0 else (False, True)):
            window.hidden_dock.setVisible(shown)
            probe.app.processEvents()
            costs[shown] = probe.cost()
        differences.append(costs[True] - costs[False])
    window.hidden_dock.hide()
    return statistics.median(differences)


def _nothing(*args, **kwargs):
    return False  # as LossPlot.show_history says when nothing changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8,
                        help="alternating rounds per part (default 8)")
    args = parser.parse_args(argv)
    app = create_application()
    for name, settings in NETWORKS.items():
        probe = FrameProbe(app, settings)
        whole, shares = [], {}
        for part, owner, attribute in parts(probe.window):
            differences = shares[part] = []
            for round_ in range(args.rounds):
                costs = {}
                # Alternate which goes first, so drifts in machine load
                # fall on both alike; a pair's difference is the part's.
                for leave_out in ((False, True) if round_ % 2 == 0
                                  else (True, False)):
                    if leave_out:
                        setattr(owner, attribute, _nothing)
                    try:
                        costs[leave_out] = probe.cost()
                    finally:
                        if leave_out:
                            delattr(owner, attribute)
                whole.append(costs[False])
                differences.append(costs[False] - costs[True])
        hidden_space = hidden_space_cost(probe, args.rounds)
        probe.close()
        print(f"{name}: {statistics.median(whole):.2f} ms of GUI thread "
              f"time a frame (median of {len(whole)} passes of {FRAMES} "
              "frames); each part, median of its paired differences:")
        for part, differences in shares.items():
            print(f"  {part:16s} {statistics.median(differences):5.2f} ms")
        print(f"  and when shown, the hidden space panel {hidden_space:.2f} "
              "ms a picture, drawn at most "
              f"{HIDDEN_SPACE_RATE} times a second while training runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
