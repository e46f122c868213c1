# SPDX-License-Identifier: GPL-3.0-or-later
"""A voice reply's link outlives the component that handed it out (issue
11): two ringbridge-component processes share one queue on a real Prosody
that offers no HTTP upload, the second under another host name (`unshare
-u`, as in test_component_standby.py). The active one publishes a voice
reply through its real path (the event as the SIP bridge writes it, the
store thread's commit, the message with its jabber:x:oob link); it is
SIGKILLed; the standby's listener serves the same path with the same bytes,
Range, HEAD and Content-Type, because the file lives in the queue and not
on the dead host's disk. Both use one [recordings] base_url, as behind the
reverse proxy or floating address a link would name; the test asks each
listener directly. About 6 s, no take-over wait (the standby serves links
before it holds the session). In both builds: it drives the listener's
request parsing and the queue reads of libmicrohttpd's thread, parser code
the sanitizers are there for. Also run with RB_TEST_QUEUE=postgresql (the
layout of two hosts: ctest integration/postgresql/...), where the row
travels as bytea."""

import unittest
import urllib.parse
import urllib.request

import rbtest
# A module, not its class: a test class imported by name would run here.
import test_component_standby
from rbtest import jid

BOB_PHONE = "+15551234567"
NS_OOB = "jabber:x:oob"
BASE_URL = "https://voice.example.test/rb/"
# Not a valid Ogg file: nothing on the way inspects it.
VOICE_BYTES = b"OggS" + bytes(range(256)) * 64


def fetch(port, path, method="GET", headers=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, dict(r.headers), r.read()


class VoiceStandbyTest(rbtest.ComponentTest):
    operator_registrations = {"bob": BOB_PHONE}

    def setUp(self):
        self.http_ports = rbtest.free_ports(2)
        self.component_sections = {
            "http": {"listen": "127.0.0.1:%d" % self.http_ports[0]},
            "recordings": {"base_url": BASE_URL}}
        super().setUp()

    # The standby of test_component_standby: the same config on the
    # second HTTP port, under another host name.
    start_standby = test_component_standby.StandbyTest.start_standby

    def write_voice(self, job_id):
        """The bridge's writes at the end of a call with a voice reply."""
        self.db.write_events(job_id, [("VOICE", "audio/ogg", VOICE_BYTES),
                                      ("ENDED", "notified")])

    def test_standby_serves_the_dead_ones_link(self):
        proc, log = self.start_standby()
        rbtest.wait_until(lambda: "standby:" in log.read_text(), 20,
                          what="the second component to stand by")
        self.alice.send_message(jid("bob"), "say it")
        jobs, _ = self.wait_messages(jid("bob"), 1)
        self.write_voice(jobs[0]["id"])
        m = self.alice.wait_message(from_=jid("bob"), timeout=30)
        url = m.find(rbtest.q(NS_OOB, "x")).find(rbtest.q(NS_OOB, "url"))
        self.assertIsNotNone(url)
        self.assertTrue(url.text.startswith(BASE_URL), url.text)
        path = urllib.parse.urlsplit(url.text).path
        # The active one serves it (the prefix passed through, as a proxy
        # that does not strip it would)...
        status, _, data = fetch(self.http_ports[0], path)
        self.assertEqual((status, data), (200, VOICE_BYTES))

        # ...and after it is SIGKILLed, the standby does: same bytes.
        self.comp.kill()
        status, headers, data = fetch(self.http_ports[1], path)
        self.assertEqual(status, 200)
        self.assertEqual(data, VOICE_BYTES)
        self.assertEqual(headers.get("Content-Type"), "audio/ogg")
        self.assertEqual(headers.get("Accept-Ranges"), "bytes")
        status, headers, part = fetch(self.http_ports[1], path,
                                      headers={"Range": "bytes=4-99"})
        self.assertEqual((status, part), (206, VOICE_BYTES[4:100]))
        self.assertEqual(headers.get("Content-Range"),
                         "bytes 4-99/%d" % len(VOICE_BYTES))
        status, headers, data = fetch(self.http_ports[1], path, "HEAD")
        self.assertEqual((status, data), (200, b""))
        self.assertEqual(int(headers.get("Content-Length")),
                         len(VOICE_BYTES))
        # The row is in the queue, not a file in the component's directory.
        rows = self.db.query("SELECT name, mime, length(bytes) AS n FROM "
                             "published_audio")
        self.assertEqual([(r["name"], r["mime"], r["n"]) for r in rows],
                         [(path.rsplit("/", 1)[1], "audio/ogg",
                           len(VOICE_BYTES))])
        self.assertFalse((self.comp.dir / "recordings").exists())
        self.assertIsNone(proc.poll(), rbtest.tail(log))


if __name__ == "__main__":
    unittest.main()
