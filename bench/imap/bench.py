#!/usr/bin/env python3
"""IMAP: Swallow and Dovecot side by side, in one run, under the same load generator.

Mixed workload: N client processes (Python's imaplib, one process each so the load generator is
not GIL-bound), each with its own account holding the same M messages on both servers (Swallow:
imported from an mbox into SQLite; Dovecot: the same messages as Maildir files). Each client
repeats sessions for a fixed time: connect (greeting + CAPABILITY), LOGIN, SELECT INBOX, FETCH the
headers of 20 messages, FETCH one whole message, SEARCH SUBJECT, SEARCH UNSEEN, STORE +/-FLAGS
(\\Seen), APPEND a 4 KiB message, UID STORE +FLAGS (\\Deleted) on it, UID EXPUNGE it, LOGOUT.
Every command's latency is recorded. Reported per server: commands/s (overall and per kind), p50
and p99 latency, server RSS after the run, server CPU seconds; then Swallow/Dovecot ratios.

Steady state (--workload steady; both by default): N clients that log in once, before the clock
starts, as desktop and phone clients stay logged in for hours, then send a weighted mix (LIST,
STATUS, SELECT, FETCH 1:* FLAGS, FETCH 20 headers, FETCH a body, SEARCH SUBJECT, STORE \\Seen,
APPEND then UID STORE \\Deleted + UID EXPUNGE, NOOP) for the duration; reported per command class:
commands/s, p50 and p99 latency, and the Swallow/Dovecot ratios.

Idle: one asyncio process holds K connections, each logged in, INBOX selected and in IDLE, and
the server's memory is measured before and after; reported as memory per connection.

The load generator runs on the same (2-core) machine as the server under test and competes with
it for CPU, equally for both servers.

Dovecot is Debian's package with its default settings except: limits raised for the idle test,
imap-login in high-performance mode (--dovecot-login security for Debian's default), and by default
the very yescrypt hashes Swallow stored as its passwords (--dovecot-password plain for {PLAIN}), so
that a login costs both servers the same hashing work.

Usage: bench/imap/bench.py [--swallow PATH] [--clients 10] [--duration 20] [--messages 200] [--idle 2000]
                           [--dovecot-password same|plain] [--dovecot-login performance|security]
                           [--only swallow|dovecot] [--workload both|mixed|steady]
Runs on 127.0.0.1 only; needs root (Dovecot drops to nobody for the mailboxes) and Debian's
dovecot-imapd package.
"""
import argparse, asyncio, collections, email.utils, imaplib, multiprocessing as mp, os, pathlib, pwd
import random, re, resource, shutil, signal, socket, sqlite3, subprocess, sys, tempfile, time

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOMAIN = "bench.test"
PASSWORD = "bench-password"
HZ = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
KINDS = ["connect", "login", "select", "fetch_headers", "fetch_body", "search_subject", "search_unseen",
         "store_seen", "append", "store_deleted", "uid_expunge", "logout"]
SEARCH_WORD = "quarterly"
HEADER_FIELDS = "BODY.PEEK[HEADER.FIELDS (From To Subject Date Message-ID)]"
# Steady state: clients logged in before the clock starts, as desktop and phone clients stay
# logged in for hours; then a weighted mix of what they send (flag syncs and STATUS polls most).
STEADY_KINDS = ["list", "status", "select", "fetch_flags", "fetch_headers", "fetch_body", "search_subject",
                "store_seen", "append", "store_deleted", "uid_expunge", "noop"]
STEADY_MIX = [("list", 1), ("status", 2), ("select", 1), ("fetch_flags", 2), ("fetch_headers", 2), ("fetch_body", 1),
              ("search_subject", 1), ("store_seen", 2), ("append", 1), ("noop", 1)]
IDLE_PER_SOURCE_IP = 40  # Swallow allows 50 connections per client address; spread the idle ones


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_name(i):
    return f"user{i}@{DOMAIN}"


# ---------------------------------------------------------------------------------------------
# Messages: the same bytes (LF line ends on disk) for both servers.

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu meeting budget review draft "
         "invoice schedule project release server mail storage backup network update report summary notes "
         "agenda minutes customer support ticket order shipment payment reminder travel lunch").split()


def make_messages(user, count):
    """The mailbox of one user: a list of messages (bytes, LF line ends, no mbox From_ line)."""
    rng = random.Random(f"swallow-imap-bench-{count}")
    base = 1767225600  # 2026-01-01
    out = []
    for i in range(count):
        words = rng.sample(WORDS, 4)
        if i % 8 == 3:
            words[1] = SEARCH_WORD
        subject = " ".join(words).capitalize() + f" #{i}"
        r = rng.random()
        size = rng.randint(800, 4096) if r < 0.7 else rng.randint(4096, 32768) if r < 0.95 else rng.randint(32768, 131072)
        sender = rng.randrange(40)
        head = (f"From: Sender {sender} <sender{sender}@example.test>\n"
                f"To: {user}\n"
                f"Subject: {subject}\n"
                f"Date: {email.utils.formatdate(base + i * 3600)}\n"
                f"Message-ID: <{i}.{user}>\n"
                "MIME-Version: 1.0\n"
                "Content-Type: text/plain; charset=us-ascii\n"
                "Content-Transfer-Encoding: 7bit\n\n")
        lines, n = [], len(head)
        while n < size:
            line = " ".join(rng.choice(WORDS) for _ in range(11))
            lines.append(line)
            n += len(line) + 1
        out.append((head + "\n".join(lines) + "\n").encode())
    return out


def write_mbox(path, messages):
    with open(path, "wb") as f:
        for i, m in enumerate(messages):
            f.write(b"From sender@example.test Thu Jan  1 00:00:00 2026\n")
            f.write(m)  # no body line starts with "From " (all words are lower case)
            f.write(b"\n")


def write_maildir(path, messages):
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    for i, m in enumerate(messages):
        name = path / "cur" / f"{1767225600 + i}.M{i}P1.bench:2,"
        name.write_bytes(m)
        os.utime(name, (1767225600 + i * 3600, 1767225600 + i * 3600))


