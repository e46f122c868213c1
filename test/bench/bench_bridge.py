# SPDX-License-Identifier: GPL-3.0-or-later
"""ringbridge-sip under load, with sipp answering on loopback: N calls at
once, a different message text on each, sipp sending speech (g711a.pcap's
audio, looped by sipp's RTP streams; --speech pcap: played twice with
play_pcap_audio, which costs sipp a thread per call) into every call so
the in-band DTMF detector works, and every tenth call
(--record-every K: every Kth; 0: none) recording a voice reply (7,
speech, 8). The jobs are queued by several
resident ringbridgectl processes at once (test-call -, a job and a commit
per line, as the component queues), so the bridge is offered more than 50
calls a second. Prints:
- enqueue-to-INVITE latency p50/p99 (job created -> CALLING event),
- call set-up rate (first CALLING to last ANSWERED),
- bridge CPU per call in steady state (the bridge process alone, from
  /proc, over a window when all N calls are up), beside sipp's CPU (whole
  and per call: the reference a user can compare with) and the machine's
  idle share in the same window (what limits it),
- the bridge's system calls per UDP packet in that window: perf stat's
  raw_syscalls:sys_enter count for the bridge over the datagrams that
  arrived at UDP on the machine in it (/proc/net/snmp InDatagrams +
  InErrors + NoPorts: on loopback each is one the bridge sent to sipp or
  one sipp sent to the bridge, whether or not sipp's media socket had room
  for it; with --speech pcap sipp plays its pcap through a raw socket, so
  OutDatagrams is the bridge's sends alone, printed beside it); run the
  bench alone, other traffic inflates it,
- the bridge's own send-lateness figures (media.c logs a histogram's
  p50/p99/max every 10 s and for the whole run at exit; the bench stops the
  bridge with SIGTERM after the window to read the totals),
- how the variable prompts kept up (the bridge's "speech totals" at exit):
  submit-to-ready p50/p99, prompts ready only after the callee answered,
  and the packets of silence a callee heard after the greeting because
  the prompt was not rendered yet,
and, with --perf FILE, a perf record -g of the bridge over the window.
With RB_TEST_QUEUE=postgresql the queue is a private PostgreSQL cluster
(RB_TEST_PG_FSYNC=1: with fsync on, as SQLite's synchronous=FULL). Not run
by CI. Usage:
  /usr/bin/python3 test/bench/bench_bridge.py [--calls 50] [--window 10]
      [--realtime PRIO] [--enqueuers 6] [--rate R] [--renderers N]
      [--record-every K] [--perf FILE]
"""

import argparse
import concurrent.futures
import datetime
import os
import re
import pathlib
import random
import shutil
import sqlite3
import statistics
import struct
import subprocess
import sys
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "test" / "integration"))
os.environ.setdefault("RB_BUILD_DIR", str(REPO / "build"))

import rbbridge  # noqa: E402
import rbtest  # noqa: E402
from rbbridge import PCMA_TE, SIPP_PCAPS, key_pcap, pause, play  # noqa


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_ticks():
    with open("/proc/stat") as f:
        cpu = f.readline().split()[1:]
    return int(cpu[3]) + int(cpu[4]), sum(int(x) for x in cpu)


def udp_datagrams():
    """(datagrams that arrived at UDP, datagrams UDP sockets sent) so far
    on this machine (/proc/net/snmp)."""
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith("Udp:")]
    udp = dict(zip(rows[0][1:], map(int, rows[1][1:])))
    return (udp["InDatagrams"] + udp["InErrors"] + udp["NoPorts"],
            udp["OutDatagrams"])


