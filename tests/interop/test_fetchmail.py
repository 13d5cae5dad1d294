"""fetchmail, the classic POP3 gatherer nobody here wrote, against Swallow's POP3 listeners:
`pop3` with STLS (fetchmail upgrades by itself when CAPA offers STLS), `pop3s` with implicit
TLS, both checking the server's self-signed certificate (`sslcertck` + `sslcertfile`), and
USER/PASS in the clear when the server allows it.

Every fetched message is handed to an MDA (save.py below) that writes it to its own file. With
`set invisible` fetchmail adds no Received field and with `no stripcr` it keeps the CRLF line
ends, so what the MDA gets must be exactly the message as RETR/TOP returns it (dot-unstuffed):
the tests compare bytes, and check with poplib that each message is taken exactly once, stays
with `keep` (UIDL-tracked in .fetchids with `uidl`) and is deleted without it.

fetchmail exit codes (man fetchmail): 0 mail was fetched, 1 no mail, 3 authentication failed,
13 fetchlimit reached.
"""

from __future__ import annotations

import os
import poplib
import re
import smtplib
import sys
from pathlib import Path

import pytest

from conftest import (ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD, strip_added_headers,
                      tls_client_context, unregister_log)
from peertools import ClientLog, ensure_program

FETCHMAIL = ensure_program("fetchmail", "fetchmail")
pytestmark = pytest.mark.skipif(FETCHMAIL is None, reason="fetchmail is not installed (Debian package fetchmail)")

POP3 = ("pop3", "pop3s")
RUN_TIMEOUT = 120

SAVE_PY = """\
import os, sys, time
out = sys.argv[1]
data = sys.stdin.buffer.read()
name = os.path.join(out, "%020d-%d.eml" % (time.monotonic_ns(), os.getpid()))
with open(name + ".part", "wb") as f:
    f.write(data)
    f.flush()
    os.fsync(f.fileno())
os.rename(name + ".part", name)
"""


