# SPDX-License-Identifier: GPL-3.0-or-later
"""ringbridgectl check against a real Prosody and sipp as the SIP next hop:
a good set-up passes and reports push granted; a wrong secret, an
unreachable next hop and a bad file each fail with a reason; without a
running ringbridge-sip on the queue (none started, one stopped, one killed
and silent for three heartbeats) check fails and says caught messages will
wait, and with one it names it; and a connected component is not
disturbed: check does not authenticate while it
runs (Prosody logs no second component), the component stays connected,
and a message to an offline user is still caught afterwards."""

import pathlib
import shutil
import signal
import sqlite3
import time
import unittest

import rbbridge
import rbtest
from rbtest import jid

BOB_PHONE = "sip:bob@sip.localhost"
NO_BRIDGE = ("bridge: none running \u2014 caught messages will wait in the "
             "queue")
PUSH_OK = "push: granted on localhost, offline messages will be caught"


class CheckTest(rbtest.IntegrationTest):

    def setUp(self):
        rbtest._require_binary(rbtest.CTL_BIN)
        if not shutil.which("sipp"):
            raise AssertionError("sipp (sip-tester) is not installed")
        self.prosody = self.start_prosody()
        self.prosody.register("alice")
        self.prosody.register("bob")

    def next_hop(self, calls=1):
        """sipp answering CALLS OPTIONS; returns its port."""
        port, media = rbtest.free_ports(2)
        proc, _ = rbbridge.start_sipp(self.prosody.dir, port,
                                      "uas_options.xml", port, media, calls)
        self.addCleanup(rbtest._terminate, proc, 5)
        return port

    def component(self, trunk_port, **kw):
        return self.start_component(self.prosody, start=False, sections={
            "sip": {"trunk": "127.0.0.1:%d" % trunk_port}}, **kw)

    def bridge(self, comp):
        """A ringbridge-sip on COMP's configuration and queue, on its own
        SIP port; stopped (SIGTERM) in the cleanup. Returns the process."""
        port, = rbtest.free_ports(1)
        base = rbtest.free_range(20)
        config = comp.dir / "bridge.ini"
        config.write_text(comp.config.read_text().replace(
            "[sip]\n", "[sip]\nlisten = sip:127.0.0.1:%d\nrtp_port_min = %d"
            "\nrtp_port_max = %d\nmax_calls = 4\n" % (port, base, base + 19),
            1))
        log = comp.dir / ("bridge-%d.log" % port)
        proc = rbtest.rb_spawn([rbbridge.SIP_BIN, "-c", config], log)
        self.addCleanup(rbtest._terminate, proc, 20)

        def listening():
            if proc.poll() is not None:
                raise AssertionError("ringbridge-sip exited %s:\n%s" % (
                    proc.returncode, rbtest.tail(log)))
            return "listening on" in log.read_text()
        rbtest.wait_until(listening, timeout=30, what="the bridge")
        rbtest.wait_until(lambda: comp.db.query(
            "SELECT 1 FROM bridge_status WHERE pid = ?", (proc.pid,)),
            what="the bridge's heartbeat row")
        return proc

    def check(self, config, *extra):
        r = rbtest.rb_run([rbtest.CTL_BIN, "-c", config, "check", *extra],
                          timeout=60, capture_output=True, text=True)
        for marker in rbtest.SANITIZER_MARKERS:
            self.assertNotIn(marker, r.stderr)
        return r

    def test_good_setup_passes_and_reports_push(self):
        comp = self.component(self.next_hop())
        bridge = self.bridge(comp)
        r = self.check(comp.config)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"bridge: 1 running \(\S+ pid %d since "
                         r"[-0-9 :]+, 0 calls\)" % bridge.pid)
        self.assertIn("accepted the component secret for %s"
                      % rbtest.GATEWAY, r.stdout)
        self.assertIn(PUSH_OK, r.stdout)
        self.assertRegex(r.stdout, r"queue: all \d+ statements of the "
                         r"services prepare")
        self.assertIn("localhost grants urn:xmpp:privilege:2: presence yes, "
                      "message yes", r.stdout)
        self.assertRegex(r.stdout, r"sip: sip:127\.0\.0\.1:\d+ answered "
                         r"OPTIONS with 200 OK")
        # It left: the component can connect now.
        comp.start()
        alice = self.client(self.prosody, "alice")
        comp.wait_ready(alice)

    def test_no_bridge_running_fails(self):
        comp = self.component(self.next_hop(calls=5))
        # No bridge (no queue yet either): a failure, with the XMPP and
        # SIP halves still checked and passing.
        r = self.check(comp.config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(NO_BRIDGE, r.stderr)
        self.assertIn(PUSH_OK, r.stdout)
        self.assertRegex(r.stdout, r"sip: sip:127\.0\.0\.1:\d+ "
                         r"answered OPTIONS with 200 OK")

        # Two bridges: both named; one stopped cleanly: one left.
        first, second = self.bridge(comp), self.bridge(comp)
        r = self.check(comp.config)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"bridge: 2 running \(\S+ pid %d since "
                         r".*; \S+ pid %d since " % (first.pid, second.pid))
        self.assertEqual(rbtest._terminate(first, 20), 0)
        r = self.check(comp.config)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("bridge: 1 running (", r.stdout)
        self.assertIn("pid %d since" % second.pid, r.stdout)
        self.assertNotIn("pid %d since" % first.pid, r.stdout)

        # Killed, a bridge leaves its row: counted until it is three
        # heartbeats (90 s) old, then ignored.
        second.send_signal(signal.SIGKILL)
        second.wait(10)
        r = self.check(comp.config)
        self.assertIn("pid %d since" % second.pid, r.stdout)
        con = sqlite3.connect(comp.db_path)
        with con:
            con.execute("UPDATE bridge_status SET heartbeat_ms = "
                        "heartbeat_ms - 91000")
        con.close()
        r = self.check(comp.config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(NO_BRIDGE, r.stdout)
        self.assertIn(NO_BRIDGE, r.stderr)

        # A table dropped by hand (a schema changed, an old dump
        # restored): every statement the services run is prepared, so
        # check fails and names the SQLite error, before a call would.
        con = sqlite3.connect(comp.db_path)
        with con:
            con.execute("DROP TABLE gateway_subscriptions")
        con.close()
        r = self.check(comp.config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"queue: statement \d+ of the services "
                         r"does not fit the database's schema")
        self.assertIn("no such table: gateway_subscriptions", r.stderr)

    def test_wrong_secret_fails(self):
        comp = self.component(self.next_hop())
        text = comp.config.read_text().replace(self.prosody.secret,
                                               "not-the-secret")
        comp.config.write_text(text)
        r = self.check(comp.config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("refused the component secret for %s" %
                      rbtest.GATEWAY, r.stderr)
        self.assertNotIn(PUSH_OK, r.stdout)

    def test_unreachable_sip_next_hop_fails(self):
        closed, = rbtest.free_ports(1)
        comp = self.component(closed)
        r = self.check(comp.config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("sip: no answer from sip:127.0.0.1:%d to OPTIONS"
                      % closed, r.stderr)
        # The XMPP half still passed and says so.
        self.assertIn(PUSH_OK, r.stdout)

    def test_unknown_component_and_bad_file_fail(self):
        comp = self.component(self.next_hop())
        good = comp.config.read_text()
        comp.config.write_text(good.replace(
            "domain = %s" % rbtest.GATEWAY, "domain = nosuch.localhost"))
        r = self.check(comp.config)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("does not know the component nosuch.localhost",
                      r.stderr)

        comp.config.write_text(good + "\n[sip]\nmax_calls = lots\n")
        r = self.check(comp.config)
        self.assertEqual(r.returncode, 78)
        self.assertIn("%s:" % comp.config, r.stderr)
        self.assertIn("[sip] max_calls", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_connected_component_is_not_disturbed(self):
        comp = self.component(self.next_hop())
        comp.register_user(jid("bob"), BOB_PHONE)
        comp.start()
        self.bridge(comp)
        alice = self.client(self.prosody, "alice")
        comp.wait_ready(alice)
        self.prosody.wait_push_enabled("bob")
        # The component's status row says what Prosody granted.
        rbtest.wait_until(lambda: comp.db.query(
            "SELECT privileges FROM component_status WHERE "
            "connected_ms > 0 AND privileges LIKE '%push=yes%'"),
            what="the component's status row")

        r = self.check(comp.config)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"component: running \([^)]*:%d\), "
                         r"connected since" % comp.proc.pid)
        self.assertIn("answers for %s (not authenticating" % rbtest.GATEWAY,
                      r.stdout)
        self.assertIn(PUSH_OK, r.stdout)
        # check never authenticated: Prosody saw no second component...
        self.assertNotIn("Second component attempted",
                         self.prosody.log_text())
        # ...and the component is still connected and catching.
        self.assertTrue(comp.running())
        body = "after check %s" % time.time()
        alice.send_message(jid("bob"), body)
        rbtest.wait_until(lambda: comp.db.query(
            "SELECT 1 FROM job_messages WHERE body = ?", (body,)),
            timeout=20, what="the message caught after check")
        self.assertNotIn("connection to", pathlib.Path(
            comp.log).read_text().split("connected to")[-1])

        # Stopped cleanly, the component no longer counts as running:
        # check authenticates itself again.
        comp.stop()
        r = self.check(comp.config)
        self.assertIn("component: not running (stopped cleanly)", r.stdout)
        self.assertIn("accepted the component secret", r.stdout)

    def test_component_on_another_queue_is_reported(self):
        """A component connected with another queue leaves no status row
        here, so check authenticates; Prosody (kick_new, its default)
        refuses it with conflict, which check reports, and the connected
        component is untouched."""
        comp = self.component(self.next_hop())
        comp.start()
        alice = self.client(self.prosody, "alice")
        comp.wait_ready(alice)
        other = comp.dir / "other.ini"
        other.write_text(comp.config.read_text().replace(
            str(comp.db_path), str(comp.dir / "other.db")))
        r = self.check(other)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("another component is already connected as %s"
                      % rbtest.GATEWAY, r.stderr)
        self.assertIn("does not write to this configuration's queue",
                      r.stderr)
        self.assertIn("Second component attempted", self.prosody.log_text())
        self.assertTrue(comp.running())
        self.assertTrue(comp.db.query(
            "SELECT 1 FROM component_status WHERE connected_ms > 0"))


if __name__ == "__main__":
    unittest.main()
