"""Outbound delivery by MX lookup, with a real DNS server (dnsmasq) and two Swallow instances.

dnsmasq serves the test zone on a free 127.0.0.1 port (UDP and TCP):

    a.test    MX 10 mx.a.test     mx.a.test  A 127.0.0.71   (Swallow A, smtp on :25)
    b.test    MX 10 mx.b.test     mx.b.test  A 127.0.0.72   (Swallow B, smtp on :25)
    null.test MX 0 .              (RFC 7505 null MX)
    amx.test  A 127.0.0.73        (no MX: the implicit MX, RFC 5321 §5.1; smtp-sink on :25)
    pref.test MX 10 mx1 (127.0.0.74, nothing listens), MX 20 mx2 (127.0.0.75, smtp-sink)
    big.test  MX 10 mx.big.test (127.0.0.76, smtp-sink) + 80 MX 20 backups without
              addresses: the answer does not fit in UDP (TC), only TCP gives the real host
    anything else under .test: NXDOMAIN

alice@a.test submits on A's submission port (STARTTLS + AUTH) to bob@b.test; A looks up
b.test's MX and delivers to B on 127.0.0.72:25; bob reads it with imaplib and poplib. And back.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import poplib
import re
import tempfile
import shutil
import time
from pathlib import Path

import pytest

from conftest import http_request, register_log, tls_client_context, unregister_log
from outbound_helpers import (DNSMASQ, imap_message, SMTP_SINK, Dnsmasq, SmtpSink, dns_query, is_bounce,
                              log_lines, message, parse_bounce, queue_list, require_port_25,
                              submit, wait_for, wait_log)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(DNSMASQ is None, reason="dnsmasq is not installed (Debian dnsmasq-base)"),
    pytest.mark.skipif(SMTP_SINK is None, reason="smtp-sink is not installed (Debian postfix)"),
]

A_IP, B_IP = "127.0.0.71", "127.0.0.72"
AMX_IP = "127.0.0.73"
PREF_DEAD_IP, PREF_LIVE_IP = "127.0.0.74", "127.0.0.75"
BIG_IP = "127.0.0.76"
BIG_BACKUPS = 80

ALICE, ALICE_PW = "alice@a.test", "alice a.test password 1"
BOB, BOB_PW = "bob@b.test", "bob b.test password 2"

DELIVERY_TIMEOUT = 30.0
BOUNCE_TIMEOUT = 15.0


def _records() -> list[str]:
    recs = [
        "--mx-host=a.test,mx.a.test,10", f"--host-record=mx.a.test,{A_IP}",
        "--mx-host=b.test,mx.b.test,10", f"--host-record=mx.b.test,{B_IP}",
        "--mx-host=null.test,.,0",
        f"--host-record=amx.test,{AMX_IP}",
        "--mx-host=pref.test,mx1.pref.test,10", f"--host-record=mx1.pref.test,{PREF_DEAD_IP}",
        "--mx-host=pref.test,mx2.pref.test,20", f"--host-record=mx2.pref.test,{PREF_LIVE_IP}",
        # dnsmasq answers the last configured record first: the real host is configured first
        # so that a truncated UDP answer leaves it out (checked in the test).
        "--mx-host=big.test,mx.big.test,10", f"--host-record=mx.big.test,{BIG_IP}",
    ]
    recs += [f"--mx-host=big.test,backup-{i:02d}-{'x' * 48}.big.test,20"
             for i in range(BIG_BACKUPS)]
    return recs


@pytest.fixture(scope="module")
def dns():
    root = tempfile.mkdtemp(prefix="swallow-interop-dnsmasq-")
    d = Dnsmasq(Path(root), _records())
    try:
        d.start()
        # The peer says what the tests assume.
        assert dns_query(d.port, "b.test", "MX")[:2] == (0, 1)
        assert dns_query(d.port, "mx.b.test", "A")[:2] == (0, 1)
        assert dns_query(d.port, "nosuch.test", "MX")[0] == 3          # NXDOMAIN
        assert dns_query(d.port, "amx.test", "MX")[:2] == (0, 0)      # NODATA
        yield d
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dns_log(dns):
    """Attach the DNS server's query log to a failing test's report."""
    register_log(f"dnsmasq ({dns.log_path})", dns.log_path)
    yield dns
    unregister_log(dns.log_path)


def make_domain(swallow_factory, dns, domain: str, ip: str, user: str, password: str):
    """A Swallow instance for `domain`: smtp on ip:25 (where the MX points), submission, imap
    and pop3 on 127.0.0.1:0, resolving through dnsmasq, retrying every 1-2 s."""
    require_port_25(ip)
    srv = swallow_factory(
        name=f"swallow-{domain}", accounts=False, start=False, allow_plaintext=True,
        domain=domain, hostname=f"mx.{domain}", listeners=("imap", "pop3", "admin"),
        listen={"smtp": [f"{ip}:25"], "submissions": [], "lmtp": []},
        settings={"dns": {"nameservers": [dns.nameserver]},
                  "queue": {"min_backoff": 1, "max_backoff": 2}})
    srv.cli("user", "add", user, "--password-stdin", input=password + "\n")
    srv.start()
    assert srv.addresses["smtp"] == (ip, 25), srv.addresses
    return srv


@pytest.fixture
def two(swallow_factory, dns_log):
    a = make_domain(swallow_factory, dns_log, "a.test", A_IP, ALICE, ALICE_PW)
    b = make_domain(swallow_factory, dns_log, "b.test", B_IP, BOB, BOB_PW)
    return a, b


@pytest.fixture
def sink_factory():
    made: list[tuple[SmtpSink, str]] = []

    def make(ip: str, name: str) -> SmtpSink:
        require_port_25(ip)
        root = tempfile.mkdtemp(prefix=f"swallow-interop-{name}-")
        sink = SmtpSink(Path(root), host=ip, port=25, name=name)
        made.append((sink, root))
        return sink.start()

    yield make
    for sink, root in reversed(made):
        try:
            sink.close()
        finally:
            shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------
# reading mail the way bob's mail client does


def imap_find(port: int, user: str, password: str, marker: str,
              timeout: float = DELIVERY_TIMEOUT) -> bytes:
    """The message containing `marker` in the user's INBOX (polled over IMAP); its BODY[]."""
    return imap_message(port, user, password, marker, timeout=timeout)


