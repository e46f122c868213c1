# SPDX-License-Identifier: GPL-3.0-or-later
"""The component's identity and the IQs every component must answer:
service discovery, version, ping, and errors for what it does not know."""

import unittest

import rbtest
from rbtest import (GATEWAY, NS_DISCO_INFO, NS_VERSION,
                    error_condition, q)


class DiscoTest(rbtest.ComponentTest):

    def test_disco_info_identity_and_features(self):
        r = self.alice.disco_info(GATEWAY)
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        query = r.find(q(NS_DISCO_INFO, "query"))
        self.assertIsNotNone(query, rbtest.xml_str(r))
        cats = [i.get("category")
                for i in query.findall(q(NS_DISCO_INFO, "identity"))]
        self.assertIn("gateway", cats)
        features = {f.get("var")
                    for f in query.findall(q(NS_DISCO_INFO, "feature"))}
        for ns in ("jabber:iq:register", "http://jabber.org/protocol/commands",
                   "urn:xmpp:ping", "jabber:iq:version",
                   "http://jabber.org/protocol/disco#info"):
            self.assertIn(ns, features)

    def test_version(self):
        r = self.alice.iq("<iq type='get' to='%s'><query xmlns='%s'/></iq>"
                          % (GATEWAY, NS_VERSION))
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        name = r.find("%s/%s" % (q(NS_VERSION, "query"), q(NS_VERSION, "name")))
        self.assertIsNotNone(name, rbtest.xml_str(r))
        self.assertEqual(name.text, "ringbridge")
        version = r.find("%s/%s" % (q(NS_VERSION, "query"),
                                    q(NS_VERSION, "version")))
        self.assertTrue(version is not None and version.text)

    def test_ping(self):
        r = self.alice.ping(GATEWAY)
        self.assertEqual(r.get("type"), "result", rbtest.xml_str(r))
        self.assertEqual(rbtest.bare(r.get("from")), GATEWAY)

    def test_unknown_namespace_is_service_unavailable(self):
        r = self.alice.iq("<iq type='get' to='%s'><query xmlns='urn:example:"
                          "nothing-here'/></iq>" % GATEWAY)
        self.assertEqual(r.get("type"), "error", rbtest.xml_str(r))
        self.assertEqual(error_condition(r)[1], "service-unavailable")
        r = self.alice.iq("<iq type='set' to='%s'><thing xmlns='urn:example:"
                          "nothing-here'/></iq>" % GATEWAY)
        self.assertEqual(r.get("type"), "error", rbtest.xml_str(r))
        self.assertIn(error_condition(r)[1],
                      ("service-unavailable", "feature-not-implemented"))

    def test_malformed_register_set(self):
        r = self.alice.iq("<iq type='set' to='%s'><query xmlns='jabber:iq:"
                          "register'><garbage xmlns='urn:example:junk'><a><b/>"
                          "</a></garbage></query></iq>" % GATEWAY)
        self.assertEqual(r.get("type"), "error", rbtest.xml_str(r))
        self.assertIn(error_condition(r)[1], ("bad-request", "not-acceptable"))
        # The component is still there and answering.
        self.assertEqual(self.alice.ping(GATEWAY).get("type"), "result")

    def test_disco_info_to_a_gateway_address(self):
        """A disco#info to a JID at the component gets a reply (either a
        result or an error), never silence."""
        r = self.alice.disco_info("bob@%s" % GATEWAY)
        self.assertIn(r.get("type"), ("result", "error"))


if __name__ == "__main__":
    unittest.main()
