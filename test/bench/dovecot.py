"""Debian's dovecot-pop3d, side by side with popserv (run_bench.py --dovecot).

A private Dovecot instance: `dovecot -F -c <config>` with base_dir,
state_dir and logs in a temporary directory, one POP3 listener on a
loopback port, pop3-login in high-performance mode (service_count = 0,
process_min_avail = 2), and the same passwd-file user with a {PLAIN}
password and the same empty Maildir that popserv gets. The system's
Dovecot service and configuration are never touched. Manual only (not in
CI): apt-get install dovecot-pop3d.

    python3 test/bench/dovecot.py     # start one, print its port, Ctrl-C
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import pop3test  # noqa: E402

CONF = """# written by popserv's test/bench/dovecot.py; private instance
instance_name = popserv-bench-{port}
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_max_userip_connections = 100000
default_login_user = dovenull
default_internal_user = dovecot
default_client_limit = 20000
default_process_limit = 1000
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/passwd
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
  # high-performance mode: long-lived login processes, many clients each
  service_count = 0
  process_min_avail = 2
  client_limit = 5000
}}
service pop3 {{
{pop3}}}
service anvil {{
  client_limit = 30000
}}
"""


def dovecot_binary():
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)


class Dovecot:
    """A private dovecot -F on 127.0.0.1 with one user and an empty Maildir.

    reuse: post-login (pop3) processes serve one login after another
    (service_count = 0) instead of one process per login.
    """

    def __init__(self, user, password, reuse=False, port=None):
        binary = dovecot_binary()
        if binary is None:
            raise RuntimeError("dovecot not found: apt-get install "
                               "dovecot-pop3d")
        self.tmp = tempfile.TemporaryDirectory(prefix="dovecot-bench-")
        self.dir = self.tmp.name
        os.chmod(self.dir, 0o755)
        self.port = port or pop3test.free_port()
        self.reuse = reuse
        uid, gid = (pop3test.TEST_UID, pop3test.TEST_GID) \
            if os.getuid() == 0 else (os.getuid(), os.getgid())
        home = os.path.join(self.dir, "home", user)
        pop3test.make_maildir(os.path.join(home, "Maildir"))
        if os.getuid() == 0:
            pop3test.chown_tree(os.path.join(self.dir, "home"), uid, gid)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.write("%s:{PLAIN}%s:%d:%d::%s::\n" % (user, password, uid, gid,
                                                   home))
        pop3 = "  service_count = 0\n" if reuse else ""
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(CONF.format(dir=self.dir, port=self.port, pop3=pop3))
        self.logf = open(os.path.join(self.dir, "dovecot.out"), "ab")
        self.proc = subprocess.Popen([binary, "-F", "-c", self.conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)
        self.version = subprocess.run([binary, "--version"],
                                      capture_output=True,
                                      text=True).stdout.strip()
        self._wait(user, password)

    def _wait(self, user, password):
        """Until a whole login works (login processes are up)."""
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("dovecot exited %d:\n%s"
                                   % (self.proc.returncode, self.log()))
            try:
                s = socket.create_connection(("127.0.0.1", self.port), 2)
                c = pop3test.Client(s)
                c.expect_ok()
                c.send("USER " + user).expect_ok()
                c.send("PASS " + password).expect_ok()
                c.send("QUIT").expect_ok()
                c.close()
                return
            except (OSError, EOFError, AssertionError, TimeoutError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("dovecot did not serve:\n"
                                       + self.log())
                time.sleep(0.2)

    def pids(self):
        """The master and every process under it."""
        from run_bench import children_of
        return [self.proc.pid] + children_of(self.proc.pid)

    def cpu(self):
        """CPU seconds of the whole tree: the processes alive now, and
        those the master has reaped (its cutime + cstime)."""
        from run_bench import cpu_seconds
        own, reaped = cpu_seconds(self.proc.pid)
        total = own + reaped
        for pid in self.pids()[1:]:
            try:
                total += cpu_seconds(pid)[0]
            except OSError:
                pass            # gone meanwhile: in the master's cutime
        return {"server": total, "children": 0.0}

    def describe(self):
        return "%s, pop3-login service_count=0 process_min_avail=2, %s" % (
            self.version, "post-login processes reused (service_count=0)"
            if self.reuse else "one post-login process per login")

    def log(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        self.tmp.cleanup()


if __name__ == "__main__":
    d = Dovecot("bench", "benchpw", reuse="--reuse" in sys.argv)
    print("dovecot on 127.0.0.1:%d (%s), config %s" % (d.port, d.describe(),
                                                      d.conf), flush=True)
    try:
        signal.sigwait([signal.SIGINT, signal.SIGTERM])
    finally:
        d.stop()
