# SPDX-License-Identifier: GPL-3.0-or-later
"""Two ringbridge-sip processes sharing one queue: every job is claimed by
exactly one of them, so each phone rings once, and both take calls. Six
jobs to six phone addresses (one sipp answers them all and hangs up after a
second), bridges allowed three calls each, so neither can take all six.
Runs on SQLite (integration/test_bridge_share) and on PostgreSQL
(integration/postgresql/test_bridge_share, RB_TEST_QUEUE=postgresql: the
two bridges claim with FOR UPDATE SKIP LOCKED and are woken by NOTIFY).
About 20 s; in both builds, since the claim path is the queue's C code."""

import re
import unittest

import rbbridge
import rbtest
from rbbridge import PCMU_TE, Run, pause

JOBS = 6


class BridgeShareTest(unittest.TestCase):

    def second_bridge(self, run):
        """A second bridge: RUN's configuration (same queue) on its own
        SIP port and RTP range."""
        port = rbtest.free_ports(1)[0]
        base = rbtest.free_range(40)
        text = run.config.read_text()
        text = re.sub(r"(?m)^listen = .*$",
                      "listen = sip:127.0.0.1:%d" % port, text)
        text = re.sub(r"(?m)^rtp_port_min = .*$",
                      "rtp_port_min = %d" % base, text)
        text = re.sub(r"(?m)^rtp_port_max = .*$",
                      "rtp_port_max = %d" % (base + 39), text)
        config = run.dir / "bridge2.conf"
        config.write_text(text)
        log = run.dir / "bridge2.log"
        proc = rbtest.rb_spawn([rbbridge.SIP_BIN, "-c", config], log)
        self.addCleanup(rbtest._terminate, proc, 40)
        rbtest.wait_until(lambda: "listening on" in log.read_text(),
                          timeout=30, what="the second bridge to listen")
        return proc, log

    def test_each_phone_rings_once_and_both_bridges_call(self):
        run = Run(self, max_calls=3, attempts=1)
        run.start_bridge()
        proc2, log2 = self.second_bridge(run)
        sipp = run.sipp("uas_hangup.xml", calls=JOBS, subst=dict(
            PCMU_TE, MEDIA=pause(1000)))
        jobs = [run.test_call_to("sip:phone%d@127.0.0.1:%d"
                                 % (i, run.phone_port), "Hello %d." % i)
                for i in range(JOBS)]
        for job in jobs:
            run.wait_ended(job)
        run.wait_sipp(sipp)
        self.assertIsNone(proc2.poll(), rbtest.tail(log2))

        for job in jobs:
            calling = [e for e in run.events(job) if e[0] == "CALLING"]
            self.assertEqual(len(calling), 1, (job, run.events(job),
                                               run.logs()))
            self.assertEqual(run.job(job)["attempts"], 1, run.logs())
        # sipp answered exactly JOBS INVITEs: one per phone address.
        msgs = "".join(m.read_text(errors="replace")
                       for _, m in run.sipps if m.exists())
        invites = re.findall(r"(?m)^INVITE sip:(phone\d+)@", msgs)
        self.assertEqual(sorted(invites),
                         sorted("phone%d" % i for i in range(JOBS)),
                         run.logs())
        owners = {r[0] for r in run.query(
            "SELECT lease_owner FROM jobs WHERE id IN (%s)"
            % ", ".join(str(j) for j in jobs))}
        self.assertEqual(len(owners), 2, (owners, run.logs(),
                                          rbtest.tail(log2)))


if __name__ == "__main__":
    unittest.main()
