# SPDX-License-Identifier: GPL-3.0-or-later
"""Requests the phone sends inside a call placed by ringbridge-sip, with
sipp as the phone (uas_answer.xml, its @MEDIA@ written by
rbbridge.in_dialog): keys as SIP INFO (application/dtmf-relay and
application/dtmf, linphone's default), merged with RFC 4733 so that one
press sent both ways counts once, and bodies that are not keys refused
with RFC 3261's codes while the call goes on.

Cost: about 15 s a test (one call each, no XMPP server). It runs in both
builds: the INFO path parses bodies from the network and feeds the call's
key stream, which is what the sanitizer build is for.
"""

import re
import unittest

import rbbridge
from rbbridge import DIALOG, PCMU_TE, Run, in_dialog, key_pcap, pause, play
from test_bridge_call import AFTER_MESSAGE_MS, detail, names

RELAY = "application/dtmf-relay"


def offer(version, direction, pt=0):
    """The phone's SDP in a re-INVITE or UPDATE (sipp fills its address),
    G.711 as payload type PT (0 PCMU, 8 PCMA)."""
    return ("v=0\n"
            "o=phone 1 %d IN IP[local_ip_type] [local_ip]\n"
            "s=-\n"
            "c=IN IP[media_ip_type] [media_ip]\n"
            "t=0 0\n"
            "m=audio [media_port] RTP/AVP %d 101\n"
            "a=rtpmap:%d %s/8000\n"
            "a=rtpmap:101 telephone-event/8000\n"
            "a=%s\n" % (version, pt, pt, "PCMA" if pt == 8 else "PCMU",
                         direction))


def responses(msg_file, method):
    """The bridge's 200s to the phone's METHOD requests, in order, from
    sipp's message log: (CSeq number, the whole response)."""
    text = open(msg_file, errors="replace").read()
    out = []
    for part in re.split(r"\n-{20,}[^\n]*\n", text):
        m = re.search(r"SIP/2\.0 200 OK.*", part, re.S)
        if not m or "message received" not in part:
            continue
        cseq = re.search(r"^CSeq:\s*(\d+)\s+(\w+)", m.group(0), re.M | re.I)
        if cseq and cseq.group(2) == method and int(cseq.group(1)) > 1:
            out.append((int(cseq.group(1)), m.group(0)))
    return out


class BridgeDialogTest(unittest.TestCase):

    def call(self, media, capture=False):
        run = Run(self)
        run.start_bridge()
        self.cap = rbbridge.Capture(run) if capture else None
        sipp = run.sipp("uas_answer.xml",
                        subst=dict(PCMU_TE, DIALOG=DIALOG,
                                   MEDIA="\n".join(media)))
        job = run.test_call("Hi there.")
        ev = run.wait_ended(job)
        run.wait_sipp(sipp)
        return run, ev

    def test_info_dtmf_relay_key_2(self):
        run, ev = self.call([
            pause(2000),
            # Not keys: refused, and the call goes on.
            in_dialog("INFO", 2, "text/plain", "2", expect=415),
            in_dialog("INFO", 3, RELAY, "Signal=Z\nDuration=160\n",
                      expect=400),
            in_dialog("INFO", 4, RELAY, "Signal=1\nX=" + "x" * 300,
                      expect=413),
            # An empty INFO (a dialog keep-alive) is answered 200.
            in_dialog("INFO", 5),
            pause(AFTER_MESSAGE_MS - 2000),
            in_dialog("INFO", 6, RELAY, "Signal=2\nDuration=160\n"),
        ])
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD", "KEY",
                                     "ENDED"], run.logs())
        self.assertEqual(detail(ev, "KEY"), ["2"])
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        self.assertIn("key 2 (INFO)", run.logs())

    def test_info_dtmf_and_rfc4733_for_one_press_count_once(self):
        # linphone's application/dtmf while sipp plays the same key as
        # RFC 4733 events at the same moment.
        run, ev = self.call([
            pause(AFTER_MESSAGE_MS),
            play(key_pcap(2)),
            in_dialog("INFO", 2, "application/dtmf", "2"),
        ])
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD", "KEY",
                                     "ENDED"], run.logs())
        self.assertEqual(detail(ev, "KEY"), ["2"])
        self.assertEqual(detail(ev, "ENDED"), ["notified"])
        # Both came, and the second report was folded into the first.
        self.assertIn("keys: 1 pressed, 1 second reports folded", run.logs())

    def test_hold_mid_prompt_resume_then_key(self):
        """The phone holds the call (sendonly) while the message is read:
        the bridge answers recvonly and sends nothing, resumes on sendrecv
        (with PCMA now) where the prompt was, and the key after it counts. A refresh
        (UPDATE with the same SDP, then one without SDP but with
        Session-Expires) changes nothing: our o= version goes up only
        when our SDP does."""
        run, ev = self.call([
            pause(2000),
            in_dialog("INVITE", 2, "application/sdp", offer(2, "sendonly")),
            pause(3000),
            # Resumed with another codec: followed.
            in_dialog("INVITE", 3, "application/sdp",
                      offer(3, "sendrecv", pt=8)),
            in_dialog("UPDATE", 4, "application/sdp",
                      offer(3, "sendrecv", pt=8)),
            # RFC 4028: below nua's Min-SE (120 s) is 422 with Min-SE.
            in_dialog("UPDATE", 5, extra="Session-Expires: 90;refresher=uac"
                      "\nSupported: timer\n", expect=422),
            in_dialog("UPDATE", 6, extra="Session-Expires: 180;refresher=uac"
                      "\nSupported: timer\n"),
            pause(AFTER_MESSAGE_MS + 1000),
            play(key_pcap(2)),
        ], capture=True)
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "HEARD", "KEY",
                                     "ENDED"], run.logs())
        self.assertEqual(detail(ev, "KEY"), ["2"])
        msgs = run.sipps[-1][1]
        invites = responses(msgs, "INVITE")
        updates = responses(msgs, "UPDATE")
        self.assertEqual([n for n, _ in invites], [2, 3], run.logs())
        self.assertEqual([n for n, _ in updates], [4, 6], run.logs())
        hold, resume = invites[0][1], invites[1][1]
        self.assertIn("a=recvonly", hold)
        self.assertIn("a=sendrecv", resume)
        self.assertIn("m=audio", resume)
        self.assertRegex(resume, r"m=audio \d+ RTP/AVP 8 101")
        # The session id is the job's (1), the version starts there.
        self.assertIn("o=ringbridge 1 2 ", hold)
        self.assertIn("o=ringbridge 1 3 ", resume)
        self.assertIn("o=ringbridge 1 3 ", updates[0][1])
        self.assertNotIn("application/sdp", updates[1][1])
        # RFC 4028: the refresh is answered with the session's interval.
        self.assertRegex(updates[1][1],
                         r"(?im)^Session-Expires:\s*180;refresher=uac")
        # No RTP while on hold (about 3 s), and RTP again after.
        pkts = self.cap.arrivals()
        times = [t for t, _ in pkts]
        gaps = [(b - a, a) for a, b in zip(times, times[1:])]
        longest, at = max(gaps)
        self.assertGreater(longest, 2.5, run.logs())
        self.assertLess(longest, 4.5, run.logs())
        before = set(pt for t, pt in pkts if t <= at)
        after = [pt for t, pt in pkts if t > at + 1]
        self.assertEqual(before, {0})
        self.assertGreater(len(after), 100)
        self.assertEqual(set(after), {8})
        # The prompt resumed where it was: the message was heard whole.
        self.assertEqual(detail(ev, "HEARD"), ["1"])


if __name__ == "__main__":
    unittest.main()
