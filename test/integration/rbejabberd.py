# SPDX-License-Identifier: GPL-3.0-or-later
"""A private ejabberd 23.01 (Debian's `ejabberd`) for integration tests,
with the interface of rbprosody.Prosody (both are rbserver.Server), so the
harness's Client and Component and the tests written on them run unchanged
against it.

TESTING.md and EJABBERD_NOTES.md say why it is started this way:
- its own config directory (ejabberd.yml, ejabberdctl.cfg, inetrc), spool
  and logs, all owned by the ejabberd user (ejabberdctl runs the server as
  that user even when started by root);
- every listener on 127.0.0.1, ports chosen per run;
- the Erlang distribution bound to 127.0.0.1 on a port chosen per run
  (ERL_DIST_PORT), so no epmd is started at all: nothing shared with other
  runs to stop afterwards, nothing listening beyond loopback;
- `ejabberdctl foreground` owned by the test; stopped with `ejabberdctl
  stop`, then, should that fail, by the pid ejabberd wrote (EJABBERD_PID_PATH).
Users are registered with `ejabberdctl register`.
"""

import os
import shutil
import signal
import subprocess
import unittest
import uuid

from rbclient import DOMAIN, GATEWAY, UPLOAD
from rbproc import free_ports, port_open, wait_until
from rbserver import Server

EJABBERDCTL = "ejabberdctl"


def yaml_str(s):
    """A double-quoted YAML scalar."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def require_ejabberd():
    """Skips the calling test, with the reason, when ejabberd is not
    installed (the one case where an ejabberd test may skip)."""
    if shutil.which(EJABBERDCTL) is None and not os.path.exists(
            "/usr/sbin/ejabberdctl"):
        raise unittest.SkipTest(
            "ejabberd is not installed: `apt-get install ejabberd` (Debian "
            "12 ships 23.01; scripts/lib/common.sh lists it in "
            "RB_PEER_PACKAGES)")


class Ejabberd(Server):
    """A private ejabberd on loopback ports chosen per run.

    Config (docs/ejabberd.md): host "localhost"; an ejabberd_service
    listener for COMPONENT with SECRET; mod_privilege granting the
    component presence managed_entity and message outgoing (ejabberd 23.01
    has no IQ privilege); mod_push with sender and body (for clients that
    enable push to the component themselves); with UPLOAD, mod_http_upload
    as upload.localhost on the HTTP listener, usable by the component only.
    Ports and the node name survive restart()."""

    name = "ejabberd"
    debug_markers = (" [debug] ",)
    # The ports get twice stop()'s timeout to close, as the VM gets to end
    # after `ejabberdctl stop` (_shutdown).
    release_factor = 2
    # What a test may rely on: no push enable by the component here.
    grants_push = False

    def __init__(self, *, secret=None, component=GATEWAY, upload=False,
                 debug=False, netns=None, **_ignored):
        require_ejabberd()
        super().__init__(mode=0o755)
        # NETNS (rbnetns.NetNs): ejabberd (and every ejabberdctl, whose
        # Erlang distribution is on that namespace's loopback) runs there,
        # listening on every address of it (test_component_halfopen).
        self._place(netns)
        (self.c2s_port, self.component_port, self.http_port,
         self.dist_port) = free_ports(4)
        self.secret = secret or "s3cret-" + uuid.uuid4().hex[:12]
        self.component = component
        self.upload = upload
        self.node = "rb%s@localhost" % uuid.uuid4().hex[:10]
        self.config = self.dir / "ejabberd.yml"
        self.ctl_config = self.dir / "ejabberdctl.cfg"
        self.spool = self.dir / "spool"
        self.log_dir = self.dir / "logs"
        self.upload_dir = self.dir / "upload"
        self.log = self.log_dir / "ejabberd.log"
        self.proc_log = self.dir / "ejabberd.stdout"
        self.pid_file = self.dir / "ejabberd.pid"
        for d in (self.spool, self.log_dir, self.upload_dir):
            d.mkdir()
        self.users = {}
        self._write_config(debug)

    def _write_config(self, debug):
        gw = yaml_str(self.component)
        upload_handler = upload_module = ""
        if self.upload:
            upload_handler = """
    request_handlers:
      /upload: mod_http_upload"""
            upload_module = """
  mod_http_upload:
    hosts:
      - {up}
    put_url: "http://127.0.0.1:{port}/upload"
    docroot: {docroot}
    access: ringbridge""".format(up=yaml_str(UPLOAD), port=self.http_port,
                                 docroot=yaml_str(self.upload_dir))
        text = """# Written by test/integration/rbejabberd.py for one test run.
hosts:
  - {domain}