def pop3_find(port: int, user: str, password: str, marker: str) -> bytes:
    p = poplib.POP3("127.0.0.1", port, timeout=30)
    try:
        p.stls(context=tls_client_context())
        p.user(user)
        p.pass_(password)
        count, _size = p.stat()
        hits = []
        for i in range(1, count + 1):
            _resp, lines, _octets = p.retr(i)
            raw = b"\r\n".join(lines) + b"\r\n"
            if marker.encode() in raw:
                hits.append(raw)
        assert len(hits) == 1, f"{len(hits)} messages with {marker!r} over POP3"
        return hits[0]
    finally:
        p.quit()


def received_by(msg, host: str) -> list[tuple[int, str]]:
    return [(i, " ".join(h.split())) for i, h in enumerate(msg.get_all("Received") or [])
            if f"by {host} (Swallow)" in " ".join(h.split())]


def cross(sender_srv, sender: str, sender_pw: str, rcpt_srv, rcpt: str, rcpt_pw: str,
          marker: str, rcpt_mx: str, rcpt_ip: str, extra_headers: str = ""):
    """sender submits to rcpt; rcpt reads it over IMAP and POP3; checks the trace."""
    raw = message(marker, sender, rcpt, extra_headers)
    qid = submit("127.0.0.1", sender_srv.submission, sender, [rcpt], raw,
                 user=sender, password=sender_pw, helo="laptop.client.test")
    got_imap = imap_find(rcpt_srv.ports["imap"], rcpt, rcpt_pw, marker)
    got_pop = pop3_find(rcpt_srv.ports["pop3"], rcpt, rcpt_pw, marker)
    assert got_pop == got_imap, "IMAP and POP3 return different bytes for the same message"

    msg = email.message_from_bytes(got_imap, policy=email.policy.default)
    assert msg["Subject"] == marker
    assert msg["Return-Path"] == f"<{sender}>"
    assert msg["Delivered-To"] == rcpt
    sender_host, rcpt_host = f"mx.{sender.split('@')[1]}", f"mx.{rcpt.split('@')[1]}"
    theirs = received_by(msg, rcpt_host)
    ours = received_by(msg, sender_host)
    assert len(theirs) == 1 and len(ours) == 1, msg.get_all("Received")
    # the receiving MTA's trace is on top of the sending MTA's (RFC 5321 §4.4)
    assert theirs[0][0] < ours[0][0], msg.get_all("Received")
    # submission: TLS + authenticated; the queue ID of the 250 reply
    assert re.search(rf"from laptop\.client\.test \(\[127\.0\.0\.1\]\) by {re.escape(sender_host)} "
                     rf"\(Swallow\) with ESMTPSA id {qid}\b", ours[0][1]), ours
    # MTA to MTA: the sender's EHLO name, opportunistic STARTTLS
    assert re.search(rf"from {re.escape(sender_host)} \(\[127\.0\.0\.\d+\]\) by "
                     rf"{re.escape(rcpt_host)} \(Swallow\) with ESMTPS id [0-9A-F]{{16}}\b",
                     theirs[0][1]), theirs
    # the body arrived as written (dot-stuffing undone, CRLF)
    body = got_imap.split(b"\r\n\r\n", 1)[1]
    assert body == raw.split(b"\r\n\r\n", 1)[1], body

    # the sender's log: the MX choice, then the delivery, under the message's queue ID
    routing = wait_log(sender_srv, f"queue_id={qid}", "routing")
    assert any(f"{rcpt_mx}[{rcpt_ip}]:25" in l for l in routing), routing
    delivered = wait_log(sender_srv, f"queue_id={qid}", "delivered", f"to={rcpt}")
    assert delivered, delivered
    wait_for(lambda: not any(e.id == qid for e in queue_list(sender_srv)), 10,
             f"{qid} to leave the sender's queue")
    return qid, msg


