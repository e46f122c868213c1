# SPDX-License-Identifier: GPL-3.0-or-later
"""A bridge cut off from PostgreSQL mid-call: bridge A runs in a network
namespace of its own ("host A", rbnetns.py) with one link to the database
and one to the phone; the test sets A's database link down right after A
dialled. A cannot learn that anyone takes its job, so it hangs the call up
by its own lease deadline; bridge B (the test's namespace) claims the job
once the lease lapsed and calls again; when A's link returns, A's late
writes (the answer, HEARD and key it could not commit) are refused and
logged, so the job's outcome is B's alone: one key press, notified.
Second case: a bridge SIGKILLed mid-call; the survivor calls again only
after the dead one's lease deadline. Third: the same with the two
hosts' wall clocks 2 hours off either way (libfaketime), which must
change nothing, leases being on the database's clock. Fourth: host A
cut off whole (both links) after the answer; its BYE gets through when
the links return. PostgreSQL only (SQLite has no second host). About
80 s for the four; in the plain
build only: the lease and refusal paths are the queue's and the bridge's
loop code, which the conformance suite and the call tests already run
under the sanitizers, and namespaces add nothing for them to find."""

import os
import re
import signal
import time
import unittest

import rbbridge
import rbnetns
import rbpostgres
import rbtest
from rbbridge import PCMU_TE, pause, play, key_pcap

LEASE_S = 6
# Debian's libfaketime (package faketime), the multithreaded variant.
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
DB_LINK, SIP_LINK = 0, 1
# A message that takes about 11 s to say (with who wrote and when), and
# a key after it.
LONG_TEXT = ("The meeting moved to the third floor, room twelve, at half "
             "past four. Bring the printed budget and the contracts.")
KEY_AFTER_LONG_MS = 16000


