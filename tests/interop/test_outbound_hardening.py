"""Outbound delivery against next hops that misbehave on purpose (security audit, issue 8).

Each next hop is a scripted peer (script_peer.py) routed to with `[transport]` or `[relay]
smarthost`: a smarthost whose certificate does not verify, one that stops reading after 354,
one that sends a reply after its 220 to STARTTLS in the same write, one that puts terminal
escape sequences in its reply, one slow to answer the end of the message while Swallow is told
to stop. What the tests look at is what an administrator sees: `swallow queue list`, the log,
the sender's INBOX, and what the peer received.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ALICE, ALICE_PASSWORD
from outbound_helpers import (is_bounce, message, parse_bounce, queue_entry, queue_list, submit,
                              wait_for)
from script_peer import Esmtp, ScriptPeer, ThrowawayCA, server_context

REMOTE = "remote.test"
RCPT = f"someone@{REMOTE}"
SECRET = "smarthost-secret-Pw-42"
NO_RETRY = {"min_backoff": 3600, "max_backoff": 7200}


@pytest.fixture
def peers():
    made: list[ScriptPeer] = []

    def make(script, **options) -> ScriptPeer:
        p = ScriptPeer(script, **options)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


@pytest.fixture(scope="module")
def ca():
    root = tempfile.mkdtemp(prefix="swallow-interop-ca-")
    try:
        yield ThrowawayCA(Path(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def send(srv, marker: str, rcpt: str = RCPT, mail_options=()) -> str:
    return submit("127.0.0.1", srv.submission, ALICE, [rcpt], message(marker, ALICE, rcpt),
                  user=ALICE, password=ALICE_PASSWORD, mail_options=mail_options)


def wait_attempted(srv, qid: str, timeout: float = 30.0):
    """The queue entry once its recipient has had an attempt (and kept a last error)."""
    def attempted():
        e = queue_entry(srv, qid)
        return e if e and e.recipients[0].attempts >= 1 and e.recipients[0].last_error else None
    return wait_for(attempted, timeout, lambda: f"an attempt for {qid}: {queue_list(srv)}")


# --------------------------------------------------------------------------
# task 1: credentials only to a smarthost whose certificate verifies


def smarthost_settings(hop: str, ca_file: Path | None) -> dict:
    relay = {"smarthost": hop, "smarthost_user": "relayuser", "smarthost_password": SECRET}
    if ca_file:
        relay["smarthost_ca_file"] = str(ca_file)
    return {"relay": relay, "queue": NO_RETRY}


def secret_seen(peer: ScriptPeer) -> bool:
    plain = f"\0relayuser\0{SECRET}".encode()
    return SECRET.encode() in peer.received or base64.b64encode(plain) in peer.received


@pytest.mark.parametrize("case", ["self-signed", "wrong-name"])
def test_smarthost_certificate_that_does_not_verify_gets_no_credentials(swallow_factory, peers, ca,
                                                                        case):
    if case == "self-signed":
        cert, key = ca.self_signed("selfsigned", ["DNS:localhost", "IP:127.0.0.1"])
        ca_file = None                 # the system's roots: they do not know this certificate
    else:
        cert, key = ca.issue("othername", ["DNS:other.test"])
        ca_file = ca.cert              # a chain that verifies, for another name
    script = Esmtp(tls=server_context(cert, key), auth=True)
    peer = peers(script)
    srv = swallow_factory(settings=smarthost_settings(f"localhost:{peer.port}", ca_file))
    qid = send(srv, f"smarthost-{case}")

    entry = wait_attempted(srv, qid)
    why = entry.recipients[0].last_error
    assert "credentials not sent" in why and "certificate" in why.lower(), why
    assert entry.recipients[0].state.startswith("next attempt"), entry
    assert not secret_seen(peer), "the smarthost password reached a peer whose certificate failed"
    assert not any(c.upper().startswith("AUTH") for c in script.commands()), script.commands()
    assert script.messages == []


def test_smarthost_verified_with_the_configured_ca_gets_auth(swallow_factory, peers, ca):
    cert, key = ca.issue("localhost", ["DNS:localhost", "IP:127.0.0.1"])
    script = Esmtp(tls=server_context(cert, key), auth=True)
    peer = peers(script)
    srv = swallow_factory(settings=smarthost_settings(f"localhost:{peer.port}", ca.cert))
    qid = send(srv, "smarthost-verified")

    wait_for(lambda: script.count("smarthost-verified"), 30, "the message at the smarthost")
    commands = script.commands()
    auth = [c for c in commands if c.upper().startswith("AUTH")]
    assert len(auth) == 1 and commands.index(auth[0]) > commands.index("<TLS>"), commands
    wait_for(lambda: queue_entry(srv, qid) is None, 10, "the delivered message to leave the queue")


def test_smarthost_ca_file_that_does_not_exist_is_a_configuration_error(swallow_factory):
    srv = swallow_factory(start=False, settings=smarthost_settings("localhost:2525",
                                                                   Path("no-such-ca.pem")))
    r = srv.cli("serve", check=False, timeout=30)
    assert r.returncode != 0
    assert "relay.smarthost_ca_file" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


# --------------------------------------------------------------------------
# task 2: a next hop that stops reading cannot hold an attempt past its deadline


def test_peer_that_stops_reading_during_data_is_deferred_at_the_deadline(swallow_factory, peers):
    # The peer answers 354 and then never reads again; its receive buffer is small so the
    # message (several MiB) cannot all be sent.
    stalled = []
    script = Esmtp(after_354=lambda conn: (stalled.append(conn), time.sleep(60)),
                   size_limit=100_000_000)
    peer = peers(script, receive_buffer=4096)
    srv = swallow_factory(settings={"transport": {REMOTE: peer.hop},
                                    "queue": {**NO_RETRY, "command_timeout": 2, "data_timeout": 3}})
    big = "x" * 998
    body = "\r\n".join(big for _ in range(20000))         # ~20 MB: more than the socket buffers hold
    qid = submit("127.0.0.1", srv.submission, ALICE, [RCPT],
                 message("stall", ALICE, RCPT) + body.encode() + b"\r\n",
                 user=ALICE, password=ALICE_PASSWORD)
    wait_for(lambda: stalled, 30, "the peer to reach 354")
    started = time.monotonic()
    entry = wait_attempted(srv, qid, timeout=60)
    elapsed = time.monotonic() - started
    why = entry.recipients[0].last_error
    assert "timeout" in why.lower(), why
    assert entry.recipients[0].state.startswith("next attempt"), entry
    assert elapsed < 15, f"the attempt took {elapsed:.1f}s with 2 s/3 s deadlines"


# --------------------------------------------------------------------------
# task 3: bytes after the 220 to STARTTLS are never read as if protected


def test_reply_sent_with_the_starttls_220_fails_the_attempt(swallow_factory, peers, ca):
    cert, key = ca.self_signed("inject", ["DNS:localhost"])
    script = Esmtp(tls=server_context(cert, key), starttls_reply=b"220 go ahead\r\n250 fake\r\n")
    peer = peers(script)
    srv = swallow_factory(settings={"transport": {REMOTE: peer.hop}, "queue": NO_RETRY})
    qid = send(srv, "starttls-inject")

    entry = wait_attempted(srv, qid)
    why = entry.recipients[0].last_error
    assert "STARTTLS" in why, why
    assert not any(c.upper().startswith("MAIL") for c in script.commands()), script.commands()
    assert script.messages == []


# --------------------------------------------------------------------------
# task 4: ENVID goes into a bounce as xtext, never as header lines


def test_envid_with_encoded_crlf_creates_no_header_in_the_bounce(swallow_factory, peers):
    script = Esmtp(rcpt_reply="550 5.1.1 no such user")
    peer = peers(script)
    srv = swallow_factory(settings={"transport": {REMOTE: peer.hop}, "queue": NO_RETRY})
    send(srv, "envid-inject", mail_options=["ENVID=a+0D+0ABcc:+20evil@x"])

    raw = wait_for(lambda: next((m for m in srv.inbox_raw(ALICE) if is_bounce(m)), None), 30,
                   "the bounce")
    b = parse_bounce(raw)
    assert b.per_message["Original-Envelope-Id"] == "a+0D+0ABcc:+20evil@x", b.per_message.items()
    assert b.per_message["Bcc"] is None and b.message["Bcc"] is None
    assert b"\nBcc:" not in raw.replace(b"\r\n", b"\n"), raw


# --------------------------------------------------------------------------
# task 5: control characters from a remote reply reach neither `queue list` nor the log


def test_escape_sequences_in_a_remote_reply_are_escaped_in_queue_list_and_log(swallow_factory,
                                                                               peers):
    script = Esmtp(rcpt_reply="450 4.2.0 mailbox \x1b[2J\x1b]0;owned\x07 busy\x7f")
    peer = peers(script)
    srv = swallow_factory(settings={"transport": {REMOTE: peer.hop}, "queue": NO_RETRY})
    qid = send(srv, "escape-reply")

    wait_attempted(srv, qid)
    out = srv.cli("queue", "list").stdout
    assert "\x1b" not in out and "\x07" not in out and "\x7f" not in out, repr(out)
    assert "mailbox \\e[2J\\e]0;owned\\x07 busy\\x7F" in out, repr(out)
    log = srv.log_text()
    assert "\x1b" not in log and "\x07" not in log, "raw control characters in the log"
    assert "\\e[2J" in log


# --------------------------------------------------------------------------
# task 7: SIGTERM lets attempts in flight finish, so nothing is sent twice


def test_sigterm_during_a_slow_final_reply_delivers_each_message_once(swallow_factory, peers):
    script = Esmtp(final_delay=2.5)
    peer = peers(script)
    srv = swallow_factory(settings={"transport": {REMOTE: peer.hop},
                                    "queue": {"min_backoff": 1, "max_backoff": 2}})
    markers = [f"slow-final-{i}" for i in range(3)]
    for m in markers:
        send(srv, m)
    # Every message has reached its end at the peer, whose 250 is 2.5 s away: stop now.
    wait_for(lambda: all(script.count(m) for m in markers), 30, "all messages at the peer")
    assert srv.stop() == 0, "swallow did not stop cleanly"

    srv.start()
    time.sleep(5)          # several retry periods (1-2 s) for anything left in the queue
    counts = {m: script.count(m) for m in markers}
    assert counts == {m: 1 for m in markers}, counts
    assert queue_list(srv) == []
