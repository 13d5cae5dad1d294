#!/usr/bin/env python3
"""Power cuts in a loop: how much acknowledged mail a Swallow binary loses.

The long version of tests/interop/test_power_loss.py, with the same workload and check: the
data directory on LazyFS (tests/interop/lazyfs.py, which keeps writes in memory until fsync),
10 SMTP sessions to local users, LMTP, IMAP APPEND and SMTP to a remote domain (it stays in
the outbound queue) for --seconds, then SIGKILL, drop every unsynced write, restart on the same
data and count. One line per cut: acknowledged this cut, lost of everything acknowledged so far
(and how many of those this cut), duplicates. Exits 1 if anything acknowledged was lost or
stored twice.

Usage: bench/durability/power_loss.py [--swallow PATH] [--cuts 20] [--seconds 5]
Needs root, /dev/fuse, Debian's fuse3 and `pip install mfusepy`.
"""
import argparse
import os
import pathlib
import shutil
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "interop"))

from lazyfs import LazyFS                                           # noqa: E402
from test_power_loss import make_server, power_loss_rounds          # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--swallow", default=os.environ.get(
        "SWALLOW_BIN", str(ROOT / ".build" / "debug" / "swallow")))
    p.add_argument("--cuts", type=int, default=20)
    p.add_argument("--seconds", type=float, default=5.0, help="load before each cut")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="swallow-power-loss-"))
    print(f"{args.swallow}: {args.cuts} cuts after {args.seconds:g} s of load each; "
          f"work in {work}")
    acked = lost_before = 0
    duplicates = set()
    try:
        with LazyFS(work / "backing", work / "mnt", log=work / "lazyfs.log") as fs:
            srv = make_server(args.swallow, fs, work / "run")
            try:
                for r in power_loss_rounds(srv, fs, args.cuts, args.seconds):
                    acked += sum(r.acked.values())
                    lost = sum(map(len, r.lost.values()))
                    duplicates |= set(r.duplicates)
                    print(f"{r.line()}; newly lost {lost - lost_before}", flush=True)
                    lost_before = lost
            finally:
                srv.stop()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"total: acked {acked}, lost {lost_before}, duplicates {len(duplicates)}")
    return 1 if lost_before or duplicates else 0


if __name__ == "__main__":
    sys.exit(main())
