# SPDX-License-Identifier: GPL-3.0-or-later
"""What a call does beyond one message and one key, checked in the queue
and in the RTP that reaches the phone (captured on loopback, decoded, and
compared with the bridge's own rendering of each prompt): verification
calls read the code twice, slowly; messages that join the job during the
call are read next; with no key the menu is read once more and the call
ends as heard; max_call_seconds ends a call; `ringbridgectl calls` shows
the call in progress and its outcome."""

import unittest

import rbbridge
import rbtest
from rbbridge import PCMU_TE, Run, key_pcap, pause, play

MENU = ("Press 1 to reply by chat, 2 if you will call back, 3 if you will "
        "get back later, 7 to record a voice reply, 0 to hear it again.")
# Key 9's phrase of its own, played right after the menu.
MENU_9 = "Press 9 for no more calls from them today."


def names(events):
    return [e[0] for e in events]


def detail(events, name):
    return [e[1] for e in events if e[0] == name]


class BridgeFlowTest(unittest.TestCase):

    def test_verification_call_reads_the_code_twice_slowly(self):
        run = Run(self)
        cap = rbbridge.Capture(run)
        run.start_bridge()
        # The phone answers and listens: the bridge hangs up.
        sipp = run.sipp("uas_answer.xml", subst=dict(PCMU_TE, MEDIA=""))
        job = rbbridge.queue_verify(run, "493817")
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "VERIFY_SPOKEN",
                                     "ENDED"], run.logs())
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        self.assertEqual(run.job(job)["state"], 2)

        heard = cap.heard()
        text = ("Your ringbridge verification code is 4, 9, 3, 8, 1, 7. "
                "Again: 4, 9, 3, 8, 1, 7. Goodbye.")
        ref = rbbridge.say(text)
        off, snr = rbbridge.find(heard, ref)
        self.assertGreater(snr, 30.0, "the code was not heard (SNR %.1f dB)"
                           % snr)
        # Slowly: every digit stands alone, a pause after each, so the
        # prompt is at least the sentence, 2 x 6 digits and "Goodbye".
        parts = rbbridge.bursts(heard[off:off + len(ref)])
        self.assertGreaterEqual(len(parts), 12, parts)
        self.assertGreater(len(ref) / 8000, 9.0)
        # Then the bridge hangs up: nothing follows the prompt.
        self.assertLessEqual(len(heard) - (off + len(ref)), 8000)

    def test_messages_that_join_during_the_call_are_read_next(self):
        run = Run(self)
        cap = rbbridge.Capture(run)
        run.start_bridge()
        # The first message and the menu take about 15 s; the second
        # message (3 s) and the menu again follow; key 2 in that menu.
        sipp = run.sipp("uas_answer.xml", subst=dict(
            PCMU_TE, MEDIA="\n".join([pause(21000), play(key_pcap(2))])))
        job = run.test_call("Hi there.")
        run.wait_event(job, "ANSWERED", timeout=30)
        self.assertEqual(run.test_call("Second message."), job,
                         "the second message did not join the job")
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD", "HEARD",
                                     "KEY", "ENDED"], run.logs())
        self.assertEqual(detail(ev, "HEARD"), ["1", "2"])
        self.assertEqual(detail(ev, "KEY"), ["2"])
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        self.assertEqual(run.query("SELECT seq, heard FROM job_messages "
                                   "ORDER BY seq"), [(1, 1), (2, 1)])
        # No second job for the second message: it was read in this call.
        self.assertEqual(run.query("SELECT COUNT(*) FROM jobs"), [(1,)])

        heard = cap.heard()
        first = rbbridge.find(heard, rbbridge.say("Hi there."))
        also = rbbridge.find(heard, rbbridge.say(
            "ringbridge also wrote: Second message."))
        self.assertGreater(also[1], 30.0, "the joined message was not read")
        self.assertGreater(also[0], first[0])

    def test_no_key_repeats_the_menu_once_then_ends_as_heard(self):
        run = Run(self, key_timeout=2)
        cap = rbbridge.Capture(run)
        run.start_bridge()
        sipp = run.sipp("uas_answer.xml", subst=dict(PCMU_TE, MEDIA=""))
        job = run.test_call("Hi there.")
        run.wait_event(job, "ANSWERED", timeout=30)
        # ringbridgectl calls: the call in progress, held by this bridge.
        calls = self.ctl_calls(run)
        active, done = calls.split("Last ")
        self.assertIn(run.phone_uri(), active)
        self.assertIn(":%d:" % run.bridge.pid, active)
        self.assertIn("none", done)
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD",
                                     "ENDED"], run.logs())
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        self.assertEqual(run.job(job)["state"], 2)
        # ...and the outcome among the finished calls.
        active, done = self.ctl_calls(run).split("Last ")
        self.assertIn("none", active)
        row = [l for l in done.splitlines() if l.split()[:1] == [str(job)]]
        self.assertEqual(len(row), 1, done)
        self.assertIn("notified", row[0])

        heard = cap.heard()
        menu = rbbridge.say(MENU) + rbbridge.say(MENU_9)
        found = rbbridge.find_all(heard, menu)
        self.assertEqual(len(found), 2, "the menu was read %d times" %
                         len(found))
        # The second reading starts after the key_timeout of silence.
        gap = (found[1] - (found[0] + len(menu))) / 8000
        self.assertGreaterEqual(gap, 1.8)
        self.assertLess(gap, 4.0)
        bye = rbbridge.say("Goodbye.")
        off, snr = rbbridge.find(heard[found[1]:], bye)
        self.assertGreater(snr, 30.0, "no goodbye")

    def test_max_call_seconds_ends_the_call(self):
        run = Run(self, max_call_seconds=10, attempts=1)
        run.start_bridge()
        sipp = run.sipp("uas_answer.xml", subst=dict(PCMU_TE, MEDIA=""))
        long_text = " ".join(["This sentence is part of a long message."]
                             * 8)
        job = run.test_call(long_text)
        run.wait_event(job, "ANSWERED", timeout=30)
        ev = run.wait_ended(job, timeout=30)
        run.wait_sipp(sipp)  # sipp received the bridge's BYE
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "FAILED",
                                     "ENDED"], run.logs())
        self.assertEqual(detail(ev, "FAILED"),
                         ["the call reached its time limit after 1 attempt"])
        times = dict(run.query("SELECT type, created_ms FROM events WHERE "
                               "job_id = ?", (job,)))
        lasted = (times[rbbridge.EV["ENDED"]] -
                  times[rbbridge.EV["ANSWERED"]]) / 1000
        self.assertGreater(lasted, 9.5)
        self.assertLess(lasted, 12.0)
        j = run.job(job)
        self.assertEqual((j["state"], j["attempts"]), (3, 1))

    def test_a_key_during_the_message_stops_it(self):
        run = Run(self)
        cap = rbbridge.Capture(run)
        run.start_bridge()
        # Key 2 two seconds into a message that takes fifteen.
        sipp = run.sipp("uas_answer.xml", subst=dict(
            PCMU_TE, MEDIA="\n".join([pause(2000), play(key_pcap(2))])))
        text = " ".join(["This is a long message that is cut short."] * 6)
        job = run.test_call(text)
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        # The reply counts as hearing it: not phoned again for it.
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD", "KEY",
                                     "ENDED"], run.logs())
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        heard = cap.heard()
        # The phone heard about 2 s of the message, then the
        # confirmation (2.7 s), then the BYE: far less than the message
        # alone (over 12 s) would take. (Lengths, not sample matches: a
        # packet lost by the capture on a loaded machine must not fail
        # this test.)
        full = len(rbbridge.say(text)) / 8000
        confirm = len(rbbridge.say("Thank you. They will know you will "
                                   "call back.")) / 8000
        self.assertGreater(full, 12.0)
        self.assertGreater(len(heard) / 8000, confirm)
        self.assertLess(len(heard) / 8000, 2.0 + confirm + 3.0)

    def test_voice_reply_ended_by_silence_as_mp3(self):
        run = Run(self, extra_recordings="format = mp3")
        run.start_bridge()
        # 7, the record prompt and beep, sipp's 7 s of speech, then no
        # packets at all (as with silence suppression): the recording
        # ends after silence_seconds (3) without key 8.
        speech = rbbridge.SIPP_PCAPS / "g711a.pcap"
        sipp = run.sipp("uas_answer.xml", subst=dict(
            rbbridge.PCMA_TE, MEDIA="\n".join([
                pause(9000), play(key_pcap(7)), pause(5000), play(speech),
                pause(7500)])))
        job = run.test_call()
        ev = run.wait_ended(job, timeout=120)
        run.wait_sipp(sipp)
        self.assertEqual(detail(ev, "KEY"), ["7"], run.logs())
        voice = [e for e in ev if e[0] == "VOICE"]
        self.assertEqual(len(voice), 1, run.logs())
        self.assertEqual(voice[0][1], "audio/mpeg")
        blob = voice[0][2]
        # An MPEG audio frame sync (after an optional ID3 tag).
        start = 0
        if blob[:3] == b"ID3":  # a tag of syncsafe size first
            start = 10 + sum((b & 0x7f) << (7 * (3 - i))
                             for i, b in enumerate(blob[6:10]))
        self.assertEqual(blob[start] & 0xff, 0xff, blob[:16])
        self.assertEqual(blob[start + 1] & 0xe0, 0xe0, blob[:16])
        # Ended by the silence: the speech starts about 5 s after the
        # key and lasts 7 s, then 3 s of silence; max_seconds (30) would
        # end it 30 s after the beep.
        times = dict(run.query("SELECT type, created_ms FROM events WHERE "
                               "job_id = ?", (job,)))
        took = (times[rbbridge.EV["VOICE"]] - times[rbbridge.EV["KEY"]]) \
            / 1000
        self.assertGreater(took, 13.0)
        self.assertLess(took, 22.0)
        self.assertEqual(detail(ev, "ENDED"), ["notified"])

    def test_max_calls_holds_further_jobs_until_a_call_ends(self):
        run = Run(self, max_calls=1)
        run.start_bridge()
        sipp = run.sipp("uas_answer.xml", calls=2, subst=dict(
            PCMU_TE, MEDIA="\n".join([pause(9000), play(key_pcap(2))])))
        first = run.test_call()
        second = run.test_call_to("sip:other@127.0.0.1:%d" % run.phone_port)
        self.assertNotEqual(first, second)
        run.wait_ended(first)
        run.wait_ended(second)
        run.wait_sipp(sipp)
        when = {}
        for job in (first, second):
            when[job] = dict(run.query(
                "SELECT type, created_ms FROM events WHERE job_id = ?",
                (job,)))
            self.assertEqual(detail(run.events(job), "KEY"), ["2"])
        # One call at a time: the second INVITE after the first call
        # ended.
        self.assertGreaterEqual(when[second][rbbridge.EV["CALLING"]],
                                when[first][rbbridge.EV["ENDED"]])

    def test_unreachable_is_retried_then_fails(self):
        # Nothing listens on the phone's port: the INVITE meets an ICMP
        # port unreachable (sofia's 503) or times out.
        run = Run(self, attempts=2, retry_backoff=1)
        run.start_bridge()
        job = run.test_call()
        ev = run.wait_ended(job, timeout=60)
        self.assertEqual(names(ev), ["CALLING", "CALLING", "FAILED",
                                     "ENDED"], run.logs())
        self.assertEqual(detail(ev, "FAILED"),
                         ["unreachable after 2 attempts"])
        j = run.job(job)
        self.assertEqual((j["state"], j["attempts"]), (3, 2))

    def ctl_calls(self, run):
        r = rbtest.rb_run([rbbridge.CTL_BIN, "-c", run.config, "calls"],
                          timeout=30, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout


if __name__ == "__main__":
    unittest.main()
