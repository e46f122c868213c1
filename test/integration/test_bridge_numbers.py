# SPDX-License-Identifier: GPL-3.0-or-later
"""Several numbers per user, tried in order (issue 12), with two sipp phones
on their own ports as the user's first and second number (jobs queued with
`ringbridgectl test-call --then`): a busy first number and an answering
second, and the second rings at once (the gap between the first phone's 486
and the second phone's INVITE is measured from sipp's own message logs,
with a back-off of 30 s that a wait between numbers would show); both busy
for two rounds, with the back-off between the rounds only, and the sender's
text naming the last number's outcome; 603 on the first number ends the job
and the second never rings.

Cost: about 15 s (busy phones answer in 0.2 s; one answered call reads a
short message and takes key 1). It runs in both builds: the round over the
numbers is the call path's retry logic and the queue's claim, which the
sanitizer build covers for the call path."""

import datetime
import re
import time
import unittest

import rbbridge
from rbbridge import PCMU_TE, Run, key_pcap, pause, play, start_sipp
from rbtest import free_ports
from test_bridge_call import AFTER_MESSAGE_MS, detail, names

# sipp's -trace_msg log: a dashed line with the time before each message.
STAMP = re.compile(r"^-+ (\d{4}-\d\d-\d\d\t?\s*[\d:.]+)", re.M)


def second_phone(run, scenario, subst=None, calls=1):
    """A second sipp phone on ports of its own; returns (process, message
    log, URI). Registered with RUN, so its logs and cleanup are RUN's."""
    port, media = free_ports(2)
    proc, msg = start_sipp(run.dir, len(run.sipps), scenario, port, media,
                           calls, subst)
    run.sipps.append((proc, msg))
    return proc, msg, "sip:second@127.0.0.1:%d" % port


def message_times(msg_log, pattern):
    """The times (datetime) at which sipp logged a message matching
    PATTERN (a regular expression on the message's first lines)."""
    text = msg_log.read_text(errors="replace")
    out = []
    parts = STAMP.split(text)
    # parts: [before, stamp1, body1, stamp2, body2, ...]
    for stamp, body in zip(parts[1::2], parts[2::2]):
        if re.search(pattern, body[:400]):
            out.append(parse_stamp(stamp))
    return out


def parse_stamp(stamp):
    stamp = " ".join(stamp.split())
    return datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f")


class BridgeNumbersTest(unittest.TestCase):

    def test_busy_first_number_rings_the_second_at_once(self):
        # A back-off of 30 s: a retry between numbers would wait for it.
        run = Run(self, retry_backoff=30)
        run.start_bridge()
        busy = run.sipp("uas_busy.xml")
        answer, answer_msg, second = second_phone(
            run, "uas_answer.xml", dict(
                PCMU_TE, MEDIA="\n".join([pause(AFTER_MESSAGE_MS),
                                          play(key_pcap(1))])))
        job = run.test_call_to(run.phone_uri(), then=[second])
        ev = run.wait_ended(job)
        run.wait_sipp(busy)
        run.wait_sipp(answer)
        self.assertEqual(detail(ev, "CALLING"), ["1", "2"], run.logs())
        self.assertEqual(detail(ev, "KEY"), ["1"])
        self.assertNotIn("FAILED", names(ev))
        j = run.job(job)
        self.assertEqual((j["state"], j["attempts"]), (2, 2))
        # The gap: the first phone's 486 sent, the second's INVITE seen.
        busy_at = message_times(run.sipps[0][1], r"sent.*\n+SIP/2.0 486")
        invite_at = message_times(answer_msg, r"received.*\n+INVITE ")
        self.assertEqual((len(busy_at), len(invite_at)), (1, 1),
                         run.logs())
        gap = (invite_at[0] - busy_at[0]).total_seconds()
        print("\nbusy first number -> INVITE to the second: %.3f s" % gap)
        self.assertGreaterEqual(gap, 0)
        self.assertLess(gap, 2.0)

    def test_rounds_over_the_numbers_with_back_off_between(self):
        run = Run(self, attempts=2, retry_backoff=2)
        run.start_bridge()
        first = run.sipp("uas_busy.xml", calls=2)
        other, other_msg, second = second_phone(run, "uas_busy.xml",
                                                calls=2)
        job = run.test_call_to(run.phone_uri(), then=[second])
        ev = run.wait_ended(job)
        run.wait_sipp(first)
        run.wait_sipp(other)
        self.assertEqual(detail(ev, "CALLING"), ["1", "2", "3", "4"])
        self.assertEqual(detail(ev, "FAILED"),
                         ["busy on the last of 2 numbers after 2 rounds"])
        j = run.job(job)
        self.assertEqual((j["state"], j["attempts"]), (3, 4))
        # In order: first, second, first, second; the back-off (2 s after
        # round 1) only between the rounds.
        calls = [t for t, in run.query(
            "SELECT created_ms FROM events WHERE job_id = ? AND type = ? "
            "ORDER BY id", (job, rbbridge.EV["CALLING"]))]
        gaps = [(b - a) / 1000 for a, b in zip(calls, calls[1:])]
        print("\ngaps between the calls: %s s" %
              ", ".join("%.2f" % g for g in gaps))
        self.assertLess(gaps[0], 2.0)
        self.assertGreaterEqual(gaps[1], 2.0)
        self.assertLess(gaps[2], 2.0)
        first_invites = message_times(run.sipps[0][1],
                                      r"received.*\n+INVITE ")
        second_invites = message_times(other_msg, r"received.*\n+INVITE ")
        self.assertEqual((len(first_invites), len(second_invites)), (2, 2))
        self.assertLess(first_invites[0], second_invites[0])
        self.assertLess(second_invites[0], first_invites[1])
        self.assertLess(first_invites[1], second_invites[1])

    def test_declined_first_number_ends_the_job(self):
        run = Run(self, attempts=3, retry_backoff=1)
        run.start_bridge()
        decline = run.sipp("uas_decline.xml")
        _, other_msg, second = second_phone(run, "uas_answer.xml", dict(
            PCMU_TE, MEDIA=pause(1000)))
        job = run.test_call_to(run.phone_uri(), then=[second])
        ev = run.wait_ended(job)
        run.wait_sipp(decline)
        self.assertEqual(names(ev), ["CALLING", "FAILED", "ENDED"])
        self.assertEqual(detail(ev, "FAILED"), ["rejected"])
        time.sleep(3)  # past the back-off: the second number never rang
        self.assertEqual(message_times(other_msg, r"received.*\n+INVITE "),
                         [])
        j = run.job(job)
        self.assertEqual((j["state"], j["attempts"]), (3, 1))


if __name__ == "__main__":
    unittest.main()
