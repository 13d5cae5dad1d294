"""Milters (issue 10): Swallow as the MTA side of the Sendmail/Postfix milter protocol 6, against
real milters started on loopback (PEERS.md, "Scanners and milters"):

    clamav-milter   in front of a clamd of our own (test_filters.py's, with its EICAR signature):
                    EICAR refused with the milter's own reply (its RejectMsg), a clean message
                    delivered with the milter's X-Virus-* fields; the milter stopped -> the
                    default action (451 4.7.1 by default, delivery with `accept`)
    rspamd          its proxy worker in milter mode: GTUBE refused with rspamd's reply
                    (554 5.7.1 Gtube pattern); a normal message delivered with rspamd's headers,
                    its X-Rspamd-Queue-Id being our queue ID (the `i` macro)
    OpenDKIM        sign mode, for authenticated senders only (InternalHosts names no address
                    of ours): mail submitted with AUTH is stored with a DKIM-Signature of
                    d=example.test that verifies (dkimpy, with the key OpenDKIM made); mail
                    from an unauthenticated client is not signed

Swallow replays each transaction to the milter at the end of DATA and applies its verdict and
edits before the 250. Needs clamav-milter, opendkim and opendkim-tools besides test_filters.py's
scanners; .ci/run installs them.
"""

from __future__ import annotations

import json
import re
import shutil
import smtplib
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import ALICE, ALICE_PASSWORD, BOB, DOMAIN, free_port, strip_added_headers, to_lf
from outbound_helpers import closed_port, submit, wait_for
from test_filters import (EICAR, EICAR_SIGNATURE, GTUBE, Daemon, _daemon_fixture, assert_not_stored,
                          assert_queued, clamd, ham, make_message, owned_dir, rspamd, scanner_root,
                          send, wait_stored, with_marker)

__all__ = ["clamd", "rspamd"]   # module-scoped fixtures, shared with test_filters.py's helpers

try:
    import dkim
except ImportError:             # pragma: no cover - depends on the machine
    dkim = None

UNAVAILABLE_REPLY = "4.7.1 Content scanner unavailable, try again later"


def milters(*entries: dict) -> str:
    """`extra_toml` for swallow_factory: one [[filters.milter]] table per entry."""
    out = ""
    for entry in entries:
        out += "\n[[filters.milter]]\n"
        for key, value in entry.items():
            out += f"{key} = {value if isinstance(value, int) else json.dumps(value)}\n"
    return out


def port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        return True


def fields_of(raw: bytes) -> dict[str, list[str]]:
    """The stored message's header fields by lowercased name (values unfolded)."""
    head = raw.split(b"\n\n", 1)[0].decode(errors="replace")
    out: dict[str, list[str]] = {}
    for field in re.split(r"\n(?![ \t])", head):
        if ":" in field:
            name, value = field.split(":", 1)
            out.setdefault(name.strip().lower(), []).append(" ".join(value.split()))
    return out


# --------------------------------------------------------------------------
# the milters


class ClamavMilter(Daemon):
    title = "clamav-milter"

    def __init__(self, root: Path, clamd_port: int):
        super().__init__(root)
        self.port = free_port()
        self.clamd_port = clamd_port
        run = owned_dir(self.root / "run", "clamav")
        self.log_path = run / "clamav-milter.log"
        self.logs.append(self.log_path)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self):
        conf = self.root / "clamav-milter.conf"
        conf.write_text("\n".join([
            "Foreground yes", f"MilterSocket inet:{self.port}@127.0.0.1",
            f"ClamdSocket tcp:127.0.0.1:{self.clamd_port}", "User clamav",
            f"PidFile {self.root / 'run' / 'clamav-milter.pid'}", f"LogFile {self.log_path}",
            "LogInfected Basic", "LogClean Basic",
            "OnInfected Reject", "OnFail Defer", "AddHeader Replace",
            # The text of the reply Swallow must pass on (%v: the signature).
            'RejectMsg "Refused by clamav-milter: %v"', ""]))
        conf.chmod(0o644)
        return self.spawn(["clamav-milter", "-c", str(conf)], lambda: port_open(self.port), "its milter port")


