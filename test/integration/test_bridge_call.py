# SPDX-License-Identifier: GPL-3.0-or-later
"""ringbridge-sip placing real calls to sipp on loopback. Each test queues
a job with `ringbridgectl test-call`, lets sipp play the phone (scenarios in
sipp/), and checks the outcome in the queue: the events written (CALLING,
ANSWERED with the codec, HEARD, KEY, VOICE with its audio, FAILED with the
reason, ENDED) and the job's state and attempts."""

import math
import struct
import time
import unittest
import warnings

import rbbridge
import rbtest
from rbbridge import (PCMA_ONLY, PCMA_TE, PCMU_TE, Run, SIPP_PCAPS,
                      key_pcap, pause, play)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # Python 3.11 (Debian 12): G.711 in the standard library

# "Hi there." reads in about 5 s after the answer (with the short
# greeting, when the rendering is late); a key after 9 s falls in the menu.
AFTER_MESSAGE_MS = 9000


def names(events):
    return [e[0] for e in events]


def detail(events, name):
    return [e[1] for e in events if e[0] == name]


def inband_pcap(path, key, alaw=True):
    """One key as in-band DTMF (Q.23 pair, 100 ms at about -10 dBm0 per
    tone) between stretches of silence, 20 ms G.711 packets."""
    low = {"1": 697, "2": 697, "3": 697, "4": 770, "5": 770, "6": 770,
           "7": 852, "8": 852, "9": 852, "0": 941}[key]
    high = {"1": 1209, "2": 1336, "3": 1477, "4": 1209, "5": 1336,
            "6": 1477, "7": 1209, "8": 1336, "9": 1477, "0": 1336}[key]
    samples = [0] * 1600
    for n in range(800):
        samples.append(int(7000 * (math.sin(2 * math.pi * low * n / 8000) +
                                   math.sin(2 * math.pi * high * n / 8000))))
    samples += [0] * 1600
    pcm = struct.pack("<%dh" % len(samples), *samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        g711 = audioop.lin2alaw(pcm, 2) if alaw else audioop.lin2ulaw(pcm, 2)
    payloads = [g711[i:i + 160] for i in range(0, len(g711), 160)]
    rbbridge.write_pcap(path, payloads, 8 if alaw else 0, ssrc=0x5151)


class BridgeCallTest(unittest.TestCase):

    def test_answer_and_key_2_rfc4733(self):
        run = Run(self)
        run.start_bridge()
        sipp = run.sipp("uas_answer.xml", subst=dict(
            PCMU_TE, MEDIA="\n".join([pause(AFTER_MESSAGE_MS),
                                      play(key_pcap(2))])))
        job = run.test_call("Hi there.")
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD", "KEY",
                                     "ENDED"], run.logs())
        self.assertEqual(detail(ev, "CALLING"), ["1"])
        self.assertEqual(detail(ev, "ANSWERED"), ["PCMU"])
        self.assertEqual(detail(ev, "HEARD"), ["1"])
        self.assertEqual(detail(ev, "KEY"), ["2"])
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        self.assertEqual(run.job(job)["state"], 2)  # notified
        self.assertEqual(run.query("SELECT heard FROM job_messages"),
                         [(1,)])
        # SIGTERM with nothing running: a clean exit, and a quiet one
        # (the writer's fd once left sofia's epoll after it was closed).
        self.assertEqual(run.stop_bridge(), 0, run.logs())
        self.assertNotIn("EPOLL_CTL_DEL", run.log.read_text(), run.logs())
        self.assertNotIn("Bad file descriptor", run.log.read_text())

    def test_sigterm_lets_the_call_finish(self):
        run = Run(self)
        run.start_bridge()
        sipp = run.sipp("uas_answer.xml", subst=dict(
            PCMU_TE, MEDIA="\n".join([pause(AFTER_MESSAGE_MS),
                                      play(key_pcap(2))])))
        job = run.test_call()
        run.wait_event(job, "ANSWERED", timeout=30)
        self.assertEqual(rbtest._terminate(run.bridge, 60), 0, run.logs())
        run.wait_sipp(sipp)
        ev = run.events(job)
        self.assertEqual(detail(ev, "KEY"), ["2"], run.logs())
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        self.assertNotIn("EPOLL_CTL_DEL", run.log.read_text(), run.logs())

    def test_ctl_test_call_applies_the_policy(self):
        run = Run(self)
        r = rbtest.rb_run([rbbridge.CTL_BIN, "-c", run.config, "test-call",
                           "sip:phone@elsewhere.example.org", "x"],
                          timeout=30, capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("not allowed", r.stderr)
        self.assertEqual(run.test_call("ok"), 1)
        self.assertEqual(run.job(1)["state"], 0)  # queued, no bridge runs

    def test_busy_then_answer_on_retry(self):
        run = Run(self, retry_backoff=3)
        run.start_bridge()
        busy = run.sipp("uas_busy.xml")
        job = run.test_call()
        run.wait_sipp(busy)
        answer = run.sipp("uas_answer.xml", subst=dict(
            PCMU_TE, MEDIA="\n".join([pause(AFTER_MESSAGE_MS),
                                      play(key_pcap(1))])))
        ev = run.wait_ended(job)
        run.wait_sipp(answer)
        self.assertEqual(detail(ev, "CALLING"), ["1", "2"], run.logs())
        self.assertEqual(detail(ev, "KEY"), ["1"])
        self.assertNotIn("FAILED", names(ev))
        j = run.job(job)
        self.assertEqual((j["state"], j["attempts"]), (2, 2))

    def test_declined_is_not_retried(self):
        run = Run(self, attempts=3, retry_backoff=1)
        run.start_bridge()
        sipp = run.sipp("uas_decline.xml")
        job = run.test_call()
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertEqual(names(ev), ["CALLING", "FAILED", "ENDED"])
        self.assertEqual(detail(ev, "FAILED"), ["rejected"])
        time.sleep(3)  # past the back-off: no second call
        j = run.job(job)
        self.assertEqual((j["state"], j["attempts"]), (3, 1))
        self.assertEqual(len(run.events(job)), 3)

    def test_no_answer_until_attempts_run_out(self):
        run = Run(self, ring_timeout=5, attempts=2, retry_backoff=1)
        run.start_bridge()
        sipp = run.sipp("uas_noanswer.xml", calls=2)
        job = run.test_call()
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertEqual(detail(ev, "CALLING"), ["1", "2"])
        self.assertEqual(detail(ev, "FAILED"),
                         ["no answer after 2 attempts"])
        j = run.job(job)
        self.assertEqual((j["state"], j["attempts"]), (3, 2))

    def test_digest_challenge_answered(self):
        run = Run(self, extra_sip="username = alice\npassword = s3cr;t!")
        run.start_bridge()
        sipp = run.sipp("uas_auth.xml", subst=dict(
            PCMU_TE, USER="alice", PASS="s3cr;t!",
            MEDIA="\n".join([pause(AFTER_MESSAGE_MS), play(key_pcap(3))])))
        job = run.test_call()
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertEqual(detail(ev, "KEY"), ["3"], run.logs())
        self.assertEqual(detail(ev, "ENDED"), ["notified"])

    def test_pcma_only_answer_and_inband_key(self):
        run = Run(self)
        pcap = run.dir / "inband3.pcap"
        inband_pcap(pcap, "3", alaw=True)
        run.start_bridge()
        sipp = run.sipp("uas_answer.xml", subst=dict(
            PCMA_ONLY, MEDIA="\n".join([pause(AFTER_MESSAGE_MS),
                                        play(pcap)])))
        job = run.test_call()
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertEqual(detail(ev, "ANSWERED"), ["PCMA"], run.logs())
        self.assertEqual(detail(ev, "KEY"), ["3"], run.logs())
        self.assertEqual(detail(ev, "ENDED"), ["notified"])

    def test_voice_reply_recorded(self):
        run = Run(self)
        run.start_bridge()
        # 7, the record prompt and beep, sipp's 7 s of PCMA speech, 8.
        sipp = run.sipp("uas_answer.xml", subst=dict(
            PCMA_TE, MEDIA="\n".join([
                pause(AFTER_MESSAGE_MS), play(key_pcap(7)), pause(5000),
                play(SIPP_PCAPS / "g711a.pcap"), pause(7600),
                play(key_pcap(8)), pause(500)])))
        job = run.test_call()
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertEqual(detail(ev, "KEY"), ["7", "8"], run.logs())
        voice = [e for e in ev if e[0] == "VOICE"]
        self.assertEqual(len(voice), 1, run.logs())
        self.assertEqual(voice[0][1], "audio/ogg")
        ok, seconds = rbbridge.ogg_opus_duration(voice[0][2])
        self.assertTrue(ok, "not Ogg/Opus")
        # sipp's recording lasts 7.05 s; the recorder trims silence at the
        # ends down to 0.5 s each.
        self.assertGreater(seconds, 5.0)
        self.assertLess(seconds, 8.5)
        self.assertEqual(detail(ev, "ENDED"), ["notified"])


if __name__ == "__main__":
    unittest.main()
