/*
 * test_redis_parse.c - CLUSTER SHARDS / CLUSTER SLOTS replies into maps.
 *
 * The valid replies are captures from a real cluster (redis_captures.c); the
 * expected owners below were read off the same cluster with
 * `redis-cli -p 7200 cluster shards` at the moment of each capture.
 * Malformed replies are made from the captures by changing one token, or
 * written out here; each must be refused with a message naming the problem.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "map.h"
#include "redis_captures.h"
#include "redis_topology.h"
#include "resp.h"
#include "resp_text.h"
#include "test.h"

#define LIT(literal) literal, sizeof(literal) - 1

enum { SHARDS, SLOTS };

static int new_map(cshm_map *map, uint32_t max_nodes)
{
    cshm_map_shape shape = {.partitions = 16384, .max_nodes = max_nodes, .max_namespaces = 1,
                            .columns = 4, .has_regimes = 0};
    return cshm_map_init(map, &shape);
}

/* 0 parsed, -1 refused by the topology parser, -2 not even valid RESP. */
static int map_from(const char *bytes, size_t len, int format, const char *from_host,
                    cshm_map *map, char *error, size_t error_size)
{
    cshm_reply reply;
    size_t used;
    if (cshm_resp_parse(bytes, len, &reply, &used, error, error_size) != 1)
        return -2;
    cshm_redis_origin origin = {.host = from_host, .tls = 0};
    int rc = format == SHARDS
                 ? cshm_redis_map_from_shards(reply.root, &origin, map, error, error_size)
                 : cshm_redis_map_from_slots(reply.root, &origin, map, error, error_size);
    cshm_reply_free(&reply);
    return rc;
}

static int node_index_of_port(const cshm_map *map, uint16_t port)
{
    for (uint32_t i = 0; i < map->counts->node_count; i++)
        if (map->nodes[i].port == port)
            return (int)i;
    return -1;
}

/* Port of the node in (slot, column), 0 when none. */
static unsigned owner_port(const cshm_map *map, uint32_t slot, uint32_t column)
{
    uint16_t owner = cshm_map_owner(map, 0, slot, column);
    return owner == CSHM_NO_NODE ? 0 : map->nodes[owner].port;
}

static int nodes_sorted(const cshm_map *map)
{
    for (uint32_t i = 1; i < map->counts->node_count; i++)
        if (strcmp(map->nodes[i - 1].name, map->nodes[i].name) >= 0)
            return 0;
    return 1;
}

/* The resharded cluster: 7201 owns 0-99 and 5461-10922 (replica 7203),
 * 7200 owns 100-5460 (replica 7205), 7202 owns 10923-16383 (replica 7204). */
static void check_resharded(const cshm_map *map, const char *host)
{
    CHECK(map->counts->node_count == 6 && map->counts->nodes_seen == 6);
    CHECK(map->counts->flags == 0);
    CHECK(nodes_sorted(map));
    for (uint32_t i = 0; i < map->counts->node_count; i++) {
        CHECK(strcmp(map->nodes[i].host, host) == 0);
        CHECK(map->nodes[i].active == 1);
        CHECK(map->nodes[i].is_master == (map->nodes[i].port <= 7202));
    }
    int i7200 = node_index_of_port(map, 7200);
    CHECK(i7200 >= 0 && strcmp(map->nodes[i7200].name, NODE_7200) == 0);
    static const struct { uint32_t slot; unsigned master, replica; } expect[] = {
        {0, 7201, 7203},     {99, 7201, 7203},     {100, 7200, 7205},   {5460, 7200, 7205},
        {5461, 7201, 7203},  {10922, 7201, 7203},  {10923, 7202, 7204}, {16383, 7202, 7204},
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        CHECK(owner_port(map, expect[i].slot, 0) == expect[i].master);
        CHECK(owner_port(map, expect[i].slot, 1) == expect[i].replica);
        CHECK(owner_port(map, expect[i].slot, 2) == 0 && owner_port(map, expect[i].slot, 3) == 0);
    }
    uint32_t owned = 0;
    for (uint32_t slot = 0; slot < 16384; slot++)
        owned += cshm_map_owner(map, 0, slot, 0) != CSHM_NO_NODE;
    CHECK(owned == 16384);
}

