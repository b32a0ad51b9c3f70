/*
 * test_aerospike_driver.c - the Aerospike driver's tend cycle against small
 * fake nodes served by a thread of this process, so that the whole driver
 * (sockets, framing, seeding, peers, replicas, map) runs under the C suite
 * and its sanitizers.  The Python simulator (tests/aerospike_sim) covers the
 * same behaviour end to end in tests/integration/test_aerospike.py.
 *
 * The fake cluster is the one of spec section 7.2: node A masters the even
 * partitions of namespace "test" and is replica of the odd ones, node B the
 * reverse; each lists the other in peers-clear-std.
 *
 * Invariant: every fake node answers from state guarded by one mutex, and
 * the server thread owns every socket it accepted until fake_stop().
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aerospike_parse.h"
#include "config.h"
#include "driver.h"
#include "log.h"
#include "map.h"
#include "test.h"

enum { FAULT_NONE, FAULT_GARBAGE, FAULT_TRUNCATED, FAULT_SILENT_CLOSE };

#define FAKE_NODES 2
#define FAKE_CONNS 32

typedef struct fake_node {
    char name[32];
    int port;
    int listen_fd;
    unsigned partition_gen, peers_gen;
    char peers[256];
    char *replicas;               /* owned */
    char cluster_name[32];
    char service[128];            /* service-clear-std answer */
    int fault;
    int requests;
    int replicas_requests;
} fake_node;

typedef struct fake_conn {
    int fd;
    int node;
} fake_conn;

typedef struct fake_cluster {
    fake_node nodes[FAKE_NODES];
    fake_conn conns[FAKE_CONNS];
    pthread_mutex_t lock;
    pthread_t thread;
    int stop_pipe[2];
} fake_cluster;

/* ---- the fake server ------------------------------------------------------ */

/* Listens on every IPv4 address (the load-balancer test reaches the node at
 * a non-loopback address too), on a port the kernel picks. */
