"""A real Postfix (Debian package) as the REMOTE MTA that receives from Swallow.

A throwaway Postfix: its own config_directory, queue and data directories under a temp dir,
smtpd on a free 127.0.0.1 port offering STARTTLS with a self-signed certificate (openssl), and
the virtual domain c.test delivered by Postfix's virtual(8) agent into a Maildir under the temp
dir. Swallow (example.test) routes c.test to it with `[transport]`. alice@example.test submits
to carol@c.test; the message lands in carol's Maildir below Postfix's and Swallow's Received
headers; Postfix's 5xx for an unknown user comes back to alice as a bounce.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import grp
import os
import pwd
import re
import shutil
import smtplib
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from peertools import ThrowawayPostfix

from conftest import ALICE, ALICE_PASSWORD, HOSTNAME, free_port, register_log, unregister_log
from outbound_helpers import (is_bounce, log_lines, message, parse_bounce, queue_entry, submit,
                              wait_for, wait_log)

POSTFIX = shutil.which("postfix") or ("/usr/sbin/postfix" if os.path.exists("/usr/sbin/postfix")
                                      else None)
OPENSSL = shutil.which("openssl")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(POSTFIX is None, reason="postfix is not installed (see PEERS.md: "
                       "debconf 'No configuration', then apt-get install postfix)"),
    pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed"),
]

CAROL = "carol@c.test"
DELIVERY_TIMEOUT = 30.0

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:{port} inet n   -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
myhostname = mx.c.test
mydomain = c.test
myorigin = $myhostname
mydestination =
relayhost =
relay_domains =
mynetworks = 127.0.0.0/8
inet_interfaces = loopback-only
inet_protocols = ipv4
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtputf8_enable = yes
virtual_mailbox_domains = c.test
virtual_mailbox_base = {root}/vmail
virtual_mailbox_maps = inline:{{ carol@c.test=carol/, zoë@c.test=zoe/ }}
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_mailbox_limit = 0
smtpd_tls_security_level = {tls_level}
smtpd_tls_cert_file = {root}/cert.pem
smtpd_tls_key_file = {root}/key.pem
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
smtpd_discard_ehlo_keywords = {discard}
{extra}
"""


class PostfixReceiver(ThrowawayPostfix):
    def __init__(self, root: Path, tls: bool, chunking: bool, extra: str = ""):
        self.root = root
        self.conf = root / "conf"
        self.port = free_port()
        self.log_path = root / "postfix.log"
        self.maildir = root / "vmail" / "carol"
        self.tls = tls
        self.chunking = chunking
        self.extra = extra
        self.started = False

    @property
    def hop(self) -> str:
        return f"127.0.0.1:{self.port}"

    def postfix(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([POSTFIX, "-c", str(self.conf), *args], capture_output=True,
                              text=True, timeout=60)

    def write_config(self):
        self.conf.mkdir()
        (self.root / "queue").mkdir()
        (self.root / "data").mkdir()
        os.chown(self.root / "data", pwd.getpwnam("postfix").pw_uid, grp.getgrnam("postfix").gr_gid)
        vmail = self.root / "vmail"
        vmail.mkdir()
        os.chown(vmail, 65534, 65534)
        r = subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=mx.c.test", "-keyout", str(self.root / "key.pem"),
                            "-out", str(self.root / "cert.pem")],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        (self.conf / "main.cf").write_text(MAIN_CF.format(
            root=self.root, tls_level="may" if self.tls else "none",
            discard="" if self.chunking else "chunking", extra=self.extra))
        (self.conf / "master.cf").write_text(MASTER_CF.format(port=self.port))

    def start(self):
        self.write_config()
        register_log(f"postfix receiver ({self.log_path})", self.log_path)
        r = self.postfix("start")
        if r.returncode != 0:
            raise RuntimeError(f"postfix start failed ({r.returncode}): {r.stdout}{r.stderr}\n"
                               f"log:\n{self.log()}")
        self.started = True
        deadline = time.monotonic() + 30
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=5) as s:
                    code, _ = s.ehlo("probe.test")
                    assert code == 250
                    assert s.has_extn("starttls") == self.tls
                    assert s.has_extn("chunking") == self.chunking
                return self
            except (OSError, smtplib.SMTPException):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postfix smtpd not answering on {self.port}\n"
                                       f"log:\n{self.log()}") from None
                time.sleep(0.2)

    def delivered(self, mailbox: str = "carol") -> list[bytes]:
        new = self.root / "vmail" / mailbox / "new"
        if not new.is_dir():
            return []
        return [p.read_bytes() for p in sorted(new.iterdir()) if p.is_file()]


