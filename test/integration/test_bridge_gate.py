# SPDX-License-Identifier: GPL-3.0-or-later
"""The voicemail gate ([calls] gate = on) with sipp as the phone: a phone
that answers and never presses a key (what a voicemail box does) hears the
announcement and "Press any key to hear it." and nothing of the message
(the RTP it received is captured and compared with the bridge's own
rendering of the body), and the job ends answered, not heard (UNHEARD,
never HEARD), retried or not per [calls] gate_retry; a digit at the gate,
RFC 4733 or in-band, plays the message, and key 2 after it still reaches
the queue as a KEY event. The user's own setting (the job's gate, given
here with ringbridgectl test-call --gate) overrides [calls] gate both
ways. The gate off is the rest of the bridge tests (rbbridge.Run's
default).

Cost: about 110 s of calls (each unpassed gate waits out the prompt twice);
it runs in both builds, since the gate is the call path's new phase, and
alone (RUN_SERIAL), as the other tests that compare received audio."""

import time
import unittest

import rbbridge
from rbbridge import Capture, Run, key_pcap, pause, play
from test_bridge_call import detail, inband_pcap, names

# The announcement ("At 7:40 PM you have a message from ringbridge test.",
# 3.6 s) and "Press any key to hear it." (1.7 s) are over 5.3 s after the
# answer: a digit at 6.5 s falls in the wait after them. The body ("ringbridge
# says: Hi there.", 2.1 s) follows it; a key 4 s later falls in the menu.
AT_GATE_MS = 6500
AFTER_BODY_MS = 4000
GATE = "Press any key to hear it."
BODY = "ringbridge says: Hi there."


def announcement(run):
    """The gate's announcement as the bridge composes it (UTC: test-call
    gives no zone)."""
    ms, = run.query("SELECT received_ms FROM job_messages")[0]
    when = time.strftime("%I:%M %p", time.gmtime(ms / 1000))
    if when.startswith("0"):
        when = when[1:]
    return "At %s you have a message from ringbridge test." % when


def speech(text):
    """Seconds of speech (bursts, without the rendering's leading and
    trailing quiet) in TEXT as the bridge renders it."""
    return sum(e - s for s, e in rbbridge.bursts(rbbridge.say(text)))