class Fetchmail:
    """One .fetchmailrc polling Swallow for one user, an MDA writing each message to OUT/."""

    def __init__(self, srv, root: Path, mode: str = "stls", keep: bool = True,
                 user: str = ALICE, password: str = ALICE_PASSWORD, extra_user_options: str = "",
                 protocol: str = "pop3"):
        self.protocol = protocol
        self.srv = srv
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.out = self.root / "out"
        self.out.mkdir(exist_ok=True)
        self.rc = self.root / "fetchmailrc"
        (self.root / "save.py").write_text(SAVE_PY)
        self.mode = mode
        self.keep = keep
        self.user = user
        self.password = password
        self.extra = extra_user_options
        self.log = ClientLog(self.root / "fetchmail.log", "fetchmail -v output")
        self.write_rc()

    def write_rc(self):
        cert = self.srv.data_dir / "cert.pem"
        check = f'sslcertck sslcertfile "{cert}" sslcommonname "mx.example.test"'
        plain_port, tls_port = self.srv.ports.get(self.protocol), self.srv.ports.get(self.protocol + "s")
        if self.mode == "stls":        # plain port, fetchmail must upgrade with STLS/STARTTLS
            port, tls = plain_port, f"sslproto tls1.2+ {check}"
        elif self.mode == "pop3s":     # implicit TLS
            port, tls = tls_port, f"ssl sslproto tls1.2+ {check}"
        else:                          # no TLS at all: sslproto '' turns opportunistic STLS off
            port, tls = plain_port, "sslproto ''"
        self.rc.write_text(f"""\
set no bouncemail
set no syslog
set invisible
poll 127.0.0.1 protocol {self.protocol} port {port}{" uidl" if self.protocol == "pop3" else ""} timeout 60
  username "{self.user}" password "{self.password}"
  {tls}
  {"keep" if self.keep else "no keep"} no fetchall no rewrite no stripcr {self.extra}
  mda "{sys.executable} {self.root / 'save.py'} {self.out}"
""")
        self.rc.chmod(0o600)  # fetchmail refuses an rc file others can read

    def run(self, expect_rc: int = 0) -> str:
        env = dict(os.environ, HOME=str(self.root), FETCHMAILHOME=str(self.root))
        r = self.log.run([FETCHMAIL, "-f", str(self.rc), "-v", "--nodetach", "--nosyslog"],
                         timeout=RUN_TIMEOUT, env=env, cwd=self.root)
        assert r.returncode == expect_rc, (
            f"fetchmail exited {r.returncode} (wanted {expect_rc}):\n{r.stdout[-8000:]}")
        return r.stdout

    def fetched(self) -> list[bytes]:
        """Every delivered message, in delivery order."""
        return [p.read_bytes() for p in sorted(self.out.glob("*.eml"))]

    def fetchids(self) -> list[str]:
        path = self.root / ".fetchids"
        if not path.exists():
            return []
        return [line.split()[-1] for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def make_fetchmail():
    made: list[Fetchmail] = []

    def make(srv, mode: str = "stls", **kw) -> Fetchmail:
        fm = Fetchmail(srv, srv.root / f"fetchmail-{len(made)}", mode, **kw)
        made.append(fm)
        return fm

    yield make
    for fm in made:
        unregister_log(fm.log.path)


# --------------------------------------------------------------------------
# helpers


def pop(srv, user: str = ALICE, password: str = ALICE_PASSWORD) -> poplib.POP3_SSL:
    p = poplib.POP3_SSL("127.0.0.1", srv.ports["pop3s"], context=tls_client_context(), timeout=30)
    p.user(user)
    p.pass_(password)
    return p


def server_view(srv, user: str = ALICE, password: str = ALICE_PASSWORD) -> tuple[list[str], list[bytes]]:
    """(UIDLs, messages as RETR gives them, dot-unstuffed with CRLF) without deleting anything.
    RETR marks \\Seen; nothing here depends on that."""
    p = pop(srv, user, password)
    try:
        uidls = [line.split()[1].decode() for line in p.uidl()[1]]
        msgs = []
        for i in range(1, len(uidls) + 1):
            _, lines, _ = p.retr(i)
            msgs.append(b"".join(line + b"\r\n" for line in lines))
        return uidls, msgs
    finally:
        p.quit()


def stat(srv, user: str = ALICE, password: str = ALICE_PASSWORD) -> tuple[int, int]:
    p = pop(srv, user, password)
    try:
        return p.stat()
    finally:
        p.quit()


def deliver(srv, raw: bytes, to: str = ALICE):
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=30) as s:
        s.sendmail("sender@outside.test", [to], raw)


def simple(subject: str, body: str = "hello") -> bytes:
    return (f"From: <sender@outside.test>\r\nTo: <{ALICE}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@outside.test>\r\n\r\n{body}\r\n").encode()


UTF8 = (
    "From: Jörg Müller <joerg@outside.test>\r\n"
    "To: alice@example.test\r\n"
    "Subject: Grüße aus Köln ✓\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Hallöchen – ünïcödé body.\r\n"
).encode()

AWKWARD = (
    b"From: <sender@outside.test>\r\n"
    b"Subject: awkward lines\r\n"
    b"X-Folded: first part\r\n"
    b"\tsecond part\r\n"
    b"\r\n"
    b".a line starting with a dot\r\n"
    b"..two dots\r\n"
    b".\r\n"
    b"(that was a line with one dot: POP3 must stuff it)\r\n"
    b"From the start of a line\r\n"
    b"trailing spaces   \r\n"
    b"\r\n"
    b"\r\n"
)


