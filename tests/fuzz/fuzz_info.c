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
 */
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
