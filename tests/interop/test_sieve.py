"""Users' Sieve scripts (RFC 5228) run at local delivery.

Scripts are managed with `swallow sieve put/list/get/activate/deactivate/delete` while the
server runs (same config). Mail arrives over SMTP on port 25 from the trusted network
(127.0.0.0/8, no TLS, no AUTH) or over LMTP; what a script decided is checked where a user or a
peer sees it: the mailboxes and flags over IMAP (STARTTLS, LOGIN), the SMTP/LMTP replies, the
messages a scripted ESMTP peer receives (remote.test is routed to it with `[transport]`:
redirects, vacation replies, bounces) and the server log.

Every script here acts only on messages whose Subject carries a marker, so the canary message
`Swallow.settle` sends to wait for earlier deliveries is always kept in INBOX.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import imaplib
import re
import smtplib
import time

import pytest

from conftest import ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD, tls_client_context
from outbound_helpers import (ScriptedSMTP, log_lines, message, parse_bounce, send_plain,
                              wait_for, wait_log)
from rawsmtp import RawClient

REMOTE = "remote.test"
FRIEND = f"friend@{REMOTE}"
OTHER = f"other@{REMOTE}"
FAST_RETRY = {"min_backoff": 1, "max_backoff": 2}
DELIVERY_TIMEOUT = 30.0


# --------------------------------------------------------------------------
# fixtures and helpers


@pytest.fixture
def sink():
    """A scripted ESMTP peer that records every envelope and message (remote.test's next hop)."""
    peer = ScriptedSMTP().start()
    yield peer
    peer.stop()


@pytest.fixture
def srv(swallow_factory, sink):
    """Swallow with alice and bob, IMAP (STARTTLS) on, remote.test routed to `sink`."""
    return swallow_factory(listeners=("imap",), settings={
        "transport": {REMOTE: sink.hop}, "queue": FAST_RETRY})


def put_script(srv, user: str, script: str, name: str = "default", activate: bool = True):
    """`swallow sieve put USER - --name NAME [--activate]`, the script on standard input."""
    args = ["sieve", "put", user, "-", "--name", name] + (["--activate"] if activate else [])
    return srv.cli(*args, input=script)


def sieve_list(srv, user: str) -> dict[str, tuple[int, bool]]:
    """`swallow sieve list USER` as {name: (size in bytes, active)}."""
    out = srv.cli("sieve", "list", user).stdout
    scripts = {}
    for line in out.splitlines():
        if line.startswith("no scripts"):
            continue
        m = re.fullmatch(r"([^\t]+)\t(\d+) bytes(\tactive)?", line)
        assert m, f"unexpected `sieve list` line {line!r} in:\n{out}"
        scripts[m.group(1)] = (int(m.group(2)), bool(m.group(3)))
    return scripts


def smtp_transaction(srv, sender: str, rcpts: list[str], raw: bytes) -> tuple[int, str]:
    """One transaction on port 25 (trusted network); every RCPT must be accepted. Returns the
    reply to the end of DATA (code, text)."""
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=60) as s:
        s.ehlo("client.outside.test")
        code, text = s.mail(sender)
        assert code == 250, (code, text)
        for r in rcpts:
            code, text = s.rcpt(r)
            assert code in (250, 251), (r, code, text)
        code, text = s.data(raw)
        return code, text.decode("utf-8", "replace")


@contextlib.contextmanager
def imap(srv, user: str = ALICE, password: str = ALICE_PASSWORD):
    m = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=30)
    try:
        m.starttls(ssl_context=tls_client_context())
        m.login(user, password)
        yield m
    finally:
        try:
            m.logout()
        except Exception:   # noqa: BLE001 - best effort
            pass


def imap_create(srv, *names: str, user: str = ALICE, password: str = ALICE_PASSWORD):
    with imap(srv, user, password) as m:
        for name in names:
            typ, data = m.create(f'"{name}"')
            assert typ == "OK", (name, data)