@pytest.fixture
def postfix_factory():
    made: list[tuple[PostfixReceiver, str]] = []

    def make(tls: bool = True, chunking: bool = True, extra: str = "") -> PostfixReceiver:
        root = tempfile.mkdtemp(prefix="swallow-interop-postfix-rx-")
        os.chmod(root, 0o755)      # Postfix daemons and virtual (uid 65534) must reach it
        pf = PostfixReceiver(Path(root), tls, chunking, extra)
        made.append((pf, root))
        return pf.start()

    yield make
    for pf, root in reversed(made):
        try:
            pf.stop()
        finally:
            unregister_log(pf.log_path)
            shutil.rmtree(root, ignore_errors=True)


def wait_maildir(pf: PostfixReceiver, marker: str, mailbox: str = "carol") -> bytes:
    wait_for(lambda: [m for m in pf.delivered(mailbox) if marker.encode() in m], DELIVERY_TIMEOUT,
             lambda: f"{marker!r} in {mailbox}'s Maildir\nPostfix log:\n{pf.log()}")
    time.sleep(1.0)
    hits = [m for m in pf.delivered(mailbox) if marker.encode() in m]
    assert len(hits) == 1, f"{len(hits)} copies of {marker!r} in {mailbox}'s Maildir"
    return hits[0]


@pytest.mark.parametrize("tls,chunking", [(True, True), (True, False), (False, True)],
                         ids=["starttls-bdat", "starttls-data", "plain-bdat"])
def test_swallow_delivers_to_postfix(swallow_factory, postfix_factory, tls, chunking):
    pf = postfix_factory(tls=tls, chunking=chunking)
    srv = swallow_factory(settings={"transport": {"c.test": pf.hop},
                                    "queue": {"min_backoff": 1, "max_backoff": 2}})
    marker = f"to-postfix-{'tls' if tls else 'plain'}-{'bdat' if chunking else 'data'}-marker"
    raw = message(marker, ALICE, CAROL)
    qid = submit("127.0.0.1", srv.submission, ALICE, [CAROL], raw, user=ALICE,
                 password=ALICE_PASSWORD, helo="laptop.client.test")
    got = wait_maildir(pf, marker)

    # Maildir files have LF line ends
    msg = email.message_from_bytes(got, policy=email.policy.default)
    assert msg["Return-Path"] == f"<{ALICE}>", msg["Return-Path"]
    assert msg["Delivered-To"] == CAROL, msg["Delivered-To"]
    received = [" ".join(h.split()) for h in msg.get_all("Received")]
    assert len(received) == 2, received
    theirs, ours = received
    # Postfix's: from Swallow's EHLO name, over TLS when offered
    assert theirs.startswith(f"from {HOSTNAME} (") and "by mx.c.test (Postfix)" in theirs, theirs
    assert f"with {'ESMTPS' if tls else 'ESMTP'} id " in theirs, theirs
    assert f"for <{CAROL}>" in theirs, theirs
    # Swallow's: the submission, with the queue ID of its 250
    assert re.search(rf"from laptop\.client\.test \(\[127\.0\.0\.1\]\) by {re.escape(HOSTNAME)} "
                     rf"\(Swallow\) with ESMTPSA id {qid}\b", ours), ours
    # the message itself, unchanged below the trace headers
    sent_tail = raw.replace(b"\r\n", b"\n").split(b"\nSubject:", 1)[1]
    assert got.endswith(sent_tail), got

    log = pf.log()
    if tls:
        assert re.search(r"smtpd\[\d+\]: Anonymous TLS connection established from "
                         r"\S+\[127\.0\.0\.1\]", log), log
    else:
        assert "TLS connection established" not in log
    assert re.search(rf"from=<{re.escape(ALICE)}>, size=\d+", log), log
    wait_log(srv, f"queue_id={qid}", "delivered", f"to={CAROL}")
    routing = wait_log(srv, f"queue_id={qid}", "routing")
    assert any(f"[127.0.0.1]:{pf.port}" in l for l in routing), routing
    wait_for(lambda: queue_entry(srv, qid) is None, 10, f"{qid} to leave the queue")


