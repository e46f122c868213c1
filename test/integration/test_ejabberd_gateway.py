# SPDX-License-Identifier: GPL-3.0-or-later
"""test_component_gateway's tests, unchanged, on ejabberd 23.01: the
harness's server fixtures share one interface (rbtest.Prosody,
rbejabberd.Ejabberd), so the gateway-address behaviour is held to the same
assertions on both servers: plain and XEP-0106 addresses delivered to an
online user from the sender and caught for an offline one, direct dialling
refused, an unknown user never queued.

Plain build only: the component code is test_component_gateway's, which
runs under the sanitizers, and ejabberd's privilege:1 path runs under them
in test_ejabberd_story."""

import unittest

import rbejabberd
import test_component_gateway


class EjabberdGatewayTest(test_component_gateway.GatewayTest):
    server_class = rbejabberd.Ejabberd

    def setUp(self):
        rbejabberd.require_ejabberd()
        super().setUp()


if __name__ == "__main__":
    unittest.main()
