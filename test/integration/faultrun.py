# SPDX-License-Identifier: GPL-3.0-or-later
"""The catch path under faults, counted: alice writes to offline bob at a
steady rate while the component is SIGKILLed and restarted, restarted with
SIGTERM, Prosody restarts under it, and the component is away for 10 s.

Every body names the fault it was sent in ("fr PHASE N"). What the server
accepted is what it stored for bob: at the end bob logs in and collects his
offline messages. What was caught is what the component committed to its
queue (job_messages). Lost = accepted and never caught; duplicated = caught
more than once. Used by test_catch_faults.py (which asserts on it) and
test/bench/bench_faults.py (which prints the table for both servers, with
and without mod_ringbridge)."""

import collections
import re
import threading
import time

import rbtest
from rbtest import jid

BOB_PHONE = "+15551234567"
RATE = 10.0  # messages per second
BODY = re.compile(r"^fr ([a-z0-9-]+) (\d+)$")
# Phases in the order they run; "steady" (no fault) before and after.
FAULTS = ("sigkill", "sigterm", "prosody-restart", "outage-10s")
PHASES = ("steady",) + FAULTS + ("after",)
# No bridge runs, so jobs stay queued and every message joins bob's one
# open job: limits high enough never to refuse one of them.
POLICY = {"calls_per_callee_per_hour": "1000",
          "calls_per_sender_per_hour": "1000"}


class Writer(threading.Thread):
    """Alice, sending "fr PHASE N" to bob every 1/RATE s, logging in again
    whenever her connection died (a Prosody restart)."""

    def __init__(self, prosody):
        super().__init__(daemon=True)
        self.prosody = prosody
        self.phase = "steady"
        self.sent = collections.Counter()  # phase -> messages handed to TCP
        self.stop_flag = threading.Event()
        self.client = None
        self.reconnects = 0
        self.n = 0

    def _connect(self):
        c = rbtest.Client(self.prosody, "alice",
                          resource="writer-%d" % self.reconnects)
        c.connect(timeout=3.0)
        self.client = c

    def run(self):
        period = 1.0 / RATE
        nxt = time.monotonic()
        while not self.stop_flag.is_set():
            if self.client is None:
                try:
                    self._connect()
                except Exception:
                    self.client = None
                    time.sleep(0.2)
                    continue
            phase = self.phase
            try:
                x = self.client.xmpp
                if x is None or x.transport is None or \
                        x.transport.is_closing():
                    raise ConnectionError("alice's stream ended")
                self.client.send_message(jid("bob"),
                                         "fr %s %d" % (phase, self.n))
                self.sent[phase] += 1
                self.n += 1
            except Exception:
                old, self.client = self.client, None
                self.reconnects += 1
                if old is not None:
                    old.abort()
                continue
            nxt += period
            time.sleep(max(0.0, nxt - time.monotonic()))
            nxt = max(nxt, time.monotonic() - period)

    def finish(self):
        self.stop_flag.set()
        self.join(30)
        if self.client is not None:
            try:
                self.client.sync()
            except Exception:
                pass
            self.client.disconnect()


def caught_bodies(db):
    try:
        return [m["body"] for m in db.job_messages()]
    except Exception:
        return []


def pending_file(prosody, user="bob"):
    """mod_ringbridge's store for USER (absent when nothing is pending)."""
    return prosody.data / rbtest.DOMAIN / "ringbridge_pending" / (
        "%s.dat" % user)


