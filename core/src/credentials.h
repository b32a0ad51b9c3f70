/*
 * credentials.h - the fingerprint that lets a segment say which credentials
 * tend it, without holding them.
 *
 * Invariants:
 *  - The segment stores a random per-segment salt and
 *    PBKDF2-HMAC-SHA256(credentials, salt, iterations), never the
 *    credentials and never a plain hash: whoever can read the segment must
 *    pay the full iteration count per guess of a password.
 *  - A configuration without credentials has no fingerprint (kind NONE);
 *    a segment without one is never shared with a configuration that has
 *    credentials, and the other way round.
 *  - TLS settings are fingerprinted with the credentials (credentials.c).
 *  - The credentials are encoded unambiguously (user present or not, user,
 *    NUL, password), so "user:pw" and "user\0" + "pw" never collide.
 */
#ifndef CSHM_CREDENTIALS_H
#define CSHM_CREDENTIALS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* About 2 ms per fingerprint on the CI machine type (measured: 1.9 ms best):
 * paid once per attach by processes with credentials, and per guess by an
 * attacker who can read the segment. */
#define CSHM_CREDENTIALS_ITERATIONS 4096u
#define CSHM_CREDENTIALS_ITERATIONS_MAX 10000000u

/* Without a password the settings are no secret worth slowing guesses
 * down for (paths, a server name): one iteration keeps a follower's attach
 * as fast as without TLS; it stays salted, so equal settings in two
 * segments do not show as equal fingerprints. */
#define CSHM_CREDENTIALS_ITERATIONS_TLS_ONLY 1u

/* 1 when the configuration has credentials or TLS settings to fingerprint. */
int cshm_credentials_present(const cshm_config *config);

/* The iteration count a creator stores for this configuration. */
uint32_t cshm_credentials_iterations(const cshm_config *config);

void cshm_credentials_fingerprint(const cshm_config *config, const unsigned char *salt,
                                  size_t salt_len, uint32_t iterations, unsigned char out[32]);

/* Fill out with n bytes from the kernel's random source.  0 or -1. */
int cshm_random_bytes(void *out, size_t n);

#endif
