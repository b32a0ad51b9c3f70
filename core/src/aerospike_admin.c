/*
 * aerospike_admin.c - see aerospike_admin.h.
 *
 * Why libcrypt for bcrypt: the official clients compute the credential with
 * crypt_blowfish, and Debian's libcrypt1 (libxcrypt, an Essential package,
 * present on every Debian and glibc system) carries that same code,
 * including its $2a$ handling of passwords with 8-bit bytes.  Using it gives
 * the exact bytes the official client sends with no cipher code of ours to
 * get wrong; tests/c checks it against published bcrypt vectors and the
 * simulator checks the official client's own login against it.
 */
#include "aerospike_admin.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

/* The salt every Aerospike client hashes passwords with (cost 10). */
#define CSHM_AS_CLIENT_SALT "$2a$10$7EqJtq98hPqEX7fNZaFWoO"

int cshm_as_bcrypt(const char *password, const char *setting,
                   char out[CSHM_AS_CREDENTIAL_SIZE + 1])
{
    /* crypt_r's state is 32 KiB: on the heap, not the tender's stack. */
    struct crypt_data *data = calloc(1, sizeof *data);
    if (data == NULL)
        return -1;
    const char *hash = crypt_r(password, setting, data);
    /* libcrypt reports failure with a "*" string (or NULL): check the form. */
    int ok = hash != NULL && strlen(hash) == CSHM_AS_CREDENTIAL_SIZE &&
             strncmp(hash, setting, 29) == 0;
    if (ok)
        memcpy(out, hash, CSHM_AS_CREDENTIAL_SIZE + 1);
    explicit_bzero(data, sizeof *data);
    free(data);
    return ok ? 0 : -1;
}

int cshm_as_credential(const char *password, char out[CSHM_AS_CREDENTIAL_SIZE + 1])
{
    return cshm_as_bcrypt(password, CSHM_AS_CLIENT_SALT, out);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Appends one field at *at; 0 or -1 when it does not fit. */
static int put_field(unsigned char *out, size_t cap, size_t *at, uint8_t id, const void *data,
                     size_t len)
{
    if (len > UINT32_MAX - 1 || *at > cap || cap - *at < 5 + len)
        return -1;
    put_be32(out + *at, (uint32_t)len + 1);
    out[*at + 4] = id;
    memcpy(out + *at + 5, data, len);
    *at += 5 + len;
    return 0;
}

/* Proto header + admin header; fields follow at *at. */
static int start_message(unsigned char *out, size_t cap, size_t *at, uint8_t command,
                         uint8_t field_count)
{
    if (cap < 8 + CSHM_AS_ADMIN_HEADER)
        return -1;
    memset(out, 0, 8 + CSHM_AS_ADMIN_HEADER);
    out[8 + 2] = command;
    out[8 + 3] = field_count;
    *at = 8 + CSHM_AS_ADMIN_HEADER;
    return 0;
}

static size_t finish_message(unsigned char *out, size_t len)
{
    uint64_t body = len - 8;
    out[0] = 2; /* proto version */
    out[1] = CSHM_AS_ADMIN_TYPE;
    for (int i = 0; i < 6; i++)
        out[2 + i] = (unsigned char)(body >> (8 * (5 - i)));
    return len;
}

size_t cshm_as_admin_login_request(unsigned char *out, size_t cap, const char *user,
                                   const char *credential)
{
    size_t at;
    if (start_message(out, cap, &at, CSHM_AS_ADMIN_LOGIN, 2) != 0 ||
        put_field(out, cap, &at, CSHM_AS_FIELD_USER, user, strlen(user)) != 0 ||
        put_field(out, cap, &at, CSHM_AS_FIELD_CREDENTIAL, credential, strlen(credential)) != 0)
        return 0;
    return finish_message(out, at);
}

size_t cshm_as_admin_authenticate_request(unsigned char *out, size_t cap, const char *user,
                                          const unsigned char *token, size_t token_len)
{
    size_t at;
    if (start_message(out, cap, &at, CSHM_AS_ADMIN_AUTHENTICATE, 2) != 0 ||
        put_field(out, cap, &at, CSHM_AS_FIELD_USER, user, strlen(user)) != 0 ||
        put_field(out, cap, &at, CSHM_AS_FIELD_SESSION_TOKEN, token, token_len) != 0)
        return 0;
    return finish_message(out, at);
}

int cshm_as_admin_parse(const unsigned char *body, size_t len, unsigned char *token,
                        size_t token_cap, cshm_as_admin_answer *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof *out);
    if (len < CSHM_AS_ADMIN_HEADER) {
        snprintf(why, why_size, "admin answer of %zu bytes is shorter than its %d-byte header",
                 len, CSHM_AS_ADMIN_HEADER);
        return -1;
    }
    out->result = body[1];
    unsigned count = body[3];
    size_t at = CSHM_AS_ADMIN_HEADER;
    for (unsigned i = 0; i < count; i++) {
        if (len - at < 5) {
            snprintf(why, why_size, "admin answer truncated in field %u of %u", i + 1, count);
            return -1;
        }
        uint32_t size = get_be32(body + at);
        if (size < 1 || size - 1 > len - at - 5) {
            snprintf(why, why_size, "admin answer field %u claims %u bytes past the answer's end",
                     i + 1, (unsigned)size);
            return -1;
        }
        uint8_t id = body[at + 4];
        const unsigned char *data = body + at + 5;
        size_t data_len = size - 1;
        if (id == CSHM_AS_FIELD_SESSION_TOKEN) {
            if (data_len == 0 || data_len > token_cap) {
                snprintf(why, why_size, "session token of %zu bytes (this client takes 1 to %zu)",
                         data_len, token_cap);
                return -1;
            }
            memcpy(token, data, data_len);
            out->token_len = data_len;
        } else if (id == CSHM_AS_FIELD_SESSION_TTL) {
            if (data_len != 4) {
                snprintf(why, why_size, "session TTL field of %zu bytes, not 4", data_len);
                return -1;
            }
            out->ttl_seconds = get_be32(data);
        }
        at += 5 + data_len;
    }
    return 0;
}

