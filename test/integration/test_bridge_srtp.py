# SPDX-License-Identifier: GPL-3.0-or-later
"""SRTP ([sip] srtp, keys by SDES) against real phones. With srtp =
require, Debian's baresip 1.0 with its srtp module (mediaenc=srtp-mand)
answers a call over TLS: it must hear the prompt as rendered and its key
2 must reach the queue (so both directions decrypt), while a capture of
what the bridge sent shows SRTP, not the prompt: every packet carries the
80-bit tag, and the payloads decoded as PCMU do not match the rendering.
A plain phone (sipp, RTP/AVP without a=crypto) is hung up on with the
outcome the sender reads, not retried; with srtp = offer the same plain
phone gets the call as before, in plain RTP it can hear.
baresip's best-effort mode (mediaenc=srtp) gets SRTP from srtp = offer
the same way.
Cost: about 45 s (two baresip calls to their key, two short sipp calls);
runs in both builds, since SRTP is on the call path (the parser of the
answer's a=crypto, protect in the media thread, unprotect on the loop)
that the sanitizers watch."""

import re
import unittest

import rbbaresip
import rbbridge
from rbbaresip import BARESIP
from rbbridge import DIALOG, PCMU_TE, Run, in_dialog, key_pcap, pause, play

# The ends of the prompt are compared, not single bytes: an SNR under this
# is noise (the plain rendering through PCMU scores above 30 dB).
NOT_HEARD_DB = 6.0

# A re-INVITE's SDP offering SRTP (RFC 4568's example key; sipp fills the
# addresses).
SAVP_REOFFER = ("v=0\n"
                "o=phone 1 2 IN IP[local_ip_type] [local_ip]\n"
                "s=-\n"
                "c=IN IP[media_ip_type] [media_ip]\n"
                "t=0 0\n"
                "m=audio [media_port] RTP/SAVP 0 101\n"
                "a=rtpmap:0 PCMU/8000\n"
                "a=rtpmap:101 telephone-event/8000\n"
                "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
                "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\n"
                "a=sendrecv\n")


def names(events):
    return [e[0] for e in events]


