# SPDX-License-Identifier: GPL-3.0-or-later
"""What an operator's tools see, end to end with every real peer (Prosody,
the component, the SIP bridge, sipp as Bob's phone, slixmpp as Alice):
both /metrics after one call, checked by promtool (Debian's prometheus)
and for the counters the call moved and for the absence of anyone's JID,
number or words; and the sd_notify protocol as systemd speaks it (a unix
datagram socket of the test's own in NOTIFY_SOCKET, WATCHDOG_USEC set):
READY=1 once the component has connected and done its start-up work (the
start timeout extended from its loop until then) and once the bridge
listens, WATCHDOG=1 from each loop, and no more pings
while the process is stopped (SIGSTOP), which is what makes systemd
restart a wedged daemon. systemd is not PID 1 here, so no systemd-run
variant.

Cost: two runs of the story fixtures (Prosody, component, bridge), one
call of about 15 s; COST 100 like the other stories. It runs in the ASan
build too: the scrape paths are new code on threads of their own."""

import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import rbtest
import test_e2e_story
from rbbridge import key_pcap, pause, play
from rbtest import jid

WATCHDOG_USEC = 1000000  # pings every 0.5 s
PROMTOOL = shutil.which("promtool")
BODY = "Hi there, the code is 4711."


class NotifySocket:
    """The systemd end of sd_notify(3): a datagram socket collecting every
    message with the time it arrived."""

    def __init__(self, directory, name):
        self.path = str(pathlib.Path(directory) / (name + ".notify"))
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.lock = threading.Lock()
        self.messages = []  # (monotonic time, {key: value})
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.closed:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = dict(l.split("=", 1) for l in
                          data.decode().splitlines() if "=" in l)
            with self.lock:
                self.messages.append((time.monotonic(), fields))

    def close(self):
        self.closed = True
        self.thread.join(2)
        self.sock.close()

    def env(self):
        return dict(os.environ, NOTIFY_SOCKET=self.path,
                    WATCHDOG_USEC=str(WATCHDOG_USEC))

    def times(self, key, value="1"):
        with self.lock:
            return [t for t, f in self.messages if f.get(key) == value]

    def wait(self, key, n=1, timeout=30):
        return rbtest.wait_until(
            lambda: len(self.times(key)) >= n and self.times(key),
            timeout=timeout, what="%d %s=1 on %s" % (n, key, self.path))


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=10) as r:
        return r.headers["Content-Type"], r.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')


