#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Diagnostic probe: what ejabberd 23.01 (Debian's) really sends a
privileged XEP-0114 component, on this machine. Not a test.

It starts a private ejabberd through rbejabberd (the harness's exact
config), plays callgw.localhost itself over a raw socket (probe_prosody's
RawComponent: the XML printed is the bytes the server sent), drives alice
and bob with slixmpp, and prints every experiment of EJABBERD_NOTES.md.
Run: /usr/bin/python3 test/integration/probe_ejabberd.py
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import probe_prosody  # noqa: E402
import rbejabberd  # noqa: E402
import rbtest  # noqa: E402
from probe_prosody import (NS_ACCEPT, RawComponent, is_presence, is_push,  # noqa: E402
                           section, show)
from rbtest import DOMAIN, GATEWAY, q  # noqa: E402


def presences(comp, settle=1.0):
    return [raw for raw, el in comp.drain(settle) if is_presence(el)]


def main():
    p = rbejabberd.Ejabberd()
    p.start()
    try:
        alice = rbtest.Client(p, "alice", resource="phone").connect()
        p.register("bob")

        section("(1) privilege advertisement, and presence of users already "
                "online when the component connects")
        comp = RawComponent(p).connect()
        for raw, _ in comp.drain(2.0):
            show("received at connect", raw)

        section("(2) bob logs in, goes away, sends unavailable explicitly")
        bob = rbtest.Client(p, "bob", resource="laptop").connect()
        show("bob available", comp.take(is_presence, what="bob avail")[0])
        bob.send_presence("away", status="lunch")
        show("bob away", comp.take(is_presence, what="bob away")[0])
        bob.send_presence("unavailable")
        for raw in presences(comp):
            show("bob sent <presence type='unavailable'/>", raw)
        bob.disconnect()

        section("(3) a session that ends without an unavailable presence")
        bob = rbtest.Client(p, "bob", resource="laptop").connect()
        comp.take(is_presence, what="bob avail")
        bob.disconnect()
        got = presences(comp, 2.0)
        show("after </stream:stream> with no unavailable first",
             "\n".join(got) or "(nothing)")
        bob = rbtest.Client(p, "bob", resource="laptop").connect()
        comp.take(is_presence, what="bob avail")
        bob.abort()
        got = presences(comp, 3.0)
        show("after the TCP connection dropped", "\n".join(got) or
             "(nothing)")

        section("(4) IQ to a full JID whose session is gone, and to a live "
                "one (how a component can tell)")
        r = comp.iq("<iq type='get' id='d1' from='%s' to='bob@%s/laptop'>"
                    "<query xmlns='http://jabber.org/protocol/disco#info'/>"
                    "</iq>" % (GATEWAY, DOMAIN), "d1")
        show("disco#info to bob@localhost/laptop (gone)", r)
        r = comp.iq("<iq type='get' id='d2' from='%s' to='alice@%s/phone'>"
                    "<query xmlns='http://jabber.org/protocol/disco#info'/>"
                    "</iq>" % (GATEWAY, DOMAIN), "d2")
        show("disco#info to alice@localhost/phone (online)", r)

        section("(5) privileged IQ (no IQ privilege in 23.01)")
        for ns in ("urn:xmpp:privilege:1", "urn:xmpp:privilege:2"):
            r = comp.iq(
                "<iq type='set' id='pi' from='{gw}' to='bob@{d}'>"
                "<privileged_iq xmlns='{ns}'><iq xmlns='jabber:client' "
                "type='set' id='pi-w' from='bob@{d}' to='bob@{d}'>"
                "<enable xmlns='urn:xmpp:push:0' jid='{gw}' node='N'/>"
                "</iq></privileged_iq></iq>".format(gw=GATEWAY, d=DOMAIN,
                                                    ns=ns), "pi")
            show("privileged_iq in " + ns, r)

        section("(6) privileged message from alice to bob (outgoing)")
        bob = rbtest.Client(p, "bob", resource="laptop").connect()
        comp.take(is_presence, what="bob avail")
        comp.send(
            "<message from='{gw}' to='{d}'><privilege "
            "xmlns='urn:xmpp:privilege:1'><forwarded "
            "xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' "
            "from='alice@{d}' to='bob@{d}' type='chat' id='pm1'><body>hi "
            "bob</body></message></forwarded></privilege></message>".format(
                gw=GATEWAY, d=DOMAIN))
        m = bob.wait_message(body="hi bob")
        show("what bob received", rbtest.xml_str(m))
        comp.send(
            "<message from='{gw}' to='{d}'><privilege "
            "xmlns='urn:xmpp:privilege:1'><forwarded "
            "xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' "
            "from='alice@{d}/phone' to='bob@{d}' type='chat' id='pm2'><body>"
            "full</body></message></forwarded></privilege></message>".format(
                gw=GATEWAY, d=DOMAIN))
        for raw, _ in comp.drain(1.5):
            show("privileged message from a FULL JID: the server's answer",
                 raw)
        bob.send_presence("unavailable")
        bob.disconnect()
        comp.drain(1.0)

        section("(7) push enabled by bob's own client, then a message while "
                "he is offline")
        bob = rbtest.Client(p, "bob", resource="laptop").connect()
        r = bob.iq("<iq type='set' id='e1'><enable xmlns='urn:xmpp:push:0' "
                   "jid='%s' node='TOKEN-bob'/></iq>" % GATEWAY)
        show("reply to bob's enable", rbtest.xml_str(r))
        bob.send_presence("unavailable")
        bob.disconnect()
        comp.drain(1.0)
        alice.send_message("bob@%s" % DOMAIN, "are you there?")
        raw, el = comp.take(is_push, timeout=10, what="a push")
        show("push notification", raw)
        for raw, _ in comp.drain(1.0):
            show("then", raw)

        section("(8) component reconnects while alice is online")
        comp.close()
        comp = RawComponent(p).connect()
        for raw, _ in comp.drain(2.0):
            show("received at reconnect", raw)
        comp.close()
        alice.disconnect()
    finally:
        p.cleanup()


if __name__ == "__main__":
    main()
