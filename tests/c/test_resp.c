/*
 * test_resp.c - the RESP parser, encoder and socket reader.
 *
 * Inputs that must fail are copied into buffers of exactly their size, so
 * that AddressSanitizer catches any read past them; the same goes for every
 * prefix of the valid replies.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "redis_captures.h"
#include "resp.h"
#include "test.h"

#define LIT(literal) literal, sizeof(literal) - 1

/* Parse with the message kept for diagnostics. */
static char last_error[200];

static int parse(const char *data, size_t len, cshm_reply *reply, size_t *used)
{
    last_error[0] = '\0';
    return cshm_resp_parse(data, len, reply, used, last_error, sizeof last_error);
}

/* Parse data through an exactly-sized heap copy. */
static int parse_exact(const char *data, size_t len, cshm_reply *reply, size_t *used)
{
    char *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL)
        return -2;
    memcpy(copy, data, len);
    int rc = parse(copy, len, reply, used);
    free(copy);
    return rc;
}

static int parses_to_error(const char *data, size_t len, const char *expected_words)
{
    cshm_reply reply;
    size_t used = 0;
    int rc = parse_exact(data, len, &reply, &used);
    if (rc == 1)
        cshm_reply_free(&reply);
    if (rc != -1 || last_error[0] == '\0' ||
        (expected_words != NULL && strstr(last_error, expected_words) == NULL)) {
        fprintf(stderr, "    input '%.40s' (%zu bytes): rc %d, error '%s'\n", data, len, rc,
                last_error);
        return 0;
    }
    return 1;
}

static void test_resp_scalars(void)
{
    cshm_reply reply;
    size_t used;

    CHECK(parse(LIT("+OK\r\n"), &reply, &used) == 1);
    CHECK(used == 5 && reply.root->type == CSHM_RESP_STRING && cshm_resp_is(reply.root, "OK"));
    CHECK(strcmp(reply.root->str, "OK") == 0);   /* NUL-terminated */
    cshm_reply_free(&reply);

    CHECK(parse(LIT("-ERR unknown subcommand 'SHARDS'\r\n"), &reply, &used) == 1);
    CHECK(reply.root->type == CSHM_RESP_ERROR &&
          cshm_resp_is(reply.root, "ERR unknown subcommand 'SHARDS'"));
    cshm_reply_free(&reply);

    CHECK(parse(LIT(":-9223372036854775808\r\n"), &reply, &used) == 1);
    CHECK(reply.root->type == CSHM_RESP_INTEGER && reply.root->integer == INT64_MIN);
    cshm_reply_free(&reply);
    CHECK(parse(LIT(":9223372036854775807\r\n"), &reply, &used) == 1);
    CHECK(reply.root->integer == INT64_MAX);
    cshm_reply_free(&reply);

    /* A bulk string is binary: CR, LF and NUL inside are data. */
    CHECK(parse(LIT("$5\r\na\r\n\0b\r\n"), &reply, &used) == 1);
    CHECK(reply.root->type == CSHM_RESP_STRING && reply.root->len == 5 &&
          memcmp(reply.root->str, "a\r\n\0b", 5) == 0 && reply.root->str[5] == '\0');
    cshm_reply_free(&reply);

    CHECK(parse(LIT("$0\r\n\r\n"), &reply, &used) == 1);
    CHECK(reply.root->type == CSHM_RESP_STRING && reply.root->len == 0 && reply.root->str[0] == 0);
    cshm_reply_free(&reply);

    CHECK(parse(LIT("$-1\r\n"), &reply, &used) == 1);
    CHECK(reply.root->type == CSHM_RESP_NIL);
    cshm_reply_free(&reply);
    CHECK(parse(LIT("*-1\r\n"), &reply, &used) == 1);
    CHECK(reply.root->type == CSHM_RESP_NIL);
    cshm_reply_free(&reply);

    /* RESP3 scalars. */
    CHECK(parse(LIT("_\r\n"), &reply, &used) == 1);
    CHECK(reply.root->type == CSHM_RESP_NIL);
    cshm_reply_free(&reply);
    CHECK(parse(LIT("#t\r\n"), &reply, &used) == 1);
    CHECK(reply.root->type == CSHM_RESP_BOOLEAN && reply.root->integer == 1);
    cshm_reply_free(&reply);
    CHECK(parse(LIT(",3.25\r\n"), &reply, &used) == 1);
    CHECK(reply.root->type == CSHM_RESP_DOUBLE && strcmp(reply.root->str, "3.25") == 0);
    cshm_reply_free(&reply);
    CHECK(parse(LIT("(3492890328409238509324850943850943825024385\r\n"), &reply, &used) == 1);
    CHECK(reply.root->type == CSHM_RESP_BIGNUM && reply.root->len == 43);
    cshm_reply_free(&reply);
    CHECK(parse(LIT("=15\r\ntxt:Some string\r\n"), &reply, &used) == 1);
    CHECK(reply.root->type == CSHM_RESP_STRING && cshm_resp_is(reply.root, "Some string"));
    cshm_reply_free(&reply);
    CHECK(parse(LIT("!21\r\nSYNTAX invalid syntax\r\n"), &reply, &used) == 1);
    CHECK(reply.root->type == CSHM_RESP_ERROR && cshm_resp_is(reply.root, "SYNTAX invalid syntax"));
    cshm_reply_free(&reply);
}

