"""A 250 is a promise: SIGKILL right after it, restart on the same data, the mail is there."""

from __future__ import annotations

import re
import smtplib
import threading

from conftest import ALICE, BOB, strip_added_headers, to_lf

QUEUED = re.compile(rb"^2\.0\.0 Ok: queued as ([0-9A-Fa-f]{16})$")


def raw_message(marker: str, to: str = ALICE) -> bytes:
    return (f"From: <sender@outside.test>\r\nTo: <{to}>\r\nSubject: {marker}\r\n"
            f"Message-ID: <{marker}@outside.test>\r\n\r\nbody of {marker}\r\n").encode()


def send(port: int, marker: str, rcpts=(ALICE,)) -> str:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.outside.test")
        assert s.mail("sender@outside.test")[0] == 250
        for r in rcpts:
            assert s.rcpt(r)[0] == 250
        code, text = s.data(raw_message(marker, rcpts[0]))
        assert code == 250, (code, text)
        m = QUEUED.match(text)
        assert m, text
        return m.group(1).decode()


def test_sigkill_right_after_250_loses_nothing(swallow):
    raw = raw_message("durable-marker")
    with smtplib.SMTP("127.0.0.1", swallow.smtp, timeout=30) as s:
        s.ehlo("client.outside.test")
        assert s.mail("sender@outside.test")[0] == 250
        assert s.rcpt(ALICE)[0] == 250
        assert s.rcpt(BOB)[0] == 250
        code, text = s.data(raw)
        swallow.kill()                     # the very next thing after reading the 250
        assert code == 250 and QUEUED.match(text), (code, text)
        qid = QUEUED.match(text).group(1)
    swallow.start()
    for user in (ALICE, BOB):
        msgs = swallow.wait_inbox_raw(user, 1, timeout=30)
        hits = [m for m in msgs if b"durable-marker" in m]
        assert len(hits) == 1, f"{user}: {len(hits)} copies after crash and restart"
        assert strip_added_headers(hits[0]) == to_lf(raw)
        assert qid in hits[0]


def test_sigkill_after_many_concurrent_250s(swallow):
    """Several sessions at once (group commit territory); kill after the last 250."""
    acked: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int):
        try:
            for j in range(5):
                marker = f"burst-{i}-{j}-marker"
                send(swallow.smtp, marker)
                with lock:
                    acked.append(marker)
        except BaseException as e:      # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    swallow.kill()
    assert not errors, errors
    assert len(acked) == 30
    swallow.start()
    msgs = swallow.wait_inbox_raw(ALICE, len(acked), timeout=60)
    for marker in acked:
        n = sum(marker.encode() + b"\n" in m for m in msgs)
        assert n == 1, f"{marker}: {n} copies after crash and restart"
    assert len(msgs) == len(acked), "more messages than were acknowledged"


def test_sigkill_mid_data_then_restart_serves(swallow):
    """Killed in the middle of DATA: nothing half-stored, and the restarted server works."""
    s = smtplib.SMTP("127.0.0.1", swallow.smtp, timeout=30)
    try:
        s.ehlo("client.outside.test")
        assert s.mail("sender@outside.test")[0] == 250
        assert s.rcpt(ALICE)[0] == 250
        assert s.docmd("DATA")[0] == 354
        s.send(b"Subject: half-marker\r\n\r\n" + b"z" * 100000)
        swallow.kill()
    finally:
        s.close()
    swallow.start()
    left = swallow.settle(ALICE)
    assert not any(b"half-marker" in m for m in left), left


def test_sigterm_stops_cleanly(swallow):
    send(swallow.smtp, "before-term-marker")
    rc = swallow.stop()
    assert rc == 0, f"swallow serve exited {rc} on SIGTERM (None = had to be killed)"
    swallow.start()
    msgs = swallow.wait_inbox_raw(ALICE, 1)
    assert sum(b"before-term-marker" in m for m in msgs) == 1
