# SPDX-License-Identifier: GPL-3.0-or-later
"""The base of every server fixture the integration tests run: Prosody
(rbprosody.py), ejabberd (rbejabberd.py), Kamailio (rbkamailio.py), and the
component itself (rbtest.Component).

What they share lives here once: a temporary directory of the fixture's
own, the process started in the foreground and owned by its pid, the wait
until it serves (failing with the end of its logs when it exits instead),
the stop that waits until its ports are free again so that restart() can
bind the same ones, and the cleanup that keeps the directory when
RB_KEEP_TMP is set. Each fixture writes its configuration, chooses its
ports (rbproc.free_ports) and says how to run it and when it is up.
"""

import os
import pathlib
import shutil
import signal
import sys
import tempfile
import time

from rbproc import START_TIMEOUT, STOP_TIMEOUT, _spawn, _terminate, tail, \
    wait_until


class Server:
    """One server process in a directory of its own (self.dir).

    A fixture sets NAME (the directory's prefix, what messages call it)
    and supplies _argv() (the foreground command line), _ready() (true
    once it serves) and _released() (true once its ports are free); it may
    add _prepare() (run before each start), _spawn_options() (Popen
    keywords) and _shutdown() (a gentler stop tried before the signal).
    LOG is the server's own log, PROC_LOG where its stdout and stderr go
    (the same file unless the fixture says otherwise); log lines
    containing one of DEBUG_MARKERS are left out of failure_tail()."""

    name = "server"
    debug_markers = ()
    # Where clients reach it (HOST) and what it listens on (BIND):
    # loopback, or inside the network namespace it runs in (NETNS, an
    # rbnetns.NetNs) every address of that namespace, HOST being its link
    # 0's (the namespace is the test's own, so nothing else reaches them).
    host = bind = "127.0.0.1"
    netns = None
    # The ports' release may take this many times stop()'s timeout.
    release_factor = 1

    def __init__(self, mode=None):
        """MODE: the directory's permissions, for a server that runs as its
        own user and must reach its files (mkdtemp gives 0700)."""
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="rb-%s-" % self.name))
        if mode is not None:
            os.chmod(self.dir, mode)
        self.log = self.dir / ("%s.log" % self.name)
        self.proc_log = self.log
        self.proc = None

    # -- what a fixture supplies

    def _argv(self):
        raise NotImplementedError

    def _in_netns(self, argv):
        """ARGV run where the server runs (inside NETNS when it has one)."""
        return self.netns.argv(argv) if self.netns else list(argv)

    def _place(self, netns):
        """Runs the server inside NETNS (None: here, on loopback)."""
        self.netns = netns
        if netns is not None:
            self.host, self.bind = netns.inside(0), "0.0.0.0"

    def _ready(self):
        raise NotImplementedError

    def _released(self):
        raise NotImplementedError

    def _prepare(self):
        pass

    def _spawn_options(self):
        return {}

    def _shutdown(self, timeout):
        pass

    # -- lifecycle

    def start(self, timeout=START_TIMEOUT):
        """Starts the server and returns once _ready() holds; raises
        RuntimeError with the end of its logs when it exits first or is
        not ready after TIMEOUT seconds."""
        assert not self.running()
        self._prepare()
        self.proc = _spawn(self._argv(), self.proc_log,
                           **self._spawn_options())
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s:\n%s" % (
                    self.name, self.proc.returncode, self.log_tails()))
            if self._ready():
                return self
            if time.monotonic() > deadline:
                raise RuntimeError("%s not ready after %.0f s:\n%s" % (
                    self.name, timeout, self.log_tails()))
            time.sleep(0.1)

    def stop(self, timeout=STOP_TIMEOUT, sig=signal.SIGTERM):
        """Stops the server by its pid (_shutdown() first, then SIG, then
        SIGKILL after TIMEOUT) and waits until its ports are released, so
        that a restart can bind them again."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._shutdown(timeout)
        _terminate(self.proc, timeout, sig)
        wait_until(self._released, timeout * self.release_factor,
                   what="%s ports to close" % self.name)

    def restart(self):
        """Stops and starts again: same directory, same ports."""
        self.stop()
        return self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        """Stops the server and removes its directory, unless RB_KEEP_TMP
        is set: then the directory is kept for post-mortem, and named."""
        self.stop()
        if os.environ.get("RB_KEEP_TMP"):
            sys.stderr.write("%s dir kept: %s\n" % (self.name, self.dir))
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- logs

    def log_text(self):
        """The server's whole log ("" before it has written one)."""
        if not self.log.exists():
            return ""
        return self.log.read_text(errors="replace")

    def logs(self, n=80):
        """The end of the server's log, headed with its name."""
        return "--- %s ---\n%s" % (self.name, tail(self.log, n))

    def log_tails(self, n=60):
        """The end of the process's output and of the server's log (one
        of them when they are the same file): what a failure shows."""
        if self.proc_log == self.log:
            return tail(self.log, n)
        return "%s\n%s" % (tail(self.proc_log, n), tail(self.log, n))

    def failure_tail(self, n=30):
        """The last N lines of the server's log without its debug lines,
        for a failed test's report."""
        lines = [l for l in self.log_text().splitlines()
                 if not any(m in l for m in self.debug_markers)]
        return "\n".join(lines[-n:])
