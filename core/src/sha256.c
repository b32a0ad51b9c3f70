/*
 * sha256.c - SHA-256, HMAC-SHA256 and PBKDF2-HMAC-SHA256, written from
 * FIPS 180-4 (sections 4.1.2, 4.2.2, 5.1.1, 6.2), RFC 2104 and RFC 8018
 * (section 5.2).
 *
 * Invariants:
 *  - Message words are assembled and the digest stored byte by byte, big
 *    endian, so the result does not depend on the host's byte order or on
 *    the alignment of any buffer; the pending block never holds 64 bytes
 *    between calls (a full block is compressed at once).
 *  - HMAC keys are absorbed once into two chaining values (key XOR ipad and
 *    key XOR opad, one block each); every MAC under that key starts from
 *    them, so PBKDF2 costs two compressions per iteration, not four.
 *  - Everything derived from a key or a password - the padded key blocks,
 *    the two chaining values, the U and T blocks of PBKDF2, the message
 *    schedule of each compression - is wiped with explicit_bzero (which the
 *    compiler may not drop as a dead store) before the function that owns
 *    it returns.
 */
#include "sha256.h"

#include <string.h>

/* First 32 bits of the fractional parts of the cube roots of the first 64
 * primes (FIPS 180-4 4.2.2). */
static const uint32_t K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u,
    0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu,
    0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu,
    0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u,
    0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u,
    0xc67178f2u,
};

/* First 32 bits of the fractional parts of the square roots of the first 8
 * primes (FIPS 180-4 5.3.3). */
static const uint32_t IV[8] = {
    0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
    0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
};

static inline uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32u - n));
}

static inline uint32_t ch(uint32_t x, uint32_t y, uint32_t z) { return (x & y) ^ (~x & z); }
static inline uint32_t maj(uint32_t x, uint32_t y, uint32_t z)
{
    return (x & y) ^ (x & z) ^ (y & z);
}
static inline uint32_t big_sigma0(uint32_t x) { return rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22); }
static inline uint32_t big_sigma1(uint32_t x) { return rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25); }
static inline uint32_t small_sigma0(uint32_t x) { return rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3); }
static inline uint32_t small_sigma1(uint32_t x) { return rotr(x, 17) ^ rotr(x, 19) ^ (x >> 10); }

static inline uint32_t load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void store_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* The compression function over a block already split into words: PBKDF2
 * keeps its blocks as words, so it skips the byte round trip. */
static void compress_words(uint32_t state[8], const uint32_t words[16])
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = words[i];
    for (int i = 16; i < 64; i++)
        w[i] = small_sigma1(w[i - 2]) + w[i - 7] + small_sigma0(w[i - 15]) + w[i - 16];

    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + big_sigma1(e) + ch(e, f, g) + K[i] + w[i];
        uint32_t t2 = big_sigma0(a) + maj(a, b, c);
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
    /* The schedule begins with the block itself: for an HMAC key block that
     * is the password XOR a constant. */
    explicit_bzero(w, sizeof w);
}

static void compress(uint32_t state[8], const unsigned char block[CSHM_SHA256_BLOCK])
{
    uint32_t words[16];
    for (int i = 0; i < 16; i++)
        words[i] = load_be32(block + 4 * i);
    compress_words(state, words);
    explicit_bzero(words, sizeof words);
}

void cshm_sha256_init(cshm_sha256_ctx *ctx)
{
    memcpy(ctx->state, IV, sizeof IV);
    ctx->length = 0;
    ctx->used = 0;
}

void cshm_sha256_update(cshm_sha256_ctx *ctx, const void *data, size_t len)
{
    /* Also keeps a NULL pointer with len 0 away from memcpy. */
    if (len == 0)
        return;
    const unsigned char *p = data;
    ctx->length += len;
    if (ctx->used > 0) {
        size_t take = CSHM_SHA256_BLOCK - ctx->used;
        if (take > len)
            take = len;
        memcpy(ctx->block + ctx->used, p, take);
        ctx->used += take;
        p += take;
        len -= take;
        if (ctx->used < CSHM_SHA256_BLOCK)
            return;
        compress(ctx->state, ctx->block);
        ctx->used = 0;
    }
    while (len >= CSHM_SHA256_BLOCK) {
        compress(ctx->state, p);
        p += CSHM_SHA256_BLOCK;
        len -= CSHM_SHA256_BLOCK;
    }
    if (len > 0) {
        memcpy(ctx->block, p, len);
        ctx->used = len;
    }
}

void cshm_sha256_final(cshm_sha256_ctx *ctx, unsigned char out[CSHM_SHA256_SIZE])
{
    /* Padding (FIPS 180-4 5.1.1): one 0x80 byte, zeros up to 56 mod 64, then
     * the message length in bits as a big-endian 64-bit number. */
    uint64_t bits = ctx->length * 8u;
    unsigned char pad[72];
    size_t pad_len = (ctx->used < 56 ? 56 : 120) - ctx->used;
    memset(pad, 0, sizeof pad);
    pad[0] = 0x80;
    for (int i = 0; i < 8; i++)
        pad[pad_len + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
    cshm_sha256_update(ctx, pad, pad_len + 8);
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, ctx->state[i]);
    /* The context may hold an HMAC key's chaining value or the tail of a
     * secret message. */
    explicit_bzero(ctx, sizeof *ctx);
}

void cshm_sha256(const void *data, size_t len, unsigned char out[CSHM_SHA256_SIZE])
{
    cshm_sha256_ctx ctx;
    cshm_sha256_init(&ctx);
    cshm_sha256_update(&ctx, data, len);
    cshm_sha256_final(&ctx, out);
}

