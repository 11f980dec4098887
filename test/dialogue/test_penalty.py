"""failpenalty (docs/configuration.md, "Limits"): recent failures from
an address double its failure delay, across connections; trusted
addresses are exempt."""

import time
import unittest

from pop3test import TestCase


class PenaltyTest(TestCase):

    def fail_once(self, srv):
        """One failed login on a new connection; returns the delay."""
        c = srv.connect().expect_ok()
        c.send("USER joe").expect_ok()
        t = time.monotonic()
        c.send("PASS wrong").expect("-ERR [AUTH] Authentication failed.")
        delay = time.monotonic() - t
        c.send("QUIT").expect_ok()
        return delay

    def test_delay_doubles_across_connections(self):
        srv = self.server(users={"joe": "secret"},
                          conf="faildelay 1\nfailpenalty 1")
        self.assertGreaterEqual(self.fail_once(srv), 0.95)
        self.assertGreaterEqual(self.fail_once(srv), 1.95)
        srv.wait_log(r'result=failed reason="wrong password" attempt=1 '
                     r'delay=2')
        # A good login is not delayed by the penalty.
        t = time.monotonic()
        c = srv.connect().expect_ok()
        c.send("USER joe").expect_ok()
        c.send("PASS secret").expect_ok()
        self.assertLess(time.monotonic() - t, 1.0)

    def test_trusted_addresses_are_exempt(self):
        srv = self.server(users={"joe": "secret"},
                          conf="faildelay 1\nfailpenalty 1\n"
                               "trusted 127.0.0.0/8")
        for _ in range(2):
            d = self.fail_once(srv)
            self.assertGreaterEqual(d, 0.95)
            self.assertLess(d, 1.9)
        srv.wait_log(r"attempt=1 delay=1")
        self.assertNotRegex(srv.log(), r"delay=2")

    def test_off(self):
        srv = self.server(users={"joe": "secret"},
                          conf="faildelay 1\nfailpenalty 0")
        self.fail_once(srv)
        self.assertLess(self.fail_once(srv), 1.9)


if __name__ == "__main__":
    unittest.main()
