# SPDX-License-Identifier: GPL-3.0-or-later
"""A private Prosody for integration tests: Debian's 0.12, or 13.0.1 built
from ../shared/peers when RB_PROSODY=13.

TESTING.md says why it is started this way: its own config, data and log
in a temporary directory owned by the prosody user, every listener on
127.0.0.1 on ports chosen per run, mod_posix disabled and -F so the test
owns the process and stops it by pid, ready once its ports accept. Users
are registered with prosodyctl.
"""

import os
import re
import socket
import uuid
import subprocess

from rbclient import DOMAIN, GATEWAY, UPLOAD
from rbproc import REPO, free_ports, port_open, tail, wait_until
from rbserver import Server

PROSODY_MODULES = "/usr/lib/prosody/modules"
# Prosody 13.0.1, built by scripts/test (rb_build_prosody13) from
# ../shared/peers; RB_PROSODY=13 makes every Prosody of a test that one.
PROSODY13_DIR = REPO / "build-peers" / "prosody13"
PROSODY_VERSION = os.environ.get("RB_PROSODY", "0.12")
# The Prosody module ringbridge ships (docs/prosody.md).
RINGBRIDGE_MODULE_DIR = REPO / "deploy" / "prosody"


def _chown_prosody(path):
    subprocess.run(["chown", "-R", "prosody:prosody", str(path)], check=True)


