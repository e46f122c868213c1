# SPDX-License-Identifier: GPL-3.0-or-later
"""Commits are visible to other processes while the component runs.

Regression test: the queue used to open() and close() the database file
when a second handle of the same process opened it (the component's writer
thread), which drops every POSIX lock the process holds on that file. A
short-lived reader elsewhere (ringbridgectl, the SIP bridge, this test)
then took the database for unused when it closed, reset the WAL, and the
component's later commits stayed invisible to everyone until it exited."""

import sqlite3
import time

import rbtest
from rbtest import GATEWAY, jid

BOB_PHONE = "+15551234567"


class VisibilityTest(rbtest.ComponentTest):
    operator_registrations = {"bob": BOB_PHONE}

    def count_rw(self):
        """A read-write connection that closes as the last one it knows
        of (it checkpoints on close), like any short-lived tool."""
        con = sqlite3.connect(str(self.comp.db_path))
        try:
            return con.execute("SELECT count(*) FROM job_messages")\
                .fetchone()[0]
        finally:
            con.close()

    def test_each_commit_is_seen_by_other_processes(self):
        bodies = ["one", "two via the gateway", "three", "four"]
        for i, body in enumerate(bodies):
            to = "bob@" + GATEWAY if "gateway" in body else jid("bob")
            self.alice.send_message(to, body)
            self.wait_messages(jid("bob"), i + 1)
            rbtest.wait_until(lambda: self.count_rw() == i + 1, timeout=5,
                              what="%d messages seen by a reader" % (i + 1))
            # Readers come and go between the component's commits.
            for _ in range(3):
                self.count_rw()
                time.sleep(0.2)
