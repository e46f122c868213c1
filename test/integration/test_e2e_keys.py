# SPDX-License-Identifier: GPL-3.0-or-later
"""Keys 9 and 1 end to end (issue 12), on StoryTest's fixtures: Prosody,
the component, the bridge, sipp as Bob's phone, slixmpp as Alice and Carol.
Bob presses 9 for Alice: he hears the confirmation (the RTP reaching the
phone, captured and compared by SNR with the bridge's rendering of the
phrase), Alice is told, and her next message that day is not phoned (she is
told why) while Carol's is; Bob presses 1 for Carol, hears that
confirmation, and Carol gets the reply.

Cost: about 40 s (two calls of about 15 s each and the start of Prosody and
the component). It runs in both builds: it drives the call path (the key,
the pause written through the bridge's queue writer, the confirmation)
that the sanitizer build exists for, and it is short. It compares received
audio with renderings, so it runs alone (RUN_SERIAL, as the other audio
tests)."""

import calendar
import time
import types

import rbbridge
import rbtest
import test_e2e_story
from rbbridge import key_pcap, pause, play
from rbtest import jid

CONFIRM_9 = "Thank you. You will get no more calls from them today."
CONFIRM_1 = "Thank you. They will know you will reply by chat."
KEY_9 = ("☎ Bob heard your message by phone and has paused calls from you "
         "until tomorrow.")
PAUSED = ("☎ Bob has paused calls from you until tomorrow; your message "
          "waits for them.")
BY_CHAT = "☎ Bob heard your message by phone and will reply by chat."


class KeysTest(test_e2e_story.StoryTest):
    """StoryTest's fixtures with Carol as a second sender; only the tests
    defined here run."""
    users = ("alice", "carol")

    def capture(self):
        """tcpdump of what reaches Bob's phone (rbbridge.Capture wants a
        run's directory, media port and test case)."""
        return rbbridge.Capture(types.SimpleNamespace(
            dir=self.comp.dir, media_port=self.media_port, t=self))

    def assert_confirmed_last(self, heard, text):
        """TEXT's rendering is in HEARD, and nothing but the hang-up
        follows it."""
        ref = rbbridge.say(text)
        off, snr = rbbridge.find(heard, ref)
        print("%r: %.2f s at %.2f s of %.2f s heard, SNR %.1f dB" % (
            text, len(ref) / 8000, off / 8000, len(heard) / 8000, snr))
        self.assertGreater(snr, 30.0, "%r not heard (SNR %.1f dB)"
                           % (text, snr))
        self.assertLessEqual(len(heard) - (off + len(ref)), 8000,
                             "more than 1 s after the confirmation")

    def test_key_9_pauses_the_sender_until_midnight_and_key_1_replies(self):
        carol = self.client(self.prosody, "carol")
        # 9 in the menu, once the gate is passed and the message read.
        cap = self.capture()
        sipp = self.phone("uas_answer.xml", test_e2e_story.GATE + [
            pause(test_e2e_story.AFTER_MESSAGE_MS), play(key_pcap(9))])
        self.alice.send_message(jid("bob"), "Hi there.")
        self.only_message_from(jid("bob"), body=KEY_9)
        sipp.wait(rbtest.scaled(60))
        self.assertEqual(sipp.returncode, 0)
        self.assert_confirmed_last(cap.heard(), CONFIRM_9)

        # The pause ends at Bob's midnight (his zone is UTC: no tz set).
        rows = self.db.query("SELECT callee_jid, sender_jid, until_ms FROM "
                             "sender_pauses")
        self.assertEqual(len(rows), 1, rows)
        today = time.gmtime()
        midnight = calendar.timegm((today.tm_year, today.tm_mon,
                                    today.tm_mday + 1, 0, 0, 0))
        self.assertEqual(
            (rows[0]["callee_jid"], rows[0]["sender_jid"],
             rows[0]["until_ms"]),
            (jid("bob"), jid("alice"), midnight * 1000))

        # Alice again the same day: not phoned, and told so.
        self.alice.send_message(jid("bob"), "Are you there?")
        self.alice.wait_message(from_=jid("bob"), body=PAUSED, timeout=30)
        self.assertEqual(len(self.message_jobs(callee_jid=jid("bob"))), 1)
        self.assertEqual(
            self.db.query("SELECT COUNT(*) AS n FROM events WHERE type = "
                          "%d" % rbbridge.EV["CALLING"])[0]["n"], 1)

        # Carol is phoned; Bob presses 1 for her.
        cap = self.capture()
        sipp = self.phone("uas_answer.xml", test_e2e_story.GATE + [
            pause(test_e2e_story.AFTER_MESSAGE_MS), play(key_pcap(1))])
        carol.send_message(jid("bob"), "Lunch?")
        m = carol.wait_message(from_=jid("bob"), body=BY_CHAT, timeout=90)
        self.assertIsNotNone(m)
        sipp.wait(rbtest.scaled(60))
        self.assertEqual(sipp.returncode, 0)
        self.assert_confirmed_last(cap.heard(), CONFIRM_1)
        self.assertEqual(len(self.message_jobs(callee_jid=jid("bob"))), 2)


rbtest.only_own_tests(KeysTest)
