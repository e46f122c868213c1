# SPDX-License-Identifier: GPL-3.0-or-later
"""Push-to-commit through a real Prosody: how fast the component catches
messages to offline users, and what it costs next to Prosody.

Starts a private Prosody (no debug log) and the component, registers
USERS offline users, then has alice write to them at RATE messages per
second for SECONDS, and once more as fast as one client can send. Prints
messages committed per second, the component's own push-to-commit
percentiles (from its exit log line) and the CPU seconds of the component
and of Prosody. Not run by CI. Usage:
  /usr/bin/python3 test/bench/bench_push.py [--rate 500] [--seconds 10]
"""

import argparse
import os
import pathlib
import re
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "test" / "integration"))
os.environ.setdefault("RB_BUILD_DIR", str(REPO / "build"))

import rbtest  # noqa: E402


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(rate, seconds, users, flat_out):
    prosody = rbtest.Prosody(debug=False)
    comp = None
    alice = None
    try:
        prosody.start()
        prosody.register("alice")
        names = ["u%03d" % i for i in range(users)]
        comp = rbtest.Component(prosody, policy={
            "calls_per_callee_per_hour": "1000",
            "calls_per_sender_per_hour": "1000",
            "coalesce_seconds": "0"}, sections={"log": {"level": "info"}})
        for n in names:
            prosody.register(n)
            comp.register_user(rbtest.jid(n), "+1555%07d" % names.index(n))
        comp.start()
        alice = rbtest.Client(prosody, "alice")
        alice.connect()
        comp.wait_ready(alice)
        for n in names:
            prosody.wait_push_enabled(n)

        total = rate * seconds if not flat_out else rate
        c0, p0 = cpu_seconds(comp.proc.pid), cpu_seconds(prosody.proc.pid)
        t0 = time.monotonic()
        for i in range(total):
            if not flat_out:
                due = t0 + i / rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            alice.send_raw(
                "<message to='%s' type='chat' id='b%d'><body>bench message "
                "%d: are we still on for lunch?</body></message>"
                % (rbtest.jid(names[i % users]), i, i))
        t_sent = time.monotonic()
        rbtest.wait_until(
            lambda: comp.db.count("job_messages") >= total, timeout=300,
            interval=0.05, what="%d committed" % total)
        t_done = time.monotonic()
        c1, p1 = cpu_seconds(comp.proc.pid), cpu_seconds(prosody.proc.pid)
        comp.stop()
        stats = [l for l in comp.log.read_text().splitlines()
                 if "push-to-commit" in l]
        label = "as fast as one client sends" if flat_out else \
            "offered %d msg/s for %d s" % (rate, seconds)
        print("== %s, %d offline users" % (label, users))
        print("messages sent            %d in %.2f s (%.0f msg/s)"
              % (total, t_sent - t0, total / (t_sent - t0)))
        print("messages committed       %d, last %.0f ms after the last "
              "send (%.0f msg/s overall)"
              % (total, (t_done - t_sent) * 1000, total / (t_done - t0)))
        print("component CPU            %.2f s (%.1f%% of Prosody's "
              "%.2f s)" % (c1 - c0, 100 * (c1 - c0) / max(p1 - p0, 1e-9),
                          p1 - p0))
        for s in stats:
            m = re.search(r"store: (.*)", s)
            print("component says           " + (m.group(1) if m else s))
    finally:
        if alice:
            alice.abort()
        if comp:
            comp.cleanup()
        prosody.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--burst", type=int, default=5000,
                    help="messages sent flat out in the second run")
    a = ap.parse_args()
    run(a.rate, a.seconds, a.users, False)
    run(a.burst, 0, a.users, True)


if __name__ == "__main__":
    main()
