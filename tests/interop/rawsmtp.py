"""A minimal SMTP/LMTP client on raw sockets, for sending exactly the bytes a test wants."""

from __future__ import annotations

import socket
import ssl
import time

from conftest import tls_client_context


class Closed(Exception):
    """The server closed the connection."""


class Reply:
    def __init__(self, code: int, lines: list[bytes]):
        self.code = code
        self.lines = lines  # text after "NNN-" / "NNN "

    @property
    def text(self) -> bytes:
        return b"\n".join(self.lines)

    def __repr__(self):
        return f"Reply({self.code}, {self.lines!r})"


class RawClient:
    def __init__(self, port: int, tls: bool = False, timeout: float = 30.0):
        self.sock: socket.socket | ssl.SSLSocket = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout)
        if tls:
            self.sock = tls_client_context().wrap_socket(self.sock)
        self.buf = b""
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def _fill(self, timeout: float | None = None):
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        data = self.sock.recv(65536)
        if not data:
            raise Closed(f"connection closed; unparsed bytes {self.buf!r}")
        self.buf += data

    def read_line(self, timeout: float | None = None) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill(timeout)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self, timeout: float | None = None) -> Reply:
        lines = []
        while True:
            line = self.read_line(timeout)
            assert len(line) >= 3 and line[:3].isdigit(), f"not an SMTP reply line: {line!r}"
            lines.append(line[4:])
            if len(line) == 3 or line[3:4] == b" ":
                return Reply(int(line[:3]), lines)
            assert line[3:4] == b"-", f"bad reply continuation: {line!r}"

    def cmd(self, line: str | bytes, timeout: float | None = None) -> Reply:
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        return self.reply(timeout)

    def greeting(self) -> Reply:
        r = self.reply()
        assert r.code == 220, r
        return r

    def ehlo(self, name: str = "client.outside.test", verb: str = "EHLO") -> Reply:
        r = self.cmd(f"{verb} {name}")
        assert r.code == 250, r
        return r

    def starttls(self):
        r = self.cmd("STARTTLS")
        assert r.code == 220, r
        assert not self.buf, f"bytes after 220 to STARTTLS: {self.buf!r}"
        self.sock = tls_client_context().wrap_socket(self.sock)

    def expect_eof(self, timeout: float = 5.0) -> bytes:
        """Wait for the server to close; returns whatever it sent before closing.
        Fails if it neither closes nor stays silent... i.e. on timeout."""
        deadline = time.monotonic() + timeout
        got = self.buf
        self.buf = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"server did not close the connection within {timeout}s; "
                                     f"received {got!r}")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, ssl.SSLError, OSError):
                return got
            if not data:
                return got
            got += data