/* ---- HMAC (RFC 2104) ------------------------------------------------------ */

/* A key absorbed once: the chaining values after the first block of the
 * inner and of the outer hash. */
typedef struct hmac_key {
    uint32_t inner[8];
    uint32_t outer[8];
} hmac_key;

static void hmac_key_init(hmac_key *hk, const void *key, size_t key_len)
{
    unsigned char k0[CSHM_SHA256_BLOCK];
    unsigned char pad[CSHM_SHA256_BLOCK];
    memset(k0, 0, sizeof k0);
    if (key_len > CSHM_SHA256_BLOCK)
        cshm_sha256(key, key_len, k0);
    else if (key_len > 0)
        memcpy(k0, key, key_len);

    for (int i = 0; i < CSHM_SHA256_BLOCK; i++)
        pad[i] = k0[i] ^ 0x36;
    memcpy(hk->inner, IV, sizeof IV);
    compress(hk->inner, pad);
    for (int i = 0; i < CSHM_SHA256_BLOCK; i++)
        pad[i] = k0[i] ^ 0x5c;
    memcpy(hk->outer, IV, sizeof IV);
    compress(hk->outer, pad);

    explicit_bzero(k0, sizeof k0);
    explicit_bzero(pad, sizeof pad);
}

/* A hash context positioned just after one key block. */
static void hmac_start(cshm_sha256_ctx *ctx, const uint32_t chaining[8])
{
    memcpy(ctx->state, chaining, sizeof ctx->state);
    ctx->length = CSHM_SHA256_BLOCK;
    ctx->used = 0;
}

/* Ends the inner hash and runs the outer one over its digest. */
static void hmac_finish(const hmac_key *hk, cshm_sha256_ctx *inner,
                        unsigned char out[CSHM_SHA256_SIZE])
{
    unsigned char digest[CSHM_SHA256_SIZE];
    cshm_sha256_ctx outer;
    cshm_sha256_final(inner, digest);
    hmac_start(&outer, hk->outer);
    cshm_sha256_update(&outer, digest, sizeof digest);
    cshm_sha256_final(&outer, out);
    explicit_bzero(digest, sizeof digest);
}

void cshm_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                      unsigned char out[CSHM_SHA256_SIZE])
{
    hmac_key hk;
    cshm_sha256_ctx inner;
    hmac_key_init(&hk, key, key_len);
    hmac_start(&inner, hk.inner);
    cshm_sha256_update(&inner, data, len);
    hmac_finish(&hk, &inner, out);
    explicit_bzero(&hk, sizeof hk);
}

/* ---- PBKDF2 (RFC 8018 5.2) ------------------------------------------------ */

void cshm_pbkdf2_sha256(const void *password, size_t password_len, const void *salt,
                        size_t salt_len, uint32_t iterations, unsigned char *out, size_t out_len)
{
    hmac_key hk;
    hmac_key_init(&hk, password, password_len);

    /* From U_2 on, both hashes of an HMAC cover one key block plus 32 bytes,
     * so each is a single compression of a block whose second half is fixed
     * padding: 0x80, zeros, and the length (64 + 32) * 8 = 768 bits. */
    uint32_t block[16];
    block[8] = 0x80000000u;
    for (int i = 9; i < 15; i++)
        block[i] = 0;
    block[15] = (CSHM_SHA256_BLOCK + CSHM_SHA256_SIZE) * 8;

    uint32_t u[8], t[8], st[8];
    unsigned char bytes[CSHM_SHA256_SIZE];
    cshm_sha256_ctx ctx;
    uint32_t index = 1;
    while (out_len > 0) {
        /* U_1 = PRF(P, S || INT(i)): the salt has any length, so the general
         * path. */
        unsigned char counter[4];
        store_be32(counter, index);
        hmac_start(&ctx, hk.inner);
        cshm_sha256_update(&ctx, salt, salt_len);
        cshm_sha256_update(&ctx, counter, sizeof counter);
        hmac_finish(&hk, &ctx, bytes);
        for (int i = 0; i < 8; i++)
            u[i] = t[i] = load_be32(bytes + 4 * i);

        for (uint32_t j = 1; j < iterations; j++) {
            memcpy(block, u, sizeof u);
            memcpy(st, hk.inner, sizeof st);
            compress_words(st, block);
            memcpy(block, st, sizeof st);
            memcpy(u, hk.outer, sizeof u);
            compress_words(u, block);
            for (int i = 0; i < 8; i++)
                t[i] ^= u[i];
        }

        for (int i = 0; i < 8; i++)
            store_be32(bytes + 4 * i, t[i]);
        size_t take = out_len < CSHM_SHA256_SIZE ? out_len : CSHM_SHA256_SIZE;
        memcpy(out, bytes, take);
        out += take;
        out_len -= take;
        index++;
    }

    explicit_bzero(&hk, sizeof hk);
    explicit_bzero(block, sizeof block);
    explicit_bzero(u, sizeof u);
    explicit_bzero(t, sizeof t);
    explicit_bzero(st, sizeof st);
    explicit_bzero(bytes, sizeof bytes);
}

int cshm_bytes_equal(const void *a, const void *b, size_t len)
{
    const unsigned char *x = a, *y = b;
    /* volatile: the compiler may not stop at the first difference. */
    volatile unsigned char diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char)(x[i] ^ y[i]);
    /* 1 when diff is 0, without a data-dependent branch: diff - 1 borrows
     * into bit 8 only when diff is 0. */
    return (int)(((unsigned)diff - 1u) >> 8 & 1u);
}