def lua_str(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


class Prosody(Server):
    """A private Prosody on loopback ports chosen per run: Debian's 0.12, or
    13.0.1 built from ../shared/peers when RB_PROSODY=13 (VERSION).

    Config (ARCHITECTURE.md + TESTING.md): VirtualHost "localhost" with the
    privileged_entities block for callgw.localhost, Component
    "callgw.localhost", optionally an http_file_share upload component and
    mod_mam. Ports survive restart() (same config file)."""

    name = "prosody"
    debug_markers = ("\tdebug\t",)

    def __init__(self, *, roster_privilege=False, mam=False, upload=False,
                 secret=None, component=GATEWAY, extra_global="",
                 extra_host="", debug=True, pubsub_privilege=True,
                 version=None, ringbridge_module=False, upload_path="",
                 mam_privilege=False, netns=None):
        # mam_privilege: the IQ privilege urn:xmpp:mam:2 get (archive
        # metadata, component/missed.c); implies mod_mam.
        self.mam_privilege = mam_privilege
        self.version = version or PROSODY_VERSION
        # deploy/prosody/mod_ringbridge.lua, enabled as docs/prosody.md
        # says: its folder in plugin_paths, "ringbridge" in the host's
        # modules_enabled, nothing else.
        self.ringbridge_module = ringbridge_module
        if self.version == "13":
            self.src = PROSODY13_DIR / "prosody-13.0.1"
            if not (self.src / "prosody").exists():
                raise AssertionError(
                    "Prosody 13 is not built at %s: scripts/test builds it "
                    "(rb_build_prosody13 in scripts/lib/common.sh)"
                    % self.src)
        elif self.version != "0.12":
            raise AssertionError("RB_PROSODY is 0.12 or 13, not %r"
                                 % self.version)
        super().__init__(mode=0o755)
        # NETNS (rbnetns.NetNs): Prosody runs there, listening on every
        # address of it (test_component_halfopen).
        self._place(netns)
        self.c2s_port, self.component_port, self.http_port = free_ports(3)
        self.secret = secret or "s3cret-" + uuid.uuid4().hex[:12]
        self.component = component
        self.mam = mam or mam_privilege
        self.upload = upload
        # Put before the slots' path: a prefix Prosody does not serve
        # makes every PUT a 404.
        self.upload_path = upload_path
        self.roster_privilege = roster_privilege
        self.pubsub_privilege = pubsub_privilege
        self.config = self.dir / "prosody.cfg.lua"
        self.proc_log = self.dir / "prosody.stdout"
        self.data = self.dir / "data"
        self.data.mkdir()
        (self.dir / "certs").mkdir()  # none needed; keeps the log quiet
        self.users = {}
        self._write_config(extra_global, extra_host, debug)
        _chown_prosody(self.dir)

    def _write_config(self, extra_global, extra_host, debug):
        mods = ["roster", "saslauth", "disco", "ping", "version", "time",
                "pep", "private", "vcard_legacy", "carbons", "offline",
                "privilege", "cloud_notify"]
        if self.mam:
            mods.append("mam")
        iq = '["urn:xmpp:push:0"] = "set"'
        if self.pubsub_privilege:
            iq += '; ["http://jabber.org/protocol/pubsub"] = "set"'
        if self.mam_privilege:
            iq += '; ["urn:xmpp:mam:2"] = "get"'
        roster = ('\n      roster = "get";' if self.roster_privilege else "")
        upload = ""
        if self.upload:
            upload = """
Component {up} "http_file_share"
  http_file_share_access = {{ {gw} }}
  http_external_url = "http://127.0.0.1:{port}/{path}"
""".format(up=lua_str(UPLOAD), gw=lua_str(self.component),
           port=self.http_port, path=self.upload_path)
        modpath = lua_str(PROSODY_MODULES)
        if self.version == "13":
            # cloud_notify is part of Prosody 13; mod_privilege is the
            # community module. The test runs as root.
            modpath = lua_str(PROSODY13_DIR / "prosody-modules" / "plugins"
                              / "community")
            extra_global = "run_as_root = true\n" + extra_global
        host_mods = ""
        if self.ringbridge_module:
            modpath += ", " + lua_str(RINGBRIDGE_MODULE_DIR)
            host_mods = '\n  modules_enabled = { "ringbridge" }'
        text = """-- Written by test/integration/rbprosody.py for one test run.
plugin_paths = {{ {modpath} }}
data_path = {data}
pidfile = {pid}
modules_enabled = {{ {mods} }}
modules_disabled = {{ "s2s"; "tls"; "posix" }}
log = {{ {{ levels = {{ min = {level} }}, to = "file", filename = {log} }} }}

interfaces = {{ {host} }}
c2s_ports = {{ {c2s} }}
c2s_interfaces = {{ {host} }}
component_ports = {{ {comp} }}
component_interfaces = {{ {host} }}
http_ports = {{ {http} }}
http_interfaces = {{ {host} }}
-- Slot URLs name 127.0.0.1, so requests arrive with that Host: route them
-- to the upload component (Prosody matches HTTP hosts by name).
http_default_host = {upload_host}
https_ports = {{ }}
https_interfaces = {{ {host} }}
s2s_ports = {{ }}
legacy_ssl_ports = {{ }}

c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
archive_expires_after = "never"
default_archive_policy = true
{extra_global}

VirtualHost "localhost"
  privileged_entities = {{
    [{gw}] = {{
      presence = "managed_entity";
      message = "outgoing";
      iq = {{ {iq} }};{roster}
    }};
  }}
  push_notification_with_body = true
  push_notification_with_sender = true{host_mods}
{extra_host}

Component {gw}
  component_secret = {secret}
  modules_enabled = {{ "privilege" }}
{upload}""".format(
            modpath=modpath, data=lua_str(self.data),
            pid=lua_str(self.dir / "prosody.pid"),
            mods="; ".join(lua_str(m) for m in mods),
            level=lua_str("debug" if debug else "info"), log=lua_str(self.log),
            c2s=self.c2s_port, comp=self.component_port, http=self.http_port,
            host=lua_str(self.bind), upload_host=lua_str(UPLOAD),
            extra_global=extra_global, extra_host=extra_host,
            host_mods=host_mods,
            gw=lua_str(self.component), iq=iq, roster=roster,
            secret=lua_str(self.secret), upload=upload)
        self.config.write_text(text)

    # -- lifecycle

    def _cmd(self, name):
        """Prosody 13 runs from its source directory: its loader finds
        prosody.* modules relative to the working directory."""
        return ["./" + name] if self.version == "13" else [name]

    def _cwd(self):
        return str(self.src) if self.version == "13" else str(self.dir)

    def _prepare(self):
        _chown_prosody(self.dir)

    def _argv(self):
        return self._in_netns(
            self._cmd("prosody") + ["--config", str(self.config), "-F"])

    def _spawn_options(self):
        return {"cwd": self._cwd()}

    def _ready(self):
        if port_open(self.c2s_port, self.host) and port_open(
                self.component_port, self.host):
            self._check_bound()
            return True
        return False

    def _released(self):
        return not port_open(self.c2s_port, self.host) and not port_open(
            self.component_port, self.host)

    def _check_bound(self):
        """Open ports prove nothing if another test's server took one of
        ours between free_ports() and the start (then a client reaches
        that server and sees "End of stream"): Prosody logs a port it
        could not bind, and keeps running."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return
        if "Failed to open server port" in text:
            raise RuntimeError("prosody could not bind a port of its own "
                               "(another process took it):\n%s"
                               % tail(self.log))

    def hold_ports(self):
        """While Prosody is down on purpose, keeps its ports bound (not
        listening: a connect is refused, as with nobody there) so that no
        other test's server or client can take them; release_ports()
        before start()."""
        self._held = []
        for port in (self.c2s_port, self.component_port, self.http_port):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            self._held.append(s)

    def release_ports(self):
        for s in getattr(self, "_held", []):
            s.close()
        self._held = []

    # -- accounts

    def register(self, user, password="pw"):
        _chown_prosody(self.dir)  # files Prosody (root) created since
        r = subprocess.run(self._cmd("prosodyctl") + [
            "--config", str(self.config), "register", user, DOMAIN,
            password], stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=60, cwd=self._cwd())
        if r.returncode != 0:
            raise RuntimeError("prosodyctl register %s failed: %s%s" % (
                user, r.stdout, r.stderr))
        self.users[user] = password
        return "%s@%s" % (user, DOMAIN)

    def offline_text(self, user):
        """USER's offline storage as Prosody wrote it ("" when empty):
        a message is there if its body is, as a quoted Lua string."""
        f = self.data / DOMAIN / "offline" / ("%s.list" % user)
        try:
            return f.read_text(errors="replace")
        except OSError:
            return ""

    def push_registrations(self, user):
        """The push service JIDs and nodes Prosody has stored for USER
        (mod_cloud_notify's store, written when push is enabled)."""
        f = self.data / DOMAIN / "cloud_notify" / ("%s.dat" % user)
        try:
            text = f.read_text(errors="replace")
        except OSError:
            return []
        jids = re.findall(r'\["jid"\]\s*=\s*"([^"]*)"', text)
        nodes = re.findall(r'\["node"\]\s*=\s*"([^"]*)"', text)
        return list(zip(jids, nodes))

    def push_nodes(self, user, service=None):
        """The nodes of USER's push registrations to SERVICE (the
        component), sorted."""
        service = service or self.component
        return sorted(n for j, n in self.push_registrations(user)
                      if j == service)

    def wait_push_nodes(self, user, nodes, service=None, timeout=30.0):
        """Until USER's push registrations to SERVICE are exactly NODES."""
        want = sorted(nodes)
        wait_until(lambda: self.push_nodes(user, service) == want, timeout,
                   what="push nodes of %s to be %s" % (user, want))

    def wait_push_enabled(self, user, service=None, timeout=30.0):
        """Until push to SERVICE (the component) is enabled for USER."""
        service = service or self.component
        return wait_until(lambda: [r for r in self.push_registrations(user)
                                   if r[0] == service], timeout,
                          what="push enabled for %s to %s" % (user, service))
