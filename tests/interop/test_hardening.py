"""The security audit's findings (issue 8), probed from outside as an attacker would: raw
sockets against the real server, one test per finding."""

from __future__ import annotations

import base64
import re
import smtplib
import socket
import time

import pytest

from conftest import ALICE, ALICE_PASSWORD, BOB
from rawsmtp import RawClient

IMAP = ("imap",)
POP3 = ("pop3",)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def read_tagged(c: RawClient, tag: bytes, timeout: float = 15) -> list[bytes]:
    lines = []
    while True:
        line = c.read_line(timeout)
        lines.append(line)
        if line.startswith(tag + b" "):
            return lines


# --------------------------------------------------------------------------
# Pre-login memory (IMAP literals, RFC 7888 LITERAL-)


def test_prelogin_literals_are_small_and_refused_without_continuation(swallow_factory):
    """Measured before the fix: `a APPEND INBOX {67108864}` got `+ Ready` before login and
    64 MiB was read. Now nothing large is invited before authentication."""
    srv = swallow_factory(listeners=IMAP, allow_plaintext=True)
    with RawClient(srv.ports["imap"]) as c:
        greeting = c.read_line()
        assert b"LITERAL-" in greeting and b"LITERAL+" not in greeting, greeting
        c.send(b"a APPEND INBOX {67108864}\r\n")
        line = c.read_line()
        assert line.startswith(b"a NO") or line.startswith(b"a BAD"), line
        assert not line.startswith(b"+"), "a continuation invited the upload"
        c.send(b"b LOGIN {100000}\r\n")
        line = c.read_line()
        assert line.startswith(b"b NO [TOOBIG]"), line
        # A large non-synchronizing literal cannot be refused before it arrives: the
        # connection is closed instead of reading it.
        c.send(b"c LOGIN {9000+}\r\n" + b"x" * 1000)
        assert b"BYE" in c.expect_eof(timeout=10)
    # After login LITERAL+ again, and large literals work.
    with RawClient(srv.ports["imap"]) as c:
        c.read_line()
        c.send(f'1 LOGIN "{ALICE}" "{ALICE_PASSWORD}"\r\n'.encode())
        assert any(b"LITERAL+" in l for l in read_tagged(c, b"1"))
        message = b"Subject: big\r\n\r\n" + b"y" * 100_000 + b"\r\n"
        c.send(b"2 APPEND INBOX {%d+}\r\n" % len(message) + message + b"\r\n")
        assert read_tagged(c, b"2")[-1].startswith(b"2 OK")


# --------------------------------------------------------------------------
# The absolute pre-login deadline


@pytest.mark.parametrize("listener,hello,poke", [
    ("imap", b"* OK", b"x NOOP\r\n"),
    ("pop3", b"+OK", b"CAPA\r\n"),
    ("submission", b"220", b"NOOP\r\n"),
])
def test_login_deadline_is_absolute(swallow_factory, listener, hello, poke):
    """A client that keeps talking but never logs in is still disconnected when the
    login deadline passes (the idle timeout alone would never fire for it)."""
    srv = swallow_factory(listeners=tuple(l for l in (listener,) if l != "submission"),
                          settings={"limits": {"login_timeout": 2}})
    with RawClient(srv.ports[listener]) as c:
        assert c.read_line().startswith(hello)
        start = time.monotonic()
        got = b""
        try:
            while time.monotonic() - start < 15:
                c.send(poke)
                time.sleep(0.3)
                c.sock.settimeout(0.2)
                try:
                    data = c.sock.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                got += data
        except (BrokenPipeError, ConnectionResetError):
            pass
        elapsed = time.monotonic() - start
    assert elapsed < 8, f"still connected after {elapsed:.1f}s of activity without login"
    assert re.search(rb"(timeout|Login timeout|421)", got, re.I), got[-300:]


# --------------------------------------------------------------------------
# Password guessing: three failures per connection, no AUTH before TLS


