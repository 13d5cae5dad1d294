"""DKIM signing (RFC 6376, RFC 8463), checked by a verifier nobody here wrote: dkimpy.

`swallow dkim generate DOMAIN [--selector S] [--algorithm rsa|ed25519]` makes a key under
DATA_DIR/dkim/DOMAIN/SELECTOR.pem and prints its DNS record; the tests give dkimpy that record
through its `dnsfunc` hook (no DNS server), read the signed message the way its recipient does
(imaplib for a local copy, the bytes a next hop received for relayed mail) and verify it.

Signed: mail accepted from an authenticated session or a trusted network (127.0.0.0/8 by
default, so smtplib on the smtp port counts) whose From: domain is local and has a key; one
DKIM-Signature per algorithm (the newest selector of each), right below Swallow's Received.
Not signed: a From: domain without a key, an untrusted unauthenticated client.

Needs dkimpy (PyPI; `pip install 'dkimpy[ed25519]'` also brings PyNaCl for Ed25519) and the
openssl command line for the key-file checks; each test skips when its tool is missing.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import io
import logging
import os
import re
import shutil
import smtplib
import subprocess
import time
from collections import Counter
from dataclasses import dataclass

import pytest

from conftest import ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD, DOMAIN, HOSTNAME, free_port
from outbound_helpers import ScriptedSMTP, imap_message, send_plain, submit, wait_for

try:
    import dkim
except ImportError:          # pragma: no cover - depends on the machine
    dkim = None
try:
    import nacl.signing      # noqa: F401 - dkimpy's Ed25519 support
    HAVE_NACL = True
except ImportError:          # pragma: no cover
    HAVE_NACL = False

OPENSSL = shutil.which("openssl")

needs_dkimpy = pytest.mark.skipif(dkim is None,
                                  reason="dkimpy is not installed (pip install 'dkimpy[ed25519]')")
needs_ed25519 = pytest.mark.skipif(dkim is None or not HAVE_NACL,
                                   reason="dkimpy's Ed25519 support needs PyNaCl "
                                          "(pip install 'dkimpy[ed25519]')")

REMOTE = "remote.test"
OTHER_LOCAL = "other.test"            # a second local domain that never gets a key

# Oversigned (RFC 6376 §5.4.2): each name appears in h= once more than the message has it.
OVERSIGNED = ("from", "subject", "date", "to", "cc", "reply-to", "message-id")
# Trace fields, never signed (RFC 6376 §5.4.1).
UNSIGNED = ("received", "return-path", "delivered-to", "dkim-signature")


# --------------------------------------------------------------------------
# DNS records as the CLI prints them

ZONE_LINE = re.compile(r"^(?P<name>\S+)\s+(?P<ttl>\d+)\s+IN\s+(?P<type>[A-Z]+)\s+(?P<data>.*?)\s*$")
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def txt_strings(data: str) -> list[str]:
    """The character-strings of a zone-file TXT data field: `"a" "b"` -> ["a", "b"]."""
    assert re.fullmatch(r'\s*(?:"(?:[^"\\]|\\.)*"\s*)+', data), f"not quoted TXT data: {data!r}"
    return [re.sub(r"\\(.)", r"\1", s) for s in QUOTED.findall(data)]


def tag_list(value: str) -> dict[str, str]:
    """RFC 6376 §3.2 tag=value list; whitespace around tags and values ignored, and inside
    base64 values (b=, bh=, p=) removed."""
    tags: dict[str, str] = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        name, sep, val = part.partition("=")
        assert sep, f"no '=' in tag {part!r} of {value!r}"
        name = name.strip()
        assert name not in tags, f"tag {name} twice in {value!r}"
        val = val.strip()
        if name in ("b", "bh", "p", "h"):
            val = re.sub(r"\s+", "", val)
        tags[name] = val
    return tags


@dataclass
class Key:
    domain: str
    selector: str
    algorithm: str        # "rsa" or "ed25519"
    line: str             # the record line as printed
    strings: list[str]    # its character-strings
    p: str                # the public key, base64

    @property
    def name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def value(self) -> str:
        """The TXT record as a verifier sees it: the strings concatenated (RFC 6376 §3.6.2.2)."""
        return "".join(self.strings)

    def path(self, srv) -> str:
        return str(srv.data_dir / "dkim" / self.domain / f"{self.selector}.pem")


def parse_key_line(line: str, domain: str = DOMAIN) -> Key:
    m = ZONE_LINE.match(line)
    assert m, f"not a zone-file line: {line!r}"
    assert m["ttl"] == "3600" and m["type"] == "TXT", line
    name = m["name"]
    assert name.endswith(f"._domainkey.{domain}."), f"not an absolute DKIM key name: {line!r}"
    selector = name[: -len(f"._domainkey.{domain}.")]
    strings = txt_strings(m["data"])
    assert all(1 <= len(s) <= 255 for s in strings), [len(s) for s in strings]
    tags = tag_list("".join(strings))
    assert "".join(strings).startswith("v=DKIM1;"), f"v=DKIM1 must come first (§3.6.1): {line!r}"
    assert tags.get("k") in ("rsa", "ed25519"), line
    assert tags.get("p"), line
    return Key(domain, selector, tags["k"], line, strings, tags["p"])


def generate(srv, *options: str, domain: str = DOMAIN) -> Key:
    """`swallow dkim generate DOMAIN OPTIONS`; the key from the one record line it prints."""
    r = srv.cli("dkim", "generate", domain, *options)
    lines = [l for l in r.stdout.splitlines() if "._domainkey." in l]
    assert len(lines) == 1, f"want one record line from `dkim generate`:\n{r.stdout}\n{r.stderr}"
    return parse_key_line(lines[0].strip(), domain)


def selectors_for_now(prefix: str, before: dt.datetime, after: dt.datetime) -> set[str]:
    return {f"{prefix}{t:%Y%m}" for t in (before, after)}


# --------------------------------------------------------------------------
# dkimpy, fed from the printed records


class KeyTable:
    """dkimpy's `dnsfunc`: answers TXT queries for the given keys, remembers what was asked."""

    def __init__(self, *keys: Key, extra: dict[str, str] | None = None):
        self.table = {k.name.lower(): k.value for k in keys}
        self.table.update({n.lower(): v for n, v in (extra or {}).items()})
        self.asked: list[str] = []

    def __call__(self, name, timeout=5):
        n = (name.decode() if isinstance(name, bytes) else name).rstrip(".").lower()
        self.asked.append(n)
        value = self.table.get(n)
        return value.encode() if value is not None else None


