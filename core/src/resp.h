/*
 * resp.h - the Redis protocol: encoding commands and parsing replies.
 *
 * Replies are parsed from untrusted bytes.  Invariants of the parser:
 *  - it reads only inside the bytes it was given; a truncated reply is
 *    "incomplete" (more bytes needed), never an overread;
 *  - it refuses, with a message, anything outside RESP2/RESP3 or over a
 *    limit: a reply over CSHM_RESP_MAX_REPLY bytes, aggregates nested deeper
 *    than CSHM_RESP_MAX_DEPTH, more than CSHM_RESP_MAX_ELEMENTS elements in
 *    total, negative or oversized lengths, lines not ended by CRLF;
 *  - it allocates only after a whole reply has been validated, and exactly
 *    what that reply needs; nothing is sized from a count the peer declared;
 *  - a parsed reply is one allocation (cshm_reply_free releases it): the
 *    element tree followed by a private copy of the bytes, in which every
 *    string is followed by a NUL (the CR of its terminator is overwritten),
 *    so str may be used as a C string when the payload has no NUL itself.
 * RESP3 types are accepted and folded into the RESP2 ones (sets and pushes are
 * arrays, blob errors are errors, verbatim strings are strings without their
 * "txt:" prefix); maps keep their own type.  Attributes are refused.
 */
#ifndef CSHM_RESP_H
#define CSHM_RESP_H

#include <stddef.h>
#include <stdint.h>

#define CSHM_RESP_MAX_REPLY (8u * 1024u * 1024u)
#define CSHM_RESP_MAX_DEPTH 8
#define CSHM_RESP_MAX_ELEMENTS (1u << 20)

typedef enum cshm_resp_type {
    CSHM_RESP_STRING = 1,   /* simple, bulk or verbatim string */
    CSHM_RESP_ERROR,        /* simple or blob error; str is the message */
    CSHM_RESP_INTEGER,
    CSHM_RESP_NIL,          /* null bulk string, null array, RESP3 null */
    CSHM_RESP_ARRAY,        /* array, set, push */
    CSHM_RESP_MAP,          /* RESP3 map: count = 2 * pairs, keys at even indexes */
    CSHM_RESP_BOOLEAN,      /* integer is 0 or 1 */
    CSHM_RESP_DOUBLE,       /* text in str, e.g. "3.14", "inf" */
    CSHM_RESP_BIGNUM,       /* text in str */
} cshm_resp_type;

typedef struct cshm_resp {
    cshm_resp_type type;
    int64_t integer;                /* INTEGER, BOOLEAN */
    const char *str;                /* STRING, ERROR, DOUBLE, BIGNUM; else NULL */
    size_t len;
    struct cshm_resp *elements;     /* ARRAY, MAP; NULL when count is 0 */
    size_t count;
} cshm_resp;

typedef struct cshm_reply {
    cshm_resp *root;                /* NULL when empty */
    void *memory;                   /* the one allocation behind root */
} cshm_reply;

void cshm_reply_free(cshm_reply *reply);

/* Parse the reply at the start of data[0..len).  Returns 1 with *reply filled
 * and *used set to its length in bytes; 0 when data is a valid but
 * incomplete prefix; -1 on a protocol violation, a limit or out of memory,
 * with a message in error. */
int cshm_resp_parse(const void *data, size_t len, cshm_reply *reply, size_t *used, char *error,
                    size_t error_size);

/* Encode a command (an array of argc bulk strings) into out.  Returns the
 * encoded length; when that exceeds out_size the contents of out are
 * unspecified and the caller needs a bigger buffer. */
size_t cshm_resp_encode(char *out, size_t out_size, size_t argc, const char *const *argv,
                        const size_t *arg_lengths);

/* Bytes received on a connection and not yet consumed as a reply. */
typedef struct cshm_resp_buffer {
    char *data;
    size_t len;
    size_t capacity;
} cshm_resp_buffer;

void cshm_resp_buffer_free(cshm_resp_buffer *buffer);

/* Read one whole reply from fd, waiting no later than deadline (monotonic
 * seconds).  Bytes after the reply stay in buffer for the next call.
 * Returns 0, or one of the negative codes below with a message; after a
 * failure the connection is out of step: close it and free the buffer. */
enum {
    CSHM_RESP_READ_NETWORK = -1,   /* timeout, reset, closed by the server */
    CSHM_RESP_READ_PROTOCOL = -2,  /* not RESP, over a limit, out of memory */
};
int cshm_resp_read_reply(int fd, cshm_resp_buffer *buffer, double deadline, cshm_reply *reply,
                         char *error, size_t error_size);

/* 1 when node is a STRING (or ERROR) equal to text. */
int cshm_resp_is(const cshm_resp *node, const char *text);

/* A printable excerpt of network text for messages: bytes outside
 * 0x20..0x7e become '?', and "..." marks a cut.  Always NUL-terminated. */
void cshm_resp_printable(char *out, size_t out_size, const char *text, size_t len);

/* "an integer", "a string", ...: with the article, for messages. */
const char *cshm_resp_type_name(cshm_resp_type type);

#endif
