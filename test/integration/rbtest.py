# SPDX-License-Identifier: GPL-3.0-or-later
"""The integration-test harness: real Prosody, the real ringbridge binaries.

Every test owns its processes: a Prosody started in the foreground on
loopback ports chosen per run (TESTING.md says why: mod_posix disabled, -F,
wait for the ports), the component started from $RB_BUILD_DIR, and slixmpp
clients driven synchronously from the test thread while their asyncio loop
runs in one background thread. Processes are stopped by pid, in tearDown
(addCleanup) and again at exit, never by name. The queue is inspected
read-only with sqlite3, one short connection per query so every read sees
the latest commit.
"""

import asyncio
import atexit
import concurrent.futures
import copy
import os
import pathlib
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
import xml.etree.ElementTree as ET

try:
    import slixmpp
except ImportError:
    # A pyenv or venv python without Debian's python3-slixmpp: borrow the
    # system's copy (same minor version on Debian 12) rather than fail.
    sys.path.append("/usr/lib/python3/dist-packages")
    import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher.base import MatcherBase
from slixmpp.xmlstream.matcher.xpath import MatchXPath

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD_DIR = pathlib.Path(os.environ.get("RB_BUILD_DIR", REPO / "build"))
COMPONENT_BIN = BUILD_DIR / "ringbridge-component"
CTL_BIN = BUILD_DIR / "ringbridgectl"

DOMAIN = "localhost"
GATEWAY = "callgw.localhost"
UPLOAD = "upload.localhost"
PROSODY_MODULES = "/usr/lib/prosody/modules"
# Prosody 13.0.1, built by scripts/test (rb_build_prosody13) from
# ../shared/peers; RB_PROSODY=13 makes every Prosody of a test that one.
PROSODY13_DIR = REPO / "build-peers" / "prosody13"
PROSODY_VERSION = os.environ.get("RB_PROSODY", "0.12")
# The Prosody module ringbridge ships (docs/prosody.md).
RINGBRIDGE_MODULE_DIR = REPO / "deploy" / "prosody"

NS_CLIENT = "jabber:client"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_REGISTER = "jabber:iq:register"
NS_COMMANDS = "http://jabber.org/protocol/commands"
NS_DATA = "jabber:x:data"
NS_PING = "urn:xmpp:ping"
NS_VERSION = "jabber:iq:version"
NS_PRIV2 = "urn:xmpp:privilege:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_PUSH = "urn:xmpp:push:0"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"

# Bounds: generous (a loaded CI machine), but every wait has one.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
IQ_TIMEOUT = 15.0

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:",
                     "ERROR: LeakSanitizer")

# ---------------------------------------------------------------------------
# valgrind (opt-in, test/integration/README.md): with RB_VALGRIND=1 every
# ringbridge binary a fixture runs (through rb_spawn / rb_run, the one place
# that builds the command line) runs under memcheck, each process (and each
# child forked without exec, such as the bridge's speech worker) writing
# RB_VALGRIND_DIR/vg-PID.log. Stopping a ringbridge process, or the end of a
# ringbridgectl run, fails the test when a finished log counts errors
# (invalid accesses, uninitialised values, definite or indirect leaks).
# Memcheck is 20-50 times slower: every wait the harness makes is multiplied
# by RB_TIME_SCALE (10 under valgrind unless set).

VALGRIND = os.environ.get("RB_VALGRIND", "") not in ("", "0")
TIME_SCALE = float(os.environ.get("RB_TIME_SCALE") or
                   ("10" if VALGRIND else "1"))
VALGRIND_SUPP = REPO / "test" / "valgrind.supp"
VALGRIND_OPTIONS = (
    "--tool=memcheck", "--leak-check=full",
    "--show-leak-kinds=definite,indirect",
    "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
    "--track-fds=no", "--num-callers=40", "--trace-children=no")
_valgrind_dir = None
_valgrind_seen = set()  # logs already checked (their process has ended)


def scaled(seconds):
    """SECONDS of waiting for a ringbridge process, stretched under
    valgrind (RB_TIME_SCALE)."""
    return seconds * TIME_SCALE


def valgrind_dir():
    global _valgrind_dir
    if _valgrind_dir is None:
        d = os.environ.get("RB_VALGRIND_DIR")
        if d:
            _valgrind_dir = pathlib.Path(d)
            _valgrind_dir.mkdir(parents=True, exist_ok=True)
        else:
            _valgrind_dir = pathlib.Path(tempfile.mkdtemp(
                prefix="rb-valgrind-"))
    return _valgrind_dir


