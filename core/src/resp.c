/*
 * resp.c - see resp.h.
 *
 * Parsing is two passes over the same bytes, sharing one function that reads
 * one element header (read_item):
 *  1. scan: validates the whole reply and counts its elements, keeping only a
 *     fixed-size stack of "children still expected" per open aggregate.  Its
 *     state is kept between calls, so a reply arriving in many reads is
 *     scanned once, not once per read.
 *  2. build: knowing the exact element count, allocates the tree and the copy
 *     of the bytes in one block and fills it; the children of each aggregate
 *     get a contiguous run of that block, reserved when the aggregate is met.
 * Neither pass recurses, and both stop at CSHM_RESP_MAX_DEPTH.
 */
#include "resp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "error.h"
#include "net.h"

/* A count or length line: sign, 19 digits, CRLF, with room to spare. */
#define MAX_NUMBER_LINE 24
#define READ_CHUNK_MIN 16384u

enum { ITEM_INCOMPLETE = 0, ITEM_OK = 1, ITEM_BAD = -1 };

/* One element header as read from the bytes. */
typedef struct item {
    cshm_resp_type type;
    int64_t integer;
    size_t str_offset, str_len;   /* STRING, ERROR, DOUBLE, BIGNUM */
    size_t children;              /* ARRAY, MAP: elements that follow */
    size_t next;                  /* offset just past this header (and payload) */
} item;

/* Find the CRLF ending the line that starts at `from`.  The line (without
 * CRLF) may be at most max_line bytes and may contain neither CR nor LF. */
static int find_line_end(const char *data, size_t len, size_t from, size_t max_line, size_t *eol,
                         char *error, size_t error_size)
{
    size_t limit = len - from < max_line + 1 ? len - from : max_line + 1;
    for (size_t i = 0; i < limit; i++) {
        char c = data[from + i];
        if (c == '\n') {
            cshm_format_error(error, error_size, "protocol error: bare LF at byte %zu", from + i);
            return ITEM_BAD;
        }
        if (c == '\r') {
            if (from + i + 1 >= len)
                return ITEM_INCOMPLETE;
            if (data[from + i + 1] != '\n') {
                cshm_format_error(error, error_size, "protocol error: CR without LF at byte %zu",
                          from + i);
                return ITEM_BAD;
            }
            *eol = from + i;
            return ITEM_OK;
        }
    }
    if (len - from > max_line) {
        cshm_format_error(error, error_size, "protocol error: line at byte %zu longer than %zu bytes",
                  from, max_line);
        return ITEM_BAD;
    }
    return ITEM_INCOMPLETE;
}

/* Strict decimal int64: optional '-', 1..19 digits, no overflow. */
static int parse_int64(const char *text, size_t len, int64_t *out)
{
    size_t i = 0;
    int negative = 0;
    if (len > 0 && text[0] == '-') {
        negative = 1;
        i = 1;
    }
    if (i == len || len - i > 19)
        return -1;
    uint64_t value = 0;
    for (; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10u + (uint64_t)(text[i] - '0');
    }
    /* 19 digits fit in uint64; the int64 range is checked here. */
    if (!negative && value > (uint64_t)INT64_MAX)
        return -1;
    if (negative && value > (uint64_t)INT64_MAX + 1u)
        return -1;
    *out = negative ? (int64_t)(0 - value) : (int64_t)value;
    return 0;
}

/* A length or count header: returns ITEM_OK with *value >= -1. */
static int read_number_line(const char *data, size_t len, size_t pos, int64_t *value,
                            size_t *after, char *error, size_t error_size)
{
    size_t eol;
    int rc = find_line_end(data, len, pos + 1, MAX_NUMBER_LINE, &eol, error, error_size);
    if (rc != ITEM_OK)
        return rc;
    if (parse_int64(data + pos + 1, eol - pos - 1, value) != 0) {
        cshm_format_error(error, error_size, "protocol error: invalid number after '%c' at byte %zu",
                  data[pos], pos);
        return ITEM_BAD;
    }
    *after = eol + 2;
    return ITEM_OK;
}