static int listen_any_port(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* The value of one request line (caller holds the lock). */
static void answer_value(const fake_node *n, const char *name, char *out, size_t out_size,
                         const char **long_value)
{
    *long_value = NULL;
    if (strcmp(name, "node") == 0)
        snprintf(out, out_size, "%s", n->name);
    else if (strcmp(name, "partition-generation") == 0)
        snprintf(out, out_size, "%u", n->partition_gen);
    else if (strcmp(name, "peers-generation") == 0)
        snprintf(out, out_size, "%u", n->peers_gen);
    else if (strcmp(name, "build") == 0)
        snprintf(out, out_size, "8.1.2.0");
    else if (strcmp(name, "cluster-name") == 0)
        snprintf(out, out_size, "%s", n->cluster_name[0] ? n->cluster_name : "null");
    else if (strcmp(name, "peers-clear-std") == 0)
        snprintf(out, out_size, "%s", n->peers);
    else if (strcmp(name, "service-clear-std") == 0)
        snprintf(out, out_size, "%s", n->service);
    else if (strcmp(name, "replicas") == 0)
        *long_value = n->replicas;
    else
        snprintf(out, out_size, "ERROR:4:unrecognized command");
}

static int read_exact(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = recv(fd, (char *)buf + got, len - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* Serves one request on conn; returns -1 to close it. */
static int serve_request(fake_cluster *fc, fake_conn *conn)
{
    unsigned char header[8];
    if (read_exact(conn->fd, header, 8) != 0)
        return -1;
    size_t size = 0;
    for (int i = 2; i < 8; i++)
        size = size << 8 | header[i];
    if (header[0] != 2 || header[1] != 1 || size == 0 || size > 4096)
        return -1;
    char request[4097];
    if (read_exact(conn->fd, request, size) != 0)
        return -1;
    request[size] = '\0';

    pthread_mutex_lock(&fc->lock);
    fake_node *n = &fc->nodes[conn->node];
    n->requests++;
    int fault = n->fault;
    size_t cap = 8192 + (n->replicas ? strlen(n->replicas) : 0);
    char *body = malloc(cap);
    size_t used = 0;
    for (char *line = request, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        char value[512];
        const char *long_value;
        answer_value(n, line, value, sizeof value, &long_value);
        if (strcmp(line, "replicas") == 0)
            n->replicas_requests++;
        used += (size_t)snprintf(body + used, cap - used, "%s\t%s\n", line,
                                 long_value ? long_value : value);
    }
    pthread_mutex_unlock(&fc->lock);

    int rc = 0;
    unsigned char out_header[8] = {2, 1, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 6; i++)
        out_header[7 - i] = (unsigned char)(used >> (8 * i));
    if (fault == FAULT_GARBAGE) {
        static const unsigned char garbage[16] = {0xFF, 0x0B, 0x30, 0x55, 0x7A, 0x9F};
        rc = send(conn->fd, garbage, sizeof garbage, MSG_NOSIGNAL) < 0 ? -1 : 0;
    } else if (fault == FAULT_TRUNCATED) {
        (void)!send(conn->fd, out_header, 8, MSG_NOSIGNAL);
        (void)!send(conn->fd, body, used / 2, MSG_NOSIGNAL);
        rc = -1;
    } else if (fault == FAULT_SILENT_CLOSE) {
        rc = -1;
    } else if (send(conn->fd, out_header, 8, MSG_NOSIGNAL) != 8 ||
               send(conn->fd, body, used, MSG_NOSIGNAL) != (ssize_t)used) {
        rc = -1;
    }
    free(body);
    return rc;
}

static void *server_main(void *arg)
{
    fake_cluster *fc = arg;
    for (;;) {
        struct pollfd pfds[1 + FAKE_NODES + FAKE_CONNS];
        int map[1 + FAKE_NODES + FAKE_CONNS];
        nfds_t count = 0;
        pfds[count] = (struct pollfd){.fd = fc->stop_pipe[0], .events = POLLIN};
        map[count++] = -1;
        for (int i = 0; i < FAKE_NODES; i++) {
            pfds[count] = (struct pollfd){.fd = fc->nodes[i].listen_fd, .events = POLLIN};
            map[count++] = 1000 + i;
        }
        for (int i = 0; i < FAKE_CONNS; i++) {
            if (fc->conns[i].fd >= 0) {
                pfds[count] = (struct pollfd){.fd = fc->conns[i].fd, .events = POLLIN};
                map[count++] = i;
            }
        }
        if (poll(pfds, count, 1000) < 0)
            continue;
        if (pfds[0].revents)
            return NULL;
        for (nfds_t k = 1; k < count; k++) {
            if (!pfds[k].revents)
                continue;
            if (map[k] >= 1000) {
                int fd = accept(pfds[k].fd, NULL, NULL);
                int slot = -1;
                for (int i = 0; i < FAKE_CONNS && slot < 0; i++)
                    if (fc->conns[i].fd < 0)
                        slot = i;
                if (fd >= 0 && slot >= 0) {
                    fc->conns[slot].fd = fd;
                    fc->conns[slot].node = map[k] - 1000;
                } else if (fd >= 0) {
                    close(fd);
                }
            } else if (serve_request(fc, &fc->conns[map[k]]) != 0) {
                close(fc->conns[map[k]].fd);
                fc->conns[map[k]].fd = -1;
            }
        }
    }
}

static char *bitmap_text(char symbol, const char *tail)
{
    char *t = malloc(CSHM_AS_BITMAP_CHARS + 1);
    memset(t, symbol, 680);
    memcpy(t + 680, tail, 5);
    return t;
}

static char *replicas_text(const char *first, const char *second)
{
    size_t cap = 2 * CSHM_AS_BITMAP_CHARS + 32;
    char *v = malloc(cap);
    snprintf(v, cap, "test:0,2,%s,%s", first, second);
    return v;
}

static int fake_start(fake_cluster *fc)
{
    memset(fc, 0, sizeof *fc);
    pthread_mutex_init(&fc->lock, NULL);
    for (int i = 0; i < FAKE_CONNS; i++)
        fc->conns[i].fd = -1;
    if (pipe(fc->stop_pipe) != 0)
        return -1;
    char *aa = bitmap_text('q', "qqo="), *v55 = bitmap_text('V', "VVU=");
    for (int i = 0; i < FAKE_NODES; i++) {
        fake_node *n = &fc->nodes[i];
        snprintf(n->name, sizeof n->name, i == 0 ? "BB9020011AC4202" : "BB9030011AC4202");
        n->listen_fd = listen_any_port(&n->port);
        if (n->listen_fd < 0)
            return -1;
        n->partition_gen = 3;
        n->peers_gen = 5;
        snprintf(n->service, sizeof n->service, "127.0.0.1:%d", n->port);
        n->replicas = i == 0 ? replicas_text(aa, v55) : replicas_text(v55, aa);
    }
    for (int i = 0; i < FAKE_NODES; i++) {
        /* Copied out first: the compiler cannot tell the two nodes apart and
         * would warn that source and destination overlap. */
        char other_name[32];
        const fake_node *other = &fc->nodes[i == 0 ? 1 : 0];
        snprintf(other_name, sizeof other_name, "%s", other->name);
        snprintf(fc->nodes[i].peers, sizeof fc->nodes[i].peers, "5,3000,[[%s,,[127.0.0.1:%d]]]",
                 other_name, other->port);
    }
    free(aa);
    free(v55);
    return pthread_create(&fc->thread, NULL, server_main, fc) == 0 ? 0 : -1;
}

static void fake_stop(fake_cluster *fc)
{
    (void)!write(fc->stop_pipe[1], "x", 1);
    pthread_join(fc->thread, NULL);
    for (int i = 0; i < FAKE_CONNS; i++)
        if (fc->conns[i].fd >= 0)
            close(fc->conns[i].fd);
    for (int i = 0; i < FAKE_NODES; i++) {
        if (fc->nodes[i].listen_fd >= 0)
            close(fc->nodes[i].listen_fd);
        free(fc->nodes[i].replicas);
    }
    close(fc->stop_pipe[0]);
    close(fc->stop_pipe[1]);
    pthread_mutex_destroy(&fc->lock);
}

/* Closes a node's listener and its open connections: it is down. */
static void fake_kill(fake_cluster *fc, int node)
{
    pthread_mutex_lock(&fc->lock);
    fc->nodes[node].fault = FAULT_SILENT_CLOSE;
    pthread_mutex_unlock(&fc->lock);
}

static void fake_set(fake_cluster *fc, int node, int fault)
{
    pthread_mutex_lock(&fc->lock);
    fc->nodes[node].fault = fault;
    pthread_mutex_unlock(&fc->lock);
}

static int fake_requests(fake_cluster *fc, int node)
{
    pthread_mutex_lock(&fc->lock);
    int r = fc->nodes[node].requests;
    pthread_mutex_unlock(&fc->lock);
    return r;
}

/* ---- the driver under test ---------------------------------------------------- */

/* Warnings the driver logged (kept off stderr while these tests run). */
static int warnings_logged;

static void count_warnings(int level, const char *message, void *user)
{
    (void)message;
    (void)user;
    if (level >= CSHM_LOG_WARNING)
        warnings_logged++;
}

typedef struct harness {
    cshm_config config;
    const cshm_driver_ops *ops;
    cshm_map map;
    void *state;
} harness;

static int no_abort(void *arg)
{
    (void)arg;
    return 0;
}

static int always_abort(void *arg)
{
    (void)arg;
    return 1;
}

static int harness_init_at(harness *h, const char *seed_host, int seed_port,
                           const char *cluster_name)
{
    memset(h, 0, sizeof *h);
    cshm_options o;
    cshm_options_init(&o);
    o.shared = 0;
    if (cluster_name != NULL)
        snprintf(o.cluster_name, sizeof o.cluster_name, "%s", cluster_name);
    char url[128];
    snprintf(url, sizeof url, "aerospike://%s:%d", seed_host, seed_port);
    cshm_error err = {0};
    if (cshm_config_parse(url, &o, &h->config, &err) != 0)
        return -1;
    h->ops = cshm_driver_aerospike_ops();
    if (h->ops == NULL)
        return -1;
    cshm_map_shape shape;
    h->ops->shape(&h->config, &shape);
    if (cshm_map_init(&h->map, &shape) != 0)
        return -1;
    return h->ops->create(&h->config, &h->state, &err);
}

static int harness_init(harness *h, int seed_port, const char *cluster_name)
{
    return harness_init_at(h, "127.0.0.1", seed_port, cluster_name);
}

static int harness_tend(harness *h, cshm_tend_ctx *ctx, int (*progress)(void *))
{
    memset(ctx, 0, sizeof *ctx);
    ctx->op_timeout = 0.5;
    ctx->progress = progress;
    return h->ops->tend(h->state, &h->map, ctx);
}

static void harness_free(harness *h)
{
    if (h->state != NULL)
        h->ops->destroy(h->state);
    cshm_map_free(&h->map);
}

static int open_descriptors(void)
{
    int count = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    while (readdir(d) != NULL)
        count++;
    closedir(d);
    return count;
}

static int owner_name_is(const cshm_map *m, uint32_t p, uint32_t col, const char *name)
{
    uint16_t idx = cshm_map_owner(m, 0, p, col);
    return idx < m->counts->node_count && strcmp(m->nodes[idx].name, name) == 0;
}

/* The 7.2 decode table, through the whole driver. */
static int map_matches_spec(const cshm_map *m)
{
    static const struct { uint32_t pid; int a_master; } rows[] = {
        {0, 1}, {1, 0}, {7, 0}, {10, 1}, {492, 1}, {1207, 0}, {4094, 1}, {4095, 0},
    };
    const char *a = "BB9020011AC4202", *b = "BB9030011AC4202";
    int ok = 1;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        ok &= owner_name_is(m, rows[i].pid, 0, rows[i].a_master ? a : b);
        ok &= owner_name_is(m, rows[i].pid, 1, rows[i].a_master ? b : a);
        ok &= cshm_map_owner(m, 0, rows[i].pid, 2) == CSHM_NO_NODE;
    }
    return ok;
}

static void test_driver_tends_the_spec_cluster(void)
{
    fake_cluster fc;
    CHECK(fake_start(&fc) == 0);
    harness h;
    CHECK(harness_init(&h, fc.nodes[0].port, NULL) == 0);
    cshm_tend_ctx ctx;
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
    CHECK(h.map.counts->node_count == 2 && h.map.counts->ns_count == 1);
    CHECK(strcmp(h.map.namespaces[0].name, "test") == 0);
    CHECK(h.map.namespaces[0].columns_used == 2 && h.map.namespaces[0].sc_mode == 0);
    CHECK(map_matches_spec(&h.map));
    CHECK(h.map.nodes[0].active && h.map.nodes[1].active);
    CHECK(strcmp(h.map.nodes[0].host, "127.0.0.1") == 0);
    CHECK(h.map.regimes != NULL && h.map.regimes[4095] == 0);
    /* Seeding costs each node what it costs a rack-aware C client:
     * validation, peers, replicas, racks. */
    CHECK(fake_requests(&fc, 0) == 4 && fake_requests(&fc, 1) == 4);

    /* Steady state: one request per node per tend. */
    int a0 = fake_requests(&fc, 0), b0 = fake_requests(&fc, 1);
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
    CHECK(fake_requests(&fc, 0) == a0 + 1 && fake_requests(&fc, 1) == b0 + 1);
    CHECK(map_matches_spec(&h.map));

    /* release() (the process is no longer tender) closes the connection to
     * each node; the next tend reconnects, asks as in steady state and finds
     * the same map. */
    int with_connections = open_descriptors();
    h.ops->release(h.state);
    CHECK(open_descriptors() <= with_connections - 2);
    a0 = fake_requests(&fc, 0), b0 = fake_requests(&fc, 1);
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
    CHECK(fake_requests(&fc, 0) == a0 + 1 && fake_requests(&fc, 1) == b0 + 1);
    CHECK(map_matches_spec(&h.map));

    /* A migration: B takes partition 0 (bumping its generation). */
    pthread_mutex_lock(&fc.lock);
    /* B's first master symbol 'V' (010101: partitions 1, 3, 5) becomes '1'
     * (110101: partition 0 too). */
    fc.nodes[1].replicas[9] = '1';
    fc.nodes[1].partition_gen = 4;
    pthread_mutex_unlock(&fc.lock);
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
    CHECK(owner_name_is(&h.map, 0, 0, "BB9030011AC4202"));
    CHECK(owner_name_is(&h.map, 2, 0, "BB9020011AC4202"));

    /* An abort request stops the tend and leaves no half state. */
    CHECK(harness_tend(&h, &ctx, always_abort) == CSHM_TEND_ABORTED);
    harness_free(&h);
    fake_stop(&fc);
}

static void test_driver_keeps_the_map_through_faults(void)
{
    fake_cluster fc;
    CHECK(fake_start(&fc) == 0);
    harness h;
    CHECK(harness_init(&h, fc.nodes[0].port, NULL) == 0);
    cshm_tend_ctx ctx;
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);

    static const int faults[] = {FAULT_GARBAGE, FAULT_TRUNCATED, FAULT_SILENT_CLOSE};
    static const char *expected[] = {"not an info response", "closed", "closed"};
    for (size_t f = 0; f < 3; f++) {
        fake_set(&fc, 1, faults[f]);
        cshm_log_flush(10); /* earlier lines are counted before the reset */
        warnings_logged = 0;
        CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
        CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
        cshm_log_flush(10); /* handlers run on the log delivery thread */
        CHECK(warnings_logged == 1); /* once per episode, not once per tend */
        CHECK(strstr(ctx.error, expected[f]) != NULL && strstr(ctx.error, "BB9030011AC4202"));
        int b = cshm_map_find_node(&h.map, "BB9030011AC4202");
        CHECK(b >= 0 && !h.map.nodes[b].active);
        CHECK(map_matches_spec(&h.map));
        fake_set(&fc, 1, FAULT_NONE);
        CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
        b = cshm_map_find_node(&h.map, "BB9030011AC4202");
        CHECK(b >= 0 && h.map.nodes[b].active && map_matches_spec(&h.map));
    }

    /* A replicas value cut in the middle of a bitmap: nothing of it is
     * applied, and the node asks again next tend. */
    pthread_mutex_lock(&fc.lock);
    char *broken = fc.nodes[1].replicas;
    broken[9 + 300] = '\0';
    broken[9] = '/';   /* would claim partitions 0..5 if applied */
    fc.nodes[1].partition_gen = 9;
    pthread_mutex_unlock(&fc.lock);
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
    CHECK(strstr(ctx.error, "300 chars") != NULL);
    CHECK(map_matches_spec(&h.map));

    /* Every node down: unreachable, and the map is left exactly as it was. */
    cshm_map before;
    CHECK(cshm_map_init(&before, &h.map.shape) == 0);
    cshm_map_copy(&before, &h.map);
    fake_kill(&fc, 0);
    fake_kill(&fc, 1);
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_UNREACHABLE);
    CHECK(strstr(ctx.error, "no node answered") != NULL);
    CHECK(memcmp(before.payload, h.map.payload, h.map.payload_size) == 0);
    /* After 5 such tends the nodes are dropped and the driver reseeds. */
    for (int i = 0; i < 6; i++)
        CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_UNREACHABLE);
    CHECK(strstr(ctx.error, "no seed could be used") != NULL);
    fake_set(&fc, 0, FAULT_NONE);
    fake_set(&fc, 1, FAULT_NONE);
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
    CHECK(h.map.counts->node_count == 2);
    cshm_map_free(&before);
    harness_free(&h);
    fake_stop(&fc);
}