class BridgeSrtpTest(unittest.TestCase):

    def setUp(self):
        if not BARESIP:
            raise AssertionError("baresip (Debian baresip-core) is missing")

    def test_require_baresip_srtp_heard_and_key(self):
        self.srtp_call("srtp-mand", "require")

    def test_offer_baresip_best_effort_gets_srtp(self):
        # baresip's best-effort SRTP answers our RTP/AVP offer with a key.
        self.srtp_call("srtp", "offer")

    def srtp_call(self, mediaenc, mode):
        """baresip with MEDIAENC called with [sip] srtp = MODE: heard,
        its key back, and SRTP on the wire."""
        run, uri, ctrl_port, snd = rbbaresip.world(
            self, "127.0.0.1", mediaenc=mediaenc,
            extra_sip="srtp = " + mode)
        lo, hi = run.rtp_ports
        # What the bridge sends: from its RTP ports, to the phone's.
        cap = rbbridge.Capture(run, ["udp", "src", "portrange",
                                     "%d-%d" % (lo, hi), "and", "not",
                                     "dst", "portrange",
                                     "%d-%d" % (lo, hi)])
        said = rbbaresip.heard_and_key(self, run, uri, ctrl_port, snd,
                                       "Hello over SRTP.")
        log = run.log.read_text()
        self.assertIn("media is SRTP (AES_CM_128_HMAC_SHA1_80, keys by "
                      "SDES)", log)
        self.assertNotIn("SRTP authentication", log)
        self.assertNotIn("SRTP refused", log)
        self.assertNotIn("travel in clear", log)
        every = cap.packets()
        # RTCP from the odd ports: SR (200) or RR (201), the marker bit
        # read as part of the payload type.
        rtcp = [p for pt, p in every if pt in (200 & 0x7f, 201 & 0x7f)]
        pkts = [(pt, p) for pt, p in every if pt not in (72, 73)]
        self.assertGreater(len(pkts), 100, "captured too little RTP")
        # 160 bytes of PCMU and the 10-byte tag, every packet.
        self.assertEqual({(pt, len(p)) for pt, p in pkts}, {(0, 170)})
        # SRTCP: encrypted (the E bit of the index before the 80-bit tag,
        # whatever the RTP suite), the last with BYE; and baresip's
        # reports decrypted and read.
        self.assertTrue(rtcp, "the bridge sent no RTCP")
        for p in rtcp:
            self.assertTrue(p[-14] & 0x80, "SRTCP sent unencrypted")
        m = re.search(r"call quality: .*; the phone reported [^;]*(; |, "
                      r"round trip)[^\n]*RTCP: (\d+) sent, (\d+) received",
                      log)
        self.assertIsNotNone(m, "no report of baresip's read")
        print("\n" + m.group(0))
        self.assertGreaterEqual(int(m.group(3)), 1)
        wire = rbbridge.g711_samples(b"".join(p[:160] for _, p in pkts))
        _, snr = rbbridge.find(wire, rbbridge.say(said))
        self.assertLess(snr, NOT_HEARD_DB, "the prompt is on the wire in "
                        "plain PCMU (SNR %.1f dB)" % snr)

    def test_require_refuses_a_plain_phone(self):
        run = Run(self, extra_sip="srtp = require")
        run.start_bridge()
        sipp = run.sipp("uas_answer.xml", subst=dict(PCMU_TE, MEDIA=""))
        job = run.test_call("Hello in clear.")
        ev = run.wait_ended(job, timeout=40)
        run.wait_sipp(sipp)
        reason = "the phone does not support encrypted media (SRTP is " \
                 "required)"
        self.assertEqual(names(ev), ["CALLING", "FAILED", "ENDED"],
                         run.logs())
        self.assertEqual([e[1] for e in ev if e[0] == "FAILED"], [reason])
        j = run.job(job)
        # Failed at once: the same phone would answer the same.
        self.assertEqual((j["state"], j["attempts"]), (3, 1), j)
        self.assertEqual(j["last_reason"], reason)
        log = run.log.read_text()
        self.assertIn("job %d: hanging up: the answer has no usable SRTP "
                      "key (no a=crypto line; answered RTP/AVP) and [sip] "
                      "srtp = require" % job, log)
        self.assertIn("the SRTP keys travel in clear in the SDP", log)
        offer = (run.dir / "sipp0.msg").read_text()
        self.assertIn("RTP/SAVP 0 8 101", offer)
        self.assertIn("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:", offer)
        self.assertIn("a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:", offer)
        # The keys are never logged.
        key = offer.split("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:")[1]
        self.assertNotIn(key[:40], log)

    def test_offer_plain_phone_as_before(self):
        run = Run(self, extra_sip="srtp = offer")
        run.start_bridge()
        cap = rbbridge.Capture(run)
        # Mid-call, the phone offers RTP/SAVP: starting SRTP in a call
        # that began plain is refused (488), and the call goes on.
        job, ev = run.answered_call(
            [pause(2000),
             in_dialog("INVITE", 2, "application/sdp", SAVP_REOFFER,
                       expect=488),
             pause(7000), play(key_pcap(2))],
            codecs=dict(PCMU_TE, DIALOG=DIALOG), text="Hello in clear.")
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD", "KEY",
                                     "ENDED"], run.logs())
        self.assertEqual([e[1] for e in ev if e[0] == "KEY"], ["2"])
        offer = (run.dir / "sipp0.msg").read_text()
        self.assertIn("RTP/AVP 0 8 101", offer)
        self.assertIn("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:", offer)
        log = run.log.read_text()
        self.assertIn("job %d: the phone answered plain RTP" % job, log)
        self.assertIn("job %d: offer in the call refused: it starts SRTP in "
                      "a call that began plain" % job, log)
        said = rbbridge.said(run, job)
        _, snr = rbbridge.find(cap.heard(), rbbridge.say(said))
        self.assertGreater(snr, 20.0, "the plain phone did not hear the "
                           "prompt (SNR %.1f dB)" % snr)


if __name__ == "__main__":
    unittest.main()
