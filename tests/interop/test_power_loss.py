"""Power loss, not just SIGKILL: every acknowledged message survives a power cut, once.

SIGKILL leaves the kernel's page cache alone, so a server that acknowledges before its data is
fsync'd passes test_durability.py. Here the data directory lives on LazyFS (lazyfs.py), which
keeps every write in memory until the file is fsync'd and drops it all on `crash`. A cut is:
clients busy on SMTP (to local users and to a remote domain, which stays queued), LMTP and IMAP
APPEND; SIGKILL the server; drop everything not fsync'd; restart on the same data. Then every
acknowledged message must be there exactly once, and nothing may be there twice.

The workload and the check are shared with bench/durability/power_loss.py (the long loop).
"""

from __future__ import annotations

import collections
import imaplib
import re
import smtplib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


from conftest import ALICE, ALICE_PASSWORD, BOB, Swallow, unregister_log
from lazyfs import LazyFS

from outbound_helpers import queue_list

QUEUED = re.compile(r"queued as ([0-9A-Fa-f]{16})")
MARKER = re.compile(rb"(?m)^X-Marker: (\S+)\r?$")
REMOTE = "someone@remote.test"       # no resolver answers (127.0.0.1:1): it stays queued
SMTP_SESSIONS = 10
KINDS = ("smtp", "lmtp", "imap")     # local deliveries; "remote" is the outbound queue


# --------------------------------------------------------------------------
# setup


def make_server(binary: str, fs: LazyFS, root: Path) -> Swallow:
    """A server whose data directory is on the LazyFS mount; its logs and exports stay in
    `root`, off the mount (a cut must not eat the evidence)."""
    root.mkdir(parents=True, exist_ok=True)
    srv = Swallow(binary, root)
    srv.data_dir = fs.mountpoint / "data"
    srv.config = srv.data_dir / "swallow.toml"
    srv.init(allow_plaintext=True, listeners=("imap",))
    srv.add_default_accounts()
    # Setup edits (the config file) are written without fsync; the cuts are about mail.
    fs.sync()
    return srv


# --------------------------------------------------------------------------
# the workload


def message(marker: str, to: str) -> bytes:
    return (f"From: <sender@outside.test>\r\nTo: <{to}>\r\nSubject: {marker}\r\n"
            f"Message-ID: <{marker}@outside.test>\r\nX-Marker: {marker}\r\n\r\n"
            f"body of {marker}\r\n").encode()


@dataclass
class Ledger:
    """What the server acknowledged: local markers by kind, remote queue IDs (`swallow queue
    list` shows IDs, so a remote message is tracked by the ID its 250 named)."""
    local: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))
    remote: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dropped: dict = field(default_factory=dict)     # lazyfs stats just before the cut
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ack(self, kind: str, marker: str) -> None:
        with self.lock:
            self.local[kind].append(marker)

    def ack_remote(self, qid: str) -> None:
        with self.lock:
            self.remote.append(qid)


def smtp_transaction(s: smtplib.SMTP, marker: str, to: str) -> tuple[int, str | None]:
    """One MAIL/RCPT/DATA; returns the reply code to DATA (for LMTP: the one recipient's)
    and the queue ID it names."""
    if s.mail("sender@outside.test")[0] != 250 or s.rcpt(to)[0] != 250:
        s.rset()
        return 0, None
    code, text = s.data(message(marker, to))
    m = QUEUED.search(text.decode(errors="replace"))
    return code, m.group(1).upper() if m else None


def smtp_client(ledger: Ledger, stop: threading.Event, name: str, kind: str, port: int,
                to_of) -> None:
    """One SMTP or LMTP session sending messages to `to_of(n)` until `stop`; each is recorded
    only after its 250."""
    client = smtplib.LMTP if kind == "lmtp" else smtplib.SMTP
    with client("127.0.0.1", port, timeout=30) as s:
        s.ehlo_or_helo_if_needed()
        n = 0
        while not stop.is_set():
            n += 1
            marker, to = f"{name}-{n}-m", to_of(n)
            code, qid = smtp_transaction(s, marker, to)
            if code != 250:
                continue
            assert qid or kind == "lmtp", f"250 without a queue ID for {marker}"
            if kind == "remote":
                ledger.ack_remote(qid)
            else:
                ledger.ack(kind, marker)


def imap_client(ledger: Ledger, stop: threading.Event, name: str, kind: str, port: int) -> None:
    """One IMAP session appending to alice's INBOX until `stop`."""
    m = imaplib.IMAP4("127.0.0.1", port, timeout=30)
    try:
        m.login(ALICE, ALICE_PASSWORD)
        n = 0
        while not stop.is_set():
            n += 1
            marker = f"{name}-{n}-m"
            typ, _ = m.append("INBOX", None, None, message(marker, ALICE))
            if typ == "OK":                     # the tagged OK is the acknowledgement
                ledger.ack(kind, marker)
    finally:
        try:
            m.shutdown()
        except OSError:
            pass