static void test_resp_aggregates(void)
{
    cshm_reply reply;
    size_t used;

    const char nested[] = "*3\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n*0\r\nTRAILING";
    CHECK(parse(nested, sizeof nested - 1, &reply, &used) == 1);
    CHECK(used == sizeof nested - 1 - strlen("TRAILING"));
    const cshm_resp *r = reply.root;
    CHECK(r->type == CSHM_RESP_ARRAY && r->count == 3);
    CHECK(r->elements[0].type == CSHM_RESP_INTEGER && r->elements[0].integer == 1);
    CHECK(r->elements[1].type == CSHM_RESP_ARRAY && r->elements[1].count == 2);
    CHECK(cshm_resp_is(&r->elements[1].elements[0], "a"));
    CHECK(cshm_resp_is(&r->elements[1].elements[1], "b"));
    CHECK(r->elements[2].type == CSHM_RESP_ARRAY && r->elements[2].count == 0 &&
          r->elements[2].elements == NULL);
    cshm_reply_free(&reply);

    /* RESP3 map, set and push. */
    const char map[] = "%2\r\n+first\r\n:1\r\n+second\r\n~2\r\n#f\r\n_\r\n";
    CHECK(parse(map, sizeof map - 1, &reply, &used) == 1);
    r = reply.root;
    CHECK(r->type == CSHM_RESP_MAP && r->count == 4);
    CHECK(cshm_resp_is(&r->elements[0], "first") && r->elements[1].integer == 1);
    CHECK(cshm_resp_is(&r->elements[2], "second") && r->elements[3].type == CSHM_RESP_ARRAY &&
          r->elements[3].count == 2 && r->elements[3].elements[1].type == CSHM_RESP_NIL);
    cshm_reply_free(&reply);
    CHECK(parse(LIT(">2\r\n+message\r\n+hello\r\n"), &reply, &used) ==
          1);
    CHECK(reply.root->type == CSHM_RESP_ARRAY && reply.root->count == 2);
    cshm_reply_free(&reply);

    /* A real reply in both protocols. */
    CHECK(parse(capture_shards_resp3.bytes, capture_shards_resp3.len, &reply, &used) == 1);
    CHECK(used == capture_shards_resp3.len && reply.root->count == 3 &&
          reply.root->elements[0].type == CSHM_RESP_MAP);
    cshm_reply_free(&reply);
}

