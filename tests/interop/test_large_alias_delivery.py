"""One large message to an alias of many local users: the server keeps the message's bytes once.

Local delivery gives each copy its own Return-Path/Delivered-To; before the store kept a
shared body, it built (and stored) one full copy per account, so one 20 MiB message to 100
users raised the server's memory by about 2 GB and wrote 2 GB to disk.
"""

from __future__ import annotations

import base64
import imaplib
import os
import smtplib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import DOMAIN, split_added_headers

USERS = 100
PASSWORD = "big alias password 1"
ALIAS = f"everyone@{DOMAIN}"
MESSAGE_SIZE = 20 << 20
# Memory and disk for one delivery may grow with the message, not with its recipients.
GROWTH_FACTOR = 3


def user(i: int) -> str:
    return f"u{i:03d}@{DOMAIN}"


def big_message() -> bytes:
    head = (f"From: <sender@outside.test>\r\nTo: <{ALIAS}>\r\nSubject: big to everyone\r\n"
            "Message-ID: <big.everyone@outside.test>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n").encode()
    raw = os.urandom(MESSAGE_SIZE * 3 // 4 - len(head))
    body = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    return head + body


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def test_one_large_message_to_an_alias_of_100_users(swallow_factory):
    srv = swallow_factory(listeners=("imap",), allow_plaintext=True)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: srv.cli("user", "add", user(i), "--password-stdin", input=PASSWORD + "\n"),
                      range(USERS)))
    srv.cli("alias", "add", ALIAS, *[user(i) for i in range(USERS)])

    # A small message first, so the baseline already includes every code path's one-time cost.
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=120) as s:
        s.sendmail("sender@outside.test", [ALIAS], b"Subject: warm-up\r\n\r\nhello\r\n")
    pid = srv.proc.pid
    before_hwm = status_kib(pid, "VmHWM")
    before_disk = disk_bytes(srv.data_dir)

    message = big_message()
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=600) as s:
        s.sendmail("sender@outside.test", [ALIAS], message)

    growth = (status_kib(pid, "VmHWM") - before_hwm) * 1024
    disk = disk_bytes(srv.data_dir) - before_disk
    figures = (f"RSS peak growth {growth / 2**20:.1f} MiB, data directory growth {disk / 2**20:.1f} MiB "
               f"for a {len(message) / 2**20:.1f} MiB message to {USERS} users")
    print(figures)
    assert growth < GROWTH_FACTOR * len(message), figures
    assert disk < GROWTH_FACTOR * len(message), figures

    tail_start = len(message) - 4096
    for i in range(USERS):
        conn = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=120)
        try:
            conn.login(user(i), PASSWORD)
            conn.select("INBOX", readonly=True)
            typ, data = conn.search(None, "ALL")
            assert data[0].split() == [b"1", b"2"], f"{user(i)}: {data}"
            typ, data = conn.fetch("2", "(RFC822.SIZE)")
            size = int(data[0].split(b"RFC822.SIZE ")[1].rstrip(b")"))
            # The copy's own trace fields, then the message exactly as sent.
            typ, data = conn.fetch("2", "(BODY.PEEK[]<0.2048>)")
            head = data[0][1]
            fields, rest = split_added_headers(head)
            prefix = b"".join(fields)
            assert fields[0] == b"Return-Path: <sender@outside.test>\r\n", fields
            assert fields[1] == f"Delivered-To: {user(i)}\r\n".encode(), fields
            assert fields[2].startswith(b"Received: "), fields
            assert message.startswith(rest), f"{user(i)}: head differs"
            assert size == len(prefix) + len(message), f"{user(i)}: size {size}"
            # A partial fetch at the body's end lands on the right bytes.
            typ, data = conn.fetch("2", f"(BODY.PEEK[]<{len(prefix) + tail_start}.4096>)")
            assert data[0][1] == message[tail_start:], f"{user(i)}: tail differs"
            if i in (0, USERS - 1):
                typ, data = conn.fetch("2", "(BODY.PEEK[])")
                assert data[0][1] == prefix + message, f"{user(i)}: bytes differ"
        finally:
            conn.logout()
