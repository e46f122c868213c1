# SPDX-License-Identifier: GPL-3.0-or-later
"""Wait, then call, unless already seen, end to end (issue 12's proof),
with every real peer: Bob sets a 5-minute wait in the registration form
and goes offline; Alice writes; Bob comes online within the wait, so his
job is cancelled and his phone (sipp) is never called. Then he goes
offline again and Alice writes again: that job waits too, and when its
wait ends the phone rings and Alice gets Bob's answer (key 2), so the
bridge was there all along and would have called.

Five minutes are not waited for: the test moves both jobs' due time
(the wait's end) to now in the queue, which is what the
clock would do. The cancelled job is due as well, so a cancellation that
did not hold would ring first; sipp answers one call only and the bridge's
INVITEs are counted in its log. The fixture is test_e2e_story's (Prosody,
the component, the bridge, sipp).

Cost: about 25 s (one answered call with the gate). Plain build only: the
call is test_e2e_story's, which the sanitizer build runs; the wait and its
cancellation are the component's, run under the sanitizers by
test_component_wait."""

import sqlite3
import time

import rbtest
from rbbridge import key_pcap, pause, play
from rbtest import GATEWAY, NS_REGISTER, jid, submit_form
# Modules, not classes: a test class imported by name would run here too.
import test_e2e_story
from test_e2e_story import AFTER_MESSAGE_MS, CALL_BACK, GATE

WAIT_MINUTES = 5


@rbtest.only_own_tests
class WaitCallTest(test_e2e_story.StoryTest):

    def set_wait(self, minutes):
        bob = self.client(self.prosody, "bob")
        r = bob.iq("<iq type='set' to='%s'><query xmlns='%s'>%s</query></iq>"
                   % (GATEWAY, NS_REGISTER,
                      submit_form({"wait_minutes": str(minutes)},
                                  NS_REGISTER)))
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        return bob

    def waiting_job(self, body, after_id=0):
        self.alice.send_message(jid("bob"), body)

        def job():
            jobs = [j for j in self.message_jobs(callee_jid=jid("bob"))
                    if j["id"] > after_id]
            return jobs[0] if jobs else None
        j = rbtest.wait_until(job, 20, what="Bob's job for %r" % body)
        self.assertEqual(j["state"], 0)
        self.assertGreater(j["not_before_ms"],
                           time.time() * 1000 + (WAIT_MINUTES - 1) * 60000)
        return j

    def wait_ends_now(self, *job_ids):
        """The wait's end, brought forward: the jobs are due now (a
        waiting job's first attempt, its start and its wait all end
        there)."""
        con = sqlite3.connect(str(self.comp.db_path), timeout=10)
        try:
            now = int(time.time() * 1000)
            for i in job_ids:
                con.execute("UPDATE jobs SET not_before_ms = ?1, "
                            "next_attempt_ms = ?1, seen_until_ms = ?1 "
                            "WHERE id = ?2", (now, i))
            con.commit()
        finally:
            con.close()

    def test_online_in_the_wait_is_never_called(self):
        bob = self.set_wait(WAIT_MINUTES)
        bob.disconnect()
        sipp = self.phone("uas_answer.xml", GATE + [
            pause(AFTER_MESSAGE_MS), play(key_pcap(2))])
        first = self.waiting_job("are you there?")
        bob = self.client(self.prosody, "bob")
        rbtest.wait_until(
            lambda: self.db.jobs(id=first["id"])[0]["state"] == 4, 15,
            what="the job cancelled when Bob came online")
        bob.disconnect()
        time.sleep(1)  # the component sees Bob offline
        second = self.waiting_job("and now?", after_id=first["id"])
        self.wait_ends_now(first["id"], second["id"])
        self.alice.wait_message(from_=jid("bob"), body=CALL_BACK, timeout=90)
        rbtest.wait_until(lambda: sipp.poll() is not None, 30,
                          what="sipp to finish its one call")
        self.assertEqual(sipp.returncode, 0)
        time.sleep(2)  # past any second INVITE the bridge could send
        bridge_log = (self.comp.dir / "bridge.log").read_text(
            errors="replace")
        self.assertEqual(self.db.jobs(id=first["id"])[0]["state"], 4)
        self.assertEqual(self.db.query(
            "SELECT count(*) AS n FROM events WHERE job_id = ?",
            (first["id"],))[0]["n"], 0)
        self.assertNotIn("job %d " % first["id"], bridge_log)
        # The answer Alice got is for the second message, once.
        answers = [m for m in self.alice.messages.all()
                   if rbtest.bare(m.get("from")) == jid("bob")]
        self.assertEqual(len(answers), 1,
                         [rbtest.xml_str(m) for m in answers])


if __name__ == "__main__":
    import unittest
    unittest.main()
