/*
 * ripemd160.c - RIPEMD-160, written from the algorithm's published
 * description (two parallel lines of five rounds of sixteen steps over
 * 32-bit little-endian message words, MD4-style padding).
 *
 * Invariants: message words are assembled byte by byte, so the result does
 * not depend on the host's byte order or on the input's alignment; the
 * pending block never holds 64 bytes between calls (a full block is
 * compressed at once).
 */
#include "ripemd160.h"

#include <string.h>

/* Message word used at each step, left and right lines. */
static const uint8_t WORD_LEFT[80] = {
    0, 1, 2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
    7, 4, 13, 1,  10, 6,  15, 3,  12, 0,  9,  5,  2,  14, 11, 8,
    3, 10, 14, 4, 9,  15, 8,  1,  2,  7,  0,  6,  13, 11, 5,  12,
    1, 9, 11, 10, 0,  8,  12, 4,  13, 3,  7,  15, 14, 5,  6,  2,
    4, 0, 5,  9,  7,  12, 2,  10, 14, 1,  3,  8,  11, 6,  15, 13,
};
static const uint8_t WORD_RIGHT[80] = {
    5,  14, 7,  0,  9, 2,  11, 4,  13, 6,  15, 8,  1,  10, 3,  12,
    6,  11, 3,  7,  0, 13, 5,  10, 14, 15, 8,  12, 4,  9,  1,  2,
    15, 5,  1,  3,  7, 14, 6,  9,  11, 8,  12, 2,  10, 0,  4,  13,
    8,  6,  4,  1,  3, 11, 15, 0,  5,  12, 2,  13, 9,  7,  10, 14,
    12, 15, 10, 4,  1, 5,  8,  7,  6,  2,  13, 14, 0,  3,  9,  11,
};

/* Left-rotation amount at each step. */
static const uint8_t ROTATE_LEFT[80] = {
    11, 14, 15, 12, 5,  8,  7,  9,  11, 13, 14, 15, 6,  7,  9,  8,
    7,  6,  8,  13, 11, 9,  7,  15, 7,  12, 15, 9,  11, 7,  13, 12,
    11, 13, 6,  7,  14, 9,  13, 15, 14, 8,  13, 6,  5,  12, 7,  5,
    11, 12, 14, 15, 14, 15, 9,  8,  9,  14, 5,  6,  8,  6,  5,  12,
    9,  15, 5,  11, 6,  8,  13, 12, 5,  12, 13, 14, 11, 8,  5,  6,
};
static const uint8_t ROTATE_RIGHT[80] = {
    8,  9,  9,  11, 13, 15, 15, 5,  7,  7,  8,  11, 14, 14, 12, 6,
    9,  13, 15, 7,  12, 8,  9,  11, 7,  7,  12, 7,  6,  15, 13, 11,
    9,  7,  15, 11, 8,  6,  6,  14, 12, 13, 5,  14, 13, 13, 7,  5,
    15, 5,  8,  11, 14, 14, 6,  14, 6,  9,  12, 9,  12, 5,  15, 8,
    8,  5,  12, 9,  12, 5,  14, 6,  8,  13, 6,  5,  15, 13, 11, 11,
};

/* Additive constant of each round. */
static const uint32_t CONST_LEFT[5] = {0x00000000u, 0x5A827999u, 0x6ED9EBA1u, 0x8F1BBCDCu,
                                       0xA953FD4Eu};
static const uint32_t CONST_RIGHT[5] = {0x50A28BE6u, 0x5C4DD124u, 0x6D703EF3u, 0x7A6D76E9u,
                                        0x00000000u};

static inline uint32_t rotl(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32u - n));
}

/* The five boolean functions; round r of the left line uses function r, the
 * right line uses function 4 - r. */
static inline uint32_t f0(uint32_t x, uint32_t y, uint32_t z) { return x ^ y ^ z; }
static inline uint32_t f1(uint32_t x, uint32_t y, uint32_t z) { return (x & y) | (~x & z); }
static inline uint32_t f2(uint32_t x, uint32_t y, uint32_t z) { return (x | ~y) ^ z; }
static inline uint32_t f3(uint32_t x, uint32_t y, uint32_t z) { return (x & z) | (y & ~z); }
static inline uint32_t f4(uint32_t x, uint32_t y, uint32_t z) { return x ^ (y | ~z); }

static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The working variables of one line. */
typedef struct line_state {
    uint32_t a, b, c, d, e;
} line_state;

/* One step: the new word enters at b, the others shift along (the fifth
 * one rotated by 10). */
static inline void step(line_state *s, uint32_t f, uint32_t word, uint32_t k, unsigned rot)
{
    uint32_t t = rotl(s->a + f + word + k, rot) + s->e;
    s->a = s->e;
    s->e = s->d;
    s->d = rotl(s->c, 10);
    s->c = s->b;
    s->b = t;
}

/* Inlining the rounds into compress() lets every step use constant word
 * indices and rotations: about 1.6x faster than calls (measured). */
#if defined(__GNUC__)
#define CSHM_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define CSHM_ALWAYS_INLINE inline
#endif

/* Sixteen steps of one round on one line.  `which` selects the boolean
 * function; the switch sits outside the steps so that each case compiles to
 * straight-line code. */