static void test_shards_capture(void)
{
    cshm_map map;
    char error[256] = "";
    CHECK(new_map(&map, 64) == 0);
    CHECK(map_from(capture_shards_resharded.bytes, capture_shards_resharded.len, SHARDS,
                   "127.0.0.1", &map, error, sizeof error) == 0);
    check_resharded(&map, "127.0.0.1");
    cshm_map_free(&map);
}

static void test_slots_capture_equals_shards(void)
{
    cshm_map from_shards, from_slots;
    char error[256] = "";
    CHECK(new_map(&from_shards, 64) == 0 && new_map(&from_slots, 64) == 0);
    CHECK(map_from(capture_shards_resharded.bytes, capture_shards_resharded.len, SHARDS,
                   "127.0.0.1", &from_shards, error, sizeof error) == 0);
    CHECK(map_from(capture_slots_resharded.bytes, capture_slots_resharded.len, SLOTS, "127.0.0.1",
                   &from_slots, error, sizeof error) == 0);
    check_resharded(&from_slots, "127.0.0.1");
    /* Same cluster, same map, byte for byte. */
    CHECK(!cshm_map_differs(&from_shards, &from_slots));
    cshm_map_free(&from_shards);
    cshm_map_free(&from_slots);
}

static void test_shards_failover(void)
{
    cshm_map map;
    char error[256] = "";
    CHECK(new_map(&map, 64) == 0);
    CHECK(map_from(capture_shards_failover.bytes, capture_shards_failover.len, SHARDS, "127.0.0.1",
                   &map, error, sizeof error) == 0);
    CHECK(map.counts->node_count == 6);
    int dead_master = node_index_of_port(&map, 7201), dead_replica = node_index_of_port(&map, 7205);
    int promoted = node_index_of_port(&map, 7203);
    CHECK(dead_master >= 0 && dead_replica >= 0 && promoted >= 0);
    if (dead_master < 0 || dead_replica < 0 || promoted < 0)
        goto done;
    /* health "fail" is not online; the old master is still listed as one. */
    CHECK(map.nodes[dead_master].active == 0 && map.nodes[dead_master].is_master == 1);
    CHECK(map.nodes[dead_replica].active == 0 && map.nodes[dead_replica].is_master == 0);
    CHECK(map.nodes[promoted].active == 1 && map.nodes[promoted].is_master == 1);
    CHECK(owner_port(&map, 0, 0) == 7203 && owner_port(&map, 0, 1) == 0);
    CHECK(owner_port(&map, 5461, 0) == 7203 && owner_port(&map, 10922, 1) == 0);
    /* A failed replica keeps its column: routing decides, the map reports. */
    CHECK(owner_port(&map, 100, 0) == 7200 && owner_port(&map, 100, 1) == 7205);
    CHECK(owner_port(&map, 16383, 0) == 7202 && owner_port(&map, 16383, 1) == 7204);
    for (uint32_t slot = 0; slot < 16384; slot++)
        if (cshm_map_owner(&map, 0, slot, 0) == (uint16_t)dead_master)
            CHECK(!"the failed master owns no slot");
done:
    cshm_map_free(&map);
}

static void test_slots_failover(void)
{
    cshm_map map;
    char error[256] = "";
    CHECK(new_map(&map, 64) == 0);
    CHECK(map_from(capture_slots_failover.bytes, capture_slots_failover.len, SLOTS, "127.0.0.1",
                   &map, error, sizeof error) == 0);
    /* CLUSTER SLOTS leaves out the failed replica and the slot-less master. */
    CHECK(map.counts->node_count == 4);
    CHECK(node_index_of_port(&map, 7201) < 0 && node_index_of_port(&map, 7205) < 0);
    CHECK(owner_port(&map, 0, 0) == 7203 && owner_port(&map, 100, 0) == 7200 &&
          owner_port(&map, 100, 1) == 0 && owner_port(&map, 16383, 1) == 7204);
    cshm_map_free(&map);
}

