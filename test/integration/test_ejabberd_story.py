# SPDX-License-Identifier: GPL-3.0-or-later
"""The gateway-address story on ejabberd 23.01, end to end with every real
peer: a private ejabberd (rbejabberd.py), the component, the SIP bridge,
sipp as Bob's phone and slixmpp as Alice and Bob.

ejabberd 23.01 grants presence (managed_entity) and message (outgoing)
privileges in urn:xmpp:privilege:1 and no IQ privilege, so the component
cannot enable push for Bob: Alice writes to bob@callgw.localhost instead.
Online, Bob gets it from Alice in their normal thread; offline, he is
phoned, and what he does comes back in Alice's thread from the gateway
address. What does not work there (a message to bob@localhost is not
caught) is checked too, and so is the documented way round it: Bob's own
client enabling push to the component (docs/ejabberd.md)."""

import time
import unittest
import urllib.request

import rbbridge
import rbejabberd
import rbtest
import test_e2e_story
from rbbridge import EV, PCMA_TE, SIPP_PCAPS, key_pcap, pause, play
from rbtest import GATEWAY, NS_CLIENT, jid, q

# Bob passes the voicemail gate first, as in the Prosody story.
GATE = test_e2e_story.GATE
AFTER_MESSAGE_MS = test_e2e_story.AFTER_MESSAGE_MS
CALL_BACK = test_e2e_story.CALL_BACK
NS_OOB = "jabber:x:oob"
NS_PRIV1 = "urn:xmpp:privilege:1"
NS_FORWARD = "urn:xmpp:forward:0"
BOB_GW = "bob@" + GATEWAY
SPEECH_SECONDS = 7.05  # sipp's g711a.pcap


def body_of(m):
    b = m.find(q(NS_CLIENT, "body"))
    return None if b is None else (b.text or "")


