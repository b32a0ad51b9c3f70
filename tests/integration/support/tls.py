"""tls.py - certificates for the TLS tests, made with the openssl CLI.

TlsFiles(directory) writes, once per directory:
  ca.crt / ca.key          the test CA
  server.crt / server.key  signed by it, for DNS:localhost and IP:127.0.0.1
  client.crt / client.key  signed by it, a client certificate (mutual TLS)
  other-ca.crt             an unrelated CA (the "wrong CA" case)
and on demand (named(name)):
  node-<name>.crt / .key   signed by the CA for DNS:<name> only: an Aerospike
                           node's certificate for its tls-name

Invariants: keys are unencrypted 2048-bit RSA (quick to make: about a
second for the set); certificates are valid from an hour ago for a day, so
a clock a little off never fails a test; every openssl run has a timeout
and its stderr is shown when it fails.  Nothing here talks to a network.
"""
import os
import ssl
import subprocess

SERVER_NAMES = "DNS:localhost,IP:127.0.0.1"


def _openssl(*args, cwd):
    out = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True,
                         timeout=60)
    if out.returncode != 0:
        raise RuntimeError("openssl %s failed:\n%s" % (" ".join(args), out.stderr))


class TlsFiles:
    def __init__(self, directory):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.ca = self.path("ca.crt")
        self.server_cert = self.path("server.crt")
        self.server_key = self.path("server.key")
        self.client_cert = self.path("client.crt")
        self.client_key = self.path("client.key")
        self.other_ca = self.path("other-ca.crt")
        if not os.path.exists(self.other_ca):
            self._make()

    def path(self, name):
        return os.path.join(self.dir, name)

    def _make(self):
        d = self.dir
        for name, subject in (("ca", "/CN=clustershm test CA"),
                              ("other-ca", "/CN=clustershm unrelated CA")):
            _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                     "-subj", subject, "-keyout", name + ".key", "-out", name + ".crt",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        for name, subject, ext in (
                ("server", "/CN=localhost", "subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n"
                 % SERVER_NAMES),
                ("client", "/CN=clustershm test client", "extendedKeyUsage=clientAuth\n")):
            _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                     "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
            with open(os.path.join(d, name + ".ext"), "w") as f:
                f.write(ext)
            _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                     "-CAcreateserial", "-days", "1", "-extfile", name + ".ext",
                     "-out", name + ".crt", cwd=d)

    def named(self, name):
        """(cert, key) of a server certificate holding DNS:name and nothing
        else, made once per directory."""
        base = "node-" + name
        cert, key = self.path(base + ".crt"), self.path(base + ".key")
        if not os.path.exists(cert):
            _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name,
                     "-keyout", base + ".key", "-out", base + ".csr", cwd=self.dir)
            with open(self.path(base + ".ext"), "w") as f:
                f.write("subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n" % name)
            _openssl("x509", "-req", "-in", base + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                     "-CAcreateserial", "-days", "1", "-extfile", base + ".ext",
                     "-out", base + ".crt", cwd=self.dir)
        return cert, key

    def client_context(self):
        """The tests' own TLS client (truth queries), with the client
        certificate so it passes servers that demand one."""
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.load_cert_chain(self.client_cert, self.client_key)
        return ctx

    def redis_args(self, auth_clients="no"):
        """redis-server arguments for these files (tls-port set by the caller)."""
        return ["--tls-cert-file", self.server_cert, "--tls-key-file", self.server_key,
                "--tls-ca-cert-file", self.ca, "--tls-auth-clients", auth_clients]

    def cli_args(self):
        """redis-cli arguments to talk TLS to those servers."""
        return ["--tls", "--cacert", self.ca, "--cert", self.client_cert, "--key", self.client_key]
