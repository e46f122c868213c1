# SPDX-License-Identifier: GPL-3.0-or-later
"""Push registrations follow the registrations table whatever changes it
(issue 10, item 1): ringbridgectl unregister + register from another
process while the component runs, the same while the component is
disconnected from Prosody, and the same while it is not running at all,
where the server keeps the old node and the component logs it once.
What the server holds is read from mod_cloud_notify's own store
(Prosody.push_nodes), so "the old node is disabled" is observed, not
assumed.

Cost: one Prosody 0.12 and one component per test, five tests, about
20 s in all; runs in both builds (the ASan build covers push.c's tables
and the IQ callbacks), and on Prosody 13 too in the plain build, whose
cloud_notify is Prosody's own."""

import sqlite3
import time
import unittest

import rbtest
from rbtest import jid

BOB_SIP = "sip:bob@sip.localhost"
BOB_SIP_OTHER = "sip:bob@sip.localhost:5070"
UNKNOWN_NODE_LOG = "which no registration holds"


class PushSyncTest(rbtest.ComponentTest):
    operator_registrations = {"bob": BOB_SIP}

    def node(self, user="bob"):
        reg = self.db.registration(jid(user))
        return reg["push_node"] if reg else None

    def caught(self, body, timeout=20.0):
        """Until a job message with BODY exists for bob; returns its job."""
        def find():
            for j in self.message_jobs(callee_jid=jid("bob")):
                if [m for m in self.db.job_messages(j["id"])
                        if m["body"] == body]:
                    return j
            return None
        return rbtest.wait_until(find, timeout, what="caught: " + body)

    def reregister(self):
        """The sequence of the issue, through the real ringbridgectl."""
        self.comp.ctl("unregister", jid("bob"))
        self.comp.ctl("register", jid("bob"), BOB_SIP_OTHER)
        return self.node()

    def unknown_node_lines(self, node):
        text = self.comp.log.read_text(errors="replace")
        return [l for l in text.splitlines()
                if UNKNOWN_NODE_LOG in l and node in l]

    def test_ctl_reregister_moves_the_push_node(self):
        old = self.node()
        self.prosody.wait_push_nodes("bob", [old])
        self.alice.send_message(jid("bob"), "before")
        self.caught("before")

        new = self.reregister()
        self.assertNotEqual(new, old)
        # Enabled on the server and the old one gone, from the wake-up
        # alone (well within the 60 s periodic pass).
        self.prosody.wait_push_nodes("bob", [new], timeout=10)

        self.alice.send_message(jid("bob"), "after re-registration")
        job = self.caught("after re-registration")
        self.assertEqual(job["destination"], BOB_SIP_OTHER)
        self.assertEqual(self.unknown_node_lines(old), [])

    def test_ctl_unregister_disables_push(self):
        old = self.node()
        self.prosody.wait_push_nodes("bob", [old])
        self.comp.ctl("unregister", jid("bob"))
        self.prosody.wait_push_nodes("bob", [], timeout=10)
        self.alice.send_message(jid("bob"), "nobody catches this")
        time.sleep(1.0)
        self.assertEqual(self.unknown_node_lines(old), [])
        self.assertFalse([m for m in self.db.job_messages()
                          if m["body"] == "nobody catches this"])

    def test_change_without_a_wake_up_is_picked_up_by_the_periodic_pass(self):
        """A writer whose wake-up is lost (or that sends none): the
        registration's node changes in the table behind the component's
        back; the 10 s push pass repairs it, long before the 60 s one."""
        old = self.node()
        self.prosody.wait_push_nodes("bob", [old])
        new = "0123456789abcdef0123456789abcdef"
        con = sqlite3.connect(str(self.comp.db_path), timeout=10.0)
        try:
            with con:
                con.execute("UPDATE registrations SET push_node = ?, "
                            "updated_ms = ? WHERE jid = ?",
                            (new, int(time.time() * 1000), jid("bob")))
        finally:
            con.close()
        # 10 s pass plus a margin, well short of the 60 s one (timeouts
        # stretch under valgrind, and so does the component).
        self.prosody.wait_push_nodes("bob", [new], timeout=25)
        self.alice.send_message(jid("bob"), "after a lost wake-up")
        self.caught("after a lost wake-up")

    def test_change_while_disconnected_is_applied_after_reconnect(self):
        """The component's record of what it enabled survives a lost
        session: the old node is disabled once Prosody is back."""
        old = self.node()
        self.prosody.wait_push_nodes("bob", [old])
        self.prosody.stop()
        new = self.reregister()
        self.prosody.start()
        self.prosody.wait_push_nodes("bob", [new], timeout=40)
        alice = self.client(self.prosody, "alice", resource="again")
        alice.send_message(jid("bob"), "after the outage")
        job = self.caught("after the outage")
        self.assertEqual(job["destination"], BOB_SIP_OTHER)
        self.assertEqual(self.unknown_node_lines(old), [])

    def test_change_while_stopped_leaves_a_node_logged_once(self):
        """Nothing remembers a node changed while the component was not
        running: the server keeps pushing to it, the component answers
        item-not-found and says so once, and catching goes on through
        the new node."""
        old = self.node()
        self.prosody.wait_push_nodes("bob", [old])
        self.comp.stop()
        new = self.reregister()
        self.comp.start()
        self.comp.wait_ready(self.alice)
        self.prosody.wait_push_nodes("bob", sorted([old, new]))
        bodies = ["stale %d" % i for i in range(3)]
        for b in bodies:
            self.alice.send_message(jid("bob"), b)
        for b in bodies:
            self.caught(b)
        rbtest.wait_until(lambda: self.unknown_node_lines(old), 10,
                          what="the unknown-node log line")
        time.sleep(0.5)  # the pushes of the later messages are answered
        lines = self.unknown_node_lines(old)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("ringbridgectl users", lines[0])
        self.assertIn("push_max_errors", lines[0])


if __name__ == "__main__":
    unittest.main()
