# SPDX-License-Identifier: GPL-3.0-or-later
"""A full queue disk never acknowledges a push it did not commit: the queue
file lives on a small tmpfs the test mounts (size=2m) and fills; messages
to offline bob are then answered "wait" (Prosody keeps the registration:
its log says "NOT increasing error count", or mod_ringbridge keeps the
pushes pending), the component logs the cause once for the whole episode,
and once the filler is deleted catching resumes by itself. With
mod_ringbridge the messages of the full-disk window are caught after space
returns, each once (0 lost); without it they stay in bob's offline storage,
unphoned, which the test only asserts for what the server says.

Cost: about 30 s for the two tests (COST 60). It runs in both builds: the
failure path of the writer thread and the queue's error mapping are C the
sanitizers should see. Needs root (mount); tests here run as root."""

import errno
import pathlib
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

import faultrun
import rbtest
from rbtest import jid

FS_SIZE = "2m"
FAIL_LINE = "cannot commit caught messages to the queue"
BACK_LINE = "caught messages commit to the queue again"


class SmallDisk:
    """A tmpfs of FS_SIZE mounted on a temporary directory; fill() writes a
    filler file until the filesystem is full, free() deletes it."""

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="rb-smalldisk-"))
        subprocess.run(["mount", "-t", "tmpfs", "-o",
                        "size=%s,mode=0755" % FS_SIZE, "tmpfs",
                        str(self.dir)], check=True)
        self.filler = self.dir / "filler"

    def fill(self, db_path):
        # SQLite writes into the space its WAL file already has after a
        # checkpoint: only an empty WAL makes every later commit need new
        # space, so the disk stays full for the component until free().
        db = sqlite3.connect(str(db_path), timeout=10)
        try:
            busy, _, _ = db.execute(
                "PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            db.close()
        if busy:
            raise AssertionError("the WAL could not be truncated")
        chunk = b"\0" * 4096
        with open(self.filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
        # Whatever is smaller than a page is gone too.
        with open(self.filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0")
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise

    def free(self):
        self.filler.unlink()

    def cleanup(self):
        subprocess.run(["umount", "-l", str(self.dir)], check=False)
        try:
            self.dir.rmdir()
        except OSError:
            pass


class _DiskFull(rbtest.IntegrationTest):
    module = False

    def setUp(self):
        super().setUp()
        self.disk = SmallDisk()
        self.addCleanup(self.disk.cleanup)
        self.prosody = self.start_prosody(ringbridge_module=self.module)
        for u in ("alice", "bob"):
            self.prosody.register(u)
        self.comp = self.start_component(
            self.prosody, start=False,
            sections={"queue": {"url": "sqlite:%s" %
                                (self.disk.dir / "queue.db")}})
        # The component is stopped (cleanups run last in, first out)
        # before the filesystem under its queue is unmounted.
        self.comp.db_path = self.disk.dir / "queue.db"
        self.comp.db = rbtest.QueueDB(self.comp.db_path)
        self.comp.register_user(jid("bob"), faultrun.BOB_PHONE)
        self.comp.start()
        self.alice = self.client(self.prosody, "alice")
        self.comp.wait_ready(self.alice)
        self.prosody.wait_push_enabled("bob")

    def bodies(self):
        return sorted(m["body"] for m in self.comp.db.job_messages())

    def comp_log(self):
        return self.comp.log.read_text(errors="replace")

    def fill_until_refused(self):
        """Fills the disk and writes to bob until a push is refused (the
        WAL may still have room for a few commits). Returns the bodies sent
        while full, the refused ones among them."""
        self.disk.fill(self.comp.db_path)
        sent = []
        for i in range(200):
            b = "while full %d" % i
            sent.append(b)
            self.alice.send_message(jid("bob"), b)
            self.alice.sync()
            if FAIL_LINE in self.comp_log():
                break
            time.sleep(0.05)
        self.assertIn(FAIL_LINE, self.comp_log(), "no commit ever failed")
        # A few more inside the episode: logged once, answered "wait".
        for i in range(5):
            b = "still full %d" % i
            sent.append(b)
            self.alice.send_message(jid("bob"), b)
        self.alice.sync()
        return sent

    def assert_logged_once(self):
        log = self.comp_log()
        self.assertEqual(log.count(FAIL_LINE), 1, "the cause, once")
        self.assertNotIn(BACK_LINE, log, "a commit while the disk is full")
        self.assertIn("No space left on device", log)


class DiskFullWithoutModuleTest(_DiskFull):
    module = False

    def test_wait_answers_and_catching_resumes(self):
        sent = self.fill_until_refused()
        rbtest.wait_until(
            lambda: "NOT increasing error count" in self.prosody.log_text(),
            20, what="Prosody taking the answers as wait errors")
        refused = len(sent) - len(self.bodies())
        self.assertGreater(refused, 0)
        sys.stderr.write("\n%d sent while full, %d refused\n"
                         % (len(sent), refused))
        self.assertTrue(self.prosody.push_registrations("bob"),
                        "bob's push registration dropped")
        self.assert_logged_once()
        self.disk.free()
        # No re-send without the module: a new message shows catching
        # works again, without restarting anything.
        self.alice.send_message(jid("bob"), "after")
        rbtest.wait_until(lambda: "after" in self.bodies(), 30,
                          what="catching resuming after space returned")
        rbtest.wait_until(lambda: BACK_LINE in self.comp_log(), 10,
                          what="the component saying commits work again")
        self.assertTrue(self.comp.running())


class DiskFullWithModuleTest(_DiskFull):
    module = True

    def test_window_caught_after_space_returns(self):
        pending = faultrun.pending_file(self.prosody)
        sent = self.fill_until_refused()
        rbtest.wait_until(pending.exists, 20,
                          what="mod_ringbridge keeping the refused pushes")
        held = len(sent) - len(self.bodies())
        self.assertGreater(held, 0)
        self.assertTrue(self.prosody.push_registrations("bob"))
        self.assert_logged_once()
        self.disk.free()
        t0 = time.monotonic()
        # The module re-sends on its back-off (up to 60 s between tries).
        rbtest.wait_until(lambda: self.bodies() == sorted(sent), 90,
                          what="every message of the window caught (got "
                          "%d of %d)" % (len(self.bodies()), len(sent)))
        rbtest.wait_until(lambda: not pending.exists(), 30,
                          what="the pending pushes answered")
        sys.stderr.write("\n%d sent while full, %d refused, all caught "
                         "%.1f s after space returned\n"
                         % (len(sent), held, time.monotonic() - t0))
        time.sleep(2.0)
        self.assertEqual(self.bodies(), sorted(sent), "caught twice")
        self.assertIn(BACK_LINE, self.comp_log())


if __name__ == "__main__":
    unittest.main()
