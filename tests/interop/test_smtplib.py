"""Swallow's SMTP listeners driven by Python's smtplib (a client nobody here wrote)."""

from __future__ import annotations

import base64
import random
import re
import smtplib

import pytest

from conftest import (ALIAS, ALICE, ALICE_PASSWORD, BOB, TEAM, split_added_headers,
                      strip_added_headers, tls_client_context, to_lf)

QUEUED = re.compile(rb"^2\.0\.0 Ok: queued as ([0-9A-Fa-f]{16})$")
SIZE_LIMIT = 52428800


def message(subject: str, body: str = "hello\r\n", sender: str = "sender@outside.test",
            to: str = ALICE) -> bytes:
    return (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@outside.test>\r\n\r\n{body}").encode()


def submission_tls(srv) -> smtplib.SMTP:
    s = smtplib.SMTP("127.0.0.1", srv.submission, timeout=30)
    s.ehlo("client.outside.test")
    s.starttls(context=tls_client_context())
    s.ehlo("client.outside.test")
    return s


def auth_mechanisms(s: smtplib.SMTP) -> list[str]:
    return s.esmtp_features.get("auth", "").upper().split()


def assert_queued(reply) -> str:
    code, text = reply
    assert code == 250, reply
    m = QUEUED.match(text)
    assert m, f"250 reply after DATA is not '2.0.0 Ok: queued as <16 hex>': {text!r}"
    return m.group(1).decode()


def only_message_with(srv, user: str, marker: str, timeout: float = 20.0) -> bytes:
    msgs = srv.wait_inbox_raw(user, 1, timeout)
    hits = [m for m in msgs if marker.encode() in m]
    assert len(hits) == 1, f"{user}: {len(hits)} copies of {marker!r} in {len(msgs)} messages"
    return hits[0]


# --------------------------------------------------------------------------
# EHLO


BASE_EXTENSIONS = {"pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes",
                   "chunking", "binarymime", "dsn"}


@pytest.mark.parametrize("listener", ["smtp", "submission"])
def test_ehlo_extensions_before_and_after_starttls(swallow, listener):
    with smtplib.SMTP("127.0.0.1", swallow.ports[listener], timeout=30) as s:
        code, _ = s.ehlo("client.outside.test")
        assert code == 250
        assert BASE_EXTENSIONS <= set(s.esmtp_features), s.esmtp_features
        assert s.esmtp_features["size"] == str(SIZE_LIMIT)
        assert "starttls" in s.esmtp_features
        # tls_auth_only (the default): no AUTH of any kind before STARTTLS.
        assert auth_mechanisms(s) == [], auth_mechanisms(s)
        s.starttls(context=tls_client_context())
        s.ehlo("client.outside.test")
        assert BASE_EXTENSIONS <= set(s.esmtp_features), s.esmtp_features
        assert "starttls" not in s.esmtp_features
        assert {"PLAIN", "LOGIN", "SCRAM-SHA-256"} <= set(auth_mechanisms(s)), auth_mechanisms(s)


def test_ehlo_extensions_submissions(swallow):
    with smtplib.SMTP_SSL("127.0.0.1", swallow.submissions, timeout=30,
                          context=tls_client_context()) as s:
        s.ehlo("client.outside.test")
        assert BASE_EXTENSIONS <= set(s.esmtp_features), s.esmtp_features
        assert "starttls" not in s.esmtp_features, "STARTTLS offered inside implicit TLS"
        assert {"PLAIN", "LOGIN", "SCRAM-SHA-256"} <= set(auth_mechanisms(s))


def test_plaintext_auth_allowed_by_config(swallow_factory):
    srv = swallow_factory(allow_plaintext=True)
    with smtplib.SMTP("127.0.0.1", srv.submission, timeout=30) as s:
        s.ehlo("client.outside.test")
        assert {"PLAIN", "LOGIN"} <= set(auth_mechanisms(s)), auth_mechanisms(s)
        s.login(ALICE, ALICE_PASSWORD)
        s.sendmail(ALICE, [BOB], message("plaintext allowed", sender=ALICE, to=BOB))
    only_message_with(srv, BOB, "plaintext allowed")


# --------------------------------------------------------------------------
# submission: STARTTLS + AUTH


def test_submission_starttls_auth_plain(swallow):
    s = submission_tls(swallow)
    try:
        assert "PLAIN" in auth_mechanisms(s)
        s.user, s.password = ALICE, ALICE_PASSWORD
        code, text = s.auth("PLAIN", s.auth_plain, initial_response_ok=True)
        assert code == 235 and text.startswith(b"2.7.0"), (code, text)
        s.sendmail(ALICE, [BOB], message("plain initial response", sender=ALICE, to=BOB))
    finally:
        s.quit()
    only_message_with(swallow, BOB, "plain initial response")


def test_submission_starttls_auth_plain_without_initial_response(swallow):
    s = submission_tls(swallow)
    try:
        s.user, s.password = ALICE, ALICE_PASSWORD
        code, text = s.auth("PLAIN", s.auth_plain, initial_response_ok=False)
        assert code == 235, (code, text)
        s.sendmail(ALICE, [BOB], message("plain after 334", sender=ALICE, to=BOB))
    finally:
        s.quit()
    only_message_with(swallow, BOB, "plain after 334")


@pytest.mark.parametrize("initial_response", [False, True], ids=["challenge", "initial-response"])
def test_submission_starttls_auth_login(swallow, initial_response):
    s = submission_tls(swallow)
    try:
        assert "LOGIN" in auth_mechanisms(s)
        s.user, s.password = ALICE, ALICE_PASSWORD
        code, text = s.auth("LOGIN", s.auth_login, initial_response_ok=initial_response)
        assert code == 235 and text.startswith(b"2.7.0"), (code, text)
        subject = f"auth login {initial_response}"
        s.sendmail(ALICE, [BOB], message(subject, sender=ALICE, to=BOB))
    finally:
        s.quit()
    only_message_with(swallow, BOB, f"auth login {initial_response}")


def test_submission_login_helper(swallow):
    """smtplib's own choice of mechanism (login())."""
    s = submission_tls(swallow)
    try:
        code, _ = s.login(ALICE, ALICE_PASSWORD)
        assert code == 235
        s.sendmail(ALICE, [BOB], message("login helper", sender=ALICE, to=BOB))
    finally:
        s.quit()
    only_message_with(swallow, BOB, "login helper")


def test_submissions_implicit_tls(swallow):
    with smtplib.SMTP_SSL("127.0.0.1", swallow.submissions, timeout=30,
                          context=tls_client_context()) as s:
        s.ehlo("client.outside.test")
        s.login(ALICE, ALICE_PASSWORD)
        s.sendmail(ALICE, [BOB], message("implicit tls", sender=ALICE, to=BOB))
    only_message_with(swallow, BOB, "implicit tls")


def test_wrong_password_535(swallow):
    s = submission_tls(swallow)
    try:
        s.user, s.password = ALICE, "not the password"
        with pytest.raises(smtplib.SMTPAuthenticationError) as ei:
            s.auth("PLAIN", s.auth_plain)
        assert ei.value.smtp_code == 535
        assert ei.value.smtp_error.startswith(b"5.7.8"), ei.value.smtp_error
        # and the session is still unauthenticated
        code, text = s.mail(ALICE)
        assert code == 530 and text.startswith(b"5.7.0"), (code, text)
    finally:
        s.close()


def test_auth_plain_before_tls_refused(swallow):
    s = smtplib.SMTP("127.0.0.1", swallow.submission, timeout=30)
    try:
        s.ehlo("client.outside.test")
        assert "starttls" in s.esmtp_features
        mechs = auth_mechanisms(s)
        assert "PLAIN" not in mechs and "LOGIN" not in mechs, mechs
        cred = base64.b64encode(f"\0{ALICE}\0{ALICE_PASSWORD}".encode()).decode()
        code, text = s.docmd("AUTH", f"PLAIN {cred}")
        # tls_auth_only: no AUTH of any kind before STARTTLS (RFC 3207 §4: 530).
        assert code == 530, (code, text)
        code, text = s.docmd("AUTH", "LOGIN")
        assert code == 530, (code, text)
        code, text = s.mail(ALICE)
        assert code == 530, (code, text)
    finally:
        s.close()


def test_mail_before_auth_530(swallow):
    s = submission_tls(swallow)
    try:
        code, text = s.mail(ALICE)
        assert code == 530 and text.startswith(b"5.7.0"), (code, text)
    finally:
        s.close()


def test_sender_not_owned_553(swallow):
    s = submission_tls(swallow)
    try:
        s.login(ALICE, ALICE_PASSWORD)
        for foreign in (BOB, "someone@outside.test"):
            code, text = s.mail(foreign)
            assert code == 553 and text.startswith(b"5.7.1"), (foreign, code, text)
            s.rset()
        # her own alias is hers
        code, text = s.mail(ALIAS)
        assert code == 250, (code, text)
        s.rset()
        code, text = s.mail(ALICE)
        assert code == 250, (code, text)
    finally:
        s.close()


# --------------------------------------------------------------------------
# content fidelity


def test_smtputf8_delivered_byte_exact(swallow):
    user = "zoë@example.test"
    swallow.cli("user", "add", user, "--password-stdin", input="zoe pw\n")
    swallow.cli("alias", "add", "δοκιμή@example.test", user)
    sender = "pelé@outside.test"
    raw = ("From: Pelé <pelé@outside.test>\r\n"
           "To: Zoë <δοκιμή@example.test>\r\n"
           "Subject: Grüße, 日本語の件名 smtputf8-marker\r\n"
           "Message-ID: <smtputf8.ü@outside.test>\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n"
           "\r\n"
           "Ça marche — ünïcödé body ✓\r\n"
           "second line 日本\r\n").encode("utf-8")
    with smtplib.SMTP("127.0.0.1", swallow.smtp, timeout=30) as s:
        s.ehlo("client.outside.test")
        assert s.has_extn("smtputf8")
        refused = s.sendmail(sender, ["δοκιμή@example.test"], raw,
                             mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        assert refused == {}
    stored = only_message_with(swallow, user, "smtputf8-marker")
    fields, rest = split_added_headers(stored)
    assert rest == to_lf(raw)
    return_path = [f for f in fields if f.lower().startswith(b"return-path:")]
    assert return_path and "pelé@outside.test".encode() in return_path[0], fields


def test_8bitmime_delivered_byte_exact(swallow):
    body = bytes(range(0x80, 0x100)).replace(b"\r", b"").replace(b"\n", b"")
    raw = (b"From: <sender@outside.test>\r\nTo: <alice@example.test>\r\n"
           b"Subject: eightbit-marker\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=iso-8859-1\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n"
           b"caf\xe9 na\xefve \xa9 \xff\r\n" + body + b"\r\n"
           b"..leading dot line\r\n.\xe9 dot then 8bit\r\n")
    with smtplib.SMTP("127.0.0.1", swallow.smtp, timeout=30) as s:
        s.ehlo("client.outside.test")
        assert s.has_extn("8bitmime")
        assert s.sendmail("sender@outside.test", [ALICE], raw,
                          mail_options=["BODY=8BITMIME"]) == {}
    stored = only_message_with(swallow, ALICE, "eightbit-marker")
    assert strip_added_headers(stored) == to_lf(raw)


def _big_message(size: int, marker: str) -> bytes:
    rnd = random.Random(20240229)
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    head = (f"From: <sender@outside.test>\r\nTo: <{ALICE}>\r\nSubject: {marker}\r\n"
            f"\r\n").encode()
    lines = []
    total = len(head)
    n = 0
    while total < size:
        # every line starts with a digit-free letter run, never "From " and sometimes a dot
        line = (b"." if n % 97 == 0 else b"x") + bytes(rnd.choices(alphabet, k=75)) + b"\r\n"
        lines.append(line)
        total += len(line)
        n += 1
    return head + b"".join(lines)


@pytest.mark.slow
def test_20mib_message_byte_exact(swallow):
    raw = _big_message(20 * 1024 * 1024, "twenty-mib-marker")
    assert len(raw) >= 20 * 1024 * 1024
    with smtplib.SMTP("127.0.0.1", swallow.smtp, timeout=120) as s:
        s.ehlo("client.outside.test")
        code, text = s.mail("sender@outside.test", [f"SIZE={len(raw)}"])
        assert code == 250, (code, text)
        code, text = s.rcpt(ALICE)
        assert code == 250, (code, text)
        assert_queued(s.data(raw))
    stored = only_message_with(swallow, ALICE, "twenty-mib-marker", timeout=120)
    got = strip_added_headers(stored)
    want = to_lf(raw)
    assert len(got) == len(want)
    assert got == want


def test_size_over_limit_refused_at_mail(swallow):
    with smtplib.SMTP("127.0.0.1", swallow.smtp, timeout=30) as s:
        s.ehlo("client.outside.test")
        assert s.esmtp_features.get("size") == str(SIZE_LIMIT)
        code, text = s.mail("sender@outside.test", [f"SIZE={SIZE_LIMIT + 1}"])
        assert code == 552 and text.startswith(b"5.3.4"), (code, text)
        # exactly at the limit is fine
        code, text = s.mail("sender@outside.test", [f"SIZE={SIZE_LIMIT}"])
        assert code == 250, (code, text)


@pytest.mark.slow
def test_oversized_data_refused_552(swallow):
    """No SIZE parameter, but more than 50 MiB of DATA: refused with 552, nothing stored."""
    chunk = (b"y" * 998 + b"\r\n") * 1024            # 1 MiB
    s = smtplib.SMTP("127.0.0.1", swallow.smtp, timeout=120)
    try:
        s.ehlo("client.outside.test")
        assert s.mail("sender@outside.test")[0] == 250
        assert s.rcpt(ALICE)[0] == 250
        code, text = s.docmd("DATA")
        assert code == 354, (code, text)
        sent_all = True
        try:
            s.sock.sendall(b"Subject: oversized-marker\r\n\r\n")
            for _ in range(SIZE_LIMIT // len(chunk) + 2):
                s.sock.sendall(chunk)
            s.sock.sendall(b".\r\n")
        except (BrokenPipeError, ConnectionResetError):
            sent_all = False  # the server may answer and close early; the reply must be 552
        code, text = s.getreply()
        assert code == 552, (code, text, sent_all)
        assert text.startswith(b"5.3.4"), text
    finally:
        s.close()
    others = swallow.settle(ALICE)
    assert not any(b"oversized-marker" in m for m in others)


# --------------------------------------------------------------------------
# routing


def test_alias_delivers_to_target(swallow):
    with smtplib.SMTP("127.0.0.1", swallow.smtp, timeout=30) as s:
        assert s.sendmail("sender@outside.test", [ALIAS],
                          message("alias-only-marker", to=ALIAS)) == {}
    msg = only_message_with(swallow, ALICE, "alias-only-marker")
    assert b"alias-only-marker" in msg


def test_subaddress_delivers_to_user(swallow):
    with smtplib.SMTP("127.0.0.1", swallow.smtp, timeout=30) as s:
        assert s.sendmail("sender@outside.test", ["alice+tag@example.test"],
                          message("subaddress-marker", to="alice+tag@example.test")) == {}
    only_message_with(swallow, ALICE, "subaddress-marker")


def test_alias_and_target_together_one_copy(swallow):
    with smtplib.SMTP("127.0.0.1", swallow.smtp, timeout=30) as s:
        assert s.sendmail("sender@outside.test", [ALIAS, ALICE],
                          message("alias-plus-target-marker")) == {}
        assert s.sendmail("sender@outside.test", [TEAM, BOB, "alice+tag@example.test"],
                          message("team-plus-bob-marker")) == {}
    alice_msgs = swallow.settle(ALICE)
    bob_msgs = swallow.settle(BOB)
    assert sum(b"alias-plus-target-marker" in m for m in alice_msgs) == 1
    assert sum(b"team-plus-bob-marker" in m for m in bob_msgs) == 1
    # alice got team@ plus alice+tag@: different addresses of one mailbox, still one copy
    assert sum(b"team-plus-bob-marker" in m for m in alice_msgs) == 1


def test_unknown_local_user_550_at_rcpt(swallow):
    with smtplib.SMTP("127.0.0.1", swallow.smtp, timeout=30) as s:
        s.ehlo("client.outside.test")
        assert s.mail("sender@outside.test")[0] == 250
        code, text = s.rcpt("nobody-here@example.test")
        assert code == 550 and text.startswith(b"5.1.1"), (code, text)
        code, text = s.rcpt(ALICE)
        assert code == 250, (code, text)
        code, text = s.data(message("after-unknown-marker"))
        assert_queued((code, text))
    only_message_with(swallow, ALICE, "after-unknown-marker")


def test_queue_id_in_received_header(swallow):
    with smtplib.SMTP("127.0.0.1", swallow.smtp, timeout=30) as s:
        s.ehlo("client.outside.test")
        assert s.mail("sender@outside.test")[0] == 250
        assert s.rcpt(ALICE)[0] == 250
        qid = assert_queued(s.data(message("queue-id-marker")))
    stored = only_message_with(swallow, ALICE, "queue-id-marker")
    fields, _ = split_added_headers(stored)
    received = [f for f in fields if f.lower().startswith(b"received:")]
    assert len(received) == 1, fields
    assert re.search(rb"\bid " + qid.encode() + rb"\b", received[0]), (qid, received[0])
    assert qid.encode() in swallow.log_path.read_bytes(), "queue ID not in the server log"