# ---------------------------------------------------------------------------------------------
# Process accounting.

def proc_status_kib(pid, key):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def smaps_rollup_kib(pid):
    """{'Rss':, 'Pss':, 'Private':} in KiB (Private = Private_Clean + Private_Dirty)."""
    r = {"Rss": 0, "Pss": 0, "Private": 0}
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            parts = line.split()
            if len(parts) >= 2 and parts[0] in ("Rss:", "Pss:", "Private_Clean:", "Private_Dirty:"):
                k = parts[0][:-1]
                r["Private" if k.startswith("Private") else k] += int(parts[1])
    except OSError:
        pass
    return r


def proc_stat(pid):
    """(ppid, comm, utime+stime, cutime+cstime) in jiffies, or None."""
    try:
        data = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    comm = data[data.index("(") + 1:data.rindex(")")]
    f = data[data.rindex(")") + 2:].split()
    return int(f[1]), comm, int(f[11]) + int(f[12]), int(f[13]) + int(f[14])


def process_tree(root):
    """{pid: (comm, own jiffies, reaped-children jiffies)} for root and all its descendants."""
    stats = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            s = proc_stat(int(d))
            if s:
                stats[int(d)] = s
    children = collections.defaultdict(list)
    for pid, s in stats.items():
        children[s[0]].append(pid)
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            tree[pid] = stats[pid][1:]
            todo.extend(children[pid])
    return tree


def tree_cpu_seconds(root):
    """CPU of a process tree: every live process's own time, plus what the root has collected
    from reaped children (Dovecot's master reaps each finished imap/imap-login process)."""
    tree = process_tree(root)
    total = sum(own for _, own, _ in tree.values())
    if root in tree:
        total += tree[root][2]
    return total / HZ


def busy_jiffies():
    values = list(map(int, open("/proc/stat").readline().split()[1:9]))
    return sum(values) - values[3] - values[4]


# ---------------------------------------------------------------------------------------------
# Servers.

