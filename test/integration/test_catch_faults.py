"""Catching through every fault of the component and the server, counted
(faultrun.py): with deploy/prosody/mod_ringbridge.lua enabled, no message
the server accepted for offline bob is lost and none is caught twice across
a component SIGKILL, a SIGTERM restart, a Prosody restart and a 10 s
outage. Without the module the same run prints what is lost and asserts
only that counting worked.

Cost: about 50 s per run, two runs (COST 200). It runs in both builds on
0.12 (the component's dedup key is C code the sanitizers should see) and,
in the plain build, on Prosody 13 too (integration/prosody13/): the module
hooks cloud_notify, which is a different file on 13. "Caught" means
committed to the queue; that those jobs ring exactly once is the bridge's
part (test_bridge_resilience)."""

import sys
import unittest

import faultrun
import rbtest


class FaultRunTest(rbtest.IntegrationTest):

    def report(self, title, table):
        sys.stderr.write("\n%s\n" % faultrun.format_table(
            "%s (Prosody %s)" % (title, rbtest.PROSODY_VERSION), table))

    def test_with_module_nothing_lost_nothing_doubled(self):
        table = faultrun.run(self, module=True,
                             log=lambda s: sys.stderr.write(s + "\n"))
        self.report("with mod_ringbridge", table)
        total = table["total"]
        # Every fault had messages in it, so the zeros below mean something.
        for ph in faultrun.FAULTS:
            self.assertGreater(table[ph]["accepted"], 5, ph)
        self.assertEqual(total["lost"], 0, "messages lost")
        self.assertEqual(total["duplicated"], 0, "messages caught twice")
        self.assertEqual(total["not_accepted"], 0,
                         "caught bodies the server never stored")

    def test_without_module_loss_is_reported(self):
        table = faultrun.run(self, module=False,
                             log=lambda s: sys.stderr.write(s + "\n"))
        self.report("without mod_ringbridge", table)
        total = table["total"]
        self.assertGreater(total["accepted"], 100)
        # Whatever was caught was accepted, once: the dedup never needed.
        self.assertEqual(total["duplicated"], 0)
        self.assertEqual(total["not_accepted"], 0)


if __name__ == "__main__":
    unittest.main()
