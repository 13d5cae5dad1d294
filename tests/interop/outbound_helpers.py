"""Helpers for the outbound-delivery interop tests: real peers (dnsmasq, Postfix's smtp-sink)
run as child processes on loopback, a tiny scripted SMTP server, submission that returns the
queue ID, `swallow queue list` parsing and RFC 3464 bounce parsing.

Everything started here is stopped by its own PID; logs are registered with conftest so a
failing test's report shows them.
"""

from __future__ import annotations

import email
import email.message
import email.parser
import email.policy
import imaplib
import os
import re
import shutil
import smtplib
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import register_log, tls_client_context, unregister_log
from script_peer import Esmtp, Received, ScriptPeer  # noqa: F401 (Received: for tests)

DNSMASQ = shutil.which("dnsmasq") or ("/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq")
                                      else None)
SMTP_SINK = shutil.which("smtp-sink") or ("/usr/sbin/smtp-sink"
                                          if os.path.exists("/usr/sbin/smtp-sink") else None)

QUEUED = re.compile(r"^2\.0\.0 Ok: queued as ([0-9A-Fa-f]{16})$")


# --------------------------------------------------------------------------
# waiting


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    """Poll `predicate()` until it returns something truthy; returns it. On timeout, fails with
    `what` (a string or a callable giving one, evaluated at failure time)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {detail}")
        time.sleep(interval)


def imap_message(port: int, user: str, password: str, marker: str, mailbox: str = "INBOX",
                 timeout: float = 30.0, unique: bool = False) -> bytes:
    """Polls `mailbox` over IMAP (STARTTLS, LOGIN) until a message containing `marker` is
    there; returns its BODY[]. `unique`: fail when more than one message has the marker."""
    def look():
        m = imaplib.IMAP4("127.0.0.1", port, timeout=30)
        try:
            m.starttls(ssl_context=tls_client_context())
            m.login(user, password)
            typ, data = m.select(mailbox, readonly=True)
            assert typ == "OK", data
            if int(data[0]) == 0:
                return None
            typ, data = m.fetch("1:*", "(BODY.PEEK[])")
            assert typ == "OK", data
            hits = [item[1] for item in data if isinstance(item, tuple) and marker.encode() in item[1]]
            assert not unique or len(hits) <= 1, f"{len(hits)} messages with {marker!r}"
            return hits[0] if hits else None
        finally:
            try:
                m.logout()
            except Exception:   # noqa: BLE001 - best effort
                pass
    return wait_for(look, timeout, f"a message with {marker!r} in {user}'s {mailbox} over IMAP", interval=0.3)


def log_lines(srv, *needles: str) -> list[str]:
    """Lines of the server's log containing every needle."""
    return [l for l in srv.log_text().splitlines() if all(n in l for n in needles)]


def wait_log(srv, *needles: str, timeout: float = 30.0) -> list[str]:
    return wait_for(lambda: log_lines(srv, *needles), timeout,
                    lambda: f"a log line of {srv.name} with {needles!r}")


# --------------------------------------------------------------------------
# ports


def free_port_udp_tcp(host: str = "127.0.0.1") -> int:
    """A port free for both TCP and UDP on `host` (a DNS server listens on both)."""
    for _ in range(100):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind((host, 0))
            port = t.getsockname()[1]
            try:
                u.bind((host, port))
            except OSError:
                continue
            return port
        finally:
            t.close()
            u.close()
    raise RuntimeError("no port free for both TCP and UDP")


