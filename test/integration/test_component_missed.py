# SPDX-License-Identifier: GPL-3.0-or-later
"""Messages that arrive while the component is disconnected, on stock
Prosody (no mod_ringbridge) with mod_mam and the IQ privilege
urn:xmpp:mam:2 "get": after the reconnect the component reads bob's
archive metadata, sees the archive grew while it was away, and queues one
notice call for bob ("You received new messages while the phone service
was unavailable..."); a second reconnect does not queue another, and an
outcome the component itself sends as bob (which Prosody archives) is not
taken for a missed message. A message to a gateway address during the
outage comes back to its sender as an error.

Cost: about 25 s (COST 60). It runs in both builds (missed.c parses
server input: the sanitizers should see it) and, in the plain build, on
Prosody 13 too (integration/prosody13/: the metadata get goes through the
community mod_privilege and 13's mod_mam, whose timestamps may differ)."""

import sys
import time
import unittest

import rbtest
from rbtest import GATEWAY, jid

BOB_PHONE = "+15551234567"
NOTICE = ("You received new messages while the phone service was "
          "unavailable. They are waiting in your chat app.")


class MissedTest(rbtest.ComponentTest):
    operator_registrations = {"bob": BOB_PHONE}
    prosody_options = {"mam_privilege": True}

    def mark(self):
        rows = self.db.query("SELECT end_id, end_ms, checked_ms FROM "
                             "archive_marks WHERE jid = ?", (jid("bob"),))
        return dict(rows[0]) if rows else None

    def notices(self):
        return [m for m in self.db.job_messages() if m["body"] == NOTICE]

    def wait_looked(self, after_ms):
        rbtest.wait_until(
            lambda: (self.mark() or {}).get("checked_ms", 0) > after_ms,
            30, what="the component reading bob's archive end")

    def reconnect(self, while_down=None):
        """Stops the component, runs WHILE_DOWN, starts it, and waits
        until it has looked at bob's archive again."""
        before = self.mark()["checked_ms"]
        self.comp.stop()
        if while_down:
            while_down()
        self.comp.start()
        self.comp.wait_ready(self.alice)
        self.wait_looked(before)

    def test_outage_is_noticed_once(self):
        self.wait_looked(0)
        self.assertEqual(self.mark()["end_id"], "(empty archive)")
        # A second outage with nothing written: no notice.
        self.reconnect()
        self.assertEqual(self.notices(), [])
        def write():
            self.alice.send_message(jid("bob"), "while you were away")
            self.alice.sync()
        self.reconnect(write)
        rbtest.wait_until(lambda: len(self.notices()) == 1, 20,
                          what="one notice queued for bob")
        n = self.notices()[0]
        job = self.db.jobs(id=n["job_id"])[0]
        self.assertEqual(job["callee_jid"], jid("bob"))
        self.assertEqual(job["destination"], BOB_PHONE)
        self.assertEqual(job["sender_jid"], GATEWAY)
        self.assertEqual(job["sender_name"], "your chat service")
        # The message itself was never pushed to a connected component.
        self.assertNotIn("while you were away",
                         [m["body"] for m in self.db.job_messages()])
        end = self.mark()["end_id"]
        self.assertNotEqual(end, "(empty archive)")
        # Reconnecting again phones nothing more.
        self.reconnect()
        time.sleep(1.0)
        self.assertEqual(len(self.notices()), 1)
        self.assertEqual(self.mark()["end_id"], end)

    def test_message_caught_right_after_the_reconnect_does_not_hide_it(self):
        # The archive end is read before pushes caught after the
        # reconnect move it: a message caught at once does not make the
        # outage's messages look caught.
        self.wait_looked(0)
        self.comp.stop()
        self.alice.send_message(jid("bob"), "while you were away")
        self.alice.sync()
        self.comp.start()
        rbtest.wait_until(lambda: "archive end of bob@localhost" in
                          self.comp.log.read_text(errors="replace"), 30,
                          what="bob's archive end read")
        self.comp.wait_ready(self.alice)
        self.alice.send_message(jid("bob"), "just after")
        rbtest.wait_until(lambda: "just after" in [
            m["body"] for m in self.db.job_messages()], 20,
            what="the message after the reconnect caught")
        rbtest.wait_until(lambda: len(self.notices()) == 1, 20,
                          what="the notice for the outage still queued")

    def test_own_outcome_is_not_a_missed_message(self):
        self.wait_looked(0)
        # A caught message, then its outcome sent as bob: both archived
        # in bob's archive while the component is connected.
        self.alice.send_message(jid("bob"), "call me")
        jobs, _ = self.wait_messages(jid("bob"), 1)
        job_id = jobs[0]["id"]
        time.sleep(1.1)  # the outcome a second later than the message
        self.db.write_events(job_id, [("KEY", "2")])
        rbtest.queue_wake(self.comp.db_path, 2)
        self.alice.wait_message(from_=jid("bob"), timeout=30)
        rbtest.wait_until(lambda: all(
            r["delivered_ms"] for r in self.db.query(
                "SELECT delivered_ms FROM events WHERE job_id = ?",
                (job_id,))), 10, what="the outcome marked delivered")
        self.reconnect()
        time.sleep(1.0)
        self.assertEqual(self.notices(), [])
        self.assertIn("grew only with what was caught or sent",
                      self.comp.log.read_text(errors="replace"))

    def test_gateway_message_during_outage_bounces_to_the_sender(self):
        self.comp.stop()
        self.alice.send_message("bob@%s" % GATEWAY, "to the gateway")
        err = self.alice.wait_message(from_="bob@%s" % GATEWAY,
                                      mtype="error", timeout=20)
        sys.stderr.write("\ngateway message during the outage: %s\n"
                         % (rbtest.error_condition(err),))
        self.assertIsNotNone(rbtest.error_condition(err)[1])
        self.comp.start()


if __name__ == "__main__":
    unittest.main()
