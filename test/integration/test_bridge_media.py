# SPDX-License-Identifier: GPL-3.0-or-later
"""What the phone hears: the RTP that reaches sipp is captured on loopback
(tcpdump), its G.711 decoded, and compared with the prompts synthesised
by the bridge's own engine (sip_tts_say): each prompt must be found in the
received audio nearly sample for sample (G.711 is deterministic, so the
bridge's paced stream should carry the rendering unchanged), with its full
duration."""

import shutil
import time
import unittest

import rbbridge
from rbbridge import Run
from test_bridge_call import PCMU_TE, AFTER_MESSAGE_MS, pause, play, \
    key_pcap

CONFIRM_2 = "Thank you. They will know you will call back."


class BridgeMediaTest(unittest.TestCase):

    def test_phone_hears_the_prompts(self):
        if not shutil.which("tcpdump"):
            self.skipTest("tcpdump is not installed")
        run = Run(self)
        # rbbridge.Capture: tcpdump in immediate mode, so the call's last
        # packet (the confirmation's end, checked below) is not left in a
        # kernel block when the capture stops.
        cap = rbbridge.Capture(run)
        run.start_bridge()
        sipp = run.sipp("uas_answer.xml", subst=dict(
            PCMU_TE, MEDIA="\n".join([pause(AFTER_MESSAGE_MS),
                                      play(key_pcap(2))])))
        job = run.test_call("Hi there.")
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertEqual([e[1] for e in ev if e[0] == "KEY"], ["2"])

        pkts = [p for pt, p in cap.packets() if pt == 0]
        self.assertGreater(len(pkts), 100, "no PCMU reached the phone")
        for p in pkts:
            self.assertEqual(len(p), 160)  # 20 ms packets
        heard = rbbridge.g711_samples(b"".join(pkts), 0)

        # The message prompt, as the bridge composes it (UTC: test-call
        # gives no zone).
        ms, = run.query("SELECT received_ms FROM job_messages")[0]
        when = time.strftime("%I:%M %p", time.gmtime(ms / 1000))
        if when.startswith("0"):
            when = when[1:]
        message = ("At %s you have a message from ringbridge test. "
                   "ringbridge says: Hi there." % when)
        for text in (message, CONFIRM_2):
            ref = rbbridge.say(text)
            off, snr = rbbridge.find(heard, ref)
            self.assertGreater(snr, 30.0, "%r not heard (SNR %.1f dB at "
                               "%.2f s)" % (text, snr, off / 8000))
        # The confirmation ends the call: it is the last thing played,
        # in full, before the BYE.
        ref = rbbridge.say(CONFIRM_2)
        off, _ = rbbridge.find(heard, ref)
        self.assertLessEqual(len(heard) - (off + len(ref)), 8000 * 1)


if __name__ == "__main__":
    unittest.main()
