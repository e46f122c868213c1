# SPDX-License-Identifier: GPL-3.0-or-later
"""One bridge at a time does the SIP presence work, holding the queue
lease "presence" (15 s, renewed every 5 s): a second bridge on the same
queue answers SUBSCRIBE with 503 while the first holds it, and takes over
within the lease time after the first is SIGKILLed, after which a SIP
watcher subscribed at the second sees the user's PIDF.

Plain build only: it waits out lease lapses (about 15 s each); the lease
code runs under the sanitizers in unit/test_queue and the other presence
tests."""

import time
import unittest

import rbpresence
import sipwatch
from rbtest import wait_until
from test_kamailio_fixture import sip_request

ALICE = "alice@localhost"
LEASE_S = 15
TICK_S = 5


class PresenceLeaseTest(unittest.TestCase):
    def owner_pid(self):
        owner = self.run.lease_owner()
        return int(owner.split(":")[-2]) if owner else None

    def test_second_bridge_takes_over_after_kill(self):
        self.run = rbpresence.Run(self, mode="agent")
        self.run.register(ALICE, "alice")
        self.run.set_xmpp(ALICE, "away", "Walking the dog")
        first = self.run.bridge()
        wait_until(lambda: self.owner_pid() == first.proc.pid, timeout=30,
                   what="the first bridge to hold the lease")
        second = self.run.bridge()
        # Both renew every 5 s; the second must stay out.
        time.sleep(TICK_S + 1)
        self.assertEqual(self.owner_pid(), first.proc.pid)
        r = sip_request(second.sip_port, "SUBSCRIBE",
                        rbpresence.sip_addr("alice"),
                        "Event: presence\r\nExpires: 60\r\n"
                        "Contact: <sip:w@127.0.0.1:9>\r\n")
        self.assertTrue(r.startswith("SIP/2.0 503"), r)

        first.kill()
        killed = time.monotonic()
        wait_until(lambda: self.owner_pid() == second.proc.pid,
                   timeout=LEASE_S + TICK_S + 10,
                   what="the second bridge to take the lease")
        took = time.monotonic() - killed
        self.assertLessEqual(took, LEASE_S + TICK_S + 2)
        print("\ntakeover after SIGKILL: %.1f s" % took)

        sc = sipwatch.watcher(rbpresence.sip_addr("alice"), [
            [r"<basic>open</basic>", r"away/>",
             r"<note>Walking the dog</note>"]])
        proc, _ = self.run.sipp(sc, second.addr)
        self.run.wait_sipp(proc)


if __name__ == "__main__":
    unittest.main()
