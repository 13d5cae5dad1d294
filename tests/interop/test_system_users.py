"""The classic setup (issue 10): `useradd` + `chpasswd` accounts with `[auth] system_users =
true`, mail written to `/var/mail/USER` (mbox, locked like mutt and procmail) or `~/Maildir`,
read there by Python's `mailbox` module while Swallow delivers, and collected into the store
when the user logs in over IMAP or POP3.

Needs root (useradd, files owned by the user): .ci/run and this machine run as root.
"""

from __future__ import annotations

import contextlib
import imaplib
import mailbox
import os
import poplib
import pwd
import secrets
import smtplib
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import DOMAIN, HOSTNAME, imap_login, tls_client_context

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for useradd and user-owned files")

SENDER = "sender@outside.test"


@pytest.fixture
def system_user():
    """make() -> (name, password): a new account made with useradd -m and chpasswd, removed
    (with its home and spool file) afterwards."""
    made: list[str] = []

    def make() -> tuple[str, str]:
        name = "swt" + secrets.token_hex(4)
        password = "pw-" + secrets.token_hex(8)
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
        made.append(name)
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, capture_output=True)
        return name, password

    yield make
    for name in made:
        subprocess.run(["userdel", "-r", name], capture_output=True)
        for path in (f"/var/mail/{name}", f"/var/mail/{name}.lock"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def message(subject: str, to: str) -> bytes:
    return (f"From: <{SENDER}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\r\n"
            f"Body of {subject}.\r\nFrom here on, a line an mbox must quote.\r\n").encode()


def send(srv, rcpt: str, subject: str) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=90) as s:
        s.ehlo("client.outside.test")
        assert s.mail(SENDER)[0] == 250
        code, text = s.rcpt(rcpt)
        if code != 250:
            return code, text.decode()
        code, text = s.data(message(subject, rcpt))
        return code, text.decode()


def mbox_subjects(path: str) -> list[str]:
    box = mailbox.mbox(path, create=False)
    try:
        return [m["Subject"] for m in box]
    finally:
        box.close()


def inbox_subjects(m: imaplib.IMAP4) -> list[str]:
    typ, data = m.select("INBOX")
    assert typ == "OK", data
    typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])") if int(data[0]) else ("OK", [])
    return sorted(part[1].decode().strip().removeprefix("Subject: ") for part in data if isinstance(part, tuple))


def test_mbox_delivery_locking_and_imap_pop3_login(swallow_factory, system_user):
    name, password = system_user()
    entry = pwd.getpwnam(name)
    srv = swallow_factory(listeners=("imap", "pop3"), settings={
        "auth": {"system_users": True}, "delivery": {"target": "mbox"}})
    spool = f"/var/mail/{name}"

    # To name@ a local domain (no SQL account of that name) and to name@ the host name.
    assert send(srv, f"{name}@{DOMAIN}", "first")[0] == 250
    st = os.lstat(spool)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert (st.st_uid, st.st_gid) == (entry.pw_uid, entry.pw_gid)
    assert mbox_subjects(spool) == ["first"]
    # The body line that starts with "From " is quoted in the file (mboxrd), so that readers
    # do not take it for the start of a message.
    assert b"\n>From here on" in Path(spool).read_bytes()

    # A reader holding the mbox lock (fcntl + dot-lock, as Python's mailbox and mutt take it)
    # makes the next delivery wait, not write under it.
    box = mailbox.mbox(spool)
    box.lock()
    result: list[tuple[int, str]] = []
    sender = threading.Thread(target=lambda: result.append(send(srv, f"{name}@{HOSTNAME}", "second")))
    sender.start()
    time.sleep(1.5)
    assert not result and len(mailbox.mbox(spool)) == 1, result
    box.unlock()
    box.close()
    sender.join(60)
    assert result and result[0][0] == 250, result
    assert mbox_subjects(spool) == ["first", "second"]

    # An unknown name is still refused at RCPT.
    assert send(srv, f"nosuch{name}@{DOMAIN}", "x")[0] == 550

    # IMAP login with the system password collects the spool into INBOX.
    with pytest.raises(imaplib.IMAP4.error):
        with imap_login(srv, name, "wrong password"):
            pass
    with imap_login(srv, name, password) as m:
        assert inbox_subjects(m) == ["first", "second"]
    assert os.path.getsize(spool) == 0

    # POP3 collects at login too.
    assert send(srv, f"{name}@{DOMAIN}", "third")[0] == 250
    pop = poplib.POP3("127.0.0.1", srv.ports["pop3"], timeout=30)
    try:
        pop.stls(context=tls_client_context())
        pop.user(f"{name}@{DOMAIN}")
        pop.pass_(password)
        count, _ = pop.stat()
        assert count == 3
    finally:
        pop.quit()

    # `passwd` takes effect at once; `userdel` ends the account.
    subprocess.run(["chpasswd"], input=f"{name}:changed-{password}\n", text=True, check=True)
    with pytest.raises(imaplib.IMAP4.error):
        with imap_login(srv, name, password):
            pass
    with imap_login(srv, name, f"changed-{password}") as m:
        assert len(inbox_subjects(m)) == 3
    subprocess.run(["userdel", name], check=True, capture_output=True)
    assert send(srv, f"{name}@{DOMAIN}", "after userdel")[0] == 550


