# SPDX-License-Identifier: GPL-3.0-or-later
"""The gateway contact's presence and the "xmpp" rows on ejabberd 23.01
(rbejabberd.py): plain RFC 6121 presence works on every server, so the
component-level presence tests run here too, minus the PEP activity,
which needs an IQ privilege ejabberd 23.01 does not grant (the contact
still shows the call, and nothing reaches Bob's PEP). ejabberd reports no
session end without an unavailable presence: the component's periodic
recheck (every 30 s) brings the "xmpp" row to unavailable."""

import unittest

import rbejabberd
import test_component_presence as tcp

# The tests that run on ejabberd; PresenceTest's others would only repeat
# the component's logic at the cost of an ejabberd start (10-20 s) each.
ON_EJABBERD = {
    "test_gateway_contact_shows_on_the_phone",
    "test_xep0106_address_and_two_subscribers",
    "test_probe_on_login_and_unsubscribe",
    "test_number_contact_refuses_subscription",
    "test_xmpp_rows_follow_best_resource",
}


class EjabberdPresenceTest(tcp.PresenceTest):
    server_class = rbejabberd.Ejabberd
    row_timeout = 60

    def setUp(self):
        rbejabberd.require_ejabberd()
        super().setUp()

    def test_contact_without_pep(self):
        tcp.NoPubsubPrivilegeTest.test_contact_without_pep(self)

    def test_dropped_session_row(self):
        """ejabberd 23.01 does not tell the component when a session ends
        without an unavailable presence; the periodic recheck does."""
        bob = self.client(self.prosody, "bob")
        bob.send_presence("dnd", "busy")
        self.wait_row("bob", "dnd", "busy")
        bob.abort()
        self.wait_row("bob", "unavailable", None)


for _name in list(vars(tcp.PresenceTest)):
    if _name.startswith("test_") and _name not in ON_EJABBERD:
        setattr(EjabberdPresenceTest, _name, None)


if __name__ == "__main__":
    unittest.main()
