"""Swallow's IMAP listeners driven by Python's imaplib (a client nobody here wrote), with mail
arriving over SMTP from smtplib: the path a real user's mail takes."""

from __future__ import annotations

import imaplib
import re
import smtplib
import time

import pytest

from conftest import ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD, strip_added_headers, tls_client_context

IMAP = ("imap", "imaps")


@pytest.fixture
def srv(swallow_factory):
    """A server with IMAP on, plaintext LOGIN allowed (the TLS tests make their own)."""
    return swallow_factory(allow_plaintext=True, listeners=IMAP)


def login(srv, user=ALICE, password=ALICE_PASSWORD) -> imaplib.IMAP4:
    m = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=30)
    typ, _ = m.login(user, password)
    assert typ == "OK"
    return m


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def send(srv, to: str, raw: bytes, sender: str = "sender@outside.test"):
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=30) as s:
        s.sendmail(sender, [to], raw)


def fetch_one(m, spec: str, what: str):
    data = ok(m.fetch(spec, what))
    return data[0][1]


UTF8_MESSAGE = (
    "From: Jörg Müller <joerg@outside.test>\r\n"
    "To: alice@example.test\r\n"
    "Subject: Grüße aus Köln – ✓\r\n"
    "Message-ID: <utf8-imap@outside.test>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Hallöchen – the needle.\r\n"
).encode()


def test_capabilities_and_logindisabled(swallow_factory):
    srv = swallow_factory(listeners=IMAP)
    m = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=30)
    assert "LOGINDISABLED" in m.capabilities and "STARTTLS" in m.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
        m.login(ALICE, ALICE_PASSWORD)
    ok(m.starttls(ssl_context=tls_client_context()))
    ok(m.login(ALICE, ALICE_PASSWORD))
    caps = ok(m.capability())[0].decode().split()
    for c in ["IMAP4rev1", "IMAP4rev2", "IDLE", "UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC", "SPECIAL-USE",
              "ESEARCH", "LIST-STATUS", "NAMESPACE", "BINARY", "STATUS=SIZE", "LITERAL+"]:
        assert c in caps, (c, caps)
    m.logout()
    s = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"], ssl_context=tls_client_context(), timeout=30)
    assert "STARTTLS" not in s.capabilities and "LOGINDISABLED" not in s.capabilities
    ok(s.login(BOB, BOB_PASSWORD))
    ok(s.select("INBOX"))
    s.logout()


def test_smtp_delivery_fetched_byte_exact(srv):
    send(srv, ALICE, UTF8_MESSAGE)
    srv.wait_inbox_raw(ALICE, 1)
    m = login(srv)
    assert ok(m.select("INBOX"))[0] == b"1"
    stored = fetch_one(m, "1", "(BODY.PEEK[])")
    # Trace headers on top, then the message exactly as submitted (8-bit header included).
    assert strip_added_headers(stored) == UTF8_MESSAGE
    assert fetch_one(m, "1", "(BODY.PEEK[TEXT])") == "Hallöchen – the needle.\r\n".encode()
    env = ok(m.fetch("1", "(ENVELOPE)"))
    flat = b"".join(x if isinstance(x, bytes) else b"".join(x) for x in env)
    assert "Grüße aus Köln – ✓".encode() in flat
    assert ok(m.search(None, "BODY", "needle"))[0] == b"1"
    m.literal = "Köln".encode()
    assert ok(m.search("UTF-8", "SUBJECT"))[0] == b"1"
    m.logout()


def test_append_store_search_copy_move_expunge(srv):
    m = login(srv)
    typ, data = m.append("INBOX", "(\\Flagged)", '"01-Mar-2026 10:00:00 +0100"', UTF8_MESSAGE)
    assert typ == "OK" and b"APPENDUID" in data[0], data
    uid = re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1).decode()
    ok(m.select("INBOX"))
    assert ok(m.uid("FETCH", uid, "(BODY.PEEK[])"))[0][1] == UTF8_MESSAGE
    meta = b"".join(x[0] if isinstance(x, tuple) else x for x in ok(m.uid("FETCH", uid, "(FLAGS INTERNALDATE RFC822.SIZE)")))
    assert b"\\Flagged" in meta and b'" 1-Mar-2026 10:00:00 +0100"' in meta and b"RFC822.SIZE %d" % len(UTF8_MESSAGE) in meta
    assert ok(m.search(None, "UNSEEN FLAGGED"))[0] == b"1"
    ok(m.store("1", "+FLAGS", "(\\Seen $Label1)"))
    assert ok(m.search(None, "KEYWORD", "$Label1"))[0] == b"1"
    ok(m.copy("1", "Archive"))
    typ, _ = m.copy("1", "No/Such/Box")
    assert typ == "NO"
    typ, data = m.uid("MOVE", uid, "Trash")
    assert typ == "OK", data
    assert m.untagged_responses.get("EXPUNGE") == [b"1"], m.untagged_responses
    assert ok(m.status("Trash", "(MESSAGES UNSEEN)"))[0].endswith(b"(MESSAGES 1 UNSEEN 0)")
    ok(m.select("Archive"))
    ok(m.store("1", "+FLAGS", "(\\Deleted)"))
    assert ok(m.expunge()) == [b"1"]
    assert ok(m.status("Archive", "(MESSAGES)"))[0].endswith(b"(MESSAGES 0)")
    m.logout()


def test_idle_push_after_smtp_delivery(srv):
    m = login(srv)
    ok(m.select("INBOX"))
    tag = m._new_tag().decode()
    m.send(f"{tag} IDLE\r\n".encode())
    assert m.readline().startswith(b"+")
    sent = time.monotonic()
    send(srv, ALICE, b"Subject: push\r\nFrom: <x@outside.test>\r\n\r\npushed\r\n")
    m.sock.settimeout(10)
    line = m.readline()
    while line.startswith(b"* OK") or b"RECENT" in line:
        line = m.readline()
    arrived = time.monotonic()
    assert re.match(rb"\* 1 EXISTS", line), line
    # SMTP acknowledged after the commit; the push must follow within a second of that.
    assert arrived - sent < 3.0, arrived - sent
    m.send(b"DONE\r\n")
    while not (line := m.readline()).startswith(tag.encode()):
        pass
    assert b" OK " in line
    assert b"pushed" in fetch_one(m, "1", "(BODY.PEEK[TEXT])")
    m.logout()


def test_two_sessions_see_flags_and_expunges(srv):
    for i in range(3):
        send(srv, BOB, f"Subject: m{i}\r\nFrom: <x@outside.test>\r\n\r\nbody {i}\r\n".encode())
    srv.wait_inbox_raw(BOB, 3)
    a = login(srv, BOB, BOB_PASSWORD)
    b = login(srv, BOB, BOB_PASSWORD)
    ok(a.select("INBOX"))
    ok(b.select("INBOX"))
    ok(a.store("2", "+FLAGS", "(\\Flagged)"))
    b.untagged_responses.clear()
    ok(b.noop())
    assert any(b"\\Flagged" in f for f in b.untagged_responses.get("FETCH", [])), b.untagged_responses
    ok(a.store("1", "+FLAGS", "(\\Deleted)"))
    ok(a.expunge())
    b.untagged_responses.clear()
    # No EXPUNGE while answering FETCH by sequence number: "3" still means the third message.
    data = ok(b.fetch("3", "(BODY.PEEK[TEXT])"))
    assert data[0][1] == b"body 2\r\n", data
    assert "EXPUNGE" not in b.untagged_responses
    ok(b.noop())
    assert b.untagged_responses.get("EXPUNGE") == [b"1"], b.untagged_responses
    assert ok(b.fetch("2", "(BODY.PEEK[TEXT])"))[0][1] == b"body 2\r\n"
    a.logout()
    b.logout()


def test_condstore_qresync_resync(srv):
    m = login(srv)
    for i in range(4):
        ok(m.append("INBOX", None, None, f"Subject: q{i}\r\n\r\nx\r\n".encode()))
    ok(m._simple_command("ENABLE", "QRESYNC"))
    ok(m.select("INBOX"))
    validity = int(m.untagged_responses["UIDVALIDITY"][-1])
    modseq = int(m.untagged_responses["HIGHESTMODSEQ"][-1])
    m.logout()
    # Meanwhile another client changes one message and expunges another.
    other = login(srv)
    ok(other.select("INBOX"))
    ok(other.store("2", "+FLAGS", "(\\Answered)"))
    ok(other.store("4", "+FLAGS", "(\\Deleted)"))
    ok(other.expunge())
    other.logout()
    m = login(srv)
    ok(m._simple_command("ENABLE", "QRESYNC"))
    m.untagged_responses.clear()
    typ, data = m._simple_command("SELECT", f"INBOX (QRESYNC ({validity} {modseq} 1:4))")
    assert typ == "OK", data
    assert m.untagged_responses.get("VANISHED") == [b"(EARLIER) 4"], m.untagged_responses
    fetches = m.untagged_responses.get("FETCH", [])
    assert len(fetches) == 1 and b"UID 2" in fetches[0] and b"\\Answered" in fetches[0], fetches
    m.logout()


def test_list_special_use_and_status(srv):
    m = login(srv)
    listing = b"\n".join(ok(m.list()))
    for use, name in [(b"\\Sent", b"Sent"), (b"\\Trash", b"Trash"), (b"\\Drafts", b"Drafts"), (b"\\Junk", b"Junk")]:
        assert re.search(rb"\(.*" + re.escape(use) + rb".*\) \"/\" \"?" + name, listing), listing
    ok(m.create("Projekte/K&APY-ln"))  # "Projekte/Köln" in modified UTF-7
    typ, data = m._simple_command("LIST", '""', "Projekte/*", "RETURN", "(STATUS (MESSAGES UIDNEXT SIZE))")
    assert typ == "OK", data
    lines = b"\n".join(m.untagged_responses.get("LIST", []) + m.untagged_responses.get("STATUS", []))
    assert b"Projekte/K&APY-ln" in lines and b"MESSAGES 0" in lines, lines
    m.logout()


def test_thunderbird_utf8_append_to_sent_and_drafts(srv):
    """Thunderbird 153 after `ENABLE UTF8=ACCEPT` saves sent mail and drafts with RFC 6855 §4's
    `APPEND mailbox (flags) UTF8 (~{n+}...)`: the exact bytes it sends, on a raw socket (imaplib
    cannot produce this form), then read back with imaplib."""
    import socket

    def read_until_tagged(f, tag: bytes) -> bytes:
        out = b""
        while True:
            line = f.readline()
            assert line, out
            out += line
            if line.startswith(tag + b" "):
                return out

    with socket.create_connection(("127.0.0.1", srv.ports["imap"]), timeout=30) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"* OK")
        s.sendall(f'1 login "{ALICE}" "{ALICE_PASSWORD}"\r\n'.encode())
        assert b"1 OK" in read_until_tagged(f, b"1")
        s.sendall(b"2 enable UTF8=ACCEPT\r\n")
        assert b"* ENABLED UTF8=ACCEPT" in read_until_tagged(f, b"2")
        for tag, mailbox, flags in ((b"3", b"Sent", b"\\Seen"), (b"4", b"Drafts", b"\\Seen \\Draft")):
            s.sendall(tag + b' append "' + mailbox + b'" (' + flags + b") UTF8 (~{"
                      + str(len(UTF8_MESSAGE)).encode() + b"+}\r\n" + UTF8_MESSAGE + b")\r\n")
            reply = read_until_tagged(f, tag)
            assert re.search(rb"(?m)^" + tag + rb" OK \[APPENDUID \d+ 1\]", reply), reply
        s.sendall(b"5 logout\r\n")
        read_until_tagged(f, b"5")

    m = login(srv)
    for mailbox, flag in (("Sent", "\\Seen"), ("Drafts", "\\Draft")):
        ok(m.select(mailbox, readonly=True))
        assert fetch_one(m, "1", "(BODY.PEEK[])") == UTF8_MESSAGE
        assert flag in ok(m.fetch("1", "(FLAGS)"))[0].decode()
    m.logout()


def test_sort_and_uid_sort(srv):
    """SORT (RFC 5256) and SORT=DISPLAY (RFC 5957) as imaplib sends them: the order of each
    criterion, REVERSE, base subjects ("Re:", "[list]", "(fwd)" ignored), UID SORT, and the
    search keys applied before sorting."""
    m = login(srv)
    caps = ok(m.capability())[0].split()
    assert {b"SORT", b"SORT=DISPLAY", b"WITHIN"} <= set(caps), caps
    messages = [
        # (internal date, From, Subject, body size filler)
        ('"01-Mar-2026 10:00:00 +0000"', "Zed <b@outside.test>", "Re: beta", 300),
        ('"02-Mar-2026 10:00:00 +0000"', '"Amy" <c@outside.test>', "alpha (fwd)", 100),
        ('"03-Mar-2026 10:00:00 +0000"', "a@outside.test", "[list] Fwd: Beta", 200),
    ]
    uids = []
    for date, sender, subject, size in messages:
        raw = (f"From: {sender}\r\nTo: alice@example.test\r\nSubject: {subject}\r\n\r\n" + "x" * size + "\r\n").encode()
        typ, data = m.append("INBOX", "", date, raw)
        assert typ == "OK", data
        uids.append(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
    ok(m.select("INBOX"))
    assert ok(m.sort("(ARRIVAL)", "UTF-8", "ALL")) == [b"1 2 3"]
    assert ok(m.sort("(REVERSE ARRIVAL)", "UTF-8", "ALL")) == [b"3 2 1"]
    assert ok(m.sort("(SIZE)", "US-ASCII", "ALL")) == [b"2 3 1"]
    # "beta" and "Beta" are the same base subject: arrival order decides between them.
    assert ok(m.sort("(SUBJECT)", "UTF-8", "ALL")) == [b"2 1 3"]
    assert ok(m.sort("(FROM)", "UTF-8", "ALL")) == [b"3 1 2"]
    assert ok(m.sort("(DISPLAYFROM)", "UTF-8", "ALL")) == [b"3 2 1"]
    assert ok(m.sort("(REVERSE SUBJECT ARRIVAL)", "UTF-8", "NOT SUBJECT alpha")) == [b"1 3"]
    assert ok(m.uid("SORT", "(REVERSE SIZE)", "UTF-8", "ALL")) == [b" ".join([uids[0], uids[2], uids[1]])]
    typ, data = m.sort("(SUBJECT)", "KOI8-R", "ALL")
    assert typ == "NO" and b"BADCHARSET" in data[0], data
    m.logout()


def test_preview(srv):
    """PREVIEW (RFC 8970) as imaplib fetches it: the first words of the text, decoded from its
    charset and transfer encoding, as a literal when it is not ASCII; LAZY gives the same."""
    m = login(srv)
    assert b"PREVIEW" in ok(m.capability())[0].split()
    send(srv, ALICE, UTF8_MESSAGE)
    plain = (b"From: a@outside.test\r\nTo: alice@example.test\r\nSubject: p\r\n"
             b"Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
             b"See you=\r\n at noon.\r\n> quoted\r\n")
    ok(m.append("INBOX", "", None, plain))
    # The SMTP message was stored before its 250, so it is message 1.
    assert ok(m.select("INBOX")) == [b"2"]
    data = ok(m.fetch("1:2", "(UID PREVIEW)"))
    texts = sorted(part[1].decode() if isinstance(part, tuple) else re.search(rb'PREVIEW "([^"]*)"', part).group(1).decode()
                   for part in data if part != b")")
    assert texts == ["Hallöchen – the needle.", "See you at noon."], data
    assert ok(m.fetch("2", "(PREVIEW (LAZY))"))[0].endswith(b'PREVIEW "See you at noon.")'), data
    m.logout()
