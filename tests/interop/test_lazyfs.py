"""LazyFS (lazyfs.py) simulates a power cut correctly: unsynced writes are visible but dropped
at a crash, fsync'd ones survive, and SQLite in WAL mode shows the textbook difference between
`synchronous = FULL` (loses nothing committed) and `NORMAL` (loses what came after the last
checkpoint). test_power_loss.py relies on exactly that."""

from __future__ import annotations

import mmap
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap


from lazyfs import PAGE


def read(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def write_synced(f, data: bytes) -> None:
    f.write(data)
    f.flush()                                    # out of Python's buffer, then to the disk
    os.fsync(f.fileno())


def fsync_path(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------
# plain files


def test_unsynced_write_is_visible_but_not_durable(lazy):
    path = lazy.mountpoint / "f"
    with open(path, "wb") as f:
        write_synced(f, b"first")
    with open(path, "r+b") as f:                 # close() is not a sync
        f.seek(2)
        f.write(b"XXX-and-longer")
    assert read(path) == b"fiXXX-and-longer"
    assert read(lazy.backing / "f") == b"first"
    lazy.crash()
    assert read(path) == b"first"
    assert os.path.getsize(path) == 5


def test_fdatasync_and_sync_make_writes_durable(lazy):
    a, b = lazy.mountpoint / "a", lazy.mountpoint / "b"
    with open(a, "wb") as f:
        f.write(b"A" * (3 * PAGE + 17))
        f.flush()
        os.fdatasync(f.fileno())
    b.write_bytes(b"B" * 10)
    lazy.sync()
    b.write_bytes(b"lost")
    lazy.crash()
    assert read(a) == b"A" * (3 * PAGE + 17)
    assert read(b) == b"B" * 10


def test_truncate_then_extend_reads_zeros_and_crash_restores(lazy):
    path = lazy.mountpoint / "t"
    data = bytes(range(256)) * 40                # 10240 bytes, not page aligned
    with open(path, "wb") as f:
        write_synced(f, data)
    with open(path, "r+b") as f:
        f.truncate(5000)
        f.seek(9000)
        f.write(b"end")
    expect = data[:5000] + bytes(4000) + b"end"
    assert read(path) == expect
    lazy.crash()
    assert read(path) == data
    with open(path, "r+b") as f:                 # the same again, now synced
        f.truncate(5000)
        f.seek(9000)
        write_synced(f, b"end")
    lazy.crash()
    assert read(path) == expect
    assert read(lazy.backing / "t") == expect


def test_dirty_data_follows_a_rename_and_dies_with_the_crash(lazy):
    """Metadata is durable at once (documented in lazyfs.py); data is not."""
    tmp, final = lazy.mountpoint / "tmp", lazy.mountpoint / "final"
    tmp.write_bytes(b"not fsync'd")
    os.rename(tmp, final)
    assert read(final) == b"not fsync'd"
    fsync_path(final)
    final.write_bytes(b"replaced, not fsync'd")
    lazy.crash()
    assert read(final) == b"not fsync'd"


def test_shared_mmap_of_shm_file_is_coherent(lazy):
    """SQLite's -shm is mapped MAP_SHARED by every process; what one writes the others see."""
    path = lazy.mountpoint / "x.sqlite-shm"
    path.write_bytes(bytes(2 * PAGE))
    fd = os.open(path, os.O_RDWR)
    try:
        with mmap.mmap(fd, 2 * PAGE, mmap.MAP_SHARED) as m:
            m[PAGE:PAGE + 5] = b"hello"
            child = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
                import mmap, os
                fd = os.open({str(path)!r}, os.O_RDWR)
                m = mmap.mmap(fd, {2 * PAGE}, mmap.MAP_SHARED)
                assert m[{PAGE}:{PAGE} + 5] == b"hello", m[{PAGE}:{PAGE} + 5]
                m[0:3] = b"abc"
                """)], capture_output=True, text=True, timeout=30)
            assert child.returncode == 0, child.stderr
            assert m[0:3] == b"abc"
    finally:
        os.close(fd)


# --------------------------------------------------------------------------
# SQLite in WAL mode, in a process that is SIGKILLed before the power cut

WRITER = textwrap.dedent("""
    import sqlite3, sys
    path, sync, first, second = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = " + sync)
    for i in range(first):
        db.execute("INSERT INTO t VALUES (?)", (i,))          # one transaction each
    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    for i in range(first, first + second):
        db.execute("INSERT INTO t VALUES (?)", (i,))
    print("committed", flush=True)
    sys.stdin.read()                                           # wait for SIGKILL
    """)


def commits_surviving_power_cut(lazy, sync: str, first: int, second: int) -> int:
    """`first` commits, a checkpoint, `second` commits, each acknowledged; then SIGKILL and a
    power cut. Returns how many committed rows are there afterwards."""
    path = lazy.mountpoint / f"wal-{sync}.sqlite"
    db = sqlite3.connect(path)                   # the table itself is made durable first
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE t (n INTEGER)")
    db.commit()
    db.close()                                   # last close checkpoints (and syncs)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), sync, str(first),
                               str(second)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout.readline().strip() == "committed"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    lazy.crash()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return db.execute("SELECT count(*) FROM t").fetchone()[0]
    finally:
        db.close()


def test_sqlite_wal_synchronous_full_loses_nothing(lazy):
    assert commits_surviving_power_cut(lazy, "FULL", 30, 40) == 70


def test_sqlite_wal_synchronous_normal_loses_commits_after_checkpoint(lazy):
    assert commits_surviving_power_cut(lazy, "NORMAL", 30, 40) == 30
