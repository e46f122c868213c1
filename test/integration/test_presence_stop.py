# SPDX-License-Identifier: GPL-3.0-or-later
"""A bridge stopping (SIGTERM) while its presence requests are unanswered
(docs/presence.md, "Stopping"): the presence server has stopped answering
(a UDP socket that reads and never replies: a hung or overloaded server, or
one behind a cut link). The bridge ends its usages (unPUBLISH,
unSUBSCRIBE), gives up what is still unanswered after 3 s with one warning
naming the presence server, and exits 0 within a few seconds, where it used
to wait for nua's own 30 s limit and then leave sofia handles it could no
longer destroy (nua drops nua_handle_destroy() once nua_shutdown() has
been called), which the sanitizer build reported as leaks.

Cost: about 5 s, no server to start. It runs in both builds: the leak was
only visible to LeakSanitizer (rbpresence.Run fails a test whose bridge log
holds a sanitizer report), and the plain build holds the timing."""

import socket
import time
import unittest

import rbpresence
import rbtest
from rbtest import wait_until

ALICE = "alice@localhost"


class PresenceStopTest(unittest.TestCase):
    def test_stop_with_a_silent_presence_server_is_prompt(self):
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        silent.settimeout(0.05)
        run = rbpresence.Run(self, mode="publish", server="sip:127.0.0.1:%d"
                             % silent.getsockname()[1])
        run.register(ALICE, "alice")
        run.set_xmpp(ALICE, "available", None)
        bridge = run.bridge()
        methods = set()

        def both_sent():
            try:
                methods.add(silent.recv(65535).split(b" ", 1)[0])
            except socket.timeout:
                pass
            return {b"PUBLISH", b"SUBSCRIBE"} <= methods
        wait_until(both_sent, timeout=20,
                   what="the bridge's PUBLISH and SUBSCRIBE")
        t0 = time.monotonic()
        rc = bridge.stop()
        took = time.monotonic() - t0
        log = bridge.log.read_text(errors="replace")
        self.assertEqual(rc, 0, rbtest.tail(bridge.log))
        self.assertLess(took, rbtest.scaled(10), rbtest.tail(bridge.log))
        given_up = [line for line in log.splitlines()
                    if "given up" in line]
        self.assertEqual(len(given_up), 1, log[-3000:])
        self.assertIn("presence server does not answer", given_up[0])
        self.assertIn("still unanswered 3 s after the stop", given_up[0])
        # The stop waited for presence before nua's shutdown: nothing
        # was left for sofia to tear down by force.
        self.assertNotIn("nta_agent_destroy", log)
        self.assertIsNone(run.lease_owner())


if __name__ == "__main__":
    unittest.main()