def imap_mailboxes(srv, user: str = ALICE, password: str = ALICE_PASSWORD) -> dict[str, str]:
    """{mailbox name: hierarchy delimiter} from LIST "" "*"."""
    with imap(srv, user, password) as m:
        typ, listing = m.list('""', "*")
        assert typ == "OK", listing
    found = {}
    for line in listing:
        mm = re.match(rb'\(([^)]*)\) (?:"(.)"|NIL) (?:"((?:[^"\\]|\\.)*)"|(\S+))\s*$', line)
        assert mm, f"unparsed LIST line {line!r}"
        name = (mm.group(3) if mm.group(3) is not None else mm.group(4)).decode()
        found[name] = (mm.group(2) or b"").decode()
    return found


def imap_messages(srv, mailbox: str = "INBOX", user: str = ALICE,
                  password: str = ALICE_PASSWORD) -> list[tuple[set[str], bytes]]:
    """(FLAGS, BODY[]) of every message in `mailbox`, read-only."""
    with imap(srv, user, password) as m:
        typ, data = m.select(f'"{mailbox}"', readonly=True)
        assert typ == "OK", (mailbox, data)
        if int(data[0]) == 0:
            return []
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[])")
        assert typ == "OK", data
    out = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        fm = re.search(rb"FLAGS \(([^)]*)\)", item[0])
        assert fm, f"no FLAGS in {item[0]!r}"
        out.append((set(fm.group(1).decode().split()), item[1]))
    return out


def with_marker(msgs, marker: str):
    """The entries of imap_messages (or raw messages) that contain `marker`."""
    key = marker.encode()
    return [m for m in msgs if key in (m[1] if isinstance(m, tuple) else m)]


def sink_messages(sink: ScriptedSMTP, marker: str):
    return [m for m in sink.messages if marker.encode() in m.data]


def wait_sink(sink: ScriptedSMTP, marker: str, timeout: float = DELIVERY_TIMEOUT):
    return wait_for(lambda: sink_messages(sink, marker), timeout,
                    lambda: f"{marker!r} at the sink; it has {len(sink.messages)} message(s): "
                            f"{[(m.mail_from, m.rcpts) for m in sink.messages]}")


def parsed(raw: bytes) -> email.message.Message:
    return email.message_from_bytes(raw, policy=email.policy.default)


# --------------------------------------------------------------------------
# the command line


def test_cli_put_list_get_activate_deactivate_delete(srv, tmp_path):
    first = 'require "fileinto";\nif header :contains "subject" "x" { fileinto "X"; }\n'
    second = "# kept as it is\nkeep;\n"
    assert sieve_list(srv, ALICE) == {}

    # from a file, not active
    path = tmp_path / "first.sieve"
    path.write_bytes(first.encode())
    srv.cli("sieve", "put", ALICE, str(path), "--name", "first")
    assert sieve_list(srv, ALICE) == {"first": (len(first.encode()), False)}

    # from standard input, activated; the default name
    put_script(srv, ALICE, second)
    assert sieve_list(srv, ALICE) == {"first": (len(first.encode()), False),
                                      "default": (len(second.encode()), True)}
    assert srv.cli("sieve", "get", ALICE, "first").stdout == first
    assert srv.cli("sieve", "get", ALICE).stdout == second

    # one active script at a time
    srv.cli("sieve", "activate", ALICE, "first")
    assert sieve_list(srv, ALICE) == {"first": (len(first.encode()), True),
                                      "default": (len(second.encode()), False)}

    # the active script cannot be deleted
    r = srv.cli("sieve", "delete", ALICE, "first", check=False)
    assert r.returncode != 0, f"deleting the active script succeeded: {r.stdout!r}"
    assert "first" in sieve_list(srv, ALICE)

    # replacing a script keeps it active
    replaced = first + "# v2\n"
    put_script(srv, ALICE, replaced, name="first", activate=False)
    assert sieve_list(srv, ALICE)["first"] == (len(replaced.encode()), True)
    assert srv.cli("sieve", "get", ALICE, "first").stdout == replaced

    srv.cli("sieve", "deactivate", ALICE)
    assert sieve_list(srv, ALICE) == {"first": (len(replaced.encode()), False),
                                      "default": (len(second.encode()), False)}
    srv.cli("sieve", "delete", ALICE, "first")
    assert sieve_list(srv, ALICE) == {"default": (len(second.encode()), False)}

    # unknown script, unknown user
    r = srv.cli("sieve", "get", ALICE, "first", check=False)
    assert r.returncode != 0, r.stdout
    r = srv.cli("sieve", "activate", ALICE, "nosuch", check=False)
    assert r.returncode != 0, r.stdout
    r = srv.cli("sieve", "list", "nobody@example.test", check=False)
    assert r.returncode != 0, r.stdout
    # bob's scripts are his own
    assert sieve_list(srv, BOB) == {}


