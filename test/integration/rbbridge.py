# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for ringbridge-sip's integration tests: a temporary
configuration and queue, the bridge started from $RB_BUILD_DIR, sipp
(Debian's sip-tester) as the phone running a UAS scenario from sipp/, jobs
queued with `ringbridgectl test-call`, and the queue read back with sqlite3
(events, job state), never log lines. Process handling follows rbtest.py:
loopback ports per run, processes stopped by pid, sanitizer reports in any
log fail the test."""

import math
import os
import pathlib
import random
import re
import shutil
import socket
import struct
import tempfile
import time
import urllib.request
import warnings

import rbtest
from rbtest import BUILD_DIR, SANITIZER_MARKERS, free_ports, wait_until

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # Python 3.11 (Debian 12): G.711 in the standard library

SIP_BIN = BUILD_DIR / "ringbridge-sip"
CTL_BIN = BUILD_DIR / "ringbridgectl"
SCENARIOS = pathlib.Path(__file__).resolve().parent / "sipp"
SIPP_PCAPS = pathlib.Path("/usr/share/sip-tester")

EV = {"CALLING": 1, "ANSWERED": 2, "HEARD": 3, "KEY": 4, "VOICE": 5,
      "FAILED": 6, "ENDED": 7, "VERIFY_SPOKEN": 8, "UNHEARD": 9}
EV_NAME = {v: k for k, v in EV.items()}

CONFIG = """\
[queue]
{queue}

[sip]
listen = {scheme}:127.0.0.1:{sip_port}
rtp_port_min = {rtp_min}
rtp_port_max = {rtp_max}
ring_timeout = {ring_timeout}
attempts = {attempts}
retry_backoff = {retry_backoff}
max_call_seconds = {max_call_seconds}
key_timeout = {key_timeout}
max_calls = {max_calls}
{extra_sip}

[calls]
gate = {gate}
gate_retry = {gate_retry}

[recordings]
max_seconds = {max_seconds}
silence_seconds = {silence_seconds}
{extra_recordings}

[policy]
allowed_sip_domains = 127.0.0.1
{extra_policy}

[log]
level = debug
{extra}
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


# uas_answer.xml's @DIALOG@ for a phone that sends requests of its own
# (in_dialog): the INVITE's From and To, kept. sipp refuses a variable set
# and never used, so the other tests leave it empty.
DIALOG = """
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" check_it="true"
            assign_to="from"/>
      <ereg regexp=".*" search_in="hdr" header="To:" check_it="true"
            assign_to="to"/>
    </action>
  """


def in_dialog(method, cseq, ctype=None, body="", expect=200, extra=""):
    """sipp XML for uas_answer.xml's @MEDIA@ (with DIALOG=DIALOG): the
    phone sends METHOD (CSeq CSEQ, above the INVITE's) in the call's dialog, with BODY of type
    CTYPE, and requires the response EXPECT."""
    head = ("%s [next_url] SIP/2.0\n"
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];"
            "branch=[branch]\n"
            "[routes]\n"
            "From:[$to];tag=[pid]SIPpTag01[call_number]\n"
            "To:[$from]\n"
            "Call-ID: [call_id]\n"
            "CSeq: %d %s\n"
            "Contact: <sip:[local_ip]:[local_port];transport=[transport]>\n"
            "Max-Forwards: 70\n%s" % (method, cseq, method, extra))
    if ctype:
        head += "Content-Type: %s\n" % ctype
    head += "Content-Length: [len]\n\n" + body
    recv = '  <recv response="%d"/>' % expect
    if expect >= 200 and method == "INVITE":
        recv = ('  <recv response="100" optional="true"/>\n%s\n'
                '  <send><![CDATA[\n\nACK [next_url] SIP/2.0\n'
                'Via: SIP/2.0/[transport] [local_ip]:[local_port];'
                'branch=[branch]\n[routes]\n'
                'From:[$to];tag=[pid]SIPpTag01[call_number]\n'
                'To:[$from]\nCall-ID: [call_id]\n'
                'CSeq: %d ACK\nMax-Forwards: 70\nContent-Length: 0\n\n'
                ']]></send>' % (recv, cseq))
    return ('  <send retrans="500"><![CDATA[\n\n%s\n]]></send>\n%s'
            % (head, recv))


