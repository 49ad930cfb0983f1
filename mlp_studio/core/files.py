"""Files: writing them so that a crash never leaves half a file behind,
and reading them no further than a limit."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` all at once or not at all.

    The bytes go to a temporary file beside the target, are flushed to
    disk, and only then take the target's name (an atomic rename). If
    anything fails on the way, the temporary file is removed and whatever
    was at ``path`` before is untouched.
    """
    path = Path(path)
    # os.open with mode 0o666 lets the umask decide the permissions, as for
    # any new file; mkstemp would leave the result readable only by us.
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(temp, flags, 0o666)
    try:
        with open(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    # Makes the rename itself durable. Not possible on Windows, and not
    # worth failing a save that has already succeeded.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def read_bounded(path: str | os.PathLike, max_bytes: int,
                 error: type[Exception]) -> bytes:
    """The bytes of ``path``; raises ``error`` with a message saying so when
    the file holds more than ``max_bytes``."""
    path = Path(path)
    too_large = f"the file is larger than {size_text(max_bytes)}"
    if path.stat().st_size > max_bytes:
        raise error(too_large)
    with path.open("rb") as stream:
        # The size may lie (a growing file, a pipe): read no more anyway.
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(too_large)
    return data


def size_text(n_bytes: int) -> str:
    """A size for a message: "10 MB", "1.5 KB", "20 bytes"."""
    for unit, size in (("MB", 2**20), ("KB", 2**10)):
        if n_bytes >= size:
            return f"{n_bytes / size:.3g} {unit}"
    return f"{n_bytes} bytes"
