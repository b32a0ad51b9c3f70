/*
 * aerospike_parse.c - see aerospike_parse.h.
 *
 * Every parser walks the value with a cursor (`at` < `end`) and checks the
 * bound before each byte it looks at; a grammar violation returns at once
 * with a message that says which field broke and where (byte offset), so a
 * server bug can be found from the log line alone.
 */
#include "aerospike_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ---- numbers ------------------------------------------------------------ */

/* Digits in [text, text+len): 1..20 of them, value <= max. */
static int parse_digits(const char *text, size_t len, uint64_t max, uint64_t *out)
{
    if (len == 0 || len > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(text[i]))
            return -1;
        unsigned d = (unsigned)(text[i] - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int cshm_as_parse_u64(const cshm_slice *value, uint64_t max, uint64_t *out)
{
    return parse_digits(value->data, value->len, max, out);
}

int cshm_as_parse_generation(const cshm_slice *value, uint32_t *out)
{
    if (cshm_slice_equals(value, "-1")) {
        *out = 0xFFFFFFFFu;
        return 0;
    }
    uint64_t v;
    if (parse_digits(value->data, value->len, UINT64_MAX, &v) != 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int cshm_as_parse_rack_ids(const cshm_slice *value, cshm_as_rack *out, uint32_t max,
                           uint32_t *count, char *why, size_t why_size)
{
    size_t at = 0;
    *count = 0;
    while (at < value->len) {
        const char *entry = value->data + at;
        const char *end = memchr(entry, ';', value->len - at);
        size_t len = end != NULL ? (size_t)(end - entry) : value->len - at;
        at += len + (end != NULL ? 1 : 0);
        if (len == 0 && end == NULL)
            break;
        const char *colon = memchr(entry, ':', len);
        size_t name_len = colon != NULL ? (size_t)(colon - entry) : 0;
        uint64_t rack;
        if (colon == NULL || name_len == 0 || name_len >= CSHM_NAMESPACE_MAX ||
            parse_digits(colon + 1, len - name_len - 1, 1000000u, &rack) != 0) {
            snprintf(why, why_size, "bad rack-ids entry '%.*s' (expected namespace:rack-id)",
                     (int)(len > 60 ? 60 : len), entry);
            return -1;
        }
        if (*count == max) {
            snprintf(why, why_size, "rack-ids lists more than %u namespaces", (unsigned)max);
            return -1;
        }
        memcpy(out[*count].ns, entry, name_len);
        out[*count].ns[name_len] = '\0';
        out[*count].rack = (int32_t)rack;
        (*count)++;
    }
    return 0;
}

int cshm_as_parse_build(const cshm_slice *value, uint32_t version[4])
{
    size_t at = 0, parts = 0;
    memset(version, 0, 4 * sizeof version[0]);
    while (parts < 4) {
        size_t start = at;
        while (at < value->len && is_digit(value->data[at]))
            at++;
        uint64_t part;
        if (parse_digits(value->data + start, at - start, 999999999u, &part) != 0)
            break;
        version[parts++] = (uint32_t)part;
        if (at < value->len && value->data[at] == '.' && parts < 4)
            at++;
        else
            break;
    }
    /* Anything after the numbers ("-rc1", " ...") is a suffix we ignore. */
    return parts >= 3 ? 0 : -1;
}

int cshm_as_build_supported(const uint32_t v[4])
{
    static const uint32_t oldest[4] = {4, 9, 0, 3};
    for (int i = 0; i < 4; i++)
        if (v[i] != oldest[i])
            return v[i] > oldest[i];
    return 1;
}

/* ---- names and endpoints ---------------------------------------------- */

int cshm_as_copy_node_name(const char *text, size_t len, char out[CSHM_NODE_NAME_MAX], char *why,
                           size_t why_size)
{
    if (len == 0)
        return cshm_format_error(why, why_size, "empty node name");
    if (len >= CSHM_NODE_NAME_MAX)
        return cshm_format_error(why, why_size, "node name of %zu bytes is longer than %d", len,
                    CSHM_NODE_NAME_MAX - 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= 0x20 || c >= 0x7f || strchr(",[]:;", c) != NULL)
            return cshm_format_error(why, why_size, "node name has a forbidden byte 0x%02x at offset %zu",
                        (unsigned)c, i);
    }
    memcpy(out, text, len);
    out[len] = '\0';
    return 0;
}

static int parse_port(const char *text, size_t len, uint16_t *port)
{
    uint64_t v;
    if (len > 5 || parse_digits(text, len, 65535, &v) != 0 || v == 0)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static int host_char_ok(char c, int bracketed)
{
    if (is_alnum(c) || c == '.' || c == '-' || c == '_')
        return 1;
    return bracketed && (c == ':' || c == '%');
}

static int copy_host(const char *text, size_t len, int bracketed, char out[CSHM_HOST_MAX],
                     char *why, size_t why_size)
{
    if (len == 0)
        return cshm_format_error(why, why_size, "empty host");
    if (len >= CSHM_HOST_MAX)
        return cshm_format_error(why, why_size, "host of %zu bytes is longer than %d", len, CSHM_HOST_MAX - 1);
    for (size_t i = 0; i < len; i++)
        if (!host_char_ok(text[i], bracketed))
            return cshm_format_error(why, why_size, "host has a forbidden byte 0x%02x",
                        (unsigned)(unsigned char)text[i]);
    if (bracketed && memchr(text, ':', len) == NULL)
        return cshm_format_error(why, why_size, "bracketed host '%.*s' is not an IPv6 address", (int)len, text);
    memcpy(out, text, len);
    out[len] = '\0';
    return 0;
}

int cshm_as_parse_endpoint(const char *text, size_t len, uint16_t default_port,
                           cshm_as_endpoint *out, char *why, size_t why_size)
{
    const char *host;
    size_t host_len;
    const char *rest;
    int bracketed = len > 0 && text[0] == '[';
    if (bracketed) {
        const char *close = memchr(text, ']', len);
        if (close == NULL)
            return cshm_format_error(why, why_size, "endpoint '%.*s': '[' without ']'", (int)len, text);
        host = text + 1;
        host_len = (size_t)(close - host);
        rest = close + 1;
    } else {
        const char *colon = memchr(text, ':', len);
        host = text;
        host_len = colon != NULL ? (size_t)(colon - text) : len;
        rest = text + host_len;
    }
    size_t rest_len = len - (size_t)(rest - text);
    if (copy_host(host, host_len, bracketed, out->host, why, why_size) != 0)
        return -1;
    if (rest_len == 0) {
        out->port = default_port;
        return 0;
    }
    if (rest[0] != ':' || parse_port(rest + 1, rest_len - 1, &out->port) != 0)
        return cshm_format_error(why, why_size, "endpoint '%.*s': bad port", (int)(len > 80 ? 80 : len), text);
    return 0;
}

int cshm_as_parse_service(const cshm_slice *value, cshm_as_endpoint *out, size_t max, char *why,
                          size_t why_size)
{
    size_t count = 0, at = 0;
    while (at < value->len) {
        const char *start = value->data + at;
        const char *comma = memchr(start, ',', value->len - at);
        size_t len = comma != NULL ? (size_t)(comma - start) : value->len - at;
        if (count == max)
            return cshm_format_error(why, why_size, "service: more than %zu endpoints", max);
        char inner[CSHM_INFO_WHY_MAX];
        /* Port 0 as the default makes a missing port detectable. */
        if (cshm_as_parse_endpoint(start, len, 0, &out[count], inner, sizeof inner) != 0)
            return cshm_format_error(why, why_size, "service: %s", inner);
        if (out[count].port == 0)
            return cshm_format_error(why, why_size, "service: endpoint '%.*s' has no port",
                        (int)(len > 80 ? 80 : len), start);
        count++;
        at += len;
        if (comma != NULL) {
            at++;
            if (at == value->len)
                return cshm_format_error(why, why_size, "service: empty endpoint at the end");
        }
    }
    return (int)count;
}

/* ---- peers ---------------------------------------------------------------- */

typedef struct cursor {
    const char *data;
    size_t at, end;
} cursor;

static int peek(const cursor *c, char ch)
{
    return c->at < c->end && c->data[c->at] == ch;
}

static int expect(cursor *c, char ch, const char *field, char *why, size_t why_size)
{
    if (!peek(c, ch))
        return cshm_format_error(why, why_size, "peers: expected '%c' %s at offset %zu", ch, field, c->at);
    c->at++;
    return 0;
}

/* Advances to the next byte in stops (not consumed); returns the span. */
static size_t span_until(cursor *c, const char *stops)
{
    size_t start = c->at;
    while (c->at < c->end && strchr(stops, c->data[c->at]) == NULL)
        c->at++;
    return c->at - start;
}

void cshm_as_peers_init(cshm_as_peers *p)
{
    memset(p, 0, sizeof *p);
}

void cshm_as_peers_free(cshm_as_peers *p)
{
    free(p->peers);
    free(p->endpoints);
    memset(p, 0, sizeof *p);
}

static void peers_reset(cshm_as_peers *p)
{
    p->count = 0;
    p->endpoint_count = 0;
}

/* Room for one more entry in a growing array.  0 or -1. */
static int reserve(void **array, size_t *capacity, size_t used, size_t item, size_t limit)
{
    if (used < *capacity)
        return 0;
    if (used >= limit)
        return -1;
    size_t cap = *capacity ? *capacity * 2 : 8;
    if (cap > limit)
        cap = limit;
    void *grown = realloc(*array, cap * item);
    if (grown == NULL)
        return -1;
    *array = grown;
    *capacity = cap;
    return 0;
}

static int parse_one_endpoint(cursor *c, cshm_as_peers *p, char *why, size_t why_size)
{
    size_t start = c->at;
    if (peek(c, '[')) {
        /* "[v6]" then an optional ":port". */
        c->at++;
        span_until(c, "],[");
        if (expect(c, ']', "closing an IPv6 address", why, why_size) != 0)
            return -1;
    }
    span_until(c, ",[]");
    if (reserve((void **)&p->endpoints, &p->endpoint_capacity, p->endpoint_count,
                sizeof *p->endpoints, CSHM_AS_PEERS_MAX) != 0)
        return cshm_format_error(why, why_size, "peers: too many endpoints");
    char inner[CSHM_INFO_WHY_MAX];
    if (cshm_as_parse_endpoint(c->data + start, c->at - start, p->default_port,
                               &p->endpoints[p->endpoint_count], inner, sizeof inner) != 0)
        return cshm_format_error(why, why_size, "peers: at offset %zu: %s", start, inner);
    p->endpoint_count++;
    return 0;
}

static int parse_one_peer(cursor *c, cshm_as_peers *p, char *why, size_t why_size)
{
    if (expect(c, '[', "opening a peer", why, why_size) != 0)
        return -1;
    if (reserve((void **)&p->peers, &p->peer_capacity, p->count, sizeof *p->peers,
                CSHM_AS_PEERS_MAX) != 0)
        return cshm_format_error(why, why_size, "peers: more than %d peers", CSHM_AS_PEERS_MAX);
    cshm_as_peer *peer = &p->peers[p->count];
    size_t name_at = c->at;
    size_t name_len = span_until(c, ",[]");
    char inner[CSHM_INFO_WHY_MAX];
    if (cshm_as_copy_node_name(c->data + name_at, name_len, peer->name, inner, sizeof inner) != 0)
        return cshm_format_error(why, why_size, "peers: peer at offset %zu: %s", name_at, inner);
    if (expect(c, ',', "after the node name", why, why_size) != 0)
        return -1;
    size_t tls_at = c->at;
    size_t tls_len = span_until(c, ",[]");
    if (tls_len > CSHM_AS_TLS_NAME_MAX)
        return cshm_format_error(why, why_size, "peers: TLS name of %zu bytes is longer than %d", tls_len,
                    CSHM_AS_TLS_NAME_MAX);
    /* Bounded above, terminated here (spec 7, defect 21); printable, as it
     * goes into messages and is verified as a host name. */
    for (size_t i = 0; i < tls_len; i++)
        if ((unsigned char)c->data[tls_at + i] <= 0x20 || (unsigned char)c->data[tls_at + i] >= 0x7f)
            return cshm_format_error(why, why_size,
                                     "peers: peer %s has a TLS name with byte 0x%02x",
                                     peer->name, (unsigned)(unsigned char)c->data[tls_at + i]);
    memcpy(peer->tls_name, c->data + tls_at, tls_len);
    peer->tls_name[tls_len] = '\0';
    if (expect(c, ',', "after the TLS name", why, why_size) != 0 ||
        expect(c, '[', "opening the endpoint list", why, why_size) != 0)
        return -1;
    peer->first_endpoint = p->endpoint_count;
    peer->endpoint_count = 0;
    if (!peek(c, ']')) {
        for (;;) {
            if (peer->endpoint_count == CSHM_AS_PEER_ENDPOINTS_MAX)
                return cshm_format_error(why, why_size, "peers: peer %s has more than %d endpoints",
                            peer->name, CSHM_AS_PEER_ENDPOINTS_MAX);
            if (parse_one_endpoint(c, p, why, why_size) != 0)
                return -1;
            peer->endpoint_count++;
            if (!peek(c, ','))
                break;
            c->at++;
        }
    }
    if (expect(c, ']', "closing the endpoint list", why, why_size) != 0 ||
        expect(c, ']', "closing a peer", why, why_size) != 0)
        return -1;
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->peers[i].name, peer->name) == 0)
            return cshm_format_error(why, why_size, "peers: node %s is listed twice", peer->name);
    p->count++;
    return 0;
}

static int parse_peers_value(cursor *c, cshm_as_peers *p, char *why, size_t why_size)
{
    size_t gen_at = c->at;
    size_t gen_len = span_until(c, ",");
    uint64_t gen;
    if (parse_digits(c->data + gen_at, gen_len, UINT64_MAX, &gen) != 0)
        return cshm_format_error(why, why_size, "peers: bad generation '%.*s'", (int)(gen_len > 24 ? 24 : gen_len),
                    c->data + gen_at);
    p->generation = (uint32_t)gen;
    if (expect(c, ',', "after the generation", why, why_size) != 0)
        return -1;
    size_t port_at = c->at;
    size_t port_len = span_until(c, ",");
    p->default_port = CSHM_AS_DEFAULT_PORT;
    if (port_len > 0 && parse_port(c->data + port_at, port_len, &p->default_port) != 0)
        return cshm_format_error(why, why_size, "peers: bad default port '%.*s'",
                    (int)(port_len > 24 ? 24 : port_len), c->data + port_at);
    if (expect(c, ',', "after the default port", why, why_size) != 0 ||
        expect(c, '[', "opening the peer list", why, why_size) != 0)
        return -1;
    if (!peek(c, ']')) {
        for (;;) {
            if (parse_one_peer(c, p, why, why_size) != 0)
                return -1;
            if (!peek(c, ','))
                break;
            c->at++;
        }
    }
    if (expect(c, ']', "closing the peer list", why, why_size) != 0)
        return -1;
    if (c->at != c->end)
        return cshm_format_error(why, why_size, "peers: %zu unexpected bytes after the peer list",
                    c->end - c->at);
    return 0;
}

int cshm_as_parse_peers(const cshm_slice *value, cshm_as_peers *p, char *why, size_t why_size)
{
    peers_reset(p);
    cursor c = {.data = value->data, .at = 0, .end = value->len};
    if (parse_peers_value(&c, p, why, why_size) != 0) {
        peers_reset(p);
        return -1;
    }
    return 0;
}

/* ---- replicas -------------------------------------------------------------- */

static int base64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (is_digit(c))
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int cshm_as_decode_bitmap(const char *text, size_t len, uint8_t out[CSHM_AS_BITMAP_BYTES])
{
    if (len != CSHM_AS_BITMAP_CHARS)
        return -1;
    /* 170 full groups of 4 chars -> 510 bytes. */
    size_t o = 0;
    for (size_t i = 0; i < 680; i += 4) {
        int a = base64_value(text[i]), b = base64_value(text[i + 1]);
        int c = base64_value(text[i + 2]), d = base64_value(text[i + 3]);
        if (a < 0 || b < 0 || c < 0 || d < 0)
            return -1;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    /* The last group carries 2 bytes: three symbols and one '='; the two
     * unused bits of the third symbol must be zero (canonical encoding). */
    int a = base64_value(text[680]), b = base64_value(text[681]), c = base64_value(text[682]);
    if (a < 0 || b < 0 || c < 0 || text[683] != '=' || (c & 3) != 0)
        return -1;
    out[o++] = (uint8_t)(a << 2 | b >> 4);
    out[o++] = (uint8_t)((b & 15) << 4 | c >> 2);
    return 0;
}

static int rfail(cshm_as_replicas *r, char *why, size_t why_size, const char *fmt, ...)
    CSHM_PRINTF(4, 5);

static int rfail(cshm_as_replicas *r, char *why, size_t why_size, const char *fmt, ...)
{
    r->count = 0;
    va_list ap;
    va_start(ap, fmt);
    cshm_vformat_error(why, why_size, fmt, ap);
    va_end(ap);
    return -1;
}

/* One "ns:regime,n-cols,bitmap..." entry ending at ';' or the value's end. */
static int parse_replicas_entry(cursor *c, cshm_as_replicas *r, char *why, size_t why_size)
{
    size_t entry_at = c->at;
    size_t name_len = span_until(c, ":;,");
    if (!peek(c, ':'))
        return rfail(r, why, why_size, "replicas: entry at offset %zu has no ':'", entry_at);
    if (name_len == 0 || name_len > CSHM_AS_NAMESPACE_MAX)
        return rfail(r, why, why_size,
                     "replicas: namespace name at offset %zu has %zu bytes; expected 1 to %d",
                     entry_at, name_len, CSHM_AS_NAMESPACE_MAX);
    for (size_t i = 0; i < name_len; i++) {
        unsigned char ch = (unsigned char)c->data[entry_at + i];
        if (ch <= 0x20 || ch >= 0x7f)
            return rfail(r, why, why_size,
                         "replicas: namespace name at offset %zu has a forbidden byte 0x%02x",
                         entry_at, (unsigned)ch);
    }
    if (r->count == CSHM_AS_REPLICAS_NS_MAX)
        return rfail(r, why, why_size, "replicas: more than %d namespaces",
                     CSHM_AS_REPLICAS_NS_MAX);
    cshm_as_replicas_ns *ns = &r->ns[r->count];
    memcpy(ns->name, c->data + entry_at, name_len);
    ns->name[name_len] = '\0';
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->ns[i].name, ns->name) == 0)
            return rfail(r, why, why_size, "replicas: namespace '%s' is listed twice", ns->name);
    c->at++; /* ':' */

    uint64_t number;
    size_t at = c->at;
    size_t len = span_until(c, ",;");
    if (parse_digits(c->data + at, len, UINT32_MAX, &number) != 0 || !peek(c, ','))
        return rfail(r, why, why_size, "replicas: namespace '%s': bad regime at offset %zu",
                     ns->name, at);
    ns->regime = (uint32_t)number;
    c->at++;
    at = c->at;
    len = span_until(c, ",;");
    if (parse_digits(c->data + at, len, UINT64_MAX, &number) != 0 || number < 1 || number > 255)
        return rfail(r, why, why_size,
                     "replicas: namespace '%s': replica count at offset %zu is not 1 to 255",
                     ns->name, at);
    ns->n_cols = (uint32_t)number;

    uint8_t ignored[CSHM_AS_BITMAP_BYTES];
    for (uint32_t col = 0; col < ns->n_cols; col++) {
        if (!peek(c, ','))
            return rfail(r, why, why_size, "replicas: namespace '%s': %u bitmaps for %u columns",
                         ns->name, (unsigned)col, (unsigned)ns->n_cols);
        c->at++;
        at = c->at;
        len = span_until(c, ",;");
        uint8_t *target = col < CSHM_AS_COLUMNS ? ns->bitmaps[col] : ignored;
        if (len != CSHM_AS_BITMAP_CHARS)
            return rfail(r, why, why_size,
                         "replicas: namespace '%s': bitmap %u has %zu chars; expected %d",
                         ns->name, (unsigned)col, len, CSHM_AS_BITMAP_CHARS);
        if (cshm_as_decode_bitmap(c->data + at, len, target) != 0)
            return rfail(r, why, why_size,
                         "replicas: namespace '%s': bitmap %u is not valid base64", ns->name,
                         (unsigned)col);
    }
    if (c->at < c->end && !peek(c, ';'))
        return rfail(r, why, why_size,
                     "replicas: namespace '%s': more bitmaps than its %u columns", ns->name,
                     (unsigned)ns->n_cols);
    r->count++;
    return 0;
}

int cshm_as_parse_replicas(const cshm_slice *value, cshm_as_replicas *r, char *why,
                           size_t why_size)
{
    r->count = 0;
    cursor c = {.data = value->data, .at = 0, .end = value->len};
    while (c.at < c.end) {
        if (parse_replicas_entry(&c, r, why, why_size) != 0)
            return -1;
        if (peek(&c, ';'))
            c.at++;  /* a trailing ';' is tolerated, like the C client does */
    }
    return 0;
}