class OpenDKIM(Daemon):
    title = "opendkim"
    selector = "milter"

    def __init__(self, root: Path):
        super().__init__(root)
        self.port = free_port()
        self.keys = self.root / "keys"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def public_record(self) -> bytes:
        """The TXT record opendkim-genkey wrote (quoted strings joined)."""
        text = (self.keys / f"{self.selector}.txt").read_text()
        return "".join(re.findall(r'"([^"]*)"', text)).encode()

    def start(self):
        self.keys.mkdir(mode=0o755)
        subprocess.run(["opendkim-genkey", "-D", str(self.keys), "-d", DOMAIN, "-s", self.selector, "-b", "2048"],
                       check=True, capture_output=True, timeout=60)
        key = self.keys / f"{self.selector}.private"
        shutil.chown(key, user="opendkim", group="opendkim")
        conf = self.root / "opendkim.conf"
        conf.write_text("\n".join([
            "Syslog no", "Mode sv", f"Domain {DOMAIN}", f"Selector {self.selector}", f"KeyFile {key}",
            f"Socket inet:{self.port}@127.0.0.1", "UserID opendkim:opendkim",
            # No address of ours is internal: only authenticated senders ({auth_authen}) are signed.
            "InternalHosts 192.0.2.1", "RequireSafeKeys no",
            f"PidFile {self.root / 'opendkim.pid'}", ""]))
        conf.chmod(0o644)
        return self.spawn(["opendkim", "-f", "-x", str(conf)], lambda: port_open(self.port), "its milter port")


def _clamav_milter(clamd):
    root = scanner_root("swallow-clamav-milter-")
    daemon = ClamavMilter(root, clamd.port)
    try:
        yield daemon.start()
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def clamav_milter(clamd):
    yield from _clamav_milter(clamd)


@pytest.fixture(scope="module")
def opendkim():
    yield from _daemon_fixture(OpenDKIM, "swallow-opendkim-")


# --------------------------------------------------------------------------
# clamav-milter


def test_clamav_milter_refuses_eicar_delivers_clean(swallow_factory, clamav_milter):
    # No [filters.clamav]: the virus scan here is the milter's.
    srv = swallow_factory(extra_toml=milters({"address": clamav_milter.address}))
    code, text = send(srv.smtp, make_message("milter-eicar", f"look at this:\r\n{EICAR}"))
    assert code == 550 and text == f"5.7.1 Refused by clamav-milter: {EICAR_SIGNATURE}", (code, text)

    sent = make_message("milter-clean", "nothing to see here")
    assert_queued(send(srv.smtp, sent, rcpts=(ALICE, BOB)))
    for user in (ALICE, BOB):
        raw = wait_stored(srv, user, "milter-clean")
        fields = fields_of(raw)
        assert fields.get("x-virus-status") == ["Clean"], fields
        assert any(v.startswith("clamav-milter") for v in fields.get("x-virus-scanned", [])), fields
        # Added below the message's own fields; the rest as sent.
        assert raw.endswith(b"\n\nnothing to see here\n"), raw
    assert_not_stored(srv, ALICE, "milter-eicar")


def test_clamav_milter_stopped_default_action(swallow_factory, clamd):
    gen = _clamav_milter(clamd)
    milter = next(gen)
    address = milter.address
    tempfail = swallow_factory(name="tempfail", extra_toml=milters({"address": address, "timeout": 5}))
    accept = swallow_factory(name="accept", extra_toml=milters({"address": address, "default_action": "accept"}))
    assert_queued(send(tempfail.smtp, make_message("before-stop", "hello")))
    wait_stored(tempfail, ALICE, "before-stop")
    # Stopped: its port refuses connections.
    gen.close()

    code, text = send(tempfail.smtp, make_message("milter-down-tempfail", "hello"))
    assert (code, text) == (451, UNAVAILABLE_REPLY)
    assert_not_stored(tempfail, ALICE, "milter-down-tempfail")

    sent = make_message("milter-down-accept", "hello")
    assert_queued(send(accept.smtp, sent))
    # Accepted unfiltered: nothing added but our trace fields.
    assert strip_added_headers(wait_stored(accept, ALICE, "milter-down-accept")) == to_lf(sent)


