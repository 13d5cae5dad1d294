"""Quotas (issue 10), as a user and an administrator meet them: `swallow user add|quota` with
--quota and --max-messages, RCPT refused with 452 4.2.2 (552 5.2.2 when `[quota]
full_tempfail = false`), LMTP's per-recipient reply, IMAP APPEND refused with NO [OVERQUOTA],
GETQUOTAROOT reporting STORAGE and MESSAGE (RFC 9208), SETQUOTA for quota administrators only,
and the "mailbox nearly full" warning delivered once per crossing.

Clients: Python's smtplib and imaplib (standard library), nothing written here.
"""

from __future__ import annotations

import imaplib
import re
import smtplib

from conftest import ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD, imap_login

SENDER = "sender@outside.test"


def body(n: int, subject: str = "filler") -> bytes:
    """A message of about n bytes."""
    head = f"From: <{SENDER}>\r\nTo: <{BOB}>\r\nSubject: {subject}\r\n\r\n".encode()
    return head + b"x" * max(0, n - len(head) - 2) + b"\r\n"


def send(srv, rcpt: str, raw: bytes) -> tuple[int, str]:
    """One message on port 25 (trusted network). Returns the RCPT reply if it refused, else
    the reply to DATA."""
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=60) as s:
        s.ehlo("client.outside.test")
        code, text = s.mail(SENDER)
        assert code == 250, (code, text)
        code, text = s.rcpt(rcpt)
        if code not in (250, 251):
            return code, text.decode()
        code, text = s.data(raw)
        return code, text.decode()


def quota_line(m: imaplib.IMAP4) -> bytes:
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK", data
    quotas = [d for d in data[1] if d]
    assert len(quotas) == 1, data
    return quotas[0]


def subjects(srv, user: str) -> list[str]:
    return [m["Subject"] for m in srv.inbox(user)]


def test_storage_quota_refuses_at_rcpt_and_append_and_reports_usage(swallow_factory):
    srv = swallow_factory(listeners=("imap",), settings={"quota": {"warning_percent": 0}})
    srv.cli("user", "quota", BOB, "--quota", "8K")
    out = srv.cli("user", "quota", BOB).stdout
    assert "of 8.0 KiB" in out and "of unlimited messages" in out, out

    assert send(srv, BOB, body(3000))[0] == 250
    srv.wait_inbox(BOB, 1)
    # About 3.3 of 8 KiB used: a message that does not fit is refused at the end of DATA
    # (the mailbox is not full, so RCPT accepted it), temporarily: the sender retries.
    code, text = send(srv, BOB, body(6000))
    assert (code, text) == (452, f"4.2.2 <{BOB}>: Mailbox full"), (code, text)
    assert send(srv, BOB, body(1000))[0] == 250
    srv.wait_inbox(BOB, 2)
    # The administrator lowers the quota below the usage: the mailbox is full, RCPT refuses.
    srv.cli("user", "quota", BOB, "--quota", "4K")
    code, text = send(srv, BOB, body(100))
    assert (code, text) == (452, f"4.2.2 <{BOB}>: Mailbox full"), (code, text)

    with imap_login(srv, BOB, BOB_PASSWORD) as m:
        typ, caps = m.capability()
        assert b"QUOTA=RES-MESSAGE" in caps[0] and b"QUOTASET" in caps[0], caps
        line = quota_line(m)
        match = re.fullmatch(rb'"" \(STORAGE (\d+) 4\)', line)
        assert match and 4 < int(match.group(1)) <= 6, line     # about 4.6 KiB, in KiB rounded up
        typ, data = m.append("INBOX", None, None, body(500))
        assert typ == "NO" and b"[OVERQUOTA]" in data[0], (typ, data)
        # Not an administrator: SETQUOTA is refused, and the limit is unchanged.
        typ, data = m.setquota('""', "(STORAGE 100000)")
        assert typ == "NO" and b"[NOPERM]" in data[0], (typ, data)
    assert "of 4.0 KiB" in srv.cli("user", "quota", BOB).stdout, "SETQUOTA by a user changed nothing"

    # Making room lets mail in again.
    srv.cli("user", "quota", BOB, "--quota", "unlimited")
    assert send(srv, BOB, body(5000))[0] == 250
    with imap_login(srv, BOB, BOB_PASSWORD) as m:
        typ, data = m.getquotaroot("INBOX")
        assert typ == "OK" and data[0] == [b'INBOX'], data


def test_message_limit_and_permanent_refusal(swallow_factory):
    srv = swallow_factory(listeners=("imap",), accounts=False,
                          settings={"quota": {"full_tempfail": False, "warning_percent": 0}})
    srv.cli("user", "add", ALICE, "--password-stdin", input=ALICE_PASSWORD + "\n")
    srv.cli("user", "add", BOB, "--password-stdin", "--max-messages", "2", input=BOB_PASSWORD + "\n")
    assert "0 of 2 messages" in srv.cli("user", "list").stdout
    assert send(srv, BOB, body(300))[0] == 250
    assert send(srv, BOB, body(300))[0] == 250
    srv.wait_inbox(BOB, 2)
    code, text = send(srv, BOB, body(300))
    assert (code, text) == (552, f"5.2.2 <{BOB}>: Mailbox full"), (code, text)
    # Another recipient of the same domain is not affected.
    assert send(srv, ALICE, body(300))[0] == 250

    with imap_login(srv, BOB, BOB_PASSWORD) as m:
        assert quota_line(m) == b'"" (MESSAGE 2 2)'
        typ, data = m.append("INBOX", None, None, body(100))
        assert typ == "NO" and b"[OVERQUOTA]" in data[0], (typ, data)
        m.select("INBOX")
        typ, data = m.copy("1", "Archive")
        assert typ == "NO" and b"[OVERQUOTA]" in data[0], (typ, data)
        m.store("1", "+FLAGS", "(\\Deleted)")
        m.expunge()
        assert quota_line(m) == b'"" (MESSAGE 1 2)'
    assert send(srv, BOB, body(300))[0] == 250