def verify(raw: bytes, keys: KeyTable, idx: int = 0) -> tuple[bool, str]:
    """dkimpy's verdict on the idx-th DKIM-Signature (0 = topmost) and its debug log."""
    buf = io.StringIO()
    logger = logging.getLogger(f"dkimpy-{time.monotonic_ns()}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = logging.StreamHandler(buf)
    logger.addHandler(handler)
    try:
        d = dkim.DKIM(raw, logger=logger, minkey=1024)
        try:
            ok = bool(d.verify(idx=idx, dnsfunc=keys))
        except dkim.DKIMException as e:
            ok = False
            buf.write(f"DKIMException: {e}\n")
    finally:
        logger.removeHandler(handler)
    return ok, buf.getvalue()


def assert_verifies(raw: bytes, keys: KeyTable, idx: int = 0):
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    assert len(signatures(raw)) > idx, f"no DKIM-Signature #{idx}:\n{head}"
    ok, log = verify(raw, keys, idx)
    assert ok, (f"dkimpy does not verify signature #{idx}:\n{log}\nasked for {keys.asked}\n"
                f"message head:\n{head}")


def assert_fails(raw: bytes, keys: KeyTable, what: str, idx: int = 0):
    ok, log = verify(raw, keys, idx)
    assert not ok, f"dkimpy still verifies after {what}:\n{log}"


# --------------------------------------------------------------------------
# reading header fields


def header_fields(raw: bytes) -> list[tuple[str, str]]:
    """(name, unfolded value) of every header field, in order."""
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0].decode("utf-8", "replace")
    fields: list[list[str]] = []
    for line in re.split(r"\r?\n", head):
        if line[:1] in (" ", "\t") and fields:
            fields[-1][1] += line
        else:
            name, _, value = line.partition(":")
            fields.append([name, value])
    return [(n, re.sub(r"\r?\n", "", v)) for n, v in fields]


