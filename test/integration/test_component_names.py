# SPDX-License-Identifier: GPL-3.0-or-later
"""Who the callee hears about: the name Bob gave the sender in his roster
(when the server grants roster access), else the sender's own vCard name,
else the local part; and Bob's "only my contacts" option."""

import time

import rbtest
from rbtest import GATEWAY, NS_REGISTER, jid, submit_form

BOB_PHONE = "+15551234567"


def set_vcard(client, fn):
    r = client.iq("<iq type='set'><vCard xmlns='vcard-temp'><FN>%s</FN>"
                  "</vCard></iq>" % fn)
    assert r.get("type") == "result", rbtest.xml_str(r)


def set_roster_name(client, contact, name):
    r = client.iq("<iq type='set'><query xmlns='jabber:iq:roster'>"
                  "<item jid='%s' name='%s'/></query></iq>" % (contact, name))
    assert r.get("type") == "result", rbtest.xml_str(r)


class VcardNameTest(rbtest.ComponentTest):
    operator_registrations = {"bob": BOB_PHONE}

    def test_sender_vcard_name_is_spoken(self):
        set_vcard(self.alice, "Alice Smith")
        self.alice.send_message(jid("bob"), "hello from Alice Smith")
        jobs, _ = self.wait_messages(jid("bob"), 1)
        self.assertEqual(jobs[0]["sender_name"], "Alice Smith")

    def test_local_part_without_vcard(self):
        self.alice.send_message(jid("bob"), "no vcard here")
        jobs, _ = self.wait_messages(jid("bob"), 1)
        self.assertEqual(jobs[0]["sender_name"], "alice")


class RosterTest(rbtest.ComponentTest):
    prosody_options = {"roster_privilege": True}
    users = ("alice", "bob", "carol")

    def register_bob(self, bob, roster_only):
        fields = {"phone": BOB_PHONE,
                  "roster_only": "1" if roster_only else "0"}
        r = bob.iq("<iq type='set' to='%s'><query xmlns='%s'>%s</query>"
                   "</iq>" % (GATEWAY, NS_REGISTER,
                              submit_form(fields, NS_REGISTER)))
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        code = self.db.registration(jid("bob"))["verify_code"]
        r = bob.iq("<iq type='set' to='%s'><query xmlns='%s'>%s</query>"
                   "</iq>" % (GATEWAY, NS_REGISTER,
                              submit_form({"code": code}, NS_REGISTER)))
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        self.assertEqual(self.db.registration(jid("bob"))["verified"], 1)

    def test_roster_name_and_contacts_only(self):
        bob = self.client(self.prosody, "bob")
        set_roster_name(bob, jid("alice"), "Ally from work")
        self.register_bob(bob, roster_only=True)
        bob.disconnect()
        self.prosody.wait_push_enabled("bob")
        carol = self.client(self.prosody, "carol")

        carol.send_message(jid("bob"), "from a stranger")
        self.alice.send_message(jid("bob"), "from a contact")
        jobs, msgs = self.wait_messages(jid("bob"), 1)
        time.sleep(1.0)  # carol's push was answered before alice's
        jobs = self.message_jobs(callee_jid=jid("bob"))
        self.assertEqual([j["sender_jid"] for j in jobs], [jid("alice")])
        self.assertEqual(jobs[0]["sender_name"], "Ally from work")

