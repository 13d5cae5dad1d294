"""A next hop whose every connection runs a script written by the test (raw sockets, optional
TLS), for the outbound cases no real MTA can be made to play: a peer that stops reading, one
that sends bytes after its 220 to STARTTLS, one that waits before its final 250.

Also a throwaway test CA made with the openssl command line.
"""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


class PeerConnection:
    """One accepted connection: line reading, replies, STARTTLS; everything the client sent
    (after TLS: decrypted) is kept in `received`."""

    def __init__(self, sock: socket.socket, peer: "ScriptPeer"):
        self.sock = sock
        self.peer = peer
        self.buffer = b""

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self, line: str) -> None:
        self.send(line + "\r\n")

    def readline(self) -> bytes | None:
        """One line without its line end; None when the client closed the connection."""
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
            self.peer.record(chunk)
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.rstrip(b"\r")

    def command(self) -> tuple[str, bytes]:
        """(upper-case verb, whole line) of the next command; ("", b"") at end of input."""
        line = self.readline()
        if line is None:
            return "", b""
        return (line.split(b" ", 1)[0].decode("ascii", "replace").upper(), line)

    def read_data(self) -> bytes | None:
        """The message after a 354, up to the lone dot (dot-stuffing undone); None if the client
        went away first."""
        lines = []
        while True:
            line = self.readline()
            if line is None:
                return None
            if line == b".":
                return b"\r\n".join(lines) + b"\r\n"
            lines.append(line[1:] if line.startswith(b".") else line)

    def starttls(self, context: ssl.SSLContext) -> None:
        """Server side of the TLS handshake (raises ssl.SSLError when the client gives up)."""
        self.sock = context.wrap_socket(self.sock, server_side=True)
        self.peer.record(b"<TLS>")


class ScriptPeer:
    """Listens on 127.0.0.1:0; each connection runs `script(conn)` in a thread of its own.
    `receive_buffer`: SO_RCVBUF of the listening socket (inherited by accepted ones), small to
    make a peer that stops reading stall the sender quickly."""

    def __init__(self, script, receive_buffer: int | None = None):
        self.script = script
        self.lock = threading.Lock()
        self.received = b""
        self.errors: list[str] = []
        self.connections = 0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if receive_buffer:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def hop(self) -> str:
        return f"127.0.0.1:{self.port}"

    def record(self, data: bytes) -> None:
        with self.lock:
            self.received += data

    def _accept(self):
        while not self.stopped.is_set():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.sockets.append(sock)
            threading.Thread(target=self._run, args=(sock,), daemon=True).start()

    def _run(self, sock: socket.socket):
        conn = PeerConnection(sock, self)
        try:
            self.script(conn)
        except (OSError, ssl.SSLError) as e:
            with self.lock:
                self.errors.append(repr(e))
        finally:
            try:
                conn.sock.close()
            except OSError:
                pass

    def stop(self):
        self.stopped.set()
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                try:
                    s.close()
                except OSError:
                    pass


@dataclass
class Received:
    helo: str
    mail_from: str
    rcpts: list[str]
    data: bytes