/* '$', '!' and '=': a length line, the payload and CRLF. */
static int read_blob(const char *data, size_t len, size_t pos, item *it, char *error,
                     size_t error_size)
{
    int64_t length;
    size_t payload;
    int rc = read_number_line(data, len, pos, &length, &payload, error, error_size);
    if (rc != ITEM_OK)
        return rc;
    if (length == -1 && data[pos] == '$') {
        it->type = CSHM_RESP_NIL;
        it->next = payload;
        return ITEM_OK;
    }
    if (length < 0 || (uint64_t)length > CSHM_RESP_MAX_REPLY) {
        cshm_format_error(error, error_size, "protocol error: string length %lld at byte %zu (limit %u)",
                  (long long)length, pos, CSHM_RESP_MAX_REPLY);
        return ITEM_BAD;
    }
    size_t n = (size_t)length;
    /* Offsets count from the start of the reply, so this bounds the reply. */
    if (payload + n + 2 > CSHM_RESP_MAX_REPLY) {
        cshm_format_error(error, error_size, "reply larger than %u bytes", CSHM_RESP_MAX_REPLY);
        return ITEM_BAD;
    }
    if (len - payload < n + 2)
        return ITEM_INCOMPLETE;
    if (data[payload + n] != '\r' || data[payload + n + 1] != '\n') {
        cshm_format_error(error, error_size,
                  "protocol error: string of %zu bytes at byte %zu not followed by CRLF", n, pos);
        return ITEM_BAD;
    }
    it->type = data[pos] == '!' ? CSHM_RESP_ERROR : CSHM_RESP_STRING;
    it->str_offset = payload;
    it->str_len = n;
    if (data[pos] == '=') {
        /* Verbatim: "fmt:" then the text. */
        if (n < 4 || data[payload + 3] != ':') {
            cshm_format_error(error, error_size,
                      "protocol error: verbatim string at byte %zu without a format prefix", pos);
            return ITEM_BAD;
        }
        it->str_offset += 4;
        it->str_len -= 4;
    }
    it->next = payload + n + 2;
    return ITEM_OK;
}

/* '*', '~', '>', '%': a count line; the elements follow as separate items. */
static int read_aggregate(const char *data, size_t len, size_t pos, item *it, char *error,
                          size_t error_size)
{
    int64_t count;
    int rc = read_number_line(data, len, pos, &count, &it->next, error, error_size);
    if (rc != ITEM_OK)
        return rc;
    if (count == -1 && data[pos] == '*') {
        it->type = CSHM_RESP_NIL;
        return ITEM_OK;
    }
    int is_map = data[pos] == '%';
    uint64_t limit = is_map ? CSHM_RESP_MAX_ELEMENTS / 2 : CSHM_RESP_MAX_ELEMENTS;
    if (count < 0 || (uint64_t)count > limit) {
        cshm_format_error(error, error_size, "protocol error: %s of %lld elements at byte %zu (limit %llu)",
                  is_map ? "map" : "array", (long long)count, pos, (unsigned long long)limit);
        return ITEM_BAD;
    }
    it->type = is_map ? CSHM_RESP_MAP : CSHM_RESP_ARRAY;
    it->children = is_map ? (size_t)count * 2 : (size_t)count;
    return ITEM_OK;
}

/* Lines whose content is the value: '+', '-', ':', ',', '(', '#', '_'. */
static int read_line_item(const char *data, size_t len, size_t pos, item *it, char *error,
                          size_t error_size)
{
    char type = data[pos];
    int textual = type == '+' || type == '-' || type == ',' || type == '(';
    size_t eol;
    int rc = find_line_end(data, len, pos + 1, textual ? CSHM_RESP_MAX_REPLY : MAX_NUMBER_LINE,
                           &eol, error, error_size);
    if (rc != ITEM_OK)
        return rc;
    const char *text = data + pos + 1;
    size_t text_len = eol - pos - 1;
    it->next = eol + 2;
    switch (type) {
    case '+':
    case '-':
    case ',':
    case '(':
        if ((type == ',' || type == '(') && text_len == 0) {
            cshm_format_error(error, error_size, "protocol error: empty number at byte %zu", pos);
            return ITEM_BAD;
        }
        it->type = type == '+'   ? CSHM_RESP_STRING
                   : type == '-' ? CSHM_RESP_ERROR
                   : type == ',' ? CSHM_RESP_DOUBLE
                                 : CSHM_RESP_BIGNUM;
        it->str_offset = pos + 1;
        it->str_len = text_len;
        return ITEM_OK;
    case ':':
        if (parse_int64(text, text_len, &it->integer) != 0) {
            cshm_format_error(error, error_size, "protocol error: invalid integer at byte %zu", pos);
            return ITEM_BAD;
        }
        it->type = CSHM_RESP_INTEGER;
        return ITEM_OK;
    case '#':
        if (text_len != 1 || (text[0] != 't' && text[0] != 'f')) {
            cshm_format_error(error, error_size, "protocol error: invalid boolean at byte %zu", pos);
            return ITEM_BAD;
        }
        it->type = CSHM_RESP_BOOLEAN;
        it->integer = text[0] == 't';
        return ITEM_OK;
    default: /* '_' */
        if (text_len != 0) {
            cshm_format_error(error, error_size, "protocol error: invalid null at byte %zu", pos);
            return ITEM_BAD;
        }
        it->type = CSHM_RESP_NIL;
        return ITEM_OK;
    }
}