def port_is_free(host: str, port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def require_port_25(ip: str, timeout: float = 90.0):
    """ip:25 must be bindable. Another program on this machine may hold it (or 0.0.0.0:25)
    for a while, e.g. a `swallow serve` on a default config: wait for it, bounded."""
    deadline = time.monotonic() + timeout
    while not port_is_free(ip, 25):
        if time.monotonic() > deadline:
            holders = subprocess.run(["ss", "-ltnp", "sport = :25"], capture_output=True,
                                     text=True).stdout
            pytest.fail(f"{ip}:25 stayed in use for {timeout}s; these tests need it:\n{holders}")
        time.sleep(0.5)


def closed_port() -> int:
    """A 127.0.0.1 TCP port where nothing listens (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# a few DNS queries (to check that the DNS peer says what the test assumes)

QTYPES = {"A": 1, "MX": 15, "AAAA": 28}


def dns_query(port: int, name: str, qtype: str, host: str = "127.0.0.1",
              timeout: float = 2.0) -> tuple[int, int, bool]:
    """One UDP query without EDNS; returns (RCODE, ANCOUNT, TC: the answer was truncated)."""
    qid = os.getpid() & 0xFFFF
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        packet += bytes([len(label)]) + label.encode()
    packet += b"\0" + struct.pack(">HH", QTYPES[qtype], 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (host, port))
        data, _ = s.recvfrom(4096)
    rid, flags, _qd, ancount, _ns, _ar = struct.unpack(">HHHHHH", data[:12])
    assert rid == qid, "DNS answer with a different ID"
    return flags & 0xF, ancount, bool(flags & 0x0200)


# --------------------------------------------------------------------------
# dnsmasq


class Dnsmasq:
    """dnsmasq serving fixed records on 127.0.0.1:PORT over UDP and TCP (PEERS.md)."""

    def __init__(self, root: Path, records: list[str]):
        self.root = Path(root)
        self.records = records
        self.port = free_port_udp_tcp()
        self.log_path = self.root / "dnsmasq.log"
        self.proc: subprocess.Popen | None = None

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self):
        assert DNSMASQ, "dnsmasq is not installed (Debian package dnsmasq-base)"
        cmd = [DNSMASQ, "--keep-in-foreground", f"--port={self.port}",
               "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
               "--conf-file=/dev/null", "--user=root", "--local=/test/", "--log-queries",
               f"--log-facility={self.log_path}", *self.records]
        with open(self.root / "dnsmasq.stderr", "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         start_new_session=True)
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dnsmasq exited {self.proc.returncode}: "
                                   f"{(self.root / 'dnsmasq.stderr').read_text(errors='replace')}")
            try:
                dns_query(self.port, "ready.test", "A", timeout=0.5)
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("dnsmasq does not answer") from None
                time.sleep(0.1)

    def stop(self):
        p = self.proc
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no dnsmasq log)"


# --------------------------------------------------------------------------
# Postfix's smtp-sink


class SmtpSink:
    """/usr/sbin/smtp-sink on host:port, dumping every transaction to a file in `dump_dir`
    (one file per message). `options` are extra smtp-sink flags, e.g. ["-r", "RCPT"] (450 to
    every RCPT) or ["-f", "RCPT"] (500 to every RCPT). Restart with other options on the same
    port with restart()."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int | None = None,
                 name: str = "smtp-sink"):
        from conftest import free_port
        self.root = Path(root)
        self.host = host
        self.port = port or free_port()
        self.name = name
        self.dump_dir = self.root / f"{name}-dump"
        self.dump_dir.mkdir(exist_ok=True)
        os.chmod(self.dump_dir, 0o777)          # smtp-sink writes as nobody
        os.chmod(self.root, 0o755)
        self.log_path = self.root / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.options: list[str] = []

    @property
    def hop(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, options: list[str] = ()):
        assert SMTP_SINK, "smtp-sink is not installed (Debian package postfix)"
        self.options = list(options)
        cmd = [SMTP_SINK, "-u", "nobody", "-v", "-d", str(self.dump_dir) + "/%Y%m%d%H%M%S.",
               *self.options, f"{self.host}:{self.port}", "64"]
        register_log(f"{self.name} ({self.log_path})", self.log_path)
        with open(self.log_path, "ab") as log:
            log.write(f"--- start: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"smtp-sink exited {self.proc.returncode}:\n"
                                   f"{self.log_path.read_text(errors='replace')}")
            try:
                # listening is enough (with -Q CONNECT the greeting is a 421)
                with socket.create_connection((self.host, self.port), timeout=2) as s:
                    s.settimeout(5)
                    if re.match(rb"\d{3}[ -]", s.recv(100)):
                        s.sendall(b"QUIT\r\n")
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"smtp-sink not answering on {self.hop}")
            time.sleep(0.1)

    def stop(self):
        p = self.proc
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)

    def clear(self):
        """Forget the transactions dumped so far."""
        for p in self.dump_dir.iterdir():
            if p.is_file():
                p.unlink()

    def restart(self, options: list[str] = ()):
        self.stop()
        deadline = time.monotonic() + 10
        while not port_is_free(self.host, self.port) and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.start(options)

    def close(self):
        self.stop()
        unregister_log(self.log_path)

    def messages(self) -> list[bytes]:
        """Every dumped transaction: smtp-sink's X-* headers, its Received, then the message."""
        out = []
        for p in sorted(self.dump_dir.iterdir()):
            if p.is_file():
                out.append(p.read_bytes())
        return out

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no smtp-sink log)"


