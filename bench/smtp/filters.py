"""bench.py --filters (issue 10): SMTP ingest with a virus and a spam scanner on, Swallow against
Postfix, the same scanners for both, started once for the run on 127.0.0.1 without network
(tests/interop's classes: clamd with a one-signature test database, rspamd with Debian's config,
its normal worker and its proxy worker in milter mode, clamav-milter in front of that clamd):

    Swallow   [filters.clamav] -> clamd (INSTREAM), [filters.spam] engine rspamd -> rspamd's
              normal worker (/checkv2), scan_authenticated = true (the load comes from
              127.0.0.1, a trusted network, which would otherwise skip the spam scan), and
              on_failure = "tempfail" for both, as Postfix's milter_default_action
    Postfix   smtpd_milters = clamav-milter (-> the same clamd), rspamd's milter proxy (-> the
              same normal worker); milter_default_action = tempfail, milter_protocol = 6

The load is bench.py's: smtp-source, one local recipient, delivered durably (Swallow's store,
Postfix's Maildir). smtp-source's messages are neither spam nor a virus. Reported per server and
size: accepted/s, delivered/s, CPU ms per message (all busy CPU of the machine during the run,
less smtp-source's own, scanners included), the server's own CPU ms per message (Swallow's
process, Postfix's master process tree), the scanners' CPU ms per message and their share of
that busy CPU (CPU seconds of the clamd, rspamd -- every process -- and clamav-milter process
trees during that server's run), then the Swallow/Postfix ratios.

Checked, with a warning when not so: before the runs, EICAR and GTUBE are refused by both
servers; per run, Swallow's /metrics counted a clean clamd verdict and an rspamd verdict for
every message delivered, and each of Postfix's new Maildir files carries clamav-milter's
X-Virus-Status: Clean and rspamd's X-Spamd-Result; after the runs, every message in Swallow's
store carries X-Spam-Status.
"""
import mailbox, re, shutil, smtplib, sys, time, urllib.request

import bench
from bench import Postfix, Swallow, free_port, measure, ratio, tree_cpu_seconds

sys.path.insert(0, str(bench.ROOT / "tests" / "interop"))
from test_filters import EICAR, GTUBE, Clamd, Rspamd, scanner_root  # noqa: E402
from test_milter import ClamavMilter  # noqa: E402

RECIPIENT = "u@bench.test"


class Scanners:
    """clamd, rspamd (normal worker + milter proxy) and clamav-milter, each in a directory of its own."""

    def __init__(self):
        self.daemons, self.roots = [], []

    def _start(self, make, prefix):
        root = scanner_root(prefix)
        self.roots.append(root)
        daemon = make(root)
        daemon.start()
        self.daemons.append(daemon)
        return daemon

    def start(self):
        self.clamd = self._start(Clamd, "swallow-bench-clamd-")
        self.rspamd = self._start(Rspamd, "swallow-bench-rspamd-")
        self.milter = self._start(lambda root: ClamavMilter(root, self.clamd.port), "swallow-bench-clamav-milter-")
        return self

    def cpu_seconds(self):
        """CPU seconds so far of each scanner's process tree (rspamd: its main process and workers)."""
        return {"clamd": tree_cpu_seconds(self.clamd.proc.pid), "rspamd": tree_cpu_seconds(self.rspamd.proc.pid),
                "clamav-milter": tree_cpu_seconds(self.milter.proc.pid)}

    def stop(self):
        for daemon in reversed(self.daemons):
            try:
                daemon.stop()
            except Exception as e:  # keep stopping the others
                print(f"stopping {daemon.title}: {e}", file=sys.stderr)
        for root in self.roots:
            shutil.rmtree(root, ignore_errors=True)


def swallow_with_filters(binary, work, scanners):
    metrics_port = free_port()
    toml = f"""
[filters.clamav]
address = "{scanners.clamd.address}"
on_failure = "tempfail"

[filters.spam]
engine = "rspamd"
address = "{scanners.rspamd.address}"
scan_authenticated = true
on_failure = "tempfail"
"""
    s = Swallow(binary, work, listen={"admin": metrics_port}, extra_toml=toml)
    s.metrics_port = metrics_port
    return s


def postfix_with_milters(work, scanners):
    return Postfix(work, extra_main_cf=f"""
smtpd_milters = inet:{scanners.milter.address}, inet:{scanners.rspamd.milter_address}
milter_default_action = tempfail
milter_protocol = 6
""")


