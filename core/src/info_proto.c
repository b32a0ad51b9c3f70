/*
 * info_proto.c - see info_proto.h.
 *
 * Reads are exact: first the 8 header bytes, then exactly the announced body
 * size, never more, so the stream stays aligned on message boundaries when
 * the socket is kept.  The body buffer grows only up to the caller's limit.
 */
#include "info_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

void cshm_info_response_init(cshm_info_response *r)
{
    memset(r, 0, sizeof *r);
}

void cshm_info_response_free(cshm_info_response *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

size_t cshm_info_build_request(const char *body, unsigned char *out, size_t out_size)
{
    size_t len = strlen(body);
    if (len == 0 || body[len - 1] != '\n' || strchr(body, '\t') != NULL ||
        len > CSHM_INFO_REQUEST_MAX || out_size < CSHM_INFO_HEADER_SIZE + len)
        return 0;
    uint64_t word = (uint64_t)CSHM_INFO_VERSION << 56 | (uint64_t)CSHM_INFO_TYPE << 48 | len;
    for (int i = 0; i < CSHM_INFO_HEADER_SIZE; i++)
        out[i] = (unsigned char)(word >> (56 - 8 * i));
    memcpy(out + CSHM_INFO_HEADER_SIZE, body, len);
    return CSHM_INFO_HEADER_SIZE + len;
}

int cshm_info_parse_header(const unsigned char header[CSHM_INFO_HEADER_SIZE], size_t max_body,
                           size_t *body_len, char *why, size_t why_size)
{
    if (header[0] != CSHM_INFO_VERSION || header[1] != CSHM_INFO_TYPE) {
        snprintf(why, why_size,
                 "not an info response (proto version %u, type %u; expected 2, 1)",
                 (unsigned)header[0], (unsigned)header[1]);
        return -1;
    }
    uint64_t size = 0;
    for (int i = 2; i < CSHM_INFO_HEADER_SIZE; i++)
        size = size << 8 | header[i];
    if (size == 0) {
        snprintf(why, why_size, "empty info response");
        return -1;
    }
    if (size > max_body) {
        snprintf(why, why_size, "info response of %llu bytes exceeds the limit of %zu",
                 (unsigned long long)size, max_body);
        return -1;
    }
    *body_len = (size_t)size;
    return 0;
}

static int starts_with(const char *data, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(data, prefix, n) == 0;
}

int cshm_info_split(const char *body, size_t len, cshm_info_line *lines, size_t max_lines,
                    size_t *line_count, char *why, size_t why_size)
{
    size_t count = 0, at = 0;
    while (at < len) {
        const char *line = body + at;
        const char *end = memchr(line, '\n', len - at);
        if (end == NULL) {
            snprintf(why, why_size, "info response truncated: its last line has no newline");
            return -1;
        }
        size_t line_len = (size_t)(end - line);
        const char *tab = memchr(line, '\t', line_len);
        if (tab == NULL && starts_with(line, line_len, "ERROR:")) {
            snprintf(why, why_size, "server refused the request: %.*s",
                     (int)(line_len > 120 ? 120 : line_len), line);
            return -2;
        }
        if (count == max_lines) {
            snprintf(why, why_size, "info response has more than %zu lines", max_lines);
            return -1;
        }
        cshm_info_line *l = &lines[count++];
        l->name.data = line;
        if (tab != NULL) {
            l->name.len = (size_t)(tab - line);
            l->value.data = tab + 1;
            l->value.len = line_len - l->name.len - 1;
        } else {
            /* The client tolerates a name without a value. */
            l->name.len = line_len;
            l->value.data = line + line_len;
            l->value.len = 0;
        }
        at += line_len + 1;
    }
    *line_count = count;
    return 0;
}

int cshm_slice_equals(const cshm_slice *s, const char *text)
{
    size_t n = strlen(text);
    return s->len == n && memcmp(s->data, text, n) == 0;
}

const cshm_slice *cshm_info_find(const cshm_info_line *lines, size_t line_count, const char *name)
{
    for (size_t i = 0; i < line_count; i++)
        if (cshm_slice_equals(&lines[i].name, name))
            return &lines[i].value;
    return NULL;
}

int cshm_info_value_is_error(const cshm_slice *value)
{
    return starts_with(value->data, value->len, "ERROR:");
}

int cshm_info_value_is_failure(const cshm_slice *value)
{
    return starts_with(value->data, value->len, "ERROR:") ||
           starts_with(value->data, value->len, "FAIL:") ||
           starts_with(value->data, value->len, "error=");
}

static int ensure_capacity(cshm_info_response *r, size_t need, char *why, size_t why_size)
{
    if (r->capacity >= need)
        return 0;
    size_t cap = r->capacity ? r->capacity : 4096;
    while (cap < need)
        cap *= 2;
    unsigned char *grown = realloc(r->body, cap);
    if (grown == NULL) {
        snprintf(why, why_size, "out of memory for a %zu-byte info response", need);
        return -1;
    }
    r->body = grown;
    r->capacity = cap;
    return 0;
}

int cshm_info_send(int *fd, const char *body, double deadline, char *why, size_t why_size)
{
    unsigned char request[CSHM_INFO_HEADER_SIZE + CSHM_INFO_REQUEST_MAX];
    size_t request_len = cshm_info_build_request(body, request, sizeof request);
    if (request_len == 0) {
        snprintf(why, why_size, "internal error: invalid info request");
        return -1;
    }
    if (*fd < 0) {
        snprintf(why, why_size, "not connected");
        return -1;
    }
    if (cshm_net_write_all(*fd, request, request_len, deadline, why, why_size) != 0) {
        cshm_net_close(fd);
        return -1;
    }
    return 0;
}

int cshm_info_call(int *fd, const char *body, size_t max_body, double deadline,
                   cshm_info_response *r, char *why, size_t why_size)
{
    r->len = 0;
    r->line_count = 0;
    if (cshm_info_send(fd, body, deadline, why, why_size) != 0)
        return -1;
    return cshm_info_receive(fd, max_body, deadline, r, why, why_size);
}

int cshm_info_receive(int *fd, size_t max_body, double deadline, cshm_info_response *r, char *why,
                      size_t why_size)
{
    r->len = 0;
    r->line_count = 0;
    if (*fd < 0) {
        snprintf(why, why_size, "not connected");
        return -1;
    }
    unsigned char header[CSHM_INFO_HEADER_SIZE];
    size_t body_len = 0;
    if (cshm_net_read_exact(*fd, header, sizeof header, deadline, why, why_size) != 0 ||
        cshm_info_parse_header(header, max_body, &body_len, why, why_size) != 0 ||
        ensure_capacity(r, body_len, why, why_size) != 0 ||
        cshm_net_read_exact(*fd, r->body, body_len, deadline, why, why_size) != 0) {
        cshm_net_close(fd);
        return -1;
    }
    r->len = body_len;
    int rc = cshm_info_split((const char *)r->body, body_len, r->lines, CSHM_INFO_MAX_LINES,
                             &r->line_count, why, why_size);
    if (rc == -1) {
        /* The server broke the line format: do not trust the stream further. */
        cshm_net_close(fd);
        return -1;
    }
    return rc == 0 ? 0 : -1;
}