def signatures(raw: bytes) -> list[dict[str, str]]:
    return [tag_list(v) for n, v in header_fields(raw) if n.lower() == "dkim-signature"]


def one_signature(raw: bytes) -> dict[str, str]:
    sigs = signatures(raw)
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    assert len(sigs) == 1, f"{len(sigs)} DKIM-Signature fields, want 1:\n{head}"
    return sigs[0]


def check_signature_tags(raw: bytes, sig: dict[str, str], key: Key, t0: float, t1: float):
    algorithm = {"rsa": "rsa-sha256", "ed25519": "ed25519-sha256"}[key.algorithm]
    assert sig.get("v") == "1", sig
    assert sig.get("a") == algorithm, sig
    assert sig.get("c") == "relaxed/relaxed", sig
    assert sig.get("d") == key.domain, sig
    assert sig.get("s") == key.selector, sig
    assert re.fullmatch(r"\d+", sig.get("t", "")), sig
    assert int(t0) - 2 <= int(sig["t"]) <= t1 + 2, (sig["t"], t0, t1)
    assert sig.get("bh") and sig.get("b"), sig
    assert "l" not in sig, f"l= lets anyone append to the body (RFC 6376 §8.2): {sig}"
    h = [n.strip().lower() for n in sig["h"].split(":")]
    present = Counter(n.lower() for n, _ in header_fields(raw))
    for name in OVERSIGNED:
        assert h.count(name) == present[name] + 1, (
            f"{name}: {h.count(name)} time(s) in h=, {present[name]} in the message: h={sig['h']}")
    for name in UNSIGNED:
        assert name not in h, f"{name} signed: h={sig['h']}"


def check_placement(raw: bytes, count: int):
    """The signatures sit right below Swallow's own Received (only Return-Path and
    Delivered-To above it)."""
    names = [n.lower() for n, _ in header_fields(raw)]
    values = [v for _, v in header_fields(raw)]
    first_received = names.index("received")
    assert set(names[:first_received]) <= {"return-path", "delivered-to"}, names[:first_received + 1]
    assert f"by {HOSTNAME} (Swallow)" in " ".join(values[first_received].split()), values[first_received]
    assert names[first_received + 1: first_received + 1 + count] == ["dkim-signature"] * count, names
    assert names.count("dkim-signature") == count, names


# --------------------------------------------------------------------------
# sending and reading


def message(marker: str, sender: str = ALICE, to: str = BOB, extra: str = "",
            subject: str | None = None, body: str | None = None) -> bytes:
    return (f"From: Alice Example <{sender}>\r\n"
            f"To: Bob Example <{to}>\r\n"
            f"Subject: {subject or marker}\r\n"
            f"Date: {email.utils.formatdate(localtime=False)}\r\n"
            f"Message-ID: <{marker}@{DOMAIN}>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"{extra}"
            "\r\n"
            + (body if body is not None else
               f"Hello Bob, this is {marker}.\r\n"
               ".a line that starts with a dot\r\n"
               "\r\n"
               "tamper-target: the last words\r\n")).encode("utf-8")


def send_smtp(srv, rcpts: list[str], raw: bytes, sender: str = ALICE, mail_options=()) -> str:
    """One transaction on the smtp port from 127.0.0.1, no TLS, no AUTH; returns the queue ID."""
    return send_plain(srv, sender, rcpts, raw, mail_options=mail_options)


def imap_fetch(srv, user: str, password: str, marker: str, timeout: float = 20.0) -> bytes:
    """The one message containing `marker` in the user's INBOX, as BODY[] over IMAP."""
    return imap_message(srv.ports["imap"], user, password, marker, timeout=timeout, unique=True)


