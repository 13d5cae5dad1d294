"""Content filters at DATA time (issue 10), against the real scanners: clamd (INSTREAM over TCP
and a Unix socket), SpamAssassin's spamd (SPAMC/1.5) and rspamd (HTTP POST /checkv2).

Each scanner runs once per module on loopback from a temporary directory (PEERS.md), with no
network and no downloaded rules:

    clamd    a one-line body signature for EICAR (without the official database clamd does not
             know EICAR), detected as `Eicar-Test-Signature-Local.UNOFFICIAL`
    spamd    `-L` (local tests only), no Bayes: GTUBE scores 1000+ against spamd's 5.0
    rspamd   Debian's config with the variables pointed at our directory; GTUBE gets its
             `reject` action. Test rules (multimap on the Subject, force_actions) reach the
             other actions on demand: `swallow-test-junk` scores 10 (`add header`),
             `swallow-test-rewrite` forces `rewrite subject`, `swallow-test-soft` `soft reject`.

What a client hears (the message is scanned once, before the 250):

    virus                       554 5.7.1 Message refused: virus found (SIGNATURE)
    scanner down, tempfail      451 4.7.1 Content scanner unavailable, try again later
    spam refused                550 5.7.1 Message refused as spam
    rspamd soft reject          451 4.7.1 ...
    junk                        250; stored in the recipient's \\Junk mailbox ("Junk")

An accepted, spam-scanned message carries X-Spam-Flag / X-Spam-Status / X-Spam-Score (and
X-Spam-Action from rspamd) right below Swallow's trace fields, above the message as sent.
Mail from trusted networks (127.0.0.0/8 by default, so smtplib here) skips the spam scan unless
`scan_authenticated = true`; it is always scanned for viruses.

Needs clamd and sigtool (Debian clamav-daemon, clamav), spamd and spamc, rspamd; .ci/run
installs them.
"""

from __future__ import annotations

import base64
import email.utils
import imaplib
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import (ALICE, ALICE_PASSWORD, BOB, free_port, http_request, register_log,
                      strip_added_headers, tls_client_context, to_lf, unregister_log)
from outbound_helpers import closed_port, wait_for

EICAR = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_SIGNATURE = "Eicar-Test-Signature-Local.UNOFFICIAL"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

SENDER = "sender@outside.test"

VIRUS_REPLY = f"5.7.1 Message refused: virus found ({EICAR_SIGNATURE})"
UNAVAILABLE_REPLY = "4.7.1 Content scanner unavailable, try again later"
SPAM_REPLY = "5.7.1 Message refused as spam"

STARTUP_TIMEOUT = 60.0      # spamd compiles its rules at start: slow on a busy CI machine


# --------------------------------------------------------------------------
# the scanners


class Daemon:
    """A scanner daemon we started, in a session of its own; stopped by its PID (SIGTERM, then
    SIGKILL to its process group, which holds the workers it forked)."""

    title = "daemon"

    def __init__(self, root: Path):
        self.root = Path(root)
        self.output = self.root / f"{self.title}.out"
        self.proc: subprocess.Popen | None = None
        self.logs = [self.output]

    def spawn(self, argv: list[str], ready, what: str):
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                         cwd=self.root, start_new_session=True)
        for path in self.logs:
            register_log(f"{self.title} ({path})", path)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._probe(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                rc = self.proc.poll()
                self.stop()
                raise RuntimeError(f"{self.title} not ready ({what}), exit {rc}:\n"
                                   + "\n".join(self.log_text(p) for p in self.logs))
            time.sleep(0.1)
        return self

    @staticmethod
    def _probe(ready) -> bool:
        try:
            return bool(ready())
        except (OSError, subprocess.SubprocessError):
            return False

    def stop(self):
        p = self.proc
        if p is not None:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    pass
            # The master stops its workers on SIGTERM; any it left (or all, if it hung) go now.
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=10)
        for path in self.logs:
            unregister_log(path)

    @staticmethod
    def log_text(path: Path) -> str:
        try:
            return path.read_text(errors="replace")
        except OSError:
            return f"(no {path})"