def test_lmtp_answers_per_recipient(swallow_factory):
    srv = swallow_factory(settings={"quota": {"warning_percent": 0}})
    srv.cli("user", "quota", BOB, "--max-messages", "1")
    assert send(srv, BOB, body(300))[0] == 250
    srv.wait_inbox(BOB, 1)
    with smtplib.LMTP("127.0.0.1", srv.lmtp, timeout=30) as lmtp:
        lmtp.ehlo("mta.example.test")
        assert lmtp.mail(SENDER)[0] == 250
        assert lmtp.rcpt(ALICE)[0] == 250
        code, text = lmtp.rcpt(BOB)
        assert (code, text.decode()) == (452, f"4.2.2 <{BOB}>: Mailbox full")
        assert lmtp.data(body(300))[0] == 250
    srv.wait_inbox(ALICE, 1)


def test_setquota_by_a_quota_administrator(swallow_factory):
    srv = swallow_factory(listeners=("imap",), settings={"quota": {"admins": [ALICE], "warning_percent": 0}})
    with imap_login(srv, ALICE, ALICE_PASSWORD) as m:
        typ, data = m.setquota(f'"{BOB}"', "(STORAGE 2048 MESSAGE 10)")
        assert typ == "OK", data
        assert re.fullmatch(rb'"?bob@example\.test"? \(STORAGE 0 2048 MESSAGE 0 10\)', data[0]), data
        typ, data = m.getquota(f'"{BOB}"')
        assert typ == "OK" and b"(STORAGE 0 2048 MESSAGE 0 10)" in data[0], data
        # An unknown resource changes nothing.
        typ, data = m.setquota(f'"{BOB}"', "(STORAGE 1 MAILBOX 5)")
        assert typ == "NO" and b"[CANNOT]" in data[0], (typ, data)
        typ, data = m.getquota('"nobody@example.test"')
        assert typ == "NO" and b"[NONEXISTENT]" in data[0], (typ, data)
        # Its own root too; an empty list removes every limit.
        assert m.setquota('""', "(MESSAGE 5)")[0] == "OK"
        assert quota_line(m) == b'"" (MESSAGE 0 5)'
        assert m.setquota('""', "()")[0] == "OK"
    out = srv.cli("user", "quota", BOB).stdout
    assert "of 2.0 MiB" in out and "of 10 messages" in out, out
    assert "of unlimited" in srv.cli("user", "quota", ALICE).stdout
    with imap_login(srv, BOB, BOB_PASSWORD) as m:
        # To everyone else another user's root does not exist.
        typ, data = m.getquota(f'"{ALICE}"')
        assert typ == "NO" and b"[NONEXISTENT]" in data[0], (typ, data)


def test_warning_is_delivered_once_per_crossing(swallow_factory):
    srv = swallow_factory(listeners=("imap",), settings={"quota": {"warning_percent": 50}})
    srv.cli("user", "quota", BOB, "--max-messages", "10")
    for n in range(4):
        assert send(srv, BOB, body(300, f"m{n}"))[0] == 250
    srv.wait_inbox(BOB, 4)
    assert "Your mailbox is" not in " ".join(subjects(srv, BOB))
    # The fifth takes the account to 50 %: one warning, and no second one after the sixth.
    assert send(srv, BOB, body(300, "m4"))[0] == 250
    assert send(srv, BOB, body(300, "m5"))[0] == 250
    msgs = srv.wait_inbox(BOB, 7)
    warnings = [m for m in msgs if m["Subject"].startswith("Your mailbox is")]
    assert [w["Subject"] for w in warnings] == ["Your mailbox is 50% full"], [m["Subject"] for m in msgs]
    w = warnings[0]
    assert w["Auto-Submitted"] == "auto-generated"
    assert BOB in w["To"]
    assert "messages: 5 of 10" in w.get_payload(), w.get_payload()

    # Below the threshold again (expunge), then over it: warned again, once.
    with imap_login(srv, BOB, BOB_PASSWORD) as m:
        m.select("INBOX")
        m.store("1:4", "+FLAGS", "(\\Deleted)")
        m.expunge()
    assert send(srv, BOB, body(300, "m6"))[0] == 250     # 4 of 10: re-armed
    assert send(srv, BOB, body(300, "m7"))[0] == 250     # 5 of 10: warned
    msgs = srv.wait_inbox(BOB, 6)
    assert sum(m["Subject"].startswith("Your mailbox is") for m in msgs) == 2, [m["Subject"] for m in msgs]
