# SPDX-License-Identifier: GPL-3.0-or-later
"""ringbridgectl against a temporary configuration and queue: operator
registrations (numbers normalised, destinations outside the policy refused
with a message naming the problem), the users table, unregistration with
its pending jobs cancelled, listings, and usage errors. Needs no XMPP
server: the queue is inspected read-only with sqlite3, as the component
tests do."""

import os
import pathlib
import shutil
import sqlite3
import stat
import tempfile
import time
import unittest

import rbtest
from rbtest import CTL_BIN, SANITIZER_MARKERS

CONFIG = """\
[xmpp]
user_domains = localhost, example.org

[queue]
url = sqlite:{db}

[policy]
allowed_prefixes = +1, +44
allowed_sip_domains = pbx.example.org
"""


class CtlTest(unittest.TestCase):

    def setUp(self):
        rbtest._require_binary(CTL_BIN)
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="rb-ctl-"))
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.db = self.dir / "queue.db"
        self.config = self.dir / "ringbridge.conf"
        self.config.write_text(CONFIG.format(db=self.db))

    def ctl(self, *args, config=True):
        argv = [str(CTL_BIN)]
        if config:
            argv += ["-c", str(self.config)]
        r = rbtest.rb_run(argv + list(args), timeout=60, capture_output=True,
                          text=True)
        for marker in SANITIZER_MARKERS:
            self.assertNotIn(marker, r.stderr)
        return r

    def ok(self, *args):
        r = self.ctl(*args)
        self.assertEqual(r.returncode, 0, "%s: %s%s" % (args, r.stdout,
                                                         r.stderr))
        return r.stdout

    def refused(self, *args, status=1):
        r = self.ctl(*args)
        self.assertEqual(r.returncode, status, "%s: %s%s" % (
            args, r.stdout, r.stderr))
        return r.stderr

    def query(self, sql, *params):
        return rbtest.query_ro(self.db, sql, params)

    def registration(self, jid):
        rows = self.query("SELECT phone, verified, push_node, verify_code "
                          "FROM registrations WHERE jid = ?", jid)
        return rows[0] if rows else None

    # -- register -----------------------------------------------------------

    def test_register_good_numbers(self):
        cases = [
            ("bob@localhost", "+1 (555) 123-4567", "+15551234567"),
            ("carol@example.org", "+44 20 7946 0000", "+442079460000"),
            ("dave@localhost", "sip:dave@pbx.example.org",
             "sip:dave@pbx.example.org"),
            # The JID is a key: its case is folded, as servers do.
            ("Erin@Example.ORG", "+1.555.000.1111", "+15550001111"),
        ]
        for jid, phone, canon in cases:
            with self.subTest(jid=jid, phone=phone):
                out = self.ok("register", jid, phone)
                self.assertIn(canon, out)
                phone_db, verified, node, code = self.registration(
                    jid.lower())
                self.assertEqual(phone_db, canon)
                self.assertEqual(verified, 1)
                self.assertRegex(node, r"^[0-9a-f]{32}$")
                self.assertIsNone(code)
        nodes = self.query("SELECT push_node FROM registrations")
        self.assertEqual(len(set(nodes)), len(cases))
        self.assertEqual(stat.S_IMODE(os.stat(self.db).st_mode), 0o600)

    def test_register_keeps_other_fields(self):
        self.ok("register", "bob@localhost", "+15551234567")
        node = self.registration("bob@localhost")[2]
        con = sqlite3.connect(str(self.db))
        con.execute("UPDATE registrations SET tz = 'Europe/London', "
                    "quiet_start = 1320, quiet_end = 420, call_when = 1 "
                    "WHERE jid = 'bob@localhost'")
        con.commit()
        con.close()
        out = self.ok("register", "bob@localhost", "+44 20 7946 0000")
        self.assertIn("updated", out)
        row = self.query("SELECT phone, tz, quiet_start, quiet_end, "
                         "call_when, push_node FROM registrations")
        self.assertEqual(row, [("+442079460000", "Europe/London", 1320, 420,
                                1, node)])
        users = self.ok("users")
        self.assertIn("Europe/London", users)
        self.assertIn("22:00-07:00", users)
        self.assertIn("away", users)

    def test_register_several_numbers_in_order(self):
        out = self.ok("register", "bob@localhost", "+15551234567",
                      "sip:bob@pbx.example.org", "+44 20 7946 0000")
        self.assertIn("+15551234567, then sip:bob@pbx.example.org, then "
                      "+442079460000 (verified)", out)
        row = self.query("SELECT phone, phone2, phone3, verified, "
                         "verified2, verified3 FROM registrations")
        self.assertEqual(row, [("+15551234567", "sip:bob@pbx.example.org",
                                "+442079460000", 1, 1, 1)])
        self.assertIn("sip:bob@pbx.example.org,+442079460000",
                      self.ok("users"))
        # Registering again with one number drops the others.
        self.ok("register", "bob@localhost", "+15551234567")
        row = self.query("SELECT phone2, phone3, verified2, verified3 "
                         "FROM registrations")
        self.assertEqual(row, [(None, None, 0, 0)])
        # Four numbers, a repeated one, a refused one: nothing changes.
        for args, words in (
                (["+15551234567", "+15557654321", "+15550001111",
                  "+15550002222"], "usage"),
                (["+15551234567", "+1 555 123 4567"], "given twice"),
                (["+15551234567", "+33 1 23 45 67 89"],
                 "allowed_prefixes")):
            with self.subTest(args=args):
                r = self.ctl("register", "bob@localhost", *args)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(words, (r.stdout + r.stderr).lower()
                              if words == "usage" else r.stderr)
                self.assertEqual(self.query(
                    "SELECT phone2 FROM registrations"), [(None,)])

    def test_register_refused(self):
        cases = [
            # (jid, phone, words the message must contain)
            ("bob@localhost", "+33 1 23 45 67 89", "allowed_prefixes"),
            ("bob@localhost", "+49 30 1234567", "country or area"),
            ("bob@localhost", "sip:bob@evil.example.com",
             "allowed_sip_domains"),
            ("bob@localhost", "5551234567", "international"),
            ("bob@localhost", "+1 555 CALL NOW", "+1 555 CALL NOW"),
            ("bob@elsewhere.net", "+15551234567", "user_domains"),
            ("bob@localhost/phone", "+15551234567", "bare JID"),
            ("not a jid", "+15551234567", "not a jid"),
        ]
        for jid, phone, words in cases:
            with self.subTest(jid=jid, phone=phone):
                err = self.refused("register", jid, phone)
                self.assertIn(words, err)
                self.assertTrue(err.startswith("ringbridgectl: "), err)
                self.assertEqual(len(err.splitlines()), 1, err)
        # Refused before the queue was even opened.
        self.assertFalse(self.db.exists())

    # -- users, unregister, jobs ------------------------------------------

    def test_users_listing(self):
        self.assertIn("no users", self.ok("users"))
        self.ok("register", "bob@localhost", "+15551234567")
        self.ok("register", "alice@localhost", "sip:alice@pbx.example.org")
        lines = self.ok("users").splitlines()
        self.assertEqual(lines[0].split()[:3], ["JID", "PHONE", "VERIFIED"])
        self.assertEqual([l.split()[0] for l in lines[1:]],
                         ["alice@localhost", "bob@localhost"])
        self.assertEqual(lines[2].split()[1:3], ["+15551234567", "yes"])

    def insert_job(self, callee, sender, state, reason=None):
        now = int(time.time() * 1000)
        con = sqlite3.connect(str(self.db))
        cur = con.execute(
            "INSERT INTO jobs (kind, state, callee_jid, destination, "
            "sender_jid, created_ms, not_before_ms, next_attempt_ms, "
            "attempts, lease_owner, lease_deadline_ms, last_reason, "
            "finished_ms) VALUES (1, ?, ?, '+15551234567', ?, ?, ?, ?, "
            "?, ?, ?, ?, ?)",
            (state, callee, sender, now, now, now, 1 if state else 0,
             "bridge-a" if state == 1 else None,
             now + 30000 if state == 1 else None, reason,
             now if state >= 2 else None))
        con.execute("INSERT INTO job_messages (job_id, seq, sender_jid, "
                    "body, received_ms, idem_key) VALUES (?, 1, ?, 'hi', "
                    "?, ?)", (cur.lastrowid, sender, now,
                              "k%d" % cur.lastrowid))
        con.commit()
        con.close()
        return cur.lastrowid

    def test_unregister_cancels_jobs(self):
        self.ok("register", "bob@localhost", "+15551234567")
        self.ok("register", "carol@localhost", "+15557654321")
        queued = self.insert_job("bob@localhost", "alice@localhost", 0)
        active = self.insert_job("bob@localhost", "dave@localhost", 1)
        done = self.insert_job("bob@localhost", "erin@localhost", 3,
                               "no answer")
        other = self.insert_job("carol@localhost", "alice@localhost", 0)

        jobs = self.ok("jobs")
        self.assertIn("queued", jobs)
        self.assertIn("active", jobs)
        self.assertNotIn("no answer", jobs)
        self.assertIn("no answer", self.ok("jobs", "--all"))
        only_carol = self.ok("jobs", "carol@localhost")
        self.assertNotIn("bob@localhost", only_carol)
        calls = self.ok("calls")
        self.assertIn("bridge-a", calls)
        self.assertIn("no answer", calls)

        out = self.ok("unregister", "bob@localhost")
        self.assertIn("2 pending jobs cancelled", out)
        self.assertIsNone(self.registration("bob@localhost"))
        states = dict(self.query("SELECT id, state FROM jobs"))
        self.assertEqual(states, {queued: 4, active: 4, done: 3, other: 0})
        self.assertNotIn("bob@localhost", self.ok("users"))
        self.assertIn("not registered",
                      self.refused("unregister", "bob@localhost"))

    # -- status -------------------------------------------------------------

    def test_status_summary(self):
        out = self.ok("status")
        self.assertIn("no status row yet", out)
        self.assertIn("Bridges alive: 0", out)
        self.assertIn("Presence lease: nobody", out)
        self.ok("register", "bob@localhost", "+15551234567")
        self.ok("register", "carol@localhost", "sip:carol@pbx.example.org")
        self.insert_job("bob@localhost", "alice@localhost", 1)
        done = self.insert_job("bob@localhost", "erin@localhost", 3,
                               "busy\x1b[31m")
        now = int(time.time() * 1000)
        con = sqlite3.connect(str(self.db))
        con.execute("INSERT INTO component_status (component, owner, "
                    "connected_ms, heartbeat_ms, privileges) VALUES "
                    "('callgw.example.org', 'host:1', ?, ?, "
                    "'localhost urn:xmpp:privilege:2 presence=yes')",
                    (now - 5000, now))
        con.execute("INSERT INTO bridge_status (owner, host, pid, "
                    "started_ms, heartbeat_ms, calls, presence_lease) "
                    "VALUES ('bridge-a', 'sip1', 42, ?, ?, 1, 1), "
                    "('bridge-dead', 'sip2', 43, ?, ?, 0, 0)",
                    (now, now, now - 600000, now - 600000))
        con.execute("INSERT INTO leases (name, owner, deadline_ms) VALUES "
                    "('presence', 'bridge-a', ?)", (now + 15000,))
        for h in (0, 0, 2):
            con.execute("INSERT INTO events (job_id, type, detail, "
                        "created_ms) VALUES (?, 1, '1', ?)",
                        (done, now - h * 3600000))
        con.commit()
        con.close()
        self.config.write_text(CONFIG.format(db=self.db).replace(
            "[xmpp]\n", "[xmpp]\ndomain = callgw.example.org\n"))

        out = self.ok("status")
        self.assertIn("Component callgw.example.org: connected since", out)
        self.assertRegex(out, r"localhost +urn:xmpp:privilege:2 presence=yes")
        self.assertRegex(out, r"example\.org +none advertised")
        self.assertIn("Bridges alive: 1\n", out)
        self.assertRegex(out, r"sip1 +42 .* 1 +yes")
        self.assertNotIn("sip2", out)
        self.assertIn("Presence lease: bridge-a until", out)
        self.assertIn("Jobs: queued 0 active 1 notified 0 failed 1 "
                      "cancelled 0", out)
        self.assertIn("Calls in progress: 1", out)
        self.assertIn("bridge-a", out)
        self.assertIn("Last outcomes (newest first): 1", out)
        self.assertIn("busy?[31m", out)  # no escape reaches the terminal
        self.assertNotIn("\x1b", out)
        self.assertIn("Registrations: 2", out)
        hours = out.rsplit("\n", 2)[-2].split()
        self.assertEqual(len(hours), 24)
        counts = [int(h.split(":")[1]) for h in hours]
        self.assertEqual((counts[-1], counts[-3], sum(counts)), (2, 1, 3))
        self.assertIn("last 24 hours, oldest first: 3 in all", out)

        out = self.ok("status", "PBX.example")
        self.assertIn("Registrations: 1", out)
        self.assertIn("carol@localhost", out)
        self.assertNotIn("+15551234567", out.split("Registrations:")[1])
        self.assertIn("usage:", self.refused("status", "a", "b", status=2))

    # -- test-call - ---------------------------------------------------------

    def test_test_calls_from_stdin(self):
        # One job per line, each reported as queued; a bad line is named
        # by its number and skipped, and the exit status says so.
        # The longest line taken: the phone, a space, the longest text.
        longest = "sip:e@pbx.example.org " + "y" * (64 * 1024)
        lines = ("sip:a@pbx.example.org Hello there.\r\n"
                 "\n"
                 "+15551234567\n"
                 "sip:b@elsewhere.example.com Not allowed.\n"
                 "sip:c@pbx.example.org " + "x" * (80 * 1024) + "\n"
                 "sip:f@pbx.example.org a\0b\n"
                 + longest + "\n"
                 "sip:d@pbx.example.org Last one.")
        r = rbtest.rb_run([str(CTL_BIN), "-c", str(self.config),
                           "test-call", "-"], input=lines, timeout=60,
                          capture_output=True, text=True)
        for marker in SANITIZER_MARKERS:
            self.assertNotIn(marker, r.stderr)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 4, r.stdout)
        self.assertIn("line 4: not queued", r.stderr)
        self.assertIn("line 5: longer than", r.stderr)
        self.assertIn("line 6: holds a NUL", r.stderr)
        for ok in ("line 1", "line 3", "line 7", "line 8"):
            self.assertNotIn(ok + ":", r.stderr)
        rows = self.query("SELECT destination FROM jobs ORDER BY id")
        self.assertEqual([d for (d,) in rows],
                         ["sip:a@pbx.example.org", "+15551234567",
                          "sip:e@pbx.example.org", "sip:d@pbx.example.org"])
        texts = [t for (t,) in self.query(
            "SELECT body FROM job_messages ORDER BY id")]
        self.assertEqual(texts[0], "Hello there.")  # the CR dropped
        self.assertEqual(texts[2], "y" * (64 * 1024))
        # "-" with --then is a usage error.
        self.assertIn("usage:", self.refused(
            "test-call", "--then", "+15551234568", "-", status=2))

    # -- usage --------------------------------------------------------------

    def test_usage(self):
        for args in (["bogus"], ["register", "bob@localhost"], [],
                     ["users", "extra"], ["jobs", "--bogus"]):
            with self.subTest(args=args):
                self.assertIn("usage:", self.refused(*args, status=2))
        r = self.ctl("--help", config=False)
        self.assertEqual(r.returncode, 0)
        self.assertIn("register JID PHONE", r.stdout)

    def test_bad_config(self):
        # A PostgreSQL server that cannot be reached: refused, and the
        # password in the URL is never printed.
        self.config.write_text("[queue]\nurl = postgresql://rb:s3cret@"
                               "db.invalid/rb?connect_timeout=2\n")
        err = self.refused("users")
        self.assertIn("cannot connect", err)
        self.assertIn("[queue] url", err)
        self.assertNotIn("s3cret", err)
        self.config.write_text("[queue]\nurl = mysql://db/rb\n")
        self.assertIn("url", self.refused("users", status=78))
        self.config.write_text("[policy]\nno_such_key = 1\n")
        self.refused("users", status=78)


if __name__ == "__main__":
    unittest.main()