static void test_shards_loading_replica(void)
{
    cshm_map map;
    char error[256] = "";
    CHECK(new_map(&map, 64) == 0);
    CHECK(map_from(capture_shards_loading.bytes, capture_shards_loading.len, SHARDS, "127.0.0.1",
                   &map, error, sizeof error) == 0);
    int loading = node_index_of_port(&map, 7204);
    CHECK(loading >= 0 && map.nodes[loading].active == 0);
    CHECK(owner_port(&map, 16383, 0) == 7202 && owner_port(&map, 16383, 1) == 7204);
    /* 7201 came back as a replica of 7203. */
    int back = node_index_of_port(&map, 7201);
    CHECK(back >= 0 && map.nodes[back].is_master == 0 && map.nodes[back].active == 1);
    CHECK(owner_port(&map, 0, 0) == 7203 && owner_port(&map, 0, 1) == 7201);
    cshm_map_free(&map);
}

static void test_hostname_endpoints(void)
{
    cshm_map map;
    char error[256] = "";
    CHECK(new_map(&map, 64) == 0);
    CHECK(map_from(capture_shards_hostname.bytes, capture_shards_hostname.len, SHARDS,
                   "127.0.0.1", &map, error, sizeof error) == 0);
    for (uint32_t i = 0; i < map.counts->node_count; i++) {
        char expected[64];
        snprintf(expected, sizeof expected, "node%u.example", (unsigned)map.nodes[i].port);
        CHECK(strcmp(map.nodes[i].host, expected) == 0);
    }
    CHECK(map.counts->node_count == 6);
    CHECK(map_from(capture_slots_hostname.bytes, capture_slots_hostname.len, SLOTS, "127.0.0.1",
                   &map, error, sizeof error) == 0);
    CHECK(map.counts->node_count == 6);
    for (uint32_t i = 0; i < map.counts->node_count; i++) {
        char expected[64];
        snprintf(expected, sizeof expected, "node%u.example", (unsigned)map.nodes[i].port);
        CHECK(strcmp(map.nodes[i].host, expected) == 0);
    }
    cshm_map_free(&map);
}

static void test_unknown_endpoints(void)
{
    cshm_map map;
    char error[256] = "";
    CHECK(new_map(&map, 64) == 0);
    /* SHARDS: endpoint "" (unknown-endpoint) means the address we asked,
     * as in SLOTS below, not the node's ip: behind a load balancer the ip
     * is the one address a client cannot reach. */
    CHECK(map_from(capture_shards_unknown_endpoint.bytes, capture_shards_unknown_endpoint.len,
                   SHARDS, "10.9.8.7", &map, error, sizeof error) == 0);
    CHECK(map.counts->node_count == 6);
    for (uint32_t i = 0; i < map.counts->node_count; i++)
        CHECK(strcmp(map.nodes[i].host, "10.9.8.7") == 0);
    /* SLOTS: a nil ip means "the address you asked". */
    CHECK(map_from(capture_slots_unknown_endpoint.bytes, capture_slots_unknown_endpoint.len, SLOTS,
                   "10.9.8.7", &map, error, sizeof error) == 0);
    CHECK(map.counts->node_count == 6);
    for (uint32_t i = 0; i < map.counts->node_count; i++)
        CHECK(strcmp(map.nodes[i].host, "10.9.8.7") == 0);
    CHECK(owner_port(&map, 0, 0) == 7201 && owner_port(&map, 0, 1) == 7203);
    cshm_map_free(&map);
}

static void test_shards_resp3(void)
{
    cshm_map map;
    char error[256] = "";
    CHECK(new_map(&map, 64) == 0);
    CHECK(map_from(capture_shards_resp3.bytes, capture_shards_resp3.len, SHARDS, "127.0.0.1", &map,
                   error, sizeof error) == 0);
    CHECK(map.counts->node_count == 6);
    CHECK(owner_port(&map, 0, 0) == 7200 && owner_port(&map, 5460, 0) == 7200);
    CHECK(owner_port(&map, 5461, 0) == 7201 && owner_port(&map, 10923, 0) == 7202);
    cshm_map_free(&map);
}

