"""The outbound queue manager: connection reuse, recipient limits, per-destination scheduling,
dead destinations, an idle process between retries, restarts with a full queue, the queue
commands and delay warnings.

Every next hop is a scripted ESMTP peer on 127.0.0.1 (`Peer` below, run by script_peer's
ScriptPeer, one thread per connection) that records each connection's commands, so a test can
count TCP connections, EHLOs, RSETs and transactions. Swallow routes the test domains to it with
`[transport]`; mail is submitted over port 25 from the trusted network (127.0.0.0/8), many
transactions in one SMTP session. What the tests look at is what a peer or an administrator
sees: the peer's transcript, `swallow queue list --json`, the log and the sender's INBOX.

Configuration keys used (README, `[queue]`): min_backoff, max_backoff, connection_cache_time,
connection_reuse_limit, recipient_limit, initial_concurrency, destination_concurrency,
dead_after_failures, delay_warning.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import os
import re
import smtplib
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from conftest import ALICE, HOSTNAME
from outbound_helpers import (QUEUED, closed_port, is_bounce, log_lines, message, parse_bounce,
                              wait_for, wait_log)
from script_peer import PeerConnection, ScriptPeer

NO_RETRY = {"min_backoff": 3600, "max_backoff": 7200}
MESSAGE_ID = re.compile(rb"(?im)^Message-ID:\s*<([^>@]+)@interop\.test>")


# --------------------------------------------------------------------------
# a next hop that records every connection


@dataclass
class Session:
    """One TCP connection as the peer saw it."""
    index: int
    opened: float
    commands: list[str] = field(default_factory=list)   # every command line, in order
    transactions: int = 0                                # messages answered 250 at their end
    quit: bool = False                                   # the client sent QUIT
    ended: float | None = None                           # the peer's side of it is over
    closed_by_peer: str | None = None                    # why the peer hung up, if it did

    def verbs(self) -> list[str]:
        return [c.split(" ", 1)[0].upper() for c in self.commands]


@dataclass
class Accepted:
    """A message the peer answered 250 at its end (counted after the reply was sent)."""
    session: int
    mail_from: str
    rcpts: list[str]
    data: bytes
    at: float

    @property
    def marker(self) -> str | None:
        m = MESSAGE_ID.search(self.data)
        return m.group(1).decode() if m else None


class Peer:
    """An ESMTP server (PIPELINING, 8BITMIME, SIZE, ENHANCEDSTATUSCODES; no STARTTLS) for
    ScriptPeer, one thread per connection. Every knob is an attribute a test may change while
    it runs:

    greeting: the banner; anything but 2xx is sent and the connection closed (a 421 peer).
    rcpt_limit: accept at most this many RCPTs per transaction, answer the rest
        `452 4.5.3` (RFC 5321 §4.5.3.1.10).
    rcpt_reply: `rcpt_reply(address)` -> a reply line, or None for the default 250.
    final_delay: seconds between the end of a message and its 250.
    idle_close: what the peer does once a transaction is over and the client says nothing for
        `idle_after` seconds: "fin" (close), "rst" (close with a reset), "421" (an unsolicited
        `421 4.4.2` then close, as Postfix's smtpd on its timeout); or "421-at-next": answer
        the first command after a finished transaction with 421 and close (whenever it comes).
    """

    def __init__(self, greeting: str = "220 peer.test ESMTP", rcpt_limit: int | None = None,
                 rcpt_reply=None, final_delay: float = 0.0, idle_close: str | None = None,
                 idle_after: float = 1.0):
        self.greeting = greeting
        self.rcpt_limit = rcpt_limit
        self.rcpt_reply = rcpt_reply
        self.final_delay = final_delay
        self.idle_close = idle_close
        self.idle_after = idle_after
        self.lock = threading.Lock()
        self.sessions: list[Session] = []
        self.accepted: list[Accepted] = []
        self.server: ScriptPeer | None = None

    # ---- lifecycle

    def start(self) -> "Peer":
        self.server = ScriptPeer(self)
        return self

    def stop(self):
        if self.server:
            self.server.stop()

    @property
    def hop(self) -> str:
        return self.server.hop

    # ---- what was seen

    def snapshot(self) -> list[Session]:
        with self.lock:
            return [Session(s.index, s.opened, list(s.commands), s.transactions, s.quit, s.ended,
                            s.closed_by_peer) for s in self.sessions]

    def connections(self) -> int:
        with self.lock:
            return len(self.sessions)

    def markers(self) -> Counter:
        with self.lock:
            return Counter(a.marker for a in self.accepted)

    def count(self, prefix: str) -> int:
        with self.lock:
            return sum(1 for a in self.accepted if a.marker and a.marker.startswith(prefix))

    def transcript(self) -> str:
        """Every session's commands, for assertion messages."""
        out = []
        for s in self.snapshot():
            out.append(f"#{s.index} ({s.transactions} tx, quit={s.quit}, "
                       f"closed_by_peer={s.closed_by_peer}): {s.commands}")
        return "\n".join(out)

    # ---- the script

    def __call__(self, conn: PeerConnection):
        with self.lock:
            session = Session(len(self.sessions), time.monotonic())
            self.sessions.append(session)
        try:
            self._dialogue(conn, session)
        finally:
            with self.lock:
                session.ended = time.monotonic()

    def _dialogue(self, conn: PeerConnection, session: Session):
        greeting = self.greeting
        conn.reply(greeting)
        if not greeting.startswith("2"):
            session.closed_by_peer = "greeting"
            return
        mail_from, rcpts, idle = None, [], False
        while True:
            if idle and self.idle_close in ("fin", "rst", "421"):
                conn.sock.settimeout(self.idle_after)
            try:
                verb, raw = conn.command()
            except TimeoutError:
                mode = self.idle_close
                session.closed_by_peer = f"idle {mode}"
                if mode == "421":
                    conn.reply("421 4.4.2 peer.test Error: timeout exceeded")
                elif mode == "rst":
                    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                         struct.pack("ii", 1, 0))
                return
            finally:
                conn.sock.settimeout(None)
            if not verb:
                return
            line = raw.decode("utf-8", "replace")
            with self.lock:
                session.commands.append(line)
            if idle and self.idle_close == "421-at-next":
                session.closed_by_peer = "421 at next command"
                conn.reply("421 4.4.2 peer.test Error: connection no longer wanted")
                return
            idle = False
            if verb == "EHLO":
                conn.send("250-peer.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                          "250-SIZE 10000000\r\n250 ENHANCEDSTATUSCODES\r\n")
            elif verb == "HELO":
                conn.reply("250 peer.test")
            elif verb == "MAIL":
                m = re.match(r"(?i)MAIL FROM:<([^>]*)>", line)
                mail_from, rcpts = (m.group(1) if m else line), []
                conn.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                m = re.match(r"(?i)RCPT TO:<([^>]*)>", line)
                address = m.group(1) if m else line
                if mail_from is None:
                    conn.reply("503 5.5.1 Error: need MAIL command")
                elif self.rcpt_limit is not None and len(rcpts) >= self.rcpt_limit:
                    conn.reply("452 4.5.3 Error: too many recipients")
                else:
                    answer = self.rcpt_reply(address) if self.rcpt_reply else None
                    answer = answer or "250 2.1.5 Ok"
                    if answer.startswith("2"):
                        rcpts.append(address)
                    conn.reply(answer)
            elif verb == "DATA":
                if mail_from is None or not rcpts:
                    conn.reply("554 5.5.1 Error: no valid recipients")
                    continue
                conn.reply("354 End data with <CR><LF>.<CR><LF>")
                data = conn.read_data()
                if data is None:
                    return
                if self.final_delay:
                    time.sleep(self.final_delay)
                conn.reply("250 2.0.0 Ok: queued")
                with self.lock:
                    session.transactions += 1
                    self.accepted.append(Accepted(session.index, mail_from, rcpts, data,
                                                  time.monotonic()))
                mail_from, rcpts, idle = None, [], True
            elif verb == "RSET":
                mail_from, rcpts = None, []
                conn.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                conn.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                session.quit = True
                conn.reply("221 2.0.0 Bye")
                return
            else:
                conn.reply("502 5.5.2 Error: command not recognized")


@pytest.fixture
def peers():
    made: list[Peer] = []

    def make(**options) -> Peer:
        p = Peer(**options).start()
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


# --------------------------------------------------------------------------
# helpers


def server(swallow_factory, transport: dict[str, str], queue: dict | None = None):
    """Swallow (example.test, alice and bob) with these `[transport]` routes and `[queue]`
    settings (min/max_backoff default to an hour: nothing is retried unless a test wants it)."""
    return swallow_factory(settings={"transport": transport, "queue": {**NO_RETRY, **(queue or {})}})


@dataclass
class Item:
    marker: str
    rcpts: list[str]
    rcpt_options: dict[str, list[str]] = field(default_factory=dict)


def send_many(srv, items: list[Item], sender: str = ALICE) -> list[str]:
    """One SMTP session on port 25 from the trusted network (no TLS, no AUTH), one transaction
    per item; returns the queue IDs in order. `sender` "" is the null sender."""
    qids = []
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=60) as s:
        s.ehlo("client.outside.test")
        for item in items:
            code, text = s.mail(sender)
            assert code == 250, (item.marker, code, text)
            for r in item.rcpts:
                code, text = s.rcpt(r, item.rcpt_options.get(r, []))
                assert code in (250, 251), (item.marker, r, code, text)
            raw = message(item.marker, sender or "MAILER-DAEMON@outside.test", item.rcpts[0])
            code, text = s.data(raw)
            assert code == 250, (item.marker, code, text)
            m = QUEUED.match(text.decode())
            assert m, text
            qids.append(m.group(1))
    return qids


