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
the same way. A phone whose media is Python's over libsrtp (pylibsrtp)
re-keys its direction with a re-INVITE mid-call: old-key packets are
refused, its key under the new one is heard, both ends' SRTCP decrypts.
Cost: about 55 s (two baresip calls to their key, three short sipp calls);
runs in both builds, since SRTP is on the call path (the parser of the
answer's a=crypto, protect in the media thread, unprotect on the loop)
that the sanitizers watch."""

import base64
import os
import re
import socket
import struct
import threading
import time
import unittest

import rbbaresip
import rbbridge
from rbbaresip import BARESIP
from rbbridge import DIALOG, PCMU_TE, Run, in_dialog, key_pcap, pause, play
from rbproc import wait_until

try:
    import pylibsrtp  # Debian's python3-pylibsrtp, over the same libsrtp2
except ImportError:  # pragma: no cover - scripts/test installs it
    pylibsrtp = None

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


# A re-INVITE's SDP that re-keys the phone's direction (tag 1, as
# answered) with KEY, media still at PORT.
REKEY_OFFER = ("v=0\n"
               "o=phone 1 2 IN IP[local_ip_type] [local_ip]\n"
               "s=-\n"
               "c=IN IP[media_ip_type] [media_ip]\n"
               "t=0 0\n"
               "m=audio %d RTP/SAVP 0 101\n"
               "a=rtpmap:0 PCMU/8000\n"
               "a=rtpmap:101 telephone-event/8000\n"
               "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\n"
               "a=sendrecv\n")


class SrtpPhone(threading.Thread):
    """The media half of a phone, in Python over libsrtp (pylibsrtp):
    sends PCMU silence every 20 ms as SRTP with its key, then on
    rekey() with a new one, and a key as RFC 4733 events; decrypts what
    the bridge sends (RTP and SRTCP) with the bridge's key from its offer,
    and sends SRTCP receiver reports on the bridge's stream."""

    def __init__(self, key):
        super().__init__(daemon=True)
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(50):
            self.rtp.bind(("127.0.0.1", 0))
            port = self.rtp.getsockname()[1]
            try:
                if port % 2 == 0:
                    self.rtcp.bind(("127.0.0.1", port + 1))
                    break
            except OSError:
                pass
            self.rtp.close()
            self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.port = self.rtp.getsockname()[1]
        for sk in (self.rtp, self.rtcp):
            sk.settimeout(0.02)
        self.tx = self.session(key, pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        self.old_tx = None
        self.rx = None
        self.dest = None
        self.ssrc, self.seq, self.ts = 0x5eed5eed, 1000, 8000
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.bridge_ssrc = None
        self.rtp_ok = self.rtp_bad = 0
        self.rtcp_in = []  # decrypted compound packets from the bridge
        self.rtcp_bad = 0
        self.pending = []  # packets to send next tick: (kind, bytes)

    @staticmethod
    def session(key, ssrc_type):
        return pylibsrtp.Session(policy=pylibsrtp.Policy(
            key=key, ssrc_type=ssrc_type,
            srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80))

    def listen_to(self, host, port, bridge_key):
        self.rx = self.session(bridge_key, pylibsrtp.Policy.SSRC_ANY_INBOUND)
        self.dest = (host, port)

    def packet(self, pt, payload, marker=False, ts=None):
        hdr = struct.pack("!BBHII", 0x80, pt | (0x80 if marker else 0),
                          self.seq & 0xffff, self.ts if ts is None else ts,
                          self.ssrc)
        self.seq += 1
        return hdr + payload

    def rekey(self, key, stale=5):
        """From now on KEY; and STALE packets under the old key, which the
        bridge must refuse."""
        with self.lock:
            self.old_tx, self.tx = self.tx, self.session(
                key, pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
            for _ in range(stale):
                self.pending.append(("old", self.packet(0, b"\xff" * 160)))

    def press(self, key):
        """RFC 4733: key KEY held 100 ms, its end sent three times."""
        with self.lock:
            start = self.ts
            for i in range(5):
                self.pending.append(("rtp", self.packet(
                    101, struct.pack("!BBH", key, 10, 160 * (i + 1)),
                    marker=(i == 0), ts=start)))
            for _ in range(3):
                self.pending.append(("rtp", self.packet(
                    101, struct.pack("!BBH", key, 0x80 | 10, 800),
                    ts=start)))

    def report(self, lost):
        """An RR on the bridge's stream claiming LOST packets lost, with
        SDES, as SRTCP."""
        rr = struct.pack("!BBHI", 0x81, 201, 7, self.ssrc)
        rr += struct.pack("!IIIIII", self.bridge_ssrc or 0, lost & 0xffffff,
                          0, 0, 0, 0)
        sdes = struct.pack("!BBHI", 0x81, 202, 3, self.ssrc) + \
            b"\x01\x04test\x00\x00"
        with self.lock:
            self.pending.append(("rtcp", rr + sdes))

    def run(self):
        due = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if self.dest and now >= due:
                due += 0.02
                with self.lock:
                    out = [("rtp", self.packet(0, b"\xff" * 160))]
                    self.ts += 160
                    out, self.pending = self.pending + out, []
                    for kind, p in out:
                        if kind == "rtcp":
                            self.rtp.sendto(self.tx.protect_rtcp(p),
                                            (self.dest[0], self.dest[1] + 1))
                        else:
                            tx = self.old_tx if kind == "old" else self.tx
                            self.rtp.sendto(tx.protect(p), self.dest)
            for sk in (self.rtp, self.rtcp):
                try:
                    data = sk.recv(2048)
                except (socket.timeout, BlockingIOError):
                    continue
                if self.rx is None:
                    continue
                try:
                    if sk is self.rtp:
                        plain = self.rx.unprotect(data)
                        self.bridge_ssrc = struct.unpack("!I", plain[8:12])[0]
                        self.rtp_ok += 1
                    else:
                        self.rtcp_in.append(self.rx.unprotect_rtcp(data))
                except pylibsrtp.Error:
                    if sk is self.rtp:
                        self.rtp_bad += 1
                    else:
                        self.rtcp_bad += 1

    def close(self):
        self.stop.set()
        self.join(5)
        self.rtp.close()
        self.rtcp.close()


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

    def test_rekey_mid_call(self):
        """A phone (sipp's signalling, Python's SRTP media over libsrtp)
        re-keys its direction with a re-INVITE mid-call (RFC 4568 7.1.4):
        the bridge answers 200 with its own key unchanged, refuses packets
        under the old key from then on, and the key pressed under the new
        one reaches the queue; the phone's SRTCP report under the new key
        is read (its claimed loss is in the call's quality line), and the
        bridge's own RTP and SRTCP (an SR on its stream, BYE at the end)
        decrypt with the key of its offer from start to end."""
        if pylibsrtp is None:
            raise AssertionError("python3-pylibsrtp is not installed")
        k1, k2 = os.urandom(30), os.urandom(30)
        phone = SrtpPhone(k1)
        self.addCleanup(phone.close)
        answer = dict(PCMU_TE, DIALOG=DIALOG, PORT=str(phone.port),
                      PROTO="SAVP")
        answer["RTPMAPS"] += ("\na=crypto:1 AES_CM_128_HMAC_SHA1_80 "
                              "inline:" + base64.b64encode(k1).decode())
        run = Run(self, extra_sip="srtp = require")
        run.start_bridge()
        sipp = run.sipp("uas_answer.xml", subst=dict(answer, MEDIA="\n".join(
            [pause(3000),
             in_dialog("INVITE", 2, "application/sdp", REKEY_OFFER % (
                 phone.port, base64.b64encode(k2).decode()))])))
        phone.start()
        job = run.test_call("Hello over SRTP, re-keyed.")
        msgs = run.dir / "sipp0.msg"

        def offered():
            m = re.search(r"m=audio (\d+) RTP/SAVP .*?a=crypto:1 "
                          r"AES_CM_128_HMAC_SHA1_80 inline:([A-Za-z0-9+/=]+)",
                          msgs.read_text() if msgs.exists() else "", re.S)
            return m
        m = wait_until(offered, timeout=30, what="the bridge's offer")
        phone.listen_to("127.0.0.1", int(m.group(1)),
                        base64.b64decode(m.group(2)[:40]))
        wait_until(lambda: "the phone re-keyed its SRTP" in
                   run.log.read_text(), timeout=30, what="the re-key")
        before = phone.rtp_ok
        phone.rekey(k2)
        phone.report(lost=7)
        time.sleep(1.0)
        phone.press(2)
        ev = run.wait_ended(job, timeout=40)
        phone.report(lost=7)
        run.wait_sipp(sipp)
        time.sleep(0.5)
        phone.stop.set()
        self.assertIn("KEY", names(ev), run.logs())
        self.assertEqual([e[1] for e in ev if e[0] == "KEY"], ["2"])
        log = run.log.read_text()
        # The re-INVITE's answer: our key as offered, under tag 1; no
        # other key on the wire but the phone's two.
        keys = [k[:40] for k in re.findall(
            r"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:([A-Za-z0-9+/=]+)",
            msgs.read_text())]
        phone_keys = {base64.b64encode(k).decode()[:40] for k in (k1, k2)}
        self.assertEqual(keys.count(m.group(2)[:40]), 2, keys)
        self.assertEqual(set(keys) - phone_keys, {m.group(2)[:40]})
        # The stale packets were refused and counted.
        refused = re.search(r"SRTP refused (\d+) packets that failed "
                            r"authentication", log)
        self.assertIsNotNone(refused, "old-key packets were not refused")
        self.assertGreaterEqual(int(refused.group(1)), 5)
        # Our RTP decrypted all along, before the re-key and after.
        self.assertGreater(before, 50)
        self.assertGreater(phone.rtp_ok - before, 25)
        self.assertEqual(phone.rtp_bad, 0)
        # Our SRTCP: SRs on the stream the phone heard, the last with BYE.
        self.assertTrue(phone.rtcp_in, "no SRTCP from the bridge decrypted")
        self.assertEqual(phone.rtcp_bad, 0)
        srs = [p for p in phone.rtcp_in if p[1] == 200]
        self.assertTrue(srs, "no sender report")
        self.assertEqual({struct.unpack("!I", p[4:8])[0] for p in srs},
                         {phone.bridge_ssrc})
        self.assertIn(b"\x81\xcb\x00\x01", phone.rtcp_in[-1],
                      "the last report carries no BYE")
        # The phone's report under the new key was read.
        self.assertRegex(log, r"job %d: call quality: .*the phone reported "
                         r"0\.0%% lost lately \(7 in all\)" % job)
        print("\n" + re.search(r"call quality: [^\n]*", log).group(0))

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