class EjabberdStoryTest(test_e2e_story.StoryTest):
    """StoryTest's fixtures (component, bridge, sipp) on ejabberd. Only the
    tests defined here run (only_own_tests below): the inherited ones use
    bob@localhost, which ejabberd 23.01 does not let the component catch."""

    server_class = rbejabberd.Ejabberd

    def setUp(self):
        rbejabberd.require_ejabberd()
        super().setUp()

    # -- helpers

    def job_for(self, reply_from, timeout=20):
        return rbtest.wait_until(
            lambda: self.message_jobs(reply_from=reply_from), timeout,
            what="a job replying from " + reply_from)[0]

    def events(self, job_id, type_=None):
        sql = "SELECT * FROM events WHERE job_id = ?"
        args = [job_id]
        if type_ is not None:
            sql += " AND type = ?"
            args.append(type_)
        return self.db.query(sql + " ORDER BY id", tuple(args))

    def wait_delivered(self, job_id, timeout=30):
        """Until every event of the job is marked delivered (the component
        marks them once the server has confirmed the stanzas)."""
        return rbtest.wait_until(
            lambda: self.events(job_id) and all(
                e["delivered_ms"] for e in self.events(job_id)),
            timeout, what="events of job %d delivered" % job_id)

    def assert_phoned_job(self, body):
        job = self.job_for(BOB_GW)
        self.assertEqual(job["callee_jid"], jid("bob"))
        self.assertEqual(job["sender_jid"], jid("alice"))
        self.assertEqual(job["destination"],
                         "sip:bob@127.0.0.1:%d" % self.phone_port)
        self.assertEqual([m["body"] for m in self.db.job_messages(job["id"])],
                         [body])
        return job

    # -- the story

    def test_online_bob_gets_it_from_alice_in_their_thread(self):
        bob = self.client(self.prosody, "bob")
        mid = self.alice.send_message(BOB_GW, "Are you there?")
        m = bob.wait_message(from_=jid("alice"), body="Are you there?",
                             timeout=20)
        # Delivered as Alice's own chat message (privileged message,
        # outgoing), not wrapped and not from the gateway.
        self.assertEqual(m.get("type"), "chat", rbtest.xml_str(m))
        self.assertEqual(m.get("to").split("/")[0], jid("bob"))
        self.assertIsNone(m.find(q(NS_PRIV1, "privilege")))
        self.assertIsNone(m.find(q(NS_FORWARD, "forwarded")))
        self.assertIsNotNone(mid)
        time.sleep(1)
        self.assertEqual(self.message_jobs(), [])
        self.assertEqual(
            [rbtest.xml_str(x) for x in self.alice.messages.all()
             if rbtest.bare(x.get("from")) == BOB_GW], [])
        # Nothing left waiting for Bob either: he had it live.
        self.assertEqual(self.prosody.offline_count("bob"), 0)

    def test_offline_bob_is_phoned_and_key_2_comes_back_in_the_thread(self):
        sipp = self.phone("uas_answer.xml",
                          GATE + [pause(AFTER_MESSAGE_MS),
                                  play(key_pcap(2))])
        self.alice.send_message(BOB_GW, "Hi there.")
        job = self.assert_phoned_job("Hi there.")
        m = self.only_message_from(BOB_GW, body=CALL_BACK)
        self.assertEqual(m.get("type"), "chat", rbtest.xml_str(m))
        self.assertEqual(m.get("to").split("/")[0], jid("alice"))
        self.assertEqual([e["detail"] for e in self.events(job["id"],
                                                           EV["KEY"])], ["2"])
        self.assertTrue(self.events(job["id"], EV["HEARD"]))
        self.wait_delivered(job["id"])
        self.assertEqual(sipp.wait(60), 0, "sipp failed")
        rbtest.wait_until(lambda: self.db.jobs(id=job["id"])[0]["state"] == 2,
                          30, what="the job to end as notified")
        # Also in Bob's offline storage: his client shows it in the thread
        # with Alice when he comes back.
        bob = self.client(self.prosody, "bob")
        back = bob.wait_message(from_=jid("alice"), body="Hi there.")
        self.assertEqual(back.get("type"), "chat", rbtest.xml_str(back))

    def test_bob_whose_connection_dropped_is_phoned(self):
        """ejabberd 23.01 tells the component nothing when a session ends
        without an unavailable presence: the component asks Bob's resource,
        learns from the server that the session is gone, and phones."""
        sipp = self.phone("uas_answer.xml",
                          GATE + [pause(AFTER_MESSAGE_MS),
                                  play(key_pcap(2))])
        bob = self.client(self.prosody, "bob")
        bob.abort()
        rbtest.wait_until(lambda: not self.session_listed("bob"), 30,
                          what="ejabberd to end bob's session")
        self.alice.send_message(BOB_GW, "Still there?")
        self.assert_phoned_job("Still there?")
        self.only_message_from(BOB_GW, body=CALL_BACK)
        self.assertEqual(sipp.wait(60), 0, "sipp failed")

    def voice_reply(self):
        """Bob answers, presses 7, speaks (sipp's 7 s of speech), presses
        8; returns (the message Alice got, the audio bytes fetched)."""
        self.phone("uas_answer.xml", GATE + [
            pause(AFTER_MESSAGE_MS), play(key_pcap(7)), pause(5000),
            play(SIPP_PCAPS / "g711a.pcap"), pause(7600),
            play(key_pcap(8)), pause(500)], codecs=PCMA_TE)
        self.alice.send_message(BOB_GW, "Call me maybe.")
        job = self.assert_phoned_job("Call me maybe.")
        m = self.only_message_from(BOB_GW, timeout=120)
        x = m.find(q(NS_OOB, "x"))
        self.assertIsNotNone(x, rbtest.xml_str(m))
        url = x.find(q(NS_OOB, "url")).text
        self.assertEqual(body_of(m), url)
        voice = self.events(job["id"], EV["VOICE"])
        self.assertEqual(len(voice), 1)
        with urllib.request.urlopen(url, timeout=10) as r:
            ctype = r.headers["Content-Type"]
            blob = r.read()
        # What was served is what the bridge recorded, byte for byte.
        self.assertEqual(blob, bytes(voice[0]["blob"]))
        ok, seconds = rbbridge.ogg_opus_duration(blob)
        self.assertTrue(ok, "not Ogg/Opus: %r" % blob[:64])
        # The recorder keeps 0.5 s at each end of the speech.
        self.assertGreater(seconds, SPEECH_SECONDS - 2)
        self.assertLess(seconds, SPEECH_SECONDS + 1.5)
        return m, url, ctype

    def test_voice_reply_comes_back_as_a_link_the_component_serves(self):
        _, url, ctype = self.voice_reply()
        self.assertTrue(url.startswith("http://127.0.0.1:%d/" %
                                       self.http_port), url)
        self.assertEqual(ctype, "audio/ogg")

    # -- what ejabberd 23.01 cannot do, and the way round it

    def test_message_to_bobs_own_jid_is_not_caught(self):
        """No IQ privilege, so no push: ejabberd stores the message for
        Bob and the component never hears of it (docs/ejabberd.md)."""
        self.alice.send_message(jid("bob"), "to your own address")
        rbtest.wait_until(lambda: self.prosody.offline_count("bob") == 1,
                          20, what="ejabberd to store the message for bob")
        # A gateway message sent after it is caught: the first was not.
        self.alice.send_message(BOB_GW, "barrier")
        self.job_for(BOB_GW)
        self.assertEqual(self.message_jobs(reply_from=jid("bob")), [])
        self.assertEqual([m["body"] for m in self.db.job_messages()],
                         ["barrier"])

    def test_push_enabled_by_bobs_client_catches_his_own_jid(self):
        """docs/ejabberd.md's workaround: Bob's client sends the XEP-0357
        <enable/> naming the component and his node itself; from then on a
        message to bob@localhost while he is offline is phoned, and the
        outcome comes back from bob@localhost."""
        sipp = self.phone("uas_answer.xml",
                          GATE + [pause(AFTER_MESSAGE_MS),
                                  play(key_pcap(2))])
        node = self.db.registration(jid("bob"))["push_node"]
        self.assertTrue(node)
        bob = self.client(self.prosody, "bob")
        # The component's registration form shows Bob the stanza to send,
        # with his node in it; he sends it as it is.
        reply = bob.iq("<iq type='get' to='%s'><query xmlns='%s'/></iq>"
                       % (GATEWAY, rbtest.NS_REGISTER))
        form = reply.find(q(rbtest.NS_REGISTER, "query")).find(
            q(rbtest.NS_DATA, "x"))
        values, elems = rbtest.form_fields(form)
        self.assertEqual(elems["push-enable"].get("type"), "fixed")
        stanza = values["push-enable"][0]
        self.assertEqual(stanza, ENABLE_PUSH % {"gw": GATEWAY, "node": node})
        reply = bob.iq(stanza)
        self.assertEqual(reply.get("type"), "result", rbtest.xml_str(reply))
        # Gone without an unavailable presence: the component rechecks.
        bob.disconnect()
        rbtest.wait_until(lambda: not self.session_listed("bob"), 20,
                          what="ejabberd to end bob's session")
        self.alice.send_message(jid("bob"), "Hi there.")
        job = self.job_for(jid("bob"))
        self.assertEqual(job["sender_jid"], jid("alice"))
        self.assertEqual([m["body"] for m in self.db.job_messages(job["id"])],
                         ["Hi there."])
        m = self.only_message_from(jid("bob"), body=CALL_BACK)
        self.assertEqual(m.get("type"), "chat", rbtest.xml_str(m))
        self.assertEqual([e["detail"] for e in self.events(job["id"],
                                                           EV["KEY"])], ["2"])
        self.assertEqual(sipp.wait(60), 0, "sipp failed")

    def session_listed(self, user):
        """Whether ejabberd still lists a session for USER."""
        r = self.prosody.ctl("user_sessions_info", user, rbtest.DOMAIN)
        return bool(r.stdout.strip())


