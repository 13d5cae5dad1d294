"""LazyFS: a FUSE pass-through file system that can simulate a power cut.

    python3 lazyfs.py BACKING MOUNTPOINT     (runs in the foreground until unmounted)

MOUNTPOINT mirrors the directory BACKING, except that file data behaves like a disk's volatile
write cache: every write and truncate is kept in memory (per file, as dirty 4 KiB pages plus a
pending size) and reaches the backing file only when that file is fsync'd or fdatasync'd.
close() and flush do not sync, as on a real file system. Reads see the unsynced data.

Writing `crash` to the control file MOUNTPOINT/.lazyfs drops every unsynced write of every file:
afterwards the files read as they were at their last fsync, as after a power cut. `sync` makes
everything durable (for setup steps that do not fsync); reading the control file returns
counters as JSON. The write returns only once the command is done, so a caller knows the cut
has happened. (Not a signal: the libfuse loop runs in C and Python handlers would never run.)

What is not simulated, on purpose:
- Metadata is durable at once: create, mkdir, unlink, rename, link, chmod and so on go straight
  to BACKING, so directory fsyncs are no-ops. A real file system can lose a fresh file's
  directory entry until the directory is fsync'd; not modelling that can only make a cut look
  kinder, never fail a correct program. Swallow's mail lives in a few long-lived SQLite files,
  where what is lost is data, which is modelled.
- Files named `*-shm` (SQLite's WAL index) are written through. SQLite maps them with
  MAP_SHARED, rebuilds them from the WAL after a crash and never fsyncs them; they are not
  durable state. They are opened with keep_cache so that all processes share the kernel's
  pages, as on a local file system, instead of FUSE dropping them at every open.
- The backing files are not fsync'd: the machine under BACKING never loses power, only LazyFS
  does.

Every other open drops the kernel's page cache for the file (no keep_cache) and attributes are
never cached (attr_timeout=0), so after a crash no process sees the dropped data through the
kernel. No direct_io (SQLite mmaps the -shm file), no writeback cache (each write reaches
LazyFS before write() returns), and no lock handler: the kernel does POSIX and flock locks.

`LazyFS(backing, mountpoint)` runs the file system as a child process, for tests.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

PAGE = 4096
CONTROL = "/.lazyfs"
CONTROL_NAME = CONTROL[1:]


# --------------------------------------------------------------------------
# the unsynced state of one file


class Dirty:
    """What a disk cache holds for one file between two fsyncs.

    `size` is the file's size as processes see it. Backing bytes at or after `floor` are stale:
    the file was truncated below them since the last sync, so they read as zeros. `pages` maps
    a page index to the page's full current content (loaded from backing on first write)."""

    def __init__(self, fd: int):
        self.fd = os.dup(fd)          # keeps the inode alive and writable until sync or crash
        self.size = os.fstat(fd).st_size
        self.floor = self.size
        self.pages: dict[int, bytearray] = {}

    def _backing(self, offset: int, length: int) -> bytearray:
        """Backing bytes [offset, offset+length) as of the last sync: zeros past the floor."""
        valid = max(0, min(length, self.floor - offset))
        data = bytearray(os.pread(self.fd, valid, offset) if valid else b"")
        data.extend(bytes(length - len(data)))
        return data

    def _page(self, index: int) -> bytearray:
        page = self.pages.get(index)
        if page is None:
            page = self.pages[index] = self._backing(index * PAGE, PAGE)
        return page

    def read(self, offset: int, length: int) -> bytes:
        end = min(offset + length, self.size)
        if end <= offset:
            return b""
        data = self._backing(offset, end - offset)
        for index in range(offset // PAGE, (end - 1) // PAGE + 1):
            page = self.pages.get(index)
            if page is not None:
                start = max(offset, index * PAGE)
                stop = min(end, index * PAGE + PAGE)
                data[start - offset:stop - offset] = page[start - index * PAGE:stop - index * PAGE]
        return bytes(data)

    def write(self, offset: int, data: bytes) -> None:
        pos = 0
        while pos < len(data):
            index, within = divmod(offset + pos, PAGE)
            n = min(PAGE - within, len(data) - pos)
            self._page(index)[within:within + n] = data[pos:pos + n]
            pos += n
        self.size = max(self.size, offset + len(data))

    def truncate(self, length: int) -> None:
        if length < self.size:
            self.floor = min(self.floor, length)
            for index in [i for i in self.pages if i * PAGE >= length]:
                del self.pages[index]
            index, within = divmod(length, PAGE)
            if within and index in self.pages:       # bytes past the end must read as 0 later
                self.pages[index][within:] = bytes(PAGE - within)
        self.size = length

    def write_back(self) -> int:
        """The fsync: make the backing file equal to what processes see. Returns bytes written."""
        os.ftruncate(self.fd, self.floor)             # the stale tail goes first
        written = 0
        for index, page in sorted(self.pages.items()):
            chunk = page[:min(PAGE, self.size - index * PAGE)]
            written += os.pwrite(self.fd, chunk, index * PAGE)
        os.ftruncate(self.fd, self.size)
        return written

    def close(self) -> None:
        os.close(self.fd)


# --------------------------------------------------------------------------
# the file system


def _make_operations():
    """The Operations class. mfusepy loads libfuse when imported, so only the file-system
    process imports it: a test importing this module for LazyFS fails, without libfuse, with
    the child's message in LazyFS's error rather than at collection."""
    import mfusepy as fuse

    class LazyOperations(fuse.Operations):
        use_ns = True   # utimens gets nanoseconds

        def __init__(self, backing: str):
            self.backing = os.path.realpath(backing)
            # One lock: libfuse runs callbacks on many threads. (Not named `lock`: mfusepy would
            # take that for the lock operation, and the kernel must do locking itself.)
            self.mutex = threading.Lock()
            # fh -> (backing fd, backing st_ino, written through?)
            self.handles: dict[int, tuple[int, int, bool]] = {}
            self.next_fh = 1
            self.dirty: dict[int, Dirty] = {}     # backing st_ino -> unsynced state
            self.counters = {"fsyncs": 0, "bytes_synced": 0, "crashes": 0,
                             "files_dropped": 0, "bytes_dropped": 0}

        def _real(self, path: str) -> str:
            return self.backing + path

        # ---- control file

        def _control(self, command: str) -> None:
            with self.mutex:
                if command == "crash":
                    self.counters["crashes"] += 1
                    for d in self.dirty.values():
                        self.counters["files_dropped"] += 1
                        self.counters["bytes_dropped"] += len(d.pages) * PAGE
                        d.close()
                    self.dirty.clear()
                elif command == "sync":
                    for d in self.dirty.values():
                        self.counters["bytes_synced"] += d.write_back()
                        d.close()
                    self.dirty.clear()
                else:
                    raise fuse.FuseOSError(errno.EINVAL)

        def _status(self) -> bytes:
            with self.mutex:
                status = dict(self.counters, dirty_files=len(self.dirty),
                              dirty_bytes=sum(len(d.pages) * PAGE for d in self.dirty.values()))
            return (json.dumps(status) + "\n").encode()

        # ---- handles and dirty state

        def _add_handle(self, fi, fd: int, path: str) -> None:
            through = path.endswith("-shm")
            with self.mutex:
                fh = self.next_fh
                self.next_fh += 1
                self.handles[fh] = (fd, os.fstat(fd).st_ino, through)
            fi.fh = fh
            fi.keep_cache = 1 if through else 0     # see the module comment on -shm

        def _dirty_for(self, fd: int, ino: int) -> Dirty:
            d = self.dirty.get(ino)
            if d is None:
                d = self.dirty[ino] = Dirty(fd)
            return d

        @staticmethod
        def _open_flags(flags: int) -> int:
            """Backing files are always opened read-write: a later fsync or `sync` through any
            handle may have to write data another handle wrote. O_APPEND and O_TRUNC are done
            here (the kernel passes append offsets; truncation must be lazy)."""
            drop = os.O_ACCMODE | os.O_APPEND | os.O_TRUNC | os.O_CREAT | os.O_EXCL
            return (flags & ~drop) | os.O_RDWR

        # ---- files

        def open(self, path, fi):
            if path == CONTROL:
                fi.fh = 0
                fi.direct_io = 1                 # only here: its content is not a file's
                return 0
            fd = os.open(self._real(path), self._open_flags(fi.flags))
            self._add_handle(fi, fd, path)
            if fi.flags & os.O_TRUNC:
                self.truncate(path, 0)
            return 0

        def create(self, path, mode, fi):
            if path == CONTROL:
                raise fuse.FuseOSError(errno.EEXIST)
            flags = self._open_flags(fi.flags) | os.O_CREAT | (fi.flags & os.O_EXCL)
            fd = os.open(self._real(path), flags, mode)
            self._add_handle(fi, fd, path)
            return 0

        def read(self, path, size, offset, fi):
            if fi.fh == 0:
                return self._status()[offset:offset + size]
            with self.mutex:
                fd, ino, _ = self.handles[fi.fh]
                d = self.dirty.get(ino)
                if d is not None:
                    return d.read(offset, size)
                return os.pread(fd, size, offset)

        def write(self, path, data, offset, fi):
            if fi.fh == 0:
                self._control(data.decode(errors="replace").strip())
                return len(data)
            with self.mutex:
                fd, ino, through = self.handles[fi.fh]
                if through:
                    return os.pwrite(fd, data, offset)
                self._dirty_for(fd, ino).write(offset, data)
                return len(data)

        def truncate(self, path, length, fh=None):
            if path == CONTROL:
                return 0
            # mfusepy passes no file handle for libfuse 3; the path is always valid here
            # (no hard_remove: libfuse renames open files that are unlinked)
            fd = os.open(self._real(path), os.O_RDWR)
            try:
                with self.mutex:
                    if path.endswith("-shm"):
                        os.ftruncate(fd, length)
                    else:
                        self._dirty_for(fd, os.fstat(fd).st_ino).truncate(length)
            finally:
                os.close(fd)
            return 0

        def fsync(self, path, datasync, fi):
            if fi.fh == 0:
                return 0
            with self.mutex:
                _, ino, _ = self.handles[fi.fh]
                self.counters["fsyncs"] += 1
                d = self.dirty.pop(ino, None)
                if d is not None:
                    self.counters["bytes_synced"] += d.write_back()
                    d.close()
            return 0

        def flush(self, path, fi):
            return 0                             # close() is not a sync

        def release(self, path, fi):
            if fi.fh != 0:
                with self.mutex:
                    fd, _, _ = self.handles.pop(fi.fh)
                os.close(fd)                     # unsynced data stays in self.dirty
            return 0

        def getattr(self, path, fh=None):
            if path == CONTROL:
                now = time.time_ns()
                return {"st_mode": stat.S_IFREG | 0o600, "st_nlink": 1, "st_size": 0,
                        "st_atime": now, "st_mtime": now, "st_ctime": now}
            st = os.lstat(self._real(path))
            attrs = {key: getattr(st, key) for key in (
                "st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_blocks",
                "st_atime_ns", "st_mtime_ns", "st_ctime_ns")}
            for key in ("st_atime", "st_mtime", "st_ctime"):
                attrs[key] = attrs.pop(key + "_ns")
            with self.mutex:
                d = self.dirty.get(st.st_ino) if stat.S_ISREG(st.st_mode) else None
                if d is not None:
                    attrs["st_size"] = d.size
                    attrs["st_blocks"] = (d.size + 511) // 512
            return attrs

        # ---- metadata: straight to the backing directory (durable at once, see above)

        def access(self, path, amode):
            if path != CONTROL and not os.access(self._real(path), amode):
                raise fuse.FuseOSError(errno.EACCES)
            return 0

        def readdir(self, path, fh):
            return [".", ".."] + os.listdir(self._real(path))

        def mkdir(self, path, mode):
            os.mkdir(self._real(path), mode)
            return 0

        def rmdir(self, path):
            os.rmdir(self._real(path))
            return 0

        def unlink(self, path):
            os.unlink(self._real(path))
            return 0

        def rename(self, old, new):
            os.rename(self._real(old), self._real(new))
            return 0

        def link(self, target, source):
            os.link(self._real(source), self._real(target))
            return 0

        def symlink(self, target, source):
            os.symlink(source, self._real(target))
            return 0

        def readlink(self, path):
            return os.readlink(self._real(path))

        def chmod(self, path, mode):
            os.chmod(self._real(path), mode)
            return 0

        def chown(self, path, uid, gid):
            os.lchown(self._real(path), uid, gid)
            return 0

        def utimens(self, path, times=None):
            if times is None:
                os.utime(self._real(path), follow_symlinks=False)
            else:
                os.utime(self._real(path), ns=times, follow_symlinks=False)
            return 0

        def statfs(self, path):
            sv = os.statvfs(self._real(path))
            return {key: getattr(sv, key) for key in (
                "f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree",
                "f_favail", "f_flag", "f_namemax")}

        def fsyncdir(self, path, datasync, fh):
            return 0                             # directories are always durable here

    return fuse, LazyOperations


def serve(backing: str, mountpoint: str) -> None:
    fuse, operations = _make_operations()
    # (libfuse 3.14.0 logs "Ignoring invalid max threads value 4294967295": harmless, it then
    # uses its default number of threads.)
    fuse.FUSE(operations(backing), mountpoint, raw_fi=True, foreground=True, fsname="lazyfs",
              # attributes and names are never cached: sizes shrink at a crash
              attr_timeout=0, entry_timeout=0, negative_timeout=0,
              # unmount even when this process is killed
              auto_unmount=True)


# --------------------------------------------------------------------------
# for tests


class LazyFS:
    """Runs `lazyfs.py backing mountpoint` as a child process, mounted when the constructor
    returns. Use as a context manager (or call unmount()): it unmounts even after a failure."""

    def __init__(self, backing: str | os.PathLike, mountpoint: str | os.PathLike,
                 log: str | os.PathLike | None = None, timeout: float = 15.0):
        self.backing = Path(backing)
        self.mountpoint = Path(mountpoint)
        self.control = self.mountpoint / CONTROL_NAME
        self.log_path = Path(log) if log else self.backing.parent / "lazyfs.log"
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), str(self.backing),
                 str(self.mountpoint)],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)
        self._wait_mounted(timeout)

    def _wait_mounted(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not os.path.ismount(self.mountpoint):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.unmount()
                raise RuntimeError(f"lazyfs did not mount {self.mountpoint}:\n"
                                   + self.log_path.read_text(errors="replace"))
            time.sleep(0.05)

    def _command(self, command: str) -> None:
        fd = os.open(self.control, os.O_WRONLY)
        try:
            os.write(fd, command.encode())
        finally:
            os.close(fd)

    def crash(self) -> None:
        """Power cut: every write not fsync'd since is gone (returns once it is). Kill the
        processes using the mount first, as the cut would: the kernel drops a file's cached
        pages at its next open, not under a process that still has it open."""
        self._command("crash")

    def sync(self) -> None:
        """Everything written so far becomes durable (like a `sync` before the test starts)."""
        self._command("sync")

    def stats(self) -> dict:
        """Counters: fsyncs, bytes_synced, crashes, files_dropped, bytes_dropped, and what a
        crash now would drop (dirty_files, dirty_bytes)."""
        return json.loads(self.control.read_bytes())

    def unmount(self) -> None:
        """Unmount and end the process. If something still uses the mount (a test failed
        with a server running), detach it lazily and kill the process: users get ENOTCONN."""
        wait = 10.0
        if os.path.ismount(self.mountpoint):
            for command in (["fusermount3", "-u"], ["fusermount3", "-uz"], ["umount", "-l"]):
                done = subprocess.run(command + [str(self.mountpoint)], capture_output=True)
                if done.returncode == 0:
                    break
                wait = 1.0                       # a lazy unmount leaves the process serving
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self) -> "LazyFS":
        return self

    def __exit__(self, *exc) -> None:
        self.unmount()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: lazyfs.py BACKING MOUNTPOINT")
    serve(sys.argv[1], sys.argv[2])
