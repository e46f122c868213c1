"""ringbridge-sip under load, with sipp answering on loopback: N calls at
once, a different message text on each, sipp sending speech (g711a.pcap)
into every call so the in-band DTMF detector works, and every tenth call
recording a voice reply (7, speech, 8). Prints:
- enqueue-to-INVITE latency p50/p99 (job created -> CALLING event),
- call set-up rate (first CALLING to last ANSWERED),
- bridge CPU per call in steady state (the bridge process alone, from
  /proc, over a window when all N calls are up),
and what limits it. Not run by CI. Usage:
  /usr/bin/python3 test/bench/bench_bridge.py [--calls 50]
"""

import argparse
import os
import pathlib
import random
import sqlite3
import statistics
import subprocess
import sys
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


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--window", type=float, default=10.0,
                    help="seconds of steady state measured")
    a = ap.parse_args()
    n = a.calls

    class T:  # rbbridge.Run wants a test case only for its cleanups
        def __init__(self):
            self.cleanups = []

        def addCleanup(self, fn, *args):
            self.cleanups.append((fn, args))

    t = T()
    rtp = 2 * n + 8
    run = rbbridge.Run(t, ring_timeout=30, attempts=1)
    # More calls and ports than the functional tests use.
    text = run.config.read_text()
    base = random.randrange(20000, 50000) & ~1
    lines = [l for l in text.splitlines()
             if not l.startswith(("rtp_port_min", "rtp_port_max",
                                  "max_calls"))]
    i = lines.index("[sip]")
    lines[i + 1:i + 1] = ["rtp_port_min = %d" % base,
                          "rtp_port_max = %d" % (base + 2 * rtp - 1),
                          "max_calls = %d" % n]
    text = "\n".join(lines).replace("level = debug", "level = info")
    run.config.write_text(text + "\n")
    try:
        run.start_bridge()
        # Speech into every call; every tenth records a reply.
        talk = [pause(1000), play(SIPP_PCAPS / "g711a.pcap"), pause(6000),
                play(SIPP_PCAPS / "g711a.pcap")]
        recorders = n // 10
        sipp = run.sipp("uas_answer.xml", calls=n - recorders, subst=dict(
            PCMA_TE, MEDIA="\n".join(talk)))
        rec_port, rec_media = rbtest.free_ports(2)
        rec = None
        if recorders:
            rec, _ = rbbridge.start_sipp(
                run.dir, 99, "uas_answer.xml", rec_port, rec_media,
                recorders, dict(PCMA_TE, MEDIA="\n".join([
                    pause(9000), play(key_pcap(7)), pause(5000),
                    play(SIPP_PCAPS / "g711a.pcap"), pause(7600),
                    play(key_pcap(8)), pause(500)])))
        for i in range(n):
            # A callee per call: calls to one callee would coalesce.
            dest = "sip:phone%d@127.0.0.1:%d" % (
                i, run.phone_port if i % 10 or not recorders else rec_port)
            r = subprocess.run(
                [str(rbbridge.CTL_BIN), "-c", str(run.config), "test-call",
                 dest, "Message number %d: the meeting moved to room %d "
                 "at %d o'clock." % (i, i % 7, i % 12)],
                capture_output=True, text=True, timeout=30)
            if r.returncode:
                raise RuntimeError(r.stderr)
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
        c0, w0 = cpu_seconds(pid), time.monotonic()
        time.sleep(a.window)
        c1, w1 = cpu_seconds(pid), time.monotonic()
        up = run.query("SELECT count(*) FROM jobs WHERE state = 1")[0][0]

        rows = run.query(
            "SELECT j.created_ms, e.created_ms FROM jobs j JOIN events e "
            "ON e.job_id = j.id AND e.type = 1")
        lat = [c - j for j, c in rows]
        calling = run.query("SELECT min(created_ms) FROM events WHERE "
                            "type = 1")[0][0]
        last_ans = run.query("SELECT max(created_ms) FROM events WHERE "
                             "type = 2")[0][0]
        share = (c1 - c0) / (w1 - w0)
        print("== %d concurrent calls (sipp on loopback, PCMA, speech "
              "into each)" % n)
        print("enqueue-to-INVITE        p50 %d ms, p99 %d ms (%d calls)"
              % (statistics.median(lat), pct(lat, 0.99), len(lat)))
        print("set-up                   %d calls answered in %.2f s "
              "(%.1f calls/s)" % (n, (last_ans - calling) / 1000,
                                  n / max((last_ans - calling) / 1000,
                                          1e-3)))
        print("steady state             %d calls up; bridge %.1f%% of one "
              "core = %.2f%% per call" % (up, 100 * share,
                                          100 * share / max(up, 1)))
        voices = run.query("SELECT count(*) FROM events WHERE type = 5")
        print("voice replies recorded   %d of %d recording calls so far"
              % (voices[0][0], recorders))
        rbtest._terminate(sipp, 5)
        if rec:
            rbtest._terminate(rec, 5)
    finally:
        for fn, args in reversed(t.cleanups):
            fn(*args)


if __name__ == "__main__":
    main()
