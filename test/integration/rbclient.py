# SPDX-License-Identifier: GPL-3.0-or-later
"""The XMPP side of the integration tests: the names every test uses
(domain, gateway, namespaces), small ElementTree helpers for the stanzas
that come back, and Client, a synchronous slixmpp client.

Every slixmpp stream of the process runs on one asyncio loop in one
background thread; a Client is driven from the test thread and records
every <message/> and <presence/> it receives, so a test waits on what
arrived with a predicate and a bounded timeout.
"""

import asyncio
import concurrent.futures
import copy
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET

try:
    import slixmpp
except ImportError:
    # A pyenv or venv python without Debian's python3-slixmpp: borrow the
    # system's copy (same minor version on Debian 12) rather than fail.
    sys.path.append("/usr/lib/python3/dist-packages")
    import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher.base import MatcherBase
from slixmpp.xmlstream.matcher.xpath import MatchXPath

from rbproc import scaled

DOMAIN = "localhost"
GATEWAY = "callgw.localhost"
UPLOAD = "upload.localhost"

NS_CLIENT = "jabber:client"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_REGISTER = "jabber:iq:register"
NS_COMMANDS = "http://jabber.org/protocol/commands"
NS_DATA = "jabber:x:data"
NS_PING = "urn:xmpp:ping"
NS_VERSION = "jabber:iq:version"
NS_PRIV2 = "urn:xmpp:privilege:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_PUSH = "urn:xmpp:push:0"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"

# Bounds: generous (a loaded CI machine), but every wait has one.
IQ_TIMEOUT = 15.0


# ---------------------------------------------------------------------------
# XML helpers for replies (ElementTree elements, namespaces in {ns}tag form)


def q(ns, tag):
    return "{%s}%s" % (ns, tag)


def xml_str(el):
    return ET.tostring(el, encoding="unicode")


def bare(jid):
    return (jid or "").split("/", 1)[0]


def error_condition(stanza):
    """(type, condition, text) of a stanza's <error/>, or None."""
    err = stanza.find(q(NS_CLIENT, "error"))
    if err is None:
        return None
    cond, text = None, None
    for child in err:
        if child.tag == q(NS_STANZAS, "text"):
            text = child.text or ""
        elif child.tag.startswith("{%s}" % NS_STANZAS):
            cond = child.tag.split("}", 1)[1]
    return err.get("type"), cond, text


def form_fields(form):
    """{var: [values]} and {var: field element} of a jabber:x:data form."""
    values, elems = {}, {}
    for f in form.findall(q(NS_DATA, "field")):
        var = f.get("var")
        values[var] = [v.text or "" for v in f.findall(q(NS_DATA, "value"))]
        elems[var] = f
    return values, elems


def xml_escape(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace("'", "&apos;")
            .replace('"', "&quot;"))


def submit_form(fields, form_type=None):
    """A jabber:x:data submit form (XML text) from {var: value or [values]}."""
    parts = ["<x xmlns='jabber:x:data' type='submit'>"]
    if form_type:
        parts.append("<field var='FORM_TYPE' type='hidden'><value>%s</value>"
                     "</field>" % xml_escape(form_type))
    for var, val in fields.items():
        vals = val if isinstance(val, (list, tuple)) else [val]
        parts.append("<field var='%s'>" % xml_escape(var))
        parts.extend("<value>%s</value>" % xml_escape(v) for v in vals)
        parts.append("</field>")
    parts.append("</x>")
    return "".join(parts)

def jid(user):
    return "%s@%s" % (user, DOMAIN)


# ---------------------------------------------------------------------------
# the asyncio loop every slixmpp stream of this process runs on


class _Reactor:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="rb-asyncio",
                                       daemon=True)
        self.thread.start()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro, timeout=IQ_TIMEOUT):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(
            timeout)

    def call(self, fn, *args, timeout=IQ_TIMEOUT):
        """Runs FN(*ARGS) on the loop thread and returns its result."""
        async def wrapper():
            return fn(*args)
        return self.run(wrapper(), timeout)


_reactor = None
# Every stream made. slixmpp leaves a pending filter task behind a closed
# stream; keeping the object alive keeps asyncio from printing "Task was
# destroyed but it is pending!" at garbage collection.
_streams = []


def reactor():
    global _reactor
    if _reactor is None:
        _reactor = _Reactor()
    return _reactor


class _AnyIqReply(MatcherBase):
    def __init__(self):
        super().__init__(None)

    def match(self, stanza):
        x = stanza.xml
        return (x.tag.endswith("}iq") and x.get("type") in ("result", "error"))


def _describe(item):
    if isinstance(item, tuple):
        item = item[0]
    return item if isinstance(item, str) else xml_str(item)


