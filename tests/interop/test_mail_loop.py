"""Mail whose best MX is this server itself bounces at once (5.4.6, as Postfix says it) instead
of going round in circles (security audit, issue 8).

dnsmasq serves:

    loop.test   MX 10 mx.loop.test    mx.loop.test     A 127.0.0.77  (Swallow's own smtp address)
    named.test  MX 10 mx.example.test mx.example.test  A 127.0.0.78  (our host name; nothing there)
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import ALICE, ALICE_PASSWORD, HOSTNAME
from outbound_helpers import (DNSMASQ, Dnsmasq, is_bounce, message, parse_bounce, queue_list,
                              require_port_25, submit, wait_for)

pytestmark = [
    pytest.mark.skipif(DNSMASQ is None, reason="dnsmasq is not installed (Debian dnsmasq-base)"),
]

OWN_IP = "127.0.0.77"
OTHER_IP = "127.0.0.78"


@pytest.fixture(scope="module")
def dns():
    root = tempfile.mkdtemp(prefix="swallow-interop-dnsmasq-loop-")
    d = Dnsmasq(Path(root), [
        "--mx-host=loop.test,mx.loop.test,10", f"--host-record=mx.loop.test,{OWN_IP}",
        f"--mx-host=named.test,{HOSTNAME},10", f"--host-record={HOSTNAME},{OTHER_IP}",
    ])
    try:
        yield d.start()
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("domain", ["loop.test", "named.test"])
def test_best_mx_is_myself_bounces_with_5_4_6(swallow_factory, dns, domain):
    require_port_25(OWN_IP)
    srv = swallow_factory(listen={"smtp": [f"{OWN_IP}:25"]},
                          settings={"dns": {"nameservers": [dns.nameserver]},
                                    "queue": {"min_backoff": 1, "max_backoff": 2}})
    rcpt = f"someone@{domain}"
    marker = f"loop-{domain}"
    submit("127.0.0.1", srv.submission, ALICE, [rcpt], message(marker, ALICE, rcpt),
           user=ALICE, password=ALICE_PASSWORD)

    raw = wait_for(lambda: next((m for m in srv.inbox_raw(ALICE)
                                 if is_bounce(m) and marker.encode() in m), None),
                   30, f"a bounce about {marker}")
    b = parse_bounce(raw)
    assert [g["Status"] for g in b.per_recipient] == ["5.4.6"], [g.items() for g in b.per_recipient]
    assert f"mail for {domain} loops back to myself" in b.text, b.text
    # Sent once, never to ourselves: the returned header holds only the submission's Received.
    assert len(b.returned.get_all("Received") or []) == 1, b.returned.get_all("Received")
    assert queue_list(srv) == []