class Esmtp:
    """A scripted ESMTP dialogue for ScriptPeer (PIPELINING, 8BITMIME, SIZE, ENHANCEDSTATUSCODES;
    no CHUNKING, no SMTPUTF8); each argument changes one step.

    tls: an SSLContext: STARTTLS is offered and `starttls_reply` (bytes, sent in one write) is
    the answer to it. auth: AUTH PLAIN is offered (after TLS, when there is TLS) and accepted.
    rcpt_reply: the reply line to every RCPT, or `rcpt_reply(n, address)` for the n-th RCPT
    received (from 1, across connections). after_354: called with the connection instead of
    reading the message (a peer that stops reading). final_delay: seconds between the end of
    the message and the 250 (the message counts as accepted at its end, as in an MTA that has
    committed it and is slow to say so).

    `transcript` holds ("C", command) and ("S", reply) lines and ("TLS", "") where TLS began;
    `messages` every message received to its end."""

    def __init__(self, tls: ssl.SSLContext | None = None, auth: bool = False,
                 starttls_reply: bytes = b"220 2.0.0 Ready to start TLS\r\n",
                 rcpt_reply="250 2.1.5 Ok", after_354=None, final_delay: float = 0.0,
                 size_limit: int = 10_000_000):
        self.tls = tls
        self.auth = auth
        self.starttls_reply = starttls_reply
        self.rcpt_reply = rcpt_reply if callable(rcpt_reply) else (lambda n, address: rcpt_reply)
        self.after_354 = after_354
        self.final_delay = final_delay
        self.size_limit = size_limit
        self.lock = threading.Lock()
        self.rcpt_count = 0
        self.transcript: list[tuple[str, str]] = []
        self.messages: list[Received] = []

    def _log(self, who: str, line: str):
        with self.lock:
            self.transcript.append((who, line))

    def __call__(self, conn: PeerConnection):
        def reply(*lines: str):
            for line in lines:
                self._log("S", line)
            conn.send("".join(f"{l}\r\n" for l in lines))

        reply("220 peer.test ESMTP")
        secure, helo, mail_from, rcpts = False, "", None, []
        while True:
            verb, raw = conn.command()
            if not verb:
                return
            line = raw.decode("utf-8", "replace")
            self._log("C", line)
            if verb == "EHLO":
                helo = line[5:]
                caps = ["peer.test", "PIPELINING", "8BITMIME", f"SIZE {self.size_limit}", "ENHANCEDSTATUSCODES"]
                if self.tls and not secure:
                    caps.append("STARTTLS")
                if self.auth and (secure or not self.tls):
                    caps.append("AUTH PLAIN")
                reply(*[f"250-{c}" for c in caps[:-1]], f"250 {caps[-1]}")
            elif verb == "HELO":
                helo = line[5:]
                reply("250 peer.test")
            elif verb == "STARTTLS" and self.tls and not secure:
                conn.send(self.starttls_reply)
                conn.starttls(self.tls)
                secure = True
                self._log("TLS", "")
            elif verb == "AUTH" and self.auth:
                reply("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                m = re.match(r"(?i)MAIL FROM:<([^>]*)>", line)
                mail_from, rcpts = (m.group(1) if m else line), []
                reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                m = re.match(r"(?i)RCPT TO:<([^>]*)>", line)
                address = m.group(1) if m else line
                with self.lock:
                    self.rcpt_count += 1
                    n = self.rcpt_count
                answer = self.rcpt_reply(n, address)
                if answer.startswith("2"):
                    rcpts.append(address)
                reply(answer)
            elif verb == "DATA":
                if mail_from is None or not rcpts:
                    reply("503 5.5.1 Error: need RCPT command")
                    continue
                reply("354 End data with <CR><LF>.<CR><LF>")
                if self.after_354:
                    self.after_354(conn)
                    return
                data = conn.read_data()
                if data is None:
                    return
                with self.lock:
                    self.messages.append(Received(helo, mail_from, rcpts, data))
                mail_from, rcpts = None, []
                time.sleep(self.final_delay)
                reply("250 2.0.0 Ok: queued")
            elif verb in ("RSET", "NOOP"):
                if verb == "RSET":
                    mail_from, rcpts = None, []
                reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                reply("221 2.0.0 Bye")
                return
            else:
                reply("502 5.5.2 Error: command not recognized")

    def commands(self) -> list[str]:
        """What the client sent, with "<TLS>" where TLS began."""
        with self.lock:
            return [line if who == "C" else "<TLS>" for who, line in self.transcript if who != "S"]

    def count(self, marker: str) -> int:
        with self.lock:
            return sum(marker.encode() in m.data for m in self.messages)


# --------------------------------------------------------------------------
# certificates


def _openssl(*args: str, cwd: Path) -> None:
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}"


class ThrowawayCA:
    """A throwaway CA in `root`; `issue(name, sans)` makes a server certificate it signed, and
    `self_signed(name, sans)` one nobody signed."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.cert = self.root / "ca.pem"
        (self.root / "ca.cnf").write_text(
            "[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\nprompt = no\n"
            "[dn]\nCN = Swallow Test CA\n"
            "[v3_ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n"
            "subjectKeyIdentifier = hash\n")
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
                 "-days", "2", "-config", "ca.cnf", cwd=self.root)

    def _extensions(self, name: str, sans: list[str]) -> str:
        path = self.root / f"{name}.ext"
        path.write_text("basicConstraints = CA:FALSE\nkeyUsage = digitalSignature, keyEncipherment\n"
                        "extendedKeyUsage = serverAuth\n"
                        f"subjectAltName = {', '.join(sans)}\n")
        return path.name

    def issue(self, name: str, sans: list[str]) -> tuple[Path, Path]:
        ext = self._extensions(name, sans)
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=self.root)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", ext, cwd=self.root)
        return self.root / f"{name}.pem", self.root / f"{name}.key"

    def self_signed(self, name: str, sans: list[str]) -> tuple[Path, Path]:
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
                 "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
                 "-addext", f"subjectAltName = {', '.join(sans)}", cwd=self.root)
        return self.root / f"{name}.pem", self.root / f"{name}.key"


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx
