# SPDX-License-Identifier: GPL-3.0-or-later
"""A standby component takes over: two ringbridge-component processes with
one configuration (one queue) for one component JID on a real Prosody;
the second runs under another host name (a UTS namespace, `unshare -u`),
so it cannot tell from the pid that the first died and must wait for the
component lease to lapse, as on a second host. Only the lease holder
connects; /metrics says ringbridge_component_role active and standby. The
active one is SIGKILLed (by pid) while alice keeps writing to offline bob;
the standby must connect and catch within 10 s of the kill, and no message
is caught twice. Prints the failover time. About 20 s; in the plain build
only: the lease is queue code the conformance suite runs under the
sanitizers, and the session code is the same as every reconnect's."""

import re
import time
import unittest
import urllib.request

import rbtest
from rbtest import jid

BOB_PHONE = "+15551234567"
FAILOVER_BOUND_S = 10.0


def role(port):
    """{"active": v, "standby": v} of ringbridge_component_role on PORT."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=10) as r:
        text = r.read().decode()
    return {m.group(1): int(m.group(2)) for m in re.finditer(
        r'^ringbridge_component_role\{role="(\w+)"\} (\d+)$', text, re.M)}


class StandbyTest(rbtest.ComponentTest):
    operator_registrations = {"bob": BOB_PHONE}

    def setUp(self):
        self.http_ports = rbtest.free_ports(2)
        self.component_sections = {
            "http": {"listen": "127.0.0.1:%d" % self.http_ports[0]}}
        super().setUp()

    def start_standby(self):
        text = self.comp.config.read_text().replace(
            "listen = 127.0.0.1:%d" % self.http_ports[0],
            "listen = 127.0.0.1:%d" % self.http_ports[1])
        config = self.comp.dir / "standby.ini"
        config.write_text(text)
        log = self.comp.dir / "standby.log"
        argv = rbtest.rb_argv([rbtest.COMPONENT_BIN, "-c", config])
        # unshare execs sh, which execs the component: the pid is its own.
        proc = rbtest._spawn(
            ["unshare", "-u", "sh", "-c",
             'hostname rb-standby-host && exec "$@"', "sh"] +
            [str(a) for a in argv], log, cwd=str(self.comp.dir))
        self.addCleanup(rbtest._terminate, proc, 20)
        return proc, log

    def test_standby_takes_over_after_sigkill(self):
        proc, log = self.start_standby()
        rbtest.wait_until(lambda: "standby:" in log.read_text(), 20,
                          what="the second component to stand by")
        self.assertEqual(role(self.http_ports[0]),
                         {"active": 1, "standby": 0})
        self.assertEqual(role(self.http_ports[1]),
                         {"active": 0, "standby": 1})
        # The active one catches; the standby has no session.
        self.alice.send_message(jid("bob"), "before the crash")
        self.wait_messages(jid("bob"), 1)

        self.comp.kill()
        killed = time.monotonic()
        sent = []
        caught_at = None
        while time.monotonic() - killed < FAILOVER_BOUND_S + 5:
            body = "probe %d" % len(sent)
            self.alice.send_message(jid("bob"), body)
            sent.append(body)
            bodies = [m["body"] for m in self.db.job_messages()]
            if any(b.startswith("probe") for b in bodies):
                caught_at = time.monotonic()
                break
            self.assertIsNone(proc.poll(), rbtest.tail(log))
            time.sleep(0.25)
        self.assertIsNotNone(caught_at, "the standby caught nothing:\n%s"
                             % rbtest.tail(log, 60))
        failover = caught_at - killed
        self.assertLess(failover, FAILOVER_BOUND_S, rbtest.tail(log, 60))
        self.assertIn("active: holding the session", log.read_text())
        self.assertEqual(role(self.http_ports[1]),
                         {"active": 1, "standby": 0})

        # Later messages are caught once each.
        # (A probe sent just before the first was seen may still come.)
        self.alice.send_message(jid("bob"), "after the take-over")
        bodies = rbtest.wait_until(
            lambda: (lambda b: b if "after the take-over" in b else None)(
                [m["body"] for m in self.db.job_messages()]), 20,
            what="the message after the take-over caught")
        self.assertEqual(len(bodies), len(set(bodies)), bodies)
        print("failover: the standby caught a message %.1f s after the "
              "active component was SIGKILLed (%d probes sent)"
              % (failover, len(sent)))


if __name__ == "__main__":
    unittest.main()