class Swallow:
    name = "Swallow"

    def __init__(self, binary, workdir):
        self.binary, self.dir = binary, workdir / "swallow"
        self.proc = None

    def setup(self, users, mailboxes):
        subprocess.run([self.binary, "init", "--data", str(self.dir), "--domain", DOMAIN], check=True, stdout=subprocess.DEVNULL)
        config = self.dir / "swallow.toml"
        lines, section = [], ""
        for line in config.read_text().splitlines():
            if line.startswith("["):
                section = line.split("]")[0].strip("[")
            key = line.split("=")[0].strip()
            if section == "listen" and key == "imap":
                line = 'imap = ["127.0.0.1:0"]'
            elif section == "listen" and "=" in line and not line.lstrip().startswith("#"):
                line = f"{key} = []"
            elif section == "auth" and key == "allow_plaintext_without_tls":
                line = "allow_plaintext_without_tls = true"
            lines.append(line)
        config.write_text("\n".join(lines) + "\n")
        for u in users:
            self.cli("user", "add", u, "--password-stdin", stdin=PASSWORD + "\n")
            self.cli("import", "--format", "mbox", "--user", u, str(mailboxes[u]))

    def password_hash(self, user):
        db = sqlite3.connect(f"file:{self.dir / 'swallow.sqlite'}?mode=ro", uri=True)
        try:
            return db.execute("SELECT password_hash FROM account WHERE address = ?", (user,)).fetchone()[0]
        finally:
            db.close()

    def start(self):
        self.log = open(self.dir / "serve.log", "w")
        self.proc = subprocess.Popen([self.binary, "serve", "--config", str(self.dir / "swallow.toml")],
                                     stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL, text=True)
        self.port = None
        deadline = time.monotonic() + 60
        said = []
        for line in self.proc.stdout:
            said.append(line.rstrip())
            m = re.search(r"imap on 127\.0\.0\.1:(\d+)\s*$", line)
            if m:
                self.port = int(m.group(1))
            if "running" in line or time.monotonic() > deadline:
                break
        if not self.port:
            self.stop()
            err = (self.dir / "serve.log").read_text(errors="replace").strip().splitlines()[-5:]
            raise RuntimeError(f"{self.binary} serve did not open an IMAP listener; it said:\n  " + "\n  ".join(said + err)
                               + "\n(a build from before the IMAP server? rebuild the release binary)")
        # Keep draining stdout so that the server never blocks on a full pipe.
        import threading
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def cli(self, *args, stdin=None):
        r = subprocess.run([self.binary, *args, "--config", str(self.dir / "swallow.toml")], input=stdin, text=True,
                           capture_output=True)
        if r.returncode != 0:
            raise RuntimeError(f"swallow {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def cpu_seconds(self):
        return tree_cpu_seconds(self.proc.pid)

    def memory(self):
        """KiB: rss, pss, private of the one server process."""
        r = smaps_rollup_kib(self.proc.pid)
        return {"rss": proc_status_kib(self.proc.pid, "VmRSS"), "pss": r["Pss"], "private": r["Private"], "procs": 1}

    def log_problems(self):
        text = (self.dir / "serve.log").read_text(errors="replace") if (self.dir / "serve.log").exists() else ""
        return [l for l in text.splitlines() if re.search(r"\b(error|critical|warning|fatal)\b", l, re.I)]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


DOVECOT_CONF = """\
base_dir = {d}/run
state_dir = {d}/state
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {d}/dovecot.log
mail_location = maildir:~/Maildir
first_valid_uid = 100
default_internal_user = dovecot
default_login_user = dovenull
default_process_limit = 500
default_client_limit = {clients}
default_vsz_limit = 1G
passdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  process_limit = 1000
  client_limit = {clients}
{login_mode}}}
service imap {{
  process_limit = {procs}
}}
service anvil {{
  client_limit = {anvil}
}}
protocol imap {{
  mail_max_userip_connections = {procs}
}}
"""


# imap-login: Debian's default is Dovecot's "high-security mode" (a new imap-login process per
# connection); "high-performance mode" keeps a few long-lived ones serving many connections each.
LOGIN_MODES = {
    "security": "",
    "performance": "  service_count = 0\n  process_min_avail = %d\n" % (os.cpu_count() or 1),
}


class Dovecot:
    name = "Dovecot"

    def __init__(self, workdir, idle, login_mode="performance"):
        self.login_mode = login_mode
        self.dir = workdir / "dovecot"
        self.port = free_port()
        self.idle = idle
        self.master = None

    def setup(self, users, messages, hashes):
        d = self.dir
        for sub in ("run", "state", "mail"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(d.parent, 0o755)
        os.chmod(d, 0o755)
        nobody = pwd.getpwnam("nobody")
        with open(d / "users", "w") as f:
            for u in users:
                home = d / "mail" / u.split("@")[0]
                write_maildir(home / "Maildir", messages[u])
                f.write(f"{u}:{hashes[u]}:{nobody.pw_uid}:{nobody.pw_gid}::{home}::\n")
        for dirpath, dirnames, filenames in os.walk(d / "mail"):
            os.chown(dirpath, nobody.pw_uid, nobody.pw_gid)
            for n in filenames:
                os.chown(os.path.join(dirpath, n), nobody.pw_uid, nobody.pw_gid)
        procs = self.idle + 500
        (d / "dovecot.conf").write_text(DOVECOT_CONF.format(d=d, port=self.port, procs=procs, clients=procs + 1000,
                                                                 anvil=procs + 5000,
                                                                 login_mode=LOGIN_MODES[self.login_mode]))

    def start(self):
        # Detached from our stdout/stderr (PEERS.md: it keeps them open otherwise); it daemonizes.
        subprocess.run(["dovecot", "-c", str(self.dir / "dovecot.conf")], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, check=True)
        pidfile = self.dir / "run" / "master.pid"
        for _ in range(200):
            try:
                self.master = int(pidfile.read_text().split()[0])
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except (OSError, ValueError, IndexError):
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start (see {self.dir}/dovecot.log)")

    def cpu_seconds(self):
        return tree_cpu_seconds(self.master)

    def memory(self, only=None):
        """KiB summed over the master's process tree (or only processes named `only`)."""
        tot = {"rss": 0, "pss": 0, "private": 0, "procs": 0}
        for pid, (comm, _, _) in process_tree(self.master).items():
            if only and comm != only:
                continue
            r = smaps_rollup_kib(pid)
            tot["rss"] += proc_status_kib(pid, "VmRSS")
            tot["pss"] += r["Pss"]
            tot["private"] += r["Private"]
            tot["procs"] += 1
        return tot

    def settle(self, timeout=15):
        """Waits until no imap/imap-login process is left from earlier sessions."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(c in ("imap", "imap-login") for c, _, _ in process_tree(self.master).values()):
                return
            time.sleep(0.2)

    def log_problems(self):
        p = self.dir / "dovecot.log"
        text = p.read_text(errors="replace") if p.exists() else ""
        return [l for l in text.splitlines() if re.search(r"(Error|Fatal|Panic|Warning):", l)]

    def stop(self):
        if not self.master:
            return
        try:
            os.kill(self.master, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(self.master, 0)
                time.sleep(0.1)
            except ProcessLookupError:
                break


# ---------------------------------------------------------------------------------------------
# Mixed workload (one process per client).

class BenchIMAP(imaplib.IMAP4):
    def __init__(self, host, port, source, timeout):
        self.source = source
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        s = socket.create_connection((self.host, self.port), timeout, source_address=(self.source, 0))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # imaplib writes literal and CRLF separately
        return s


def append_message(tag):
    head = (f"From: Bench <bench@example.test>\r\nTo: someone@{DOMAIN}\r\nSubject: appended {tag}\r\n"
            f"Date: {email.utils.formatdate()}\r\nMessage-ID: <{tag}@append.{DOMAIN}>\r\n\r\n")
    line = b"x" * 78 + b"\r\n"
    body = line * ((4096 - len(head)) // len(line))
    msg = head.encode() + body
    return msg + b"y" * (4096 - len(msg) - 2) + b"\r\n"


def client_worker(idx, port, user, source, duration, seed, start_at, results):
    rng = random.Random(seed)
    lat = {k: [] for k in KINDS}
    errors = collections.Counter()
    examples = {}
    sessions = 0
    while time.time() < start_at:
        time.sleep(0.001)
    t_begin = time.monotonic()
    deadline = t_begin + duration

    def fail(kind, cmd, what):
        key = (kind, cmd, str(what)[:300])
        errors[key] += 1

    def run(kind, cmd, fn, *args, want=("OK",)):
        t0 = time.perf_counter()
        try:
            typ, data = fn(*args)
        except imaplib.IMAP4.abort as e:
            fail(kind, cmd, f"connection aborted: {e}")
            raise
        except (imaplib.IMAP4.error, OSError) as e:
            fail(kind, cmd, f"{type(e).__name__}: {e}")
            return None
        dt = time.perf_counter() - t0
        if typ not in want:
            fail(kind, cmd, f"{typ} {data!r}")
            return None
        lat[kind].append(dt)
        return data

    for _ in range(1_000_000):  # bounded; ends by the deadline long before
        if time.monotonic() >= deadline:
            break
        sessions += 1
        m = None
        try:
            t0 = time.perf_counter()
            try:
                m = BenchIMAP("127.0.0.1", port, source, 30)
            except (imaplib.IMAP4.error, OSError) as e:
                fail("connect", "connect + greeting + CAPABILITY", f"{type(e).__name__}: {e}")
                time.sleep(0.05)
                continue
            lat["connect"].append(time.perf_counter() - t0)
            if run("login", "LOGIN user password", m.login, user, PASSWORD) is None:
                continue
            data = run("select", "SELECT INBOX", m.select, "INBOX")
            if data is None:
                continue
            exists = int(data[0] or 0)
            if exists >= 1:
                first = rng.randint(1, max(1, exists - 19))
                run("fetch_headers", f"FETCH n:n+19 ({HEADER_FIELDS})", m.fetch, f"{first}:{min(exists, first + 19)}", f"({HEADER_FIELDS})")
                n = rng.randint(1, exists)
                run("fetch_body", "FETCH n (BODY.PEEK[])", m.fetch, str(n), "(BODY.PEEK[])")
            run("search_subject", f"SEARCH SUBJECT {SEARCH_WORD}", m.search, None, "SUBJECT", SEARCH_WORD)
            run("search_unseen", "SEARCH UNSEEN", m.search, None, "UNSEEN")
            if exists >= 1:
                op = "+FLAGS" if sessions % 2 else "-FLAGS"
                run("store_seen", f"STORE n {op} (\\Seen)", m.store, str(rng.randint(1, exists)), op, "(\\Seen)")
            tag = f"{os.getpid()}.{sessions}.{rng.randrange(1 << 30)}"
            data = run("append", "APPEND INBOX {4096}", m.append, "INBOX", None, None, append_message(tag))
            if data is not None:
                mm = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
                if mm:
                    uid = mm.group(1).decode()
                else:
                    fail("append", "APPEND INBOX {4096}", f"no APPENDUID in tagged OK: {data!r}")
                    d2 = run("search_subject", "UID SEARCH HEADER Message-ID", m.uid, "SEARCH", "HEADER", "Message-ID", f"<{tag}@append.{DOMAIN}>")
                    uid = (d2[0].split() or [None])[-1].decode() if d2 and d2[0] else None
                if uid:
                    run("store_deleted", "UID STORE uid +FLAGS (\\Deleted)", m.uid, "STORE", uid, "+FLAGS", "(\\Deleted)")
                    run("uid_expunge", "UID EXPUNGE uid", m.uid, "EXPUNGE", uid)
            run("logout", "LOGOUT", m.logout, want=("BYE", "OK"))
            m = None
        except imaplib.IMAP4.abort:
            time.sleep(0.05)
        except Exception as e:  # anything unexpected: record, keep going
            fail("client", "(client exception)", f"{type(e).__name__}: {e}")
        finally:
            if m is not None:
                try:
                    m.shutdown()
                except Exception:
                    pass
    results.put({"idx": idx, "lat": lat, "errors": list(errors.items()), "sessions": sessions,
                 "elapsed": time.monotonic() - t_begin})


def steady_worker(idx, port, user, source, duration, seed, start_at, results):
    """One client that logs in once (before the clock starts) and then sends the steady mix; an
    APPEND is followed by UID STORE \\Deleted and UID EXPUNGE of the same message, so the
    mailbox keeps its size."""
    rng = random.Random(seed)
    lat = {k: [] for k in STEADY_KINDS}
    errors = collections.Counter()
    kinds, weights = zip(*STEADY_MIX)

    def run(kind, cmd, fn, *args, want=("OK",)):
        t0 = time.perf_counter()
        try:
            typ, data = fn(*args)
        except imaplib.IMAP4.abort as e:
            errors[(kind, cmd, f"connection aborted: {e}"[:300])] += 1
            raise
        except (imaplib.IMAP4.error, OSError) as e:
            errors[(kind, cmd, f"{type(e).__name__}: {e}"[:300])] += 1
            return None
        if typ not in want:
            errors[(kind, cmd, f"{typ} {data!r}"[:300])] += 1
            return None
        lat[kind].append(time.perf_counter() - t0)
        return data

    m = None
    t_begin = time.monotonic()
    try:
        m = BenchIMAP("127.0.0.1", port, source, 60)
        m.login(user, PASSWORD)
        typ, data = m.select("INBOX")
        exists = int(data[0] or 0)
        while time.time() < start_at:
            time.sleep(0.001)
        t_begin = time.monotonic()
        deadline = t_begin + duration
        n = 0
        while time.monotonic() < deadline:
            n += 1
            kind = rng.choices(kinds, weights)[0]
            if kind == "list":
                run(kind, 'LIST "" "*"', m.list, '""', '"*"')
            elif kind == "status":
                run(kind, "STATUS INBOX (MESSAGES UNSEEN UIDNEXT)", m.status, "INBOX", "(MESSAGES UNSEEN UIDNEXT)")
            elif kind == "select":
                data = run(kind, "SELECT INBOX", m.select, "INBOX")
                if data:
                    exists = int(data[0] or 0)
            elif kind == "fetch_flags":
                run(kind, "FETCH 1:* (UID FLAGS)", m.fetch, "1:*", "(UID FLAGS)")
            elif kind == "fetch_headers" and exists:
                first = rng.randint(1, max(1, exists - 19))
                run(kind, f"FETCH n:n+19 ({HEADER_FIELDS})", m.fetch, f"{first}:{min(exists, first + 19)}", f"({HEADER_FIELDS})")
            elif kind == "fetch_body" and exists:
                run(kind, "FETCH n (BODY.PEEK[])", m.fetch, str(rng.randint(1, exists)), "(BODY.PEEK[])")
            elif kind == "search_subject":
                run(kind, f"SEARCH SUBJECT {SEARCH_WORD}", m.search, None, "SUBJECT", SEARCH_WORD)
            elif kind == "store_seen" and exists:
                op = "+FLAGS" if n % 2 else "-FLAGS"
                run(kind, f"STORE n {op} (\\Seen)", m.store, str(rng.randint(1, exists)), op, "(\\Seen)")
            elif kind == "append":
                tag = f"{os.getpid()}.{n}.{rng.randrange(1 << 30)}"
                data = run(kind, "APPEND INBOX {4096}", m.append, "INBOX", None, None, append_message(tag))
                mm = re.search(rb"APPENDUID \d+ (\d+)", (data or [b""])[0] or b"")
                if mm:
                    uid = mm.group(1).decode()
                    run("store_deleted", "UID STORE uid +FLAGS (\\Deleted)", m.uid, "STORE", uid, "+FLAGS", "(\\Deleted)")
                    run("uid_expunge", "UID EXPUNGE uid", m.uid, "EXPUNGE", uid)
            elif kind == "noop":
                run(kind, "NOOP", m.noop)
        m.logout()
        m = None
    except Exception as e:
        errors[("client", "(client exception)", f"{type(e).__name__}: {e}"[:300])] += 1
    finally:
        if m is not None:
            try:
                m.shutdown()
            except Exception:
                pass
    results.put({"idx": idx, "lat": lat, "errors": list(errors.items()), "sessions": 1,
                 "elapsed": time.monotonic() - t_begin})


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def run_mixed(server, users, clients, duration, worker=None, kinds=None, lead=1.0):
    worker = worker or client_worker
    kinds = kinds or KINDS
    results = mp.Queue()
    start_at = time.time() + lead
    procs = []
    for i in range(clients):
        src = f"127.0.{2 + i // 250}.{i % 250 + 1}"
        p = mp.Process(target=worker, args=(i, server.port, users[i % len(users)], src, duration, 1000 + i, start_at, results))
        p.start()
        procs.append(p)
    while time.time() < start_at:
        time.sleep(0.005)
    cpu0, busy0, t0 = server.cpu_seconds(), busy_jiffies(), time.monotonic()
    kids0 = os.times()
    got = []
    deadline = time.monotonic() + duration + 120
    while len(got) < clients and time.monotonic() < deadline:
        try:
            got.append(results.get(timeout=1))
        except Exception:
            if not any(p.is_alive() for p in procs) and results.empty():
                break
    wall = time.monotonic() - t0
    cpu1, busy1 = server.cpu_seconds(), busy_jiffies()
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.terminate()
            p.join()
    kids1 = os.times()
    lat = {k: [] for k in kinds}
    errors = collections.Counter()
    sessions = 0
    for r in got:
        for k, v in r["lat"].items():
            lat[k].extend(v)
        for key, n in r["errors"]:
            errors[tuple(key)] += n
        sessions += r["sessions"]
    if len(got) < clients:
        errors[("client", "(worker)", f"{clients - len(got)} client processes reported nothing")] += 1
    elapsed = max([r["elapsed"] for r in got] or [wall])
    everything = sorted(x for v in lat.values() for x in v)
    return {
        "elapsed": elapsed, "sessions": sessions, "lat": {k: sorted(v) for k, v in lat.items()}, "all": everything,
        "ops": len(everything) / elapsed, "p50": percentile(everything, 0.5), "p99": percentile(everything, 0.99),
        "errors": errors, "server_cpu": cpu1 - cpu0, "busy": (busy1 - busy0) / HZ,
        "client_cpu": (kids1.children_user - kids0.children_user) + (kids1.children_system - kids0.children_system),
        "mem": server.memory(),
    }


def warm_up(server, users):
    """One session per user before measuring (Dovecot builds its indexes on first access) and a
    check that the workload's commands are accepted; returns problems seen."""
    problems = []
    for i, u in enumerate(users):
        try:
            m = BenchIMAP("127.0.0.1", server.port, "127.0.0.1", 60)
            m.login(u, PASSWORD)
            typ, data = m.select("INBOX")
            if typ != "OK":
                problems.append(f"{u}: SELECT INBOX -> {typ} {data!r}")
            typ, data = m.search(None, "ALL")
            if typ == "OK" and i == 0:
                server.warm_count = len(data[0].split())
            m.logout()
        except Exception as e:
            problems.append(f"{u}: {type(e).__name__}: {e}")
    return problems


# ---------------------------------------------------------------------------------------------
# Idle connections (one asyncio process, raw sockets).

async def read_tagged(reader, tag, timeout):
    """Reads lines until the tagged completion; returns it (raises on NO/BAD/EOF)."""
    while True:
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            raise ConnectionError(f"connection closed while waiting for {tag.decode()}")
        if line.startswith(tag + b" "):
            if not line[len(tag) + 1:].upper().startswith(b"OK"):
                raise RuntimeError(line.decode(errors="replace").strip())
            return line


async def hold_idle(port, users, count, open_timeout, measure):
    conns, errors = [], collections.Counter()
    sem = asyncio.Semaphore(64)
    stop_opening = asyncio.Event()
    consecutive = [0]

    async def open_one(i):
        if stop_opening.is_set():
            return
        async with sem:
            if stop_opening.is_set():
                return
            ip = i // IDLE_PER_SOURCE_IP
            src = f"127.1.{ip // 250}.{ip % 250 + 1}"
            user = users[i % len(users)]
            w = None
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, local_addr=(src, 0)), 30)
                greeting = await asyncio.wait_for(r.readline(), 30)
                if not greeting.startswith(b"* OK"):
                    raise RuntimeError(f"greeting: {greeting!r}")
                w.write(f"a LOGIN {user} {PASSWORD}\r\n".encode())
                await read_tagged(r, b"a", 60)
                w.write(b"b SELECT INBOX\r\n")
                await read_tagged(r, b"b", 60)
                w.write(b"c IDLE\r\n")
                while True:
                    line = await asyncio.wait_for(r.readline(), 60)
                    if line.startswith(b"+"):
                        break
                    if not line or line.startswith(b"c "):
                        raise RuntimeError(f"IDLE: {line!r}")
                conns.append((r, w))
                consecutive[0] = 0
            except Exception as e:
                errors[f"{type(e).__name__}: {e}"[:200]] += 1
                consecutive[0] += 1
                if consecutive[0] >= 50:
                    stop_opening.set()
                if w:
                    w.close()

    t0 = time.monotonic()
    tasks = [asyncio.ensure_future(open_one(i)) for i in range(count)]
    done, pending = await asyncio.wait(tasks, timeout=open_timeout)
    stop_opening.set()
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
        errors[f"gave up opening after {open_timeout:.0f} s"] += len(pending)
    open_seconds = time.monotonic() - t0
    await asyncio.sleep(3)  # let the server settle (allocations, Dovecot's processes)
    held = sum(1 for r, w in conns if not r.at_eof())
    mem = measure()

    close_errors = collections.Counter()

    async def close_one(r, w):
        async with sem:
            try:
                w.write(b"DONE\r\n")
                await read_tagged(r, b"c", 30)
                w.write(b"d LOGOUT\r\n")
                await read_tagged(r, b"d", 30)
            except Exception as e:
                close_errors[f"{type(e).__name__}: {e}"[:200]] += 1
            finally:
                w.close()
    await asyncio.wait([asyncio.ensure_future(close_one(r, w)) for r, w in conns], timeout=120)
    return {"opened": len(conns), "held": held, "open_seconds": open_seconds, "errors": errors,
            "close_errors": close_errors, "mem": mem}


