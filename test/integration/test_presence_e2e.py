"""The whole presence loop with every real part: Prosody, the component,
ringbridge-sip and Kamailio as SIP registrar + presence server, sharing one
queue. Bob (registered with the SIP address sip:bob@sip.localhost):

- sets his XMPP client to away: the component writes the "xmpp" row, the
  bridge PUBLISHes it to Kamailio, and a SIP watcher there sees
  rpid:away with his status;
- places a call from his SIP phone through Kamailio: Alice, subscribed to
  his gateway contact bob@callgw.localhost, sees dnd "On the phone", and
  "Reachable by phone" again when the call ends."""

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
                                  domain=SIP_DOMAIN)
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


if __name__ == "__main__":
    unittest.main()