/* Every proper prefix is "incomplete", never an error or a success. */
static void check_every_prefix(const char *data, size_t len)
{
    size_t bad = 0;
    for (size_t cut = 0; cut < len; cut++) {
        cshm_reply reply;
        size_t used = 0;
        int rc = parse_exact(data, cut, &reply, &used);
        if (rc == 1)
            cshm_reply_free(&reply);
        if (rc != 0) {
            if (bad++ == 0)
                fprintf(stderr, "    prefix of %zu/%zu bytes: rc %d (%s)\n", cut, len, rc,
                        last_error);
        }
    }
    CHECK(bad == 0);
    cshm_reply reply;
    size_t used = 0;
    CHECK(parse_exact(data, len, &reply, &used) == 1);
    CHECK(used == len);
    cshm_reply_free(&reply);
}

static void test_resp_truncated_at_every_byte(void)
{
    check_every_prefix(capture_shards_resharded.bytes, capture_shards_resharded.len);
    check_every_prefix(capture_shards_resp3.bytes, capture_shards_resp3.len);
    check_every_prefix(capture_slots_unknown_endpoint.bytes, capture_slots_unknown_endpoint.len);
    const char all_types[] = "*12\r\n+simple\r\n-ERR bad\r\n:-42\r\n$3\r\nb\0k\r\n$-1\r\n*-1\r\n"
                             "_\r\n#f\r\n,1.5e3\r\n(12345678901234567890\r\n=7\r\nmkd:abc\r\n"
                             "%1\r\n!3\r\nE x\r\n~1\r\n>0\r\n";
    check_every_prefix(all_types, sizeof all_types - 1);
}

static void test_resp_garbage(void)
{
    CHECK(parses_to_error(LIT("HTTP/1.1 400 Bad Request\r\n"), "not a reply type"));
    CHECK(parses_to_error(LIT("\x16\x03\x01\x02\x00"), "not a reply type"));
    CHECK(parses_to_error(LIT("\0\0\0\0"), "not a reply type"));
    CHECK(parses_to_error(LIT("+OK\n"), "bare LF"));
    CHECK(parses_to_error(LIT("+OK\rX"), "CR without LF"));
    CHECK(parses_to_error(LIT(":12a\r\n"), "invalid integer"));
    CHECK(parses_to_error(LIT(":\r\n"), "invalid integer"));
    CHECK(parses_to_error(LIT(":-\r\n"), "invalid integer"));
    CHECK(parses_to_error(LIT(":+5\r\n"), "invalid integer"));
    CHECK(parses_to_error(LIT(":9223372036854775808\r\n"), "invalid integer"));
    CHECK(parses_to_error(LIT(":-9223372036854775809\r\n"), "invalid integer"));
    CHECK(parses_to_error(LIT(":99999999999999999999999999\r\n"), "longer than"));
    CHECK(parses_to_error(LIT("$3\r\nabcd\r\n"), "not followed by CRLF"));
    CHECK(parses_to_error(LIT("$3\r\nab\r\n\r\n"), "not followed by CRLF"));
    CHECK(parses_to_error(LIT("$-2\r\n"), "string length"));
    CHECK(parses_to_error(LIT("$ 3\r\nabc\r\n"), "invalid number"));
    CHECK(parses_to_error(LIT("*-2\r\n"), "array of -2"));
    CHECK(parses_to_error(LIT("%-1\r\n"), "map of -1"));
    CHECK(parses_to_error(LIT("~-1\r\n"), "array of -1"));
    CHECK(parses_to_error(LIT("!-1\r\n"), "string length"));
    CHECK(parses_to_error(LIT("=2\r\nab\r\n"), "format prefix"));
    CHECK(parses_to_error(LIT("#x\r\n"), "invalid boolean"));
    CHECK(parses_to_error(LIT("_x\r\n"), "invalid null"));
    CHECK(parses_to_error(LIT(",\r\n"), "empty number"));
    CHECK(parses_to_error(LIT("|1\r\n+key\r\n+value\r\n+OK\r\n"), "attributes"));
    CHECK(parses_to_error(LIT("*2\r\n:1\r\n?\r\n"), "not a reply type"));
}