def samples(text):
    """{(name, ((label, value), ...)): float} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"',
                                         m.group(3) or "")))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


class MonitoringTest(test_e2e_story.StoryTest):
    """StoryTest's fixtures with [sip] metrics_listen and a notify socket
    for each daemon; only the tests defined here run."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rb-notify-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.comp_notify = NotifySocket(self.tmp, "component")
        self.bridge_notify = NotifySocket(self.tmp, "bridge")
        self.addCleanup(self.comp_notify.close)
        self.addCleanup(self.bridge_notify.close)
        self.component_env = self.comp_notify.env()
        self.bridge_env = self.bridge_notify.env()
        self.metrics_port = rbtest.free_ports(1)[0]
        super().setUp()

    def start_component(self, prosody, start=True, **kw):
        sections = {k: dict(v) for k, v in self.component_sections.items()}
        sections["sip"]["metrics_listen"] = "127.0.0.1:%d" % self.metrics_port
        kw["sections"] = sections
        return super().start_component(prosody, start, **kw)

    def check_promtool(self, text):
        if not PROMTOOL:
            self.fail("promtool is not installed (Debian: prometheus)")
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "")

    def assert_no_personal_data(self, text):
        for secret in ("alice", "bob", "@", "localhost", "127.0.0.1",
                       str(self.phone_port), "sip:", "Hi there", "4711"):
            self.assertNotIn(secret, text)

    def test_one_call_moves_the_counters(self):
        # Bob passes the voicemail gate with 5, then replies with 2.
        self.phone("uas_answer.xml", test_e2e_story.GATE + [
            pause(test_e2e_story.AFTER_MESSAGE_MS), play(key_pcap(2))])
        self.alice.send_message(jid("bob"), BODY)
        self.only_message_from(jid("bob"), body=test_e2e_story.CALL_BACK)
        # Alice has the reply while Bob still hears its confirmation: wait
        # for the call's end (event 7) and every event to be delivered.
        rbtest.wait_until(lambda: self.db.query(
            "SELECT id FROM events WHERE type = 7") and not self.db.query(
            "SELECT id FROM events WHERE delivered_ms IS NULL"),
            timeout=60, what="the call's end, every event delivered")

        ctype, comp_text = scrape(self.http_port)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        ctype, bridge_text = scrape(self.metrics_port)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        for text in (comp_text, bridge_text):
            self.check_promtool(text)
            self.assert_no_personal_data(text)

        c = samples(comp_text)
        self.assertEqual(c[("ringbridge_messages_caught_total", ())], 1)
        self.assertEqual(c[("ringbridge_xmpp_connected", ())], 1)
        # The jobs gauge is cached for 5 s: wait that long for the last
        # state if the first scrape came early.
        if c[("ringbridge_queue_jobs", (("state", "notified"),))] != 1:
            time.sleep(5.5)
            c = samples(scrape(self.http_port)[1])
        self.assertEqual(c[("ringbridge_queue_jobs", (("state", "notified"),))],
                         1)
        for state in ("queued", "active", "failed", "cancelled"):
            self.assertEqual(
                c[("ringbridge_queue_jobs", (("state", state),))], 0, state)
        events = self.db.query("SELECT COUNT(*) AS n FROM events")[0]["n"]
        self.assertEqual(c[("ringbridge_events_delivered_total", ())], events)
        self.assertEqual(c[("ringbridge_push_to_commit_seconds_count", ())], 1)
        self.assertEqual(
            c[("ringbridge_push_to_commit_seconds_bucket", (("le", "+Inf"),))],
            1)

        b = samples(bridge_text)
        self.assertEqual(b[("ringbridge_calls_active", ())], 0)
        self.assertEqual(
            b[("ringbridge_calls_total", (("outcome", "answered"),))], 1)
        for o in ("busy", "no_answer", "rejected", "unreachable", "failed"):
            self.assertEqual(
                b[("ringbridge_calls_total", (("outcome", o),))], 0, o)
        self.assertEqual(
            b[("ringbridge_jobs_finished_total", (("state", "notified"),))], 1)
        self.assertEqual(
            b[("ringbridge_jobs_finished_total", (("state", "failed"),))], 0)
        keys = {dict(l)["key"]: v for (n, l), v in b.items()
                if n == "ringbridge_keys_total"}
        # Every key pressed counts, the gate's digit too.
        self.assertEqual(keys["2"], 1)
        self.assertEqual(keys["5"], 1)
        self.assertEqual(sum(keys.values()), 2, keys)
        self.assertEqual(b[("ringbridge_voice_replies_total", ())], 0)
        self.assertEqual(b[("ringbridge_claims_held_total", ())], 0)
        self.assertEqual(b[("ringbridge_enqueue_to_invite_seconds_count", ())],
                         1)
        self.assertGreaterEqual(b[("ringbridge_tts_render_seconds_count", ())],
                                1)
        # The call lasted seconds: hundreds of 20 ms packets, each timed.
        self.assertGreater(
            b[("ringbridge_rtp_send_lateness_seconds_count", ())], 200)

    def test_ready_then_watchdog_until_stopped(self):
        for name, notify, proc, log, after in (
                ("component", self.comp_notify, self.comp.proc,
                 self.comp.log, "connected to"),
                ("bridge", self.bridge_notify, self.bridge,
                 self.comp.dir / "bridge.log", "listening on")):
            with self.subTest(name):
                ready = notify.wait("READY")
                self.assertEqual(len(ready), 1)
                if name == "component":
                    # Starting until connected, extended from the loop
                    # (three half-periods), and no more once ready.
                    ext = notify.times("EXTEND_TIMEOUT_USEC",
                                       str(3 * WATCHDOG_USEC // 2))
                    self.assertTrue(ext)
                    self.assertLess(ext[-1], ready[0])
                # Sent after the log line saying so was written.
                self.assertIn(after, log.read_text(errors="replace"))
                pings = notify.wait("WATCHDOG", n=4, timeout=10)
                self.assertLess(pings[-1] - pings[-4], 3 * WATCHDOG_USEC / 1e6)
                os.kill(proc.pid, signal.SIGSTOP)
                try:
                    time.sleep(0.3)  # a ping already on its way
                    stopped = len(notify.times("WATCHDOG"))
                    time.sleep(3 * WATCHDOG_USEC / 1e6)
                    self.assertEqual(len(notify.times("WATCHDOG")), stopped,
                                     "pings while stopped")
                finally:
                    os.kill(proc.pid, signal.SIGCONT)
                notify.wait("WATCHDOG", n=stopped + 2, timeout=10)


rbtest.only_own_tests(MonitoringTest)


if __name__ == "__main__":
    unittest.main()