@pytest.mark.parametrize("script, line, column", [
    # an unknown command: where its name starts
    ('require "fileinto";\nif true {\n    frobnicate "x";\n}\n', 3, 5),
    # an extension used without `require`
    ('keep;\n\n  fileinto "X";\n', 3, 3),
    # an unterminated string: where it starts
    ('require "fileinto";\nfileinto "X;\n', 2, 10),
    # a missing semicolon: where the next token is
    ('if true {\n  keep\n}\n', 3, 1),
], ids=["unknown-command", "not-required", "unterminated-string", "missing-semicolon"])
def test_put_refuses_a_script_that_does_not_parse(srv, script, line, column):
    put_script(srv, ALICE, "keep;\n")
    r = srv.cli("sieve", "put", ALICE, "-", "--name", "broken", "--activate", input=script,
                check=False)
    assert r.returncode != 0, f"a broken script was stored: {r.stdout!r}"
    assert f"line {line}, column {column}" in r.stderr, \
        f"want `line {line}, column {column}` for {script!r}; stderr: {r.stderr!r}"
    # nothing stored, the active script unchanged
    assert sieve_list(srv, ALICE) == {"default": (len(b"keep;\n"), True)}


# --------------------------------------------------------------------------
# mailboxes and flags


def test_fileinto_with_imap4flags(srv):
    imap_create(srv, "Work")
    put_script(srv, ALICE, (
        'require ["fileinto", "imap4flags"];\n'
        'if header :contains "subject" "sieve-work" {\n'
        '    addflag "\\\\Flagged";\n'
        '    addflag "$Work";\n'
        '    fileinto "Work";\n'
        '    stop;\n'
        '}\n'
        'if header :contains "subject" "sieve-seen" {\n'
        '    fileinto :flags ["\\\\Seen", "$Read"] "Work";\n'
        '}\n'))
    send_plain(srv, FRIEND, ALICE, message("sieve-work-1", FRIEND, ALICE))
    send_plain(srv, FRIEND, ALICE, message("sieve-seen-2", FRIEND, ALICE))
    send_plain(srv, FRIEND, ALICE, message("sieve-plain-3", FRIEND, ALICE))
    inbox = srv.settle(ALICE)

    work = imap_messages(srv, "Work")
    assert len(work) == 2, f"Work holds {len(work)} messages, want 2"
    [(flags, _)] = with_marker(work, "sieve-work-1")
    assert {"\\Flagged", "$Work"} <= flags, flags
    assert "\\Seen" not in flags, flags
    [(flags, _)] = with_marker(work, "sieve-seen-2")
    assert {"\\Seen", "$Read"} <= flags, flags
    assert "\\Flagged" not in flags, flags

    # the third is kept (implicit keep) in INBOX, without flags; the others only in Work
    assert len(with_marker(inbox, "sieve-plain-3")) == 1
    assert not with_marker(inbox, "sieve-work-1") and not with_marker(inbox, "sieve-seen-2")
    [(flags, _)] = with_marker(imap_messages(srv, "INBOX"), "sieve-plain-3")
    assert not flags & {"\\Flagged", "\\Seen", "$Work", "$Read"}, flags


def test_fileinto_create_makes_the_mailbox(srv):
    put_script(srv, ALICE, (
        'require ["fileinto", "mailbox"];\n'
        'if header :contains "subject" "sieve-create" { fileinto :create "New/Box"; }\n'))
    assert "New/Box" not in imap_mailboxes(srv)
    send_plain(srv, FRIEND, ALICE, message("sieve-create-1", FRIEND, ALICE))
    boxes = imap_mailboxes(srv)
    assert "New/Box" in boxes, f"no New/Box after fileinto :create: {boxes}"
    assert boxes["New/Box"] == "/", boxes
    assert len(with_marker(imap_messages(srv, "New/Box"), "sieve-create-1")) == 1
    # a second one goes into the now existing mailbox
    send_plain(srv, FRIEND, ALICE, message("sieve-create-2", FRIEND, ALICE))
    inbox = srv.settle(ALICE)
    assert len(imap_messages(srv, "New/Box")) == 2
    assert not with_marker(inbox, "sieve-create"), "a copy was kept in INBOX too"