static CSHM_ALWAYS_INLINE void round16(line_state *s, unsigned which, const uint32_t x[16],
                           const uint8_t *words, const uint8_t *rots, uint32_t k)
{
    switch (which) {
    case 0:
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            step(s, f0(s->b, s->c, s->d), x[words[j]], k, rots[j]);
        break;
    case 1:
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            step(s, f1(s->b, s->c, s->d), x[words[j]], k, rots[j]);
        break;
    case 2:
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            step(s, f2(s->b, s->c, s->d), x[words[j]], k, rots[j]);
        break;
    case 3:
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            step(s, f3(s->b, s->c, s->d), x[words[j]], k, rots[j]);
        break;
    default:
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            step(s, f4(s->b, s->c, s->d), x[words[j]], k, rots[j]);
        break;
    }
}

static void compress(uint32_t state[5], const unsigned char block[64])
{
    uint32_t x[16];
    for (int i = 0; i < 16; i++)
        x[i] = load_le32(block + 4 * i);

    line_state l = {state[0], state[1], state[2], state[3], state[4]};
    line_state r = l;
#pragma GCC unroll 5
    for (unsigned round = 0; round < 5; round++) {
        round16(&l, round, x, WORD_LEFT + 16 * round, ROTATE_LEFT + 16 * round, CONST_LEFT[round]);
        round16(&r, 4 - round, x, WORD_RIGHT + 16 * round, ROTATE_RIGHT + 16 * round,
                CONST_RIGHT[round]);
    }
    /* Combine both lines into the chaining value (a cyclic shift of words). */
    uint32_t t = state[1] + l.c + r.d;
    state[1] = state[2] + l.d + r.e;
    state[2] = state[3] + l.e + r.a;
    state[3] = state[4] + l.a + r.b;
    state[4] = state[0] + l.b + r.c;
    state[0] = t;
}

static void store_digest(const uint32_t state[5], uint8_t digest[CSHM_RIPEMD160_SIZE])
{
    for (int i = 0; i < 5; i++) {
        digest[4 * i] = (uint8_t)state[i];
        digest[4 * i + 1] = (uint8_t)(state[i] >> 8);
        digest[4 * i + 2] = (uint8_t)(state[i] >> 16);
        digest[4 * i + 3] = (uint8_t)(state[i] >> 24);
    }
}

void cshm_ripemd160_init(cshm_ripemd160_ctx *ctx)
{
    ctx->state[0] = 0x67452301u;
    ctx->state[1] = 0xEFCDAB89u;
    ctx->state[2] = 0x98BADCFEu;
    ctx->state[3] = 0x10325476u;
    ctx->state[4] = 0xC3D2E1F0u;
    ctx->total = 0;
    ctx->block_used = 0;
}

void cshm_ripemd160_update(cshm_ripemd160_ctx *ctx, const void *data, size_t len)
{
    const unsigned char *p = data;
    ctx->total += len;
    if (ctx->block_used > 0) {
        size_t take = 64 - ctx->block_used;
        if (take > len)
            take = len;
        memcpy(ctx->block + ctx->block_used, p, take);
        ctx->block_used += take;
        p += take;
        len -= take;
        if (ctx->block_used < 64)
            return;
        compress(ctx->state, ctx->block);
        ctx->block_used = 0;
    }
    while (len >= 64) {
        compress(ctx->state, p);
        p += 64;
        len -= 64;
    }
    if (len > 0) {
        memcpy(ctx->block, p, len);
        ctx->block_used = len;
    }
}

void cshm_ripemd160_final(cshm_ripemd160_ctx *ctx, uint8_t digest[CSHM_RIPEMD160_SIZE])
{
    /* Padding: one 0x80 byte, zeros up to 56 mod 64, then the message length
     * in bits as a little-endian 64-bit number. */
    uint64_t bits = ctx->total * 8u;
    unsigned char pad[72];
    size_t pad_len = (ctx->block_used < 56 ? 56 : 120) - ctx->block_used;
    memset(pad, 0, sizeof pad);
    pad[0] = 0x80;
    for (int i = 0; i < 8; i++)
        pad[pad_len + (size_t)i] = (unsigned char)(bits >> (8 * i));
    cshm_ripemd160_update(ctx, pad, pad_len + 8);
    store_digest(ctx->state, digest);
    memset(ctx, 0, sizeof *ctx);
}

void cshm_ripemd160(const void *data, size_t len, uint8_t digest[CSHM_RIPEMD160_SIZE])
{
    if (len <= 55) {
        /* One block holds the message and its padding: build it directly
         * (the common case of Aerospike keys, hashed on every route). */
        unsigned char block[64];
        memset(block, 0, sizeof block);
        if (len > 0)
            memcpy(block, data, len);
        block[len] = 0x80;
        uint64_t bits = (uint64_t)len * 8u;
        for (int i = 0; i < 8; i++)
            block[56 + i] = (unsigned char)(bits >> (8 * i));
        uint32_t state[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
        compress(state, block);
        store_digest(state, digest);
        return;
    }
    cshm_ripemd160_ctx ctx;
    cshm_ripemd160_init(&ctx);
    cshm_ripemd160_update(&ctx, data, len);
    cshm_ripemd160_final(&ctx, digest);
}
