# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/monitoring.md and deploy/grafana/ringbridge.json kept true: the
page's Prometheus configuration passes promtool check config, its alerting
rules pass promtool check rules (both from Debian's prometheus), the
metrics its tables list are exactly those the component and the bridge
register, and every metric an alert or a dashboard panel uses is one of
them. Grafana is not in Debian 12: the dashboard is checked as JSON, and
each of its queries as the expression of a recording rule, with promtool.
Cheap (no process is started); needs promtool."""

import json
import pathlib
import re
import shutil
import subprocess
import tempfile
import unittest

REPO = pathlib.Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "monitoring.md"
DASHBOARD = REPO / "deploy" / "grafana" / "ringbridge.json"
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


def registered_names():
    names = set()
    for src in SOURCES:
        names |= set(re.findall(r'\.name = "(ringbridge_[a-z_]+)"',
                                src.read_text()))
    return names


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
        self.assertIn("SUCCESS: 7 rules found", out)

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
        registered = registered_names()
        self.assertEqual(documented, registered)
        self.assert_known(yaml_block(self.text, "# ringbridge-alerts.yml"))

    def assert_known(self, text):
        """Every ringbridge_ metric TEXT names is registered."""
        registered = registered_names()
        for used in set(NAME.findall(text)):
            base = used
            for s in HISTOGRAM_SUFFIXES:
                if used.endswith(s) and used[:-len(s)] in registered:
                    base = used[:-len(s)]
            self.assertIn(base, registered, used)

    def test_grafana_dashboard(self):
        dash = json.loads(DASHBOARD.read_text())
        self.assertEqual(dash["uid"], "ringbridge")
        ids = [p["id"] for p in dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
        self.assertGreaterEqual(len(exprs), 10)
        for p in dash["panels"]:
            self.assertEqual(p["datasource"]["uid"], "${datasource}")
        # Each query as a recording rule: promtool parses every one.
        rules = ["groups:", "  - name: dashboard", "    rules:"]
        for i, e in enumerate(exprs):
            rules += ["      - record: dashboard:q%d" % i,
                      "        expr: %s" % json.dumps(e)]
        path = self.dir / "dashboard-rules.yml"
        path.write_text("\n".join(rules) + "\n")
        rc, out = promtool("rules", path=path)
        self.assertEqual(rc, 0, out)
        self.assertIn("SUCCESS: %d rules found" % len(exprs), out)
        self.assert_known("\n".join(exprs))
        # Every metric the processes export is on the dashboard.
        self.assertEqual({n for n in registered_names()
                          if not any(n in e for e in exprs)}, set())


if __name__ == "__main__":
    unittest.main()
