#!/usr/bin/env python3
"""SMTP acceptance and local delivery: Swallow and Postfix side by side, in one run.

Both receive the same load from Postfix's smtp-source (20 sessions, N messages of a given size,
one local recipient) and deliver it durably to a local mailbox: Swallow into its SQLite store,
Postfix through virtual(8) into a Maildir. Reported per server: messages accepted per second,
messages delivered per second, and CPU seconds per 1000 messages (all CPU the machine spent
during the run, less smtp-source's own), then Swallow/Postfix ratios.

--relay: the same, relayed to Postfix's smtp-sink instead of delivered locally. With
--destinations N the load goes to N domains d1.sink.test ... dN.sink.test (each routed to the
same smtp-sink by Swallow's [transport] and Postfix's transport_maps), one smtp-source per domain
at once, each with max(1, sessions // N) sessions and messages // N messages.

--deferred N: both servers first relay --deferred-relay messages (2000) to a healthy sink
destination, then queue N messages (the issue's figure is 100000) for a domain routed to a closed
port, with every retry an hour away (Swallow min_backoff, Postfix minimal/maximal_backoff_time
3600 s). Once all are queued and their first attempt is done, each server's CPU seconds over
--idle-seconds (60) of idleness are measured (Swallow: its process; Postfix: its master's
process tree), then the healthy relay is run again beside the deferred queue.

--filters: local delivery with content scanning on both sides, against the same clamd and
rspamd started for the run: Swallow through its own [filters.clamav] and [filters.spam] clients,
Postfix through clamav-milter and rspamd's milter proxy. Also reported: the scanners' CPU and
their share of the run's CPU (bench/smtp/filters.py).

Usage: bench/smtp/bench.py [--swallow PATH] [--messages 5000] [--sessions 20] [--sizes 4096,102400]
                           [--relay [--destinations N]] [--deferred N [--deferred-relay 2000]] [--filters]
Runs on 127.0.0.1 only; needs root (Postfix) and Debian's postfix package (--filters: also
clamav-daemon, clamav-milter and rspamd).
"""
import argparse, os, pathlib, re, shutil, signal, socket, subprocess, sys, tempfile, threading, time

ROOT = pathlib.Path(__file__).resolve().parents[2]
HZ = os.sysconf("SC_CLK_TCK")
DEAD_DOMAIN = "dead.test"
NO_RETRY = 3600  # seconds: the deferred queue is not retried during a run


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port():
    """A 127.0.0.1 port where nothing listens: connections are refused."""
    return free_port()


def busy_jiffies():
    fields = open("/proc/stat").readline().split()[1:]
    values = list(map(int, fields))
    idle = values[3] + values[4]
    return sum(values[:8]) - idle


def proc_stat(pid):
    """(ppid, utime+stime, cutime+cstime) in seconds of /proc/PID/stat; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # fields[0] is field 3 (state): ppid 4, utime 14, stime 15, cutime 16, cstime 17
    return (int(fields[1]), (int(fields[11]) + int(fields[12])) / HZ,
            (int(fields[13]) + int(fields[14])) / HZ)


def tree_cpu_seconds(root_pid):
    """CPU seconds of a process tree: every live member's own time, plus the root's reaped
    children (so a child that exits between two readings is still counted)."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := proc_stat(int(entry))):
            stats[int(entry)] = st
    if root_pid not in stats:
        return 0.0
    children = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = stats[root_pid][2], [root_pid]
    while todo:
        pid = todo.pop()
        total += stats[pid][1]
        todo += children.get(pid, [])
    return total


def run_load(port, messages, sessions, size, to="u@bench.test"):
    """Runs smtp-source; returns (wall seconds, smtp-source CPU seconds)."""
    return run_loads(port, [(to, messages, sessions)], size)


def run_loads(port, targets, size):
    """One smtp-source per (recipient, messages, sessions), all at once; returns (wall seconds,
    their CPU seconds summed)."""
    start = time.monotonic()
    procs = [subprocess.Popen(["/usr/sbin/smtp-source", "-s", str(sessions), "-m", str(messages), "-l", str(size),
                               "-f", "sender@bench.test", "-t", to, f"127.0.0.1:{port}"])
             for to, messages, sessions in targets]
    cpu, failed = 0.0, []
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
        if p.returncode != 0:
            failed.append(p.returncode)
    if failed:
        raise RuntimeError(f"smtp-source failed: exit codes {failed}")
    return time.monotonic() - start, cpu


