/*
 * aerospike_admin.h - Aerospike login and authentication: the admin
 * messages (proto type 2) and the credential the server expects.
 *
 * Wire format (after the 8-byte proto header, version 2, type 2):
 *   16-byte admin header: byte 1 result code (answers), byte 2 command,
 *   byte 3 field count, the rest 0; then fields, each a 4-byte big-endian
 *   size (1 + data length), a 1-byte id and the data.
 * LOGIN (20) sends USER and CREDENTIAL (bcrypt of the password with the
 * clients' fixed salt, 60 characters) and gets SESSION_TOKEN and
 * SESSION_TTL (seconds, 4-byte big-endian) back; AUTHENTICATE (0) sends
 * USER and SESSION_TOKEN on every new socket.
 *
 * Invariants:
 *  - Builders never write past the caller's buffer (0 = does not fit).
 *  - Parsers read only inside the bytes received: every field's size is
 *    checked against what is left before its data is touched.
 *  - The exchange reads exactly one answer of at most CSHM_AS_ADMIN_MAX
 *    bytes within one deadline, and closes the socket on any transport or
 *    framing failure, so a half-read answer is never taken for the next.
 */
#ifndef CSHM_AEROSPIKE_ADMIN_H
#define CSHM_AEROSPIKE_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#define CSHM_AS_ADMIN_TYPE 2
#define CSHM_AS_ADMIN_HEADER 16
#define CSHM_AS_ADMIN_MAX 16384          /* the C client's stack buffer */
#define CSHM_AS_CREDENTIAL_SIZE 60       /* "$2a$10$" + 22 salt + 31 hash characters */
#define CSHM_AS_TOKEN_MAX 2048

enum {
    CSHM_AS_ADMIN_AUTHENTICATE = 0,
    CSHM_AS_ADMIN_LOGIN = 20,
};

enum {
    CSHM_AS_FIELD_USER = 0,
    CSHM_AS_FIELD_CREDENTIAL = 3,
    CSHM_AS_FIELD_SESSION_TOKEN = 5,
    CSHM_AS_FIELD_SESSION_TTL = 6,
};

/* Result codes of the security protocol (the clients' as_status values). */
enum {
    CSHM_AS_RESULT_OK = 0,
    CSHM_AS_RESULT_SECURITY_NOT_SUPPORTED = 51,
    CSHM_AS_RESULT_SECURITY_NOT_ENABLED = 52,
    CSHM_AS_RESULT_INVALID_USER = 60,
    CSHM_AS_RESULT_INVALID_PASSWORD = 62,
    CSHM_AS_RESULT_EXPIRED_PASSWORD = 63,
    CSHM_AS_RESULT_INVALID_CREDENTIAL = 65,
    CSHM_AS_RESULT_EXPIRED_SESSION = 66,
    CSHM_AS_RESULT_NOT_AUTHENTICATED = 80,
};

/* bcrypt ($2a$, cost 10) of password with the salt every Aerospike client
 * uses, as the C client computes it (crypt_blowfish, here through the
 * system's libcrypt).  out gets 60 characters and a NUL.  0 or -1. */
int cshm_as_credential(const char *password, char out[CSHM_AS_CREDENTIAL_SIZE + 1]);

/* bcrypt of password with a "$2a$NN$" + 22-character setting (for tests
 * against published vectors).  0 or -1. */
int cshm_as_bcrypt(const char *password, const char *setting,
                   char out[CSHM_AS_CREDENTIAL_SIZE + 1]);

/* Whole requests (proto header included) into out.  Return the length, or 0
 * when it does not fit. */
size_t cshm_as_admin_login_request(unsigned char *out, size_t cap, const char *user,
                                   const char *credential);
size_t cshm_as_admin_authenticate_request(unsigned char *out, size_t cap, const char *user,
                                          const unsigned char *token, size_t token_len);

/* One answer body (admin header + fields) of len bytes: its result code and
 * the session token (copied, at most token_cap bytes) and TTL when present
 * (0 when absent).  0, or -1 with why when the fields do not fit the body. */
typedef struct cshm_as_admin_answer {
    uint8_t result;
    size_t token_len;
    uint32_t ttl_seconds;
} cshm_as_admin_answer;

int cshm_as_admin_parse(const unsigned char *body, size_t len, unsigned char *token,
                        size_t token_cap, cshm_as_admin_answer *out, char *why, size_t why_size);

/* Send request on *fd and read one admin answer into body (at most
 * CSHM_AS_ADMIN_MAX bytes) by deadline (monotonic seconds).  0 with
 * *body_len, or -1 with why (the socket is then closed). */
int cshm_as_admin_call(int *fd, const unsigned char *request, size_t request_len, double deadline,
                       unsigned char *body, size_t *body_len, char *why, size_t why_size);

/* The result code's name, e.g. "INVALID_CREDENTIAL". */
const char *cshm_as_admin_result_name(unsigned result);

#endif
