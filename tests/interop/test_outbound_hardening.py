"""Outbound delivery against next hops that misbehave on purpose (security audit, issue 8).

Each next hop is a scripted peer (script_peer.py) routed to with `[transport]` or `[relay]
smarthost`: a smarthost whose certificate does not verify, one that stops reading after 354,
one that sends a reply after its 220 to STARTTLS in the same write. What the tests look at is
what an administrator sees: `swallow queue list`, the log, and what the peer received.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ALICE, ALICE_PASSWORD
from outbound_helpers import message, queue_entry, queue_list, submit, wait_for
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