def run_idle(server, users, count):
    if isinstance(server, Dovecot):
        server.settle()
        measure = lambda: {"tree": server.memory(), "imap": server.memory(only="imap")}
    else:
        measure = lambda: {"tree": server.memory()}
    time.sleep(1)
    before = measure()
    res = asyncio.run(hold_idle(server.port, users, count, max(120.0, count * 0.06), measure))
    res["before"] = before
    time.sleep(2)
    if isinstance(server, Dovecot):
        server.settle()
    res["after_close"] = measure()
    return res


# ---------------------------------------------------------------------------------------------
# Report.

def fmt_ms(x):
    return f"{x * 1000:.2f}" if x == x else "-"


def print_errors(name, errors, limit=12):
    if not errors:
        return
    total = sum(errors.values())
    print(f"\n!! {name}: {total} failed commands (the server refused or failed a command the workload uses):")
    for (kind, cmd, what), n in errors.most_common(limit):
        print(f"   {n:6d} x  {cmd}  ->  {what}")


def report_mixed(results, args):
    print(f"\n== Mixed workload: {args.clients} clients x {args.duration:.0f} s, one account each "
          f"({args.messages} messages), imaplib, one process per client")
    print("   The load generator shares the machine's cores with the server under test (equally for both servers).")
    print("   Each session: connect(greeting+CAPABILITY), LOGIN, SELECT, FETCH 20 headers, FETCH 1 body,"
          " SEARCH SUBJECT, SEARCH UNSEEN, STORE \\Seen, APPEND 4 KiB, UID STORE \\Deleted, UID EXPUNGE, LOGOUT")
    print(f"\n{'server':8} {'cmds/s':>8} {'sess/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'failed':>6} "
          f"{'RSS MiB':>8} {'PSS MiB':>8} {'srv CPU s':>9} {'CPU ms/cmd':>10} {'load CPU s':>10} {'busy s':>7} {'other s':>7}")
    noisy = []
    for name, r in results.items():
        n = len(r["all"])
        other = r["busy"] - r["server_cpu"] - r["client_cpu"]
        if other > 0.1 * r["elapsed"] * os.cpu_count():
            noisy.append(f"{name}: {other:.1f} CPU s")
        print(f"{name:8} {r['ops']:>8.0f} {r['sessions'] / r['elapsed']:>7.1f} {fmt_ms(r['p50']):>7} {fmt_ms(r['p99']):>7} "
              f"{sum(r['errors'].values()):>6} {r['mem']['rss'] / 1024:>8.1f} {r['mem']['pss'] / 1024:>8.1f} "
              f"{r['server_cpu']:>9.1f} {1000 * r['server_cpu'] / max(n, 1):>10.3f} {r['client_cpu']:>10.1f} {r['busy']:>7.1f} {other:>7.1f}")
    print("   RSS/PSS: after the run. Swallow: its one process. Dovecot: summed over the master and all its"
          " children alive at that moment\n   (master, log, config, anvil, auth, stats, imap-login, imap); the RSS sum"
          " counts shared pages once per process, PSS divides them.\n   srv CPU: user+system seconds of the server's"
          " process tree during the run (for Dovecot including the finished imap/imap-login\n   processes its master"
          " reaped). load CPU: the imaplib client processes. busy: all CPU the machine spent in that time;\n   other: busy"
          " less server and load generator (this script, the kernel, and anything else running on the machine).")
    if noisy:
        print(f"   WARNING: something else used the CPU during the run ({', '.join(noisy)}): figures are disturbed.")
    names = list(results)
    print("\n   Every session issues each command once, so commands/s is the same for every kind (sessions/s).")
    print(f"{'command':15}" + "".join(f" {n + ' /s':>12} {'p50':>6} {'p99 ms':>7}" for n in names)
          + ("   p50 ratio  p99 ratio" if len(names) == 2 else ""))
    for k in KINDS:
        row = f"{k:15}"
        for n in names:
            v = results[n]["lat"][k]
            row += f" {len(v) / results[n]['elapsed']:>12.1f} {fmt_ms(percentile(v, 0.5)):>6} {fmt_ms(percentile(v, 0.99)):>7}"
        if len(names) == 2:
            for q in (0.5, 0.99):
                a, b = (percentile(results[n]["lat"][k], q) for n in names)
                row += f"   {a / b:>7.2f}x" if b == b and a == a and b > 0 else "         -"
        print(row)
    for n in names:
        print_errors(n, results[n]["errors"])