def rb_argv(argv):
    """The command line that runs ARGV (a ringbridge binary and its
    arguments): ARGV itself, or under valgrind when RB_VALGRIND is set."""
    argv = [str(a) for a in argv]
    if not VALGRIND:
        return argv
    extra = os.environ.get("RB_VALGRIND_OPTIONS", "").split()
    return (["valgrind", *VALGRIND_OPTIONS, *extra,
             "--suppressions=%s" % VALGRIND_SUPP,
             "--log-file=%s" % (valgrind_dir() / "vg-%p.log")] + argv)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _valgrind_records(text):
    """Error records in a log that has no ERROR SUMMARY because its process
    was killed (SIGKILL: the bridge's speech renderers end that way, and
    tests that crash the component on purpose): a message line followed by
    its stack ("at 0x..."), valgrind's own warnings excepted. Leaks are
    only known at a normal exit, so they cannot be counted here."""
    lines = [re.sub(r"^==\d+== ?", "", l) for l in text.splitlines()]
    return sum(1 for a, b in zip(lines, lines[1:])
               if a and not a.startswith((" ", "Warning"))
               and b.lstrip().startswith("at 0x"))


def valgrind_failures():
    """[(log, error count)] for the logs of ended processes, not checked
    before, that count errors: the ERROR SUMMARY of a process that exited,
    the error records of one that was killed."""
    if not VALGRIND:
        return []
    bad = []
    for log in sorted(valgrind_dir().glob("vg-*.log")):
        if log in _valgrind_seen:
            continue
        text = log.read_text(errors="replace")
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        if m is not None:
            n = int(m.group(1))
        elif _pid_alive(int(log.stem.split("-")[1])):
            continue  # still running
        else:
            n = _valgrind_records(text)
        _valgrind_seen.add(log)
        if n:
            bad.append((log, n))
    return bad


def check_valgrind():
    """Fails (AssertionError) when a ringbridge process that has ended
    since the last check left a valgrind log counting errors."""
    bad = valgrind_failures()
    if bad:
        raise AssertionError("valgrind reports errors:\n" + "\n".join(
            "--- %s: %d error(s) ---\n%s" % (log, n, tail(log, 150))
            for log, n in bad))


def rb_run(argv, timeout=60, **kw):
    """subprocess.run of a ringbridge binary (ringbridgectl): under
    valgrind when asked, with a stretched timeout, then checked."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    r = subprocess.run(rb_argv(argv), timeout=scaled(timeout), **kw)
    check_valgrind()
    return r


# ---------------------------------------------------------------------------
# small utilities


# Every port free_ports() handed out in this process: a port chosen for
# one server and not yet bound (Prosody's c2s, chosen before it starts) must
# not be handed to the next fixture too, which the kernel would do once the
# probing socket is closed (seen in CI: the component's [http] listen got
# Prosody's c2s port).
_ports_given = set()


def free_ports(n):
    """N distinct loopback TCP ports free right now (bound to port 0, then
    released), never one this process handed out before."""
    socks = []
    ports = []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            port = s.getsockname()[1]
            if port not in _ports_given:
                _ports_given.add(port)
                ports.append(port)
        return ports
    finally:
        for s in socks:
            s.close()


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def wait_until(fn, timeout=20.0, interval=0.1, what=None):
    """Polls FN until it returns something truthy, which is returned.
    sqlite3 errors (database or table not created yet) count as "not yet".
    Raises AssertionError naming WHAT after TIMEOUT seconds."""
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except sqlite3.Error as e:
            last_exc = e
        if time.monotonic() >= deadline:
            msg = "timed out after %.0f s waiting for %s" % (
                timeout, what or getattr(fn, "__name__", "condition"))
            if last_exc is not None:
                msg += " (last error: %s)" % last_exc
            raise AssertionError(msg)
        time.sleep(interval)


def tail(path, n=60):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


_live = {}  # pid -> Popen of every process a fixture started
_ringbridge = set()  # pids of those that are ringbridge binaries


def _reap_all():
    for p in list(_live.values()):
        try:
            _terminate(p, STOP_TIMEOUT)
        except AssertionError as e:
            sys.stderr.write("%s\n" % e)


atexit.register(_reap_all)


def _terminate(proc, timeout, sig=signal.SIGTERM):
    """Stops PROC (a Popen we started) by pid; SIGKILL after TIMEOUT
    (stretched under valgrind). For a ringbridge binary, then fails on
    valgrind errors."""
    timeout = scaled(timeout)
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    _live.pop(proc.pid, None)
    if proc.pid in _ringbridge:
        _ringbridge.discard(proc.pid)
        check_valgrind()
    return proc.returncode


def _spawn(argv, log_path, **kw):
    log = open(log_path, "ab")
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, **kw)
    finally:
        log.close()
    _live[proc.pid] = proc
    return proc


def rb_spawn(argv, log_path, **kw):
    """_spawn for a ringbridge binary: under valgrind when asked."""
    proc = _spawn(rb_argv(argv), log_path, **kw)
    _ringbridge.add(proc.pid)
    return proc


def _require_binary(path):
    """Run by hand without a build, a missing binary skips the test; under
    ctest (RB_BUILD_DIR set) it fails it, so CI cannot pass by skipping."""
    if os.access(path, os.X_OK):
        return
    if os.environ.get("RB_BUILD_DIR"):
        raise AssertionError("%s is missing (RB_BUILD_DIR=%s)" % (
            path, os.environ["RB_BUILD_DIR"]))
    raise unittest.SkipTest("%s not built (set RB_BUILD_DIR)" % path)


def _chown_prosody(path):
    subprocess.run(["chown", "-R", "prosody:prosody", str(path)], check=True)


def lua_str(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------------------
# XML helpers for replies (ElementTree elements, namespaces in {ns}tag form)


def q(ns, tag):
    return "{%s}%s" % (ns, tag)


def xml_str(el):
    return ET.tostring(el, encoding="unicode")


def bare(jid):
    return (jid or "").split("/", 1)[0]


def error_condition(stanza):
    """(type, condition, text) of a stanza's <error/>, or None."""
    err = stanza.find(q(NS_CLIENT, "error"))
    if err is None:
        return None
    cond, text = None, None
    for child in err:
        if child.tag == q(NS_STANZAS, "text"):
            text = child.text or ""
        elif child.tag.startswith("{%s}" % NS_STANZAS):
            cond = child.tag.split("}", 1)[1]
    return err.get("type"), cond, text