static void test_resp_oversized(void)
{
    /* Lengths and counts over the limits fail at once, before any data. */
    CHECK(parses_to_error(LIT("$8388609\r\n"), "string length"));
    CHECK(parses_to_error(LIT("$99999999999\r\n"), "string length"));
    CHECK(parses_to_error(LIT("$9223372036854775807\r\n"), "string length"));
    CHECK(parses_to_error(LIT("*1048577\r\n"), "array of 1048577"));
    CHECK(parses_to_error(LIT("*9223372036854775807\r\n"), "array of"));
    CHECK(parses_to_error(LIT("%524289\r\n"), "map of"));
    cshm_reply reply;
    size_t used;
    CHECK(parse(LIT("$8388000\r\n"), &reply, &used) == 0);

    /* A bulk string whose end would pass 8 MiB. */
    CHECK(parses_to_error(LIT("*2\r\n$4\r\nabcd\r\n$8388608\r\n"), "larger than"));

    /* A simple string that never ends. */
    size_t big = CSHM_RESP_MAX_REPLY + 16;
    char *endless = malloc(big);
    CHECK(endless != NULL);
    if (endless != NULL) {
        memset(endless, 'a', big);
        endless[0] = '+';
        CHECK(parses_to_error(endless, big, "longer than"));
        free(endless);
    }

    /* Declared counts cost nothing until the elements arrive... */
    CHECK(parse(LIT("*1048576\r\n:1\r\n"), &reply, &used) == 0);
    /* ...and more elements in total than the limit fail. */
    size_t count = CSHM_RESP_MAX_ELEMENTS;
    size_t len = 16 + count * 4;
    char *many = malloc(len);
    CHECK(many != NULL);
    if (many != NULL) {
        size_t at = (size_t)snprintf(many, len, "*%zu\r\n", count);
        for (size_t i = 0; i < count; i++, at += 4)
            memcpy(many + at, ":1\r\n", 4);
        CHECK(parses_to_error(many, at, "more than"));
        /* One element fewer in total is accepted. */
        at = (size_t)snprintf(many, len, "*%zu\r\n", count - 1);
        for (size_t i = 0; i + 1 < count; i++, at += 4)
            memcpy(many + at, ":1\r\n", 4);
        CHECK(parse(many, at, &reply, &used) == 1);
        CHECK(reply.root->count == count - 1 && reply.root->elements[count - 2].integer == 1);
        cshm_reply_free(&reply);
        free(many);
    }
}

static void test_resp_nesting(void)
{
    char text[256];
    size_t at = 0;
    for (int i = 0; i < CSHM_RESP_MAX_DEPTH; i++)
        at += (size_t)snprintf(text + at, sizeof text - at, "*1\r\n");
    at += (size_t)snprintf(text + at, sizeof text - at, ":7\r\n");
    cshm_reply reply;
    size_t used;
    CHECK(parse_exact(text, at, &reply, &used) == 1);
    const cshm_resp *node = reply.root;
    for (int i = 0; i < CSHM_RESP_MAX_DEPTH && node != NULL; i++)
        node = node->count == 1 ? &node->elements[0] : NULL;
    CHECK(node != NULL && node->type == CSHM_RESP_INTEGER && node->integer == 7);
    cshm_reply_free(&reply);

    at = 0;
    for (int i = 0; i <= CSHM_RESP_MAX_DEPTH; i++)
        at += (size_t)snprintf(text + at, sizeof text - at, "%%1\r\n+k\r\n");
    at += (size_t)snprintf(text + at, sizeof text - at, ":7\r\n");
    CHECK(parses_to_error(text, at, "nested deeper"));

    /* Hostile depth far past the limit fails at the limit, not on the stack. */
    size_t deep_len = 4 * 100000;
    char *deep = malloc(deep_len);
    CHECK(deep != NULL);
    if (deep != NULL) {
        for (size_t i = 0; i < deep_len; i += 4)
            memcpy(deep + i, "*1\r\n", 4);
        CHECK(parses_to_error(deep, deep_len, "nested deeper"));
        free(deep);
    }
}

