"""scripts/demo: ringbridge end to end on its embedded defaults, on this
machine, with real peers: a private Prosody on loopback ports, the
component, and two Jabber users (alice, bob) driven by slixmpp.

It tells the story as it happens and stops everything it started. With
--keep it leaves the servers running and prints how to connect a real
Jabber client, until Ctrl-C.
"""

import argparse
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "test" / "integration"))
os.environ.setdefault("RB_BUILD_DIR", str(REPO / "build"))

import rbtest  # noqa: E402
from rbtest import jid  # noqa: E402

BOB_PHONE = "+15551234567"


def say(text):
    print("demo: " + text, flush=True)


def show_jobs(comp):
    out = comp.ctl("jobs", "--all").stdout.rstrip()
    for line in out.splitlines():
        print("    " + line)


def wait_messages(db, callee, n, timeout=20):
    def enough():
        rows = db.query(
            "SELECT m.body, j.id, j.sender_name FROM job_messages m "
            "JOIN jobs j ON j.id = m.job_id WHERE j.callee_jid = ? "
            "ORDER BY m.id", (callee,))
        return rows if len(rows) >= n else None
    return rbtest.wait_until(enough, timeout=timeout,
                             what="%d caught messages" % n)


def main():
    ap = argparse.ArgumentParser(prog="scripts/demo")
    ap.add_argument("--keep", action="store_true",
                    help="keep Prosody and the component running and "
                    "print how to connect a real client")
    args = ap.parse_args()

    prosody = rbtest.Prosody(mam=True)
    comp = None
    clients = []
    try:
        say("starting a private Prosody on 127.0.0.1 (c2s port %d, "
            "component port %d)" % (prosody.c2s_port, prosody.component_port))
        prosody.start()
        for user in ("alice", "bob"):
            prosody.register(user, "demo")
        comp = rbtest.Component(prosody)
        say("operator registers Bob's phone: ringbridgectl register "
            "bob@localhost %s" % BOB_PHONE)
        comp.register_user(jid("bob"), BOB_PHONE)
        say("starting ringbridge-component as %s" % rbtest.GATEWAY)
        comp.start()
        alice = rbtest.Client(prosody, "alice", password="demo")
        alice.connect()
        clients.append(alice)
        comp.wait_ready(alice)
        prosody.wait_push_enabled("bob")
        say("the component is connected and is Bob's push service")

        say("alice (online) writes to bob@localhost, who is offline:")
        for body in ("Are we still on for lunch?",
                     "Call me if anything changed."):
            print("    alice -> bob: %s" % body)
            alice.send_message(jid("bob"), body)
        rows = wait_messages(comp.db, jid("bob"), 2)
        say("caught into the queue: job #%d for bob@localhost, %d messages "
            "from %s, to be phoned to %s"
            % (rows[0]["id"], len(rows), rows[0]["sender_name"], BOB_PHONE))
        show_jobs(comp)

        say("bob comes online; alice writes again:")
        bob = rbtest.Client(prosody, "bob", password="demo")
        bob.connect()
        clients.append(bob)
        alice.send_message(jid("bob"), "Never mind, see you there.")
        bob.wait_message(from_=jid("alice"), body="Never mind, see you there.")
        say("bob read it in his client; no call was queued (he is online)")

        bob.disconnect()
        clients.remove(bob)
        time.sleep(1.0)  # his "unavailable" reaches the component first
        say("bob goes offline; alice writes to his gateway address "
            "bob@%s:" % rbtest.GATEWAY)
        alice.send_message("bob@" + rbtest.GATEWAY, "Running late, 10 min.")
        rows = wait_messages(comp.db, jid("bob"), 3)
        say("caught again: \"%s\" joined job #%d, so one call reads all "
            "three" % (rows[-1]["body"], rows[-1]["id"]))
        show_jobs(comp)
        say("the SIP bridge (ringbridge-sip) is not part of this release: "
            "the job stays queued for it")

        if args.keep:
            say("still running. Connect a Jabber client to 127.0.0.1 port "
                "%d as alice@localhost or bob@localhost (password: demo, "
                "no TLS); the component is %s. Ctrl-C stops everything."
                % (prosody.c2s_port, rbtest.GATEWAY))
            say("queue: %s; component log: %s" % (comp.db_path, comp.log))
            while True:
                time.sleep(3600)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        for c in clients:
            c.abort()
        if comp is not None:
            comp.cleanup()
        prosody.cleanup()
        say("stopped everything it started")


if __name__ == "__main__":
    sys.exit(main())
