# SPDX-License-Identifier: GPL-3.0-or-later
"""The fault table: what each fault of the component or the server costs in
caught messages, on Prosody 0.12 and 13, with and without mod_ringbridge.

Runs test/integration/faultrun.py (alice writes to offline bob at 10 msg/s
through a component SIGKILL + restart, a SIGTERM restart, a Prosody restart
and a 10 s component outage) once per server version and module setting,
and prints sent, accepted (stored by the server for bob), caught (committed
to the queue), lost and duplicated per fault. "Caught" is not "phoned": no
bridge runs here. Not run by CI; about 40 s per run. Usage:
  /usr/bin/python3 test/bench/bench_faults.py [--versions 0.12,13]
                                              [--module both|on|off]
"""

import argparse
import os
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "test" / "integration"))
os.environ.setdefault("RB_BUILD_DIR", str(REPO / "build"))

import faultrun  # noqa: E402
import rbtest  # noqa: E402


class _Owner(rbtest.IntegrationTest):
    """Owns the processes of one run (the fixtures' cleanups), outside a
    test runner."""

    def runTest(self):
        pass


def one(version, module):
    owner = _Owner()
    try:
        return faultrun.run(owner, module=module, version=version,
                            log=lambda s: sys.stderr.write(s + "\n"))
    finally:
        owner.doCleanups()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--versions", default="0.12,13")
    ap.add_argument("--module", choices=("both", "on", "off"),
                    default="both")
    a = ap.parse_args()
    settings = {"both": (True, False), "on": (True,), "off": (False,)}
    for version in a.versions.split(","):
        for module in settings[a.module]:
            sys.stderr.write("== Prosody %s, %s mod_ringbridge\n"
                             % (version, "with" if module else "without"))
            table = one(version, module)
            print(faultrun.format_table(
                "== Prosody %s, %s mod_ringbridge" % (
                    version, "with" if module else "without"), table))
            print()
            sys.stdout.flush()


if __name__ == "__main__":
    main()
