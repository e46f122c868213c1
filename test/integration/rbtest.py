# SPDX-License-Identifier: GPL-3.0-or-later
"""The integration-test harness: the test-case bases (IntegrationTest,
ComponentTest) and the component fixture, against real Prosody (or
ejabberd) and the real ringbridge binaries.

Every test owns its processes: the servers and the component are started
by the test case, stopped by pid in its cleanups (and again at exit),
never by name, whatever the test's outcome. The pieces live in their own
modules: rbproc (spawning, valgrind, ports, waits), rbserver (the server
fixtures' base), rbprosody (Prosody), rbclient (XMPP names, stanza helpers,
the slixmpp Client), rbqueue (the queue, read-only); this module re-exports
the names tests use from them, so `import rbtest` is all a test needs.
"""

import pathlib
import signal
import sys
import time
import unittest

# The names tests reach as rbtest.NAME or import from here (__all__).
from rbclient import (
    DOMAIN, GATEWAY, IQ_TIMEOUT, NS_CLIENT, NS_COMMANDS, NS_DATA,
    NS_DISCO_INFO, NS_DISCO_ITEMS, NS_FORWARD, NS_PING, NS_PRIV2, NS_PUBSUB,
    NS_PUSH, NS_REGISTER, NS_STANZAS, NS_VERSION, UPLOAD, Client,
    StanzaQueue, bare, error_condition, form_fields, jid, q, submit_form,
    xml_escape, xml_str)
from rbproc import (
    BUILD_DIR, COMPONENT_BIN, CTL_BIN, REPO, SANITIZER_MARKERS,
    START_TIMEOUT, STOP_TIMEOUT, TIME_SCALE, VALGRIND, _live,
    _require_binary, _spawn, _terminate, check_valgrind, free_ports,
    free_range,
    port_open, rb_argv, rb_run, rb_spawn, scaled, tail, wait_exit,
    wait_until)
from rbprosody import PROSODY_VERSION, Prosody
from rbqueue import (
    QUEUE_CH_PRESENCE, QueueDB, _pg, query_ro, queue_for, queue_postgresql,
    queue_presence_write, queue_wake)
from rbserver import Server

__all__ = [
    # rbclient
    "DOMAIN", "GATEWAY", "IQ_TIMEOUT", "NS_CLIENT", "NS_COMMANDS", "NS_DATA",
    "NS_DISCO_INFO", "NS_DISCO_ITEMS", "NS_FORWARD", "NS_PING", "NS_PRIV2",
    "NS_PUBSUB", "NS_PUSH", "NS_REGISTER", "NS_STANZAS", "NS_VERSION",
    "UPLOAD", "Client", "StanzaQueue", "bare", "error_condition",
    "form_fields", "jid", "q", "submit_form", "xml_escape", "xml_str",
    # rbproc
    "BUILD_DIR", "COMPONENT_BIN", "CTL_BIN", "REPO", "SANITIZER_MARKERS",
    "START_TIMEOUT", "STOP_TIMEOUT", "TIME_SCALE", "VALGRIND", "_live",
    "_require_binary", "_spawn", "_terminate", "check_valgrind", "free_ports",
    "free_range",
    "port_open", "rb_argv", "rb_run", "rb_spawn", "scaled", "tail",
    "wait_exit", "wait_until",
    # rbprosody, rbqueue
    "PROSODY_VERSION", "Prosody", "QUEUE_CH_PRESENCE", "QueueDB", "_pg",
    "query_ro", "queue_for", "queue_postgresql", "queue_presence_write",
    "queue_wake",
    # this module
    "Component", "ComponentTest", "IntegrationTest", "only_own_tests",
]

# ---------------------------------------------------------------------------
# the component


