# SPDX-License-Identifier: GPL-3.0-or-later
"""Presence between XMPP and the queue (ARCHITECTURE.md "Presence in both
directions"), the component's side, against a real Prosody:

- the queue's "xmpp" rows follow a registered user's best resource, are
  written only on change, and are rebuilt after the component restarts;
- a contact subscribed to Bob's gateway contact (bob@callgw.localhost)
  sees "Reachable by phone", then dnd "On the phone" while the bridge's
  "sip" row says so, and its removal; a flapping phone does not cause a
  presence storm;
- on Prosody, the call is also in Bob's PEP as XEP-0108 activity
  talking/on_the_phone, emptied when it ends.

The "sip" rows are written the way the bridge writes them
(rbtest.queue_presence_write: the row, then a QUEUE_CH_PRESENCE wake-up).
"""

import time
import unittest

import rbtest
from rbtest import GATEWAY, NS_CLIENT, jid, q

CONTACT = "bob@%s" % GATEWAY
ESCAPED = "bob\\40localhost@%s" % GATEWAY
NS_ACTIVITY = "http://jabber.org/protocol/activity"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"


def show_status(p):
    """(type, show, status) of a <presence/> element."""
    sh = p.find(q(NS_CLIENT, "show"))
    st = p.find(q(NS_CLIENT, "status"))
    return (p.get("type"), sh.text if sh is not None else None,
            st.text if st is not None else None)


