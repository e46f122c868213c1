# SPDX-License-Identifier: GPL-3.0-or-later
"""The docker-compose set-up against the native demo. No container engine
runs here, so: Debian's docker-compose validates the file (config -q);
Prosody validates the compose Prosody configuration (prosodyctl check
config, with the secret path pointed at a temporary file); and the
configurations are compared with what scripts/lib/demo.py sets up,
derived by building the demo's own Prosody and ringbridge files through
rbtest (nothing expected is written twice here): the same domains,
modules, privileges, ringbridge keys and values (addresses and ports may
differ, and are checked against the compose file instead), the same phone
scenario, and a secret kept out of the compose file. The drift tests feed
altered copies to the same comparison to show that it notices."""

import configparser
import importlib.util
import ipaddress
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "test" / "integration"))
import rbbridge  # noqa: E402
import rbtest  # noqa: E402

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
CDIR = REPO / "deploy" / "compose"
PROSODY_CFG_IN_CONTAINER = "/etc/prosody/prosody.cfg.lua"
INI_IN_CONTAINER = "/etc/ringbridge/ringbridge.ini"
RINGBRIDGE_SERVICES = ("setup", "component", "bridge")
# ringbridge keys whose values are addresses, ports or paths: they differ
# between loopback and containers, and are checked against the compose
# file instead.
ADDRESS_KEYS = {("xmpp", "host"), ("xmpp", "port"), ("queue", "url"),
                ("sip", "listen"), ("sip", "rtp_port_min"),
                ("sip", "rtp_port_max"), ("policy", "allowed_sip_domains")}
SECTION_RE = re.compile(r'^(VirtualHost|Component)\s+"([^"]+)"'
                        r'(?:\s+"([^"]+)")?')
OPTION_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*(.*)$")