@pytest.fixture
def signer(swallow_factory):
    """make(algorithms=("rsa",), before_start=None, **factory_options) -> (server,
    {algorithm: Key}): a server with IMAP on whose example.test has a key per algorithm,
    generated before it starts (then `before_start(server)` runs, if given)."""
    def make(algorithms=("rsa",), before_start=None, **options):
        srv = swallow_factory(start=False, listeners=("imap",), **options)
        keys = {a: generate(srv, "--algorithm", a) for a in algorithms}
        if before_start:
            before_start(srv)
        srv.start()
        return srv, keys
    return make


# --------------------------------------------------------------------------
# the CLI: keys and their records


def openssl(*args: str, input: bytes | None = None) -> bytes:
    r = subprocess.run([OPENSSL, *args], input=input, capture_output=True, timeout=60)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


def test_generate_keys_records_and_list(swallow_factory):
    if not OPENSSL:
        pytest.skip("openssl is not installed (Debian package openssl)")
    srv = swallow_factory(start=False, accounts=False)
    before = dt.datetime.now(dt.timezone.utc)

    # rsa, the default: 2048 bits, a record too long for one TXT string
    rsa = generate(srv)
    after = dt.datetime.now(dt.timezone.utc)
    assert rsa.algorithm == "rsa"
    assert rsa.selector in selectors_for_now("rsa", before, after), rsa.selector
    # zone-file fields separated by blanks (spaces or tabs), the value in 255-character strings
    assert re.fullmatch(
        rf"{rsa.selector}\._domainkey\.example\.test\.\s+3600\s+IN\s+TXT\s+"
        r'"[^"]{1,255}"(\s+"[^"]{1,255}")+', rsa.line), rsa.line
    assert rsa.value == f"v=DKIM1; k=rsa; p={rsa.p}", rsa.value
    path = rsa.path(srv)
    st = os.stat(path)
    assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)
    pem = open(path, "rb").read()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----"), pem[:40]      # PKCS#8
    text = openssl("pkey", "-in", path, "-noout", "-text").decode()
    assert re.search(r"Private-Key: \(2048 bit", text), text[:200]
    spki = openssl("pkey", "-in", path, "-pubout", "-outform", "DER")
    rsa_public_key = openssl("rsa", "-in", path, "-RSAPublicKey_out", "-outform", "DER")
    # RFC 6376 §3.6.1 says RSAPublicKey, Appendix C and every signer publish SubjectPublicKeyInfo
    assert base64.b64decode(rsa.p) in (spki, rsa_public_key), "p= is not this key's public key"

    # ed25519: the raw 32-byte public key (RFC 8463 §4.2), one short string
    ed = generate(srv, "--algorithm", "ed25519")
    after = dt.datetime.now(dt.timezone.utc)
    assert ed.algorithm == "ed25519"
    assert ed.selector in selectors_for_now("ed", before, after), ed.selector
    assert re.fullmatch(rf'{ed.selector}\._domainkey\.example\.test\.\s+3600\s+IN\s+TXT\s+"[^"]+"',
                        ed.line), ed.line
    assert ed.value == f"v=DKIM1; k=ed25519; p={ed.p}", ed.value
    raw_key = base64.b64decode(ed.p)
    assert len(raw_key) == 32, len(raw_key)
    path = ed.path(srv)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert open(path, "rb").read().startswith(b"-----BEGIN PRIVATE KEY-----")
    ed_spki = openssl("pkey", "-in", path, "-pubout", "-outform", "DER")
    assert ed_spki == bytes.fromhex("302a300506032b6570032100") + raw_key, ed_spki.hex()

    # a selector of one's own
    mine = generate(srv, "--selector", "mail2024", "--algorithm", "rsa")
    assert mine.selector == "mail2024" and os.path.exists(mine.path(srv))

    # the same selector again is refused and leaves the key alone
    for again in ((), ("--selector", "mail2024"), ("--algorithm", "ed25519")):
        old = {k.selector: open(k.path(srv), "rb").read() for k in (rsa, ed, mine)}
        r = srv.cli("dkim", "generate", DOMAIN, *again, check=False)
        assert r.returncode == 1, (again, r.returncode, r.stdout, r.stderr)
        assert "._domainkey." not in r.stdout, r.stdout
        assert {k.selector: open(k.path(srv), "rb").read() for k in (rsa, ed, mine)} == old

    # only local domains get keys
    r = srv.cli("dkim", "generate", REMOTE, check=False)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert not (srv.data_dir / "dkim" / REMOTE).exists()
    r = srv.cli("dkim", "generate", DOMAIN, "--algorithm", "dsa", check=False)
    assert r.returncode != 0, (r.stdout, r.stderr)

    # list: DOMAIN TAB SELECTOR TAB ALGORITHM TAB created ISO8601
    out = srv.cli("dkim", "list").stdout
    rows = [l.split("\t") for l in out.splitlines() if l.strip()]
    assert all(len(r) == 4 for r in rows), out
    assert sorted((d, s, a) for d, s, a, _ in rows) == sorted(
        [(DOMAIN, rsa.selector, "rsa"), (DOMAIN, ed.selector, "ed25519"),
         (DOMAIN, "mail2024", "rsa")]), out
    end = dt.datetime.now(dt.timezone.utc)
    for *_, created in rows:
        value = re.sub(r"^created\s+", "", created.strip())
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        assert t.tzinfo is not None, f"ISO 8601 time without a zone: {created!r}"
        assert before - dt.timedelta(seconds=2) <= t <= end + dt.timedelta(seconds=2), (t, before, end)


