# SPDX-License-Identifier: GPL-3.0-or-later
"""Call outcomes back in the sender's chat: the component's half of closing
the loop. Events are written into the queue as the SIP bridge writes them
(same tables, same codes); the end-to-end test with the real bridge lives
with the bridge's tests."""

import time

import rbtest
from rbtest import GATEWAY, jid

BOB_PHONE = "+15551234567"
NS_SID = "urn:xmpp:sid:0"
NS_HINTS = "urn:xmpp:hints"


class OutcomeBase(rbtest.ComponentTest):
    operator_registrations = {"bob": BOB_PHONE}

    def caught_job(self, to, body):
        self.alice.send_message(to, body)
        jobs, _ = self.wait_messages(jid("bob"), 1)
        return jobs[0]["id"]

    def write_events(self, job_id, events, reason=None):
        also = [("UPDATE jobs SET last_reason = ?, state = 3 WHERE id = ?",
                 (reason, job_id))] if reason else []
        self.db.write_events(job_id, events, also)

    def delivered(self, job_id):
        return [r["delivered_ms"] for r in self.db.query(
            "SELECT delivered_ms FROM events WHERE job_id = ?", (job_id,))]

    def assert_one_outcome(self, from_, body):
        m = self.alice.wait_message(from_=from_, body=body, timeout=30)
        oid = m.find(rbtest.q(NS_SID, "origin-id"))
        self.assertIsNotNone(oid)
        self.assertEqual(oid.get("id"), m.get("id"))
        self.assertIsNotNone(m.find(rbtest.q(NS_HINTS, "store")))
        time.sleep(1.5)
        same = [x for x in self.alice.messages.all()
                if x.get("from") == from_]
        self.assertEqual(len(same), 1, [rbtest.xml_str(x) for x in same])
        return m


class OutcomeTest(OutcomeBase):

    def test_key_2_reaches_alice_from_bob(self):
        job = self.caught_job(jid("bob"), "lunch?")
        self.write_events(job, [("KEY", "2"), ("ENDED", "notified")])
        self.assert_one_outcome(
            jid("bob"), "☎ Bob heard your message by phone and will call "
            "you back.")
        rbtest.wait_until(lambda: all(self.delivered(job)), timeout=10,
                          what="events marked delivered")

    def test_heard_without_key(self):
        job = self.caught_job(jid("bob"), "just so you know")
        self.write_events(job, [("KEY", "0"), ("ENDED", "notified")])
        self.assert_one_outcome(jid("bob"),
                                "☎ Bob heard your message by phone.")

    def test_failure_with_reason(self):
        job = self.caught_job(jid("bob"), "are you there?")
        self.write_events(job, [("FAILED", "busy"), ("ENDED", "failed")],
                          reason="busy after 3 attempts")
        self.assert_one_outcome(
            jid("bob"), "☎ Could not reach Bob by phone: busy after 3 "
            "attempts.")

    def test_gateway_path_answers_from_the_gateway_address(self):
        job = self.caught_job("bob@" + GATEWAY, "via the gateway")
        self.write_events(job, [("KEY", "1"), ("ENDED", "notified")])
        self.assert_one_outcome(
            "bob@" + GATEWAY, "☎ Bob heard your message by phone and will "
            "reply by chat.")

    def test_restart_between_call_and_delivery(self):
        job = self.caught_job(jid("bob"), "crash test")
        self.comp.kill()
        self.write_events(job, [("KEY", "3"), ("ENDED", "notified")])
        self.comp.start()
        self.comp.wait_ready(self.alice)
        body = ("☎ Bob heard your message by phone and will get back to "
                "you later.")
        self.assert_one_outcome(jid("bob"), body)
        rbtest.wait_until(lambda: all(self.delivered(job)), timeout=10,
                          what="events marked delivered")
        # A further restart sends nothing again.
        self.comp.stop()
        self.comp.start()
        self.comp.wait_ready(self.alice)
        time.sleep(6)  # past the component's safety-net poll
        same = [x for x in self.alice.messages.all()
                if x.get("from") == jid("bob")]
        self.assertEqual(len(same), 1)