def load_demo():
    spec = importlib.util.spec_from_file_location(
        "rb_demo", REPO / "scripts" / "lib" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo


def lua_sections(text):
    """{(kind, name): {"module": M, option: value-without-whitespace}} for
    the global section ("global", "") and each VirtualHost/Component.
    Multi-line tables are joined by counting braces."""
    cur = ("global", "")
    out = {cur: {}}
    pending = None
    for raw in text.splitlines():
        line = re.sub(r"--.*$", "", raw)
        if pending:
            key, acc = pending
            acc += line
            if acc.count("{") <= acc.count("}"):
                out[cur][key] = re.sub(r"\s+", "", acc)
                pending = None
            else:
                pending = (key, acc)
            continue
        m = SECTION_RE.match(line)
        if m:
            cur = (m.group(1), m.group(2))
            out[cur] = {"module": m.group(3) or ""}
            continue
        m = OPTION_RE.match(line)
        if not m:
            continue
        key, value = m.group(1), m.group(2)
        if value.count("{") > value.count("}"):
            pending = (key, value)
        else:
            out[cur][key] = re.sub(r"\s+", "", value)
    return out


def lua_list(value):
    return set(re.findall(r'"([^"]*)"', value or ""))


def read_ini(path):
    ini = configparser.ConfigParser(interpolation=None,
                                    inline_comment_prefixes=(";",))
    ini.read(path)
    return {(s, k): v for s in ini.sections() for k, v in ini[s].items()}


def prosody_drift(native, compose):
    """What differs between two Prosody configurations, ignoring
    addresses, ports, paths and the way the secret is given."""
    out = []
    n, c = lua_sections(native), lua_sections(compose)
    for key in ("modules_enabled", "modules_disabled"):
        a = lua_list(n[("global", "")].get(key))
        b = lua_list(c[("global", "")].get(key))
        if a != b:
            out.append("global %s: demo %s, compose %s" % (key, sorted(a),
                                                          sorted(b)))
    hosts_n = {k for k in n if k[0] != "global"}
    hosts_c = {k for k in c if k[0] != "global"}
    if hosts_n != hosts_c:
        out.append("hosts: demo %s, compose %s" % (sorted(hosts_n),
                                                  sorted(hosts_c)))
    for host in sorted(hosts_n & hosts_c):
        for key in ("module", "privileged_entities", "modules_enabled",
                    "push_notification_with_body",
                    "push_notification_with_sender",
                    "http_file_share_access"):
            if n[host].get(key) != c[host].get(key):
                out.append("%s %s %s: demo %r, compose %r" % (
                    host[0], host[1], key, n[host].get(key),
                    c[host].get(key)))
    return out


def ini_drift(native, compose):
    """What differs between two ringbridge configurations: the keys (with
    secret given as secret_file in compose) and every value that is not
    an address, port or path."""
    out = []
    want = set(native) - {("xmpp", "secret")} | {("xmpp", "secret_file")}
    if set(compose) != want:
        out.append("keys only in the demo: %s; only in compose: %s" % (
            sorted(want - set(compose)), sorted(set(compose) - want)))
    for k in sorted(set(native) & set(compose) - ADDRESS_KEYS):
        if native[k] != compose[k]:
            out.append("[%s] %s: demo %r, compose %r" % (k[0], k[1],
                                                         native[k],
                                                         compose[k]))
    return out


def strip_comments(xml):
    return re.sub(r"<!--.*?-->", "", xml, flags=re.S)


class ComposeTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not shutil.which("docker-compose"):
            raise AssertionError("docker-compose is not installed "
                                 "(scripts/lib/common.sh installs it)")
        cls.demo = load_demo()
        r = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("docker-compose config: " + r.stderr)
        cls.compose = yaml.safe_load(r.stdout)
        cls.services = cls.compose["services"]
        # The demo's own files, written the way scripts/demo writes them.
        cls.prosody = rbtest.Prosody(debug=False, **cls.demo.PROSODY_OPTIONS)
        policy, sections = cls.demo.component_options(
            "127.0.0.1", "sip:127.0.0.1:5080", 40000)
        cls.comp = rbtest.Component(cls.prosody, policy=policy,
                                    sections=sections)
        cls.native_lua = cls.prosody.config.read_text()
        cls.native_ini = read_ini(cls.comp.config)
        cls.compose_lua = (CDIR / "prosody.cfg.lua").read_text()
        cls.compose_ini = read_ini(CDIR / "ringbridge.ini")

    @classmethod
    def tearDownClass(cls):
        cls.comp.cleanup()
        cls.prosody.cleanup()

    def mount_source(self, service, target):
        """The host file or volume SERVICE mounts at TARGET."""
        for v in self.services[service].get("volumes", []):
            src, dst = (v.split(":")[:2] if isinstance(v, str)
                        else (v.get("source"), v.get("target")))
            if dst == target:
                return src
        self.fail("%s mounts nothing at %s" % (service, target))

    def ip(self, service):
        return self.services[service]["networks"]["ringbridge"][
            "ipv4_address"]

    def test_compose_file_is_valid(self):
        r = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config",
                            "-q"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        for name in ("prosody", "component", "bridge", "phone", "setup"):
            self.assertIn(name, self.services)

    def test_ports_published_on_loopback_only(self):
        published = 0
        for name, svc in self.services.items():
            for p in svc.get("ports", []):
                published += 1
                host_ip = (p.split(":")[0] if isinstance(p, str)
                           else p.get("host_ip"))
                self.assertEqual(host_ip, "127.0.0.1", (name, p))
        self.assertGreater(published, 0)

    def test_prosody_matches_the_demo(self):
        self.assertEqual(prosody_drift(self.native_lua, self.compose_lua),
                         [])
        # Not equal by being empty: the demo's file parsed as expected.
        n = lua_sections(self.native_lua)
        self.assertIn("privilege", lua_list(n[("global", "")]
                                            ["modules_enabled"]))
        self.assertIn('["urn:xmpp:push:0"]="set"', n[
            ("VirtualHost", rbtest.DOMAIN)]["privileged_entities"])
        self.assertEqual(n[("Component", rbtest.GATEWAY)]["modules_enabled"],
                         '{"privilege"}')
        self.assertEqual(
            pathlib.Path(self.mount_source("prosody",
                                           PROSODY_CFG_IN_CONTAINER)),
            CDIR / "prosody.cfg.lua")

    def test_prosody_accepts_the_compose_configuration(self):
        m = re.search(r'component_secret\s*=\s*first_line\("([^"]+)"\)',
                      self.compose_lua)
        self.assertIsNotNone(m, "the secret is not read from a file")
        with tempfile.TemporaryDirectory(prefix="rb-compose-") as d:
            os.chmod(d, 0o755)
            secret = pathlib.Path(d) / "secret"
            secret.write_text("a-secret-from-a-file\n")
            cfg = pathlib.Path(d) / "prosody.cfg.lua"
            cfg.write_text(self.compose_lua.replace(m.group(1), str(secret))
                           .replace('"/var/lib/prosody"', '"%s"' % d))
            for f in (secret, cfg):
                os.chmod(f, 0o644)
            r = subprocess.run(["prosodyctl", "--config", str(cfg), "check",
                                "config"], capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("All checks passed", r.stdout)

    def test_ringbridge_configuration_matches_the_demo(self):
        self.assertEqual(ini_drift(self.native_ini, self.compose_ini), [])
        for name in RINGBRIDGE_SERVICES:
            self.assertEqual(pathlib.Path(self.mount_source(
                name, INI_IN_CONTAINER)), CDIR / "ringbridge.ini")

    def test_addresses_fit_the_compose_network(self):
        ini = self.compose_ini
        net = ipaddress.ip_network(self.compose["networks"]["ringbridge"]
                                   ["ipam"]["config"][0]["subnet"])
        for name in ("prosody", "bridge", "phone"):
            self.assertIn(ipaddress.ip_address(self.ip(name)), net)
        # The component shares Prosody's network: XEP-0114 on loopback.
        self.assertEqual(self.services["component"]["network_mode"],
                         "service:prosody")
        self.assertEqual(ini[("xmpp", "host")], "127.0.0.1")
        comp_ports = lua_list(lua_sections(self.compose_lua)[
            ("global", "")]["component_ports"].replace("{", '{"')
            .replace("}", '"}'))
        self.assertEqual(comp_ports, {ini[("xmpp", "port")]})
        self.assertEqual(ini[("sip", "listen")],
                         "sip:%s:5080" % self.ip("bridge"))
        self.assertEqual(ini[("policy", "allowed_sip_domains")],
                         self.ip("phone"))
        n, c = self.native_ini, ini
        self.assertEqual(
            int(c[("sip", "rtp_port_max")]) - int(c[("sip", "rtp_port_min")]),
            int(n[("sip", "rtp_port_max")]) - int(n[("sip", "rtp_port_min")]))
        # The queue is on the volume both processes mount.
        db = c[("queue", "url")].removeprefix("sqlite:")
        for name in ("component", "bridge", "setup"):
            vol = self.mount_source(name, str(pathlib.Path(db).parent))
            self.assertIn(vol, self.compose["volumes"])

    def test_secret_is_not_in_the_compose_file(self):
        m = re.search(r'first_line\("/run/secrets/([^"]+)"\)',
                      self.compose_lua)
        name = m.group(1)
        self.assertEqual(self.compose_ini[("xmpp", "secret_file")],
                         "/run/secrets/" + name)
        self.assertNotIn(("xmpp", "secret"), self.compose_ini)
        src = pathlib.Path(self.compose["secrets"][name]["file"])
        self.assertEqual(src.parent, CDIR / "secrets")
        self.assertTrue(src.with_name(src.name + ".example").is_file())
        for svc in ("prosody",) + RINGBRIDGE_SERVICES:
            names = [s if isinstance(s, str) else s["source"]
                     for s in self.services[svc].get("secrets", [])]
            self.assertIn(name, names, svc)
        text = COMPOSE.read_text()
        example = src.with_name(src.name + ".example").read_text().strip()
        self.assertNotIn(example, text)
        for svc in self.services.values():
            env = svc.get("environment") or {}
            self.assertFalse([k for k in env if "SECRET" in k.upper()])

    def test_phone_is_the_demo_phone(self):
        media, codecs = self.demo.ROUND1
        text = (rbbridge.SCENARIOS / "uas_answer.xml").read_text()
        # The demo phone sends nothing of its own in the dialog and takes
        # the media on sipp's own port, as rbbridge.start_sipp fills the
        # placeholders by default.
        for k, v in dict(rbbridge.SCENARIO_DEFAULTS, **codecs,
                         MEDIA="\n".join(media)).items():
            text = text.replace("@%s@" % k, str(v))
        self.assertEqual(strip_comments((CDIR / "phone.xml").read_text()),
                         strip_comments(text))
        self.assertIn("COPY deploy/compose/phone.xml /etc/sipp/phone.xml",
                      DOCKERFILE.read_text())
        cmd = self.services["phone"]["command"]
        self.assertEqual(cmd[cmd.index("-sf") + 1], "/etc/sipp/phone.xml")
        self.assertEqual(cmd[cmd.index("-i") + 1], self.ip("phone"))
        phone = self.demo.BOB_PHONE.format(host=self.ip("phone"),
                                           port=cmd[cmd.index("-p") + 1])
        setup = self.services["setup"]["command"]
        self.assertEqual(setup[-3:], ["register", rbtest.jid("bob"), phone])

    def test_dockerfile_stages(self):
        text = DOCKERFILE.read_text()
        stages = re.findall(r"^FROM\s+(\S+)\s+AS\s+(\S+)", text, re.M)
        self.assertEqual([s[1] for s in stages],
                         ["build", "ringbridge", "prosody", "postgresql",
                          "phone"])
        self.assertIn("ARG DEBIAN_IMAGE=debian:bookworm", text)
        self.assertIn("$RB_BUILD_PACKAGES", text)
        runtime = text.split("AS ringbridge", 1)[1].split("\nFROM ", 1)[0]
        user = re.findall(r"^USER\s+(\S+)", runtime, re.M)
        self.assertEqual(user, ["ringbridge"])
        self.assertNotIn("-dev", runtime)
        for name in RINGBRIDGE_SERVICES:
            self.assertEqual(self.services[name]["build"]["target"],
                             "ringbridge")

    # -- the comparison notices drift

    def test_drift_in_prosody_is_noticed(self):
        no_mam = self.compose_lua.replace('; "mam" }', " }")
        self.assertNotEqual(no_mam, self.compose_lua)
        self.assertTrue(prosody_drift(self.native_lua, no_mam))
        no_push = self.compose_lua.replace(
            '["urn:xmpp:push:0"] = "set"; ', "")
        self.assertTrue(prosody_drift(self.native_lua, no_push))
        other = self.compose_lua.replace('VirtualHost "localhost"',
                                         'VirtualHost "example.org"')
        self.assertTrue(prosody_drift(self.native_lua, other))

    def test_drift_in_ringbridge_configuration_is_noticed(self):
        for change in ({("policy", "direct_dial"): "true"},
                       {("xmpp", "domain"): "gw.localhost"},
                       {("xmpp", "secret"): "inline"}):
            ini = dict(self.compose_ini)
            ini.update(change)
            self.assertTrue(ini_drift(self.native_ini, ini), change)
        ini = dict(self.compose_ini)
        del ini[("sip", "max_calls")]
        self.assertTrue(ini_drift(self.native_ini, ini))


    def test_postgresql_profile(self):
        """The "postgresql" profile: the same services with the queue in
        a postgresql service, its password a compose secret, reached on
        the compose network only, and a configuration that differs from
        the SQLite one in [queue] alone."""
        env = dict(os.environ, RINGBRIDGE_INI="ringbridge-postgresql.ini")
        r = subprocess.run(["docker-compose", "-f", str(COMPOSE),
                            "--profile", "postgresql", "config"],
                           capture_output=True, text=True, timeout=120,
                           env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        services = yaml.safe_load(r.stdout)["services"]
        pg = services["postgresql"]
        self.assertEqual(pg.get("ports", []), [])
        self.assertEqual(pg["build"]["target"], "postgresql")
        ini_path = CDIR / "ringbridge-postgresql.ini"
        for svc in RINGBRIDGE_SERVICES:
            mounts = [v if isinstance(v, str) else
                      "%s:%s" % (v.get("source"), v.get("target"))
                      for v in services[svc].get("volumes", [])]
            self.assertTrue(any(m.startswith(str(ini_path) + ":")
                                for m in mounts), (svc, mounts))
        ini = read_ini(ini_path)
        self.assertEqual({k: v for k, v in ini.items() if k[0] != "queue"},
                         {k: v for k, v in self.compose_ini.items()
                          if k[0] != "queue"})
        url = ini[("queue", "url")]
        self.assertTrue(url.startswith("postgresql://ringbridge@%s:5432/"
                                       % pg["networks"]["ringbridge"][
                                           "ipv4_address"]), url)
        self.assertNotIn(":", url.split("//")[1].split("@")[0],
                         "a password in the URL")
        self.assertEqual(ini[("queue", "password_file")],
                         "/run/secrets/queue_password")
        src = pathlib.Path(self.compose["secrets"]["queue_password"]["file"])
        self.assertTrue(src.with_name(src.name + ".example").is_file())
        for svc in ("postgresql",) + RINGBRIDGE_SERVICES:
            names = [x if isinstance(x, str) else x["source"]
                     for x in services[svc].get("secrets", [])]
            self.assertIn("queue_password", names, svc)
        start = (REPO / "deploy/compose/postgresql-start.sh").read_text()
        self.assertIn("/run/secrets/queue_password", start)
        self.assertEqual(subprocess.run(["sh", "-n", str(
            REPO / "deploy/compose/postgresql-start.sh")]).returncode, 0)
        # Without the profile nothing changes: SQLite, no postgresql.
        self.assertEqual(self.compose_ini[("queue", "url")][:7], "sqlite:")


if __name__ == "__main__":
    unittest.main()
