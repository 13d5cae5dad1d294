"""Inbound SPF (RFC 7208), DKIM verification (RFC 6376, RFC 8463), DMARC (RFC 7489) and the
Authentication-Results field (RFC 8601), checked against tools nobody here wrote: dnsmasq
serves the senders' zones on a loopback port, dkimpy signs (and re-verifies what was stored),
pyspf computes the SPF result Swallow should find, authres parses the stored field.

Mail from a client that is neither authenticated nor in `relay.trusted_networks` (here: every
server runs with `trusted_networks = []`, smtplib connects from 127.0.0.1 to the smtp port) is
checked; the stored copy, read over IMAP, carries one field

    Authentication-Results: mx.example.test;
    <TAB>spf=RESULT [(reason)] smtp.mailfrom=SENDER        (smtp.helo=HELO for MAIL FROM:<>)
    <TAB>dkim=RESULT [(reason)] header.d=D header.s=S header.a=ALG header.b=FIRST8   (per signature,
                                                                  or dkim=none when unsigned)
    <TAB>dmarc=RESULT [(p=POLICY dis=DISPOSITION)] header.from=DOMAIN

A DMARC failure under p=reject is answered at DATA with `550 5.7.1 DMARC policy of DOMAIN
rejects ...` unless `[authentication] dmarc_reject = false`. Incoming Authentication-Results
fields claiming our authserv-id are removed (RFC 8601 §5), others kept. Authenticated
submission and trusted networks get no such field. The trace's `received` event carries the
summary (`spf=pass dkim=pass dmarc=pass`).

The zone (client address 127.0.0.1; anything else under .test is NXDOMAIN):

    sender.test       v=spf1 ip4:127.0.0.1 -all        _dmarc: p=reject
                      sel._domainkey RSA, ed._domainkey Ed25519
    mail.sender.test  v=spf1 ip4:127.0.0.1 -all        (relaxed SPF alignment with sender.test)
    other.test        sel._domainkey RSA               (no SPF, no DMARC)
    failing.test      v=spf1 ip4:192.0.2.1 -all        _dmarc: p=reject
    quar.test         v=spf1 ip4:192.0.2.1 -all        _dmarc: p=quarantine
    nonepol.test      v=spf1 ip4:192.0.2.1 -all        _dmarc: p=none
    strict.test       sel._domainkey RSA               _dmarc: p=quarantine; adkim=s
    aspf.test         mail.aspf.test: ip4:127.0.0.1    _dmarc: p=quarantine; aspf=s
    sp.test                                            _dmarc: p=reject; sp=none
    helo.test         mail.helo.test: ip4:127.0.0.1, bad.helo.test: -all   _dmarc: p=reject
    softfail.test ~all, neutral.test ?all, nospf.test (MX only), twospf.test (two v=spf1),
    badsyntax.test (unknown mechanism), inc.test, incnone.test, amech.test, mxmech.test,
    redirect.test, cidr.test, macro.test (exists:%{i}...): for the pyspf cross-check.

Needs dnsmasq (Debian dnsmasq-base), openssl, dkimpy with PyNaCl (`pip install
'dkimpy[ed25519]'`, which brings dnspython), authres and pyspf (`pip install authres pyspf`);
Debian's publicsuffix gives the server its Public Suffix List.
"""

from __future__ import annotations

import base64
import email.utils
import imaplib
import json
import re
import shutil
import smtplib
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import (ALICE, ALICE_PASSWORD, HOSTNAME, register_log, tls_client_context,
                      unregister_log)
from outbound_helpers import DNSMASQ, QUEUED, Dnsmasq, submit, wait_for

try:
    import dkim
except ImportError:          # pragma: no cover - depends on the machine
    dkim = None
try:
    import nacl.encoding
    import nacl.signing
except ImportError:          # pragma: no cover
    nacl = None
try:
    import authres
except ImportError:          # pragma: no cover
    authres = None
try:
    import spf
except ImportError:          # pragma: no cover
    spf = None
try:
    import dns.exception
    import dns.resolver
except ImportError:          # pragma: no cover
    dns = None

OPENSSL = shutil.which("openssl")

pytestmark = [
    pytest.mark.skipif(DNSMASQ is None, reason="dnsmasq is not installed (Debian dnsmasq-base)"),
    pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed (Debian openssl)"),
    pytest.mark.skipif(dkim is None or nacl is None or dns is None,
                       reason="dkimpy with Ed25519 is not installed (pip install 'dkimpy[ed25519]')"),
    pytest.mark.skipif(authres is None, reason="authres is not installed (pip install authres)"),
]
needs_pyspf = pytest.mark.skipif(spf is None, reason="pyspf is not installed (pip install pyspf)")

CLIENT_IP = "127.0.0.1"
CLIENT_HELO = "client.outside.test"
OTHER_IP = "192.0.2.1"            # TEST-NET-1: never the client

SPF_RESULTS = {"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"}
DKIM_RESULTS = {"none", "pass", "fail", "neutral", "policy", "temperror", "permerror"}
DMARC_RESULTS = {"none", "pass", "fail", "temperror", "permerror"}


# --------------------------------------------------------------------------
# keys (made here, published through dnsmasq)


@dataclass(frozen=True)
class RSAKey:
    pem: bytes            # PKCS#1 PEM, as dkimpy signs with
    p: str                # SubjectPublicKeyInfo, base64

    @property
    def record(self) -> str:
        return f"v=DKIM1; k=rsa; p={self.p}"


@dataclass(frozen=True)
class EdKey:
    seed: bytes           # base64 of the 32-byte private seed, as dkimpy signs with
    p: str                # the raw 32-byte public key, base64 (RFC 8463 §4.2)

    @property
    def record(self) -> str:
        return f"v=DKIM1; k=ed25519; p={self.p}"


def new_rsa_key() -> RSAKey:
    pkcs8 = subprocess.run([OPENSSL, "genpkey", "-algorithm", "RSA", "-pkeyopt",
                            "rsa_keygen_bits:2048"], capture_output=True, check=True).stdout
    pem = subprocess.run([OPENSSL, "rsa", "-traditional"], input=pkcs8, capture_output=True,
                         check=True).stdout
    der = subprocess.run([OPENSSL, "rsa", "-pubout", "-outform", "DER"], input=pem,
                         capture_output=True, check=True).stdout
    return RSAKey(pem, base64.b64encode(der).decode())