static void test_max_nodes_truncation(void)
{
    cshm_map map;
    char error[256] = "";
    CHECK(new_map(&map, 3) == 0);
    CHECK(map_from(capture_shards_resharded.bytes, capture_shards_resharded.len, SHARDS,
                   "127.0.0.1", &map, error, sizeof error) == 0);
    CHECK(map.counts->node_count == 3 && map.counts->nodes_seen == 6);
    CHECK(map.counts->flags & CSHM_MAP_NODES_TRUNCATED);
    /* SLOTS names 7201 and 7203 in two ranges each: still six nodes seen. */
    CHECK(map_from(capture_slots_resharded.bytes, capture_slots_resharded.len, SLOTS, "127.0.0.1",
                   &map, error, sizeof error) == 0);
    CHECK(map.counts->node_count == 3 && map.counts->nodes_seen == 6);
    CHECK(map.counts->flags & CSHM_MAP_NODES_TRUNCATED);
    for (uint32_t slot = 0; slot < 16384; slot++)
        for (uint32_t column = 0; column < 4; column++) {
            uint16_t owner = cshm_map_owner(&map, 0, slot, column);
            if (owner != CSHM_NO_NODE && owner >= map.counts->node_count)
                CHECK(!"owner index out of range");
        }
    cshm_map_free(&map);
}

/* ---- synthetic replies -------------------------------------------------- */

static const char *const ids[] = {
    "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222",
    "3333333333333333333333333333333333333333", "4444444444444444444444444444444444444444",
    "5555555555555555555555555555555555555555", "6666666666666666666666666666666666666666",
};

static void shard_node(resp_text *t, int id, int port, const char *role, const char *health)
{
    resp_text_add(t, "*10\r\n");
    resp_text_bulk(t, "id");
    resp_text_bulk(t, ids[id]);
    resp_text_bulk(t, "port");
    resp_text_add(t, ":%d\r\n", port);
    resp_text_bulk(t, "endpoint");
    resp_text_bulk(t, "10.0.0.1");
    resp_text_bulk(t, "role");
    resp_text_bulk(t, role);
    resp_text_bulk(t, "health");
    resp_text_bulk(t, health);
}

static void shard_head(resp_text *t, int first, int last, int nodes)
{
    resp_text_add(t, "*4\r\n");
    resp_text_bulk(t, "slots");
    resp_text_add(t, "*2\r\n:%d\r\n:%d\r\n", first, last);
    resp_text_bulk(t, "nodes");
    resp_text_add(t, "*%d\r\n", nodes);
}

static void slots_node(resp_text *t, int id, int port)
{
    resp_text_add(t, "*4\r\n");
    resp_text_bulk(t, "10.0.0.1");
    resp_text_add(t, ":%d\r\n", port);
    resp_text_bulk(t, ids[id]);
    resp_text_add(t, "*0\r\n");
}

/* One shard of one master with the given ports (0: field absent). */
static void tls_shard(resp_text *t, int port, int tls_port)
{
    resp_text_add(t, "*1\r\n");
    shard_head(t, 0, 16383, 1);
    resp_text_add(t, "*%d\r\n", 8 + (port ? 2 : 0) + (tls_port ? 2 : 0));
    resp_text_bulk(t, "id");
    resp_text_bulk(t, ids[0]);
    if (port) {
        resp_text_bulk(t, "port");
        resp_text_add(t, ":%d\r\n", port);
    }
    if (tls_port) {
        resp_text_bulk(t, "tls-port");
        resp_text_add(t, ":%d\r\n", tls_port);
    }
    resp_text_bulk(t, "endpoint");
    resp_text_bulk(t, "10.0.0.1");
    resp_text_bulk(t, "role");
    resp_text_bulk(t, "master");
    resp_text_bulk(t, "health");
    resp_text_bulk(t, "online");
}

