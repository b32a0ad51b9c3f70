/*
 * aerospike_node.c - see aerospike_node.h.
 *
 * Validation parses positionally (the C client does not check the echoes of
 * that request); the refresh matches lines by echoed name and refuses a name
 * it did not ask for.  Values are checked for the server's error forms before
 * they are parsed, so "ERROR:..." is reported as the server's words instead
 * of as a parse failure.
 */
#include "aerospike_node.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "clock.h"
#include "log.h"
#include "net.h"

static int aborted(cshm_as_io *io)
{
    return io->ctx->progress != NULL && io->ctx->progress(io->ctx->progress_arg) != 0;
}

static double deadline_of(const cshm_as_io *io)
{
    return cshm_mono_now() + io->ctx->op_timeout;
}

/* Up to 80 bytes of a value for a message, with unprintable bytes as '?'. */
static void printable(const cshm_slice *v, char *out, size_t out_size)
{
    size_t n = v->len < 80 ? v->len : 80;
    if (n >= out_size)
        n = out_size - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v->data[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[n] = '\0';
}

/* Bounded string copy that always terminates (src may be unterminated
 * within cap bytes only in theory; this keeps the compiler's bounds too). */
static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t len = strnlen(src, cap - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

void cshm_as_node_close(cshm_as_node *n)
{
    cshm_net_close(&n->fd);
}

static int connect_node(cshm_as_io *io, cshm_as_node *n, char *why, size_t why_size)
{
    if (n->fd >= 0)
        return CSHM_AS_OK;
    if (aborted(io))
        return CSHM_AS_ABORTED;
    return cshm_net_connect(n->host, n->port, deadline_of(io), io->tend_interval, &n->fd, why,
                            why_size) == 0
               ? CSHM_AS_OK
               : CSHM_AS_FAILED;
}

int cshm_as_node_info(cshm_as_io *io, cshm_as_node *n, const char *body, char *why,
                      size_t why_size)
{
    int rc = connect_node(io, n, why, why_size);
    if (rc != CSHM_AS_OK)
        return rc;
    if (aborted(io))
        return CSHM_AS_ABORTED;
    if (cshm_info_call(&n->fd, body, CSHM_INFO_TEND_MAX, deadline_of(io), io->response, why,
                       why_size) != 0)
        return CSHM_AS_FAILED;
    return CSHM_AS_OK;
}

/* The numeric text of the connected peer's address, and whether it is a
 * loopback address.  0 or -1. */
static int peer_address(int fd, char *host, size_t host_size, int *loopback)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (getnameinfo((struct sockaddr *)&ss, len, host, (socklen_t)host_size, NULL, 0,
                    NI_NUMERICHOST) != 0)
        return -1;
    *loopback = 0;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)&ss;
        *loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)&ss;
        *loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}

int cshm_as_same_host(const char *a, const char *b)
{
    unsigned char x[16], y[16];
    if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
        return memcmp(x, y, 4) == 0;
    if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
        return memcmp(x, y, 16) == 0;
    return strcasecmp(a, b) == 0;
}

/* Checks the validation answer; fills out->name.  ask_service: the last
 * name asked was service-clear-std (a server before 7.1 may omit it).
 * 0 or -1 with why. */
