/*
 * fuzz_resp.c - feeds arbitrary bytes to cshm_resp_parse (core/src/resp.c),
 * the parser of every reply a Redis server sends us.
 *
 * Checks, besides the sanitizers: the result is 1, 0 or -1; a refusal has a
 * message; a parsed reply consumed 3..length bytes, its tree respects the
 * limits of resp.h (depth, element count, even map counts, booleans 0/1)
 * and every string lies inside the reply's copy of the bytes and is followed
 * by a NUL; the same bytes cut one byte short, or at half, are "incomplete",
 * never an error; the bytes after the reply do not change it.  When the
 * reply is an array of strings (a command), cshm_resp_encode of it parses
 * back to the same strings.
 *
 * The same bytes are then read with cshm_resp_read_reply from a socket
 * (SOCK_SEQPACKET, so each packet is one read) that delivers them in about
 * two dozen pieces and then closes: its scan, resumed at every piece, and
 * its buffer kept between replies must give, reply after reply, exactly
 * what cshm_resp_parse gives on the rest of the bytes (the same tree, a
 * protocol error, or a network error at the end of an incomplete reply).
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "fuzz.h"
#include "resp.h"

typedef struct walk {
    const char *bytes, *bytes_end;   /* the reply's private copy of the input */
    size_t nodes;
} walk;

static void check_node(walk *w, const cshm_resp *node, int depth)
{
    FUZZ_CHECK(depth <= CSHM_RESP_MAX_DEPTH);
    w->nodes++;
    FUZZ_CHECK(w->nodes <= CSHM_RESP_MAX_ELEMENTS);
    switch (node->type) {
    case CSHM_RESP_STRING:
    case CSHM_RESP_ERROR:
    case CSHM_RESP_DOUBLE:
    case CSHM_RESP_BIGNUM:
        FUZZ_CHECK(node->str != NULL);
        FUZZ_CHECK(node->str >= w->bytes && node->str + node->len < w->bytes_end);
        FUZZ_CHECK(node->str[node->len] == '\0');
        FUZZ_CHECK(node->elements == NULL && node->count == 0);
        if (node->type == CSHM_RESP_DOUBLE || node->type == CSHM_RESP_BIGNUM)
            FUZZ_CHECK(node->len > 0);
        break;
    case CSHM_RESP_BOOLEAN:
        FUZZ_CHECK(node->integer == 0 || node->integer == 1);
        /* fall through */
    case CSHM_RESP_INTEGER:
    case CSHM_RESP_NIL:
        FUZZ_CHECK(node->str == NULL && node->elements == NULL && node->count == 0);
        break;
    case CSHM_RESP_MAP:
        FUZZ_CHECK(node->count % 2 == 0);
        /* fall through */
    case CSHM_RESP_ARRAY:
        FUZZ_CHECK(node->str == NULL);
        FUZZ_CHECK((node->count == 0) == (node->elements == NULL));
        if (node->count > 0)
            FUZZ_CHECK(depth < CSHM_RESP_MAX_DEPTH);
        for (size_t i = 0; i < node->count; i++)
            check_node(w, &node->elements[i], depth + 1);
        break;
    default:
        FUZZ_CHECK(!"unknown node type");
    }
}

static size_t count_nodes(const cshm_resp *node)
{
    size_t n = 1;
    for (size_t i = 0; i < node->count; i++)
        n += count_nodes(&node->elements[i]);
    return n;
}

static int parse(const void *data, size_t len, cshm_reply *reply, size_t *used)
{
    char error[256];
    memset(error, 'x', sizeof error);
    int rc = cshm_resp_parse(data, len, reply, used, error, sizeof error);
    FUZZ_CHECK(rc == 1 || rc == 0 || rc == -1);
    if (rc == -1)
        FUZZ_CHECK(memchr(error, '\0', sizeof error) != NULL && error[0] != '\0');
    if (rc != 1)
        FUZZ_CHECK(reply->root == NULL && reply->memory == NULL);
    return rc;
}

/* A top-level array of plain strings is a command: encode it and parse it
 * back. */
