# SPDX-License-Identifier: GPL-3.0-or-later
"""scripts/demo: ringbridge end to end on its embedded defaults, on this
machine, with every real peer: a private Prosody on loopback ports (users
alice and bob, XEP-0363 file sharing), the component, the SIP bridge, sipp
as Bob's phone, and Alice's client (slixmpp).

It tells the story as it happens: Alice writes to Bob, who is offline; the
message is caught; Bob's phone rings and says who wrote; Bob presses a key
at the voicemail gate, hears the message and presses 2; Alice reads
"Bob ... will call you back" in her chat with Bob. Then a second round with
a spoken reply, whose audio it saves under demo-out/. It stops everything
it started; with --keep it leaves Prosody, the component and the bridge
running and prints how to connect a real Jabber client and softphone.
"""

import argparse
import os
import pathlib
import random
import re
import shutil
import sys
import time
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "test" / "integration"))
os.environ.setdefault("RB_BUILD_DIR", str(REPO / "build"))

import rbbridge  # noqa: E402
import rbtest  # noqa: E402
from rbbridge import (PCMA_TE, PCMU_TE, SIPP_PCAPS, key_pcap,  # noqa: E402
                      pause, play)
from rbtest import jid  # noqa: E402

OUT = REPO / "demo-out"

# What the demo sets up, shared with the docker-compose set-up in
# deploy/compose/ (test/deploy/test_compose.py checks that they agree):
# Prosody's options, the component's policy and [sip] keys, Bob's phone
# address, and what the phone does in the first round.
PROSODY_OPTIONS = {"mam": True, "upload": True}
DEMO_PASSWORD = "demo"
BOB_PHONE = "sip:bob@{host}:{port}"
# A key at the voicemail gate once the announcement and "Press any key to
# hear it." are over (5 s), then 2 in the menu after the message.
GATE = [pause(6500), play(key_pcap(5))]
ROUND1 = (GATE + [pause(4000), play(key_pcap(2))], PCMU_TE)


def component_options(phone_host, sip_listen, rtp_min):
    """The policy and sections of the demo's ringbridge configuration."""
    return ({"allowed_sip_domains": phone_host},
            {"sip": {"listen": sip_listen, "rtp_port_min": str(rtp_min),
                     "rtp_port_max": str(rtp_min + 39), "max_calls": "10"}})
EVENT_WORDS = {1: "calling Bob (attempt {d})", 2: "Bob answered ({d})",
               3: "Bob heard the message in full", 4: "Bob pressed {d}",
               5: "Bob recorded a voice reply ({d})", 6: "failed: {d}",
               7: "the call ended: {d}",
               9: "nobody pressed a key at the gate: nothing was read"}


def say(text):
    print("demo: " + text, flush=True)


