#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Diagnostic probe: what Prosody 0.12 + prosody-modules really send a
privileged XEP-0114 component, on this machine. Not a test.

It starts a private Prosody through rbtest (the harness's exact config),
plays callgw.localhost itself over a raw socket (so the XML printed is the
bytes the server sent, cut per stanza with expat byte offsets), drives
alice and bob with slixmpp, and prints every experiment of
PROSODY_NOTES.md. Run: /usr/bin/python3 test/integration/probe_prosody.py
[-v] (-v also prints Prosody's log lines about push and privilege).
"""

import hashlib
import re
import socket
import sys
import threading
import time
import xml.etree.ElementTree as ET
import xml.parsers.expat

sys.path.insert(0, __import__("os").path.dirname(__file__))
import rbtest  # noqa: E402
from rbtest import DOMAIN, GATEWAY, q  # noqa: E402

NS_ACCEPT = "jabber:component:accept"
VERBOSE = "-v" in sys.argv


class RawComponent:
    """A minimal XEP-0114 component on a raw socket. Stanzas are kept as the
    server's own text (self.raw) and parsed (self.stanzas, ElementTree with
    the stream's default namespace jabber:component:accept)."""

    def __init__(self, prosody, push_reply="result"):
        self.prosody = prosody
        self.push_reply = push_reply  # result | error-cancel | error-wait | ignore
        self.buf = bytearray()
        self.items = rbtest.StanzaQueue()  # (raw text, element)
        self.sock = None
        self.depth = 0
        self.start_idx = None
        self.stream_id = None
        self.handshake_ok = threading.Event()
        self.closed = threading.Event()
        self.answered = []  # (push id, what we replied)

    # -- stream

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1",
                                              self.prosody.component_port))
        self.parser = xml.parsers.expat.ParserCreate()
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._chars
        threading.Thread(target=self._reader, daemon=True).start()
        self.send("<?xml version='1.0'?><stream:stream "
                  "xmlns='jabber:component:accept' "
                  "xmlns:stream='http://etherx.jabber.org/streams' to='%s'>"
                  % GATEWAY)
        rbtest.wait_until(lambda: self.stream_id, 10, what="stream id")
        digest = hashlib.sha1((self.stream_id + self.prosody.secret)
                              .encode()).hexdigest()
        self.send("<handshake>%s</handshake>" % digest)
        if not self.handshake_ok.wait(10):
            raise RuntimeError("no handshake reply")
        return self

    def close(self):
        try:
            self.send("</stream:stream>")
            self.closed.wait(3)
            self.sock.close()
        except OSError:
            pass

    def send(self, text):
        self.sock.sendall(text.encode())

    def _reader(self):
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.buf.extend(data)
                self.parser.Parse(data, False)
        except (OSError, xml.parsers.expat.ExpatError):
            pass
        self.closed.set()

    def _start(self, name, attrs):
        if self.depth == 0:
            self.stream_id = attrs.get("id")
        elif self.depth == 1:
            self.start_idx = self.parser.CurrentByteIndex
            self.has_content = False
        else:
            self.has_content = True
        self.depth += 1

    def _chars(self, data):
        if self.depth >= 2:
            self.has_content = True

    def _end(self, name):
        self.depth -= 1
        if self.depth == 1:
            # expat's index is the end tag's '<', or just past '/>' for an
            # empty element.
            idx = self.parser.CurrentByteIndex
            if not self.has_content and self.buf[idx - 2:idx] == b"/>":
                end = idx
            else:
                end = self.buf.index(b">", idx) + 1
            raw = self.buf[self.start_idx:end].decode()
            el = ET.fromstring(
                "<w xmlns='%s' xmlns:stream='http://etherx.jabber.org/streams'>"
                "%s</w>" % (NS_ACCEPT, raw))[0]
            if el.tag == q(NS_ACCEPT, "handshake"):
                self.handshake_ok.set()
                return
            self._auto_answer(el)
            self.items.put((raw, el))

    def _auto_answer(self, el):
        """Answers what a component must: the server's push notifications
        (as self.push_reply says) and pings."""
        if el.tag != q(NS_ACCEPT, "iq") or el.get("type") not in ("get", "set"):
            return
        iq_id, frm = el.get("id"), el.get("from")
        if el.find(q(rbtest.NS_PUBSUB, "pubsub")) is not None:
            mode = self.push_reply
            self.answered.append((iq_id, mode))
            if mode == "ignore":
                return
            if mode == "result":
                reply = "<iq type='result' id='%s' to='%s' from='%s'/>" % (
                    iq_id, frm, GATEWAY)
            else:
                etype = mode.split("-", 1)[1]
                reply = ("<iq type='error' id='%s' to='%s' from='%s'><error "
                         "type='%s'><service-unavailable xmlns='%s'/></error>"
                         "</iq>" % (iq_id, frm, GATEWAY, etype,
                                    rbtest.NS_STANZAS))
            self.send(reply)
        elif el.find(q(rbtest.NS_PING, "ping")) is not None:
            self.send("<iq type='result' id='%s' to='%s' from='%s'/>" % (
                iq_id, frm, el.get("to")))

    # -- helpers

    def take(self, pred, timeout=10.0, what=None):
        return self.items.wait_for(lambda it: pred(it[1]), timeout, what)

    def drain(self, settle=0.5):
        """Everything not yet taken, after SETTLE seconds of quiet."""
        time.sleep(settle)
        return self.items.take_all()

    def iq(self, xml, iq_id, timeout=10.0):
        self.send(xml)
        return self.take(lambda e: e.tag == q(NS_ACCEPT, "iq")
                         and e.get("id") == iq_id
                         and e.get("type") in ("result", "error"),
                         timeout, "reply to %s" % iq_id)[0]


