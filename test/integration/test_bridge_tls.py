# SPDX-License-Identifier: GPL-3.0-or-later
"""SIP over TLS against a real softphone: Debian's baresip 1.0 answers a
call the bridge places to a sips: URI, with certificates the test makes
with openssl (a private CA, one certificate for the bridge, one for the
phone). The phone must hear the prompt (its decoded dump, from baresip's
sndfile module, holds the bridge's own rendering of the message at a high
SNR) and its key 2 (ctrl_tcp's sndcode, sent as RFC 4733) must reach
the queue as a KEY event; a phone whose certificate names another host
must be refused.
Cost: about 30 s (one call to its key, one refused call that ends as
soon as sofia drops the connection); runs in both builds, since TLS adds a
transport and a configuration path to the call path the sanitizers
watch."""

import time
import unittest

import rbbaresip
from rbbaresip import BARESIP


class BridgeTlsTest(unittest.TestCase):

    def setUp(self):
        if not BARESIP:
            raise AssertionError("baresip (Debian baresip-core) is missing")

    def world(self, phone_cn):
        return rbbaresip.world(self, phone_cn)

    def test_call_heard_and_key(self):
        run, uri, ctrl_port, snd = self.world("127.0.0.1")
        rbbaresip.heard_and_key(self, run, uri, ctrl_port, snd,
                                "Hello over TLS.")

    def test_wrong_name_refused(self):
        run, uri, _, snd = self.world("other.example")
        start = time.monotonic()
        job = run.test_call_to(uri, "Hello over TLS.")
        # At once: well before the 10 s ring timeout, and nowhere near
        # sofia's 32 s transaction timeout, which it waited for before
        # TPTAG_SDWN_ERROR reported the dropped connection.
        ev = run.wait_ended(job, timeout=8)
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 8.0)
        names = [e[0] for e in ev]
        self.assertNotIn("ANSWERED", names, run.logs())
        failed = [e[1] for e in ev if e[0] == "FAILED"]
        self.assertEqual(failed, ["TLS certificate refused"], run.logs())
        log = run.log.read_text()
        self.assertIn("Peer Subject Mismatch", log)
        self.assertIn("job %d: the callee's TLS certificate was refused"
                      % job, log)
        self.assertNotIn("no answer within", log)
        self.assertFalse(list(snd.glob("*-dec.wav")))

if __name__ == "__main__":
    unittest.main()
