"""A real, private MariaDB server for the dialogue tests.

    with MariaDB() as db:
        db.sql("CREATE TABLE t (a INT)")
        db.query("SELECT a FROM t")     # -> [("1",), ...]

It runs Debian's mariadbd with its own data directory, socket and a free
loopback port, never the system's server, and is always stopped (also
when a test fails). A user with a password is created for popserv:
db.user / db.password on database db.database.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from pop3test import Server, TestCase, free_port

MARIADBD = shutil.which("mariadbd", path="/usr/sbin:/usr/bin:/sbin:/bin") \
    or "mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "mariadb-install-db"
CLIENT = shutil.which("mariadb") or shutil.which("mysql") or "mariadb"
START_TIMEOUT = 30.0
USERS_QUERY = "SELECT pw, uid, gid, home, shell FROM users WHERE name = '%u'"


def userdb_mysql_server(test, host, user, password, database,
                        query=USERS_QUERY, conf="", **kw):
    """A started pop3test.Server whose user database is MySQL at host
    (host:port) with these credentials and query; conf comes before the
    userdb.* lines, kw goes to Server. The configuration is mode 0600 (it
    holds a password); the test's cleanup stops the server."""
    srv = Server(conf="", start=False, **kw)
    test.addCleanup(srv.__exit__, None, None, None)
    text = srv.conf.replace("userdb file %s" % srv.userfile, "userdb mysql")
    text += conf + ("userdb.host %s\nuserdb.user %s\nuserdb.password %s\n"
                    "userdb.database %s\nuserdb.query %s\n"
                    % (host, user, password, database, query))
    with open(srv.conf_path, "w") as f:
        f.write(text)
    os.chmod(srv.conf_path, 0o600)
    srv.start()
    return srv


class MariaDBCase(TestCase):
    """A TestCase with one MariaDB (cls.db) for the whole class."""

    @classmethod
    def setUpClass(cls):
        cls.db = MariaDB()

    @classmethod
    def tearDownClass(cls):
        cls.db.cleanup()

    def userdb_server(self, query=USERS_QUERY, conf="", **kw):
        """userdb_mysql_server() on this class's MariaDB."""
        return userdb_mysql_server(self, self.db.host(), self.db.user,
                                   self.db.password, self.db.database,
                                   query, conf, **kw)


class MariaDB:
    """One mariadbd process; start(), stop(), restart(), cleanup()."""

    def __init__(self, user="popserv", password="pw'\"s3cret",
                 database="mail"):
        self.tmp = tempfile.TemporaryDirectory(prefix="popserv-mariadb-")
        self.dir = self.tmp.name
        os.chmod(self.dir, 0o755)
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.pidfile = os.path.join(self.dir, "mysqld.pid")
        self.log_path = os.path.join(self.dir, "mysqld.log")
        self.port = free_port()
        self.user = user
        self.password = password
        self.database = database
        self.proc = None
        self._install()
        self.start()
        esc = password.replace("\\", "\\\\").replace("'", "\\'")
        self.sql("CREATE DATABASE %s; "
                 "CREATE USER '%s'@'%%' IDENTIFIED BY '%s'; "
                 "CREATE USER '%s'@'localhost' IDENTIFIED BY '%s'; "
                 "GRANT ALL ON %s.* TO '%s'@'%%'; "
                 "GRANT ALL ON %s.* TO '%s'@'localhost';"
                 % (database, user, esc, user, esc, database, user,
                    database, user), db="")

    def _as_root_args(self):
        return ["--user=root"] if os.getuid() == 0 else []

    def _install(self):
        p = subprocess.run(
            [INSTALL_DB, "--no-defaults", "--datadir=" + self.datadir,
             "--auth-root-authentication-method=normal",
             "--skip-test-db", *self._as_root_args()],
            capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError("mariadb-install-db failed:\n%s%s"
                               % (p.stdout, p.stderr))

    def host(self):
        """loginfo.host / userdb.host for the TCP listener."""
        return "127.0.0.1:%d" % self.port

    def start(self):
        """Start mariadbd and wait (bounded) until it answers."""
        if self.proc is not None and self.proc.poll() is None:
            return
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [MARIADBD, "--no-defaults", "--datadir=" + self.datadir,
             "--socket=" + self.socket, "--port=%d" % self.port,
             "--bind-address=127.0.0.1", "--pid-file=" + self.pidfile,
             "--skip-name-resolve", "--skip-log-bin",
             "--innodb-buffer-pool-size=16M", "--log-error=" + self.log_path,
             *self._as_root_args()],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("mariadbd exited %d:\n%s"
                                   % (self.proc.returncode, self.log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              0.5):
                    pass
                if os.path.exists(self.socket) and \
                        self._client(["-e", "SELECT 1"], check=False) == 0:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("mariadbd did not start in %.0fs:\n%s"
                                   % (START_TIMEOUT, self.log()))
            time.sleep(0.1)

    def stop(self):
        """Stop mariadbd (SIGTERM, then SIGKILL after 30 s)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.logf.close()

    def restart(self):
        self.stop()
        self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _client(self, args, check=True, db=None):
        p = subprocess.run(
            [CLIENT, "--no-defaults", "--socket=" + self.socket, "-uroot",
             "--batch", "--raw", "--skip-column-names", *args,
             *([db] if db else [])],
            capture_output=True, text=True, timeout=30,
            stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise RuntimeError("mariadb %r: %s" % (args, p.stderr))
        if not check:
            return p.returncode
        return p.stdout

    def sql(self, statements, db=None):
        """Run statements as root in the test database."""
        self._client(["-e", statements],
                     db=self.database if db is None else db)

    def query(self, statement):
        """Rows of a SELECT as tuples of strings (NULL as 'NULL')."""
        out = self._client(["-e", statement], db=self.database)
        return [tuple(line.split("\t")) for line in out.splitlines()]

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
