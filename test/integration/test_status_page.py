# SPDX-License-Identifier: GPL-3.0-or-later
"""The operators' /status page, end to end with every real peer (Prosody,
the component, the SIP bridge, sipp as Bob's phone, slixmpp as Alice): one
call through the whole stack, then the page refused without a password
(401 with WWW-Authenticate), with a wrong one (401, then 429 once the
per-address bound of failures is spent), served with the right one, never
for another method (405); rendered by headless Chromium (Debian chromium),
whose --dump-dom is checked for the chart's bar of the hour of the call and
for the call in the outcomes, and whose screenshot is written to a path the
test prints; an XSS probe (a registration and an outcome reason holding
<script>) shown escaped; no JID, number or message text anywhere on the
page but its tables, nor in the refusals. A component without
[http] admin_password_file answers 404, and one whose password file every
user may read refuses to start.

Cost: the story fixtures (Prosody, component, bridge) and one call of
about 15 s, plus Chromium twice (a few seconds each); COST 100 like the
other stories. It runs in the ASan build too: the page is new code on
libmicrohttpd's thread, parsing client credentials."""

import base64
import calendar
import html.parser
import http.client
import os
import pathlib
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest

import rbtest
import test_e2e_story
from rbbridge import key_pcap, pause, play
from rbtest import jid

CHROMIUM = shutil.which("chromium")
PASSWORD = "correct-horse-battery-staple"
BODY = "Hi there, the code is 4711."
BURST = 5  # STATUSPAGE_AUTH_BURST in component/statuspage.h
XSS_REG = "<script>alert('reg')</script>@localhost"
XSS_REASON = "<script>alert('reason')</script> busy"


def request(port, path="/status", auth=None, method="GET"):
    """(status, headers, body) of one request; AUTH is (user, password)."""
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(
            ("%s:%s" % auth).encode()).decode()
    try:
        con.request(method, path, headers=headers)
        r = con.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode(
            errors="replace")
    finally:
        con.close()