# --------------------------------------------------------------------------
# signing, verified by dkimpy


@needs_dkimpy
def test_rsa_signature_on_local_delivery(signer):
    srv, keys = signer(("rsa",))
    key = keys["rsa"]
    marker = "dkim-rsa-local-marker"
    t0 = time.time()
    send_smtp(srv, [BOB, ALICE], message(marker, extra=f"Cc: Alice <{ALICE}>\r\n"))
    t1 = time.time()
    raw = imap_fetch(srv, BOB, BOB_PASSWORD, marker)
    table = KeyTable(key)
    assert_verifies(raw, table)
    assert table.asked == [key.name], table.asked
    sig = one_signature(raw)
    check_signature_tags(raw, sig, key, t0, t1)
    assert [n.strip().lower() for n in sig["h"].split(":")].count("cc") == 2, sig["h"]
    check_placement(raw, 1)
    # signed once at acceptance: alice's copy carries the same signature
    alices = imap_fetch(srv, ALICE, ALICE_PASSWORD, marker)
    assert signatures(alices) == [sig]
    assert_verifies(alices, KeyTable(key))


@needs_ed25519
def test_rsa_and_ed25519_signatures_newest_selector(signer):
    later: list[Key] = []

    def one_more_rsa_key(srv):
        time.sleep(1.1)      # created later, whatever the resolution of the creation time
        # "new1" sorts before "rsaYYYYMM": the choice is by age, not by name
        later.append(generate(srv, "--selector", "new1"))

    srv, keys = signer(("rsa", "ed25519"), before_start=one_more_rsa_key)
    newer = later[0]
    marker = "dkim-two-algorithms-marker"
    t0 = time.time()
    send_smtp(srv, [BOB], message(marker))
    t1 = time.time()
    raw = imap_fetch(srv, BOB, BOB_PASSWORD, marker)
    sigs = signatures(raw)
    assert sorted(s.get("a") for s in sigs) == ["ed25519-sha256", "rsa-sha256"], \
        raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    check_placement(raw, 2)
    by_alg = {s["a"]: s for s in sigs}
    check_signature_tags(raw, by_alg["rsa-sha256"], newer, t0, t1)
    check_signature_tags(raw, by_alg["ed25519-sha256"], keys["ed25519"], t0, t1)
    table = KeyTable(keys["rsa"], newer, keys["ed25519"])
    for idx in range(2):
        assert_verifies(raw, table, idx)
    # each signature verifies with its own key alone
    for idx, s in enumerate(sigs):
        own = newer if s["a"] == "rsa-sha256" else keys["ed25519"]
        assert_verifies(raw, KeyTable(own), idx)