static int read_item(const char *data, size_t len, size_t pos, item *it, char *error,
                     size_t error_size)
{
    if (pos >= len)
        return ITEM_INCOMPLETE;
    memset(it, 0, sizeof *it);
    switch (data[pos]) {
    case '+':
    case '-':
    case ':':
    case ',':
    case '(':
    case '#':
    case '_':
        return read_line_item(data, len, pos, it, error, error_size);
    case '$':
    case '!':
    case '=':
        return read_blob(data, len, pos, it, error, error_size);
    case '*':
    case '~':
    case '>':
    case '%':
        return read_aggregate(data, len, pos, it, error, error_size);
    case '|':
        cshm_format_error(error, error_size, "protocol error: RESP3 attributes are not supported");
        return ITEM_BAD;
    default:
        cshm_format_error(error, error_size,
                  "protocol error: byte 0x%02x at byte %zu is not a reply type (not a Redis "
                  "server?)",
                  (unsigned)(unsigned char)data[pos], pos);
        return ITEM_BAD;
    }
}

/* Resumable validation of one reply. */
typedef struct scan_state {
    size_t pos;                               /* next element header */
    size_t elements;                          /* headers read so far */
    int depth;                                /* open aggregates */
    size_t expected[CSHM_RESP_MAX_DEPTH];     /* children still to come, per level */
} scan_state;

/* ITEM_OK when the reply is complete (state->pos is then its length). */
static int scan(scan_state *s, const char *data, size_t len, char *error, size_t error_size)
{
    for (;;) {
        item it;
        int rc = read_item(data, len, s->pos, &it, error, error_size);
        if (rc == ITEM_INCOMPLETE && len >= CSHM_RESP_MAX_REPLY) {
            cshm_format_error(error, error_size, "reply larger than %u bytes", CSHM_RESP_MAX_REPLY);
            return ITEM_BAD;
        }
        if (rc != ITEM_OK)
            return rc;
        if (it.next > CSHM_RESP_MAX_REPLY) {
            cshm_format_error(error, error_size, "reply larger than %u bytes", CSHM_RESP_MAX_REPLY);
            return ITEM_BAD;
        }
        if (++s->elements > CSHM_RESP_MAX_ELEMENTS) {
            cshm_format_error(error, error_size, "reply has more than %u elements",
                      CSHM_RESP_MAX_ELEMENTS);
            return ITEM_BAD;
        }
        s->pos = it.next;
        if (it.children > 0) {
            if (s->depth == CSHM_RESP_MAX_DEPTH) {
                cshm_format_error(error, error_size, "reply nested deeper than %d levels",
                          CSHM_RESP_MAX_DEPTH);
                return ITEM_BAD;
            }
            s->expected[s->depth++] = it.children;
            continue;
        }
        /* A complete element: it may complete its parents too. */
        for (;;) {
            if (s->depth == 0)
                return ITEM_OK;
            if (--s->expected[s->depth - 1] > 0)
                break;
            s->depth--;
        }
    }
}

/* An aggregate of the tree being built whose children are being filled. */
typedef struct build_level {
    cshm_resp *children;
    size_t filled, total;
} build_level;

