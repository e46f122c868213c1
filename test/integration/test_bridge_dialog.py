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

import unittest

from rbbridge import DIALOG, PCMU_TE, Run, in_dialog, key_pcap, pause, play

# "Hi there." reads in about 5 s after the answer; a key after 9 s falls in
# the menu (as in test_bridge_call).
AFTER_MESSAGE_MS = 9000
RELAY = "application/dtmf-relay"


def names(events):
    return [e[0] for e in events]


def detail(events, name):
    return [e[1] for e in events if e[0] == name]


class BridgeDialogTest(unittest.TestCase):

    def call(self, media):
        run = Run(self)
        run.start_bridge()
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


if __name__ == "__main__":
    unittest.main()