def test_three_failed_logins_close_the_connection(swallow_factory):
    srv = swallow_factory(listeners=IMAP + POP3, allow_plaintext=True)
    with RawClient(srv.ports["imap"]) as c:
        c.read_line()
        for i in range(3):
            c.send(f'{i} LOGIN "{ALICE}" "wrong{i}"\r\n'.encode())
            assert read_tagged(c, str(i).encode())[-1].startswith(f"{i} NO [AUTHENTICATIONFAILED]".encode())
        assert b"BYE" in c.expect_eof(timeout=10)
    with RawClient(srv.ports["pop3"]) as c:
        c.read_line()
        for i in range(3):
            c.send(f"USER {ALICE}\r\n".encode())
            assert c.read_line().startswith(b"+OK")
            c.send(f"PASS wrong{i}\r\n".encode())
            assert c.read_line(timeout=20).startswith(b"-ERR [AUTH]")
        c.expect_eof(timeout=10)
    with RawClient(srv.submission) as c:
        c.greeting()
        c.ehlo()
        for i in range(2):
            assert c.cmd(f"AUTH PLAIN {b64(chr(0) + ALICE + chr(0) + 'wrong')}", timeout=20).code == 535
        assert c.cmd(f"AUTH PLAIN {b64(chr(0) + ALICE + chr(0) + 'wrong')}", timeout=20).code == 421
        c.expect_eof(timeout=10)


def test_no_authentication_of_any_kind_before_tls(swallow):
    """The audit: SCRAM was accepted before STARTTLS on 587 (and on 143/110)."""
    with RawClient(swallow.submission) as c:
        c.greeting()
        ehlo = c.ehlo()
        assert not any(l.startswith(b"AUTH") for l in ehlo.lines), ehlo
        assert c.cmd("AUTH SCRAM-SHA-256").code == 530
        c.starttls()
        ehlo = c.ehlo()
        assert any(l.startswith(b"AUTH") and b"SCRAM-SHA-256" in l for l in ehlo.lines), ehlo


def test_imap_scram_refused_before_starttls(swallow_factory):
    srv = swallow_factory(listeners=IMAP)
    with RawClient(srv.ports["imap"]) as c:
        greeting = c.read_line()
        assert b"AUTH=SCRAM-SHA-256" not in greeting and b"LOGINDISABLED" in greeting, greeting
        c.send(b"a AUTHENTICATE SCRAM-SHA-256\r\n")
        assert c.read_line().startswith(b"a NO [PRIVACYREQUIRED]")


# --------------------------------------------------------------------------
# Sender ownership on every port


def test_authenticated_sender_is_checked_on_port_25(swallow):
    """The audit: an authenticated session on port 25 could use any MAIL FROM."""
    with RawClient(swallow.smtp) as c:
        c.greeting()
        c.ehlo()
        c.starttls()
        c.ehlo()
        assert c.cmd(f"AUTH PLAIN {b64(chr(0) + ALICE + chr(0) + ALICE_PASSWORD)}").code == 235
        r = c.cmd(f"MAIL FROM:<{BOB}>")
        assert r.code == 553 and b"5.7.1" in r.text, r
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250


def test_own_hostname_is_not_a_trusted_relay(swallow):
    """Mail loops: a client greeting with our own name is our own delivery come back; from a
    trusted network it must not be relayed again."""
    with RawClient(swallow.smtp) as c:
        c.greeting()
        c.ehlo("mx.example.test")
        assert c.cmd("MAIL FROM:<a@elsewhere.test>").code == 250
        assert c.cmd("RCPT TO:<b@remote.test>").code == 554
    with RawClient(swallow.smtp) as c:
        c.greeting()
        c.ehlo("client.example.test")
        assert c.cmd("MAIL FROM:<a@elsewhere.test>").code == 250
        assert c.cmd("RCPT TO:<b@remote.test>").code == 250


# --------------------------------------------------------------------------
# Connection caps