static int tls_parse(int port, int tls_port, int tls, cshm_map *map, char *error, size_t size)
{
    resp_text t = {.len = 0};
    tls_shard(&t, port, tls_port);
    cshm_reply reply;
    size_t used;
    if (cshm_resp_parse(t.bytes, t.len, &reply, &used, error, size) != 1)
        return -2;
    cshm_redis_origin origin = {.host = "x", .tls = tls};
    int rc = cshm_redis_map_from_shards(reply.root, &origin, map, error, size);
    cshm_reply_free(&reply);
    return rc;
}

/* CLUSTER SHARDS under tls-cluster yes lists tls-port (and port when the
 * node listens in plain TCP too): each kind of connection takes its own,
 * and a missing one is refused with the setting that fixes it. */
static void test_tls_port_choice(void)
{
    cshm_map map;
    char error[256] = "";
    CHECK(new_map(&map, 64) == 0);
    CHECK(tls_parse(7000, 8000, 1, &map, error, sizeof error) == 0);
    CHECK(owner_port(&map, 0, 0) == 8000);
    CHECK(tls_parse(7000, 8000, 0, &map, error, sizeof error) == 0);
    CHECK(owner_port(&map, 0, 0) == 7000);
    CHECK(tls_parse(0, 8000, 1, &map, error, sizeof error) == 0);
    CHECK(owner_port(&map, 0, 0) == 8000);
    CHECK(tls_parse(7000, 0, 1, &map, error, sizeof error) == -1);
    CHECK(strstr(error, "tls-cluster yes") != NULL);
    CHECK(tls_parse(0, 8000, 0, &map, error, sizeof error) == -1);
    CHECK(strstr(error, "rediss://") != NULL);
    cshm_map_free(&map);
}

static void test_online_replicas_first(void)
{
    resp_text t = {.len = 0};
    resp_text_add(&t, "*1\r\n");
    shard_head(&t, 0, 16383, 4);
    shard_node(&t, 0, 7000, "replica", "fail");
    shard_node(&t, 1, 7001, "replica", "loading");
    shard_node(&t, 2, 7002, "master", "online");
    shard_node(&t, 3, 7003, "replica", "online");
    cshm_map map;
    char error[256] = "";
    CHECK(new_map(&map, 64) == 0);
    CHECK(map_from(t.bytes, t.len, SHARDS, "x", &map, error, sizeof error) == 0);
    CHECK(owner_port(&map, 42, 0) == 7002);
    CHECK(owner_port(&map, 42, 1) == 7003);
    CHECK(owner_port(&map, 42, 2) == 7000 && owner_port(&map, 42, 3) == 7001);
    CHECK((map.counts->flags & CSHM_MAP_REPLICAS_TRUNCATED) == 0);
    cshm_map_free(&map);
}

/* A map cut at max_nodes (before the segment grows) keeps every shard's
 * master, however the reply orders its nodes: replicas listed first, in
 * shards before the masters' own, give way. */
static void test_truncation_keeps_the_masters(void)
{
    resp_text t = {.len = 0};
    resp_text_add(&t, "*3\r\n");
    shard_head(&t, 0, 5460, 2);
    shard_node(&t, 3, 7003, "replica", "online");
    shard_node(&t, 0, 7000, "master", "online");
    shard_head(&t, 5461, 10922, 2);
    shard_node(&t, 4, 7004, "replica", "online");
    shard_node(&t, 1, 7001, "master", "online");
    shard_head(&t, 10923, 16383, 2);
    shard_node(&t, 5, 7005, "replica", "online");
    shard_node(&t, 2, 7002, "master", "online");
    static const unsigned masters[] = {7000, 7001, 7002};
    for (uint32_t max_nodes = 3; max_nodes <= 5; max_nodes++) {
        cshm_map map;
        char error[256] = "";
        CHECK(new_map(&map, max_nodes) == 0);
        CHECK(map_from(t.bytes, t.len, SHARDS, "x", &map, error, sizeof error) == 0);
        CHECK(map.counts->node_count == max_nodes && map.counts->nodes_seen == 6);
        CHECK(map.counts->flags & CSHM_MAP_NODES_TRUNCATED);
        for (size_t i = 0; i < 3; i++)
            CHECK(node_index_of_port(&map, (uint16_t)masters[i]) >= 0);
        uint32_t owned = 0;
        for (uint32_t slot = 0; slot < 16384; slot++)
            owned += cshm_map_owner(&map, 0, slot, 0) != CSHM_NO_NODE;
        CHECK(owned == 16384);
        CHECK(owner_port(&map, 0, 0) == 7000 && owner_port(&map, 16383, 0) == 7002);
        cshm_map_free(&map);
    }
}

