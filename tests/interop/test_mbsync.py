"""mbsync (isync), a full two-way IMAP <-> Maildir synchroniser nobody here wrote, against
Swallow's IMAP listeners: STARTTLS on `imap` and implicit TLS on `imaps`, both checking the
server's self-signed certificate (mbsync's `CertificateFile`), and plain IMAP when the server
allows plaintext logins.

What mbsync does to message bytes, by design (checked by hand with `-Dn` against this server):
- the Maildir side keeps LF line ends: CRLF from the server becomes LF, and LF files are sent to
  the server with CRLF;
- every message it propagates, in either direction, gets one `X-TUID: <12 chars>` field appended
  as its last header field (mbsync's own transaction id, added even when the server answers
  APPEND with APPENDUID).
So "byte-exact" here means: identical once line ends are normalised and that one X-TUID field is
taken out, and the tests check that the X-TUID field is the only difference.
"""

from __future__ import annotations

import hashlib
import imaplib
import os
import re
import smtplib
import subprocess
from pathlib import Path

import pytest

from conftest import (ALICE, ALICE_PASSWORD, strip_added_headers, tls_client_context,
                      unregister_log)
from peertools import ClientLog, ensure_program

MBSYNC = ensure_program("mbsync", "isync")
pytestmark = pytest.mark.skipif(MBSYNC is None, reason="mbsync is not installed (Debian package isync)")

IMAP = ("imap", "imaps")
SYNC_TIMEOUT = 120
TUID = re.compile(rb"X-TUID: [A-Za-z0-9+/]{12}")


def mbsync_version() -> tuple[int, ...]:
    r = subprocess.run([MBSYNC, "--version"], capture_output=True, text=True, timeout=30)
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", r.stdout + r.stderr)
    return tuple(int(x or 0) for x in m.groups()) if m else (1, 4, 0)


# --------------------------------------------------------------------------
# the client


