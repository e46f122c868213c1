"""docs/monitoring.md kept true: its Prometheus configuration passes
promtool check config, its alerting rules pass promtool check rules (both
from Debian's prometheus), the metrics its tables list are exactly those
the component and the bridge register, and every metric an alert uses is
one of them. Cheap (no process is started); needs promtool."""

import pathlib
import re
import shutil
import subprocess
import tempfile
import unittest

REPO = pathlib.Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "monitoring.md"
SOURCES = (REPO / "component" / "monitor.c", REPO / "sip-bridge" / "monitor.c")
NAME = re.compile(r"ringbridge_[a-z_]+")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def yaml_block(text, first_line):
    """The ```yaml block of TEXT whose first line is FIRST_LINE."""
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        if block.startswith(first_line):
            return block
    raise AssertionError("no yaml block starting %r" % first_line)


def promtool(*args, path):
    r = subprocess.run(["promtool", "check", *args, str(path)],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


class MonitoringDocTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("promtool"):
            raise unittest.SkipTest("promtool is not installed (prometheus)")
        cls.text = DOC.read_text()
        cls.tmp = tempfile.TemporaryDirectory(prefix="rb-promtool-")
        cls.dir = pathlib.Path(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_scrape_config(self):
        path = self.dir / "prometheus.yml"
        path.write_text(yaml_block(self.text, "# prometheus.yml"))
        rc, out = promtool("config", path=path)
        self.assertEqual(rc, 0, out)

    def test_rules(self):
        path = self.dir / "rules.yml"
        path.write_text(yaml_block(self.text, "# ringbridge-alerts.yml"))
        rc, out = promtool("rules", path=path)
        self.assertEqual(rc, 0, out)
        self.assertIn("SUCCESS: 6 rules found", out)

    def test_rules_fail_when_broken(self):
        """The check itself can fail: a syntax error is refused."""
        path = self.dir / "broken.yml"
        path.write_text(yaml_block(self.text, "# ringbridge-alerts.yml")
                        .replace("== 0", "== == 0", 1))
        rc, _ = promtool("rules", path=path)
        self.assertNotEqual(rc, 0)

    def test_tables_list_what_is_registered(self):
        rows = [l for l in self.text.splitlines() if l.startswith("| `ringbridge_")]
        documented = {NAME.search(l).group(0) for l in rows}
        registered = set()
        for src in SOURCES:
            registered |= set(re.findall(r'\.name = "(ringbridge_[a-z_]+)"',
                                         src.read_text()))
        self.assertEqual(documented, registered)

        rules = yaml_block(self.text, "# ringbridge-alerts.yml")
        for used in set(NAME.findall(rules)):
            base = used
            for s in HISTOGRAM_SUFFIXES:
                if used.endswith(s) and used[:-len(s)] in registered:
                    base = used[:-len(s)]
            self.assertIn(base, registered, used)


if __name__ == "__main__":
    unittest.main()
