#!/usr/bin/env python3
"""Write the seed corpus of fuzz_session (corpus/fuzz_session/*).

Each seed is a program in fuzz_session.c's format: two bytes (op, arg)
per step, a send step followed by its bytes. Run from anywhere:

    python3 test/fuzz/session_seeds.py
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_session")


class Prog:
    def __init__(self):
        self.b = bytearray()

    def op(self, op, arg):
        self.b += bytes([op & 0xff, arg & 0xff])
        return self

    def connect(self, addr=0):
        return self.op(0, addr)

    def send(self, conn, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        for i in range(0, len(data), 32):
            chunk = data[i:i + 32]
            self.op(1 | ((len(chunk) - 1) << 3), conn)
            self.b += chunk
        return self

    def window(self, conn, w):
        """0: all, 1: none (EAGAIN), n: n - 1 bytes per write."""
        return self.op(2 | (w << 3), conn)

    def eof(self, conn):
        return self.op(3, conn)

    def reset(self, conn):
        return self.op(4, conn)

    def finish(self, n=1, handoff=0, tempfail=False):
        """Finish n checks; popit starts (0), fails in the child (1) or
        cannot start (-1); tempfail turns a good login into [SYS/TEMP]."""
        return self.op(5 | ((n - 1) << 3), (handoff + 1) | (4 if tempfail
                                                            else 0))

    def timers(self, conn=None):
        return self.op(6 | (8 if conn is not None else 0),
                       conn if conn is not None else 0)

    def conf(self, which, maxjobs=8):
        return self.op(7 | (maxjobs << 3), which)


def b64(data):
    import base64
    return base64.b64encode(data).decode()


def seeds():
    yield "login", (Prog().connect().send(0, "USER joe\r\nPASS secret\r\n")
                    .finish().send(0, "STAT\r\nQUIT\r\n"))
    yield "maxfails", (Prog().connect()
                       .send(0, "USER joe\r\nPASS wrong\r\n").finish()
                       .send(0, "USER nosuch\r\nPASS x\r\n").finish()
                       .send(0, "USER ann\r\nPASS y\r\n").finish())
    yield "pipelined", (Prog().connect().send(
        0, "CAPA\r\nNOOP\r\nUSER ann\r\nPASS tanstaaf\r\nLIST\r\nQUIT\r\n")
        .finish())
    yield "pieces", (Prog().connect().send(0, "US").send(0, "ER jo")
                     .send(0, "e\r\nPA").send(0, "SS secret\r")
                     .send(0, "\n").finish())
    yield "slow_reader", (Prog().connect().window(0, 1)
                          .send(0, "CAPA\r\nCAPA\r\nUSER joe\r\n")
                          .window(0, 4).window(0, 0)
                          .send(0, "PASS secret\r\n").finish())
    yield "reset_mid_check", (Prog().connect().connect(1)
                              .send(0, "USER joe\r\nPASS secret\r\n")
                              .send(1, "USER joe\r\nPASS bad\r\n")
                              .reset(0).reset(1).finish(2))
    yield "delay_timers", (Prog().conf(1).connect()
                           .send(0, "USER joe\r\nPASS wrong\r\n").finish()
                           .send(0, "USER joe\r\nPASS wrong\r\n")
                           .timers().finish().timers(0)
                           .send(0, "USER joe\r\nPASS secret\r\n").finish())
    yield "sameaddr", (Prog().conf(2).connect(0).connect(0).connect(1)
                       .send(1, "QUIT\r\n"))
    yield "apop", (Prog().connect().send(
        0, "APOP joe 0123456789abcdef0123456789abcdef\r\n").finish()
        .send(0, "APOP ann\r\nAPOP\r\n"))
    yield "folder", (Prog().connect()
                     .send(0, "USER joe+work/lite\r\nPASS secret\r\n")
                     .finish(handoff=1).connect()
                     .send(1, "USER joe+..\r\nPASS secret\r\n"))
    yield "tempfail", (Prog().connect()
                       .send(0, "USER joe\r\nPASS secret\r\n")
                       .finish(tempfail=True)
                       .send(0, "USER joe\r\nPASS secret\r\n")
                       .finish(handoff=-1))
    yield "queue_full", (Prog().conf(0, maxjobs=0).connect()
                         .send(0, "USER joe\r\nPASS secret\r\n"))
    yield "too_long", (Prog().connect().send(0, "USER " + "a" * 300))
    yield "eof_mid_line", (Prog().connect().send(0, "USER jo").eof(0))
    yield "idle", (Prog().connect().send(0, "US").timers(0).connect()
                   .timers())
    yield "hostile_names", (Prog().connect().send(
        0, "USER a\x1bb\r\nUSER \xff\xfe\r\nUSER x\ry\r\nNOOP\x00\r\n"
           "USER \"q\\\r\nPASS p\r\n").finish())
    yield "uid0", (Prog().connect().send(0, "USER root\r\nPASS rootpw\r\n")
                   .finish())
    yield "auth_plain", (Prog().connect().send(
        0, "AUTH PLAIN %s\r\n" % b64(b"\0joe\0secret")).finish()
        .send(0, "NOOP\r\n"))
    yield "auth_plain_continued", (Prog().connect()
                                   .send(0, "AUTH\r\nAUTH PLAIN\r\n")
                                   .send(0, "*\r\nAUTH PLAIN\r\n")
                                   .send(0, b64(b"joe\0joe\0wrong") + "\r\n")
                                   .finish()
                                   .send(0, "AUTH PLAIN =\r\nAUTH X\r\n"))
    yield "proxy_v1", (Prog().conf(2).connect().send(
        0, "PROXY TCP4 192.0.2.7 198.51.100.1 4711 110\r\n"
           "USER joe\r\nPASS secret\r\n").finish())
    yield "proxy_v2", (Prog().conf(2).connect().send(
        0, b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c"
           b"\xc0\x00\x02\x07\xc6\x33\x64\x01\x12\x67\x00\x6e"
           b"CAPA\r\n"))
    yield "stls_off", (Prog().connect().send(0, "STLS\r\nCAPA\r\n"))


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, prog in seeds():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(bytes(prog.b))


if __name__ == "__main__":
    main()
