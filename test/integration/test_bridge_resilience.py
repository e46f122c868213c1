# SPDX-License-Identifier: GPL-3.0-or-later
"""ringbridge-sip under stop signals, crashes and bad input, with sipp as
the phone and the queue as the judge. SIGTERM stops claiming and gives
unfinished jobs back; SIGKILL loses nothing and does not phone again for a
message heard in full; malformed SIP, incoming INVITEs, an answer without
G.711, odd RTP (timestamps half a wrap apart too) and a flood of keys never take it down, and the call they
hit still works as the events show."""

import math
import re
import signal
import socket
import struct
import time
import unittest
import warnings

import rbbridge
import rbtest
from rbbridge import PCMU_TE, Run, key_pcap, pause, play

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

G729_ONLY = dict(FORMATS="18", RTPMAPS="a=rtpmap:18 G729/8000")
DIGITS = {"1": (697, 1209), "2": (697, 1336), "3": (697, 1477),
          "7": (852, 1209), "8": (852, 1336), "0": (941, 1336)}


def names(events):
    return [e[0] for e in events]


def detail(events, name):
    return [e[1] for e in events if e[0] == name]


def vm_hwm_kb(pid):
    """The process's peak resident memory (VmHWM), in kB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for %d" % pid)


def tone(key, ms=120):
    """In-band DTMF for KEY (Q.23 pair) lasting MS, 8 kHz linear."""
    low, high = DIGITS[key]
    return [int(7000 * (math.sin(2 * math.pi * low * n / 8000) +
                        math.sin(2 * math.pi * high * n / 8000)))
            for n in range(8 * ms)]


def ulaw(samples):
    pcm = struct.pack("<%dh" % len(samples), *samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return audioop.lin2ulaw(pcm, 2)


def speech_ulaw(seconds):
    """sipp's recorded speech (PCMA), as PCMU, SECONDS long."""
    pkts = [p for pt, p in rbbridge.read_pcap_rtp(
        rbbridge.SIPP_PCAPS / "g711a.pcap", None) if pt == 8]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pcm = audioop.alaw2lin(b"".join(pkts), 2)
    return audioop.lin2ulaw(pcm[:16000 * seconds], 2)


class RtpSender:
    """The phone's media, sent by the test itself from SRC to the port in
    the bridge's offer: one stream (SSRC) per call of stream()."""

    def __init__(self, port, src="127.0.0.1"):
        self.dst = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((src, 0))
        self.seq, self.ts = 100, 5000

    def close(self):
        self.sock.close()

    def raw(self, data, port=None):
        self.sock.sendto(data, (self.dst[0], port or self.dst[1]))

    def packet(self, pt, payload, ssrc, marker=False):
        hdr = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt,
                          self.seq & 0xffff, self.ts & 0xffffffff, ssrc)
        self.seq += 1
        return hdr + payload

    def stream(self, g711, ptime_ms, ssrc, pt=0):
        """G711 bytes as packets of PTIME_MS, paced in real time."""
        step = 8 * ptime_ms
        t0 = time.monotonic()
        for i, k in enumerate(range(0, len(g711), step)):
            self.raw(self.packet(pt, g711[k:k + step], ssrc))
            self.ts += step
            delay = t0 + (i + 1) * ptime_ms / 1000 - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def event(self, key, pt=101, ssrc=0x4444, start=None):
        """One RFC 4733 press of KEY: three packets, the last with E."""
        code = 10 if key == "*" else 11 if key == "#" else int(key)
        ts = self.ts if start is None else start
        for i, (end, dur) in enumerate(((0, 400), (0, 800), (1, 800))):
            hdr = struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | pt,
                              self.seq & 0xffff, ts & 0xffffffff, ssrc)
            self.seq += 1
            self.raw(hdr + struct.pack("!BBH", code, (end << 7) | 10, dur))
        self.ts = ts + 800


# The SIGKILL tests' lease (sip.lease_seconds), renewed every LEASE / 3 s.
LEASE = 6
LEASE_CONF = "lease_seconds = %d" % LEASE


