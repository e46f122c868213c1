# SPDX-License-Identifier: GPL-3.0-or-later
""""Wait, then call, unless already seen" (issue 12): a user sets
wait_minutes in the registration form; a message caught while they are
offline makes a job that is not due before the wait ends, and messages in
the wait join it; if the user comes online (a real client on Prosody) in
the wait, the job is cancelled and the sender hears nothing; the wait is in
the queue, so it survives a restart of the component; a user who stays
offline keeps the job, due at the wait's end. No bridge runs: "never
called" is a cancelled job with no event, the only state a bridge could
act on (it claims queued jobs only).

Cost: about 15 s (Prosody and the component per test, a client coming
online). Plain and sanitizer builds, like the other component tests: the
catch path, the store thread and the presence hook are C code the
sanitizers should see under a real server."""

import time
import unittest

import rbtest
from rbtest import NS_REGISTER, GATEWAY, jid, submit_form

BOB_PHONE = "+15551234567"
DAVE_PHONE = "+15557654321"
WAIT_MINUTES = 5


class WaitTest(rbtest.ComponentTest):
    users = ("alice",)
    operator_registrations = {"bob": BOB_PHONE, "dave": DAVE_PHONE}

    def set_wait(self, user, minutes, **extra):
        """USER submits wait_minutes (and EXTRA fields) in the registration
        form, then goes offline."""
        c = self.client(self.prosody, user)
        fields = dict(extra, wait_minutes=str(minutes))
        r = c.iq("<iq type='set' to='%s'><query xmlns='%s'>%s</query></iq>"
                 % (GATEWAY, NS_REGISTER, submit_form(fields, NS_REGISTER)))
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        c.disconnect()
        self.assertEqual(self.db.registration(jid(user))["wait_minutes"],
                         minutes)

    def waiting_job(self, user, bodies):
        sent_ms = time.time() * 1000
        for b in bodies:
            self.alice.send_message(jid(user), b)
        jobs, msgs = self.wait_messages(jid(user), len(bodies))
        self.assertEqual(len(jobs), 1, jobs)
        job = jobs[0]
        self.assertEqual(job["state"], 0)
        # Due at the wait's end, not before.
        wait_ms = WAIT_MINUTES * 60000
        self.assertGreaterEqual(job["not_before_ms"], sent_ms + wait_ms - 2000)
        self.assertLess(job["not_before_ms"], sent_ms + wait_ms + 10000)
        self.assertEqual(job["seen_until_ms"], job["not_before_ms"])
        return job

    def assert_cancelled_silently(self, job_id):
        def cancelled():
            j = self.db.jobs(id=job_id)[0]
            return j if j["state"] == 4 else None
        j = rbtest.wait_until(cancelled, 15, what="the job cancelled")
        self.assertEqual(j["last_reason"], "seen during the wait")
        self.assertEqual(self.db.query(
            "SELECT count(*) AS n FROM events WHERE job_id = ?",
            (job_id,))[0]["n"], 0)
        time.sleep(2)  # past the component's delivery of any outcome
        self.assertEqual([m for m in self.alice.messages.all()
                          if rbtest.bare(m.get("from")) in
                          (jid("bob"), jid("dave"))], [])

    def test_online_in_the_wait_is_never_called(self):
        self.set_wait("bob", WAIT_MINUTES)
        self.set_wait("dave", WAIT_MINUTES)
        job = self.waiting_job("bob", ["are you there?", "hello?"])
        dave_job = self.waiting_job("dave", ["and you?"])
        online_at = time.monotonic()
        self.client(self.prosody, "bob")
        self.assert_cancelled_silently(job["id"])
        print("\nonline -> job cancelled within %.1f s (incl. 2 s quiet)"
              % (time.monotonic() - online_at))
        # Dave stayed offline: his job waits for its time.
        self.assertEqual(self.db.jobs(id=dave_job["id"])[0]["state"], 0)

    def test_the_wait_survives_a_restart(self):
        self.set_wait("bob", WAIT_MINUTES)
        job = self.waiting_job("bob", ["before the restart"])
        self.comp.restart()
        self.comp.wait_ready(self.alice)
        self.client(self.prosody, "bob")
        self.assert_cancelled_silently(job["id"])

    def test_called_when_away_counts_only_a_resource_not_away(self):
        """A user called when away: coming online away is not "seen";
        becoming available is."""
        self.set_wait("bob", WAIT_MINUTES, call_when="away")
        job = self.waiting_job("bob", ["away or not?"])
        away = self.client(self.prosody, "bob", resource="laptop",
                           presence="away")
        time.sleep(2)
        self.assertEqual(self.db.jobs(id=job["id"])[0]["state"], 0)
        self.client(self.prosody, "bob", resource="phone")
        self.assert_cancelled_silently(job["id"])
        away.disconnect()

    def test_no_wait_calls_at_once(self):
        sent_ms = time.time() * 1000
        self.alice.send_message(jid("bob"), "now please")
        jobs, _ = self.wait_messages(jid("bob"), 1)
        self.assertLess(jobs[0]["not_before_ms"], sent_ms + 5000)
        self.assertIsNone(jobs[0]["seen_until_ms"])


if __name__ == "__main__":
    unittest.main()