@needs_dkimpy
def test_relayed_message_verifies_and_tampering(swallow_factory):
    peer = ScriptedSMTP().start()
    try:
        srv = swallow_factory(start=False, settings={"transport": {REMOTE: peer.hop}})
        key = generate(srv)
        srv.start()
        marker = "dkim-relayed-marker"
        rcpt = f"carol@{REMOTE}"
        t0 = time.time()
        qid = send_smtp(srv, [rcpt], message(marker, to=rcpt))
        t1 = time.time()
        got = wait_for(lambda: [m for m in peer.messages if marker.encode() in m.data], 30,
                       f"{marker!r} at the next hop")
        assert len(got) == 1 and got[0].rcpts == [rcpt], got
        raw = got[0].data
    finally:
        peer.stop()
    assert f"id {qid}".encode() in raw.split(b"\r\n\r\n", 1)[0]
    table = KeyTable(key)
    assert_verifies(raw, table)
    sig = one_signature(raw)
    check_signature_tags(raw, sig, key, t0, t1)
    check_placement(raw, 1)

    head, body = raw.split(b"\r\n\r\n", 1)
    assert b"tamper-target" in body

    # one byte of the body
    assert_fails(head + b"\r\n\r\n" + body.replace(b"tamper-target", b"tamper-targeT"), table,
                 "changing one byte of the body")
    # the From address
    forged, n = re.subn(rb"(?m)^From: Alice Example <alice@example\.test>",
                        b"From: Alice Example <mallory@example.test>", raw)
    assert n == 1, head
    assert_fails(forged, table, "changing From")
    # a second Subject: oversigning makes an added instance break the signature
    assert_fails(b"Subject: added later\r\n" + raw, table, "adding a second Subject")
    assert_fails(head + b"\r\nReply-To: <mallory@evil.test>\r\n\r\n" + body, table,
                 "adding a Reply-To")

    # relaxed/relaxed: whitespace, case of field names, folding and an unsigned field are fine
    subject = re.search(rb"(?m)^Subject: (.*)\r$", head)
    assert subject, head
    spaced = head.replace(subject.group(0), b"SUBJECT:   " + subject.group(1) + b" \t \r")
    spaced, n = re.subn(rb"(?m)^To: Bob Example <", b"To: Bob    Example\r\n\t <", spaced)
    assert n == 1, head
    roomy, n = re.subn(rb"(?m)^From: Alice Example <", b"From: Alice \t  Example   <", raw)
    assert n == 1, head
    variants = {
        "whitespace inside a header value": roomy,
        "field name case, trailing whitespace and refolding": spaced + b"\r\n\r\n" + body,
        "an added unsigned field": b"X-Scanned: yes\r\n" + raw,
        "trailing whitespace and empty lines at the end of the body":
            head + b"\r\n\r\n" + body.replace(b"the last words", b"the last   words  \t")
            + b"\r\n\r\n",
    }
    for what, variant in variants.items():
        ok, log = verify(variant, table)
        assert ok, f"relaxed canonicalization should survive {what}:\n{log}"


@needs_dkimpy
def test_authenticated_submission_signed_untrusted_client_not(signer):
    # no trusted network at all: 127.0.0.1 is an ordinary unauthenticated client now
    srv, keys = signer(("rsa",), trusted_networks=[])
    key = keys["rsa"]

    # unauthenticated, untrusted, From: a local domain with a key -> not signed
    marker = "dkim-untrusted-marker"
    send_smtp(srv, [BOB], message(marker))
    raw = imap_fetch(srv, BOB, BOB_PASSWORD, marker)
    assert signatures(raw) == [], header_fields(raw)

    # submission, STARTTLS + AUTH -> signed
    marker = "dkim-submission-marker"
    t0 = time.time()
    submit("127.0.0.1", srv.submission, ALICE, [BOB], message(marker),
           user=ALICE, password=ALICE_PASSWORD)
    t1 = time.time()
    raw = imap_fetch(srv, BOB, BOB_PASSWORD, marker)
    sig = one_signature(raw)
    check_signature_tags(raw, sig, key, t0, t1)
    check_placement(raw, 1)
    assert_verifies(raw, KeyTable(key))


