"""getmail6, another mail retriever nobody here wrote, against Swallow's POP3 and IMAP listeners:
SimplePOP3SSLRetriever on `pop3s` and SimpleIMAPSSLRetriever on `imaps`, both validating the
server's self-signed certificate (`ca_certs` + `ssl_cert_hostname`), and SimplePOP3Retriever in
the clear when the server allows it (getmail has no STLS).

Each message goes to an MDA_external (the save.py of test_fetchmail) writing one file. getmail
re-generates what it delivers with the platform's line ends (LF) and puts its own Return-Path
field first (replacing the message's); Swallow's stored messages already start with
Return-Path, so what the MDA gets must be the server's bytes with LF line ends, exactly.
"""

from __future__ import annotations

import imaplib
import os
import re
from pathlib import Path

import pytest

from conftest import (ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD, strip_added_headers,
                      tls_client_context, to_lf, unregister_log)
from peertools import ClientLog, ensure_program
from test_fetchmail import (AWKWARD, SAVE_PY, UTF8, big_message, deliver_all, server_view,
                            simple, stat)

GETMAIL = ensure_program("getmail", "getmail6")
pytestmark = pytest.mark.skipif(GETMAIL is None, reason="getmail is not installed (Debian package getmail6)")

LISTENERS = ("pop3", "pop3s", "imaps")
RUN_TIMEOUT = 120


class Getmail:
    def __init__(self, srv, root: Path, retriever: str, delete: bool = False,
                 user: str = ALICE, password: str = ALICE_PASSWORD):
        self.srv = srv
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.out = self.root / "out"
        self.out.mkdir(exist_ok=True)
        self.state = self.root / "getmaildir"
        self.state.mkdir(exist_ok=True)
        self.rc = self.root / "getmailrc"
        (self.root / "save.py").write_text(SAVE_PY)
        self.retriever, self.delete, self.user, self.password = retriever, delete, user, password
        self.log = ClientLog(self.root / "getmail.log", "getmail output")
        self.write_rc()

    def write_rc(self):
        cert = self.srv.data_dir / "cert.pem"
        tls = f"ca_certs = {cert}\nssl_cert_hostname = mx.example.test\n"
        port = {"SimplePOP3SSLRetriever": self.srv.ports["pop3s"],
                "SimplePOP3Retriever": self.srv.ports["pop3"],
                "SimpleIMAPSSLRetriever": self.srv.ports["imaps"]}[self.retriever]
        if self.retriever == "SimplePOP3Retriever":
            tls = ""
        if "IMAP" in self.retriever:
            tls += "record_mailbox = false\n"  # no X-getmail-retrieved-from-mailbox field
        self.rc.write_text(f"""\
[retriever]
type = {self.retriever}
server = 127.0.0.1
port = {port}
username = {self.user}
password = {self.password}
timeout = 60
{tls}
[destination]
type = MDA_external
path = /usr/bin/python3
arguments = ("{self.root / 'save.py'}", "{self.out}")
allow_root_commands = true
unixfrom = false

[options]
verbose = 2
read_all = false
delete = {str(self.delete).lower()}
delivered_to = false
received = false
""")
        self.rc.chmod(0o600)

    def run(self, expect_rc: int = 0) -> str:
        r = self.log.run([GETMAIL, "--getmaildir", str(self.state), "--rcfile", str(self.rc)],
                         timeout=RUN_TIMEOUT, env=dict(os.environ, HOME=str(self.root)), cwd=self.root)
        assert r.returncode == expect_rc, (
            f"getmail exited {r.returncode} (wanted {expect_rc}):\n{r.stdout[-8000:]}")
        return r.stdout

    def fetched(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted(self.out.glob("*.eml"))]


@pytest.fixture
def make_getmail():
    made: list[Getmail] = []

    def make(srv, retriever: str, **kw) -> Getmail:
        gm = Getmail(srv, srv.root / f"getmail-{len(made)}", retriever, **kw)
        made.append(gm)
        return gm

    yield make
    for gm in made:
        unregister_log(gm.log.path)