def test_milter_silent_times_out(swallow_factory):
    # Takes the connection, never answers SMFIC_OPTNEG.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        srv = swallow_factory(extra_toml=milters({"address": f"127.0.0.1:{port}", "timeout": 1}))
        code, text = send(srv.smtp, make_message("milter-silent", "hello"))
    assert (code, text) == (451, UNAVAILABLE_REPLY)
    assert_not_stored(srv, ALICE, "milter-silent")


def test_virus_scanner_and_milter_both(swallow_factory, clamd, clamav_milter):
    # clamd first (mandatory), then the milter: the virus is refused by the scanner, and the
    # milter never sees it.
    srv = swallow_factory(settings={"filters.clamav": {"address": clamd.address}},
                          extra_toml=milters({"address": clamav_milter.address}))
    infected_before = Daemon.log_text(clamav_milter.log_path).count("infected by")
    code, text = send(srv.smtp, make_message("both-eicar", EICAR))
    assert (code, text) == (554, f"5.7.1 Message refused: virus found ({EICAR_SIGNATURE})")
    sent = make_message("both-clean", "fine")
    assert_queued(send(srv.smtp, sent))
    assert fields_of(wait_stored(srv, ALICE, "both-clean")).get("x-virus-status") == ["Clean"]
    # The milter logged a clean message since, and no infected one.
    assert Daemon.log_text(clamav_milter.log_path).count("infected by") == infected_before


# --------------------------------------------------------------------------
# rspamd's proxy worker as a milter


def test_rspamd_milter(swallow_factory, rspamd):
    srv = swallow_factory(extra_toml=milters({"address": rspamd.milter_address}))
    code, text = send(srv.smtp, make_message("rspamd-milter-gtube", GTUBE))
    assert (code, text) == (554, "5.7.1 Gtube pattern")

    reply = send(srv.smtp, ham("rspamd-milter-ham"))
    assert_queued(reply)
    queue_id = reply[1].rsplit(" ", 1)[1]
    fields = fields_of(wait_stored(srv, ALICE, "rspamd-milter-ham"))
    assert "x-spamd-result" in fields and "x-rspamd-server" in fields, fields
    # rspamd knows the message by our queue ID: the `i` macro.
    assert fields.get("x-rspamd-queue-id") == [queue_id], (fields, queue_id)
    assert_not_stored(srv, ALICE, "rspamd-milter-gtube")


# --------------------------------------------------------------------------
# OpenDKIM


def test_opendkim_signs_authenticated_mail(swallow_factory, opendkim):
    # No trusted networks: 127.0.0.1 is an outside client unless it authenticates.
    srv = swallow_factory(trusted_networks=[], settings={"authentication": {"verify": False}},
                          extra_toml=milters({"address": opendkim.address}))
    signed = make_message("dkim-milter-auth", "signed by OpenDKIM\r\nsecond line").replace(
        b"From: Sender <sender@outside.test>", f"From: Alice <{ALICE}>".encode())
    submit("127.0.0.1", srv.submission, ALICE, [BOB], signed, user=ALICE, password=ALICE_PASSWORD)
    raw = wait_stored(srv, BOB, "dkim-milter-auth")
    signatures = [v for v in fields_of(raw).get("dkim-signature", []) if f"s={opendkim.selector};" in v.replace(" ", "")]
    assert len(signatures) == 1, raw[:2000]
    assert re.search(rf"\bd={re.escape(DOMAIN)};", signatures[0].replace(" ", "")), signatures

    if dkim is not None:
        crlf = raw.replace(b"\n", b"\r\n")
        d = dkim.DKIM(crlf)
        index = next(i for i, (name, value) in enumerate(d.headers)
                     if name.lower() == b"dkim-signature" and f"s={opendkim.selector}".encode() in value.replace(b" ", b""))
        sig_index = [n for n, (name, _) in enumerate(d.headers) if name.lower() == b"dkim-signature"].index(index)
        record = opendkim.public_record()

        def dnsfunc(name, timeout=5):
            return record if name.decode().rstrip(".") == f"{opendkim.selector}._domainkey.{DOMAIN}" else None
        assert d.verify(idx=sig_index, dnsfunc=dnsfunc), "OpenDKIM's signature does not verify on the stored message"

    # Unauthenticated, from an address OpenDKIM does not take for internal: verified, not signed.
    sent = make_message("dkim-milter-outside", "not signed").replace(
        b"From: Sender <sender@outside.test>", f"From: Alice <{ALICE}>".encode())
    assert_queued(send(srv.smtp, sent))
    raw = wait_stored(srv, ALICE, "dkim-milter-outside")
    assert not any(f"s={opendkim.selector};" in v.replace(" ", "") for v in fields_of(raw).get("dkim-signature", [])), raw[:2000]