class PresenceTest(rbtest.ComponentTest):
    users = ("alice", "bob", "carol")
    operator_registrations = {"bob": "sip:bob@sip.localhost",
                              "carol": "+15551234567"}

    # -- helpers

    def sip(self, state):
        rbtest.queue_presence_write(self.comp.db_path, jid("bob"), "sip",
                                    state)

    def from_contact(self, client, contact=CONTACT):
        return [p for p in client.presences.all()
                if rbtest.bare(p.get("from")) == contact]

    def wait_contact(self, client, want, contact=CONTACT, timeout=20):
        """Until CLIENT's latest presence from CONTACT is WANT
        (type, show, status)."""
        def latest():
            ps = self.from_contact(client, contact)
            return ps and show_status(ps[-1]) == want
        rbtest.wait_until(latest, timeout, what="%s from %s (got %s)" % (
            want, contact, [show_status(p) for p in
                            self.from_contact(client, contact)]))

    def roster_item(self, client, contact):
        r = client.iq("<iq type='get'><query xmlns='jabber:iq:roster'/>"
                      "</iq>")
        for item in r.iter("{jabber:iq:roster}item"):
            if item.get("jid") == contact:
                return item
        return None

    def subscribe(self, client, contact=CONTACT):
        """Subscribes CLIENT to CONTACT and waits until the server has
        the answer: Prosody turns <subscribed/> into a roster push
        (subscription "to") rather than a presence for the client."""
        client.send_raw("<presence xmlns='jabber:client' to='%s' "
                        "type='subscribe'/>" % contact)

        def approved():
            item = self.roster_item(client, contact)
            return item is not None and item.get("subscription") in (
                "to", "both") and item.get("ask") is None
        rbtest.wait_until(approved, 20, what="subscription to " + contact)

    def xmpp_row(self, user):
        rows = self.db.query("SELECT * FROM presence WHERE jid = ? AND "
                             "source = 'xmpp'", (jid(user),))
        return rows[0] if rows else None

    # How long a row may take: on ejabberd 23.01 a session that ends
    # without unavailable is noticed by the 30 s recheck.
    row_timeout = 20

    def wait_row(self, user, state, status=None, timeout=None):
        timeout = timeout or self.row_timeout

        def ok():
            r = self.xmpp_row(user)
            return r if r and (r["state"], r["status"]) == (state, status) \
                else None
        return rbtest.wait_until(ok, timeout, what="xmpp row %s/%s for %s "
                                 "(now %s)" % (state, status, user,
                                               self.xmpp_row(user)))

    def activity(self, client, owner=None):
        """The activity element in OWNER's PEP node (default: CLIENT's
        own) as CLIENT reads it, or None."""
        r = client.iq("<iq type='get' to='%s'><pubsub xmlns='%s'><items "
                      "node='%s'/></pubsub></iq>" % (
                          owner or client.jid, NS_PUBSUB, NS_ACTIVITY))
        if r.get("type") != "result":
            return None
        return r.find(".//{%s}activity" % NS_ACTIVITY)

    # -- gateway contact

    def test_gateway_contact_shows_on_the_phone(self):
        self.subscribe(self.alice)
        self.wait_contact(self.alice, (None, None, "Reachable by phone"))
        subs = self.db.query("SELECT * FROM gateway_subscriptions")
        self.assertEqual([(s["contact"], s["subscriber"], s["user_jid"])
                          for s in subs],
                         [(CONTACT, jid("alice"), jid("bob"))])

        self.sip("on_the_phone")
        self.wait_contact(self.alice, (None, "dnd", "On the phone"))
        self.sip("idle")
        self.wait_contact(self.alice, (None, None, "Reachable by phone"))

    def test_xep0106_address_and_two_subscribers(self):
        carol = self.client(self.prosody, "carol")
        self.subscribe(self.alice)
        self.subscribe(carol, ESCAPED)
        self.wait_contact(carol, (None, None, "Reachable by phone"), ESCAPED)
        self.sip("on_the_phone")
        self.wait_contact(self.alice, (None, "dnd", "On the phone"))
        self.wait_contact(carol, (None, "dnd", "On the phone"), ESCAPED)
        self.sip("idle")
        self.wait_contact(carol, (None, None, "Reachable by phone"), ESCAPED)

    def test_flapping_phone_sends_no_storm(self):
        self.subscribe(self.alice)
        self.wait_contact(self.alice, (None, None, "Reachable by phone"))
        self.sip("on_the_phone")
        self.wait_contact(self.alice, (None, "dnd", "On the phone"))
        self.sip("idle")
        self.wait_contact(self.alice, (None, None, "Reachable by phone"))
        before = len(self.from_contact(self.alice))
        for _ in range(10):
            self.sip("on_the_phone")
            self.sip("idle")
        time.sleep(3.5)  # past the one-second coalescing window, twice
        self.alice.sync()
        after = self.from_contact(self.alice)[before:]
        # Twenty changes: at most one broadcast at once and one when the
        # window closes, and subscribers end with the settled state.
        self.assertLessEqual(len(after), 2, [show_status(p) for p in after])
        self.assertEqual(show_status(self.from_contact(self.alice)[-1]),
                         (None, None, "Reachable by phone"))

    def test_probe_on_login_and_unsubscribe(self):
        self.subscribe(self.alice)
        self.wait_contact(self.alice, (None, None, "Reachable by phone"))
        self.sip("on_the_phone")
        self.wait_contact(self.alice, (None, "dnd", "On the phone"))
        # A new session: Prosody probes the contacts Alice is subscribed
        # to, and the component answers with the current state.
        alice2 = self.client(self.prosody, "alice")
        self.wait_contact(alice2, (None, "dnd", "On the phone"))
        alice2.send_raw("<presence xmlns='jabber:client' to='%s' "
                        "type='unsubscribe'/>" % CONTACT)
        rbtest.wait_until(lambda: not self.db.query(
            "SELECT * FROM gateway_subscriptions"), 20,
            what="the subscription removed")
        self.wait_contact(alice2, ("unavailable", None, None))
        # No longer subscribed: a change reaches nobody.
        n = len(self.from_contact(alice2))
        self.sip("idle")
        time.sleep(2)
        alice2.sync()
        self.assertEqual(len(self.from_contact(alice2)), n)

    def test_unregistered_user_contact_is_unavailable(self):
        # dave has an account but no registration.
        self.prosody.register("dave")
        self.subscribe(self.alice, "dave@%s" % GATEWAY)
        self.wait_contact(self.alice, ("unavailable", None, None),
                          "dave@%s" % GATEWAY)

    def test_registration_changes_contact(self):
        contact = "dave@%s" % GATEWAY
        self.prosody.register("dave")
        self.subscribe(self.alice, contact)
        self.wait_contact(self.alice, ("unavailable", None, None), contact)
        self.comp.register_user(jid("dave"), "sip:dave@sip.localhost")
        self.wait_contact(self.alice, (None, None, "Reachable by phone"),
                          contact)
        rbtest.queue_presence_write(self.comp.db_path, jid("dave"), "sip",
                                    "on_the_phone")
        self.wait_contact(self.alice, (None, "dnd", "On the phone"), contact)
        self.comp.ctl("unregister", jid("dave"))
        self.wait_contact(self.alice, ("unavailable", None, None), contact)

    def test_number_contact_refuses_subscription(self):
        contact = "+15551234567@%s" % GATEWAY
        self.alice.send_raw("<presence xmlns='jabber:client' to='%s' "
                            "type='subscribe'/>" % contact)

        def refused():
            item = self.roster_item(self.alice, contact)
            return item is not None and item.get("subscription") == \
                "none" and item.get("ask") is None
        rbtest.wait_until(refused, 20, what="refusal from " + contact)
        self.assertEqual(self.db.query("SELECT * FROM "
                                       "gateway_subscriptions"), [])

    def test_subscriptions_survive_restart(self):
        self.subscribe(self.alice)
        self.wait_contact(self.alice, (None, None, "Reachable by phone"))
        self.comp.stop()
        self.sip("on_the_phone")  # while the component is down
        self.comp.start()
        self.wait_contact(self.alice, (None, "dnd", "On the phone"), timeout=40)
        self.sip("idle")
        self.wait_contact(self.alice, (None, None, "Reachable by phone"))

    # -- PEP activity

    def test_pep_activity_on_the_phone(self):
        bob = self.client(self.prosody, "bob")
        # Alice has Bob's presence (Bob's client approves): the PEP node's
        # default access model lets her read it.
        self.subscribe(self.alice, jid("bob"))
        self.sip("on_the_phone")

        def talking():
            a = self.activity(self.alice, jid("bob"))
            return a is not None and a.find(
                "{%s}talking/{%s}on_the_phone" % (NS_ACTIVITY, NS_ACTIVITY)
            ) is not None
        rbtest.wait_until(talking, 20, what="activity talking/on_the_phone")
        self.sip("idle")

        def empty():
            a = self.activity(self.alice, jid("bob"))
            return a is not None and len(list(a)) == 0
        rbtest.wait_until(empty, 20, what="an empty activity")
        # Carol, not Bob's contact, may not read it.
        carol = self.client(self.prosody, "carol")
        self.assertIsNone(self.activity(carol, jid("bob")))

    def test_pep_activity_cleared_after_restart(self):
        """The call ends while the component is down: the activity is
        emptied when it starts again."""
        bob = self.client(self.prosody, "bob")
        self.sip("on_the_phone")

        def talking():
            a = self.activity(bob)
            return a is not None and a.find(
                "{%s}talking" % NS_ACTIVITY) is not None
        rbtest.wait_until(talking, 20, what="activity talking")
        self.comp.stop()
        self.sip("idle")
        self.comp.start()

        def empty():
            a = self.activity(bob)
            return a is not None and len(list(a)) == 0
        rbtest.wait_until(empty, 40, what="an empty activity")

    # -- the "xmpp" rows

    def test_xmpp_rows_follow_best_resource(self):
        bob = self.client(self.prosody, "bob")
        self.wait_row("bob", "available")
        bob.send_presence("away", "lunch")
        row = self.wait_row("bob", "away", "lunch")
        # The same presence again: no write.
        bob.send_presence("away", "lunch")
        time.sleep(1.5)
        self.assertEqual(self.xmpp_row("bob")["updated_ms"],
                         row["updated_ms"])
        # A second resource with a higher priority wins, though less
        # available.
        bob2 = self.client(self.prosody, "bob", presence=None)
        bob2.send_raw("<presence xmlns='jabber:client'><show>dnd</show>"
                      "<status>meeting</status><priority>5</priority>"
                      "</presence>")
        self.wait_row("bob", "dnd", "meeting")
        bob2.disconnect()
        self.wait_row("bob", "away", "lunch")
        bob.send_raw("<presence xmlns='jabber:client' type='unavailable'>"
                     "<status>gone home</status></presence>")
        self.wait_row("bob", "unavailable", "gone home")
        # Carol has no SIP address: she takes no part.
        carol = self.client(self.prosody, "carol")
        carol.sync()
        time.sleep(1.5)
        self.assertIsNone(self.xmpp_row("carol"))

    def test_xmpp_rows_rebuilt_after_restart(self):
        bob = self.client(self.prosody, "bob")
        bob.send_presence("xa", "far")
        self.wait_row("bob", "xa", "far")
        self.comp.stop()
        bob.disconnect()  # nobody told the queue
        self.comp.start()
        self.wait_row("bob", "unavailable", None, timeout=40)
        bob = self.client(self.prosody, "bob")
        self.wait_row("bob", "available")

    def test_xmpp_rows_rebuilt_after_server_restart(self):
        """Across the server's restart the row ends unavailable, and once
        the component has reconnected (writes are held until the server's
        initial presence is in) Bob's new presence is written again."""
        bob = self.client(self.prosody, "bob")
        bob.send_presence("dnd", "busy")
        self.wait_row("bob", "dnd", "busy")
        bob.abort()
        self.prosody.restart()
        self.wait_row("bob", "unavailable", None, timeout=60)
        self.alice = self.client(self.prosody, "alice")
        self.comp.wait_ready(self.alice, timeout=60)
        bob = self.client(self.prosody, "bob")
        bob.send_presence("away")
        self.wait_row("bob", "away")


class NoPubsubPrivilegeTest(PresenceTest):
    """A server that grants no pubsub IQ privilege (as ejabberd 23.01
    grants none): the gateway contact still shows the call, and nothing
    is published into Bob's PEP."""

    prosody_options = {"pubsub_privilege": False}

    def test_contact_without_pep(self):
        bob = self.client(self.prosody, "bob")
        self.subscribe(self.alice)
        self.wait_contact(self.alice, (None, None, "Reachable by phone"))
        self.sip("on_the_phone")
        self.wait_contact(self.alice, (None, "dnd", "On the phone"))
        self.sip("idle")
        self.wait_contact(self.alice, (None, None, "Reachable by phone"))
        self.assertIsNone(self.activity(bob))


# Only the test above runs with this server; the rest are PresenceTest's.
for _name in list(vars(PresenceTest)):
    if _name.startswith("test_"):
        setattr(NoPubsubPrivilegeTest, _name, None)


if __name__ == "__main__":
    unittest.main()