static void check_encode_round_trip(const cshm_resp *root)
{
    if (root->type != CSHM_RESP_ARRAY || root->count == 0 || root->count > 64)
        return;
    const char *argv[64];
    size_t lengths[64];
    for (size_t i = 0; i < root->count; i++) {
        if (root->elements[i].type != CSHM_RESP_STRING)
            return;
        argv[i] = root->elements[i].str;
        lengths[i] = root->elements[i].len;
    }
    size_t need = cshm_resp_encode(NULL, 0, root->count, argv, lengths);
    char *out = malloc(need);
    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(cshm_resp_encode(out, need, root->count, argv, lengths) == need);
    cshm_reply again;
    size_t used;
    FUZZ_CHECK(parse(out, need, &again, &used) == 1 && used == need);
    FUZZ_CHECK(again.root->type == CSHM_RESP_ARRAY && again.root->count == root->count);
    for (size_t i = 0; i < root->count; i++) {
        const cshm_resp *e = &again.root->elements[i];
        FUZZ_CHECK(e->type == CSHM_RESP_STRING && e->len == lengths[i]);
        FUZZ_CHECK(lengths[i] == 0 || memcmp(e->str, argv[i], lengths[i]) == 0);
    }
    cshm_reply_free(&again);
    free(out);
}

static int same_tree(const cshm_resp *a, const cshm_resp *b)
{
    if (a->type != b->type || a->integer != b->integer || a->len != b->len ||
        a->count != b->count || (a->str == NULL) != (b->str == NULL))
        return 0;
    if (a->str != NULL && a->len > 0 && memcmp(a->str, b->str, a->len) != 0)
        return 0;
    for (size_t i = 0; i < a->count; i++)
        if (!same_tree(&a->elements[i], &b->elements[i]))
            return 0;
    return 1;
}

/* Replies read from a socket that sends the input in pieces, against
 * cshm_resp_parse of what is left. */
static void check_stream(const char *input, size_t size)
{
    int fds[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == 0);
    /* Pieces of 1 + size/24 bytes, give or take one: at most about 25
     * packets, each far below the 4 KiB the reader always has free. */
    size_t base = 1 + size / 24;
    for (size_t at = 0, i = 0; at < size; i++) {
        size_t n = base + i % 3 - 1;
        if (n == 0)
            n = 1;
        if (n > size - at)
            n = size - at;
        FUZZ_CHECK(send(fds[1], input + at, n, 0) == (ssize_t)n);
        at += n;
    }
    FUZZ_CHECK(shutdown(fds[1], SHUT_WR) == 0);

    cshm_resp_buffer buffer = {0};
    size_t offset = 0;
    for (;;) {
        cshm_reply expected, got;
        size_t used = 0;
        char error[256];
        int rc = parse(input + offset, size - offset, &expected, &used);
        int read_rc = cshm_resp_read_reply(fds[0], &buffer, cshm_mono_now() + 5, &got, error,
                                           sizeof error);
        if (rc == 1) {
            FUZZ_CHECK(read_rc == 0);
            FUZZ_CHECK(same_tree(expected.root, got.root));
            cshm_reply_free(&expected);
            cshm_reply_free(&got);
            offset += used;
            /* What the reader holds is exactly the bytes after the reply,
             * up to what it has received. */
            FUZZ_CHECK(buffer.len <= size - offset);
            FUZZ_CHECK(buffer.len == 0 || memcmp(buffer.data, input + offset, buffer.len) == 0);
            continue;
        }
        FUZZ_CHECK(read_rc == (rc == 0 ? CSHM_RESP_READ_NETWORK : CSHM_RESP_READ_PROTOCOL));
        FUZZ_CHECK(got.root == NULL);
        break;
    }
    cshm_resp_buffer_free(&buffer);
    close(fds[0]);
    close(fds[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *input = fuzz_exact_copy(data, size);
    cshm_reply reply;
    size_t used = (size_t)-1;
    int rc = parse(input, size, &reply, &used);
    if (rc == 1) {
        /* The smallest replies ("_\r\n", "+\r\n") are 3 bytes. */
        FUZZ_CHECK(used >= 3 && used <= size);
        FUZZ_CHECK(reply.root != NULL && reply.memory != NULL);
        /* The one allocation is the tree (count_nodes elements), then the
         * copy of the used bytes and a NUL. */
        walk w = {.nodes = 0};
        w.bytes = (const char *)reply.memory + count_nodes(reply.root) * sizeof(cshm_resp);
        w.bytes_end = w.bytes + used + 1;
        check_node(&w, reply.root, 0);

        /* Truncations of a complete reply are incomplete, never errors. */
        cshm_reply cut;
        size_t cut_used;
        FUZZ_CHECK(parse(input, used - 1, &cut, &cut_used) == 0);
        FUZZ_CHECK(parse(input, used / 2, &cut, &cut_used) == 0);
        /* What follows the reply is not part of it. */
        if (used < size) {
            FUZZ_CHECK(parse(input, used, &cut, &cut_used) == 1 && cut_used == used);
            cshm_reply_free(&cut);
        }
        check_encode_round_trip(reply.root);
        cshm_reply_free(&reply);
    }
    check_stream(input, size);
    free(input);
    return 0;
}
