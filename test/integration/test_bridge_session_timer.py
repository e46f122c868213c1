# SPDX-License-Identifier: GPL-3.0-or-later
"""RFC 4028 session timers on the calls ringbridge-sip places. The bridge
never refreshes: its INVITE's Supported has no "timer", so a phone (or a
PBX in front of it) that wants a session timer names itself the refresher
(RFC 4028 9) and sends the refreshes, which the bridge answers; a bridge
that has gone is then noticed at the phone's next refresh.

What this guards against: with nua's default Supported ("timer, 100rel")
a phone could name the bridge the refresher, and nua then sent an UPDATE
half-way through the interval even to a phone whose Allow had no UPDATE,
and hung up the moment that phone answered 501. A phone that names the
bridge the refresher all the same (Require: timer, refresher=uac) is sent
nothing: its call goes on past the half-way point, and a key pressed after
it counts.

Cost: about 95 s in all (one call held past the half-way point of a
120 s interval, one short call; no XMPP server). It runs in the plain
build only: the refresh logic is nua's timer and its headers, and the
answer to a phone's refresh is on_i_offer, which test_bridge_dialog drives
in both builds.
"""

import datetime
import re
import unittest

from rbbridge import (DIALOG, PCMU_TE, Run, in_dialog, key_pcap, pause,
                      play)
from test_bridge_call import detail, names

# RFC 4028's minimum for Min-SE is 90 s; nua's own Min-SE is 120 s.
INTERVAL = 120


def messages(msg_file):
    """sipp's message log as (time, text) pairs, in order."""
    with open(msg_file, errors="replace") as f:
        text = f.read()
    out = []
    for m in re.finditer(r"-{20,} (\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d\.\d+)"
                         r"\n(.*?)(?=\n-{20,} \d{4}-|\Z)", text, re.S):
        when = datetime.datetime.strptime(
            m.group(1) + " " + m.group(2), "%Y-%m-%d %H:%M:%S.%f")
        out.append((when.timestamp(), m.group(3)))
    return out


def received(msgs, pattern):
    """The messages sipp received from the bridge that match PATTERN."""
    return [(t, text) for t, text in msgs
            if text.startswith("UDP message received") and
            re.search(pattern, text, re.M)]


def requests(msgs):
    """The methods of the requests the bridge sent the phone."""
    return [re.match(r"UDP message received[^\n]*\n\s*([A-Z]+) sip:",
                     text).group(1)
            for _, text in received(msgs, r"^[A-Z]+ sip:")]


class BridgeSessionTimerTest(unittest.TestCase):

    def call(self, answer, media, key_timeout=10):
        """A call whose phone answers with the header lines ANSWER and
        then does MEDIA (sipp XML) before pressing 2."""
        run = Run(self, key_timeout=key_timeout)
        run.start_bridge()
        sipp = run.sipp("uas_answer.xml", subst=dict(
            PCMU_TE, DIALOG=DIALOG if "[$to]" in media else "",
            ANSWER=answer,
            MEDIA="\n".join([media, pause(1000), play(key_pcap(2))])))
        job = run.test_call("Hi there.")
        ev = run.wait_ended(job, timeout=INTERVAL)
        run.wait_sipp(sipp)
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD", "KEY",
                                     "ENDED"], run.logs())
        self.assertEqual(detail(ev, "KEY"), ["2"])
        msgs = messages(run.sipps[-1][1])
        (_, invite), = received(msgs, r"^INVITE sip:")
        self.assertRegex(invite, r"(?im)^Supported:\s*100rel\s*$")
        self.assertNotRegex(invite, r"(?im)^(Session-Expires|Require):")
        return run, msgs

    def test_a_phone_that_names_the_bridge_refresher_is_sent_nothing(self):
        # Past the half-way point (nua refreshed at 55-65 s) and then some.
        run, msgs = self.call(
            "\nSupported: timer\nRequire: timer\n"
            "Session-Expires: %d;refresher=uac" % INTERVAL,
            pause(INTERVAL * 1000 // 2 + 8000), key_timeout=60)
        self.assertEqual(requests(msgs), ["INVITE", "ACK", "BYE"],
                         run.logs())
        (acked, _), = received(msgs, r"^ACK sip:")
        (bye, _), = received(msgs, r"^BYE sip:")
        self.assertGreater(bye - acked, INTERVAL / 2 + 8, run.logs())

    def test_the_phones_refresh_is_answered(self):
        run, msgs = self.call(
            "\nSupported: timer\n"
            "Session-Expires: %d;refresher=uas" % INTERVAL,
            "\n".join([pause(2000), in_dialog(
                "UPDATE", 2, extra="Supported: timer\n"
                "Session-Expires: %d;refresher=uac\n" % INTERVAL)]))
        (_, ok), = received(msgs, r"^SIP/2\.0 200 OK(?:.*\n)*CSeq:\s*2 "
                                  r"UPDATE")
        self.assertRegex(ok, r"(?im)^Session-Expires:\s*%d;refresher=uac"
                         % INTERVAL)
        self.assertEqual(requests(msgs), ["INVITE", "ACK", "BYE"],
                         run.logs())


if __name__ == "__main__":
    unittest.main()