def test_postfix_rejects_unknown_user_and_alice_gets_a_bounce(swallow_factory, postfix_factory):
    pf = postfix_factory()
    srv = swallow_factory(settings={"transport": {"c.test": pf.hop},
                                    "queue": {"min_backoff": 1, "max_backoff": 2}})
    nobody = "nobody@c.test"
    marker = "postfix-unknown-user-marker"
    t0 = time.time()
    qid = submit("127.0.0.1", srv.submission, ALICE, [CAROL, nobody],
                 message(marker, ALICE, CAROL), user=ALICE, password=ALICE_PASSWORD)
    wait_maildir(pf, marker)                      # carol still gets it

    def found():
        return [m for m in srv.inbox_raw(ALICE) if is_bounce(m) and marker.encode() in m]
    wait_for(found, DELIVERY_TIMEOUT, "alice's bounce")
    time.sleep(1.0)
    [raw] = found()
    b = parse_bounce(raw)
    assert b.message["Return-Path"] == "<>"
    assert f"MAILER-DAEMON@{HOSTNAME}" in b.message["From"]
    assert b.per_message["Reporting-MTA"].replace(" ", "") == f"dns;{HOSTNAME}"
    assert abs(email.utils.parsedate_to_datetime(b.per_message["Arrival-Date"]).timestamp()
               - t0) < 120
    assert len(b.per_recipient) == 1, [r.items() for r in b.per_recipient]
    r = b.per_recipient[0]
    assert r["Final-Recipient"].replace(" ", "").lower() == f"rfc822;{nobody}"
    assert r["Action"].strip() == "failed"
    assert r["Status"].strip() == "5.1.1", r["Status"]
    diag = r["Diagnostic-Code"]
    assert diag.lower().startswith("smtp;") and "550 5.1.1" in diag, diag
    assert "User unknown in virtual mailbox table" in diag, diag
    assert b.returned["Subject"] == marker
    assert any(f"id {qid}" in " ".join(h.split()) for h in b.returned.get_all("Received"))
    assert "reject: RCPT from" in pf.log() and nobody in pf.log()
    bounced = log_lines(srv, f"queue_id={qid}", "bounced")
    assert any(nobody in l for l in bounced), bounced
    assert not log_lines(srv, f"queue_id={qid}", "bounced", f"to={CAROL}")


def _server(swallow_factory, pf):
    return swallow_factory(settings={"transport": {"c.test": pf.hop},
                                     "queue": {"min_backoff": 1, "max_backoff": 2}})


def test_smtputf8_to_postfix(swallow_factory, postfix_factory):
    """RFC 6531: an internationalised recipient and sender header, passed on with SMTPUTF8."""
    pf = postfix_factory()
    srv = _server(swallow_factory, pf)
    zoe = "zoë@c.test"
    marker = "smtputf8-to-postfix-marker"
    raw = (f"From: Alice <{ALICE}>\r\nTo: Zoë <{zoe}>\r\nSubject: Grüße {marker}\r\n"
           f"Date: Thu, 01 Feb 2024 10:00:00 +0000\r\n"
           f"Message-ID: <{marker}@interop.test>\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
           f"\r\nünïcödé ✓\r\n").encode()
    qid = submit("127.0.0.1", srv.submission, ALICE, [zoe], raw, user=ALICE,
                 password=ALICE_PASSWORD, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    got = wait_maildir(pf, marker, mailbox="zoe")
    assert f"Delivered-To: {zoe}\n".encode() in got, got[:600]
    # unchanged from the Subject on (8-bit header and body as sent)
    assert got.endswith(raw.replace(b"\r\n", b"\n").split(b"\nTo: ", 1)[1].split(b"\n", 1)[1])
    assert f"to=<{zoe}>, relay=virtual".encode() in pf.log().encode()
    wait_log(srv, f"queue_id={qid}", "delivered", f"to={zoe}")


def test_large_message_to_postfix(swallow_factory, postfix_factory):
    """3 MiB through BDAT to Postfix, byte for byte (bar line ends) in the Maildir."""
    pf = postfix_factory()
    srv = _server(swallow_factory, pf)
    marker = "large-to-postfix-marker"
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-_=+!?~0123456\r\n"
    body = b"".join(b"%06d " % i + line for i in range(3 * 1024 * 1024 // len(line)))
    raw = message(marker, ALICE, CAROL) + body
    qid = submit("127.0.0.1", srv.submission, ALICE, [CAROL], raw, user=ALICE,
                 password=ALICE_PASSWORD)
    got = wait_maildir(pf, marker)
    assert got.endswith(body.replace(b"\r\n", b"\n")), "the body changed on the way"
    wait_log(srv, f"queue_id={qid}", "delivered", f"to={CAROL}")


def test_postfix_size_limit_bounces_before_sending(swallow_factory, postfix_factory):
    """Postfix announces SIZE 20000; a larger message is bounced (5.3.4) without a try."""
    pf = postfix_factory(extra="message_size_limit = 20000")
    srv = _server(swallow_factory, pf)
    marker = "over-postfix-size-marker"
    raw = message(marker, ALICE, CAROL) + (b"z" * 78 + b"\r\n") * 400
    qid = submit("127.0.0.1", srv.submission, ALICE, [CAROL], raw, user=ALICE,
                 password=ALICE_PASSWORD)

    def found():
        return [m for m in srv.inbox_raw(ALICE) if is_bounce(m) and marker.encode() in m]
    wait_for(found, DELIVERY_TIMEOUT, "alice's bounce")
    b = parse_bounce(found()[0])
    r = b.per_recipient[0]
    assert r["Status"].strip() == "5.3.4", r.items()
    assert "20000" in r["Diagnostic-Code"], r["Diagnostic-Code"]
    assert not pf.delivered()
    assert f"from=<{ALICE}>" not in pf.log(), "Swallow sent MAIL anyway"
    bounced = log_lines(srv, f"queue_id={qid}", "bounced")
    assert bounced, srv.log_text()
