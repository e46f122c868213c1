# SPDX-License-Identifier: GPL-3.0-or-later
"""Kamailio (Debian `kamailio`) as ringbridge-sip's next hop, exactly as
docs/sip.md describes it: it challenges every INVITE with 407 (digest,
qop=auth) and routes E.164 numbers to a gateway, here sipp as the phone.
The bridge reaches it as `trunk` (numbers become sip:+E164@TRUNK) or as
`outbound_proxy` (everything goes through it, numbers to the carrier's
domain). The outcome is read from the queue; the number the gateway was
asked for is read from the INVITE sipp received."""

import re
import unittest

import rbbridge
import rbkamailio
from rbbridge import PCMU_TE, Run, key_pcap, pause, play

CONFIG = rbbridge.pathlib.Path(__file__).resolve().parent / "kamailio" / \
    "next_hop.cfg"
NUMBER = "+12025550123"
USER, PASSWORD = "ringbridge", "kam;ailio s3cret"
CARRIER = "carrier.test"


def names(events):
    return [e[0] for e in events]


def detail(events, name):
    return [e[1] for e in events if e[0] == name]


class BridgeKamailioTest(unittest.TestCase):

    def kamailio(self, run, password=PASSWORD):
        routes = CONFIG.read_text()
        for k, v in (("USER", USER), ("PASSWORD", password),
                     ("GATEWAY", "127.0.0.1:%d" % run.phone_port),
                     ("CARRIER", CARRIER)):
            routes = routes.replace("@%s@" % k, v)
        k = rbkamailio.Kamailio(routes)
        self.addCleanup(k.cleanup)
        k.check()
        return k.start()

    def call(self, run, kam, **expect):
        run.start_bridge()
        sipp = run.sipp("uas_answer.xml", subst=dict(
            PCMU_TE, MEDIA="\n".join([pause(9000), play(key_pcap(2))])))
        job = run.test_call_to(NUMBER)
        try:
            ev = run.wait_ended(job, timeout=40)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, kam.logs(200)))
        return sipp, job, ev

    def received_invite(self, run):
        text = run.sipps[-1][1].read_text(errors="replace")
        m = re.search(r"^INVITE (\S+) SIP/2\.0\r?$(.*?)\r?\n\r?\n", text,
                      re.M | re.S)
        self.assertIsNotNone(m, text[:2000])
        return m.group(1), m.group(2)

    def run_for(self, extra_sip):
        return Run(self, attempts=1, extra_policy="allowed_prefixes = +1",
                   extra_sip=extra_sip)

    def test_number_through_kamailio_as_trunk_with_407(self):
        run = self.run_for("")
        kam = self.kamailio(run)
        text = run.config.read_text().replace(
            "[sip]\n", "[sip]\ntrunk = %s\nusername = %s\npassword = \"%s\"\n"
            % (kam.addr, USER, PASSWORD), 1)
        run.config.write_text(text)
        sipp, job, ev = self.call(run, kam)
        run.wait_sipp(sipp)
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD", "KEY",
                                     "ENDED"], run.logs() + kam.logs())
        self.assertEqual(detail(ev, "KEY"), ["2"])
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        ruri, headers = self.received_invite(run)
        # The gateway was asked for the number, through Kamailio (which
        # consumed the bridge's credentials and record-routed the call).
        self.assertTrue(ruri.startswith("sip:%s@127.0.0.1:%d" % (
            NUMBER, run.phone_port)), ruri)
        self.assertIn("Record-Route: <sip:%s;lr" % kam.addr, headers)
        self.assertNotIn("Proxy-Authorization", headers)

    def test_number_through_kamailio_as_outbound_proxy_with_407(self):
        run = self.run_for("")
        kam = self.kamailio(run)
        text = run.config.read_text().replace(
            "[sip]\n", "[sip]\noutbound_proxy = sip:%s;lr\ntrunk = %s\n"
            "username = %s\npassword = \"%s\"\n" % (
                kam.addr, CARRIER, USER, PASSWORD), 1)
        run.config.write_text(text)
        sipp, job, ev = self.call(run, kam)
        run.wait_sipp(sipp)
        self.assertEqual(detail(ev, "KEY"), ["2"], run.logs() + kam.logs())
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        ruri, headers = self.received_invite(run)
        self.assertTrue(ruri.startswith("sip:%s@127.0.0.1:%d" % (
            NUMBER, run.phone_port)), ruri)
        # The From names the account at the carrier.
        self.assertRegex(headers, r"From: <sip:%s@%s>" % (USER, CARRIER))

    def test_wrong_password_fails_authentication(self):
        run = self.run_for("")
        kam = self.kamailio(run, password="not the bridge's")
        text = run.config.read_text().replace(
            "[sip]\n", "[sip]\ntrunk = %s\nusername = %s\npassword = \"%s\"\n"
            % (kam.addr, USER, PASSWORD), 1)
        run.config.write_text(text)
        run.start_bridge()
        job = run.test_call_to(NUMBER)
        ev = run.wait_ended(job)
        self.assertEqual(names(ev), ["CALLING", "FAILED", "ENDED"],
                         run.logs() + kam.logs())
        self.assertEqual(detail(ev, "FAILED"),
                         ["authentication failed after 1 attempt"])


if __name__ == "__main__":
    unittest.main()
