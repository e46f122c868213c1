# SPDX-License-Identifier: GPL-3.0-or-later
"""A private PostgreSQL 15 cluster for tests (TESTING.md "PostgreSQL 15").

PgCluster makes a temporary directory owned by postgres, runs initdb into it
with scram-sha-256 and a generated password, and starts the server with
pg_ctl on 127.0.0.1 and a port chosen per run (socket in the directory, so
nothing is shared with another test or the Debian cluster). The password
goes to a pgpass file (mode 0600) whose path env() hands to clients as
PGPASSFILE, so no password is ever on a command line or in a URL. stop()
runs pg_ctl stop (fast), which signals the postmaster by the pid in its
pid file. Run as root (as the test machines are).

Also a command-line fixture for ctest and the benchmarks:
  rbpostgres.py run [--fsync] -- CMD ARGS...
starts a cluster (with fsync on when asked: tests run without), runs CMD
with RB_TEST_PG_URL (a URI without password, database "postgres") and
PGPASSFILE in its environment, stops the cluster, and exits with CMD's
status.
"""

import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

from rbproc import free_ports, tail

PG_BIN = "/usr/lib/postgresql/15/bin"


class PgCluster:
    def __init__(self, user="postgres", fsync=False, listen=(),
                 settings=()):
        """LISTEN: addresses to listen on besides 127.0.0.1 (another
        "host"'s link, rbnetns.py), each let in with a password from its
        /24; SETTINGS: more "name=value" server settings."""
        # Tests run without fsync (nothing they check needs a power cut);
        # benchmarks ask for it, to compare with SQLite's synchronous=FULL.
        self.fsync = fsync
        self.listen = list(listen)
        self.settings = list(settings)
        self.user = user
        self.password = secrets.token_hex(16)
        self.port = None
        self.dir = None
        self.started = False

    def _as_postgres(self, argv, **kw):
        return subprocess.run(["runuser", "-u", "postgres", "--"] + argv,
                              check=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, **kw)

    def start(self):
        if not os.path.exists(os.path.join(PG_BIN, "initdb")):
            raise RuntimeError("PostgreSQL 15 is not installed "
                               "(apt-get install postgresql)")
        pg = pwd.getpwnam("postgres")
        self.dir = tempfile.mkdtemp(prefix="rb-pg-")
        os.chown(self.dir, pg.pw_uid, pg.pw_gid)
        os.chmod(self.dir, 0o700)
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        os.chown(pwfile, pg.pw_uid, pg.pw_gid)
        os.chmod(pwfile, 0o600)
        self._as_postgres([os.path.join(PG_BIN, "initdb"), "-D", self.data,
                           "-A", "scram-sha-256", "-U", self.user,
                           "--pwfile", pwfile, "-E", "UTF8",
                           "--no-sync"])
        os.unlink(pwfile)
        if self.listen:
            with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
                for a in self.listen:
                    f.write("host all all %s.0/24 scram-sha-256\n"
                            % a.rsplit(".", 1)[0])
        # The client's side: a pgpass that root (the tests) can read.
        self.passfile = tempfile.NamedTemporaryFile(
            "w", prefix="rb-pgpass-", delete=False)
        self.passfile.write("127.0.0.1:*:*:%s:%s\n" % (self.user,
                                                     self.password))
        self.passfile.close()
        os.chmod(self.passfile.name, 0o600)
        for _ in range(5):
            self.port = free_ports(1)[0]
            try:
                self._as_postgres([
                    os.path.join(PG_BIN, "pg_ctl"), "-D", self.data,
                    "-l", self.log, "-w", "-t", "30", "-o",
                    self._options(), "start"])
                self.started = True
                return self
            except subprocess.CalledProcessError:
                continue
        raise RuntimeError("PostgreSQL did not start: %s" % self.tail())

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    @property
    def log(self):
        return os.path.join(self.dir, "log")

    def tail(self, n=30):
        return tail(self.log, n)

    def url(self, db="postgres", host="127.0.0.1"):
        return "postgresql://%s@%s:%d/%s" % (self.user, host, self.port, db)

    def env(self, env=None):
        e = dict(os.environ if env is None else env)
        e["PGPASSFILE"] = self.passfile.name
        return e

    def psql(self, sql, db="postgres"):
        """Runs SQL with psql (as the test, over TCP with the pgpass)."""
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v",
                            "ON_ERROR_STOP=1", "-d", self.url(db), "-c",
                            sql], env=self.env(), check=True,
                           stdout=subprocess.PIPE, text=True)
        return r.stdout

    def _connect(self, url):
        import psycopg2
        return psycopg2.connect(url, password=self.password)

    def query(self, url, sql, args=()):
        """Rows (dicts) of SQL (%s placeholders) on the database at URL,
        through psycopg2 (Debian python3-psycopg2), one connection each."""
        import psycopg2.extras
        con = self._connect(url)
        try:
            con.set_session(readonly=True, autocommit=True)
            with con.cursor(cursor_factory=psycopg2.extras.RealDictCursor) \
                    as cur:
                cur.execute(sql, args)
                rows = [dict(r) for r in cur.fetchall()]
            for r in rows:
                for k, v in r.items():
                    if isinstance(v, memoryview):
                        r[k] = bytes(v)
            return rows
        finally:
            con.close()

    def execute(self, url, statements):
        """Runs STATEMENTS ((sql, args) pairs, %s placeholders; bytes go
        in as bytea) on the database at URL in one transaction."""
        con = self._connect(url)
        try:
            with con, con.cursor() as cur:
                for sql, args in statements:
                    cur.execute(sql, args)
        finally:
            con.close()

    def create_db(self, name):
        self.psql('CREATE DATABASE "%s"' % name)
        return self.url(name)

    def restart(self):
        # -l: the server must not inherit our stdout pipe (run() would
        # wait for it to close).
        self._as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data,
                           "-l", self.log, "-m", "fast", "-w", "restart",
                           "-o", self._options()])

    def _options(self):
        return ("-p %d -k %s -c listen_addresses=%s "
                "-c max_connections=200 -c fsync=%s%s"
                % (self.port, self.dir, ",".join(["127.0.0.1"] + self.listen),
                   "on" if self.fsync else "off",
                   "".join(" -c " + s for s in self.settings)))

    def stop(self):
        if self.started:
            try:
                self._as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D",
                                   self.data, "-m", "fast", "-w", "stop"])
            except subprocess.CalledProcessError:
                pass
            self.started = False
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        if getattr(self, "passfile", None):
            try:
                os.unlink(self.passfile.name)
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv):
    fsync = len(argv) > 2 and argv[2] == "--fsync"
    if fsync:
        argv = argv[:2] + argv[3:]
    if len(argv) < 4 or argv[1] != "run" or argv[2] != "--":
        sys.stderr.write("usage: rbpostgres.py run [--fsync] -- CMD ...\n")
        return 2
    t0 = time.monotonic()
    with PgCluster(fsync=fsync) as pg:
        sys.stderr.write("rbpostgres: cluster on port %d in %.1f s\n"
                         % (pg.port, time.monotonic() - t0))
        env = pg.env()
        env["RB_TEST_PG_URL"] = pg.url()
        rc = subprocess.call(argv[3:], env=env)
        if rc:
            sys.stderr.write(pg.tail())
        return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
