# SPDX-License-Identifier: GPL-3.0-or-later
"""ringbridgectl migrate-queue FROM TO: a SQLite queue filled by
ringbridgectl itself (users, test calls) is copied into a private
PostgreSQL cluster (rbpostgres.py); the counts it reports are the rows,
ringbridgectl on the copy lists the same users and jobs with the same
ids, a second copy into the now non-empty target is refused and changes
nothing, --into-non-empty adds nothing twice, and a URL that carries a
password is refused before anything is opened. The row-level rules (ids,
blobs, ids that follow the copy) are the conformance suite's test_copy.
A few seconds; in the plain build only: the copy is queue code the
conformance suite runs in the sanitizer build too."""

import pathlib
import re
import shutil
import tempfile
import unittest

import rbpostgres
import rbtest

CTL_BIN = rbtest.BUILD_DIR / "ringbridgectl"
USERS = {"bob@localhost": "+15551234567", "carol@localhost": "+15557654321"}
CALLS = 3


class CtlMigrateTest(unittest.TestCase):

    def setUp(self):
        rbtest._require_binary(CTL_BIN)
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="rb-migrate-"))
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.pg = rbpostgres.PgCluster().start()
        self.addCleanup(self.pg.stop)
        self.pg_url = self.pg.create_db("rb_migrate")
        pw = self.dir / "queue.password"
        pw.write_text(self.pg.password + "\n")
        pw.chmod(0o600)
        self.sqlite_url = "sqlite:%s" % (self.dir / "queue.db")
        policy = ("[policy]\nallowed_prefixes = +1\n"
                  "allowed_sip_domains = pbx.example.org\n")
        self.old = self.dir / "old.conf"
        self.old.write_text("[queue]\nurl = %s\n\n%s"
                            % (self.sqlite_url, policy))
        self.new = self.dir / "new.conf"
        self.new.write_text("[queue]\nurl = %s\npassword_file = %s\n\n%s"
                            % (self.pg_url, pw, policy))

    def ctl(self, config, *args):
        return rbtest.rb_run([CTL_BIN, "-c", config] + list(args),
                             timeout=60, capture_output=True, text=True)

    def counts(self, out):
        return {m.group(1): (int(m.group(2)), int(m.group(3)))
                for m in re.finditer(r"^(\w+)\s+(\d+) copied\s+(\d+) "
                                     r"already there$", out, re.M)}

    def test_copy_refuse_and_resume(self):
        for jid, phone in USERS.items():
            r = self.ctl(self.old, "register", jid, phone)
            self.assertEqual(r.returncode, 0, r.stderr)
        jobs = []
        for i in range(CALLS):
            r = self.ctl(self.old, "test-call",
                         "sip:u%d@pbx.example.org" % i, "Hello %d." % i)
            self.assertEqual(r.returncode, 0, r.stderr)
            jobs.append(int(r.stdout.split()[1]))
        before = self.ctl(self.old, "jobs", "--all").stdout

        r = self.ctl(self.new, "migrate-queue", self.sqlite_url, self.pg_url)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        c = self.counts(r.stdout)
        self.assertEqual(c["registrations"], (len(USERS), 0))
        self.assertEqual(c["jobs"], (CALLS, 0))
        self.assertEqual(c["job_messages"], (CALLS, 0))
        self.assertEqual(c["total"][1], 0)
        self.assertEqual(c["total"][0], sum(v[0] for k, v in c.items()
                                            if k != "total"))
        self.assertNotIn(self.pg.password, r.stdout + r.stderr)

        # The copy is the queue: same users, same jobs under the same ids.
        users = self.ctl(self.new, "users").stdout
        for jid, phone in USERS.items():
            self.assertIn(jid, users)
            self.assertIn(phone, users)
        self.assertEqual(self.ctl(self.new, "jobs", "--all").stdout, before)
        ids = sorted(row["id"] for row in self.pg.query(
            self.pg_url, "SELECT id FROM jobs"))
        self.assertEqual(ids, sorted(jobs))
        # New jobs on the copy take ids after the copied ones.
        r = self.ctl(self.new, "test-call", "sip:new@pbx.example.org", "Hi.")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(int(r.stdout.split()[1]), max(jobs))

        # Not into a queue that holds rows, unless told.
        r = self.ctl(self.new, "migrate-queue", self.sqlite_url, self.pg_url)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("not empty", r.stderr)
        self.assertEqual(len(self.pg.query(self.pg_url,
                                           "SELECT id FROM jobs")),
                         CALLS + 1)
        r = self.ctl(self.new, "migrate-queue", "--into-non-empty",
                     self.sqlite_url, self.pg_url)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        c = self.counts(r.stdout)
        self.assertEqual(c["total"][0], 0)
        self.assertEqual(c["jobs"], (0, CALLS))

        # No password on a command line; no source that does not exist.
        with_pw = self.pg_url.replace("postgres@",
                                      "postgres:%s@" % self.pg.password)
        r = self.ctl(self.new, "migrate-queue", self.sqlite_url, with_pw)
        self.assertEqual(r.returncode, 1)
        self.assertIn("password_file", r.stderr)
        self.assertNotIn(self.pg.password, r.stdout + r.stderr)
        r = self.ctl(self.new, "migrate-queue",
                     "sqlite:%s" % (self.dir / "nope.db"), self.pg_url)
        self.assertEqual(r.returncode, 1)
        self.assertFalse((self.dir / "nope.db").exists())
        r = self.ctl(self.new, "migrate-queue", "--all", self.sqlite_url,
                     self.pg_url)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