def form_fields(form):
    """{var: [values]} and {var: field element} of a jabber:x:data form."""
    values, elems = {}, {}
    for f in form.findall(q(NS_DATA, "field")):
        var = f.get("var")
        values[var] = [v.text or "" for v in f.findall(q(NS_DATA, "value"))]
        elems[var] = f
    return values, elems


def xml_escape(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace("'", "&apos;")
            .replace('"', "&quot;"))


def submit_form(fields, form_type=None):
    """A jabber:x:data submit form (XML text) from {var: value or [values]}."""
    parts = ["<x xmlns='jabber:x:data' type='submit'>"]
    if form_type:
        parts.append("<field var='FORM_TYPE' type='hidden'><value>%s</value>"
                     "</field>" % xml_escape(form_type))
    for var, val in fields.items():
        vals = val if isinstance(val, (list, tuple)) else [val]
        parts.append("<field var='%s'>" % xml_escape(var))
        parts.extend("<value>%s</value>" % xml_escape(v) for v in vals)
        parts.append("</field>")
    parts.append("</x>")
    return "".join(parts)


# ---------------------------------------------------------------------------
# Prosody


class Prosody:
    """A private Prosody on loopback ports chosen per run: Debian's 0.12, or
    13.0.1 built from ../shared/peers when RB_PROSODY=13 (VERSION).

    Config (ARCHITECTURE.md + TESTING.md): VirtualHost "localhost" with the
    privileged_entities block for callgw.localhost, Component
    "callgw.localhost", optionally an http_file_share upload component and
    mod_mam. Ports survive restart() (same config file)."""

    def __init__(self, *, roster_privilege=False, mam=False, upload=False,
                 secret=None, component=GATEWAY, extra_global="",
                 extra_host="", debug=True, pubsub_privilege=True,
                 version=None, ringbridge_module=False, upload_path="",
                 mam_privilege=False):
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
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="rb-prosody-"))
        os.chmod(self.dir, 0o755)
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
        self.log = self.dir / "prosody.log"
        self.proc_log = self.dir / "prosody.stdout"
        self.data = self.dir / "data"
        self.data.mkdir()
        (self.dir / "certs").mkdir()  # none needed; keeps the log quiet
        self.users = {}
        self.proc = None
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
        text = """-- Written by test/integration/rbtest.py for one test run.
plugin_paths = {{ {modpath} }}
data_path = {data}
pidfile = {pid}
modules_enabled = {{ {mods} }}
modules_disabled = {{ "s2s"; "tls"; "posix" }}
log = {{ {{ levels = {{ min = {level} }}, to = "file", filename = {log} }} }}

interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}
c2s_interfaces = {{ "127.0.0.1" }}
component_ports = {{ {comp} }}
component_interfaces = {{ "127.0.0.1" }}
http_ports = {{ {http} }}
http_interfaces = {{ "127.0.0.1" }}
-- Slot URLs name 127.0.0.1, so requests arrive with that Host: route them
-- to the upload component (Prosody matches HTTP hosts by name).
http_default_host = {upload_host}
https_ports = {{ }}
https_interfaces = {{ "127.0.0.1" }}
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
            upload_host=lua_str(UPLOAD),
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

    def start(self, timeout=START_TIMEOUT):
        assert self.proc is None or self.proc.poll() is not None
        _chown_prosody(self.dir)
        self.proc = _spawn(self._cmd("prosody") + ["--config",
                                                   str(self.config), "-F"],
                           self.proc_log, cwd=self._cwd())
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("prosody exited with %s:\n%s\n%s" % (
                    self.proc.returncode, tail(self.proc_log), tail(self.log)))
            if port_open(self.c2s_port) and port_open(self.component_port):
                self._check_bound()
                return self
            if time.monotonic() > deadline:
                raise RuntimeError("prosody ports not open after %.0f s:\n%s"
                                   % (timeout, tail(self.log)))
            time.sleep(0.1)

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

    def stop(self, timeout=STOP_TIMEOUT):
        if self.proc is not None:
            _terminate(self.proc, timeout)
        # The ports are released with the process; make sure before a
        # restart binds them again.
        wait_until(lambda: not port_open(self.c2s_port)
                   and not port_open(self.component_port), timeout,
                   what="prosody ports to close")

    def restart(self):
        self.stop()
        return self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        """Stops Prosody and removes its directory unless RB_KEEP_TMP is
        set (then the directory is kept for post-mortem)."""
        self.stop()
        if not os.environ.get("RB_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

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

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""


# ---------------------------------------------------------------------------
# the asyncio loop every slixmpp stream of this process runs on


class _Reactor:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="rb-asyncio",
                                       daemon=True)
        self.thread.start()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro, timeout=IQ_TIMEOUT):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(
            timeout)

    def call(self, fn, *args, timeout=IQ_TIMEOUT):
        """Runs FN(*ARGS) on the loop thread and returns its result."""
        async def wrapper():
            return fn(*args)
        return self.run(wrapper(), timeout)


_reactor = None
# Every stream made. slixmpp leaves a pending filter task behind a closed
# stream; keeping the object alive keeps asyncio from printing "Task was
# destroyed but it is pending!" at garbage collection.
_streams = []


def reactor():
    global _reactor
    if _reactor is None:
        _reactor = _Reactor()
    return _reactor


class _AnyIqReply(MatcherBase):
    def __init__(self):
        super().__init__(None)

    def match(self, stanza):
        x = stanza.xml
        return (x.tag.endswith("}iq") and x.get("type") in ("result", "error"))


def _describe(item):
    if isinstance(item, tuple):
        item = item[0]
    return item if isinstance(item, str) else xml_str(item)


class StanzaQueue:
    """Thread-safe list of received stanzas (ElementTree elements) that a
    test waits on with a predicate. Stanzas are never consumed implicitly:
    wait_for returns the first match not yet returned."""

    def __init__(self):
        self._items = []
        self._taken = set()
        self._cond = threading.Condition()

    def put(self, el):
        with self._cond:
            self._items.append(el)
            self._cond.notify_all()

    def all(self):
        with self._cond:
            return list(self._items)

    def take_all(self):
        """Every stanza not returned yet, now marked returned."""
        with self._cond:
            out = [el for i, el in enumerate(self._items)
                   if i not in self._taken]
            self._taken.update(range(len(self._items)))
            return out

    def wait_for(self, pred=lambda el: True, timeout=IQ_TIMEOUT, what=None):
        timeout = scaled(timeout)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, el in enumerate(self._items):
                    if i not in self._taken and pred(el):
                        self._taken.add(i)
                        return el
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "no stanza matching %s within %.0f s; got:\n%s" % (
                            what or "predicate", timeout,
                            "\n".join(_describe(e) for e in self._items[-10:])))
                self._cond.wait(left)


class Client:
    """A synchronous XMPP client (slixmpp ClientXMPP on the shared loop).

    Logs in with SASL over plain TCP (no TLS: the test Prosody offers
    none), sends initial presence unless presence=None, and records every
    <message/> and <presence/> it receives (self.messages, self.presences).
    """

    def __init__(self, prosody, user, password=None, resource=None,
                 presence="available", register=False):
        if register or user not in prosody.users:
            prosody.register(user, password or "pw")
        self.prosody = prosody
        self.user = user
        self.jid = "%s@%s" % (user, DOMAIN)
        self.password = password or prosody.users.get(user, "pw")
        self.resource = resource or "rb-" + uuid.uuid4().hex[:6]
        self.full_jid = "%s/%s" % (self.jid, self.resource)
        self.initial_presence = presence
        self.messages = StanzaQueue()
        self.presences = StanzaQueue()
        self._pending = {}
        self._lock = threading.Lock()
        self.xmpp = None
        self._seq = 0

    # -- connection

    def _make(self):
        x = slixmpp.ClientXMPP(self.full_jid, self.password)
        _streams.append(x)
        x.loop = reactor().loop
        x["feature_mechanisms"].unencrypted_plain = True
        x.whitespace_keepalive = False
        x.auto_reconnect = False
        x.register_handler(Callback("rbtest iq replies", _AnyIqReply(),
                                    self._on_iq_reply))
        # Every <message/>, not only slixmpp's "message" event (which
        # needs a jabber:client <body/>): tests look at what arrived.
        x.register_handler(Callback("rbtest messages",
                                    MatchXPath("{%s}message" % NS_CLIENT),
                                    lambda m: self.messages.put(
                                        copy.deepcopy(m.xml))))
        x.add_event_handler("presence", lambda p: self.presences.put(
            copy.deepcopy(p.xml)))
        return x

    def connect(self, timeout=30.0):
        fut = concurrent.futures.Future()

        def on_start(_):
            if not fut.done():
                fut.set_result(True)

        def on_fail(why):
            if not fut.done():
                fut.set_exception(RuntimeError(
                    "%s: cannot log in: %s" % (self.full_jid, why)))

        def setup():
            self.xmpp = self._make()
            self.xmpp.add_event_handler("session_start", on_start)
            self.xmpp.add_event_handler("failed_auth", on_fail)
            self.xmpp.add_event_handler("connection_failed", on_fail)
            self.xmpp.add_event_handler("disconnected", on_fail)
            self.xmpp.connect(("127.0.0.1", self.prosody.c2s_port),
                              force_starttls=False, disable_starttls=True)

        reactor().call(setup)
        fut.result(timeout)
        if self.initial_presence:
            self.send_presence(self.initial_presence)
        return self

    def disconnect(self, timeout=10.0):
        """Ends the stream cleanly (</stream:stream>): the server sends
        unavailable presence for this resource."""
        if self.xmpp is None:
            return
        x, self.xmpp = self.xmpp, None

        async def bye():
            try:
                await asyncio.wait_for(x.disconnect(wait=2.0), timeout)
            except Exception:
                x.abort()
        try:
            reactor().run(bye(), timeout + 5)
        except Exception:
            pass

    def abort(self):
        """Drops the TCP connection without closing the stream."""
        if self.xmpp is not None:
            x, self.xmpp = self.xmpp, None
            reactor().call(x.abort)

    # -- sending

    def next_id(self, prefix="rb"):
        with self._lock:
            self._seq += 1
            return "%s-%d-%s" % (prefix, self._seq, uuid.uuid4().hex[:6])

    def send_raw(self, xml):
        x = self.xmpp
        reactor().call(lambda: x.send_raw(xml))

    def send_message(self, to, body, mtype="chat", extra="", id=None):
        """Sends a message (EXTRA: raw XML children appended); returns its id."""
        mid = id or self.next_id("m")
        self.send_raw("<message xmlns='jabber:client' to='%s' type='%s' "
                      "id='%s'><body>%s</body>%s</message>" % (
                          xml_escape(to), mtype, mid, xml_escape(body), extra))
        return mid

    def send_presence(self, kind="available", status=None):
        """KIND: available | away | xa | dnd | chat | unavailable."""
        inner = ""
        attrs = ""
        if kind == "unavailable":
            attrs = " type='unavailable'"
        elif kind not in ("available", None):
            inner += "<show>%s</show>" % kind
        if status:
            inner += "<status>%s</status>" % xml_escape(status)
        self.send_raw("<presence xmlns='jabber:client'%s>%s</presence>"
                      % (attrs, inner))
        self.sync()

    def sync(self, timeout=IQ_TIMEOUT):
        """A ping round trip to the server: everything sent before it has
        been processed (and routed onwards) when this returns."""
        self.iq("<iq type='get' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>"
                % DOMAIN, timeout)

    def _on_iq_reply(self, stanza):
        with self._lock:
            fut = self._pending.pop(stanza.xml.get("id"), None)
        if fut is not None and not fut.done():
            fut.set_result(copy.deepcopy(stanza.xml))

    def iq(self, xml, timeout=IQ_TIMEOUT):
        """Sends XML, an <iq/> (text; an id is added when it has none),
        and returns the reply (result or error) as an Element.
        Raises AssertionError when none arrives within TIMEOUT."""
        el = ET.fromstring(xml) if isinstance(xml, str) else xml
        if not isinstance(xml, str):
            xml = xml_str(xml)
        iq_id = el.get("id")
        if iq_id is None:
            iq_id = self.next_id("iq")
            xml = xml.replace("<iq", "<iq id='%s'" % iq_id, 1)
        if "xmlns=" not in xml.split(">", 1)[0]:
            xml = xml.replace("<iq", "<iq xmlns='jabber:client'", 1)
        fut = concurrent.futures.Future()
        with self._lock:
            self._pending[iq_id] = fut
        self.send_raw(xml)
        timeout = scaled(timeout)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            with self._lock:
                self._pending.pop(iq_id, None)
            raise AssertionError("no reply to iq %s within %.0f s: %s" % (
                iq_id, timeout, xml[:300]))

    def iq_nowait(self, xml):
        """Sends an <iq/> (must carry an id) and returns a Future of its reply."""
        el = ET.fromstring(xml)
        fut = concurrent.futures.Future()
        with self._lock:
            self._pending[el.get("id")] = fut
        self.send_raw(xml)
        return fut

    # -- common queries

    def ping(self, to=GATEWAY, timeout=IQ_TIMEOUT):
        """The reply (Element) to an XEP-0199 ping."""
        return self.iq("<iq type='get' to='%s'><ping xmlns='urn:xmpp:ping'/>"
                       "</iq>" % to, timeout)

    def disco_info(self, to=GATEWAY, node=None, timeout=IQ_TIMEOUT):
        n = " node='%s'" % xml_escape(node) if node else ""
        return self.iq("<iq type='get' to='%s'><query xmlns='%s'%s/></iq>"
                       % (to, NS_DISCO_INFO, n), timeout)

    def disco_items(self, to=GATEWAY, node=None, timeout=IQ_TIMEOUT):
        n = " node='%s'" % xml_escape(node) if node else ""
        return self.iq("<iq type='get' to='%s'><query xmlns='%s'%s/></iq>"
                       % (to, NS_DISCO_ITEMS, n), timeout)

    def wait_message(self, from_=None, body=None, mtype=None,
                     timeout=IQ_TIMEOUT):
        """The next received <message/> from bare JID FROM_ (if given) whose
        body equals BODY / type equals MTYPE (if given)."""
        def pred(m):
            if from_ is not None and bare(m.get("from")) != from_:
                return False
            if mtype is not None and m.get("type", "normal") != mtype:
                return False
            if body is not None:
                b = m.find(q(NS_CLIENT, "body"))
                if b is None or (b.text or "") != body:
                    return False
            return True
        return self.messages.wait_for(pred, timeout, what="message from=%s "
                                      "body=%r type=%s" % (from_, body, mtype))


# ---------------------------------------------------------------------------
# the queue, read-only


def query_ro(path, sql, args=()):
    """Rows (tuples) of SQL on the SQLite file PATH, opened read-only for
    this one query, so a test never holds a lock the processes need."""
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


class QueueDB:
    """Read-only view of a component's queue (schema: queue/, schemas/):
    the SQLite file PATH, or with URL (and PG, its rbpostgres.PgCluster)
    a PostgreSQL database. Queries are written with ? placeholders for
    both. Each call opens its own short connection."""

    def __init__(self, path, url=None, pg=None):
        self.path = pathlib.Path(path)
        self.url = url
        self.pg = pg

    def _connect(self):
        con = sqlite3.connect("file:%s?mode=ro" % self.path, uri=True,
                              timeout=10.0)
        con.row_factory = sqlite3.Row
        return con

    def exists(self):
        if self.pg:
            return bool(self.pg.psql("SELECT to_regclass('jobs')",
                                     db=self.url.rsplit("/", 1)[1]).strip())
        return self.path.exists()

    def query(self, sql, args=()):
        if self.pg:
            return self.pg.query(self.url, sql.replace("?", "%s"), args)
        if not self.path.exists():
            raise sqlite3.OperationalError("no database yet: %s" % self.path)
        con = self._connect()
        try:
            return [dict(r) for r in con.execute(sql, args).fetchall()]
        finally:
            con.close()

    def registration(self, jid):
        rows = self.query("SELECT * FROM registrations WHERE jid = ?", (jid,))
        return rows[0] if rows else None

    def jobs(self, **where):
        """Jobs matching column=value filters, in id order."""
        sql = "SELECT * FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join("%s = ?" % k for k in where)
        return self.query(sql + " ORDER BY id", tuple(where.values()))

    def job_messages(self, job_id=None):
        if job_id is None:
            return self.query("SELECT * FROM job_messages ORDER BY job_id, seq")
        return self.query("SELECT * FROM job_messages WHERE job_id = ? "
                          "ORDER BY seq", (job_id,))

    def count(self, table):
        return self.query("SELECT count(*) AS n FROM %s" % table)[0]["n"]


# The queue every fixture of this run uses: RB_TEST_QUEUE=postgresql puts
# them all on one private PostgreSQL cluster (rbpostgres.py), started at
# the first use and stopped at exit, a database per fixture; otherwise a
# SQLite file in the fixture's directory.
_pg_cluster = None


def queue_postgresql():
    return os.environ.get("RB_TEST_QUEUE", "sqlite") == "postgresql"


def _pg():
    global _pg_cluster
    if _pg_cluster is None:
        import rbpostgres
        _pg_cluster = rbpostgres.PgCluster().start()
        atexit.register(_pg_cluster.stop)
    return _pg_cluster


def queue_for(directory):
    """(config section, QueueDB) of a new queue for a fixture living in
    DIRECTORY: a [queue] section for its INI file (on PostgreSQL with a
    password_file, so the password is in neither the URL nor argv)."""
    directory = pathlib.Path(directory)
    path = directory / "queue.db"
    if not queue_postgresql():
        return {"url": "sqlite:%s" % path}, QueueDB(path)
    pg = _pg()
    url = pg.create_db("rb_%s" % uuid.uuid4().hex[:12])
    pwfile = directory / "queue.password"
    pwfile.write_text(pg.password + "\n")
    os.chmod(pwfile, 0o600)
    return ({"url": url, "password_file": str(pwfile)},
            QueueDB(path, url=url, pg=pg))


def queue_presence_write(db_path, jid, source, state, status=None):
    """Writes a latest-wins presence row and wakes QUEUE_CH_PRESENCE
    listeners, as queue_presence_set() does: what the bridge writes for a
    phone's state (source "sip"), for component-level tests."""
    con = sqlite3.connect(str(db_path), timeout=10.0)
    try:
        with con:
            con.execute(
                "INSERT INTO presence (jid, source, state, status, "
                "updated_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (jid, source) "
                "DO UPDATE SET state = excluded.state, status = "
                "excluded.status, updated_ms = excluded.updated_ms",
                (jid, source, state, status, int(time.time() * 1000)))
    finally:
        con.close()
    queue_wake(db_path, QUEUE_CH_PRESENCE)