NS_OOB = "jabber:x:oob"
VOICE_BYTES = b"OggS" + bytes(range(256)) * 40  # content is not inspected


def fetch(url, headers=None):
    import urllib.request
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, dict(r.headers), r.read()


class VoiceOverOwnHttpTest(OutcomeBase):
    """No XEP-0363 service: the component serves the file itself."""

    def setUp(self):
        self.http_port = rbtest.free_ports(1)[0]
        self.component_sections = {
            "http": {"listen": "127.0.0.1:%d" % self.http_port}}
        super().setUp()

    def write_voice(self, job_id):
        self.db.write_events(job_id, [("VOICE", "audio/ogg", VOICE_BYTES),
                                      ("ENDED", "notified")])

    def check_voice(self, host_prefix):
        job = self.caught_job(jid("bob"), "say it")
        self.write_voice(job)
        m = self.alice.wait_message(from_=jid("bob"), timeout=30)
        url = m.find(rbtest.q(NS_OOB, "x")).find(rbtest.q(NS_OOB, "url"))
        self.assertIsNotNone(url)
        body = m.find(rbtest.q(rbtest.NS_CLIENT, "body")).text
        self.assertEqual(body, url.text)
        self.assertTrue(url.text.startswith(host_prefix), url.text)
        status, headers, data = fetch(url.text)
        self.assertEqual(data, VOICE_BYTES)
        time.sleep(1.5)  # the ENDED after it adds no second message
        same = [x for x in self.alice.messages.all()
                if x.get("from") == jid("bob")]
        self.assertEqual(len(same), 1)
        return headers

    def test_voice_reply_link_downloads(self):
        headers = self.check_voice("http://127.0.0.1:%d/" % self.http_port)
        self.assertEqual(headers.get("Content-Type"), "audio/ogg")
        status, _, part = fetch(self._voice_url(), {"Range": "bytes=0-3"})
        self.assertEqual((status, part), (206, b"OggS"))

    def _voice_url(self):
        for m in self.alice.messages.all():
            x = m.find(rbtest.q(NS_OOB, "x"))
            if x is not None:
                return x.find(rbtest.q(NS_OOB, "url")).text
        raise AssertionError("no voice message")


class VoiceOverXep0363Test(VoiceOverOwnHttpTest):
    """Prosody's mod_http_file_share is found and used instead."""
    prosody_options = {"upload": True}

    def test_voice_reply_link_downloads(self):
        self.check_voice("http://127.0.0.1:%d/" % self.prosody.http_port)


class VoiceUploadRefusedTest(VoiceOverOwnHttpTest):
    """The upload service's PUT answers 404 (its slots name a path Prosody
    does not serve): the component says so by status, keeps the error page
    out of its log, and serves the file itself."""
    prosody_options = {"upload": True, "upload_path": "nowhere/"}

    def test_voice_reply_link_downloads(self):
        self.check_voice("http://127.0.0.1:%d/" % self.http_port)
        # Stopped first: stdout to a file is flushed only at exit.
        self.comp.stop()
        log = self.comp.log.read_text(errors="replace")
        self.assertIn("PUT refused by the upload service: HTTP 404 "
                      "(Not Found)", log)
        self.assertIn("voice reply upload failed: No such file", log)
        self.assertNotIn("Permission denied", log)
        # Prosody's error page (libcurl's default wrote it to stdout, the
        # log) must not appear, nor any line not written by log.c.
        self.assertNotIn("<", log)
        for line in log.splitlines():
            if line.startswith("---- "):
                continue  # the fixture's own start markers
            self.assertRegex(line, r"^\d{4}-\d\d-\d\dT[0-9:.]+Z ", line)
