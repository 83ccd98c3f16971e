"""Process-level safety: an inter-process file lock (POSIX `flock`) for work that must not run
twice at once on one machine (creating a SQLite MLflow store, moving registry aliases), a
process-alive check, and a Ctrl-C that cannot be swallowed."""

from __future__ import annotations

import fcntl
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HELD: dict[tuple[Path, int], int] = {}  # (lock, thread) held by this process -> depth
_HELD_GUARD = threading.RLock()


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if absent) for the duration of the block;
    other processes asking for the same lock wait. Released when the process dies, too.
    Re-entrant within a thread: a block that already holds the lock (e.g. an alias move
    whose first client creates the store) passes through instead of waiting for itself;
    another thread waits as another process would."""
    key = (path.resolve(), threading.get_ident())
    with _HELD_GUARD:
        if key in _HELD:
            _HELD[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _HELD_GUARD:
                _HELD[key] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with _HELD_GUARD:
            _HELD[key] = 1
        yield
    finally:
        with _HELD_GUARD:
            _HELD.pop(key, None)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def process_alive(pid: int) -> bool:
    """Whether a process with id `pid` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


_INTERRUPTED = threading.Event()


def _on_sigint(signum: int, frame: object) -> None:
    _INTERRUPTED.set()
    raise KeyboardInterrupt


def stop_on_ctrl_c() -> None:
    """Ctrl-C raises KeyboardInterrupt and is remembered, so `check_interrupted` still stops
    the work when a library swallowed the exception (e.g. inside a destructor)."""
    _INTERRUPTED.clear()
    signal.signal(signal.SIGINT, _on_sigint)


def check_interrupted() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed since `stop_on_ctrl_c`."""
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt
