"""Swallow's POP3 listeners (pop3 with STLS, pop3s) driven by Python's poplib, a client
nobody here wrote: RFC 1939 commands and their UPDATE semantics, CAPA (RFC 2449), STLS
(RFC 2595), SASL AUTH (RFC 5034) through poplib's raw command methods."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import poplib
import re
import smtplib
import socket
import time

import pytest

from conftest import ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD, tls_client_context

POP3_LISTENERS = ("pop3", "pop3s")
UIDL = re.compile(rb"^\d+\.\d+$")


@pytest.fixture
def pop3_server(swallow_factory):
    """A running server with pop3 and pop3s on 127.0.0.1, plaintext logins refused before TLS."""
    return swallow_factory(listeners=POP3_LISTENERS)


def message(subject: str, body: str = "hello\n") -> bytes:
    """A message as an mbox file holds it (LF line ends); the store keeps it with CRLF."""
    return (f"From: <sender@outside.test>\nTo: <{ALICE}>\nSubject: {subject}\n"
            f"Message-ID: <{subject.replace(' ', '.')}@outside.test>\n\n{body}").encode()


def import_messages(srv, messages: list[bytes], user: str = ALICE) -> None:
    """`swallow import --format mbox` into the user's INBOX, while the server runs."""
    path = srv.root / f"import-{time.monotonic_ns()}.mbox"
    with open(path, "wb") as f:
        for m in messages:
            f.write(b"From sender@outside.test Mon Jan  1 00:00:00 2024\n")
            f.write(m if m.endswith(b"\n") else m + b"\n")
            f.write(b"\n")
    srv.cli("import", "--format", "mbox", "--user", user, str(path))


def connect(srv, tls: bool = True, user: str = ALICE, password: str = ALICE_PASSWORD,
            login: bool = True) -> poplib.POP3:
    """pop3 + STLS (or plain pop3 when tls is False), then USER/PASS."""
    p = poplib.POP3("127.0.0.1", srv.ports["pop3"], timeout=30)
    if tls:
        p.stls(context=tls_client_context())
    if login:
        p.user(user)
        p.pass_(password)
    return p


def crlf_lines(m: bytes) -> list[bytes]:
    """The lines poplib returns for a message imported from LF text."""
    return m.rstrip(b"\n").split(b"\n")


def crlf_size(m: bytes) -> int:
    return sum(len(line) + 2 for line in crlf_lines(m))


def maildir_flags(srv, user: str = ALICE) -> list[str]:
    """The flag letters of every INBOX message, from a Maildir export (`:2,FLAGS`), in order."""
    path = srv.root / f"export-{time.monotonic_ns()}"
    srv.cli("export", "--format", "maildir", "--user", user, "--mailbox", "INBOX", str(path))
    # Export names are "<seconds>.M<micro>P<pid>Q<sequence>.<host>:2,<flags>", written in UID order.
    names = sorted(os.listdir(path / "cur"), key=lambda n: int(re.search(r"Q(\d+)", n).group(1)))
    return [n.rsplit(":2,", 1)[1] if ":2," in n else "" for n in names]


def scram_sha256(p: poplib.POP3, user: str, password: str) -> bytes:
    """RFC 5802/7677 SCRAM-SHA-256 over RFC 5034 AUTH, with poplib's raw commands. Returns the
    final +OK line after checking the server's signature."""
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    nonce = b64(os.urandom(18))
    first_bare = f"n={user.replace('=', '=3D').replace(',', '=2C')},r={nonce}"
    resp = p._shortcmd("AUTH SCRAM-SHA-256")
    assert resp == b"+ ", resp
    resp = p._shortcmd(b64(("n,," + first_bare).encode()))
    assert resp.startswith(b"+ "), resp
    server_first = base64.b64decode(resp[2:]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    assert attrs["r"].startswith(nonce)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = f"c=biws,r={attrs['r']}"
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    resp = p._shortcmd(b64(f"{without_proof},p={b64(proof)}".encode()))
    assert resp.startswith(b"+ "), resp
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    expected = "v=" + b64(hmac.new(server_key, auth_message, hashlib.sha256).digest())
    assert base64.b64decode(resp[2:]).decode() == expected, "server signature does not verify"
    # RFC 5034 §4: the server-final data came as a challenge; an empty response finishes.
    return p._shortcmd("")


# --------------------------------------------------------------------------
# TLS and authentication


def test_stls_then_user_pass(pop3_server):
    import_messages(pop3_server, [message("stls one")])
    p = poplib.POP3("127.0.0.1", pop3_server.ports["pop3"], timeout=30)
    try:
        assert p.getwelcome().startswith(b"+OK")
        caps = p.capa()
        assert "STLS" in caps and "USER" not in caps, caps
        # tls_auth_only (the default): no login method at all before STLS.
        assert "SASL" not in caps, caps
        assert "UIDL" in caps and "TOP" in caps and "RESP-CODES" in caps and "PIPELINING" in caps
        p.stls(context=tls_client_context())
        caps = p.capa()
        assert "USER" in caps and "STLS" not in caps, caps
        assert caps.get("SASL") == ["PLAIN", "LOGIN", "SCRAM-SHA-256"], caps
        assert p.user(ALICE).startswith(b"+OK")
        assert p.pass_(ALICE_PASSWORD).startswith(b"+OK")
        assert p.stat() == (1, crlf_size(message("stls one")))
    finally:
        p.quit()


def test_pop3s_implicit_tls(pop3_server):
    import_messages(pop3_server, [message("implicit tls")])
    p = poplib.POP3_SSL("127.0.0.1", pop3_server.ports["pop3s"], context=tls_client_context(), timeout=30)
    try:
        assert "STLS" not in p.capa(), "no STLS over implicit TLS"
        p.user(ALICE)
        p.pass_(ALICE_PASSWORD)
        count, _ = p.stat()
        assert count == 1
        _, lines, _ = p.retr(1)
        assert b"Subject: implicit tls" in lines
    finally:
        p.quit()


def test_plaintext_refused_before_tls(pop3_server):
    p = connect(pop3_server, tls=False, login=False)
    try:
        with pytest.raises(poplib.error_proto) as e:
            p.user(ALICE)
        assert e.value.args[0].startswith(b"-ERR [AUTH] Plaintext authentication disallowed"), e.value
        with pytest.raises(poplib.error_proto) as e:
            p.pass_(ALICE_PASSWORD)
        assert e.value.args[0].startswith(b"-ERR [AUTH]"), e.value
        plain = base64.b64encode(f"\0{ALICE}\0{ALICE_PASSWORD}".encode()).decode()
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd(f"AUTH PLAIN {plain}")
        assert e.value.args[0].startswith(b"-ERR [AUTH]"), e.value
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd("STAT")
        assert e.value.args[0].startswith(b"-ERR"), "still not logged in"
    finally:
        p.quit()


def test_plaintext_allowed_when_configured(swallow_factory):
    srv = swallow_factory(allow_plaintext=True, listeners=POP3_LISTENERS)
    import_messages(srv, [message("plaintext ok")])
    p = connect(srv, tls=False, login=False)
    try:
        caps = p.capa()
        assert "USER" in caps and caps.get("SASL") == ["PLAIN", "LOGIN", "SCRAM-SHA-256"], caps
        p.user(ALICE)
        p.pass_(ALICE_PASSWORD)
        assert p.stat()[0] == 1
    finally:
        p.quit()


def test_wrong_password_gets_auth_code(pop3_server):
    p = connect(pop3_server, login=False)
    try:
        p.user(ALICE)
        with pytest.raises(poplib.error_proto) as e:
            p.pass_("not the password")
        assert e.value.args[0] == b"-ERR [AUTH] Authentication failed"
        # The penalty is served before the next attempt's password is hashed (250 ms first).
        p.user(BOB)
        started = time.monotonic()
        assert p.pass_(BOB_PASSWORD).startswith(b"+OK"), "a good login after a bad one works"
        assert time.monotonic() - started >= 0.2, "the next attempt waits the throttle's delay"
    finally:
        p.quit()


def test_auth_plain_with_and_without_initial_response(pop3_server):
    plain = base64.b64encode(f"\0{ALICE}\0{ALICE_PASSWORD}".encode()).decode()
    p = connect(pop3_server, login=False)
    try:
        assert p._shortcmd(f"AUTH PLAIN {plain}").startswith(b"+OK")
        assert p.stat()[0] == 0
    finally:
        p.quit()
    p = connect(pop3_server, login=False)
    try:
        assert p._shortcmd("AUTH PLAIN") == b"+ "
        assert p._shortcmd(plain).startswith(b"+OK")
    finally:
        p.quit()
    p = connect(pop3_server, login=False)
    try:
        assert p._shortcmd("AUTH LOGIN") == b"+ " + base64.b64encode(b"Username:")
        assert p._shortcmd(base64.b64encode(ALICE.encode()).decode()) == b"+ " + base64.b64encode(b"Password:")
        assert p._shortcmd(base64.b64encode(ALICE_PASSWORD.encode()).decode()).startswith(b"+OK")
    finally:
        p.quit()
    p = connect(pop3_server, login=False)
    try:
        assert p._shortcmd("AUTH PLAIN") == b"+ "
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd("*")
        assert e.value.args[0] == b"-ERR Authentication cancelled"
    finally:
        p.quit()


def test_no_login_of_any_kind_before_stls(pop3_server):
    """Postfix's smtpd_tls_auth_only, on by default: not even SCRAM before STLS (the audit
    found SCRAM accepted in the clear on 110)."""
    p = connect(pop3_server, tls=False, login=False)
    try:
        assert "SASL" not in p.capa()
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
            p._shortcmd("AUTH SCRAM-SHA-256")
    finally:
        p.quit()


def test_auth_scram_sha_256_without_tls_when_allowed(swallow_factory):
    """With `auth.tls_auth_only = false`, SCRAM (which never sends the password) works before
    STLS; PLAIN and USER still do not."""
    srv = swallow_factory(listeners=("pop3", "pop3s"), settings={"auth": {"tls_auth_only": False}})
    import_messages(srv, [message("scram")])
    p = connect(srv, tls=False, login=False)
    try:
        assert p.capa().get("SASL") == ["SCRAM-SHA-256"]
        assert scram_sha256(p, ALICE, ALICE_PASSWORD).startswith(b"+OK")
        assert p.stat()[0] == 1
    finally:
        p.quit()
    p = connect(srv, tls=False, login=False)
    try:
        with pytest.raises((poplib.error_proto, AssertionError)):
            scram_sha256(p, ALICE, "wrong password")
    finally:
        p.close()


def test_stls_refuses_pipelined_commands(pop3_server):
    """RFC 2595 §4 / DESIGN.md §4: bytes sent after STLS before the +OK are never executed."""
    with socket.create_connection(("127.0.0.1", pop3_server.ports["pop3"]), timeout=30) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"+OK")
        s.sendall(b"STLS\r\nUSER alice@example.test\r\n")
        assert f.readline().startswith(b"-ERR Pipelined data after STLS")
        assert f.read() == b"", "the server closes the connection"


# --------------------------------------------------------------------------
# TRANSACTION and UPDATE (RFC 1939 §5, §6, §7)


def test_stat_list_uidl_retr_top(pop3_server):
    msgs = [message("first", "line one\n.starts with a dot\n..two dots\n"),
            message("second", "x\n" * 5),
            message("third")]
    import_messages(pop3_server, msgs)
    p = connect(pop3_server)
    try:
        sizes = [crlf_size(m) for m in msgs]
        assert p.stat() == (3, sum(sizes))
        resp, listing, _ = p.list()
        assert resp.startswith(b"+OK 3 messages")
        assert listing == [f"{i + 1} {s}".encode() for i, s in enumerate(sizes)]
        assert p.list(2) == f"+OK 2 {sizes[1]}".encode()
        resp, uidls, _ = p.uidl()
        numbers = [u.split(b" ")[0] for u in uidls]
        ids = [u.split(b" ")[1] for u in uidls]
        assert numbers == [b"1", b"2", b"3"] and all(UIDL.match(i) for i in ids) and len(set(ids)) == 3
        assert p.uidl(3) == b"+OK 3 " + ids[2]
        # RETR: the stored bytes, dot-stuffed on the wire; poplib unstuffs them.
        resp, lines, octets = p.retr(1)
        assert resp == f"+OK {sizes[0]} octets".encode()
        assert lines == crlf_lines(msgs[0])
        assert octets == sizes[0], "RFC 1939 §5: the exact size LIST gave"
        # TOP: header, blank line, n body lines.
        _, top, _ = p.top(2, 2)
        header, _, body = msgs[1].partition(b"\n\n")
        assert top == header.split(b"\n") + [b"", b"x", b"x"]
        _, top0, _ = p.top(3, 0)
        assert top0 == msgs[2].partition(b"\n\n")[0].split(b"\n") + [b""]
    finally:
        p.quit()


def test_dele_applies_only_at_quit(pop3_server):
    import_messages(pop3_server, [message(f"dele {i}") for i in range(4)])
    p = connect(pop3_server)
    _, uidls, _ = p.uidl()
    assert p.dele(2).startswith(b"+OK")
    assert p.dele(4).startswith(b"+OK")
    assert p.stat()[0] == 2, "deleted messages drop out of STAT"
    with pytest.raises(poplib.error_proto, match="marked deleted"):
        p.retr(2)
    with pytest.raises(poplib.error_proto):
        p.dele(2)
    # Another session still sees all four: nothing is deleted before QUIT.
    q = connect(pop3_server)
    assert q.stat()[0] == 4
    q.quit()
    assert b"2 messages deleted" in p.quit()
    r = connect(pop3_server)
    try:
        _, after, _ = r.uidl()
        kept = [u.split(b" ")[1] for u in after]
        assert kept == [uidls[0].split(b" ")[1], uidls[2].split(b" ")[1]]
    finally:
        r.quit()


def test_dropped_connection_deletes_nothing(pop3_server):
    import_messages(pop3_server, [message("keep me 1"), message("keep me 2")])
    p = connect(pop3_server)
    p.dele(1)
    p.dele(2)
    p.close()  # no QUIT: RFC 1939 §6, no UPDATE
    time.sleep(0.3)
    q = connect(pop3_server)
    try:
        assert q.stat()[0] == 2
    finally:
        q.quit()


def test_rset_unmarks(pop3_server):
    import_messages(pop3_server, [message("rset 1"), message("rset 2")])
    p = connect(pop3_server)
    p.dele(1)
    assert p.stat()[0] == 1
    assert p.rset().startswith(b"+OK")
    assert p.stat()[0] == 2
    p.quit()
    q = connect(pop3_server)
    try:
        assert q.stat()[0] == 2, "RSET then QUIT deletes nothing"
    finally:
        q.quit()


def test_uidl_stable_across_sessions_and_new_mail(pop3_server):
    import_messages(pop3_server, [message("uidl 1"), message("uidl 2")])
    p = connect(pop3_server)
    _, first, _ = p.uidl()
    # Mail that arrives during a session is not part of its maildrop (a snapshot at login).
    import_messages(pop3_server, [message("uidl 3")])
    assert p.stat()[0] == 2
    with pytest.raises(poplib.error_proto):
        p.retr(3)
    p.quit()
    q = connect(pop3_server)
    _, second, _ = q.uidl()
    assert second[:2] == first and len(second) == 3
    q.dele(1)
    q.quit()
    r = connect(pop3_server)
    try:
        _, third, _ = r.uidl()
        # Message numbers shift, the unique ids do not.
        assert [u.split(b" ")[1] for u in third] == [u.split(b" ")[1] for u in second[1:]]
        assert [u.split(b" ")[0] for u in third] == [b"1", b"2"]
    finally:
        r.quit()


def test_retr_marks_seen_top_does_not(pop3_server):
    import_messages(pop3_server, [message("seen 1"), message("seen 2")])
    p = connect(pop3_server)
    p.retr(1)
    p.top(2, 0)
    p.quit()
    flags = maildir_flags(pop3_server)
    assert "S" in flags[0] and "S" not in flags[1], flags


def test_mail_delivered_over_smtp(pop3_server):
    with smtplib.SMTP("127.0.0.1", pop3_server.smtp, timeout=30) as s:
        s.sendmail("sender@outside.test", [ALICE],
                   b"From: sender@outside.test\r\nSubject: over smtp\r\n\r\n.dot line\r\nbody\r\n")
    pop3_server.wait_inbox_raw(ALICE, 1)
    p = connect(pop3_server)
    try:
        _, lines, octets = p.retr(1)
        assert b"Subject: over smtp" in lines and b".dot line" in lines and lines[-1] == b"body"
        assert octets == int(p.list(1).split()[2])
        assert any(line.startswith(b"Received: ") for line in lines)
    finally:
        p.quit()


def test_errors_are_precise(pop3_server):
    import_messages(pop3_server, [message("errors")])
    p = connect(pop3_server)
    try:
        for command, expected in [
            ("RETR 9", b"-ERR No such message"),
            ("RETR 0", b"-ERR No such message"),
            ("RETR x", b"-ERR Invalid message number"),
            ("TOP 1", b"-ERR Syntax: TOP msg lines"),
            ("FROB", b"-ERR Unknown command"),
            ("USER bob@example.test", b"-ERR USER is not valid in the TRANSACTION state"),
            ("STLS", b"-ERR STLS is not valid in the TRANSACTION state"),
            ("STAT " + "x" * 300, b"-ERR Line too long"),
        ]:
            with pytest.raises(poplib.error_proto) as e:
                p._shortcmd(command)
            assert e.value.args[0].startswith(expected), (command, e.value.args[0])
        assert p.noop().startswith(b"+OK"), "the session survives bad input"
    finally:
        p.quit()


def test_large_message(pop3_server):
    body = "".join(f".line {i}\n" if i % 5 == 0 else f"line {i} of a large message\n" for i in range(60000))
    big = message("large", body)
    import_messages(pop3_server, [big])
    p = connect(pop3_server)
    try:
        _, lines, octets = p.retr(1)
        assert lines == crlf_lines(big)
        assert octets == crlf_size(big)
    finally:
        p.quit()
