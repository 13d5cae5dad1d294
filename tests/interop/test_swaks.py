"""Swallow driven by swaks (the Debian `swaks` package), including the open-relay matrix."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import ALICE, ALICE_PASSWORD, BOB, strip_added_headers

SWAKS = shutil.which("swaks")
pytestmark = pytest.mark.skipif(
    SWAKS is None, reason="swaks is not installed (apt-get install swaks; CI installs it)")



def _swaks_has_tls() -> bool:
    if SWAKS is None:
        return False
    r = subprocess.run([SWAKS, "--support"], capture_output=True, text=True, timeout=30)
    return "=== TLS supported" in (r.stdout + r.stderr)


needs_tls = pytest.mark.skipif(
    not _swaks_has_tls(),
    reason="swaks has no TLS support here (needs Net::SSLeay: apt-get install libnet-ssleay-perl)")

EXTERNAL_FROM = "someone@outside.test"
EXTERNAL_TO = "victim@elsewhere.test"


def swaks(port: int, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    cmd = [SWAKS, "--server", "127.0.0.1", "--port", str(port), "--helo", "client.outside.test",
           "--timeout", "30", *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    print("$", " ".join(cmd), "\nexit", r.returncode, "\n", r.stdout, r.stderr)
    return r


def server_lines(out: str) -> list[str]:
    """Lines swaks received from the server ("<-  250 ..." / "<~  ..." over TLS, "<** " on
    error), without the prefix."""
    lines = []
    for line in out.splitlines():
        for prefix in ("<-  ", "<~  ", "<** ", "<~* "):
            if line.startswith(prefix):
                lines.append(line[len(prefix):])
    return lines


def auth_args(user: str = ALICE, password: str = ALICE_PASSWORD, mech: str = "PLAIN"):
    return ["--auth", mech, "--auth-user", user, "--auth-password", password]


def assert_delivered(srv, user: str, subject: str) -> bytes:
    msgs = srv.wait_inbox_raw(user, 1)
    hits = [m for m in msgs if subject.encode() in m]
    assert len(hits) == 1, msgs
    strip_added_headers(hits[0])
    return hits[0]


def test_pipeline_delivery(swallow):
    r = swaks(swallow.smtp, "--pipeline", "--from", EXTERNAL_FROM, "--to", ALICE,
              "--header", "Subject: swaks-pipeline-marker", "--body", "pipelined by swaks")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250-PIPELINING" in server_lines(r.stdout), r.stdout
    # swaks really pipelined: MAIL, RCPT and DATA went out before the first reply came back
    assert r.stdout.index(" -> DATA") < r.stdout.index("<-  250 2.1.0"), r.stdout
    assert any("250 2.0.0 Ok: queued as " in l for l in server_lines(r.stdout)), r.stdout
    msg = assert_delivered(swallow, ALICE, "swaks-pipeline-marker")
    assert b"pipelined by swaks" in msg


@needs_tls
@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_auth_with_starttls(swallow, mech):
    subject = f"swaks-auth-{mech}-marker"
    r = swaks(swallow.submission, "--tls", *auth_args(mech=mech), "--from", ALICE, "--to", BOB,
              "--header", f"Subject: {subject}")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = server_lines(r.stdout)
    assert "=== TLS started" in r.stdout, r.stdout
    assert any(l[4:].startswith("AUTH ") and mech in l.split() for l in lines), r.stdout
    assert any(l.startswith("235 2.7.0") for l in lines), r.stdout
    assert_delivered(swallow, BOB, subject)


@needs_tls
def test_auth_wrong_password_exit_28(swallow):
    r = swaks(swallow.submission, "--tls", *auth_args(password="wrong"), "--from", ALICE,
              "--to", BOB)
    assert r.returncode == 28, r.stdout + r.stderr
    assert any(l.startswith("535 5.7.8") for l in server_lines(r.stdout)), r.stdout


@needs_tls
def test_implicit_tls_submissions(swallow):
    r = swaks(swallow.submissions, "--tls-on-connect", *auth_args(), "--from", ALICE,
              "--to", BOB, "--header", "Subject: swaks-tls-on-connect-marker")
    assert r.returncode == 0, r.stdout + r.stderr
    assert_delivered(swallow, BOB, "swaks-tls-on-connect-marker")


def test_lmtp(swallow):
    r = swaks(swallow.lmtp, "--protocol", "LMTP", "--from", EXTERNAL_FROM, "--to",
              f"{ALICE},{BOB}", "--header", "Subject: swaks-lmtp-marker")
    assert r.returncode == 0, r.stdout + r.stderr
    assert_delivered(swallow, ALICE, "swaks-lmtp-marker")
    assert_delivered(swallow, BOB, "swaks-lmtp-marker")


# --------------------------------------------------------------------------
# open relay matrix


@pytest.fixture
def untrusted(swallow_factory):
    """A server that trusts no network: the test client counts as an outsider."""
    return swallow_factory(name="untrusted", trusted_networks=[])


def test_relay_a_untrusted_unauthenticated_external_denied(untrusted):
    r = swaks(untrusted.smtp, "--quit-after", "RCPT", "--from", EXTERNAL_FROM,
              "--to", EXTERNAL_TO)
    assert r.returncode == 24, r.stdout + r.stderr        # no RCPTs accepted
    assert any(l.startswith("554 5.7.1") for l in server_lines(r.stdout)), r.stdout


def test_relay_b_untrusted_unauthenticated_local_accepted(untrusted):
    r = swaks(untrusted.smtp, "--quit-after", "RCPT", "--from", EXTERNAL_FROM, "--to", ALICE)
    assert r.returncode == 0, r.stdout + r.stderr
    assert any(l.startswith("250 2.1.5") for l in server_lines(r.stdout)), r.stdout
    # and the whole way through
    r = swaks(untrusted.smtp, "--from", EXTERNAL_FROM, "--to", ALICE,
              "--header", "Subject: swaks-untrusted-local-marker")
    assert r.returncode == 0, r.stdout + r.stderr
    assert_delivered(untrusted, ALICE, "swaks-untrusted-local-marker")


@needs_tls
def test_relay_c_untrusted_authenticated_submission_external_accepted(untrusted):
    r = swaks(untrusted.submission, "--tls", *auth_args(), "--quit-after", "RCPT",
              "--from", ALICE, "--to", EXTERNAL_TO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert any(l.startswith("250 2.1.5") for l in server_lines(r.stdout)), r.stdout


@needs_tls
def test_relay_c1_untrusted_authenticated_on_smtp_port_external_accepted(untrusted):
    """Authenticated sessions may relay on the MX port too (after STARTTLS)."""
    r = swaks(untrusted.smtp, "--tls", *auth_args(), "--quit-after", "RCPT",
              "--from", ALICE, "--to", EXTERNAL_TO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert any(l.startswith("235 2.7.0") for l in server_lines(r.stdout)), r.stdout
    assert any(l.startswith("250 2.1.5") for l in server_lines(r.stdout)), r.stdout


@needs_tls
def test_relay_c2_untrusted_unauthenticated_submission_refused(untrusted):
    r = swaks(untrusted.submission, "--tls", "--quit-after", "RCPT",
              "--from", ALICE, "--to", EXTERNAL_TO)
    assert r.returncode == 23, r.stdout + r.stderr        # error in MAIL transaction
    assert any(l.startswith("530 5.7.0") for l in server_lines(r.stdout)), r.stdout


def test_relay_d_trusted_network_unauthenticated_external_accepted(swallow):
    r = swaks(swallow.smtp, "--quit-after", "RCPT", "--from", EXTERNAL_FROM,
              "--to", EXTERNAL_TO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert any(l.startswith("250 2.1.5") for l in server_lines(r.stdout)), r.stdout
