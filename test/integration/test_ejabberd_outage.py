# SPDX-License-Identifier: GPL-3.0-or-later
"""ejabberd 23.01 and a component outage, on the real server (rbejabberd).
Bob's client enabled push with the component itself (docs/ejabberd.md).
While the component is disconnected ejabberd routes its domain to s2s: with
the domain unresolvable (the default here) the push fails with
remote-server-not-found, type cancel, and mod_push deletes Bob's
registration ("disabling push"): nothing is caught for him after the
component is back. With the component's domain resolving on the ejabberd
host to an address where no s2s listener answers (docs/operations.md:
an /etc/hosts line), the failure is a refused connection, bounced as
remote-server-timeout, type wait, and the registration survives: the next
message after the reconnect is caught. Either way a message written to a
gateway address during the outage comes back to its sender as an error,
and `ringbridgectl check` says which of the two cases it sees.
The messages of the outage window stay in Bob's offline storage unphoned
(ejabberd never re-sends a push; its archive answers only the user).

The hosts line is given to ejabberd alone: it runs in a mount namespace of
its own with a private /etc/hosts bound over the real one (root, as tests
are), so nothing else on the machine sees it.

Cost: about 30 s, two ejabberd starts (COST 100). Plain build only: the C
paths it takes (push catching, the gateway path) run under the sanitizers
in test_ejabberd_story and test_component_catch."""

import os
import pathlib
import shlex
import time
import unittest

import rbejabberd
import rbtest
from rbtest import GATEWAY, jid

BOB_PHONE = "+15551234567"
ENABLE_PUSH = ("<iq type='set' id='ringbridge-push'>"
               "<enable xmlns='urn:xmpp:push:0' jid='%(gw)s' node='%(node)s'/>"
               "</iq>")


def in_hosts_namespace(hosts, argv):
    """ARGV run in a mount namespace of its own whose /etc/hosts is HOSTS."""
    return ["unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", "mount --bind %s /etc/hosts && exec \"$@\""
            % shlex.quote(str(hosts)), "sh"] + [str(a) for a in argv]


class EjabberdResolvingGateway(rbejabberd.Ejabberd):
    """ejabberd whose /etc/hosts names the component's domain (loopback,
    where nothing serves s2s), in a mount namespace of its own."""

    def start(self, timeout=rbtest.START_TIMEOUT):
        self.hosts = self.dir / "hosts"
        self.hosts.write_text(pathlib.Path("/etc/hosts").read_text()
                              + "\n127.0.0.1 %s\n" % self.component)
        os.chmod(self.hosts, 0o644)
        real = self._ctl_argv

        def wrapped(*args):
            argv = real(*args)
            if args[:1] != ("foreground",):
                return argv
            return in_hosts_namespace(self.hosts, argv)
        self._ctl_argv = wrapped
        try:
            return super().start(timeout)
        finally:
            self._ctl_argv = real


class _Outage(rbtest.ComponentTest):
    operator_registrations = {"bob": BOB_PHONE}

    def enable_push_from_bobs_client(self):
        node = self.db.registration(jid("bob"))["push_node"]
        bob = self.client(self.prosody, "bob")
        reply = bob.iq(ENABLE_PUSH % {"gw": GATEWAY, "node": node})
        self.assertEqual(reply.get("type"), "result", rbtest.xml_str(reply))
        bob.disconnect()
        rbtest.wait_until(lambda: not self.prosody.ctl(
            "user_sessions_info", "bob", rbtest.DOMAIN).stdout.strip(), 20,
            what="ejabberd to end bob's session")
        # The registration works before the outage.
        self.alice.send_message(jid("bob"), "before")
        rbtest.wait_until(lambda: "before" in self.bodies(), 20,
                          what="the message before the outage caught")

    def route_gone(self):
        try:
            return self.alice.disco_info(GATEWAY, timeout=2.0).get(
                "type") == "error"
        except AssertionError:  # no answer: it went to the dead socket
            return False

    def bodies(self):
        return [m["body"] for m in self.db.job_messages()]

    def outage(self):
        """Kills the component; Alice writes to Bob's own JID and to his
        gateway address; the component comes back. Returns the error the
        gateway message came back with."""
        self.comp.kill()
        # Until ejabberd has seen the socket close, its route to the
        # component still stands and a stanza sent on it is gone with the
        # dead process (seen once here: a race of the server's, not an
        # outage): wait until the route has gone.
        rbtest.wait_until(self.route_gone, 30,
                          what="ejabberd to notice the component gone")
        self.alice.send_message(jid("bob"), "during")
        self.alice.send_message("bob@%s" % GATEWAY, "to the gateway")
        err = self.alice.wait_message(from_="bob@%s" % GATEWAY,
                                      mtype="error", timeout=30)
        # The push for "during" has failed by now as well (same route).
        time.sleep(1.0)
        self.comp.start()
        self.comp.wait_ready(self.alice)
        return rbtest.error_condition(err)[:2]

    def check(self, hosts=None):
        """ringbridgectl check's output (its verdict does not matter here:
        no bridge runs), in HOSTS' namespace when given."""
        argv = [rbtest.CTL_BIN, "-c", self.comp.config, "check"]
        if hosts:
            argv = in_hosts_namespace(hosts, argv)
        r = rbtest.rb_run(argv, timeout=60, capture_output=True, text=True)
        return r.stdout

    def after(self):
        time.sleep(1.0)
        self.alice.send_message(jid("bob"), "after")
        self.alice.sync()


class DefaultEjabberdOutageTest(_Outage):
    """As installed: the registration is lost (what docs/operations.md
    tells operators to avoid)."""
    server_class = rbejabberd.Ejabberd

    def test_outage_deletes_the_client_registration(self):
        self.assertIn("warn outage: %s does not resolve here" % GATEWAY,
                      self.check())
        self.enable_push_from_bobs_client()
        cond = self.outage()
        self.assertEqual(cond, ("cancel", "remote-server-not-found"))
        rbtest.wait_until(lambda: "disabling push" in
                          self.prosody.log_text(), 20,
                          what="ejabberd disabling bob's push")
        self.after()
        time.sleep(3.0)
        self.assertNotIn("after", self.bodies())
        self.assertNotIn("during", self.bodies())


class ResolvingEjabberdOutageTest(_Outage):
    """The component's domain resolves: the registration survives."""
    server_class = EjabberdResolvingGateway

    def test_registration_survives_and_catching_resumes(self):
        out = self.check(self.prosody.hosts)
        self.assertIn("outage: %s resolves here" % GATEWAY, out)
        self.assertNotIn("warn outage", out)
        self.enable_push_from_bobs_client()
        cond = self.outage()
        self.assertEqual(cond, ("wait", "remote-server-timeout"))
        self.after()
        rbtest.wait_until(lambda: "after" in self.bodies(), 20,
                          what="the message after the outage caught")
        self.assertNotIn("disabling push", self.prosody.log_text())
        # The window itself is not phoned: ejabberd does not re-send.
        self.assertNotIn("during", self.bodies())



if __name__ == "__main__":
    unittest.main()