static void test_driver_cluster_name(void)
{
    fake_cluster fc;
    CHECK(fake_start(&fc) == 0);
    for (int i = 0; i < FAKE_NODES; i++)
        snprintf(fc.nodes[i].cluster_name, sizeof fc.nodes[i].cluster_name, "alpha");
    harness h;
    CHECK(harness_init(&h, fc.nodes[0].port, "beta") == 0);
    cshm_tend_ctx ctx;
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_UNREACHABLE);
    CHECK(strstr(ctx.error, "mismatch") && strstr(ctx.error, "'alpha'") &&
          strstr(ctx.error, "'beta'"));
    CHECK(h.map.counts->node_count == 0);
    harness_free(&h);

    CHECK(harness_init(&h, fc.nodes[0].port, "alpha") == 0);
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
    CHECK(h.map.counts->node_count == 2);
    /* B moves to another cluster: it is dropped at the next tend. */
    pthread_mutex_lock(&fc.lock);
    snprintf(fc.nodes[1].cluster_name, sizeof fc.nodes[1].cluster_name, "gamma");
    pthread_mutex_unlock(&fc.lock);
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
    CHECK(h.map.counts->node_count == 1 && cshm_map_find_node(&h.map, "BB9030011AC4202") < 0);
    CHECK(strstr(ctx.error, "gamma") != NULL);
    harness_free(&h);
    fake_stop(&fc);
}

