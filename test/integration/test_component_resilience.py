# SPDX-License-Identifier: GPL-3.0-or-later
"""The component under stress: the server restarting under it, being
killed mid-burst, and a client throwing junk at it."""

import time
import unittest

import rbtest
from rbtest import GATEWAY, jid

BOB_PHONE = "+15551234567"


class RestartTest(rbtest.ComponentTest):
    prosody_options = {"mam": True}
    operator_registrations = {"bob": BOB_PHONE}

    def test_prosody_restart(self):
        bob = self.client(self.prosody, "bob")
        self.alice.send_message(jid("bob"), "before restart, bob online")
        bob.wait_message(from_=jid("alice"), body="before restart, bob online")

        self.prosody.restart()
        # Every client connection died with the old server; bob does not
        # come back. The component must reconnect by itself.
        alice = self.client(self.prosody, "alice", resource="after")
        self.comp.wait_ready(alice, timeout=30)
        self.assertTrue(self.comp.running())
        # It has forgotten bob's presence from before the restart.
        alice.send_message(jid("bob"), "after restart, bob offline")
        jobs, msgs = self.wait_messages(jid("bob"), 1, timeout=30)
        self.assertEqual([m["body"] for m in msgs],
                         ["after restart, bob offline"])
        self.assertEqual(jobs[0]["reply_from"], "bob@localhost")


class KillTest(rbtest.ComponentTest):
    operator_registrations = {"bob": BOB_PHONE}

    def test_sigkill_loses_and_duplicates_nothing(self):
        bodies = ["burst %d" % i for i in range(10)]
        for b in bodies:
            self.alice.send_message(jid("bob"), b)
        self.wait_messages(jid("bob"), len(bodies))
        self.comp.kill()
        jobs_before = self.db.jobs()
        msgs_before = self.db.job_messages()
        self.assertEqual(sorted(m["body"] for m in msgs_before), sorted(bodies))

        self.comp.start()
        self.comp.wait_ready(self.alice)
        self.prosody.wait_push_enabled("bob")
        time.sleep(1.0)
        self.assertEqual(self.db.jobs(), jobs_before)
        self.assertEqual(self.db.job_messages(), msgs_before)

        self.alice.send_message(jid("bob"), "after the crash")
        self.wait_messages(jid("bob"), len(bodies) + 1)
        msgs = self.db.job_messages()
        self.assertEqual(sorted(m["body"] for m in msgs),
                         sorted(bodies + ["after the crash"]))
        self.assertEqual(len({m["id"] for m in msgs}), len(msgs))


class FloodTest(rbtest.ComponentTest):
    operator_registrations = {"bob": BOB_PHONE}
    N = 200

    def junk(self, i, iq_id):
        """The I-th junk stanza: (xml, expects_reply)."""
        big = "A" * (100 * 1024)
        deep = "<a>" * 1000 + "</a>" * 1000
        kinds = [
            # IQs: each must get an error reply.
            "<iq type='set' to='{gw}' id='{id}'><query xmlns='jabber:iq:"
            "register'><garbage xmlns='urn:example:junk'/></query></iq>",
            "<iq type='get' to='{gw}' id='{id}'><query xmlns='urn:example:"
            "unknown-{i}'/></iq>",
            "<iq type='set' to='{gw}' id='{id}'><query xmlns='jabber:iq:"
            "register'><x xmlns='jabber:x:data' type='submit'><field var="
            "'phone'><value>{big}</value></field></x></query></iq>",
            "<iq type='get' to='{gw}' id='{id}'><query xmlns='urn:example:"
            "deep'>{deep}</query></iq>",
            "<iq type='set' to='{gw}' id='{id}'><command xmlns='http://"
            "jabber.org/protocol/commands' node='no-such-{i}' action="
            "'execute'/></iq>",
            "<iq type='set' to='{gw}' id='{id}'><command xmlns='http://"
            "jabber.org/protocol/commands' node='verify' action='complete'"
            " sessionid='{big}'><x xmlns='jabber:x:data' type='submit'>"
            "<field var='code'><value>{big}</value></field></x></command>"
            "</iq>",
            "<iq type='set' to='{gw}' id='{id}'><query xmlns='jabber:iq:"
            "register'><x xmlns='jabber:x:data' type='submit'>{many}</x>"
            "</query></iq>",
            "<iq type='get' to='bob@{gw}' id='{id}'><query xmlns='urn:"
            "example:unknown'><x>{big}</x></query></iq>",
            # Not IQs: no reply required, must not hurt.
            "<message to='{gw}' id='{id}'><body>{big}</body></message>",
            "<message to='nobody@{gw}' type='chat' id='{id}'><body>{deepbody}"
            "</body><x xmlns='urn:example:x'>{deep}</x></message>",
            "<presence to='{gw}' type='subscribe' id='{id}'><status>{big}"
            "</status></presence>",
            "<iq type='result' to='{gw}' id='{id}'><unsolicited xmlns='urn:"
            "example:x'/></iq>",
        ]
        many = "".join("<field var='f%d'><value>v</value></field>" % n
                       for n in range(2000))
        tmpl = kinds[i % len(kinds)]
        xml = tmpl.format(gw=GATEWAY, id=iq_id, i=i, big=big, deep=deep,
                          many=many, deepbody="x" * 1000)
        xml = xml.replace("<iq ", "<iq xmlns='jabber:client' ", 1) \
                 .replace("<message ", "<message xmlns='jabber:client' ", 1) \
                 .replace("<presence ", "<presence xmlns='jabber:client' ", 1)
        wants_reply = xml.startswith("<iq") and ("type='get'" in xml[:80]
                                                 or "type='set'" in xml[:80])
        return xml, wants_reply

    def test_flood_of_junk(self):
        pending = {}
        for i in range(self.N):
            iq_id = "flood-%d" % i
            xml, wants_reply = self.junk(i, iq_id)
            if wants_reply:
                pending[iq_id] = self.alice.iq_nowait(xml)
            else:
                self.alice.send_raw(xml)
        self.assertGreater(len(pending), 100)
        deadline = time.monotonic() + 120
        missing, not_error = [], []
        for iq_id, fut in pending.items():
            try:
                r = fut.result(max(0.1, deadline - time.monotonic()))
            except Exception:
                missing.append(iq_id)
                continue
            if r.get("type") != "error":
                not_error.append(iq_id)
        self.assertEqual(missing, [], "IQs without a reply")
        self.assertEqual(not_error, [], "IQs answered with a result")
        self.assertTrue(self.comp.running())
        r = self.alice.ping(GATEWAY)
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        # Still doing its job.
        self.alice.send_message(jid("bob"), "still there?")
        rbtest.wait_until(
            lambda: [m for m in self.db.job_messages()
                     if m["body"] == "still there?"], 30,
            what="a message caught after the flood")


if __name__ == "__main__":
    unittest.main()
