"""IMAP COMPRESS=DEFLATE (RFC 4978) as a client speaks it: the command in clear, then raw
deflate (RFC 1951, zlib's wbits=-15) both ways, here with Python's zlib (K-9 Mail and
Thunderbird for Android turn it on over mobile networks). Over plain TCP and inside TLS."""

from __future__ import annotations

import socket
import ssl
import zlib

import pytest

from conftest import ALICE, ALICE_PASSWORD, tls_client_context


@pytest.fixture
def srv(swallow_factory):
    return swallow_factory(allow_plaintext=True, listeners=("imap", "imaps"))


class Wire:
    """One IMAP connection; after `compress()`, everything is deflated both ways."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(20)
        self.buffer = b""
        self.deflate = self.inflate = None

    def send(self, data: bytes):
        if self.deflate:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buffer += self.inflate.decompress(chunk) if self.inflate else chunk

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._more()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._more()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def command(self, tag: str, text: bytes) -> list[bytes]:
        """Sends `tag text` and returns the lines up to the tagged one (literals inline)."""
        self.send(tag.encode() + b" " + text + b"\r\n")
        lines = []
        while True:
            line = self.line()
            if line.endswith(b"}") and b"{" in line:
                size = int(line[line.rindex(b"{") + 1:-1])
                line += b"\r\n" + self.exact(size) + self.line()
            lines.append(line)
            if line.startswith(tag.encode() + b" "):
                return lines

    def start_compression(self):
        self.deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        self.inflate = zlib.decompressobj(-15)
        # Anything the server sent after its OK is compressed already.
        if self.buffer:
            self.buffer = self.inflate.decompress(self.buffer)


def session(sock) -> Wire:
    w = Wire(sock)
    assert w.line().startswith(b"* OK")
    lines = w.command("a", f"LOGIN {ALICE} \"{ALICE_PASSWORD}\"".encode())
    assert lines[-1].startswith(b"a OK"), lines
    return w


def exercise(w: Wire):
    """COMPRESS, then real work through it: a 300 KiB APPEND and FETCH, flags, SEARCH."""
    caps = w.command("c", b"CAPABILITY")
    assert b"COMPRESS=DEFLATE" in caps[0].split(), caps
    ok = w.command("z", b"COMPRESS DEFLATE")
    assert ok == [b"z OK DEFLATE active."], ok
    w.start_compression()
    assert b"COMPRESS=DEFLATE" in w.command("c2", b"CAPABILITY")[0]
    again = w.command("z2", b"COMPRESS DEFLATE")
    assert again[-1].startswith(b"z2 NO [COMPRESSIONACTIVE]"), again
    body = b"".join(b"line %06d of a large and rather repetitive message\r\n" % i for i in range(6000))
    message = b"From: a@outside.test\r\nSubject: compressed\r\n\r\n" + body
    w.send(b"p APPEND INBOX {%d}\r\n" % len(message))
    assert w.line().startswith(b"+")
    w.send(message + b"\r\n")
    while True:
        line = w.line()
        if line.startswith(b"p "):
            assert line.startswith(b"p OK"), line
            break
    assert w.command("s", b"SELECT INBOX")[-1].startswith(b"s OK")
    fetched = w.command("f", b"FETCH 1 (BODY.PEEK[])")
    assert fetched[0].split(b"\r\n", 1)[1].startswith(message), fetched[0][:200]
    assert w.command("q", b"SEARCH SUBJECT compressed")[0] == b"* SEARCH 1"
    out = w.command("l", b"LOGOUT")
    assert out[0].startswith(b"* BYE") and out[-1].startswith(b"l OK"), out


def test_compress_over_plain_tcp(srv):
    exercise(session(socket.create_connection(("127.0.0.1", srv.ports["imap"]))))


def test_compress_inside_tls(srv):
    raw = socket.create_connection(("127.0.0.1", srv.ports["imaps"]))
    exercise(session(tls_client_context().wrap_socket(raw, server_hostname="localhost")))


def test_compress_refused_before_login_and_for_other_algorithms(srv):
    w = Wire(socket.create_connection(("127.0.0.1", srv.ports["imap"])))
    w.line()
    assert w.command("a", b"COMPRESS DEFLATE")[-1].startswith(b"a BAD"), "not before login"
    lines = w.command("b", f"LOGIN {ALICE} \"{ALICE_PASSWORD}\"".encode())
    assert lines[-1].startswith(b"b OK")
    assert w.command("c", b"COMPRESS LZ4")[-1].startswith(b"c BAD")
    assert w.command("d", b"NOOP")[-1].startswith(b"d OK"), "still uncompressed"


def test_bytes_pipelined_after_compress_close_the_connection(srv):
    """Like STARTTLS: a command sent in clear after COMPRESS would be read as compressed."""
    w = session(socket.create_connection(("127.0.0.1", srv.ports["imap"])))
    w.send(b"z COMPRESS DEFLATE\r\nn NOOP\r\n")
    first = w.line()
    assert first.startswith(b"* BYE"), first
    with pytest.raises((EOFError, ConnectionResetError)):
        while True:
            w.line()
