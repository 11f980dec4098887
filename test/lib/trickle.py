"""A fake MySQL server that never finishes its handshake.

    with Trickle() as t:
        conf = "userdb.host %s\n" % t.host()
        ...
        t.close_all()       # every connection sees EOF

It listens on 127.0.0.1, accepts every connection and writes one byte to
each every `every` seconds, for ever: the start of a greeting packet
that announces 65535 bytes, then the digit 5 over and over. A client's
read timeout never fires (a byte always comes in time) and its handshake
never completes: a worker or loginfo thread that connects is stuck until
the server closes the connection. It runs in a thread of the test
process and is always stopped (close(), or the with block's end).
"""

import socket
import threading
import time

GREETING = b"\xff\xff\x00\x00\x0a"     # length 65535, seq 0, protocol 10


class Trickle:

    def __init__(self, every=2.0):
        self.every = every
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []             # [socket, bytes sent]
        self.accepted = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def host(self):
        """userdb.host / loginfo.host for this server."""
        return "127.0.0.1:%d" % self.port

    def _run(self):
        last = time.monotonic()
        while not self.stopping:
            try:
                c, _ = self.lsock.accept()
                with self.lock:
                    self.conns.append([c, 0])
                    self.accepted += 1
                    self._send(self.conns[-1])
            except socket.timeout:
                pass
            except OSError:
                if self.stopping:
                    return
            now = time.monotonic()
            if now - last >= self.every:
                last = now
                with self.lock:
                    for entry in list(self.conns):
                        self._send(entry)

    def _send(self, entry):
        c, sent = entry
        byte = GREETING[sent:sent + 1] if sent < len(GREETING) else b"5"
        try:
            c.send(byte)
            entry[1] = sent + 1
        except OSError:
            c.close()
            self.conns.remove(entry)

    def wait_connected(self, n=1, timeout=10.0):
        """Wait until n connections have been accepted in all."""
        deadline = time.monotonic() + timeout
        while self.accepted < n:
            if time.monotonic() > deadline:
                raise AssertionError("only %d connections to the fake "
                                     "MySQL server" % self.accepted)
            time.sleep(0.02)

    def close_all(self):
        """Close every connection: the clients see EOF."""
        with self.lock:
            for c, _ in self.conns:
                c.close()
            self.conns = []

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.lsock.close()
        self.close_all()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
