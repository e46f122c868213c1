# SPDX-License-Identifier: GPL-3.0-or-later
"""ringbridgectl on the queue engine the run picks (rbtest.queue_for():
SQLite, or PostgreSQL with RB_TEST_QUEUE=postgresql and the password in
[queue] password_file): register, users, test-call, jobs, unregister with
its jobs cancelled, read back through the queue itself. test_ctl.py covers
the command line in depth on SQLite; this is what must hold on both
engines. A few seconds; in both builds (ctl links the queue library)."""

import pathlib
import shutil
import tempfile
import unittest

import rbtest

CTL_BIN = rbtest.BUILD_DIR / "ringbridgectl"


class CtlEnginesTest(unittest.TestCase):

    def setUp(self):
        rbtest._require_binary(CTL_BIN)
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="rb-ctl-eng-"))
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        section, self.db = rbtest.queue_for(self.dir)
        self.config = self.dir / "ringbridge.conf"
        self.config.write_text(
            "[queue]\n%s\n\n[policy]\nallowed_prefixes = +1\n"
            "allowed_sip_domains = pbx.example.org\n"
            % "\n".join("%s = %s" % kv for kv in section.items()))

    def ctl(self, *args):
        r = rbtest.rb_run([CTL_BIN, "-c", self.config] + list(args),
                          timeout=30, capture_output=True, text=True)
        for marker in rbtest.SANITIZER_MARKERS:
            self.assertNotIn(marker, r.stderr)
        return r

    def test_register_users_jobs_unregister(self):
        r = self.ctl("register", "bob@localhost", "+1 555 123 4567")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.db.registration("bob@localhost")["phone"],
                         "+15551234567")
        r = self.ctl("users")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("bob@localhost", r.stdout)
        self.assertIn("+15551234567", r.stdout)

        r = self.ctl("test-call", "sip:carol@pbx.example.org", "Hello.")
        self.assertEqual(r.returncode, 0, r.stderr)
        job = int(r.stdout.split()[1])
        r = self.ctl("jobs")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sip:carol@pbx.example.org", r.stdout)
        self.assertEqual(self.db.jobs(id=job)[0]["state"], 0)

        # The password never reaches a command line or an error message.
        if rbtest.queue_postgresql():
            pw = rbtest._pg().password
            self.assertNotIn(pw, r.stdout + r.stderr)
            self.assertNotIn(pw, self.config.read_text())

        r = self.ctl("unregister", "bob@localhost")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsNone(self.db.registration("bob@localhost"))


if __name__ == "__main__":
    unittest.main()