def new_ed_key() -> EdKey:
    sk = nacl.signing.SigningKey.generate()
    return EdKey(base64.b64encode(bytes(sk)), base64.b64encode(bytes(sk.verify_key)).decode())


@dataclass
class Keys:
    rsa: RSAKey
    ed: EdKey
    unpublished: RSAKey


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(new_rsa_key(), new_ed_key(), new_rsa_key())


# --------------------------------------------------------------------------
# the zone


SPF_RECORDS: dict[str, list[str]] = {
    "sender.test": [f"v=spf1 ip4:{CLIENT_IP} -all"],
    "mail.sender.test": [f"v=spf1 ip4:{CLIENT_IP} -all"],
    "failing.test": [f"v=spf1 ip4:{OTHER_IP} -all"],
    "quar.test": [f"v=spf1 ip4:{OTHER_IP} -all"],
    "nonepol.test": [f"v=spf1 ip4:{OTHER_IP} -all"],
    "softfail.test": [f"v=spf1 ip4:{OTHER_IP} ~all"],
    "neutral.test": ["v=spf1 ?all"],
    "twospf.test": [f"v=spf1 ip4:{CLIENT_IP} -all", "v=spf1 -all"],        # RFC 7208 §4.5
    "badsyntax.test": [f"v=spf1 ip4:{CLIENT_IP} frobnicate:x -all"],       # §4.6, §5
    "inc.test": ["v=spf1 include:sender.test -all"],
    "incnone.test": ["v=spf1 include:nospf.test -all"],                     # §5.2: permerror
    "amech.test": ["v=spf1 a:host.amech.test -all"],
    "mxmech.test": ["v=spf1 mx -all"],
    "redirect.test": ["v=spf1 redirect=failing.test"],
    "cidr.test": ["v=spf1 ip4:127.0.0.0/8 -all"],
    "macro.test": ["v=spf1 exists:%{i}._spf.macro.test -all"],             # §7
    "mail.helo.test": [f"v=spf1 ip4:{CLIENT_IP} -all"],
    "bad.helo.test": ["v=spf1 -all"],
    "mail.aspf.test": [f"v=spf1 ip4:{CLIENT_IP} -all"],
    "header-b.test": [f"v=spf1 ip4:{CLIENT_IP} -all"],
}
DMARC_RECORDS = {
    "sender.test": "v=DMARC1; p=reject",
    "failing.test": "v=DMARC1; p=reject",
    "quar.test": "v=DMARC1; p=quarantine",
    "nonepol.test": "v=DMARC1; p=none",
    "strict.test": "v=DMARC1; p=quarantine; adkim=s",
    "aspf.test": "v=DMARC1; p=quarantine; aspf=s",
    "sp.test": "v=DMARC1; p=reject; sp=none",
    "helo.test": "v=DMARC1; p=reject",
}
HOSTS = {
    "host.amech.test": "127.0.0.1",
    "mx.mxmech.test": "127.0.0.1",
    "mx.nospf.test": "192.0.2.25",
    f"{CLIENT_IP}._spf.macro.test": "127.0.0.2",
}
MX = {"mxmech.test": "mx.mxmech.test", "nospf.test": "mx.nospf.test"}


def zone_options(k: Keys) -> list[str]:
    """dnsmasq options serving the zone. TXT values longer than 255 characters are cut into
    255-character strings by dnsmasq itself (a verifier concatenates them, RFC 6376 §3.6.2.2)."""
    opts = []
    for name, values in SPF_RECORDS.items():
        opts += [f"--txt-record={name},{v}" for v in values]
    opts += [f"--txt-record=_dmarc.{name},{v}" for name, v in DMARC_RECORDS.items()]
    dkim_records = {
        "sel._domainkey.sender.test": k.rsa.record,
        "ed._domainkey.sender.test": k.ed.record,
        "sel._domainkey.other.test": k.rsa.record,
        "sel._domainkey.strict.test": k.rsa.record,
        "sel._domainkey.header-b.test": k.rsa.record,
    }
    opts += [f"--txt-record={name},{v}" for name, v in dkim_records.items()]
    opts += [f"--host-record={name},{ip}" for name, ip in HOSTS.items()]
    opts += [f"--mx-host={name},{target},10" for name, target in MX.items()]
    assert not any("," in v for vs in SPF_RECORDS.values() for v in vs)
    return opts


def resolver(port: int) -> "dns.resolver.Resolver":
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = port
    r.lifetime = 5
    return r


