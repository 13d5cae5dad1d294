"""Mail loops, inbound side: a message that already has more than 50 `Received:` fields is
refused with 554 5.4.6 before anything is stored (RFC 5321 §6.3)."""

from __future__ import annotations

import smtplib

import pytest

from conftest import ALICE, BOB
from rawsmtp import RawClient

LIMIT = 50


def looping_message(hops: int, marker: str) -> bytes:
    received = "".join(
        f"Received: from relay{i}.outside.test (relay{i}.outside.test [192.0.2.{i % 250 + 1}])\r\n"
        f"\tby relay{i + 1}.outside.test with ESMTP id Q{i:04d}; Mon, 1 Dec 2025 12:00:00 +0000\r\n"
        for i in range(hops))
    # A Received line in the body is not a hop.
    return (received + f"From: <loop@outside.test>\r\nTo: <{ALICE}>\r\nSubject: {marker}\r\n\r\n"
            "Received: in the body does not count\r\n").encode()


def count_with(srv, user: str, marker: str) -> int:
    return sum(marker.encode() in m for m in srv.inbox_raw(user))


def test_smtp_51_received_fields_554_nothing_stored(swallow):
    with smtplib.SMTP("127.0.0.1", swallow.smtp, timeout=30) as s:
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("loop@outside.test", [ALICE, BOB], looping_message(LIMIT + 1, "hops-51-marker"))
    assert e.value.smtp_code == 554, e.value
    assert e.value.smtp_error.startswith(b"5.4.6"), e.value
    assert b"Too many hops" in e.value.smtp_error, e.value
    for user in (ALICE, BOB):
        assert count_with(swallow, user, "hops-51-marker") == 0


def test_smtp_50_received_fields_accepted(swallow):
    with smtplib.SMTP("127.0.0.1", swallow.smtp, timeout=30) as s:
        s.sendmail("loop@outside.test", [ALICE], looping_message(LIMIT, "hops-50-marker"))
    assert count_with(swallow, ALICE, "hops-50-marker") == 1


def test_lmtp_51_received_fields_554_for_every_recipient(swallow):
    with RawClient(swallow.lmtp) as c:
        c.greeting()
        c.ehlo(verb="LHLO")
        assert c.cmd("MAIL FROM:<loop@outside.test>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(looping_message(LIMIT + 1, "lmtp-hops-marker") + b".\r\n")
        replies = [c.reply(), c.reply()]
        for r in replies:
            assert r.code == 554 and r.lines[0].startswith(b"5.4.6"), replies
        assert c.cmd("QUIT").code == 221
    for user in (ALICE, BOB):
        assert count_with(swallow, user, "lmtp-hops-marker") == 0