def scanner_verdicts(swallow):
    """Swallow's swallow_scanner_verdicts_total counters: {(scanner, verdict): count}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{swallow.metrics_port}/metrics", timeout=30) as r:
        text = r.read().decode()
    out = {}
    for m in re.finditer(r"^swallow_scanner_verdicts_total\{([^}]*)\}\s+(\S+)", text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m[1]))
        out[(labels.get("scanner"), labels.get("verdict"))] = int(float(m[2]))
    return out


def maildir_files(postfix):
    new = postfix.dir / "mail" / "u" / "new"
    return {p.name for p in new.iterdir()} if new.exists() else set()


def maildir_headers(postfix, names):
    """How many of these Maildir files carry clamav-milter's and rspamd's header fields, and the
    first X-Spamd-Result's verdict ("default: False [2.50 / 15.00]")."""
    virus = spam = 0
    sample = None
    new = postfix.dir / "mail" / "u" / "new"
    for name in names:
        with open(new / name, "rb") as f:
            head = f.read(65536).split(b"\n\n", 1)[0]
        virus += bool(re.search(rb"(?mi)^X-Virus-Scanned: clamav-milter", head)
                      and re.search(rb"(?mi)^X-Virus-Status: Clean", head))
        if m := re.search(rb"(?mi)^X-Spamd-Result: ([^\n;]*)", head):
            spam += 1
            sample = sample or m[1].decode().strip()
    return virus, spam, sample


def test_message(marker, body):
    return (f"From: <sender@bench.test>\r\nTo: <{RECIPIENT}>\r\nSubject: {marker}\r\n"
            f"Message-ID: <{marker}@bench.test>\r\n\r\n{body}\r\n").encode()


def refusal(port, raw):
    """The reply to the end of DATA, as "CODE text"."""
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
        s.ehlo("client.bench.test")
        s.mail("sender@bench.test")
        s.rcpt(RECIPIENT)
        code, text = s.data(raw)
        return f"{code} {text.decode(errors='replace')}"


def check_refusals(servers):
    """EICAR and GTUBE sent to each server once: both must be refused (5xx)."""
    ok = True
    for what, body in (("EICAR", f"look at this:\r\n{EICAR}"), ("GTUBE", GTUBE)):
        for s in servers:
            reply = refusal(s.port, test_message(f"bench-{what.lower()}", body))
            print(f"  {what} to {s.name}: {reply}")
            if not reply.startswith("5"):
                print(f"WARNING: {s.name} did not refuse {what}: the scanner is not in its path")
                ok = False
    return ok


def swallow_stored_spam_fields(swallow, work):
    """(messages in Swallow's INBOX, how many carry X-Spam-Status, {X-Spam-Action: count}, a sample X-Spam-Status)."""
    path = work / "swallow-inbox.mbox"
    swallow.cli("export", "--format", "mbox", "--user", RECIPIENT, "--mailbox", "INBOX", str(path))
    box = mailbox.mbox(str(path), create=False)
    total = with_status = 0
    actions, sample = {}, None
    try:
        for key in box.iterkeys():
            head = box.get_bytes(key).split(b"\n\n", 1)[0]
            total += 1
            if m := re.search(rb"(?mi)^X-Spam-Status: (.*)$", head):
                with_status += 1
                sample = sample or m[1].decode().strip()
            if m := re.search(rb"(?mi)^X-Spam-Action: (.*)$", head):
                action = m[1].decode().strip()
                actions[action] = actions.get(action, 0) + 1
    finally:
        box.close()
        path.unlink(missing_ok=True)
    return total, with_status, actions, sample


