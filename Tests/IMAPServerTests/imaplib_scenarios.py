"""Scenarios run by IMAPServerTests against an in-process server with Python's imaplib.

usage: imaplib_scenarios.py PORT TLSPORT SCENARIO
Exits 0 when every assertion holds; prints the failing step otherwise.
"""
import base64
import hashlib
import hmac
import imaplib
import os
import re
import socket
import ssl
import sys
import threading
import time

PORT = int(sys.argv[1])
TLS_PORT = int(sys.argv[2])
SCENARIO = sys.argv[3]
ALICE = ("alice@example.test", "alice-pw")
BOB = ("bob@example.test", "bob-pw")


def connect(user=ALICE):
    m = imaplib.IMAP4("127.0.0.1", PORT, timeout=20)
    typ, _ = m.login(*user)
    assert typ == "OK"
    return m


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


MESSAGE = (
    "From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.net>\r\n"
    "To: Alice <alice@example.test>, undisclosed-recipients:;\r\n"
    "Subject: Gr\u00fc\u00dfe aus K\u00f6ln\r\n"
    "Date: Sun, 29 Nov 2026 12:00:00 +0100\r\n"
    "Message-ID: <m1@example.net>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Hall\u00f6chen, the needle is here.\r\n"
    "--b1\r\n"
    "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
    "Content-Disposition: attachment; filename=\"a.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAECAwQ=\r\n"
    "--b1--\r\n"
).encode("utf-8")