class Demo:
    def __init__(self):
        self.prosody = rbtest.Prosody(debug=False, **PROSODY_OPTIONS)
        self.comp = None
        self.bridge = None
        self.clients = []
        self.sipps = []
        self.phone_port, self.media_port, self.sip_port = \
            rbtest.free_ports(3)

    def start(self):
        p = self.prosody
        say("starting a private Prosody on 127.0.0.1 (c2s port %d)"
            % p.c2s_port)
        p.start()
        for user in ("alice", "bob"):
            p.register(user, DEMO_PASSWORD)
        rtp = random.randrange(40000, 59000) & ~1
        policy, sections = component_options(
            "127.0.0.1", "sip:127.0.0.1:%d" % self.sip_port, rtp)
        self.comp = rbtest.Component(p, policy=policy, sections=sections)
        phone = BOB_PHONE.format(host="127.0.0.1", port=self.phone_port)
        say("operator registers Bob's phone: ringbridgectl register "
            "bob@localhost %s" % phone)
        self.comp.register_user(jid("bob"), phone)
        say("starting ringbridge-component (%s) and ringbridge-sip (%s)"
            % (rbtest.GATEWAY, "127.0.0.1:%d" % self.sip_port))
        self.comp.start()
        self.bridge_log = self.comp.dir / "bridge.log"
        self.bridge = rbtest._spawn(
            [str(rbbridge.SIP_BIN), "-c", str(self.comp.config)],
            self.bridge_log)
        self.alice = rbtest.Client(p, "alice", password=DEMO_PASSWORD)
        self.alice.connect()
        self.clients.append(self.alice)
        self.comp.wait_ready(self.alice)
        p.wait_push_enabled("bob")
        rbtest.wait_until(lambda: "listening on" in self.bridge_log.read_text(),
                          timeout=30, what="the bridge")
        say("ready: Bob is offline; his phone is sipp on port %d"
            % self.phone_port)

    def phone(self, media, codecs):
        for old in self.sipps:  # one phone at a time on Bob's port
            try:
                old.wait(30)
            except Exception:
                rbtest._terminate(old, 5)
        proc, _ = rbbridge.start_sipp(
            self.comp.dir, len(self.sipps), "uas_answer.xml",
            self.phone_port, self.media_port, 1,
            dict(codecs, MEDIA="\n".join(media)))
        self.sipps.append(proc)

    def follow(self, body, want):
        """Alice writes BODY; prints the call as it happens until Alice
        has a message from Bob that satisfies WANT; returns it."""
        seen_events, seen_said, seen_gate = 0, 0, False
        print("    alice -> bob@localhost: %s" % body)
        self.alice.send_message(jid("bob"), body)
        deadline = time.monotonic() + 120
        job = None
        while time.monotonic() < deadline:
            if job is None:
                rows = self.comp.db.query(
                    "SELECT j.id FROM jobs j JOIN job_messages m ON "
                    "m.job_id = j.id WHERE m.body = ?", (body,))
                if rows:
                    job = rows[0]["id"]
                    say("caught into the queue as job #%d" % job)
            else:
                evs = self.comp.db.query(
                    "SELECT type, detail FROM events WHERE job_id = ? "
                    "ORDER BY id", (job,))
                for e in evs[seen_events:]:
                    say(EVENT_WORDS.get(e["type"], "?").format(
                        d=e["detail"]))
                seen_events = len(evs)
                log = self.bridge_log.read_text()
                said = re.findall(r'job %d: saying "(.*)"' % job, log)
                # The demo runs with the voicemail gate (the default): the
                # first text is the announcement; the message, rendered
                # while the phone rang, is told once Bob has pressed a key.
                passed = "job %d: the gate was passed" % job in log
                if passed and seen_said and not seen_gate:
                    say("Bob pressed a key at the gate")
                    seen_gate = True
                for s in said[seen_said:]:
                    if seen_said == 1 and not passed:
                        break
                    say("the phone says: \u201c%s\u201d" % s.strip())
                    if seen_said == 0:
                        say("the phone says: \u201cPress any key to hear "
                            "it.\u201d")
                    seen_said += 1
            got = [m for m in self.alice.messages.all()
                   if m.get("from") == jid("bob") and want(m)]
            if got and seen_events and evs and evs[-1]["type"] == 7:
                m = got[0]
                text = m.find(rbtest.q(rbtest.NS_CLIENT, "body")).text
                say("alice's chat with bob@localhost now shows: %s" % text)
                return m
            time.sleep(0.2)
        raise RuntimeError("the story did not finish within 2 minutes")

    def run(self, keep):
        self.start()
        say("round 1: Bob will press 2 (\u201cI'll call you back\u201d)")
        self.phone(*ROUND1)
        self.follow("Are we still on for lunch?",
                    lambda m: "call you back" in rbtest.xml_str(m))

        say("round 2: Bob presses 7 and speaks a reply, then 8")
        self.phone(GATE + [pause(4000), play(key_pcap(7)), pause(5000),
                    play(SIPP_PCAPS / "g711a.pcap"), pause(7600),
                    play(key_pcap(8)), pause(500)], PCMA_TE)
        m = self.follow("Can you send me the address?",
                        lambda m: "jabber:x:oob" in rbtest.xml_str(m))
        url = m.find(rbtest.q("jabber:x:oob", "x")).find(
            rbtest.q("jabber:x:oob", "url")).text
        OUT.mkdir(exist_ok=True)
        dest = OUT / "voice-reply.oga"
        with urllib.request.urlopen(url, timeout=10) as r, \
                open(dest, "wb") as f:
            shutil.copyfileobj(r, f)
        ok, seconds = rbbridge.ogg_opus_duration(dest.read_bytes())
        say("the voice reply is at %s (uploaded to Prosody's XEP-0363 "
            "service); saved as %s: Ogg/Opus %s, %.1f s; play it with any "
            "audio player" % (url, dest.relative_to(REPO),
                              "valid" if ok else "INVALID", seconds))
        if keep:
            self.keep()

    def keep(self):
        say("still running. Jabber: connect a client to 127.0.0.1 port %d "
            "as alice@localhost or bob@localhost (password: %s, no TLS)."
            % (self.prosody.c2s_port, DEMO_PASSWORD))
        say("Phone: point Bob's registration at your softphone (a SIP URI "
            "it answers on, its host in [policy] allowed_sip_domains):")
        print("    build/ringbridgectl -c %s register bob@localhost "
              "sip:bob@127.0.0.1:5062" % self.comp.config)
        say("then log bob out and write to him from alice. Ctrl-C stops "
            "everything.")
        while True:
            time.sleep(3600)

    def stop(self):
        for c in self.clients:
            c.abort()
        for proc in self.sipps:
            rbtest._terminate(proc, 5)
        if self.bridge is not None:
            rbtest._terminate(self.bridge, 40)
        if self.comp is not None:
            self.comp.cleanup()
        self.prosody.cleanup()
        say("stopped everything it started")


def main():
    ap = argparse.ArgumentParser(prog="scripts/demo")
    ap.add_argument("--keep", action="store_true",
                    help="keep Prosody, the component and the bridge "
                    "running and print how to connect a real client and "
                    "softphone")
    args = ap.parse_args()
    demo = Demo()
    try:
        demo.run(args.keep)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        demo.stop()


if __name__ == "__main__":
    sys.exit(main())