static int check_validation(cshm_as_io *io, const char *endpoint, const char *expected_name,
                            int ask_service, cshm_as_node *out, char *why, size_t why_size)
{
    static const char *const names[] = {"node", "partition-generation", "build", "cluster-name"};
    const cshm_info_response *r = io->response;
    size_t checked = io->cluster_name[0] != '\0' ? 4 : 3;
    size_t asked = checked + (ask_service ? 1 : 0);
    char text[96];
    if (r->line_count != asked && !(ask_service && r->line_count == checked)) {
        snprintf(why, why_size, "%s: validation answer has %zu lines for %zu names", endpoint,
                 r->line_count, asked);
        return -1;
    }
    for (size_t i = 0; i < checked; i++) {
        if (cshm_info_value_is_failure(&r->lines[i].value)) {
            printable(&r->lines[i].value, text, sizeof text);
            snprintf(why, why_size, "%s: server answered '%s' to %s", endpoint, text, names[i]);
            return -1;
        }
    }
    char inner[CSHM_INFO_WHY_MAX];
    const cshm_slice *node = &r->lines[0].value;
    if (cshm_as_copy_node_name(node->data, node->len, out->name, inner, sizeof inner) != 0) {
        snprintf(why, why_size, "%s: %s", endpoint, inner);
        return -1;
    }
    if (expected_name != NULL && strcmp(out->name, expected_name) != 0) {
        snprintf(why, why_size, "%s: answers as node %s, but its peers list it as %s", endpoint,
                 out->name, expected_name);
        return -1;
    }
    uint32_t gen;
    if (cshm_as_parse_generation(&r->lines[1].value, &gen) != 0) {
        printable(&r->lines[1].value, text, sizeof text);
        snprintf(why, why_size, "%s: bad partition-generation '%s'", endpoint, text);
        return -1;
    }
    if (gen == CSHM_AS_GEN_UNKNOWN) {
        snprintf(why, why_size, "%s: node %s is not fully initialized yet (partition-generation -1)",
                 endpoint, out->name);
        return -1;
    }
    uint32_t version[4];
    if (cshm_as_parse_build(&r->lines[2].value, version) != 0) {
        printable(&r->lines[2].value, text, sizeof text);
        snprintf(why, why_size, "%s: bad build '%s'", endpoint, text);
        return -1;
    }
    if (!cshm_as_build_supported(version)) {
        snprintf(why, why_size, "%s: server version %u.%u.%u.%u is older than 4.9.0.3", endpoint,
                 (unsigned)version[0], (unsigned)version[1], (unsigned)version[2],
                 (unsigned)version[3]);
        return -1;
    }
    if (checked == 4 && !cshm_slice_equals(&r->lines[3].value, io->cluster_name)) {
        printable(&r->lines[3].value, text, sizeof text);
        snprintf(why, why_size,
                 "cluster name mismatch: node %s at %s is in cluster '%s', but cluster_name is "
                 "'%s'",
                 out->name, endpoint, text, io->cluster_name);
        return -1;
    }
    return 0;
}

/* Load-balancer detection (spec 2.2): a seed reached at an address that the
 * node's own service list does not contain is a load balancer (or NAT); the
 * node is then used at the first listed address that answers with the same
 * node name, so routes never point at the balancer.  Nothing usable listed:
 * the seed address is kept. */
static int detect_load_balancer(cshm_as_io *io, cshm_as_node *out, const cshm_slice *service)
{
    cshm_as_endpoint listed[CSHM_AS_SERVICE_MAX];
    char why[CSHM_AS_WHY_MAX];
    int count = cshm_as_parse_service(service, listed, CSHM_AS_SERVICE_MAX, why, sizeof why);
    if (count <= 0)
        return CSHM_AS_OK;
    for (int i = 0; i < count; i++)
        if (cshm_as_same_host(listed[i].host, out->host))
            return CSHM_AS_OK;
    char seed[CSHM_HOST_MAX + 8];
    cshm_net_format_endpoint(seed, sizeof seed, out->host, out->port);
    for (int i = 0; i < count; i++) {
        cshm_as_node direct;
        memset(&direct, 0, sizeof direct);
        direct.fd = -1;
        copy_text(direct.host, sizeof direct.host, listed[i].host);
        direct.port = listed[i].port;
        int rc = cshm_as_node_info(io, &direct, "node\n", why, sizeof why);
        if (rc == CSHM_AS_ABORTED)
            return rc;
        const cshm_slice *name = rc == CSHM_AS_OK
                                     ? cshm_info_find(io->response->lines, io->response->line_count,
                                                      "node")
                                     : NULL;
        int loopback = 0;
        if (name != NULL && cshm_slice_equals(name, out->name) &&
            peer_address(direct.fd, direct.host, sizeof direct.host, &loopback) == 0) {
            cshm_log(CSHM_LOG_INFO,
                     "aerospike: seed %s is a load balancer or NAT: node %s lists itself at "
                     "%s:%u; using that address",
                     seed, out->name, direct.host, (unsigned)direct.port);
            cshm_as_node_close(out);
            out->fd = direct.fd;
            copy_text(out->host, sizeof out->host, direct.host);
            out->port = direct.port;
            out->loopback = loopback;
            return CSHM_AS_OK;
        }
        cshm_as_node_close(&direct);
    }
    return CSHM_AS_OK;
}

