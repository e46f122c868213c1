# SPDX-License-Identifier: GPL-3.0-or-later
"""Processes of the integration tests: where the binaries are, how every
process a fixture runs is started and stopped, and the waits they share.

Each process is spawned with its output in a log file, recorded by pid, and
stopped by that pid (in a test's cleanup and again at exit), never by name.
A ringbridge binary runs under valgrind when RB_VALGRIND is set (rb_argv is
the one place that builds its command line), and every wait is stretched by
RB_TIME_SCALE. Loopback ports are chosen per run by free_ports().
"""

import atexit
import fcntl
import os
import pathlib
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD_DIR = pathlib.Path(os.environ.get("RB_BUILD_DIR", REPO / "build"))
COMPONENT_BIN = BUILD_DIR / "ringbridge-component"
CTL_BIN = BUILD_DIR / "ringbridgectl"

# Bounds: generous (a loaded CI machine), but every wait has one.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

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
    if "input" not in kw:
        kw.setdefault("stdin", subprocess.DEVNULL)
    r = subprocess.run(rb_argv(argv), timeout=scaled(timeout), **kw)
    check_valgrind()
    return r


# ---------------------------------------------------------------------------
# small utilities


# Ports for the servers a test starts come from below the kernel's
# ephemeral range, so no socket bound to port 0 (sipp's own, a resolver's,
# a client's) can be given one of them by the kernel between the choice
# and the server's bind (seen in CI: sipp's -p port, chosen as a released
# ephemeral TCP port, was taken by another process's UDP socket and sipp
# exited at once with "Unable to bind main socket"). Each chosen port is
# held by an flock on a file named after it for as long as this process
# lives, so tests running in parallel never choose the same port; and it is
# never handed out twice in one process (a port chosen for one server and
# not yet bound, Prosody's c2s chosen before it starts, must not go to the
# next fixture).
_PORT_LOCKS = pathlib.Path(tempfile.gettempdir()) / "ringbridge-test-ports"
_ports_held = {}


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _reserve(port):
    """Holds PORT for this process if no other test holds it and it is
    free for TCP and UDP on loopback right now."""
    if port in _ports_held:
        return False
    _PORT_LOCKS.mkdir(mode=0o1777, exist_ok=True)
    fd = os.open(_PORT_LOCKS / str(port), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(socket.AF_INET, kind) as s:
                s.bind(("127.0.0.1", port))
    except OSError:
        os.close(fd)
        return False
    _ports_held[port] = fd
    return True


def _release(port):
    os.close(_ports_held.pop(port))


def free_range(n, align=2):
    """The first of N consecutive loopback ports (a multiple of ALIGN: RTP
    ranges start even), all held for this process as free_ports' are."""
    low, high = 10000, _ephemeral_low() - n
    for _ in range(2000):
        base = random.randrange(low, high) // align * align
        got = []
        for port in range(base, base + n):
            if not _reserve(port):
                break
            got.append(port)
        if len(got) == n:
            return base
        for port in got:
            _release(port)
    raise AssertionError("no %d consecutive free ports below %d"
                         % (n, high + n))


def free_ports(n):
    """N distinct loopback ports, free for TCP and UDP, held for this
    process (see above)."""
    return [free_range(1, 1) for _ in range(n)]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def wait_until(fn, timeout=20.0, interval=0.1, what=None, logs=None):
    """Polls FN until it returns something truthy, which is returned.
    sqlite3 errors (database or table not created yet) count as "not yet".
    Raises AssertionError naming WHAT after TIMEOUT seconds, with LOGS()
    (the fixture's logs, read only then) when given."""
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
            if logs is not None:
                msg += "\n" + logs()
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


def wait_exit(proc, timeout, logs):
    """Waits for PROC (a peer such as sipp that ends by itself) to exit
    0 within TIMEOUT (stretched); otherwise stops it and fails with
    LOGS() (the fixture's logs, read only then)."""
    try:
        rc = proc.wait(scaled(timeout))
    except subprocess.TimeoutExpired:
        _terminate(proc, 5)
        raise AssertionError("%s did not finish:\n%s"
                             % (os.path.basename(proc.args[0]), logs()))
    _live.pop(proc.pid, None)
    if rc != 0:
        raise AssertionError("%s exited %d:\n%s"
                             % (os.path.basename(proc.args[0]), rc, logs()))


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
