# SPDX-License-Identifier: GPL-3.0-or-later
"""PostgreSQL restarted under load, nothing acknowledged lost: four writers
(ringbridgectl test-call, each its own process and connection) queue jobs
flat out on a private cluster (rbpostgres.py) while the cluster is
restarted twice (pg_ctl restart -m fast). A call that reported a job id
must find its job in the database afterwards; a call that failed must have
said so (non-zero exit), and calls after the restart succeed again. Then a
long-lived handle: a bridge started before the restart claims the jobs
queued after it (its connections reopened with back-off). About 30 s; in
both builds (the reconnect path is the engine's C code)."""

import pathlib
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import rbbridge
import rbpostgres
import rbtest

CTL_BIN = rbtest.BUILD_DIR / "ringbridgectl"


class PgRestartTest(unittest.TestCase):

    def setUp(self):
        rbtest._require_binary(CTL_BIN)
        self.pg = rbpostgres.PgCluster().start()
        self.addCleanup(self.pg.stop)
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="rb-pg-restart-"))
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.url = self.pg.create_db("rb_restart")
        pw = self.dir / "queue.password"
        pw.write_text(self.pg.password + "\n")
        pw.chmod(0o600)
        self.config = self.dir / "ringbridge.conf"
        self.config.write_text(
            "[queue]\nurl = %s?connect_timeout=2\npassword_file = %s\n\n"
            "[policy]\nallowed_sip_domains = pbx.example.org, 127.0.0.1\n"
            % (self.url, pw))

    def queue_call(self, n):
        r = subprocess.run(
            [str(CTL_BIN), "-c", str(self.config), "test-call",
             "sip:u%d@pbx.example.org" % n, "Message %d." % n],
            capture_output=True, text=True, timeout=60)
        if r.returncode == 0:
            return int(r.stdout.split()[1])
        return None

    def test_nothing_acknowledged_is_lost(self):
        acked, failed = {}, []
        stop = threading.Event()
        lock = threading.Lock()
        counter = iter(range(1000000))

        def writer():
            while not stop.is_set():
                with lock:
                    n = next(counter)
                job = self.queue_call(n)
                with lock:
                    if job is None:
                        failed.append(n)
                    else:
                        acked[n] = job

        threads = [threading.Thread(target=writer) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for _ in range(2):
                time.sleep(2)
                self.pg.restart()
            time.sleep(3)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assertGreater(len(acked), 20, (len(acked), len(failed)))
        # Every job id reported is there, for the callee it was queued to.
        rows = self.pg.query(self.url, "SELECT id, callee_jid FROM jobs")
        have = {r["id"]: r["callee_jid"] for r in rows}
        for n, job in acked.items():
            self.assertEqual(have.get(job), "sip:u%d@pbx.example.org" % n,
                             (n, job))
        # After the restarts, writing works again.
        self.assertIsNotNone(self.queue_call(999999))

    def test_bridge_survives_restart(self):
        conf = self.dir / "bridge.conf"
        sip_port, phone_port = rbtest.free_ports(2)
        base = rbtest.free_range(20)
        conf.write_text(self.config.read_text() + (
            "\n[sip]\nlisten = sip:127.0.0.1:%d\nring_timeout = 5\n"
            "attempts = 1\nmax_calls = 5\nrtp_port_min = %d\nrtp_port_max = %d\n"
            % (sip_port, base, base + 19)))
        log = self.dir / "bridge.log"
        bridge = rbtest.rb_spawn([rbbridge.SIP_BIN, "-c", conf], log)
        self.addCleanup(rbtest._terminate, bridge, 40)
        def listening():
            self.assertIsNone(bridge.poll(), rbtest.tail(log))
            return "listening on" in log.read_text()
        rbtest.wait_until(listening, timeout=30, what="the bridge to listen")
        self.pg.restart()
        # Queued after the restart, to a phone nobody answers: the bridge
        # must claim it (a CALLING event) with its reopened connections.
        r = subprocess.run(
            [str(CTL_BIN), "-c", str(conf), "test-call",
             "sip:nobody@127.0.0.1:%d" % phone_port, "Hello."],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        job = int(r.stdout.split()[1])

        def called():
            self.assertIsNone(bridge.poll(), rbtest.tail(log))
            return self.pg.query(self.url, "SELECT 1 FROM events WHERE "
                                 "job_id = %s AND type = 1", (job,))
        rbtest.wait_until(called, timeout=30,
                          what="the bridge to call after the restart")
        self.assertIn("reconnected", log.read_text())


if __name__ == "__main__":
    unittest.main()
