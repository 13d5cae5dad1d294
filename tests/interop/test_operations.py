"""What an administrator sees: the certificate fingerprint and client settings printed at start
(checked against the certificate Python's ssl module is actually served), `swallow status`,
and the `[log]` settings (JSON lines a log shipper parses, a level that silences info)."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import smtplib
import ssl

from conftest import ALICE, BOB, free_port
from outbound_helpers import wait_for


def served_fingerprint(port: int) -> str:
    pem = ssl.get_server_certificate(("127.0.0.1", port))
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def test_start_prints_fingerprint_and_client_settings(swallow_factory):
    swallow = swallow_factory(listeners=("imap", "imaps"))
    out = swallow.stdout_path.read_text()
    m = re.search(r"(?m)^swallow: certificate SHA-256 fingerprint ([0-9A-F:]{95})$", out)
    assert m, out
    # The fingerprint a client is shown (over implicit TLS) is the one printed.
    assert m.group(1) == served_fingerprint(swallow.submissions)
    # Client settings name the running ports (the config says port 0 here).
    assert re.search(rf"(?m)^swallow:\s+outgoing \(SMTP submission\)\s+\S+ port {swallow.submissions}, SSL/TLS$", out), out
    assert re.search(rf"(?m)^swallow:\s+outgoing \(SMTP submission\)\s+\S+ port {swallow.submission}, STARTTLS$", out), out
    assert f"port {swallow.ports['imaps']}, SSL/TLS" in out and f"port {swallow.ports['imap']}, STARTTLS" in out, out


def test_status_reports_listeners_and_the_same_fingerprint(swallow_factory):
    port = free_port()
    srv = swallow_factory(listen={"smtp": [f"127.0.0.1:{port}"]})
    status = srv.cli("status").stdout
    assert f"smtp on 127.0.0.1:{port}: answering" in status, status
    printed = re.search(r"fingerprint ([0-9A-F:]{95})", srv.stdout_path.read_text()).group(1)
    assert f"certificate SHA-256 fingerprint {printed}" in status, status
    srv.stop()
    status = srv.cli("status").stdout
    assert f"smtp on 127.0.0.1:{port}: not answering" in status and "does not seem to be running" in status, status


def test_json_log_lines_carry_the_queue_id(swallow_factory):
    srv = swallow_factory(settings={"log": {"format": "json"}})
    with smtplib.SMTP("127.0.0.1", srv.smtp) as s:
        s.sendmail("someone@outside.test", [BOB], b"Subject: json-log\r\n\r\nbody\r\n")
    srv.wait_inbox(BOB)

    def accepted():
        events = []
        for line in srv.log_path.read_text().splitlines():
            event = json.loads(line)  # every line is one JSON object
            events.append(event)
        return [e for e in events if e.get("message") == "accepted" and e.get("queue_id")] or None
    [event] = wait_for(accepted, 10, "an 'accepted' event")
    assert event["level"] == "info" and event["client"] == "127.0.0.1", event
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", event["time"]), event
    delivered = [json.loads(l) for l in srv.log_path.read_text().splitlines()]
    assert any(e.get("message") == "delivered" and e.get("queue_id") == event["queue_id"] for e in delivered)


def test_log_level_warning_silences_info(swallow_factory):
    srv = swallow_factory(settings={"log": {"level": "warning"}})
    with smtplib.SMTP("127.0.0.1", srv.smtp) as s:
        s.sendmail("someone@outside.test", [ALICE], b"Subject: quiet\r\n\r\nbody\r\n")
    srv.wait_inbox(ALICE)
    text = srv.log_path.read_text()
    assert " info " not in text and "accepted" not in text, text


def test_systemd_unit_verifies_and_is_hardened(swallow_bin, tmp_path):
    """contrib/swallow.service as systemd itself reads it: no unknown or misspelt setting, and
    an exposure score (systemd-analyze security) of at most 4.0 of 10."""
    import shutil
    import subprocess
    from pathlib import Path
    import pytest
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed")
    unit = (Path(__file__).resolve().parents[2] / "contrib" / "swallow.service").read_text()
    local = tmp_path / "swallow.service"
    local.write_text(unit.replace("/usr/local/bin/swallow", swallow_bin))
    r = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    r = subprocess.run([analyze, "security", "--offline=true", str(local)], capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for swallow.service: (\d+\.\d+)", r.stdout)
    assert m and float(m.group(1)) <= 4.0, r.stdout[-500:]
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in unit and "User=swallow" in unit


def test_imap_and_pop3_refusals_are_logged_without_arguments(swallow_factory):
    import imaplib
    import poplib
    from conftest import ALICE_PASSWORD
    srv = swallow_factory(listeners=("imap", "pop3"), allow_plaintext=True)
    with imaplib.IMAP4("127.0.0.1", srv.ports["imap"]) as imap:
        try:
            imap.login(ALICE, "wrong secret words")
        except imaplib.IMAP4.error:
            pass
        imap.login(ALICE, ALICE_PASSWORD)
        assert imap.select("No-Such-Box")[0] == "NO"
    pop = poplib.POP3("127.0.0.1", srv.ports["pop3"])
    pop.user(ALICE)
    pop.pass_(ALICE_PASSWORD)
    try:
        pop.retr(99)
    except poplib.error_proto:
        pass
    pop.quit()

    def logged():
        text = srv.log_path.read_text()
        lines = [l for l in text.splitlines() if "refused" in l]
        imap_no = [l for l in lines if "command=SELECT" in l and "status=NO" in l]
        imap_login = [l for l in lines if "command=LOGIN" in l and "status=NO" in l]
        pop_err = [l for l in lines if "command=RETR" in l and "status=-ERR" in l]
        return (imap_no, imap_login, pop_err, text) if imap_no and imap_login and pop_err else None
    imap_no, imap_login, pop_err, text = wait_for(logged, 10, "refusal lines for SELECT, LOGIN and RETR")
    assert "wrong secret words" not in text and ALICE_PASSWORD not in text
    assert "service=imap" in imap_no[0] and "service=pop3" in pop_err[0], (imap_no, pop_err)


def test_tls_handshake_failure_is_one_short_line(swallow):
    import socket
    with socket.create_connection(("127.0.0.1", swallow.submissions), timeout=5) as s:
        s.sendall(b"EHLO plaintext.example\r\n")  # not a TLS ClientHello
        try:
            s.recv(100)
        except OSError:
            pass

    def line():
        return [l for l in swallow.log_path.read_text().splitlines() if "TLS handshake failed" in l] or None
    [failed] = wait_for(line, 10, "the handshake failure in the log")
    assert "/" not in failed.split("reason=")[1] and ".cc" not in failed, failed
    assert re.search(r"reason=[A-Z_]+", failed), failed


def test_doctor_checks_dns_and_permissions(swallow_factory, tmp_path):
    """`swallow doctor` against dnsmasq: a correct MX says ok; a domain whose MX points
    elsewhere and a host name without an address are reported with the fix, and so are missing
    DKIM, SPF and DMARC records; a world-writable key is a problem (exit status 1), and so are
    admin.sqlite, trace.sqlite and a DKIM key writable by their group, and a file of another
    user, each with the exact chmod or chown."""
    from outbound_helpers import Dnsmasq
    from conftest import HOSTNAME
    good = Dnsmasq(tmp_path, ["--mx-host=example.test,mx.example.test,10", "--host-record=mx.example.test,127.0.0.1",
                              "--mx-host=other.test,mail.elsewhere.test,10", "--txt-record=example.test,v=spf1 mx -all"])
    good.start()
    try:
        srv = swallow_factory(start=False, settings={"dns": {"nameservers": [good.nameserver]}})
        srv.cli("domain", "add", "other.test")
        r = srv.cli("doctor", check=False)
        assert f"ok      example.test: MX {HOSTNAME}" in r.stdout, r.stdout
        assert f"ok      {HOSTNAME} has address 127.0.0.1" in r.stdout, r.stdout
        assert "warning other.test: MX is mail.elsewhere.test, not mx.example.test" in r.stdout, r.stdout
        assert 'fix: publish "other.test. MX 10 mx.example.test."' in r.stdout, r.stdout
        # Sender authentication: SPF published; no key and no DMARC yet, each named with what to do.
        assert "ok      example.test: SPF record example.test published" in r.stdout, r.stdout
        assert "warning example.test: no DKIM key, its mail is sent unsigned" in r.stdout, r.stdout
        assert "fix: swallow dkim generate example.test" in r.stdout, r.stdout
        assert "warning example.test: no DMARC record at _dmarc.example.test" in r.stdout, r.stdout
        assert 'fix: publish _dmarc.example.test.\t3600\tIN\tTXT\t"v=DMARC1; p=quarantine;' in r.stdout, r.stdout
        assert "warning other.test: no SPF record at other.test" in r.stdout, r.stdout
        assert r.returncode == 0, r.stdout   # warnings only
        key = srv.data_dir / "key.pem"
        key.chmod(0o666)
        r = srv.cli("doctor", check=False)
        assert r.returncode == 1 and f"problem {key} is writable by everyone" in r.stdout, r.stdout
        key.chmod(0o600)

        # admin.sqlite (made by the audit of `domain add`), trace.sqlite and the DKIM keys are
        # checked too: writable by their group, each is a problem with its exact chmod.
        srv.cli("trace", "nobody@example.test")
        srv.cli("dkim", "generate", "example.test")
        [dkim_key] = (srv.data_dir / "dkim" / "example.test").glob("*.pem")
        files = [srv.data_dir / "admin.sqlite", srv.data_dir / "trace.sqlite", dkim_key]
        r = srv.cli("doctor", check=False)
        assert f"ok      data directory {srv.data_dir}: owners and permissions are right" in r.stdout, r.stdout
        for f in files:
            f.chmod(0o620)
        r = srv.cli("doctor", check=False)
        assert r.returncode == 1, r.stdout
        for f in files:
            assert f"problem {f} is writable by its group\n        fix: chmod go-w '{f}'" in r.stdout, r.stdout
            f.chmod(0o600)
        # A file of another user: the chown that gives it back (needs root to set up).
        if os.geteuid() == 0:
            trace = srv.data_dir / "trace.sqlite"
            os.chown(trace, 65534, -1)
            other = pwd.getpwuid(65534).pw_name if 65534 in {u.pw_uid for u in pwd.getpwall()} else "65534"
            r = srv.cli("doctor", check=False)
            assert r.returncode == 1, r.stdout
            assert f"problem {trace} belongs to {other}, not root\n        fix: chown root '{trace}'" in r.stdout, r.stdout
            os.chown(trace, 0, -1)
    finally:
        good.stop()


def test_sighup_reloads_the_certificate_without_dropping_connections(swallow_factory, tmp_path):
    """A renewed certificate (replaced in place, as certbot's deploy hook would) is served to new
    connections after SIGHUP, on the mail listeners and on the admin listener's HTTPS; a session opened before keeps working, the server keeps running,
    and a changed setting that needs a restart is named."""
    import signal
    import subprocess
    admin_port = free_port()
    # Off loopback the admin listener speaks HTTPS with the same certificate.
    srv = swallow_factory(listen={"admin": [f"0.0.0.0:{admin_port}"]})
    before = served_fingerprint(srv.submissions)
    assert served_fingerprint(admin_port) == before
    open_session = smtplib.SMTP("127.0.0.1", srv.smtp, timeout=10)
    open_session.ehlo("before.test")
    cert, key = srv.data_dir / "cert.pem", srv.data_dir / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"), "-days", "2",
                    "-subj", "/CN=renewed.example.test"], check=True, capture_output=True)
    cert.write_bytes((tmp_path / "cert.pem").read_bytes())
    key.write_bytes((tmp_path / "key.pem").read_bytes())
    srv.config.write_text(srv.config.read_text() + "\n[trace]\nretention_days = 7\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reloaded certificate" in srv.stdout_path.read_text(), 10, "the reload announced")
    after = served_fingerprint(srv.submissions)
    assert after != before
    assert served_fingerprint(admin_port) == after
    renewed = hashlib.sha256(ssl.PEM_cert_to_DER_cert((tmp_path / "cert.pem").read_text())).hexdigest().upper()
    assert after.replace(":", "") == renewed
    assert "after a restart: [trace]" in srv.stdout_path.read_text()
    assert open_session.noop()[0] == 250
    open_session.quit()
    assert srv.proc.poll() is None
