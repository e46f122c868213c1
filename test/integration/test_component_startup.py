# SPDX-License-Identifier: GPL-3.0-or-later
"""Start-up against a server that refuses or is not there yet: a wrong
secret or an unknown component name is a clear fatal error (exit 78, a
log line that names the setting, never the secret), while a server that
is down is waited for with back-off."""

import time

import rbtest

EXIT_CONFIG = 78


class StartupTest(rbtest.IntegrationTest):

    def wait_exit(self, comp, timeout=30):
        rbtest.wait_until(lambda: not comp.running(), timeout=timeout,
                          what="the component to exit")
        comp._exit_expected = True
        return comp.proc.returncode

    def test_wrong_secret_is_fatal(self):
        prosody = self.start_prosody()
        comp = self.start_component(
            prosody, sections={"xmpp": {"secret": "not-the-secret-x9"}})
        self.assertEqual(self.wait_exit(comp), EXIT_CONFIG)
        log = comp.log.read_text()
        self.assertIn("refused the component secret", log)
        self.assertIn("[xmpp] secret", log)
        self.assertNotIn("not-the-secret-x9", log)

    def test_unknown_component_is_fatal(self):
        prosody = self.start_prosody()
        comp = self.start_component(
            prosody, sections={"xmpp": {"domain": "nosuch.localhost"}})
        self.assertEqual(self.wait_exit(comp), EXIT_CONFIG)
        self.assertIn("does not know the component nosuch.localhost",
                      comp.log.read_text())

    def test_server_down_at_start_is_waited_for(self):
        prosody = rbtest.Prosody()
        self.addCleanup(prosody.cleanup)
        # Held, not free, for the seconds the server is down: CI once
        # saw another test's server take the c2s port in that window.
        prosody.hold_ports()
        self.addCleanup(prosody.release_ports)
        comp = self.start_component(prosody)
        time.sleep(2.5)  # a few refused attempts
        self.assertTrue(comp.running())
        self.assertIn("cannot connect to", comp.log.read_text())
        prosody.release_ports()
        prosody.start()
        prosody.register("alice")
        alice = self.client(prosody, "alice")
        comp.wait_ready(alice, timeout=90)