def basic():
    m = imaplib.IMAP4("127.0.0.1", PORT, timeout=20)
    caps = m.capabilities
    assert "IMAP4REV1" in caps and "IDLE" in caps, caps
    try:
        m.login("alice@example.test", "wrong")
        raise AssertionError("bad password accepted")
    except imaplib.IMAP4.error as e:
        assert "AUTHENTICATIONFAILED" in str(e), e
    ok(m.login(*ALICE))
    caps = ok(m.capability())[0].decode()
    for c in ["UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC", "SPECIAL-USE", "ESEARCH", "LIST-STATUS", "APPENDLIMIT="]:
        assert c in caps, (c, caps)

    listing = [l.decode() for l in ok(m.list())]
    assert any(l.endswith('"INBOX"') or l.endswith(" INBOX") for l in listing), listing
    assert any("\\Sent" in l for l in listing), listing

    # APPEND byte-exact, 8-bit UTF-8 header, flags and date; APPENDUID.
    typ, data = m.append("INBOX", "(\\Seen $Forwarded)", '"29-Nov-2026 12:00:00 +0100"', MESSAGE)
    assert typ == "OK", data
    assert b"APPENDUID" in data[0], data
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))

    data = ok(m.select("INBOX"))
    assert data[0] == b"1", data
    data = ok(m.uid("FETCH", str(uid), "(BODY.PEEK[] FLAGS INTERNALDATE RFC822.SIZE)"))
    assert data[0][1] == MESSAGE, data[0][1]
    meta = data[0][0].decode() + data[1].decode()
    assert "\\Seen" in meta and "$Forwarded" in meta, meta
    assert 'INTERNALDATE "29-Nov-2026 12:00:00 +0100"' in meta, meta
    assert f"RFC822.SIZE {len(MESSAGE)}" in meta, meta

    # ENVELOPE (8-bit subject sent as a literal to an IMAP4rev1 client) and BODYSTRUCTURE.
    data = ok(m.fetch("1", "(ENVELOPE BODYSTRUCTURE)"))
    flat = b"".join(x if isinstance(x, bytes) else b"".join(x) for x in data)
    assert "Grüße aus Köln".encode() in flat, flat
    assert b'"=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=" NIL "joerg" "example.net"' in flat, flat
    assert b'(NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)' in flat, flat
    assert b'("application" "octet-stream" ("name" "a.bin") NIL NIL "BASE64" 8 NIL ("attachment" ("filename" "a.bin")) NIL NIL)' in flat, flat
    assert b'"mixed" ("boundary" "b1") NIL NIL NIL)' in flat, flat

    # Sections, partial, BINARY.
    data = ok(m.fetch("1", "(BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[]<0.4> BINARY.PEEK[2] BINARY.SIZE[2])"))
    parts = {}
    for item in data:
        if isinstance(item, tuple):
            key = item[0].rsplit(b" ", 1)[0].split(b"(", 1)[-1]
            parts[item[0]] = item[1]
    blob = b"|".join(k + b"=" + v for k, v in parts.items())
    assert "Hallöchen, the needle is here.".encode() in blob, blob
    assert b"Content-Disposition: attachment" in blob, blob
    assert "Subject: Grüße aus Köln\r\n\r\n".encode() in blob, blob
    assert b"BODY[]<0> {4}=From" in blob, blob
    assert b"\x00\x01\x02\x03\x04" in blob, blob
    tail = b"".join(x for x in data if isinstance(x, bytes))
    assert b"BINARY.SIZE[2] 5" in tail, tail

    # STORE, SEARCH, and FETCH without PEEK sets \Seen.
    ok(m.store("1", "-FLAGS", "(\\Seen)"))
    data = ok(m.search(None, "UNSEEN"))
    assert data[0] == b"1", data
    data = ok(m.fetch("1", "(BODY[TEXT])"))
    assert any(b"\\Seen" in (x[0] if isinstance(x, tuple) else x) for x in data), data
    assert ok(m.search(None, "UNSEEN"))[0] == b""
    assert ok(m.search("UTF-8", "BODY", "needle"))[0] == b"1"
    m.literal = "Köln".encode()
    assert ok(m.search("UTF-8", "SUBJECT"))[0] == b"1"
    assert ok(m.search(None, "FROM", "joerg"))[0] == b"1"
    assert ok(m.search(None, "FROM", "nobody"))[0] == b""
    assert ok(m.search(None, "OR", "KEYWORD", "$Forwarded", "DELETED", "SINCE", "1-Jan-2020"))[0] == b"1"
    ok(m.uid("SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL"))
    data = m.untagged_responses.pop("ESEARCH")
    assert data[0].startswith(b"(TAG") and b"UID MIN 1 MAX 1 COUNT 1" in data[0], data
    typ, data = m.search("KOI8-R", "ALL")
    assert typ == "NO", data

    # COPY, MOVE, EXPUNGE.
    data = ok(m.copy("1", "Archive"))
    typ, resp = m._untagged_response("OK", [None], "COPYUID") if False else ("OK", None)
    ok(m.create("Projects/2026"))
    typ, data = m.copy("1", "Nowhere")
    assert typ == "NO"
    assert "TRYCREATE" in m.response("NO")[1][0].decode() if m.response("NO")[1][0] else True
    typ, data = m.uid("MOVE", str(uid), "Projects/2026")
    assert typ == "OK", data
    data = ok(m.noop())
    assert ok(m.select("Projects/2026"))[0] == b"1"
    ok(m.store("1", "+FLAGS", "(\\Deleted)"))
    typ, data = m.expunge()
    assert typ == "OK" and data[0] == b"1", data
    assert ok(m.select("Projects/2026"))[0] == b"0"
    data = ok(m.status("Archive", "(MESSAGES UIDNEXT UNSEEN SIZE)"))
    assert b"MESSAGES 1" in data[0] and b"SIZE %d" % len(MESSAGE) in data[0], data
    ok(m.rename("Projects", "Old"))
    listing = b" ".join(ok(m.list('""', "Old*")))
    assert b"Old/2026" in listing, listing
    ok(m.delete("Old/2026"))
    typ, _ = m.select("Nowhere")
    assert typ == "NO"
    ok(m.subscribe("Archive"))
    lsub = b" ".join(ok(m.lsub()))
    assert b"Archive" in lsub, lsub
    # Mailbox names beyond ASCII go out in modified UTF-7.
    ok(m._simple_command("CREATE", '"K&APY-ln"'))
    assert b"K&APY-ln" in b" ".join(ok(m.list('""', "K*")))
    typ, _ = m.logout()
    assert typ == "BYE"


def two_sessions():
    a = connect()
    b = connect()
    for i in range(3):
        ok(a.append("INBOX", None, None, b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)))
    ok(a.select("INBOX"))
    ok(b.select("INBOX"))
    # A flags a message: B learns it at its next command.
    ok(a.store("2", "+FLAGS", "(\\Flagged)"))
    typ, data = b.noop()
    fetches = b.untagged_responses.pop("FETCH", [])
    assert any(b"\\Flagged" in x for x in fetches), fetches
    # A expunges message 1: during FETCH by number B must not get EXPUNGE; NOOP gets it.
    ok(a.store("1", "+FLAGS", "(\\Deleted)"))
    ok(a.expunge())
    b.untagged_responses.clear()
    data = ok(b.fetch("3", "(FLAGS)"))
    assert "EXPUNGE" not in b.untagged_responses, b.untagged_responses
    ok(b.noop())
    assert b.untagged_responses.get("EXPUNGE") == [b"1"], b.untagged_responses
    # New mail from A shows up in B as EXISTS.
    ok(a.append("INBOX", None, None, b"Subject: m4\r\n\r\nbody\r\n"))
    b.untagged_responses.clear()
    ok(b.noop())
    assert b.untagged_responses.get("EXISTS") == [b"3"], b.untagged_responses
    a.logout()
    b.logout()