@needs_dkimpy
def test_no_signature_for_a_from_domain_without_key(signer):
    srv, keys = signer(("rsa",), before_start=lambda srv: srv.cli("domain", "add", OTHER_LOCAL))
    for marker, sender in (("dkim-nokey-local-marker", f"someone@{OTHER_LOCAL}"),
                           ("dkim-nokey-remote-marker", "someone@outside.test")):
        send_smtp(srv, [BOB], message(marker, sender=sender), sender=sender)
        raw = imap_fetch(srv, BOB, BOB_PASSWORD, marker)
        assert signatures(raw) == [], (sender, header_fields(raw))
    # the envelope does not matter, the From: field does
    marker = "dkim-from-field-marker"
    send_smtp(srv, [BOB], message(marker), sender=f"bounces@{OTHER_LOCAL}")
    raw = imap_fetch(srv, BOB, BOB_PASSWORD, marker)
    sig = one_signature(raw)
    assert sig["d"] == DOMAIN, sig
    assert_verifies(raw, KeyTable(keys["rsa"]))


@needs_dkimpy
def test_sendmail_is_signed(swallow_factory, swallow_bin):
    # sendmail reads the smtp listener's port from the config: a fixed one
    srv = swallow_factory(start=False, listeners=("imap",),
                          listen={"smtp": [f"127.0.0.1:{free_port()}"]})
    key = generate(srv)
    srv.start()
    marker = "dkim-sendmail-marker"
    text = (f"From: Alice <{ALICE}>\nTo: {BOB}\nSubject: {marker}\n\n"
            "sent by a cron job\n.\nstill the body\n")
    env = dict(os.environ, SWALLOW_CONFIG=str(srv.config))
    r = subprocess.run([swallow_bin, "sendmail", "-t", "-i", "-f", ALICE], input=text.encode(),
                       env=env, capture_output=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    raw = imap_fetch(srv, BOB, BOB_PASSWORD, marker)
    sig = one_signature(raw)
    assert sig["d"] == DOMAIN and sig["s"] == key.selector, sig
    check_placement(raw, 1)
    assert_verifies(raw, KeyTable(key))


@needs_dkimpy
def test_utf8_header_8bit_body_and_folded_headers_verify(signer):
    algorithms = ("rsa", "ed25519") if HAVE_NACL else ("rsa",)
    srv, keys = signer(algorithms)
    marker = "dkim-utf8-folded-marker"
    recipients = ",\r\n\t".join(f"Friend Number {i} <friend{i}@outside.test>" for i in range(12))
    raw = (f"From: Jörg Ålice Müller <{ALICE}>\r\n"
           f"To: Bob <{BOB}>,\r\n\t{recipients}\r\n"
           f"Subject: Grüße aus Köln, 日本語の件名 and a subject long enough\r\n"
           f"  to be folded over   two lines {marker}\r\n"
           f"Date: {email.utils.formatdate(localtime=False)}\r\n"
           f"Message-ID: <{marker}@{DOMAIN}>\r\n"
           "X-Long: " + " ".join(f"word{i:03d}" for i in range(40)) + "\r\n"
           "\t" + " ".join(f"more{i:03d}" for i in range(40)) + "\r\n"
           "    and   a   third   line   with   runs   of   spaces\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n"
           "\r\n"
           "Ça marche — ünïcödé body ✓   \r\n"
           "..two dots, stuffed on the wire\r\n"
           "\r\n\r\n").encode("utf-8") + b"latin-1 bytes caf\xe9 na\xefve\r\n\r\n\r\n"
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=30) as s:
        s.ehlo("client.outside.test")
        assert s.has_extn("smtputf8") and s.has_extn("8bitmime")
        assert s.sendmail(ALICE, [BOB], raw, mail_options=["SMTPUTF8", "BODY=8BITMIME"]) == {}
    got = imap_fetch(srv, BOB, BOB_PASSWORD, marker)
    # delivered as sent below the added fields
    assert got.endswith(raw.split(b"\r\n\r\n", 1)[1]), got[-200:]
    sigs = signatures(got)
    assert len(sigs) == len(algorithms), got.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    table = KeyTable(*keys.values())
    for idx in range(len(sigs)):
        assert_verifies(got, table, idx)
