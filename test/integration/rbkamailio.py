# SPDX-License-Identifier: GPL-3.0-or-later
"""A private Kamailio 5.6 (Debian `kamailio`) for integration tests.

The test gives the routing part of the configuration; this fixture puts in
front of it what keeps two runs apart: the listen address on a loopback port
chosen per run (UDP, and TCP only when asked), no TLS, no auto aliases, and a
runtime directory, pid file and (when the config loads ctl/jsonrpcs) control
socket and FIFO inside a temporary directory. `-DD` keeps the main process in
the foreground so the test owns its pid and stops it with SIGTERM; `-E` logs
to stderr, which goes to a file kept for failure messages. Databases are
per-run SQLite files made from Kamailio's own schema files
(/usr/share/kamailio/db_sqlite/NAME-create.sql).

Placeholders in the test's text: @PORT@ (the SIP port), @DIR@ (the
temporary directory), @DB_URL@ (sqlite:// URL of the per-run database),
@ADDR@ ("127.0.0.1:PORT"). PRESENCE_ROUTES below is a registrar + presence
server (presence, presence_xml, presence_dialoginfo, pua_dialoginfo, dialog)
that the presence tests use and docs/presence.md shows.
"""

import os
import pathlib
import shutil
import sqlite3
import subprocess

from rbproc import free_ports
from rbqueue import query_ro
from rbserver import Server

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"
SCHEMAS = pathlib.Path("/usr/share/kamailio/db_sqlite")

HEADER = """#!KAMAILIO
# Written by test/integration/rbkamailio.py for one test run.
debug={debug}
log_stderror=yes
fork=yes
children={children}
listen=udp:127.0.0.1:{port}
{tcp}
enable_tls=no
auto_aliases=no
alias="127.0.0.1:{port}"
{aliases}mpath="{modules}/"
"""

# Registrar + presence server, dialog state published by pua_dialoginfo for
# calls routed through it. Every domain is served (tests use made-up ones),
# so a request is routed by its user part: registered AORs are looked up in
# the location table.
PRESENCE_ROUTES = r"""
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "db_sqlite.so"
loadmodule "dialog.so"
loadmodule "presence.so"
loadmodule "presence_xml.so"
loadmodule "presence_dialoginfo.so"
loadmodule "pua.so"
loadmodule "pua_dialoginfo.so"

modparam("usrloc", "db_mode", 0)
modparam("dialog", "dlg_flag", 4)
modparam("presence", "db_url", "@DB_URL@")
modparam("presence", "server_address", "sip:@ADDR@")
modparam("presence", "db_update_period", 1)
modparam("presence", "subs_db_mode", 0)
modparam("presence_xml", "force_active", 1)
modparam("presence_xml", "integrated_xcap_server", 1)
modparam("pua", "db_url", "@DB_URL@")
modparam("pua", "db_mode", 0)
modparam("pua", "outbound_proxy", "sip:@ADDR@")
modparam("pua_dialoginfo", "include_callid", 1)
modparam("pua_dialoginfo", "include_tags", 1)

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (has_totag()) {
		if (loose_route()) {
			t_relay();
			exit;
		}
		if (is_method("SUBSCRIBE|NOTIFY") && uri == myself) {
			route(PRESENCE);
			exit;
		}
		if (is_method("ACK")) {
			if (t_check_trans()) {
				t_relay();
			}
			exit;
		}
		sl_send_reply("404", "Not here");
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) {
			t_relay();
		}
		exit;
	}
	remove_hf("Route");
	if (is_method("PUBLISH|SUBSCRIBE")) {
		route(PRESENCE);
		exit;
	}
	if (is_method("REGISTER")) {
		if (!save("location")) {
			sl_reply_error();
		}
		exit;
	}
	if (is_method("OPTIONS")) {
		sl_send_reply("200", "OK");
		exit;
	}
	if (is_method("INVITE")) {
		record_route();
		setflag(4);
		dlg_manage();
	}
	if (!lookup("location")) {
		sl_send_reply("404", "Not Found");
		exit;
	}
	t_relay();
	exit;
}

route[PRESENCE] {
	if (!t_newtran()) {
		sl_reply_error();
		exit;
	}
	if (is_method("PUBLISH")) {
		handle_publish();
	} else {
		handle_subscribe();
	}
	exit;
}
"""


def udp_inodes(port):
    """Inodes of the sockets bound to 127.0.0.1:PORT/udp (from
    /proc/net/udp: Kamailio answers nothing before its config says so)."""
    want = "0100007F:%04X" % port
    try:
        with open("/proc/net/udp") as f:
            return {line.split()[9] for line in f.readlines()[1:]
                    if line.split()[1] == want}
    except OSError:
        return set()


