"""TLS test material, made with the openssl CLI in a private directory.

    ca = TestCA(workdir)                # a CA and a server certificate
    ca.cert, ca.key, ca.ca              # PEM paths (localhost, 127.0.0.1, ::1)
    ca.issue("other")                   # another server certificate
    ctx = ca.client_context()           # Python ssl context trusting the CA

Also the client side of STLS and implicit TLS for dialogue tests, and
the PROXY protocol headers a proxy sends.
"""

import hashlib
import ipaddress
import os
import socket
import ssl
import struct
import subprocess

from pop3test import TIMEOUT, Client

OPENSSL = "openssl"


def _run(*args, cwd=None):
    p = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), p.stderr))
    return p.stdout


class TestCA:
    """A private CA (EC P-256, valid two days) and server certificates it
    signs, all in directory d. The first one is ca.cert/ca.key."""

    def __init__(self, d):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self.ca = os.path.join(d, "ca.pem")
        self.ca_key = os.path.join(d, "ca.key")
        self.serial = 1
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", self.ca_key,
             "-out", self.ca, "-days", "2", "-subj", "/CN=popserv test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.cert, self.key = self.issue("server")

    def issue(self, name, cn="localhost"):
        """A server certificate for localhost, 127.0.0.1 and ::1; returns
        (cert path, key path)."""
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        cert = os.path.join(self.dir, name + ".pem")
        ext = os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
                    "basicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n")
        _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
        self.serial += 1
        _run("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey",
             self.ca_key, "-set_serial", str(self.serial), "-days", "2",
             "-out", cert, "-extfile", ext)
        os.chmod(key, 0o600)
        return cert, key

    def client_context(self):
        """A client context that checks the server against this CA."""
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.check_hostname = True
        return ctx


def fingerprint(cert_path):
    """SHA-256 of a PEM certificate's DER form."""
    with open(cert_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def peer_fingerprint(client):
    """SHA-256 of the certificate the server presented to client."""
    return hashlib.sha256(client.sock.getpeercert(binary_form=True)) \
        .hexdigest()


def starttls(client, ctx, hostname="localhost"):
    """Wrap an open Client's socket in TLS (after +OK to STLS)."""
    if client.buf:
        raise AssertionError("bytes before the handshake: %r" % client.buf)
    client.sock = ctx.wrap_socket(client.sock, server_hostname=hostname)
    client.sock.settimeout(TIMEOUT)
    return client


def connect_tls(host, port, ctx, source=None, hostname="localhost",
                before=b""):
    """A Client over implicit TLS (bindtls); before: bytes sent in the
    clear first (a PROXY header)."""
    s = socket.create_connection((host, port), TIMEOUT,
                                 source_address=(source, 0) if source
                                 else None)
    if before:
        s.sendall(before)
    return Client(ctx.wrap_socket(s, server_hostname=hostname))


def proxy_v1(src, dst="127.0.0.1", sport=40000, dport=110):
    """A PROXY protocol v1 header for a TCP client at src."""
    fam = "TCP6" if ":" in src else "TCP4"
    if (":" in src) != (":" in dst):
        dst = "::1" if ":" in src else "127.0.0.1"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport,
                                          dport)).encode()


V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v2(src=None, dst="127.0.0.1", sport=40000, dport=110,
             tlvs=b""):
    """A PROXY protocol v2 header; src None: the LOCAL command."""
    if src is None:
        return V2_SIG + bytes([0x20, 0x00]) + struct.pack("!H", len(tlvs)) \
            + tlvs
    a = ipaddress.ip_address(src)
    b = ipaddress.ip_address(dst)
    if a.version != b.version:
        b = ipaddress.ip_address("::1" if a.version == 6 else "127.0.0.1")
    fam = 0x11 if a.version == 4 else 0x21
    body = a.packed + b.packed + struct.pack("!HH", sport, dport) + tlvs
    return V2_SIG + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body

