"""Exact bytes on the wire (socket + ssl): BDAT, smuggling, STARTTLS injection, limits,
pipelining, LMTP."""

from __future__ import annotations

import re
import socket
import ssl
import time

import pytest

from conftest import ALICE, ALICE_PASSWORD, BOB, strip_added_headers, tls_client_context, to_lf
from rawsmtp import Closed, RawClient

QUEUED = re.compile(rb"^2\.0\.0 Ok: queued as ([0-9A-Fa-f]{16})$")


def assert_queued(r):
    assert r.code == 250 and len(r.lines) == 1 and QUEUED.match(r.lines[0]), r


def session(port: int, tls: bool = False) -> RawClient:
    c = RawClient(port, tls=tls)
    g = c.greeting()
    assert g.lines[0].startswith(b"mx.example.test"), g
    return c


# --------------------------------------------------------------------------
# BDAT (RFC 3030)


@pytest.mark.parametrize("body_type", ["8BITMIME", "BINARYMIME"])
def test_bdat_two_chunks_then_last_byte_exact(swallow, body_type):
    marker = f"bdat-marker-{body_type}"
    head = (f"From: <sender@outside.test>\r\nTo: <{ALICE}>\r\nSubject: {marker}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n").encode()
    eight_bit = bytes(b for b in range(1, 256) if b not in (0x0A, 0x0D))
    chunk1 = head + b"first chunk \xe9\xe8\xff\r\n" + eight_bit + b"\r"      # CR at the end ...
    chunk2 = (b"\n"                                                          # ... LF next chunk
              b"a line with only a dot follows, it does not end anything in BDAT\r\n"
              b".\r\n"
              b"..two dots stay two dots\r\n"
              b"QUIT\r\nRSET\r\n")
    last = b"last bit \xfe\xfd\r\n"
    with session(swallow.smtp) as c:
        ehlo = c.ehlo()
        assert b"CHUNKING" in ehlo.lines and b"BINARYMIME" in ehlo.lines, ehlo
        assert c.cmd(f"MAIL FROM:<sender@outside.test> BODY={body_type}").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        c.send(b"BDAT %d\r\n" % len(chunk1) + chunk1)
        r = c.reply()
        assert r.code == 250, r
        c.send(b"BDAT %d\r\n" % len(chunk2) + chunk2)
        r = c.reply()
        assert r.code == 250, r
        c.send(b"BDAT %d LAST\r\n" % len(last) + last)
        assert_queued(c.reply())
        r = c.cmd("QUIT")
        assert r.code == 221, r
    raw = chunk1 + chunk2 + last
    msgs = swallow.wait_inbox_raw(ALICE, 1)
    hits = [m for m in msgs if marker.encode() in m]
    assert len(hits) == 1, msgs
    assert strip_added_headers(hits[0]) == to_lf(raw)


def test_bdat_pipelined_in_one_send(swallow):
    body = b"Subject: bdat-pipelined-marker\r\n\r\nhello\r\n"
    with session(swallow.smtp) as c:
        c.ehlo()
        c.send(b"MAIL FROM:<sender@outside.test>\r\nRCPT TO:<" + ALICE.encode() + b">\r\n"
               + b"BDAT 10\r\n" + body[:10] + b"BDAT %d LAST\r\n" % (len(body) - 10)
               + body[10:] + b"QUIT\r\n")
        assert c.reply().code == 250
        assert c.reply().code == 250
        assert c.reply().code == 250
        assert_queued(c.reply())
        assert c.reply().code == 221
    msgs = swallow.wait_inbox_raw(ALICE, 1)
    assert strip_added_headers(msgs[0]) == to_lf(body)


def test_bdat_without_mail_503_chunk_not_executed(swallow):
    chunk = b"MAIL FROM:<smuggled@outside.test>\r\nRCPT TO:<alice@example.test>\r\nQUIT\r\n"
    with session(swallow.smtp) as c:
        c.ehlo()
        c.send(b"BDAT %d\r\n" % len(chunk) + chunk + b"NOOP\r\n")
        r = c.reply()
        assert r.code == 503, r
        r = c.reply()
        # had the chunk been read as commands we would now see 250 2.1.0 (MAIL) or 221 (QUIT)
        assert r.code == 250 and b"2.1.0" not in r.text, r
        # no transaction was opened by the chunk's MAIL
        r = c.cmd("MAIL FROM:<sender@outside.test>")
        assert r.code == 250, r
        r = c.cmd("RSET")
        assert r.code == 250, r
        r = c.cmd("QUIT")
        assert r.code == 221, r
    assert swallow.settle(ALICE) == []


