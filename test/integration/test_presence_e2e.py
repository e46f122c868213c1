# SPDX-License-Identifier: GPL-3.0-or-later
"""The whole presence loop with every real part: Prosody, the component,
ringbridge-sip and Kamailio as SIP registrar + presence server, sharing one
queue. Bob (registered with the SIP address sip:bob@sip.localhost):

- sets his XMPP client to away: the component writes the "xmpp" row, the
  bridge PUBLISHes it to Kamailio, and a SIP watcher there sees
  rpid:away with his status;
- places a call from his SIP phone through Kamailio: Alice, subscribed to
  his gateway contact bob@callgw.localhost, sees dnd "On the phone", and
  "Reachable by phone" again when the call ends;
- is phoned about a message Alice writes to his gateway contact while he
  is offline on XMPP and in a call: the job waits, unclaimed, until the
  call ends, then the bridge calls his phone (through Kamailio)."""

import time

import unittest

import rbkamailio
import rbpresence
import rbtest
import sipwatch
import test_component_presence as tcp
import test_presence_kamailio as tpk
from rbtest import jid, wait_until

SIP_DOMAIN = "sip.localhost"


class PresenceLoopTest(rbtest.ComponentTest):
    users = ("alice", "bob")
    operator_registrations = {"bob": "sip:bob@%s" % SIP_DOMAIN}

    subscribe = tcp.PresenceTest.subscribe
    roster_item = tcp.PresenceTest.roster_item
    from_contact = tcp.PresenceTest.from_contact
    wait_contact = tcp.PresenceTest.wait_contact
    register_phone = tpk.KamailioPresenceTest.register_phone
    call = tpk.KamailioPresenceTest.call

    def setUp(self):
        super().setUp()
        self.k = rbkamailio.presence_server(self, domains=(SIP_DOMAIN,))
        self.run = rbpresence.Run(self, mode="publish", server=self.k.uri,
                                  debounce_ms=300, db=self.comp.db_path,
                                  domain=SIP_DOMAIN, extra_sip=(
                                      "outbound_proxy = %s" % self.k.uri))
        self.run.extra_logs.append(self.k.logs)
        self.run.bridge()

    def wait(self, fn, what, timeout=30):
        try:
            return wait_until(fn, timeout=timeout, what=what)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self.run.logs()))

    def test_xmpp_away_reaches_sip_and_a_call_reaches_xmpp(self):
        bob = self.client(self.prosody, "bob")
        bob.send_presence("away", "Back at 3")
        self.wait(lambda: self.run.query(
            "SELECT state FROM presence WHERE jid = ? AND source = 'xmpp'",
            (jid("bob"),)) == [("away",)], "bob's xmpp row")
        # The watcher's first NOTIFY carries what Kamailio holds then.
        self.wait(lambda: "away/>" in "".join(
            str(r[0]) for r in self.k.query(
                "SELECT body FROM presentity WHERE username = 'bob' AND "
                "event = 'presence'")), "bob's PUBLISH at Kamailio")
        sc = sipwatch.watcher("sip:bob@%s" % SIP_DOMAIN, [
            [r"<basic>open</basic>", r"away/>", r"<note>Back at 3</note>"]])
        proc, _ = self.run.sipp(sc, self.k.addr)
        self.run.wait_sipp(proc)

        self.subscribe(self.alice, tcp.CONTACT)
        self.wait_contact(self.alice, (None, None, "Reachable by phone"))
        proc = self.call(5000, caller="bob", callee="carol",
                         domain=SIP_DOMAIN)
        self.wait_contact(self.alice, (None, "dnd", "On the phone"),
                          timeout=30)
        self.wait_contact(self.alice, (None, None, "Reachable by phone"),
                          timeout=40)
        self.run.wait_sipp(proc)

    def test_message_waits_for_the_call_to_end(self):
        self.subscribe(self.alice, tcp.CONTACT)
        self.wait_contact(self.alice, (None, None, "Reachable by phone"))
        # Bob's phone for the bridge's call: answers, then waits for BYE.
        port, media = rbtest.free_ports(2)
        self.register_phone("bob", port, SIP_DOMAIN)
        import rbbridge
        uas, msg = rbbridge.start_sipp(
            self.run.dir, 90, "uas_answer.xml", port, media, 1,
            dict(FORMATS="0", RTPMAPS="a=rtpmap:0 PCMU/8000", MEDIA=""))
        self.run.sipps.append((uas, msg))

        proc = self.call(9000, caller="bob", callee="carol",
                         domain=SIP_DOMAIN)
        self.wait_contact(self.alice, (None, "dnd", "On the phone"),
                          timeout=30)
        self.alice.send_message(tcp.CONTACT, "Call me when you can")
        job = self.wait(lambda: self.db.jobs(callee_jid=jid("bob")),
                        "bob's job")[0]
        time.sleep(3)
        job = self.db.jobs(id=job["id"])[0]
        self.assertEqual((job["state"], job["attempts"]), (0, 0),
                         "claimed while bob was on the phone")
        self.assertEqual(self.run.sip_state(jid("bob")), "on_the_phone")
        self.wait_contact(self.alice, (None, None, "Reachable by phone"),
                          timeout=40)
        self.wait(lambda: self.db.jobs(id=job["id"])[0]["attempts"] >= 1,
                  "bob's job claimed after the call", timeout=15)
        self.wait(lambda: "INVITE sip:bob@" in msg.read_text(
            errors="replace") if msg.exists() else False,
            "the bridge's call to bob's phone", timeout=30)
        self.run.wait_sipp(proc)


if __name__ == "__main__":
    unittest.main()