# --------------------------------------------------------------------------
# a scripted milter: what the real ones above do not ask for (envelope edits, quarantine,
# discard, per-recipient refusals), and the macros Swallow sends


class ScriptedMilter:
    """A milter written here with the protocol as libmilter speaks it: negotiates every action
    and every step, answers CONTINUE, refuses the recipients in `refuse` (address -> SMFIR_REPLYCODE
    text, or None for SMFIR_REJECT) and answers the end of message with `at_end` (a list of
    (code, data) packets). It records the macros it was sent."""

    def __init__(self, at_end: list[tuple[bytes, bytes]], refuse: dict[str, str | None] | None = None):
        self.at_end = at_end
        self.refuse = refuse or {}
        self.macros: list[dict[str, str]] = []
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        import threading
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self):
        self.server.close()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                try:
                    self._converse(conn)
                except (OSError, ValueError):
                    pass

    @staticmethod
    def _read(conn, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ValueError("closed")
            data += chunk
        return data

    @staticmethod
    def _send(conn, code: bytes, data: bytes = b""):
        conn.sendall(len(code + data).to_bytes(4, "big") + code + data)

    def _converse(self, conn):
        macros: dict[str, str] = {}
        self.macros.append(macros)
        while True:
            length = int.from_bytes(self._read(conn, 4), "big")
            packet = self._read(conn, length)
            code, data = packet[:1], packet[1:]
            if code == b"O":
                # Version 6, every action (SMFIF_*), every step answered (no SMFIP_* flags).
                self._send(conn, b"O", (6).to_bytes(4, "big") + (0x1FF).to_bytes(4, "big") + (0).to_bytes(4, "big"))
            elif code == b"D":
                parts = data[1:].split(b"\0")[:-1]
                for name, value in zip(parts[::2], parts[1::2]):
                    macros[name.decode()] = value.decode()
            elif code == b"R":
                rcpt = data.split(b"\0")[0].decode().strip("<>")
                if rcpt in self.refuse:
                    text = self.refuse[rcpt]
                    self._send(conn, b"y", text.encode() + b"\0") if text else self._send(conn, b"r")
                else:
                    self._send(conn, b"c")
            elif code == b"E":
                for reply_code, reply_data in self.at_end:
                    self._send(conn, reply_code, reply_data)
            elif code == b"A":
                pass
            elif code == b"Q":
                return
            else:
                self._send(conn, b"c")


@pytest.fixture
def scripted_milter():
    made: list[ScriptedMilter] = []

    def make(*args, **kwargs) -> ScriptedMilter:
        made.append(ScriptedMilter(*args, **kwargs))
        return made[-1]
    yield make
    for m in made:
        m.close()


def test_envelope_edits_and_quarantine(swallow_factory, scripted_milter):
    from conftest import ALIAS
    milter = scripted_milter(at_end=[
        (b"h", b"X-Milter\0edited\0"),
        (b"q", b"looks odd\0"),
        (b"e", b"<changed@outside.test>\0"),
        (b"-", b"<bob@example.test>\0"),
        (b"+", b"<alice@example.test>\0"),
        (b"a", b""),
    ], refuse={ALIAS: None})
    srv = swallow_factory(extra_toml=milters({"address": milter.address}))
    reply = send(srv.smtp, make_message("milter-envelope", "hello"), rcpts=(BOB, ALIAS))
    assert_queued(reply)
    queue_id = reply[1].rsplit(" ", 1)[1]
    # Quarantined: into Junk; from the changed sender; bob removed, alice added.
    raw = wait_stored(srv, ALICE, "milter-envelope", "Junk")
    fields = fields_of(raw)
    assert fields["return-path"] == ["<changed@outside.test>"], fields
    assert fields["x-milter"] == ["edited"], fields
    assert_not_stored(srv, BOB, "milter-envelope")
    assert not with_marker(srv.inbox_raw(ALICE), "milter-envelope")
    # The macros of every stage.
    m = milter.macros[-1]
    assert m.get("i") == queue_id and m.get("j") == "mx.example.test", m
    assert m.get("{daemon_name}") == "smtp" and m.get("{client_addr}") == "127.0.0.1", m
    assert m.get("{mail_addr}") == "sender@outside.test" and "{auth_authen}" not in m, m
    assert m.get("{rcpt_addr}") == ALIAS, m


def test_discard_and_refused_recipients(swallow_factory, scripted_milter):
    discarding = scripted_milter(at_end=[(b"d", b"")])
    srv = swallow_factory(name="discard", extra_toml=milters({"address": discarding.address}))
    assert_queued(send(srv.smtp, make_message("milter-discarded", "hello"), rcpts=(ALICE, BOB)))
    # The 250 of a discard comes without any write: nothing can land later.
    for user in (ALICE, BOB):
        assert_not_stored(srv, user, "milter-discarded")

    # Every recipient refused at RCPT: the message gets the (last) milter reply.
    refusing = scripted_milter(at_end=[(b"c", b"")], refuse={ALICE: "550 5.1.1 not here", BOB: "550 5.1.1 not here"})
    srv = swallow_factory(name="refuse", extra_toml=milters({"address": refusing.address}))
    assert send(srv.smtp, make_message("milter-all-refused", "hello"), rcpts=(ALICE, BOB)) == (550, "5.1.1 not here")

    # LMTP: one reply per recipient, the refused one its own.
    lmtp_milter = scripted_milter(at_end=[(b"c", b"")], refuse={BOB: "550-5.1.1 bob is away\r\n550 5.1.1 for good"})
    srv = swallow_factory(name="lmtp", extra_toml=milters({"address": lmtp_milter.address}))
    with smtplib.LMTP("127.0.0.1", srv.lmtp, timeout=60) as s:
        s.ehlo("client.outside.test")
        assert s.mail("sender@outside.test")[0] == 250
        for r in (ALICE, BOB):
            assert s.rcpt(r)[0] == 250
        first = s.data(make_message("milter-lmtp", "hello"))
        second = s.getreply()
    assert first[0] == 250, first
    assert second == (550, b"5.1.1 bob is away\n5.1.1 for good"), second
    wait_stored(srv, ALICE, "milter-lmtp")
    assert_not_stored(srv, BOB, "milter-lmtp")
    assert lmtp_milter.macros[-1].get("{daemon_name}") == "lmtp"


from test_dkim import signer  # noqa: E402,F401 - the fixture, for the test below


def test_own_dkim_signature_covers_milter_edits(signer, scripted_milter):
    """Swallow signs mail from its own domains after the milters: a milter that replaces the
    body and adds a field leaves a signature that still verifies."""
    from conftest import BOB_PASSWORD
    from test_dkim import KeyTable, assert_verifies, imap_fetch, message, send_smtp
    milter = scripted_milter(at_end=[(b"b", b"The body as the milter left it.\r\n"), (b"h", b"X-Milter\0edited\0"), (b"a", b"")])
    srv, keys = signer(("rsa",), extra_toml=milters({"address": milter.address}))
    send_smtp(srv, [BOB], message("dkim-after-milter"))
    raw = imap_fetch(srv, BOB, BOB_PASSWORD, "dkim-after-milter")
    assert b"The body as the milter left it." in raw and b"X-Milter: edited" in raw, raw
    assert_verifies(raw, KeyTable(keys["rsa"]))