/* Walk a parsed tree and check what a consumer relies on. */
static int tree_is_sane(const cshm_resp *node, int depth)
{
    if (depth > CSHM_RESP_MAX_DEPTH + 1)
        return 0;
    switch (node->type) {
    case CSHM_RESP_STRING:
    case CSHM_RESP_ERROR:
    case CSHM_RESP_DOUBLE:
    case CSHM_RESP_BIGNUM:
        return node->str != NULL && node->str[node->len] == '\0';
    case CSHM_RESP_ARRAY:
    case CSHM_RESP_MAP:
        if ((node->count == 0) != (node->elements == NULL))
            return 0;
        for (size_t i = 0; i < node->count; i++)
            if (!tree_is_sane(&node->elements[i], depth + 1))
                return 0;
        return 1;
    case CSHM_RESP_INTEGER:
    case CSHM_RESP_NIL:
    case CSHM_RESP_BOOLEAN:
        return 1;
    }
    return 0;
}

static uint32_t next_random(uint32_t *state)
{
    /* xorshift32: reproducible mutations without libc's rand(). */
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static void test_resp_mutations_never_crash(void)
{
    const redis_capture *seeds[] = {&capture_shards_resharded, &capture_shards_resp3,
                                    &capture_slots_hostname};
    uint32_t state = 0x2545F491u;
    int insane = 0, parsed = 0;
    static const char specials[] = "\r\n*$%:-+_#,(=!~>|0123456789";
    for (int round = 0; round < 20000; round++) {
        const redis_capture *seed = seeds[round % 3];
        size_t len = seed->len;
        char *copy = malloc(len + 8);
        if (copy == NULL)
            break;
        memcpy(copy, seed->bytes, len);
        int edits = 1 + (int)(next_random(&state) % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = next_random(&state) % len;
            uint32_t how = next_random(&state) % 4;
            if (how == 0)
                copy[at] = (char)(next_random(&state) & 0xff);
            else if (how == 1)
                copy[at] = specials[next_random(&state) % (sizeof specials - 1)];
            else if (how == 2 && len > 1)
                len = at + 1;   /* truncate */
            else
                copy[at] = (char)('0' + next_random(&state) % 10);
        }
        cshm_reply reply;
        size_t used;
        char *exact = malloc(len);
        if (exact != NULL) {
            memcpy(exact, copy, len);
            int rc = parse(exact, len, &reply, &used);
            if (rc == 1) {
                parsed++;
                if (!tree_is_sane(reply.root, 0) || used > len)
                    insane++;
                cshm_reply_free(&reply);
            }
            free(exact);
        }
        free(copy);
    }
    CHECK(insane == 0);
    CHECK(parsed > 0);   /* some mutations (digits in ids) stay valid */
}

static void test_resp_encode(void)
{
    const char *argv[] = {"CLUSTER", "SHARDS"};
    size_t lengths[] = {7, 6};
    char out[64];
    const char expected[] = "*2\r\n$7\r\nCLUSTER\r\n$6\r\nSHARDS\r\n";
    size_t n = cshm_resp_encode(out, sizeof out, 2, argv, lengths);
    CHECK(n == sizeof expected - 1 && memcmp(out, expected, n) == 0);

    /* Exactly the needed size works; one byte less asks for more. */
    char exact[sizeof expected - 1];
    CHECK(cshm_resp_encode(exact, sizeof exact, 2, argv, lengths) == sizeof exact);
    CHECK(memcmp(exact, expected, sizeof exact) == 0);
    CHECK(cshm_resp_encode(exact, sizeof exact - 1, 2, argv, lengths) == sizeof exact);

    const char *binary[] = {"SET", "a\0b", ""};
    size_t binary_lengths[] = {3, 3, 0};
    const char binary_expected[] = "*3\r\n$3\r\nSET\r\n$3\r\na\0b\r\n$0\r\n\r\n";
    n = cshm_resp_encode(out, sizeof out, 3, binary, binary_lengths);
    CHECK(n == sizeof binary_expected - 1 && memcmp(out, binary_expected, n) == 0);

    char four[4];
    CHECK(cshm_resp_encode(four, sizeof four, 0, NULL, NULL) == 4);
    CHECK(memcmp(four, "*0\r\n", 4) == 0);

    /* What we encode, we parse back. */
    cshm_reply reply;
    size_t used;
    CHECK(parse(out, n, &reply, &used) == 1);
    CHECK(reply.root->count == 3 && reply.root->elements[1].len == 3 &&
          memcmp(reply.root->elements[1].str, "a\0b", 3) == 0);
    cshm_reply_free(&reply);
}

static void test_resp_printable(void)
{
    char out[8];
    cshm_resp_printable(out, sizeof out, "ab\x01\n", 4);
    CHECK(strcmp(out, "ab??") == 0);
    cshm_resp_printable(out, sizeof out, "0123456789", 10);
    CHECK(strcmp(out, "0123...") == 0);
    cshm_resp_printable(out, sizeof out, "0123456", 7);
    CHECK(strcmp(out, "0123456") == 0);
}

/* ---- reading from a socket -------------------------------------------- */

typedef struct feeder {
    int fd;
    const char *data;
    size_t len;
    size_t chunk;          /* bytes per send */
    useconds_t pause_us;   /* between sends */
    int close_after;
} feeder;

static void *feed(void *arg)
{
    feeder *f = arg;
    for (size_t at = 0; at < f->len;) {
        size_t n = f->len - at < f->chunk ? f->len - at : f->chunk;
        ssize_t sent = send(f->fd, f->data + at, n, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            break;
        }
        at += (size_t)sent;
        if (f->pause_us > 0)
            usleep(f->pause_us);
    }
    if (f->close_after)
        shutdown(f->fd, SHUT_WR);
    return NULL;
}

static void test_resp_read_in_pieces(void)
{
    int pair[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    feeder f = {.fd = pair[1],
                .data = capture_shards_resharded.bytes,
                .len = capture_shards_resharded.len,
                .chunk = 7,
                .pause_us = 200};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, feed, &f) == 0);
    cshm_resp_buffer buffer = {0};
    cshm_reply reply;
    char error[200] = "";
    CHECK(cshm_resp_read_reply(pair[0], &buffer, cshm_mono_now() + 10, &reply, error,
                               sizeof error) == 0);
    CHECK(reply.root != NULL && reply.root->type == CSHM_RESP_ARRAY && reply.root->count == 3);
    CHECK(buffer.len == 0);
    cshm_reply_free(&reply);
    pthread_join(thread, NULL);
    cshm_resp_buffer_free(&buffer);
    close(pair[0]);
    close(pair[1]);
}

