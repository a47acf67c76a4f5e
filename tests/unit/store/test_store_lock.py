"""The one-writer rule: one process writes a data directory; others get StoreLocked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import StoreLocked
from bot.store.db import Database, writer_pid

HOLD = """
import sys
from pathlib import Path
from bot.store.db import Database
db = Database.open(Path(sys.argv[1]))
print("held", flush=True)
sys.stdin.readline()
db.close()
print("released", flush=True)
"""

TRY_OPEN = """
import sys
from pathlib import Path
from bot.errors import StoreLocked
from bot.store.db import Database
try:
    Database.open(Path(sys.argv[1])).close()
except StoreLocked:
    sys.exit(3)
"""


@pytest.fixture
def holder(data_dir: Path):
    """Another process that holds the data directory until its stdin gets a line."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def _release(proc: subprocess.Popen) -> None:
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "released"
    proc.wait(timeout=30)


def test_second_writer_in_another_process_gets_store_locked(data_dir: Path, holder) -> None:
    with pytest.raises(StoreLocked):
        Database.open(data_dir)
    assert writer_pid(data_dir) == holder.pid


def test_readonly_open_is_refused_while_a_writer_runs(data_dir: Path, holder) -> None:
    with pytest.raises(StoreLocked):
        Database.open_readonly(data_dir)


def test_lock_is_released_when_the_writer_closes(data_dir: Path, holder) -> None:
    _release(holder)
    assert writer_pid(data_dir) is None
    with Database.open(data_dir) as db:
        assert writer_pid(data_dir) is not None
        assert db.schema_version() >= 1


def test_lock_is_released_when_the_writer_dies(data_dir: Path, holder) -> None:
    holder.kill()
    holder.wait(timeout=30)
    with Database.open(data_dir):
        pass


def test_child_process_is_refused_while_this_process_writes(data_dir: Path) -> None:
    db = Database.open(data_dir)
    try:
        child = subprocess.run([sys.executable, "-c", TRY_OPEN, str(data_dir)], timeout=60)
        assert child.returncode == 3
    finally:
        db.close()
    child = subprocess.run([sys.executable, "-c", TRY_OPEN, str(data_dir)], timeout=60)
    assert child.returncode == 0


def test_same_process_cannot_open_twice(data_dir: Path) -> None:
    with Database.open(data_dir), pytest.raises(StoreLocked):
        Database.open(data_dir)
    with Database.open(data_dir):
        pass
