"""GET /metrics on the admin listener as Prometheus reads it: text format 0.0.4 parsed by the
official Python client's parser (PyPI prometheus_client), well formed (valid names, one TYPE per
family, cumulative histogram buckets), served without a token, and with counters that move
when real clients use the server: smtplib sending mail, imaplib logging in and reading it.

The metric names are the server's to choose; a counter "about SMTP" is one whose sample name or
a label value contains `smtp` (likewise `imap`, and `deliver` for delivered mail)."""

from __future__ import annotations

import imaplib
import math
import re
import smtplib

import pytest

from conftest import ALICE, ALICE_PASSWORD, http_request
from outbound_helpers import wait_for

parser = pytest.importorskip("prometheus_client.parser",
                             reason="prometheus_client is not installed (pip install prometheus_client)")

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@pytest.fixture
def srv(swallow_factory):
    """A server with the admin listener and plaintext IMAP on 127.0.0.1 (alice and bob)."""
    return swallow_factory(listeners=("admin", "imap"), allow_plaintext=True)


def scrape(srv) -> tuple[str, list]:
    """GET /metrics without credentials; returns (text, parsed families)."""
    r = http_request(srv.ports["admin"], "GET", "/metrics")
    assert r.status == 200, r
    ctype = (r.headers.get("Content-Type") or "").lower().replace(" ", "")
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, ctype
    text = r.text
    try:
        families = list(parser.text_string_to_metric_families(text))
    except Exception as e:   # the parser raises ValueError and friends on bad lines
        raise AssertionError(f"/metrics does not parse as Prometheus text ({e!r}):\n{text[:3000]}") from None
    return text, families


Key = tuple[str, tuple[tuple[str, str], ...]]


def counters(families) -> dict[Key, float]:
    """Every counter sample (not its _created timestamp): (name, labels) -> value."""
    out: dict[Key, float] = {}
    for f in families:
        if f.type != "counter":
            continue
        for s in f.samples:
            if s.name.endswith("_created"):
                continue
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def about(key: Key, word: str) -> bool:
    name, labels = key
    return word in name.lower() or any(word in v.lower() for _k, v in labels)


def moved(before: dict[Key, float], after: dict[Key, float], word: str) -> dict[Key, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items()
            if about(k, word) and v - before.get(k, 0.0) > 0}


def test_metrics_text_format_is_well_formed(srv):
    """/metrics needs no token, says text/plain version 0.0.4, parses with prometheus_client,
    and is well formed: valid metric and label names, each `# TYPE` once, at least one counter,
    counters finite and >= 0, histogram buckets cumulative with +Inf equal to _count."""
    text, families = scrape(srv)
    assert text.endswith("\n"), "the exposition must end with a line feed"
    assert families, text[:2000]
    types = re.findall(r"(?m)^# TYPE (\S+) ", text)
    dup = {t for t in types if types.count(t) > 1}
    assert not dup, f"TYPE given twice for {dup}"
    assert any(f.type == "counter" for f in families), [(f.name, f.type) for f in families]
    for f in families:
        for s in f.samples:
            assert METRIC_NAME.fullmatch(s.name), s
            assert all(LABEL_NAME.fullmatch(k) and not k.startswith("__") for k in s.labels), s
            if f.type == "counter":
                assert math.isfinite(s.value) and s.value >= 0, s
        if f.type == "histogram":
            series: dict[tuple, list[tuple[float, float]]] = {}
            counts: dict[tuple, float] = {}
            for s in f.samples:
                rest = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                if s.name.endswith("_bucket"):
                    series.setdefault(rest, []).append((float(s.labels["le"]), s.value))
                elif s.name.endswith("_count"):
                    counts[rest] = s.value
            for rest, buckets in series.items():
                buckets.sort()
                values = [v for _le, v in buckets]
                assert values == sorted(values), f"{f.name}{dict(rest)} buckets not cumulative: {buckets}"
                assert buckets[-1][0] == math.inf, f"{f.name}{dict(rest)} has no +Inf bucket"
                if rest in counts:
                    assert buckets[-1][1] == counts[rest], f"{f.name}{dict(rest)}: +Inf != _count"


def test_counters_move_with_smtp_and_imap_traffic(srv):
    """Two messages sent with smtplib and read back with imaplib move a counter about SMTP, one
    about IMAP and one about delivered mail; no counter goes down between two scrapes."""
    _text, fams0 = scrape(srv)
    before = counters(fams0)

    for i in range(2):
        with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=30) as s:
            s.sendmail("someone@outside.test", [ALICE],
                       f"Subject: metrics-{i}\r\nFrom: someone@outside.test\r\n"
                       f"Message-ID: <metrics-{i}@interop.test>\r\n\r\nbody {i}\r\n".encode())
    srv.wait_inbox(ALICE, count=2)
    with imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=30) as m:
        assert m.login(ALICE, ALICE_PASSWORD)[0] == "OK"
        assert m.select("INBOX")[0] == "OK"
        typ, data = m.fetch("1:*", "(BODY.PEEK[])")
        assert typ == "OK" and sum(1 for d in data if isinstance(d, tuple)) == 2, data
        m.logout()

    last: dict[Key, float] = {}

    def all_moved():
        nonlocal last
        last = counters(scrape(srv)[1])
        return all(moved(before, last, w) for w in ("smtp", "imap", "deliver"))
    wait_for(all_moved, 10, lambda: (
        "counters about smtp, imap and deliver to move; moved: "
        f"{ {w: moved(before, last, w) for w in ('smtp', 'imap', 'deliver')} }\n"
        f"counters now: {sorted(last)}"))

    went_down = {k: (before[k], v) for k, v in last.items() if k in before and v < before[k]}
    assert not went_down, f"counters decreased: {went_down}"

    # Named series an operator's dashboards rely on (README "Operating Swallow").
    _text, fams = scrape(srv)
    local = [s for f in fams for s in f.samples
             if s.name == "swallow_delivery_latency_seconds_count" and s.labels.get("where") == "local"]
    assert local and local[0].value >= 2, f"accept → mailbox latency not recorded: {local}"
    delivered = [s for f in fams for s in f.samples
                 if s.name == "swallow_messages_delivered_total" and s.labels.get("where") == "local"]
    assert delivered and delivered[0].value >= 2, delivered