# --------------------------------------------------------------------------
# a tiny scripted SMTP server (for behaviour smtp-sink cannot script, e.g. "451 once")


class ScriptedSMTP:
    """A minimal ESMTP server on 127.0.0.1 (script_peer.Esmtp: PIPELINING, 8BITMIME, SIZE; no
    STARTTLS, no CHUNKING, no SMTPUTF8).

    `rcpt_reply(n, address)` gives the reply line for the n-th RCPT command it ever receives
    (n counts from 1, across connections); default 250. `size_limit` is announced as SIZE.
    `messages` are `Received` (helo, mail_from, rcpts, data); `transcript` ("C"|"S", line)."""

    def __init__(self, rcpt_reply=None, size_limit: int = 10_000_000):
        self.script = Esmtp(rcpt_reply=rcpt_reply or "250 2.1.5 Ok", size_limit=size_limit)
        self.peer: ScriptPeer | None = None

    def start(self):
        self.peer = ScriptPeer(self.script)
        return self

    @property
    def size_limit(self) -> int:
        return self.script.size_limit

    @size_limit.setter
    def size_limit(self, value: int):
        self.script.size_limit = value

    @property
    def messages(self) -> list[Received]:
        return self.script.messages

    @property
    def transcript(self) -> list[tuple[str, str]]:
        return self.script.transcript

    @property
    def hop(self) -> str:
        return self.peer.hop

    def stop(self):
        self.peer.stop()


# --------------------------------------------------------------------------
# submission


def submit(host: str, port: int, sender: str, rcpts: list[str], raw: bytes,
           user: str | None = None, password: str | None = None, starttls: bool = True,
           mail_options=(), rcpt_options=(), helo: str = "client.outside.test") -> str:
    """One SMTP transaction (STARTTLS and AUTH when asked); returns the queue ID from
    `250 2.0.0 Ok: queued as ID`."""
    with smtplib.SMTP(host, port, timeout=30) as s:
        s.ehlo(helo)
        if starttls:
            code, text = s.starttls(context=tls_client_context())
            assert code == 220, (code, text)
            s.ehlo(helo)
        if user:
            s.login(user, password)
        code, text = s.mail(sender, list(mail_options))
        assert code == 250, (code, text)
        for r in rcpts:
            code, text = s.rcpt(r, list(rcpt_options))
            assert code in (250, 251), (r, code, text)
        code, text = s.data(raw)
        assert code == 250, (code, text)
        m = QUEUED.match(text.decode())
        assert m, text
        return m.group(1)


def message(marker: str, sender: str, to: str, extra_headers: str = "") -> bytes:
    return (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {marker}\r\n"
            f"Date: Thu, 01 Feb 2024 10:00:00 +0000\r\n"
            f"Message-ID: <{marker}@interop.test>\r\n{extra_headers}\r\n"
            f"body of {marker}\r\n.leading dot line\r\n.\r\nlast line\r\n").encode()


# --------------------------------------------------------------------------
# swallow queue list


@dataclass
class QueuedRecipient:
    address: str
    attempts: int
    state: str           # "next attempt <ISO date>" or delivered / failed
    last_error: str | None