# The stanza docs/ejabberd.md tells a user to send from a client's XML
# console (the node is the user's, from the component).
ENABLE_PUSH = ("<iq type='set' id='ringbridge-push'>"
               "<enable xmlns='urn:xmpp:push:0' jid='%(gw)s' node='%(node)s'/>"
               "</iq>")


class EjabberdUploadStoryTest(EjabberdStoryTest):
    """The same voice reply when ejabberd offers XEP-0363 (mod_http_upload):
    the component uploads the audio and the link is ejabberd's."""

    prosody_options = {"upload": True}

    def test_voice_reply_is_uploaded_to_mod_http_upload(self):
        _, url, ctype = self.voice_reply()
        self.assertTrue(url.startswith("http://127.0.0.1:%d/upload/" %
                                       self.prosody.http_port), url)
        # ejabberd 23.01 serves .oga as application/octet-stream (its
        # table of types has no .oga and no option to add one); the bytes
        # are what matter here, and they were checked above.
        self.assertIsNotNone(ctype)


# StoryTest's own use bob@localhost with push enabled by the component,
# which ejabberd 23.01 cannot do.
rbtest.only_own_tests(EjabberdStoryTest)
rbtest.only_own_tests(EjabberdUploadStoryTest)


if __name__ == "__main__":
    unittest.main()