class Dom(html.parser.HTMLParser):
    """The bars of the chart and the rows of each table of a page."""

    def __init__(self, text):
        super().__init__()
        self.bars = []  # attribute dicts of <rect class="bar">
        self.rows = {}  # table id -> [(tr attributes, [cell texts])]
        self.svgs = 0
        self._table = None
        self._row = None
        self._cell = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.svgs += 1
        elif tag == "rect" and a.get("class") == "bar":
            self.bars.append(a)
        elif tag == "table":
            self._table = a.get("id")
            self.rows.setdefault(self._table, [])
        elif tag == "tr" and self._table:
            self._row = (a, [])
            self.rows[self._table].append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row[1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def outside_tables(text):
    """TEXT without the contents of its table cells."""
    return re.sub(r"<td[^>]*>.*?</td>", "<td></td>", text, flags=re.S)


class StatusPageTest(test_e2e_story.StoryTest):
    """StoryTest's fixtures with [http] admin_password_file; only the tests
    defined here run."""

    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="rb-status-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.password_file = self.tmp / "admin-password"
        self.password_file.write_text(PASSWORD + "\n")
        self.password_file.chmod(0o640)
        super().setUp()

    def start_component(self, prosody, start=True, **kw):
        sections = {k: dict(v) for k, v in self.component_sections.items()}
        sections["http"]["admin_password_file"] = str(self.password_file)
        kw["sections"] = sections
        return super().start_component(prosody, start, **kw)

    def chromium(self, *args):
        """Chromium headless as root on this closed network, with a fresh
        profile; returns its stdout."""
        if not CHROMIUM:
            self.fail("chromium is not installed (Debian: chromium)")
        profile = tempfile.mkdtemp(prefix="rb-chromium-", dir=self.tmp)
        url = "http://admin:%s@127.0.0.1:%d/status" % (PASSWORD,
                                                        self.http_port)
        r = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync",
             "--disable-quic", "--user-data-dir=" + profile] + list(args)
            + [url], capture_output=True, text=True,
            timeout=rbtest.scaled(120))
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        return r.stdout

    def assert_nothing_personal(self, text):
        for secret in ("alice", "bob", "Hi there", "4711",
                       str(self.phone_port), "sip:"):
            self.assertNotIn(secret, text)

    def insert_probes(self):
        """What a hostile client or server could get into the queue: a
        registration's JID and a call's reason holding markup."""
        now = int(time.time() * 1000)
        con = sqlite3.connect(str(self.db.path), timeout=10)
        try:
            con.execute(
                "INSERT INTO registrations (jid, phone, verified, "
                "verify_failures, call_when, quiet_start, quiet_end, "
                "roster_only, created_ms, updated_ms) VALUES "
                "(?, '+15550000000', 0, 0, 0, -1, 0, 0, ?, ?)",
                (XSS_REG, now, now))
            cur = con.execute(
                "INSERT INTO jobs (kind, state, callee_jid, destination, "
                "sender_jid, created_ms, not_before_ms, next_attempt_ms, "
                "attempts, last_reason, finished_ms) VALUES (1, 3, "
                "'carol@localhost', '+15550000001', 'dave@localhost', ?, ?, "
                "?, 1, ?, ?)", (now - 1000, now - 1000, now - 1000,
                                XSS_REASON, now - 500))
            con.commit()
            return cur.lastrowid
        finally:
            con.close()

    def test_page_after_one_call(self):
        # Bob passes the voicemail gate with 5, then replies with 2.
        self.phone("uas_answer.xml", test_e2e_story.GATE + [
            pause(test_e2e_story.AFTER_MESSAGE_MS), play(key_pcap(2))])
        self.alice.send_message(jid("bob"), BODY)
        self.only_message_from(jid("bob"), body=test_e2e_story.CALL_BACK)
        rbtest.wait_until(lambda: self.db.query(
            "SELECT id FROM jobs WHERE kind = 1 AND state = 2"),
            timeout=60, what="the call's job notified")
        call_job = self.db.query(
            "SELECT id FROM jobs WHERE kind = 1 AND state = 2")[0]["id"]
        hours = {r["h"]: r["n"] for r in self.db.query(
            "SELECT created_ms / 3600000 AS h, COUNT(*) AS n FROM events "
            "WHERE type = 1 GROUP BY h")}
        self.assertTrue(hours, "no CALLING event")
        probe_job = self.insert_probes()

        # Refused: no credentials, a wrong user, anything but GET/HEAD.
        status, headers, body = request(self.http_port)
        self.assertEqual(status, 401)
        self.assertTrue(headers["WWW-Authenticate"].startswith("Basic "),
                        headers)
        self.assert_nothing_personal(body + repr(headers))
        for method in ("POST", "PUT", "DELETE"):
            status, headers, _ = request(self.http_port, method=method,
                                         auth=("admin", PASSWORD))
            self.assertEqual(status, 405, method)
            self.assertEqual(headers["Allow"], "GET, HEAD")

        # Served.
        status, headers, page = request(self.http_port,
                                        auth=("admin", PASSWORD))
        self.assertEqual(status, 200, page)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        csp = headers["Content-Security-Policy"]
        self.assertIn("default-src 'none'", csp)
        self.assertNotIn("script-src", csp)
        self.assertEqual(headers["Cache-Control"], "no-store")
        self.assertNotIn("<script", page)
        self.assertIn("&lt;script&gt;alert(&#39;reason&#39;)&lt;/script&gt;",
                      page)
        self.assertIn("&lt;script&gt;alert(&#39;reg&#39;)&lt;/script&gt;",
                      page)
        self.assert_nothing_personal(outside_tables(page))
        self.assertNotIn("Hi there", page)
        self.assertNotIn("4711", page)
        status, headers, body = request(self.http_port, method="HEAD",
                                        auth=("admin", PASSWORD))
        self.assertEqual((status, body), (200, ""))

        # Searched: only Bob's row; a search too long is refused.
        status, _, page = request(self.http_port, "/status?q=BOB%40",
                                  auth=("admin", PASSWORD))
        self.assertEqual(status, 200)
        regs = Dom(page).rows["registrations"][1:]
        self.assertEqual([cells[0] for _, cells in regs], [jid("bob")])
        status, _, _ = request(self.http_port, "/status?q=" + "x" * 300,
                               auth=("admin", PASSWORD))
        self.assertEqual(status, 400)

        # Rendered by a browser: the DOM after parsing, and a screenshot.
        dom = Dom(self.chromium("--dump-dom"))
        self.assertEqual(dom.svgs, 1)
        self.assertEqual(len(dom.bars), 24)
        by_hour = {}
        for bar in dom.bars:
            h = calendar.timegm(time.strptime(bar["data-hour"],
                                              "%Y-%m-%dT%H")) // 3600
            by_hour[h] = int(bar["data-count"])
        for h, n in hours.items():
            self.assertEqual(by_hour.get(h), n, (h, by_hour))
        self.assertEqual(sum(by_hour.values()), sum(hours.values()))
        outcomes = {a.get("data-job"): cells
                    for a, cells in dom.rows["outcomes"][1:]}
        cells = outcomes[str(call_job)]
        self.assertEqual(cells[2:5], [jid("bob"), jid("alice"), "notified"])
        self.assertIn("<script>alert('reason')</script>",
                      outcomes[str(probe_job)][7])
        self.assertIn(XSS_REG, [c[0] for _, c in
                                dom.rows["registrations"][1:]])
        bridges = dom.rows["bridges"][1:]
        self.assertEqual(len(bridges), 1, bridges)
        self.assertEqual(dom.rows["jobs"][1][1][2], "1")  # notified
        shot = pathlib.Path(os.environ.get("RB_ARTIFACTS_DIR",
                                           tempfile.gettempdir())) / (
            "rb-status-page-%d.png" % os.getpid())
        self.chromium("--screenshot=%s" % shot, "--window-size=1280,900")
        self.assertTrue(shot.read_bytes().startswith(b"\x89PNG"))
        print("\nstatus page screenshot: %s" % shot, flush=True)

        # Wrong credentials (a wrong user first): BURST refusals within a
        # second (a failure is refilled every 12 s), then 429 even for the
        # right password.
        for i in range(BURST):
            status, headers, _ = request(
                self.http_port,
                auth=("root", PASSWORD) if i == 0 else ("admin", "g%d" % i))
            self.assertEqual(status, 401, i)
            self.assertTrue(headers["WWW-Authenticate"].startswith("Basic "))
        status, headers, body = request(self.http_port,
                                        auth=("admin", "guess"))
        self.assertEqual(status, 429)
        self.assertEqual(headers["Retry-After"], "12")
        self.assert_nothing_personal(body + repr(headers))
        status, _, _ = request(self.http_port, auth=("admin", PASSWORD))
        self.assertEqual(status, 429)

        # The scrape of /metrics is untouched, and still anonymous.
        status, _, metrics = request(self.http_port, "/metrics")
        self.assertEqual(status, 200)
        self.assert_nothing_personal(metrics)
        self.assertNotIn("script", metrics)