class Component(Server):
    """ringbridge-component against PROSODY, with its own INI config and
    queue in a temporary directory. It starts without a readiness wait of
    its own (wait_ready() needs a client) and its stop() checks what a
    ringbridge process must: sanitizer reports, and no exit unasked.

    policy/sections: extra keys, e.g. policy={"direct_dial": "false"},
    sections={"texts": {...}}. Values are written as given."""

    DEFAULT_POLICY = {
        "allowed_prefixes": "+1,+44",
        "allowed_sip_domains": "sip.localhost",
        "calls_per_callee_per_hour": "100",
        "calls_per_sender_per_hour": "100",
        "coalesce_seconds": "0",
        "direct_dial": "false",
    }

    name = "component"

    def __init__(self, prosody, policy=None, sections=None, binary=None,
                 env=None):
        self.prosody = prosody
        self.env = env  # the process's environment; None: the test's
        super().__init__()
        self.config = self.dir / "ringbridge.ini"
        self.db_path = self.dir / "queue.db"
        self.binary = pathlib.Path(binary or COMPONENT_BIN)
        self._exit_expected = True
        self.queue_section, self.db = queue_for(self.dir)
        pol = dict(self.DEFAULT_POLICY)
        pol.update(policy or {})
        conf = {
            "xmpp": {"host": prosody.host,
                     "port": str(prosody.component_port),
                     "domain": prosody.component, "secret": prosody.secret,
                     "user_domains": DOMAIN},
            "queue": dict(self.queue_section),
            "policy": pol,
            "log": {"level": "debug"},
        }
        for sec, kv in (sections or {}).items():
            conf.setdefault(sec, {}).update(kv)
        lines = ["; Written by test/integration/rbtest.py for one test run."]
        for sec, kv in conf.items():
            lines.append("[%s]" % sec)
            lines.extend("%s = %s" % (k, v) for k, v in kv.items())
            lines.append("")
        self.config.write_text("\n".join(lines))

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        _require_binary(self.binary)
        with open(self.log, "ab") as f:
            f.write(b"---- start ----\n")
        # Sanitizer options come from the environment (scripts/test sets
        # them); reports go to stderr, which is the log.
        self.proc = rb_spawn([self.binary, "-c", self.config], self.log,
                             cwd=str(self.dir), env=self.env)
        self._exit_expected = False
        return self

    def wait_ready(self, client, timeout=30.0):
        """Until a disco#info to the component from CLIENT gets a result
        (Prosody answers an error while the component is not connected)."""
        timeout = scaled(timeout)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                self._exit_expected = True  # reported here, not again
                raise AssertionError("component exited with %s:\n%s" % (
                    self.proc.returncode, tail(self.log)))
            try:
                last = client.disco_info(GATEWAY, timeout=5.0)
                if last.get("type") == "result":
                    return last
            except AssertionError:
                pass
            time.sleep(0.2)
        raise AssertionError("component not ready after %.0f s (last: %s):\n%s"
                             % (timeout, xml_str(last) if last is not None
                                else None, tail(self.log)))

    def sanitizer_report(self):
        text = self.log_text()
        found = [m for m in SANITIZER_MARKERS if m in text]
        return (found, text) if found else None

    def check_sanitizers(self):
        rep = self.sanitizer_report()
        if rep:
            raise AssertionError("sanitizer report in %s (%s):\n%s" % (
                self.log, ", ".join(rep[0]), tail(self.log, 120)))

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait (SIGKILL after TIMEOUT), then fail on sanitizer
        reports or on an exit nobody asked for (a crash). Returns the exit
        status."""
        if self.proc is None:
            return None
        died = self.proc.poll() is not None and not self._exit_expected
        rc = _terminate(self.proc, timeout)
        self._exit_expected = True
        self.check_sanitizers()
        if died:
            raise AssertionError("component exited by itself with status %s:"
                                 "\n%s" % (rc, tail(self.log)))
        return rc

    def kill(self):
        """SIGKILL (a crash the test causes on purpose)."""
        if self.proc is not None:
            self._exit_expected = True
            _terminate(self.proc, STOP_TIMEOUT, signal.SIGKILL)

    def ctl(self, *args, check=True, timeout=60):
        """Runs ringbridgectl -c CONFIG ARGS; returns the CompletedProcess."""
        _require_binary(CTL_BIN)
        r = rb_run([CTL_BIN, "-c", self.config, *args], timeout=timeout,
                   capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError("ringbridgectl %s failed (%d): %s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def register_user(self, jid, phone):
        """Operator registration (trusted, verified)."""
        return self.ctl("register", jid, phone)


# ---------------------------------------------------------------------------
# the base test case


class IntegrationTest(unittest.TestCase):
    """Owns every process a test starts: Prosody, components, clients are
    stopped in reverse order by cleanups, whatever the test's outcome."""

    prosody_options = {}
    component_policy = None
    component_sections = None
    component_env = None
    # The XMPP server class: Prosody, or rbejabberd.Ejabberd (same
    # interface), so one story can run on either server.
    server_class = None

    def start_prosody(self, **kw):
        opts = dict(self.prosody_options)
        opts.update(kw)
        p = (self.server_class or Prosody)(**opts)
        self.addCleanup(p.cleanup)
        p.start()
        return p

    def start_component(self, prosody, start=True, **kw):
        kw.setdefault("policy", self.component_policy)
        kw.setdefault("sections", self.component_sections)
        kw.setdefault("env", self.component_env)
        c = Component(prosody, **kw)
        self.addCleanup(c.cleanup)
        if start:
            c.start()
        return c

    def client(self, prosody, user, presence="available", **kw):
        c = Client(prosody, user, presence=presence, **kw)
        self.addCleanup(c.disconnect)
        return c.connect()


