# SPDX-License-Identifier: GPL-3.0-or-later
"""The Kamailio fixture (rbkamailio.py) itself: two servers run side by side
on their own ports and directories, answer SIP, and the presence server's
registrar accepts a REGISTER. Other tests (presence, next hop) build on it,
so a broken fixture should fail here first, with Kamailio's log.

Plain build only: it tests the fixture, not ringbridge's code."""

import socket
import unittest
import uuid

import rbkamailio


def sip_request(port, method, uri, extra="", timeout=10):
    """Sends one request over UDP from an ephemeral loopback port and
    returns the first final response's text."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.bind(("127.0.0.1", 0))
        me = s.getsockname()[1]
        msg = ("%s %s SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
               "From: <sip:tester@example.test>;tag=%s\r\n"
               "To: <%s>\r\nCall-ID: %s\r\nCSeq: 1 %s\r\n"
               "Max-Forwards: 70\r\n%sContent-Length: 0\r\n\r\n" % (
                   method, uri, me, uuid.uuid4().hex, uuid.uuid4().hex[:8],
                   uri, uuid.uuid4().hex, method, extra))
        s.sendto(msg.encode(), ("127.0.0.1", port))
        while True:
            text = s.recv(65535).decode(errors="replace")
            if not text.startswith("SIP/2.0 1"):
                return text
    finally:
        s.close()


class KamailioFixtureTest(unittest.TestCase):
    def test_two_servers_side_by_side(self):
        a = rbkamailio.presence_server(self)
        b = rbkamailio.presence_server(self)
        self.assertNotEqual(a.port, b.port)
        self.assertNotEqual(a.dir, b.dir)
        for k in (a, b):
            r = sip_request(k.port, "OPTIONS", k.uri)
            self.assertTrue(r.startswith("SIP/2.0 200"), r + k.logs())
        r = sip_request(a.port, "REGISTER", "sip:example.test",
                        "Contact: <sip:alice@127.0.0.1:9>;expires=60\r\n")
        self.assertTrue(r.startswith("SIP/2.0 200"), r + a.logs())
        self.assertIn("sip:alice@127.0.0.1:9", r)
        self.assertTrue(a.running() and b.running())
        a.stop()
        self.assertFalse(a.running())
        self.assertFalse(rbkamailio.udp_bound(a.port))
        r = sip_request(b.port, "OPTIONS", b.uri)
        self.assertTrue(r.startswith("SIP/2.0 200"), r + b.logs())

    def test_restart_keeps_port(self):
        k = rbkamailio.presence_server(self)
        port = k.port
        k.restart()
        self.assertEqual(port, k.port)
        r = sip_request(k.port, "OPTIONS", k.uri)
        self.assertTrue(r.startswith("SIP/2.0 200"), r + k.logs())


if __name__ == "__main__":
    unittest.main()