def key_pcap(key):
    return SIPP_PCAPS / ("dtmf_2833_%s.pcap" % key)


# What the sipp/ scenarios' placeholders are unless a test says otherwise:
# no requests of the phone's own in the dialog, sipp's own media port, plain
# RTP/AVP (test_compose builds the compose phone from the same defaults).
SCENARIO_DEFAULTS = {"DIALOG": "", "PORT": "[media_port]", "PROTO": "AVP",
                     "ANSWER": ""}


def start_sipp(directory, n, scenario, phone_port, media_port, calls=1,
               subst=None, ip="127.0.0.1"):
    """sipp as a UAS phone on IP (loopback unless a test gives another
    "host"'s link) with SCENARIO from sipp/ (@KEY@ placeholders replaced
    from SUBST); returns (process, message log)."""
    text = (SCENARIOS / scenario).read_text()
    for k, v in dict(SCENARIO_DEFAULTS, **(subst or {})).items():
        text = text.replace("@%s@" % k, str(v))
    sf = pathlib.Path(directory) / ("scenario%d.xml" % n)
    sf.write_text(text)
    msg = pathlib.Path(directory) / ("sipp%d.msg" % n)
    proc = rbtest._spawn(
        ["sipp", "-sf", str(sf), "-i", ip,
         "-p", str(phone_port), "-mp", str(media_port),
         "-m", str(calls), "-nostdin", "-trace_msg", "-message_file",
         str(msg), "-timeout", "%ds" % rbtest.scaled(120), "-timeout_error"],
        pathlib.Path(directory) / ("sipp%d.out" % n), cwd=str(directory))
    time.sleep(0.3)
    return proc, msg


