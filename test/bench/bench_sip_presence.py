# SPDX-License-Identifier: GPL-3.0-or-later
"""XMPP availability to a SIP presence server: how long from the
component's "xmpp" row to Kamailio holding the new PIDF, for one user and
for a burst of all users at once.

Starts a private Kamailio 5.6 (registrar + presence server, as in the
integration tests) and ringbridge-sip in mode publish on one queue,
registers USERS users with SIP addresses, then CYCLES times changes one
user's row (away/available in turn, each write followed by a
QUEUE_CH_PRESENCE wake-up, as the component does) and times it until
Kamailio's presentity table holds the new state; then changes every
user's row in one transaction and times until Kamailio holds them all.
Prints p50/p99/max for the single changes and the burst's total. Not run
by CI. Usage:
  /usr/bin/python3 test/bench/bench_sip_presence.py [--users 200]
      [--cycles 20]
"""

import argparse
import os
import pathlib
import sqlite3
import statistics
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "test" / "integration"))
os.environ.setdefault("RB_BUILD_DIR", str(REPO / "build"))

import rbkamailio  # noqa: E402
import rbpresence  # noqa: E402
import rbtest  # noqa: E402


class Owner:
    """Stands in for a TestCase: collects cleanups, runs them at the end."""

    def __init__(self):
        self.cleanups = []

    def addCleanup(self, fn, *args):
        self.cleanups.append((fn, args))

    def close(self):
        for fn, args in reversed(self.cleanups):
            try:
                fn(*args)
            except Exception as e:  # report, keep cleaning up
                print("cleanup: %s" % e, file=sys.stderr)


def write_rows(db, rows):
    con = sqlite3.connect(str(db), timeout=10)
    now = int(time.time() * 1000)
    try:
        with con:
            con.executemany(
                "INSERT INTO presence (jid, source, state, status, "
                "updated_ms) VALUES (?, 'xmpp', ?, NULL, ?) ON CONFLICT "
                "(jid, source) DO UPDATE SET state = excluded.state, "
                "updated_ms = excluded.updated_ms",
                [(j, s, now) for j, s in rows])
    finally:
        con.close()
    rbtest.queue_wake(db, rbtest.QUEUE_CH_PRESENCE)


def held(k, users, marker):
    """How many of USERS Kamailio holds a presence body with MARKER for."""
    rows = k.query("SELECT username, body FROM presentity WHERE "
                   "event = 'presence'")
    want = set(users)
    return sum(1 for u, body in rows
               if u in want and marker in (body.decode() if isinstance(
                   body, bytes) else str(body)))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--cycles", type=int, default=20)
    a = ap.parse_args()
    owner = Owner()
    try:
        k = rbkamailio.presence_server(owner,
                                       domains=(rbpresence.SIP_DOMAIN,))
        run = rbpresence.Run(owner, mode="publish", server=k.uri,
                             debounce_ms=0)
        names = ["u%04d" % i for i in range(a.users)]
        for n in names:
            run.register(n + "@localhost", n)
        run.bridge()
        write_rows(run.db, [(n + "@localhost", "available") for n in names])
        rbtest.wait_until(lambda: held(k, names, "<basic>open") == a.users,
                          timeout=120, what="the first PUBLISHes")

        lat = []
        for i in range(a.cycles):
            state, marker = (("away", "away/>") if i % 2 == 0
                             else ("available", "<basic>open</basic></status>"
                                   "</tuple></presence>"))
            t0 = time.monotonic()
            write_rows(run.db, [(names[0] + "@localhost", state)])
            rbtest.wait_until(lambda: held(k, names[:1], marker) == 1,
                              timeout=30, interval=0.005,
                              what="change %d" % i)
            lat.append((time.monotonic() - t0) * 1000)
            time.sleep(0.2)
        t0 = time.monotonic()
        write_rows(run.db, [(n + "@localhost", "dnd") for n in names])
        rbtest.wait_until(lambda: held(k, names, "busy/>") == a.users,
                          timeout=120, interval=0.02, what="the burst")
        burst = (time.monotonic() - t0) * 1000
        print("users %d: one change row->Kamailio p50 %.0f ms, p99 %.0f ms, "
              "max %.0f ms (%d changes); all %d users changed at once: "
              "%.0f ms" % (a.users, statistics.median(lat), pct(lat, 99),
                           max(lat), len(lat), a.users, burst))
    finally:
        owner.close()


if __name__ == "__main__":
    main()