def owned_dir(path: Path, user: str) -> Path:
    """A directory a daemon writes after dropping root for `user`."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.chown(path, user=user, group=pwd.getpwnam(user).pw_gid)
    return path


def scanner_root(prefix: str) -> Path:
    # mkdtemp makes it 0700: the daemons' unprivileged users must get through it.
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    return root


class Clamd(Daemon):
    title = "clamd"

    def __init__(self, root: Path):
        super().__init__(root)
        self.port = free_port()
        run = owned_dir(self.root / "run", "clamav")
        self.socket_path = run / "clamd.sock"
        self.log_path = run / "clamd.log"
        self.logs.append(self.log_path)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def unix_address(self) -> str:
        return f"unix:{self.socket_path}"

    def start(self):
        db = self.root / "db"
        db.mkdir(mode=0o755)
        # The official database is not here (no freshclam without network): EICAR as a body
        # signature of our own, hex of the 68 bytes, anywhere in any file type.
        (db / "eicar.ndb").write_text(f"Eicar-Test-Signature-Local:0:*:{EICAR.encode().hex()}\n")
        (db / "eicar.ndb").chmod(0o644)
        conf = self.root / "clamd.conf"
        conf.write_text("\n".join([
            "Foreground yes", f"DatabaseDirectory {db}",
            f"TCPSocket {self.port}", "TCPAddr 127.0.0.1",
            f"LocalSocket {self.socket_path}", "LocalSocketMode 666",
            f"PidFile {self.root / 'run' / 'clamd.pid'}", f"LogFile {self.log_path}",
            "User clamav", ""]))
        conf.chmod(0o644)
        return self.spawn(["clamd", "-c", str(conf)], self._ping, "PING on its TCP port")

    def _ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(b"zPING\0")
            return s.recv(16) == b"PONG\0"

    def detections(self) -> int:
        """How many streams clamd has reported infected so far."""
        return self.log_text(self.log_path).count(f"{EICAR_SIGNATURE} FOUND")


class Spamd(Daemon):
    title = "spamd"

    def __init__(self, root: Path):
        super().__init__(root)
        self.port = free_port()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self):
        home = owned_dir(self.root / "home", "debian-spamd")
        argv = ["spamd", "-i", f"127.0.0.1:{self.port}", "-A", "127.0.0.1", "-x", "-L",
                "-u", "debian-spamd", "-g", "debian-spamd", "-H", str(home), "-m", "1",
                "-s", "stderr", "--cf=use_bayes 0"]
        return self.spawn(argv, self._ping, "spamc -K")

    def _ping(self) -> bool:
        r = subprocess.run(["spamc", "-d", "127.0.0.1", "-p", str(self.port), "-K"],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.startswith("SPAMD/1.5 0")

    def checks(self, message_id: str) -> int:
        """How many times spamd was asked about the message with this Message-ID."""
        return self.log_text(self.output).count(f"checking message <{message_id}>")


class Rspamd(Daemon):
    title = "rspamd"

    def __init__(self, root: Path):
        super().__init__(root)
        self.port = free_port()
        # The proxy worker in milter mode (test_milter.py), in front of the normal worker.
        self.milter_port = free_port()
        log = owned_dir(self.root / "log", "_rspamd")
        self.logs.append(log / "rspamd.log")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def milter_address(self) -> str:
        return f"127.0.0.1:{self.milter_port}"

    def start(self):
        r = self.root
        owned_dir(r / "run", "_rspamd")
        owned_dir(r / "db", "_rspamd")
        local = r / "local.d"
        local.mkdir(mode=0o755)
        files = {
            local / "worker-normal.inc": f'bind_socket = "127.0.0.1:{self.port}";\ncount = 1;\n',
            local / "worker-controller.inc": f'bind_socket = "127.0.0.1:{free_port()}";\n',
            local / "worker-proxy.inc": (f'bind_socket = "127.0.0.1:{self.milter_port}";\nmilter = yes;\n'
                                         f'upstream "local" {{ default = yes; hosts = '
                                         f'"127.0.0.1:{self.port}"; }}\n'),
            # No resolver, and a short TLD list: with the whole public-suffix list the first
            # start compiles it for ~15 s.
            local / "options.inc": ('dns { nameserver = ["127.0.0.1:1"]; timeout = 0.5s; '
                                    f'retransmits = 1; }}\nurl_tld = "{r / "tld.dat"}";\n'),
            r / "tld.dat": "test\ncom\nnet\norg\n",
            local / "fuzzy_check.conf": "enabled = false;\n",
            # Headers in milter replies for mail from 127.0.0.1 too (only the milter mode
            # uses them; /checkv2's answer is read for its score and action alone).
            local / "milter_headers.conf": ("extended_spam_headers = true;\nskip_local = false;\n"
                                            "skip_authenticated = false;\n"),
            # Inline map entries starting with "/" are taken for file names: the regexps
            # live in files.
            local / "multimap.conf": "".join(
                f'SWALLOW_TEST_{n.upper()} {{ type = "header"; header = "Subject"; '
                f'regexp = true; map = "{r / f"{n}.map"}"; score = {score}; }}\n'
                for n, score in (("junk", "10.0"), ("rewrite", "0.0"), ("soft", "0.0"))),
            local / "force_actions.conf": (
                "rules {\n"
                '  SWALLOW_REWRITE { action = "rewrite subject"; expression = "SWALLOW_TEST_REWRITE"; }\n'
                '  SWALLOW_SOFT { action = "soft reject"; expression = "SWALLOW_TEST_SOFT"; '
                'message = "try again later"; }\n'
                "}\n"),
        }
        for n in ("junk", "rewrite", "soft"):
            files[r / f"{n}.map"] = f"/swallow-test-{n}/\n"
        for path, text in files.items():
            path.write_text(text)
            path.chmod(0o644)
        argv = ["rspamd", "-f", "-u", "_rspamd", "-g", "_rspamd", "-c", "/etc/rspamd/rspamd.conf",
                f"--var=LOCAL_CONFDIR={r}", f"--var=RUNDIR={r / 'run'}",
                f"--var=DBDIR={r / 'db'}", f"--var=LOGDIR={r / 'log'}"]
        return self.spawn(argv, self._ping, "GET /ping")

    def _ping(self) -> bool:
        return http_request(self.port, "GET", "/ping", timeout=2).text.strip() == "pong"


def _daemon_fixture(cls, prefix: str):
    root = scanner_root(prefix)
    daemon = cls(root)
    try:
        yield daemon.start()
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def clamd():
    yield from _daemon_fixture(Clamd, "swallow-clamd-")


@pytest.fixture(scope="module")
def spamd():
    yield from _daemon_fixture(Spamd, "swallow-spamd-")


@pytest.fixture(scope="module")
def rspamd():
    yield from _daemon_fixture(Rspamd, "swallow-rspamd-")


# --------------------------------------------------------------------------
# messages and what became of them


def make_message(marker: str, body: str, subject: str | None = None, headers: str = "") -> bytes:
    """A well-formed message (so a ham really scores as ham) whose Message-ID is
    <MARKER@interop.test>."""
    return (f"From: Sender <{SENDER}>\r\nTo: <{ALICE}>\r\nSubject: {subject or marker}\r\n"
            f"Date: {email.utils.formatdate()}\r\nMessage-ID: <{marker}@interop.test>\r\n"
            f"{headers}\r\n{body}\r\n").encode()


def eicar_attachment(marker: str) -> bytes:
    """EICAR only as a base64 MIME attachment: found only if clamd decodes the MIME part."""
    encoded = base64.b64encode(EICAR.encode()).decode()
    assert EICAR not in encoded
    return make_message(marker, (
        "--b1\r\nContent-Type: text/plain\r\n\r\nsee the attachment\r\n"
        "--b1\r\nContent-Type: application/octet-stream; name=\"eicar.com\"\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=\"eicar.com\"\r\n\r\n"
        f"{encoded}\r\n--b1--"), headers=(
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n'))


def ham(marker: str) -> bytes:
    return make_message(marker, "Shall we meet for lunch at noon tomorrow?\r\nCheers, Sam")


def send(port: int, raw: bytes, rcpts=(ALICE,)) -> tuple[int, str]:
    """One SMTP transaction; the reply to the end of DATA as (code, text)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("client.outside.test")
        code, text = s.mail(SENDER)
        assert code == 250, (code, text)
        for r in rcpts:
            code, text = s.rcpt(r)
            assert code == 250, (r, code, text)
        code, text = s.data(raw)
        return code, text.decode()