class Mbsync:
    """One mbsync configuration (IMAPAccount, IMAPStore, MaildirStore, Channel) under DIR."""

    def __init__(self, srv, root: Path, mode: str = "starttls", auth_mechs: str = "*",
                 channel_extra: str = ""):
        self.srv = srv
        self.root = Path(root)
        self.mode = mode
        self.auth_mechs = auth_mechs
        self.channel_extra = channel_extra
        self.maildir = self.root / "mail"
        self.rc = self.root / "mbsyncrc"
        self.maildir.mkdir(parents=True, exist_ok=True)
        self.log = ClientLog(self.root / "mbsync.log", "mbsync -V output")
        self.write_rc()

    def write_rc(self):
        """(Re)write the rc file with the server's current ports (they change on restart)."""
        tls_keyword = "TLSType" if mbsync_version() >= (1, 5) else "SSLType"
        if self.mode == "starttls":
            port, tls = self.srv.ports["imap"], f"{tls_keyword} STARTTLS"
        elif self.mode == "imaps":
            port, tls = self.srv.ports["imaps"], f"{tls_keyword} IMAPS"
        else:
            port, tls = self.srv.ports["imap"], f"{tls_keyword} None"
        # Trust exactly the server's self-signed certificate (mbsync accepts a certificate listed
        # in CertificateFile whatever its name; the rc connects to 127.0.0.1).
        cert = f"CertificateFile {self.srv.data_dir / 'cert.pem'}\n" if self.mode != "plain" else ""
        self.rc.write_text(f"""\
IMAPAccount swallow
Host 127.0.0.1
Port {port}
User {ALICE}
Pass "{ALICE_PASSWORD}"
{tls}
{cert}AuthMechs {self.auth_mechs}
Timeout 60

IMAPStore swallow-remote
Account swallow

MaildirStore local
Path {self.maildir}/
Inbox {self.maildir}/INBOX
SubFolders Verbatim

Channel swallow
Far :swallow-remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
{self.channel_extra}""")
        self.rc.chmod(0o600)

    def sync(self, expect_rc: int = 0) -> str:
        # MBSYNC_FLAGS=-Dn shows the IMAP conversation when reproducing a failure by hand.
        flags = os.environ.get("MBSYNC_FLAGS", "-V").split()
        r = self.log.run([MBSYNC, "-c", str(self.rc), "-a", *flags], timeout=SYNC_TIMEOUT,
                         env=dict(os.environ, HOME=str(self.root)), cwd=self.root)
        assert r.returncode == expect_rc, (
            f"mbsync exited {r.returncode} (wanted {expect_rc}):\n{r.stdout[-8000:]}")
        return r.stdout

    # ---- the local Maildir tree

    def folder(self, name: str) -> Path:
        return self.maildir / "INBOX" if name == "INBOX" else self.maildir / name

    def make_folder(self, name: str) -> Path:
        d = self.folder(name)
        for sub in ("cur", "new", "tmp"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        return d

    def local(self, name: str = "INBOX") -> list[tuple[Path, str, bytes]]:
        """(path, flag letters, bytes) of every message file in new/ and cur/, sorted by path."""
        out = []
        d = self.folder(name)
        for sub in ("new", "cur"):
            if not (d / sub).is_dir():
                continue
            for p in sorted((d / sub).iterdir()):
                if p.is_file():
                    flags = p.name.rsplit(":2,", 1)[1] if ":2," in p.name else ""
                    out.append((p, flags, p.read_bytes()))
        return out

    def local_by_subject(self, name: str = "INBOX") -> dict[str, tuple[Path, str, bytes]]:
        out = {}
        for p, flags, data in self.local(name):
            subject = header(data, "Subject")
            assert subject not in out, f"two local messages with subject {subject!r} in {name}"
            out[subject] = (p, flags, data)
        return out

    def write_local(self, name: str, filename: str, data: bytes, flags: str | None = None) -> Path:
        """A message delivered into the local Maildir: new/NAME, or cur/NAME:2,FLAGS."""
        d = self.make_folder(name)
        path = d / "new" / filename if flags is None else d / "cur" / f"{filename}:2,{flags}"
        tmp = d / "tmp" / filename
        tmp.write_bytes(data)
        os.rename(tmp, path)
        return path

    def set_local_flags(self, path: Path, flags: str) -> Path:
        """What a mail reader does to change flags: rename into cur/ with `:2,FLAGS`."""
        base = path.name.split(":2,", 1)[0]
        new = path.parent.parent / "cur" / f"{base}:2,{flags}"
        os.rename(path, new)
        return new

    def snapshot(self) -> dict[str, str]:
        """Every file under the Maildir tree except mbsync's own state: relative path -> sha256."""
        out = {}
        for p in sorted(self.maildir.rglob("*")):
            if p.is_file() and not p.name.startswith((".mbsyncstate", ".uidvalidity", ".isyncuidmap")):
                out[str(p.relative_to(self.maildir))] = hashlib.sha256(p.read_bytes()).hexdigest()
        return out


@pytest.fixture
def make_mbsync():
    made: list[Mbsync] = []

    def make(srv, mode: str = "starttls", **kw) -> Mbsync:
        mb = Mbsync(srv, srv.root / f"mbsync-{len(made)}", mode, **kw)
        made.append(mb)
        return mb

    yield make
    for mb in made:
        unregister_log(mb.log.path)


# --------------------------------------------------------------------------
# helpers


def header(data: bytes, name: str) -> str:
    m = re.search(rb"(?im)^" + name.encode() + rb":[ \t]*(.*?)\r?$", data.split(b"\n\n")[0].split(b"\r\n\r\n")[0])
    return m.group(1).decode() if m else ""


def without_tuid(data: bytes, eol: bytes) -> bytes:
    """`data` less the one X-TUID field mbsync appends to the header of what it propagates; the
    field must be the last one before the blank line, at most once."""
    head_end = data.find(eol + eol)
    assert head_end >= 0, f"no end of header in {data[:300]!r}"
    head, rest = data[:head_end + len(eol)], data[head_end + len(eol):]
    found = [m for m in re.finditer(rb"(?m)^X-TUID:.*" + re.escape(eol), head)]
    assert len(found) <= 1, f"more than one X-TUID field: {head!r}"
    if not found:
        return data
    m = found[0]
    assert TUID.fullmatch(m.group(0)[:-len(eol)]), m.group(0)
    assert m.end() == len(head), f"X-TUID is not the last header field: {head!r}"
    return head[:m.start()] + rest


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def imap(srv) -> imaplib.IMAP4_SSL:
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"], ssl_context=tls_client_context(), timeout=30)
    ok(m.login(ALICE, ALICE_PASSWORD))
    return m


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")


def server_messages(m: imaplib.IMAP4, mailbox: str = "INBOX") -> dict[int, tuple[set[str], bytes]]:
    """UID -> (flags, BODY[]) of every message in `mailbox`, without setting \\Seen."""
    ok(m.select(f'"{mailbox}"', readonly=True))
    uids = [int(u) for u in ok(m.uid("SEARCH", None, "ALL"))[0].split()]
    out = {}
    for uid in uids:
        data = ok(m.uid("FETCH", str(uid), "(FLAGS BODY.PEEK[])"))
        parts = [d for d in data if isinstance(d, tuple)]
        assert len(parts) == 1, data
        meta = parts[0][0] + b"".join(d for d in data if isinstance(d, bytes))
        flags = FLAGS.search(meta)
        assert flags, data
        # \Recent belongs to the session (this EXAMINE), not to the message.
        out[uid] = (set(flags.group(1).decode().split()) - {"\\Recent"}, parts[0][1])
    return out


def server_by_subject(srv, mailbox: str = "INBOX") -> dict[str, tuple[int, set[str], bytes]]:
    m = imap(srv)
    try:
        msgs = server_messages(m, mailbox)
    finally:
        m.logout()
    out = {}
    for uid, (flags, data) in msgs.items():
        subject = header(data, "Subject")
        assert subject not in out, f"two server messages with subject {subject!r} in {mailbox}"
        out[subject] = (uid, flags, data)
    return out


def server_state(srv) -> dict:
    """Every mailbox with its STATUS numbers and each message's UID and flags."""
    m = imap(srv)
    try:
        state = {}
        names = []
        for line in ok(m.list()):
            mm = re.match(rb'\((?P<attrs>[^)]*)\) "/" (?P<name>.+)$', line)
            assert mm, line
            if b"\\Noselect" in mm.group("attrs") or b"\\NonExistent" in mm.group("attrs"):
                continue
            names.append(mm.group("name").decode().strip('"'))
        for name in sorted(names):
            status = ok(m.status(f'"{name}"', "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"))[0]
            ok(m.select(f'"{name}"', readonly=True))
            uids = ok(m.uid("SEARCH", None, "ALL"))[0].split()
            flags = []
            if uids:
                for line in ok(m.uid("FETCH", b",".join(uids).decode(), "(UID FLAGS)")):
                    flags.append(re.sub(rb"\\Recent ?", b"", line))  # session state, not the message's
            state[name] = (status.split(b" ", 1)[1], sorted(flags))
        return state
    finally:
        m.logout()


def deliver(srv, raw: bytes, to: str = ALICE):
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=30) as s:
        s.sendmail("sender@outside.test", [to], raw)