/* Spec 2.8 and 4.3: partition entries are not cleared when a node is
 * removed; a partition nobody claims keeps its last owner.  After an outage
 * in which every node was dropped, only A comes back: B's partitions still
 * name B (inactive) instead of nobody, so route() keeps answering from the
 * last good map until a live node claims them. */
static void test_driver_keeps_the_last_owner_of_a_node_still_down(void)
{
    fake_cluster fc;
    CHECK(fake_start(&fc) == 0);
    harness h;
    CHECK(harness_init(&h, fc.nodes[0].port, NULL) == 0);
    cshm_tend_ctx ctx;
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
    fake_kill(&fc, 0);
    fake_kill(&fc, 1);
    for (int i = 0; i < 7; i++)
        CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_UNREACHABLE);
    CHECK(strstr(ctx.error, "no seed could be used") != NULL);
    CHECK(map_matches_spec(&h.map)); /* the stale map, as it was */

    fake_set(&fc, 0, FAULT_NONE);   /* A is back, B is still down */
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
    CHECK(strstr(ctx.error, "BB9030011AC4202") != NULL);
    CHECK(h.map.counts->node_count == 2);
    int a = cshm_map_find_node(&h.map, "BB9020011AC4202");
    int b = cshm_map_find_node(&h.map, "BB9030011AC4202");
    CHECK(a >= 0 && h.map.nodes[a].active && b >= 0 && !h.map.nodes[b].active);
    CHECK(map_matches_spec(&h.map));
    /* Still so at the next tend, which starts from this map. */
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
    CHECK(map_matches_spec(&h.map));

    /* A claims B's partitions (a rebalance): B no longer owns anything and
     * leaves the map. */
    pthread_mutex_lock(&fc.lock);
    char *all = bitmap_text('/', "//8=");
    free(fc.nodes[0].replicas);
    fc.nodes[0].replicas = replicas_text(all, all);
    fc.nodes[0].partition_gen = 10;
    pthread_mutex_unlock(&fc.lock);
    free(all);
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
    CHECK(h.map.counts->node_count == 1 && cshm_map_find_node(&h.map, "BB9030011AC4202") < 0);
    CHECK(owner_name_is(&h.map, 1, 0, "BB9020011AC4202"));
    CHECK(owner_name_is(&h.map, 4095, 0, "BB9020011AC4202"));
    harness_free(&h);
    fake_stop(&fc);
}