def test_maildir_target_and_a_spool_link_is_refused(swallow_factory, system_user):
    mdir_user, mdir_password = system_user()
    mbox_user, _ = system_user()
    srv = swallow_factory(listeners=("imap",), settings={
        "auth": {"system_users": True},
        "delivery.users": {f"{mdir_user}@{HOSTNAME}": "maildir", f"{mbox_user}@{HOSTNAME}": "mbox"}})

    assert send(srv, f"{mdir_user}@{DOMAIN}", "to maildir")[0] == 250
    home = Path(pwd.getpwnam(mdir_user).pw_dir)
    new = list((home / "Maildir" / "new").iterdir())
    assert len(new) == 1
    st = new[0].lstat()
    assert st.st_uid == pwd.getpwnam(mdir_user).pw_uid and stat.S_IMODE(st.st_mode) == 0o600
    assert stat.S_IMODE((home / "Maildir").stat().st_mode) == 0o700
    assert [m["Subject"] for m in mailbox.Maildir(home / "Maildir", create=False)] == ["to maildir"]
    assert not list((home / "Maildir" / "tmp").iterdir())
    with imap_login(srv, mdir_user, mdir_password) as m:
        assert inbox_subjects(m) == ["to maildir"]
    assert not list((home / "Maildir" / "new").iterdir())

    # The user's Sieve script files into a Maildir++ folder of the same Maildir.
    srv.cli("sieve", "put", f"{mdir_user}@{HOSTNAME}", "-", "--name", "lists", "--activate",
            input='require "fileinto";\r\nif header :contains "Subject" "list" { fileinto "Lists"; }\r\n')
    assert send(srv, f"{mdir_user}@{DOMAIN}", "a list message")[0] == 250
    folder = home / "Maildir" / ".Lists"
    assert [m["Subject"] for m in mailbox.Maildir(folder, factory=None, create=False)] == ["a list message"]
    assert folder.stat().st_uid == pwd.getpwnam(mdir_user).pw_uid

    # The user points their spool file at a file of someone else's: delivery refuses to write
    # through the link (the message waits in a temporary failure), and the target is untouched.
    victim = Path(srv.root) / "victim"
    victim.write_bytes(b"untouched\n")
    os.symlink(victim, f"/var/mail/{mbox_user}")
    code, text = send(srv, f"{mbox_user}@{DOMAIN}", "through a link")
    assert code == 451, (code, text)
    assert victim.read_bytes() == b"untouched\n"
    assert "local delivery failed" in srv.log_text()
