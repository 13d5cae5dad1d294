"""ManageSieve (RFC 5804) with a client nobody here wrote: the `managesieve` package from PyPI
(what sieveshell uses). Upload, check, list, activate, fetch, rename and delete scripts over
STARTTLS with SASL PLAIN; then a delivery is filed by the uploaded script."""
from __future__ import annotations

import imaplib
import socket
import ssl

import pytest

from conftest import ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD
from outbound_helpers import message, send_plain, wait_for

managesieve = pytest.importorskip("managesieve")

SCRIPT = 'require "fileinto";\r\nif header :contains "Subject" "managesieve-test" { fileinto "Archive"; }\r\n'


@pytest.fixture
def srv(swallow_factory):
    srv = swallow_factory(listeners=("imap",), settings={"listen": {"managesieve": ["127.0.0.1:0"]}})
    assert "managesieve" in srv.ports, srv.ports
    return srv


def connect(srv) -> "managesieve.MANAGESIEVE":
    conn = managesieve.MANAGESIEVE("127.0.0.1", srv.ports["managesieve"], use_tls=True, tls_verify=False, timeout=30)
    assert conn.login("", ALICE, ALICE_PASSWORD) == "OK", conn.response_text
    return conn


def test_upload_activate_and_a_delivery_is_filed(srv):
    conn = connect(srv)
    assert conn.havespace("main", len(SCRIPT)) == "OK"
    assert conn.putscript("main", SCRIPT) == "OK", conn.response_text
    assert conn.setactive("main") == "OK"
    typ, scripts = conn.listscripts()
    assert typ == "OK" and scripts == [("main", True)], scripts
    typ, text = conn.getscript("main")
    assert typ == "OK" and text == SCRIPT, (typ, text)
    conn.logout()
    # the CLI sees what ManageSieve stored
    assert "main" in srv.cli("sieve", "list", ALICE).stdout

    send_plain(srv, "someone@outside.test", ALICE, message("managesieve-test", "someone@outside.test", ALICE))
    def filed():
        with imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=30) as m:
            m.starttls(ssl_context=_insecure())
            m.login(ALICE, ALICE_PASSWORD)
            typ, data = m.select("Archive")
            return typ == "OK" and int(data[0]) == 1
    wait_for(filed, 15, "the message filed into Archive by the uploaded script")


def test_refusals_carry_their_codes(srv):
    conn = connect(srv)
    # a script that does not parse: NO with its line and column, nothing stored
    assert conn.putscript("bad", 'require "fileinto";\r\nfileinto;\r\n') == "NO"
    text = conn.response_text.decode() if isinstance(conn.response_text, bytes) else str(conn.response_text)
    assert "line 2, column 1" in text, text
    assert conn.listscripts() == ("OK", [])
    assert conn.putscript("a", "keep;\r\n") == "OK"
    assert conn.setactive("a") == "OK"
    assert conn.deletescript("a") == "NO" and conn.response_code == "ACTIVE", conn.response_code
    assert conn.getscript("nope")[0] == "NO" and conn.response_code == "NONEXISTENT", conn.response_code
    assert conn.setactive("") == "OK"
    assert conn.deletescript("a") == "OK"
    conn.logout()


def test_wrong_password_and_plaintext_before_tls(srv):
    conn = managesieve.MANAGESIEVE("127.0.0.1", srv.ports["managesieve"], use_tls=True, tls_verify=False, timeout=30)
    assert conn.login("", ALICE, "wrong password") == "NO"
    conn.logout()
    # Without TLS, PLAIN is refused (and not offered).
    with socket.create_connection(("127.0.0.1", srv.ports["managesieve"]), timeout=30) as s:
        f = s.makefile("rwb")
        greeting = b""
        while not greeting.endswith(b"\r\nOK \"Swallow ManageSieve ready\"\r\n"):
            line = f.readline()
            assert line, greeting
            greeting += line
        # auth.tls_auth_only (the default): no mechanism before STARTTLS (RFC 5804 §1.7).
        assert b'"STARTTLS"' in greeting and b'"SASL" ""' in greeting, greeting
        f.write(b'AUTHENTICATE "PLAIN" "AGFsaWNlQGV4YW1wbGUudGVzdABwdw=="\r\n')
        f.flush()
        assert f.readline().startswith(b"NO (ENCRYPT-NEEDED)")
        f.write(b"LISTSCRIPTS\r\n")
        f.flush()
        assert f.readline().startswith(b"NO ")
        f.write(b"LOGOUT\r\n")
        f.flush()
        assert f.readline().startswith(b"OK")


def _insecure() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