int cshm_as_validate(cshm_as_io *io, const char *host, uint16_t port, const char *expected_name,
                     int is_seed, cshm_as_node *out, char *why, size_t why_size)
{
    char endpoint[CSHM_HOST_MAX + 8];
    cshm_net_format_endpoint(endpoint, sizeof endpoint, host, port);
    memset(out, 0, sizeof *out);
    out->fd = -1;
    out->port = port;
    out->peers_gen = CSHM_AS_GEN_UNKNOWN;
    out->partition_gen = CSHM_AS_GEN_UNKNOWN;
    out->partition_changed = 1;
    out->active = 1;
    copy_text(out->host, sizeof out->host, host);

    char inner[CSHM_AS_WHY_MAX];
    inner[0] = '\0';
    int rc = connect_node(io, out, inner, sizeof inner);
    if (rc == CSHM_AS_OK && peer_address(out->fd, out->host, sizeof out->host, &out->loopback) != 0) {
        snprintf(inner, sizeof inner, "cannot read the connected address");
        rc = CSHM_AS_FAILED;
    }
    /* Only seeds reached at a non-loopback address can be a balancer. */
    int ask_service = is_seed && !out->loopback;
    if (rc == CSHM_AS_OK) {
        char body[128];
        snprintf(body, sizeof body, "node\npartition-generation\nbuild\n%s%s",
                 io->cluster_name[0] != '\0' ? "cluster-name\n" : "",
                 ask_service ? "service-clear-std\n" : "");
        rc = cshm_as_node_info(io, out, body, inner, sizeof inner);
    }
    if (rc == CSHM_AS_OK) {
        if (check_validation(io, endpoint, expected_name, ask_service, out, why, why_size) == 0) {
            const cshm_info_response *r = io->response;
            const cshm_slice *service =
                ask_service ? cshm_info_find(r->lines, r->line_count, "service-clear-std") : NULL;
            /* An error there (an old or odd server) only skips the check. */
            if (service == NULL || cshm_info_value_is_failure(service))
                return CSHM_AS_OK;
            rc = detect_load_balancer(io, out, service);
            if (rc == CSHM_AS_OK)
                return rc;
        } else {
            rc = CSHM_AS_FAILED;
        }
    } else if (rc == CSHM_AS_FAILED) {
        snprintf(why, why_size, "%s: %s", endpoint, inner);
    }
    cshm_as_node_close(out);
    return rc;
}

/* One of the refresh's names, by index. */
enum { REFRESH_NODE, REFRESH_PEERS_GEN, REFRESH_PARTITION_GEN, REFRESH_CLUSTER_NAME };

