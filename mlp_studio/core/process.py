"""Training in a process of its own, for the window's trainer thread.

Python runs one thread at a time. A thread that trains a small network
holds the interpreter nearly all the time, so the window, which needs it
for every frame, waits; and while the window draws, the training waits.
A child process has an interpreter of its own: there the training runs at
the engine's headless speed on one core while the window draws on the
other.

The child is this module, started as ``mlp-studio --training-process``
(``command``). It trains a copy of the parent's run and reports where it
stands as often as the parent asks (the window asks once a frame): the
weights and the rest of the training state (``session.capture_state``),
and the history rows and path rows recorded since the last report. The
parent applies each report to its own run, so the run there is always a
whole, consistent state a few milliseconds old, and the two runs'
weights are bit for bit the same as if the parent had trained alone.

The messages are frames on the child's standard input and output: a
fixed header with two lengths, a JSON header, then the raw bytes of
numpy arrays the header describes. Nothing is pickled.

Parent to child: ``train`` (session id, setup fields or null to keep the
last, state, path counters, report interval), ``stop`` (session id),
``quit``. Child to parent: ``ready``, ``progress``, and at a session's
end ``stopped`` or ``failed`` (the training diverged or was refused, with
the message), each with the session id; ``error`` when the child cannot
go on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import struct
import subprocess
import sys
import threading
import time
import traceback

import numpy as np

from .network import NonFiniteLossError
from .session import (
    capture_state,
    decode_setup,
    encode_setup,
    restore_state,
)
from .training import History, TrainingRun, Trajectory

log = logging.getLogger(__name__)

FLAG = "--training-process"  # mlp_studio.__main__ serves with it
PROTOCOL = 1
_FRAME = struct.Struct("<4sII")  # magic, header bytes, payload bytes
_MAGIC = b"MLPt"
_MAX_HEADER = 2**24
_MAX_PAYLOAD = 2**31 - 1
_DTYPES = ("<f8", "<i8")
_CHUNK_SECONDS = 0.002  # training between checks for a stop and a report
_NICENESS = 5  # the child's scheduling priority below the window's


class ProtocolError(Exception):
    """A frame that is not one this module writes."""


# ------------------------------------------------------------- frames


def write_message(stream, header: dict,
                  arrays: dict[str, np.ndarray] | None = None) -> None:
    """Write one frame: ``header`` (JSON-ready) and float64 or int64
    ``arrays``, then flush."""
    layout, buffers, offset = [], [], 0
    for name, array in (arrays or {}).items():
        array = np.ascontiguousarray(array)
        dtype = array.dtype.newbyteorder("<").str
        if array.dtype.kind == "f":
            array, dtype = array.astype("<f8", copy=False), "<f8"
        elif array.dtype.kind in "iu":
            array, dtype = array.astype("<i8", copy=False), "<i8"
        if dtype not in _DTYPES:
            raise TypeError(f"array {name!r} of dtype {array.dtype}")
        data = array.tobytes()
        layout.append([name, dtype, list(array.shape), offset])
        buffers.append(data)
        offset += len(data)
    text = json.dumps({**header, "arrays": layout}, allow_nan=False,
                      separators=(",", ":")).encode("utf-8")
    stream.write(_FRAME.pack(_MAGIC, len(text), offset))
    stream.write(text)
    for data in buffers:
        stream.write(data)
    stream.flush()


def read_message(stream) -> tuple[dict, dict[str, np.ndarray]] | None:
    """The next frame as (header, arrays); None at the end of the
    stream. Raises ProtocolError for anything else."""
    head = _read_exactly(stream, _FRAME.size, allow_end=True)
    if head is None:
        return None
    magic, header_size, payload_size = _FRAME.unpack(head)
    if magic != _MAGIC or header_size > _MAX_HEADER:
        raise ProtocolError("not a frame of the training process")
    try:
        header = json.loads(_read_exactly(stream, header_size))
    except ValueError as error:
        raise ProtocolError(f"bad frame header: {error}") from None
    payload = _read_exactly(stream, payload_size)
    if not isinstance(header, dict) or not isinstance(
            header.get("kind"), str):
        raise ProtocolError("a frame header without a kind")
    arrays = {}
    for entry in header.pop("arrays", []):
        try:
            name, dtype, shape, offset = entry
            if dtype not in _DTYPES:
                raise ValueError(f"dtype {dtype}")
            count = int(np.prod(shape, dtype=np.int64))
            array = np.frombuffer(payload, dtype, count, offset)
            arrays[name] = array.reshape(shape)
        except (TypeError, ValueError) as error:
            raise ProtocolError(f"bad array in a frame: {error}") from None
    return header, arrays


def _read_exactly(stream, size, allow_end=False):
    parts, left = [], size
    while left:
        data = stream.read(left)
        if not data:
            if allow_end and left == size:
                return None
            raise ProtocolError("the stream ended inside a frame")
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


# ------------------------------------------------------------- reports


def _report(run, history_sent, kind, session, message=""):
    """(header, arrays) of a report: the state now and the history and
    path rows recorded since ``history_sent`` rows were reported."""
    fields, arrays = capture_state(run, full=False)
    arrays["history"] = run.history.view()[history_sent:]
    path = run.trajectory
    journal, path.journal = path.journal, []
    if journal:
        arrays["path_seen"] = np.array([row[0] for row in journal])
        arrays["path_theta"] = np.array([row[1] for row in journal])
        arrays["path_updates"] = np.array([row[2] for row in journal])
    header = {"kind": kind, "session": session, "state": fields,
              "path_seen_total": path.counters()[2], "message": message}
    return header, arrays


def apply_report(run: TrainingRun, header: dict,
                 arrays: dict[str, np.ndarray]) -> None:
    """Bring ``run`` (the parent's) to where a report says the child's
    copy stands: the state, then the new history and path rows.

    Raises ValueError if the report does not fit the run."""
    restore_state(run, header["state"], arrays)
    run.history.extend(arrays.get("history", ()))
    if "path_seen" in arrays:
        run.trajectory.replay(arrays["path_seen"], arrays["path_theta"],
                              arrays["path_updates"],
                              header["path_seen_total"])
    else:
        run.trajectory.replay((), (), (), header["path_seen_total"])


# --------------------------------------------------------------- child


def serve(stdin=None, stdout=None) -> int:
    """The child's loop: train what the parent sends until it quits or
    its end of the pipe closes. Returns the exit status."""
    # Unbuffered input: a buffered reader's lock, held by the listener
    # thread while it waits, would stop the interpreter from exiting.
    stdin = stdin or sys.stdin.buffer.raw
    stdout = stdout or sys.stdout.buffer
    # Anything printed by mistake must not land among the frames.
    sys.stdout = sys.stderr
    if hasattr(os, "nice"):
        # When the cores are busy, the window that shows the training
        # comes first: a late frame is seen, slower training barely.
        os.nice(_NICENESS)
    child = _Child(stdin, stdout)
    try:
        return child.main()
    except Exception as exc:  # report it, so the parent trains itself
        log.exception("training process failed")
        with contextlib.suppress(OSError):  # the parent may have gone
            write_message(stdout, {"kind": "error",
                                   "message": f"{type(exc).__name__}: {exc}",
                                   "trace": traceback.format_exc()})
        return 1


class _Child:
    def __init__(self, stdin, stdout):
        self._stdin, self._stdout = stdin, stdout
        self._inbox: queue.Queue = queue.Queue()
        self._stopped_session = -1  # the newest session asked to stop
        self._run: TrainingRun | None = None
        self._setup = None

    def main(self):
        threading.Thread(target=self._listen, name="listener",
                         daemon=True).start()
        write_message(self._stdout, {"kind": "ready", "protocol": PROTOCOL,
                                     "pid": os.getpid()})
        while True:
            item = self._inbox.get()
            if item is None:
                return 0
            header, arrays = item
            if header["kind"] == "quit":
                return 0
            if header["kind"] == "train":
                self._train(header, arrays)

    def _listen(self):
        """Read frames; a stop takes effect at once, the rest queue."""
        try:
            while True:
                message = read_message(self._stdin)
                if message is None:
                    break
                header, _ = message
                if header["kind"] == "stop":
                    self._stopped_session = max(self._stopped_session,
                                                int(header["session"]))
                else:
                    self._inbox.put(message)
        except (OSError, ProtocolError, ValueError):
            log.exception("training process: bad input from its parent")
        # The parent has gone or broke the protocol: stop everything.
        self._stopped_session = sys.maxsize
        self._inbox.put(None)

    def _train(self, header, arrays):
        session = int(header["session"])
        if header["setup"] is not None:
            self._run = decode_setup(header["setup"])
        run = self._run
        restore_state(run, header["state"], arrays)
        run.history = History()
        run.trajectory = Trajectory.continuing(run.model.n_params,
                                               header["path_counters"])
        interval = float(header["interval"])
        log.debug("training session %d from update %d", session,
                  run.model.updates)

        sent, chunk = 0, 8
        next_report = time.perf_counter() + interval
        while self._stopped_session < session:
            start = time.perf_counter()
            try:
                run.run(chunk)
            except (NonFiniteLossError, ValueError) as exc:
                self._send(run, sent, "failed", session, str(exc))
                return
            now = time.perf_counter()
            # Chunks of about two milliseconds: a stop is answered soon
            # and the checks cost nothing next to the training.
            if now - start < _CHUNK_SECONDS / 2:
                chunk = min(2 * chunk, 4096)
            elif now - start > 2 * _CHUNK_SECONDS and chunk > 1:
                chunk //= 2
            if now >= next_report:
                sent = self._send(run, sent, "progress", session)
                next_report = max(next_report + interval, now + interval / 2)
        self._send(run, sent, "stopped", session)

    def _send(self, run, sent, kind, session, message=""):
        header, arrays = _report(run, sent, kind, session, message)
        write_message(self._stdout, header, arrays)
        return len(run.history)


# -------------------------------------------------------------- parent


def command() -> list[str]:
    """The command line that starts a child: the bundle's own program
    when frozen, else this Python with the package's main module."""
    if getattr(sys, "frozen", False):
        return [sys.executable, FLAG]
    return [sys.executable, "-m", "mlp_studio", FLAG]


_open: set = set()  # the TrainingProcess objects not yet closed


def open_processes() -> int:
    """How many training processes this process has started and not yet
    closed."""
    return len(_open)


class TrainingProcess:
    """The parent's handle on a child that trains.

    Only one thread may call the methods that write (``train``, ``stop``,
    ``close``); a thread of this class reads the child's reports into a
    queue for ``next_report``.
    """

    def __init__(self, argv: list[str] | None = None):
        self._process = subprocess.Popen(
            argv or command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._reports: queue.Queue = queue.Queue()
        self._ready = threading.Event()
        self._alive = True
        self._session = 0
        self._setup_sent: str | None = None
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name="training-process-reader")
        self._reader.start()
        _open.add(self)
        log.debug("training process %d started", self._process.pid)

    @property
    def ready(self) -> bool:
        """Started and able to train (its first frame has arrived)."""
        return self._alive and self._ready.is_set()

    @property
    def alive(self) -> bool:
        return self._alive

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def exit_code(self) -> int | None:
        """The child's exit status; None while it runs."""
        return self._process.poll()

    @property
    def session(self) -> int:
        """The id of the last ``train``."""
        return self._session

    def train(self, run: TrainingRun, interval: float) -> int:
        """Have the child go on training a copy of ``run`` where it stands,
        reporting every ``interval`` seconds; returns the session id.

        The run's setup (data and settings) is sent only when it differs
        from the last one sent. Raises OSError if the child has gone.
        """
        self._session += 1
        setup = encode_setup(run)
        key = json.dumps(setup, separators=(",", ":"))
        fields, arrays = capture_state(run, full=True)
        header = {
            "kind": "train", "session": self._session,
            "setup": None if key == self._setup_sent else setup,
            "state": fields,
            "path_counters": list(run.trajectory.counters()),
            "interval": interval,
        }
        self._write(header, arrays)
        self._setup_sent = key
        return self._session

    def stop(self) -> None:
        """Ask the child to end the current session; it answers with a
        ``stopped`` report (or ``failed``, if it failed first)."""
        self._write({"kind": "stop", "session": self._session})

    def next_report(self, timeout: float | None) -> tuple | None:
        """The next (header, arrays) from the child, waiting up to
        ``timeout`` seconds; None if none came. A header of kind "gone"
        says the child has ended."""
        try:
            if timeout is not None and timeout <= 0:
                return self._reports.get_nowait()
            return self._reports.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self, timeout: float = 2.0) -> None:
        """End the child, politely first."""
        if self._alive:
            with contextlib.suppress(OSError):  # it may have gone already
                self._write({"kind": "quit"})
        with contextlib.suppress(OSError):
            self._process.stdin.close()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("training process %d did not quit; killing it",
                        self._process.pid)
            self._process.kill()
            self._process.wait()
        self._reader.join(timeout)
        self._process.stdout.close()
        self._alive = False
        _open.discard(self)
        log.debug("training process %d ended", self._process.pid)

    def kill(self) -> None:
        """End the child at once (it stopped answering)."""
        self._alive = False
        self._process.kill()
        self.close()

    def _write(self, header, arrays=None):
        if not self._alive:
            raise OSError("the training process has ended")
        try:
            write_message(self._process.stdin, header, arrays)
        except (OSError, ValueError) as error:  # ValueError: closed pipe
            self._alive = False
            raise OSError(f"the training process has ended: {error}") \
                from None

    def _read(self):
        gone = "it ended"
        try:
            while True:
                message = read_message(self._process.stdout)
                if message is None:
                    break
                header, _ = message
                if header["kind"] == "ready":
                    if header.get("protocol") != PROTOCOL:
                        gone = f"protocol {header.get('protocol')!r}"
                        break
                    self._ready.set()
                    continue
                self._reports.put(message)
                if header["kind"] == "error":
                    gone = header.get("message", "an error")
                    break
        except (OSError, ValueError, ProtocolError) as error:
            gone = str(error)
        self._alive = False
        self._reports.put(({"kind": "gone", "message": gone}, {}))
