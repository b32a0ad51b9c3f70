/*
 * test_crc16.c - CRC-16/XMODEM and Redis key slots.
 *
 * Every expected slot below was read from a real redis-server 7.0.15
 * (`CLUSTER KEYSLOT <key>`, binary keys sent as RESP bulk strings), so these
 * are the server's answers, not ours.
 */
#include <string.h>

#include "clustershm.h"
#include "driver.h"
#include "test.h"

static void test_crc16_check_value(void)
{
    CHECK(cshm_crc16("123456789", 9) == 0x31C3);
    CHECK(cshm_crc16("", 0) == 0);
    CHECK(cshm_crc16(NULL, 0) == 0);
    /* One byte exercises one table entry: CRC("A") for XMODEM is 0x58E5. */
    CHECK(cshm_crc16("A", 1) == 0x58E5);
}

typedef struct known_slot {
    const char *key;
    size_t len;
    uint32_t slot;
} known_slot;

#define KEY(literal) literal, sizeof(literal) - 1

static const known_slot server_slots[] = {
    {KEY("123456789"), 12739},
    {KEY("foo"), 12182},
    {KEY("bar"), 5061},
    {KEY("{user1000}.following"), 3443},
    {KEY("{user1000}.followers"), 3443},
    {KEY("user1000"), 3443},
    {KEY("foo{}{bar}"), 8363},        /* empty first tag: whole key */
    {KEY("foo{{bar}}zap"), 4015},     /* tag is "{bar" */
    {KEY("foo{bar}{zap}"), 5061},     /* first tag only: "bar" */
    {KEY("{}"), 15257},
    {KEY("{"), 4092},
    {KEY("}"), 12090},
    {KEY("}{"), 12793},
    {KEY("a{b"), 13340},              /* no closing brace: whole key */
    {KEY("{a}"), 15495},
    {KEY("{a}{b}"), 15495},
    {KEY("{{}}"), 4092},              /* tag is "{" */
    {KEY("x{}y{z}"), 15453},
    {KEY("a}b{c}"), 7365},            /* a '}' before the '{' does not count */
    {KEY(""), 0},
    {KEY("\0"), 0},
    {KEY("a\0b"), 8383},
    {KEY("{\0}x"), 0},                /* the tag is one NUL byte */
    {KEY("\xff\xfe{\0\x01}zz"), 4129},
    {KEY("\0\x01"), 4129},
    {KEY("12345"), 5228},
    {KEY("-1"), 5832},
    {KEY("0"), 13907},
    {KEY("9223372036854775807"), 13677},
    {KEY("-9223372036854775808"), 3298},
};

static void test_redis_slot_matches_server(void)
{
    for (size_t i = 0; i < sizeof server_slots / sizeof server_slots[0]; i++) {
        uint32_t got = cshm_redis_slot(server_slots[i].key, server_slots[i].len);
        if (got != server_slots[i].slot)
            fprintf(stderr, "    key #%zu: slot %u, server says %u\n", i, (unsigned)got,
                    (unsigned)server_slots[i].slot);
        CHECK(got == server_slots[i].slot);
    }
}

static void test_redis_slot_hash_tags(void)
{
    CHECK(cshm_redis_slot(KEY("{user1000}.following")) == cshm_redis_slot(KEY("user1000")));
    CHECK(cshm_redis_slot(KEY("foo{}{bar}")) == (cshm_crc16(KEY("foo{}{bar}")) & 16383u));
    CHECK(cshm_redis_slot(KEY("foo{}{bar}")) != cshm_redis_slot(KEY("bar")));
    CHECK(cshm_redis_slot(KEY("pre{tag}post")) == cshm_redis_slot(KEY("tag")));
    CHECK(cshm_redis_slot(NULL, 0) == 0);
    /* The length, not a NUL, ends the key. */
    CHECK(cshm_redis_slot("ab", 1) == cshm_redis_slot(KEY("a")));
    for (size_t len = 0; len < 64; len++) {
        char key[64];
        memset(key, 'k', sizeof key);
        CHECK(cshm_redis_slot(key, len) < 16384u);
    }
}

static void test_redis_driver_partition(void)
{
    uint32_t slot = 99999;
    cshm_error error;
    cshm_key key = {.type = CSHM_KEY_BYTES, .data = "foo", .len = 3};
    CHECK(cshm_driver_redis.partition(&key, NULL, &slot, &error) == 0);
    CHECK(slot == 12182);
    key.type = CSHM_KEY_STRING;
    CHECK(cshm_driver_redis.partition(&key, "ignored", &slot, &error) == 0);
    CHECK(slot == 12182);
    /* An integer key routes like its decimal text, as Redis stores it. */
    cshm_key number = {.type = CSHM_KEY_INTEGER, .integer = -9223372036854775807LL - 1};
    CHECK(cshm_driver_redis.partition(&number, NULL, &slot, &error) == 0);
    CHECK(slot == 3298);
    number.integer = 12345;
    CHECK(cshm_driver_redis.partition(&number, NULL, &slot, &error) == 0);
    CHECK(slot == 5228);
    cshm_key empty = {.type = CSHM_KEY_BYTES, .data = NULL, .len = 0};
    CHECK(cshm_driver_redis.partition(&empty, NULL, &slot, &error) == 0);
    CHECK(slot == 0);
    cshm_key broken = {.type = CSHM_KEY_BYTES, .data = NULL, .len = 4};
    CHECK(cshm_driver_redis.partition(&broken, NULL, &slot, &error) == CSHM_ERR_CONFIG);
    CHECK(strstr(error.message, "no data") != NULL);
    cshm_key unknown = {.type = (cshm_key_type)77, .data = "x", .len = 1};
    CHECK(cshm_driver_redis.partition(&unknown, NULL, &slot, &error) == CSHM_ERR_CONFIG);
}

void suite_crc16(void)
{
    RUN(test_crc16_check_value);
    RUN(test_redis_slot_matches_server);
    RUN(test_redis_slot_hash_tags);
    RUN(test_redis_driver_partition);
}
