# SPDX-License-Identifier: GPL-3.0-or-later
"""Quiet hours end to end (issue 12's proof), with every real peer: Bob
sets quiet hours around his present time in his zone and lets Carol ring
through them, in the registration form; Alice writes first, then Carol.
Bob's phone (sipp) rings for Carol, who gets Bob's answer (key 2); Alice's
message waits in the queue for the end of quiet hours, and her job has no
call at all. The fixture is test_e2e_story's (Prosody, the component, the
bridge, sipp).

Cost: about 20 s (one answered call with the gate). Plain build only:
the call is test_e2e_story's, which the sanitizer build runs; what is new
here is the component's catch decision, already run under the sanitizers
by test_component_quiet."""

import time

import rbtest
from rbbridge import key_pcap, pause, play
from rbtest import jid
# Modules, not classes: a test class imported by name would run here too.
import test_component_quiet
import test_e2e_story
from test_e2e_story import AFTER_MESSAGE_MS, CALL_BACK, GATE


@rbtest.only_own_tests
class QuietCallTest(test_e2e_story.StoryTest):
    users = ("alice", "carol")

    settings = test_component_quiet.QuietTest.settings
    quiet_now = test_component_quiet.QuietTest.quiet_now

    def test_vip_rings_through_quiet_hours_another_waits(self):
        end_ms = self.quiet_now(ring_through="carol@localhost")
        carol = self.client(self.prosody, "carol")
        sipp = self.phone("uas_answer.xml", GATE + [
            pause(AFTER_MESSAGE_MS), play(key_pcap(2))])
        self.alice.send_message(jid("bob"), "this can wait")
        alice_job = rbtest.wait_until(
            lambda: self.message_jobs(callee_jid=jid("bob"),
                                      sender_jid=jid("alice")), 20,
            what="alice's job")[0]
        carol.send_message(jid("bob"), "Hi there.")
        carol.wait_message(from_=jid("bob"), body=CALL_BACK, timeout=90)
        rbtest.wait_until(lambda: sipp.poll() is not None, 30,
                          what="sipp to finish its one call")
        self.assertEqual(sipp.returncode, 0)
        time.sleep(2)
        job = self.db.jobs(id=alice_job["id"])[0]
        self.assertEqual(job["state"], 0)
        self.assertAlmostEqual(job["not_before_ms"], end_ms, delta=2000)
        self.assertEqual(self.db.query(
            "SELECT count(*) AS n FROM events WHERE job_id = ?",
            (alice_job["id"],))[0]["n"], 0)
        self.assertEqual([m for m in self.alice.messages.all()
                          if rbtest.bare(m.get("from")) == jid("bob")], [])


if __name__ == "__main__":
    import unittest
    unittest.main()