static void test_replicas_truncated(void)
{
    resp_text t = {.len = 0};
    resp_text_add(&t, "*1\r\n");
    shard_head(&t, 0, 16383, 5);
    shard_node(&t, 0, 7000, "master", "online");
    for (int i = 1; i <= 4; i++)
        shard_node(&t, i, 7000 + i, "replica", "online");
    cshm_map map;
    char error[256] = "";
    CHECK(new_map(&map, 64) == 0);
    CHECK(map_from(t.bytes, t.len, SHARDS, "x", &map, error, sizeof error) == 0);
    CHECK(map.counts->node_count == 5);
    CHECK(map.counts->flags & CSHM_MAP_REPLICAS_TRUNCATED);
    CHECK(owner_port(&map, 9, 0) == 7000 && owner_port(&map, 9, 1) == 7001 &&
          owner_port(&map, 9, 3) == 7003);

    t.len = 0;
    resp_text_add(&t, "*1\r\n*7\r\n:0\r\n:16383\r\n");
    for (int i = 0; i <= 4; i++)
        slots_node(&t, i, 7000 + i);
    CHECK(map_from(t.bytes, t.len, SLOTS, "x", &map, error, sizeof error) == 0);
    CHECK(map.counts->flags & CSHM_MAP_REPLICAS_TRUNCATED);
    CHECK(owner_port(&map, 9, 3) == 7003);
    cshm_map_free(&map);
}

static void test_partial_coverage_is_a_map(void)
{
    /* Uncovered slots (cluster down for them) stay without owner. */
    resp_text t = {.len = 0};
    resp_text_add(&t, "*1\r\n");
    shard_head(&t, 10, 20, 1);
    shard_node(&t, 0, 7000, "master", "online");
    cshm_map map;
    char error[256] = "";
    CHECK(new_map(&map, 64) == 0);
    CHECK(map_from(t.bytes, t.len, SHARDS, "x", &map, error, sizeof error) == 0);
    CHECK(owner_port(&map, 9, 0) == 0 && owner_port(&map, 10, 0) == 7000 &&
          owner_port(&map, 20, 0) == 7000 && owner_port(&map, 21, 0) == 0);
    cshm_map_free(&map);
}

/* ---- malformed replies ---------------------------------------------------- */

/* A copy of a capture with the first `from` replaced by `to`. */
static size_t edited(const redis_capture *capture, const char *from, const char *to, char *out,
                     size_t out_size)
{
    const char *at = memmem(capture->bytes, capture->len, from, strlen(from));
    if (at == NULL)
        return 0;
    size_t head = (size_t)(at - capture->bytes), from_len = strlen(from), to_len = strlen(to);
    size_t total = capture->len - from_len + to_len;
    if (total > out_size)
        return 0;
    memcpy(out, capture->bytes, head);
    memcpy(out + head, to, to_len);
    memcpy(out + head + to_len, at + from_len, capture->len - head - from_len);
    return total;
}

static int refused(const char *bytes, size_t len, int format, const char *words)
{
    cshm_map map;
    char error[256] = "";
    if (new_map(&map, 64) != 0)
        return 0;
    int rc = map_from(bytes, len, format, "127.0.0.1", &map, error, sizeof error);
    cshm_map_free(&map);
    if (rc != -1 || strstr(error, words) == NULL) {
        fprintf(stderr, "    expected a refusal with '%s'; rc %d, error '%s'\n", words, rc, error);
        return 0;
    }
    return 1;
}

static int capture_edit_refused(const redis_capture *capture, int format, const char *from,
                                const char *to, const char *words)
{
    char bytes[4096];
    size_t len = edited(capture, from, to, bytes, sizeof bytes);
    if (len == 0) {
        fprintf(stderr, "    test bug: '%s' not in the capture\n", from);
        return 0;
    }
    return refused(bytes, len, format, words);
}