# --------------------------------------------------------------------------
# the two-domain round trip


def test_alice_to_bob_by_mx(two):
    a, b = two
    cross(a, ALICE, ALICE_PW, b, BOB, BOB_PW, "a-to-b-by-mx-marker", "mx.b.test", B_IP)
    # nothing bounced back to alice
    assert not any(is_bounce(m) for m in a.inbox_raw(ALICE))
    # The MX lookup went to dnsmasq and shows in /metrics (a second message would be a cache hit).
    metrics = http_request(a.ports["admin"], "GET", "/metrics").text
    assert re.search(r'(?m)^swallow_dns_lookups_total\{[^}]*source="network"[^}]*type="MX"[^}]*\} [1-9]', metrics) or \
        re.search(r'(?m)^swallow_dns_lookups_total\{[^}]*type="MX"[^}]*source="network"[^}]*\} [1-9]', metrics), metrics


def test_bob_replies_to_alice_by_mx(two):
    a, b = two
    _, original = cross(a, ALICE, ALICE_PW, b, BOB, BOB_PW, "question-marker", "mx.b.test", B_IP)
    reply_headers = (f"In-Reply-To: {original['Message-ID']}\r\n"
                     f"References: {original['Message-ID']}\r\n")
    _, reply = cross(b, BOB, BOB_PW, a, ALICE, ALICE_PW, "Re-question-marker", "mx.a.test", A_IP,
                     extra_headers=reply_headers)
    assert reply["In-Reply-To"] == original["Message-ID"]


# --------------------------------------------------------------------------
# DNS answers that mean "no delivery": bounces