class BridgeCutoffTest(unittest.TestCase):

    def setUp(self):
        rbtest._require_binary(rbbridge.SIP_BIN)
        self.ns = rbnetns.NetNs(links=2)
        self.addCleanup(self.ns.remove)
        # The server also kills a session left idle inside a transaction
        # (a claim cut off between its statements), as docs/scale-out.md
        # advises: otherwise its row locks would hide the job from B.
        self.pg = rbpostgres.PgCluster(
            listen=[self.ns.outside(DB_LINK)],
            settings=["idle_in_transaction_session_timeout=3000"]).start()
        self.addCleanup(self.pg.stop)
        self.run_ = rbbridge.Run(self, ring_timeout=20, attempts=3,
                                 key_timeout=10)
        self.dir = self.run_.dir
        self.url = self.pg.create_db("rb_cutoff")
        pw = self.dir / "queue.password"
        pw.write_text(self.pg.password + "\n")
        pw.chmod(0o600)
        self.pwfile = pw
        self.phone_port, self.media_port = rbtest.free_ports(2)

    def config(self, name, queue_host, sip_host, metrics_port=None):
        text = self.run_.config.read_text()
        port = rbtest.free_ports(1)[0]
        base = rbtest.free_range(40)
        queue = "url = %s\npassword_file = %s" % (
            self.pg.url("rb_cutoff", queue_host), self.pwfile)
        text = re.sub(r"(?ms)^\[queue\]\n.*?\n\n", "[queue]\n%s\n\n" % queue,
                      text)
        text = re.sub(r"(?m)^listen = .*$",
                      "listen = sip:%s:%d\nlease_seconds = %d%s"
                      % (sip_host, port, LEASE_S,
                         "\nmetrics_listen = 127.0.0.1:%d" % metrics_port
                         if metrics_port else ""), text)
        text = re.sub(r"(?m)^rtp_port_min = .*$",
                      "rtp_port_min = %d" % base, text)
        text = re.sub(r"(?m)^rtp_port_max = .*$",
                      "rtp_port_max = %d" % (base + 39), text)
        text = re.sub(r"(?m)^allowed_sip_domains = .*$",
                      "allowed_sip_domains = %s"
                      % self.ns.outside(SIP_LINK), text)
        path = self.dir / (name + ".conf")
        path.write_text(text)
        return path

    def bridge(self, name, config, inside, clock=None):
        """Bridge NAME; CLOCK ("+2h", "-2h") sets its host's wall clock
        that far off with libfaketime (its monotonic clock left as it is,
        as on a host whose wall clock alone is wrong). The library is
        preloaded into the bridge itself, not through the faketime
        wrapper, which would stand between the test and the bridge's pid;
        the plain build only (ASan's runtime must load first)."""
        log = self.dir / (name + ".log")
        argv = [rbbridge.SIP_BIN, "-c", config]
        env = None
        if clock:
            env = dict(os.environ, LD_PRELOAD=FAKETIME_LIB, FAKETIME=clock,
                       FAKETIME_DONT_FAKE_MONOTONIC="1")
        proc = rbtest._spawn(self.ns.argv(argv) if inside else argv, log,
                             env=env)
        self.addCleanup(rbtest._terminate, proc, 40)
        self.wait(lambda: "listening on" in log.read_text(),
                          timeout=30, what="bridge %s to listen" % name)
        return proc, log

    def query(self, sql, args=()):
        return [tuple(r.values()) for r in self.pg.query(
            self.url, sql.replace("?", "%s"), args)]

    def events(self, job):
        return [(rbbridge.EV_NAME.get(t, t), d, ms) for t, d, ms in
                self.query("SELECT type, detail, created_ms FROM events "
                           "WHERE job_id = ? ORDER BY id", (job,))]

    def wait(self, cond, timeout, what):
        try:
            rbtest.wait_until(cond, timeout=timeout, what=what)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, "\n".join(
                "--- %s ---\n%s" % (f.name, rbtest.tail(f, 40)) for f in
                sorted(self.dir.glob("*.log")) +
                sorted(self.dir.glob("sipp*.msg")))))

    def test_cut_off_bridge_hangs_up_and_its_late_writes_are_refused(self):
        conf_b, proc_a, log_a, sipp, msg, job = self.host_a_dialled(
            "a", "b", 0)
        self.ns.link_down(DB_LINK)
        cut, deadline, hung_up, proc_b, log_b, b_dialled = \
            self.a_hangs_up_and_b_takes_over(log_a, conf_b, job, "b")
        self.assertIn("out of reach", log_a.read_text())
        self.ns.link_up(DB_LINK)

        self.wait(lambda: any(e[0] == "ENDED" for e in
                                      self.events(job)),
                          timeout=60, what="B's call to end the job")
        self.wait(lambda: "a write was refused" in log_a.read_text(),
                          timeout=40, what="A's late writes to be refused")
        rc = sipp.wait(rbtest.scaled(60))
        rbtest._live.pop(sipp.pid, None)
        self.assertEqual(rc, 0, rbtest.tail(msg, 60))
        self.assertIsNone(proc_a.poll(), rbtest.tail(log_a))
        self.assertIsNone(proc_b.poll(), rbtest.tail(log_b))

        # A's KEY, HEARD and ANSWERED never reached the queue: the job's
        # outcome is B's call alone.
        self.assert_two_attempts_one_key(job, answered=1)
        print("cut-off: A hung up %.1f s after the cut, %.1f s before its "
              "lease deadline; B dialled %.1f s after the deadline"
              % (hung_up - cut, deadline / 1000 - hung_up,
                 (b_dialled - deadline) / 1000))

    def test_whole_host_cut_off_after_the_answer(self):
        """Host A loses both links (database and phone) once its call was
        answered and the answer committed, before the callee's key: A
        hangs up by its lease deadline with a BYE that cannot get
        through, B calls again after the deadline, and when A's links
        return (within the BYE's transaction, timer F's 32 s) A's BYE
        retransmissions reach the phone, which ends the dangling first
        call (sipp ends both calls with success). A had nothing left to
        write (its answer was committed, the key never reached it): the
        queue holds A's answer and B's whole call."""
        conf_b, proc_a, log_a, sipp, msg, job = self.host_a_dialled(
            "wa", "wb", 3)
        self.wait(lambda: any(e[0] == "ANSWERED" for e in self.events(job)),
                  20, "bridge A's answer to be committed")
        # A's packets to the phone vanish (a partition past its first
        # hop). Had A's own cable gone, ARP would fail, the kernel would
        # report the phone unreachable and sofia would end the BYE's
        # transaction at once: the phone's call would then be left to
        # the phone's own timers and its user (docs/scale-out.md).
        self.ns.pin_neighbour(SIP_LINK)
        self.ns.link_down(DB_LINK)
        self.ns.link_down(SIP_LINK)
        cut, deadline, hung_up, proc_b, log_b, b_dialled = \
            self.a_hangs_up_and_b_takes_over(log_a, conf_b, job, "wb")
        # Down for 8 s after A's BYE: its retransmissions (RFC 3261
        # 17.1.2, at 0.5, 1.5, 3.5, 7.5, 11.5 s...) go on meanwhile.
        time.sleep(max(0.0, hung_up + 8 - time.time()))
        self.ns.link_up(SIP_LINK)
        self.ns.link_up(DB_LINK)
        relinked = time.time()
        self.assertLess(relinked - hung_up, 28,
                        "the links came back after A's BYE gave up")

        self.wait(lambda: any(e[0] == "ENDED" for e in self.events(job)),
                  60, "B's call to end the job")
        # Both of sipp's calls end with a BYE: A's dangling one too.
        self.wait(lambda: sipp.poll() is not None, 40,
                  "A's BYE to end the phone's first call")
        rc = sipp.wait()
        rbtest._live.pop(sipp.pid, None)
        self.assertEqual(rc, 0, rbtest.tail(msg, 60))
        self.assertIsNone(proc_a.poll(), rbtest.tail(log_a))
        self.assertIsNone(proc_b.poll(), rbtest.tail(log_b))
        self.assertNotIn("nta: BYE", log_a.read_text())
        # A's answer was committed before the cut; its key never came.
        self.assert_two_attempts_one_key(job, answered=2)
        print("whole host: A hung up %.1f s after the cut; links back %.1f "
              "s after A's BYE; B dialled %.1f s after the deadline"
              % (hung_up - cut, relinked - hung_up,
                 (b_dialled - deadline) / 1000))

    def a_hangs_up_and_b_takes_over(self, log_a, conf_b, job, name_b):
        """Right after A's cut: A hangs up before its lease deadline, and
        bridge NAME_B, started then, dials the job after it. Returns the
        cut's time, the deadline (ms), A's hang-up time, B's process and
        log, and B's CALLING (ms)."""
        cut = time.time()
        (deadline,), = self.query("SELECT lease_deadline_ms FROM jobs "
                                  "WHERE id = ?", (job,))
        self.wait(lambda: "hanging up, the job is no longer" in
                  log_a.read_text(), LEASE_S + 5,
                  "bridge A to hang up by its deadline")
        hung_up = time.time()
        self.assertLess(hung_up * 1000, deadline,
                        "A hung up after its lease deadline")
        proc_b, log_b = self.bridge(name_b, conf_b, inside=False)
        self.wait(lambda: sum(e[0] == "CALLING" for e in
                              self.events(job)) == 2,
                  LEASE_S + 20, "bridge %s to dial" % name_b)
        b_dialled = [e for e in self.events(job) if e[0] == "CALLING"][1][2]
        self.assertGreaterEqual(b_dialled, deadline)
        return cut, deadline, hung_up, proc_b, log_b, b_dialled

    def assert_two_attempts_one_key(self, job, answered):
        """JOB ended notified after two attempts, with ANSWERED answers
        and one key and one end in its events."""
        (state, attempts), = self.query(
            "SELECT state, attempts FROM jobs WHERE id = ?", (job,))
        names = [e[0] for e in self.events(job)]
        self.assertEqual((state, attempts), (2, 2), names)  # notified
        self.assertEqual(names.count("ANSWERED"), answered, names)
        self.assertEqual(names.count("KEY"), 1, names)
        self.assertEqual(names.count("ENDED"), 1, names)

    def one_call_dialled(self, name_a, name_b, index, clock_a=None,
                         key_ms=2500, text="Hi there.", metrics_a=None):
        """Configurations for bridges NAME_A and NAME_B (B not started), a
        sipp (SIPP index INDEX) answering two calls, each pressing 1 KEY_MS
        after the answer (the first is cut short by the test), and bridge
        A, with CLOCK_A (see bridge()) and /metrics on port METRICS_A,
        dialling one job with TEXT. Returns B's configuration, A's process
        and the job."""
        phone = self.ns.outside(SIP_LINK)
        conf_a = self.config(name_a, "127.0.0.1", phone, metrics_a)
        conf_b = self.config(name_b, "127.0.0.1", phone)
        self.phone(index, key_ms)
        proc_a, _ = self.bridge(name_a, conf_a, inside=False, clock=clock_a)
        return conf_b, proc_a, self.dial(conf_b, name_a, text)

    def host_a_dialled(self, name_a, name_b, index):
        """As one_call_dialled, with bridge A in the namespace ("host A":
        its database and phone each over a link of their own). Returns
        B's configuration, A's process and log, the phone's sipp and its
        message log, and the job."""
        # No tcp_user_timeout on A's connection: its writes wait in TCP
        # for the link to return, as on a real cut.
        conf_a = self.config(name_a, self.ns.outside(DB_LINK),
                             self.ns.inside(SIP_LINK))
        conf_b = self.config(name_b, "127.0.0.1", self.ns.outside(SIP_LINK))
        proc_a, log_a = self.bridge(name_a, conf_a, inside=True)
        sipp, msg = self.phone(index)
        return (conf_b, proc_a, log_a, sipp, msg,
                self.dial(conf_b, name_a))

    def phone(self, index, key_ms=2500):
        """sipp (SIPP index INDEX) answering two calls: each answered, key
        1 after KEY_MS (by default 2.5 s: in the first call, before its
        bridge's lease runs out), then waiting for the BYE."""
        sipp, msg = rbbridge.start_sipp(
            self.dir, index, "uas_answer.xml", self.phone_port,
            self.media_port, calls=2, subst=dict(PCMU_TE, MEDIA="\n".join(
                [pause(key_ms), play(key_pcap("1")), pause(500)])),
            ip=self.ns.outside(SIP_LINK))
        self.addCleanup(rbtest._terminate, sipp, 5)
        return sipp, msg

    def dial(self, conf, name_a, text="Hi there."):
        """Queues the job with TEXT (with CONF's queue) and waits for
        bridge NAME_A to dial it; returns the job's id."""
        job = int(rbtest.rb_run(
            [rbbridge.CTL_BIN, "-c", conf, "test-call", "sip:phone@%s:%d"
             % (self.ns.outside(SIP_LINK), self.phone_port), text],
            timeout=30, capture_output=True, text=True,
            check=True).stdout.split()[1])
        self.wait(lambda: any(e[0] == "CALLING" for e in self.events(job)),
                  20, "bridge %s to dial" % name_a)
        return job

    def test_sigkilled_bridge_is_not_phoned_twice_while_its_lease_holds(self):
        """A bridge SIGKILLed mid-call, before the message was heard: the
        job waits for its lease (the other bridge must not ring the
        callee while the dead one's call may still be up), then the
        other bridge calls again and the job ends notified. (Killed after
        HEARD, the job ends notified without a call: the conformance
        suite's test_expired_heard.)"""
        conf_b, proc_a, job = self.one_call_dialled("killed", "survivor", 1)
        rbtest._terminate(proc_a, 5, signal.SIGKILL)
        killed = time.time()
        (deadline,), = self.query("SELECT lease_deadline_ms FROM jobs "
                                  "WHERE id = ?", (job,))
        self.assertFalse(any(e[0] == "HEARD" for e in self.events(job)))
        proc_b, log_b = self.bridge("survivor", conf_b, inside=False)
        self.wait(lambda: any(e[0] == "ENDED" for e in self.events(job)),
                  LEASE_S + 40, "the survivor to finish the job")
        calling = [e[2] for e in self.events(job) if e[0] == "CALLING"]
        self.assertEqual(len(calling), 2, self.events(job))
        self.assertGreaterEqual(calling[1], deadline,
                                "called again while the lease held")
        (state, attempts), = self.query(
            "SELECT state, attempts FROM jobs WHERE id = ?", (job,))
        self.assertEqual((state, attempts), (2, 2))  # notified

        print("sigkill: the survivor dialled %.1f s after the kill, %.1f s "
              "after the lease deadline"
              % (calling[1] / 1000 - killed, (calling[1] - deadline) / 1000))

    def test_skewed_host_clocks_agree_on_leases(self):
        """Hosts whose wall clocks are wrong still agree on who holds a
        job, because every lease is on PostgreSQL's clock: bridge A's host
        runs 2 hours behind, B's 2 hours ahead. A dials and writes its
        lease deadline LEASE_S from the database's now (on its own clock
        the deadline would be 2 hours past, and B would take the job at
        once); B, started while A's call is up, leaves the job alone
        (on its own clock every lease would look 2 hours lapsed); A is
        SIGKILLed, and B calls again only after the deadline, and then
        within its poll of it. Every time the two wrote into the queue is
        the real one. Both media clocks tick: A's call sends RTP, B's
        says the whole message."""
        if not os.path.exists(FAKETIME_LIB):
            raise AssertionError("%s is missing (package faketime, which "
                                 "scripts/lib/common.sh installs)"
                                 % FAKETIME_LIB)
        start_ms = time.time() * 1000
        # The message takes about 11 s to say and the key comes after
        # it, so A (killed some 3 s into its call) has not delivered it.
        metrics_a = rbtest.free_ports(1)[0]
        conf_b, proc_a, job = self.one_call_dialled(
            "behind", "ahead", 2, clock_a="-2h", key_ms=KEY_AFTER_LONG_MS,
            text=LONG_TEXT, metrics_a=metrics_a)
        (deadline, owner_a), = self.query(
            "SELECT lease_deadline_ms, lease_owner FROM jobs WHERE id = ?",
            (job,))
        dialled = [e[2] for e in self.events(job) if e[0] == "CALLING"][0]
        self.assertGreater(deadline, dialled)
        self.assertLessEqual(deadline, dialled + LEASE_S * 1000,
                             "A's lease deadline is not on the "
                             "database's clock")
        proc_b, log_b = self.bridge("ahead", conf_b, inside=False,
                                    clock="+2h")
        # B is up and polling while A's lease holds: it must not dial.
        time.sleep(max(0.0, (deadline / 1000 - time.time()) / 2))
        calling = [e for e in self.events(job) if e[0] == "CALLING"]
        self.assertEqual(len(calling), 1, self.events(job))
        (owner,), = self.query("SELECT lease_owner FROM jobs WHERE id = ?",
                               (job,))
        self.assertEqual(owner, owner_a, "B took a job whose lease held")
        # A's media clock runs on a host 2 hours behind: its call sends
        # RTP (libfaketime once moved the clock's first tick 2 hours on).
        self.wait(lambda: rbbridge.metric(
            metrics_a, "ringbridge_rtp_send_lateness_seconds_count") >= 50,
            5, "bridge A's call to send a second of RTP")
        rbtest._terminate(proc_a, 5, signal.SIGKILL)
        self.assertFalse(any(e[0] == "HEARD" for e in self.events(job)),
                         self.events(job))
        self.wait(lambda: any(e[0] == "ENDED" for e in self.events(job)),
                  LEASE_S + 40, "the bridge 2 hours ahead to finish the job")
        end_ms = time.time() * 1000
        calling = [e[2] for e in self.events(job) if e[0] == "CALLING"]
        self.assertEqual(len(calling), 2, self.events(job))
        self.assertGreaterEqual(calling[1], deadline,
                                "B called again while A's lease held")
        (state, attempts), = self.query(
            "SELECT state, attempts FROM jobs WHERE id = ?", (job,))
        self.assertEqual((state, attempts), (2, 2))  # notified
        # Written by hosts 2 hours off, every time is the real one.
        for name, _, ms in self.events(job):
            self.assertTrue(start_ms - 1000 <= ms <= end_ms + 1000,
                            (name, ms, start_ms, end_ms))
        # (sipp's first call, A's, never ends: A was killed.)
        self.assertIsNone(proc_b.poll(), rbtest.tail(log_b))
        print("skewed clocks: A (2 h behind) wrote a deadline %.1f s after "
              "its CALLING; B (2 h ahead) dialled %.1f s after it"
              % ((deadline - dialled) / 1000,
                 (calling[1] - deadline) / 1000))


if __name__ == "__main__":
    unittest.main()