class Swallow:
    name = "Swallow"

    def __init__(self, binary, workdir, transport=None, queue=None, listen=None, extra_toml=""):
        """transport: domain -> port on 127.0.0.1; queue: [queue] settings; listen: listener ->
        port on 127.0.0.1 for listeners otherwise disabled; extra_toml: appended to the config."""
        self.binary, self.dir = binary, workdir / "swallow"
        self.port = free_port()
        self.transport = transport or {}
        self.queue = queue or {}
        self.listen = listen or {}
        self.extra_toml = extra_toml
        self._log_offset, self._deferred_ids = 0, set()

    def start(self):
        subprocess.run([self.binary, "init", "--data", str(self.dir), "--domain", "bench.test"], check=True, stdout=subprocess.DEVNULL)
        config = self.dir / "swallow.toml"
        text = config.read_text()
        def sections():
            section = None
            for line in text.splitlines():
                if line.startswith("["):
                    section = line.split("]")[0][1:]
                yield section, line.split("=")[0].strip(), line
        present = {key for section, key, _ in sections() if section == "queue"}
        lines = []
        for section, key, line in sections():
            if key == "smtp":
                line = f'smtp = ["127.0.0.1:{self.port}"]'
            elif section == "listen" and key in self.listen:
                line = f'{key} = ["127.0.0.1:{self.listen[key]}"]'
            elif key in ("submission", "submissions", "lmtp", "imap", "imaps", "pop3", "pop3s", "admin"):
                line = f"{key} = []"
            elif section == "queue" and key in self.queue:
                line = f"{key} = {self.queue[key]}"
            lines.append(line)
            if line.startswith("[transport]"):
                lines += [f'"{domain}" = "127.0.0.1:{port}"' for domain, port in self.transport.items()]
            elif line.startswith("[queue]"):
                lines += [f"{k} = {v}" for k, v in self.queue.items() if k not in present]
        # All the load comes from 127.0.0.1; Postfix exempts $mynetworks from its per-client
        # limits (smtpd_client_event_limit_exceptions), so Swallow's is lifted the same way.
        lines += ["", "[limits]", "max_connections_per_client = 10000"]
        if self.extra_toml:
            lines += ["", self.extra_toml.strip()]
        config.write_text("\n".join(lines) + "\n")
        self.cli("user", "add", "u@bench.test", "--password-stdin", stdin="bench\n")
        self.log_path = self.dir / "serve.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([self.binary, "serve", "--config", str(config)], stdout=subprocess.PIPE, stderr=self.log, text=True)
        for line in self.proc.stdout:
            if "running" in line:
                break

    def cli(self, *args, stdin=None):
        return subprocess.run([self.binary, *args, "--config", str(self.dir / "swallow.toml")], input=stdin, text=True,
                              check=True, capture_output=True).stdout

    def delivered(self):
        out = self.cli("user", "list")
        return int(out.split("\t")[1].split()[0])

    def cpu_seconds(self):
        st = proc_stat(self.proc.pid)
        return st[1] + st[2] if st else 0.0

    def deferred_count(self):
        """Messages with a "deferred" log line so far (read incrementally from its log)."""
        with open(self.log_path, "rb") as f:
            f.seek(self._log_offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self._log_offset += end
        for line in data[:end].splitlines():
            if b"deferred" in line and (m := re.search(rb"queue_id=([0-9A-F]{16})", line)):
                self._deferred_ids.add(m.group(1))
        return len(self._deferred_ids)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)


MASTER_CF = """\
127.0.0.1:{port} inet n   -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    name = "Postfix"

    def __init__(self, workdir, transport=None, backoff=None, extra_main_cf=""):
        """transport: domain -> port on 127.0.0.1; backoff: minimal and maximal_backoff_time;
        extra_main_cf: appended to main.cf."""
        self.dir = workdir / "postfix"
        self.port = free_port()
        self.transport = transport or {}
        self.backoff = backoff
        self.extra_main_cf = extra_main_cf

    def start(self):
        d = self.dir
        (d / "etc").mkdir(parents=True)
        os.chmod(d.parent, 0o755)  # Postfix's daemons (user postfix) must reach the queue
        (d / "mail" / "u").mkdir(parents=True)
        (d / "queue").mkdir()
        (d / "data").mkdir()
        shutil.chown(d / "data", "postfix", "postfix")
        shutil.chown(d / "mail", "nobody", "nogroup")
        shutil.chown(d / "mail" / "u", "nobody", "nogroup")
        routes = ", ".join(f"{domain}=smtp:[127.0.0.1]:{port}" for domain, port in self.transport.items())
        backoff = f"minimal_backoff_time = {self.backoff}s\nmaximal_backoff_time = {self.backoff}s" if self.backoff else ""
        (d / "etc" / "main.cf").write_text(f"""
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = postfix.bench.test
mydestination =
relayhost =
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = bench.test
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = inline:{{ u@bench.test=u/ }}
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 100
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
alias_maps =
alias_database =
biff = no
message_size_limit = 52428800
{"transport_maps = inline:{ " + routes + " }" if routes else ""}
{backoff}
smtp_tls_security_level = none
virtual_mailbox_limit = 0
{self.extra_main_cf}
""")
        # Debian's master.cf runs services chrooted, which a throwaway instance cannot use.
        (d / "etc" / "master.cf").write_text(MASTER_CF.format(port=self.port))
        subprocess.run(["postfix", "-c", str(d / "etc"), "start"], check=True, capture_output=True)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("postfix did not start")

    def delivered(self):
        maildir = self.dir / "mail" / "u"
        return sum(len(os.listdir(maildir / sub)) for sub in ("new", "cur") if (maildir / sub).exists())

    def _queue_files(self, name):
        return sum(len(files) for _, _, files in os.walk(self.dir / "queue" / name))

    def deferred_count(self):
        """Messages in the deferred queue, once nothing is left in incoming/active/maildrop
        (until then, 0: their first attempt is not done)."""
        if any(self._queue_files(q) for q in ("maildrop", "incoming", "active")):
            return 0
        return self._queue_files("deferred")

    def cpu_seconds(self):
        pid = int((self.dir / "queue" / "pid" / "master.pid").read_text().split()[0])
        return tree_cpu_seconds(pid)

    def stop(self):
        subprocess.run(["postfix", "-c", str(self.dir / "etc"), "stop"], capture_output=True)


class Sink:
    """Postfix's smtp-sink as the remote MTA for relay runs; counts messages from its -c output."""

    def __init__(self):
        self.port = free_port()
        self.count = 0
        self.proc = subprocess.Popen(["/usr/sbin/smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{self.port}", "256"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        # smtp-sink -c rewrites one status line with CR: read whole records only.
        pending = b""
        while chunk := self.proc.stdout.read1(4096):
            records = (pending + chunk).split(b"\r")
            pending = records.pop()
            for record in records:
                if m := re.search(rb"mesg=(\d+)", record):
                    self.count = int(m.group(1))

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def measure(server, messages, sessions, size, sink=None, domains=None, probe=None):
    """Load through smtp-source: to the local user, or (with a sink) spread over `domains`, one
    smtp-source per domain with messages // len(domains) messages each. probe: a function
    returning {name: CPU seconds}, read where the run's busy CPU is; its differences are
    returned as "probe", the run's busy CPU seconds (less smtp-source's) as "busy_s"."""
    delivered = (lambda: sink.count) if sink else server.delivered
    if sink:
        per = messages // len(domains)
        targets = [(f"u@{d}", per, max(1, sessions // len(domains))) for d in domains]
        messages = per * len(domains)
    else:
        targets = [("u@bench.test", messages, sessions)]
    before_count = delivered()
    probe0 = probe() if probe else {}
    busy0 = busy_jiffies()
    start = time.monotonic()
    wall, source_cpu = run_loads(server.port, targets, size)
    accepted_at = time.monotonic() - start
    deadline = time.monotonic() + 600
    while delivered() - before_count < messages and time.monotonic() < deadline:
        time.sleep(0.05)
    delivered_at = time.monotonic() - start
    busy = (busy_jiffies() - busy0) / HZ - source_cpu
    probe1 = probe() if probe else {}
    count = delivered() - before_count
    return {"accepted_per_s": messages / accepted_at, "delivered_per_s": count / delivered_at,
            "cpu_ms_per_msg": 1000 * busy / max(count, 1), "delivered": count, "expected": messages,
            "busy_s": busy, "probe": {k: probe1[k] - probe0[k] for k in probe0}}


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "n/a"


def wait_deferred(server, n, timeout):
    """Until `server` reports n messages deferred once (Swallow: from its log; Postfix: its
    deferred queue). A Swallow that logs no per-message "deferred" line for a dead destination
    is taken as done once its count stops moving and its process is idle."""
    start = last_change = last_report = time.monotonic()
    last = -1
    while True:
        count = server.deferred_count()
        now = time.monotonic()
        if count >= n:
            return count, now - start
        if count != last:
            last, last_change = count, now
        if now - last_report >= 15:
            print(f"  {server.name}: {count} of {n} deferred after {now - start:.0f} s", flush=True)
            last_report = now
        if isinstance(server, Swallow) and now - last_change > 30:
            c0 = server.cpu_seconds()
            time.sleep(2)
            if server.cpu_seconds() - c0 < 0.05:
                print(f"  {server.name}: idle with {count} 'deferred' log lines of {n}; taking its first attempts as done")
                return count, time.monotonic() - start
        if now - start > timeout:
            print(f"  {server.name}: only {count} of {n} deferred after {timeout:.0f} s; measuring anyway")
            return count, now - start
        time.sleep(1)


def deferred_run(args, work):
    sink = Sink()
    domains = [f"d{i}.sink.test" for i in range(1, args.destinations + 1)]
    dead = closed_port()
    routes = {**{d: sink.port for d in domains}, DEAD_DOMAIN: dead}
    servers = [Swallow(args.swallow, work, routes, {"min_backoff": NO_RETRY}),
               Postfix(work, routes, backoff=NO_RETRY)]
    size = int(args.sizes.split(",")[0])
    n = args.deferred
    try:
        for s in servers:
            s.start()
        print(f"deferred queue: {n} messages of {args.deferred_size} bytes for {DEAD_DOMAIN} (routed to closed port {dead}),"
              f" retries {NO_RETRY} s away;\nhealthy relay: {args.deferred_relay} messages of {size} bytes, smtp-source -s {args.sessions},"
              f" to smtp-sink over {len(domains)} destination(s)\n", flush=True)
        base = {}
        for s in servers:
            base[s.name] = measure(s, args.deferred_relay, args.sessions, size, sink, domains)
            print(f"  {s.name}: relay without a deferred queue: {base[s.name]['delivered_per_s']:.0f} delivered/s", flush=True)
        queued = {}
        for s in servers:
            wall, _ = run_load(s.port, n, args.sessions, args.deferred_size, to=f"u@{DEAD_DOMAIN}")
            print(f"  {s.name}: {n} messages for {DEAD_DOMAIN} accepted in {wall:.0f} s", flush=True)
            queued[s.name] = wait_deferred(s, n, max(600, n / 50))
            print(f"  {s.name}: {queued[s.name][0]} deferred, {queued[s.name][1]:.0f} s after the load", flush=True)
        time.sleep(5)
        print(f"  measuring {args.idle_seconds} s of idleness ...", flush=True)
        c0 = {s.name: s.cpu_seconds() for s in servers}
        time.sleep(args.idle_seconds)
        idle = {s.name: s.cpu_seconds() - c0[s.name] for s in servers}
        loaded = {}
        for s in servers:
            loaded[s.name] = measure(s, args.deferred_relay, args.sessions, size, sink, domains)
            print(f"  {s.name}: relay beside the deferred queue: {loaded[s.name]['delivered_per_s']:.0f} delivered/s", flush=True)

        print()
        print(f"{'server':8} {'deferred':>9} {'idle CPU s':>11} {'relay/s':>9} {'relay/s':>9} {'with/without':>13}")
        print(f"{'':8} {'':>9} {f'per {args.idle_seconds} s':>11} {'no queue':>9} {'w/ queue':>9} {'':>13}")
        for s in servers:
            b, l = base[s.name], loaded[s.name]
            short = "" if l["delivered"] == l["expected"] and b["delivered"] == b["expected"] else \
                f"  (delivered {b['delivered']} and {l['delivered']} of {l['expected']})"
            print(f"{s.name:8} {queued[s.name][0]:>9} {idle[s.name]:>11.2f} {b['delivered_per_s']:>9.0f} {l['delivered_per_s']:>9.0f}"
                  f" {ratio(l['delivered_per_s'], b['delivered_per_s']):>13}{short}")
        a, b = "Swallow", "Postfix"
        print(f"{'ratio':8} {'':>9} {ratio(idle[a], idle[b]):>11} {ratio(base[a]['delivered_per_s'], base[b]['delivered_per_s']):>9}"
              f" {ratio(loaded[a]['delivered_per_s'], loaded[b]['delivered_per_s']):>9} {'':>13}  (Swallow / Postfix; idle CPU lower is better)")
    finally:
        for s in servers:
            try:
                s.stop()
            except Exception as e:  # keep stopping the others
                print(f"stopping {s.name}: {e}", file=sys.stderr)
        sink.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--swallow", default=str(ROOT / ".build-release" / "release" / "swallow"))
    p.add_argument("--messages", type=int, default=5000)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--sizes", default="4096,102400")
    p.add_argument("--relay", action="store_true",
                   help="relay to smtp-sink (remote domains via transport maps) instead of local delivery")
    p.add_argument("--destinations", type=int, default=1,
                   help="with --relay or --deferred: spread the relayed load over N domains d1..dN.sink.test")
    p.add_argument("--deferred", type=int, default=0, metavar="N",
                   help="deferred-queue run: N messages (100000 in the issue) for a dead destination, then idle CPU "
                        "and healthy relay beside them")
    p.add_argument("--deferred-relay", type=int, default=2000, help="messages relayed to the healthy sink in --deferred runs")
    p.add_argument("--deferred-size", type=int, default=1024, help="size of each deferred message")
    p.add_argument("--idle-seconds", type=int, default=60, help="idle CPU measurement window in --deferred runs")
    p.add_argument("--filters", action="store_true",
                   help="local delivery with clamd and rspamd on: Swallow's own scanner clients against Postfix "
                        "with clamav-milter and rspamd's milter proxy (bench/smtp/filters.py)")
    args = p.parse_args()
    if args.destinations < 1:
        p.error("--destinations must be at least 1")
    if args.filters and (args.relay or args.deferred):
        p.error("--filters measures local delivery: not with --relay or --deferred")
    work = pathlib.Path(tempfile.mkdtemp(prefix="swallow-bench-"))
    os.chmod(work, 0o755)
    if args.filters:
        # filters.py imports this file as `bench`: the module already running, not a second copy.
        sys.modules.setdefault("bench", sys.modules[__name__])
        import filters
        try:
            filters.filters_run(args, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    if args.deferred:
        try:
            deferred_run(args, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    sink = Sink() if args.relay else None
    domains = [f"d{i}.sink.test" for i in range(1, args.destinations + 1)] if sink else None
    routes = {d: sink.port for d in domains} if sink else None
    servers = [Swallow(args.swallow, work, routes), Postfix(work, routes)]
    try:
        for s in servers:
            s.start()
        if sink:
            n = len(domains)
            spread = f", one smtp-source per destination with -s {max(1, args.sessions // n)} -m {args.messages // n}" if n > 1 else ""
            what = (f"relayed to smtp-sink over {n} destination(s){spread} (both servers reuse connections)")
        else:
            what = "one local recipient, durable delivery"
        print(f"smtp-source -s {args.sessions} -m {args.messages}, {what}\n")
        print(f"{'size':>8} {'server':8} {'accepted/s':>11} {'delivered/s':>12} {'CPU ms/msg':>11}")
        for size in map(int, args.sizes.split(",")):
            results = {}
            for s in servers:
                r = measure(s, args.messages, args.sessions, size, sink, domains)
                results[s.name] = r
                print(f"{size:>8} {s.name:8} {r['accepted_per_s']:>11.0f} {r['delivered_per_s']:>12.0f} {r['cpu_ms_per_msg']:>11.2f}"
                      + ("" if r["delivered"] == r["expected"] else f"  (only {r['delivered']} delivered)"))
            a, b = results["Swallow"], results["Postfix"]
            if min(b["accepted_per_s"], b["delivered_per_s"], a["delivered_per_s"]) == 0:
                print("no ratio: a server delivered nothing (see its log)")
                continue
            print(f"{size:>8} {'ratio':8} {a['accepted_per_s'] / b['accepted_per_s']:>10.2f}x {a['delivered_per_s'] / b['delivered_per_s']:>11.2f}x"
                  f" {a['cpu_ms_per_msg'] / b['cpu_ms_per_msg']:>10.2f}x  (Swallow / Postfix; CPU lower is better)")
    finally:
        for s in servers:
            try:
                s.stop()
            except Exception as e:  # keep stopping the others
                print(f"stopping {s.name}: {e}", file=sys.stderr)
        if sink:
            sink.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