@pytest.mark.parametrize("listener,farewell", [
    ("smtp", rb"^421 4\.3\.2 "),
    ("imap", rb"^\* BYE Too many connections"),
    ("pop3", rb"^-ERR \[SYS/TEMP\] Too many connections"),
])
def test_total_connection_cap(swallow_factory, listener, farewell):
    """`limits.max_connections` counts every listener's connections; the one over it gets its
    protocol's temporary refusal."""
    srv = swallow_factory(listeners=tuple(l for l in (listener,) if l != "smtp"),
                          settings={"limits": {"max_connections": 3}})
    clients = [RawClient(srv.ports[listener]) for _ in range(3)]
    try:
        for c in clients:
            c.read_line()
        with RawClient(srv.ports[listener]) as extra:
            line = extra.read_line()
            assert re.match(farewell, line), line
    finally:
        for c in clients:
            c.close()


# --------------------------------------------------------------------------
# Stalled output


def test_client_that_stops_reading_is_disconnected(swallow_factory):
    """The audit: a client that never reads held its FETCH output (and batch) forever."""
    srv = swallow_factory(listeners=IMAP, allow_plaintext=True, settings={"limits": {"output_stall_timeout": 2}})
    body = (b"x" * 998 + b"\r\n") * 1000  # ~1 MB
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=30) as s:
        for i in range(24):
            s.sendmail("sender@outside.test", [ALICE], b"Subject: big %d\r\n\r\n" % i + body)
    srv.wait_inbox_raw(ALICE, 24, timeout=60)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", srv.ports["imap"]))
    sock.sendall(f'1 LOGIN "{ALICE}" "{ALICE_PASSWORD}"\r\n2 SELECT INBOX\r\n3 FETCH 1:* BODY.PEEK[]\r\n'.encode())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "client stopped reading" not in srv.log_text():
        time.sleep(0.5)
    sock.close()
    assert "client stopped reading" in srv.log_text()
    # The server is fine for everyone else.
    with RawClient(srv.ports["imap"]) as c:
        assert c.read_line().startswith(b"* OK")


# --------------------------------------------------------------------------
# Graceful shutdown


def test_sigterm_lets_a_message_in_progress_finish(swallow):
    """SIGTERM while a client is in the middle of DATA: the message is accepted (250) and
    stored, then the connection is closed with 421; an idle session is told at once."""
    idle = RawClient(swallow.smtp)
    idle.greeting()
    with RawClient(swallow.smtp) as c:
        c.greeting()
        c.ehlo()
        assert c.cmd("MAIL FROM:<sender@outside.test>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: in flight at shutdown\r\n\r\nfirst half\r\n")
        swallow.proc.send_signal(15)
        r = idle.reply(timeout=10)
        assert r.code == 421, r
        idle.close()
        time.sleep(0.5)
        c.send(b"second half\r\n.\r\n")
        r = c.reply(timeout=10)
        assert r.code == 250, r
        r = c.reply(timeout=10)
        assert r.code == 421, r
    assert swallow.proc.wait(timeout=20) == 0
    swallow.start()
    assert any(b"in flight at shutdown" in m for m in swallow.wait_inbox_raw(ALICE, 1))


def test_fetch_stops_when_the_client_is_gone(swallow_factory):
    """The audit: FETCH and SEARCH loops went on for a client that had left."""
    srv = swallow_factory(listeners=IMAP, allow_plaintext=True)
    body = (b"z" * 998 + b"\r\n") * 300  # ~300 KB
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=30) as s:
        for i in range(60):
            s.sendmail("sender@outside.test", [ALICE], b"Subject: gone %d\r\n\r\n" % i + body)
    srv.wait_inbox_raw(ALICE, 60, timeout=60)
    sock = socket.create_connection(("127.0.0.1", srv.ports["imap"]))
    sock.sendall(f'1 LOGIN "{ALICE}" "{ALICE_PASSWORD}"\r\n2 SELECT INBOX\r\n'.encode())
    time.sleep(0.5)
    sock.sendall(b"3 FETCH 1:* BODY.PEEK[]\r\n")
    time.sleep(0.2)
    sock.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "client gone during command" not in srv.log_text():
        time.sleep(0.3)
    assert "client gone during command" in srv.log_text()
