/*
 * fuzz_aerospike_parse.c - feeds info values to the parsers of
 * core/src/aerospike_parse.c.  The first byte picks the parser (its value
 * modulo 8), the rest is the value, in an exact-size copy with no NUL after
 * it, as the parsers get it from a response body:
 *   0 peers (cshm_as_parse_peers: `peers-clear-std`), parsed twice into the
 *     same result, as the driver reuses it from one tend to the next
 *   1 replicas (cshm_as_parse_replicas)
 *   2 partition-generation / peers-generation (cshm_as_parse_generation)
 *   3 build (cshm_as_parse_build, cshm_as_build_supported)
 *   4 service-clear-std (cshm_as_parse_service)
 *   5 a number (cshm_as_parse_u64)
 *   6 one endpoint (cshm_as_parse_endpoint)
 *   7 a node name (cshm_as_copy_node_name)
 *
 * Checks, besides the sanitizers: every parser returns success or -1 with a
 * message, and a refused value leaves no partial result (counts 0); what an
 * accepted value gives respects the bounds of aerospike_parse.h: counts
 * under their limits, every peer's endpoints inside the endpoint array,
 * names, hosts and namespaces non-empty, NUL-terminated and printable, ports
 * 1..65535, replica counts 1..255, distinct peer and namespace names, and a
 * generation or number that is the value's digits.
 */
#include <errno.h>
#include <string.h>

#include "aerospike_parse.h"
#include "fuzz.h"

static void check_text(const char *text, size_t size)
{
    const char *nul = memchr(text, '\0', size);
    FUZZ_CHECK(nul != NULL && nul != text);
    for (const char *p = text; p < nul; p++)
        FUZZ_CHECK((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f);
}

static void check_why(const char *why, size_t size)
{
    FUZZ_CHECK(memchr(why, '\0', size) != NULL && why[0] != '\0');
}

static void check_endpoint(const cshm_as_endpoint *e, int port_may_be_zero)
{
    check_text(e->host, sizeof e->host);
    FUZZ_CHECK(port_may_be_zero || e->port != 0);
}

static void peers(const cshm_slice *value)
{
    static cshm_as_peers p;   /* reused, as by the driver */
    char why[CSHM_INFO_WHY_MAX];
    for (int round = 0; round < 2; round++) {
        memset(why, 'x', sizeof why);
        int rc = cshm_as_parse_peers(value, &p, why, sizeof why);
        FUZZ_CHECK(rc == 0 || rc == -1);
        if (rc != 0) {
            check_why(why, sizeof why);
            FUZZ_CHECK(p.count == 0 && p.endpoint_count == 0);
            continue;
        }
        FUZZ_CHECK(p.count <= CSHM_AS_PEERS_MAX && p.count <= p.peer_capacity);
        FUZZ_CHECK(p.endpoint_count <= CSHM_AS_PEERS_MAX &&
                   p.endpoint_count <= p.endpoint_capacity);
        FUZZ_CHECK(p.default_port != 0);
        size_t next = 0;
        for (size_t i = 0; i < p.count; i++) {
            const cshm_as_peer *peer = &p.peers[i];
            check_text(peer->name, sizeof peer->name);
            FUZZ_CHECK(peer->first_endpoint == next);
            FUZZ_CHECK(peer->endpoint_count <= CSHM_AS_PEER_ENDPOINTS_MAX);
            next += peer->endpoint_count;
            FUZZ_CHECK(next <= p.endpoint_count);
            for (size_t k = 0; k < i; k++)
                FUZZ_CHECK(strcmp(p.peers[k].name, peer->name) != 0);
        }
        FUZZ_CHECK(next == p.endpoint_count);
        for (size_t i = 0; i < p.endpoint_count; i++)
            check_endpoint(&p.endpoints[i], 0);
    }
}

static void replicas(const cshm_slice *value)
{
    static cshm_as_replicas r;   /* about 100 KB */
    char why[CSHM_INFO_WHY_MAX];
    memset(why, 'x', sizeof why);
    int rc = cshm_as_parse_replicas(value, &r, why, sizeof why);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc != 0) {
        check_why(why, sizeof why);
        FUZZ_CHECK(r.count == 0);
        return;
    }
    FUZZ_CHECK(r.count <= CSHM_AS_REPLICAS_NS_MAX);
    for (size_t i = 0; i < r.count; i++) {
        const cshm_as_replicas_ns *ns = &r.ns[i];
        check_text(ns->name, sizeof ns->name);
        FUZZ_CHECK(ns->n_cols >= 1 && ns->n_cols <= 255);
        for (size_t k = 0; k < i; k++)
            FUZZ_CHECK(strcmp(r.ns[k].name, ns->name) != 0);
    }
}