def assert_queued(reply: tuple[int, str]):
    assert reply[0] == 250 and reply[1].startswith("2.0.0 Ok: queued as"), reply


def with_marker(msgs: list[bytes], marker: str) -> list[bytes]:
    return [m for m in msgs if marker.encode() in m]


def wait_stored(srv, user: str, marker: str, mailbox: str = "INBOX") -> bytes:
    """The one message carrying `marker` in the mailbox (exported: LF line ends, trace on top)."""
    found = wait_for(lambda: with_marker(srv.inbox_raw(user, mailbox), marker), 20,
                     f"{marker!r} in {user}'s {mailbox}")
    assert len(found) == 1, f"{len(found)} copies of {marker!r} in {user}'s {mailbox}"
    return found[0]


def assert_not_stored(srv, user: str, *markers: str):
    """None of the markers in the mailboxes mail is delivered to (INBOX, Junk). A refusal comes
    after the store was (not) written, so nothing can land later; the tests still check after
    a later message when they have one."""
    for mailbox in ("INBOX", "Junk"):
        msgs = srv.inbox_raw(user, mailbox)
        for marker in markers:
            assert not with_marker(msgs, marker), f"refused {marker!r} in {user}'s {mailbox}"


def spam_fields(raw: bytes, sent: bytes) -> dict[str, str]:
    """The X-Spam-* fields between Swallow's trace fields and the message, which must follow
    them exactly as `sent`."""
    rest = strip_added_headers(raw)
    fields: dict[str, str] = {}
    while rest.startswith(b"X-Spam-"):
        line, rest = rest.split(b"\n", 1)
        name, value = line.decode().split(":", 1)
        assert name not in fields, f"{name} twice in {raw[:800]!r}"
        fields[name] = value.strip()
    assert rest == to_lf(sent), f"not the message as sent below the X-Spam fields:\n{raw!r}"
    return fields