static int build(char *bytes, size_t used, size_t element_count, cshm_resp *nodes, char *error,
                 size_t error_size)
{
    build_level levels[CSHM_RESP_MAX_DEPTH];
    int depth = 0;
    size_t pos = 0, next_free = 1;
    for (size_t k = 0; k < element_count; k++) {
        item it;
        if (read_item(bytes, used, pos, &it, error, error_size) != ITEM_OK)
            goto inconsistent;
        cshm_resp *node;
        if (depth == 0) {
            if (k != 0)
                goto inconsistent;
            node = &nodes[0];
        } else {
            build_level *level = &levels[depth - 1];
            node = &level->children[level->filled++];
        }
        memset(node, 0, sizeof *node);
        node->type = it.type;
        node->integer = it.integer;
        if (it.type == CSHM_RESP_STRING || it.type == CSHM_RESP_ERROR ||
            it.type == CSHM_RESP_DOUBLE || it.type == CSHM_RESP_BIGNUM) {
            node->str = bytes + it.str_offset;
            node->len = it.str_len;
            /* The terminator's CR becomes the string's NUL (see resp.h). */
            bytes[it.str_offset + it.str_len] = '\0';
        }
        pos = it.next;
        if (it.children > 0) {
            if (depth == CSHM_RESP_MAX_DEPTH || it.children > element_count - next_free)
                goto inconsistent;
            node->elements = &nodes[next_free];
            node->count = it.children;
            next_free += it.children;
            levels[depth].children = node->elements;
            levels[depth].filled = 0;
            levels[depth].total = it.children;
            depth++;
            continue;
        }
        while (depth > 0 && levels[depth - 1].filled == levels[depth - 1].total)
            depth--;
    }
    if (depth == 0 && pos == used && next_free == element_count)
        return 0;
inconsistent:
    /* The scan validated these bytes: reaching here is a bug, not input. */
    cshm_format_error(error, error_size, "internal error: reply changed between scan and build");
    return -1;
}

static int materialize(const char *data, size_t used, size_t element_count, cshm_reply *reply,
                       char *error, size_t error_size)
{
    size_t tree_size = element_count * sizeof(cshm_resp);
    unsigned char *memory = malloc(tree_size + used + 1);
    if (memory == NULL) {
        cshm_format_error(error, error_size, "out of memory for a reply of %zu bytes", used);
        return -1;
    }
    cshm_resp *nodes = (cshm_resp *)(void *)memory;
    char *bytes = (char *)memory + tree_size;
    memcpy(bytes, data, used);
    bytes[used] = '\0';
    if (build(bytes, used, element_count, nodes, error, error_size) != 0) {
        free(memory);
        return -1;
    }
    reply->root = nodes;
    reply->memory = memory;
    return 0;
}

void cshm_reply_free(cshm_reply *reply)
{
    if (reply == NULL)
        return;
    free(reply->memory);
    reply->memory = NULL;
    reply->root = NULL;
}

int cshm_resp_parse(const void *data, size_t len, cshm_reply *reply, size_t *used, char *error,
                    size_t error_size)
{
    scan_state state;
    memset(&state, 0, sizeof state);
    reply->root = NULL;
    reply->memory = NULL;
    int rc = scan(&state, data, len, error, error_size);
    if (rc != ITEM_OK)
        return rc;
    if (materialize(data, state.pos, state.elements, reply, error, error_size) != 0)
        return -1;
    *used = state.pos;
    return 1;
}

size_t cshm_resp_encode(char *out, size_t out_size, size_t argc, const char *const *argv,
                        const size_t *arg_lengths)
{
    char header[32];
    size_t total = (size_t)snprintf(header, sizeof header, "*%zu\r\n", argc);
    for (size_t i = 0; i < argc; i++)
        total += (size_t)snprintf(header, sizeof header, "$%zu\r\n", arg_lengths[i]) +
                 arg_lengths[i] + 2;
    if (total > out_size)
        return total;
    /* Headers go through a scratch buffer: snprintf into out would want room
     * for a NUL that an exactly-sized buffer does not have. */
    size_t at = (size_t)snprintf(header, sizeof header, "*%zu\r\n", argc);
    memcpy(out, header, at);
    for (size_t i = 0; i < argc; i++) {
        size_t n = (size_t)snprintf(header, sizeof header, "$%zu\r\n", arg_lengths[i]);
        memcpy(out + at, header, n);
        at += n;
        if (arg_lengths[i] > 0)
            memcpy(out + at, argv[i], arg_lengths[i]);
        at += arg_lengths[i];
        out[at++] = '\r';
        out[at++] = '\n';
    }
    return total;
}