@dataclass
class QueueEntry:
    id: str
    size: int
    arrival: str
    sender: str
    recipients: list[QueuedRecipient]


def queue_list(srv) -> list[QueueEntry]:
    out = srv.cli("queue", "list").stdout
    if out.strip() == "queue is empty":
        return []
    entries: list[QueueEntry] = []
    for line in out.splitlines():
        if not line.strip():
            continue
        if line.startswith("\t"):
            parts = line[1:].split("\t")
            assert len(parts) >= 3, f"bad recipient line in queue list: {line!r}\n{out}"
            addr = parts[0]
            assert addr.startswith("<") and addr.endswith(">"), line
            m = re.fullmatch(r"attempts (\d+)", parts[1])
            assert m, f"bad attempts field: {line!r}"
            assert entries, f"recipient line before any message line:\n{out}"
            entries[-1].recipients.append(QueuedRecipient(
                addr[1:-1], int(m.group(1)), parts[2], "\t".join(parts[3:]) or None))
        else:
            parts = line.split("\t")
            assert len(parts) == 4, f"bad message line in queue list: {line!r}\n{out}"
            qid, size, arrival, sender = parts
            assert re.fullmatch(r"[0-9A-F]{16}", qid), line
            assert sender.startswith("<") and sender.endswith(">"), line
            entries.append(QueueEntry(qid, int(size), arrival, sender[1:-1], []))
    return entries


def queue_entry(srv, qid: str) -> QueueEntry | None:
    return next((e for e in queue_list(srv) if e.id == qid), None)


# --------------------------------------------------------------------------
# bounces (RFC 3464 / RFC 6522)


@dataclass
class Bounce:
    message: email.message.Message
    text: str                                   # the human-readable part
    per_message: email.message.Message          # Reporting-MTA, Arrival-Date, ...
    per_recipient: list[email.message.Message]  # Final-Recipient, Action, Status, ...
    returned_type: str                          # text/rfc822-headers or message/rfc822
    returned: email.message.Message             # original headers (or whole message)


def parse_bounce(raw: bytes) -> Bounce:
    """Parses and checks the structure of a delivery status notification."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status", msg["Content-Type"]
    parts = msg.get_payload()
    assert isinstance(parts, list) and len(parts) == 3, \
        f"multipart/report with {len(parts) if isinstance(parts, list) else 0} parts, wanted 3"
    human, status, returned = parts
    assert human.get_content_type() == "text/plain", human.get_content_type()
    assert status.get_content_type() == "message/delivery-status", status.get_content_type()
    groups = status.get_payload()
    assert isinstance(groups, list) and len(groups) >= 2, \
        f"message/delivery-status needs per-message fields and a recipient group: {groups!r}"
    rtype = returned.get_content_type()
    assert rtype in ("text/rfc822-headers", "message/rfc822"), rtype
    if rtype == "message/rfc822":
        inner = returned.get_payload()
        assert isinstance(inner, list) and len(inner) == 1
        original = inner[0]
    else:
        original = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(
            returned.get_payload(decode=True).decode("utf-8", "replace"))
    return Bounce(msg, human.get_payload(decode=True).decode("utf-8", "replace"), groups[0],
                  list(groups[1:]), rtype, original)


def is_bounce(raw: bytes) -> bool:
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0].lower()
    return b"multipart/report" in head and b"mailer-daemon@" in head


def send_plain(srv, sender: str, rcpt: str | list[str], raw: bytes, mail_options=(),
               helo: str = "client.outside.test") -> str:
    """One transaction on the smtp port from 127.0.0.1 (trusted: relaying allowed, no TLS, no
    AUTH); returns the queue ID."""
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=30) as s:
        s.ehlo(helo)
        code, text = s.mail(sender, list(mail_options))
        assert code == 250, (code, text)
        for r in [rcpt] if isinstance(rcpt, str) else rcpt:
            code, text = s.rcpt(r)
            assert code in (250, 251), (r, code, text)
        code, text = s.data(raw)
        assert code == 250, (code, text)
        m = QUEUED.match(text.decode())
        assert m, text
        return m.group(1)
