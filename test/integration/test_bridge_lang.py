# SPDX-License-Identifier: GPL-3.0-or-later
"""Languages with sipp as the phone: a German user's call (the job's lang,
as the registration form sets it; ringbridgectl test-call --lang here)
plays German prompts. What the phone received is compared, by SNR as the
capture tests do, with the bridge's own German rendering (espeak-ng's "de"
voice through sip_tts_say) of the texts of po/de.po, read here with GNU
msgfmt and Python's gettext rather than the bridge's code, so the catalog
is checked end to end: the fixed gate phrase (from the cache warmed per
language at start-up) and the announcement (composed per call, with the
time said the German way). The English rendering of the same phrase is not
in it. A language without a catalog (Japanese, see docs/translating.md) is
spoken in English, and the log says so once however often it is asked for.

Cost: about 45 s (two calls with the voicemail gate on, each waiting out
the gate prompt twice, which is the shortest call that plays both a cached
phrase and a composed prompt). It runs in both builds: the voice choice,
the second engine and its forked renderings are on the call path. It runs
alone (RUN_SERIAL), as the other tests that compare received audio."""

import gettext
import pathlib
import subprocess
import tempfile
import time
import unittest

import rbbridge
import rbtest
from rbbridge import Capture, Run
from test_bridge_call import names

PO_DIR = rbtest.REPO / "po"
GATE = "Press any key to hear it."
ANNOUNCE = "{time} you have a message from {sender}."


def catalog(lang):
    """LANG's catalog as GNU gettext reads it (msgfmt, then Python's .mo
    reader): an oracle independent of the bridge's build-time table."""
    with tempfile.TemporaryDirectory() as d:
        mo = pathlib.Path(d) / "x.mo"
        subprocess.run(["msgfmt", "--check", "-o", str(mo),
                        str(PO_DIR / ("%s.po" % lang))], check=True)
        with open(mo, "rb") as f:
            return gettext.GNUTranslations(f)


def german_time(ms):
    """The time of MS (UTC: test-call gives no zone) as German says it,
    "um 19 Uhr 40" (i18n_time_say's rule, written again here)."""
    t = time.gmtime(ms / 1000)
    if t.tm_min:
        return "um %d Uhr %d" % (t.tm_hour, t.tm_min)
    return "um %d Uhr" % t.tm_hour


class BridgeLangTest(unittest.TestCase):

    def test_german_user_hears_german(self):
        de = catalog("de")
        gate_de = de.gettext(GATE)
        self.assertNotEqual(gate_de, GATE, "po/de.po lacks the gate phrase")
        run = Run(self, gate=True, gate_retry=False, attempts=1,
                  key_timeout=2)
        cap = Capture(run)
        run.start_bridge()
        job, ev = run.answered_call([], lang="de")
        heard = cap.heard()
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "UNHEARD",
                                     "FAILED", "ENDED"], run.logs())
        ms, = run.query("SELECT received_ms FROM job_messages")[0]
        announce = de.gettext(ANNOUNCE).replace(
            "{time}", german_time(ms)).replace("{sender}", "ringbridge test")
        announce = announce[0].upper() + announce[1:] + " "
        rbbridge.assert_heard(self, heard, rbbridge.say(gate_de, "espeak:de"),
                              gate_de, run)
        rbbridge.assert_heard(self, heard, rbbridge.say(announce, "espeak:de"),
                              announce, run)
        # Not the English phrase: flite's rendering is nowhere in it.
        _, snr = rbbridge.find(heard, rbbridge.say(GATE))
        self.assertLess(snr, 5.0, "the English gate phrase was played")
        log = run.log.read_text()
        self.assertIn("speaking 7 languages", log)
        self.assertNotIn("spoken in English", log)

    def test_language_without_catalog_falls_back_to_english(self):
        run = Run(self, gate=True, gate_retry=False, attempts=1,
                  key_timeout=2)
        cap = Capture(run)
        run.start_bridge()
        job, ev = run.answered_call([], lang="ja")
        heard = cap.heard()
        self.assertEqual(names(ev), ["CALLING", "ANSWERED", "UNHEARD",
                                     "FAILED", "ENDED"], run.logs())
        rbbridge.assert_heard(self, heard, rbbridge.say(GATE), GATE, run)
        # Asked for at every phrase of the call, reported once.
        lines = [l for l in run.log.read_text().splitlines()
                 if 'language "ja" has no catalog' in l]
        self.assertEqual(len(lines), 1, run.logs())
        self.assertIn("spoken in English", lines[0])


if __name__ == "__main__":
    unittest.main()