void cshm_resp_buffer_free(cshm_resp_buffer *buffer)
{
    free(buffer->data);
    buffer->data = NULL;
    buffer->len = 0;
    buffer->capacity = 0;
}

/* Make room for at least one more read; the buffer never outgrows the
 * largest reply we accept. */
static int buffer_reserve(cshm_resp_buffer *b, char *error, size_t error_size)
{
    if (b->capacity - b->len >= READ_CHUNK_MIN / 4 || b->capacity >= CSHM_RESP_MAX_REPLY)
        return 0;
    size_t capacity = b->capacity == 0 ? READ_CHUNK_MIN : b->capacity * 2;
    if (capacity > CSHM_RESP_MAX_REPLY)
        capacity = CSHM_RESP_MAX_REPLY;
    char *data = realloc(b->data, capacity);
    if (data == NULL) {
        cshm_format_error(error, error_size, "out of memory reading a reply");
        return -1;
    }
    b->data = data;
    b->capacity = capacity;
    return 0;
}

int cshm_resp_read_reply(int fd, cshm_resp_buffer *buffer, double deadline, cshm_reply *reply,
                         char *error, size_t error_size)
{
    scan_state state;
    memset(&state, 0, sizeof state);
    reply->root = NULL;
    reply->memory = NULL;
    for (;;) {
        int rc = buffer->len > 0 ? scan(&state, buffer->data, buffer->len, error, error_size)
                                 : ITEM_INCOMPLETE;
        if (rc == ITEM_BAD)
            return CSHM_RESP_READ_PROTOCOL;
        if (rc == ITEM_OK) {
            if (materialize(buffer->data, state.pos, state.elements, reply, error, error_size) != 0)
                return CSHM_RESP_READ_PROTOCOL;
            buffer->len -= state.pos;
            memmove(buffer->data, buffer->data + state.pos, buffer->len);
            return 0;
        }
        if (buffer_reserve(buffer, error, error_size) != 0)
            return CSHM_RESP_READ_PROTOCOL;
        if (buffer->len == buffer->capacity) {
            cshm_format_error(error, error_size, "reply larger than %u bytes", CSHM_RESP_MAX_REPLY);
            return CSHM_RESP_READ_PROTOCOL;
        }
        ssize_t got = cshm_net_read_some(fd, buffer->data + buffer->len,
                                         buffer->capacity - buffer->len, deadline, error,
                                         error_size);
        if (got < 0)
            return CSHM_RESP_READ_NETWORK;
        buffer->len += (size_t)got;
    }
}

int cshm_resp_is(const cshm_resp *node, const char *text)
{
    size_t n = strlen(text);
    return node != NULL && (node->type == CSHM_RESP_STRING || node->type == CSHM_RESP_ERROR) &&
           node->len == n && memcmp(node->str, text, n) == 0;
}

void cshm_resp_printable(char *out, size_t out_size, const char *text, size_t len)
{
    if (out_size == 0)
        return;
    size_t room = out_size - 1, at = 0;
    int cut = len > room;
    if (cut)
        room = room > 3 ? room - 3 : 0;
    for (size_t i = 0; i < len && at < room; i++) {
        unsigned char c = (unsigned char)text[i];
        out[at++] = c >= 0x20 && c <= 0x7e ? (char)c : '?';
    }
    if (cut)
        for (int i = 0; i < 3 && at < out_size - 1; i++)
            out[at++] = '.';
    out[at] = '\0';
}

const char *cshm_resp_type_name(cshm_resp_type type)
{
    switch (type) {
    case CSHM_RESP_STRING:
        return "a string";
    case CSHM_RESP_ERROR:
        return "an error";
    case CSHM_RESP_INTEGER:
        return "an integer";
    case CSHM_RESP_NIL:
        return "a nil";
    case CSHM_RESP_ARRAY:
        return "an array";
    case CSHM_RESP_MAP:
        return "a map";
    case CSHM_RESP_BOOLEAN:
        return "a boolean";
    case CSHM_RESP_DOUBLE:
        return "a double";
    case CSHM_RESP_BIGNUM:
        return "a big number";
    }
    return "an unknown type";
}