static void test_malformed_shards(void)
{
    const redis_capture *c = &capture_shards_resharded;
    CHECK(capture_edit_refused(c, SHARDS, ":16383\r\n", ":16384\r\n", "slot 16384 out of range"));
    CHECK(capture_edit_refused(c, SHARDS, ":10923\r\n:16383", ":16383\r\n:10923",
                               "ends before it starts"));
    CHECK(capture_edit_refused(c, SHARDS, ":10923\r\n", ":-1\r\n", "slot -1 out of range"));
    CHECK(capture_edit_refused(c, SHARDS, ":10923\r\n", "$5\r\n10923\r\n", "not an integer"));
    CHECK(capture_edit_refused(c, SHARDS, ":10923\r\n", ":5000\r\n", "claimed twice"));
    CHECK(capture_edit_refused(c, SHARDS, "*2\r\n:10923\r\n:16383\r\n", "*1\r\n:10923\r\n",
                               "start/end pairs"));
    CHECK(capture_edit_refused(c, SHARDS, NODE_7202, "5632ad1195c778c14cc34202adc3f36600e3106Z",
                               "not 40 hex digits"));
    CHECK(capture_edit_refused(c, SHARDS, "$40\r\n" NODE_7202, "$4\r\n5632", "not 40 hex"));
    CHECK(capture_edit_refused(c, SHARDS, NODE_7205, NODE_7200, "listed twice"));
    CHECK(capture_edit_refused(c, SHARDS, ":7202\r\n", ":70000\r\n", "port 70000 out of range"));
    CHECK(capture_edit_refused(c, SHARDS, ":7202\r\n", "$4\r\n7202\r\n", "not an integer"));
    CHECK(capture_edit_refused(c, SHARDS, "$4\r\nport\r\n:7202\r\n", "$4\r\nfoo!\r\n:7202\r\n",
                               "neither port nor tls-port"));
    CHECK(capture_edit_refused(c, SHARDS, "master", "leader", "role 'leader'"));
    CHECK(capture_edit_refused(c, SHARDS, "$9\r\n127.0.0.1", "$9\r\n127.0 0.1",
                               "contains byte 0x20"));
    CHECK(capture_edit_refused(c, SHARDS, "$9\r\n127.0.0.1", "$9\r\n127\x01" "0.0.1",
                               "contains byte 0x01"));
    CHECK(capture_edit_refused(c, SHARDS, "$6\r\nhealth\r\n$6\r\nonline", "$6\r\nhealth\r\n:6",
                               "not a string"));
    CHECK(capture_edit_refused(c, SHARDS, "*14\r\n", "*13\r\n", "not a map"));
    CHECK(capture_edit_refused(c, SHARDS, "$5\r\nnodes\r\n", "$5\r\nNODES\r\n", "'nodes' list"));

    CHECK(refused(LIT("*0\r\n"), SHARDS, "no slot owner"));
    CHECK(refused(LIT(":1\r\n"), SHARDS, "answered an integer, not an array"));
    CHECK(refused(LIT("*1\r\n+shard\r\n"), SHARDS, "a string of 0 elements, not a map"));
    CHECK(refused(LIT("*1\r\n*0\r\n"), SHARDS, "'slots' list"));

    /* Slots without a master among the shard's nodes would empty a good
     * map: refused. */
    resp_text t = {.len = 0};
    resp_text_add(&t, "*1\r\n");
    shard_head(&t, 0, 16383, 0);
    CHECK(refused(t.bytes, t.len, SHARDS, "no master"));

    /* A shard whose only master has no port is refused, not guessed. */
    t.len = 0;
    resp_text_add(&t, "*1\r\n");
    shard_head(&t, 0, 16383, 1);
    resp_text_add(&t, "*4\r\n");
    resp_text_bulk(&t, "id");
    resp_text_bulk(&t, ids[0]);
    resp_text_bulk(&t, "role");
    resp_text_bulk(&t, "master");
    CHECK(refused(t.bytes, t.len, SHARDS, "neither port nor tls-port"));

    /* No address anywhere and no answering address either. */
    t.len = 0;
    resp_text_add(&t, "*1\r\n");
    shard_head(&t, 0, 16383, 1);
    resp_text_add(&t, "*6\r\n");
    resp_text_bulk(&t, "id");
    resp_text_bulk(&t, ids[0]);
    resp_text_bulk(&t, "port");
    resp_text_add(&t, ":7000\r\n");
    resp_text_bulk(&t, "role");
    resp_text_bulk(&t, "master");
    cshm_map map;
    char error[256] = "";
    CHECK(new_map(&map, 64) == 0);
    CHECK(map_from(t.bytes, t.len, SHARDS, "", &map, error, sizeof error) == -1);
    CHECK(strstr(error, "no address") != NULL);
    /* ...but with one, the node gets it. */
    CHECK(map_from(t.bytes, t.len, SHARDS, "192.0.2.1", &map, error, sizeof error) == 0);
    CHECK(map.counts->node_count == 1 && strcmp(map.nodes[0].host, "192.0.2.1") == 0);
    cshm_map_free(&map);
}

