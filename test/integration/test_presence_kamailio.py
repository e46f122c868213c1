# SPDX-License-Identifier: GPL-3.0-or-later
"""Presence through Kamailio 5.6 as registrar + presence server
(rbkamailio.PRESENCE_ROUTES, the configuration docs/presence.md shows).

XMPP to SIP: with [presence] mode = publish, a user's XMPP availability
("xmpp" rows, as the component writes them) is PUBLISHed to Kamailio, and a
SIP watcher (sipp) subscribed there sees the PIDF change: available, away
(rpid:away, with the status as <note>) and back.

SIP to XMPP: a sipp phone registered at Kamailio calls through it;
Kamailio's pua_dialoginfo publishes the dialog state, the bridge's dialog
subscription hears it, and the user's "sip" row becomes on_the_phone during
the call and idle after it (the queue's claim then holds that user's jobs:
test/unit/test_queue.c test_claim_on_the_phone). After
Kamailio restarts (and forgets every subscription) the bridge subscribes
again and still sees the next call."""

import time
import unittest

import rbkamailio
import rbpresence
import rbtest
import sipwatch
from rbtest import free_ports, wait_until
from test_kamailio_fixture import sip_request

ALICE = "alice@localhost"


class KamailioPresenceTest(unittest.TestCase):
    def start(self, **kw):
        self.k = rbkamailio.presence_server(
            self, domains=(rbpresence.SIP_DOMAIN,))
        self.run = rbpresence.Run(self, mode="publish", server=self.k.uri,
                                  **kw)
        self.run.extra_logs.append(self.k.logs)
        self.run.register(ALICE, "alice")

    def wait(self, fn, what, timeout=30):
        try:
            return wait_until(fn, timeout=timeout, what=what)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self.run.logs()))

    def presentity(self):
        rows = self.k.query("SELECT body FROM presentity WHERE "
                            "username = 'alice' AND event = 'presence'")
        return rows[0][0].decode() if rows and isinstance(
            rows[0][0], bytes) else (rows[0][0] if rows else "")

    def test_xmpp_away_and_back_seen_by_sip_watcher(self):
        self.start()
        self.run.set_xmpp(ALICE, "available", None)
        self.run.bridge()
        self.wait(lambda: "<basic>open</basic>" in self.presentity(),
                  "alice's PUBLISH at Kamailio")
        sc = sipwatch.watcher(rbpresence.sip_addr("alice"), [
            [r"<basic>open</basic>"],
            [r"<basic>open</basic>", r"away/>", r"<note>Back at 3</note>"],
            [r"<basic>open</basic>"],
        ])
        proc, msg = self.run.sipp(sc, self.k.addr)
        self.wait(lambda: len(self.run.received(msg, "NOTIFY")) >= 1,
                  "the first NOTIFY")
        self.run.set_xmpp(ALICE, "away", "Back at 3")
        self.wait(lambda: len(self.run.received(msg, "NOTIFY")) >= 2,
                  "the away NOTIFY")
        self.run.set_xmpp(ALICE, "available", None)
        self.wait(lambda: len(self.run.received(msg, "NOTIFY")) >= 3,
                  "the available NOTIFY")
        self.run.wait_sipp(proc)
        notes = self.run.received(msg, "NOTIFY")
        self.assertNotIn("away/>", notes[0])
        self.assertNotIn("away/>", notes[2])

    def test_unregistering_removes_the_publication(self):
        self.start()
        self.run.set_xmpp(ALICE, "dnd", "Busy")
        self.run.bridge()
        self.wait(lambda: "busy/>" in self.presentity(),
                  "alice's PUBLISH at Kamailio")
        self.run.ctl("unregister", ALICE)
        # ringbridgectl wakes the bridge (registrations channel), which
        # sends PUBLISH with Expires: 0; Kamailio drops the presentity.
        self.wait(lambda: self.presentity() == "", "the unPUBLISH",
                  timeout=15)

    def test_stop_unpublishes_then_exits(self):
        # SIGTERM: the bridge's unPUBLISH (Expires: 0) removes alice's
        # presentity and its unSUBSCRIBE is answered before nua shuts
        # down, so the stop is quick and gives nothing up.
        self.start()
        self.run.set_xmpp(ALICE, "away", None)
        bridge = self.run.bridge()
        self.wait(lambda: "away/>" in self.presentity(),
                  "alice's PUBLISH at Kamailio")
        self.wait(lambda: self.run.sip_state(ALICE) == "idle",
                  "the dialog subscription's first NOTIFY")
        t0 = time.monotonic()
        self.assertEqual(bridge.stop(), 0, self.run.logs())
        self.assertLess(time.monotonic() - t0, rbtest.scaled(3),
                        self.run.logs())
        self.assertEqual(self.presentity(), "")
        log = bridge.log.read_text(errors="replace")
        self.assertNotIn("given up", log)
        self.assertNotIn("nta_agent_destroy", log)

    def test_publication_is_refreshed_before_it_expires(self):
        self.start(expires=10)
        self.run.set_xmpp(ALICE, "away", None)
        self.run.bridge()
        self.wait(lambda: "away/>" in self.presentity(),
                  "alice's PUBLISH at Kamailio")
        first = self.k.query("SELECT etag, expires FROM presentity WHERE "
                             "username = 'alice'")[0]
        # Three lifetimes later the publication is still there, refreshed
        # (a new expiry, SIP-If-Match keeping the same publication).
        time.sleep(25)
        now = time.time()
        rows = self.k.query("SELECT etag, expires, body FROM presentity "
                            "WHERE username = 'alice' AND expires > ?",
                            (int(now),))
        self.assertEqual(len(rows), 1, self.run.logs())
        self.assertGreater(rows[0][1], first[1])
        self.assertIn("away/>", str(rows[0][2]))

    def register_phone(self, user, port, domain=rbpresence.SIP_DOMAIN):
        # REGISTER's To (here the request URI too) names the AOR.
        r = sip_request(self.k.port, "REGISTER",
                        "sip:%s@%s" % (user, domain),
                        "Contact: <sip:%s@127.0.0.1:%d>;expires=300\r\n" % (
                            user, port))
        self.assertTrue(r.startswith("SIP/2.0 200"), r + self.k.logs())

    def call(self, hold_ms, caller="alice", callee="bob",
             domain=rbpresence.SIP_DOMAIN):
        """CALLER (a sipp phone) calls CALLEE (another, registered at
        Kamailio) through Kamailio; returns the caller's sipp process."""
        port = free_ports(1)[0]
        self.register_phone(callee, port, domain)
        self.run.sipp(sipwatch.callee(), "", port=port)
        sc = sipwatch.caller("sip:%s@%s" % (caller, domain),
                             "sip:%s@%s" % (callee, domain), hold_ms)
        proc, _ = self.run.sipp(sc, self.k.addr)
        return proc

    def states_during_call(self, hold_ms=5000):
        proc = self.call(hold_ms)
        self.wait(lambda: self.run.sip_state(ALICE) == "on_the_phone",
                  "alice on the phone")
        self.wait(lambda: self.run.sip_state(ALICE) == "idle",
                  "alice idle after the call", timeout=40)
        self.run.wait_sipp(proc)

    def test_call_through_kamailio_sets_the_phone_state(self):
        self.start(debounce_ms=300)
        self.run.bridge()
        self.wait(lambda: self.run.sip_state(ALICE) == "idle",
                  "alice's first dialog state (idle)")
        self.states_during_call()

    def test_a_flapping_phone_is_debounced(self):
        self.start(debounce_ms=1500)
        self.run.bridge()
        self.wait(lambda: self.run.sip_state(ALICE) == "idle",
                  "alice's first dialog state (idle)")
        before = self.run.query("SELECT updated_ms FROM presence WHERE "
                                "jid = ? AND source = 'sip'", (ALICE,))
        # Answered and hung up within half a second: no row is written.
        proc = self.call(300)
        self.run.wait_sipp(proc)
        time.sleep(3)
        self.assertEqual(self.run.query(
            "SELECT state, updated_ms FROM presence WHERE jid = ? AND "
            "source = 'sip'", (ALICE,)), [("idle", before[0][0])])
        # A call that lasts is still seen.
        self.states_during_call(hold_ms=4000)

    def test_resubscribes_after_kamailio_restarts(self):
        self.start(debounce_ms=0, expires=10)
        self.run.bridge()
        self.wait(lambda: self.run.sip_state(ALICE) == "idle",
                  "alice's first dialog state (idle)")
        self.k.restart()
        # The refresh (about half of 10 s) meets a Kamailio that forgot
        # the subscription; the bridge subscribes again.
        time.sleep(8)
        self.states_during_call()


if __name__ == "__main__":
    unittest.main()