def imap_view(srv, user=ALICE, password=ALICE_PASSWORD) -> list[tuple[set[str], bytes]]:
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"], ssl_context=tls_client_context(), timeout=30)
    try:
        m.login(user, password)
        m.select("INBOX", readonly=True)
        out = []
        for uid in m.uid("SEARCH", None, "ALL")[1][0].split():
            typ, data = m.uid("FETCH", uid.decode(), "(FLAGS BODY.PEEK[])")
            assert typ == "OK", data
            meta = data[0][0] + b"".join(d for d in data if isinstance(d, bytes))
            flags = set(re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split())
            flags.discard("\\Recent")  # belongs to the session, not the message
            out.append((flags, data[0][1]))
        return out
    finally:
        m.logout()


def test_getmail_pop3s_keep_then_new_only(swallow_factory, make_getmail):
    srv = swallow_factory(listeners=LISTENERS)
    submitted = [UTF8, AWKWARD, big_message(), simple("getmail one")]
    deliver_all(srv, submitted)
    _, expected = server_view(srv)
    gm = make_getmail(srv, "SimplePOP3SSLRetriever")
    out = gm.run()
    assert f"{len(submitted)} messages" in out, out
    assert sorted(gm.fetched()) == sorted(to_lf(m) for m in expected)
    assert stat(srv)[0] == len(submitted)
    # getmail remembers the UIDLs: nothing is fetched twice, only the new message.
    gm.run()
    assert len(gm.fetched()) == len(submitted)
    new = simple("getmail later")
    deliver_all(srv, [new], already=len(submitted))
    gm.run()
    fetched = gm.fetched()
    assert len(fetched) == len(submitted) + 1
    assert strip_added_headers(fetched[-1]) == to_lf(new)


def test_getmail_pop3s_delete(swallow_factory, make_getmail):
    srv = swallow_factory(listeners=LISTENERS)
    submitted = [simple("to delete one", "x"), simple("to delete two", "y")]
    deliver_all(srv, submitted, to=BOB)
    _, expected = server_view(srv, BOB, BOB_PASSWORD)
    gm = make_getmail(srv, "SimplePOP3SSLRetriever", delete=True, user=BOB, password=BOB_PASSWORD)
    gm.run()
    assert sorted(gm.fetched()) == sorted(to_lf(m) for m in expected)
    assert stat(srv, BOB, BOB_PASSWORD) == (0, 0)


def test_getmail_pop3_cleartext_when_allowed(swallow_factory, make_getmail):
    srv = swallow_factory(listeners=LISTENERS, allow_plaintext=True)
    deliver_all(srv, [simple("cleartext getmail")])
    _, expected = server_view(srv)
    gm = make_getmail(srv, "SimplePOP3Retriever")
    gm.run()
    assert gm.fetched() == [to_lf(expected[0])]


def test_getmail_imaps_peek_then_delete(swallow_factory, make_getmail):
    srv = swallow_factory(listeners=LISTENERS)
    submitted = [UTF8, AWKWARD, simple("imap getmail")]
    deliver_all(srv, submitted)
    before = imap_view(srv)
    gm = make_getmail(srv, "SimpleIMAPSSLRetriever")
    gm.run()
    assert sorted(gm.fetched()) == sorted(to_lf(raw) for _, raw in before)
    # BODY.PEEK: the messages are still unseen and still there.
    assert imap_view(srv) == before
    gm.run()
    assert len(gm.fetched()) == len(submitted), "nothing fetched twice"
    # Now with delete: getmail retrieves the new message only, then deletes (STORE \Deleted,
    # EXPUNGE) every message it has retrieved so far, this run or before.
    deliver_all(srv, [simple("imap getmail deleted")], already=len(submitted))
    gm.delete = True
    gm.write_rc()
    out = gm.run()
    assert out.count(", deleted") == len(submitted) + 1, out
    assert len(gm.fetched()) == len(submitted) + 1
    assert strip_added_headers(gm.fetched()[-1]) == to_lf(simple("imap getmail deleted"))
    assert imap_view(srv) == []
