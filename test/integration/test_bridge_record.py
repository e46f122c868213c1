# SPDX-License-Identifier: GPL-3.0-or-later
"""Voice replies that end other than by key 8 or silence, and how fast a
new job reaches the phone, checked in the queue (events, job state), in
the recorded audio and in the RTP that reaches the phone: a reply cut by
[recordings] max_seconds while the phone keeps speaking is sent, as long
as max_seconds, and confirmed; a reply cut by the phone hanging up is
still sent with what was said; a queued job is called at once by the
wake-up, not by the safety-net poll ([sip] poll_interval)."""

import math
import struct
import time
import unittest
import warnings

import rbbridge
from rbbridge import PCMU_TE, Run, key_pcap, pause, play

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


def names(events):
    return [e[0] for e in events]


def detail(events, name):
    return [e[1] for e in events if e[0] == name]


def talk_pcap(path, seconds):
    """SECONDS of sound without a pause (a 300 Hz tone, its loudness
    swinging like a voice between about -20 and -12 dBm0), PCMU in 20 ms
    packets: a phone that keeps speaking."""
    n = int(seconds * 8000)
    samples = [int((4000 + 2000 * math.sin(2 * math.pi * 3 * i / 8000)) *
                   math.sin(2 * math.pi * 300 * i / 8000)) for i in range(n)]
    pcm = struct.pack("<%dh" % n, *samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        g711 = audioop.lin2ulaw(pcm, 2)
    rbbridge.write_pcap(path, [g711[i:i + 160]
                               for i in range(0, len(g711), 160)], 0,
                        ssrc=0x7070)
    return path


class BridgeRecordTest(unittest.TestCase):

    def test_voice_reply_ended_by_max_seconds(self):
        # The phone never pauses: no silence to end it, only max_seconds.
        run = Run(self, max_seconds=4, silence_seconds=4)
        cap = rbbridge.Capture(run)
        run.start_bridge()
        talk = talk_pcap(run.dir / "talk.pcap", 25)
        # 7 during the menu; the phone talks from 1 s later, through the
        # record prompt and on (play_pcap_audio goes on while sipp waits
        # for the bridge's BYE).
        sipp = run.sipp("uas_answer.xml", subst=dict(
            PCMU_TE, MEDIA="\n".join([
                pause(9000), play(key_pcap(7)), pause(1000), play(talk)])))
        job = run.test_call()
        ev = run.wait_ended(job, timeout=120)
        run.wait_sipp(sipp)
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD", "KEY",
                                     "VOICE", "ENDED"], run.logs())
        self.assertEqual(detail(ev, "KEY"), ["7"])
        voice = [e for e in ev if e[0] == "VOICE"][0]
        self.assertEqual(voice[1], "audio/ogg")
        ok, secs = rbbridge.ogg_opus_duration(voice[2])
        self.assertTrue(ok, voice[2][:64])
        # All of it is sound, nothing to trim: as long as max_seconds.
        self.assertGreater(secs, 3.7, run.logs())
        self.assertLess(secs, 4.3, run.logs())
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        self.assertEqual(run.job(job)["state"], 2)
        # The phone heard the record prompt, the beep, max_seconds of
        # the bridge listening, then the confirmation.
        heard = cap.heard()
        prompt = rbbridge.say(
            "Record your reply after the tone. Press 8 when done.")
        off, snr = rbbridge.find(heard, prompt)
        self.assertGreater(snr, 30.0, "no record prompt (SNR %.1f dB)" % snr)
        after = heard[off + len(prompt):]
        off, snr = rbbridge.find(after, rbbridge.say(
            "Your reply was sent. Goodbye."))
        self.assertGreater(snr, 30.0, "no confirmation (SNR %.1f dB)" % snr)
        self.assertGreaterEqual(off / 8000, 4.0)
        self.assertLess(off / 8000, 6.5)

    def test_voice_reply_cut_by_the_phone_hanging_up_is_kept(self):
        run = Run(self, max_seconds=30, silence_seconds=10)
        run.start_bridge()
        talk = talk_pcap(run.dir / "talk.pcap", 25)
        # 7, talk from 1 s later, and hang up 8 s after the key: the
        # record prompt and beep take about 4 s of that.
        sipp = run.sipp("uas_hangup.xml", subst=dict(
            PCMU_TE, MEDIA="\n".join([
                pause(9000), play(key_pcap(7)), pause(1000), play(talk),
                pause(7000)])))
        job = run.test_call()
        ev = run.wait_ended(job, timeout=120)
        run.wait_sipp(sipp)
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD", "KEY",
                                     "VOICE", "ENDED"], run.logs())
        voice = [e for e in ev if e[0] == "VOICE"][0]
        self.assertEqual(voice[1], "audio/ogg")
        ok, secs = rbbridge.ogg_opus_duration(voice[2])
        self.assertTrue(ok, voice[2][:64])
        # What was said between the beep and the hang-up.
        self.assertGreater(secs, 1.0, run.logs())
        self.assertLess(secs, 7.0, run.logs())
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        self.assertEqual(run.job(job)["state"], 2)

    def test_a_queued_job_is_called_at_once_not_at_the_poll(self):
        # The safety-net poll only every 30 s: a job called within 5 s
        # was claimed by the wake-up from `ringbridgectl test-call`.
        run = Run(self, extra_sip="poll_interval = 30")
        run.start_bridge()
        sipp = run.sipp("uas_decline.xml")
        time.sleep(2.0)  # past the claim the bridge makes as it starts
        queued_ms = int(time.time() * 1000)
        job = run.test_call()
        ev = run.wait_ended(job, timeout=60)
        run.wait_sipp(sipp)
        # The phone got the INVITE and declined it: the call's outcome.
        self.assertEqual(names(ev), ["CALLING", "FAILED", "ENDED"],
                         run.logs())
        times = dict(run.query("SELECT type, created_ms FROM events WHERE "
                               "job_id = ?", (job,)))
        took = (times[rbbridge.EV["FAILED"]] - queued_ms) / 1000
        self.assertLess(took, 5.0, run.logs())


if __name__ == "__main__":
    unittest.main()