/* The value of 1..20 decimal digits that fit in 64 bits, by libc's
 * strtoull: 0, else -1.  The oracle the number parsers are compared with. */
static int digits_value(const cshm_slice *value, uint64_t *out)
{
    char text[21];
    if (value->len == 0 || value->len > 20)
        return -1;
    for (size_t i = 0; i < value->len; i++)
        if (value->data[i] < '0' || value->data[i] > '9')
            return -1;
    memcpy(text, value->data, value->len);
    text[value->len] = '\0';
    errno = 0;
    unsigned long long v = strtoull(text, NULL, 10);
    if (errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

static void generation(const cshm_slice *value)
{
    uint32_t gen = 0;
    uint64_t expected;
    int rc = cshm_as_parse_generation(value, &gen);
    if (cshm_slice_equals(value, "-1"))
        FUZZ_CHECK(rc == 0 && gen == 0xFFFFFFFFu);
    else if (digits_value(value, &expected) == 0)
        FUZZ_CHECK(rc == 0 && gen == (uint32_t)expected);
    else
        FUZZ_CHECK(rc == -1);
}

static void number(const cshm_slice *value, uint64_t max)
{
    uint64_t got = 0, expected;
    int rc = cshm_as_parse_u64(value, max, &got);
    if (digits_value(value, &expected) == 0 && expected <= max)
        FUZZ_CHECK(rc == 0 && got == expected);
    else
        FUZZ_CHECK(rc == -1);
}

static void build(const cshm_slice *value)
{
    uint32_t version[4];
    if (cshm_as_parse_build(value, version) == 0) {
        for (int i = 0; i < 4; i++)
            FUZZ_CHECK(version[i] <= 999999999u);
        (void)cshm_as_build_supported(version);
    }
}

static void service(const cshm_slice *value)
{
    cshm_as_endpoint out[CSHM_AS_SERVICE_MAX];
    char why[CSHM_INFO_WHY_MAX];
    memset(why, 'x', sizeof why);
    int count = cshm_as_parse_service(value, out, CSHM_AS_SERVICE_MAX, why, sizeof why);
    FUZZ_CHECK(count >= -1 && count <= CSHM_AS_SERVICE_MAX);
    if (count < 0)
        check_why(why, sizeof why);
    for (int i = 0; i < count; i++)
        check_endpoint(&out[i], 0);
}

static void endpoint(const cshm_slice *value)
{
    cshm_as_endpoint e;
    char why[CSHM_INFO_WHY_MAX];
    memset(why, 'x', sizeof why);
    int rc = cshm_as_parse_endpoint(value->data, value->len, CSHM_AS_DEFAULT_PORT, &e, why,
                                    sizeof why);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == 0)
        check_endpoint(&e, 0);
    else
        check_why(why, sizeof why);
}

static void node_name(const cshm_slice *value)
{
    char name[CSHM_NODE_NAME_MAX];
    char why[CSHM_INFO_WHY_MAX];
    memset(why, 'x', sizeof why);
    int rc = cshm_as_copy_node_name(value->data, value->len, name, why, sizeof why);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        check_text(name, sizeof name);
        FUZZ_CHECK(strlen(name) == value->len && memcmp(name, value->data, value->len) == 0);
    } else {
        check_why(why, sizeof why);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *copy = fuzz_exact_copy(data + 1, size - 1);
    cshm_slice value = {copy, size - 1};
    switch (data[0] % 8) {
    case 0:
        peers(&value);
        break;
    case 1:
        replicas(&value);
        break;
    case 2:
        generation(&value);
        break;
    case 3:
        build(&value);
        break;
    case 4:
        service(&value);
        break;
    case 5:
        number(&value, data[0] & 8 ? UINT64_MAX : 65535);
        break;
    case 6:
        endpoint(&value);
        break;
    default:
        node_name(&value);
        break;
    }
    free(copy);
    return 0;
}