def big_message() -> bytes:
    import base64
    payload = base64.encodebytes(os.urandom(400_000)).replace(b"\n", b"\r\n")
    return (b"From: <sender@outside.test>\r\nSubject: big attachment\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"b0undary\"\r\n\r\n"
            b"--b0undary\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
            b"--b0undary\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + payload + b"--b0undary--\r\n")


def deliver_all(srv, messages: list[bytes], to: str = ALICE, already: int = 0):
    for raw in messages:
        deliver(srv, raw, to)
    srv.wait_inbox_raw(to, already + len(messages))


def assert_same_messages(fetched: list[bytes], expected: list[bytes], submitted: list[bytes] | None = None):
    """Each expected message fetched exactly once, byte for byte (order free)."""
    assert len(fetched) == len(expected), f"fetched {len(fetched)} messages, expected {len(expected)}"
    assert sorted(fetched) == sorted(expected), "fetched bytes differ from what RETR returns"
    if submitted is not None:
        assert sorted(strip_added_headers(m) for m in fetched) == sorted(submitted), \
            "fetched messages differ from what was submitted over SMTP (besides the trace headers)"


# --------------------------------------------------------------------------
# tests


def test_keep_uidl_over_stls(swallow_factory, make_fetchmail):
    srv = swallow_factory(listeners=POP3)
    submitted = [UTF8, AWKWARD, big_message(), simple("plain one")]
    deliver_all(srv, submitted)
    uidls, expected = server_view(srv)

    fm = make_fetchmail(srv, "stls", keep=True)
    out = fm.run(0)
    assert "POP3> STLS" in out and "upgrade to TLS succeeded" in out, out
    assert_same_messages(fm.fetched(), expected, submitted)
    # The sizes LIST announced (fetchmail prints them) are the exact octet counts it then read.
    listed = [int(n) for n in re.findall(r"reading message \S+:\d+ of \d+ \((\d+) octets\)", out)]
    assert sorted(listed) == sorted(len(m) for m in fm.fetched()), (listed, out)
    # keep: all still there, and fetchmail remembers exactly the server's UIDLs.
    assert stat(srv)[0] == len(submitted)
    assert sorted(fm.fetchids()) == sorted(uidls)

    # Nothing new: exit 1, no further deliveries, nothing removed.
    fm.run(1)
    assert len(fm.fetched()) == len(submitted)
    assert stat(srv)[0] == len(submitted)

    # One new message: only that one is fetched.
    new = simple("arrived later")
    deliver_all(srv, [new], already=len(submitted))
    uidls2, expected2 = server_view(srv)
    fm.run(0)
    fetched = fm.fetched()
    assert len(fetched) == len(submitted) + 1
    assert strip_added_headers(fetched[-1]) == new
    assert fetched[-1] in expected2 and fetched[-1] not in expected
    assert sorted(fm.fetchids()) == sorted(uidls2)
    assert stat(srv)[0] == len(submitted) + 1


def test_without_keep_deletes_from_server(swallow_factory, make_fetchmail):
    srv = swallow_factory(listeners=POP3)
    submitted = [UTF8, AWKWARD, big_message()]
    deliver_all(srv, submitted)
    _, expected = server_view(srv)
    fm = make_fetchmail(srv, "stls", keep=False)
    out = fm.run(0)
    assert out.count("POP3> DELE ") == len(submitted), out
    assert_same_messages(fm.fetched(), expected, submitted)
    assert stat(srv) == (0, 0)
    assert srv.inbox_raw(ALICE) == [], "DELE+QUIT expunged the messages from the store"
    fm.run(1)
    assert len(fm.fetched()) == len(submitted)


def test_pop3s_implicit_tls(swallow_factory, make_fetchmail):
    srv = swallow_factory(listeners=POP3)
    submitted = [simple("over pop3s one"), simple("over pop3s two"), AWKWARD]
    deliver_all(srv, submitted, to=BOB)
    _, expected = server_view(srv, BOB, BOB_PASSWORD)
    fm = make_fetchmail(srv, "pop3s", keep=False, user=BOB, password=BOB_PASSWORD)
    out = fm.run(0)
    assert "STLS" not in out.replace("SASL", ""), "no STLS over implicit TLS"
    assert "SSL/TLS: using protocol TLSv1." in out, out
    assert_same_messages(fm.fetched(), expected, submitted)
    assert stat(srv, BOB, BOB_PASSWORD) == (0, 0)
    assert stat(srv) == (0, 0), "alice's mailbox was never touched"


def test_fetchlimit_across_sessions(swallow_factory, make_fetchmail):
    """`fetchlimit 2`: two messages per session, deleted at each QUIT; the next session's
    message numbers and UIDLs must describe what is left."""
    srv = swallow_factory(listeners=POP3)
    submitted = [simple(f"limited {i}") for i in range(5)]
    deliver_all(srv, submitted)
    _, expected = server_view(srv)
    fm = make_fetchmail(srv, "stls", keep=False, extra_user_options="fetchlimit 2")
    # Exit 13 (MAXFETCH) while the limit cut the session short, 0 when it did not.
    for taken, left, rc in ((2, 3, 13), (2, 1, 13), (1, 0, 0)):
        out = fm.run(rc)
        assert out.count("POP3> DELE ") == taken, out
        assert stat(srv)[0] == left
    fm.run(1)
    assert_same_messages(fm.fetched(), expected, submitted)


def test_cleartext_user_pass_when_allowed(swallow_factory, make_fetchmail):
    srv = swallow_factory(listeners=POP3, allow_plaintext=True)
    submitted = [simple("cleartext one"), UTF8]
    deliver_all(srv, submitted)
    _, expected = server_view(srv)
    fm = make_fetchmail(srv, "plain", keep=True)
    out = fm.run(0)
    assert "POP3> STLS" not in out, out
    assert "POP3> USER alice@example.test" in out, out
    assert_same_messages(fm.fetched(), expected, submitted)
    assert f"service=pop3 user={ALICE} [POP3Server] authenticated" in srv.log_text()


def test_cleartext_refused_by_default(swallow_factory, make_fetchmail):
    srv = swallow_factory(listeners=POP3)
    deliver_all(srv, [simple("stays put")])
    fm = make_fetchmail(srv, "plain", keep=False)
    out = fm.run(3)  # authentication failed
    assert "-ERR [AUTH]" in out, out
    assert fm.fetched() == []
    assert stat(srv)[0] == 1


def test_wrong_password(swallow_factory, make_fetchmail):
    srv = swallow_factory(listeners=POP3)
    deliver_all(srv, [simple("not for you")])
    fm = make_fetchmail(srv, "stls", keep=False, password="not the password")
    out = fm.run(3)
    assert "-ERR [AUTH] Authentication failed" in out, out
    assert fm.fetched() == []
    assert stat(srv)[0] == 1


# --------------------------------------------------------------------------
# fetchmail speaks IMAP too: STARTTLS, SEARCH UNSEEN, FETCH RFC822.HEADER + BODY.PEEK[TEXT],
# STORE +FLAGS (\Seen \Deleted), EXPUNGE


def imap_messages(srv, user: str = ALICE, password: str = ALICE_PASSWORD) -> list[tuple[bytes, bytes]]:
    """(FLAGS, BODY[]) of every INBOX message, read-only."""
    import imaplib
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"], ssl_context=tls_client_context(), timeout=30)
    try:
        m.login(user, password)
        typ, data = m.select("INBOX", readonly=True)
        assert typ == "OK", data
        out = []
        for uid in m.uid("SEARCH", None, "ALL")[1][0].split():
            typ, data = m.uid("FETCH", uid.decode(), "(FLAGS BODY.PEEK[])")
            assert typ == "OK", data
            meta = data[0][0] + b"".join(d for d in data if isinstance(d, bytes))
            out.append((meta, data[0][1]))
        return out
    finally:
        m.logout()


def test_fetchmail_imap_starttls(swallow_factory, make_fetchmail):
    srv = swallow_factory(listeners=("imap", "imaps"))
    submitted = [UTF8, AWKWARD, big_message(), simple("over imap")]
    deliver_all(srv, submitted)
    expected = [raw for _, raw in imap_messages(srv)]
    fm = make_fetchmail(srv, "stls", keep=True, protocol="imap")
    out = fm.run(0)
    assert "IMAP> A0001 STARTTLS" in out and "upgrade to TLS succeeded" in out, out
    assert_same_messages(fm.fetched(), expected, submitted)
    # keep: fetchmail marks what it took \Seen, and the next poll finds nothing unseen.
    after = imap_messages(srv)
    assert [raw for _, raw in after] == expected
    assert all(b"\\Seen" in meta and b"\\Deleted" not in meta for meta, _ in after), after
    fm.run(1)
    assert len(fm.fetched()) == len(submitted)

    # Without keep on a new message: fetched, flagged \Deleted and expunged; the rest stay.
    new = simple("imap then deleted")
    deliver_all(srv, [new], already=len(submitted))
    fm.keep = False
    fm.write_rc()
    out = fm.run(0)
    assert "EXPUNGE" in out, out
    fetched = fm.fetched()
    assert len(fetched) == len(submitted) + 1 and strip_added_headers(fetched[-1]) == new
    assert [raw for _, raw in imap_messages(srv)] == expected
