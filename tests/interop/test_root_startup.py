"""Starting as root (security audit, issue 8): `serve` with `server.user` hands the service user
only its own files and never follows a symbolic link planted in the data directory; it refuses
a configuration file or data directory that someone other than root could change; as root
without `server.user` it warns on every start.
"""

from __future__ import annotations

import os
import pwd
import smtplib
import subprocess

import pytest

from conftest import ALICE

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def serve_exit(srv, timeout: float = 20.0):
    """Runs `swallow serve`; (exit status, stderr) when it exits by itself within `timeout`,
    (None, stderr) when it was still running (it started: killed)."""
    p = subprocess.Popen([srv.binary, "serve", "--config", str(srv.config)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        _out, err = p.communicate(timeout=timeout)
        return p.returncode, err
    except subprocess.TimeoutExpired:
        p.kill()
        _out, err = p.communicate()
        return None, err


def test_planted_symlink_keeps_its_target_owner(swallow_factory):
    srv = swallow_factory(start=False)
    os.chmod(srv.root, 0o755)            # nobody must reach the data directory below it
    srv.set_toml("server", "user", "nobody")
    target = srv.root / "owned-by-root"
    target.write_text("not the service user's\n")
    link = srv.data_dir / "x"
    os.symlink(target, link)

    srv.start()
    # The service user can still do its work: a message is delivered into alice's INBOX.
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=30) as s:
        s.sendmail("someone@outside.test", [ALICE], b"Subject: as nobody\r\n\r\nhello\r\n")
    srv.wait_inbox_raw(ALICE)
    assert srv.stop() == 0

    assert os.stat(target).st_uid == 0 and os.stat(target).st_gid == 0, "the link's target changed owner"
    assert os.lstat(link).st_uid == 0, "an entry Swallow did not create changed owner"
    nobody = pwd.getpwnam("nobody").pw_uid
    assert os.stat(srv.data_dir / "swallow.sqlite").st_uid == nobody
    data = os.stat(srv.data_dir)
    assert data.st_uid == 0 and data.st_mode & 0o022 == 0, oct(data.st_mode)


@pytest.mark.parametrize("what", ["config-group-writable", "data-dir-other-writable",
                                  "data-dir-owned-by-nobody"])
def test_files_others_could_change_are_refused_as_root(swallow_factory, what):
    srv = swallow_factory(start=False)
    if what == "config-group-writable":
        os.chmod(srv.config, 0o660)
        culprit = srv.config
    elif what == "data-dir-other-writable":
        os.chmod(srv.data_dir, 0o757)
        culprit = srv.data_dir
    else:
        os.chown(srv.data_dir, pwd.getpwnam("nobody").pw_uid, -1)
        culprit = srv.data_dir
    status, err = serve_exit(srv)
    assert status not in (None, 0), f"serve started anyway: {err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(culprit) in lines[0], err


def test_root_without_server_user_warns_on_every_start(swallow_factory):
    srv = swallow_factory()
    srv.stop()
    srv.start()
    warnings = [l for l in srv.log_text().splitlines() if "server.user" in l and "root" in l]
    assert len(warnings) == 2, srv.log_text()
