# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the presence tests: ringbridge-sip with a [presence]
section, users registered with `ringbridgectl register` (SIP addresses
under the made-up domain example.test), "xmpp" presence rows written into
the queue the way the component writes them, "sip" rows and the lease read
back with sqlite3, and sipp as a SIP watcher or phone (scenarios in sipp/,
@KEY@ placeholders). Processes are the test's own, stopped by pid."""

import pathlib
import re
import shutil
import sqlite3
import tempfile
import time

import rbtest
from rbtest import BUILD_DIR, SANITIZER_MARKERS, free_ports, wait_until

SIP_BIN = BUILD_DIR / "ringbridge-sip"
CTL_BIN = BUILD_DIR / "ringbridgectl"
SCENARIOS = pathlib.Path(__file__).resolve().parent / "sipp"
SIP_DOMAIN = "example.test"

CONFIG = """\
[xmpp]
domain = callgw.localhost
user_domains = localhost

[queue]
url = sqlite:{db}

[sip]
listen = sip:127.0.0.1:{sip_port}
rtp_port_min = {rtp_min}
rtp_port_max = {rtp_max}
max_calls = 4
{extra_sip}

[policy]
allowed_sip_domains = {domain}

[presence]
mode = {mode}
server = {server}
debounce_ms = {debounce_ms}
expires = {expires}

[log]
level = debug
"""


def sip_addr(user):
    return "sip:%s@%s" % (user, SIP_DOMAIN)


class Bridge:
    """One ringbridge-sip process on its own SIP port, sharing RUN's
    configuration otherwise (same queue)."""

    def __init__(self, run, n):
        self.run = run
        self.n = n
        self.sip_port = free_ports(1)[0]
        base = rbtest.free_range(20)
        self.config = run.dir / ("bridge%d.conf" % n)
        self.config.write_text(CONFIG.format(
            db=run.db, sip_port=self.sip_port, rtp_min=base,
            rtp_max=base + 19, domain=run.domain, extra_sip=run.extra_sip,
            **run.presence))
        self.log = run.dir / ("bridge%d.log" % n)
        self.proc = None

    def start(self):
        self.proc = rbtest.rb_spawn([SIP_BIN, "-c", self.config], self.log)

        def listening():
            self.assert_running()
            return "listening on" in self.log.read_text()
        wait_until(listening, timeout=30, what="the bridge to listen")
        return self

    def assert_running(self):
        if self.proc.poll() is not None:
            raise AssertionError("ringbridge-sip exited %s:\n%s" % (
                self.proc.returncode, rbtest.tail(self.log)))

    def kill(self):
        import signal
        rbtest._terminate(self.proc, 10, signal.SIGKILL)

    def stop(self):
        return rbtest._terminate(self.proc, 40)

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.sip_port