int cshm_as_admin_call(int *fd, const unsigned char *request, size_t request_len, double deadline,
                       unsigned char *body, size_t *body_len, char *why, size_t why_size)
{
    unsigned char header[8];
    if (*fd < 0) {
        snprintf(why, why_size, "not connected");
        return -1;
    }
    if (cshm_net_write_all(*fd, request, request_len, deadline, why, why_size) != 0 ||
        cshm_net_read_exact(*fd, header, sizeof header, deadline, why, why_size) != 0)
        goto fail;
    uint64_t size = 0;
    for (int i = 2; i < 8; i++)
        size = size << 8 | header[i];
    /* Servers answer version 2; version 0 was the old admin framing. */
    if ((header[0] != 2 && header[0] != 0) || header[1] != CSHM_AS_ADMIN_TYPE) {
        snprintf(why, why_size, "answer to a login is not an admin message (version %u, type %u)",
                 header[0], header[1]);
        goto fail;
    }
    if (size < CSHM_AS_ADMIN_HEADER || size > CSHM_AS_ADMIN_MAX) {
        snprintf(why, why_size, "admin answer of %llu bytes (expected %d to %d)",
                 (unsigned long long)size, CSHM_AS_ADMIN_HEADER, CSHM_AS_ADMIN_MAX);
        goto fail;
    }
    if (cshm_net_read_exact(*fd, body, (size_t)size, deadline, why, why_size) != 0)
        goto fail;
    *body_len = (size_t)size;
    return 0;
fail:
    cshm_net_close(fd);
    return -1;
}

const char *cshm_as_admin_result_name(unsigned result)
{
    switch (result) {
    case CSHM_AS_RESULT_OK: return "OK";
    case CSHM_AS_RESULT_SECURITY_NOT_SUPPORTED: return "SECURITY_NOT_SUPPORTED";
    case CSHM_AS_RESULT_SECURITY_NOT_ENABLED: return "SECURITY_NOT_ENABLED";
    case CSHM_AS_RESULT_INVALID_USER: return "INVALID_USER";
    case CSHM_AS_RESULT_INVALID_PASSWORD: return "INVALID_PASSWORD";
    case CSHM_AS_RESULT_EXPIRED_PASSWORD: return "EXPIRED_PASSWORD";
    case CSHM_AS_RESULT_INVALID_CREDENTIAL: return "INVALID_CREDENTIAL";
    case CSHM_AS_RESULT_EXPIRED_SESSION: return "EXPIRED_SESSION";
    case CSHM_AS_RESULT_NOT_AUTHENTICATED: return "NOT_AUTHENTICATED";
    default: return "server error";
    }
}
