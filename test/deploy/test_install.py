# SPDX-License-Identifier: GPL-3.0-or-later
"""cmake --install into a temporary prefix, then systemd-analyze on the
installed units: they must verify without a single complaint (the binary in
ExecStart must exist at the path the unit names), keep the hardening
docs/install.md promises, stay below an exposure score, and point at a
configuration whose writable paths are inside the StateDirectory. The
broken-unit cases prove the verification itself can fail."""

import configparser
import os
import pathlib
import shutil
import subprocess
import tempfile
import unittest

BUILD = pathlib.Path(os.environ.get(
    "RB_BUILD_DIR", pathlib.Path(__file__).resolve().parents[2] / "build"))
UNITS = ("ringbridge-component.service", "ringbridge-sip.service")
CONFIG = "/etc/ringbridge/ringbridge.ini"
# systemd-analyze security's scale is 0-100 here (the "1.5" it prints is
# 15); the units score 15 today. Above 30 something lost its hardening.
EXPOSURE_MAX = 30


def read_unit(path):
    """The unit as {section: {key: [values...]}} (keys may repeat)."""
    out, section = {}, None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = out.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        section.setdefault(key.strip(), []).append(value.strip())
    return out


def verify(unit):
    """(exit status, every line systemd-analyze verify printed)."""
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                       capture_output=True, text=True, timeout=120)
    return r.returncode, (r.stdout + r.stderr).strip()


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("systemd-analyze"):
            raise unittest.SkipTest("systemd-analyze is not installed")
        cls.tmp = tempfile.TemporaryDirectory(prefix="rb-install-")
        cls.prefix = pathlib.Path(cls.tmp.name) / "usr"
        subprocess.run(["cmake", "--install", str(BUILD), "--prefix",
                        str(cls.prefix)], check=True, capture_output=True,
                       timeout=300)
        cls.unitdir = cls.prefix / "lib" / "systemd" / "system"

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_binaries_and_files_installed(self):
        for b in ("ringbridge-component", "ringbridge-sip", "ringbridgectl"):
            p = self.prefix / "bin" / b
            self.assertTrue(os.access(p, os.X_OK), p)
        for f in ("lib/sysusers.d/ringbridge.conf",
                  "share/doc/ringbridge/examples/ringbridge.ini",
                  "share/doc/ringbridge/examples/ringbridge.example.ini",
                  "share/doc/ringbridge/install.md"):
            self.assertTrue((self.prefix / f).is_file(), f)
        lines = [l.split() for l in (
            self.prefix / "lib/sysusers.d/ringbridge.conf").read_text()
            .splitlines() if l.strip() and not l.startswith("#")]
        self.assertIn(["u", "ringbridge"], [l[:2] for l in lines])

    def test_units_verify_cleanly(self):
        for name in UNITS:
            with self.subTest(unit=name):
                rc, out = verify(self.unitdir / name)
                self.assertEqual((rc, out), (0, ""))

    def test_units_hardening(self):
        for name in UNITS:
            with self.subTest(unit=name):
                svc = read_unit(self.unitdir / name)["Service"]
                one = {k: v[-1] for k, v in svc.items()}
                exe, *args = one["ExecStart"].split()
                self.assertEqual(pathlib.Path(exe).parent,
                                 self.prefix / "bin")
                self.assertTrue(os.access(exe, os.X_OK))
                self.assertEqual(args, ["--config", CONFIG])
                self.assertEqual(one["User"], "ringbridge")
                self.assertEqual(one["ProtectSystem"], "strict")
                self.assertEqual(one["StateDirectory"], "ringbridge")
                self.assertNotIn("ReadWritePaths", one)
                for yes in ("NoNewPrivileges", "PrivateTmp", "ProtectHome",
                            "PrivateDevices"):
                    self.assertEqual(one[yes], "yes", yes)
                self.assertEqual(one["Restart"], "on-failure")
                # READY=1 and watchdog pings (docs/monitoring.md).
                self.assertEqual(one["Type"], "notify")
                self.assertGreaterEqual(float(one["WatchdogSec"]), 10)
                self.assertIn("78", one["RestartPreventExitStatus"].split())
                self.assertGreaterEqual(float(one["RestartSec"]), 1)
                self.assertEqual(one["CapabilityBoundingSet"], "")
                r = subprocess.run(
                    ["systemd-analyze", "security", "--offline=true",
                     "--threshold=%d" % EXPOSURE_MAX,
                     str(self.unitdir / name)],
                    capture_output=True, text=True, timeout=120)
                self.assertEqual(r.returncode, 0, r.stdout[-600:])

    def test_config_writes_only_in_state_directory(self):
        svc = read_unit(self.unitdir / UNITS[0])["Service"]
        state = "/var/lib/" + svc["StateDirectory"][-1] + "/"
        ini = configparser.ConfigParser(inline_comment_prefixes=(";",))
        ini.read(self.prefix / "share/doc/ringbridge/examples/ringbridge.ini")
        url = ini["queue"]["url"]
        self.assertTrue(url.startswith("sqlite:" + state), url)
        # Voice replies are rows of that queue (schema 011): the example
        # names no other place to write.
        self.assertFalse(ini.has_option("recordings", "dir"))
        # The configuration loader accepts it (78 would be a config error).
        r = subprocess.run(
            [str(self.prefix / "bin/ringbridgectl"), "-c",
             str(self.prefix / "share/doc/ringbridge/examples/ringbridge.ini"),
             "check", "--config-only"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_staged_install_names_the_final_paths(self):
        """DESTDIR stages files for packaging; what the units name is the
        final path, without the staging directory."""
        with tempfile.TemporaryDirectory(prefix="rb-destdir-") as d:
            subprocess.run(["cmake", "--install", str(BUILD), "--prefix",
                            "/opt/rb"], check=True, capture_output=True,
                           env=dict(os.environ, DESTDIR=d), timeout=300)
            unit = pathlib.Path(d) / "opt/rb/lib/systemd/system" / UNITS[0]
            svc = read_unit(unit)["Service"]
            self.assertEqual(svc["ExecStart"][-1].split()[0],
                             "/opt/rb/bin/ringbridge-component")
            self.assertTrue((pathlib.Path(d) /
                             "opt/rb/bin/ringbridge-component").is_file())

    def test_broken_units_fail_verification(self):
        """The checks above would notice: a missing binary and an unknown
        key each make verify complain."""
        good = (self.unitdir / UNITS[1]).read_text()
        with tempfile.TemporaryDirectory() as d:
            bad = pathlib.Path(d) / UNITS[1]
            bad.write_text(good.replace(str(self.prefix / "bin"),
                                        "/nonexistent/bin"))
            rc, out = verify(bad)
            self.assertNotEqual(rc, 0)
            self.assertIn("/nonexistent/bin/ringbridge-sip", out)
            bad.write_text(good.replace("ProtectSystem=strict",
                                        "ProtectSytem=strict"))
            rc, out = verify(bad)
            self.assertIn("Unknown key", out)


if __name__ == "__main__":
    unittest.main()