class Run:
    """A directory, a queue, presence settings and the bridges."""

    def __init__(self, testcase, *, mode="agent", server="", debounce_ms=0,
                 expires=600, db=None, domain=SIP_DOMAIN, extra_sip=""):
        rbtest._require_binary(SIP_BIN)
        rbtest._require_binary(CTL_BIN)
        if not shutil.which("sipp"):
            raise AssertionError("sipp (sip-tester) is not installed")
        self.t = testcase
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="rb-presence-"))
        # DB: another fixture's queue (the component's), shared.
        self.db = pathlib.Path(db) if db else self.dir / "queue.db"
        self.domain = domain
        self.extra_sip = extra_sip
        self.presence = dict(mode=mode, server=server,
                             debounce_ms=debounce_ms, expires=expires)
        self.bridges = []
        self.sipps = []
        self.extra_logs = []
        testcase.addCleanup(self.cleanup)

    def bridge(self):
        b = Bridge(self, len(self.bridges))
        self.bridges.append(b)
        return b.start()

    # ---- the queue ---------------------------------------------------

    def ctl(self, *args):
        cfg = self.bridges[0].config if self.bridges else self._ctl_config()
        r = rbtest.rb_run([CTL_BIN, "-c", cfg, *args], timeout=30,
                          capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError("ringbridgectl %s: %s%s" % (
                " ".join(args), r.stdout, r.stderr))
        return r.stdout

    def _ctl_config(self):
        path = self.dir / "ctl.conf"
        if not path.exists():
            path.write_text(CONFIG.format(
                db=self.db, sip_port=5060, rtp_min=20000, rtp_max=20019,
                domain=self.domain, extra_sip=self.extra_sip,
                **self.presence))
        return path

    def register(self, jid, user):
        self.ctl("register", jid, sip_addr(user))

    def set_xmpp(self, jid, state, status=None):
        """Writes the "xmpp" row as the component does (latest wins)."""
        con = sqlite3.connect(str(self.db), timeout=10)
        try:
            con.execute(
                "INSERT INTO presence (jid, source, state, status, "
                "updated_ms) VALUES (?, 'xmpp', ?, ?, ?) ON CONFLICT "
                "(jid, source) DO UPDATE SET state = excluded.state, "
                "status = excluded.status, updated_ms = excluded.updated_ms",
                (jid, state, status, int(time.time() * 1000)))
            con.commit()
        finally:
            con.close()

    def query(self, sql, args=()):
        return rbtest.query_ro(self.db, sql, args)

    def sip_state(self, jid):
        rows = self.query("SELECT state FROM presence WHERE jid = ? AND "
                          "source = 'sip'", (jid,))
        return rows[0][0] if rows else None

    def lease_owner(self):
        rows = self.query("SELECT owner, deadline_ms FROM leases WHERE "
                          "name = 'presence'")
        if not rows or rows[0][1] < time.time() * 1000:
            return None
        return rows[0][0]

    # ---- sipp --------------------------------------------------------

    def sipp(self, scenario, target, subst=None, port=None, calls=1,
             extra=()):
        """Starts sipp as a UAC with SCENARIO towards TARGET
        ("127.0.0.1:PORT"); returns (process, message log)."""
        text = scenario if scenario.lstrip().startswith("<?xml") else \
            (SCENARIOS / scenario).read_text()
        for k, v in (subst or {}).items():
            text = text.replace("@%s@" % k, str(v))
        n = len(self.sipps)
        sf = self.dir / ("scenario%d.xml" % n)
        sf.write_text(text)
        msg = self.dir / ("sipp%d.msg" % n)
        # Without PORT, sipp binds port 0: the kernel's choice, from the
        # ephemeral range, so it cannot be a port another test holds.
        argv = ["sipp"] + ([target] if target else []) + [
            "-sf", str(sf), "-i", "127.0.0.1", "-m", str(calls), "-nostdin",
            "-trace_msg", "-message_file", str(msg),
            "-timeout", "%ds" % rbtest.scaled(120), "-timeout_error"]
        if port:
            argv += ["-p", str(port)]
        proc = rbtest._spawn(argv + list(extra),
                             self.dir / ("sipp%d.out" % n), cwd=str(self.dir))
        self.sipps.append((proc, msg))
        return proc, msg

    def wait_sipp(self, proc, timeout=120):
        rbtest.wait_exit(proc, timeout, self.logs)

    def received(self, msg, method):
        """The requests METHOD sipp received so far, in order (texts)."""
        try:
            text = msg.read_text(errors="replace")
        except OSError:
            return []
        return re.findall(r"message received \[\d+\] bytes :\s*\n\s*"
                          r"(%s .*?)(?=\n-{5,}|\Z)" % method, text, re.S)

    def logs(self):
        out = []
        for b in self.bridges:
            out += ["--- bridge %d ---" % b.n, rbtest.tail(b.log, 80)]
        for i, (_, msg) in enumerate(self.sipps):
            out += ["--- sipp %d ---" % i,
                    rbtest.tail(self.dir / ("sipp%d.out" % i), 45),
                    rbtest.tail(msg, 80)]
        for f in self.extra_logs:
            out.append(f())
        return "\n".join(out)

    def cleanup(self):
        for proc, _ in self.sipps:
            rbtest._terminate(proc, 5)
        texts = []
        for b in self.bridges:
            if b.proc is not None:
                rbtest._terminate(b.proc, 40)
            if b.log.exists():
                texts.append(b.log.read_text(errors="replace"))
        shutil.rmtree(self.dir, ignore_errors=True)
        for text in texts:
            for marker in SANITIZER_MARKERS:
                if marker in text:
                    raise AssertionError(
                        "sanitizer report in a bridge log:\n" + text[-4000:])
