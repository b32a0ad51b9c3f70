/*
 * table.c - the whole map for callers that want more than one route: the
 * node list (cshm_nodes) and the partition table in ranges (cshm_shards).
 *
 * Invariants:
 *  - Both read one consistent snapshot into the client's private view (a
 *    copy allocated at the first call, so callers that only route never pay
 *    for it) and answer from that copy only.
 *  - Every owner index is checked against the snapshot's node count before
 *    it is used: an index past it is a corrupt segment (CSHM_ERR_SEGMENT),
 *    as for route().
 *  - Arrays are filled up to the caller's capacity and the full counts are
 *    always returned, so a caller can retry with larger arrays; nothing is
 *    cut silently.
 */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "error.h"
#include "snapshot.h"

/* The published map into c->view.  1 when nothing is published yet. */
static int read_view(cshm_client *c, cshm_error *error)
{
    int rc = cshm_client_ready(c, error);
    if (rc != 0)
        return rc;
    cshm_segment *seg = cshm_client_enter(c);
    rc = cshm_client_fit_view(c, seg, error);
    if (rc == 0)
        rc = cshm_snapshot_read(seg, &c->view, NULL, NULL, error);
    c->view_key = seg->key;
    cshm_client_leave(c);
    return rc;
}

/* The view's nodes, with the partitions each masters and replicates. */
static int fill_nodes(const cshm_map *m, cshm_node_info *nodes, size_t capacity, size_t *count,
                      cshm_error *error)
{
    uint32_t n = m->counts->node_count;
    *count = n;
    for (uint32_t i = 0; i < n && i < capacity; i++) {
        memset(&nodes[i], 0, sizeof nodes[i]);
        memcpy(nodes[i].name, m->nodes[i].name, sizeof nodes[i].name);
        memcpy(nodes[i].host, m->nodes[i].host, sizeof nodes[i].host);
        nodes[i].port = m->nodes[i].port;
        nodes[i].active = m->nodes[i].active;
        nodes[i].is_master = m->nodes[i].is_master;
    }
    uint32_t *masters = calloc(n ? n : 1, sizeof *masters);
    uint32_t *replicas = calloc(n ? n : 1, sizeof *replicas);
    if (masters == NULL || replicas == NULL) {
        free(masters);
        free(replicas);
        return cshm_fail(error, CSHM_ERR_SYSTEM, "out of memory");
    }
    cshm_map_count_partitions(m, masters, replicas);
    for (uint32_t i = 0; i < n && i < capacity; i++) {
        nodes[i].partitions = masters[i];
        nodes[i].replica_partitions = replicas[i];
    }
    free(masters);
    free(replicas);
    return 0;
}

int cshm_nodes(cshm_client *c, cshm_node_info *nodes, size_t capacity, size_t *count,
               cshm_error *error)
{
    int rc = read_view(c, error);
    if (rc > 0) {
        *count = 0;
        return 0;
    }
    if (rc < 0)
        return rc;
    return fill_nodes(&c->view, nodes, capacity, count, error);
}

/* The owners of one partition as a shard entry (first/last not set).
 * -1 when an owner index is out of range (corrupt). */
static int owners_of(const cshm_map *m, uint32_t ns, uint32_t partition, cshm_shard *out)
{
    uint32_t n = m->counts->node_count;
    memset(out, 0, sizeof *out);
    out->master = -1;
    for (uint32_t col = 0; col < m->shape.columns; col++) {
        uint16_t owner = cshm_map_owner(m, ns, partition, col);
        if (owner == CSHM_NO_NODE)
            continue;
        if (owner >= n)
            return -1;
        if (col == 0)
            out->master = owner;
        else if (out->replica_count < CSHM_SHARD_REPLICAS_MAX)
            out->replicas[out->replica_count++] = owner;
    }
    return 0;
}

static int same_owners(const cshm_shard *a, const cshm_shard *b)
{
    return a->master == b->master && a->replica_count == b->replica_count &&
           memcmp(a->replicas, b->replicas, a->replica_count * sizeof a->replicas[0]) == 0;
}

int cshm_shards(cshm_client *c, const char *namespace_name, cshm_node_info *nodes,
                size_t node_capacity, size_t *node_count, cshm_shard *shards,
                size_t shard_capacity, size_t *shard_count, uint64_t *generation,
                cshm_error *error)
{
    *node_count = 0;
    *shard_count = 0;
    if (generation != NULL)
        *generation = 0;
    int rc = read_view(c, error);
    if (rc > 0)
        return 0;
    if (rc < 0)
        return rc;
    const cshm_map *m = &c->view;
    uint32_t ns = 0;
    if (c->config.kind == CSHM_DRIVER_AEROSPIKE) {
        if (namespace_name == NULL || namespace_name[0] == '\0')
            return cshm_fail(error, CSHM_ERR_CONFIG,
                             "shards: Aerospike maps are per namespace; give the namespace");
        uint32_t i = 0;
        while (i < m->counts->ns_count &&
               strncmp(m->namespaces[i].name, namespace_name, CSHM_NAMESPACE_MAX) != 0)
            i++;
        if (i == m->counts->ns_count)
            return cshm_fail(error, CSHM_ERR_CLUSTER,
                             "unknown namespace '%.31s': the cluster map has no such namespace",
                             namespace_name);
        ns = i;
    }
    rc = fill_nodes(m, nodes, node_capacity, node_count, error);
    if (rc != 0)
        return rc;
    if (generation != NULL)
        *generation = m->counts->generation;

    size_t count = 0;
    cshm_shard current;
    for (uint32_t p = 0; p < m->shape.partitions; p++) {
        cshm_shard owners;
        if (owners_of(m, ns, p, &owners) != 0)
            return cshm_fail(error, CSHM_ERR_SEGMENT,
                             "corrupt segment at key 0x%08x: partition %u names a node past the "
                             "%u of the map",
                             (unsigned)c->view_key, (unsigned)p,
                             (unsigned)m->counts->node_count);
        if (p > 0 && same_owners(&owners, &current)) {
            current.last = p;
            continue;
        }
        if (p > 0) {
            if (count < shard_capacity)
                shards[count] = current;
            count++;
        }
        current = owners;
        current.first = p;
        current.last = p;
    }
    if (count < shard_capacity)
        shards[count] = current;
    *shard_count = count + 1;
    return 0;
}
