"""Outbound delivery when the remote MTA says no, later, or nothing at all.

The remote is Postfix's smtp-sink (a real peer whose replies can be chosen per command:
`-r CMD` answers 450 4.3.0, `-f CMD` answers 500 5.3.0), or a tiny scripted server where
smtp-sink cannot express the script ("451 the first time, 250 after"). Swallow routes the test
domains to it with `[transport]`, retries every 1-2 s (`[queue] min_backoff`/`max_backoff`),
and tells the sender with an RFC 3464 report in her INBOX when it gives up.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ALICE, ALICE_PASSWORD, BOB, HOSTNAME
from outbound_helpers import (SMTP_SINK, ScriptedSMTP, SmtpSink, closed_port, is_bounce,
                              log_lines, message, parse_bounce, queue_entry, queue_list, submit,
                              wait_for, wait_log)

pytestmark = [
    pytest.mark.skipif(SMTP_SINK is None, reason="smtp-sink is not installed (Debian postfix)"),
]

REMOTE = "fail.test"
RCPT = f"someone@{REMOTE}"
DELIVERY_TIMEOUT = 30.0
FAST_RETRY = {"min_backoff": 1, "max_backoff": 2}
HARD_REPLY = "500 5.3.0 Error: command failed"   # smtp-sink's default for -f
SOFT_REPLY = "450 4.3.0 Error: command failed"   # smtp-sink's default for -r


@pytest.fixture
def sink_factory():
    made: list[tuple[SmtpSink, str]] = []

    def make(options=(), name: str = "smtp-sink") -> SmtpSink:
        root = tempfile.mkdtemp(prefix=f"swallow-interop-{name}-")
        sink = SmtpSink(Path(root), name=name)
        made.append((sink, root))
        return sink.start(list(options))

    yield make
    for sink, root in reversed(made):
        try:
            sink.close()
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def scripted():
    made: list[ScriptedSMTP] = []

    def make(rcpt_reply=None) -> ScriptedSMTP:
        s = ScriptedSMTP(rcpt_reply=rcpt_reply).start()
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def make_server(swallow_factory, hop: str, queue: dict | None = None, domain: str = REMOTE):
    """Swallow (example.test, alice and bob) sending `domain` to `hop`."""
    return swallow_factory(settings={"transport": {domain: hop}, "queue": queue or FAST_RETRY})


def send_from_alice(srv, marker: str, rcpts=(RCPT,), mail_options=()) -> str:
    return submit("127.0.0.1", srv.submission, ALICE, list(rcpts),
                  message(marker, ALICE, rcpts[0]), user=ALICE, password=ALICE_PASSWORD,
                  mail_options=mail_options)


def sink_copies(sink: SmtpSink, marker: str) -> list[bytes]:
    return [m for m in sink.messages() if marker.encode() in m]


def wait_sink(sink: SmtpSink, marker: str, timeout: float = DELIVERY_TIMEOUT) -> bytes:
    wait_for(lambda: sink_copies(sink, marker), timeout, f"{marker!r} at the sink")
    time.sleep(2.5)   # long enough for a duplicate retry (max_backoff 2 s) to show
    copies = sink_copies(sink, marker)
    assert len(copies) == 1, f"{len(copies)} copies of {marker!r} at the sink"
    return copies[0]


def bounces(srv, user: str, marker: str) -> list[bytes]:
    return [m for m in srv.inbox_raw(user) if is_bounce(m) and marker.encode() in m]


def wait_bounce(srv, user: str, marker: str, timeout: float = DELIVERY_TIMEOUT) -> bytes:
    wait_for(lambda: bounces(srv, user, marker), timeout, f"a bounce about {marker!r} for {user}")
    time.sleep(1.0)
    found = bounces(srv, user, marker)
    assert len(found) == 1, f"{len(found)} bounces about {marker!r}"
    return found[0]


def check_report(raw: bytes, qid: str, marker: str, rcpts: list[str], submitted_at: float):
    """The parts of a bounce every failure shares; returns the parsed Bounce."""
    b = parse_bounce(raw)
    m = b.message
    assert m["Return-Path"] == "<>", m["Return-Path"]
    assert m["From"] and f"MAILER-DAEMON@{HOSTNAME}" in m["From"], m["From"]
    assert ALICE in m["To"], m["To"]
    assert m["Subject"], "a bounce without Subject"
    assert m["Auto-Submitted"] and m["Auto-Submitted"].startswith("auto-replied"), \
        m["Auto-Submitted"]
    for r in rcpts:
        assert r in b.text, f"the notification text does not name {r}:\n{b.text}"
    assert b.per_message["Reporting-MTA"].replace(" ", "") == f"dns;{HOSTNAME}"
    arrival = email.utils.parsedate_to_datetime(b.per_message["Arrival-Date"])
    assert abs(arrival.timestamp() - submitted_at) < 120, b.per_message["Arrival-Date"]
    assert sorted(r["Final-Recipient"].replace(" ", "").lower() for r in b.per_recipient) == \
        sorted(f"rfc822;{r}" for r in rcpts)
    for r in b.per_recipient:
        assert r["Action"].strip() == "failed", r["Action"]
        assert re.fullmatch(r"[45]\.\d{1,3}\.\d{1,3}", r["Status"].strip()), r["Status"]
        assert r["Diagnostic-Code"] and r["Diagnostic-Code"].lower().startswith("smtp;"), \
            r["Diagnostic-Code"]
    # the original's header, with our trace (queue ID) on top
    assert b.returned["Subject"] == marker
    assert b.returned["Message-ID"] == f"<{marker}@interop.test>"
    received = [" ".join(h.split()) for h in b.returned.get_all("Received") or []]
    assert any(f"by {HOSTNAME} (Swallow)" in h and f"id {qid}" in h for h in received), received
    return b


def wait_gone(srv, qid: str, timeout: float = 15.0):
    wait_for(lambda: queue_entry(srv, qid) is None, timeout, f"{qid} to leave the queue")


# --------------------------------------------------------------------------
# (a) 4xx, then success


def test_451_once_then_delivered(swallow_factory, scripted):
    remote = scripted(lambda n, addr: "451 4.7.1 Try again later" if n == 1 else "250 2.1.5 Ok")
    srv = make_server(swallow_factory, remote.hop)
    marker = "451-once-marker"
    qid = send_from_alice(srv, marker)
    wait_for(lambda: remote.messages, DELIVERY_TIMEOUT, "the retry to be accepted")
    deferred = wait_log(srv, f"queue_id={qid}", "deferred")
    assert any("451 4.7.1" in l for l in deferred), deferred
    wait_log(srv, f"queue_id={qid}", "delivered", f"to={RCPT}")
    wait_gone(srv, qid)
    time.sleep(2.5)
    assert len(remote.messages) == 1, remote.messages
    got = remote.messages[0]
    assert got.mail_from == ALICE and got.rcpts == [RCPT]
    assert got.helo == HOSTNAME, got.helo
    assert marker.encode() in got.data and f"id {qid}".encode() in got.data
    assert got.data.endswith(b"\r\n.leading dot line\r\n.\r\nlast line\r\n"), \
        f"dot-stuffing not done on the way out: {got.data!r}"
    rcpts = [line for who, line in remote.transcript if who == "C" and line.upper().startswith("RCPT")]
    assert len(rcpts) == 2, remote.transcript
    assert not bounces(srv, ALICE, marker)


def test_450_until_the_remote_recovers(swallow_factory, sink_factory):
    sink = sink_factory(["-r", "RCPT"])
    srv = make_server(swallow_factory, sink.hop)
    marker = "450-then-ok-marker"
    qid = send_from_alice(srv, marker)
    e = wait_for(lambda: (q := queue_entry(srv, qid)) and q.recipients[0].attempts >= 2 and q,
                 DELIVERY_TIMEOUT, f"two deferred attempts of {qid}")
    r = e.recipients[0]
    assert r.address == RCPT and r.state.startswith("next attempt"), r
    assert r.last_error and SOFT_REPLY in r.last_error, r
    sink.restart([])
    got = wait_sink(sink, marker)
    assert f"X-Rcpt-Args: <{RCPT}>".encode() in got
    assert f"id {qid}".encode() in got
    # smtp-sink stores LF lines plus an empty line; the lone "." survived DATA
    assert got.endswith(b"\n.leading dot line\n.\nlast line\n\n"), got[-200:]
    wait_log(srv, f"queue_id={qid}", "delivered", f"to={RCPT}")
    wait_gone(srv, qid)
    assert not bounces(srv, ALICE, marker)


# --------------------------------------------------------------------------
# (b) 5xx: a bounce


@pytest.mark.parametrize("command", ["RCPT", "MAIL", "DATA", "."])
def test_5xx_bounces_to_the_sender(swallow_factory, sink_factory, command):
    sink = sink_factory(["-f", command])
    srv = make_server(swallow_factory, sink.hop)
    marker = f"5xx-at-{'dot' if command == '.' else command.lower()}-marker"
    t0 = time.time()
    qid = send_from_alice(srv, marker)
    raw = wait_bounce(srv, ALICE, marker)
    b = check_report(raw, qid, marker, [RCPT], t0)
    r = b.per_recipient[0]
    assert r["Status"].strip() == "5.3.0", r["Status"]
    assert HARD_REPLY in r["Diagnostic-Code"], r["Diagnostic-Code"]
    # RET was not FULL: the headers only
    assert b.returned_type == "text/rfc822-headers"
    assert b"body of " + marker.encode() not in raw, "the body came back without RET=FULL"
    lines = wait_log(srv, f"queue_id={qid}", "bounced")
    assert any(HARD_REPLY in l for l in lines), lines
    wait_log(srv, f"queue_id={qid}", "bounce sent")
    assert not log_lines(srv, f"queue_id={qid}", "deferred"), "a 5xx was retried"
    wait_gone(srv, qid)
    if command != ".":
        # (smtp-sink writes its dump file before it answers "."; refused earlier, no file)
        assert not sink_copies(sink, marker)


def test_5xx_with_ret_full_returns_the_whole_message(swallow_factory, sink_factory):
    sink = sink_factory(["-f", "RCPT"])
    srv = make_server(swallow_factory, sink.hop)
    marker = "ret-full-marker"
    t0 = time.time()
    qid = send_from_alice(srv, marker, mail_options=["RET=FULL", "ENVID=env-ret-full-1"])
    raw = wait_bounce(srv, ALICE, marker)
    b = check_report(raw, qid, marker, [RCPT], t0)
    assert b.returned_type == "message/rfc822"
    body = b.returned.get_payload()
    assert f"body of {marker}" in body and ".leading dot line" in body, body
    assert b.per_message["Original-Envelope-Id"].strip() == "env-ret-full-1", b.per_message.items()


def test_one_recipient_refused_one_accepted(swallow_factory, scripted):
    good, bad = f"good@{REMOTE}", f"nobody@{REMOTE}"
    remote = scripted(lambda n, addr: "550 5.1.1 <%s>: Recipient address rejected: User unknown"
                      % addr if addr == bad else "250 2.1.5 Ok")
    srv = make_server(swallow_factory, remote.hop)
    marker = "mixed-rcpts-marker"
    t0 = time.time()
    qid = send_from_alice(srv, marker, rcpts=(good, bad))
    raw = wait_bounce(srv, ALICE, marker)
    b = check_report(raw, qid, marker, [bad], t0)
    assert good not in str(b.per_recipient[0]), "the delivered recipient is in the bounce"
    assert b.per_recipient[0]["Status"].strip() == "5.1.1"
    assert "User unknown" in b.per_recipient[0]["Diagnostic-Code"]
    wait_gone(srv, qid)
    assert len(remote.messages) == 1 and remote.messages[0].rcpts == [good], remote.messages


def test_rcpt_notify_never_suppresses_the_bounce(swallow_factory, sink_factory):
    """RFC 3461 §4.1: NOTIFY=NEVER: no DSN for that recipient (it still fails)."""
    sink = sink_factory(["-f", "RCPT"])
    srv = make_server(swallow_factory, sink.hop)
    marker = "notify-never-marker"
    qid = submit("127.0.0.1", srv.submission, ALICE, [RCPT], message(marker, ALICE, RCPT),
                 user=ALICE, password=ALICE_PASSWORD, rcpt_options=["NOTIFY=NEVER"])
    wait_log(srv, f"queue_id={qid}", "bounced")
    wait_gone(srv, qid)
    left = srv.settle(ALICE)
    assert not any(marker.encode() in m for m in left), left
    assert not log_lines(srv, f"queue_id={qid}", "bounce sent")


# --------------------------------------------------------------------------
# (c) nobody answers: retried until max_lifetime, then a bounce


def test_unreachable_host_retried_then_expired(swallow_factory):
    port = closed_port()
    lifetime = 5
    srv = make_server(swallow_factory, f"127.0.0.1:{port}",
                      queue={"min_backoff": 1, "max_backoff": 2, "max_lifetime": lifetime})
    marker = "unreachable-marker"
    t0 = time.time()
    qid = send_from_alice(srv, marker)
    seen: list[int] = []
    errors: list[str] = []

    def progress():
        e = queue_entry(srv, qid)
        if e is None:
            return True          # gone: bounced (checked below)
        r = e.recipients[0]
        seen.append(r.attempts)
        if r.last_error:
            errors.append(r.last_error)
        return False

    wait_for(progress, 40, lambda: f"{qid} to leave the queue (attempts seen {seen})",
             interval=0.1)
    assert seen == sorted(seen), f"attempts went backwards: {seen}"
    assert max(seen, default=0) >= 2, f"attempts seen in `queue list`: {seen}"
    assert any(str(port) in e for e in errors), errors
    raw = wait_bounce(srv, ALICE, marker)
    bounced_after = time.time() - t0
    assert bounced_after >= lifetime - 0.5, f"bounced after {bounced_after:.1f}s < max_lifetime"
    b = check_report(raw, qid, marker, [RCPT], t0)
    assert str(port) in b.per_recipient[0]["Diagnostic-Code"], b.per_recipient[0].items()
    deferred = log_lines(srv, f"queue_id={qid}", "deferred")
    assert len(deferred) >= 2, deferred
    wait_log(srv, f"queue_id={qid}", "expired")
    wait_log(srv, f"queue_id={qid}", "bounce sent")


# --------------------------------------------------------------------------
# (d) the null sender never gets a bounce


def test_null_sender_failure_is_dropped_silently(swallow_factory, sink_factory):
    sink = sink_factory(["-f", "RCPT"])
    srv = make_server(swallow_factory, sink.hop)
    marker = "null-sender-marker"
    qid = submit("127.0.0.1", srv.smtp, "", [RCPT], message(marker, "MAILER-DAEMON@outside.test",
                                                            RCPT), starttls=False)
    lines = wait_log(srv, f"queue_id={qid}", "bounced")
    assert any(HARD_REPLY in l for l in lines), lines
    wait_log(srv, f"queue_id={qid}", "no bounce")
    wait_gone(srv, qid)
    for user in (ALICE, BOB):
        left = srv.settle(user)
        assert not left, f"{user} got mail: {left}"
    assert not log_lines(srv, f"queue_id={qid}", "bounce sent")
    time.sleep(1.5)
    assert queue_list(srv) == [], "something (a bounce to <>?) was queued"
    assert not sink.messages()


# --------------------------------------------------------------------------
# (e) a restart with deferred mail: delivered once


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_deferred_mail_survives_a_restart(swallow_factory, sink_factory, how):
    sink = sink_factory(["-r", "RCPT"])
    srv = make_server(swallow_factory, sink.hop)
    marker = f"restart-{how}-marker"
    qid = send_from_alice(srv, marker)
    wait_for(lambda: (q := queue_entry(srv, qid)) and q.recipients[0].attempts >= 1,
             DELIVERY_TIMEOUT, f"a deferred attempt of {qid}")
    if how == "sigterm":
        assert srv.stop() == 0, "swallow serve did not exit 0 on SIGTERM"
    else:
        srv.kill()
    e = queue_entry(srv, qid)
    assert e is not None and e.recipients[0].attempts >= 1, e
    sink.restart([])
    srv.start()
    got = wait_sink(sink, marker)
    assert f"id {qid}".encode() in got
    time.sleep(2.0)
    assert len(sink_copies(sink, marker)) == 1
    wait_gone(srv, qid)
    assert not bounces(srv, ALICE, marker)


# --------------------------------------------------------------------------
# (f) the queue commands


def test_queue_list_flush_delete(swallow_factory, sink_factory):
    sink = sink_factory(["-r", "RCPT"])
    # a long backoff: nothing is retried unless flushed
    srv = make_server(swallow_factory, sink.hop, queue={"min_backoff": 3600, "max_backoff": 7200})
    assert srv.cli("queue", "list").stdout.strip() == "queue is empty"
    t0 = time.time()
    keep = send_from_alice(srv, "flush-me-marker")
    drop = send_from_alice(srv, "delete-me-marker", rcpts=(f"other@{REMOTE}",))

    def both_deferred():
        entries = {e.id: e for e in queue_list(srv)}
        return (keep in entries and drop in entries
                and all(e.recipients[0].attempts == 1 for e in entries.values()) and entries)
    entries = wait_for(both_deferred, DELIVERY_TIMEOUT, "both messages deferred once")

    e = entries[keep]
    assert e.sender == ALICE
    assert e.size > len(message("flush-me-marker", ALICE, RCPT)), e.size   # + our Received
    arrival = dt.datetime.fromisoformat(e.arrival.replace("Z", "+00:00"))
    assert abs(arrival.timestamp() - t0) < 60, e.arrival
    [r] = e.recipients
    assert r.address == RCPT and r.attempts == 1
    m = re.fullmatch(r"next attempt (\S+)", r.state)
    assert m, r.state
    nxt = dt.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
    assert nxt > time.time() + 3000, f"next attempt {m.group(1)} is not ~min_backoff away"
    assert r.last_error and SOFT_REPLY in r.last_error, r
    assert entries[drop].recipients[0].address == f"other@{REMOTE}"

    sink.restart([])
    time.sleep(3.0)
    assert not sink.messages(), "a deferred message was retried before its time"
    assert queue_entry(srv, keep).recipients[0].attempts == 1

    out = srv.cli("queue", "delete", drop).stdout
    assert drop in out, out
    assert [x.id for x in queue_list(srv)] == [keep]
    bad = srv.cli("queue", "delete", "0123456789ABCDEF", check=False)
    assert bad.returncode != 0, (bad.stdout, bad.stderr)
    bad = srv.cli("queue", "delete", "not-a-queue-id", check=False)
    assert bad.returncode != 0, (bad.stdout, bad.stderr)

    out = srv.cli("queue", "flush").stdout
    assert re.search(r"\b1\b", out), out
    got = wait_sink(sink, "flush-me-marker", timeout=15)
    assert f"id {keep}".encode() in got
    wait_for(lambda: srv.cli("queue", "list").stdout.strip() == "queue is empty", 15,
             "queue is empty")
    assert not sink_copies(sink, "delete-me-marker"), "a deleted message was delivered"
    assert not bounces(srv, ALICE, "delete-me-marker")
    assert not bounces(srv, ALICE, "flush-me-marker")


# --------------------------------------------------------------------------
# the SMTP client against a peer without ESMTP


def test_helo_fallback_when_ehlo_is_refused(swallow_factory, sink_factory):
    sink = sink_factory(["-f", "EHLO"])
    srv = make_server(swallow_factory, sink.hop)
    marker = "helo-fallback-marker"
    qid = send_from_alice(srv, marker)
    got = wait_sink(sink, marker)
    assert b"X-Client-Proto: SMTP\n" in got, got[:400]
    assert f"X-Helo-Args: {HOSTNAME}\n".encode() in got, got[:400]
    assert f"X-Mail-Args: <{ALICE}>\n".encode() in got, "ESMTP parameters sent after HELO"
    wait_log(srv, f"queue_id={qid}", "delivered", f"to={RCPT}")


# --------------------------------------------------------------------------
# more temporary failures: deferred (never bounced), then delivered once


@pytest.mark.parametrize("options", [["-r", "MAIL"], ["-Q", "RCPT"], ["-q", "DATA"],
                                     ["-r", "."], ["-Q", "CONNECT"]],
                         ids=["450-at-MAIL", "421-at-RCPT", "disconnect-after-DATA",
                              "450-at-end-of-data", "421-greeting"])
def test_temporary_failures_are_retried(swallow_factory, sink_factory, options):
    sink = sink_factory(options)
    srv = make_server(swallow_factory, sink.hop)
    marker = f"temporary-{options[0][1:]}-{options[1].strip('.') or 'dot'}-marker"
    qid = send_from_alice(srv, marker)
    e = wait_for(lambda: (q := queue_entry(srv, qid)) and q.recipients[0].attempts >= 2 and q,
                 DELIVERY_TIMEOUT, f"two deferred attempts of {qid}")
    assert e.recipients[0].last_error, e
    assert not log_lines(srv, f"queue_id={qid}", "bounced"), "a temporary failure bounced"
    sink.stop()
    sink.clear()           # smtp-sink dumps before it answers "."
    sink.restart([])
    got = wait_sink(sink, marker)
    assert f"id {qid}".encode() in got
    wait_gone(srv, qid)
    assert not bounces(srv, ALICE, marker)


# --------------------------------------------------------------------------
# routing: transport beats smarthost; one transaction per destination


def test_transport_wins_over_smarthost(swallow_factory, sink_factory):
    via_transport = sink_factory(name="transport-sink")
    via_smarthost = sink_factory(name="smarthost-sink")
    srv = swallow_factory(settings={"transport": {REMOTE: via_transport.hop},
                                    "relay": {"smarthost": via_smarthost.hop},
                                    "queue": FAST_RETRY})
    marker = "transport-vs-smarthost-marker"
    elsewhere = "someone@elsewhere.test"
    qid = send_from_alice(srv, marker, rcpts=(RCPT, elsewhere))
    a = wait_sink(via_transport, marker)
    b = wait_sink(via_smarthost, marker)
    assert re.findall(rb"X-Rcpt-Args: <([^>]*)>", a) == [RCPT.encode()], a[:500]
    assert re.findall(rb"X-Rcpt-Args: <([^>]*)>", b) == [elsewhere.encode()], b[:500]
    routing = wait_log(srv, f"queue_id={qid}", "routing", "domain=elsewhere.test")
    assert any("smarthost" in l and via_smarthost.hop in l for l in routing), routing
    wait_gone(srv, qid)


def test_recipients_of_one_domain_share_one_transaction(swallow_factory, sink_factory):
    sink = sink_factory()
    srv = make_server(swallow_factory, sink.hop)
    rcpts = [f"r{i}@{REMOTE}" for i in range(3)]
    marker = "one-transaction-marker"
    qid = send_from_alice(srv, marker, rcpts=rcpts)
    got = wait_sink(sink, marker)
    assert re.findall(rb"X-Rcpt-Args: <([^>]*)>", got) == [r.encode() for r in rcpts], got[:600]
    # RFC 5321 §4.4: no "for <...>" in the trace when there are several recipients
    head = got.split(b"\n\n", 1)[0]
    ours = [h for h in re.findall(rb"Received: .*?(?=\n\S)", head, re.S) if b"(Swallow)" in h]
    assert len(ours) == 1 and b"for <" not in ours[0], ours
    wait_gone(srv, qid)


def test_transport_parent_domain_entry(swallow_factory, sink_factory):
    sink = sink_factory()
    srv = swallow_factory(settings={"transport": {".sub.test": sink.hop}, "queue": FAST_RETRY})
    marker = "parent-domain-transport-marker"
    send_from_alice(srv, marker, rcpts=("x@deep.sub.test",))
    wait_sink(sink, marker)


# --------------------------------------------------------------------------
# what the remote announces: SIZE, SMTPUTF8


def test_message_over_remote_size_limit_bounces_without_sending(swallow_factory, scripted):
    remote = scripted()
    remote.size_limit = 2000
    srv = make_server(swallow_factory, remote.hop)
    marker = "over-remote-size-marker"
    t0 = time.time()
    raw = message(marker, ALICE, RCPT) + (b"y" * 76 + b"\r\n") * 60     # > 4000 bytes
    qid = submit("127.0.0.1", srv.submission, ALICE, [RCPT], raw, user=ALICE,
                 password=ALICE_PASSWORD)
    b = check_report(wait_bounce(srv, ALICE, marker), qid, marker, [RCPT], t0)
    assert b.per_recipient[0]["Status"].strip() == "5.3.4", b.per_recipient[0].items()
    assert not any(line.upper().startswith("MAIL") for who, line in remote.transcript
                   if who == "C"), remote.transcript
    assert not remote.messages


def test_smtputf8_message_to_a_peer_without_smtputf8_bounces(swallow_factory, scripted):
    remote = scripted()
    srv = make_server(swallow_factory, remote.hop)
    rcpt = f"zoë@{REMOTE}"
    marker = "needs-smtputf8-marker"
    t0 = time.time()
    raw = (f"From: <{ALICE}>\r\nTo: <{rcpt}>\r\nSubject: {marker}\r\n"
           f"Message-ID: <{marker}@interop.test>\r\n\r\nGrüße\r\n").encode()
    qid = submit("127.0.0.1", srv.submission, ALICE, [rcpt], raw, user=ALICE,
                 password=ALICE_PASSWORD, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    bounce = wait_bounce(srv, ALICE, marker)
    b = parse_bounce(bounce)
    r = b.per_recipient[0]
    assert r["Status"].strip() == "5.6.7", r.items()      # RFC 6531 §3.2 / RFC 6533
    assert r["Action"].strip() == "failed"
    assert not remote.messages
    wait_gone(srv, qid)


# --------------------------------------------------------------------------
# a remote sender's bounce goes out by SMTP, from <>


def test_bounce_for_a_remote_sender_is_sent_with_null_sender(swallow_factory, sink_factory):
    refusing = sink_factory(["-f", "RCPT"], name="refusing-sink")
    senders_mx = sink_factory(name="senders-mx-sink")
    srv = swallow_factory(settings={"transport": {REMOTE: refusing.hop,
                                                  "elsewhere.test": senders_mx.hop},
                                    "queue": FAST_RETRY})
    sender = "bob@elsewhere.test"
    marker = "remote-sender-bounce-marker"
    t0 = time.time()
    qid = submit("127.0.0.1", srv.smtp, sender, [RCPT], message(marker, sender, RCPT),
                 starttls=False)                        # trusted network, no auth
    got = wait_sink(senders_mx, marker)
    assert b"X-Mail-Args: <>" in got, got[:400]
    assert f"X-Rcpt-Args: <{sender}>".encode() in got, got[:400]
    b = parse_bounce(got)
    assert f"MAILER-DAEMON@{HOSTNAME}" in b.message["From"]
    assert b.per_recipient[0]["Final-Recipient"].replace(" ", "").lower() == f"rfc822;{RCPT}"
    assert b.per_recipient[0]["Status"].strip() == "5.3.0"
    assert b.returned["Subject"] == marker
    arrival = email.utils.parsedate_to_datetime(b.per_message["Arrival-Date"])
    assert abs(arrival.timestamp() - t0) < 120
    wait_log(srv, f"queue_id={qid}", "bounce sent")
    wait_for(lambda: not queue_list(srv), 15, "an empty queue (the bounce delivered)")


# --------------------------------------------------------------------------
# DNS trouble is temporary


@pytest.mark.parametrize("dns_kind", ["silent", "refused"])
def test_dns_failure_defers_instead_of_bouncing(swallow_factory, dns_kind):
    import socket as _socket
    silent = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1] if dns_kind == "silent" else closed_port()
        srv = swallow_factory(settings={"dns": {"nameservers": [f"127.0.0.1:{port}"]},
                                        "queue": FAST_RETRY})
        marker = f"dns-{dns_kind}-marker"
        rcpt = "someone@dns-trouble.test"
        qid = send_from_alice(srv, marker, rcpts=(rcpt,))
        e = wait_for(lambda: (q := queue_entry(srv, qid)) and q.recipients[0].attempts >= 1 and q,
                     60, f"a deferred attempt of {qid}")
        r = e.recipients[0]
        assert r.state.startswith("next attempt"), r
        assert r.last_error and re.search(r"\b4\.\d{1,3}\.\d{1,3}\b", r.last_error), r
        time.sleep(3)
        assert queue_entry(srv, qid) is not None, "the message left the queue"
        assert not log_lines(srv, f"queue_id={qid}", "bounced")
        assert not bounces(srv, ALICE, marker)
    finally:
        silent.close()


# --------------------------------------------------------------------------
# many messages to one destination at once


def test_many_messages_to_one_destination(swallow_factory, sink_factory):
    import threading
    sink = sink_factory()
    srv = make_server(swallow_factory, sink.hop)
    n_threads, per_thread = 5, 8
    qids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int):
        try:
            for j in range(per_thread):
                q = send_from_alice(srv, f"burst-{i}-{j}-marker")
                with lock:
                    qids.append(q)
        except BaseException as e:    # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    total = n_threads * per_thread
    wait_for(lambda: len(sink.messages()) >= total, 90,
             lambda: f"{total} messages at the sink (have {len(sink.messages())})")
    wait_for(lambda: not queue_list(srv), 30, "an empty queue")
    time.sleep(2.5)
    msgs = sink.messages()
    for i in range(n_threads):
        for j in range(per_thread):
            marker = f"burst-{i}-{j}-marker\n".encode()
            n = sum(marker in m for m in msgs)
            assert n == 1, f"burst-{i}-{j}: {n} copies"
    assert len(msgs) == total
    assert not bounces(srv, ALICE, "burst-")


# --------------------------------------------------------------------------
# DSN parameters are relayed to a DSN-capable remote (smtp-sink announces DSN)


def test_envid_and_ret_are_relayed(swallow_factory, sink_factory):
    sink = sink_factory()
    srv = make_server(swallow_factory, sink.hop)
    marker = "envid-relayed-marker"
    send_from_alice(srv, marker, mail_options=["RET=FULL", "ENVID=QQ314159"])
    got = wait_sink(sink, marker)
    mail_args = re.search(rb"X-Mail-Args: (.*)\n", got).group(1).split()
    assert mail_args[0] == f"<{ALICE}>".encode(), mail_args
    assert b"RET=FULL" in mail_args and b"ENVID=QQ314159" in mail_args, mail_args


def test_notify_and_orcpt_are_relayed(swallow_factory, sink_factory):
    sink = sink_factory()
    srv = make_server(swallow_factory, sink.hop)
    marker = "notify-orcpt-relayed-marker"
    submit("127.0.0.1", srv.submission, ALICE, [RCPT], message(marker, ALICE, RCPT),
           user=ALICE, password=ALICE_PASSWORD,
           rcpt_options=["NOTIFY=SUCCESS,FAILURE", f"ORCPT=rfc822;{RCPT}"])
    got = wait_sink(sink, marker)
    rcpt_args = re.search(rb"X-Rcpt-Args: (.*)\n", got).group(1).split()
    assert rcpt_args[0] == f"<{RCPT}>".encode(), rcpt_args
    assert b"NOTIFY=SUCCESS,FAILURE" in rcpt_args, rcpt_args
    assert f"ORCPT=rfc822;{RCPT}".encode() in rcpt_args, rcpt_args


# --------------------------------------------------------------------------
# line ends on the wire: a message that came in by BDAT goes out by DATA


def bdat_submit(srv, sender: str, rcpt: str, raw: bytes, body: str = "8BITMIME") -> str:
    from rawsmtp import RawClient
    with RawClient(srv.smtp) as c:
        c.greeting()
        ehlo = c.ehlo()
        assert b"CHUNKING" in ehlo.lines, ehlo
        assert c.cmd(f"MAIL FROM:<{sender}> BODY={body}").code == 250
        assert c.cmd(f"RCPT TO:<{rcpt}>").code == 250
        c.send(b"BDAT %d LAST\r\n" % len(raw) + raw)
        r = c.reply()
        assert r.code == 250, r
        m = re.search(rb"queued as ([0-9A-F]{16})", r.text)
        assert m, r
        c.cmd("QUIT")
        return m.group(1).decode()


def test_bare_line_ends_from_bdat_leave_as_crlf(swallow_factory, scripted):
    """DESIGN §4: we never emit a bare CR or LF. A BDAT message may hold them; over DATA
    they go out as CRLF, and lone dots are stuffed."""
    remote = scripted()
    srv = make_server(swallow_factory, remote.hop)
    marker = "bare-line-ends-marker"
    raw = (f"From: <{ALICE}>\r\nTo: <{RCPT}>\r\nSubject: {marker}\r\n\r\n").encode() + \
        b"bare LF here\nbare CR here\rCRLF here\r\n.\r\n..two dots\r\n.\nend\r\n"
    qid = bdat_submit(srv, ALICE, RCPT, raw)
    wait_for(lambda: remote.messages, DELIVERY_TIMEOUT, "the message at the remote")
    data = remote.messages[0].data
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", data) is None, f"bare CR/LF sent: {data!r}"
    expected_body = (b"bare LF here\r\nbare CR here\r\nCRLF here\r\n.\r\n..two dots\r\n.\r\n"
                     b"end\r\n")
    assert data.endswith(b"\r\n\r\n" + expected_body), data
    wait_gone(srv, qid)


def test_binarymime_to_a_peer_without_binarymime(swallow_factory, scripted):
    """RFC 3030 §3: BINARYMIME content must not be sent to a server that did not announce
    BINARYMIME: the relay converts it (e.g. to base64) or returns it as undeliverable. Either
    way the binary part must not arrive altered."""
    remote = scripted()
    srv = make_server(swallow_factory, remote.hop)
    marker = "binarymime-relay-marker"
    payload = bytes(range(256)) + b"\r\r\n\n\r.\r\n" + bytes(range(255, -1, -1))
    raw = (f"From: <{ALICE}>\r\nTo: <{RCPT}>\r\nSubject: {marker}\r\nMessage-ID: <{marker}@interop.test>\r\n"
           f"MIME-Version: 1.0\r\n"
           f"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
           f"\r\n").encode() + payload
    t0 = time.time()
    qid = bdat_submit(srv, ALICE, RCPT, raw, body="BINARYMIME")

    def outcome():
        return remote.messages or bounces(srv, ALICE, marker)
    wait_for(outcome, DELIVERY_TIMEOUT, "delivery or a bounce")
    if remote.messages:
        got = email.message_from_bytes(remote.messages[0].data)
        assert got.get_payload(decode=True) == payload, \
            "the binary body arrived altered (sent over DATA to a server without BINARYMIME)"
    else:
        b = check_report(bounces(srv, ALICE, marker)[0], qid, marker, [RCPT], t0)
        assert b.per_recipient[0]["Status"].strip().startswith("5.6."), b.per_recipient[0].items()