class Run:
    """One test's world: a directory, a configuration, the bridge."""

    def __init__(self, testcase, *, ring_timeout=20, attempts=3,
                 retry_backoff=1, extra_sip="", max_call_seconds=120,
                 key_timeout=10, extra_policy="", extra_recordings="",
                 max_calls=10, max_seconds=30, silence_seconds=3,
                 gate=False, gate_retry=True, extra="", tls=False):
        """GATE: the voicemail gate ([calls] gate). Off unless a test asks
        for it: most bridge tests measure what follows the message and
        have the phone listen from the answer on, as before the gate.
        TLS: listen on sips: with tls_dir = self.tls_dir (the test puts
        agent.pem and cafile.pem there before start_bridge)."""
        rbtest._require_binary(SIP_BIN)
        rbtest._require_binary(CTL_BIN)
        if not shutil.which("sipp"):
            raise AssertionError("sipp (sip-tester) is not installed")
        self.t = testcase
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="rb-sip-"))
        self.db = self.dir / "queue.db"
        self.queue_section, self.qdb = rbtest.queue_for(self.dir)
        self.sip_port, self.phone_port, self.media_port = free_ports(3)
        base = rbtest.free_range(40)
        self.rtp_ports = (base, base + 39)
        self.config = self.dir / "ringbridge.conf"
        self.tls_dir = self.dir / "tls"
        self.tls = tls
        if tls:
            extra_sip += "\ntls_dir = %s\n" % self.tls_dir
        self.config.write_text(CONFIG.format(
            queue="\n".join("%s = %s" % kv
                             for kv in self.queue_section.items()),
            scheme="sips" if tls else "sip",
            sip_port=self.sip_port, rtp_min=base,
            rtp_max=base + 39, ring_timeout=ring_timeout, attempts=attempts,
            retry_backoff=retry_backoff, extra_sip=extra_sip,
            max_call_seconds=max_call_seconds, key_timeout=key_timeout,
            extra_policy=extra_policy, extra_recordings=extra_recordings,
            max_calls=max_calls, max_seconds=max_seconds,
            silence_seconds=silence_seconds,
            gate="on" if gate else "off",
            gate_retry="on" if gate_retry else "off", extra=extra))
        self.log = self.dir / "bridge.log"
        self.bridge = None
        self.sipps = []
        testcase.addCleanup(self.cleanup)

    # ---- processes -------------------------------------------------------

    def start_bridge(self):
        env = None
        if self.tls:
            # Leaks of sofia-sip's own TLS code (the file says which);
            # the slow unwinder, so that stacks through libcrypto (no
            # frame pointers) reach sofia's frames the file names.
            env = dict(os.environ, LSAN_OPTIONS="suppressions=%s" % (
                rbtest.REPO / "test" / "lsan-sofia-tls.supp"),
                ASAN_OPTIONS="fast_unwind_on_malloc=0")
        self.bridge = rbtest.rb_spawn([SIP_BIN, "-c", self.config], self.log,
                                      env=env)
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
        rbtest.wait_exit(proc, timeout, self.logs)

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

    def test_call(self, text="Hi there.", gate=None, lang=None):
        return self.test_call_to(self.phone_uri(), text, gate, lang=lang)

    def test_call_to(self, uri, text="Hi there.", gate=None, then=(),
                     lang=None):
        """GATE "on" or "off" is the job's own gate (the user's setting);
        None follows [calls] gate. THEN: the further numbers the job tries
        after URI, in order (test-call --then). LANG: the callee's language
        tag (test-call --lang)."""
        opt = ["--gate", gate] if gate else []
        opt += ["--lang", lang] if lang else []
        for number in then:
            opt += ["--then", number]
        r = rbtest.rb_run([CTL_BIN, "-c", self.config, "test-call"] + opt +
                          [uri, text], timeout=30, capture_output=True,
                          text=True)
        if r.returncode != 0:
            raise AssertionError("test-call: %s%s" % (r.stdout, r.stderr))
        return int(r.stdout.split()[1])

    def query(self, sql, args=()):
        """Rows (tuples) of SQL (? placeholders) on the queue."""
        if self.qdb.pg:
            return [tuple(r.values()) for r in self.qdb.query(sql, args)]
        return rbtest.query_ro(self.db, sql, args)

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

    def answered_call(self, media, codecs=PCMU_TE, calls=1,
                      text="Hi there.", timeout=90, gate=None, lang=None):
        """sipp answers CALLS calls with CODECS and does MEDIA (pauses and
        plays) in each; a test call with TEXT (and the job's own GATE, as
        test_call) is queued and run to its end. Returns (job id, its
        events)."""
        sipp = self.sipp("uas_answer.xml", calls=calls, subst=dict(
            codecs, MEDIA="\n".join(media)))
        job = self.test_call(text, gate, lang)
        ev = self.wait_ended(job, timeout=timeout)
        self.wait_sipp(sipp)
        return job, ev

    def wait(self, cond, timeout, what):
        """wait_until COND, failing with the bridge's and the phones' logs
        (a bridge that died fails at once, with them too)."""
        def check():
            self.assert_running()
            return cond()
        return wait_until(check, timeout=timeout, what=what, logs=self.logs)

    def wait_event(self, job_id, name, timeout=40):
        """Waits for the job's event NAME; returns the job's events."""
        self.wait(lambda: any(e[0] == name for e in self.events(job_id)),
                  timeout, "job %d's %s" % (job_id, name))
        return self.events(job_id)

    def wait_ended(self, job_id, timeout=90):
        return self.wait_event(job_id, "ENDED", timeout)


# ---- presence modes --------------------------------------------------------

# The [presence] section of each presence mode, for tests that run once per
# mode. In publish mode the server is a port nobody answers ({dead}): the
# bridge subscribes there, so it takes NOTIFY in the dialogs it made.
PRESENCE_MODES = {
    "off": "",
    "publish": "[presence]\nmode = publish\nserver = sip:127.0.0.1:{dead}\n",
    "agent": "[presence]\nmode = agent\n",
}


def presence_mode_config(mode):
    """MODE's [presence] section, with a dead server port chosen now."""
    return PRESENCE_MODES[mode].format(dead=free_ports(1)[0])


class EachPresenceMode:
    """A mixin for a TestCase with check_mode(MODE): one test per mode."""

    def test_presence_off(self):
        self.check_mode("off")

    def test_presence_publish(self):
        self.check_mode("publish")

    def test_presence_agent(self):
        self.check_mode("agent")


