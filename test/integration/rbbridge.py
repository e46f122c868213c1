"""Fixtures for ringbridge-sip's integration tests: a temporary
configuration and queue, the bridge started from $RB_BUILD_DIR, sipp
(Debian's sip-tester) as the phone running a UAS scenario from sipp/, jobs
queued with `ringbridgectl test-call`, and the queue read back with sqlite3
(events, job state), never log lines. Process handling follows rbtest.py:
loopback ports per run, processes stopped by pid, sanitizer reports in any
log fail the test."""

import os
import pathlib
import random
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import time

import rbtest
from rbtest import BUILD_DIR, SANITIZER_MARKERS, free_ports, wait_until

SIP_BIN = BUILD_DIR / "ringbridge-sip"
CTL_BIN = BUILD_DIR / "ringbridgectl"
SCENARIOS = pathlib.Path(__file__).resolve().parent / "sipp"
SIPP_PCAPS = pathlib.Path("/usr/share/sip-tester")

EV = {"CALLING": 1, "ANSWERED": 2, "HEARD": 3, "KEY": 4, "VOICE": 5,
      "FAILED": 6, "ENDED": 7, "VERIFY_SPOKEN": 8}
EV_NAME = {v: k for k, v in EV.items()}

CONFIG = """\
[queue]
url = sqlite:{db}

[sip]
listen = sip:127.0.0.1:{sip_port}
rtp_port_min = {rtp_min}
rtp_port_max = {rtp_max}
ring_timeout = {ring_timeout}
attempts = {attempts}
retry_backoff = {retry_backoff}
max_call_seconds = 120
max_calls = 10
{extra_sip}

[recordings]
max_seconds = 30
silence_seconds = 3

[policy]
allowed_sip_domains = 127.0.0.1

[log]
level = debug
"""


# ---- sipp as the phone -----------------------------------------------------

PCMU_TE = dict(FORMATS="0 101", RTPMAPS="a=rtpmap:0 PCMU/8000\n"
               "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15")
PCMA_TE = dict(FORMATS="8 101", RTPMAPS="a=rtpmap:8 PCMA/8000\n"
               "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15")
PCMA_ONLY = dict(FORMATS="8", RTPMAPS="a=rtpmap:8 PCMA/8000")


def pause(ms):
    return '  <pause milliseconds="%d"/>' % ms


def play(path):
    return ('  <nop><action><exec play_pcap_audio="%s"/></action></nop>'
            % path)


def key_pcap(key):
    return SIPP_PCAPS / ("dtmf_2833_%s.pcap" % key)


def start_sipp(directory, n, scenario, phone_port, media_port, calls=1,
               subst=None):
    """sipp as a UAS phone on loopback with SCENARIO from sipp/ (@KEY@
    placeholders replaced from SUBST); returns (process, message log)."""
    text = (SCENARIOS / scenario).read_text()
    for k, v in (subst or {}).items():
        text = text.replace("@%s@" % k, str(v))
    sf = pathlib.Path(directory) / ("scenario%d.xml" % n)
    sf.write_text(text)
    msg = pathlib.Path(directory) / ("sipp%d.msg" % n)
    proc = rbtest._spawn(
        ["sipp", "-sf", str(sf), "-i", "127.0.0.1",
         "-p", str(phone_port), "-mp", str(media_port),
         "-m", str(calls), "-nostdin", "-trace_msg", "-message_file",
         str(msg), "-timeout", "%ds" % rbtest.scaled(120), "-timeout_error"],
        pathlib.Path(directory) / ("sipp%d.out" % n), cwd=str(directory))
    time.sleep(0.3)
    return proc, msg