def report_steady(results, args):
    print(f"\n== Steady state: {args.clients} clients logged in before the clock starts (desktop and phone clients"
          f" stay logged in), {args.duration:.0f} s,\n   no logins during the run; weighted mix "
          + ", ".join(f"{k} {w}" for k, w in STEADY_MIX) + " (APPEND followed by UID STORE \\Deleted + UID EXPUNGE)")
    print(f"\n{'server':8} {'cmds/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'failed':>6} {'srv CPU s':>9} {'CPU ms/cmd':>10}")
    for name, r in results.items():
        n = len(r["all"])
        print(f"{name:8} {r['ops']:>8.0f} {fmt_ms(r['p50']):>7} {fmt_ms(r['p99']):>7} {sum(r['errors'].values()):>6} "
              f"{r['server_cpu']:>9.1f} {1000 * r['server_cpu'] / max(n, 1):>10.3f}")
    names = list(results)
    print(f"\n{'command':15}" + "".join(f" {n + ' /s':>12} {'p50':>6} {'p99 ms':>7}" for n in names)
          + ("   cmds/s ratio  p50 ratio  p99 ratio" if len(names) == 2 else ""))
    for k in STEADY_KINDS:
        row = f"{k:15}"
        for n in names:
            v = results[n]["lat"][k]
            row += f" {len(v) / results[n]['elapsed']:>12.1f} {fmt_ms(percentile(v, 0.5)):>6} {fmt_ms(percentile(v, 0.99)):>7}"
        if len(names) == 2:
            a, b = (len(results[n]["lat"][k]) / results[n]["elapsed"] for n in names)
            row += f"   {a / b:>10.2f}x" if b > 0 else "            -"
            for q in (0.5, 0.99):
                a, b = (percentile(results[n]["lat"][k], q) for n in names)
                row += f"   {a / b:>7.2f}x" if b == b and a == a and b > 0 else "         -"
        print(row)
    if "Swallow" in results and "Dovecot" in results:
        a, b = results["Swallow"], results["Dovecot"]
        print(f"\n   steady commands/s Swallow / Dovecot: {a['ops'] / b['ops']:.2f}x (issue 9's goal: >= 1.5x);"
              f" p99 {a['p99'] / b['p99']:.2f}x (goal <= 1.0x)")
    for n in names:
        print_errors(n, results[n]["errors"])


