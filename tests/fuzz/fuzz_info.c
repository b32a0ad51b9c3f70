/*
 * fuzz_info.c - feeds an Aerospike info response, as it arrives on the
 * socket (8-byte proto header, then the body), to the framing functions of
 * core/src/info_proto.c: cshm_info_parse_header with the tend path's limit,
 * then cshm_info_split of the body it announces (an exact-size copy, as
 * cshm_info_call reads it), then the lookups the tender makes of the lines
 * (cshm_info_find, cshm_info_value_is_error / _is_failure).  The bytes after
 * the header are also split on their own, whatever the header says, so the
 * splitter sees every input.
 *
 * Checks, besides the sanitizers: a header is accepted only with version 2,
 * type 1 and a size of 1..limit, which it returns; the splitter returns 0, -1
 * or -2 (with a message), at most max_lines lines, and every line is a name
 * and a value inside the body, in order, with no newline in either and no
 * tab in the name; the lines and their newlines account for the whole body;
 * a found value is one of the lines' values.
 *
 * The input is then the server's side of a socket (a stream socket pair,
 * closed after the input) for cshm_info_call, called until it fails: each
 * call must read exactly one response (the body the functions above accept,
 * whole, and nothing of the next one), keep the socket after a good answer
 * or a server's "ERROR:" refusal, and close it on anything else (a broken
 * header or line, a short body, the end of the input).
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "fuzz.h"
#include "info_proto.h"

static const char *const names[] = {"node", "partition-generation", "peers-generation",
                                    "build", "cluster-name", "peers-clear-std", "replicas",
                                    "service-clear-std", ""};

static void split(const char *body, size_t len, size_t max_lines)
{
    cshm_info_line lines[CSHM_INFO_MAX_LINES];
    size_t count = (size_t)-1;
    char why[CSHM_INFO_WHY_MAX];
    memset(why, 'x', sizeof why);
    int rc = cshm_info_split(body, len, lines, max_lines, &count, why, sizeof why);
    FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2);
    if (rc != 0) {
        FUZZ_CHECK(memchr(why, '\0', sizeof why) != NULL && why[0] != '\0');
        return;
    }
    FUZZ_CHECK(count <= max_lines);
    const char *at = body;
    for (size_t i = 0; i < count; i++) {
        const cshm_info_line *l = &lines[i];
        FUZZ_CHECK(l->name.data == at);
        FUZZ_CHECK(l->name.len <= len && l->name.data + l->name.len <= body + len);
        FUZZ_CHECK(memchr(l->name.data, '\n', l->name.len) == NULL);
        FUZZ_CHECK(memchr(l->name.data, '\t', l->name.len) == NULL);
        FUZZ_CHECK(l->value.data >= l->name.data + l->name.len);
        FUZZ_CHECK(l->value.data + l->value.len < body + len);
        FUZZ_CHECK(memchr(l->value.data, '\n', l->value.len) == NULL);
        FUZZ_CHECK(l->value.data[l->value.len] == '\n');
        at = l->value.data + l->value.len + 1;
        (void)cshm_info_value_is_error(&l->value);
        (void)cshm_info_value_is_failure(&l->value);
    }
    FUZZ_CHECK(at == body + len);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const cshm_slice *value = cshm_info_find(lines, count, names[i]);
        if (value == NULL)
            continue;
        int found = 0;
        for (size_t k = 0; k < count; k++)
            found |= value == &lines[k].value && cshm_slice_equals(&lines[k].name, names[i]);
        FUZZ_CHECK(found);
    }
}

/* What cshm_info_call must make of the response at data[0..size). */
enum { EXPECT_OK, EXPECT_REFUSED, EXPECT_CLOSED };

static int expected_call(const uint8_t *data, size_t size, size_t *consumed, size_t *lines)
{
    char why[CSHM_INFO_WHY_MAX];
    size_t body_len;
    if (size < CSHM_INFO_HEADER_SIZE ||
        cshm_info_parse_header(data, CSHM_INFO_TEND_MAX, &body_len, why, sizeof why) != 0 ||
        body_len > size - CSHM_INFO_HEADER_SIZE)
        return EXPECT_CLOSED;
    cshm_info_line parsed[CSHM_INFO_MAX_LINES];
    int rc = cshm_info_split((const char *)data + CSHM_INFO_HEADER_SIZE, body_len, parsed,
                             CSHM_INFO_MAX_LINES, lines, why, sizeof why);
    *consumed = CSHM_INFO_HEADER_SIZE + body_len;
    return rc == 0 ? EXPECT_OK : rc == -2 ? EXPECT_REFUSED : EXPECT_CLOSED;
}

static void check_calls(const uint8_t *data, size_t size)
{
    int fds[2];
    /* The whole input waits in the socket: keep it under the default
     * socket buffer (inputs are a few KiB). */
    if (size > 65536)
        return;
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    FUZZ_CHECK(size == 0 || send(fds[1], data, size, 0) == (ssize_t)size);
    FUZZ_CHECK(shutdown(fds[1], SHUT_WR) == 0);
    cshm_info_response r;
    cshm_info_response_init(&r);
    int fd = fds[0];
    size_t offset = 0;
    while (fd >= 0) {
        char why[CSHM_INFO_WHY_MAX];
        memset(why, 'x', sizeof why);
        size_t consumed = 0, lines = 0;
        int expect = expected_call(data + offset, size - offset, &consumed, &lines);
        int rc = cshm_info_call(&fd, "node\npartition-generation\n", CSHM_INFO_TEND_MAX,
                                cshm_mono_now() + 5, &r, why, sizeof why);
        if (expect == EXPECT_OK) {
            FUZZ_CHECK(rc == 0 && fd >= 0);
            FUZZ_CHECK(r.len == consumed - CSHM_INFO_HEADER_SIZE && r.line_count == lines);
            FUZZ_CHECK(memcmp(r.body, data + offset + CSHM_INFO_HEADER_SIZE, r.len) == 0);
        } else {
            FUZZ_CHECK(rc == -1 && memchr(why, '\0', sizeof why) != NULL && why[0] != '\0');
            FUZZ_CHECK((fd >= 0) == (expect == EXPECT_REFUSED));
        }
        offset += consumed;
    }
    cshm_info_response_free(&r);
    close(fds[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_calls(data, size);
    if (size < CSHM_INFO_HEADER_SIZE)
        return 0;
    size_t body_len = 0;
    char why[CSHM_INFO_WHY_MAX];
    memset(why, 'x', sizeof why);
    size_t rest = size - CSHM_INFO_HEADER_SIZE;
    int rc = cshm_info_parse_header(data, CSHM_INFO_TEND_MAX, &body_len, why, sizeof why);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        uint64_t announced = 0;
        for (int i = 2; i < CSHM_INFO_HEADER_SIZE; i++)
            announced = announced << 8 | data[i];
        FUZZ_CHECK(data[0] == CSHM_INFO_VERSION && data[1] == CSHM_INFO_TYPE);
        FUZZ_CHECK(body_len == announced && body_len >= 1 && body_len <= CSHM_INFO_TEND_MAX);
        if (body_len <= rest) {
            char *body = fuzz_exact_copy(data + CSHM_INFO_HEADER_SIZE, body_len);
            split(body, body_len, CSHM_INFO_MAX_LINES);
            free(body);
        }
    } else {
        FUZZ_CHECK(memchr(why, '\0', sizeof why) != NULL && why[0] != '\0');
    }
    char *body = fuzz_exact_copy(data + CSHM_INFO_HEADER_SIZE, rest);
    split(body, rest, 4);
    free(body);
    return 0;
}
