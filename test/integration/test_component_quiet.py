# SPDX-License-Identifier: GPL-3.0-or-later
"""Quiet hours that mean it, and the senders who may always ring (issue
12), through the registration form on a real Prosody: Bob, in Asia/Tokyo
(so the window is taken in his zone, not the host's), sets quiet hours
around his present local time, lets carol@localhost ring through and
leaves the rest to "later". Carol's message makes a job due at once;
alice's makes a job deferred to the minute his quiet hours end (not
dropped); with quiet_mode "never" erin's message makes no job at all; a
wait set as well starts at the end of quiet hours. No bridge runs: the
bridge claims a job only once its not_before has passed (the queue's
claim, tested on both engines), so the jobs' times are what is checked.

Cost: about 10 s (Prosody and the component per test). Plain and
sanitizer builds, as the other component tests: the catch path is C code
fed by the network."""

import datetime
import time
import unittest
import zoneinfo

import rbtest
from rbtest import NS_REGISTER, GATEWAY, jid, submit_form

BOB_PHONE = "+15551234567"
ZONE = "Asia/Tokyo"


def hhmm(minutes):
    minutes %= 1440
    return "%02d:%02d" % (minutes // 60, minutes % 60)


class QuietTest(rbtest.ComponentTest):
    users = ("alice", "carol", "erin")
    operator_registrations = {"bob": BOB_PHONE}

    def settings(self, **fields):
        bob = self.client(self.prosody, "bob")
        r = bob.iq("<iq type='set' to='%s'><query xmlns='%s'>%s</query>"
                   "</iq>" % (GATEWAY, NS_REGISTER,
                              submit_form(fields, NS_REGISTER)))
        bob.disconnect()
        return r

    def quiet_now(self, **extra):
        """Quiet hours from an hour ago to 90 minutes ahead in Bob's zone;
        returns the expected end (ms since the epoch, a minute boundary)."""
        now = datetime.datetime.now(zoneinfo.ZoneInfo(ZONE))
        local = now.hour * 60 + now.minute
        r = self.settings(tz=ZONE, quiet_hours="%s-%s" % (
            hhmm(local - 60), hhmm(local + 90)), **extra)
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        end = now.replace(second=0, microsecond=0) + \
            datetime.timedelta(minutes=90)
        return end.timestamp() * 1000

    def job_of(self, sender, body):
        self.client(self.prosody, sender).send_message(jid("bob"), body)
        def caught():
            for j in self.message_jobs(callee_jid=jid("bob"),
                                       sender_jid=jid(sender)):
                if any(m["body"] == body
                       for m in self.db.job_messages(j["id"])):
                    return j
            return None
        return rbtest.wait_until(caught, 20, what="%s's job" % sender)

    def test_vip_rings_through_and_another_waits(self):
        end_ms = self.quiet_now(ring_through="carol@localhost",
                                quiet_mode="later")
        reg = self.db.registration(jid("bob"))
        self.assertEqual((reg["ring_through"], reg["quiet_mode"]),
                         ("carol@localhost", 0))
        sent_ms = time.time() * 1000
        vip = self.job_of("carol", "wake up, it is urgent")
        self.assertLess(vip["not_before_ms"], sent_ms + 5000)
        other = self.job_of("alice", "it can wait")
        self.assertEqual(other["state"], 0)
        print("\ndeferred by %.1f min (quiet hours end in %.1f min)" % (
            (other["not_before_ms"] - sent_ms) / 60000,
            (end_ms - sent_ms) / 60000))
        self.assertAlmostEqual(other["not_before_ms"], end_ms, delta=2000)
        self.assertIsNone(other["seen_until_ms"])

    def test_never_drops_and_a_domain_rings_through(self):
        self.quiet_now(ring_through="localhost", quiet_mode="never")
        # A domain lets every sender of it ring: so nobody here is
        # dropped; narrow it to carol and erin is.
        vip = self.job_of("erin", "domain rings")
        self.assertLess(vip["not_before_ms"], time.time() * 1000 + 5000)
        r = self.settings(ring_through="carol@localhost")
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        self.client(self.prosody, "erin").send_message(jid("bob"),
                                                       "dropped")
        # Barrier: carol's message after erin's is caught; erin's gave
        # no job.
        self.job_of("carol", "barrier")
        time.sleep(0.5)
        bodies = [m["body"] for j in self.message_jobs(callee_jid=jid("bob"))
                  for m in self.db.job_messages(j["id"])]
        self.assertNotIn("dropped", bodies)

    def test_the_wait_starts_when_quiet_hours_end(self):
        end_ms = self.quiet_now(quiet_mode="later", wait_minutes="10")
        job = self.job_of("alice", "quiet, then wait")
        self.assertAlmostEqual(job["not_before_ms"], end_ms + 600000,
                               delta=2000)
        self.assertEqual(job["seen_until_ms"], job["not_before_ms"])

    def test_bad_values_refused_by_name(self):
        for fields, name in (({"ring_through": "a/b"}, "ring_through"),
                             ({"quiet_mode": "sometimes"}, "quiet_mode"),
                             ({"wait_minutes": "1441"}, "wait_minutes")):
            with self.subTest(fields=fields):
                r = self.settings(**fields)
                self.assertEqual(r.get("type"), "error", rbtest.xml_str(r))
                _, cond, text = rbtest.error_condition(r)
                self.assertEqual(cond, "not-acceptable")
                self.assertTrue(text.startswith(name + ":"), text)


if __name__ == "__main__":
    unittest.main()
