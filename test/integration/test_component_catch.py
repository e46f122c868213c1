# SPDX-License-Identifier: GPL-3.0-or-later
"""Catching messages for offline users through the server's push
notifications (XEP-0356 + XEP-0357, PROSODY_NOTES.md). mod_mam is on, so
Prosody also pushes messages to users who are online (notes, section 6):
the component's presence tracking is what keeps those from becoming calls.

"No job" can only be asserted after a barrier: a message to dave
(registered, verified, offline) sent afterwards through the same path; once
dave's job exists, the component has handled everything sent before it."""

import time
import unittest

import rbtest
from rbtest import jid

BOB_PHONE = "+15551234567"
DAVE_PHONE = "+15557654321"
OMEMO_FALLBACK = ("I sent you an OMEMO encrypted message but your client "
                  "doesn\u2019t seem to support that. Find more information "
                  "on https://conversations.im/omemo")
OMEMO_ELEMENT = ("<encrypted xmlns='eu.siacs.conversations.axolotl'>"
                 "<header sid='12345'><key rid='678'>AAAA</key><iv>BBBB</iv>"
                 "</header><payload>CCCC</payload></encrypted>"
                 "<store xmlns='urn:xmpp:hints'/>")


class CatchTest(rbtest.ComponentTest):
    prosody_options = {"mam": True}
    users = ("alice", "carol", "erin")
    operator_registrations = {"bob": BOB_PHONE, "dave": DAVE_PHONE}

    def barrier(self, label):
        """Sends dave a message and waits until it is caught."""
        body = "barrier %s %s" % (label, time.monotonic())
        self.alice.send_message(jid("dave"), body)
        rbtest.wait_until(
            lambda: [m for j in self.message_jobs(callee_jid=jid("dave"))
                     for m in self.db.job_messages(j["id"])
                     if m["body"] == body], 20, what="barrier " + label)
        time.sleep(0.3)  # anything sent earlier but committed later

    def test_burst_to_offline_user_is_one_job(self):
        bodies = ["first %s" % time.time(), "second", "third"]
        for b in bodies:
            self.alice.send_message(jid("bob"), b)
        jobs, msgs = self.wait_messages(jid("bob"), 3)
        time.sleep(1.0)  # nothing more should come
        jobs = self.message_jobs(callee_jid=jid("bob"))
        self.assertEqual(len(jobs), 1, jobs)
        job = jobs[0]
        self.assertEqual(job["kind"], 1)
        self.assertEqual(job["state"], 0)
        self.assertEqual(job["callee_jid"], "bob@localhost")
        self.assertEqual(job["sender_jid"], "alice@localhost")
        self.assertEqual(job["reply_from"], "bob@localhost")
        self.assertEqual(job["destination"], BOB_PHONE)
        msgs = self.db.job_messages(job["id"])
        self.assertEqual([m["body"] for m in msgs], bodies)
        self.assertEqual([m["seq"] for m in msgs],
                         sorted(m["seq"] for m in msgs))
        for m in msgs:
            self.assertEqual(m["sender_jid"], "alice@localhost")
            self.assertEqual(m["encrypted"], 0)
            self.assertTrue(m["idem_key"])
        self.assertEqual(len({m["idem_key"] for m in msgs}), 3)
        self.assertEqual(self.db.count("job_messages"), 3)

    def test_online_user_is_not_called(self):
        bob = self.client(self.prosody, "bob")
        self.alice.send_message(jid("bob"), "you are online")
        bob.wait_message(from_=jid("alice"), body="you are online")
        self.barrier("online")
        self.assertEqual(self.message_jobs(callee_jid=jid("bob")), [])

    def test_any_available_resource_counts(self):
        """One resource away, another available: online."""
        self.client(self.prosody, "bob", resource="laptop", presence="away")
        avail = self.client(self.prosody, "bob", resource="phone")
        self.alice.send_message(jid("bob"), "two resources")
        avail.wait_message(from_=jid("alice"), body="two resources")
        self.barrier("two resources")
        self.assertEqual(self.message_jobs(callee_jid=jid("bob")), [])

    def test_away_user_with_default_policy_is_not_called(self):
        """call_when defaults to offline: away is not offline."""
        bob = self.client(self.prosody, "bob", presence="away")
        self.alice.send_message(jid("bob"), "you are away")
        bob.wait_message(from_=jid("alice"), body="you are away")
        self.barrier("away")
        self.assertEqual(self.message_jobs(callee_jid=jid("bob")), [])

    def test_user_gone_offline_is_called(self):
        bob = self.client(self.prosody, "bob")
        bob.disconnect()
        # The unavailable presence reaches the component before the message
        # (both pass through the server in this order).
        self.alice.sync()
        self.alice.send_message(jid("bob"), "you left")
        jobs, msgs = self.wait_messages(jid("bob"), 1)
        self.assertEqual([m["body"] for m in msgs], ["you left"])

    def test_unregistered_user_is_not_called(self):
        self.alice.send_message(jid("carol"), "hello carol")
        self.barrier("unregistered")
        self.assertEqual(self.db.jobs(callee_jid=jid("carol")), [])

    def test_unverified_user_is_not_called(self):
        erin = self.client(self.prosody, "erin")
        r = erin.iq("<iq type='set' to='%s'><query xmlns='%s'>%s</query>"
                    "</iq>" % (rbtest.GATEWAY, rbtest.NS_REGISTER,
                               rbtest.submit_form({"phone": "+15550001111"},
                                                  rbtest.NS_REGISTER)))
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        reg = rbtest.wait_until(lambda: self.db.registration(jid("erin")), 10,
                                what="erin's registration")
        self.assertEqual(reg["verified"], 0)
        erin.disconnect()
        self.alice.sync()
        self.alice.send_message(jid("erin"), "hello erin")
        self.barrier("unverified")
        self.assertEqual(self.message_jobs(callee_jid=jid("erin")), [])

    def test_omemo_fallback_is_marked_encrypted(self):
        self.alice.send_message(jid("bob"), OMEMO_FALLBACK,
                                extra=OMEMO_ELEMENT)
        self.alice.send_message(jid("bob"), "and a plain one")
        jobs, msgs = self.wait_messages(jid("bob"), 2)
        self.assertEqual([m["encrypted"] for m in msgs], [1, 0])
        self.assertEqual(msgs[1]["body"], "and a plain one")

    def test_messages_without_body_are_not_caught(self):
        """Chat states and empty bodies: Prosody pushes them too (notes,
        section 4); they are nothing to read out."""
        self.alice.send_raw("<message xmlns='jabber:client' to='bob@localhost'"
                            " type='chat' id='cs1'><composing xmlns='http://"
                            "jabber.org/protocol/chatstates'/></message>")
        self.alice.send_raw("<message xmlns='jabber:client' to='bob@localhost'"
                            " type='chat' id='eb1'><body/></message>")
        self.alice.send_message(jid("bob"), "a real one")
        jobs, msgs = self.wait_messages(jid("bob"), 1)
        time.sleep(0.5)
        msgs = [m for j in self.message_jobs(callee_jid=jid("bob"))
                for m in self.db.job_messages(j["id"])]
        self.assertEqual([m["body"] for m in msgs], ["a real one"])


if __name__ == "__main__":
    unittest.main()