rbtest.only_own_tests(StatusPageTest)


class NoStatusPageTest(rbtest.ComponentTest):
    """Without the key there is no page; a password file others can read
    keeps the component from starting."""

    def setUp(self):
        self.http_port = rbtest.free_ports(1)[0]
        self.component_sections = {
            "http": {"listen": "127.0.0.1:%d" % self.http_port}}
        super().setUp()

    def test_404_without_the_key(self):
        for auth in (None, ("admin", PASSWORD)):
            status, _, _ = request(self.http_port, auth=auth)
            self.assertEqual(status, 404, auth)
        status, _, _ = request(self.http_port, "/metrics")
        self.assertEqual(status, 200)

    def test_password_file_readable_by_all_refused(self):
        tmp = pathlib.Path(tempfile.mkdtemp(prefix="rb-status-"))
        self.addCleanup(shutil.rmtree, tmp, True)
        pw = tmp / "pw"
        pw.write_text(PASSWORD + "\n")
        pw.chmod(0o644)
        port = rbtest.free_ports(1)[0]
        comp = self.start_component(self.prosody, sections={
            "http": {"listen": "127.0.0.1:%d" % port,
                     "admin_password_file": str(pw)}})
        rbtest.wait_until(lambda: not comp.running(), timeout=30,
                          what="the component to refuse to start")
        comp._exit_expected = True
        self.assertNotEqual(comp.proc.returncode, 0)
        self.assertIn("is readable by every user: chmod o-r it",
                      comp.log.read_text(errors="replace"))


if __name__ == "__main__":
    unittest.main()
