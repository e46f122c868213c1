# SPDX-License-Identifier: GPL-3.0-or-later
"""Gateway contacts' "On the phone" through a real Prosody: how long from
the bridge's "sip" row to every subscriber's client, and how many presences
a flapping phone costs each subscriber.

Starts a private Prosody (no debug log) and the component, registers bob
with a SIP address and SUBS local users subscribed to bob@callgw.localhost,
then CYCLES times writes bob's "sip" row on_the_phone and idle (as the
bridge does: the row, then a QUEUE_CH_PRESENCE wake-up), 1.2 s apart (past
the component's one-second coalescing window), and times each change until
every subscriber has it. Then FLIPS changes as fast as Python writes them,
and counts what each subscriber received in the following 3 s. Prints the
row-to-client latency p50/p99/max and the presences per subscriber. Not
run by CI. Usage:
  /usr/bin/python3 test/bench/bench_presence.py [--subs 20] [--cycles 10]
      [--flips 100]
"""

import argparse
import os
import pathlib
import statistics
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "test" / "integration"))
os.environ.setdefault("RB_BUILD_DIR", str(REPO / "build"))

import rbtest  # noqa: E402
from rbtest import GATEWAY, NS_CLIENT, q  # noqa: E402

CONTACT = "bob@%s" % GATEWAY


def show_of(p):
    sh = p.find(q(NS_CLIENT, "show"))
    return sh.text if sh is not None else None


def from_contact(client):
    return [p for p in client.presences.all()
            if rbtest.bare(p.get("from")) == CONTACT and
            p.get("type") is None]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def run(subs, cycles, flips):
    prosody = rbtest.Prosody(debug=False)
    comp = None
    clients = []
    try:
        prosody.start()
        prosody.register("bob")
        comp = rbtest.Component(prosody, policy={
            "allowed_sip_domains": "sip.localhost"},
            sections={"log": {"level": "info"}})
        comp.register_user(rbtest.jid("bob"), "sip:bob@sip.localhost")
        comp.start()
        for i in range(subs):
            c = rbtest.Client(prosody, "s%03d" % i)
            c.connect()
            clients.append(c)
        comp.wait_ready(clients[0])
        for c in clients:
            c.send_raw("<presence xmlns='jabber:client' to='%s' "
                       "type='subscribe'/>" % CONTACT)
        rbtest.wait_until(lambda: all(from_contact(c) for c in clients),
                          60, what="every subscriber has bob's contact")

        lat = []
        for i in range(cycles * 2):
            want = "dnd" if i % 2 == 0 else None
            before = [len(from_contact(c)) for c in clients]
            t0 = time.monotonic()
            rbtest.queue_presence_write(comp.db_path, rbtest.jid("bob"),
                                        "sip", "on_the_phone" if want
                                        else "idle")
            pending = set(range(subs))
            while pending and time.monotonic() - t0 < 30:
                for k in list(pending):
                    got = from_contact(clients[k])[before[k]:]
                    if got and show_of(got[-1]) == want:
                        lat.append((time.monotonic() - t0) * 1000)
                        pending.discard(k)
                time.sleep(0.001)
            if pending:
                print("change %d: %d subscribers never saw it" % (
                    i, len(pending)))
            time.sleep(1.2)
        print("row-to-client latency over %d deliveries (%d subscribers): "
              "p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
                  len(lat), subs, statistics.median(lat), pct(lat, 99),
                  max(lat)))

        before = [len(from_contact(c)) for c in clients]
        t0 = time.monotonic()
        for i in range(flips):
            rbtest.queue_presence_write(comp.db_path, rbtest.jid("bob"),
                                        "sip", "on_the_phone" if i % 2 == 0
                                        else "idle")
        took = time.monotonic() - t0
        time.sleep(3)
        for c in clients:
            c.sync()
        got = [len(from_contact(c)) - b for c, b in zip(clients, before)]
        last = [show_of(from_contact(c)[-1]) for c in clients]
        print("%d changes in %.2f s: presences per subscriber min %d, "
              "max %d; every subscriber ends %s" % (
                  flips, took, min(got), max(got),
                  "available" if all(s is None for s in last)
                  else "WRONG: %s" % last))
    finally:
        for c in clients:
            c.disconnect()
        if comp is not None:
            comp.cleanup()
        prosody.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--subs", type=int, default=20)
    ap.add_argument("--cycles", type=int, default=10)
    ap.add_argument("--flips", type=int, default=100)
    a = ap.parse_args()
    run(a.subs, a.cycles, a.flips)


if __name__ == "__main__":
    main()