def test_runtime_error_keeps_the_message_in_inbox(srv):
    # fileinto a mailbox that does not exist (no :create) fails when the script runs
    put_script(srv, ALICE, (
        'require "fileinto";\n'
        'if header :contains "subject" "sieve-missing" { fileinto "Missing"; }\n'))
    code, text = smtp_transaction(srv, FRIEND, [ALICE],
                                  message("sieve-missing-1", FRIEND, ALICE))
    assert code == 250, (code, text)
    inbox = srv.settle(ALICE)
    assert len(with_marker(inbox, "sieve-missing-1")) == 1, "not kept in INBOX"
    assert "Missing" not in imap_mailboxes(srv)
    wait_log(srv, "sieve: script failed")


def test_discard_stores_nothing(srv):
    put_script(srv, ALICE, 'if header :contains "subject" "sieve-discard" { discard; }\n')
    qid = send_plain(srv, FRIEND, ALICE, message("sieve-discard-1", FRIEND, ALICE))  # 250
    inbox = srv.settle(ALICE)
    assert not with_marker(inbox, "sieve-discard-1"), "a discarded message was kept in INBOX"
    for name in imap_mailboxes(srv):
        assert not with_marker(imap_messages(srv, name), "sieve-discard-1"), \
            f"a discarded message was stored in {name}"
    # the script ran for it, and nothing was delivered or queued
    assert log_lines(srv, f"queue_id={qid}", "[Delivery] sieve"), srv.log_text()
    assert not log_lines(srv, f"queue_id={qid}", "delivered")
    assert srv.cli("queue", "list").stdout.strip() == "queue is empty"


def test_deactivating_returns_to_inbox_delivery(srv):
    put_script(srv, ALICE, 'if header :contains "subject" "sieve-drop" { discard; }\n')
    send_plain(srv, FRIEND, ALICE, message("sieve-drop-1", FRIEND, ALICE))
    assert not with_marker(srv.settle(ALICE), "sieve-drop-1")

    srv.cli("sieve", "deactivate", ALICE)
    assert sieve_list(srv, ALICE) == {"default": (sieve_list(srv, ALICE)["default"][0], False)}
    send_plain(srv, FRIEND, ALICE, message("sieve-drop-2", FRIEND, ALICE))
    assert len(with_marker(srv.settle(ALICE), "sieve-drop-2")) == 1

    # and activating it again filters again
    srv.cli("sieve", "activate", ALICE)
    send_plain(srv, FRIEND, ALICE, message("sieve-drop-3", FRIEND, ALICE))
    assert not with_marker(srv.settle(ALICE), "sieve-drop-3")


def test_header_matches_and_variables_choose_the_mailbox(srv):
    imap_create(srv, "Lists", "Lists/swift-dev")
    put_script(srv, ALICE, (
        'require ["fileinto", "variables"];\n'
        'if header :matches "List-Id" "*<*.lists.example.org>" {\n'
        '    set :lower "list" "${2}";\n'
        '    fileinto "Lists/${list}";\n'
        '}\n'))
    send_plain(srv, FRIEND, ALICE, message(
        "sieve-list-1", FRIEND, ALICE,
        extra_headers="List-Id: Swift development <Swift-Dev.lists.example.org>\r\n"))
    # not a match: kept
    send_plain(srv, FRIEND, ALICE, message(
        "sieve-list-2", FRIEND, ALICE, extra_headers="List-Id: <other.lists.example.net>\r\n"))
    inbox = srv.settle(ALICE)
    assert len(with_marker(imap_messages(srv, "Lists/swift-dev"), "sieve-list-1")) == 1
    assert not with_marker(inbox, "sieve-list-1")
    assert len(with_marker(inbox, "sieve-list-2")) == 1


