# SPDX-License-Identifier: GPL-3.0-or-later
"""Catching through every fault of the component and the server, counted
(faultrun.py): with deploy/prosody/mod_ringbridge.lua enabled, no message
the server accepted for offline bob is lost and none is caught twice across
a component SIGKILL, a SIGTERM restart, a Prosody restart and a 10 s
outage. Without the module the same run prints what is lost and asserts
only that counting worked.

PendingTest checks the module's parts one at a time: a short outage is
caught once under the stable item id, a push the component took but
never answered is sent again and caught once, and pushes pending for a user whose
client collects the messages in chat are dropped, not phoned later;
PendingBoundTest, that beyond ringbridge_pending_per_user the oldest goes.

Cost: about 40 s per fault run, two runs, plus 40 s for the others
(COST 200). It runs in both builds on 0.12 (the component's dedup key is C
code the sanitizers should see) and,
in the plain build, on Prosody 13 too (integration/prosody13/): the module
hooks cloud_notify, which is a different file on 13. "Caught" means
committed to the queue; that those jobs ring exactly once is the bridge's
part (test_bridge_resilience)."""

import re
import signal
import sys
import time
import unittest

import faultrun
import rbtest
from rbtest import jid


class FaultRunTest(rbtest.IntegrationTest):

    def report(self, title, table):
        sys.stderr.write("\n%s\n" % faultrun.format_table(
            "%s (Prosody %s)" % (title, rbtest.PROSODY_VERSION), table))

    def test_with_module_nothing_lost_nothing_doubled(self):
        table = faultrun.run(self, module=True,
                             log=lambda s: sys.stderr.write(s + "\n"))
        self.report("with mod_ringbridge", table)
        total = table["total"]
        # Every fault had messages in it, so the zeros below mean something.
        for ph in faultrun.FAULTS:
            self.assertGreater(table[ph]["accepted"], 5, ph)
        self.assertEqual(total["lost"], 0, "messages lost")
        self.assertEqual(total["duplicated"], 0, "messages caught twice")
        self.assertEqual(total["not_accepted"], 0,
                         "caught bodies the server never stored")

    def test_without_module_loss_is_reported(self):
        table = faultrun.run(self, module=False,
                             log=lambda s: sys.stderr.write(s + "\n"))
        self.report("without mod_ringbridge", table)
        total = table["total"]
        self.assertGreater(total["accepted"], 100)
        # Whatever was caught was accepted, once: the dedup never needed.
        self.assertEqual(total["duplicated"], 0)
        self.assertEqual(total["not_accepted"], 0)


class _Pending(rbtest.IntegrationTest):
    """Prosody with mod_ringbridge, the component, alice online and bob
    registered offline (no tests of its own)."""

    extra_host = ""

    def setUp(self):
        self.prosody = self.start_prosody(ringbridge_module=True,
                                          extra_host=self.extra_host)
        for u in ("alice", "bob"):
            self.prosody.register(u)
        self.comp = self.start_component(self.prosody, start=False)
        self.comp.register_user(jid("bob"), faultrun.BOB_PHONE)
        self.comp.start()
        self.alice = self.client(self.prosody, "alice")
        self.comp.wait_ready(self.alice)
        self.prosody.wait_push_enabled("bob")
        self.pending = faultrun.pending_file(self.prosody)

    def bodies(self):
        return sorted(m["body"] for m in self.comp.db.job_messages())


class PendingTest(_Pending):
    """mod_ringbridge's pending pushes, one at a time."""

    def test_outage_is_caught_once_under_the_stable_id(self):
        self.comp.stop()
        sent = ["while away %d" % i for i in range(3)]
        for b in sent:
            self.alice.send_message(jid("bob"), b)
        self.alice.sync()
        self.assertTrue(self.pending.exists(), "nothing kept while away")
        self.comp.start()
        rbtest.wait_until(lambda: self.bodies() == sent, 30,
                          what="the 3 messages caught after the outage")
        rbtest.wait_until(lambda: not self.pending.exists(), 30,
                          what="the pending pushes answered")
        time.sleep(2.0)  # a second re-send, were there one, lands by now
        self.assertEqual(self.bodies(), sent)
        keys = [m["idem_key"] for m in self.comp.db.job_messages()]
        self.assertTrue(all(re.fullmatch(
            r"push:localhost:item:[0-9a-f-]{36}", k) for k in keys), keys)

    def test_unanswered_push_sent_again_is_caught_once(self):
        # A frozen component takes the push into its socket and answers
        # nothing, as one that dies holding it would; after the module's
        # answer timeout (20 s) the same push goes again. Thawed, the
        # component reads both: the second is a duplicate of the first.
        self.comp.proc.send_signal(signal.SIGSTOP)
        try:
            self.alice.send_message(jid("bob"), "held")
            self.alice.sync()
            rbtest.wait_until(lambda: "Sending pending push" in
                              self.prosody.log_text(), 40,
                              what="the unanswered push sent again")
        finally:
            self.comp.proc.send_signal(signal.SIGCONT)
        rbtest.wait_until(lambda: not self.pending.exists(), 30,
                          what="the pending push answered")
        rbtest.wait_until(lambda: "to bob@localhost: duplicate" in
                          self.comp.log.read_text(errors="replace"), 10,
                          what="the component recognising the re-send")
        self.assertEqual(self.bodies(), ["held"])

    def test_messages_collected_in_chat_are_not_phoned(self):
        self.comp.stop()
        for i in range(2):
            self.alice.send_message(jid("bob"), "read in chat %d" % i)
        self.alice.sync()
        self.assertTrue(self.pending.exists())
        bob = self.client(self.prosody, "bob")
        bob.wait_message(from_=jid("alice"), body="read in chat 1")
        rbtest.wait_until(lambda: not self.pending.exists(), 10,
                          what="bob's pending pushes dropped")
        bob.disconnect()
        self.comp.start()
        self.comp.wait_ready(self.alice)
        # A barrier through the same path: once it is caught, anything
        # re-sent on reconnect would have been too.
        time.sleep(2.0)
        self.alice.send_message(jid("bob"), "after")
        rbtest.wait_until(lambda: self.bodies() == ["after"], 30,
                          what="only the barrier caught (got %s)"
                          % self.bodies())


class PendingBoundTest(_Pending):
    """The per-user bound: beyond it the oldest pending push goes."""

    extra_host = "  ringbridge_pending_per_user = 2"

    def test_oldest_pending_push_dropped_beyond_the_bound(self):
        self.comp.stop()
        for i in range(4):
            self.alice.send_message(jid("bob"), "away %d" % i)
        self.alice.sync()
        self.comp.start()
        rbtest.wait_until(lambda: not self.pending.exists(), 30,
                          what="the pending pushes answered")
        time.sleep(1.0)
        self.assertEqual(self.bodies(), ["away 2", "away 3"])
        self.assertIn("ringbridge_pending_per_user", self.prosody.log_text())


if __name__ == "__main__":
    unittest.main()