def only_own_tests(cls):
    """Hides the test methods CLS inherits, however the tests are
    selected: for a class that reuses another's fixtures, not its tests."""
    inherited = {n for base in cls.__mro__[1:] for n in vars(base)
                 if n.startswith("test_")}
    for name in inherited - set(vars(cls)):
        setattr(cls, name, None)
    return cls


class ComponentTest(IntegrationTest):
    """Prosody + the component + alice online, ready before each test.

    USERS get accounts; OPERATOR_REGISTRATIONS ({user: phone}) are
    registered with ringbridgectl before the component starts, and the
    set-up waits until Prosody has stored the component's push
    registration for each of them (so a message sent next is pushed)."""

    users = ("alice",)
    operator_registrations = {}

    def setUp(self):
        self.prosody = self.start_prosody()
        for u in sorted(set(self.users) | set(self.operator_registrations)
                        | {"alice"}):
            self.prosody.register(u)
        self.comp = self.start_component(self.prosody, start=False)
        self.db = self.comp.db
        for u, phone in sorted(self.operator_registrations.items()):
            self.comp.register_user(jid(u), phone)
        self.comp.start()
        self.alice = self.client(self.prosody, "alice")
        self.addCleanup(self._logs_on_failure)
        self.comp.wait_ready(self.alice)
        if getattr(self.prosody, "grants_push", True):
            for u in sorted(self.operator_registrations):
                self.prosody.wait_push_enabled(u)

    def _logs_on_failure(self):
        """Runs before the fixtures' own cleanups (LIFO): on a failed test,
        shows the end of the component's log and Prosody's non-debug log."""
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return
        res = getattr(outcome, "result", None)
        failed = not getattr(outcome, "success", True) or any(
            t is self for t, _ in getattr(res, "failures", [])
            + getattr(res, "errors", []))
        if not failed:
            return
        sys.stderr.write("\n--- %s: component log %s (end) ---\n%s"
                         "--- server log (end, no debug) ---\n%s\n" % (
                             self.id(), self.comp.log, tail(self.comp.log, 80),
                             self.prosody.failure_tail(30)))

    # -- queue assertions

    def wait_messages(self, callee, n, timeout=20.0, kind=1):
        """Until N job messages exist for CALLEE's message jobs; returns
        (jobs, messages) for that callee."""
        def ready():
            jobs = self.db.jobs(callee_jid=callee, kind=kind)
            msgs = [m for j in jobs for m in self.db.job_messages(j["id"])]
            return (jobs, msgs) if len(msgs) >= n else None
        return wait_until(ready, timeout,
                          what="%d caught message(s) for %s" % (n, callee))

    def message_jobs(self, **where):
        return self.db.jobs(kind=1, **where)