def run_load_and_cut(srv: Swallow, fs: LazyFS, cut: int, seconds: float) -> Ledger:
    """Clients run for `seconds`; then, while they are still going, SIGKILL and power cut."""
    ledger, stop, killed = Ledger(), threading.Event(), threading.Event()
    clients = [(f"c{cut}-smtp-{i}", "smtp", smtp_client,
                (srv.smtp, lambda n, i=i: (ALICE, BOB)[(n + i) % 2]))
               for i in range(SMTP_SESSIONS)]
    clients += [(f"c{cut}-lmtp", "lmtp", smtp_client, (srv.lmtp, lambda n: BOB)),
                (f"c{cut}-imap", "imap", imap_client, (srv.ports["imap"],)),
                (f"c{cut}-remote", "remote", smtp_client, (srv.smtp, lambda n: REMOTE))]

    def run(name, kind, fn, args):
        try:
            fn(ledger, stop, name, kind, *args)
        except Exception as e:                  # noqa: BLE001 - reported below
            if not killed.is_set():             # failing after the kill is the point
                ledger.errors.append(f"{name}: {e!r}")

    threads = [threading.Thread(target=run, args=client) for client in clients]
    for t in threads:
        t.start()
    time.sleep(seconds)
    killed.set()
    srv.kill()                                  # the power goes: the process first ...
    stop.set()
    for t in threads:
        t.join(timeout=60)
    ledger.dropped = fs.stats()
    fs.crash()                                  # ... and with it whatever was not fsync'd
    return ledger


# --------------------------------------------------------------------------
# the check


@dataclass
class CutReport:
    cut: int
    acked: dict[str, int]           # by kind, this cut only
    lost: dict[str, list[str]]      # by kind, of everything acknowledged so far
    duplicates: dict[str, int]      # marker or queue ID -> copies
    dropped: dict                   # what the cut dropped (lazyfs dirty_files, dirty_bytes)

    def line(self) -> str:
        def by_kind(counts: dict[str, int]) -> str:
            return f"{sum(counts.values())} (" + ", ".join(
                f"{k} {n}" for k, n in sorted(counts.items())) + ")"
        return (f"cut {self.cut}: acked {by_kind(self.acked)}, "
                f"lost so far {by_kind({k: len(v) for k, v in self.lost.items()})}, "
                f"duplicates {len(self.duplicates)}; the cut dropped "
                f"{self.dropped['dirty_bytes'] // 1024} KiB unsynced in "
                f"{self.dropped['dirty_files']} files")


def stored_markers(srv: Swallow) -> collections.Counter:
    found: collections.Counter = collections.Counter()
    for user in (ALICE, BOB):
        for raw in srv.inbox_raw(user):
            found.update(m.decode() for m in MARKER.findall(raw))
    return found


def check_after_restart(srv: Swallow, cut: int, ledgers: list[Ledger]) -> CutReport:
    """Counts, after the restart, what all cuts so far acknowledged."""
    markers = stored_markers(srv)
    queued = collections.Counter(e.id for e in queue_list(srv))
    lost: dict[str, list[str]] = {kind: [] for kind in KINDS + ("remote",)}
    for ledger in ledgers:
        for kind, acked in ledger.local.items():
            lost[kind] += [m for m in acked if markers[m] == 0]
        lost["remote"] += [q for q in ledger.remote if queued[q] == 0]
    duplicates = {k: n for k, n in (markers + queued).items() if n > 1}
    acked = {kind: len(ledgers[-1].local[kind]) for kind in KINDS}
    acked["remote"] = len(ledgers[-1].remote)
    return CutReport(cut, acked, lost, duplicates, ledgers[-1].dropped)


def power_loss_rounds(srv: Swallow, fs: LazyFS, cuts: int, seconds: float):
    """`cuts` rounds of load, cut, restart and check; yields a CutReport after each. The server
    restarted after a cut takes the next round's load (it is never stopped cleanly, which
    would checkpoint); the caller stops it."""
    ledgers: list[Ledger] = []
    srv.start()
    for cut in range(1, cuts + 1):
        ledger = run_load_and_cut(srv, fs, cut, seconds)
        assert not ledger.errors, f"clients failed before the cut: {ledger.errors[:5]}"
        ledgers.append(ledger)
        srv.start()
        yield check_after_restart(srv, cut, ledgers)


# --------------------------------------------------------------------------
# the test


def test_acknowledged_mail_survives_power_cuts(swallow_bin, lazy, tmp_path):
    srv = make_server(swallow_bin, lazy, tmp_path / "run")
    try:
        for r in power_loss_rounds(srv, lazy, cuts=3, seconds=3.0):
            print(r.line())
            assert min(r.acked.values()) > 0, f"some client got nothing acknowledged: {r.line()}"
            lost = {k: v[:5] for k, v in r.lost.items() if v}
            assert not lost and not r.duplicates, (
                f"{r.line()}\nlost (first 5 per kind): {lost}\n"
                f"duplicates (first 10): {dict(list(r.duplicates.items())[:10])}")
    finally:
        srv.stop()
        unregister_log(srv.log_path)