def test_envelope_detail_of_a_subaddress(srv):
    imap_create(srv, "News")
    put_script(srv, ALICE, (
        'require ["envelope", "subaddress", "fileinto"];\n'
        'if envelope :detail "to" "newsletter" { fileinto "News"; }\n'))
    tagged = "alice+newsletter@example.test"
    with smtplib.SMTP("127.0.0.1", srv.smtp, timeout=30) as s:
        s.ehlo("client.outside.test")
        s.mail(FRIEND)
        code, text = s.rcpt(tagged)
    if code not in (250, 251):
        pytest.skip(f"the server refuses the subaddress {tagged}: RCPT TO answered {code} {text!r}")
    send_plain(srv, FRIEND, tagged, message("sieve-detail-1", FRIEND, tagged))
    send_plain(srv, FRIEND, "alice+other@example.test",
               message("sieve-detail-2", FRIEND, "alice+other@example.test"))
    send_plain(srv, FRIEND, ALICE, message("sieve-detail-3", FRIEND, ALICE))
    inbox = srv.settle(ALICE)
    assert len(with_marker(imap_messages(srv, "News"), "sieve-detail-1")) == 1
    assert not with_marker(inbox, "sieve-detail-1")
    assert len(with_marker(inbox, "sieve-detail-2")) == 1
    assert len(with_marker(inbox, "sieve-detail-3")) == 1


# --------------------------------------------------------------------------
# redirect


@pytest.mark.parametrize("copy", [False, True], ids=["redirect", "redirect-copy"])
def test_redirect_to_a_remote_address(srv, sink, copy):
    target = f"carol@{REMOTE}"
    sender = f"dave@{REMOTE}"
    put_script(srv, ALICE, (
        ('require "copy";\n' if copy else "")
        + 'if header :contains "subject" "sieve-redirect" {\n'
        + f'    redirect {":copy " if copy else ""}"{target}";\n'
        + '}\n'))
    marker = f"sieve-redirect-{'copy' if copy else 'plain'}"
    send_plain(srv, sender, ALICE, message(marker, sender, ALICE))
    wait_sink(sink, marker)
    time.sleep(2.5)     # long enough for a duplicate (retries every 1-2 s) to show
    [got] = sink_messages(sink, marker)
    assert got.mail_from == sender, f"envelope sender {got.mail_from!r}, want {sender!r}"
    assert got.rcpts == [target], got.rcpts
    msg = parsed(got.data)
    assert msg["Subject"] == marker and msg["Message-ID"] == f"<{marker}@interop.test>"
    assert f"body of {marker}" in got.data.decode()

    inbox = srv.settle(ALICE)
    assert len(with_marker(inbox, marker)) == (1 if copy else 0), \
        f"{len(with_marker(inbox, marker))} copies kept in INBOX with copy={copy}"


# --------------------------------------------------------------------------
# reject


REJECT_SCRIPT = ('require "reject";\n'
                 'if header :contains "subject" "sieve-reject" { reject "Not wanted here"; }\n')


def test_reject_over_smtp(srv, sink):
    put_script(srv, ALICE, REJECT_SCRIPT)
    sender = f"dave@{REMOTE}"
    # one recipient: refused at DATA
    code, text = smtp_transaction(srv, sender, [ALICE], message("sieve-reject-1", sender, ALICE))
    assert (code, text) == (550, "5.7.1 Not wanted here"), (code, text)
    assert not with_marker(srv.settle(ALICE), "sieve-reject-1")

    # two recipients: accepted, bob gets it, the sender gets a report about alice
    code, text = smtp_transaction(srv, sender, [ALICE, BOB],
                                  message("sieve-reject-2", sender, ALICE))
    assert code == 250, (code, text)
    assert len(with_marker(srv.settle(BOB), "sieve-reject-2")) == 1
    assert not with_marker(srv.settle(ALICE), "sieve-reject-2")
    wait_sink(sink, "sieve-reject-2")
    time.sleep(2.5)
    reports = sink_messages(sink, "sieve-reject-2")
    assert len(reports) == 1, f"{len(reports)} reports about sieve-reject-2"
    report = reports[0]
    assert report.mail_from == "", f"report sent from <{report.mail_from}>, want <>"
    assert report.rcpts == [sender], report.rcpts
    bounce = parse_bounce(report.data)
    finals = [(g["Final-Recipient"] or "").replace(" ", "").lower() for g in bounce.per_recipient]
    assert finals == [f"rfc822;{ALICE}"], finals
    assert bounce.per_recipient[0]["Action"].strip() == "failed"
    assert bounce.per_recipient[0]["Status"].strip() == "5.7.1"
    assert "Not wanted here" in report.data.decode("utf-8", "replace")
    assert bounce.returned["Subject"] == "sieve-reject-2"
    # no report about the message refused at DATA time
    assert not sink_messages(sink, "sieve-reject-1")