# ---- a raw SIP peer ------------------------------------------------------

class SipProbe:
    """A stranger on the SIP network: requests written byte by byte on a
    UDP socket of its own, sent to the bridge on PORT, and the responses
    read back raw (no SIP library, so malformed and unusual requests can be
    sent as they are)."""

    def __init__(self, testcase, port):
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        testcase.addCleanup(self.sock.close)
        self.me = self.sock.getsockname()[1]
        self.t = testcase

    def request(self, method, n, body="", extra="", to_tag=None,
                call_id=None, cseq=1, cseq_method=None):
        """The bytes of one request; N makes its Call-ID, branch and
        From tag unique unless CALL_ID is given."""
        call_id = call_id or "rbtest-%d@127.0.0.1" % n
        head = ("%s sip:ringbridge@127.0.0.1:%d SIP/2.0\r\n"
                "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-rbtest-%d-%d"
                "\r\n"
                "Max-Forwards: 70\r\n"
                "From: <sip:tester@127.0.0.1>;tag=t%s\r\n"
                "To: <sip:ringbridge@127.0.0.1:%d>%s\r\n"
                "Call-ID: %s\r\n"
                "CSeq: %d %s\r\n"
                "Contact: <sip:tester@127.0.0.1:%d>\r\n%s"
                "Content-Length: %d\r\n\r\n" % (
                    method, self.port, self.me, n, cseq,
                    call_id.split("@")[0], self.port,
                    ";tag=" + to_tag if to_tag else "", call_id, cseq,
                    cseq_method or method, self.me, extra, len(body)))
        return (head + body).encode()

    def send(self, data):
        self.sock.sendto(data, ("127.0.0.1", self.port))

    def responses(self, seconds):
        """Every datagram that arrives within SECONDS, decoded."""
        out = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                out.append(self.sock.recv(65535).decode(errors="replace"))
            except socket.timeout:
                break
        return out

    def exchange(self, data, call_id=None, timeout=5):
        """Sends DATA; with CALL_ID, returns the final response of that
        call (responses to earlier requests are skipped)."""
        self.send(data)
        if not call_id:
            return None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(deadline - time.monotonic())
            try:
                reply = self.sock.recv(65535).decode(errors="replace")
            except socket.timeout:
                break
            if ("Call-ID: %s\r\n" % call_id) not in reply:
                continue
            if not reply.startswith("SIP/2.0 1"):
                return reply
        self.t.fail("no final response to:\n%s" % data[:300])

    def alive(self):
        """The bridge's loop still answers: an INVITE is refused 480 by
        ua.c on the loop (OPTIONS would be answered by sofia alone)."""
        n = random.randrange(10**6, 10**7)
        reply = self.exchange(self.request("INVITE", n),
                              "rbtest-%d@127.0.0.1" % n)
        return reply.startswith("SIP/2.0 480")


