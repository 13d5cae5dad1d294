"""Helpers for interop tests that drive third-party client programs (mbsync, fetchmail).

`ensure_program` finds a client binary and, when it is missing and we are root on Debian,
installs its package with apt-get (bounded in time), so a fresh CI machine whose .ci/run does not
list the package yet still runs the tests instead of skipping them. Skips are failures for the
Swift wrapper (Tests/InteropTests/PythonInteropTests.swift), so a missing peer is never silent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from conftest import register_log

APT_TIMEOUT = 600


def ensure_program(name: str, package: str) -> str | None:
    """Path of `name`, installing Debian package `package` first if needed; None if unavailable."""
    found = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=APT_TIMEOUT, env=env)
        if r.returncode != 0:
            # Package lists may be missing on a fresh machine.
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=APT_TIMEOUT, env=env)
            subprocess.run(cmd, capture_output=True, timeout=APT_TIMEOUT, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return shutil.which(name)


class ClientLog:
    """An append-only log file of every run of a client program in one test; registered with
    conftest so a failing test's report shows it next to the server's log."""

    def __init__(self, path: Path, title: str):
        self.path = Path(path)
        self.path.write_bytes(b"")
        self.title = title
        register_log(f"{title} ({self.path})", self.path)
        self.runs = 0

    def run(self, argv: list[str], timeout: float, env: dict | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Run argv with stdin closed, stdout and stderr merged; the output is appended to the log
        with a header naming the command, exit code and time taken. Returns the CompletedProcess
        (stdout as text). A run that exceeds `timeout` is killed and reported as exit code -9."""
        self.runs += 1
        started = time.monotonic()
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=timeout, env=env, cwd=cwd)
            out, rc = r.stdout, r.returncode
        except subprocess.TimeoutExpired as e:
            out, rc = (e.stdout or b"") + f"\n*** killed after {timeout}s\n".encode(), -9
        took = time.monotonic() - started
        text = out.decode("utf-8", "replace")
        with open(self.path, "a") as f:
            f.write(f"===== run {self.runs}: {' '.join(argv)}\n")
            f.write(text)
            f.write(f"===== run {self.runs}: exit {rc} after {took:.2f}s\n\n")
        return subprocess.CompletedProcess(argv, rc, text, "")


class ThrowawayPostfix:
    """What every throwaway Postfix instance in these tests shares: stopping exactly the
    master we started (by its PID), and its log. Subclasses set `root`, `log_path`, `started`
    and provide `postfix(*args)`."""

    def master_pid(self) -> int | None:
        try:
            return int((self.root / "queue" / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self):
        if not self.started:
            return
        pid = self.master_pid()
        self.postfix("stop")
        deadline = time.monotonic() + 20
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            if pid:
                self.postfix("abort")
                try:
                    os.kill(pid, 9)     # the master we started, by its own PID
                except ProcessLookupError:
                    pass
        self.started = False

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no postfix log)"