def send_one(srv, marker: str, rcpts: list[str], sender: str = ALICE) -> str:
    return send_many(srv, [Item(marker, rcpts)], sender)[0]


def queue_json(srv, *args: str) -> list[dict]:
    r = srv.cli("queue", "list", "--json", *args)
    try:
        data = json.loads(r.stdout)
    except json.JSONDecodeError as e:
        raise AssertionError(f"`queue list --json` is not JSON ({e}):\n{r.stdout[:2000]}") from None
    assert isinstance(data, list), f"`queue list --json` is not an array: {r.stdout[:2000]}"
    return data


def iso(value: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert t.tzinfo is not None, f"ISO 8601 time without a zone: {value!r}"
    return t


def is_deferred(r: dict) -> bool:
    """A recipient that has been tried (or refused without a try) and waits for its next time."""
    return r["state"] == "pending" and r["attempts"] >= 1 and bool(r["last_error"])


def wait_all_deferred(srv, count: int, timeout: float) -> list[dict]:
    """`queue list --json` once `count` messages are queued and every recipient is deferred."""
    last: list[dict] = []

    def check():
        nonlocal last
        last = queue_json(srv)
        rs = [r for e in last for r in e["recipients"]]
        return len(last) >= count and rs and all(is_deferred(r) for r in rs) and last

    def why():
        rs = [r for e in last for r in e["recipients"]]
        return (f"{count} messages deferred: {len(last)} queued, "
                f"{sum(is_deferred(r) for r in rs)} of {len(rs)} recipients deferred")
    return wait_for(check, timeout, why, interval=0.5)


def wait_queue_empty(srv, timeout: float = 20.0):
    wait_for(lambda: queue_json(srv) == [], timeout,
             lambda: f"an empty queue, have {len(queue_json(srv))} message(s)")


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reports(srv, user: str) -> list[tuple[bytes, email.message.Message, list]]:
    """Every delivery status notification in the user's INBOX: (raw, message, recipient groups
    of its message/delivery-status part)."""
    out = []
    for raw in srv.inbox_raw(user):
        if not is_bounce(raw):
            continue
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        groups = []
        for part in msg.walk():
            if part.get_content_type() == "message/delivery-status":
                payload = part.get_payload()
                if isinstance(payload, list):
                    groups = payload[1:]
        out.append((raw, msg, groups))
    return out


def delayed_groups(srv, user: str, marker: str) -> list[email.message.Message]:
    """Per-recipient groups with `Action: delayed` of the reports about `marker`."""
    found = []
    for raw, _msg, groups in reports(srv, user):
        if marker.encode() not in raw:
            continue
        found += [g for g in groups if (g["Action"] or "").strip().lower() == "delayed"]
    return found


def final_recipient(group: email.message.Message) -> str:
    value = (group["Final-Recipient"] or "").strip()
    return value.split(";", 1)[1].strip().lower() if ";" in value else value.lower()


# --------------------------------------------------------------------------
# (a) one connection carries many messages


def test_connections_are_reused(swallow_factory, peers):
    peer = peers()
    cache_time = 2
    # Two connections at most to this destination: without reuse there would be 30.
    srv = server(swallow_factory, {"reuse.test": peer.hop},
                 {"connection_cache_time": cache_time, "initial_concurrency": 2,
                  "destination_concurrency": 2})
    n = 30
    qids = send_many(srv, [Item(f"reuse-{i}", [f"r{i}@reuse.test"]) for i in range(n)])
    wait_for(lambda: sum(peer.markers().values()) >= n, 60,
             lambda: f"{n} messages at the peer:\n{peer.transcript()}")
    markers = peer.markers()
    assert all(markers[f"reuse-{i}"] == 1 for i in range(n)), markers
    wait_queue_empty(srv)
    for q in qids:
        assert not log_lines(srv, f"queue_id={q}", "deferred"), q

    sessions = peer.snapshot()
    detail = peer.transcript()
    assert len(sessions) <= 2, f"{len(sessions)} connections for {n} messages:\n{detail}"
    ehlos = sum(s.verbs().count("EHLO") + s.verbs().count("HELO") for s in sessions)
    assert ehlos == len(sessions), f"{ehlos} EHLO for {len(sessions)} connections:\n{detail}"
    transactions = sum(s.transactions for s in sessions)
    assert transactions == n
    rsets = sum(s.verbs().count("RSET") for s in sessions)
    assert rsets >= transactions - len(sessions), f"{rsets} RSET:\n{detail}"
    for s in sessions:
        verbs = s.verbs()
        assert verbs and verbs[0] == "EHLO", f"#{s.index} does not start with EHLO: {verbs}"
        # every MAIL after the first transaction on a connection comes after a RSET
        done, rset = False, False
        for v in verbs:
            if v == "MAIL":
                assert not done or rset, f"#{s.index}: MAIL without RSET after a transaction: {verbs}"
            elif v == "RSET":
                rset = True
            elif v == "DATA":
                done, rset = True, False

    # idle longer than connection_cache_time: QUIT, then closed
    wait_for(lambda: all(s.quit and s.ended for s in peer.snapshot()), cache_time + 10,
             lambda: f"every cached connection closed with QUIT:\n{peer.transcript()}")
    assert peer.connections() == len(sessions), "a connection opened while idle"


def test_connection_reuse_limit(swallow_factory, peers):
    peer = peers()
    limit = 4
    srv = server(swallow_factory, {"reuse-limit.test": peer.hop},
                 {"connection_reuse_limit": limit, "connection_cache_time": 2,
                  "initial_concurrency": 1, "destination_concurrency": 1})
    n = 12
    send_many(srv, [Item(f"limit-{i}", [f"r{i}@reuse-limit.test"]) for i in range(n)])
    wait_for(lambda: sum(peer.markers().values()) >= n, 60,
             lambda: f"{n} messages at the peer:\n{peer.transcript()}")
    wait_for(lambda: all(s.ended for s in peer.snapshot()), 15,
             lambda: f"every connection closed:\n{peer.transcript()}")
    sessions = peer.snapshot()
    assert all(s.transactions <= limit for s in sessions), peer.transcript()
    assert len(sessions) >= n // limit, peer.transcript()
    assert all(s.quit for s in sessions), f"a connection closed without QUIT:\n{peer.transcript()}"
    assert sorted(peer.markers().values()) == [1] * n, peer.markers()


# --------------------------------------------------------------------------
# (b) the peer closed the idle connection: a fresh one, no deferral


@pytest.mark.parametrize("how", ["fin", "rst", "421", "421-at-next"])
def test_peer_closed_idle_connection(swallow_factory, peers, how):
    peer = peers(idle_close=how, idle_after=1.0)
    srv = server(swallow_factory, {"closing.test": peer.hop},
                 {"connection_cache_time": 30})
    first = send_one(srv, "closing-1", ["a@closing.test"])
    wait_for(lambda: peer.count("closing-1"), 30, "the first message at the peer")
    wait_log(srv, f"queue_id={first}", "delivered")
    if how != "421-at-next":
        wait_for(lambda: peer.snapshot()[0].closed_by_peer, 10,
                 lambda: f"the peer to drop the idle connection:\n{peer.transcript()}")
        time.sleep(0.5)
    else:
        time.sleep(1.5)
    t0 = time.monotonic()
    second = send_one(srv, "closing-2", ["b@closing.test"])
    wait_for(lambda: peer.count("closing-2"), 10,
             lambda: f"the second message at the peer within 10 s:\n{peer.transcript()}")
    took = time.monotonic() - t0
    wait_log(srv, f"queue_id={second}", "delivered", timeout=10)
    assert not log_lines(srv, f"queue_id={second}", "deferred"), \
        f"deferred after a closed cached connection: {log_lines(srv, f'queue_id={second}')}"
    assert took < 10, took
    time.sleep(1.0)
    assert peer.markers() == Counter({"closing-1": 1, "closing-2": 1}), peer.markers()
    by_marker = {a.marker: a.session for a in peer.accepted}
    assert by_marker["closing-2"] != by_marker["closing-1"], \
        f"delivered on the connection the peer closed?\n{peer.transcript()}"
    wait_queue_empty(srv)


# --------------------------------------------------------------------------
# (c) recipient limits: the peer's 452, our recipient_limit


def test_452_too_many_recipients_continues_on_the_same_connection(swallow_factory, peers):
    peer = peers(rcpt_limit=2)
    srv = server(swallow_factory, {"many.test": peer.hop})
    rcpts = [f"r{i}@many.test" for i in range(5)]
    qid = send_one(srv, "many-rcpts", rcpts)
    wait_for(lambda: sum(len(a.rcpts) for a in peer.accepted) >= 5, 30,
             lambda: f"5 recipients accepted:\n{peer.transcript()}")
    for r in rcpts:
        wait_log(srv, f"queue_id={qid}", "delivered", f"to={r}", timeout=10)
    wait_queue_empty(srv)
    time.sleep(1.0)
    got = sorted(r for a in peer.accepted for r in a.rcpts)
    assert got == rcpts, f"recipients delivered: {got}"
    assert [len(a.rcpts) for a in peer.accepted] == [2, 2, 1], peer.transcript()
    assert peer.connections() == 1, peer.transcript()
    assert not log_lines(srv, f"queue_id={qid}", "deferred"), log_lines(srv, f"queue_id={qid}")


def test_recipient_limit_splits_transactions(swallow_factory, peers):
    peer = peers()
    srv = server(swallow_factory, {"split.test": peer.hop}, {"recipient_limit": 2})
    rcpts = [f"r{i}@split.test" for i in range(5)]
    qid = send_one(srv, "split-rcpts", rcpts)
    wait_for(lambda: sum(len(a.rcpts) for a in peer.accepted) >= 5, 30,
             lambda: f"5 recipients accepted:\n{peer.transcript()}")
    wait_queue_empty(srv)
    time.sleep(1.0)
    assert sorted(r for a in peer.accepted for r in a.rcpts) == rcpts
    assert all(len(a.rcpts) <= 2 for a in peer.accepted), peer.transcript()
    assert len(peer.accepted) == 3, peer.transcript()
    rcpt_lines = [c for s in peer.snapshot() for c in s.commands if c.upper().startswith("RCPT")]
    assert len(rcpt_lines) == 5, f"a recipient beyond recipient_limit was sent: {rcpt_lines}"
    assert not log_lines(srv, f"queue_id={qid}", "deferred")


# --------------------------------------------------------------------------
# (d) a slow destination does not hold up a fast one


def test_slow_destination_does_not_block_a_fast_one(swallow_factory, peers):
    slow = peers(final_delay=5.0)
    fast = peers()
    srv = server(swallow_factory, {"slow.test": slow.hop, "fast.test": fast.hop})
    items = ([Item(f"slow-{i}", [f"r{i}@slow.test"]) for i in range(10)]
             + [Item(f"fast-{i}", [f"r{i}@fast.test"]) for i in range(20)])
    send_many(srv, items)
    seen = {}

    def fast_done():
        f = fast.count("fast-")
        if f >= 20:
            seen["slow"] = slow.count("slow-")   # read after fast: never less than it was
            return True
        return False
    wait_for(fast_done, 45, lambda: f"20 fast messages (have {fast.count('fast-')}, slow "
             f"{slow.count('slow-')}):\n{fast.transcript()}", interval=0.05)
    assert seen["slow"] < 10, \
        f"the fast destination finished only after the slow one ({seen['slow']} of 10 done)"
    wait_for(lambda: slow.count("slow-") >= 10, 50,
             lambda: f"all 10 slow messages (have {slow.count('slow-')})")
    time.sleep(1.0)
    assert sorted(fast.markers().values()) == [1] * 20
    assert sorted(slow.markers().values()) == [1] * 10
    wait_queue_empty(srv)


# --------------------------------------------------------------------------
# (e) a dead destination costs a few connections, then nothing


@pytest.mark.parametrize("kind", ["no-greeting", "refused"])
def test_dead_destination_and_idle_process(swallow_factory, peers, kind):
    n, dead_after = 1000, 3  # the figure: 1,000 queued for a dead destination
    listener = None
    if kind == "no-greeting":
        # accepts and closes at once: a connection failure we can count
        listener = ScriptPeer(lambda conn: None)
        hop = listener.hop
    else:
        hop = f"127.0.0.1:{closed_port()}"
    try:
        srv = server(swallow_factory, {"dead.test": hop},
                     {"dead_after_failures": dead_after, "min_backoff": 3600,
                      "max_backoff": 7200})
        t0 = time.time()
        send_many(srv, [Item(f"dead-{i}", [f"r{i}@dead.test"]) for i in range(n)])
        entries = wait_all_deferred(srv, n, 60)
        connections = listener.connections if listener else None
        if listener:
            # dead_after_failures, plus what was already under way (initial_concurrency)
            assert connections <= 10, f"{connections} connection attempts for {n} messages"
            assert connections >= dead_after, connections
        rs = [r for e in entries for r in e["recipients"]]
        dead = [r for r in rs if "destination dead" in r["last_error"]]
        assert len(dead) >= n - 10, (f"only {len(dead)} of {n} deferred as 'destination dead'; "
                                     f"errors: {Counter(r['last_error'] for r in rs).most_common(5)}")
        for r in rs:
            assert iso(r["next_attempt"]).timestamp() > t0 + 600, r
        # The whole log: log_text() is only its tail, and 200 "deferred" lines follow this one.
        lines = [l for l in srv.log_path.read_text(errors="replace").splitlines()
                 if "destination dead" in l and "destination=" in l]
        assert lines, "no 'destination dead' line with its destination"

        # nothing is due for an hour: the process sleeps
        time.sleep(1.0)
        pid = srv.proc.pid
        c0 = process_cpu_seconds(pid)
        time.sleep(5.0)
        used = process_cpu_seconds(pid) - c0
        assert used < 0.25, f"{used:.2f} s of CPU in 5 s with {n} deferred messages and nothing due"
        if listener:
            assert listener.connections == connections, "connection attempts while dead"
        assert len(queue_json(srv)) == n
    finally:
        if listener:
            listener.stop()


# --------------------------------------------------------------------------
# (f) a restart with a full queue: each message delivered once


def test_restart_with_a_full_queue(swallow_factory, peers):
    peer = peers(greeting="421 4.3.2 peer.test Service not available, try later")
    srv = server(swallow_factory, {"restart.test": peer.hop})
    n = 300
    qids = send_many(srv, [Item(f"restart-{i}", [f"r{i}@restart.test"]) for i in range(n)])
    assert len(set(qids)) == n
    wait_all_deferred(srv, n, 60)
    assert not peer.accepted
    assert srv.stop() == 0, "swallow serve did not exit 0 on SIGTERM"
    peer.greeting = "220 peer.test ESMTP"
    srv.start()
    srv.cli("queue", "flush")
    wait_for(lambda: len(peer.markers()) >= n, 60,
             lambda: f"{n} messages at the peer (have {len(peer.markers())})")
    wait_queue_empty(srv, timeout=30)
    time.sleep(2.0)
    markers = peer.markers()
    twice = {m: c for m, c in markers.items() if c != 1}
    assert not twice, f"delivered more than once: {twice}"
    assert set(markers) == {f"restart-{i}" for i in range(n)}
    data = b"".join(a.data for a in peer.accepted)
    for q in qids:
        assert data.count(f"id {q}".encode()) == 1, f"{q} not exactly once in the trace fields"


# --------------------------------------------------------------------------
# (g) the queue commands


def test_queue_commands(swallow_factory, peers):
    state = {"open": False}
    peer = peers(rcpt_reply=lambda a: None if state["open"] else "451 4.7.1 Try again later")
    srv = server(swallow_factory, {"q1.test": peer.hop, "q2.test": peer.hop})
    assert queue_json(srv) == []
    t0 = time.time()
    held, other, returned, gone = send_many(srv, [
        Item("cmd-held", ["x@q1.test"]), Item("cmd-other", ["y@q1.test"]),
        Item("cmd-returned", ["z@q1.test"]), Item("cmd-gone", ["w@q2.test"])])
    entries = {e["id"]: e for e in wait_all_deferred(srv, 4, 30)}
    assert set(entries) == {held, other, returned, gone}

    # --json: every field, with its type
    for e in entries.values():
        assert re.fullmatch(r"[0-9A-F]{16}", e["id"]), e
        assert e["sender"] == ALICE, e
        assert isinstance(e["size"], int) and e["size"] > 100, e
        assert abs(iso(e["arrival"]).timestamp() - t0) < 60, e
        assert e["held"] is False, e
        [r] = e["recipients"]
        assert r["state"] == "pending" and r["attempts"] == 1, r
        assert iso(r["next_attempt"]).timestamp() > time.time() + 3000, r
        assert isinstance(r["last_error"], str) and "451" in r["last_error"], r
    assert entries[gone]["recipients"][0]["address"] == "w@q2.test"

    # --destination: by recipient domain
    assert [e["id"] for e in queue_json(srv, "--destination", "q2.test")] == [gone]
    assert sorted(e["id"] for e in queue_json(srv, "--destination", "q1.test")) == \
        sorted([held, other, returned])
    assert queue_json(srv, "--destination", "nowhere.test") == []

    # show: envelope, recipients, header section
    shown = srv.cli("queue", "show", gone).stdout
    assert "Subject: cmd-gone" in shown, shown
    assert ALICE in shown and "w@q2.test" in shown, shown
    bad = srv.cli("queue", "show", "0123456789ABCDEF", check=False)
    assert bad.returncode != 0, (bad.stdout, bad.stderr)

    # delete
    srv.cli("queue", "delete", gone)
    assert gone not in {e["id"] for e in queue_json(srv)}

    # bounce: returned to the sender now, with a DSN
    srv.cli("queue", "bounce", returned)
    wait_for(lambda: [r for r in reports(srv, ALICE) if b"cmd-returned" in r[0]], 20,
             "the DSN of the returned message in alice's INBOX")
    [(raw, _msg, _groups)] = [r for r in reports(srv, ALICE) if b"cmd-returned" in r[0]]
    b = parse_bounce(raw)
    assert f"MAILER-DAEMON@{HOSTNAME}" in b.message["From"], b.message["From"]
    [g] = b.per_recipient
    assert final_recipient(g) == "z@q1.test", g.items()
    assert g["Action"].strip() == "failed", g.items()
    assert g["Status"].strip().startswith("5."), g.items()
    assert "administrator" in (b.text + str(g)).lower(), (b.text, g.items())
    assert b.returned["Subject"] == "cmd-returned"
    wait_for(lambda: returned not in {e["id"] for e in queue_json(srv)}, 10,
             "the returned message to leave the queue")

    # hold: never attempted, even when flushed
    srv.cli("queue", "hold", held)
    listed = {e["id"]: e for e in queue_json(srv)}
    assert listed[held]["held"] is True and listed[other]["held"] is False, listed
    state["open"] = True
    srv.cli("queue", "flush", "--destination", "q1.test")
    wait_for(lambda: peer.count("cmd-other"), 10, "the flushed message at the peer")
    time.sleep(3.0)
    assert not peer.count("cmd-held"), "a held message was delivered"
    listed = {e["id"]: e for e in queue_json(srv)}
    assert set(listed) == {held}, listed
    assert listed[held]["held"] is True

    # release, then flush that one message
    srv.cli("queue", "release", held)
    assert queue_json(srv)[0]["held"] is False
    srv.cli("queue", "flush", held)
    wait_for(lambda: peer.count("cmd-held"), 10, "the released message at the peer")
    wait_queue_empty(srv)
    time.sleep(1.0)
    assert peer.markers() == Counter({"cmd-other": 1, "cmd-held": 1}), peer.markers()


# --------------------------------------------------------------------------
# (h) delay warnings


def test_delay_warning_sent_once(swallow_factory, peers):
    peer = peers(rcpt_reply=lambda a: "451 4.7.1 Try again later")
    srv = server(swallow_factory, {"late.test": peer.hop},
                 {"delay_warning": 2, "min_backoff": 1, "max_backoff": 2})
    [warned, quiet] = send_many(srv, [
        Item("delay-warned", ["a1@late.test", "a2@late.test"],
             {"a2@late.test": ["NOTIFY=DELAY,FAILURE"]}),
        Item("delay-quiet", ["b1@late.test", "b2@late.test"],
             {"b1@late.test": ["NOTIFY=NEVER"], "b2@late.test": ["NOTIFY=FAILURE"]}),
    ])
    [null] = send_many(srv, [Item("delay-null", ["c1@late.test"])], sender="")

    wait_for(lambda: {final_recipient(g) for g in delayed_groups(srv, ALICE, "delay-warned")}
             >= {"a1@late.test", "a2@late.test"}, 30,
             lambda: f"delay reports for a1 and a2: {reports(srv, ALICE)}")
    wait_log(srv, f"queue_id={warned}", "delay warning sent", timeout=5)
    time.sleep(6.0)            # several more retries (1-2 s apart): no second report

    groups = delayed_groups(srv, ALICE, "delay-warned")
    per_rcpt = Counter(final_recipient(g) for g in groups)
    assert per_rcpt == Counter({"a1@late.test": 1, "a2@late.test": 1}), per_rcpt
    for g in groups:
        assert re.fullmatch(r"4\.\d{1,3}\.\d{1,3}", g["Status"].strip()), g.items()
    for raw, msg, _groups in reports(srv, ALICE):
        if b"delay-warned" in raw:
            assert msg["Return-Path"] == "<>", msg["Return-Path"]
            assert f"MAILER-DAEMON@{HOSTNAME}" in msg["From"], msg["From"]
            assert msg.get_content_type() == "multipart/report"
            assert msg.get_param("report-type") == "delivery-status"
    assert not any(b"delay-quiet" in raw for raw, _m, _g in reports(srv, ALICE)), \
        "a delay report for recipients with NOTIFY=NEVER / NOTIFY without DELAY"
    assert not log_lines(srv, f"queue_id={quiet}", "delay warning sent")
    assert not log_lines(srv, f"queue_id={null}", "delay warning sent")
    # a warning is not a failure: both still queued, nothing bounced
    ids = {e["id"] for e in queue_json(srv)}
    assert {warned, quiet, null} <= ids, ids
    assert not log_lines(srv, f"queue_id={warned}", "bounced")
