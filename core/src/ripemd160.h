/*
 * ripemd160.h - RIPEMD-160 (Dobbertin, Bosselaers, Preneel, 1996), the hash
 * behind Aerospike record digests.
 *
 * Invariants: the context holds at most one partial 64-byte block; any number
 * of update calls with any split of the input gives the same digest as one
 * call over the concatenation; final() writes 20 bytes and leaves the context
 * unusable until the next init().  No allocation, no global state: safe from
 * any thread.
 */
#ifndef CSHM_RIPEMD160_H
#define CSHM_RIPEMD160_H

#include <stddef.h>
#include <stdint.h>

#define CSHM_RIPEMD160_SIZE 20

typedef struct cshm_ripemd160_ctx {
    uint32_t state[5];
    uint64_t total;              /* bytes hashed so far */
    unsigned char block[64];     /* pending bytes of the current block */
    size_t block_used;
} cshm_ripemd160_ctx;

void cshm_ripemd160_init(cshm_ripemd160_ctx *ctx);
void cshm_ripemd160_update(cshm_ripemd160_ctx *ctx, const void *data, size_t len);
void cshm_ripemd160_final(cshm_ripemd160_ctx *ctx, uint8_t digest[CSHM_RIPEMD160_SIZE]);

/* One-shot convenience. */
void cshm_ripemd160(const void *data, size_t len, uint8_t digest[CSHM_RIPEMD160_SIZE]);

#endif
