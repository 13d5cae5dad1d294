"""`swallow sendmail`: the /usr/sbin/sendmail interface, driven by programs nobody here wrote:
s-nail (mailx), PHP's mail() and a cron-style `printf ... | sendmail -t -i`, through a
`sendmail` symbolic link to the swallow binary, as an administrator installs it."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import ALICE, BOB, free_port
from outbound_helpers import SmtpSink, wait_for

REMOTE = "remote.test"


@pytest.fixture
def installed(swallow_factory, swallow_bin, tmp_path):
    """A server whose SMTP listener has a fixed port (sendmail reads it from the config), a
    `sendmail` and a `mailq` link to the binary, and the environment they need."""
    sink_root = Path(tempfile.mkdtemp(prefix="swallow-interop-sendmail-sink-"))
    sink = SmtpSink(sink_root).start([])
    srv = swallow_factory(listen={"smtp": [f"127.0.0.1:{free_port()}"]},
                          settings={"transport": {REMOTE: sink.hop}})
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("sendmail", "mailq"):
        (bindir / name).symlink_to(swallow_bin)
    env = dict(os.environ, SWALLOW_CONFIG=str(srv.config), MAILRC="/dev/null",
               PATH=f"{bindir}:{os.environ['PATH']}")
    yield srv, bindir, env, sink
    sink.close()
    shutil.rmtree(sink_root, ignore_errors=True)


def bodies(srv, user, marker, count=1):
    def found():
        hits = [m for m in srv.inbox_raw(user) if marker.encode() in m]
        return hits if len(hits) >= count else None
    return wait_for(found, 20, f"{count} message(s) with {marker} for {user}")


def test_cron_style_printf_pipe_with_headers(installed):
    srv, bindir, env, _ = installed
    text = f"To: {BOB}\nCc: {ALICE}\nBcc: {ALICE}\nSubject: cron-marker\n\nDaily report\n.\nstill the body\n"
    r = subprocess.run([str(bindir / "sendmail"), "-t", "-i"], input=text.encode(), env=env,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    [raw] = bodies(srv, BOB, "cron-marker")
    head, _, body = raw.partition(b"\n\n")
    assert b"Bcc" not in head
    user = pwd.getpwuid(os.getuid()).pw_name
    assert f"From: <{user}@mx.example.test>".encode() in head, head  # added: the invoking user at our host name
    assert b"\nDate: " in head and b"\nMessage-ID: " in head
    assert b"Received: " in head and b"id " in head  # through the server's acceptance path
    assert b"Daily report\n.\nstill the body\n" in body  # -i: a lone dot is data
    # Cc and Bcc both reached alice, once (the same address is one recipient).
    assert len(bodies(srv, ALICE, "cron-marker")) == 1


def test_recipients_as_arguments_and_sender_options(installed):
    srv, bindir, env, _ = installed
    r = subprocess.run([str(bindir / "sendmail"), "-f", "app@example.test", "-F", "The App", "-oi", "--", BOB],
                       input=b"plain body args-marker\n", env=env, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    [raw] = bodies(srv, BOB, "args-marker")
    assert b"From: The App <app@example.test>" in raw
    # -f is the envelope sender, as the server saw it.
    assert any("from=<app@example.test>" in l and "accepted" in l for l in srv.log_text().splitlines()), srv.log_text()[-2000:]


def test_s_nail(installed):
    snail = shutil.which("s-nail")
    if not snail:
        pytest.skip("s-nail is not installed (Debian package s-nail)")
    srv, bindir, env, _ = installed
    r = subprocess.run([snail, "-n", "-S", f"mta={bindir / 'sendmail'}", "-s", "snail-marker", BOB],
                       input=b"sent by s-nail\n", env=env, capture_output=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    [raw] = bodies(srv, BOB, "snail-marker")
    assert b"sent by s-nail" in raw


def test_php_mail(installed):
    php = shutil.which("php")
    if not php:
        pytest.skip("php is not installed (Debian package php-cli)")
    srv, bindir, env, _ = installed
    code = ("exit(mail('bob@example.test', 'php-marker', \"Hello from PHP\\n\", "
            "'From: web@example.test') ? 0 : 1);")
    r = subprocess.run([php, "-n", "-d", f"sendmail_path={bindir / 'sendmail'} -t -i", "-r", code],
                       env=env, capture_output=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    [raw] = bodies(srv, BOB, "php-marker")
    assert b"From: web@example.test" in raw and b"Hello from PHP" in raw


def test_cron_to_a_remote_domain_reaches_the_next_hop(installed):
    srv, bindir, env, sink = installed
    text = f"To: ops@{REMOTE}\nSubject: remote-marker\n\nbackup done\n"
    r = subprocess.run(["sh", "-c", f"printf '%s' \"$MSG\" | sendmail -t -i"], env=dict(env, MSG=text),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: any(b"remote-marker" in m for m in sink.messages()), 30, "the message at the sink")


def test_smtp_on_stdin_and_mailq(installed):
    srv, bindir, env, _ = installed
    dialogue = (f"EHLO cli.example.test\r\nMAIL FROM:<{ALICE}>\r\nRCPT TO:<{BOB}>\r\nDATA\r\n"
                "Subject: bs-marker\r\n\r\nover -bs\r\n.\r\nQUIT\r\n")
    r = subprocess.run([str(bindir / "sendmail"), "-bs"], input=dialogue.encode(), env=env,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"250 2.0.0 Ok: queued as" in r.stdout and b"221" in r.stdout, r.stdout
    bodies(srv, BOB, "bs-marker")
    q = subprocess.run([str(bindir / "mailq")], env=env, capture_output=True, timeout=60)
    assert q.returncode == 0 and b"queue is empty" in q.stdout, (q.stdout, q.stderr)


def test_refusals_and_server_down(installed):
    srv, bindir, env, _ = installed
    r = subprocess.run([str(bindir / "sendmail"), "-t"], input=b"Subject: nobody\n\nx\n", env=env,
                       capture_output=True, timeout=60)
    assert r.returncode == 64 and b"no recipients" in r.stderr, (r.returncode, r.stderr)
    r = subprocess.run([str(bindir / "sendmail"), "nosuchuser@example.test"], input=b"x\n", env=env,
                       capture_output=True, timeout=60)
    assert r.returncode == 67 and b"nosuchuser" in r.stderr, (r.returncode, r.stderr)
    srv.stop()
    r = subprocess.run([str(bindir / "sendmail"), BOB], input=b"x\n", env=env, capture_output=True, timeout=60)
    assert r.returncode == 75 and b"try again later" in r.stderr, (r.returncode, r.stderr)
