/*
 * credentials.c - see credentials.h.
 *
 * TLS settings (tls and the tls_* options) join the credentials here:
 * two processes with different CAs, client certificates or verification
 * must not share a tender, and the settings stay out of the segment.
 */
#include "credentials.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "sha256.h"

int cshm_credentials_present(const cshm_config *c)
{
    return c->has_password || c->has_user || c->tls;
}

uint32_t cshm_credentials_iterations(const cshm_config *c)
{
    return c->has_password || c->has_user ? CSHM_CREDENTIALS_ITERATIONS
                                          : CSHM_CREDENTIALS_ITERATIONS_TLS_ONLY;
}

/* Append s and its NUL. */
static size_t put_field(unsigned char *out, size_t len, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    memcpy(out + len, s, n);
    out[len + n] = '\0';
    return len + n + 1;
}

void cshm_credentials_fingerprint(const cshm_config *c, const unsigned char *salt,
                                  size_t salt_len, uint32_t iterations, unsigned char out[32])
{
    /* 'U' + user + NUL + password, or 'P' + password: user and password
     * cannot contain NUL (config.c refuses it), so the encoding is
     * unambiguous. */
    const cshm_options *o = &c->options;
    unsigned char secret[1 + CSHM_USER_MAX + 1 + CSHM_PASSWORD_MAX + 2 + 4 * CSHM_TLS_PATH_MAX +
                         sizeof o->tls_server_name + 1];
    size_t len = 0;
    if (!c->has_user && !c->has_password) {
        /* TLS settings alone. */
        secret[len++] = 'N';
    } else {
        secret[len++] = c->has_user ? 'U' : 'P';
        if (c->has_user) {
            size_t user_len = strnlen(c->user, sizeof c->user);
            memcpy(secret + len, c->user, user_len);
            len += user_len;
            secret[len++] = '\0';
        }
        size_t password_len = strnlen(c->password, sizeof c->password);
        memcpy(secret + len, c->password, password_len);
        len += password_len;
    }
    if (c->tls) {
        /* NUL 'T' then each setting NUL-terminated: the password holds no
         * NUL, so the TLS part cannot be confused with the credentials, and
         * a configuration without TLS encodes exactly as before. */
        secret[len++] = '\0';
        secret[len++] = 'T';
        len = put_field(secret, len, o->tls_ca_file, sizeof o->tls_ca_file);
        len = put_field(secret, len, o->tls_ca_dir, sizeof o->tls_ca_dir);
        len = put_field(secret, len, o->tls_cert_file, sizeof o->tls_cert_file);
        len = put_field(secret, len, o->tls_key_file, sizeof o->tls_key_file);
        len = put_field(secret, len, o->tls_server_name, sizeof o->tls_server_name);
        secret[len++] = o->tls_insecure_skip_verify ? '1' : '0';
    }
    assert(len <= sizeof secret);
    cshm_pbkdf2_sha256(secret, len, salt, salt_len, iterations, out, 32);
    explicit_bzero(secret, sizeof secret);
}

int cshm_random_bytes(void *out, size_t n)
{
    unsigned char *p = out;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}
