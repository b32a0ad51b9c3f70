/*
 * credentials.c - see credentials.h.
 */
#include "credentials.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "sha256.h"

int cshm_credentials_present(const cshm_config *c)
{
    return c->has_password || c->has_user;
}

void cshm_credentials_fingerprint(const cshm_config *c, const unsigned char *salt,
                                  size_t salt_len, uint32_t iterations, unsigned char out[32])
{
    /* 'U' + user + NUL + password, or 'P' + password: user and password
     * cannot contain NUL (config.c refuses it), so the encoding is
     * unambiguous. */
    unsigned char secret[1 + CSHM_USER_MAX + 1 + CSHM_PASSWORD_MAX];
    size_t len = 0;
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