def report_idle(results, count):
    print(f"\n== Idle: {count} connections requested, each LOGIN + SELECT INBOX + IDLE, held by one asyncio process"
          f" ({IDLE_PER_SOURCE_IP} per 127.x source address)")
    per = {}
    for name, r in results.items():
        n = max(r["opened"], 1)
        b, a, c = r["before"]["tree"], r["mem"]["tree"], r["after_close"]["tree"]
        line = (f"{name:8} held {r['held']:>6} (opened {r['opened']} in {r['open_seconds']:.1f} s, "
                f"{r['opened'] / max(r['open_seconds'], 1e-9):.0f}/s)  "
                f"whole server: RSS {b['rss'] / 1024:.1f} -> {a['rss'] / 1024:.1f} MiB, PSS {b['pss'] / 1024:.1f} -> {a['pss'] / 1024:.1f} MiB "
                f"(after closing: RSS {c['rss'] / 1024:.1f}, PSS {c['pss'] / 1024:.1f}), {a['procs']} processes")
        print(line)
        if r["opened"] == 0:
            continue
        d = {"rss_delta": (a["rss"] - b["rss"]) / n, "pss_delta": (a["pss"] - b["pss"]) / n}
        print(f"{'':8} per connection: RSS delta {d['rss_delta']:.1f} KiB, PSS delta {d['pss_delta']:.1f} KiB")
        if "imap" in r["mem"]:
            im = r["mem"]["imap"]
            d["imap_rss"] = im["rss"] / max(im["procs"], 1)
            d["imap_private"] = im["private"] / max(im["procs"], 1)
            d["imap_pss"] = im["pss"] / max(im["procs"], 1)
            print(f"{'':8} imap processes: {im['procs']}, per process RSS {d['imap_rss']:.1f} KiB, private "
                  f"(Private_Clean+Private_Dirty) {d['imap_private']:.1f} KiB, PSS {d['imap_pss']:.1f} KiB")
        per[name] = d
        if r["errors"]:
            print(f"{'':8} failed to open {sum(r['errors'].values())}: " +
                  "; ".join(f"{n} x {e}" for e, n in r["errors"].most_common(5)))
        if r["close_errors"]:
            print(f"{'':8} errors while closing {sum(r['close_errors'].values())}: " +
                  "; ".join(f"{n} x {e}" for e, n in r["close_errors"].most_common(5)))
    return per


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--swallow", default=str(ROOT / ".build-release" / "release" / "swallow"))
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--duration", type=float, default=20.0, help="seconds of mixed workload per server")
    p.add_argument("--messages", type=int, default=200, help="messages per mailbox")
    p.add_argument("--idle", type=int, default=2000, help="IDLE connections to hold (0 skips)")
    p.add_argument("--dovecot-password", choices=("same", "plain"), default="same",
                   help="same: Dovecot verifies the very yescrypt hash Swallow stored ({CRYPT}); plain: {PLAIN}")
    p.add_argument("--dovecot-login", choices=("security", "performance"), default="performance",
                   help="imap-login in Dovecot's high-security mode (Debian's default: a process per connection) "
                        "or high-performance mode (service_count = 0, process_min_avail = cores)")
    p.add_argument("--only", choices=("swallow", "dovecot"))
    p.add_argument("--workload", choices=("both", "mixed", "steady"), default="both",
                   help="mixed: sessions that log in each time; steady: clients that stay logged in")
    args = p.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.idle + 2000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(want, soft)), hard))
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if args.idle > nofile - 200:
        print(f"note: RLIMIT_NOFILE is {nofile}; holding {nofile - 200} idle connections instead of {args.idle}")
        args.idle = nofile - 200
    if os.geteuid() != 0 and args.only != "swallow":
        sys.exit("Dovecot's throwaway instance needs root (its mail processes run as nobody)")
    binary = args.swallow
    if args.only != "dovecot":
        if not os.access(binary, os.X_OK):
            sys.exit(f"no Swallow binary at {binary}")
        built = os.stat(binary).st_mtime
        print(f"Swallow binary: {binary} (built {(time.time() - built) / 60:.0f} min ago)")
        newer = [f for f in (ROOT / "Sources").rglob("*.swift") if f.stat().st_mtime > built]
        if newer:
            print(f"warning: {len(newer)} source files are newer than this binary (e.g. {newer[0].relative_to(ROOT)})")

    mp.set_start_method("fork")
    work = pathlib.Path(tempfile.mkdtemp(prefix="swallow-imap-bench-"))
    users = [user_name(i) for i in range(max(args.clients, 1))]
    servers = []
    t_start = time.monotonic()
    try:
        messages = {u: make_messages(u, args.messages) for u in users}
        mbox_dir = work / "mbox"
        mbox_dir.mkdir()
        mailboxes = {}
        for u in users:
            mailboxes[u] = mbox_dir / f"{u}.mbox"
            write_mbox(mailboxes[u], messages[u])
        total = sum(len(m) for u in users for m in messages[u])
        print(f"{len(users)} accounts x {args.messages} messages ({total / len(users) / 1024 / 1024:.1f} MiB per mailbox)")
        if args.only != "dovecot":
            sw = Swallow(binary, work)
            servers.append(sw)
            sw.setup(users, mailboxes)
            sw.start()
        if args.only != "swallow":
            dv = Dovecot(work, args.idle, args.dovecot_login)
            servers.append(dv)
            if args.dovecot_password == "same" and args.only != "dovecot":
                hashes = {u: "{CRYPT}" + sw.password_hash(u) for u in users}
                scheme = "{CRYPT} with Swallow's own yescrypt hashes (same work per login as Swallow)"
            else:
                hashes = {u: "{PLAIN}" + PASSWORD for u in users}
                scheme = "{PLAIN} (no hashing work per login; Swallow always verifies a yescrypt hash)"
            dv.setup(users, messages, hashes)
            dv.start()
            print(f"Dovecot {subprocess.run(['dovecot', '--version'], capture_output=True, text=True).stdout.strip()},"
                  f" passwd-file {scheme}, Maildir, imap-login in high-{args.dovecot_login} mode,"
                  " Debian's defaults otherwise (limits raised for the idle test)")
        for s in servers:
            problems = warm_up(s, users)
            print(f"{s.name}: port {s.port}, warm-up saw {getattr(s, 'warm_count', '?')} messages in {users[0]}'s INBOX"
                  + (f"; PROBLEMS: {problems[:5]}" if problems else ""))
        print(f"setup took {time.monotonic() - t_start:.0f} s")

        mixed = {}
        if args.workload in ("both", "mixed"):
            for s in servers:
                if isinstance(s, Dovecot):
                    s.settle()
                mixed[s.name] = run_mixed(s, users, args.clients, args.duration)
            report_mixed(mixed, args)
        if args.workload in ("both", "steady"):
            steady = {}
            for s in servers:
                if isinstance(s, Dovecot):
                    s.settle()
                # Logins (yescrypt) happen in the lead time, before the clock starts.
                steady[s.name] = run_mixed(s, users, args.clients, args.duration, worker=steady_worker,
                                           kinds=STEADY_KINDS, lead=3.0 + 0.3 * args.clients)
            report_steady(steady, args)

        idle = {}
        if args.idle > 0:
            for s in servers:
                idle[s.name] = run_idle(s, users, args.idle)
            per = report_idle(idle, args.idle)
        else:
            per = {}

        if "Swallow" in mixed and "Dovecot" in mixed:
            a, b = mixed["Swallow"], mixed["Dovecot"]
            print("\n== Ratios (Swallow / Dovecot)")
            print(f"   commands/s      {a['ops'] / b['ops']:.2f}x   (goal >= 1.0x, aim 1.5x; higher is better)")
            print(f"   p50 latency     {a['p50'] / b['p50']:.2f}x   (lower is better)")
            print(f"   p99 latency     {a['p99'] / b['p99']:.2f}x   (goal <= 1.0x; lower is better)")
            print(f"   RSS after run   {a['mem']['rss'] / b['mem']['rss']:.2f}x   (Swallow's process vs the sum over Dovecot's processes)")
            print(f"   PSS after run   {a['mem']['pss'] / b['mem']['pss']:.2f}x")
            ca, cb = a["server_cpu"] / max(len(a["all"]), 1), b["server_cpu"] / max(len(b["all"]), 1)
            print(f"   CPU per command {ca / cb:.2f}x   (lower is better)")
            if "Swallow" in per and "Dovecot" in per:
                s, d = per["Swallow"], per["Dovecot"]
                print(f"   idle memory per connection (goal <= 0.10x):")
                if d.get("imap_rss"):
                    print(f"     Swallow RSS delta / Dovecot imap process RSS       {s['rss_delta'] / d['imap_rss']:.3f}x"
                          f"   ({s['rss_delta']:.1f} vs {d['imap_rss']:.1f} KiB)")
                if d.get("imap_private"):
                    print(f"     Swallow RSS delta / Dovecot imap process private   {s['rss_delta'] / d['imap_private']:.3f}x"
                          f"   ({s['rss_delta']:.1f} vs {d['imap_private']:.1f} KiB)")
                if d.get("pss_delta", 0) > 0:
                    print(f"     Swallow PSS delta / Dovecot whole-tree PSS delta   {s['pss_delta'] / d['pss_delta']:.3f}x"
                          f"   ({s['pss_delta']:.1f} vs {d['pss_delta']:.1f} KiB)")
        for s in servers:
            probs = s.log_problems()
            if probs:
                kinds = collections.Counter()
                for l in probs:
                    m = re.search(r"\b(Warning|Error|Fatal|Panic|warning|error|critical):?\s.*", l)
                    kinds[re.sub(r"\d+", "N", m.group(0) if m else l)[:200]] += 1
                print(f"\n{s.name} log: {len(probs)} warning/error lines ({len(kinds)} kinds, digits shown as N):")
                for text, n in kinds.most_common(8):
                    print(f"   {n:6d} x  {text}")
        print(f"\ntotal run time {time.monotonic() - t_start:.0f} s")
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        for s in servers:
            try:
                s.stop()
            except Exception as e:  # keep stopping the others
                print(f"stopping {s.name}: {e}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