def metric(port, name):
    """The value of the unlabelled sample NAME on the /metrics of the
    bridge whose [sip] metrics_listen is 127.0.0.1:PORT."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=10) as r:
        text = r.read().decode()
    m = re.search(r"(?m)^%s (\S+)$" % re.escape(name), text)
    assert m, "no %s on the bridge's /metrics" % name
    return float(m.group(1))


def sip_header(msg, name):
    """The value of header NAME in the raw SIP message MSG, or None."""
    m = re.search(r"^%s:[ \t]*(.*?)\r?$" % re.escape(name), msg,
                  re.I | re.M)
    return m.group(1) if m else None


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


def read_pcap_rtp(path, dst_port, with_time=False):
    """RTP packets (pt, payload) sent to DST_PORT in a pcap from tcpdump
    on loopback (Linux cooked or Ethernet or null link types); with
    WITH_TIME (seconds, pt, payload)."""
    d = pathlib.Path(path).read_bytes()
    if len(d) < 24:
        return []
    magic, = struct.unpack("<I", d[:4])
    end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    linktype, = struct.unpack(end + "I", d[20:24])
    hdr = {1: 14, 113: 16, 0: 4, 276: 20}.get(linktype, 14)
    off, out = 24, []
    while off + 16 <= len(d):
        sec, usec, caplen, _ = struct.unpack(end + "IIII", d[off:off + 16])
        pkt = d[off + 16:off + 16 + caplen]
        off += 16 + caplen
        ip = pkt[hdr:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        udp = ip[ihl:]
        dport, = struct.unpack("!H", udp[2:4])
        if (dst_port is not None and dport != dst_port) or len(udp) < 20:
            continue
        rtp = udp[8:]
        if rtp[0] >> 6 != 2:
            continue
        if with_time:
            out.append((sec + usec / 1e6, rtp[1] & 0x7f, rtp[12:]))
        else:
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


# ---- what the phone heard, what the bridge offered --------------------------

SAY_BIN = BUILD_DIR / "sip_tts_say"
VERIFY_BIN = BUILD_DIR / "sip_queue_verify"


class Capture:
    """tcpdump on loopback of the RTP reaching the phone's media port."""

    def __init__(self, run, bpf=None):
        """BPF: tcpdump's filter words; default, UDP to the phone's media
        port."""
        if not shutil.which("tcpdump"):
            raise AssertionError("tcpdump is not installed")
        self.run = run
        self.file = run.dir / "phone.pcap"
        # --immediate-mode: each packet as it comes, not in blocks the
        # kernel hands over up to a second late (lost when we stop it).
        self.proc = rbtest._spawn(
            ["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-n", "-w",
             str(self.file)] +
            (bpf or ["udp", "dst", "port", str(run.media_port)]),
            run.dir / "tcpdump.out")
        run.t.addCleanup(rbtest._terminate, self.proc, 5)
        time.sleep(1.0)

    def arrivals(self):
        """Stops the capture; each RTP packet's (arrival time in s,
        payload type)."""
        time.sleep(0.5)
        rbtest._terminate(self.proc, 5)
        return [(t, pt) for t, pt, _ in read_pcap_rtp(
            self.file, self.run.media_port, with_time=True)]

    def packets(self):
        """Stops the capture; every RTP packet's (payload type, payload),
        whatever its port."""
        time.sleep(0.5)
        rbtest._terminate(self.proc, 5)
        return read_pcap_rtp(self.file, None)

    def heard(self, pt=0):
        """Stops the capture; the linear samples of payload type PT."""
        time.sleep(0.5)
        rbtest._terminate(self.proc, 5)
        pkts = [p for t, p in read_pcap_rtp(self.file, self.run.media_port)
                if t == pt]
        return g711_samples(b"".join(pkts), pt)


def g711_samples(g711, pt=0):
    """Linear samples of G711 bytes: PCMU for payload type 0, else PCMA."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pcm = audioop.ulaw2lin(g711, 2) if pt == 0 else \
            audioop.alaw2lin(g711, 2)
    return list(struct.unpack("<%dh" % (len(pcm) // 2), pcm))


def said(run, job):
    """The variable prompt's text as the bridge logged it for JOB."""
    m = re.search(r'job %d: saying "([^"]*)"' % job, run.log.read_text())
    if not m:
        raise AssertionError("job %d said nothing:\n%s" % (job, run.logs()))
    return m.group(1)


