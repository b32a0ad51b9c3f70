/*
 * test_sha256.c - SHA-256, HMAC-SHA256, PBKDF2-HMAC-SHA256 and the
 * constant-time comparison.
 *
 * Expected values are the published vectors: FIPS 180-4's examples (and the
 * million-'a' message of the NIST test set), RFC 4231's HMAC cases and the
 * widely used PBKDF2-HMAC-SHA256 list (password/salt, c = 1, 2, 4096, the
 * 40-byte output and the NUL-byte case).  Each was recomputed with Python's
 * hashlib and hmac before being written down here.
 */
#include <stdio.h>
#include <string.h>

#include "sha256.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------- */

static void to_hex(const unsigned char *bytes, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

/* Compares len bytes with a hex string of exactly 2 * len digits, and says
 * what came out when they differ. */
static int hex_is(const char *what, const unsigned char *bytes, size_t len, const char *hex)
{
    char text[2 * 64 + 1];
    if (len > 64 || strlen(hex) != 2 * len)
        return 0;
    to_hex(bytes, len, text);
    if (strcmp(text, hex) != 0) {
        fprintf(stderr, "    %s got %s expected %s\n", what, text, hex);
        return 0;
    }
    return 1;
}

static int sha256_hex_is(const void *data, size_t len, const char *hex)
{
    unsigned char d[CSHM_SHA256_SIZE];
    cshm_sha256(data, len, d);
    return hex_is("sha256", d, sizeof d, hex);
}

/* Checks the first bytes of the MAC only when hex is shorter than 64 digits
 * (RFC 4231 case 5 publishes a truncated output). */
static int hmac_hex_is(const void *key, size_t key_len, const void *data, size_t len,
                       const char *hex)
{
    unsigned char mac[CSHM_SHA256_SIZE];
    cshm_hmac_sha256(key, key_len, data, len, mac);
    return hex_is("hmac-sha256", mac, strlen(hex) / 2, hex);
}

static int pbkdf2_hex_is(const void *password, size_t password_len, const void *salt,
                         size_t salt_len, uint32_t iterations, const char *hex)
{
    unsigned char dk[64];
    size_t len = strlen(hex) / 2;
    if (len > sizeof dk)
        return 0;
    cshm_pbkdf2_sha256(password, password_len, salt, salt_len, iterations, dk, len);
    return hex_is("pbkdf2-sha256", dk, len, hex);
}

#define TEXT(literal) literal, sizeof(literal) - 1

/* ---- SHA-256 ------------------------------------------------------------- */

static void test_sha256_fips_vectors(void)
{
    CHECK(sha256_hex_is(TEXT(""),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    CHECK(sha256_hex_is(NULL, 0,
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    CHECK(sha256_hex_is(TEXT("abc"),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    /* 56 bytes: the padding no longer fits, a second block follows. */
    CHECK(sha256_hex_is(TEXT("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
}

static void test_sha256_million_a(void)
{
    cshm_sha256_ctx ctx;
    char block[1000];
    unsigned char d[CSHM_SHA256_SIZE];
    memset(block, 'a', sizeof block);
    cshm_sha256_init(&ctx);
    for (int i = 0; i < 1000; i++)
        cshm_sha256_update(&ctx, block, sizeof block);
    cshm_sha256_final(&ctx, d);
    CHECK(hex_is("sha256", d, sizeof d,
                 "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

/* Any split of a 200-byte input into two update() calls, and byte-at-a-time
 * feeding, gives the one-shot digest; the input length also runs through
 * every padding boundary. */
static void test_sha256_incremental_splits(void)
{
    unsigned char data[200];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7 + 3);
    unsigned char whole[CSHM_SHA256_SIZE], parts[CSHM_SHA256_SIZE];
    cshm_sha256_ctx ctx;
    int mismatches = 0;

    cshm_sha256(data, sizeof data, whole);
    for (size_t split = 0; split <= sizeof data; split++) {
        cshm_sha256_init(&ctx);
        cshm_sha256_update(&ctx, data, split);
        cshm_sha256_update(&ctx, data + split, sizeof data - split);
        cshm_sha256_final(&ctx, parts);
        mismatches += memcmp(whole, parts, sizeof whole) != 0;
    }
    cshm_sha256_init(&ctx);
    for (size_t i = 0; i < sizeof data; i++)
        cshm_sha256_update(&ctx, data + i, 1);
    cshm_sha256_final(&ctx, parts);
    mismatches += memcmp(whole, parts, sizeof whole) != 0;

    for (size_t len = 0; len <= sizeof data; len++) {
        cshm_sha256(data, len, whole);
        size_t split = len / 3;
        cshm_sha256_init(&ctx);
        cshm_sha256_update(&ctx, data, split);
        cshm_sha256_update(&ctx, data + split, len - split);
        cshm_sha256_final(&ctx, parts);
        mismatches += memcmp(whole, parts, sizeof whole) != 0;
    }
    CHECK(mismatches == 0);
}

/* The input's alignment does not matter (words are loaded byte by byte). */
static void test_sha256_unaligned_input(void)
{
    unsigned char buf[3 + 56];
    unsigned char d[CSHM_SHA256_SIZE];
    memcpy(buf + 3, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56);
    cshm_sha256(buf + 3, 56, d);
    CHECK(hex_is("sha256", d, sizeof d,
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
}

/* ---- HMAC-SHA256 (RFC 4231) ------------------------------------------------ */

static void test_hmac_rfc4231(void)
{
    unsigned char key[131], data[152];

    memset(key, 0x0b, 20);
    CHECK(hmac_hex_is(key, 20, TEXT("Hi There"),
                      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"));

    CHECK(hmac_hex_is(TEXT("Jefe"), TEXT("what do ya want for nothing?"),
                      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));

    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    CHECK(hmac_hex_is(key, 20, data, 50,
                      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"));

    for (int i = 0; i < 25; i++)
        key[i] = (unsigned char)(i + 1);
    memset(data, 0xcd, 50);
    CHECK(hmac_hex_is(key, 25, data, 50,
                      "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"));

    /* Case 5: the RFC gives the output truncated to 128 bits. */
    memset(key, 0x0c, 20);
    CHECK(hmac_hex_is(key, 20, TEXT("Test With Truncation"), "a3b6167473100ee06e0c796c2955552b"));

    /* Cases 6 and 7: a 131-byte key is longer than a block and is hashed
     * first; case 7's data spans three blocks. */
    memset(key, 0xaa, 131);
    CHECK(hmac_hex_is(key, 131, TEXT("Test Using Larger Than Block-Size Key - Hash Key First"),
                      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"));
    CHECK(hmac_hex_is(key, 131,
                      TEXT("This is a test using a larger than block-size key and a larger "
                           "than block-size data. The key needs to be hashed before being "
                           "used by the HMAC algorithm."),
                      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"));
}

/* A key of exactly one block is used as is; one byte more is hashed first,
 * and hashing it must give the same MAC as passing the digest as the key. */
static void test_hmac_key_length_boundary(void)
{
    unsigned char key[65], digest[CSHM_SHA256_SIZE];
    unsigned char a[CSHM_SHA256_SIZE], b[CSHM_SHA256_SIZE];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (unsigned char)(0x41 + i);
    cshm_sha256(key, 65, digest);
    cshm_hmac_sha256(key, 65, TEXT("message"), a);
    cshm_hmac_sha256(digest, sizeof digest, TEXT("message"), b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    /* A 64-byte key is not hashed: the MAC differs from the hashed one's. */
    cshm_sha256(key, 64, digest);
    cshm_hmac_sha256(key, 64, TEXT("message"), a);
    cshm_hmac_sha256(digest, sizeof digest, TEXT("message"), b);
    CHECK(memcmp(a, b, sizeof a) != 0);
}

/* ---- PBKDF2-HMAC-SHA256 ---------------------------------------------------- */

static void test_pbkdf2_published_vectors(void)
{
    CHECK(pbkdf2_hex_is(TEXT("password"), TEXT("salt"), 1,
                        "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"));
    CHECK(pbkdf2_hex_is(TEXT("password"), TEXT("salt"), 2,
                        "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"));
    CHECK(pbkdf2_hex_is(TEXT("password"), TEXT("salt"), 4096,
                        "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"));
    /* 40 bytes: a second block (counter 2), of which 8 bytes are kept. */
    CHECK(pbkdf2_hex_is(TEXT("passwordPASSWORDpassword"),
                        TEXT("saltSALTsaltSALTsaltSALTsaltSALTsalt"), 4096,
                        "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1"
                        "c635518c7dac47e9"));
    /* NUL bytes in password and salt are data, not terminators. */
    CHECK(pbkdf2_hex_is(TEXT("pass\0word"), TEXT("sa\0lt"), 4096,
                        "89b69d0516f829893c696226650a8687"));
}

/* A shorter output is a prefix of a longer one; 0 iterations is taken as 1;
 * an empty password and an empty (NULL) salt are accepted. */
static void test_pbkdf2_lengths_and_edges(void)
{
    unsigned char longer[64], shorter[33], one[CSHM_SHA256_SIZE], zero[CSHM_SHA256_SIZE];
    cshm_pbkdf2_sha256(TEXT("password"), TEXT("salt"), 3, longer, sizeof longer);
    cshm_pbkdf2_sha256(TEXT("password"), TEXT("salt"), 3, shorter, sizeof shorter);
    CHECK(memcmp(longer, shorter, sizeof shorter) == 0);
    cshm_pbkdf2_sha256(TEXT("password"), TEXT("salt"), 3, shorter, 1);
    CHECK(shorter[0] == longer[0]);

    cshm_pbkdf2_sha256(TEXT("password"), TEXT("salt"), 1, one, sizeof one);
    cshm_pbkdf2_sha256(TEXT("password"), TEXT("salt"), 0, zero, sizeof zero);
    CHECK(memcmp(one, zero, sizeof one) == 0);

    /* Values from Python's hashlib.pbkdf2_hmac. */
    CHECK(pbkdf2_hex_is(NULL, 0, NULL, 0, 2,
                        "97398411d6aea43a77acef92226ab8278d4db0668bd1d7a76a725f7680ac45c5"));
}

/* ---- constant-time comparison ---------------------------------------------- */

static void test_bytes_equal(void)
{
    unsigned char a[CSHM_SHA256_SIZE], b[CSHM_SHA256_SIZE];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = b[i] = (unsigned char)(i * 37 + 1);
    CHECK(cshm_bytes_equal(a, b, sizeof a) == 1);
    CHECK(cshm_bytes_equal(a, b, 0) == 1);
    int all_detected = 1;
    for (size_t i = 0; i < sizeof a; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (unsigned char)(1u << bit);
            all_detected &= cshm_bytes_equal(a, b, sizeof a) == 0;
            b[i] ^= (unsigned char)(1u << bit);
        }
    }
    CHECK(all_detected);
    b[sizeof b - 1] ^= 0xff;
    CHECK(cshm_bytes_equal(a, b, sizeof a) == 0);
    CHECK(cshm_bytes_equal(a, b, sizeof a - 1) == 1);
}

void suite_sha256(void)
{
    RUN(test_sha256_fips_vectors);
    RUN(test_sha256_million_a);
    RUN(test_sha256_incremental_splits);
    RUN(test_sha256_unaligned_input);
    RUN(test_hmac_rfc4231);
    RUN(test_hmac_key_length_boundary);
    RUN(test_pbkdf2_published_vectors);
    RUN(test_pbkdf2_lengths_and_edges);
    RUN(test_bytes_equal);
}