def txt(port: int, name: str) -> list[str] | None:
    """The TXT records at `name` (strings of each concatenated); None for NXDOMAIN."""
    try:
        ans = resolver(port).resolve(name, "TXT", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return None
    return [b"".join(r.strings).decode() for r in (ans.rrset or [])]


@pytest.fixture(scope="module")
def zone(keys):
    root = tempfile.mkdtemp(prefix="swallow-interop-inbound-dns-")
    d = Dnsmasq(Path(root), zone_options(keys))
    try:
        d.start()
        # the peer says what the tests assume
        assert txt(d.port, "sender.test") == SPF_RECORDS["sender.test"]
        assert sorted(txt(d.port, "twospf.test")) == sorted(SPF_RECORDS["twospf.test"])
        assert txt(d.port, "sel._domainkey.sender.test") == [keys.rsa.record]
        assert txt(d.port, "ed._domainkey.sender.test") == [keys.ed.record]
        assert txt(d.port, "_dmarc.sender.test") == [DMARC_RECORDS["sender.test"]]
        assert txt(d.port, "gone._domainkey.sender.test") is None
        assert txt(d.port, "_dmarc.sub.sender.test") is None
        assert txt(d.port, "nosuch.test") is None
        assert not txt(d.port, "nospf.test")          # NODATA (it has an MX) or NXDOMAIN
        yield d
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dns_zone(zone):
    """The zone, with dnsmasq's query log attached to a failing test's report."""
    register_log(f"dnsmasq ({zone.log_path})", zone.log_path)
    yield zone
    unregister_log(zone.log_path)


@pytest.fixture
def receiver(swallow_factory, dns_zone):
    """make(trusted=False, **authentication) -> a running server for example.test (alice, bob)
    with IMAP, resolving through the zone; no trusted network unless `trusted`; extra keys go
    to `[authentication]` (e.g. dmarc_reject=False)."""
    def make(trusted: bool = False, **authentication):
        settings: dict[str, dict[str, object]] = {"dns": {"nameservers": [dns_zone.nameserver]}}
        if not trusted:
            settings["relay"] = {"trusted_networks": []}
        if authentication:
            settings["authentication"] = dict(authentication)
        return swallow_factory(listeners=("imap",), settings=settings)
    return make


# --------------------------------------------------------------------------
# messages, signing, sending, reading


def make_message(marker: str, from_addr: str, extra: str = "", body: str | None = None,
                 top: str = "") -> bytes:
    """A message with CRLF line ends. `top`: fields put above From (e.g. an incoming
    Authentication-Results); `extra`: fields below the usual ones."""
    return (f"{top}"
            f"From: Sender <{from_addr}>\r\n"
            f"To: Alice <{ALICE}>\r\n"
            f"Subject: {marker}\r\n"
            f"Date: {email.utils.formatdate(localtime=False)}\r\n"
            f"Message-ID: <{marker}@interop.test>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"{extra}"
            "\r\n"
            + (body if body is not None else
               f"Hello Alice, this is {marker}.\r\n"
               ".a line that starts with a dot\r\n"
               "\r\n"
               "tamper-target: the last words\r\n")).encode()


def sign(raw: bytes, domain: str, selector: str, key, length: bool = False) -> bytes:
    """raw with a DKIM-Signature by dkimpy on top (relaxed/relaxed)."""
    if isinstance(key, EdKey):
        alg, private = b"ed25519-sha256", key.seed
    else:
        alg, private = b"rsa-sha256", key.pem
    sig = dkim.sign(raw, selector.encode(), domain.encode(), private,
                    canonicalize=(b"relaxed", b"relaxed"), signature_algorithm=alg,
                    length=length)
    return sig + raw


def signature_b(raw: bytes, selector: str) -> str:
    """The b= value (whitespace removed) of the DKIM-Signature with s=selector."""
    for name, value in header_fields(raw):
        if name.lower() == "dkim-signature":
            tags = {t.split("=", 1)[0].strip(): re.sub(r"\s+", "", t.split("=", 1)[1])
                    for t in value.split(";") if "=" in t}
            if tags.get("s") == selector:
                return tags["b"]
    raise AssertionError(f"no DKIM-Signature with s={selector}")


def dkimpy_dnsfunc(port: int):
    """dkimpy's dnsfunc, asking dnsmasq (so the test checks what the server will find)."""
    def lookup(name, timeout=5):
        n = (name.decode() if isinstance(name, bytes) else name).rstrip(".")
        records = txt(port, n)
        return records[0].encode() if records else None
    return lookup


def dkimpy_verifies(raw: bytes, port: int, idx: int = 0) -> bool:
    d = dkim.DKIM(raw, minkey=1024)
    try:
        return bool(d.verify(idx=idx, dnsfunc=dkimpy_dnsfunc(port)))
    except dkim.DKIMException:
        return False


@dataclass
class Reply:
    code: int
    text: str
    queue_id: str | None


def send(srv, raw: bytes, mail_from: str, helo: str = CLIENT_HELO, rcpt: str = ALICE) -> Reply:
    """One transaction on the smtp port from 127.0.0.1 (no TLS, no AUTH); MAIL and RCPT must
    be accepted; returns the reply to DATA."""
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=60) as s:
        s.ehlo(helo)
        code, text = s.mail(mail_from)
        assert code == 250, ("MAIL", mail_from, code, text)
        code, text = s.rcpt(rcpt)
        assert code in (250, 251), ("RCPT", rcpt, code, text)
        code, text = s.data(raw)
        text = text.decode("utf-8", "replace")
        m = QUEUED.match(text) if code == 250 else None
        return Reply(code, text, m.group(1) if m else None)


def deliver(srv, raw: bytes, mail_from: str, helo: str = CLIENT_HELO) -> str:
    r = send(srv, raw, mail_from, helo)
    assert r.code == 250 and r.queue_id, f"DATA answered {r.code} {r.text}"
    return r.queue_id


def imap_messages(srv, user: str = ALICE, password: str = ALICE_PASSWORD, mailbox: str = "INBOX") -> list[bytes]:
    m = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=30)
    try:
        m.starttls(ssl_context=tls_client_context())
        m.login(user, password)
        typ, data = m.select(mailbox, readonly=True)
        assert typ == "OK", data
        if int(data[0]) == 0:
            return []
        typ, data = m.fetch("1:*", "(BODY.PEEK[])")
        assert typ == "OK", data
        return [item[1] for item in data if isinstance(item, tuple)]
    finally:
        try:
            m.logout()
        except Exception:   # noqa: BLE001 - best effort
            pass


def mid(marker: str) -> bytes:
    return f"<{marker}@interop.test>".encode()


def fetch(srv, marker: str, timeout: float = 20.0, mailbox: str = "INBOX") -> bytes:
    """The one message of alice's INBOX (or `mailbox`) whose Message-ID is <marker@interop.test>,
    over IMAP."""
    def look():
        hits = [m for m in imap_messages(srv, mailbox=mailbox) if mid(marker) in m]
        assert len(hits) <= 1, f"{len(hits)} messages with {marker!r}"
        return hits[0] if hits else None
    return wait_for(look, timeout, f"{marker!r} in alice's {mailbox} over IMAP", interval=0.2)


# --------------------------------------------------------------------------
# reading Authentication-Results


def header_block(raw: bytes) -> bytes:
    return re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]


def raw_fields(raw: bytes) -> list[bytes]:
    """Each header field as it is in the message (continuation lines and CRLF included)."""
    head = header_block(raw) + b"\r\n"
    out: list[bytes] = []
    for line in re.findall(rb"[^\n]*\n", head):
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += line
        else:
            out.append(line)
    return out


def header_fields(raw: bytes) -> list[tuple[str, str]]:
    """(name, unfolded value) of every header field, in order."""
    fields = []
    for f in raw_fields(raw):
        text = f.decode("utf-8", "replace")
        name, _, value = text.partition(":")
        fields.append((name.strip(), re.sub(r"\r?\n", "", value).strip()))
    return fields


@dataclass
class Clause:
    method: str
    result: str
    comment: str | None                     # the comment right after the result
    props: dict[str, str] = field(default_factory=dict)          # "header.d" -> value
    raw_values: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> (kind, text)

    def __str__(self):
        return (f"{self.method}={self.result}" + (f" ({self.comment})" if self.comment else "")
                + "".join(f" {k}={v}" for k, v in self.props.items()))