int cshm_as_node_refresh(cshm_as_io *io, cshm_as_node *n, uint32_t *peers_gen,
                         uint32_t *partition_gen, char *why, size_t why_size)
{
    static const char *const names[] = {"node", "peers-generation", "partition-generation",
                                        "cluster-name"};
    /* The cluster name is asked too when one is configured, so a node that
     * moved to another cluster is noticed without an extra request. */
    int with_cluster = io->cluster_name[0] != '\0';
    size_t asked = with_cluster ? 4 : 3;
    const char *body = with_cluster ? "node\npeers-generation\npartition-generation\ncluster-name\n"
                                    : "node\npeers-generation\npartition-generation\n";
    int rc = cshm_as_node_info(io, n, body, why, why_size);
    if (rc != CSHM_AS_OK)
        return rc;

    const cshm_info_response *r = io->response;
    const cshm_slice *values[4] = {NULL, NULL, NULL, NULL};
    char text[96];
    for (size_t i = 0; i < r->line_count; i++) {
        size_t k = 0;
        while (k < asked && !cshm_slice_equals(&r->lines[i].name, names[k]))
            k++;
        if (k == asked || values[k] != NULL) {
            printable(&r->lines[i].name, text, sizeof text);
            snprintf(why, why_size, "unexpected line '%s' in the refresh answer", text);
            cshm_as_node_close(n);
            return CSHM_AS_FAILED;
        }
        values[k] = &r->lines[i].value;
    }
    for (size_t k = 0; k < asked; k++) {
        if (values[k] == NULL) {
            snprintf(why, why_size, "the refresh answer lacks %s", names[k]);
            cshm_as_node_close(n);
            return CSHM_AS_FAILED;
        }
        if (cshm_info_value_is_error(values[k])) {
            printable(values[k], text, sizeof text);
            snprintf(why, why_size, "server answered '%s' to %s", text, names[k]);
            return CSHM_AS_FAILED;
        }
    }
    char answered_name[CSHM_NODE_NAME_MAX];
    char inner[CSHM_INFO_WHY_MAX];
    if (cshm_as_copy_node_name(values[REFRESH_NODE]->data, values[REFRESH_NODE]->len,
                               answered_name, inner, sizeof inner) != 0) {
        /* Not a node name at all: a broken answer, not a renamed node. */
        snprintf(why, why_size, "bad node value in the refresh answer: %s", inner);
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    if (strcmp(answered_name, n->name) != 0) {
        printable(values[REFRESH_NODE], text, sizeof text);
        snprintf(why, why_size, "node name changed from %s to '%s'", n->name, text);
        n->active = 0;
        return CSHM_AS_FAILED;
    }
    if (with_cluster && !cshm_slice_equals(values[REFRESH_CLUSTER_NAME], io->cluster_name)) {
        printable(values[REFRESH_CLUSTER_NAME], text, sizeof text);
        snprintf(why, why_size, "node moved to cluster '%s' (cluster_name is '%s')", text,
                 io->cluster_name);
        n->active = 0;
        return CSHM_AS_FAILED;
    }
    if (cshm_as_parse_generation(values[REFRESH_PEERS_GEN], peers_gen) != 0 ||
        cshm_as_parse_generation(values[REFRESH_PARTITION_GEN], partition_gen) != 0) {
        snprintf(why, why_size, "bad generation in the refresh answer");
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    return CSHM_AS_OK;
}

int cshm_as_node_fetch_peers(cshm_as_io *io, cshm_as_node *n, cshm_as_peers *peers, char *why,
                             size_t why_size)
{
    int rc = cshm_as_node_info(io, n, "peers-clear-std\n", why, why_size);
    if (rc != CSHM_AS_OK)
        return rc;
    const cshm_info_response *r = io->response;
    const cshm_slice *value = cshm_info_find(r->lines, r->line_count, "peers-clear-std");
    char text[96];
    if (value == NULL || r->line_count != 1) {
        snprintf(why, why_size, "the peers answer does not echo peers-clear-std");
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    if (cshm_info_value_is_error(value)) {
        printable(value, text, sizeof text);
        snprintf(why, why_size, "server answered '%s' to peers-clear-std", text);
        return CSHM_AS_FAILED;
    }
    if (cshm_as_parse_peers(value, peers, why, why_size) != 0) {
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    return CSHM_AS_OK;
}

int cshm_as_node_fetch_partitions(cshm_as_io *io, cshm_as_node *n, uint32_t *gen,
                                  cshm_as_replicas *replicas, char *why, size_t why_size)
{
    int rc = cshm_as_node_info(io, n, "partition-generation\nreplicas\n", why, why_size);
    if (rc != CSHM_AS_OK)
        return rc;
    const cshm_info_response *r = io->response;
    const cshm_slice *gen_value = cshm_info_find(r->lines, r->line_count, "partition-generation");
    const cshm_slice *value = cshm_info_find(r->lines, r->line_count, "replicas");
    char text[96];
    if (gen_value == NULL || value == NULL || r->line_count != 2) {
        snprintf(why, why_size, "the partitions answer does not echo partition-generation and "
                                "replicas");
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    const cshm_slice *checked[2] = {gen_value, value};
    for (int i = 0; i < 2; i++) {
        if (cshm_info_value_is_error(checked[i])) {
            printable(checked[i], text, sizeof text);
            snprintf(why, why_size, "server answered '%s' to %s", text,
                     i == 0 ? "partition-generation" : "replicas");
            return CSHM_AS_FAILED;
        }
    }
    if (cshm_as_parse_generation(gen_value, gen) != 0) {
        printable(gen_value, text, sizeof text);
        snprintf(why, why_size, "bad partition-generation '%s'", text);
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    if (cshm_as_parse_replicas(value, replicas, why, why_size) != 0) {
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    return CSHM_AS_OK;
}
