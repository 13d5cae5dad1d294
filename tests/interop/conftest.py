"""Fixtures that run the real, built `swallow` binary for interop tests.

Every server gets its own temporary data directory (`swallow init`), listens on
127.0.0.1 only with kernel-chosen ports, and is stopped (SIGTERM, then SIGKILL)
and removed when the test ends, even when it fails. The server's log (stderr)
is attached to the report of a failing test.

Environment:
  SWALLOW_BIN   path of the binary (default /work/main/.build/debug/swallow)
"""

from __future__ import annotations

import contextlib
import email
import email.message
import errno
import imaplib
import email.policy
import mailbox
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

DEFAULT_BIN = "/work/main/.build/debug/swallow"
DOMAIN = "example.test"
HOSTNAME = "mx.example.test"

ALICE = "alice@example.test"
ALICE_PASSWORD = "alice correct horse 1"
BOB = "bob@example.test"
BOB_PASSWORD = "bob battery staple 2"
ALIAS = "sales@example.test"          # -> alice
TEAM = "team@example.test"            # -> alice, bob

PROTOCOL_LISTENERS = ("smtp", "submission", "submissions", "lmtp")
DISABLED_LISTENERS = ("imap", "imaps", "pop3", "pop3s", "managesieve", "admin")

# The three trace headers Swallow puts on top of every stored message.
ADDED_HEADERS = ("return-path", "delivered-to", "received")

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

# Logs of things currently running for the test in progress: (title, path).
_LOG_SOURCES: list[tuple[str, Path]] = []


def register_log(title: str, path: Path) -> None:
    _LOG_SOURCES.append((title, Path(path)))


def unregister_log(path: Path) -> None:
    _LOG_SOURCES[:] = [(t, p) for (t, p) in _LOG_SOURCES if p != Path(path)]


def _read_tail(path: Path, limit: int = 60_000) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        return f"(cannot read {path}: {e})"
    if len(data) > limit:
        data = b"...(truncated)...\n" + data[-limit:]
    return data.decode("utf-8", "replace")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when in ("setup", "call") and report.failed:
        for title, path in list(_LOG_SOURCES):
            report.sections.append((f"log: {title}", _read_tail(path)))


# --------------------------------------------------------------------------
# helpers usable from tests


def tls_client_context() -> ssl.SSLContext:
    """A client context that accepts Swallow's self-signed certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@contextlib.contextmanager
def imap_login(srv, user: str, password: str):
    """imaplib on the server's `imap` listener, after STARTTLS and LOGIN; logged out after."""
    m = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=30)
    try:
        m.starttls(ssl_context=tls_client_context())
        m.login(user, password)
        yield m
    finally:
        with contextlib.suppress(Exception):
            m.logout()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def split_added_headers(raw: bytes) -> tuple[list[bytes], bytes]:
    """Split the trace headers Swallow prepends from the message as submitted.

    Returns (list of the leading Return-Path/Delivered-To/Received fields with their
    continuation lines, the rest of the message unchanged). Works on LF or CRLF text.
    """
    fields: list[bytes] = []
    rest = raw
    while True:
        m = re.match(rb"([A-Za-z-]+):", rest)
        if not m or m.group(1).lower().decode() not in ADDED_HEADERS:
            break
        if len(fields) >= len(ADDED_HEADERS):
            break
        # the field runs up to the first line end not followed by WSP
        end = 0
        while True:
            nl = rest.find(b"\n", end)
            if nl < 0:
                end = len(rest)
                break
            end = nl + 1
            if end >= len(rest) or rest[end:end + 1] not in (b" ", b"\t"):
                break
        fields.append(rest[:end])
        rest = rest[end:]
    return fields, rest


def strip_added_headers(raw: bytes) -> bytes:
    fields, rest = split_added_headers(raw)
    names = sorted(f.split(b":", 1)[0].lower().decode() for f in fields)
    assert names == sorted(ADDED_HEADERS), (
        f"expected exactly the added headers {ADDED_HEADERS} on top, found {names!r} in "
        f"{raw[:600]!r}")
    return rest


def to_lf(data: bytes) -> bytes:
    """What the mbox export writes for a message stored with CRLF line ends."""
    return data.replace(b"\r\n", b"\n")