def simple(subject: str, body: str = "hello") -> bytes:
    return (f"From: <sender@outside.test>\r\nTo: <{ALICE}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@outside.test>\r\n\r\n{body}\r\n").encode()


UTF8 = (
    "From: Jörg Müller <joerg@outside.test>\r\n"
    "To: alice@example.test\r\n"
    "Subject: utf8 Grüße aus Köln ✓\r\n"
    "Message-ID: <utf8-mbsync@outside.test>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Hallöchen – ünïcödé body.\r\n"
).encode()

AWKWARD = (
    b"From: <sender@outside.test>\r\n"
    b"To: <alice@example.test>\r\n"
    b"Subject: awkward lines\r\n"
    b"X-Folded: first part\r\n"
    b"\tsecond part after a tab\r\n"
    b"Message-ID: <awkward@outside.test>\r\n"
    b"\r\n"
    b".a line starting with a dot\r\n"
    b"..two dots\r\n"
    b"From the start of a line, mbox would quote this\r\n"
    b"trailing spaces   \r\n"
    b"\ttab-indented\r\n"
    b"\r\n"
    b"\r\n"
    b"after two empty lines\r\n"
)


def big_message() -> bytes:
    import base64
    payload = base64.encodebytes(bytes(range(256)) * 1200)  # ~300 KiB of base64, LF lines
    return (b"From: <sender@outside.test>\r\nTo: <alice@example.test>\r\nSubject: big attachment\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0undary\"\r\n\r\n"
            b"--b0undary\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
            b"--b0undary\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + crlf(payload) + b"--b0undary--\r\n")


# --------------------------------------------------------------------------
# (a) server -> local


@pytest.mark.parametrize("mode,mech,plaintext,tls_auth_only", [
    ("starttls", "*", False, True),                 # mbsync picks SCRAM-SHA-256 after STARTTLS
    ("imaps", "PLAIN", False, True),                # SASL PLAIN over implicit TLS
    ("plain", "LOGIN", True, True),                 # IMAP LOGIN in the clear, allowed by the config
    ("plain", "SCRAM-SHA-256", False, False),       # SCRAM in the clear once tls_auth_only is off
], ids=["starttls-scram", "imaps-plain", "cleartext-login", "cleartext-scram"])
def test_server_to_local_byte_exact(swallow_factory, make_mbsync, mode, mech, plaintext, tls_auth_only):
    srv = swallow_factory(listeners=IMAP, allow_plaintext=plaintext,
                          settings={"auth": {"tls_auth_only": tls_auth_only}})
    submitted = {"utf8 Grüße aus Köln ✓": UTF8, "awkward lines": AWKWARD, "big attachment": big_message()}
    for raw in submitted.values():
        deliver(srv, raw)
    srv.wait_inbox_raw(ALICE, len(submitted))
    # One more by IMAP APPEND, already \Flagged: the flag must come down as F.
    appended = simple("appended flagged", "appended body")
    m = imap(srv)
    ok(m.append("INBOX", "(\\Flagged)", None, appended))
    m.logout()

    mb = make_mbsync(srv, mode, auth_mechs=mech)
    out = mb.sync()
    assert ("Connection is now encrypted" in out) == (mode != "plain"), out
    want = "SCRAM-SHA-256" if mech == "*" else mech
    service = "imaps" if mode == "imaps" else "imap"
    tls = "false" if mode == "plain" else "true"
    assert f"mechanism={want} service={service} tls={tls} user={ALICE}" in srv.log_text(), \
        "the server's log does not show mbsync's login the way it was made"

    server = server_by_subject(srv)
    local = mb.local_by_subject()
    assert sorted(local) == sorted(server) == sorted(list(submitted) + ["appended flagged"]), (local.keys(), server.keys())
    for subject, (uid, flags, stored) in server.items():
        path, letters, data = local[subject]
        # The local file is the server's message with LF line ends (+ mbsync's X-TUID field).
        assert without_tuid(data, b"\n") == lf(stored), (subject, path)
        if subject in submitted:
            assert strip_added_headers(stored) == submitted[subject], subject
        # mbsync fetches with BODY.PEEK: nothing became \Seen on either side.
        assert "\\Seen" not in flags, (subject, flags)
    assert server["appended flagged"][2] == appended
    assert server["appended flagged"][1] == {"\\Flagged"}
    assert local["appended flagged"][1] == "F", local["appended flagged"][0]
    for subject in submitted:
        assert local[subject][1] == "", local[subject][0]
    # The special-use folders the server creates for every account came down too.
    for name in ("Archive", "Drafts", "Junk", "Sent", "Trash"):
        assert (mb.folder(name) / "cur").is_dir(), name


# --------------------------------------------------------------------------
# (b) local -> server


def test_local_to_server_byte_exact(swallow_factory, make_mbsync):
    srv = swallow_factory(listeners=IMAP)
    mb = make_mbsync(srv)
    mb.sync()  # establishes the sync state on an empty INBOX
    written = {
        "local plain": (b"From: Alice <alice@example.test>\nTo: <bob@example.test>\nSubject: local plain\n"
                        b"Message-ID: <local-plain@example.test>\nDate: Sun, 01 Mar 2026 10:00:00 +0100\n\n"
                        b"Written by a mail reader into new/.\n.dot line\n\nlast line\n", None),
        "local utf8 Köln": (("From: Jörg <joerg@example.test>\nSubject: local utf8 Köln\n"
                             "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                             "Content-Transfer-Encoding: 8bit\n\nGrüße – ✓\n").encode(), None),
        "local seen draft": (b"From: <alice@example.test>\nSubject: local seen draft\n\nalready read\n", "DS"),
        # The last line has no line end: stored and returned exactly so (APPEND is a literal).
        "local no final newline": (b"Subject: local no final newline\n\nno newline at the end", None),
        # 3 MiB goes up as one non-synchronizing literal (LITERAL+) in a single APPEND.
        "local big": (b"Subject: local big\nContent-Type: text/plain\n\n"
                      + b"".join(b"%07d " % i + b"y" * 64 + b"\n" for i in range(42_000)), None),
    }
    for i, (subject, (data, flags)) in enumerate(written.items()):
        mb.write_local("INBOX", f"1700000000.M{i}P1.localhost", data, flags)
    mb.sync()

    server = server_by_subject(srv)
    local = mb.local_by_subject()
    assert sorted(server) == sorted(local) == sorted(written), (server.keys(), local.keys())
    for subject, (data, flags) in written.items():
        uid, server_flags, stored = server[subject]
        path, letters, local_data = local[subject]
        # mbsync only renamed the local file (",U=<uid>" added); its bytes are unchanged.
        assert local_data == data, path
        assert ",U=" in path.name, path
        # What the server stores is the file with CRLF line ends, plus mbsync's X-TUID field.
        assert TUID.search(stored), stored[:400]
        assert without_tuid(stored, b"\r\n") == crlf(data), subject
        want = {"D": "\\Draft", "S": "\\Seen"}
        assert server_flags == {want[c] for c in (flags or "")}, (subject, server_flags)
    # Size and IMAP's own view of the message agree with the stored bytes.
    m = imap(srv)
    try:
        ok(m.select("INBOX", readonly=True))
        uid, _, stored = server["local plain"]
        meta = b"".join(x if isinstance(x, bytes) else x[0] for x in ok(m.uid("FETCH", str(uid), "(RFC822.SIZE ENVELOPE)")))
        assert b"RFC822.SIZE %d" % len(stored) in meta, meta
        assert b"<local-plain@example.test>" in meta, meta
        assert ok(m.uid("SEARCH", None, "HEADER", "Message-ID", "local-plain@example.test"))[0] == str(uid).encode()
    finally:
        m.logout()


# --------------------------------------------------------------------------
# (c) flags both ways


def test_flags_both_ways(swallow_factory, make_mbsync):
    srv = swallow_factory(listeners=IMAP)
    for s in ("one", "two", "three"):
        deliver(srv, simple(s))
    srv.wait_inbox_raw(ALICE, 3)
    mb = make_mbsync(srv)
    mb.sync()
    server = server_by_subject(srv)
    # Server side: \Flagged on "three" (comes down as F), removed again later.
    m = imap(srv)
    ok(m.select("INBOX"))
    ok(m.uid("STORE", str(server["three"][0]), "+FLAGS", "(\\Flagged)"))
    m.logout()
    mb.sync()
    assert mb.local_by_subject()["three"][1] == "F"

    # Local: "one" read and flagged; server: "two" answered and seen, "three" unflagged.
    local = mb.local_by_subject()
    mb.set_local_flags(local["one"][0], "FS")
    m = imap(srv)
    ok(m.select("INBOX"))
    ok(m.uid("STORE", str(server["two"][0]), "+FLAGS", "(\\Answered \\Seen)"))
    ok(m.uid("STORE", str(server["three"][0]), "-FLAGS", "(\\Flagged)"))
    m.logout()
    mb.sync()

    server = server_by_subject(srv)
    local = mb.local_by_subject()
    assert server["one"][1] == {"\\Seen", "\\Flagged"}, server["one"][1]
    assert server["two"][1] == {"\\Answered", "\\Seen"}, server["two"][1]
    assert server["three"][1] == set(), server["three"][1]
    assert local["one"][1] == "FS", local["one"][0]
    assert local["two"][1] == "RS", local["two"][0]
    assert local["three"][1] == "", local["three"][0]

    # And back: clear S locally on "one", add a keyword-free \Draft on the server to "three".
    mb.set_local_flags(local["one"][0], "F")
    m = imap(srv)
    ok(m.select("INBOX"))
    ok(m.uid("STORE", str(server["three"][0]), "+FLAGS", "(\\Draft)"))
    m.logout()
    mb.sync()
    server = server_by_subject(srv)
    local = mb.local_by_subject()
    assert server["one"][1] == {"\\Flagged"}, server["one"][1]
    assert local["three"][1] == "D", local["three"][0]
    assert server["three"][1] == {"\\Draft"}


# --------------------------------------------------------------------------
# (d) deletions both ways


def test_deletion_both_ways(swallow_factory, make_mbsync):
    srv = swallow_factory(listeners=IMAP)
    names = ["removed locally", "trashed locally", "expunged on server", "deleted on server", "kept"]
    for s in names:
        deliver(srv, simple(s))
    srv.wait_inbox_raw(ALICE, len(names))
    mb = make_mbsync(srv)
    mb.sync()
    local = mb.local_by_subject()
    server = server_by_subject(srv)
    assert sorted(local) == sorted(server) == sorted(names)

    os.unlink(local["removed locally"][0])                    # a reader deleted the file
    mb.set_local_flags(local["trashed locally"][0], "T")      # a reader marked it trashed
    m = imap(srv)
    ok(m.select("INBOX"))
    ok(m.uid("STORE", str(server["expunged on server"][0]), "+FLAGS", "(\\Deleted)"))
    ok(m.expunge())
    ok(m.uid("STORE", str(server["deleted on server"][0]), "+FLAGS", "(\\Deleted)"))  # not expunged
    m.logout()
    mb.sync()

    server = server_by_subject(srv)
    local = mb.local_by_subject()
    assert sorted(server) == ["kept"], server.keys()
    assert sorted(local) == ["kept"], [str(p) for p, _, _ in mb.local()]
    # Expunged for real on the server, not just hidden: STATUS agrees and a fresh SELECT too.
    m = imap(srv)
    try:
        assert ok(m.status("INBOX", "(MESSAGES)"))[0].endswith(b"(MESSAGES 1)")
        assert ok(m.select("INBOX"))[0] == b"1"
    finally:
        m.logout()
    mb.sync()
    assert sorted(mb.local_by_subject()) == ["kept"]


# --------------------------------------------------------------------------
# (e) folders both ways


def test_folder_creation_both_ways(swallow_factory, make_mbsync):
    srv = swallow_factory(listeners=IMAP)
    mb = make_mbsync(srv)
    mb.sync()
    # Local: a new folder and a subfolder (SubFolders Verbatim: Projects/2026 on disk), each with mail.
    p1 = b"From: <alice@example.test>\nSubject: in projects\n\nproject mail\n"
    p2 = b"From: <alice@example.test>\nSubject: in projects 2026\n\nnested\n"
    mb.write_local("Projects", "1700000001.M1P1.localhost", p1)
    mb.write_local("Projects/2026", "1700000002.M2P1.localhost", p2, flags="S")
    p3 = b"Subject: in a folder with a space\n\nspaced\n"
    mb.write_local("Travel Plans", "1700000003.M3P1.localhost", p3)
    # Server: a new hierarchy with a message.
    s1 = simple("on the server in Lists/Swift")
    m = imap(srv)
    ok(m.create("Lists/Swift"))
    ok(m.append("Lists/Swift", "(\\Seen)", None, s1))
    ok(m.create('"Server Side"'))
    m.logout()
    mb.sync()

    m = imap(srv)
    try:
        listing = b"\n".join(ok(m.list()))
    finally:
        m.logout()
    for name in (b"Projects", b"Projects/2026", b"Lists/Swift", b"Travel Plans"):
        assert re.search(rb'\) "/" "?' + re.escape(name) + rb'"?$', listing, re.M), (name, listing)
    projects = server_by_subject(srv, "Projects")
    nested = server_by_subject(srv, "Projects/2026")
    assert list(projects) == ["in projects"] and without_tuid(projects["in projects"][2], b"\r\n") == crlf(p1)
    assert list(nested) == ["in projects 2026"] and nested["in projects 2026"][1] == {"\\Seen"}
    assert without_tuid(nested["in projects 2026"][2], b"\r\n") == crlf(p2)

    swift = mb.local_by_subject("Lists/Swift")
    assert list(swift) == ["on the server in Lists/Swift"], swift
    path, letters, data = swift["on the server in Lists/Swift"]
    assert letters == "S" and without_tuid(data, b"\n") == lf(s1), path
    assert (mb.maildir / "Lists" / "Swift" / "cur").is_dir()
    assert (mb.maildir / "Server Side" / "cur").is_dir()
    spaced = server_by_subject(srv, "Travel Plans")
    assert list(spaced) == ["in a folder with a space"]
    assert without_tuid(spaced["in a folder with a space"][2], b"\r\n") == crlf(p3)


# --------------------------------------------------------------------------
# (f) a sync with nothing to do changes nothing, also after a server restart


def test_resync_is_idempotent(swallow_factory, make_mbsync):
    srv = swallow_factory(listeners=IMAP)
    for s in ("first", "second"):
        deliver(srv, simple(s))
    srv.wait_inbox_raw(ALICE, 2)
    mb = make_mbsync(srv)
    mb.write_local("INBOX", "1700000003.M3P1.localhost", b"Subject: from local\n\nx\n", flags="S")
    mb.write_local("Notes", "1700000004.M4P1.localhost", b"Subject: a note\n\ny\n")
    mb.sync()
    mb.set_local_flags(mb.local_by_subject()["first"][0], "F")
    mb.sync()  # everything in step from here on

    local_before = mb.snapshot()
    server_before = server_state(srv)
    assert "Notes" in server_before and server_before["INBOX"][0].startswith(b"(MESSAGES 3 "), server_before
    mb.sync()
    assert mb.snapshot() == local_before
    assert server_state(srv) == server_before, "a no-op sync changed the server (flags, UIDs or MODSEQ)"

    # The same after a restart: UIDVALIDITY and UIDs are durable, so mbsync sees nothing new.
    srv.stop()
    srv.start()
    mb.write_rc()  # the listeners got new ports
    out = mb.sync()
    assert "UIDVALIDITY" not in out, out  # no box re-created on either side, no validity change
    assert mb.snapshot() == local_before
    assert server_state(srv) == server_before, "a no-op sync after a restart changed the server"


def test_cleartext_login_refused_by_default(swallow_factory, make_mbsync):
    """Without allow_plaintext_without_tls the greeting says LOGINDISABLED and offers no
    mechanism before STARTTLS: mbsync restricted to LOGIN/PLAIN has no way in, and nothing is
    synchronised."""
    srv = swallow_factory(listeners=IMAP)
    deliver(srv, simple("must stay on the server"))
    srv.wait_inbox_raw(ALICE, 1)
    mb = make_mbsync(srv, "plain", auth_mechs="LOGIN PLAIN")
    out = mb.sync(expect_rc=1)
    assert "no acceptable authentication mechanism" in out or "LOGIN" in out, out
    assert mb.local() == []
    assert "service=imap " not in srv.log_text().replace("service=imaps", ""), "nobody logged in on imap"


def test_recreated_server_folder_gets_new_uidvalidity(swallow_factory, make_mbsync):
    """A mailbox deleted and created again under the same name must get a new UIDVALIDITY
    (RFC 9051 §2.3.1.1), or a synchronising client would take the new UID 1 for the old one.
    mbsync, seeing the change, refuses that box (exit 1) and touches neither side of it."""
    srv = swallow_factory(listeners=IMAP)
    m = imap(srv)
    ok(m.create("Notes"))
    for i in range(2):
        ok(m.append("Notes", None, None, simple(f"old note {i}")))
    old_validity = ok(m.status("Notes", "(UIDVALIDITY)"))[0]
    m.logout()
    mb = make_mbsync(srv)
    mb.sync()
    assert sorted(mb.local_by_subject("Notes")) == ["old note 0", "old note 1"]
    local_before = mb.snapshot()

    m = imap(srv)
    ok(m.delete("Notes"))
    ok(m.create("Notes"))
    typ, data = m.append("Notes", None, None, simple("new note"))
    assert typ == "OK" and b"[APPENDUID " in data[0] and data[0].split()[2] == b"1]", data
    new_validity = ok(m.status("Notes", "(UIDVALIDITY)"))[0]
    m.logout()
    assert new_validity != old_validity, (old_validity, new_validity)

    out = mb.sync(expect_rc=1)
    # (mbsync 1.4 words it one of two ways, depending on what its recovery attempt finds)
    assert re.search(r"far side box Notes: (Unable to recover from UIDVALIDITY change|"
                     r"UIDVALIDITY genuinely changed)", out), out
    assert mb.snapshot() == local_before
    assert sorted(server_by_subject(srv, "Notes")) == ["new note"]


# --------------------------------------------------------------------------
# arrival dates (CopyArrivalDate): INTERNALDATE <-> Maildir file mtime


def test_arrival_dates_both_ways(swallow_factory, make_mbsync):
    import calendar
    srv = swallow_factory(listeners=IMAP)
    mb = make_mbsync(srv, channel_extra="CopyArrivalDate yes\n")
    mb.sync()
    # Server: APPEND with an INTERNALDATE in another time zone.
    m = imap(srv)
    ok(m.append("INBOX", None, '"01-Mar-2026 10:00:00 +0100"', simple("dated on server")))
    m.logout()
    server_epoch = calendar.timegm((2026, 3, 1, 9, 0, 0))
    # Local: a file whose mtime (Maildir's arrival time) is Christmas Eve 2025, 18:30:15 UTC.
    local_epoch = calendar.timegm((2025, 12, 24, 18, 30, 15))
    path = mb.write_local("INBOX", "1700000005.M5P1.localhost", b"Subject: dated locally\n\nz\n")
    os.utime(path, (local_epoch, local_epoch))
    mb.sync()

    local = mb.local_by_subject()
    assert int(local["dated on server"][0].stat().st_mtime) == server_epoch, local["dated on server"][0]
    server = server_by_subject(srv)
    m = imap(srv)
    try:
        ok(m.select("INBOX", readonly=True))
        data = ok(m.uid("FETCH", str(server["dated locally"][0]), "(INTERNALDATE)"))[0]
        when = imaplib.Internaldate2tuple(data)
        assert when is not None, data
        import time as _time
        assert int(_time.mktime(when)) == local_epoch, (data, local_epoch)
    finally:
        m.logout()


# --------------------------------------------------------------------------
# many messages: mbsync pipelines its FETCHes, STOREs and APPENDs (LITERAL+)


def import_mbox(srv, messages: list[bytes]):
    path = srv.root / f"bulk-{len(messages)}.mbox"
    with open(path, "wb") as f:
        for raw in messages:
            f.write(b"From sender@outside.test Mon Jan  1 00:00:00 2024\n" + lf(raw) + b"\n")
    srv.cli("import", "--format", "mbox", "--user", ALICE, str(path))


def test_bulk_sync_pipelined(swallow_factory, make_mbsync):
    srv = swallow_factory(listeners=IMAP)
    n = 150
    import_mbox(srv, [simple(f"bulk {i:03d}", f"body {i}\n" + "x" * (i * 37 % 2000)) for i in range(n)])
    mb = make_mbsync(srv)
    mb.sync()
    server = server_by_subject(srv)
    local = mb.local_by_subject()
    assert len(server) == len(local) == n
    for subject, (uid, flags, stored) in server.items():
        assert without_tuid(local[subject][2], b"\n") == lf(stored), subject

    # Many changes at once on both sides.
    for i in range(0, n, 2):
        mb.set_local_flags(local[f"bulk {i:03d}"][0], "S")
    for i in range(1, 40, 2):
        os.unlink(local[f"bulk {i:03d}"][0])
    m = imap(srv)
    ok(m.select("INBOX"))
    answered = [server[f"bulk {i:03d}"][0] for i in range(100, n)]
    ok(m.uid("STORE", ",".join(map(str, answered)), "+FLAGS", "(\\Answered)"))
    m.logout()
    uploads = {f"upload {i:03d}": f"Subject: upload {i:03d}\nFrom: <alice@example.test>\n\nline {i}\n".encode()
               for i in range(100)}
    for i, (subject, data) in enumerate(uploads.items()):
        mb.write_local("INBOX", f"1700001000.M{i}P2.localhost", data)
    mb.sync()

    server = server_by_subject(srv)
    local = mb.local_by_subject()
    deleted = {f"bulk {i:03d}" for i in range(1, 40, 2)}
    want = sorted({f"bulk {i:03d}" for i in range(n)} - deleted | set(uploads))
    assert sorted(server) == want, sorted(set(server) ^ set(want))
    assert sorted(local) == want, sorted(set(local) ^ set(want))
    for i in range(n):
        subject = f"bulk {i:03d}"
        if subject in deleted:
            continue
        letters = ("R" if i >= 100 else "") + ("S" if i % 2 == 0 else "")
        flags = {"\\Answered"} if i >= 100 else set()
        flags |= {"\\Seen"} if i % 2 == 0 else set()
        assert server[subject][1] == flags, (subject, server[subject][1])
        assert local[subject][1] == letters, (subject, local[subject][0])
    for subject, data in uploads.items():
        assert without_tuid(server[subject][2], b"\r\n") == crlf(data), subject
    before = (mb.snapshot(), server_state(srv))
    mb.sync()
    assert (mb.snapshot(), server_state(srv)) == before