loglevel: {level}
log_rotate_count: 0
certfiles: []
auth_method: internal
auth_password_format: plain
listen:
  -
    port: {c2s}
    ip: {host}
    module: ejabberd_c2s
    starttls: false
  -
    port: {comp}
    ip: {host}
    module: ejabberd_service
    hosts:
      {gw}:
        password: {secret}
  -
    port: {http}
    ip: {host}
    module: ejabberd_http{upload_handler}
acl:
  ringbridge:
    server: {gw}
access_rules:
  ringbridge:
    allow: ringbridge
  local:
    allow: all
  c2s:
    allow: all
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
modules:
  mod_admin_extra: {{}}
  mod_roster: {{}}
  mod_disco: {{}}
  mod_ping: {{}}
  mod_caps: {{}}
  mod_carboncopy: {{}}
  mod_offline: {{}}
  mod_stream_mgmt: {{}}
  mod_vcard: {{}}
  mod_pubsub: {{}}
  mod_push:
    include_sender: true
    include_body: true
  mod_privilege:
    presence:
      managed_entity: ringbridge
    message:
      outgoing: ringbridge{upload_module}
""".format(domain=yaml_str(DOMAIN), level="debug" if debug else "info",
           c2s=self.c2s_port, comp=self.component_port, gw=gw,
           host=yaml_str(self.bind),
           secret=yaml_str(self.secret), http=self.http_port,
           upload_handler=upload_handler, upload_module=upload_module)
        self.config.write_text(text)
        self.ctl_config.write_text(
            "# Written by test/integration/rbejabberd.py.\n"
            'ERL_OPTIONS="-kernel inet_dist_use_interface {127,0,0,1}"\n'
            "ERL_DIST_PORT=%d\n"
            "EJABBERD_PID_PATH=%s\n" % (self.dist_port, self.pid_file))
        # Without it Erlang complains on every start; resolves localhost.
        (self.dir / "inetrc").write_text(
            '{lookup,["file","native"]}.\n'
            '{host,{127,0,0,1}, ["localhost"]}.\n')

    def _chown(self):
        subprocess.run(["chown", "-R", "ejabberd:ejabberd", str(self.dir)],
                       check=True)

    def _ctl_argv(self, *args):
        return self._in_netns(
            [EJABBERDCTL, "--config-dir", str(self.dir),
             "--ctl-config", str(self.ctl_config),
             "--spool", str(self.spool), "--logs", str(self.log_dir),
             "--node", self.node] + [str(a) for a in args])

    @staticmethod
    def _env():
        env = dict(os.environ)
        env["ERL_EPMD_ADDRESS"] = "127.0.0.1"
        return env

    def ctl(self, *args, timeout=60, check=True):
        """Runs ejabberdctl ARGS against this node."""
        r = subprocess.run(self._ctl_argv(*args), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout,
                           env=self._env(), cwd=str(self.dir))
        if check and r.returncode != 0:
            raise RuntimeError("ejabberdctl %s failed (%d): %s%s" % (
                " ".join(map(str, args)), r.returncode, r.stdout, r.stderr))
        return r

    # -- lifecycle

    def _prepare(self):
        self._chown()

    def _argv(self):
        return self._ctl_argv("foreground")

    def _spawn_options(self):
        return {"cwd": str(self.dir), "env": self._env()}

    def _ready(self):
        return port_open(self.c2s_port, self.host) and port_open(
            self.component_port, self.host)

    def _released(self):
        return not port_open(self.c2s_port, self.host) and not port_open(
            self.component_port, self.host)

    def _server_pid(self):
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def _shutdown(self, timeout):
        pid = self._server_pid()
        try:
            self.ctl("stop", timeout=timeout * 4, check=False)
            self.proc.wait(timeout * 2)
        except subprocess.TimeoutExpired:
            # The Erlang VM runs under su in a session of its own: end it
            # by the pid it wrote; the base then stops the launcher by ours.
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    # -- accounts

    def register(self, user, password="pw"):
        # ejabberd opens its ports before mnesia has created every table:
        # a register that early fails with {no_exists,passwd,...} (seen
        # once in CI). That answer means "not yet", so it is retried; any
        # other failure is raised at once.
        def registered():
            r = self.ctl("register", user, DOMAIN, password, check=False)
            if r.returncode and "no_exists" not in r.stdout + r.stderr:
                raise RuntimeError("ejabberdctl register %s failed (%d): %s%s"
                                   % (user, r.returncode, r.stdout, r.stderr))
            return r.returncode == 0
        wait_until(registered, timeout=20, interval=0.5,
                   what="ejabberd's tables, to register " + user)
        self.users[user] = password
        return "%s@%s" % (user, DOMAIN)

    def offline_count(self, user):
        """How many messages ejabberd holds in USER's offline storage."""
        r = self.ctl("get_offline_count", user, DOMAIN)
        return int(r.stdout.strip())