def assert_spam_status(fields: dict[str, str], flag: str, required: str) -> float:
    """X-Spam-Flag/Status/Score agree with each other; returns the score."""
    assert fields.get("X-Spam-Flag") == flag, fields
    m = re.fullmatch(r"(Yes|No), score=(-?\d+\.\d) required=(\d+\.\d)", fields.get("X-Spam-Status", ""))
    assert m, fields
    assert m[1] == {"YES": "Yes", "NO": "No"}[flag] and m[3] == required, fields
    assert fields.get("X-Spam-Score") == m[2], fields
    return float(m[2])


def imap_junk(srv, user: str, password: str) -> tuple[str, list[bytes]]:
    """What an IMAP client finds in the mailbox marked \\Junk (RFC 6154): (name, messages)."""
    m = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=30)
    try:
        m.starttls(ssl_context=tls_client_context())
        m.login(user, password)
        typ, listing = m.list()
        assert typ == "OK", listing
        names = [re.search(rb'"([^"]+)"\s*$|(\S+)\s*$', line) for line in listing
                 if re.match(rb"\([^)]*\\Junk[^)]*\)", line)]
        assert len(names) == 1, f"want one \\Junk mailbox: {listing!r}"
        name = (names[0][1] or names[0][2]).decode()
        typ, data = m.select(f'"{name}"', readonly=True)
        assert typ == "OK", data
        if int(data[0]) == 0:
            return name, []
        typ, data = m.fetch("1:*", "(BODY.PEEK[])")
        assert typ == "OK", data
        return name, [item[1] for item in data if isinstance(item, tuple)]
    finally:
        try:
            m.logout()
        except Exception:   # noqa: BLE001 - best effort
            pass