def udp_bound(port, pid=None):
    """True when something (process PID, when given) has bound
    127.0.0.1:PORT/udp. With PID, a port another process took while
    Kamailio restarted does not pass for Kamailio's."""
    inodes = udp_inodes(port)
    if pid is None or not inodes:
        return bool(inodes)
    fd_dir = "/proc/%d/fd" % pid
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return False
    links = set()
    for fd in fds:
        try:
            links.add(os.readlink(os.path.join(fd_dir, fd)))
        except OSError:
            pass  # closed since the listing
    return any("socket:[%s]" % i in links for i in inodes)


class Kamailio(Server):
    """One Kamailio process. ROUTES is the configuration after the fixture's
    header (placeholders above); SCHEMAS names the schema files to load into
    the per-run SQLite database ("presence", "usrloc", "dialog"...)."""

    name = "kamailio"

    def __init__(self, routes, *, schemas=(), tcp=False, debug=2,
                 port=None, domains=(), children=2):
        if not os.access(KAMAILIO, os.X_OK):
            raise AssertionError("kamailio is not installed")
        super().__init__()
        self.port = port or free_ports(1)[0]
        self.addr = "127.0.0.1:%d" % self.port
        self.uri = "sip:" + self.addr
        self.db = self.dir / "kamailio.sqlite"
        # db_sqlite drops the first "/" after "sqlite://".
        self.db_url = "sqlite:///%s" % self.db
        self.pid_file = self.dir / "kamailio.pid"
        self.run_dir = self.dir / "run"
        self.run_dir.mkdir()
        self._make_db(schemas)
        aliases = "".join('alias="%s"\n' % d for d in domains)
        text = HEADER.format(debug=debug, port=self.port, modules=MODULES,
                             aliases=aliases, children=children,
                             tcp=("listen=tcp:127.0.0.1:%d" % self.port
                                  if tcp else "disable_tcp=yes"))
        text += self.substitute(routes)
        if "ctl.so" in text:
            text += '\nmodparam("ctl", "binrpc", "unix:%s/ctl.sock")\n' % \
                self.run_dir
        if "jsonrpcs.so" in text:
            text += ('\nmodparam("jsonrpcs", "fifo_name", "%s/rpc.fifo")\n'
                     'modparam("jsonrpcs", "dgram_socket", '
                     '"%s/rpc.sock")\n' % (self.run_dir, self.run_dir))
        self.config = self.dir / "kamailio.cfg"
        self.config.write_text(text)

    def substitute(self, text):
        for k, v in (("PORT", self.port), ("DIR", self.dir),
                     ("DB_URL", self.db_url), ("ADDR", self.addr)):
            text = text.replace("@%s@" % k, str(v))
        return text

    def _make_db(self, schemas):
        if not schemas:
            return
        con = sqlite3.connect(self.db)
        try:
            # WAL is a property of the file, so Kamailio's connections use
            # it too: a test reading the presentity table while Kamailio
            # commits no longer makes that commit fail with "database is
            # locked" (db_sqlite sets no busy timeout), which lost an
            # unPUBLISH once in CI.
            con.execute("PRAGMA journal_mode=WAL")
            for name in ("standard",) + tuple(schemas):
                con.executescript((SCHEMAS / ("%s-create.sql" % name))
                                  .read_text())
            con.commit()
        finally:
            con.close()

    def check(self):
        """Runs `kamailio -c` on the config; raises with its output."""
        r = subprocess.run([KAMAILIO, "-c", "-f", str(self.config),
                            "-Y", str(self.run_dir)], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("kamailio config check failed:\n%s%s" % (
                r.stdout, r.stderr))

    def _argv(self):
        return [KAMAILIO, "-DD", "-E", "-f", str(self.config),
                "-Y", str(self.run_dir), "-P", str(self.pid_file),
                "-m", "64", "-M", "8", "-w", str(self.dir)]

    def _ready(self):
        # Children start just after the bind; a request sent now waits in
        # the socket buffer, so nothing more to wait for.
        return udp_bound(self.port, self.proc.pid)

    def _released(self):
        # The main process ends its children before it exits, so the port
        # is free once it has: anything else is a Kamailio left behind.
        return not udp_bound(self.port)

    def query(self, sql, args=()):
        return query_ro(self.db, sql, args)


def start(testcase, routes, **kw):
    """Starts a Kamailio for TESTCASE and stops it in its cleanup."""
    k = Kamailio(routes, **kw)
    testcase.addCleanup(k.cleanup)
    return k.start()


def presence_server(testcase, **kw):
    """Kamailio as registrar + presence server (PRESENCE_ROUTES). One SIP
    worker: db_sqlite sets no busy timeout, so two workers updating the
    presentity table at once (a call's caller and callee PUBLISHes) fail
    with "database is locked" and the update is lost."""
    kw.setdefault("children", 1)
    return start(testcase, PRESENCE_ROUTES,
                 schemas=("presence", "usrloc", "dialog"), **kw)
