"""`swallow dns DOMAIN [--check]`: the records a domain should publish, and a check of what
the DNS actually says, against a real DNS server (dnsmasq) on a loopback port.

Printed, as zone-file lines (TTL 3600, class IN, absolute names), for example.test served by
mx.example.test: MX, SPF, one DKIM key record per key (as `swallow dkim generate` printed it),
DMARC, MTA-STS (with the policy file as `;` comments), TLS-RPT and an RFC 6186 SRV record per
enabled client listener (submission, submissions, imap, imaps, pop3, pop3s) with its port.

`--check` asks the configured resolver ([dns] nameservers) for each record and prints `ok`,
`missing` (+ `  publish: RECORD`) or `different` (+ `  published: ...`, `  expected: ...`), then
`N ok, M missing, K different`; exit status 0 only when everything is ok.

Every test here runs the CLI with the server stopped (it reads the configuration, the keys and
the DNS only); one also compares with the output while the server runs.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import pytest

from conftest import DOMAIN, HOSTNAME, free_port, register_log, unregister_log
from outbound_helpers import DNSMASQ, Dnsmasq, dns_query

pytestmark = pytest.mark.skipif(DNSMASQ is None,
                                reason="dnsmasq is not installed (Debian dnsmasq-base)")

TTL = "3600"
ABS_HOST = f"{HOSTNAME}."

# RFC 6186 (and RFC 8314 §5.1 for _submissions) service label -> listener
SRV_LISTENERS = {
    "_submission._tcp": "submission",
    "_submissions._tcp": "submissions",
    "_imap._tcp": "imap",
    "_imaps._tcp": "imaps",
    "_pop3._tcp": "pop3",
    "_pop3s._tcp": "pop3s",
}
# The listeners the fixture enables on fixed ports; pop3s (and lmtp) stay off.
ENABLED = ("smtp", "submission", "submissions", "imap", "imaps", "pop3")

ZONE_LINE = re.compile(r"^(?P<name>\S+)\s+(?P<ttl>\d+)\s+(?P<cls>IN)\s+(?P<type>[A-Z]+)\s+"
                       r"(?P<data>.*?)\s*$")
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
CHECK_LINE = re.compile(r"^(ok|missing|different)\s+(\S+)\s+([A-Za-z]+)\s*$")
SUMMARY = re.compile(r"^(\d+) ok, (\d+) missing, (\d+) different\s*$")
MTA_STS_ID = re.compile(r"(v=STSv1; id=)([A-Za-z0-9]{1,32})$")


# --------------------------------------------------------------------------
# zone-file lines


@dataclass(frozen=True)
class Record:
    name: str                 # absolute, lower case, with the trailing dot
    type: str
    ttl: str
    data: tuple[str, ...]     # TXT: the character-strings; others: the fields
    line: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)

    @property
    def text(self) -> str:
        """TXT: the strings concatenated, as a verifier reads them."""
        return "".join(self.data)

    def comparable(self) -> tuple:
        """What must match between two printings (the MTA-STS id may change over time)."""
        data = self.data
        if self.type == "TXT" and MTA_STS_ID.match(self.text):
            data = (MTA_STS_ID.sub(r"\1ID", self.text),)
        return (self.name, self.type, self.ttl, data)


def txt_strings(data: str) -> tuple[str, ...]:
    assert re.fullmatch(r'\s*(?:"(?:[^"\\]|\\.)*"\s*)+', data), f"not quoted TXT data: {data!r}"
    return tuple(re.sub(r"\\(.)", r"\1", s) for s in QUOTED.findall(data))


def parse_record(line: str) -> Record:
    m = ZONE_LINE.match(line.strip())
    assert m, f"not a zone-file line (NAME TTL IN TYPE DATA): {line!r}"
    name = m["name"].lower()
    assert name.endswith("."), f"a relative name in {line!r}"
    rtype = m["type"]
    if rtype == "TXT":
        data = txt_strings(m["data"])
        assert all(len(s) <= 255 for s in data), f"a TXT string over 255 characters: {line!r}"
    else:
        data = tuple(f.lower() for f in m["data"].split())
    return Record(name, rtype, m["ttl"], data, line.strip())


def printed(srv, domain: str = DOMAIN) -> tuple[list[Record], list[str], list[str]]:
    """`swallow dns DOMAIN`: (records, comment lines, all lines)."""
    r = srv.cli("dns", domain)
    lines = r.stdout.splitlines()
    records, comments = [], []
    for line in lines:
        s = line.strip()
        if not s:
            continue
        if s.startswith(";"):
            comments.append(s)
        else:
            records.append(parse_record(s))
    return records, comments, lines


def generate(srv, algorithm: str) -> Record:
    r = srv.cli("dkim", "generate", DOMAIN, "--algorithm", algorithm)
    lines = [l for l in r.stdout.splitlines() if "._domainkey." in l]
    assert len(lines) == 1, f"want one record line from `dkim generate`:\n{r.stdout}\n{r.stderr}"
    return parse_record(lines[0])


def dkim_p(record: Record) -> str:
    tags = dict(t.strip().partition("=")[::2] for t in record.text.split(";") if t.strip())
    return re.sub(r"\s+", "", tags["p"])


def squash(s: str) -> str:
    """A value with quotes and whitespace removed, to find a base64 key however it was split."""
    return re.sub(r'[\s"]+', "", s)


# --------------------------------------------------------------------------
# the server (never started unless a test says so) and the DNS server


@dataclass
class Zone:
    srv: object
    ports: dict[str, int]
    dkim: dict[str, Record]      # algorithm -> record as `dkim generate` printed it

    def expected(self) -> dict[tuple[str, str], object]:
        """(name, type) -> the data fields (or, for MTA-STS, a pattern of the TXT text)."""
        d = f"{DOMAIN}."
        want: dict[tuple[str, str], object] = {
            (d, "MX"): ("10", ABS_HOST),
            (d, "TXT"): ("v=spf1 mx -all",),
            (f"_dmarc.{d}", "TXT"): (f"v=DMARC1; p=quarantine; rua=mailto:postmaster@{DOMAIN}",),
            (f"_mta-sts.{d}", "TXT"): re.compile(r"v=STSv1; id=\d{1,32}"),
            (f"_smtp._tls.{d}", "TXT"): (f"v=TLSRPTv1; rua=mailto:postmaster@{DOMAIN}",),
        }
        for rec in self.dkim.values():
            want[rec.key] = rec.data
        for label, listener in SRV_LISTENERS.items():
            if listener in self.ports:
                want[(f"{label}.{d}", "SRV")] = ("0", "1", str(self.ports[listener]), ABS_HOST)
        return want


@pytest.fixture
def zone(swallow_factory) -> Zone:
    ports = {name: free_port() for name in ENABLED}
    listen = {name: [f"127.0.0.1:{port}"] for name, port in ports.items()}
    listen.update({"pop3s": [], "lmtp": []})
    srv = swallow_factory(start=False, accounts=False, listen=listen)
    keys = {a: generate(srv, a) for a in ("rsa", "ed25519")}
    return Zone(srv, ports, keys)


@pytest.fixture
def dns_factory(tmp_path):
    """make(records: list of Record or raw dnsmasq options) -> a running Dnsmasq."""
    made: list[Dnsmasq] = []

    def make(records, extra: list[str] = ()) -> Dnsmasq:
        root = tmp_path / f"dnsmasq-{len(made)}"
        root.mkdir()
        d = Dnsmasq(root, dnsmasq_options(records) + list(extra))
        made.append(d)
        register_log(f"dnsmasq ({d.log_path})", d.log_path)
        return d.start()

    yield make
    for d in made:
        d.stop()
        unregister_log(d.log_path)


def dnsmasq_options(records: list[Record]) -> list[str]:
    """dnsmasq command-line options serving these records. On the command line dnsmasq takes
    no quotes: each comma separates one TXT character-string from the next (strings longer than
    255 characters would be cut into 255-character chunks by dnsmasq itself)."""
    out = []
    for r in records:
        name = r.name.rstrip(".")
        if r.type == "MX":
            pref, target = r.data
            out.append(f"--mx-host={name},{target.rstrip('.')},{pref}")
        elif r.type == "TXT":
            assert not any("," in s for s in r.data), f"a comma in {r.line}: use a conf-file"
            out.append(f"--txt-record={name}," + ",".join(r.data))
        elif r.type == "SRV":
            priority, weight, port, target = r.data
            out.append(f"--srv-host={name},{target.rstrip('.')},{port},{priority},{weight}")
        else:
            raise AssertionError(f"no dnsmasq option for {r.line}")
    return out


def record(name: str, rtype: str, *data: str) -> Record:
    return Record(name.lower(), rtype, TTL, tuple(data), f"{name} {TTL} IN {rtype} {data}")


def wrong_key(p: str) -> str:
    """Another, well-formed public key of the same size: bytes in the middle flipped."""
    der = bytearray(base64.b64decode(p))
    for i in range(len(der) // 2, len(der) // 2 + 8):
        der[i] ^= 0x5A
    return base64.b64encode(bytes(der)).decode()


def chunks(value: str, size: int = 255) -> tuple[str, ...]:
    return tuple(value[i:i + size] for i in range(0, len(value), size))


# --------------------------------------------------------------------------
# --check output


@dataclass
class Check:
    status: dict[tuple[str, str], str]            # (name., TYPE) -> ok | missing | different
    details: dict[tuple[str, str], list[str]]     # the indented lines below each
    summary: tuple[int, int, int]
    returncode: int
    out: str


def run_check(zone: Zone, dns: Dnsmasq) -> Check:
    zone.srv.set_toml("dns", "nameservers", [dns.nameserver])
    r = zone.srv.cli("dns", DOMAIN, "--check", check=False)
    out = r.stdout
    status, details, summary, last = {}, {}, None, None
    for line in out.splitlines():
        if not line.strip():
            continue
        m = CHECK_LINE.match(line)
        if m:
            name = m[2].lower()
            key = (name if name.endswith(".") else name + ".", m[3].upper())
            assert key not in status, f"{key} checked twice:\n{out}"
            status[key], details[key], last = m[1], [], key
            continue
        m = SUMMARY.match(line.strip())
        if m:
            summary = (int(m[1]), int(m[2]), int(m[3]))
            continue
        if line[:1].isspace() and last is not None:
            details[last].append(line.strip())
    assert summary is not None, f"no `N ok, M missing, K different` line:\n{out}\n{r.stderr}"
    return Check(status, details, summary, r.returncode, out + r.stderr)


def detail(check: Check, key, label: str) -> str:
    hits = [d[len(label):].strip() for d in check.details.get(key, []) if d.startswith(label)]
    assert len(hits) == 1, f"want one `{label}` line under {key}:\n{check.out}"
    return hits[0]


def assert_statuses(check: Check, want: dict[tuple[str, str], str]):
    assert check.status == want, (
        "statuses differ:\n" + "\n".join(
            f"  {k}: got {check.status.get(k)}, want {want.get(k)}"
            for k in sorted(set(check.status) | set(want)) if check.status.get(k) != want.get(k))
        + f"\n--- output:\n{check.out}")
    counts = tuple(sum(1 for s in want.values() if s == w) for w in ("ok", "missing", "different"))
    assert check.summary == counts, (check.summary, counts, check.out)
    assert check.returncode == (0 if counts[1] == counts[2] == 0 else 1), (check.returncode,
                                                                         check.out)


def assert_publish_lines(check: Check, records: dict[tuple[str, str], Record]):
    """Each missing record says what to publish: the line `swallow dns` prints."""
    for key, s in check.status.items():
        if s != "missing":
            continue
        line = detail(check, key, "publish:")
        assert parse_record(line).comparable() == records[key].comparable(), (line, records[key])


# --------------------------------------------------------------------------
# the records


def test_prints_every_record_with_the_server_stopped_and_running(zone):
    records, comments, lines = printed(zone.srv)
    want = zone.expected()
    got = {r.key: r for r in records}
    assert len(got) == len(records), "a record printed twice:\n" + "\n".join(lines)
    assert set(got) == set(want), (
        f"missing {sorted(set(want) - set(got))}, unexpected {sorted(set(got) - set(want))}:\n"
        + "\n".join(lines))
    for key, rec in got.items():
        assert rec.ttl == TTL, rec.line
        w = want[key]
        if isinstance(w, re.Pattern):
            assert w.fullmatch(rec.text), rec.line      # RFC 8461 §3.1: id is 1-32 alphanumerics
        else:
            assert rec.data == w, f"{rec.line}\nwant {w}"
    # the DKIM records are the ones `dkim generate` printed, string for string
    for rec in zone.dkim.values():
        assert got[rec.key].data == rec.data
    # no SRV record for a listener that is off, none for smtp or lmtp
    assert not any(k[0].startswith(("_pop3s.", "_smtp._tcp", "_lmtp")) for k in got), sorted(got)

    # the MTA-STS policy file, as comments after the _mta-sts record
    sts_at = next(i for i, l in enumerate(lines) if l.strip().lower().startswith("_mta-sts."))
    for needle in ("version: STSv1", "mode: testing", f"mx: {HOSTNAME}", "max_age: 86400"):
        at = [i for i, l in enumerate(lines) if l.strip().startswith(";") and needle in l]
        assert at, f"no `; ... {needle}` comment:\n" + "\n".join(lines)
        assert at[0] > sts_at, f"`{needle}` comes before the _mta-sts record:\n" + "\n".join(lines)

    # the same while the server runs
    zone.srv.start()
    again, _, lines2 = printed(zone.srv)
    assert sorted(r.comparable() for r in again) == sorted(r.comparable() for r in records), (
        "\n".join(lines) + "\n--- while running:\n" + "\n".join(lines2))
    zone.srv.stop()


def test_check_all_published(zone, dns_factory):
    records, _, _ = printed(zone.srv)
    # what a real zone has besides: a backup MX, an unrelated TXT at the apex, the MX's address
    extra = [record(f"{DOMAIN}.", "MX", "20", f"backup.{DOMAIN}."),
             record(f"{DOMAIN}.", "TXT", "site-verification=0123456789abcdef")]
    dns = dns_factory(records + extra, [f"--host-record={HOSTNAME},127.0.0.1"])
    assert dns_query(dns.port, DOMAIN, "MX")[:2] == (0, 2)
    check = run_check(zone, dns)
    assert_statuses(check, {r.key: "ok" for r in records})
    assert check.summary == (len(records), 0, 0)
    assert check.returncode == 0


def test_check_only_mx_and_a_wrong_dkim_key(zone, dns_factory):
    records, _, _ = printed(zone.srv)
    by_key = {r.key: r for r in records}
    rsa, ed = zone.dkim["rsa"], zone.dkim["ed25519"]
    bad_p = wrong_key(dkim_p(rsa))
    bad = record(rsa.name, "TXT", *chunks(f"v=DKIM1; k=rsa; p={bad_p}"))
    mx = by_key[(f"{DOMAIN}.", "MX")]
    dns = dns_factory([mx, bad])
    check = run_check(zone, dns)

    want = {k: "missing" for k in by_key}
    want[mx.key] = "ok"
    want[rsa.key] = "different"
    assert_statuses(check, want)
    assert check.summary == (1, len(records) - 2, 1)
    assert check.returncode == 1
    assert_publish_lines(check, by_key)
    assert detail(check, ed.key, "publish:")  # the ed25519 key's record, as printed
    published = squash(detail(check, rsa.key, "published:"))
    expected = squash(detail(check, rsa.key, "expected:"))
    assert bad_p in published and dkim_p(rsa) not in published, check.out
    assert dkim_p(rsa) in expected, check.out


def test_check_different_values(zone, dns_factory):
    records, _, _ = printed(zone.srv)
    by_key = {r.key: r for r in records}
    d = f"{DOMAIN}."
    rsa, ed = zone.dkim["rsa"], zone.dkim["ed25519"]
    sub, imaps, imap = (f"_submission._tcp.{d}", "SRV"), (f"_imaps._tcp.{d}", "SRV"), \
        (f"_imap._tcp.{d}", "SRV")
    wrong_port = next(p for p in range(40000, 40100) if p not in zone.ports.values())
    served = [
        record(d, "MX", "10", "mail.elsewhere.test."),                  # not us
        record(d, "TXT", "v=spf1 a -all"),                              # another SPF policy
        record(f"_dmarc.{d}", "TXT", "v=DMARC1; p=none"),               # any DMARC1 is ok
        record(f"_mta-sts.{d}", "TXT", "v=STSv1; id=20240101"),         # any STSv1 is ok
        record(f"_smtp._tls.{d}", "TXT", "v=TLSRPTv1; rua=mailto:tls@elsewhere.test"),
        rsa,                                                            # the right key
        record(sub[0], "SRV", "0", "1", str(wrong_port), ABS_HOST),     # wrong port
        record(imaps[0], "SRV", "0", "1", str(zone.ports["imaps"]), "imap.elsewhere.test."),
        by_key[imap],                                                   # right
    ]
    dns = dns_factory(served, ["--host-record=mail.elsewhere.test,127.0.0.9"])
    check = run_check(zone, dns)

    want = {k: "missing" for k in by_key}
    for k in ((f"_dmarc.{d}", "TXT"), (f"_mta-sts.{d}", "TXT"), (f"_smtp._tls.{d}", "TXT"),
              rsa.key, imap):
        want[k] = "ok"
    for k in ((d, "MX"), (d, "TXT"), sub, imaps):
        want[k] = "different"
    assert want[ed.key] == "missing"
    assert_statuses(check, want)
    assert check.returncode == 1
    assert_publish_lines(check, by_key)

    assert "mail.elsewhere.test" in detail(check, (d, "MX"), "published:"), check.out
    assert HOSTNAME in detail(check, (d, "MX"), "expected:"), check.out
    assert "v=spf1 a -all" in detail(check, (d, "TXT"), "published:"), check.out
    assert "v=spf1 mx -all" in detail(check, (d, "TXT"), "expected:"), check.out
    assert str(wrong_port) in detail(check, sub, "published:"), check.out
    assert str(zone.ports["submission"]) in detail(check, sub, "expected:"), check.out
    assert "imap.elsewhere.test" in detail(check, imaps, "published:"), check.out
    assert HOSTNAME in detail(check, imaps, "expected:"), check.out