class Run:
    """One test's world: a directory, a configuration, the bridge."""

    def __init__(self, testcase, *, ring_timeout=20, attempts=3,
                 retry_backoff=1, extra_sip=""):
        rbtest._require_binary(SIP_BIN)
        rbtest._require_binary(CTL_BIN)
        if not shutil.which("sipp"):
            raise AssertionError("sipp (sip-tester) is not installed")
        self.t = testcase
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="rb-sip-"))
        self.db = self.dir / "queue.db"
        self.sip_port, self.phone_port, self.media_port = free_ports(3)
        base = random.randrange(40000, 59000) & ~1
        self.config = self.dir / "ringbridge.conf"
        self.config.write_text(CONFIG.format(
            db=self.db, sip_port=self.sip_port, rtp_min=base,
            rtp_max=base + 39, ring_timeout=ring_timeout, attempts=attempts,
            retry_backoff=retry_backoff, extra_sip=extra_sip))
        self.log = self.dir / "bridge.log"
        self.bridge = None
        self.sipps = []
        testcase.addCleanup(self.cleanup)

    # ---- processes -------------------------------------------------------

    def start_bridge(self):
        self.bridge = rbtest.rb_spawn([SIP_BIN, "-c", self.config], self.log)
        def listening():
            self.assert_running()
            return "listening on" in self.log.read_text()
        wait_until(listening, timeout=30, what="the bridge to listen")
        self.assert_running()

    def assert_running(self):
        if self.bridge.poll() is not None:
            raise AssertionError("ringbridge-sip exited %s:\n%s" % (
                self.bridge.returncode, rbtest.tail(self.log)))

    def stop_bridge(self):
        rc = rbtest._terminate(self.bridge, 40)
        return rc

    def sipp(self, scenario, calls=1, subst=None):
        """Starts sipp as the phone with SCENARIO (a file in sipp/; @KEY@
        placeholders replaced from SUBST)."""
        proc, msg = start_sipp(self.dir, len(self.sipps), scenario,
                               self.phone_port, self.media_port, calls,
                               subst)
        self.sipps.append((proc, msg))
        return proc

    def wait_sipp(self, proc, timeout=90):
        try:
            rc = proc.wait(rbtest.scaled(timeout))
        except subprocess.TimeoutExpired:
            rbtest._terminate(proc, 5)
            raise AssertionError("sipp did not finish:\n" + self.logs())
        rbtest._live.pop(proc.pid, None)
        if rc != 0:
            raise AssertionError("sipp exited %d:\n%s" % (rc, self.logs()))

    def logs(self):
        out = ["--- bridge ---", rbtest.tail(self.log, 80)]
        for i, (_, msg) in enumerate(self.sipps):
            out += ["--- sipp %d ---" % i,
                    rbtest.tail(self.dir / ("sipp%d.out" % i), 20),
                    rbtest.tail(msg, 60)]
        return "\n".join(out)

    def cleanup(self):
        for proc, _ in self.sipps:
            rbtest._terminate(proc, 5)
        if self.bridge is not None:
            rbtest._terminate(self.bridge, 40)
        text = self.log.read_text(errors="replace") if self.log.exists() \
            else ""
        shutil.rmtree(self.dir, ignore_errors=True)
        for marker in SANITIZER_MARKERS:
            if marker in text:
                raise AssertionError("sanitizer report in the bridge log:\n"
                                     + text[-4000:])

    # ---- the queue -------------------------------------------------------

    def phone_uri(self):
        return "sip:phone@127.0.0.1:%d" % self.phone_port

    def test_call(self, text="Hi there."):
        r = rbtest.rb_run([CTL_BIN, "-c", self.config, "test-call",
                           self.phone_uri(), text], timeout=30,
                          capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError("test-call: %s%s" % (r.stdout, r.stderr))
        return int(r.stdout.split()[1])

    def query(self, sql, args=()):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True,
                              timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def events(self, job_id):
        """[(name, detail, blob)] in order."""
        rows = self.query("SELECT type, detail, blob FROM events WHERE "
                          "job_id = ? ORDER BY id", (job_id,))
        return [(EV_NAME.get(t, t), d, b) for t, d, b in rows]

    def job(self, job_id):
        cols = ("state", "attempts", "last_reason")
        row = self.query("SELECT %s FROM jobs WHERE id = ?" %
                         ", ".join(cols), (job_id,))[0]
        return dict(zip(cols, row))

    def wait_ended(self, job_id, timeout=90):
        def ended():
            self.assert_running()
            return [e for e in self.events(job_id) if e[0] == "ENDED"]
        try:
            wait_until(ended, timeout=timeout, what="job %d to end" % job_id)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self.logs()))
        return self.events(job_id)


# ---- audio helpers ------------------------------------------------------

def write_pcap(path, payloads, pt, ssrc=0x1234, src_port=6000,
               dst_port=6000, ptime_ms=20):
    """A pcap (Ethernet/IPv4/UDP/RTP) sipp's play_pcap_audio can replay:
    one RTP packet per payload, PTIME_MS apart."""
    out = [struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)]
    seq, ts, t = 1000, 0, 1_700_000_000.0
    for p in payloads:
        rtp = struct.pack("!BBHII", 0x80, pt, seq & 0xffff, ts, ssrc) + p
        udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64,
                         17, 0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
        eth = b"\0" * 12 + b"\x08\x00" + ip + udp
        sec = int(t)
        out.append(struct.pack("<IIII", sec, int((t - sec) * 1e6),
                               len(eth), len(eth)) + eth)
        seq += 1
        ts += 8 * ptime_ms
        t += ptime_ms / 1000.0
    pathlib.Path(path).write_bytes(b"".join(out))


def read_pcap_rtp(path, dst_port):
    """RTP packets (pt, payload) sent to DST_PORT in a pcap from tcpdump
    on loopback (Linux cooked or Ethernet or null link types)."""
    d = pathlib.Path(path).read_bytes()
    if len(d) < 24:
        return []
    magic, = struct.unpack("<I", d[:4])
    end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    linktype, = struct.unpack(end + "I", d[20:24])
    hdr = {1: 14, 113: 16, 0: 4, 276: 20}.get(linktype, 14)
    off, out = 24, []
    while off + 16 <= len(d):
        _, _, caplen, _ = struct.unpack(end + "IIII", d[off:off + 16])
        pkt = d[off + 16:off + 16 + caplen]
        off += 16 + caplen
        ip = pkt[hdr:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        udp = ip[ihl:]
        dport, = struct.unpack("!H", udp[2:4])
        if dport != dst_port or len(udp) < 20:
            continue
        rtp = udp[8:]
        if rtp[0] >> 6 != 2:
            continue
        out.append((rtp[1] & 0x7f, rtp[12:]))
    return out


def ogg_opus_duration(blob):
    """(is Ogg/Opus, seconds) from the last page's granule position."""
    if not blob or blob[:4] != b"OggS" or b"OpusHead" not in blob[:200]:
        return False, 0.0
    head = blob.index(b"OpusHead")
    pre_skip, = struct.unpack("<H", blob[head + 10:head + 12])
    last = blob.rindex(b"OggS")
    granule, = struct.unpack("<q", blob[last + 6:last + 14])
    return True, (granule - pre_skip) / 48000.0
