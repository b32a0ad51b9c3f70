/*
 * fuzz_redis_topology.c - parses the input as one RESP reply
 * (cshm_resp_parse) and feeds it to both map builders of
 * core/src/redis_topology.c, cshm_redis_map_from_shards and
 * cshm_redis_map_from_slots, with the Redis driver's map shape (16384
 * partitions, one namespace, 4 columns, max_nodes 64).  Bytes after the
 * reply, when there are any, pick a variant: the first one a max_nodes of
 * 1..8 (so that truncation is exercised), whether the answering host is
 * unknown (NULL) and whether the connection is TLS (tls-port or port).
 *
 * The maps are kept from one input to the next, as the driver keeps its
 * scratch map: each builder must clear what the previous input left.
 *
 * Checks, besides the sanitizers: a builder returns 0 or -1 with a message;
 * after success the map keeps the invariants of core/src/map.h
 * (node_count <= max_nodes, node_count <= nodes_seen, every owner is
 * CSHM_NO_NODE or < node_count, unused node entries zeroed), the truncation
 * flag is set exactly when a node did not fit, and the nodes are sorted by
 * distinct names of 40 hex digits, each with a host and a port.
 */
#include <string.h>

#include "fuzz.h"
#include "map.h"
#include "redis_topology.h"
#include "resp.h"

static int is_hex40(const char *name)
{
    for (size_t i = 0; i < 40; i++) {
        char c = name[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return name[40] == '\0';
}

static void check_map(const cshm_map *map)
{
    const cshm_map_counts *c = map->counts;
    FUZZ_CHECK(c->node_count <= map->shape.max_nodes);
    FUZZ_CHECK(c->node_count <= c->nodes_seen);
    FUZZ_CHECK(c->ns_count == 0);
    FUZZ_CHECK((c->node_count < c->nodes_seen) == ((c->flags & CSHM_MAP_NODES_TRUNCATED) != 0));
    for (uint32_t i = 0; i < c->node_count; i++) {
        const cshm_map_node *n = &map->nodes[i];
        FUZZ_CHECK(is_hex40(n->name));
        FUZZ_CHECK(memchr(n->host, '\0', sizeof n->host) != NULL && n->host[0] != '\0');
        FUZZ_CHECK(n->port != 0);
        FUZZ_CHECK(n->active <= 1 && n->is_master <= 1);
        if (i > 0)
            FUZZ_CHECK(strcmp(map->nodes[i - 1].name, n->name) < 0);
    }
    for (uint32_t i = c->node_count; i < map->shape.max_nodes; i++)
        FUZZ_CHECK(map->nodes[i].name[0] == '\0');
    size_t cells = (size_t)map->shape.max_namespaces * map->shape.partitions * map->shape.columns;
    for (size_t i = 0; i < cells; i++)
        FUZZ_CHECK(map->owners[i] == CSHM_NO_NODE || map->owners[i] < c->node_count);
}

static void build(const cshm_resp *root, const char *from_host, int tls, uint32_t max_nodes,
                  int slots)
{
    /* One map per (max_nodes, builder), made on first use and kept. */
    static cshm_map maps[9][2];
    cshm_map *map = &maps[max_nodes == 64 ? 0 : max_nodes][slots];
    if (map->payload == NULL) {
        cshm_map_shape shape = {.partitions = CSHM_REDIS_SLOTS, .max_nodes = max_nodes,
                                .max_namespaces = 1, .columns = 4, .has_regimes = 0};
        FUZZ_CHECK(cshm_map_init(map, &shape) == 0);
    }
    char error[256];
    memset(error, 'x', sizeof error);
    cshm_redis_origin origin = {.host = from_host, .tls = tls};
    int rc = slots ? cshm_redis_map_from_slots(root, &origin, map, error, sizeof error)
                   : cshm_redis_map_from_shards(root, &origin, map, error, sizeof error);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == 0)
        check_map(map);
    else
        FUZZ_CHECK(memchr(error, '\0', sizeof error) != NULL && error[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *input = fuzz_exact_copy(data, size);
    cshm_reply reply;
    size_t used;
    char error[256];
    if (cshm_resp_parse(input, size, &reply, &used, error, sizeof error) == 1) {
        uint32_t max_nodes = 64;
        const char *from_host = "127.0.0.1";
        int tls = 0;
        if (used < size) {
            max_nodes = 1u + (uint32_t)(data[used] & 7u);
            if (data[used] & 8u)
                from_host = NULL;
            tls = (data[used] & 16u) != 0;
        }
        build(reply.root, from_host, tls, max_nodes, 0);
        build(reply.root, from_host, tls, max_nodes, 1);
        cshm_reply_free(&reply);
    }
    free(input);
    return 0;
}