def filters_run(args, work):
    scanners = Scanners()
    servers = []
    try:
        print("starting clamd, rspamd and clamav-milter ...", flush=True)
        scanners.start()
        swallow, postfix = swallow_with_filters(args.swallow, work, scanners), postfix_with_milters(work, scanners)
        servers = [swallow, postfix]
        for s in servers:
            s.start()
        print(f"clamd {scanners.clamd.address}, rspamd {scanners.rspamd.address} (milter proxy "
              f"{scanners.rspamd.milter_address}), clamav-milter {scanners.milter.address}")
        print("Swallow: [filters.clamav] -> clamd, [filters.spam] rspamd -> rspamd's normal worker, scan_authenticated")
        print("Postfix: smtpd_milters = clamav-milter (-> clamd), rspamd's milter proxy (-> its normal worker)")
        scanned = check_refusals(servers)
        print(f"\nsmtp-source -s {args.sessions} -m {args.messages}, one local recipient, durable delivery, scanned by both\n")
        head = (f"{'size':>8} {'server':8} {'accepted/s':>11} {'delivered/s':>12} {'CPU ms/msg':>11} {'own ms/msg':>11}"
                f" {'scan ms/msg':>12} {'scan share':>11}   scanner CPU s: clamd / rspamd / clamav-milter")
        print(head, flush=True)
        warnings = []
        for size in map(int, args.sizes.split(",")):
            results = {}
            for s in servers:
                before = scanner_verdicts(s) if s is swallow else maildir_files(s)
                r = measure(s, args.messages, args.sessions, size,
                            probe=lambda: {**scanners.cpu_seconds(), "server": s.cpu_seconds()})
                results[s.name] = r
                count = r["delivered"]
                r["own_ms_per_msg"] = 1000 * r["probe"].pop("server") / max(count, 1)
                scan_s = sum(r["probe"].values())
                r["scan_ms_per_msg"] = 1000 * scan_s / max(count, 1)
                r["scan_share"] = scan_s / r["busy_s"] if r["busy_s"] > 0 else 0.0
                parts = " / ".join(f"{r['probe'][k]:.2f}" for k in ("clamd", "rspamd", "clamav-milter"))
                print(f"{size:>8} {s.name:8} {r['accepted_per_s']:>11.0f} {r['delivered_per_s']:>12.0f}"
                      f" {r['cpu_ms_per_msg']:>11.2f} {r['own_ms_per_msg']:>11.2f} {r['scan_ms_per_msg']:>12.2f} {100 * r['scan_share']:>10.0f}%"
                      f"   {parts}" + ("" if count == r["expected"] else f"  (only {count} delivered)"), flush=True)
                if s is swallow:
                    after = scanner_verdicts(s)
                    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
                    clean = delta.get(("clamav", "clean"), 0)
                    spam = sum(v for (scanner, _), v in delta.items() if scanner == "rspamd")
                    ham = delta.get(("rspamd", "ham"), 0)
                    if clean < count or ham < count:
                        warnings.append(f"{size} Swallow: of {count} delivered, {clean} clean clamd verdicts and {ham} "
                                        f"rspamd 'ham' ({spam} rspamd verdicts); counters: {delta}")
                else:
                    new = maildir_files(s) - before
                    virus, spam, _ = maildir_headers(s, new)
                    if virus < count or spam < count:
                        warnings.append(f"{size} Postfix: of {count} delivered ({len(new)} new files), {virus} with "
                                        f"clamav-milter's X-Virus-Status: Clean, {spam} with rspamd's X-Spamd-Result")
            a, b = results["Swallow"], results["Postfix"]
            if min(b["accepted_per_s"], b["delivered_per_s"], a["delivered_per_s"]) == 0:
                print("no ratio: a server delivered nothing (see its log)")
                continue
            print(f"{size:>8} {'ratio':8} {ratio(a['accepted_per_s'], b['accepted_per_s']):>11}"
                  f" {ratio(a['delivered_per_s'], b['delivered_per_s']):>12} {ratio(a['cpu_ms_per_msg'], b['cpu_ms_per_msg']):>11}"
                  f" {ratio(a['own_ms_per_msg'], b['own_ms_per_msg']):>11} {ratio(a['scan_ms_per_msg'], b['scan_ms_per_msg']):>12}"
                  f" {'':>11}   (Swallow / Postfix; CPU lower is better)",
                  flush=True)
        print("\nCPU ms/msg: all busy CPU of the machine during the run, less smtp-source's, scanners included;")
        print("own ms/msg: the server's own (Swallow's process; Postfix's master process tree);")
        print("scan ms/msg and scan share: the clamd, rspamd (all processes) and clamav-milter trees' CPU, per message")
        print("and as a share of that busy CPU.")
        total, with_status, actions, sample = swallow_stored_spam_fields(swallow, work)
        print(f"\nSwallow's store: {with_status} of {total} messages carry X-Spam-Status (e.g. {sample}); "
              f"X-Spam-Action: {actions or 'none'}")
        if with_status < total:
            warnings.append(f"Swallow: only {with_status} of {total} stored messages carry X-Spam-Status")
        virus, spam, sample = maildir_headers(postfix, maildir_files(postfix))
        print(f"Postfix's Maildir: {postfix.delivered()} messages, {virus} with clamav-milter's X-Virus-Status: Clean,"
              f" {spam} with rspamd's X-Spamd-Result (e.g. {sample})")
        if not scanned:
            warnings.append("a server did not refuse EICAR or GTUBE (above)")
        for w in warnings:
            print(f"WARNING: {w}")
        if not warnings:
            print("Both servers scanned every message with both scanners.")
    finally:
        for s in servers:
            try:
                s.stop()
            except Exception as e:  # keep stopping the others
                print(f"stopping {s.name}: {e}", file=sys.stderr)
        scanners.stop()