_BINARY_BUSY = (errno.ENOENT, errno.ETXTBSY, errno.ENOEXEC, errno.EACCES)


def _with_binary_retry(binary: str, fn):
    """Run fn(); if the binary is missing or being rewritten by a concurrent build (ENOENT,
    ETXTBSY, ENOEXEC), wait until it is stable again and retry."""
    for attempt in range(20):
        try:
            return fn()
        except OSError as e:
            if e.errno not in _BINARY_BUSY or attempt == 19:
                raise
            _wait_for_binary(binary)


class Swallow:
    """One `swallow serve` process on its own data directory."""

    def __init__(self, binary: str, root: Path, name: str = "swallow"):
        self.binary = binary
        self.root = Path(root)
        self.name = name
        self.data_dir = self.root / "data"
        self.config = self.data_dir / "swallow.toml"
        self.log_path = self.root / f"{name}.log"
        self.stdout_path = self.root / f"{name}.stdout"
        self.proc: subprocess.Popen | None = None
        self.ports: dict[str, int] = {}
        # Every reported listener address: name -> (ip, port) of its first address.
        self.addresses: dict[str, tuple[str, int]] = {}
        self._exports = 0
        # Listeners of DISABLED_LISTENERS this server runs too (e.g. ("pop3", "pop3s")).
        self.extra_listeners: tuple[str, ...] = ()
        # Listeners start() waits for (those configured with at least one address).
        self.expected_listeners: tuple[str, ...] = PROTOCOL_LISTENERS

    # ---- setup

    def init(self, trusted_networks=None, allow_plaintext: bool = False, extra_toml: str = "",
             listeners: tuple[str, ...] = (), domain: str = DOMAIN, hostname: str = HOSTNAME,
             listen: dict[str, list[str]] | None = None,
             settings: dict[str, dict[str, object]] | None = None):
        """`listeners`: names from DISABLED_LISTENERS to enable on 127.0.0.1:0 as well; start()
        then waits for them to be reported like the SMTP ones.
        `listen`: listener name -> list of "ip:port" replacing what the above chose (an empty
        list disables it), e.g. {"smtp": ["127.0.0.71:25"]}.
        `settings`: {section: {key: value}} written with set_toml (after the above)."""
        self.extra_listeners = tuple(listeners)
        r = _with_binary_retry(self.binary, lambda: subprocess.run(
            [self.binary, "init", "--data", str(self.data_dir), "--domain", domain,
             "--hostname", hostname],
            capture_output=True, timeout=60))
        assert r.returncode == 0, f"swallow init failed: {r.stdout!r} {r.stderr!r}"
        text = self.config.read_text()
        for key in PROTOCOL_LISTENERS + self.extra_listeners:
            text, n = re.subn(rf"(?m)^{key}\s*=.*$", f'{key} = ["127.0.0.1:0"]', text)
            assert n == 1, f"no `{key} =` line in generated config:\n{text}"
        for key in DISABLED_LISTENERS:
            if key in self.extra_listeners:
                continue
            text, n = re.subn(rf"(?m)^{key}\s*=.*$", f"{key} = []", text)
            assert n == 1, f"no `{key} =` line in generated config:\n{text}"
        # Keep every test server off the network: remote mail (none is expected to leave)
        # would ask a resolver on a local port where nothing listens.
        text, n = re.subn(r"(?m)^nameservers\s*=.*$", 'nameservers = ["127.0.0.1:1"]', text)
        assert n == 1, f"no nameservers line in generated config:\n{text}"
        if trusted_networks is not None:
            value = "[" + ", ".join(f'"{n}"' for n in trusted_networks) + "]"
            text, n = re.subn(r"(?m)^trusted_networks\s*=.*$", f"trusted_networks = {value}", text)
            assert n == 1, f"no trusted_networks line in generated config:\n{text}"
        if allow_plaintext:
            text, n = re.subn(r"(?m)^allow_plaintext_without_tls\s*=.*$",
                              "allow_plaintext_without_tls = true", text)
            assert n == 1
        enabled = list(PROTOCOL_LISTENERS + self.extra_listeners)
        for key, addresses in (listen or {}).items():
            value = "[" + ", ".join(f'"{a}"' for a in addresses) + "]"
            text, n = re.subn(rf"(?m)^{key}\s*=.*$", f"{key} = {value}", text)
            assert n == 1, f"no `{key} =` line in generated config:\n{text}"
            if addresses and key not in enabled:
                enabled.append(key)
            elif not addresses and key in enabled:
                enabled.remove(key)
        self.expected_listeners = tuple(enabled)
        text += extra_toml
        self.config.write_text(text)
        for section, values in (settings or {}).items():
            for key, value in values.items():
                self.set_toml(section, key, value)

    def set_toml(self, section: str, key: str, value) -> None:
        """Set `key = value` in `[section]` of the config file, replacing the key's line if the
        section has one, else adding it under the section header (the section is appended when
        missing). `value`: str, bool, int or a list of str (written as TOML)."""
        import json

        def toml_value(v) -> str:
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, int):
                return str(v)
            if isinstance(v, str):
                return json.dumps(v)
            if isinstance(v, (list, tuple)):
                return "[" + ", ".join(toml_value(x) for x in v) + "]"
            raise TypeError(f"no TOML form for {v!r}")

        toml_key = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)
        line = f"{toml_key} = {toml_value(value)}"
        lines = self.config.read_text().split("\n")
        header = next((i for i, l in enumerate(lines)
                       if re.match(rf"^\[{re.escape(section)}\]\s*(#.*)?$", l)), None)
        if header is None:
            lines += ["", f"[{section}]", line, ""]
        else:
            end = next((i for i in range(header + 1, len(lines)) if lines[i].startswith("[")),
                       len(lines))
            existing = next((i for i in range(header + 1, end)
                             if re.match(rf"^\s*{re.escape(toml_key)}\s*=", lines[i])), None)
            if existing is None:
                lines.insert(header + 1, line)
            else:
                lines[existing] = line
        self.config.write_text("\n".join(lines))

    def add_default_accounts(self):
        self.cli("user", "add", ALICE, "--password-stdin", input=ALICE_PASSWORD + "\n")
        self.cli("user", "add", BOB, "--password-stdin", input=BOB_PASSWORD + "\n")
        self.cli("alias", "add", ALIAS, ALICE)
        self.cli("alias", "add", TEAM, ALICE, BOB)

    # ---- CLI

    def cli(self, *args, input: str | bytes | None = None, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess:
        """Run `swallow ARGS... --config CONFIG`; returns the CompletedProcess (text)."""
        if isinstance(input, bytes):
            input = input.decode()
        r = _with_binary_retry(self.binary, lambda: subprocess.run(
            [self.binary, *args, "--config", str(self.config)],
            input=input, capture_output=True, text=True, timeout=timeout))
        if check:
            assert r.returncode == 0, (
                f"swallow {' '.join(args)} exited {r.returncode}\nstdout: {r.stdout}\n"
                f"stderr: {r.stderr}")
        return r

    def export_mbox(self, user: str, mailbox_name: str | None = None) -> Path:
        self._exports += 1
        path = self.root / f"export-{self._exports}.mbox"
        args = ["export", "--format", "mbox", "--user", user]
        if mailbox_name:
            args += ["--mailbox", mailbox_name]
        self.cli(*args, str(path))
        return path

    def inbox_raw(self, user: str, mailbox_name: str | None = None) -> list[bytes]:
        """Every message of the user's INBOX as exported (LF line ends, trace headers on top)."""
        path = self.export_mbox(user, mailbox_name)
        box = mailbox.mbox(str(path), create=False)
        try:
            return [box.get_bytes(key) for key in box.keys()]
        finally:
            box.close()

    def inbox(self, user: str, mailbox_name: str | None = None) -> list[email.message.Message]:
        return [email.message_from_bytes(raw, policy=email.policy.default)
                for raw in self.inbox_raw(user, mailbox_name)]

    def wait_inbox_raw(self, user: str, count: int = 1, timeout: float = 20.0) -> list[bytes]:
        """Poll until the INBOX holds at least `count` messages (250 means queued, not yet
        delivered); returns them all."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.inbox_raw(user)
            if len(msgs) >= count or time.monotonic() > deadline:
                assert len(msgs) >= count, (
                    f"{user}: {len(msgs)} message(s) in INBOX after {timeout}s, wanted {count}")
                return msgs
            time.sleep(0.1)

    def wait_inbox(self, user: str, count: int = 1, timeout: float = 20.0):
        return [email.message_from_bytes(raw, policy=email.policy.default)
                for raw in self.wait_inbox_raw(user, count, timeout)]

    def settle(self, user: str, canary_port: int | None = None, timeout: float = 20.0) -> list[bytes]:
        """Deliver a canary message to `user` over a fresh SMTP session and wait for it: any
        message accepted before it has had its chance to land too. Returns the INBOX without
        the canary."""
        import smtplib
        tag = f"canary-{time.monotonic_ns()}"
        with smtplib.SMTP("127.0.0.1", canary_port or self.ports["smtp"], timeout=30) as s:
            s.sendmail("canary@outside.test", [user],
                       f"Subject: {tag}\r\nFrom: canary@outside.test\r\n\r\n{tag}\r\n".encode())
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.inbox_raw(user)
            if any(tag.encode() in m for m in msgs):
                break
            assert time.monotonic() < deadline, f"canary never reached {user}"
            time.sleep(0.1)
        time.sleep(0.5)  # a little extra for anything delivered out of order
        msgs = self.inbox_raw(user)
        return [m for m in msgs if tag.encode() not in m]

    # ---- process control

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        self.ports = {}
        self.addresses = {}
        # Each start appends to the same log; stdout gets a fresh file so we parse this run.
        if self.stdout_path.exists():
            self.stdout_path.unlink()
        with open(self.log_path, "ab") as log, open(self.stdout_path, "wb") as out:
            self.proc = _with_binary_retry(self.binary, lambda: subprocess.Popen(
                [self.binary, "serve", "--config", str(self.config)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=log,
                start_new_session=True))
        register_log(f"{self.name} stderr ({self.log_path})", self.log_path)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        running = False
        while time.monotonic() < deadline:
            text = self.stdout_path.read_text(errors="replace")
            if "swallow: running" in text:
                running = True
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        text = self.stdout_path.read_text(errors="replace")
        if not running:
            rc = self.proc.poll()
            self._terminate()
            raise RuntimeError(
                f"swallow serve did not report running (exit {rc}).\nstdout:\n{text}\n"
                f"stderr:\n{_read_tail(self.log_path)}")
        for m in re.finditer(r"(?m)^swallow: (\w+) on (\d+\.\d+\.\d+\.\d+):(\d+)(?:,.*)?\s*$",
                             text):
            self.addresses[m.group(1)] = (m.group(2), int(m.group(3)))
            self.ports[m.group(1)] = int(m.group(3))
        missing = [k for k in self.expected_listeners if k not in self.ports]
        if missing:
            self._terminate()
            raise RuntimeError(f"listeners {missing} not reported on stdout:\n{text}")
        return self

    def _terminate(self, timeout: float = STOP_TIMEOUT) -> int | None:
        p = self.proc
        if p is None:
            return None
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
                return None
        return p.returncode

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, wait, SIGKILL if it does not stop. Returns the exit code (None if killed)."""
        return self._terminate(timeout)

    def kill(self):
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_text(self) -> str:
        return _read_tail(self.log_path)

    # ---- ports

    @property
    def smtp(self) -> int:
        return self.ports["smtp"]

    @property
    def submission(self) -> int:
        return self.ports["submission"]

    @property
    def submissions(self) -> int:
        return self.ports["submissions"]

    @property
    def lmtp(self) -> int:
        return self.ports["lmtp"]


# --------------------------------------------------------------------------
# fixtures


def _wait_for_binary(path: str, timeout: float = 600.0) -> None:
    """The binary may be missing or mid-rebuild: wait until it exists, is executable and its
    size and mtime are stable, then check that it runs."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            st = os.stat(path)
            cur = (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            cur = None
        if cur is not None and cur == last and os.access(path, os.X_OK):
            try:
                r = subprocess.run([path, "--help"], capture_output=True, timeout=30)
                if r.returncode == 0:
                    return
            except OSError:
                pass
        if time.monotonic() > deadline:
            pytest.exit(f"swallow binary {path} not usable after {timeout}s", returncode=3)
        last = cur
        time.sleep(1.0)


@pytest.fixture(scope="session")
def swallow_bin() -> str:
    path = os.environ.get("SWALLOW_BIN", DEFAULT_BIN)
    _wait_for_binary(path)
    return path


@pytest.fixture
def swallow_factory(swallow_bin):
    """make(trusted_networks=None, allow_plaintext=False, accounts=True, start=True,
    listeners=(), **init_options) -> Swallow; listeners=("pop3", "pop3s") also runs those on
    127.0.0.1:0; init_options (domain, hostname, listen, settings) go to Swallow.init."""
    made: list[tuple[Swallow, str]] = []

    def make(name: str = "swallow", trusted_networks=None, allow_plaintext: bool = False,
             accounts: bool = True, start: bool = True, extra_toml: str = "",
             listeners: tuple[str, ...] = (), **init_options) -> Swallow:
        root = tempfile.mkdtemp(prefix=f"swallow-interop-{name}-")
        srv = Swallow(swallow_bin, Path(root), name)
        made.append((srv, root))
        srv.init(trusted_networks=trusted_networks, allow_plaintext=allow_plaintext,
                 extra_toml=extra_toml, listeners=listeners, **init_options)
        if accounts:
            srv.add_default_accounts()
        if start:
            srv.start()
        return srv

    yield make

    for srv, root in reversed(made):
        try:
            srv.stop()
        finally:
            unregister_log(srv.log_path)
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def swallow(swallow_factory) -> Swallow:
    """A running server with the default config (trusted_networks = 127.0.0.0/8), users
    alice and bob, alias sales@ -> alice and team@ -> alice, bob."""
    return swallow_factory()


@pytest.fixture
def lazy(tmp_path):
    """A LazyFS mount (tests/interop/lazyfs.py) whose unsynced writes a test can drop, as a
    power cut would; its log is attached to a failing test's report."""
    from lazyfs import LazyFS
    with LazyFS(tmp_path / "backing", tmp_path / "mnt", log=tmp_path / "lazyfs.log") as fs:
        register_log("lazyfs", fs.log_path)
        try:
            yield fs
        finally:
            unregister_log(fs.log_path)


# --------------------------------------------------------------------------
# the admin HTTP listener (`listeners=("admin",)`), with the standard library's http.client

ADMIN = "root"
ADMIN_PASSWORD = "admin correct horse 3"


class HTTPReply:
    """One HTTP response, read whole: status, headers (an http.client.HTTPMessage), body."""

    def __init__(self, status: int, reason: str, headers, body: bytes):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def json(self):
        import json
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError(f"HTTP {self.status} body is not JSON ({e}): {self.body[:2000]!r}") from None

    def __repr__(self) -> str:
        return f"<HTTP {self.status} {self.content_type} {self.body[:500]!r}>"


def http_request(port: int, method: str, path: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None, tls: bool = False,
                 host: str = "127.0.0.1", timeout: float = 30) -> HTTPReply:
    """One request on a fresh connection (no proxy, no redirects followed)."""
    import http.client
    conn = (http.client.HTTPSConnection(host, port, timeout=timeout, context=tls_client_context())
            if tls else http.client.HTTPConnection(host, port, timeout=timeout))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return HTTPReply(r.status, r.reason, r.headers, r.read())
    finally:
        conn.close()


def admin_request(srv: Swallow, method: str, path: str, json_body=None, token: str | None = None,
                  headers: dict[str, str] | None = None, **kwargs) -> HTTPReply:
    """A request to srv's admin listener; `json_body` is sent as application/json and `token`
    as `Authorization: Bearer TOKEN`."""
    import json
    h = {"Accept": "application/json", **(headers or {})}
    body = None
    if json_body is not None:
        body = json.dumps(json_body).encode()
        h["Content-Type"] = "application/json"
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    return http_request(kwargs.pop("port", None) or srv.ports["admin"], method, path, body, h,
                        **kwargs)


def add_admin(srv: Swallow, name: str = ADMIN, password: str = ADMIN_PASSWORD) -> str:
    """`swallow admin add NAME --password-stdin`; returns the API token it prints once."""
    r = srv.cli("admin", "add", name, "--password-stdin", input=password + "\n")
    m = re.search(r"(?m)^token: (\S+)\s*$", r.stdout)
    assert m, f"no `token: TOKEN` line from `swallow admin add`:\n{r.stdout}\n{r.stderr}"
    return m.group(1)
