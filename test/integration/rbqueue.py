# SPDX-License-Identifier: GPL-3.0-or-later
"""The queue as the integration tests see it: a fixture's new queue
(a SQLite file in its directory, or with RB_TEST_QUEUE=postgresql a
database on one private PostgreSQL cluster for the run), read-only views
of it, and the writes a component-level test makes in the bridge's place
(the events of a call, a phone's presence row and the wake-up that
announces it).

Reads open one short connection per query, so every read sees the latest
commit and a test never holds a lock the processes need.
"""

import atexit
import os
import pathlib
import re
import socket
import sqlite3
import struct
import time
import uuid

REPO = pathlib.Path(__file__).resolve().parents[2]

# The event types (EV_KEY, EV_VOICE, ...), read from queue/queue.h's enum
# queue_event_type, so the tests cannot drift from the C.
EV = {m.group(1): int(m.group(2)) for m in re.finditer(
    r"QUEUE_EV_(\w+) = (\d+)", (REPO / "queue" / "queue.h").read_text())}


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

    def write(self, statements):
        """Runs STATEMENTS ((sql, args) pairs, ? placeholders) in one
        transaction: the writes a test makes in a process's place."""
        if self.pg:
            self.pg.execute(self.url, [(sql.replace("?", "%s"), args)
                                       for sql, args in statements])
            return
        con = sqlite3.connect(str(self.path), timeout=10)
        try:
            with con:
                for sql, args in statements:
                    con.execute(sql, args)
        finally:
            con.close()

    def write_events(self, job_id, events, also=()):
        """The bridge's events for JOB_ID, in one commit as the bridge
        makes them: EVENTS are (type name as in EV, detail) or (type,
        detail, blob); ALSO, more (sql, args) for the same commit."""
        now = int(time.time() * 1000)
        self.write([("INSERT INTO events (job_id, type, detail, blob, "
                     "created_ms) VALUES (?, ?, ?, ?, ?)",
                     (job_id, EV[e[0]], e[1], e[2] if len(e) > 2 else None,
                      now)) for e in events] + list(also))


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
        # Tests run without fsync; a benchmark asks for it
        # (RB_TEST_PG_FSYNC=1), to compare with SQLite's synchronous=FULL.
        _pg_cluster = rbpostgres.PgCluster(
            fsync=os.environ.get("RB_TEST_PG_FSYNC") == "1").start()
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
