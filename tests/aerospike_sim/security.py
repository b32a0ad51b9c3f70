"""Login and authentication: the server side of proto type 2 (admin messages).

What clients send (the C client's `as_cluster_login` / `as_authenticate`, read
for the facts), after the 8-byte proto header (version 2, or 0, type 2):

  16-byte admin header: byte 2 = command, byte 3 = field count, rest 0
  fields: 4-byte big-endian size (= 1 + data length) | 1-byte id | data

Commands: AUTHENTICATE (0) with USER (0) and SESSION_TOKEN (5); LOGIN (20)
with USER and CREDENTIAL (3), the bcrypt hash of the password with the
clients' fixed salt `$2a$10$7EqJtq98hPqEX7fNZaFWoO` (60 characters), plus
CLEAR_PASSWORD (4) for external authentication, ignored here.

The answer has the same framing: byte 1 of the admin header is the result
code, byte 3 the field count; a successful LOGIN carries SESSION_TOKEN and
SESSION_TTL (6, 4-byte big-endian seconds).  Result codes used: 0 OK,
52 SECURITY_NOT_ENABLED (no users configured: the client then goes on
without a token), 60 INVALID_USER, 65 INVALID_CREDENTIAL, 66 EXPIRED_SESSION,
80 NOT_AUTHENTICATED, 54 SECURITY_SCHEME_NOT_SUPPORTED (an admin command
other than login/authenticate: user management is not simulated).

The expected credential is computed with the system's crypt(3) (libxcrypt,
which carries the same crypt_blowfish code the official C client compiles
in), so the simulator is an oracle independent of our core's bcrypt.

Invariants:
- a socket is authenticated only by a successful LOGIN or AUTHENTICATE on it;
  a failed one leaves the socket open and unauthenticated (the client may
  log in on the same socket, as the C client does);
- with security enabled, an info request on an unauthenticated socket gets
  the single line `ERROR:80:not authenticated` (spec 1.4), and an AS_MSG
  gets result code 80;
- tokens are random, belong to the cluster (any node accepts them, as a
  real cluster's do) and expire `session_ttl` seconds after the login;
  `expire_sessions()` revokes all of them and unauthenticates open sockets.
"""

import ctypes
import ctypes.util
import os
import struct
import time

ADMIN_HEADER_SIZE = 16

AUTHENTICATE = 0
LOGIN = 20

FIELD_USER = 0
FIELD_CREDENTIAL = 3
FIELD_CLEAR_PASSWORD = 4
FIELD_SESSION_TOKEN = 5
FIELD_SESSION_TTL = 6

OK = 0
SECURITY_NOT_ENABLED = 52
SECURITY_SCHEME_NOT_SUPPORTED = 54
INVALID_USER = 60
INVALID_CREDENTIAL = 65
EXPIRED_SESSION = 66
NOT_AUTHENTICATED = 80

CLIENT_SALT = b"$2a$10$7EqJtq98hPqEX7fNZaFWoO"
NOT_AUTHENTICATED_INFO = "ERROR:80:not authenticated"

_libcrypt = None


def bcrypt_credential(password):
    """The credential a client sends for `password` (str or bytes): 60 bytes."""
    global _libcrypt
    if _libcrypt is None:
        path = ctypes.util.find_library("crypt") or "libcrypt.so.1"
        lib = ctypes.CDLL(path)
        lib.crypt.restype = ctypes.c_char_p
        lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        _libcrypt = lib
    if isinstance(password, str):
        password = password.encode("utf-8")
    out = _libcrypt.crypt(password, CLIENT_SALT)
    if not out or not out.startswith(b"$2a$") or len(out) != 60:
        raise RuntimeError("crypt(3) of this system cannot compute bcrypt $2a$ hashes")
    return out