@pytest.mark.slow
def test_bdat_over_size_limit_552(swallow):
    """No SIZE parameter, two BDAT chunks adding up to more than 50 MiB: 552, nothing stored,
    and the session goes on (the server consumed every chunk byte)."""
    piece = (b"q" * 1022 + b"\r\n") * 1024                  # 1 MiB
    chunk = b"Subject: bdat-oversized-marker\r\n\r\n" + piece * 30
    with session(swallow.smtp) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<sender@outside.test>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        c.send(b"BDAT %d\r\n" % len(chunk))
        c.send(chunk)
        r = c.reply(timeout=120)
        assert r.code in (250, 552), r
        if r.code == 250:
            c.send(b"BDAT %d LAST\r\n" % len(chunk))
            try:
                c.send(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            r = c.reply(timeout=120)
        assert r.code == 552 and r.lines[0].startswith(b"5.3.4"), r
        r = c.cmd("NOOP")
        assert r.code == 250, r
        assert c.cmd("QUIT").code == 221
    assert not any(b"bdat-oversized-marker" in m for m in swallow.settle(ALICE))


def test_data_after_bdat_503(swallow):
    with session(swallow.smtp) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<sender@outside.test>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        c.send(b"BDAT 3\r\nabc")
        assert c.reply().code == 250
        r = c.cmd("DATA")
        assert r.code == 503, r
        assert c.cmd("RSET").code == 250
        assert c.cmd("QUIT").code == 221


# --------------------------------------------------------------------------
# SMTP smuggling: only CRLF.CRLF ends DATA


SMUGGLING = {
    "LF.LF": b"\n.\n",
    "LF.CRLF": b"\n.\r\n",
    "CR.CR": b"\r.\r",
    "CRLF.LF": b"\r\n.\n",
}


@pytest.mark.parametrize("split", [False, True], ids=["one-send", "byte-by-byte"])
@pytest.mark.parametrize("sep", list(SMUGGLING.values()), ids=list(SMUGGLING.keys()))
def test_smuggling_rejected_nothing_delivered(swallow, sep, split):
    outer = (b"From: <outer@outside.test>\r\nTo: <alice@example.test>\r\n"
             b"Subject: outer-smuggling-marker\r\n\r\nouter body")
    smuggled = (b"MAIL FROM:<smuggled@outside.test>\r\n"
                b"RCPT TO:<alice@example.test>\r\n"
                b"DATA\r\n"
                b"From: <smuggled@outside.test>\r\nSubject: smuggled-marker\r\n\r\n"
                b"smuggled body\r\n"
                b".\r\n")          # with the preceding CRLF: the real end of DATA
    with session(swallow.smtp) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<outer@outside.test>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        assert c.cmd("DATA").code == 354
        if split:
            # the separator and its surroundings arrive one byte per TCP segment
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.send(outer[:-3])
            for b in outer[-3:] + sep + smuggled[:6]:
                c.send(bytes([b]))
                time.sleep(0.01)
            c.send(smuggled[6:])
        else:
            c.send(outer + sep + smuggled)
        r = c.reply()
        assert r.code == 554 and r.lines[0].startswith(b"5.6.0"), r
        # exactly one reply for the whole DATA: the next one answers our NOOP
        r = c.cmd("NOOP")
        assert r.code == 250 and b"2.1.0" not in r.text and b"queued" not in r.text, r
        assert c.cmd("QUIT").code == 221
    left = swallow.settle(ALICE)
    assert not any(b"outer-smuggling-marker" in m for m in left), left
    assert not any(b"smuggled-marker" in m for m in left), left


def test_data_split_across_segments_byte_exact(swallow):
    """Dot-stuffing and the end marker split over many small TCP segments."""
    raw = (b"Subject: split-segments-marker\r\n\r\n"
           b".leading dot (stuffed on the wire)\r\n"
           b"..two leading dots\r\n"
           b".\r\n"                      # a lone dot, stuffed: not the end
           b"a line\r\n"
           b"last line\r\n")
    wire = raw.replace(b"\r\n.", b"\r\n..") + b".\r\n"
    with session(swallow.smtp) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.ehlo()
        assert c.cmd("MAIL FROM:<sender@outside.test>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.cmd("DATA").code == 354
        for i in range(0, len(wire), 3):
            c.send(wire[i:i + 3])
            time.sleep(0.005)
        assert_queued(c.reply())
        assert c.cmd("QUIT").code == 221
    msgs = swallow.wait_inbox_raw(ALICE, 1)
    assert strip_added_headers(msgs[0]) == to_lf(raw)


@pytest.mark.parametrize("bad", [b"bare\nLF in a line", b"bare\rCR in a line"],
                         ids=["bare-LF", "bare-CR"])
def test_bare_line_ends_in_data_rejected(swallow, bad):
    with session(swallow.smtp) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<sender@outside.test>").code == 250
        assert c.cmd("RCPT TO:<alice@example.test>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: bare-marker\r\n\r\n" + bad + b"\r\nend\r\n.\r\n")
        r = c.reply()
        assert r.code == 554 and r.lines[0].startswith(b"5.6.0"), r
        assert c.cmd("QUIT").code == 221
    assert not any(b"bare-marker" in m for m in swallow.settle(ALICE))


# --------------------------------------------------------------------------
# STARTTLS command injection (CVE-2011-0411 class)


@pytest.mark.parametrize("listener", ["smtp", "submission"])
def test_starttls_pipelined_command_not_executed(swallow, listener):
    c = session(swallow.ports[listener])
    try:
        c.ehlo()
        c.send(b"STARTTLS\r\nRSET\r\n")
        try:
            r = c.reply()
        except Closed:
            r = None
        if r is not None and r.code == 220:
            # The server went on with TLS: the RSET must never be answered inside it.
            try:
                tls = tls_client_context().wrap_socket(c.sock)
                tls.settimeout(3)
                data = tls.recv(4096)
            except (ssl.SSLError, OSError, socket.timeout):
                data = b""
            pytest.fail(f"220 to STARTTLS with pipelined RSET; then over TLS: {data!r}")
        assert r is not None and r.code == 554, r
        rest = c.expect_eof()
        assert b"250" not in rest, rest
    finally:
        c.close()


def test_starttls_resets_auth(swallow_factory):
    """RFC 3207: state from before the handshake is discarded, AUTH included. With plaintext
    auth allowed, authenticate in clear, then STARTTLS: MAIL must need AUTH again."""
    import base64
    srv = swallow_factory(allow_plaintext=True)
    cred = base64.b64encode(f"\0{ALICE}\0{ALICE_PASSWORD}".encode()).decode()
    with session(srv.submission) as c:
        ehlo = c.ehlo()
        auth = [l for l in ehlo.lines if l.startswith(b"AUTH ")]
        assert auth and b"PLAIN" in auth[0].split(), ehlo
        r = c.cmd(f"AUTH PLAIN {cred}")
        assert r.code == 235, r
        c.starttls()
        ehlo = c.ehlo()
        assert b"STARTTLS" not in ehlo.lines, ehlo
        r = c.cmd(f"MAIL FROM:<{ALICE}>")
        assert r.code == 530 and r.lines[0].startswith(b"5.7.0"), r
        r = c.cmd(f"AUTH PLAIN {cred}")
        assert r.code == 235, r
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250


# --------------------------------------------------------------------------
# limits, pipelining, QUIT


def test_overlong_command_line_500_then_session_continues(swallow):
    line = b"NOOP " + b"a" * (2048 - 5) + b"QUIT" + b"b" * (3000 - 2048 - 4)
    assert len(line) == 3000
    with session(swallow.smtp) as c:
        c.ehlo()
        c.send(line + b"\r\nNOOP\r\n")
        r = c.reply()
        assert r.code == 500 and r.lines[0].startswith(b"5.5.6"), r
        r = c.reply()   # the NOOP: nothing of the long line's tail was run as a command
        assert r.code == 250, r
        assert c.cmd("MAIL FROM:<sender@outside.test>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: after-long-line-marker\r\n\r\nok\r\n.\r\n")
        assert_queued(c.reply())
        assert c.cmd("QUIT").code == 221
    swallow.wait_inbox_raw(ALICE, 1)


def test_pipelining_replies_in_order(swallow):
    body = b"Subject: pipelined-marker\r\n\r\npipelined\r\n"
    with session(swallow.smtp) as c:
        ehlo = c.ehlo()
        assert b"PIPELINING" in ehlo.lines
        c.send(b"RSET\r\n"
               b"MAIL FROM:<sender@outside.test>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"RCPT TO:<nobody@example.test>\r\n"
               b"RCPT TO:<bob@example.test>\r\n"
               b"DATA\r\n")
        codes = [c.reply() for _ in range(6)]
        assert [r.code for r in codes] == [250, 250, 250, 550, 250, 354], codes
        assert codes[3].lines[0].startswith(b"5.1.1"), codes[3]
        c.send(body + b".\r\nNOOP\r\nQUIT\r\n")
        assert_queued(c.reply())
        assert c.reply().code == 250
        assert c.reply().code == 221
    for user in (ALICE, BOB):
        msgs = swallow.wait_inbox_raw(user, 1)
        assert strip_added_headers(msgs[0]) == to_lf(body)


def test_quit_221_and_close(swallow):
    with session(swallow.smtp) as c:
        c.ehlo()
        r = c.cmd("QUIT")
        assert r.code == 221 and r.lines[0].startswith(b"2.0.0"), r
        assert c.expect_eof() == b""


def test_quit_mid_transaction_delivers_nothing(swallow):
    with session(swallow.smtp) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<sender@outside.test>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.cmd("QUIT").code == 221
        c.expect_eof()
    with session(swallow.smtp) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<sender@outside.test>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: cut-off-marker\r\n\r\npartial")   # no end of data, then hang up
    assert not any(b"cut-off-marker" in m for m in swallow.settle(ALICE))


def test_idle_session_does_not_block_others(swallow):
    idle = session(swallow.smtp)
    try:
        with session(swallow.smtp) as c:
            c.ehlo()
            assert c.cmd("MAIL FROM:<sender@outside.test>").code == 250
            assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
            assert c.cmd("DATA").code == 354
            c.send(b"Subject: beside-idle-marker\r\n\r\nx\r\n.\r\n")
            assert_queued(c.reply())
            assert c.cmd("QUIT").code == 221
        # the idle one is still served afterwards
        assert idle.cmd("NOOP").code == 250
        assert idle.cmd("QUIT").code == 221
    finally:
        idle.close()


# --------------------------------------------------------------------------
# LMTP (RFC 2033)


def test_lmtp_two_recipients_two_replies(swallow):
    body = b"From: <sender@outside.test>\r\nSubject: lmtp-marker\r\n\r\nvia lmtp\r\n"
    with session(swallow.lmtp) as c:
        c.ehlo(verb="LHLO")
        assert c.cmd("MAIL FROM:<sender@outside.test>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(body + b".\r\n")
        r1 = c.reply()
        r2 = c.reply()
        assert r1.code == 250 and r2.code == 250, (r1, r2)
        assert c.cmd("QUIT").code == 221
    for user in (ALICE, BOB):
        msgs = swallow.wait_inbox_raw(user, 1)
        assert len(msgs) == 1
        assert strip_added_headers(msgs[0]) == to_lf(body)


def test_lmtp_unknown_recipient_550_at_rcpt(swallow):
    body = b"Subject: lmtp-partial-marker\r\n\r\nx\r\n"
    with session(swallow.lmtp) as c:
        c.ehlo(verb="LHLO")
        assert c.cmd("MAIL FROM:<sender@outside.test>").code == 250
        r = c.cmd("RCPT TO:<nobody@example.test>")
        assert r.code == 550 and r.lines[0].startswith(b"5.1.1"), r
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(body + b".\r\nNOOP\r\n")
        r = c.reply()
        assert r.code == 250, r          # one reply: only alice was accepted
        r = c.reply()
        assert r.code == 250 and b"queued" not in r.text, r   # the NOOP
        assert c.cmd("QUIT").code == 221
    assert len(swallow.wait_inbox_raw(ALICE, 1)) == 1


# --------------------------------------------------------------------------
# RFC 5321 4.5.1: "RCPT TO:<Postmaster>" (no domain) MUST be accepted


@pytest.mark.parametrize("who", ["untrusted", "trusted"])
def test_bare_postmaster_is_local(swallow_factory, who):
    srv = swallow_factory(name=who, trusted_networks=[] if who == "untrusted" else None)
    srv.cli("alias", "add", "postmaster@example.test", ALICE)
    with session(srv.smtp) as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<sender@outside.test>").code == 250
        r = c.cmd("RCPT TO:<Postmaster>")
        assert r.code == 250, r
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: bare-postmaster-marker\r\n\r\nhello postmaster\r\n.\r\n")
        assert_queued(c.reply())
        assert c.cmd("QUIT").code == 221
    msgs = srv.wait_inbox_raw(ALICE, 1, timeout=5)
    assert sum(b"bare-postmaster-marker" in m for m in msgs) == 1
    assert b"queued for remote delivery" not in srv.log_path.read_bytes()