def run(test, *, module, version=None, seconds=3.0, outage=10.0,
        settle=90.0, log=print):
    """Runs the fault sequence in TEST (an rbtest.IntegrationTest, which
    owns the processes) and returns {phase: (sent, accepted, caught, lost,
    duplicated)} plus a "total" row."""
    prosody = test.start_prosody(ringbridge_module=module, version=version,
                                 debug=False)
    for u in ("alice", "bob"):
        prosody.register(u)
    comp = test.start_component(prosody, start=False, policy=POLICY)
    comp.register_user(jid("bob"), BOB_PHONE)
    comp.start()
    probe = test.client(prosody, "alice", resource="probe")
    comp.wait_ready(probe)
    prosody.wait_push_enabled("bob")
    probe.disconnect()

    w = Writer(prosody)
    w.start()

    def phase(name):
        w.phase = name
        log("  %-16s (sent so far %d)" % (name, w.n))

    def ready_again():
        # The component is back once a push to it is taken: wait for its
        # disco answer through a client of our own.
        c = rbtest.Client(prosody, "alice", resource="probe-%d" % w.n)
        c.connect()
        try:
            comp.wait_ready(c, timeout=60)
        finally:
            c.disconnect()

    try:
        time.sleep(seconds)
        phase("sigkill")
        comp.kill()
        comp.start()
        ready_again()
        time.sleep(seconds)
        phase("sigterm")
        comp.stop()
        comp.start()
        ready_again()
        time.sleep(seconds)
        phase("prosody-restart")
        prosody.restart()
        ready_again()
        time.sleep(seconds)
        phase("outage-10s")
        comp.stop()
        time.sleep(outage)
        comp.start()
        ready_again()
        time.sleep(seconds)
        phase("after")
        time.sleep(seconds)
    finally:
        w.finish()

    # Let re-sends arrive: with the module, until nothing is pending and
    # the caught count stops moving; without it, until it stops moving.
    deadline = time.monotonic() + settle
    last, still = -1, 0
    while time.monotonic() < deadline:
        n = len(caught_bodies(comp.db))
        busy = module and pending_file(prosody).exists()
        still = still + 1 if n == last and not busy else 0
        if still >= 6:
            break
        last = n
        time.sleep(0.5)

    caught = collections.Counter(caught_bodies(comp.db))
    comp.stop()
    # Re-sends the component recognised by their stable id (catch.c logs
    # "duplicate" for each): how often the dedup was needed.
    resent = len(re.findall(r"to bob@localhost: duplicate",
                            comp.log.read_text(errors="replace")))
    bob = test.client(prosody, "bob")
    bob.sync()
    accepted = collections.Counter()

    def collect():
        for m in bob.messages.take_all():
            b = m.find(rbtest.q(rbtest.NS_CLIENT, "body"))
            if b is not None and BODY.match(b.text or ""):
                accepted[b.text] += 1
        return None

    # Offline messages arrive with bob's initial presence; wait until the
    # count holds still for 2 s.
    last, t_still = -1, time.monotonic()
    end = time.monotonic() + 60
    while time.monotonic() < end:
        collect()
        n = sum(accepted.values())
        if n != last:
            last, t_still = n, time.monotonic()
        elif time.monotonic() - t_still > 2.0:
            break
        time.sleep(0.2)

    table = {"resent_deduplicated": resent}
    for ph in PHASES + ("total",):
        def of(counter):
            return {b: k for b, k in counter.items()
                    if ph == "total" or BODY.match(b).group(1) == ph}
        acc, cau = of(accepted), of(caught)
        sent = sum(w.sent.values()) if ph == "total" else w.sent[ph]
        lost = len([b for b in acc if b not in cau])
        dup = sum(k - 1 for k in cau.values() if k > 1)
        extra = len([b for b in cau if b not in acc])
        table[ph] = {"sent": sent, "accepted": len(acc), "caught": len(cau),
                     "lost": lost, "duplicated": dup, "not_accepted": extra}
    return table


def format_table(title, table):
    lines = [title,
             "%-16s %6s %9s %7s %5s %11s" % ("phase", "sent", "accepted",
                                              "caught", "lost", "duplicated")]
    for ph, r in table.items():
        if not isinstance(r, dict):
            continue
        lines.append("%-16s %6d %9d %7d %5d %11d" % (
            ph, r["sent"], r["accepted"], r["caught"], r["lost"],
            r["duplicated"]))
    lines.append("re-sent pushes the component recognised as duplicates: %d"
                 % table["resent_deduplicated"])
    return "\n".join(lines)
