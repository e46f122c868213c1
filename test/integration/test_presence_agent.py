# SPDX-License-Identifier: GPL-3.0-or-later
"""ringbridge-sip as presence agent ([presence] mode = agent): a SIP
watcher (sipp) SUBSCRIBEs to a registered user's SIP address at the bridge
and gets NOTIFYs whose PIDF follows the user's XMPP availability ("xmpp"
rows in the queue, as the component writes them), RFC 8048's mapping:
available: open; away: open + rpid:away; dnd: open + rpid:busy;
unavailable: closed; the status text as <note>. Unknown addresses get 404,
other event packages 489; a refreshing SUBSCRIBE gets 200 and a NOTIFY of
the current state, and a subscription that is not refreshed ends with
Subscription-State terminated;reason=timeout."""

import unittest

import rbpresence
import sipwatch
from rbtest import wait_until
from test_kamailio_fixture import sip_request

ALICE = "alice@localhost"


class PresenceAgentTest(unittest.TestCase):
    def setUp(self):
        self.run = rbpresence.Run(self, mode="agent")
        self.run.register(ALICE, "alice")
        self.run.set_xmpp(ALICE, "available", "Here & now")
        self.bridge = self.run.bridge()
        wait_until(lambda: self.run.lease_owner(), timeout=30,
                   what="the presence lease")

    def wait_notifies(self, msg, n):
        try:
            wait_until(lambda: len(self.run.received(msg, "NOTIFY")) >= n,
                       timeout=30, what="NOTIFY %d" % n)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self.run.logs()))

    def test_watcher_follows_xmpp_availability(self):
        steps = [
            (None, None, [r"<basic>open</basic>", r"<note>Here &amp; now"]),
            ("away", "Lunch", [r"<basic>open</basic>", r"<rpid:away/>",
                               r"<note>Lunch</note>"]),
            ("dnd", None, [r"<basic>open</basic>", r"<rpid:busy/>"]),
            ("xa", None, [r"<rpid:away/>"]),
            ("unavailable", "Gone", [r"<basic>closed</basic>",
                                     r"<note>Gone</note>"]),
        ]
        sc = sipwatch.watcher(rbpresence.sip_addr("alice"),
                              [s[2] for s in steps],
                              refresh=[r"<basic>closed</basic>"])
        proc, msg = self.run.sipp(sc, self.bridge.addr)
        for i, (state, status, _) in enumerate(steps):
            if state:
                self.run.set_xmpp(ALICE, state, status)
            self.wait_notifies(msg, i + 1)
        self.run.wait_sipp(proc)
        notes = self.run.received(msg, "NOTIFY")
        self.assertNotIn("rpid:", notes[0])
        self.assertNotIn("rpid:busy", notes[3])

    def test_unknown_user_and_other_events(self):
        r = sip_request(self.bridge.sip_port, "SUBSCRIBE",
                        rbpresence.sip_addr("nobody"),
                        "Event: presence\r\nExpires: 60\r\n"
                        "Contact: <sip:w@127.0.0.1:9>\r\n")
        self.assertTrue(r.startswith("SIP/2.0 404"), r)
        r = sip_request(self.bridge.sip_port, "SUBSCRIBE",
                        rbpresence.sip_addr("alice"),
                        "Event: dialog\r\nExpires: 60\r\n"
                        "Contact: <sip:w@127.0.0.1:9>\r\n")
        self.assertTrue(r.startswith("SIP/2.0 489"), r)

    def test_several_users_and_one_leaves(self):
        users = {"bob": ("dnd", "In a meeting", r"busy/>"),
                 "carol": ("xa", None, r"away/>"),
                 "dave": ("unavailable", None, r"<basic>closed</basic>")}
        for u, (state, status, _) in users.items():
            self.run.register(u + "@localhost", u)
            self.run.set_xmpp(u + "@localhost", state, status)
        procs = {}
        for u, (_, _, rx) in sorted(users.items()):
            # Each watcher sees its own user's state. The bridge picks new
            # users up on ringbridgectl's wake-up: until then a fetch
            # (Expires: 0) gets 404.
            wait_until(lambda: not sip_request(
                self.bridge.sip_port, "SUBSCRIBE", rbpresence.sip_addr(u),
                "Event: presence\r\nExpires: 0\r\n"
                "Contact: <sip:w@127.0.0.1:9>\r\n").startswith(
                    "SIP/2.0 404"), timeout=15, what=u + " known")
            sc = sipwatch.watcher(rbpresence.sip_addr(u), [[rx]],
                                  unsubscribe=(u != "bob"),
                                  final="terminated" if u == "bob" else None)
            procs[u] = self.run.sipp(sc, self.bridge.addr)
            if u == "bob":
                self.wait_notifies(procs[u][1], 1)
        # Bob unregisters: his watcher is told the subscription is over.
        self.run.ctl("unregister", "bob@localhost")
        for u, (proc, _) in procs.items():
            self.run.wait_sipp(proc)

    def test_subscription_expires(self):
        sc = sipwatch.watcher(rbpresence.sip_addr("alice"),
                              [[r"<basic>open</basic>"]], expires=10,
                              unsubscribe=False,
                              final="terminated;reason=timeout")
        proc, msg = self.run.sipp(sc, self.bridge.addr)
        self.run.wait_sipp(proc, timeout=90)


if __name__ == "__main__":
    unittest.main()