def count_syscalls(pid, seconds):
    """A perf stat counting PID's system calls (all its threads) for
    SECONDS, or None without perf; read it with syscalls_counted()."""
    if not shutil.which("perf"):
        return None
    return subprocess.Popen(
        ["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p",
         str(pid), "--", "sleep", str(seconds)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def syscalls_counted(proc):
    if proc is None:
        return None
    _, err = proc.communicate(timeout=60)
    for line in err.splitlines():
        f = line.split(",")
        if len(f) > 2 and f[2] == "raw_syscalls:sys_enter" and \
                f[0].isdigit():
            return int(f[0])
    return None


def media_lines(text):
    return [l.split("media: ", 1)[1] for l in text.splitlines()
            if "media: " in l and "send lateness" in l]


def sipp_invites(path):
    """phone index -> wall-clock ms when sipp received its first INVITE,
    from sipp's -trace_msg file (blocks headed by a local timestamp)."""
    seen = {}
    stamp = None
    try:
        text = pathlib.Path(path).read_text(errors="replace")
    except OSError:
        return seen
    for line in text.splitlines():
        if line.startswith("-----") and line.rstrip()[-1:].isdigit():
            stamp = datetime.datetime.strptime(
                line.split()[-2] + " " + line.split()[-1],
                "%Y-%m-%d %H:%M:%S.%f").timestamp() * 1000
            continue
        m = re.match(r"INVITE sip:phone(\d+)@", line)
        if m and stamp is not None:
            seen.setdefault(int(m.group(1)), stamp)
    return seen


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def pcap_payloads(path):
    """The RTP payloads of PATH (a classic pcap of Ethernet/IPv4/UDP/RTP
    packets, as sip-tester's are), one after another: the raw audio
    rtp_stream sends."""
    d = path.read_bytes()
    if struct.unpack("<I", d[:4])[0] != 0xa1b2c3d4 or \
            struct.unpack("<I", d[20:24])[0] != 1:
        raise SystemExit("%s: not a little-endian Ethernet pcap" % path)
    off, out = 24, bytearray()
    while off + 16 <= len(d):
        incl = struct.unpack("<I", d[off + 8:off + 12])[0]
        ip = d[off + 16 + 14:off + 16 + incl]
        off += 16 + incl
        out += ip[(ip[0] & 15) * 4 + 8 + 12:]
    return bytes(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--window", type=float, default=10.0,
                    help="seconds of steady state measured")
    ap.add_argument("--settle", type=float, default=8.0,
                    help="seconds after the last answer before the window "
                    "(so that the recording calls are recording)")
    ap.add_argument("--preload", action="store_true",
                    help="queue every job before the bridge starts: the "
                    "set-up rate is then the bridge's own, not the rate "
                    "ringbridgectl can queue at")
    ap.add_argument("--enqueuers", type=int, default=6,
                    help="ringbridgectl processes queueing at once")
    ap.add_argument("--realtime", type=int, default=0, metavar="PRIO",
                    help="[sip] realtime_priority for the bridge (0: "
                    "normal scheduling)")
    ap.add_argument("--rate", type=float, default=0, metavar="R",
                    help="queue job I at I/R s after the first (the "
                    "sustained set-up rate offered); 0: as fast as the "
                    "enqueuers go")
    ap.add_argument("--renderers", type=int, default=0, metavar="N",
                    help="[tts] renderers for the bridge (0: one per "
                    "core)")
    ap.add_argument("--record-every", type=int, default=10, metavar="K",
                    help="every Kth call records a voice reply (0: none, "
                         "to measure the calls that do not record alone)")
    ap.add_argument("--speech", choices=("stream", "pcap"),
                    default="stream",
                    help="how sipp sends speech into the calls that do not "
                    "record: stream (rtp_stream, g711a.pcap's audio looped "
                    "by a thread per 20 calls over UDP sockets) or pcap "
                    "(play_pcap_audio twice: a thread per call, raw "
                    "sockets, 0.9-1.8 cores at 1,000 calls)")
    ap.add_argument("--perf", metavar="FILE",
                    help="also record the bridge with perf record -g "
                    "during the steady-state window")
    a = ap.parse_args()
    n = a.calls

    class T:  # rbbridge.Run wants a test case only for its cleanups
        def __init__(self):
            self.cleanups = []

        def addCleanup(self, fn, *args):
            self.cleanups.append((fn, args))

    t = T()
    rtp = 2 * n + 8
    if 2 * rtp > 30000:
        raise SystemExit("too many calls for the RTP port range")
    run = rbbridge.Run(t, ring_timeout=30, attempts=1)
    # More calls and ports than the functional tests use.
    text = run.config.read_text()
    base = random.randrange(20000, 60000 - 2 * rtp) & ~1
    lines = [l for l in text.splitlines()
             if not l.startswith(("rtp_port_min", "rtp_port_max",
                                  "max_calls"))]
    i = lines.index("[sip]")
    lines[i + 1:i + 1] = ["rtp_port_min = %d" % base,
                          "rtp_port_max = %d" % (base + 2 * rtp - 1),
                          "max_calls = %d" % n,
                          "realtime_priority = %d" % a.realtime]
    i = lines.index("[tts]") if "[tts]" in lines else None
    if i is None:
        lines += ["[tts]", "renderers = %d" % a.renderers]
    else:
        lines[i + 1:i + 1] = ["renderers = %d" % a.renderers]
    text = "\n".join(lines).replace("level = debug", "level = info")
    run.config.write_text(text + "\n")
    try:
        if not a.preload:
            run.start_bridge()
        # Speech into every call; every Kth records a reply.
        if a.speech == "stream":
            # sipp's RTP streams send from a port of their own: the SDP
            # names it, so the bridge's RTP goes back to it.
            audio = run.dir / "speech.alaw"
            audio.write_bytes(pcap_payloads(SIPP_PCAPS / "g711a.pcap"))
            talk = [pause(1000), '  <nop><action><exec rtp_stream="%s,-1,8"/>'
                    '</action></nop>' % audio]
            port = "[rtpstream_audio_port]"
        else:
            talk = [pause(1000), play(SIPP_PCAPS / "g711a.pcap"),
                    pause(6000), play(SIPP_PCAPS / "g711a.pcap")]
            port = "[media_port]"
        every = a.record_every
        # Phones 0, K, 2K... record: as many as there are of them.
        recorders = (n + every - 1) // every if every > 0 else 0
        sipp = run.sipp("uas_answer.xml", calls=n - recorders, subst=dict(
            PCMA_TE, MEDIA="\n".join(talk), PORT=port))
        rec_port, rec_media = rbtest.free_ports(2)
        rec = None
        if recorders:
            rec, _ = rbbridge.start_sipp(
                run.dir, 99, "uas_answer.xml", rec_port, rec_media,
                recorders, dict(PCMA_TE, MEDIA="\n".join([
                    pause(9000), play(key_pcap(7)), pause(5000),
                    play(SIPP_PCAPS / "g711a.pcap"), pause(7600),
                    play(key_pcap(8)), pause(500)])))
        # The enqueuers: resident ringbridgectl processes reading "PHONE
        # TEXT" lines (test-call -), one job and one commit per line, as
        # the component queues messages; a process per job would cost
        # ~20 ms of CPU in the dynamic linker alone, more than the bridge
        # spends setting the call up.
        enqueuers = []
        mine = threading.local()

        def enqueuer():
            if not hasattr(mine, "proc"):
                mine.proc = subprocess.Popen(
                    [str(rbbridge.CTL_BIN), "-c", str(run.config),
                     "test-call", "-"], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, text=True, bufsize=1)
                enqueuers.append(mine.proc)
            return mine.proc

        def enqueue(i):
            proc = enqueuer()
            if a.rate > 0:
                time.sleep(max(0.0, e0 + i / a.rate - time.monotonic()))
            # A callee per call: calls to one callee would coalesce.
            dest = "sip:phone%d@127.0.0.1:%d" % (
                i, run.phone_port if not recorders or i % every
                else rec_port)
            proc.stdin.write("%s Message number %d: the meeting moved to "
                             "room %d at %d o'clock.\n"
                             % (dest, i, i % 7, i % 12))
            if "queued" not in proc.stdout.readline():
                raise RuntimeError("ringbridgectl test-call - refused "
                                   "job %d" % i)
        e0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(a.enqueuers) as ex:
            list(ex.map(enqueue, range(n)))
        for proc in enqueuers:
            proc.stdin.close()
            if proc.wait(timeout=30):
                raise RuntimeError("ringbridgectl test-call - exited %d"
                                   % proc.returncode)
        enq_s = time.monotonic() - e0
        if a.preload:
            run.start_bridge()
        pid = run.bridge.pid

        def answered():
            rows = run.query("SELECT count(*) FROM events WHERE type = 2")
            return rows[0][0] >= n
        try:
            rbtest.wait_until(answered, timeout=120, interval=0.2,
                              what="%d calls answered" % n)
        except AssertionError:
            print(run.query("SELECT type, count(*) FROM events GROUP BY "
                            "type"))
            print(rbtest.tail(run.log, 30))
            raise
        # Steady state: all up, prompts playing, speech arriving.
        time.sleep(a.settle)
        prof = None
        if a.perf:
            prof = subprocess.Popen(
                ["perf", "record", "-g", "-o", a.perf, "-p", str(pid),
                 "--", "sleep", str(a.window)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sipps = [p for p in (sipp, rec) if p]
        log0 = run.log.stat().st_size
        sc = count_syscalls(pid, a.window)
        u0 = udp_datagrams()
        s0 = sum(cpu_seconds(p.pid) for p in sipps)
        i0 = idle_ticks()
        c0, w0 = cpu_seconds(pid), time.monotonic()
        time.sleep(a.window)
        c1, w1 = cpu_seconds(pid), time.monotonic()
        u1 = udp_datagrams()
        syscalls = syscalls_counted(sc)
        i1 = idle_ticks()
        s1 = sum(cpu_seconds(p.pid) for p in sipps)
        fds = len(os.listdir("/proc/%d/fd" % pid))
        if prof:
            prof.wait(30)
        up = run.query("SELECT count(*) FROM jobs WHERE state = 1")[0][0]

        rows = run.query(
            "SELECT j.created_ms AS queued, e.created_ms AS calling FROM "
            "jobs j JOIN events e "
            "ON e.job_id = j.id AND e.type = 1")
        lat = [c - j for j, c in rows]
        # The INVITE's arrival at sipp, which CALLING's commit time (the
        # writer's clock, behind other commits) only bounds from above.
        invites = sipp_invites(run.dir / "sipp0.msg")
        invites.update(sipp_invites(run.dir / "sipp99.msg"))
        created = {}
        for dest, ms in run.query("SELECT destination, created_ms FROM "
                                  "jobs"):
            m = re.match(r"sip:phone(\d+)@", dest)
            if m:
                # The phone's first job: a recording call that ended
                # before its message was read leaves a follow-up job to
                # the same phone (as it should), queued much later.
                i = int(m.group(1))
                created[i] = min(ms, created.get(i, ms))
        wire = [invites[i] - created[i] for i in invites if i in created]
        calling = run.query("SELECT min(created_ms) FROM events WHERE "
                            "type = 1")[0][0]
        last_ans = run.query("SELECT max(created_ms) FROM events WHERE "
                             "type = 2")[0][0]
        share = (c1 - c0) / (w1 - w0)
        queue = "SQLite"
        if run.qdb.pg:
            queue = "PostgreSQL (fsync %s)" % (
                "on" if os.environ.get("RB_TEST_PG_FSYNC") == "1" else "off")
        print("== %d concurrent calls (sipp on loopback, PCMA, speech "
              "into each), realtime_priority %d, [tts] renderers %d, "
              "queue on %s" % (n, a.realtime, a.renderers, queue))
        if a.preload:
            wire = lat = []
            print("enqueue-to-INVITE        not measured: the jobs were "
                  "queued before the bridge started")
        if wire:
            print("enqueue-to-INVITE        p50 %.1f ms, p99 %.1f ms, max "
                  "%.1f ms (%d INVITEs as sipp received them)"
                  % (statistics.median(wire), pct(wire, 0.99), max(wire),
                     len(wire)))
        if lat:
            print("enqueue-to-CALLING       p50 %d ms, p99 %d ms (%d "
                  "calls; the CALLING event's commit)"
                  % (statistics.median(lat), pct(lat, 0.99), len(lat)))
        print("set-up                   %d calls answered in %.2f s "
              "(%.1f calls/s)" % (n, (last_ans - calling) / 1000,
                                  n / max((last_ans - calling) / 1000,
                                          1e-3)))
        print("enqueued                 %d jobs in %.2f s by %d "
              "resident ringbridgectl at once (%.0f jobs/s offered)"
              % (n, enq_s, a.enqueuers, n / enq_s))
        print("steady state             %d calls up; bridge %.1f%% of one "
              "core = %.3f%% per call" % (up, 100 * share,
                                          100 * share / max(up, 1)))
        sipp_share = (s1 - s0) / (w1 - w0)
        print("beside it                sipp %.1f%% of one core = %.3f%% "
              "per call, machine %.0f%% idle (of %d cores), bridge holds "
              "%d fds, load %s"
              % (100 * sipp_share, 100 * sipp_share / max(up, 1),
                 100 * (i1[0] - i0[0]) / max(i1[1] - i0[1], 1),
                 os.cpu_count(), fds,
                 " ".join(open("/proc/loadavg").read().split()[:3])))
        packets, sent = u1[0] - u0[0], u1[1] - u0[1]
        if syscalls is None:
            print("syscalls                 not counted (perf stat, from "
                  "linux-perf, is needed)")
        else:
            print("syscalls                 bridge %.2f per UDP packet it "
                  "sent or received (%d system calls; %d datagrams on "
                  "loopback in %.0f s, %d of them sent by %s)"
                  % (syscalls / max(packets, 1), syscalls, packets,
                     w1 - w0, sent, "the bridge" if a.speech == "pcap"
                     else "UDP sockets, the bridge's and sipp's streams"))
        ev = dict(run.query("SELECT type, count(*) FROM events GROUP BY "
                            "type"))
        keys = run.query("SELECT detail, count(*) FROM events WHERE "
                         "type = 4 GROUP BY detail")
        print("events so far            %s; keys %s" % (
            ", ".join("%s %d" % (rbbridge.EV_NAME.get(t, t), c)
                      for t, c in sorted(ev.items())),
            ", ".join("%s x%d" % k for k in keys) or "none"))
        for why, cnt in run.query("SELECT detail, count(*) FROM events "
                                  "WHERE type = 6 GROUP BY detail"):
            print("failed                   %d: %s" % (cnt, why))
        voices = run.query("SELECT count(*) FROM events WHERE type = 5")
        print("voice replies recorded   %d of %d recording calls so far"
              % (voices[0][0], recorders))
        # The interval that ends after the window, then the run's totals.
        def rolled():
            return media_lines(run.log.read_text(errors="replace")[log0:])
        rbtest.wait_until(rolled, timeout=15, interval=0.5,
                          what="a media statistics line")
        for l in rolled():
            print("media (10 s interval)    " + l)
        rbtest._terminate(run.bridge, 90)
        totals = [l for l in media_lines(run.log.read_text(
            errors="replace")) if l.startswith("totals")]
        for l in totals:
            print("media (whole run)        " + l)
            m = re.search(r"(\d+) packets.*p50 ([\d.]+) ms, p99 ([\d.]+) "
                          r"ms, max ([\d.]+) ms, (\d+) over 5 ms", l)
            if m:
                print("send lateness            p50 %s ms, p99 %s ms, max "
                      "%s ms; %.4f%% of %s packets over 5 ms"
                      % (m.group(2), m.group(3), m.group(4),
                         100 * int(m.group(5)) / max(int(m.group(1)), 1),
                         m.group(1)))
        for l in run.log.read_text(errors="replace").splitlines():
            if "speech totals: " in l:
                print("speech (whole run)       " +
                      l.split("speech totals: ", 1)[1])
        voices = run.query("SELECT count(*) FROM events WHERE type = 5")
        print("voice replies, whole run %d of %d recording calls"
              % (voices[0][0], recorders))
        rbtest._terminate(sipp, 5)
        if rec:
            rbtest._terminate(rec, 5)
    finally:
        for fn, args in reversed(t.cleanups):
            fn(*args)


if __name__ == "__main__":
    main()