QUEUE_CH_PRESENCE = 1 << 3


def queue_wake(db_path, channels):
    """Sends CHANNELS to every listener socket in DB_PATH.wake whose mask
    matches (queue_wake.c: "<mask-hex>-...sock", a 4-byte mask)."""
    d = pathlib.Path(str(db_path) + ".wake")
    if not d.is_dir():
        return
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        for f in d.iterdir():
            m = re.match(r"([0-9a-fA-F]+)-.*\.sock$", f.name)
            if not m or not int(m.group(1), 16) & channels:
                continue
            try:
                s.sendto(struct.pack("=I", int(m.group(1), 16) & channels),
                         str(f))
            except OSError:
                pass
    finally:
        s.close()


# ---------------------------------------------------------------------------
# the component


class Component:
    """ringbridge-component against PROSODY, with its own INI config and
    SQLite queue in a temporary directory.

    policy/sections: extra keys, e.g. policy={"direct_dial": "false"},
    sections={"texts": {...}}. Values are written as given."""

    DEFAULT_POLICY = {
        "allowed_prefixes": "+1,+44",
        "allowed_sip_domains": "sip.localhost",
        "calls_per_callee_per_hour": "100",
        "calls_per_sender_per_hour": "100",
        "coalesce_seconds": "0",
        "direct_dial": "false",
    }

    def __init__(self, prosody, policy=None, sections=None, binary=None,
                 env=None):
        self.prosody = prosody
        self.env = env  # the process's environment; None: the test's
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="rb-component-"))
        self.config = self.dir / "ringbridge.ini"
        self.db_path = self.dir / "queue.db"
        self.log = self.dir / "component.log"
        self.binary = pathlib.Path(binary or COMPONENT_BIN)
        self.proc = None
        self._exit_expected = True
        self.queue_section, self.db = queue_for(self.dir)
        pol = dict(self.DEFAULT_POLICY)
        pol.update(policy or {})
        conf = {
            "xmpp": {"host": "127.0.0.1", "port": str(prosody.component_port),
                     "domain": prosody.component, "secret": prosody.secret,
                     "user_domains": DOMAIN},
            "queue": dict(self.queue_section),
            "policy": pol,
            "log": {"level": "debug"},
        }
        for sec, kv in (sections or {}).items():
            conf.setdefault(sec, {}).update(kv)
        lines = ["; Written by test/integration/rbtest.py for one test run."]
        for sec, kv in conf.items():
            lines.append("[%s]" % sec)
            lines.extend("%s = %s" % (k, v) for k, v in kv.items())
            lines.append("")
        self.config.write_text("\n".join(lines))

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        _require_binary(self.binary)
        with open(self.log, "ab") as f:
            f.write(b"---- start ----\n")
        # Sanitizer options come from the environment (scripts/test sets
        # them); reports go to stderr, which is the log.
        self.proc = rb_spawn([self.binary, "-c", self.config], self.log,
                             cwd=str(self.dir), env=self.env)
        self._exit_expected = False
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, client, timeout=30.0):
        """Until a disco#info to the component from CLIENT gets a result
        (Prosody answers an error while the component is not connected)."""
        timeout = scaled(timeout)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                self._exit_expected = True  # reported here, not again
                raise AssertionError("component exited with %s:\n%s" % (
                    self.proc.returncode, tail(self.log)))
            try:
                last = client.disco_info(GATEWAY, timeout=5.0)
                if last.get("type") == "result":
                    return last
            except AssertionError:
                pass
            time.sleep(0.2)
        raise AssertionError("component not ready after %.0f s (last: %s):\n%s"
                             % (timeout, xml_str(last) if last is not None
                                else None, tail(self.log)))

    def sanitizer_report(self):
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        found = [m for m in SANITIZER_MARKERS if m in text]
        return (found, text) if found else None

    def check_sanitizers(self):
        rep = self.sanitizer_report()
        if rep:
            raise AssertionError("sanitizer report in %s (%s):\n%s" % (
                self.log, ", ".join(rep[0]), tail(self.log, 120)))

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait (SIGKILL after TIMEOUT), then fail on sanitizer
        reports or on an exit nobody asked for (a crash). Returns the exit
        status."""
        if self.proc is None:
            return None
        died = self.proc.poll() is not None and not self._exit_expected
        rc = _terminate(self.proc, timeout)
        self._exit_expected = True
        self.check_sanitizers()
        if died:
            raise AssertionError("component exited by itself with status %s:"
                                 "\n%s" % (rc, tail(self.log)))
        return rc

    def kill(self):
        """SIGKILL (a crash the test causes on purpose)."""
        if self.proc is not None:
            self._exit_expected = True
            _terminate(self.proc, STOP_TIMEOUT, signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        """Stops the component; its directory (config, queue, log) is
        removed only when that went well and RB_KEEP_TMP is unset."""
        self.stop()
        if not os.environ.get("RB_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def ctl(self, *args, check=True, timeout=60):
        """Runs ringbridgectl -c CONFIG ARGS; returns the CompletedProcess."""
        _require_binary(CTL_BIN)
        r = rb_run([CTL_BIN, "-c", self.config, *args], timeout=timeout,
                   capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError("ringbridgectl %s failed (%d): %s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def register_user(self, jid, phone):
        """Operator registration (trusted, verified)."""
        return self.ctl("register", jid, phone)


# ---------------------------------------------------------------------------
# the base test case


class IntegrationTest(unittest.TestCase):
    """Owns every process a test starts: Prosody, components, clients are
    stopped in reverse order by cleanups, whatever the test's outcome."""

    prosody_options = {}
    component_policy = None
    component_sections = None
    component_env = None
    # The XMPP server class: Prosody, or rbejabberd.Ejabberd (same
    # interface), so one story can run on either server.
    server_class = None

    def start_prosody(self, **kw):
        opts = dict(self.prosody_options)
        opts.update(kw)
        p = (self.server_class or Prosody)(**opts)
        self.addCleanup(self._cleanup_prosody, p)
        p.start()
        return p

    def _cleanup_prosody(self, p):
        p.cleanup()
        if os.environ.get("RB_KEEP_TMP"):
            sys.stderr.write("prosody dir kept: %s\n" % p.dir)

    def start_component(self, prosody, start=True, **kw):
        kw.setdefault("policy", self.component_policy)
        kw.setdefault("sections", self.component_sections)
        kw.setdefault("env", self.component_env)
        c = Component(prosody, **kw)
        self.addCleanup(c.cleanup)
        if start:
            c.start()
        return c

    def client(self, prosody, user, presence="available", **kw):
        c = Client(prosody, user, presence=presence, **kw)
        self.addCleanup(c.disconnect)
        return c.connect()