def say(text, voice="kal"):
    """TEXT rendered by the bridge's engine (sip_tts_say) with VOICE (a
    flite voice, or "espeak:de" for espeak-ng's, as the bridge speaks every
    language but English), through G.711 (PCMU): the reference the phone
    can hear."""
    rbtest._require_binary(SAY_BIN)
    # Through rb_run: under RB_VALGRIND this is the run that checks the
    # flite engine's open/render/close in a process that exits normally
    # (the bridge's renderers are killed at shutdown, so never report
    # their leaks).
    pcm = rbtest.rb_run([SAY_BIN, voice, text], check=True,
                        capture_output=True, timeout=60).stdout
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pcm = audioop.ulaw2lin(audioop.lin2ulaw(pcm, 2), 2)
    return list(struct.unpack("<%dh" % (len(pcm) // 2), pcm))


def assert_heard(testcase, heard, ref, what, run):
    """REF (a rendering, as say() gives) reached the phone (HEARD): every
    half second of its speech is found nearly sample for sample (a late
    tick's 20 ms of silence, seen under ASan on a loaded machine, shifts
    the rest of a prompt, so the prompt is matched in pieces; one piece may
    be spoiled by it). Returns REF's offset in HEARD."""
    pieces = [ref[i:i + 4000] for i in range(0, len(ref) - 2000, 4000)]
    pieces = [p for p in pieces if max(map(abs, p)) > 1000]
    snrs = [find(heard, p)[1] for p in pieces]
    found = sum(1 for x in snrs if x > 30.0)
    testcase.assertGreaterEqual(found, max(1, len(pieces) - 1),
                                "%r not heard (SNR per half second %s)\n%s"
                                % (what, [round(x) for x in snrs],
                                   run.logs()))
    return find(heard, ref)[0]


def envelope(samples, step=80):
    return [math.sqrt(sum(x * x for x in samples[i:i + step]) / step)
            for i in range(0, len(samples) - step + 1, step)]


def find(hay, needle, step=80):
    """Best offset (samples) of NEEDLE in HAY by the correlation of their
    10 ms energy envelopes, refined sample by sample; returns (offset,
    snr_db) of HAY against NEEDLE there (G.711 is deterministic, so a
    prompt played unchanged scores far above 30 dB)."""
    eh, en = envelope(hay, step), envelope(needle, step)
    best, best_k = -1.0, 0
    nn = math.sqrt(sum(v * v for v in en)) or 1.0
    for k in range(0, len(eh) - len(en) + 1):
        seg = eh[k:k + len(en)]
        dot = sum(a * b for a, b in zip(seg, en))
        c = dot / ((math.sqrt(sum(v * v for v in seg)) or 1.0) * nn)
        if c > best:
            best, best_k = c, k
    best_snr, best_off = -100.0, best_k * step
    sig = sum(x * x for x in needle) or 1
    for off in range(max(0, best_k * step - step),
                     min(len(hay) - len(needle), best_k * step + step) + 1):
        err = 0
        for a, b in zip(hay[off:off + len(needle)], needle):
            err += (a - b) * (a - b)
        snr = 10 * math.log10(sig / (err or 1))
        if snr > best_snr:
            best_snr, best_off = snr, off
    return best_off, best_snr


def find_all(hay, needle, min_snr=30.0):
    """Offsets of every occurrence of NEEDLE in HAY (each found, then
    blanked out, until the best match left is no longer one)."""
    hay = list(hay)
    found = []
    while len(hay) >= len(needle):
        off, snr = find(hay, needle)
        if snr < min_snr:
            break
        found.append(off)
        hay[off:off + len(needle)] = [0] * len(needle)
    return sorted(found)


def bursts(samples, threshold=300, gap_ms=150):
    """Stretches of speech separated by at least GAP_MS of quiet, as
    (start, end) in seconds."""
    env = envelope(samples)
    out, cur, quiet = [], None, 0
    for i, e in enumerate(env):
        if e > threshold:
            if cur is None:
                cur = [i, i]
            cur[1], quiet = i, 0
        elif cur is not None:
            quiet += 1
            if quiet * 10 >= gap_ms:
                out.append((cur[0] / 100, (cur[1] + 1) / 100))
                cur, quiet = None, 0
    if cur is not None:
        out.append((cur[0] / 100, (cur[1] + 1) / 100))
    return out


def offered_rtp_port(msg_log):
    """The RTP port of the bridge's offer, from the INVITE in a sipp
    message log."""
    text = pathlib.Path(msg_log).read_text(errors="replace")
    invite = text[text.index("INVITE sip:"):]
    return int(re.search(r"m=audio (\d+) ", invite).group(1))


def queue_verify(run, code, jid="bob@localhost"):
    """Queues a verification call to the phone (as the component does when
    a user registers a number); returns the job id."""
    rbtest._require_binary(VERIFY_BIN)
    r = rbtest.rb_run([VERIFY_BIN, "sqlite:%s" % run.db, jid,
                       run.phone_uri(), code], timeout=30,
                      capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("sip_queue_verify: %s%s" % (r.stdout, r.stderr))
    return int(r.stdout.split()[1])
