# SPDX-License-Identifier: GPL-3.0-or-later
"""ringbridge-sip takes in only the SIP methods it implements, in the
presence modes that use them, and refuses every other request as RFC 3261
says before sofia-sip creates any state for it: 405 with an Allow that
lists only those methods for a known method, 501 for an unknown one, 481
for a request meant for a dialog that does not exist (and for an INFO,
which carries keys only inside a call), nothing for a stray ACK. A stranger's out-of-dialog REFER used to be accepted (202, then
NOTIFYs sent to whatever address it named) and, followed by a PRACK or an
INFO, could crash the bridge in sofia's timer; every method and every
ordered pair of them is sent here, in each presence mode, and the loop must
still answer afterwards.

Cost: about 40 s in all (three bridges, no phone, no XMPP server). It runs
in both builds: it drives sofia's request handling and the bridge's nua
callback with hostile input, which is what the sanitizer build is for.
"""

import socket
import time
import unittest

import rbbridge
from rbbridge import Run, SipProbe, sip_header

BASE = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "UPDATE"]
# Every method sofia knows by name, and one it does not.
METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO",
           "PRACK", "UPDATE", "MESSAGE", "SUBSCRIBE", "NOTIFY", "REFER",
           "PUBLISH", "FOO"]
# Methods each presence mode allows beyond BASE: NOTIFY in the dialogs the
# bridge makes at its [presence] server, SUBSCRIBE as presence agent.
MODES = {"off": [], "publish": ["NOTIFY"], "agent": ["SUBSCRIBE"]}


def status(reply):
    return int(reply.split()[1])


def allow_list(reply):
    value = sip_header(reply, "Allow") or ""
    return sorted(m.strip() for m in value.split(",") if m.strip())


class BridgeMethodsTest(rbbridge.EachPresenceMode, unittest.TestCase):

    def start(self, mode):
        extra = MODES[mode]
        run = Run(self, extra=rbbridge.presence_mode_config(mode))
        run.start_bridge()
        return run, SipProbe(self, run.sip_port), sorted(BASE + extra)

    def request(self, sip, method, n, **kw):
        extra = kw.pop("extra", "")
        if method in ("SUBSCRIBE", "NOTIFY", "PUBLISH"):
            extra += "Event: presence\r\n"
        if method == "NOTIFY":
            extra += "Subscription-State: active;expires=60\r\n"
        if method == "REFER":
            # The address a reflection would be aimed at.
            extra += "Refer-To: <sip:victim@127.0.0.1:%d>\r\n" % \
                self.victim_port
        return sip.request(method, n, extra=extra, **kw)

    def expected(self, method, mode, allowed):
        """The final status for METHOD out of any dialog, None for none."""
        if method == "ACK":
            return None
        if method == "INVITE":
            return 480
        if method == "OPTIONS":
            return 200
        if method == "FOO":
            return 501
        if method == "PRACK":
            # sofia's transaction layer matches a PRACK to a reliable
            # provisional response before anything else: none, 481.
            return 481
        if method not in allowed:
            return 405
        if method in ("BYE", "CANCEL", "NOTIFY", "UPDATE"):
            return 481
        if method == "INFO":
            # Keys as INFO are taken inside a call only; nua passes an
            # INFO outside any dialog on, and the bridge refuses it.
            return (405, 481)
        if method == "SUBSCRIBE":
            # The agent knows no user ringbridge@: 404 while it holds the
            # presence lease, 503 before.
            return (404, 503)
        raise AssertionError(method)

    def victim(self):
        """A socket at the address the REFERs name, to see what reaches
        it."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.5)
        self.addCleanup(sock.close)
        self.victim_port = sock.getsockname()[1]
        return sock

    def check_mode(self, mode):
        run, sip, allowed = self.start(mode)
        victim = self.victim()
        # Each method alone, out of any dialog.
        for i, method in enumerate(METHODS):
            n = 1000 + i
            data = self.request(sip, method, n)
            want = self.expected(method, mode, allowed)
            if want is None:
                sip.send(data)
                got = [r for r in sip.responses(1.0)
                       if "rbtest-%d@" % n in r]
                self.assertEqual(got, [], "a stray ACK is not answered")
                continue
            reply = sip.exchange(data, "rbtest-%d@127.0.0.1" % n)
            if isinstance(want, tuple):
                self.assertIn(status(reply), want, reply)
            else:
                self.assertEqual(status(reply), want,
                                 "%s in mode %s:\n%s" % (method, mode,
                                                         reply))
            if status(reply) in (405, 200) and method != "INVITE":
                self.assertEqual(allow_list(reply), allowed, reply)
        # The same methods as if inside a dialog (a To tag) that does not
        # exist: refused, never accepted.
        for i, method in enumerate(METHODS):
            if method in ("ACK", "CANCEL"):
                continue
            n = 2000 + i
            reply = sip.exchange(self.request(sip, method, n, to_tag="gone"),
                                 "rbtest-%d@127.0.0.1" % n)
            self.assertGreaterEqual(status(reply), 300,
                                    "%s with a To tag: %s" % (method, reply))
            if method != "OPTIONS":
                self.assertIn(status(reply), (405, 481, 501), reply)
        # Every ordered pair: the second a second later in the same call
        # (its To tag taken from the first's answer), as in the crash.
        firsts = {}
        n = 10000
        for a in METHODS:
            for b in METHODS:
                n += 1
                firsts[n] = (a, b)
                sip.send(self.request(sip, a, n))
        tags = {}
        for reply in sip.responses(3.0):
            cid = sip_header(reply, "Call-ID") or ""
            to = sip_header(reply, "To") or ""
            if cid.startswith("rbtest-") and ";tag=" in to:
                tags[int(cid[7:].split("@")[0])] = to.split(";tag=")[1]
        time.sleep(1.0)
        for n, (a, b) in firsts.items():
            sip.send(self.request(sip, b, n, to_tag=tags.get(n), cseq=2))
        later = sip.responses(3.0)
        for reply in later:
            if reply.startswith("SIP/2.0 2"):
                cseq = sip_header(reply, "CSeq") or ""
                self.assertTrue(cseq.endswith("OPTIONS"),
                                "accepted: %s" % reply)
        run.assert_running()
        self.assertTrue(sip.alive(), run.logs())
        # Nothing was sent to the address the REFERs named.
        try:
            self.fail("sent to the REFER's address: %r" % victim.recv(9999))
        except socket.timeout:
            pass
        self.assertEqual(run.query("SELECT COUNT(*) FROM jobs"), [(0,)])
        self.assertEqual(run.stop_bridge(), 0, run.logs())


if __name__ == "__main__":
    unittest.main()