def wait_bounce(srv, user: str, marker: str, timeout: float = BOUNCE_TIMEOUT) -> bytes:
    def look():
        hits = [m for m in srv.inbox_raw(user) if is_bounce(m) and marker.encode() in m]
        return hits or None
    hits = wait_for(look, timeout, f"a bounce about {marker!r} in {user}'s INBOX")
    time.sleep(1.0)
    again = [m for m in srv.inbox_raw(user) if is_bounce(m) and marker.encode() in m]
    assert len(again) == 1, f"{len(again)} bounces about {marker!r}"
    return hits[0]


def check_bounce(raw: bytes, srv, sender: str, rcpt: str, marker: str, qid: str):
    b = parse_bounce(raw)
    msg = b.message
    assert msg["Return-Path"] == "<>", msg["Return-Path"]          # null sender
    assert "MAILER-DAEMON@mx.a.test" in msg["From"], msg["From"]
    assert sender in msg["To"], msg["To"]
    assert b.per_message["Reporting-MTA"].replace(" ", "") == "dns;mx.a.test"
    assert email.utils.parsedate_to_datetime(b.per_message["Arrival-Date"]) is not None
    assert len(b.per_recipient) == 1
    r = b.per_recipient[0]
    assert r["Final-Recipient"].replace(" ", "").lower() == f"rfc822;{rcpt}"
    assert r["Action"].strip() == "failed"
    assert r["Diagnostic-Code"], "no Diagnostic-Code"
    assert b.returned_type == "text/rfc822-headers"
    assert b.returned["Subject"] == marker
    assert b.returned["Message-ID"] == f"<{marker}@interop.test>"
    assert any(f"id {qid}" in " ".join(h.split()) for h in b.returned.get_all("Received")), \
        b.returned.get_all("Received")
    return r


def test_null_mx_bounces_at_once(two):
    a, _ = two
    rcpt = "someone@null.test"
    marker = "null-mx-marker"
    qid = submit("127.0.0.1", a.submission, ALICE, [rcpt], message(marker, ALICE, rcpt),
                 user=ALICE, password=ALICE_PW)
    raw = wait_bounce(a, ALICE, marker)
    r = check_bounce(raw, a, ALICE, rcpt, marker, qid)
    assert r["Status"].strip() == "5.1.10", r["Status"]     # RFC 7505 §4.2
    lines = wait_log(a, f"queue_id={qid}", "bounced")
    assert any(rcpt in l for l in lines), lines
    wait_log(a, f"queue_id={qid}", "bounce sent")
    # bounced on the first attempt: no retry, no connection to anyone
    assert not log_lines(a, f"queue_id={qid}", "deferred")
    wait_for(lambda: not queue_list(a), 10, "an empty queue")


def test_nxdomain_bounces(two):
    a, _ = two
    rcpt = "someone@nosuch.test"
    marker = "nxdomain-marker"
    qid = submit("127.0.0.1", a.submission, ALICE, [rcpt], message(marker, ALICE, rcpt),
                 user=ALICE, password=ALICE_PW)
    raw = wait_bounce(a, ALICE, marker)
    r = check_bounce(raw, a, ALICE, rcpt, marker, qid)
    assert re.fullmatch(r"5\.\d{1,3}\.\d{1,3}", r["Status"].strip()), r["Status"]
    assert "nosuch.test" in r["Diagnostic-Code"], r["Diagnostic-Code"]
    assert not log_lines(a, f"queue_id={qid}", "deferred")
    wait_for(lambda: not queue_list(a), 10, "an empty queue")


# --------------------------------------------------------------------------
# DNS answers that lead somewhere else than the first MX


def sink_message(sink: SmtpSink, marker: str, timeout: float = DELIVERY_TIMEOUT) -> bytes:
    hits = wait_for(lambda: [m for m in sink.messages() if marker.encode() in m], timeout,
                    f"{marker!r} at {sink.name}")
    assert len(hits) == 1, f"{len(hits)} copies of {marker!r} at {sink.name}"
    return hits[0]


