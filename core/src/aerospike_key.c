/*
 * aerospike_key.c - the Aerospike digest and partition id (spec section 5).
 *
 * Digest = RIPEMD-160(set name bytes || key type byte || key bytes): no
 * terminator after the set, no length prefix before the key; the namespace
 * is not hashed.  Integer keys are 8 bytes, two's complement, big-endian.
 * CSHM_KEY_BYTES keys hash as blobs (type byte 4).
 *
 * Invariant: no allocation for any key length: inputs of up to 55 bytes are
 * copied into one stack block (the fast path of route()), longer ones are
 * fed to the hash in pieces.
 */
#include "aerospike_key.h"

#include <string.h>

#include "error.h"
#include "ripemd160.h"

enum { TYPE_INTEGER = 1, TYPE_STRING = 3, TYPE_BLOB = 4 };

/* Inputs up to this size fit one RIPEMD-160 block with its padding. */
enum { SHORT_INPUT = 55 };

uint32_t cshm_aerospike_partition_of_digest(const uint8_t digest[20])
{
    return ((uint32_t)digest[0] | (uint32_t)digest[1] << 8) & 0x0FFFu;
}

int cshm_aerospike_digest(const char *set, const cshm_key *key, uint8_t digest[20],
                          cshm_error *error)
{
    if (key == NULL || digest == NULL)
        return cshm_fail(error, CSHM_ERR_CONFIG, "aerospike_digest: key and digest are required");
    unsigned char type_byte;
    unsigned char integer_bytes[8];
    const void *bytes = key->data;
    size_t len = key->len;
    switch (key->type) {
    case CSHM_KEY_INTEGER: {
        /* Two's complement through the unsigned type: well defined in C. */
        uint64_t v = (uint64_t)key->integer;
        for (int i = 0; i < 8; i++)
            integer_bytes[i] = (unsigned char)(v >> (56 - 8 * i));
        type_byte = TYPE_INTEGER;
        bytes = integer_bytes;
        len = sizeof integer_bytes;
        break;
    }
    case CSHM_KEY_STRING:
        type_byte = TYPE_STRING;
        break;
    case CSHM_KEY_BYTES:
        type_byte = TYPE_BLOB;
        break;
    default:
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "aerospike_digest: unknown key type %d; use string, integer or bytes",
                         (int)key->type);
    }
    if (bytes == NULL && len > 0)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "aerospike_digest: key data is NULL but its length is %zu", len);

    size_t set_len = set != NULL ? strlen(set) : 0;
    if (set_len + 1 + len <= SHORT_INPUT) {
        /* Short input (most keys): one contiguous copy, one-block hash. */
        unsigned char input[SHORT_INPUT];
        if (set_len > 0)
            memcpy(input, set, set_len);
        input[set_len] = type_byte;
        if (len > 0)
            memcpy(input + set_len + 1, bytes, len);
        cshm_ripemd160(input, set_len + 1 + len, digest);
        return 0;
    }
    cshm_ripemd160_ctx ctx;
    cshm_ripemd160_init(&ctx);
    if (set_len > 0)
        cshm_ripemd160_update(&ctx, set, set_len);
    cshm_ripemd160_update(&ctx, &type_byte, 1);
    if (len > 0)
        cshm_ripemd160_update(&ctx, bytes, len);
    cshm_ripemd160_final(&ctx, digest);
    return 0;
}

int cshm_aerospike_partition(const cshm_key *key, const char *set, uint32_t *partition,
                             cshm_error *error)
{
    uint8_t digest[20];
    int rc = cshm_aerospike_digest(set, key, digest, error);
    if (rc != 0)
        return rc;
    *partition = cshm_aerospike_partition_of_digest(digest);
    return 0;
}