def filters(clamav: dict | None = None, spam: dict | None = None) -> dict:
    """`settings` for swallow_factory: the [filters.*] sections."""
    settings = {}
    if clamav is not None:
        settings["filters.clamav"] = clamav
    if spam is not None:
        settings["filters.spam"] = spam
    return settings


# --------------------------------------------------------------------------
# viruses


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_virus_refused_clean_delivered(swallow_factory, clamd, transport):
    # An outside client (no trusted networks); SPF and DMARC off: they would wait on the test
    # resolver, and are not what is tested here.
    address = clamd.address if transport == "tcp" else clamd.unix_address
    srv = swallow_factory(trusted_networks=[], settings={
        **filters(clamav={"address": address}), "authentication": {"verify": False}})

    code, text = send(srv.smtp, make_message("eicar-plain", f"look at this:\r\n{EICAR}"))
    assert (code, text) == (554, VIRUS_REPLY)
    code, text = send(srv.smtp, eicar_attachment("eicar-attached"))
    assert (code, text) == (554, VIRUS_REPLY)

    clean = make_message("clean-one", "nothing to see here")
    assert_queued(send(srv.smtp, clean))
    wait_stored(srv, ALICE, "clean-one")
    assert_not_stored(srv, ALICE, "eicar-plain", "eicar-attached")


def test_virus_scanner_down_tempfail_by_default(swallow_factory):
    srv = swallow_factory(settings=filters(clamav={"address": f"127.0.0.1:{closed_port()}"}))
    code, text = send(srv.smtp, make_message("av-down-tempfail", "hello"))
    assert (code, text) == (451, UNAVAILABLE_REPLY)
    assert_not_stored(srv, ALICE, "av-down-tempfail")


def test_virus_scanner_down_accept(swallow_factory):
    srv = swallow_factory(settings=filters(clamav={"address": f"127.0.0.1:{closed_port()}",
                                                   "on_failure": "accept"}))
    sent = make_message("av-down-accept", "hello")
    assert_queued(send(srv.smtp, sent))
    # Accepted unscanned: nothing added to the message.
    assert strip_added_headers(wait_stored(srv, ALICE, "av-down-accept")) == to_lf(sent)


def test_virus_scanner_silent_times_out(swallow_factory):
    # A listener that never accepts: the connection completes in the kernel's backlog and the
    # request fits in its buffers, but no answer ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        srv = swallow_factory(settings=filters(clamav={"address": f"127.0.0.1:{port}",
                                                       "timeout": 1}))
        started = time.monotonic()
        code, text = send(srv.smtp, make_message("av-silent", "hello"))
        took = time.monotonic() - started
    assert (code, text) == (451, UNAVAILABLE_REPLY)
    assert 0.9 <= took < 15, f"DATA answered after {took:.1f}s with a 1 s scanner timeout"