class StanzaQueue:
    """Thread-safe list of received stanzas (ElementTree elements) that a
    test waits on with a predicate. Stanzas are never consumed implicitly:
    wait_for returns the first match not yet returned."""

    def __init__(self):
        self._items = []
        self._taken = set()
        self._cond = threading.Condition()

    def put(self, el):
        with self._cond:
            self._items.append(el)
            self._cond.notify_all()

    def all(self):
        with self._cond:
            return list(self._items)

    def take_all(self):
        """Every stanza not returned yet, now marked returned."""
        with self._cond:
            out = [el for i, el in enumerate(self._items)
                   if i not in self._taken]
            self._taken.update(range(len(self._items)))
            return out

    def wait_for(self, pred=lambda el: True, timeout=IQ_TIMEOUT, what=None):
        timeout = scaled(timeout)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, el in enumerate(self._items):
                    if i not in self._taken and pred(el):
                        self._taken.add(i)
                        return el
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "no stanza matching %s within %.0f s; got:\n%s" % (
                            what or "predicate", timeout,
                            "\n".join(_describe(e) for e in self._items[-10:])))
                self._cond.wait(left)


class Client:
    """A synchronous XMPP client (slixmpp ClientXMPP on the shared loop).

    Logs in with SASL over plain TCP (no TLS: the test Prosody offers
    none), sends initial presence unless presence=None, and records every
    <message/> and <presence/> it receives (self.messages, self.presences).
    """

    def __init__(self, prosody, user, password=None, resource=None,
                 presence="available", register=False):
        if register or user not in prosody.users:
            prosody.register(user, password or "pw")
        self.prosody = prosody
        self.user = user
        self.jid = "%s@%s" % (user, DOMAIN)
        self.password = password or prosody.users.get(user, "pw")
        self.resource = resource or "rb-" + uuid.uuid4().hex[:6]
        self.full_jid = "%s/%s" % (self.jid, self.resource)
        self.initial_presence = presence
        self.messages = StanzaQueue()
        self.presences = StanzaQueue()
        self._pending = {}
        self._lock = threading.Lock()
        self.xmpp = None
        self._seq = 0

    # -- connection

    def _make(self):
        x = slixmpp.ClientXMPP(self.full_jid, self.password)
        _streams.append(x)
        x.loop = reactor().loop
        x["feature_mechanisms"].unencrypted_plain = True
        x.whitespace_keepalive = False
        x.auto_reconnect = False
        x.register_handler(Callback("rbtest iq replies", _AnyIqReply(),
                                    self._on_iq_reply))
        # Every <message/>, not only slixmpp's "message" event (which
        # needs a jabber:client <body/>): tests look at what arrived.
        x.register_handler(Callback("rbtest messages",
                                    MatchXPath("{%s}message" % NS_CLIENT),
                                    lambda m: self.messages.put(
                                        copy.deepcopy(m.xml))))
        x.add_event_handler("presence", lambda p: self.presences.put(
            copy.deepcopy(p.xml)))
        return x

    def connect(self, timeout=30.0):
        fut = concurrent.futures.Future()

        def on_start(_):
            if not fut.done():
                fut.set_result(True)

        def on_fail(why):
            if not fut.done():
                fut.set_exception(RuntimeError(
                    "%s: cannot log in: %s" % (self.full_jid, why)))

        def setup():
            self.xmpp = self._make()
            self.xmpp.add_event_handler("session_start", on_start)
            self.xmpp.add_event_handler("failed_auth", on_fail)
            self.xmpp.add_event_handler("connection_failed", on_fail)
            self.xmpp.add_event_handler("disconnected", on_fail)
            self.xmpp.connect((getattr(self.prosody, "host", "127.0.0.1"),
                               self.prosody.c2s_port),
                              force_starttls=False, disable_starttls=True)

        reactor().call(setup)
        fut.result(timeout)
        if self.initial_presence:
            self.send_presence(self.initial_presence)
        return self

    def disconnect(self, timeout=10.0):
        """Ends the stream cleanly (</stream:stream>): the server sends
        unavailable presence for this resource."""
        if self.xmpp is None:
            return
        x, self.xmpp = self.xmpp, None

        async def bye():
            try:
                await asyncio.wait_for(x.disconnect(wait=2.0), timeout)
            except Exception:
                x.abort()
        try:
            reactor().run(bye(), timeout + 5)
        except Exception:
            pass

    def abort(self):
        """Drops the TCP connection without closing the stream."""
        if self.xmpp is not None:
            x, self.xmpp = self.xmpp, None
            reactor().call(x.abort)

    # -- sending

    def next_id(self, prefix="rb"):
        with self._lock:
            self._seq += 1
            return "%s-%d-%s" % (prefix, self._seq, uuid.uuid4().hex[:6])

    def send_raw(self, xml):
        x = self.xmpp
        reactor().call(lambda: x.send_raw(xml))

    def send_message(self, to, body, mtype="chat", extra="", id=None):
        """Sends a message (EXTRA: raw XML children appended); returns its id."""
        mid = id or self.next_id("m")
        self.send_raw("<message xmlns='jabber:client' to='%s' type='%s' "
                      "id='%s'><body>%s</body>%s</message>" % (
                          xml_escape(to), mtype, mid, xml_escape(body), extra))
        return mid

    def send_presence(self, kind="available", status=None):
        """KIND: available | away | xa | dnd | chat | unavailable."""
        inner = ""
        attrs = ""
        if kind == "unavailable":
            attrs = " type='unavailable'"
        elif kind not in ("available", None):
            inner += "<show>%s</show>" % kind
        if status:
            inner += "<status>%s</status>" % xml_escape(status)
        self.send_raw("<presence xmlns='jabber:client'%s>%s</presence>"
                      % (attrs, inner))
        self.sync()

    def sync(self, timeout=IQ_TIMEOUT):
        """A ping round trip to the server: everything sent before it has
        been processed (and routed onwards) when this returns."""
        self.iq("<iq type='get' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>"
                % DOMAIN, timeout)

    def _on_iq_reply(self, stanza):
        with self._lock:
            fut = self._pending.pop(stanza.xml.get("id"), None)
        if fut is not None and not fut.done():
            fut.set_result(copy.deepcopy(stanza.xml))

    def iq(self, xml, timeout=IQ_TIMEOUT):
        """Sends XML, an <iq/> (text; an id is added when it has none),
        and returns the reply (result or error) as an Element.
        Raises AssertionError when none arrives within TIMEOUT."""
        el = ET.fromstring(xml) if isinstance(xml, str) else xml
        if not isinstance(xml, str):
            xml = xml_str(xml)
        iq_id = el.get("id")
        if iq_id is None:
            iq_id = self.next_id("iq")
            xml = xml.replace("<iq", "<iq id='%s'" % iq_id, 1)
        if "xmlns=" not in xml.split(">", 1)[0]:
            xml = xml.replace("<iq", "<iq xmlns='jabber:client'", 1)
        fut = concurrent.futures.Future()
        with self._lock:
            self._pending[iq_id] = fut
        self.send_raw(xml)
        timeout = scaled(timeout)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            with self._lock:
                self._pending.pop(iq_id, None)
            raise AssertionError("no reply to iq %s within %.0f s: %s" % (
                iq_id, timeout, xml[:300]))

    def iq_nowait(self, xml):
        """Sends an <iq/> (must carry an id) and returns a Future of its reply."""
        el = ET.fromstring(xml)
        fut = concurrent.futures.Future()
        with self._lock:
            self._pending[el.get("id")] = fut
        self.send_raw(xml)
        return fut

    # -- common queries

    def ping(self, to=GATEWAY, timeout=IQ_TIMEOUT):
        """The reply (Element) to an XEP-0199 ping."""
        return self.iq("<iq type='get' to='%s'><ping xmlns='urn:xmpp:ping'/>"
                       "</iq>" % to, timeout)

    def disco_info(self, to=GATEWAY, node=None, timeout=IQ_TIMEOUT):
        n = " node='%s'" % xml_escape(node) if node else ""
        return self.iq("<iq type='get' to='%s'><query xmlns='%s'%s/></iq>"
                       % (to, NS_DISCO_INFO, n), timeout)

    def disco_items(self, to=GATEWAY, node=None, timeout=IQ_TIMEOUT):
        n = " node='%s'" % xml_escape(node) if node else ""
        return self.iq("<iq type='get' to='%s'><query xmlns='%s'%s/></iq>"
                       % (to, NS_DISCO_ITEMS, n), timeout)

    def wait_message(self, from_=None, body=None, mtype=None,
                     timeout=IQ_TIMEOUT):
        """The next received <message/> from bare JID FROM_ (if given) whose
        body equals BODY / type equals MTYPE (if given)."""
        def pred(m):
            if from_ is not None and bare(m.get("from")) != from_:
                return False
            if mtype is not None and m.get("type", "normal") != mtype:
                return False
            if body is not None:
                b = m.find(q(NS_CLIENT, "body"))
                if b is None or (b.text or "") != body:
                    return False
            return True
        return self.messages.wait_for(pred, timeout, what="message from=%s "
                                      "body=%r type=%s" % (from_, body, mtype))