class BridgeResilienceTest(unittest.TestCase):

    # ---- stopping -------------------------------------------------------

    def test_sigterm_while_ringing_stops_claiming_and_gives_jobs_back(self):
        run = Run(self, ring_timeout=5, attempts=3)
        run.start_bridge()
        sipp = run.sipp("uas_noanswer.xml")
        job = run.test_call()
        run.wait_event(job, "CALLING", timeout=30)
        run.bridge.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        # Queued after SIGTERM (another callee, so a job of its own): not
        # claimed by a bridge that is stopping.
        other = run.test_call_to("sip:other@127.0.0.1:%d" % run.phone_port)
        self.assertNotEqual(other, job)
        # The ringing call may go on for ring_timeout (5 s), not longer.
        t0 = time.monotonic()
        self.assertEqual(run.bridge.wait(20), 0, run.logs())
        self.assertLess(time.monotonic() - t0, 12)
        run.wait_sipp(sipp)  # the bridge sent CANCEL
        for j in (job, other):
            row = run.query("SELECT state, lease_owner, lease_deadline_ms "
                            "FROM jobs WHERE id = ?", (j,))[0]
            self.assertEqual(row, (0, None, None), "job %d: %r" % (j, row))
        self.assertEqual(run.job(job)["attempts"], 1)
        self.assertEqual(run.job(other)["attempts"], 0)
        self.assertEqual(names(run.events(job)), ["CALLING"])
        self.assertEqual(run.events(other), [])

    def lease(self, run, job):
        """The job's (state, lease_owner, lease_deadline_ms)."""
        return run.query("SELECT state, lease_owner, lease_deadline_ms "
                         "FROM jobs WHERE id = ?", (job,))[0]

    def kill_and_restart(self, run, job, phone=None):
        """SIGKILL the bridge, then start the new PHONE (a callable) and a
        new bridge at once. Nobody touches the database: the killed
        bridge's lease, no longer renewed, lapses within LEASE s; the new
        bridge leaves the job alone until then and takes it over soon
        after."""
        rbtest._terminate(run.bridge, 5, signal.SIGKILL)
        killed = time.time()
        state, owner, deadline = self.lease(run, job)
        self.assertEqual(state, 1)  # still leased
        # The short lease of sip.lease_seconds, not minutes.
        self.assertLessEqual(deadline, killed * 1000 + LEASE * 1000 + 500)
        for proc, _ in run.sipps:
            rbtest._terminate(proc, 5)
        result = phone() if phone else None
        run.log = run.dir / "bridge2.log"
        run.start_bridge()
        # Until the deadline the job is still the dead bridge's.
        wait = deadline / 1000 - time.time() - 0.5
        if wait > 0:
            time.sleep(wait)
            self.assertEqual(self.lease(run, job)[:2], (1, owner))

        def taken_over():
            st, own, _ = self.lease(run, job)
            return st != 1 or own != owner
        run.wait(taken_over, LEASE + 15, "the new bridge to take the job over")
        # Within the lease, one safety-net poll (3 s) and a loaded
        # machine's slack of the kill (it was 12 minutes with the defaults
        # before leases were renewed).
        self.assertLess(time.time() - killed, LEASE + 10, run.logs())
        return result

    def test_sigkill_after_the_message_was_heard_does_not_phone_again(self):
        run = Run(self, extra_sip=LEASE_CONF)
        run.start_bridge()
        run.sipp("uas_answer.xml", subst=dict(PCMU_TE, MEDIA=""))
        job = run.test_call()
        run.wait_event(job, "HEARD", timeout=40)
        # The live bridge renews the lease: past the first deadline (the
        # call waits for a key, twice key_timeout) the job is still its
        # own, with a deadline ahead.
        _, owner, first = self.lease(run, job)
        time.sleep(max(0, first / 1000 - time.time()) + 2)
        run.assert_running()
        state, own, deadline = self.lease(run, job)
        self.assertEqual((state, own), (1, owner), run.logs())
        self.assertGreater(deadline, time.time() * 1000)
        self.kill_and_restart(run, job)
        run.wait(lambda: run.job(job)["state"] == 2, 20,
                 "the job to be finished as notified")
        time.sleep(2)
        ev = run.events(job)
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD",
                                     "ENDED"], run.logs())
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        j = run.job(job)
        self.assertEqual((j["attempts"], j["last_reason"]),
                         (1, "heard before the bridge stopped"))
        self.assertEqual(run.query("SELECT COUNT(*) FROM jobs"), [(1,)])

    def test_sigkill_before_the_message_was_heard_phones_again(self):
        run = Run(self, extra_sip=LEASE_CONF)
        run.start_bridge()
        run.sipp("uas_answer.xml", subst=dict(PCMU_TE, MEDIA=""))
        job = run.test_call("Hi there.")
        run.wait_event(job, "ANSWERED", timeout=40)
        sipp = self.kill_and_restart(run, job, lambda: run.sipp(
            "uas_answer.xml", subst=dict(PCMU_TE, MEDIA="\n".join([
                pause(9000), play(key_pcap(2))]))))
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "CALLING",
                                     "ANSWERED", "HEARD", "KEY", "ENDED"],
                         run.logs())
        self.assertEqual(detail(ev, "CALLING"), ["1", "2"])
        self.assertEqual(detail(ev, "KEY"), ["2"])
        self.assertEqual(run.job(job)["state"], 2)

    # ---- bad SIP ---------------------------------------------------------

    def test_malformed_sip_and_incoming_invites(self):
        run = Run(self)
        run.start_bridge()
        sip = rbbridge.SipProbe(self, run.sip_port)
        junk = [
            b"\x00\xff\xfe garbage \x01",
            b"INVITE\r\n\r\n",
            b"INVITE sip:x@127.0.0.1 SIP/2.0\r\n\r\n",  # no headers
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKx"
            b"\r\nCSeq: 1 INVITE\r\nCall-ID: nobody\r\n\r\n",  # no request
            sip.request("INVITE", 1, extra="Content-Length: 99999\r\n"),
            sip.request("OPTIONS", 2,
                        extra="X-Long: %s\r\n" % ("a" * 20000)),
            b"A" * 60000,
            sip.request("INVITE", 3, body="v=0\r\nnot sdp\r\n",
                        extra="Content-Type: application/sdp\r\n"),
        ]
        for data in junk:
            sip.exchange(data)
        time.sleep(1)
        run.assert_running()
        # Still answering: OPTIONS 200, and an incoming call (here with
        # no common codec, G.729 only) is refused 480: the bridge places
        # calls, it does not take them.
        reply = sip.exchange(sip.request("OPTIONS", 10),
                             "rbtest-10@127.0.0.1")
        self.assertTrue(reply.startswith("SIP/2.0 200"), reply)
        sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
               "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 18\r\n"
               "a=rtpmap:18 G729/8000\r\n")
        for n, body in ((11, sdp), (12, "")):
            reply = sip.exchange(sip.request(
                "INVITE", n, body=body,
                extra="Content-Type: application/sdp\r\n" if body else ""),
                "rbtest-%d@127.0.0.1" % n)
            self.assertTrue(reply.startswith("SIP/2.0 480"), reply)
        self.assertEqual(run.query("SELECT COUNT(*) FROM jobs"), [(0,)])
        # ...and places calls as before.
        sipp = run.sipp("uas_answer.xml", subst=dict(
            PCMU_TE, MEDIA="\n".join([pause(9000), play(key_pcap(2))])))
        job = run.test_call()
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertEqual(detail(ev, "KEY"), ["2"], run.logs())
        self.assertEqual(run.stop_bridge(), 0)

    def test_answer_without_a_common_codec_is_not_retried(self):
        run = Run(self, attempts=3, retry_backoff=1)
        run.start_bridge()
        sipp = run.sipp("uas_answer.xml", subst=dict(G729_ONLY, MEDIA=""))
        job = run.test_call()
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)  # ACKed, then the bridge's BYE
        self.assertEqual(names(ev), ["CALLING", "FAILED", "ENDED"],
                         run.logs())
        self.assertEqual(detail(ev, "FAILED"), ["no common codec"])
        time.sleep(2.5)  # past the back-off: no second call
        j = run.job(job)
        self.assertEqual((j["state"], j["attempts"]), (3, 1))

    def test_answer_sdp_sofia_loops_on_is_refused_before_it(self):
        """An answer whose second m= line has a format that is not a token
        on a non-RTP protocol (`m=audio 9 X :`): Debian 12's sofia-sip
        parser loops allocating on it (2-4.7 GB, 11-18 s). sdp_check
        refuses it first: the call ends with the reason, the job is not
        retried, the bridge's peak memory stays where it was and its loop
        answers at once."""
        run = Run(self, attempts=3, retry_backoff=1)
        run.start_bridge()
        before = vm_hwm_kb(run.bridge.pid)
        sipp = run.sipp("uas_answer.xml", subst=dict(
            FORMATS="0", RTPMAPS="m=audio 9 X :", MEDIA=""))
        job = run.test_call()
        t0 = time.monotonic()
        ev = run.wait_ended(job)
        took = time.monotonic() - t0
        run.wait_sipp(sipp)  # ACKed, then the bridge's BYE
        peak = vm_hwm_kb(run.bridge.pid)
        self.assertEqual(names(ev), ["CALLING", "FAILED", "ENDED"],
                         run.logs())
        self.assertEqual(detail(ev, "FAILED"),
                         ["answer SDP refused: m= line format is not a "
                          "token"])
        self.assertLess(peak - before, 32 * 1024, (before, peak))
        self.assertLess(took, 10)
        sip = rbbridge.SipProbe(self, run.sip_port)
        reply = sip.exchange(sip.request("INVITE", 1),
                             "rbtest-1@127.0.0.1")
        self.assertTrue(reply.startswith("SIP/2.0 480"), reply)
        time.sleep(2.5)  # past the back-off: no second call
        j = run.job(job)
        self.assertEqual((j["state"], j["attempts"]), (3, 1))

    # ---- odd RTP and keys ------------------------------------------------

    def answered_call(self, run):
        """A call whose media the test sends itself: sipp answers and
        waits for the BYE; returns (job, bridge's RTP port)."""
        sipp = run.sipp("uas_answer.xml", subst=dict(PCMU_TE, MEDIA=""))
        job = run.test_call("Hi there.")
        run.wait_event(job, "ANSWERED", timeout=30)
        return sipp, job, rbbridge.offered_rtp_port(run.sipps[-1][1])

    def test_odd_rtp_is_dropped_or_accepted_as_rfc_3550_allows(self):
        run = Run(self)
        run.start_bridge()
        sipp, job, port = self.answered_call(run)
        good = RtpSender(port)
        stranger = RtpSender(port, src="127.0.0.2")
        self.addCleanup(good.close)
        self.addCleanup(stranger.close)
        quiet = [0] * 1600
        # Each of these would press 1 (and end the call) if it counted.
        stranger.event("1")
        stranger.stream(ulaw(quiet + tone("1") + quiet), 20, 0x5555)
        good.event("1", pt=96)  # telephone-event on a type not agreed
        good.stream(ulaw(quiet + tone("1") + quiet), 20, 0x6666, pt=8)
        big = ulaw(tone("1", 150))  # 1200 bytes of audio in one packet
        good.raw(good.packet(0, big, 0x6666))
        good.raw(b"\x80" * 3000)  # oversized
        good.raw(b"\x00" * 40)  # not RTP version 2
        good.raw(b"\x80\x00\x00")  # shorter than a header
        good.raw(b"\xa0\x00\x00\x01" + b"\x00" * 8 + b"\xff")  # padding
        good.raw(b"\x90\x00\x00\x02" + b"\x00" * 8 + b"\x00\x00\xff\xff")
        # RTCP: a sender report on the RTP port and the one above.
        sr = struct.pack("!BBHIIIIII", 0x80, 200, 6, 0x6666, 0, 0, 0, 0, 0)
        good.raw(sr)
        good.raw(sr, port + 1)
        time.sleep(0.5)
        # 0 (repeat) in-band in 10 ms packets, then 7 in 30 ms packets on
        # another SSRC, then 3 s of speech and 8 in 60 ms packets on a
        # third: all accepted, the voice reply as long as the speech.
        good.stream(ulaw(quiet + tone("0") + quiet), 10, 0x1010)
        time.sleep(1)
        good.stream(ulaw(quiet + tone("7") + quiet), 30, 0x3030)
        time.sleep(5)  # the record prompt and the beep
        good.stream(speech_ulaw(3) + ulaw(quiet + tone("8", 180) + quiet),
                    60, 0x6060)
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertEqual(detail(ev, "KEY"), ["0", "7", "8"], run.logs())
        voice = [e for e in ev if e[0] == "VOICE"]
        self.assertEqual(len(voice), 1, run.logs())
        ok, seconds = rbbridge.ogg_opus_duration(voice[0][2])
        self.assertTrue(ok)
        self.assertGreater(seconds, 2.5)
        self.assertLess(seconds, 5.0)
        self.assertEqual(detail(ev, "ENDED"), ["notified"])

    def test_rtp_timestamps_half_a_wrap_apart(self):
        """RTP timestamps 2^31 apart on one SSRC (0x80000000, then 0, and
        back): the jitter buffer once overflowed an int on them (the
        sanitizer build aborted). Each jump is a new stream; the key sent
        after them still arrives."""
        run = Run(self)
        run.start_bridge()
        sipp, job, port = self.answered_call(run)
        rtp = RtpSender(port)
        self.addCleanup(rtp.close)
        quiet = ulaw([0] * 160)
        for i in range(12):
            rtp.ts = 0 if i % 2 else 0x80000000
            rtp.raw(rtp.packet(0, quiet, 0x8888))
            time.sleep(0.02)
        rtp.ts = 0x7FFFFF00  # across INT32_MAX on the way
        rtp.stream(ulaw([0] * 1600 + tone("2") + [0] * 1600), 20, 0x8888)
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertEqual(detail(ev, "KEY"), ["2"], run.logs())
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        self.assertIsNone(run.bridge.poll(), run.logs())

    def test_crlf_keepalives_and_sofias_lines(self):
        """RFC 5626 keep-alives: CRLF CRLF over UDP is not SIP (sofia's
        "received garbage", now a debug line of ours), over TCP it is
        answered CRLF. Every line the bridge writes, sofia's included, is
        one of its own formatted lines."""
        run = Run(self)
        run.start_bridge()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(udp.close)
        for data in (b"\r\n\r\n", b"\r\n", b"\r\n\r\n"):
            udp.sendto(data, ("127.0.0.1", run.sip_port))
        tcp = socket.create_connection(("127.0.0.1", run.sip_port))
        self.addCleanup(tcp.close)
        tcp.settimeout(5)
        tcp.sendall(b"\r\n\r\n")
        self.assertEqual(tcp.recv(16), b"\r\n")
        sip = rbbridge.SipProbe(self, run.sip_port)
        reply = sip.exchange(sip.request("OPTIONS", 1), "rbtest-1@127.0.0.1")
        self.assertTrue(reply.startswith("SIP/2.0 200"), reply)
        run.assert_running()
        self.assertEqual(run.stop_bridge(), 0, run.logs())
        lines = [ln for ln in run.log.read_text(errors="replace")
                 .splitlines() if ln.strip()]
        line = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z "
                          r"(error|warn|info|debug) [\w-]+: ")
        self.assertEqual([ln for ln in lines if not line.match(ln)], [])
        garbage = [ln for ln in lines if "received garbage" in ln]
        self.assertGreaterEqual(len(garbage), 1, run.logs())
        self.assertEqual([ln for ln in garbage if " debug sofia: " not in ln],
                         [])

    def test_stun_on_the_rtp_port_is_dropped_quietly(self):
        """STUN binding requests (RFC 5389; what phones behind NAT and ICE
        agents send) on the RTP port are not RTP: dropped without the
        "malformed RTP" warning, and the call goes on to the key."""
        run = Run(self)
        run.start_bridge()
        sipp, job, port = self.answered_call(run)
        rtp = RtpSender(port)
        self.addCleanup(rtp.close)
        software = b"test" + b"\x00" * 4  # SOFTWARE attribute, 4 bytes
        attr = struct.pack("!HH", 0x8022, 4) + software[:4]
        for i in range(3):
            rtp.raw(struct.pack("!HHI12s", 0x0001, len(attr), 0x2112A442,
                                b"txid%08d" % i) + attr)
            rtp.raw(struct.pack("!HHI12s", 0x0001, 0, 0x2112A442,
                                b"txid%08d" % i))
        time.sleep(0.3)
        rtp.event("2", ssrc=0x9999)
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertEqual(detail(ev, "KEY"), ["2"], run.logs())
        logs = run.logs()
        self.assertNotIn("malformed", logs)
        self.assertIn("packets that are STUN", logs)

    def test_a_flood_of_keys_is_capped(self):
        run = Run(self)
        run.start_bridge()
        sipp, job, port = self.answered_call(run)
        rtp = RtpSender(port)
        self.addCleanup(rtp.close)
        # 200 distinct presses of 0 (repeat) in about 0.4 s.
        for i in range(200):
            rtp.event("0", ssrc=0x7777)
            if i % 20 == 19:
                time.sleep(0.02)
        time.sleep(2)  # past the rate window
        rtp.event("2", ssrc=0x7777)
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        keys = detail(ev, "KEY")
        self.assertEqual(keys[-1], "2", run.logs())
        zeros = keys.count("0")
        self.assertGreaterEqual(zeros, 1)
        self.assertLessEqual(zeros, 12)
        self.assertEqual(detail(ev, "ENDED"), ["notified"])


if __name__ == "__main__":
    unittest.main()