def test_lmtp_virus_refused_for_each_recipient_scanned_once(swallow_factory, clamd):
    srv = swallow_factory(settings=filters(clamav={"address": clamd.address}))
    before = clamd.detections()
    with smtplib.LMTP("127.0.0.1", srv.lmtp, timeout=60) as s:
        s.ehlo("client.outside.test")
        assert s.mail(SENDER)[0] == 250
        for r in (ALICE, BOB):
            assert s.rcpt(r)[0] == 250
        # RFC 2033: one reply per recipient; smtplib reads the first, the second is next.
        first = s.data(make_message("lmtp-eicar", EICAR))
        second = s.getreply()
    replies = [(code, text.decode()) for code, text in (first, second)]
    assert replies == [(554, VIRUS_REPLY)] * 2

    assert_queued(send(srv.smtp, make_message("after-lmtp", "clean"), rcpts=(ALICE, BOB)))
    for user in (ALICE, BOB):
        wait_stored(srv, user, "after-lmtp")
        assert_not_stored(srv, user, "lmtp-eicar")
    # clamd logs a detection after its reply: counted once it has had time to, and once only.
    wait_for(lambda: clamd.detections() > before, 10, "clamd's log of the detection")
    assert clamd.detections() == before + 1, "the message was not scanned exactly once"


# --------------------------------------------------------------------------
# spamd


def test_spamd_reject_score(swallow_factory, spamd):
    srv = swallow_factory(settings=filters(spam={
        "engine": "spamd", "address": spamd.address, "reject_score": 15,
        "scan_authenticated": True}))
    code, text = send(srv.smtp, make_message("spamd-gtube-reject", GTUBE))
    assert (code, text) == (550, SPAM_REPLY)
    assert spamd.checks("spamd-gtube-reject@interop.test") == 1

    sent = ham("spamd-ham-after-reject")
    assert_queued(send(srv.smtp, sent))
    fields = spam_fields(wait_stored(srv, ALICE, "spamd-ham-after-reject"), sent)
    assert assert_spam_status(fields, "NO", "5.0") < 5
    assert_not_stored(srv, ALICE, "spamd-gtube-reject")


def test_spamd_junk_and_ham(swallow_factory, spamd):
    srv = swallow_factory(listeners=("imap",), settings=filters(spam={
        "engine": "spamd", "address": spamd.address, "junk_score": 5,
        "scan_authenticated": True}))

    # Two recipients: one scan, a copy in each one's Junk.
    spam = make_message("spamd-gtube-junk", GTUBE)
    assert_queued(send(srv.smtp, spam, rcpts=(ALICE, BOB)))
    assert spamd.checks("spamd-gtube-junk@interop.test") == 1
    for user in (ALICE, BOB):
        fields = spam_fields(wait_stored(srv, user, "spamd-gtube-junk", "Junk"), spam)
        # GTUBE's 1000 points, give or take a few other rules (ALL_TRUSTED: -1).
        assert assert_spam_status(fields, "YES", "5.0") > 900
        assert "X-Spam-Action" not in fields, fields

    good = ham("spamd-ham")
    assert_queued(send(srv.smtp, good))
    fields = spam_fields(wait_stored(srv, ALICE, "spamd-ham"), good)
    assert assert_spam_status(fields, "NO", "5.0") < 5
    assert not with_marker(srv.inbox_raw(ALICE), "spamd-gtube-junk")
    assert not with_marker(srv.inbox_raw(ALICE, "Junk"), "spamd-ham")

    # What a mail client sees: the junk in the mailbox marked \Junk.
    name, msgs = imap_junk(srv, ALICE, ALICE_PASSWORD)
    assert name == "Junk"
    assert len(msgs) == 1 and b"spamd-gtube-junk" in msgs[0] and b"X-Spam-Flag: YES\r\n" in msgs[0]


