/*
 * sha256.h - SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104) and
 * PBKDF2-HMAC-SHA256 (RFC 8018), for the salted, deliberately slow
 * fingerprint of a cluster's credentials kept in the segment header: two
 * processes whose credentials differ must not share a tender, yet the
 * segment must not hold anything that makes guessing a short password cheap.
 *
 * Invariants: the context holds at most one partial 64-byte block; any split
 * of the input into update() calls gives the digest of the concatenation;
 * final() writes 32 bytes and wipes the context, which is unusable until the
 * next init().  Key material, derived states and intermediate blocks are
 * wiped before the HMAC and PBKDF2 functions return.  No allocation, no
 * global state: safe from any thread.
 */
#ifndef CSHM_SHA256_H
#define CSHM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define CSHM_SHA256_SIZE 32
#define CSHM_SHA256_BLOCK 64

typedef struct cshm_sha256_ctx {
    uint32_t state[8];
    uint64_t length;                         /* bytes hashed so far */
    unsigned char block[CSHM_SHA256_BLOCK];  /* pending bytes of the current block */
    size_t used;
} cshm_sha256_ctx;

void cshm_sha256_init(cshm_sha256_ctx *ctx);
void cshm_sha256_update(cshm_sha256_ctx *ctx, const void *data, size_t len);
void cshm_sha256_final(cshm_sha256_ctx *ctx, unsigned char out[CSHM_SHA256_SIZE]);

/* One-shot convenience. */
void cshm_sha256(const void *data, size_t len, unsigned char out[CSHM_SHA256_SIZE]);

/* A key longer than one block is hashed first, as RFC 2104 requires. */
void cshm_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                      unsigned char out[CSHM_SHA256_SIZE]);

/* PBKDF2 (RFC 8018) with HMAC-SHA256; out_len any size >= 1 and at most
 * (2^32 - 1) * 32 (the RFC's limit: the block counter is 32 bits);
 * iterations >= 1 (0 is taken as 1). */
void cshm_pbkdf2_sha256(const void *password, size_t password_len, const void *salt,
                        size_t salt_len, uint32_t iterations, unsigned char *out, size_t out_len);

/* Constant-time comparison: 1 when equal.  The time depends on len only, so
 * comparing a fingerprint does not reveal how many leading bytes matched. */
int cshm_bytes_equal(const void *a, const void *b, size_t len);

#endif