def parse_admin(body):
    """(command, {field id: bytes}) of one admin message body, or None if malformed."""
    if len(body) < ADMIN_HEADER_SIZE:
        return None
    command, count = body[2], body[3]
    fields = {}
    pos = ADMIN_HEADER_SIZE
    for _ in range(count):
        if pos + 5 > len(body):
            return None
        size = struct.unpack_from(">I", body, pos)[0]
        if size < 1 or pos + 4 + size > len(body):
            return None
        fields[body[pos + 4]] = body[pos + 5:pos + 4 + size]
        pos += 4 + size
    return command, fields


def build_admin(result, fields=()):
    """An admin message body: header with the result code, then the fields."""
    out = bytearray(ADMIN_HEADER_SIZE)
    out[1] = result
    out[3] = len(fields)
    for fid, data in fields:
        out += struct.pack(">IB", len(data) + 1, fid) + data
    return bytes(out)


class Security:
    """Users and sessions of one simulated cluster (disabled when users is None)."""

    def __init__(self, users=None, session_ttl=86400):
        self.users = None
        self.credentials = {}
        self.session_ttl = int(session_ttl)
        self.sessions = {}      # token -> (user, expires_at monotonic)
        self.revocations = 0    # +1 at every expire_sessions(): older sockets lose their auth
        self.logins = 0
        self.failed_logins = 0
        self.authentications = 0
        if users is not None:
            self.set_users(users)

    @property
    def enabled(self):
        return self.users is not None

    def set_users(self, users):
        """{user: password}; None disables security (every socket is trusted)."""
        if users is None:
            self.users, self.credentials = None, {}
            return
        self.users = dict(users)
        self.credentials = {u: bcrypt_credential(p) for u, p in self.users.items()}

    def expire_sessions(self):
        self.sessions.clear()
        self.revocations += 1

    def authenticated(self, conn):
        return not self.enabled or (conn.auth_user is not None
                                    and conn.auth_revocation == self.revocations)

    def handle(self, conn, body):
        """The answer body to one admin message on connection state `conn`."""
        parsed = parse_admin(body)
        if parsed is None:
            return None
        command, fields = parsed
        if command == LOGIN:
            return self._login(conn, fields)
        if command == AUTHENTICATE:
            return self._authenticate(conn, fields)
        return build_admin(SECURITY_SCHEME_NOT_SUPPORTED)

    def _grant(self, conn, user):
        conn.auth_user = user
        conn.auth_revocation = self.revocations

    def _login(self, conn, fields):
        if not self.enabled:
            return build_admin(SECURITY_NOT_ENABLED)
        user = fields.get(FIELD_USER, b"").decode("utf-8", "replace")
        if user not in self.credentials:
            self.failed_logins += 1
            return build_admin(INVALID_USER)
        if fields.get(FIELD_CREDENTIAL) != self.credentials[user]:
            self.failed_logins += 1
            return build_admin(INVALID_CREDENTIAL)
        token = os.urandom(32).hex().encode()
        self.sessions[token] = (user, time.monotonic() + self.session_ttl)
        self.logins += 1
        self._grant(conn, user)
        return build_admin(OK, [(FIELD_SESSION_TOKEN, token),
                                (FIELD_SESSION_TTL, struct.pack(">I", self.session_ttl))])

    def _authenticate(self, conn, fields):
        if not self.enabled:
            return build_admin(SECURITY_NOT_ENABLED)
        user = fields.get(FIELD_USER, b"").decode("utf-8", "replace")
        session = self.sessions.get(fields.get(FIELD_SESSION_TOKEN, b""))
        if session is None or session[0] != user:
            return build_admin(INVALID_CREDENTIAL)
        if time.monotonic() >= session[1]:
            return build_admin(EXPIRED_SESSION)
        self.authentications += 1
        self._grant(conn, user)
        return build_admin(OK)

    def to_json(self):
        return {
            "enabled": self.enabled,
            "users": sorted(self.users) if self.users is not None else None,
            "session_ttl": self.session_ttl,
            "sessions": len(self.sessions),
            "logins": self.logins,
            "failed_logins": self.failed_logins,
            "authentications": self.authentications,
        }
