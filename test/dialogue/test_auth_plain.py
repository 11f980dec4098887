"""Dialogue tests of AUTH PLAIN (RFC 5034, RFC 4616; docs/tls.md): with and
without an initial response, "=" and "*", the mechanism list, base64 and
message errors, authorization identities, the line limits, and the same
delay, penalty, maxfails and log lines as USER/PASS, the secret never in
the log.
"""

import base64
import time
import unittest

from engine_util import AUTH_FAILED, STUB_OK, TestCase, greet, stub_server
from transport_util import read_records

CONT = "+ "
BAD = "-ERR invalid SASL response"


def plain(authcid, passwd, authzid=""):
    return base64.b64encode(("%s\0%s\0%s" % (authzid, authcid, passwd))
                            .encode()).decode()


class AuthPlain(TestCase):

    def setUp(self):
        self.srv = stub_server(self, users={"joe": "s3cret pass"})

    def test_auth_alone_lists_the_mechanisms(self):
        c, _ = greet(self.srv)
        c.send("AUTH").expect("+OK")
        self.assertEqual(c.multiline(), ["PLAIN"])
        c.send("auth plain " + plain("joe", "s3cret pass")).expect(STUB_OK)

    def test_initial_response(self):
        c, _ = greet(self.srv)
        # What follows the AUTH line is popit's, as after PASS.
        c.send_raw(("AUTH PLAIN %s\r\nSTAT\r\n" % plain("joe", "s3cret pass"))
                   .encode())
        c.expect(STUB_OK).expect("+OK STAT")
        c.send("QUIT").expect("+OK bye")
        self.assertEqual(read_records(self.srv.recdir)[0]["line"],
                         ["STAT\\r\\n", "QUIT\\r\\n"])
        self.srv.wait_log(r'user="joe" result=login')

    def test_response_on_its_own_line(self):
        c, _ = greet(self.srv)
        c.send("AUTH PLAIN").expect(CONT)
        c.send(plain("joe", "s3cret pass", authzid="joe")).expect(STUB_OK)

    def test_empty_initial_response_and_cancel(self):
        c, _ = greet(self.srv)
        c.send("AUTH PLAIN =").expect(BAD)
        c.send("AUTH PLAIN").expect(CONT)
        c.send("*").expect("-ERR authentication cancelled")
        c.send("USER joe").expect_ok()
        c.send("PASS s3cret pass").expect(STUB_OK)

    def test_malformed_responses(self):
        c, _ = greet(self.srv)
        for bad in ("AGpvZQBzM2NyZXQgcGFzcw",         # unpadded
                    "AGpvZQ=BzM2NyZXQgcGFzcw==",      # '=' inside
                    "AGpv ZQBz",                      # a blank
                    base64.b64encode(b"joe s3cret").decode(),  # no NULs
                    base64.b64encode(b"\0\0pw").decode(),       # no user
                    base64.b64encode(b"\0joe\0").decode()):     # no password
            with self.subTest(bad=bad):
                c.send("AUTH PLAIN " + bad).expect(BAD)
        c.send("AUTH PLAIN").expect(CONT)
        c.send("!!!!").expect(BAD)
        # Errors of form are not failed logins.
        self.assertNotIn(b"result=failed", self.srv.log_bytes())
        c.send("AUTH PLAIN " + plain("joe", "s3cret pass")).expect(STUB_OK)

    def test_other_mechanisms(self):
        c, _ = greet(self.srv)
        c.send("AUTH CRAM-MD5").expect(
            "-ERR unsupported authentication mechanism")
        c.send("AUTH PLAINX abc").expect(
            "-ERR unsupported authentication mechanism")

    def test_wrong_password_is_a_failed_login(self):
        srv = stub_server(self, users={"joe": "s3cret pass"},
                          conf="faildelay 1\nmaxfails 2\nfailpenalty 0")
        c, _ = greet(srv)
        t0 = time.monotonic()
        c.send("AUTH PLAIN " + plain("joe", "Gu3ss-1")).expect(AUTH_FAILED)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        srv.wait_log(r'user="joe" result=failed reason="wrong password" '
                     r'attempt=1 delay=1')
        c.send("AUTH PLAIN").expect(CONT)
        c.send(plain("nosuch", "Gu3ss-2")).expect(AUTH_FAILED)
        c.expect_closed()
        srv.wait_log(r"result=maxfails")
        log = srv.log_bytes()
        for secret in (b"Gu3ss", b"s3cret", plain("joe", "Gu3ss-1").encode(),
                       plain("nosuch", "Gu3ss-2").encode()):
            self.assertNotIn(secret, log)

    def test_other_authorization_identity_is_refused(self):
        c, _ = greet(self.srv)
        c.send("AUTH PLAIN " + plain("joe", "s3cret pass", authzid="root")) \
            .expect(AUTH_FAILED)
        self.srv.wait_log(r'user="joe" result=failed reason="authorization '
                          r'identity differs"')
        self.assertNotIn(b"s3cret", self.srv.log_bytes())

    def test_line_limits(self):
        c, _ = greet(self.srv)
        # The AUTH line is a command: 255 octets at most (RFC 5034 §4).
        c.send("AUTH PLAIN " + "A" * 244).expect("-ERR line too long")
        c.expect_closed()
        # A response line may be longer: 1024 base64 characters.
        c, _ = greet(self.srv)
        c.send("AUTH PLAIN").expect(CONT)
        c.send("A" * 1024).expect(BAD)          # 768 NULs: no message
        c.send("AUTH PLAIN").expect(CONT)
        c.send("A" * 1025).expect("-ERR line too long")
        c.expect_closed()

    def test_a_long_password_in_a_response_line(self):
        srv = stub_server(self, users={"joe": "p" * 200})
        c, _ = greet(srv)
        c.send("AUTH PLAIN").expect(CONT)
        c.send(plain("joe", "p" * 200, authzid="joe")).expect(STUB_OK)


if __name__ == "__main__":
    unittest.main()