def idle():
    a = connect()
    ok(a.select("INBOX"))
    tag = a._new_tag().decode()
    a.send(f"{tag} IDLE\r\n".encode())
    line = a.readline()
    assert line.startswith(b"+"), line
    b = connect()
    ok(b.select("INBOX"))
    started = time.monotonic()
    ok(b.append("INBOX", None, None, b"Subject: pushed\r\n\r\nhello\r\n"))
    a.sock.settimeout(2)
    line = a.readline()
    assert re.match(rb"\* \d+ EXISTS", line), line
    assert time.monotonic() - started < 1.5
    ok(b.store("1", "+FLAGS", "(\\Flagged)"))
    line = a.readline()
    while b"RECENT" in line:
        line = a.readline()
    assert b"FETCH" in line and b"\\Flagged" in line, line
    a.send(b"DONE\r\n")
    while True:
        line = a.readline()
        if line.startswith(tag.encode()):
            assert b"OK" in line, line
            break
    ok(a.noop())
    a.logout()
    b.logout()


def condstore():
    m = connect()
    for i in range(4):
        ok(m.append("INBOX", None, None, b"Subject: c%d\r\n\r\nx\r\n" % i))
    data = ok(m._simple_command("ENABLE", "QRESYNC"))
    assert m.untagged_responses.get("ENABLED") in ([b"QRESYNC"], [b"CONDSTORE QRESYNC"]), m.untagged_responses
    ok(m.select("INBOX"))
    validity = int(m.untagged_responses["UIDVALIDITY"][-1])
    modseq = int(m.untagged_responses["HIGHESTMODSEQ"][-1])
    ok(m.store("2", "+FLAGS", "(\\Seen)"))
    ok(m.store("3", "+FLAGS", "(\\Deleted)"))
    m.untagged_responses.clear()
    ok(m.expunge())
    assert "VANISHED" in m.untagged_responses, m.untagged_responses
    ok(m.close())
    m.untagged_responses.clear()
    typ, data = m._simple_command("SELECT", f"INBOX (QRESYNC ({validity} {modseq}))")
    assert typ == "OK", data
    m.state = "SELECTED"
    assert m.untagged_responses.get("VANISHED") == [b"(EARLIER) 3"], m.untagged_responses
    fetches = b" ".join(m.untagged_responses.get("FETCH", []))
    assert b"UID 2" in fetches and b"\\Seen" in fetches and b"MODSEQ" in fetches, fetches
    # UNCHANGEDSINCE: a store against an old modseq fails with MODIFIED.
    typ, data = m._simple_command("UID", "STORE", "2", f"(UNCHANGEDSINCE {modseq})", "+FLAGS", "(\\Answered)")
    assert typ == "OK" and b"MODIFIED 2" in data[0], (typ, data)
    m.untagged_responses.clear()
    typ, data = m._simple_command("UID", "FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {modseq} VANISHED)")
    assert typ == "OK", data
    assert m.untagged_responses.get("VANISHED") == [b"(EARLIER) 3"], m.untagged_responses
    m.logout()


def scram_client(m, user, password):
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={user},r={nonce}"
    state = {"step": 0}

    def respond(challenge):
        if state["step"] == 0:
            state["step"] = 1
            return ("n,," + first_bare).encode()
        if state["step"] == 1:
            state["step"] = 2
            server_first = challenge.decode()
            attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
            salt = base64.b64decode(attrs["s"])
            salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, int(attrs["i"]))
            client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
            stored = hashlib.sha256(client_key).digest()
            without_proof = f"c=biws,r={attrs['r']}"
            auth_message = f"{first_bare},{server_first},{without_proof}".encode()
            signature = hmac.new(stored, auth_message, hashlib.sha256).digest()
            proof = bytes(a ^ b for a, b in zip(client_key, signature))
            server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
            state["expected"] = base64.b64encode(hmac.new(server_key, auth_message, hashlib.sha256).digest()).decode()
            return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()
        assert challenge.decode() == "v=" + state["expected"], challenge
        return b""

    return m.authenticate("SCRAM-SHA-256", respond)