def jid(user):
    return "%s@%s" % (user, DOMAIN)


def only_own_tests(cls):
    """Hides the test methods CLS inherits, however the tests are
    selected: for a class that reuses another's fixtures, not its tests."""
    inherited = {n for base in cls.__mro__[1:] for n in vars(base)
                 if n.startswith("test_")}
    for name in inherited - set(vars(cls)):
        setattr(cls, name, None)
    return cls


class ComponentTest(IntegrationTest):
    """Prosody + the component + alice online, ready before each test.

    USERS get accounts; OPERATOR_REGISTRATIONS ({user: phone}) are
    registered with ringbridgectl before the component starts, and the
    set-up waits until Prosody has stored the component's push
    registration for each of them (so a message sent next is pushed)."""

    users = ("alice",)
    operator_registrations = {}

    def setUp(self):
        self.prosody = self.start_prosody()
        for u in sorted(set(self.users) | set(self.operator_registrations)
                        | {"alice"}):
            self.prosody.register(u)
        self.comp = self.start_component(self.prosody, start=False)
        self.db = self.comp.db
        for u, phone in sorted(self.operator_registrations.items()):
            self.comp.register_user(jid(u), phone)
        self.comp.start()
        self.alice = self.client(self.prosody, "alice")
        self.addCleanup(self._logs_on_failure)
        self.comp.wait_ready(self.alice)
        if getattr(self.prosody, "grants_push", True):
            for u in sorted(self.operator_registrations):
                self.prosody.wait_push_enabled(u)

    def _logs_on_failure(self):
        """Runs before the fixtures' own cleanups (LIFO): on a failed test,
        shows the end of the component's log and Prosody's non-debug log."""
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return
        res = getattr(outcome, "result", None)
        failed = not getattr(outcome, "success", True) or any(
            t is self for t, _ in getattr(res, "failures", [])
            + getattr(res, "errors", []))
        if not failed:
            return
        lines = [l for l in self.prosody.log_text().splitlines()
                 if "\tdebug\t" not in l and " [debug] " not in l]
        sys.stderr.write("\n--- %s: component log %s (end) ---\n%s"
                         "--- server log (end, no debug) ---\n%s\n" % (
                             self.id(), self.comp.log, tail(self.comp.log, 80),
                             "\n".join(lines[-30:])))

    # -- queue assertions

    def wait_messages(self, callee, n, timeout=20.0, kind=1):
        """Until N job messages exist for CALLEE's message jobs; returns
        (jobs, messages) for that callee."""
        def ready():
            jobs = self.db.jobs(callee_jid=callee, kind=kind)
            msgs = [m for j in jobs for m in self.db.job_messages(j["id"])]
            return (jobs, msgs) if len(msgs) >= n else None
        return wait_until(ready, timeout,
                          what="%d caught message(s) for %s" % (n, callee))

    def message_jobs(self, **where):
        return self.db.jobs(kind=1, **where)