def test_spam_scanner_down(swallow_factory):
    down = f"127.0.0.1:{closed_port()}"
    # Default for spam: accept, without any X-Spam field.
    srv = swallow_factory(name="accept", settings=filters(spam={
        "engine": "spamd", "address": down, "scan_authenticated": True}))
    sent = make_message("spam-down-accept", GTUBE)
    assert_queued(send(srv.smtp, sent))
    assert strip_added_headers(wait_stored(srv, ALICE, "spam-down-accept")) == to_lf(sent)

    srv = swallow_factory(name="tempfail", settings=filters(spam={
        "engine": "spamd", "address": down, "scan_authenticated": True, "on_failure": "tempfail"}))
    code, text = send(srv.smtp, make_message("spam-down-tempfail", "hello"))
    assert (code, text) == (451, UNAVAILABLE_REPLY)
    assert_not_stored(srv, ALICE, "spam-down-tempfail")


def test_trusted_client_skips_spam_scan_not_virus_scan(swallow_factory, clamd, spamd):
    # The default config: 127.0.0.0/8 trusted, scan_authenticated off.
    srv = swallow_factory(settings=filters(clamav={"address": clamd.address},
                                           spam={"engine": "spamd", "address": spamd.address}))
    sent = make_message("trusted-gtube", GTUBE)
    assert_queued(send(srv.smtp, sent))
    assert strip_added_headers(wait_stored(srv, ALICE, "trusted-gtube")) == to_lf(sent)
    assert spamd.checks("trusted-gtube@interop.test") == 0

    code, text = send(srv.smtp, make_message("trusted-eicar", EICAR))
    assert (code, text) == (554, VIRUS_REPLY)
    assert_not_stored(srv, ALICE, "trusted-eicar")


# --------------------------------------------------------------------------
# rspamd


def test_rspamd_reject_and_no_action(swallow_factory, rspamd):
    srv = swallow_factory(settings=filters(spam={"address": rspamd.address,
                                                 "scan_authenticated": True}))
    code, text = send(srv.smtp, make_message("rspamd-gtube", GTUBE))
    assert (code, text) == (550, SPAM_REPLY)

    sent = ham("rspamd-ham")
    assert_queued(send(srv.smtp, sent))
    fields = spam_fields(wait_stored(srv, ALICE, "rspamd-ham"), sent)
    assert fields.get("X-Spam-Action") == "no action", fields
    assert_spam_status(fields, "NO", "15.0")
    assert_not_stored(srv, ALICE, "rspamd-gtube")


def test_rspamd_junk_actions_and_soft_reject(swallow_factory, rspamd):
    srv = swallow_factory(settings=filters(spam={"address": rspamd.address,
                                                 "scan_authenticated": True}))

    sent = make_message("rspamd-add-header", "hello", subject="swallow-test-junk rspamd-add-header")
    assert_queued(send(srv.smtp, sent))
    fields = spam_fields(wait_stored(srv, ALICE, "rspamd-add-header", "Junk"), sent)
    assert fields.get("X-Spam-Action") == "add header", fields
    assert assert_spam_status(fields, "YES", "15.0") >= 10

    # rspamd's rewritten Subject replaces the original; the rest is as sent.
    subject = "swallow-test-rewrite rspamd-rewrite"
    sent = make_message("rspamd-rewrite", "hello", subject=subject)
    assert_queued(send(srv.smtp, sent))
    raw = wait_stored(srv, ALICE, "rspamd-rewrite", "Junk")
    rewritten = sent.replace(f"Subject: {subject}\r\n".encode(),
                             f"Subject: *** SPAM *** {subject}\r\n".encode())
    fields = spam_fields(raw, rewritten)
    assert fields.get("X-Spam-Action") == "rewrite subject", fields
    assert_spam_status(fields, "YES", "15.0")

    code, text = send(srv.smtp, make_message("rspamd-soft", "hello",
                                             subject="swallow-test-soft rspamd-soft"))
    assert code == 451 and text.startswith("4.7.1 "), (code, text)

    assert not with_marker(srv.inbox_raw(ALICE), "rspamd-add-header")
    assert not with_marker(srv.inbox_raw(ALICE), "rspamd-rewrite")
    assert_not_stored(srv, ALICE, "rspamd-soft")