def test_reject_over_lmtp(srv):
    put_script(srv, ALICE, REJECT_SCRIPT)
    raw = message("sieve-reject-lmtp", FRIEND, ALICE)
    with RawClient(srv.lmtp) as c:
        c.greeting()
        c.ehlo("client.outside.test", verb="LHLO")
        assert c.cmd(f"MAIL FROM:<{FRIEND}>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(raw + b".\r\n")
        alice_reply = c.reply()
        bob_reply = c.reply()
        c.cmd("QUIT")
    assert (alice_reply.code, alice_reply.text) == (550, b"5.7.1 Not wanted here"), alice_reply
    assert bob_reply.code == 250, bob_reply
    assert len(with_marker(srv.settle(BOB), "sieve-reject-lmtp")) == 1
    assert not with_marker(srv.settle(ALICE), "sieve-reject-lmtp")


# --------------------------------------------------------------------------
# vacation


VACATION_SCRIPT = ('require "vacation";\n'
                   'if header :contains "subject" "sieve-vac" {\n'
                   '    vacation :days 7 "I am away until Monday.";\n'
                   '}\n')


def vacation_replies(sink: ScriptedSMTP):
    """What reached the sink from the null sender: [(recipients, Subject)]."""
    return [(m.rcpts, parsed(m.data)["Subject"]) for m in sink.messages if m.mail_from == ""]


def test_vacation_replies_once_per_sender(srv, sink):
    put_script(srv, ALICE, VACATION_SCRIPT)
    send_plain(srv, FRIEND, ALICE, message("sieve-vac-first", FRIEND, ALICE))
    # the same sender again, another subject: already answered within :days
    send_plain(srv, FRIEND, ALICE, message("sieve-vac-second", FRIEND, ALICE))
    # another sender gets a reply of its own
    send_plain(srv, OTHER, ALICE, message("sieve-vac-other", OTHER, ALICE))

    wait_for(lambda: {tuple(r) for r, _ in vacation_replies(sink)} >= {(FRIEND,), (OTHER,)},
             DELIVERY_TIMEOUT, lambda: f"vacation replies to {FRIEND} and {OTHER}; the sink has "
                                       f"{[(m.mail_from, m.rcpts) for m in sink.messages]}")
    time.sleep(3.0)     # room for a reply that should not be sent
    replies = vacation_replies(sink)
    assert sorted(replies) == sorted([([FRIEND], "Auto: sieve-vac-first"),
                                      ([OTHER], "Auto: sieve-vac-other")]), \
        f"want one reply per sender, the sink got (recipients, Subject): {replies}"
    assert len(sink.messages) == 2, [(m.mail_from, m.rcpts) for m in sink.messages]

    reply = parsed(next(m for m in sink.messages if m.rcpts == [FRIEND]).data)
    assert reply["Auto-Submitted"] == "auto-replied", reply["Auto-Submitted"]
    assert reply["Subject"] == "Auto: sieve-vac-first", reply["Subject"]
    assert FRIEND in reply["To"], reply["To"]
    assert ALICE in reply["From"], reply["From"]
    assert reply["In-Reply-To"] == "<sieve-vac-first@interop.test>", reply["In-Reply-To"]
    assert "I am away until Monday." in reply.get_content()

    # every message was still kept
    inbox = srv.settle(ALICE)
    for marker in ("first", "second", "other"):
        assert len(with_marker(inbox, f"sieve-vac-{marker}")) == 1, f"sieve-vac-{marker} not kept"
    assert log_lines(srv, "vacation already answered this sender", FRIEND)


def test_vacation_not_to_lists_automatic_mail_or_the_null_sender(srv, sink):
    put_script(srv, ALICE, VACATION_SCRIPT)

    def send(marker, sender, to=ALICE, extra="", mail_from=None):
        send_plain(srv, sender if mail_from is None else mail_from, ALICE,
                   message(marker, sender, to, extra_headers=extra))

    send("sieve-vac-list", f"reader@{REMOTE}", extra="List-Id: <news.lists.example.org>\r\n")
    send("sieve-vac-bulk", f"bulk@{REMOTE}", extra="Precedence: bulk\r\n")
    send("sieve-vac-auto", f"robot@{REMOTE}", extra="Auto-Submitted: auto-generated\r\n")
    send("sieve-vac-null", f"daemon@{REMOTE}", mail_from="")
    send("sieve-vac-bcc", f"bcc@{REMOTE}", to=f"someone@{REMOTE}")   # not addressed to alice
    # the last one is answered: once its reply is there, the others had their chance
    send("sieve-vac-cc", f"cc@{REMOTE}", to=f"someone@{REMOTE}", extra=f"Cc: <{ALICE}>\r\n")

    wait_for(lambda: vacation_replies(sink), DELIVERY_TIMEOUT,
             f"a vacation reply to cc@{REMOTE} (alice in Cc)")
    time.sleep(3.0)
    replies = vacation_replies(sink)
    assert replies == [([f"cc@{REMOTE}"], "Auto: sieve-vac-cc")], \
        f"want only the reply to cc@{REMOTE}; the sink got (recipients, Subject): {replies}"
    assert len(sink.messages) == 1, [(m.mail_from, m.rcpts) for m in sink.messages]

    inbox = srv.settle(ALICE)
    for marker in ("list", "bulk", "auto", "null", "bcc", "cc"):
        assert len(with_marker(inbox, f"sieve-vac-{marker}")) == 1, f"sieve-vac-{marker} not kept"


def test_vacation_subject_option(srv, sink):
    put_script(srv, ALICE, (
        'require ["vacation", "variables"];\n'
        'if header :matches "subject" "sieve-subj*" {\n'
        '    vacation :days 1 :subject "Away: ${1}" "Back soon.";\n'
        '}\n'))
    send_plain(srv, FRIEND, ALICE, message("sieve-subj-xyz", FRIEND, ALICE))
    [reply] = wait_for(lambda: [m for m in sink.messages if m.mail_from == ""], DELIVERY_TIMEOUT,
                       "a vacation reply at the sink")
    assert reply.rcpts == [FRIEND]
    msg = parsed(reply.data)
    assert msg["Subject"] == "Away: -xyz", msg["Subject"]
    assert msg["Auto-Submitted"] == "auto-replied"
    assert "Back soon." in msg.get_content()


def test_global_script_runs_before_the_users(swallow_factory, sink, tmp_path):
    """[sieve] before: the administrator's script files spam into Junk for every user and stops
    there; other mail goes on to the user's own script."""
    script = tmp_path / "global.sieve"
    script.write_text('require "fileinto";\n'
                      'if header :contains "X-Spam-Status" "Yes" { fileinto "Junk"; stop; }\n')
    srv = swallow_factory(listeners=("imap",), settings={
        "transport": {REMOTE: sink.hop}, "queue": FAST_RETRY, "sieve": {"before": str(script)}})
    put_script(srv, ALICE, 'require "fileinto";\n'
                           'if header :contains "subject" "sieve-global" { fileinto "Archive"; }\n')
    spam = message("sieve-global-spam", FRIEND, ALICE).replace(b"\r\n\r\n", b"\r\nX-Spam-Status: Yes\r\n\r\n", 1)
    assert smtp_transaction(srv, FRIEND, [ALICE], spam)[0] == 250
    assert smtp_transaction(srv, FRIEND, [BOB], message("sieve-global-bob", FRIEND, BOB).replace(
        b"\r\n\r\n", b"\r\nX-Spam-Status: Yes\r\n\r\n", 1))[0] == 250
    assert smtp_transaction(srv, FRIEND, [ALICE], message("sieve-global-ham", FRIEND, ALICE))[0] == 250
    wait_for(lambda: with_marker(imap_messages(srv, "Junk"), "sieve-global-spam")
             and with_marker(imap_messages(srv, "Archive"), "sieve-global-ham"), DELIVERY_TIMEOUT,
             "spam in alice's Junk, the rest filed by her own script")
    assert not with_marker(imap_messages(srv, "INBOX"), "sieve-global")
    # bob has no script of his own: the global one still applies
    wait_for(lambda: with_marker(imap_messages(srv, "Junk", user=BOB, password=BOB_PASSWORD), "sieve-global-bob"),
             DELIVERY_TIMEOUT, "spam in bob's Junk")