/* A non-loopback IPv4 address of this host, or "" when it has none. */
static void local_address(char *out, size_t out_size)
{
    out[0] = '\0';
    struct ifaddrs *list;
    if (getifaddrs(&list) != 0)
        return;
    for (struct ifaddrs *i = list; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
            continue;
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)i->ifa_addr;
        if ((ntohl(in->sin_addr.s_addr) >> 24) == 127)
            continue;
        inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)out_size);
        break;
    }
    freeifaddrs(list);
}

/* Spec 2.2: a seed reached at an address its node does not list for itself
 * is a load balancer; the node is used at the address it lists. */
static void test_driver_detects_a_load_balancer_seed(void)
{
    char address[64];
    local_address(address, sizeof address);
    if (address[0] == '\0') {
        printf("     (skipped: this host has no non-loopback IPv4 address)\n");
        return;
    }
    fake_cluster fc;
    CHECK(fake_start(&fc) == 0);
    harness h;
    CHECK(harness_init_at(&h, address, fc.nodes[0].port, NULL) == 0);
    cshm_tend_ctx ctx;
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
    int a = cshm_map_find_node(&h.map, "BB9020011AC4202");
    CHECK(a >= 0 && strcmp(h.map.nodes[a].host, "127.0.0.1") == 0);
    CHECK(h.map.counts->node_count == 2 && map_matches_spec(&h.map));
    harness_free(&h);

    /* The node lists the seed's own address: no balancer, nothing moves. */
    pthread_mutex_lock(&fc.lock);
    snprintf(fc.nodes[0].service, sizeof fc.nodes[0].service, "%s:%d,127.0.0.1:%d", address,
             fc.nodes[0].port, fc.nodes[0].port);
    pthread_mutex_unlock(&fc.lock);
    CHECK(harness_init_at(&h, address, fc.nodes[0].port, NULL) == 0);
    CHECK(harness_tend(&h, &ctx, no_abort) == CSHM_TEND_OK);
    a = cshm_map_find_node(&h.map, "BB9020011AC4202");
    CHECK(a >= 0 && strcmp(h.map.nodes[a].host, address) == 0);
    harness_free(&h);
    fake_stop(&fc);
}

void suite_aerospike_driver(void)
{
    cshm_set_log_handler(count_warnings, NULL);
    RUN(test_driver_tends_the_spec_cluster);
    RUN(test_driver_keeps_the_map_through_faults);
    RUN(test_driver_cluster_name);
    RUN(test_driver_keeps_the_last_owner_of_a_node_still_down);
    RUN(test_driver_detects_a_load_balancer_seed);
    cshm_set_log_handler(NULL, NULL);
}