static void test_resp_read_two_replies_in_one_packet(void)
{
    int pair[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    CHECK(write(pair[1], "+first\r\n:2\r\n", 12) == 12);
    cshm_resp_buffer buffer = {0};
    cshm_reply reply;
    char error[200] = "";
    CHECK(cshm_resp_read_reply(pair[0], &buffer, cshm_mono_now() + 5, &reply, error,
                               sizeof error) == 0);
    CHECK(cshm_resp_is(reply.root, "first"));
    cshm_reply_free(&reply);
    /* The second is already buffered: no wait, even with a past deadline. */
    CHECK(cshm_resp_read_reply(pair[0], &buffer, cshm_mono_now() - 1, &reply, error,
                               sizeof error) == 0);
    CHECK(reply.root->type == CSHM_RESP_INTEGER && reply.root->integer == 2);
    cshm_reply_free(&reply);
    cshm_resp_buffer_free(&buffer);
    close(pair[0]);
    close(pair[1]);
}

static void test_resp_read_timeout_and_eof(void)
{
    int pair[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    CHECK(write(pair[1], "*2\r\n:1\r\n", 8) == 8);
    cshm_resp_buffer buffer = {0};
    cshm_reply reply;
    char error[200] = "";
    double started = cshm_mono_now();
    CHECK(cshm_resp_read_reply(pair[0], &buffer, started + 0.2, &reply, error, sizeof error) ==
          CSHM_RESP_READ_NETWORK);
    double waited = cshm_mono_now() - started;
    CHECK(waited >= 0.19 && waited < 2.0);
    CHECK(strcmp(error, "timed out after 0.2 s reading") == 0);
    cshm_resp_buffer_free(&buffer);

    /* The peer closes in the middle of a reply. */
    close(pair[1]);
    CHECK(cshm_resp_read_reply(pair[0], &buffer, cshm_mono_now() + 5, &reply, error,
                               sizeof error) == CSHM_RESP_READ_NETWORK);
    CHECK(strcmp(error, "connection closed by the server") == 0);
    cshm_resp_buffer_free(&buffer);
    close(pair[0]);
}

static void test_resp_read_garbage_and_flood(void)
{
    int pair[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    CHECK(write(pair[1], "HTTP/1.1 400 Bad Request\r\n\r\n", 28) == 28);
    cshm_resp_buffer buffer = {0};
    cshm_reply reply;
    char error[200] = "";
    CHECK(cshm_resp_read_reply(pair[0], &buffer, cshm_mono_now() + 5, &reply, error,
                               sizeof error) == CSHM_RESP_READ_PROTOCOL);
    CHECK(strstr(error, "not a reply type") != NULL);
    cshm_resp_buffer_free(&buffer);
    close(pair[0]);
    close(pair[1]);

    /* A server streaming one endless line: refused at the size limit. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    size_t flood_len = CSHM_RESP_MAX_REPLY + 65536;
    char *flood = malloc(flood_len);
    CHECK(flood != NULL);
    if (flood == NULL)
        return;
    memset(flood, 'x', flood_len);
    flood[0] = '+';
    feeder f = {.fd = pair[1], .data = flood, .len = flood_len, .chunk = 65536};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, feed, &f) == 0);
    CHECK(cshm_resp_read_reply(pair[0], &buffer, cshm_mono_now() + 20, &reply, error,
                               sizeof error) == CSHM_RESP_READ_PROTOCOL);
    CHECK(strstr(error, "longer than") != NULL || strstr(error, "larger than") != NULL);
    CHECK(buffer.capacity <= CSHM_RESP_MAX_REPLY);
    cshm_resp_buffer_free(&buffer);
    close(pair[0]);   /* the feeder's next send fails with EPIPE, not SIGPIPE */
    pthread_join(thread, NULL);
    close(pair[1]);
    free(flood);
}

void suite_resp(void)
{
    RUN(test_resp_scalars);
    RUN(test_resp_aggregates);
    RUN(test_resp_truncated_at_every_byte);
    RUN(test_resp_garbage);
    RUN(test_resp_oversized);
    RUN(test_resp_nesting);
    RUN(test_resp_mutations_never_crash);
    RUN(test_resp_encode);
    RUN(test_resp_printable);
    RUN(test_resp_read_in_pieces);
    RUN(test_resp_read_two_replies_in_one_packet);
    RUN(test_resp_read_timeout_and_eof);
    RUN(test_resp_read_garbage_and_flood);
}
