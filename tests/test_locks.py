"""The inter-process file lock (experiments/locks.py) and alias moves on a new store."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from experiments.locks import file_lock

ROOT = Path(__file__).resolve().parents[1]


def _in_child(code: str) -> str:
    """Run `code` in a new interpreter (a lock that waits for itself fails the test after
    the timeout instead of hanging the suite); its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_thread_holding_the_lock_may_take_it_again(tmp_path: Path) -> None:
    lock = tmp_path / "store.lock"
    code = (
        "from pathlib import Path; from experiments.locks import file_lock; "
        f"lock = Path({str(lock)!r})\n"
        "with file_lock(lock), file_lock(lock): pass\n"
        "with file_lock(lock): print('released')"
    )
    assert _in_child(code) == "released"


def test_another_thread_waits_for_the_lock(tmp_path: Path) -> None:
    lock, order = tmp_path / "store.lock", []

    def other() -> None:
        with file_lock(lock):
            order.append("other")

    with file_lock(lock):
        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.3)
        order.append("first")
    thread.join(timeout=10)
    assert order == ["first", "other"]


def test_rollback_as_the_first_call_on_a_new_store_does_not_wait_for_itself(
    isolated_mlflow: str,
) -> None:
    """`train.py rollback` in a new process: the alias swap holds the store lock and its
    first client creates the store under the same lock (this hung before). Run in a child
    process, so a regression fails here instead of hanging the suite."""
    code = (
        "from experiments.tracking import models; "
        "print(models.swap_champion_and_previous('rootcast-h1'))"
    )
    assert _in_child(code) == "None"  # nothing registered: nothing to roll back
