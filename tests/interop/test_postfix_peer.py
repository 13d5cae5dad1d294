"""A real Postfix (Debian package) relays into Swallow over SMTP and over LMTP.

Each test gets a throwaway Postfix instance: its own config_directory (main.cf, master.cf),
queue and data directories under a temp dir, smtpd on a free 127.0.0.1 port, mail for
example.test routed by transport_maps to Swallow's smtp or lmtp listener.
"""

from __future__ import annotations

import os
import shutil
import smtplib
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from peertools import ThrowawayPostfix

from conftest import (ALICE, BOB, free_port, register_log, split_added_headers, to_lf,
                      unregister_log)

POSTFIX = shutil.which("postfix") or ("/usr/sbin/postfix" if os.path.exists("/usr/sbin/postfix")
                                      else None)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(POSTFIX is None, reason="postfix is not installed (see PEERS.md: "
                       "debconf 'No configuration', then apt-get install postfix)"),
]

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
myhostname = relay.outside.test
mydomain = outside.test
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
smtp_tls_security_level = {smtp_tls}
smtp_tls_loglevel = 1
lmtp_tls_security_level = none
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtputf8_enable = yes
transport_maps = inline:{{ example.test={nexthop} }}
# retry quickly if the first attempt fails
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""


class Postfix(ThrowawayPostfix):
    def __init__(self, root: Path, nexthop: str, smtp_tls: str = "may"):
        self.root = root
        self.conf = root / "conf"
        self.port = free_port()
        self.log_path = root / "postfix.log"
        self.nexthop = nexthop
        self.smtp_tls = smtp_tls
        self.started = False

    def postfix(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        r = subprocess.run([POSTFIX, "-c", str(self.conf), *args], capture_output=True,
                           text=True, timeout=60)
        if check:
            assert r.returncode == 0, f"postfix {' '.join(args)}: {r.stdout}{r.stderr}"
        return r

    def check_output(self) -> str:
        """`postfix -c DIR check`, with its stderr on a pseudo-terminal: Postfix commands only
        print their diagnostics to a terminal (otherwise they go to the mail log)."""
        import pty
        master, slave = pty.openpty()
        try:
            p = subprocess.run([POSTFIX, "-c", str(self.conf), "check"], stdin=subprocess.DEVNULL,
                               stdout=slave, stderr=slave, timeout=60)
            os.close(slave)
            slave = -1
            out = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            return f"exit {p.returncode}: {out.decode(errors='replace')}"
        finally:
            if slave >= 0:
                os.close(slave)
            os.close(master)

    def write_config(self):
        self.conf.mkdir()
        (self.root / "queue").mkdir()
        (self.root / "data").mkdir()
        os.chown(self.root / "data", *_postfix_ids())
        (self.conf / "main.cf").write_text(MAIN_CF.format(
            root=self.root, nexthop=self.nexthop, smtp_tls=self.smtp_tls))
        (self.conf / "master.cf").write_text(MASTER_CF.format(port=self.port))

    def start(self):
        self.write_config()
        register_log(f"postfix ({self.log_path})", self.log_path)
        r = self.postfix("start")
        if r.returncode != 0:
            raise RuntimeError(
                f"postfix start failed ({r.returncode}): {r.stdout}{r.stderr}\n"
                f"postfix check: {self.check_output()}\n"
                f"log:\n{self.log()}")
        self.started = True
        deadline = time.monotonic() + 30
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=5) as s:
                    s.noop()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postfix smtpd not answering on {self.port}\n"
                                       f"check: {self.check_output()}\nlog:\n{self.log()}")
                time.sleep(0.2)

    def wait_log(self, needle: str, timeout: float = DELIVERY_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if needle in text:
                return text
            time.sleep(0.2)
        raise AssertionError(f"{needle!r} not in the Postfix log after {timeout}s:\n{self.log()}")


def _postfix_ids():
    import grp
    import pwd
    return pwd.getpwnam("postfix").pw_uid, grp.getgrnam("postfix").gr_gid


@pytest.fixture
def postfix_factory():
    made: list[tuple[Postfix, str]] = []

    def make(nexthop: str, smtp_tls: str = "may") -> Postfix:
        root = tempfile.mkdtemp(prefix="swallow-interop-postfix-")
        os.chmod(root, 0o755)      # Postfix daemons (user postfix) must reach the queue
        pf = Postfix(Path(root), nexthop, smtp_tls)
        made.append((pf, root))
        pf.start()
        return pf

    yield make
    for pf, root in reversed(made):
        try:
            pf.stop()
        finally:
            unregister_log(pf.log_path)
            shutil.rmtree(root, ignore_errors=True)


def message(marker: str, to: str = ALICE) -> bytes:
    return (f"From: <sender@outside.test>\r\nTo: <{to}>\r\nSubject: {marker}\r\n"
            f"Date: Thu, 01 Feb 2024 10:00:00 +0000\r\n"
            f"Message-ID: <{marker}@outside.test>\r\n\r\n"
            f"relayed by postfix\r\n{marker}\r\n").encode()


def submit(pf: Postfix, raw: bytes, rcpts, sender: str = "sender@outside.test", **kw):
    with smtplib.SMTP("127.0.0.1", pf.port, timeout=30) as s:
        s.ehlo("client.outside.test")
        refused = s.sendmail(sender, rcpts, raw, **kw)
        assert refused == {}, refused


def assert_relayed(srv, pf: Postfix, user: str, marker: str, raw: bytes) -> bytes:
    try:
        msgs = srv.wait_inbox_raw(user, 1, timeout=DELIVERY_TIMEOUT)
    except AssertionError as e:
        raise AssertionError(f"{e}\nPostfix log:\n{pf.log()}") from None
    hits = [m for m in msgs if marker.encode() in m]
    assert len(hits) == 1, (len(hits), msgs)
    fields, rest = split_added_headers(hits[0])
    assert len(fields) == 3, fields
    # below Swallow's trace headers: Postfix's Received, then the message as submitted
    assert rest.startswith(b"Received: from client.outside.test"), rest[:400]
    assert b"by relay.outside.test (Postfix)" in rest[:400], rest[:400]
    assert rest.endswith(to_lf(raw)), rest
    return hits[0]


def test_postfix_relays_over_smtp(swallow, postfix_factory):
    pf = postfix_factory(f"smtp:[127.0.0.1]:{swallow.smtp}")
    raw = message("postfix-smtp-marker")
    submit(pf, raw, [ALICE])
    stored = assert_relayed(swallow, pf, ALICE, "postfix-smtp-marker", raw)
    assert b"Return-Path: <sender@outside.test>" in stored
    text = pf.wait_log("status=sent")
    assert "250 2.0.0 Ok: queued as " in text, text
    # Postfix used STARTTLS towards Swallow (smtp_tls_security_level = may)
    assert "TLS connection established to 127.0.0.1" in text, text


def test_postfix_relays_over_lmtp(swallow, postfix_factory):
    pf = postfix_factory(f"lmtp:inet:127.0.0.1:{swallow.lmtp}")
    raw = message("postfix-lmtp-marker", to=f"{ALICE}>, <{BOB}")
    submit(pf, raw, [ALICE, BOB])
    assert_relayed(swallow, pf, ALICE, "postfix-lmtp-marker", raw)
    assert_relayed(swallow, pf, BOB, "postfix-lmtp-marker", raw)
    text = pf.wait_log("status=sent")
    assert "relay=127.0.0.1[127.0.0.1]:%d" % swallow.lmtp in text, text


def test_postfix_smtputf8_over_smtp(swallow, postfix_factory):
    swallow.cli("user", "add", "zoë@example.test", "--password-stdin", input="pw\n")
    pf = postfix_factory(f"smtp:[127.0.0.1]:{swallow.smtp}")
    raw = ("From: Pelé <pelé@outside.test>\r\nTo: <zoë@example.test>\r\n"
           "Subject: Grüße postfix-utf8-marker\r\nDate: Thu, 01 Feb 2024 10:00:00 +0000\r\n"
           "Message-ID: <utf8@outside.test>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           "ünïcödé ✓\r\n").encode()
    submit(pf, raw, ["zoë@example.test"], sender="pelé@outside.test",
           mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    stored = assert_relayed(swallow, pf, "zoë@example.test", "postfix-utf8-marker", raw)
    assert "Return-Path: <pelé@outside.test>".encode() in stored


@pytest.mark.parametrize("route", ["smtp", "lmtp"])
def test_postfix_unknown_user_is_rejected_by_swallow(swallow, postfix_factory, route):
    nexthop = (f"smtp:[127.0.0.1]:{swallow.smtp}" if route == "smtp"
               else f"lmtp:inet:127.0.0.1:{swallow.lmtp}")
    pf = postfix_factory(nexthop)
    # null sender: the bounce Postfix generates is discarded, not sent anywhere
    submit(pf, message("postfix-unknown-marker", to="nobody@example.test"),
           ["nobody@example.test"], sender="")
    text = pf.wait_log("status=bounced")
    bounced = [l for l in text.splitlines() if "status=bounced" in l]
    assert any("550 5.1.1" in l and "nobody@example.test" in l for l in bounced), bounced