def section(title):
    print("\n" + "=" * 78 + "\n" + title + "\n" + "=" * 78)


def show(label, raw):
    print("-- %s\n%s" % (label, raw))


def push_enable_xml(user, iq_id, node, wrapped_to=True):
    to = " to='%s@%s'" % (user, DOMAIN) if wrapped_to else ""
    return ("<iq type='set' to='{u}@{d}' from='{gw}' id='{i}'>"
            "<privileged_iq xmlns='urn:xmpp:privilege:2'>"
            "<iq xmlns='jabber:client' type='set'{to} id='{i}-w'>"
            "<enable xmlns='urn:xmpp:push:0' jid='{gw}' node='{n}'/>"
            "</iq></privileged_iq></iq>").format(u=user, d=DOMAIN,
                                                 gw=GATEWAY, i=iq_id,
                                                 to=to, n=node)


def is_push(e):
    return (e.tag == q(NS_ACCEPT, "iq") and e.get("type") == "set"
            and e.find(q(rbtest.NS_PUBSUB, "pubsub")) is not None)


def is_presence(e):
    return e.tag == q(NS_ACCEPT, "presence")


def prosody_log(p, pattern):
    return [l for l in p.log_text().splitlines() if re.search(pattern, l)]


def run_a():
    """No mod_mam, no roster privilege: (1)-(5) and (7) refused."""
    section("RUN A: mod_mam off, roster privilege off")
    p = rbtest.Prosody(mam=False)
    p.start()
    try:
        alice = rbtest.Client(p, "alice", resource="phone").connect()
        p.register("bob")

        section("(1) privilege advertisement + presence of users already "
                "online when the component connects")
        comp = RawComponent(p).connect()
        for raw, _ in comp.drain():
            show("received at connect", raw)

        section("(2) presence when bob logs in, goes away, logs out")
        bob = rbtest.Client(p, "bob", resource="laptop").connect()
        show("bob available", comp.take(is_presence, what="bob avail")[0])
        bob.send_presence("away", status="lunch")
        show("bob away", comp.take(is_presence, what="bob away")[0])
        bob2 = rbtest.Client(p, "bob", resource="phone",
                             presence="available").connect()
        show("bob second resource", comp.take(is_presence)[0])
        bob2.disconnect()
        show("bob second resource logs out", comp.take(is_presence)[0])
        bob.disconnect()
        show("bob logs out", comp.take(is_presence)[0])
        alice.send_presence("dnd")
        show("alice dnd", comp.take(is_presence)[0])
        alice.send_presence("available")
        comp.take(is_presence)

        section("(3) privileged IQ: enable push for bob (bob offline)")
        r = comp.iq(push_enable_xml("bob", "en1", "TOKEN-bob"), "en1")
        show("reply, wrapped iq WITH to", r)
        r = comp.iq(push_enable_xml("bob", "en2", "TOKEN-bob2",
                                    wrapped_to=False), "en2")
        show("reply, wrapped iq WITHOUT to", r)
        r = comp.iq(push_enable_xml("nosuchuser", "en3", "T3"), "en3")
        show("reply, user that does not exist", r)
        # Disable the second node again so one push per message follows.
        r = comp.iq(("<iq type='set' to='bob@{d}' from='{gw}' id='dis1'>"
                     "<privileged_iq xmlns='urn:xmpp:privilege:2'>"
                     "<iq xmlns='jabber:client' type='set' to='bob@{d}' "
                     "id='dis1-w'><disable xmlns='urn:xmpp:push:0' "
                     "jid='{gw}' node='TOKEN-bob2'/></iq></privileged_iq>"
                     "</iq>").format(d=DOMAIN, gw=GATEWAY), "dis1")
        show("reply, disable TOKEN-bob2", r)
        r = comp.iq(("<iq type='get' to='bob@{d}' from='{gw}' id='pg1'>"
                     "<privileged_iq xmlns='urn:xmpp:privilege:2'>"
                     "<iq xmlns='jabber:client' type='get' to='bob@{d}' "
                     "id='pg1-w'><pubsub xmlns='http://jabber.org/protocol/"
                     "pubsub'><items node='urn:xmpp:avatar:metadata'/>"
                     "</pubsub></iq></privileged_iq></iq>").format(
                         d=DOMAIN, gw=GATEWAY), "pg1")
        show("reply, pubsub GET (only set granted)", r)

        section("(4) bob offline, alice writes: the push")
        alice.send_message("bob@localhost", "first offline message")
        alice.sync()
        raw, el = comp.take(is_push, what="push 1")
        show("push notification (component answered result)", raw)
        comp.push_reply = "error-cancel"
        alice.send_message("bob@localhost", "second, answered with error")
        show("push 2 (component answered error type=cancel)",
             comp.take(is_push, what="push 2")[0])
        comp.push_reply = "ignore"
        alice.send_message("bob@localhost", "third, not answered")
        show("push 3 (component did not answer)",
             comp.take(is_push, what="push 3")[0])
        comp.push_reply = "result"
        alice.send_message("bob@localhost", "", extra="")
        alice.send_raw("<message xmlns='jabber:client' to='bob@localhost' "
                       "type='chat' id='cs1'><composing xmlns='http://jabber."
                       "org/protocol/chatstates'/></message>")
        alice.send_raw("<message xmlns='jabber:client' to='bob@localhost' "
                       "id='nt1'><body>type normal</body></message>")
        alice.send_raw("<message xmlns='jabber:client' to='bob@localhost' "
                       "type='headline' id='hl1'><body>headline</body>"
                       "</message>")
        alice.send_message(
            "bob@localhost", "I sent you an OMEMO encrypted message but your "
            "client doesn\u2019t seem to support that. Find more information "
            "on https://conversations.im/omemo",
            extra="<encrypted xmlns='eu.siacs.conversations.axolotl'>"
                  "<header sid='1'><iv>AAAA</iv></header><payload>BBBB"
                  "</payload></encrypted><store xmlns='urn:xmpp:hints'/>")
        alice.sync()
        for raw, _ in comp.drain(1.0):
            show("after empty-body chat, chat-state only, type normal, "
                 "headline, OMEMO", raw)
        for line in prosody_log(p, r"push|Push"):
            if VERBOSE or "error" in line.lower() or "rror count" in line:
                print("   log:", line)

        section("(4b) component disconnected: message to offline bob")
        comp.close()
        time.sleep(0.3)
        alice.send_message("bob@localhost", "while component is away")
        alice.sync()
        time.sleep(0.5)
        for line in prosody_log(p, r"push error|Got error|Disabling push|"
                                   r"not-connected|Component unavailable"):
            print("   log:", line)
        comp = RawComponent(p).connect()
        for raw, _ in comp.drain():
            show("received at re-connect", raw)

        section("(4c) bob logs in: his offline messages are all still there")
        bob = rbtest.Client(p, "bob", resource="laptop").connect()
        time.sleep(1.0)
        for m in bob.messages.all():
            b = m.find(q(rbtest.NS_CLIENT, "body"))
            print("   bob got: from=%s type=%s body=%r" % (
                m.get("from"), m.get("type"), None if b is None else b.text))
        comp.drain()

        section("(5) privileged message from bob@localhost to alice "
                "(bob online with carbons)")
        bob.iq("<iq type='set'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
        comp.send("<message to='localhost' from='%s' id='pm1'>"
                  "<privilege xmlns='urn:xmpp:privilege:2'>"
                  "<forwarded xmlns='urn:xmpp:forward:0'>"
                  "<message xmlns='jabber:client' from='bob@localhost' "
                  "to='alice@localhost' type='chat' id='inner1'>"
                  "<body>hi</body><origin-id xmlns='urn:xmpp:sid:0' "
                  "id='inner1'/></message></forwarded></privilege></message>"
                  % GATEWAY)
        m = alice.wait_message(from_="bob@localhost", body="hi")
        print("-- alice received\n" + rbtest.xml_str(m))
        time.sleep(0.5)
        for m in bob.messages.all():
            print("-- bob's client received (carbon?)\n" + rbtest.xml_str(m))
        comp.send("<message to='localhost' from='%s' id='pm2'>"
                  "<privilege xmlns='urn:xmpp:privilege:2'>"
                  "<forwarded xmlns='urn:xmpp:forward:0'>"
                  "<message xmlns='jabber:client' from='bob@localhost/x' "
                  "to='alice@localhost' type='chat'><body>full</body>"
                  "</message></forwarded></privilege></message>" % GATEWAY)
        for raw, _ in comp.drain():
            show("forwarded message with a FULL from", raw)

        section("gateway address: alice writes to bob@callgw.localhost")
        alice.send_message("bob@callgw.localhost", "via gateway")
        alice.send_message("bob\\40localhost@callgw.localhost", "escaped")
        for raw, _ in comp.drain():
            show("component receives", raw)

        section("(7) roster get WITHOUT the roster privilege")
        r = comp.iq("<iq type='get' to='bob@localhost' from='%s' id='ro1'>"
                    "<query xmlns='jabber:iq:roster'/></iq>" % GATEWAY, "ro1")
        show("reply", r)
        bob.disconnect()
        comp.close()
        alice.disconnect()
    finally:
        p.cleanup()


def run_b():
    """mod_mam on, roster privilege on: (6), (7), Prosody restart."""
    section("RUN B: mod_mam on, roster privilege on")
    p = rbtest.Prosody(mam=True, roster_privilege=True)
    p.start()
    try:
        alice = rbtest.Client(p, "alice", resource="phone").connect()
        bob = rbtest.Client(p, "bob", resource="laptop").connect()
        bob.iq("<iq type='set'><query xmlns='jabber:iq:roster'><item "
               "jid='alice@localhost' name='Alice Smith'><group>Friends"
               "</group></item></query></iq>")
        comp = RawComponent(p).connect()
        for raw, _ in comp.drain():
            show("received at connect (roster privilege granted)", raw)
        r = comp.iq(push_enable_xml("bob", "en1", "TOKEN-bob"), "en1")
        show("enable push for bob", r)

        section("(6) mod_mam on, bob ONLINE (no client push): message")
        alice.send_message("bob@localhost", "bob is online")
        alice.sync()
        bob.wait_message(from_="alice@localhost", body="bob is online")
        for raw, _ in comp.drain(1.0):
            show("component receives while bob online", raw)

        section("(6b) mod_mam on, bob offline: message (one push or two?)")
        bob.disconnect()
        comp.take(is_presence)
        alice.send_message("bob@localhost", "bob is offline, mam on")
        alice.sync()
        for raw, _ in comp.drain(1.0):
            show("component receives", raw)

        section("(7) roster get WITH the roster privilege")
        r = comp.iq("<iq type='get' to='bob@localhost' from='%s' id='ro1'>"
                    "<query xmlns='jabber:iq:roster'/></iq>" % GATEWAY, "ro1")
        show("reply", r)

        section("restart Prosody: bob was online before, does not return")
        bob = rbtest.Client(p, "bob", resource="laptop").connect()
        comp.take(is_presence)
        p.restart()
        comp.closed.wait(10)
        print("   component stream closed by restart:", comp.closed.is_set())
        tail = comp.buf[-200:].decode(errors="replace")
        print("   last bytes before close: %r" % tail[-120:])
        comp = RawComponent(p).connect()
        for raw, _ in comp.drain():
            show("received at reconnect after restart", raw)
        alice = rbtest.Client(p, "alice", resource="phone2").connect()
        comp.take(is_presence)
        alice.send_message("bob@localhost", "after restart, no re-enable")
        alice.sync()
        for raw, _ in comp.drain(1.0):
            show("component receives (push registration persisted?)", raw)
        alice.disconnect()
        comp.close()
    finally:
        p.cleanup()


if __name__ == "__main__":
    run_a()
    run_b()