def auth():
    m = imaplib.IMAP4("127.0.0.1", PORT, timeout=20)
    typ, data = m.authenticate("PLAIN", lambda _: b"\0alice@example.test\0alice-pw")
    assert typ == "OK", data
    m.logout()
    m = imaplib.IMAP4("127.0.0.1", PORT, timeout=20)
    typ, data = scram_client(m, *ALICE)
    assert typ == "OK", data
    ok(m.select("INBOX"))
    m.logout()
    m = imaplib.IMAP4("127.0.0.1", PORT, timeout=20)
    try:
        scram_client(m, "alice@example.test", "wrong")
        raise AssertionError("wrong SCRAM password accepted")
    except imaplib.IMAP4.error as e:
        assert "AUTHENTICATIONFAILED" in str(e), e


def tls():
    # No plaintext login before TLS on this server.
    m = imaplib.IMAP4("127.0.0.1", PORT, timeout=20)
    assert "LOGINDISABLED" in m.capabilities and "STARTTLS" in m.capabilities, m.capabilities
    try:
        m.login(*ALICE)
        raise AssertionError("plaintext LOGIN accepted without TLS")
    except imaplib.IMAP4.error as e:
        assert "PRIVACYREQUIRED" in str(e) or "LOGINDISABLED" in str(e), e
    ok(m.starttls(ssl_context=tls_context()))
    caps = ok(m.capability())[0].decode()
    assert "LOGINDISABLED" not in caps and "STARTTLS" not in caps, caps
    ok(m.login(*ALICE))
    m.logout()
    s = imaplib.IMAP4_SSL("127.0.0.1", TLS_PORT, ssl_context=tls_context(), timeout=20)
    ok(s.login(*ALICE))
    ok(s.select("INBOX"))
    s.logout()
    # Bytes pipelined after STARTTLS end the connection.
    raw = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    raw.recv(4096)
    raw.sendall(b"a STARTTLS\r\nb CAPABILITY\r\n")
    data = b""
    while True:
        chunk = raw.recv(4096)
        if not chunk:
            break
        data += chunk
    assert b"BYE" in data and b"b OK" not in data, data


def raw_protocol():
    """Grammar errors, literals, IMAP4rev2 and UTF-8 names, seen on the wire."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    f = s.makefile("rb")
    assert f.readline().startswith(b"* OK [CAPABILITY")

    def cmd(line, expect_tag=None):
        s.sendall(line)
        tag = expect_tag or line.split(b" ", 1)[0]
        out = []
        while True:
            l = f.readline()
            assert l, out
            out.append(l)
            if l.startswith(tag + b" "):
                return out

    out = cmd(b"a1 FROB\r\n")
    assert out[-1].startswith(b"a1 BAD"), out
    out = cmd(b"a2 SELECT INBOX\r\n")
    assert out[-1].startswith(b"a2 BAD"), out
    out = cmd(b"a3 LOGIN {18+}\r\nalice@example.test alice-pw\r\n")
    assert out[-1].startswith(b"a3 OK"), out
    out = cmd(b"a4 ENABLE IMAP4rev2\r\n")
    assert b"* ENABLED IMAP4rev2\r\n" in out, out
    out = cmd("a5 CREATE \"Bücher\"\r\n".encode())
    assert out[-1].startswith(b"a5 OK"), out
    out = cmd(b"a6 LIST \"\" \"B*\"\r\n")
    assert any("\"Bücher\"".encode() in l for l in out), out
    out = cmd(b"a7 SELECT INBOX\r\n")
    assert not any(b"RECENT" in l for l in out), out
    out = cmd(b"a8 SEARCH ALL\r\n")
    assert any(l.startswith(b"* ESEARCH (TAG \"a8\")") for l in out), out
    out = cmd(b"a9 FETCH 99 FLAGS\r\n")
    assert out[-1].startswith(b"a9 BAD"), out
    out = cmd(b"b1 APPEND INBOX {5}\r\n", expect_tag=b"+")
    out = cmd(b"hello\r\n", expect_tag=b"b1")
    assert out[-1].startswith(b"b1 OK [APPENDUID"), out
    out = cmd(b"b2 NAMESPACE\r\n")
    assert b'* NAMESPACE (("" "/")) NIL NIL\r\n' in out, out
    out = cmd(b"b3 GETQUOTAROOT INBOX\r\n")
    assert out[-1].startswith(b"b3 OK"), out
    out = cmd(b"b4 ID (\"name\" \"test\")\r\n")
    assert any(l.startswith(b"* ID (") for l in out), out
    out = cmd(b"b5 UNSELECT\r\n")
    assert out[-1].startswith(b"b5 OK"), out
    out = cmd(b"b6 LOGOUT\r\n")
    assert out[0].startswith(b"* BYE"), out


SCENARIOS = {f.__name__: f for f in [basic, two_sessions, idle, condstore, auth, tls, raw_protocol]}

if __name__ == "__main__":
    SCENARIOS[SCENARIO]()
    print("ok")