static void test_malformed_slots(void)
{
    const redis_capture *c = &capture_slots_resharded;
    CHECK(capture_edit_refused(c, SLOTS, ":16383\r\n", ":16384\r\n", "slot 16384 out of range"));
    CHECK(capture_edit_refused(c, SLOTS, ":0\r\n:99\r\n", ":99\r\n:0\r\n",
                               "ends before it starts"));
    CHECK(capture_edit_refused(c, SLOTS, ":100\r\n:5460\r\n", ":90\r\n:5460\r\n", "claimed twice"));
    CHECK(capture_edit_refused(c, SLOTS, ":7201\r\n", ":0\r\n", "port 0"));
    CHECK(capture_edit_refused(c, SLOTS, ":7201\r\n", ":65536\r\n", "out of range"));
    CHECK(capture_edit_refused(c, SLOTS, "$9\r\n127.0.0.1\r\n:7201", ":1\r\n:7201",
                               "not a string"));
    CHECK(capture_edit_refused(c, SLOTS, NODE_7201, "2e6b17232b73c28164bdda8914c8e8f84306a8bX",
                               "not 40 hex digits"));
    CHECK(capture_edit_refused(c, SLOTS, "*4\r\n:0\r\n:99\r\n", "*2\r\n:0\r\n:99\r\n",
                               "not [start, end, master"));
    CHECK(refused(LIT("*0\r\n"), SLOTS, "no slot owner"));
    CHECK(refused(LIT("+OK\r\n"), SLOTS, "answered a string, not an array"));
    CHECK(refused(LIT("*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\na\r\n:1\r\n"), SLOTS, "has no id"));
    CHECK(refused(LIT("*1\r\n*3\r\n:0\r\n:1\r\n+x\r\n"), SLOTS, "not [ip, port"));
}

static void test_garbage_capture_is_not_resp(void)
{
    /* Truncated captures never reach the topology parser. */
    cshm_map map;
    char error[256] = "";
    CHECK(new_map(&map, 64) == 0);
    CHECK(map_from(capture_shards_resharded.bytes, capture_shards_resharded.len - 1, SHARDS,
                   "127.0.0.1", &map, error, sizeof error) == -2);
    cshm_map_free(&map);
}

void suite_redis_parse(void)
{
    RUN(test_shards_capture);
    RUN(test_slots_capture_equals_shards);
    RUN(test_shards_failover);
    RUN(test_slots_failover);
    RUN(test_shards_loading_replica);
    RUN(test_hostname_endpoints);
    RUN(test_unknown_endpoints);
    RUN(test_shards_resp3);
    RUN(test_max_nodes_truncation);
    RUN(test_truncation_keeps_the_masters);
    RUN(test_online_replicas_first);
    RUN(test_replicas_truncated);
    RUN(test_tls_port_choice);
    RUN(test_partial_coverage_is_a_map);
    RUN(test_malformed_shards);
    RUN(test_malformed_slots);
    RUN(test_garbage_capture_is_not_resp);
}
