# SPDX-License-Identifier: GPL-3.0-or-later
"""The whole story, end to end, with every real peer: Prosody, the
component, the SIP bridge, sipp as Bob's phone and slixmpp as Alice. Alice
writes to Bob while he is offline; his phone rings; it announces who wrote
and Bob presses a key at the voicemail gate ([calls] gate, on by default)
to hear the message; what he does with it comes back into Alice's chat,
once. A phone that answers and never presses a key (a voicemail box) hears
nothing of the message, and Alice is told nobody listened."""

import time

import rbbridge
import rbtest
from rbbridge import PCMA_TE, PCMU_TE, SIPP_PCAPS, key_pcap, pause, play
from rbtest import GATEWAY, jid

# The announcement ("At 7:40 PM you have a message from Alice.", 3.4 s)
# and "Press any key to hear it." (1.7 s) are over 5.1 s after the answer:
# Bob presses 5 in the wait after them (the gate digit means nothing more).
# "Alice says: Hi there." (2 s) follows; a key 4 s later is in the menu.
GATE = [pause(6500), play(key_pcap(5))]
AFTER_MESSAGE_MS = 4000
CALL_BACK = "☎ Bob heard your message by phone and will call you back."
NOBODY = "☎ Bob's phone answered, but nobody listened."
NS_OOB = "jabber:x:oob"


class StoryTest(rbtest.ComponentTest):
    bridge_env = None  # the bridge's environment; None: the test's

    def setUp(self):
        (self.phone_port, self.media_port, self.sip_port,
         self.http_port) = rbtest.free_ports(4)
        rtp = rbtest.free_range(40)
        self.operator_registrations = {
            "bob": "sip:bob@127.0.0.1:%d" % self.phone_port}
        self.component_policy = {"allowed_sip_domains": "127.0.0.1"}
        self.component_sections = {
            "sip": {"listen": "sip:127.0.0.1:%d" % self.sip_port,
                    "rtp_port_min": str(rtp),
                    "rtp_port_max": str(rtp + 39),
                    "max_calls": "10",
                    "ring_timeout": "5", "attempts": "2",
                    "retry_backoff": "1", "key_timeout": "4"},
            "http": {"listen": "127.0.0.1:%d" % self.http_port},
        }
        super().setUp()
        self.sipps = 0
        self.start_bridge()

    def start_bridge(self):
        log = self.comp.dir / "bridge.log"
        self.bridge = rbtest.rb_spawn(
            [rbbridge.SIP_BIN, "-c", self.comp.config], log,
            env=self.bridge_env)
        self.addCleanup(self.stop_bridge, self.bridge, log)
        rbtest.wait_until(lambda: "listening on" in log.read_text(),
                          timeout=30, what="the bridge to listen")

    def stop_bridge(self, proc, log):
        rbtest._terminate(proc, 40)
        text = log.read_text(errors="replace")
        for marker in rbtest.SANITIZER_MARKERS:
            self.assertNotIn(marker, text, text[-4000:])

    def phone(self, scenario, media=(), calls=1, codecs=PCMU_TE):
        subst = dict(codecs, MEDIA="\n".join(media))
        proc, _ = rbbridge.start_sipp(self.comp.dir, self.sipps, scenario,
                                      self.phone_port, self.media_port,
                                      calls, subst)
        self.sipps += 1
        self.addCleanup(rbtest._terminate, proc, 5)
        return proc

    def only_message_from(self, from_, timeout=90, **kw):
        m = self.alice.wait_message(from_=from_, timeout=timeout, **kw)
        time.sleep(2)
        same = [x for x in self.alice.messages.all()
                if x.get("from") == from_]
        self.assertEqual(len(same), 1, [rbtest.xml_str(x) for x in same])
        return m

    def test_key_2_becomes_will_call_you_back(self):
        self.phone("uas_answer.xml",
                   GATE + [pause(AFTER_MESSAGE_MS), play(key_pcap(2))])
        self.alice.send_message(jid("bob"), "Hi there.")
        self.only_message_from(jid("bob"), body=CALL_BACK)

    def test_gateway_address_gets_the_answer_there(self):
        self.phone("uas_answer.xml",
                   GATE + [pause(AFTER_MESSAGE_MS), play(key_pcap(2))])
        self.alice.send_message("bob@" + GATEWAY, "Hi there.")
        self.only_message_from("bob@" + GATEWAY, body=CALL_BACK)

    def test_voice_reply_arrives_as_a_playable_link(self):
        self.phone("uas_answer.xml", GATE + [
            pause(AFTER_MESSAGE_MS), play(key_pcap(7)), pause(5000),
            play(SIPP_PCAPS / "g711a.pcap"), pause(7600),
            play(key_pcap(8)), pause(500)], codecs=PCMA_TE)
        self.alice.send_message(jid("bob"), "Hi there.")
        m = self.only_message_from(jid("bob"), timeout=120)
        x = m.find(rbtest.q(NS_OOB, "x"))
        self.assertIsNotNone(x, rbtest.xml_str(m))
        url = x.find(rbtest.q(NS_OOB, "url")).text
        import urllib.request
        with urllib.request.urlopen(url, timeout=10) as r:
            self.assertEqual(r.headers["Content-Type"], "audio/ogg")
            blob = r.read()
        ok, seconds = rbbridge.ogg_opus_duration(blob)
        self.assertTrue(ok, "not Ogg/Opus")
        # sipp's speech lasts 7.05 s; the recorder keeps 0.5 s at each end.
        self.assertGreater(seconds, 5.0)
        self.assertLess(seconds, 8.5)

    def test_busy_until_attempts_run_out(self):
        self.phone("uas_busy.xml", calls=2)
        self.alice.send_message(jid("bob"), "Hi there.")
        m = self.only_message_from(jid("bob"))
        body = m.find(rbtest.q(rbtest.NS_CLIENT, "body")).text
        self.assertTrue(body.startswith("☎ Could not reach Bob by phone: "),
                        body)
        self.assertIn("busy", body)

    def test_voicemail_gets_nobody_listened(self):
        # Two attempts ([sip] attempts = 2), each answered, neither
        # passing the gate: the job fails, and Alice is told the truth.
        self.phone("uas_answer.xml", calls=2)
        self.alice.send_message(jid("bob"), "Hi there.")
        self.only_message_from(jid("bob"), timeout=150, body=NOBODY)
        types = [r["type"] for r in self.db.query(
            "SELECT type FROM events ORDER BY id")]
        self.assertEqual(types.count(rbbridge.EV["UNHEARD"]), 2, types)
        self.assertNotIn(rbbridge.EV["HEARD"], types)

    def test_component_killed_between_call_and_delivery(self):
        self.phone("uas_answer.xml",
                   GATE + [pause(AFTER_MESSAGE_MS), play(key_pcap(2))])
        self.alice.send_message(jid("bob"), "Hi there.")
        self.wait_messages(jid("bob"), 1)
        self.comp.kill()
        rbtest.wait_until(
            lambda: self.db.query("SELECT id FROM events WHERE type = 7"),
            timeout=90, what="the call to end")
        self.comp.start()
        self.comp.wait_ready(self.alice)
        self.only_message_from(jid("bob"), body=CALL_BACK)
