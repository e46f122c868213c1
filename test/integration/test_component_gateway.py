# SPDX-License-Identifier: GPL-3.0-or-later
"""Gateway addresses (ARCHITECTURE.md): bob@callgw.localhost and
bob\\40localhost@callgw.localhost mean bob@localhost; delivered to Bob as a
privileged message from the sender when he is online, phoned when he is
not. +E164@callgw.localhost is direct dialling, off by default."""

import time
import unittest

import rbtest
from rbtest import GATEWAY, error_condition, jid

BOB_PHONE = "+15551234567"
PLAIN = "bob@%s" % GATEWAY
ESCAPED = "bob\\40localhost@%s" % GATEWAY


class GatewayTest(rbtest.ComponentTest):
    operator_registrations = {"bob": BOB_PHONE}

    def assert_delivered(self, address, body):
        bob = self.client(self.prosody, "bob")
        self.alice.send_message(address, body)
        m = bob.wait_message(from_=jid("alice"), body=body, timeout=20)
        self.assertEqual(m.get("type"), "chat", rbtest.xml_str(m))
        self.assertEqual(self.message_jobs(callee_jid=jid("bob")), [])
        self.assertEqual(self.message_jobs(reply_from=address), [])

    def assert_caught(self, address, body):
        self.alice.send_message(address, body)
        job = rbtest.wait_until(lambda: self.message_jobs(reply_from=address),
                                20, what="a job replying from " + address)[0]
        self.assertEqual(job["sender_jid"], "alice@localhost")
        self.assertEqual(job["destination"], BOB_PHONE)
        self.assertEqual(job["state"], 0)
        msgs = self.db.job_messages(job["id"])
        self.assertEqual([m["body"] for m in msgs], [body])
        # Phoned, not also stored for bob: a copy in bob's offline storage
        # would be pushed and phoned a second time from bob@localhost.
        time.sleep(0.5)
        self.assertEqual(self.message_jobs(reply_from=jid("bob")), [])

    def test_plain_address_online_is_delivered(self):
        self.assert_delivered(PLAIN, "through the gateway")

    def test_plain_address_offline_is_caught(self):
        self.assert_caught(PLAIN, "call bob please")

    def test_escaped_address_online_is_delivered(self):
        self.assert_delivered(ESCAPED, "escaped, online")

    def test_escaped_address_offline_is_caught(self):
        self.assert_caught(ESCAPED, "escaped, offline")

    def test_direct_dial_off_is_refused(self):
        address = "%s@%s" % (BOB_PHONE, GATEWAY)
        self.alice.send_message(address, "dial this number")
        err = self.alice.messages.wait_for(
            lambda m: m.get("type") == "error"
            and rbtest.bare(m.get("from")) == address, 20,
            what="error reply from " + address)
        self.assertIn(error_condition(err)[1],
                      ("not-allowed", "forbidden", "service-unavailable"),
                      rbtest.xml_str(err))
        time.sleep(0.5)
        self.assertEqual(self.message_jobs(), [])

    def test_unknown_user_at_gateway_is_refused_or_ignored(self):
        """No registration behind the address: no job, and if anything
        comes back it is an error."""
        address = "nobody@%s" % GATEWAY
        self.alice.send_message(address, "anyone there?")
        self.assert_caught(PLAIN, "barrier")
        self.assertEqual(self.message_jobs(reply_from=address), [])
        for m in self.alice.messages.all():
            if rbtest.bare(m.get("from")) == address:
                self.assertEqual(m.get("type"), "error", rbtest.xml_str(m))


if __name__ == "__main__":
    unittest.main()
