#!/usr/bin/env python3
"""SMTP acceptance and local delivery: Swallow and Postfix side by side, in one run.

Both receive the same load from Postfix's smtp-source (20 sessions, N messages of a given size,
one local recipient) and deliver it durably to a local mailbox: Swallow into its SQLite store,
Postfix through virtual(8) into a Maildir. Reported per server: messages accepted per second,
messages delivered per second, and CPU seconds per 1000 messages (all CPU the machine spent
during the run, less smtp-source's own), then Swallow/Postfix ratios.

Usage: bench/smtp/bench.py [--swallow PATH] [--messages 5000] [--sessions 20] [--sizes 4096,102400]
Runs on 127.0.0.1 only; needs root (Postfix) and Debian's postfix package.
"""
import argparse, os, pathlib, re, shutil, signal, socket, subprocess, sys, tempfile, threading, time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def busy_jiffies():
    fields = open("/proc/stat").readline().split()[1:]
    values = list(map(int, fields))
    idle = values[3] + values[4]
    return sum(values[:8]) - idle


def run_load(port, messages, sessions, size, to="u@bench.test"):
    """Runs smtp-source; returns (wall seconds, smtp-source CPU seconds)."""
    cmd = ["/usr/sbin/smtp-source", "-s", str(sessions), "-m", str(messages), "-l", str(size),
           "-f", "sender@bench.test", "-t", to, f"127.0.0.1:{port}"]
    start = time.monotonic()
    before = os.times()
    subprocess.run(cmd, check=True)
    after = os.times()
    return time.monotonic() - start, (after.children_user - before.children_user) + (after.children_system - before.children_system)


class Swallow:
    name = "Swallow"

    def __init__(self, binary, workdir, sink_port=None):
        self.binary, self.dir = binary, workdir / "swallow"
        self.port = free_port()
        self.sink_port = sink_port

    def start(self):
        subprocess.run([self.binary, "init", "--data", str(self.dir), "--domain", "bench.test"], check=True, stdout=subprocess.DEVNULL)
        config = self.dir / "swallow.toml"
        text = config.read_text()
        lines = []
        for line in text.splitlines():
            key = line.split("=")[0].strip()
            if key == "smtp":
                line = f'smtp = ["127.0.0.1:{self.port}"]'
            elif key in ("submission", "submissions", "lmtp", "imap", "imaps", "pop3", "pop3s", "admin"):
                line = f"{key} = []"
            lines.append(line)
            if line.startswith("[transport]") and self.sink_port:
                lines.append(f'"sink.test" = "127.0.0.1:{self.sink_port}"')
        config.write_text("\n".join(lines) + "\n")
        self.cli("user", "add", "u@bench.test", "--password-stdin", stdin="bench\n")
        self.log = open(self.dir / "serve.log", "w")
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

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


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

    def __init__(self, workdir, sink_port=None):
        self.dir = workdir / "postfix"
        self.port = free_port()
        self.sink_port = sink_port

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
{"transport_maps = inline:{ sink.test=smtp:[127.0.0.1]:" + str(self.sink_port) + " }" if self.sink_port else ""}
smtp_tls_security_level = none
virtual_mailbox_limit = 0
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


def measure(server, messages, sessions, size, sink=None):
    delivered = (lambda: sink.count) if sink else server.delivered
    before_count = delivered()
    hz = os.sysconf("SC_CLK_TCK")
    busy0 = busy_jiffies()
    start = time.monotonic()
    wall, source_cpu = run_load(server.port, messages, sessions, size, to="u@sink.test" if sink else "u@bench.test")
    accepted_at = time.monotonic() - start
    deadline = time.monotonic() + 600
    while delivered() - before_count < messages and time.monotonic() < deadline:
        time.sleep(0.05)
    delivered_at = time.monotonic() - start
    busy = (busy_jiffies() - busy0) / hz - source_cpu
    count = delivered() - before_count
    return {"accepted_per_s": messages / accepted_at, "delivered_per_s": count / delivered_at,
            "cpu_ms_per_msg": 1000 * busy / max(count, 1), "delivered": count}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--swallow", default=str(ROOT / ".build-release" / "release" / "swallow"))
    p.add_argument("--messages", type=int, default=5000)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--sizes", default="4096,102400")
    p.add_argument("--relay", action="store_true",
                   help="relay to smtp-sink (remote domain via transport map) instead of local delivery")
    args = p.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="swallow-bench-"))
    os.chmod(work, 0o755)
    sink = Sink() if args.relay else None
    servers = [Swallow(args.swallow, work, sink and sink.port), Postfix(work, sink and sink.port)]
    try:
        for s in servers:
            s.start()
        what = "relayed to smtp-sink (new connection per message for Swallow; Postfix reuses connections)" if sink \
            else "one local recipient, durable delivery"
        print(f"smtp-source -s {args.sessions} -m {args.messages}, {what}\n")
        print(f"{'size':>8} {'server':8} {'accepted/s':>11} {'delivered/s':>12} {'CPU ms/msg':>11}")
        for size in map(int, args.sizes.split(",")):
            results = {}
            for s in servers:
                r = measure(s, args.messages, args.sessions, size, sink)
                results[s.name] = r
                print(f"{size:>8} {s.name:8} {r['accepted_per_s']:>11.0f} {r['delivered_per_s']:>12.0f} {r['cpu_ms_per_msg']:>11.2f}"
                      + ("" if r["delivered"] == args.messages else f"  (only {r['delivered']} delivered)"))
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
