/*
 * info_proto.h - Aerospike info protocol framing (spec section 1).
 *
 * A request is an 8-byte proto header (version 2, type 1, 48-bit big-endian
 * body size) and a body of command lines, each ending with '\n'.  The answer
 * has the same header and one "<echo>\t<value>\n" line per request line.
 *
 * Invariants:
 *  - Nothing here trusts the network: a response is read only after its
 *    header passed version, type and size checks (size in 1..max_body), and
 *    every line and value is a (pointer, length) slice inside the body that
 *    was received; nothing is ever read past the body's end.
 *  - cshm_info_call bounds the whole exchange (write, header, body) by one
 *    deadline, and closes the socket on any transport or framing failure, so
 *    a half-read response can never be mistaken for the next one.
 */
#ifndef CSHM_INFO_PROTO_H
#define CSHM_INFO_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define CSHM_INFO_HEADER_SIZE 8
#define CSHM_INFO_VERSION 2
#define CSHM_INFO_TYPE 1
/* Largest response the tend path accepts (the C client's limit). */
#define CSHM_INFO_TEND_MAX (512u * 1024u)
/* Most lines one response may carry (tend requests ask at most 6 names). */
#define CSHM_INFO_MAX_LINES 16
/* Largest request body we build. */
#define CSHM_INFO_REQUEST_MAX 1024
#define CSHM_INFO_WHY_MAX 200

typedef struct cshm_slice {
    const char *data;
    size_t len;
} cshm_slice;

typedef struct cshm_info_line {
    cshm_slice name;    /* the echoed request line */
    cshm_slice value;   /* empty when the line had no tab */
} cshm_info_line;

typedef struct cshm_info_response {
    unsigned char *body;         /* owned; grows up to the caller's max_body */
    size_t capacity;
    size_t len;
    cshm_info_line lines[CSHM_INFO_MAX_LINES];
    size_t line_count;
} cshm_info_response;

void cshm_info_response_init(cshm_info_response *r);
void cshm_info_response_free(cshm_info_response *r);

/* Header + body into out.  body must be non-empty, end with '\n' and hold no
 * '\t'.  Returns the total length, or 0 when it does not fit or is invalid. */
size_t cshm_info_build_request(const char *body, unsigned char *out, size_t out_size);

/* Checks a response header.  Returns 0 and the body size, or -1 with why. */
int cshm_info_parse_header(const unsigned char header[CSHM_INFO_HEADER_SIZE], size_t max_body,
                           size_t *body_len, char *why, size_t why_size);

/* Splits body (len bytes) into lines.  Every line must end with '\n'.  A
 * line without a tab that starts with "ERROR:" is a whole-request error (the
 * server's "not authenticated" / queue timeout form) and fails the parse with
 * its text.  Returns 0, or -1 with why. */
int cshm_info_split(const char *body, size_t len, cshm_info_line *lines, size_t max_lines,
                    size_t *line_count, char *why, size_t why_size);

/* The value whose echo equals name exactly; NULL when absent. */
const cshm_slice *cshm_info_find(const cshm_info_line *lines, size_t line_count, const char *name);

/* Tend-path check: 1 when value starts with "ERROR:". */
int cshm_info_value_is_error(const cshm_slice *value);
/* Generic (seed validation) check: "ERROR:", "FAIL:" or "error=". */
int cshm_info_value_is_failure(const cshm_slice *value);

/* 1 when the slice equals the C string text. */
int cshm_slice_equals(const cshm_slice *s, const char *text);

/* One request/response exchange on *fd: send body, read one response of at
 * most max_body bytes, split it into r->lines.  The whole exchange must end
 * by deadline (monotonic seconds).  On a transport or framing error the
 * socket is closed (*fd = -1).  Returns 0, or -1 with why. */
int cshm_info_call(int *fd, const char *body, size_t max_body, double deadline,
                   cshm_info_response *r, char *why, size_t why_size);

/* The two halves of cshm_info_call, for a caller that sends to several
 * nodes before it reads their answers: each bounded by its deadline, each
 * closing the socket on a transport or framing error.  Between a send and
 * its receive nothing else may be sent or read on *fd. */
int cshm_info_send(int *fd, const char *body, double deadline, char *why, size_t why_size);
int cshm_info_receive(int *fd, size_t max_body, double deadline, cshm_info_response *r, char *why,
                      size_t why_size);

#endif
