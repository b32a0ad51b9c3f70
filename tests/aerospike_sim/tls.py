"""TLS service of the simulated nodes (an Enterprise Edition feature).

Started with a certificate (`--tls-cert`, `--tls-key`, `--tls-names`), every
node serves TLS only on its port, as an EE server whose service context has a
`tls-port` and no clear `port`:

- node i has the TLS name `names[i % len(names)]` (a server's `tls-name`);
  `{tls_name}` in the certificate and key paths is replaced by it, so each
  node can present a certificate of its own that holds only its own name;
- `peers-tls-std` / `-alt` list the peers with their TLS names and ports,
  `service-tls-std` / `-alt` the node itself (spec 2.1, 3); the `*-clear-*`
  variants list peers without endpoints (no clear service to reach);
- a client certificate is asked for only with `--tls-client-ca` (mutual TLS),
  then required and verified against that CA.

Invariant: a client that does not speak TLS, or does not trust the
certificate, gets no info answer at all: the handshake fails first and the
connection is closed.
"""

import ssl


class TlsConfig:
    def __init__(self, cert, key, names, client_ca=None):
        if not names:
            raise ValueError("TLS needs at least one tls name")
        for name in names:
            if not name or any(ch in name for ch in ",[]\t\n;"):
                raise ValueError("bad tls name %r" % name)
        self.cert = cert
        self.key = key
        self.names = list(names)
        self.client_ca = client_ca
        self._contexts = {}

    def name_for(self, index):
        return self.names[index % len(self.names)]

    def context(self, tls_name):
        """The server context of a node with this TLS name (loaded once)."""
        ctx = self._contexts.get(tls_name)
        if ctx is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(self.cert.replace("{tls_name}", tls_name),
                                self.key.replace("{tls_name}", tls_name))
            if self.client_ca:
                ctx.load_verify_locations(self.client_ca)
                ctx.verify_mode = ssl.CERT_REQUIRED
            self._contexts[tls_name] = ctx
        return ctx