class BridgeGateTest(unittest.TestCase):

    def assert_heard(self, heard, text, run):
        """TEXT's rendering reached the phone (rbbridge.assert_heard)."""
        return rbbridge.assert_heard(self, heard, rbbridge.say(text), text,
                                     run)

    def test_no_key_hears_no_body_and_is_not_retried(self):
        run = Run(self, gate=True, gate_retry=False, attempts=3,
                  key_timeout=3)
        cap = Capture(run)
        run.start_bridge()
        job, ev = run.answered_call([])
        heard = cap.heard()
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "UNHEARD",
                                     "FAILED", "ENDED"], run.logs())
        self.assertEqual(detail(ev, "UNHEARD"), ["gate"])
        self.assertEqual(detail(ev, "FAILED"),
                         ["answered, but nobody listened"])
        st = run.job(job)
        self.assertEqual((st["state"], st["attempts"]), (3, 1))  # failed
        self.assertEqual(run.query("SELECT heard FROM job_messages"), [(0,)])
        # The announcement and the gate, then goodbye; the body never.
        # (Each is said twice, so which of the two matches best is
        # arbitrary: no order between them is checked.)
        self.assert_heard(heard, announcement(run), run)
        self.assert_heard(heard, GATE, run)
        self.assert_heard(heard, "Goodbye.", run)
        _, snr = rbbridge.find(heard, rbbridge.say(BODY))
        self.assertLess(snr, 5.0, "the body reached the phone")
        # Both said twice (the prompt and its one repeat) and nothing
        # else: the phone got as much speech as that, within a second.
        # (Measured as speech, not by matching each repeat: a 20 ms packet
        # of silence from a late tick on a loaded machine, seen under
        # ASan, shifts the rest of a prompt and spoils a sample match.)
        want = 2 * (speech(announcement(run)) + speech(GATE)) + \
            speech("Goodbye.")
        got = sum(e - s for s, e in rbbridge.bursts(heard))
        self.assertAlmostEqual(got, want, delta=0.6,
                               msg=rbbridge.bursts(heard))

    def test_no_key_is_retried_until_attempts_run_out(self):
        run = Run(self, gate=True, attempts=2, key_timeout=2)
        run.start_bridge()
        job, ev = run.answered_call([], calls=2, timeout=120)
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "UNHEARD",
                                     "CALLING", "ANSWERED", "UNHEARD",
                                     "FAILED", "ENDED"], run.logs())
        self.assertEqual(detail(ev, "FAILED"),
                         ["answered, but nobody listened after 2 attempts"])
        self.assertEqual(run.job(job)["state"], 3)
        self.assertNotIn("HEARD", names(ev))

    def test_digit_at_gate_plays_body_and_key_2_counts(self):
        run = Run(self, gate=True, key_timeout=10)
        cap = Capture(run)
        run.start_bridge()
        job, ev = run.answered_call([
            pause(AT_GATE_MS), play(key_pcap(5)),
            pause(AFTER_BODY_MS), play(key_pcap(2))])
        heard = cap.heard()
        # The digit at the gate is no reply: no KEY 5.
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD", "KEY",
                                     "ENDED"], run.logs())
        self.assertEqual(detail(ev, "KEY"), ["2"])
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        self.assertEqual(run.query("SELECT heard FROM job_messages"), [(1,)])
        gate = self.assert_heard(heard, GATE, run)
        body = self.assert_heard(heard, BODY, run)
        self.assertGreater(body, gate, "the body came before the gate")
        # Only after the digit: the body starts after the key was sent
        # (AT_GATE_MS after the answer, which is where the audio begins).
        self.assertGreater(body / 8000, AT_GATE_MS / 1000 - 1.0)
        self.assertIn("the gate was passed", run.log.read_text())

    def test_inband_digit_at_gate(self):
        run = Run(self, gate=True, key_timeout=10)
        run.start_bridge()
        five = run.dir / "inband5.pcap"
        inband_pcap(five, "5", alaw=False)
        job, ev = run.answered_call([
            pause(AT_GATE_MS), play(five),
            pause(AFTER_BODY_MS), play(key_pcap(2))])
        # Passed by an in-band tone (PCMU), then key 2 as RFC 4733.
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD", "KEY",
                                     "ENDED"], run.logs())
        self.assertEqual(detail(ev, "KEY"), ["2"])
        self.assertIn("key 5 (in-band)", run.log.read_text())

    # The user's own setting (the job's gate, from the registration form)
    # wins over [calls] gate, both ways.

    def test_job_gate_off_reads_at_once_with_operator_gate_on(self):
        run = Run(self, gate=True, key_timeout=3)
        cap = Capture(run)
        run.start_bridge()
        job, ev = run.answered_call([], gate="off")
        heard = cap.heard()
        self.assertEqual(run.query("SELECT gate FROM jobs"), [(0,)])
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD",
                                     "ENDED"], run.logs())
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        self.assertEqual(run.query("SELECT heard FROM job_messages"), [(1,)])
        # Read at once, in one piece with the announcement, as with the
        # gate off: from the first seconds after the answer.
        at = self.assert_heard(heard, "%s %s " % (announcement(run), BODY),
                               run)
        self.assertLess(at / 8000, 2.0)
        _, snr = rbbridge.find(heard, rbbridge.say(GATE))
        self.assertLess(snr, 5.0,
                        "the gate was said to a user who turned it off")

    def test_job_gate_on_holds_with_operator_gate_off(self):
        run = Run(self, gate=False, gate_retry=False, key_timeout=2)
        cap = Capture(run)
        run.start_bridge()
        job, ev = run.answered_call([], gate="on")
        heard = cap.heard()
        self.assertEqual(run.query("SELECT gate FROM jobs"), [(1,)])
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "UNHEARD",
                                     "FAILED", "ENDED"], run.logs())
        self.assertEqual(run.query("SELECT heard FROM job_messages"), [(0,)])
        self.assert_heard(heard, GATE, run)
        _, snr = rbbridge.find(heard, rbbridge.say(BODY))
        self.assertLess(snr, 5.0, "the body reached the phone")


if __name__ == "__main__":
    unittest.main()