def test_a_record_only_is_the_implicit_mx(two, sink_factory):
    a, _ = two
    sink = sink_factory(AMX_IP, "amx-sink")
    rcpt, marker = "someone@amx.test", "implicit-mx-marker"
    qid = submit("127.0.0.1", a.submission, ALICE, [rcpt], message(marker, ALICE, rcpt),
                 user=ALICE, password=ALICE_PW)
    got = sink_message(sink, marker)
    assert f"X-Rcpt-Args: <{rcpt}>".encode() in got, got[:600]
    assert f"X-Mail-Args: <{ALICE}".encode() in got, got[:600]
    assert f"id {qid}".encode() in got, got[:1200]
    routing = wait_log(a, f"queue_id={qid}", "routing")
    assert any(f"[{AMX_IP}]:25" in l for l in routing), routing
    wait_log(a, f"queue_id={qid}", "delivered", f"to={rcpt}")


def test_next_mx_by_preference_when_the_first_refuses_connections(two, sink_factory):
    a, _ = two
    require_port_25(PREF_DEAD_IP)       # nothing listens on mx1: connection refused
    sink = sink_factory(PREF_LIVE_IP, "mx2-sink")
    rcpt, marker = "someone@pref.test", "mx-preference-marker"
    qid = submit("127.0.0.1", a.submission, ALICE, [rcpt], message(marker, ALICE, rcpt),
                 user=ALICE, password=ALICE_PW)
    sink_message(sink, marker)
    routing = wait_log(a, f"queue_id={qid}", "routing")
    lines = [l for l in routing if "mx2.pref.test" in l]
    assert len(lines) == 1, routing
    line = lines[0]
    first = line.find(f"mx1.pref.test[{PREF_DEAD_IP}]:25")
    second = line.find(f"mx2.pref.test[{PREF_LIVE_IP}]:25")
    assert 0 <= first < second, f"hops not in preference order: {line}"
    wait_log(a, f"queue_id={qid}", "delivered", f"to={rcpt}")
    # one attempt: the refused connection moved on to mx2 at once, nothing was deferred
    assert not log_lines(a, f"queue_id={qid}", "deferred")


def test_truncated_udp_answer_is_retried_over_tcp(two, sink_factory, dns):
    a, _ = two
    rcode, ancount, truncated = dns_query(dns.port, "big.test", "MX")
    assert rcode == 0 and truncated, "the big.test MX answer must not fit in UDP"
    sink = sink_factory(BIG_IP, "big-sink")
    rcpt, marker = "someone@big.test", "dns-over-tcp-marker"
    qid = submit("127.0.0.1", a.submission, ALICE, [rcpt], message(marker, ALICE, rcpt),
                 user=ALICE, password=ALICE_PW)
    sink_message(sink, marker)
    routing = wait_log(a, f"queue_id={qid}", "routing")
    assert any(f"mx.big.test[{BIG_IP}]:25" in l for l in routing), routing


def test_mx_host_down_then_up(two):
    """b.test's only MX is down: A defers (attempts grow), then delivers once B is back."""
    a, b = two
    b.stop()
    marker = "mx-down-then-up-marker"
    qid = submit("127.0.0.1", a.submission, ALICE, [BOB], message(marker, ALICE, BOB),
                 user=ALICE, password=ALICE_PW)

    def deferred_twice():
        e = next((e for e in queue_list(a) if e.id == qid), None)
        return e and e.recipients[0].attempts >= 2 and e
    e = wait_for(deferred_twice, DELIVERY_TIMEOUT, f"two deferred attempts of {qid}")
    r = e.recipients[0]
    assert r.state.startswith("next attempt"), r
    assert r.last_error and B_IP in r.last_error, r
    assert not log_lines(a, f"queue_id={qid}", "bounced")
    b.start()
    got = imap_find(b.ports["imap"], BOB, BOB_PW, marker)
    assert f"id {qid}".encode() in got
    wait_log(a, f"queue_id={qid}", "delivered", f"to={BOB}")
    wait_for(lambda: not queue_list(a), 10, "an empty queue")
    time.sleep(2.5)
    assert pop3_find(b.ports["pop3"], BOB, BOB_PW, marker) == got      # exactly one copy
