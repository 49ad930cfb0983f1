"""The trainer thread: runs the engine's training loop off the GUI thread.

The window talks to the trainer through commands (methods that queue a
function to run in the trainer thread) and hears back through signals. What
comes back is an immutable ``Snapshot``. Snapshots go through a one-slot
mailbox: the trainer makes a new one only when the window has taken the
last and at most ``max_fps`` times a second, and the window always reads the
newest. So the window never queues work it cannot show, and the trainer
spends its time training, not rendering pictures nobody sees.

At full speed the thread hands the updates to a process of its own
(``mlp_studio.core.process``), where they do not wait for the window's
drawing, nor it for them: Python runs one thread at a time. The thread
still owns the run. It applies the process's reports to it, makes the
snapshots from it, and calls the process back before any command, so
every command finds the run where the training left it. Slow motion,
``train_for`` and single steps train in the thread, and so does
everything if the process cannot start or fails.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QThread, Signal

from mlp_studio.core import NonFiniteLossError
from mlp_studio.core.process import TrainingProcess, apply_report
from mlp_studio.core.training import Snapshot, TrainingRun

log = logging.getLogger(__name__)

# Updates per second for the speed control; None is full speed.
SPEEDS = (None, 3000, 1000, 300, 100, 30, 10, 3, 1)
_SLICE_SECONDS = 0.004  # training time between checks for commands and frames
_STALE = 0.1  # age at which an untaken snapshot is replaced
_MAX_HOLD = 0.2  # the window never holds the trainer longer than this
_RECALL_SECONDS = 5.0  # a training process that takes longer is killed


class Mailbox:
    """Holds the newest value only. ``put`` replaces what is there."""

    def __init__(self):
        self._lock = threading.Lock()
        self._value = None

    def put(self, value) -> bool:
        """Store ``value``; True when the box was empty (so the reader
        needs telling), False when an unread value was replaced."""
        with self._lock:
            was_empty = self._value is None
            self._value = value
            return was_empty

    def take(self):
        """The newest value, or None; empties the box."""
        with self._lock:
            value, self._value = self._value, None
            return value

    @property
    def empty(self) -> bool:
        with self._lock:
            return self._value is None


class Trainer(QThread):
    """Owns a ``TrainingRun`` and trains it in its own thread.

    Only the trainer thread touches the run. Every public method may be
    called from the GUI thread; it queues a command and returns at once.
    """

    snapshot_ready = Signal()  # take it with ``take_snapshot``
    running_changed = Signal(bool)
    failed = Signal(str)  # a command was refused or training diverged
    rate_measured = Signal(float)  # updates per second, about twice a second
    # (callback, result, error message or ""): a command's outcome, for the
    # callback given to ``submit`` to be called in the GUI thread.
    command_done = Signal(object, object, str)

    def __init__(self, run: TrainingRun | None = None, max_fps: float = 60.0,
                 parent=None, *, use_process: bool = True):
        super().__init__(parent)
        self._run = run or TrainingRun.default()
        self._commands: queue.Queue = queue.Queue()
        self._mailbox = Mailbox()
        self._min_interval = 1.0 / max_fps
        self._running = False
        self._speed: float | None = None
        self._target_updates: int | None = None
        self._stop = False
        self._grids = True
        self._dirty = True
        self._last_emit = 0.0
        self._next_frame = 0.0
        self._next_due = 0.0
        # Handshake with the window while it draws (see ``hold``).
        self._hold = threading.Event()
        self._holding = threading.Event()
        self._resume = threading.Event()
        self._busy = False  # training at full speed: worth holding
        # While the process trains, the thread's own work (applying
        # reports, making snapshots) takes this; so does ``hold``.
        self._turn = threading.Lock()
        self._turn_taken = False
        # Full-speed training in a process of its own (see ``_train_away``);
        # None until first needed, and for good once it has failed.
        self._use_process = use_process
        self._process: TrainingProcess | None = None
        self._away = False  # the process is training the run now
        self._heard = 0.0  # when the process last reported
        # A process that trains and stays silent this long has hung: it
        # is killed, and the thread trains from its last report.
        self.silence_limit = _RECALL_SECONDS
        self.setObjectName("trainer")

    # ------------------------------------------------------------------
    # Commands, called from the GUI thread

    def submit(self, command: Callable[[TrainingRun], object],
               on_done: Callable | None = None):
        """Run ``command(run)`` in the trainer thread, then show the result.

        A ValueError it raises is reported through ``failed`` and leaves
        the run as it was. With ``on_done``, ``command_done`` carries it
        with the command's result and error message ("" on success), and
        OSError is reported there too.
        """
        self._commands.put((command, on_done))

    def replace_run(self, run: TrainingRun):
        """Train ``run`` from now on (an opened session), paused."""
        def command(_):
            self._change_running(False)
            self._run = run
        self.submit(command)

    def start_training(self):
        self._commands.put((self._set_running(True), None))

    def pause(self):
        self._commands.put((self._set_running(False), None))

    def toggle(self):
        self._commands.put((self._toggle, None))

    def step(self, count: int = 1):
        """Pause, then take ``count`` updates."""
        def command(run):
            self._change_running(False)
            run.run(count)
        self.submit(command)

    def step_epoch(self):
        def command(run):
            self._change_running(False)
            run.run_epoch()
        self.submit(command)

    def train_for(self, updates: int):
        """Train until ``updates`` updates are done, then pause."""
        def command(run):
            self._target_updates = updates
            self._change_running(updates > run.model.updates)
        self.submit(command)

    def set_speed(self, updates_per_second: float | None):
        """Updates per second; None trains at full speed."""
        def command(run):
            self._speed = updates_per_second
            self._next_due = 0.0
        self.submit(command)

    def request_snapshot(self):
        self.submit(lambda run: None)

    def stop(self):
        """Ask the thread to finish; follow with ``wait()``."""
        self._commands.put((None, None))

    def hold(self, timeout: float = 0.02) -> bool:
        """Ask the trainer to stop between two small chunks of updates
        until ``release``; True when it did within ``timeout`` seconds.

        The window holds the trainer while it draws a frame. Python runs
        one thread at a time, and a trainer that competes with the
        window's drawing for the interpreter slows both far more than
        taking turns does.
        """
        if self._away:
            self._turn_taken = self._turn.acquire(timeout=timeout)
            return self._turn_taken
        if not self._busy:
            return False
        self._resume.clear()
        self._hold.set()
        return self._holding.wait(timeout)

    def release(self):
        """Let a held trainer go on."""
        if self._turn_taken:
            self._turn_taken = False
            self._turn.release()
        self._hold.clear()
        self._holding.clear()
        self._resume.set()

    @property
    def trains_in_process(self) -> bool:
        """True while a training process trains the run (see the module's
        docstring)."""
        return self._away

    @property
    def process(self) -> TrainingProcess | None:
        """The training process, once started and while it works."""
        return self._process

    def take_snapshot(self) -> Snapshot | None:
        """The newest snapshot, or None if it was already taken."""
        return self._mailbox.take()

    # ------------------------------------------------------------------
    # The thread

    def run(self):
        log.debug("trainer thread started")
        while not self._stop:
            try:
                self._loop()
            except Exception as exc:
                # A bug must not leave the window without a trainer: report
                # it, pause, and carry on with the next command.
                log.exception("trainer error")
                if self._away:
                    self._lose_process("the trainer failed beside it")
                self._running = False
                self.running_changed.emit(False)
                self.failed.emit(f"internal error: {exc}")
        if self._process is not None:
            self._process.close()
        log.debug("trainer thread finished")

    def _loop(self):
        window_start, window_updates = time.perf_counter(), 0
        while not self._stop:
            self._drain(self._wait_time())
            if self._stop:
                break
            if self._running and time.perf_counter() >= self._next_due:
                if self._can_train_away():
                    window_updates += self._train_away()
                else:
                    window_updates += self._train_slice()
            now = time.perf_counter()
            if now - window_start >= 0.5:
                if self._running:
                    self.rate_measured.emit(window_updates / (now - window_start))
                window_start, window_updates = now, 0
            self._publish()

    def _wait_time(self) -> float:
        """How long to wait for a command before doing anything else."""
        if self._dirty:
            return 0.0
        if not self._running:
            # Wake now and then: a snapshot the window was too busy to
            # take is then still delivered.
            return 0.05
        return max(0.0, self._next_due - time.perf_counter())

    def _drain(self, timeout):
        """Carry out queued commands, waiting up to ``timeout`` seconds for
        the first."""
        while True:
            try:
                if timeout > 0:
                    item = self._commands.get(timeout=timeout)
                else:
                    item = self._commands.get_nowait()
            except queue.Empty:
                return
            timeout = 0.0
            # Every command finds the run where the process left it.
            self._call_back()
            command, on_done = item
            if command is None:
                self._stop = True
                return
            result, error = None, ""
            try:
                result = command(self._run)
            except NonFiniteLossError as exc:
                self._diverged(exc)
                error = str(exc)
            except (ValueError, OSError) as exc:
                if on_done is None and isinstance(exc, OSError):
                    raise
                log.warning("command refused: %s", exc)
                error = str(exc)
                if on_done is None:
                    self.failed.emit(error)
            if on_done is not None:
                self.command_done.emit(on_done, result, error)
            self._dirty = True

    def _train_slice(self) -> int:
        """Train for a few milliseconds, or, in slow motion, take the
        updates now due and schedule the next."""
        run = self._run
        before = run.model.updates
        try:
            if self._speed is not None:
                count = self._limit(max(1, round(self._speed / 60)))
                run.run(count)
                self._next_due = time.perf_counter() + count / self._speed
            else:
                self._busy = True
                deadline = time.perf_counter() + _SLICE_SECONDS
                chunk = 8
                while time.perf_counter() < deadline:
                    if self._hold.is_set():
                        self._holding.set()
                        self._resume.wait(_MAX_HOLD)
                    count = self._limit(chunk)
                    if not count:
                        break
                    run.run(count)
                    # Chunks of well under a millisecond: the window's
                    # hold is answered quickly.
                    chunk = min(chunk * 2, 32)
        except (NonFiniteLossError, ValueError) as exc:
            self._diverged(exc)
        self._busy = False
        done = run.model.updates - before
        if self._target_updates is not None and \
                run.model.updates >= self._target_updates:
            self._target_updates = None
            self._change_running(False)
        self._dirty = self._dirty or done > 0
        return done

    # ------------------------------------------------------------------
    # Training in a process of its own

    def _can_train_away(self) -> bool:
        """Full speed, no target and training points: the process trains,
        once it has started. Until then the thread trains itself."""
        if not self._use_process or self._speed is not None \
                or self._target_updates is not None \
                or not len(self._run.train):
            return False
        if self._process is None:
            try:
                self._process = TrainingProcess()
            except OSError as exc:
                log.warning("training in this thread: cannot start a "
                            "training process (%s)", exc)
                self._use_process = False
                return False
        return self._process.ready

    def _train_away(self) -> int:
        """Let the process train; apply its reports for a frame's time.
        Returns the updates they brought."""
        run = self._run
        before = run.model.updates
        try:
            if not self._away:
                self._process.train(run, self._min_interval)
                self._away = True
                self._heard = time.perf_counter()
            report = self._process.next_report(self._min_interval)
            if report is None and \
                    time.perf_counter() - self._heard > self.silence_limit:
                self._process.kill()
                self._lose_process(
                    f"it sent nothing for {self.silence_limit:g} s")
            while report is not None:
                self._heard = time.perf_counter()
                with self._turn:
                    self._take_report(*report)
                if not self._away:
                    break
                report = self._process.next_report(0)
        except OSError as exc:
            self._lose_process(str(exc))
        self._dirty = self._dirty or run.model.updates != before
        return run.model.updates - before

    def _take_report(self, header, arrays):
        kind = header["kind"]
        if kind == "gone":
            self._lose_process(header["message"])
            return
        if header.get("session") != self._process.session:
            return  # from a session that ended before
        try:
            apply_report(self._run, header, arrays)
        except ValueError as exc:
            self._lose_process(f"a report that does not fit: {exc}")
            return
        self._dirty = True
        if kind != "progress":
            self._away = False
        if kind == "failed":
            self._diverged(header["message"])

    def _call_back(self):
        """End the process's session and wait for its last report, so
        that the run here holds all the training done there."""
        if not self._away:
            return
        try:
            self._process.stop()
            deadline = time.perf_counter() + _RECALL_SECONDS
            while self._away:
                report = self._process.next_report(
                    deadline - time.perf_counter())
                if report is None:
                    self._process.kill()
                    self._lose_process("it did not answer")
                    return
                self._take_report(*report)
        except OSError as exc:
            self._lose_process(str(exc))

    def _lose_process(self, reason):
        """Go on training in this thread: the run keeps the last state
        the process reported, which is whole, if a few updates old."""
        log.warning("training in this thread from now on: the training "
                    "process failed (%s)", reason)
        self._away = False
        self._use_process = False
        process, self._process = self._process, None
        if process is not None:
            process.close()

    def _limit(self, count):
        if self._target_updates is None:
            return count
        return max(0, min(count, self._target_updates - self._run.model.updates))

    def _publish(self):
        """Make and post a snapshot if one is due and the window is ready."""
        if not self._dirty:
            return
        now = time.perf_counter()
        if self._running:
            if not self._mailbox.empty:
                # The window has not taken the last one: replace it only
                # now and then, so it stays fresh and little work is lost.
                if now - self._last_emit < _STALE:
                    return
            elif now < self._next_frame:
                return
        with self._turn:
            snapshot = self._run.snapshot(grids=self._grids,
                                          running=self._running)
        self._dirty = False
        self._last_emit = now
        # Frames keep to a beat of max_fps, without drifting: a frame a
        # little late leaves the next one's time as it was.
        interval = self._min_interval
        self._next_frame = max(self._next_frame + interval,
                               now + 0.5 * interval)
        if self._mailbox.put(snapshot):
            self.snapshot_ready.emit()

    def _diverged(self, error):
        self._change_running(False)
        self._target_updates = None
        self.failed.emit(str(error))

    def _set_running(self, running):
        return lambda run: self._change_running(running)

    def _toggle(self, run):
        self._change_running(not self._running)

    def _change_running(self, running):
        if running != self._running:
            self._running = running
            self.running_changed.emit(running)
        self._dirty = True