@dataclass
class Results:
    raw: str                                # the field as stored, with its line ends
    authserv_id: str
    clauses: list[Clause]

    def of(self, method: str) -> list[Clause]:
        return [c for c in self.clauses if c.method == method]

    def one(self, method: str) -> Clause:
        found = self.of(method)
        assert len(found) == 1, f"want one {method}= clause: {self.raw!r}"
        return found[0]

    @property
    def spf(self) -> Clause:
        return self.one("spf")

    @property
    def dmarc(self) -> Clause:
        return self.one("dmarc")

    @property
    def dkim(self) -> list[Clause]:
        return self.of("dkim")


def tokenize(value: str) -> list[tuple[str, str]]:
    """RFC 8601 §2.2 lexically: ("word"|"quoted"|"comment"|";"|"=", text)."""
    out, i, n = [], 0, len(value)
    while i < n:
        c = value[i]
        if c in " \t\r\n":
            i += 1
        elif c in ";=":
            out.append((c, c))
            i += 1
        elif c == "(":
            depth, j, buf = 0, i, []
            while j < n:
                ch = value[j]
                if ch == "\\" and j + 1 < n:
                    buf.append(value[j + 1])
                    j += 2
                    continue
                if ch == "(":
                    depth += 1
                    if depth > 1:
                        buf.append(ch)
                elif ch == ")":
                    depth -= 1
                    if depth == 0:
                        break
                    buf.append(ch)
                else:
                    buf.append(ch)
                j += 1
            assert depth == 0, f"unbalanced comment in {value!r}"
            out.append(("comment", "".join(buf).strip()))
            i = j + 1
        elif c == '"':
            j, buf = i + 1, []
            while j < n and value[j] != '"':
                if value[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(value[j])
                j += 1
            assert j < n, f"unterminated quoted-string in {value!r}"
            out.append(("quoted", "".join(buf)))
            i = j + 1
        else:
            j = i
            while j < n and value[j] not in ' \t\r\n;=("':
                j += 1
            out.append(("word", value[i:j]))
            i = j
    return out


def parse_results(raw_field: str) -> Results:
    """One Authentication-Results field (name included) into its clauses; checked against
    authres's reading of the same field."""
    name, _, value = raw_field.partition(":")
    assert name.strip().lower() == "authentication-results", raw_field
    toks = tokenize(value)
    groups: list[list[tuple[str, str]]] = [[]]
    for t in toks:
        if t[0] == ";":
            groups.append([])
        else:
            groups[-1].append(t)
    head = [t for t in groups[0] if t[0] != "comment"]
    assert head and head[0][0] == "word", f"no authserv-id: {raw_field!r}"
    clauses = []
    for g in groups[1:]:
        assert g, f"an empty resinfo (stray ';') in {raw_field!r}"
        assert len(g) >= 3 and g[0][0] == "word" and g[1][0] == "=" and g[2][0] == "word", \
            f"not method=result: {g} in {raw_field!r}"
        clause = Clause(g[0][1].lower(), g[2][1].lower(), None)
        rest = g[3:]
        if rest and rest[0][0] == "comment":
            clause.comment = rest[0][1]
            rest = rest[1:]
        while rest:
            if rest[0][0] == "comment":
                rest = rest[1:]
                continue
            assert len(rest) >= 3 and rest[0][0] == "word" and rest[1][0] == "=" and \
                rest[2][0] in ("word", "quoted"), f"not ptype.property=value: {rest} in {raw_field!r}"
            key = rest[0][1].lower()
            assert key not in clause.props, f"{key} twice in a clause of {raw_field!r}"
            clause.props[key] = rest[2][1]
            clause.raw_values[key] = (rest[2][0], rest[2][1])
            rest = rest[3:]
        clauses.append(clause)
    res = Results(raw_field, head[0][1], clauses)
    check_with_authres(res, value)
    return res


def check_with_authres(res: Results, value: str):
    """authres (an independent RFC 8601 parser) reads the same methods, results and
    properties."""
    unfolded = re.sub(r"\r?\n", "", value).strip()
    try:
        parsed = authres.AuthenticationResultsHeader.parse_value(unfolded)
    except Exception as e:   # noqa: BLE001 - any parse failure is the finding
        raise AssertionError(f"authres cannot parse {unfolded!r}: {e!r}") from None
    assert parsed.authserv_id.lower() == res.authserv_id.lower(), (parsed.authserv_id, res.raw)
    theirs = [(r.method.lower(), r.result.lower(),
               {f"{p.type}.{p.name}".lower(): p.value for p in r.properties})
              for r in parsed.results]
    ours = [(c.method, c.result, c.props) for c in res.clauses]
    assert theirs == ours, f"authres reads {theirs}\nwe read {ours}\nfield: {res.raw!r}"


def all_results(raw: bytes) -> list[tuple[int, str]]:
    """(field index, raw text) of every Authentication-Results field."""
    return [(i, f.decode("utf-8", "replace")) for i, f in enumerate(raw_fields(raw))
            if f.split(b":", 1)[0].strip().lower() == b"authentication-results"]


def results(raw: bytes, sent: bytes | None = None) -> Results:
    """Swallow's one Authentication-Results field of a stored message: exactly one field with
    our authserv-id, folded with CRLF TAB before each clause, above every field of the message
    as sent (RFC 8601 §5 / RFC 5322 §3.6.7: a trace field is prepended)."""
    head = header_block(raw).decode("utf-8", "replace")
    ours = [(i, f) for i, f in all_results(raw)
            if parse_results(f).authserv_id.lower() == HOSTNAME]
    assert len(ours) == 1, f"{len(ours)} Authentication-Results fields of {HOSTNAME}:\n{head}"
    index, text = ours[0]
    assert text.startswith(f"Authentication-Results: {HOSTNAME};"), text
    assert re.fullmatch(r"Authentication-Results: [^\r\n]+;(\r\n\t[^\r\n]+)+\r\n", text), \
        f"not folded with CRLF TAB: {text!r}"
    assert all(len(line) <= 998 for line in text.split("\r\n")), "a line over 998 characters"
    res = parse_results(text)
    assert res.authserv_id == HOSTNAME, res.authserv_id
    if sent is not None:
        stored = raw_fields(raw)
        # the first field of the message as sent that is still there (forged ones are not)
        first = next((f for f in raw_fields(sent) if f in stored), None)
        assert first is not None, f"none of the message's own fields stored:\n{head}"
        assert index < stored.index(first), \
            f"Authentication-Results below the message's own fields:\n{head}"
    for c in res.clauses:
        allowed = {"spf": SPF_RESULTS, "dkim": DKIM_RESULTS, "dmarc": DMARC_RESULTS}.get(c.method)
        assert allowed is not None, f"unexpected method {c.method} in {text!r}"
        assert c.result in allowed, f"{c.method}={c.result} is not an RFC 8601 result: {text!r}"
    methods = [c.method for c in res.clauses]
    assert methods[0] == "spf" and methods[-1] == "dmarc" and \
        set(methods[1:-1]) == {"dkim"}, f"want spf, dkim..., dmarc in that order: {methods}"
    return res


def check_spf(res: Results, result: str, mailfrom: str | None = None, helo: str | None = None):
    c = res.spf
    assert c.result == result, f"spf={c.result}, want {result}: {res.raw!r}"
    if mailfrom is not None:
        assert c.props == {"smtp.mailfrom": mailfrom}, res.raw
    if helo is not None:
        assert c.props == {"smtp.helo": helo}, res.raw


def check_dkim(c: Clause, result: str, d: str, s: str, a: str, b: str | None, res: Results):
    assert c.result == result, f"dkim={c.result}, want {result}: {res.raw!r}"
    want = {"header.d": d, "header.s": s, "header.a": a}
    if b is not None:
        want["header.b"] = b[:8]
    got = {k: v for k, v in c.props.items() if k in want}
    assert got == want, f"{got} != {want}: {res.raw!r}"


def check_dmarc(res: Results, result: str, from_domain: str, policy: str | None = None,
                disposition: str | None = None):
    c = res.dmarc
    assert c.result == result, f"dmarc={c.result}, want {result}: {res.raw!r}"
    assert c.props == {"header.from": from_domain}, res.raw
    if policy is not None:
        assert c.comment is not None, f"no (p=... dis=...) comment: {res.raw!r}"
        words = dict(w.split("=", 1) for w in c.comment.split() if "=" in w)
        assert words.get("p") == policy, f"p={words.get('p')}, want {policy}: {res.raw!r}"
        if disposition is not None:
            assert words.get("dis") == disposition, \
                f"dis={words.get('dis')}, want {disposition}: {res.raw!r}"


def unsigned(res: Results):
    assert [(c.result, c.props) for c in res.dkim] == [("none", {})], res.raw


# --------------------------------------------------------------------------
# the zone itself (no server): what the tests below assume


def test_zone_answers_as_the_tests_assume(zone, keys):
    """dkimpy verifies against dnsmasq's answers, and pyspf finds the results the zone is
    built for (when installed)."""
    raw = sign(make_message("zone-check", "bob@sender.test"), "sender.test", "sel", keys.rsa)
    assert dkimpy_verifies(raw, zone.port)
    raw = sign(make_message("zone-check", "bob@sender.test"), "sender.test", "ed", keys.ed)
    assert dkimpy_verifies(raw, zone.port)
    raw = sign(make_message("zone-check", "bob@sender.test"), "sender.test", "gone",
               keys.unpublished)
    assert not dkimpy_verifies(raw, zone.port)


# --------------------------------------------------------------------------
# 1, 2: everything passes


def test_spf_dkim_rsa_dmarc_pass(receiver, dns_zone, keys):
    srv = receiver()
    marker = "inbound-all-pass"
    raw = sign(make_message(marker, "bob@sender.test"), "sender.test", "sel", keys.rsa)
    assert dkimpy_verifies(raw, dns_zone.port)
    deliver(srv, raw, "bob@sender.test")
    got = fetch(srv, marker)
    res = results(got, raw)
    check_spf(res, "pass", mailfrom="bob@sender.test")
    assert len(res.dkim) == 1, res.raw
    check_dkim(res.dkim[0], "pass", "sender.test", "sel", "rsa-sha256",
               signature_b(raw, "sel"), res)
    check_dmarc(res, "pass", "sender.test")
    if res.dmarc.comment is not None:
        assert res.dmarc.comment.split() == ["p=reject", "dis=none"], res.raw
    # one field in all; the message as sent below it, still verifiable
    assert len(all_results(got)) == 1
    assert got.endswith(raw), "the message as sent is not intact below the added fields"
    assert dkimpy_verifies(got, dns_zone.port)


def test_dkim_ed25519_alone_and_dual_signed(receiver, keys):
    srv = receiver()
    marker = "inbound-ed25519-only"
    raw = sign(make_message(marker, "bob@sender.test"), "sender.test", "ed", keys.ed)
    deliver(srv, raw, "bob@sender.test")
    res = results(fetch(srv, marker), raw)
    assert len(res.dkim) == 1, res.raw
    check_dkim(res.dkim[0], "pass", "sender.test", "ed", "ed25519-sha256",
               signature_b(raw, "ed"), res)
    check_spf(res, "pass", mailfrom="bob@sender.test")
    check_dmarc(res, "pass", "sender.test")

    # RSA and Ed25519 side by side (RFC 8463 §3): one clause per signature
    marker = "inbound-dual-signed"
    raw = sign(sign(make_message(marker, "bob@sender.test"), "sender.test", "sel", keys.rsa),
               "sender.test", "ed", keys.ed)
    deliver(srv, raw, "bob@sender.test")
    res = results(fetch(srv, marker), raw)
    assert len(res.dkim) == 2, res.raw
    by_selector = {c.props.get("header.s"): c for c in res.dkim}
    assert set(by_selector) == {"sel", "ed"}, res.raw
    check_dkim(by_selector["sel"], "pass", "sender.test", "sel", "rsa-sha256",
               signature_b(raw, "sel"), res)
    check_dkim(by_selector["ed"], "pass", "sender.test", "ed", "ed25519-sha256",
               signature_b(raw, "ed"), res)
    check_dmarc(res, "pass", "sender.test")


# --------------------------------------------------------------------------
# 3: DMARC failure and the policy


def test_dmarc_reject_refuses_at_data_unless_configured_off(receiver):
    srv = receiver()
    marker = "inbound-dmarc-reject"
    raw = make_message(marker, "bob@failing.test")
    r = send(srv, raw, "bob@failing.test")
    assert r.code == 550, f"DATA answered {r.code} {r.text}"
    assert re.match(r"5\.7\.1 DMARC policy of failing\.test rejects", r.text), r.text
    # quarantine: stored in Junk (dis=quarantine); none: in the inbox, nothing was done
    for domain, policy, mailbox in (("quar.test", "quarantine", "Junk"), ("nonepol.test", "none", "INBOX")):
        m = f"inbound-dmarc-{policy}"
        sent = make_message(m, f"bob@{domain}")
        deliver(srv, sent, f"bob@{domain}")
        res = results(fetch(srv, m, mailbox=mailbox), sent)
        check_spf(res, "fail", mailfrom=f"bob@{domain}")
        unsigned(res)
        check_dmarc(res, "fail", domain, policy, "quarantine" if policy == "quarantine" else "none")
    # the refused one was not stored (the canary comes after it)
    assert not [m for m in srv.settle(ALICE) if mid(marker) in m]
    assert not [m for m in imap_messages(srv) if mid(marker) in m]

    # dmarc_reject = false: quarantined instead, with the verdict
    srv2 = receiver(dmarc_reject=False)
    deliver(srv2, raw, "bob@failing.test")
    res = results(fetch(srv2, marker, mailbox="Junk"), raw)
    check_spf(res, "fail", mailfrom="bob@failing.test")
    unsigned(res)
    check_dmarc(res, "fail", "failing.test", "reject", "quarantine")

    # both off: every failure delivered to the inbox, nothing done
    srv3 = receiver(dmarc_reject=False, dmarc_quarantine=False)
    for m, domain, policy in ((marker, "failing.test", "reject"), ("inbound-dmarc-quarantine", "quar.test", "quarantine")):
        sent = raw if m == marker else make_message(m, f"bob@{domain}")
        deliver(srv3, sent, f"bob@{domain}")
        check_dmarc(results(fetch(srv3, m), sent), "fail", domain, policy, "none")


def test_dmarc_subdomain_policy(receiver):
    """RFC 7489 §6.3 (sp=) and §6.6.3: a From: subdomain without its own record gets the
    organizational domain's sp=, or its p= when there is no sp=."""
    srv = receiver()
    # sp.test: p=reject; sp=none -> the subdomain's failure is stored
    marker = "inbound-dmarc-sp-none"
    sent = make_message(marker, "bob@sub.sp.test")
    deliver(srv, sent, "bob@failing.test")
    res = results(fetch(srv, marker), sent)
    check_spf(res, "fail", mailfrom="bob@failing.test")
    check_dmarc(res, "fail", "sub.sp.test")
    if res.dmarc.comment is not None:
        assert "dis=none" in res.dmarc.comment.split(), res.raw
    # ... while sp.test itself is refused
    r = send(srv, make_message("inbound-dmarc-sp-apex", "bob@sp.test"), "bob@failing.test")
    assert r.code == 550 and r.text.startswith("5.7.1 DMARC policy of sp.test"), (r.code, r.text)
    # failing.test has no sp=: its p=reject covers sub.failing.test
    r = send(srv, make_message("inbound-dmarc-p-inherited", "bob@sub.failing.test"),
             "bob@failing.test")
    assert r.code == 550 and re.match(r"5\.7\.1 DMARC policy of (sub\.)?failing\.test rejects",
                                      r.text), (r.code, r.text)


# --------------------------------------------------------------------------
# 4: SPF results


@pytest.mark.parametrize("domain,result", [
    ("softfail.test", "softfail"),
    ("neutral.test", "neutral"),
    ("nospf.test", "none"),            # no SPF record
    ("nosuch.test", "none"),           # NXDOMAIN (RFC 7208 §4.3)
    ("twospf.test", "permerror"),      # two v=spf1 records (§4.5)
])
def test_spf_results(receiver, domain, result):
    srv = receiver()
    marker = f"inbound-spf-{result}-{domain}"
    sender = f"bob@{domain}"
    sent = make_message(marker, sender)
    deliver(srv, sent, sender)
    res = results(fetch(srv, marker), sent)
    check_spf(res, result, mailfrom=sender)
    unsigned(res)
    check_dmarc(res, "none", domain)
    assert res.dmarc.comment is None, res.raw


# --------------------------------------------------------------------------
# 5: DKIM failures


def test_dkim_fail_permerror_policy(receiver, keys):
    """SPF passes and aligns (DMARC passes on it); each signature fails its own way."""
    srv = receiver()
    sender = "bob@sender.test"
    cases = {}

    # the body changed after signing: body hash mismatch (RFC 6376 §6.1.3)
    m = "inbound-dkim-body-changed"
    signed = sign(make_message(m, sender), "sender.test", "sel", keys.rsa)
    cases[m] = (signed.replace(b"tamper-target", b"tamper-targeT"), "fail", "sel", "rsa-sha256",
                signature_b(signed, "sel"))

    # a signed header field changed: the signature does not verify
    m = "inbound-dkim-header-changed"
    signed = sign(make_message(m, sender), "sender.test", "sel", keys.rsa)
    changed, n = re.subn(rb"(?m)^Subject: " + m.encode() + rb"\r$",
                         b"Subject: " + m.encode() + b" (edited)\r", signed)
    assert n == 1
    cases[m] = (changed, "fail", "sel", "rsa-sha256", signature_b(signed, "sel"))

    # no key published for the selector: PERMFAIL (RFC 6376 §6.1.2) -> permerror
    m = "inbound-dkim-no-key"
    signed = sign(make_message(m, sender), "sender.test", "gone", keys.unpublished)
    cases[m] = (signed, "permerror", "gone", "rsa-sha256", signature_b(signed, "gone"))

    # l= (body length): not acceptable here -> policy (RFC 8601 §2.7.1)
    m = "inbound-dkim-length"
    signed = sign(make_message(m, sender), "sender.test", "sel", keys.rsa, length=True)
    assert re.search(rb";\s*l=\d+", header_block(signed)), "dkimpy did not add l="
    cases[m] = (signed, "policy", "sel", "rsa-sha256", signature_b(signed, "sel"))

    for m, (raw, *_rest) in cases.items():
        deliver(srv, raw, sender)
    for m, (raw, result, selector, alg, b) in cases.items():
        res = results(fetch(srv, m), raw)
        check_spf(res, "pass", mailfrom=sender)
        assert len(res.dkim) == 1, res.raw
        check_dkim(res.dkim[0], result, "sender.test", selector, alg, b, res)
        check_dmarc(res, "pass", "sender.test")


# --------------------------------------------------------------------------
# 6: DMARC alignment


def test_dmarc_alignment(receiver, keys):
    # Nothing refused or quarantined: every case is read from the inbox.
    srv = receiver(dmarc_reject=False, dmarc_quarantine=False)
    cases = []

    # DKIM passes for another domain, SPF fails: nothing aligned with sender.test
    m = "inbound-align-other-d"
    raw = sign(make_message(m, "bob@sender.test"), "other.test", "sel", keys.rsa)
    cases.append((m, raw, "bob@failing.test", "fail", "other.test", "pass", "sender.test",
                  "fail", "reject"))
    # d=sender.test, From: sub.sender.test, SPF none: relaxed DKIM alignment passes
    m = "inbound-align-relaxed-dkim"
    raw = sign(make_message(m, "bob@sub.sender.test"), "sender.test", "sel", keys.rsa)
    cases.append((m, raw, "bounces@nospf.test", "none", "sender.test", "pass", "sub.sender.test",
                  "pass", None))
    # the same under adkim=s: fails
    m = "inbound-align-strict-dkim"
    raw = sign(make_message(m, "bob@sub.strict.test"), "strict.test", "sel", keys.rsa)
    cases.append((m, raw, "bounces@nospf.test", "none", "strict.test", "pass", "sub.strict.test",
                  "fail", "quarantine"))
    # adkim=s with the exact domain: passes
    m = "inbound-align-strict-dkim-exact"
    raw = sign(make_message(m, "bob@strict.test"), "strict.test", "sel", keys.rsa)
    cases.append((m, raw, "bounces@nospf.test", "none", "strict.test", "pass", "strict.test",
                  "pass", None))
    # SPF passes for mail.sender.test, From: sender.test, unsigned: relaxed SPF alignment
    m = "inbound-align-relaxed-spf"
    raw = make_message(m, "bob@sender.test")
    cases.append((m, raw, "bounces@mail.sender.test", "pass", None, None, "sender.test",
                  "pass", None))
    # the same under aspf=s: fails
    m = "inbound-align-strict-spf"
    raw = make_message(m, "bob@aspf.test")
    cases.append((m, raw, "bounces@mail.aspf.test", "pass", None, None, "aspf.test",
                  "fail", "quarantine"))

    for m, raw, mail_from, *_ in cases:
        deliver(srv, raw, mail_from)
    for m, raw, mail_from, spf_result, d, dkim_result, from_domain, dmarc_result, policy in cases:
        res = results(fetch(srv, m), raw)
        check_spf(res, spf_result, mailfrom=mail_from)
        if d is None:
            unsigned(res)
        else:
            assert len(res.dkim) == 1, res.raw
            check_dkim(res.dkim[0], dkim_result, d, "sel", "rsa-sha256",
                       signature_b(raw, "sel"), res)
        check_dmarc(res, dmarc_result, from_domain, policy)


# --------------------------------------------------------------------------
# 7: the null sender


def test_null_sender_checks_the_helo_name(receiver):
    """MAIL FROM:<> -> SPF checks the HELO identity (RFC 7208 §2.3, §2.4: postmaster@HELO),
    reported as smtp.helo; DMARC's SPF identifier is then the HELO domain (RFC 7489 §4.1)."""
    srv = receiver()
    m1 = "inbound-null-sender-pass"
    sent1 = make_message(m1, "postmaster@helo.test")
    deliver(srv, sent1, "", helo="mail.helo.test")
    m2 = "inbound-null-sender-fail"
    sent2 = make_message(m2, "mailer-daemon@outside.test")
    deliver(srv, sent2, "", helo="bad.helo.test")

    res = results(fetch(srv, m1), sent1)
    check_spf(res, "pass", helo="mail.helo.test")
    unsigned(res)
    check_dmarc(res, "pass", "helo.test")
    res = results(fetch(srv, m2), sent2)
    check_spf(res, "fail", helo="bad.helo.test")
    check_dmarc(res, "none", "outside.test")


# --------------------------------------------------------------------------
# 8: incoming Authentication-Results


def test_forged_results_removed_foreign_kept(receiver):
    srv = receiver()
    marker = "inbound-forged-results"
    forged = [
        f"Authentication-Results: {HOSTNAME}; spf=pass smtp.mailfrom=bob@softfail.test;\r\n"
        "\tdkim=pass header.d=softfail.test; dmarc=pass header.from=softfail.test\r\n",
        # authserv-ids are domain names: case does not matter (RFC 4343)
        f"Authentication-Results: {HOSTNAME.upper()}; dkim=pass header.d=softfail.test\r\n",
        # with an authres-version (RFC 8601 §2.2)
        f"Authentication-Results: {HOSTNAME} 1; dmarc=pass header.from=softfail.test\r\n",
    ]
    foreign = [
        "Authentication-Results: other.example; spf=pass smtp.mailfrom=bob@softfail.test\r\n",
        f"Authentication-Results: {HOSTNAME}.evil.example;\r\n"
        "\tdkim=pass header.d=softfail.test\r\n",
    ]
    top = forged[0] + foreign[0] + forged[1] + foreign[1] + forged[2]
    sent = make_message(marker, "bob@softfail.test", top=top)
    deliver(srv, sent, "bob@softfail.test")
    got = fetch(srv, marker)
    res = results(got, sent)                # exactly one field of ours: the real one
    check_spf(res, "softfail", mailfrom="bob@softfail.test")
    unsigned(res)
    check_dmarc(res, "none", "softfail.test")
    stored = [f.decode() for f in raw_fields(got)]
    for f in forged:
        assert f not in stored, f"forged field kept: {f!r}"
    for f in foreign:
        assert stored.count(f) == 1, f"foreign field not kept as it was: {f!r}\n{stored}"
    # everything else of the message as sent, in order, below the added fields
    rest = sent
    for f in forged:
        rest = rest.replace(f.encode(), b"", 1)
    assert got.endswith(rest), got[:2000]


def test_forged_results_with_a_leading_comment_removed(receiver):
    """RFC 8601 §2.2: CFWS may come before the authserv-id; the field still claims ours."""
    srv = receiver()
    marker = "inbound-forged-comment"
    forged = f"Authentication-Results: (trust me) {HOSTNAME}; spf=pass smtp.mailfrom=x@softfail.test\r\n"
    sent = make_message(marker, "bob@softfail.test", top=forged)
    deliver(srv, sent, "bob@softfail.test")
    got = fetch(srv, marker)
    assert forged.encode() not in got, header_block(got).decode()
    results(got)


# --------------------------------------------------------------------------
# who gets no results


def test_no_results_for_submission_or_trusted_network(receiver):
    # untrusted server: authenticated submission is not checked
    srv = receiver()
    marker = "inbound-submission"
    sent = make_message(marker, ALICE)
    submit("127.0.0.1", srv.submission, ALICE, [ALICE], sent, user=ALICE, password=ALICE_PASSWORD)
    got = fetch(srv, marker)
    assert all_results(got) == [], header_block(got).decode()

    # a trusted network (127.0.0.0/8, the default): not checked, so failing.test's p=reject
    # does not apply either
    srv2 = receiver(trusted=True)
    marker = "inbound-trusted-network"
    sent = make_message(marker, "bob@failing.test")
    deliver(srv2, sent, "bob@failing.test")
    got = fetch(srv2, marker)
    assert all_results(got) == [], header_block(got).decode()


# --------------------------------------------------------------------------
# 9: the trace


def received_event(srv, qid: str) -> dict:
    def look():
        r = srv.cli("trace", qid, "--json")
        entries = [e for e in json.loads(r.stdout) if e.get("queue_id") == qid]
        evs = [ev for e in entries for ev in e.get("events", []) if ev.get("kind") == "received"]
        return evs[0] if evs else None
    return wait_for(look, 20, f"a received event in the trace of {qid}")


def test_trace_carries_the_summary(receiver, keys):
    srv = receiver()
    m = "inbound-trace-pass"
    raw = sign(make_message(m, "bob@sender.test"), "sender.test", "sel", keys.rsa)
    qid = deliver(srv, raw, "bob@sender.test")
    fetch(srv, m)
    ev = received_event(srv, qid)
    assert ev["data"].get("authentication") == "spf=pass dkim=pass dmarc=pass", ev

    m = "inbound-trace-softfail"
    qid = deliver(srv, make_message(m, "bob@softfail.test"), "bob@softfail.test")
    fetch(srv, m)
    ev = received_event(srv, qid)
    assert ev["data"].get("authentication") == "spf=softfail dkim=none dmarc=none", ev

    m = "inbound-trace-submission"
    qid = submit("127.0.0.1", srv.submission, ALICE, [ALICE], make_message(m, ALICE),
                 user=ALICE, password=ALICE_PASSWORD)
    fetch(srv, m)
    ev = received_event(srv, qid)
    assert not ev["data"].get("authentication"), ev


# --------------------------------------------------------------------------
# 10: SPF against pyspf


def pyspf_lookup(port: int):
    """pyspf's DNSLookup (same results as its dnspython driver), asking dnsmasq."""
    r = resolver(port)

    def lookup(name, qtype, tcpfallback=True, timeout=30):
        out = []
        try:
            answers = r.resolve(name, qtype, lifetime=5, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as e:
            raise spf.TempError(f"DNS {e}")
        for rdata in answers.rrset or []:
            if qtype in ("A", "AAAA"):
                out.append(((name, qtype), rdata.address))
            elif qtype == "MX":
                out.append(((name, qtype), (rdata.preference, rdata.exchange)))
            elif qtype == "PTR":
                out.append(((name, qtype), rdata.target.to_text(True)))
            elif qtype in ("TXT", "SPF"):
                out.append(((name, qtype), rdata.strings))
        return out
    return lookup


PYSPF_CASES = ["sender.test", "failing.test", "softfail.test", "neutral.test", "nospf.test",
               "nosuch.test", "twospf.test", "badsyntax.test", "inc.test", "incnone.test",
               "amech.test", "mxmech.test", "redirect.test", "cidr.test", "macro.test"]
PYSPF_HELO_CASES = ["mail.helo.test", "bad.helo.test"]


@needs_pyspf
def test_spf_agrees_with_pyspf(receiver, dns_zone, monkeypatch):
    monkeypatch.setattr(spf, "DNSLookup", pyspf_lookup(dns_zone.port))
    expected = {}
    for domain in PYSPF_CASES:
        expected[("mailfrom", domain)] = spf.check2(i=CLIENT_IP, s=f"bob@{domain}",
                                                    h=CLIENT_HELO)[0]
    for helo in PYSPF_HELO_CASES:
        expected[("helo", helo)] = spf.check2(i=CLIENT_IP, s="", h=helo)[0]
    # the zone is what it claims to be
    assert expected[("mailfrom", "sender.test")] == "pass"
    assert expected[("mailfrom", "twospf.test")] == "permerror"
    assert expected[("mailfrom", "macro.test")] == "pass"

    srv = receiver(dmarc_reject=False)
    sent = {}
    for (kind, name) in expected:
        marker = f"inbound-pyspf-{kind}-{name}"
        raw = make_message(marker, "someone@outside.test")
        if kind == "mailfrom":
            deliver(srv, raw, f"bob@{name}")
        else:
            deliver(srv, raw, "", helo=name)
        sent[(kind, name)] = (marker, raw)
    got, differ = {}, []
    for key, (marker, raw) in sent.items():
        res = results(fetch(srv, marker), raw)
        got[key] = res.spf.result
        if got[key] != expected[key]:
            differ.append(f"{key}: swallow spf={got[key]} ({res.spf.comment}), "
                          f"pyspf {expected[key]}")
    assert not differ, "SPF results differ from pyspf:\n" + "\n".join(differ)


# --------------------------------------------------------------------------
# RFC 8601 syntax of property values


def test_header_b_value_is_a_valid_pvalue(receiver, keys):
    """RFC 8601 §2.2: pvalue is a MIME token (RFC 2045 §5.1: no tspecials such as "/" or
    "="), a quoted-string, or [local-part]@domain-name. The first 8 characters of a base64
    signature often contain "/": then it must be quoted. The signature is made so that it does."""
    base = None
    for i in range(400):
        raw = sign(make_message(f"inbound-header-b-{i}", "bob@header-b.test"), "header-b.test",
                   "sel", keys.rsa)
        if "/" in signature_b(raw, "sel")[:8]:
            base = (f"inbound-header-b-{i}", raw)
            break
    assert base, "no signature with '/' in its first 8 characters"
    marker, raw = base
    srv = receiver()
    deliver(srv, raw, "bob@header-b.test")
    res = results(fetch(srv, marker), raw)
    [c] = res.dkim
    check_dkim(c, "pass", "header-b.test", "sel", "rsa-sha256", signature_b(raw, "sel"), res)
    token = re.compile(r'[^\x00-\x20\x7f()<>@,;:\\"/\[\]?=]+')
    addr = re.compile(r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]*@)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")
    for clause in res.clauses:
        for key, (kind, text) in clause.raw_values.items():
            if kind == "word":
                assert token.fullmatch(text) or addr.fullmatch(text), \
                    f"{key}={text} is neither a token nor local-part@domain: quote it ({res.raw!r})"
