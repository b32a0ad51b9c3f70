/*
 * redis_topology.c - see redis_topology.h.
 *
 * Facts about the replies (checked against redis-server 7.0.15):
 *  - CLUSTER SHARDS: [shard...], shard = {slots: [start, end, ...],
 *    nodes: [node...]}, node = {id, port?, tls-port?, ip, endpoint,
 *    hostname?, role: master|replica, replication-offset, health:
 *    online|fail|loading}.  RESP2 sends the maps as flat key/value arrays.
 *    endpoint is "" (or "?") when unknown; a master that failed over stays
 *    listed as a master of its own shard with no slots.
 *  - CLUSTER SLOTS: [[start, end, master, replica...]...], node = [ip, port,
 *    id, {metadata}]; ip is nil, "" or "?" when unknown; failed replicas are
 *    left out.
 * Every node is looked up by id in a small hash index that points at the id
 * strings inside the reply (the reply outlives the parse), so a node named
 * in many ranges is added once and counted once even when max_nodes
 * truncates it away.
 */
#include "redis_topology.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"

#define NODE_ID_LEN 40
/* The map allows at most 8 columns (map.c): master + 7 replicas. */
#define MAX_REPLICA_COLUMNS 7

/* ---- node id index ---------------------------------------------------- */

typedef struct id_entry {
    const char *id;        /* NODE_ID_LEN bytes inside the reply; NULL = free */
    int map_index;         /* -1 when the map had no room for the node */
} id_entry;

typedef struct id_index {
    id_entry *entries;
    size_t mask;
    size_t masters_to_come;  /* masters of the reply not added yet (add_node) */
} id_index;

static int id_index_init(id_index *ix, size_t expected_nodes)
{
    size_t capacity = 16;
    while (capacity < expected_nodes * 2)
        capacity *= 2;
    ix->entries = calloc(capacity, sizeof *ix->entries);
    ix->mask = capacity - 1;
    ix->masters_to_come = 0;
    return ix->entries != NULL ? 0 : -1;
}

static void id_index_free(id_index *ix)
{
    free(ix->entries);
    ix->entries = NULL;
}

/* The entry for id: either the one holding it or the free one where it
 * belongs.  The table is at least twice the number of node entries in the
 * reply, so a free entry always exists. */
static id_entry *id_index_slot(id_index *ix, const char *id)
{
    size_t at = cshm_fnv1a32(id, NODE_ID_LEN) & ix->mask;
    while (ix->entries[at].id != NULL && memcmp(ix->entries[at].id, id, NODE_ID_LEN) != 0)
        at = (at + 1) & ix->mask;
    return &ix->entries[at];
}

/* ---- field readers ---------------------------------------------------- */

static int is_object(const cshm_resp *r)
{
    return (r->type == CSHM_RESP_ARRAY || r->type == CSHM_RESP_MAP) && r->count % 2 == 0;
}

/* The value of key in a RESP2 flat key/value array or a RESP3 map. */
static const cshm_resp *field(const cshm_resp *object, const char *key)
{
    for (size_t i = 0; i + 1 < object->count; i += 2)
        if (object->elements[i].type == CSHM_RESP_STRING && cshm_resp_is(&object->elements[i], key))
            return &object->elements[i + 1];
    return NULL;
}

static int valid_node_id(const cshm_resp *value)
{
    if (value == NULL || value->type != CSHM_RESP_STRING || value->len != NODE_ID_LEN)
        return 0;
    for (size_t i = 0; i < NODE_ID_LEN; i++) {
        char c = value->str[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

static int bad_node_id(const cshm_resp *value, char *error, size_t error_size)
{
    char shown[48];
    if (value == NULL)
        cshm_format_error(error, error_size, "a node has no id");
    else if (value->type != CSHM_RESP_STRING)
        cshm_format_error(error, error_size, "a node id is %s, not a string",
                  cshm_resp_type_name(value->type));
    else {
        cshm_resp_printable(shown, sizeof shown, value->str, value->len);
        cshm_format_error(error, error_size, "node id '%s' is not %d hex digits", shown, NODE_ID_LEN);
    }
    return -1;
}

/* host[0] = '\0' when the value is absent, nil, empty or "?" (unknown). */
/* Masters first: a map cut at max_nodes (until the segment grows) must lose
 * replicas, never a shard's master, whose slots would then have no node.
 * While masters of the reply are still to come, a replica takes an entry
 * only if it leaves room for all of them. */
static int add_node(cshm_map *map, id_index *ix, const char *id, const char *host, uint16_t port,
                    int is_master, int online)
{
    if (is_master) {
        if (ix->masters_to_come > 0)
            ix->masters_to_come--;
    } else if (map->counts->node_count + ix->masters_to_come >= map->shape.max_nodes) {
        map->counts->nodes_seen++;
        map->counts->flags |= CSHM_MAP_NODES_TRUNCATED;
        return -1;
    }
    return cshm_map_add_node(map, id, host, port, is_master, online);
}

/* Counts the distinct master ids of a reply into ix->masters_to_come, with
 * a scratch index; ids that are not valid are left to the real pass to
 * refuse. */
static int count_masters(id_index *ix, size_t node_estimate,
                         const cshm_resp *(*master_id)(const cshm_resp *entry, size_t i),
                         const cshm_resp *reply)
{
    id_index seen;
    if (id_index_init(&seen, node_estimate) != 0)
        return -1;
    for (size_t e = 0; e < reply->count; e++) {
        const cshm_resp *id;
        for (size_t i = 0; (id = master_id(&reply->elements[e], i)) != NULL; i++) {
            if (!valid_node_id(id))
                continue;
            id_entry *slot = id_index_slot(&seen, id->str);
            if (slot->id == NULL) {
                slot->id = id->str;
                ix->masters_to_come++;
            }
        }
    }
    id_index_free(&seen);
    return 0;
}

static int host_field(const cshm_resp *value, const char *what, char host[CSHM_HOST_MAX],
                      char *error, size_t error_size)
{
    host[0] = '\0';
    if (value == NULL || value->type == CSHM_RESP_NIL)
        return 0;
    if (value->type != CSHM_RESP_STRING) {
        cshm_format_error(error, error_size, "%s is %s, not a string", what,
                  cshm_resp_type_name(value->type));
        return -1;
    }
    if (value->len == 0 || (value->len == 1 && value->str[0] == '?'))
        return 0;
    if (value->len >= CSHM_HOST_MAX) {
        cshm_format_error(error, error_size, "%s is %zu bytes long (limit %d)", what, value->len,
                  CSHM_HOST_MAX - 1);
        return -1;
    }
    for (size_t i = 0; i < value->len; i++) {
        unsigned char c = (unsigned char)value->str[i];
        if (c <= 0x20 || c >= 0x7f) {
            char shown[64];
            cshm_resp_printable(shown, sizeof shown, value->str, value->len);
            cshm_format_error(error, error_size, "%s '%s' contains byte 0x%02x", what, shown, (unsigned)c);
            return -1;
        }
    }
    memcpy(host, value->str, value->len);
    host[value->len] = '\0';
    return 0;
}

/* *port = 0 when absent. */
static int port_field(const cshm_resp *value, const char *what, uint16_t *port, char *error,
                      size_t error_size)
{
    *port = 0;
    if (value == NULL)
        return 0;
    if (value->type != CSHM_RESP_INTEGER || value->integer < 0 || value->integer > 65535) {
        if (value->type == CSHM_RESP_INTEGER)
            cshm_format_error(error, error_size, "%s %lld out of range", what, (long long)value->integer);
        else
            cshm_format_error(error, error_size, "%s is %s, not an integer", what,
                      cshm_resp_type_name(value->type));
        return -1;
    }
    *port = (uint16_t)value->integer;
    return 0;
}

static int fallback_host(const cshm_redis_origin *origin, char host[CSHM_HOST_MAX], char *error,
                         size_t error_size)
{
    size_t len = origin->host != NULL ? strlen(origin->host) : 0;
    if (len == 0 || len >= CSHM_HOST_MAX) {
        cshm_format_error(error, error_size, "a node has no address and the answering address is unknown");
        return -1;
    }
    memcpy(host, origin->host, len + 1);
    return 0;
}

/* ---- slots ------------------------------------------------------------ */

typedef struct slot_claims {
    unsigned char taken[CSHM_REDIS_SLOTS / 8];
    uint32_t covered;
} slot_claims;

static int slot_bound(const cshm_resp *value, uint32_t *slot, char *error, size_t error_size)
{
    if (value->type != CSHM_RESP_INTEGER) {
        cshm_format_error(error, error_size, "a slot number is %s, not an integer",
                  cshm_resp_type_name(value->type));
        return -1;
    }
    if (value->integer < 0 || value->integer >= (int64_t)CSHM_REDIS_SLOTS) {
        cshm_format_error(error, error_size, "slot %lld out of range 0-%u", (long long)value->integer,
                  CSHM_REDIS_SLOTS - 1);
        return -1;
    }
    *slot = (uint32_t)value->integer;
    return 0;
}

/* Validate [first, last] and mark it taken; a slot claimed twice means the
 * reply contradicts itself. */
static int claim_range(slot_claims *claims, const cshm_resp *first_value,
                       const cshm_resp *last_value, uint32_t *first, uint32_t *last, char *error,
                       size_t error_size)
{
    if (slot_bound(first_value, first, error, error_size) != 0 ||
        slot_bound(last_value, last, error, error_size) != 0)
        return -1;
    if (*first > *last) {
        cshm_format_error(error, error_size, "slot range %u-%u ends before it starts", (unsigned)*first,
                  (unsigned)*last);
        return -1;
    }
    for (uint32_t slot = *first; slot <= *last; slot++) {
        unsigned char bit = (unsigned char)(1u << (slot % 8));
        if (claims->taken[slot / 8] & bit) {
            cshm_format_error(error, error_size, "slot %u is claimed twice", (unsigned)slot);
            return -1;
        }
        claims->taken[slot / 8] |= bit;
    }
    claims->covered += *last - *first + 1;
    return 0;
}

/* Owners of one slot range: master (or -1) and replicas in column order. */
typedef struct range_owners {
    int master;
    int replicas[MAX_REPLICA_COLUMNS];
    size_t replica_count;
} range_owners;

static void assign_range(cshm_map *map, uint32_t first, uint32_t last, const range_owners *owners)
{
    for (uint32_t slot = first; slot <= last; slot++) {
        if (owners->master >= 0)
            cshm_map_set_owner(map, 0, slot, 0, (uint16_t)owners->master);
        for (size_t r = 0; r < owners->replica_count; r++)
            cshm_map_set_owner(map, 0, slot, (uint32_t)r + 1, (uint16_t)owners->replicas[r]);
    }
}

static size_t replica_columns(const cshm_map *map)
{
    size_t columns = map->shape.columns > 0 ? map->shape.columns - 1 : 0;
    return columns < MAX_REPLICA_COLUMNS ? columns : MAX_REPLICA_COLUMNS;
}

/* ---- CLUSTER SHARDS ----------------------------------------------------- */

typedef struct shard_node {
    const char *id;
    char host[CSHM_HOST_MAX];
    uint16_t port;
    int is_master;
    int online;
} shard_node;

static int read_shard_node(const cshm_resp *node, const cshm_redis_origin *origin, shard_node *out,
                           char *error, size_t error_size)
{
    if (!is_object(node)) {
        cshm_format_error(error, error_size, "a node is %s of %zu elements, not a map",
                  cshm_resp_type_name(node->type), node->count);
        return -1;
    }
    const cshm_resp *id = field(node, "id");
    if (!valid_node_id(id))
        return bad_node_id(id, error, error_size);
    out->id = id->str;

    uint16_t port, tls_port;
    if (port_field(field(node, "port"), "port", &port, error, error_size) != 0 ||
        port_field(field(node, "tls-port"), "tls-port", &tls_port, error, error_size) != 0)
        return -1;
    /* The port of our kind of connection: a node lists tls-port only under
     * tls-cluster yes, and port only when it also listens in plain TCP. */
    out->port = origin->tls ? tls_port : port;
    if (out->port == 0 && port == 0 && tls_port == 0) {
        cshm_format_error(error, error_size, "node %.40s has neither port nor tls-port", out->id);
        return -1;
    }
    if (out->port == 0 && origin->tls) {
        cshm_format_error(error, error_size,
                          "node %.40s announces no tls-port (plain port %u): the cluster does "
                          "not run tls-cluster yes, so its TLS ports are unknown; set "
                          "tls-cluster yes on every node, or use redis://",
                          out->id, (unsigned)port);
        return -1;
    }
    if (out->port == 0) {
        cshm_format_error(error, error_size,
                          "node %.40s listens for TLS only (tls-port %u); use rediss:// and the "
                          "tls_* options",
                          out->id, (unsigned)tls_port);
        return -1;
    }

    /* The preferred endpoint, as Redis asks clients to use it: a name or
     * address as given; "" (cluster-preferred-endpoint-type
     * unknown-endpoint, or a node that does not know its address yet) means
     * the address we asked; "?" (hostname preferred but none announced) is
     * a misconfiguration, where the ip is the best guess. */
    const cshm_resp *endpoint_value = field(node, "endpoint");
    char endpoint[CSHM_HOST_MAX], ip[CSHM_HOST_MAX];
    if (host_field(endpoint_value, "endpoint", endpoint, error, error_size) != 0 ||
        host_field(field(node, "ip"), "ip", ip, error, error_size) != 0)
        return -1;
    int misconfigured = endpoint_value != NULL && cshm_resp_is(endpoint_value, "?");
    int no_endpoint_field = endpoint_value == NULL;
    if (endpoint[0] != '\0')
        memcpy(out->host, endpoint, strlen(endpoint) + 1);
    else if ((misconfigured || no_endpoint_field) && ip[0] != '\0')
        memcpy(out->host, ip, strlen(ip) + 1);
    else if (fallback_host(origin, out->host, error, error_size) != 0)
        return -1;

    const cshm_resp *role = field(node, "role");
    if (cshm_resp_is(role, "master"))
        out->is_master = 1;
    else if (cshm_resp_is(role, "replica") || cshm_resp_is(role, "slave"))
        out->is_master = 0;
    else {
        char shown[32] = "(none)";
        if (role != NULL && role->type == CSHM_RESP_STRING)
            cshm_resp_printable(shown, sizeof shown, role->str, role->len);
        cshm_format_error(error, error_size, "node %.40s has role '%s', not master or replica", out->id,
                  shown);
        return -1;
    }

    /* health arrived in 7.0 with SHARDS itself; absent means nothing known
     * against the node. */
    const cshm_resp *health = field(node, "health");
    if (health != NULL && health->type != CSHM_RESP_STRING) {
        cshm_format_error(error, error_size, "health of node %.40s is %s, not a string", out->id,
                  cshm_resp_type_name(health->type));
        return -1;
    }
    out->online = health == NULL || cshm_resp_is(health, "online");
    return 0;
}

static int read_shard(const cshm_resp *shard, const cshm_redis_origin *origin, cshm_map *map, id_index *ix,
                      slot_claims *claims, char *error, size_t error_size)
{
    if (!is_object(shard)) {
        cshm_format_error(error, error_size, "%s of %zu elements, not a map",
                  cshm_resp_type_name(shard->type), shard->count);
        return -1;
    }
    const cshm_resp *slots = field(shard, "slots");
    const cshm_resp *nodes = field(shard, "nodes");
    if (slots == NULL || slots->type != CSHM_RESP_ARRAY || slots->count % 2 != 0) {
        cshm_format_error(error, error_size, "no 'slots' list of start/end pairs");
        return -1;
    }
    if (nodes == NULL || nodes->type != CSHM_RESP_ARRAY) {
        cshm_format_error(error, error_size, "no 'nodes' list");
        return -1;
    }

    range_owners owners = {.master = -1, .replica_count = 0};
    int offline[MAX_REPLICA_COLUMNS];
    size_t offline_count = 0, replicas_seen = 0, room = replica_columns(map);
    int master_seen = 0;
    for (size_t i = 0; i < nodes->count; i++) {
        shard_node node;
        if (read_shard_node(&nodes->elements[i], origin, &node, error, error_size) != 0)
            return -1;
        id_entry *entry = id_index_slot(ix, node.id);
        if (entry->id != NULL) {
            cshm_format_error(error, error_size, "node %.40s is listed twice", node.id);
            return -1;
        }
        entry->id = node.id;
        entry->map_index = add_node(map, ix, node.id, node.host, node.port, node.is_master,
                                    node.online);
        int index = entry->map_index;
        /* The first master of a shard owns its slots (another master can
         * only be one that lost them and is still listed). */
        if (node.is_master) {
            if (!master_seen)
                owners.master = index;
            master_seen = 1;
            continue;
        }
        replicas_seen++;
        if (index < 0)
            continue;
        if (node.online && owners.replica_count < room)
            owners.replicas[owners.replica_count++] = index;
        else if (!node.online && offline_count < room)
            offline[offline_count++] = index;
    }
    /* Online replicas first: a reader asking for replica 1 gets a live one. */
    for (size_t i = 0; i < offline_count && owners.replica_count < room; i++)
        owners.replicas[owners.replica_count++] = offline[i];
    if (replicas_seen > room && slots->count > 0)
        map->counts->flags |= CSHM_MAP_REPLICAS_TRUNCATED;

    for (size_t i = 0; i < slots->count; i += 2) {
        uint32_t first, last;
        if (claim_range(claims, &slots->elements[i], &slots->elements[i + 1], &first, &last,
                        error, error_size) != 0)
            return -1;
        assign_range(map, first, last, &owners);
    }
    /* A real server lists a shard's master (failed or not) with its slots;
     * slots without one would only empty the map. */
    if (slots->count > 0 && !master_seen) {
        cshm_format_error(error, error_size, "slots listed but no master among its nodes");
        return -1;
    }
    return 0;
}

/* count_masters' view of a shard: for its i-th node, the id when the node is
 * a master, an empty value when not (skipped), NULL past the last node. */
static const cshm_resp *shard_master_id(const cshm_resp *shard, size_t i)
{
    static const cshm_resp not_a_master;
    const cshm_resp *nodes = is_object(shard) ? field(shard, "nodes") : NULL;
    if (nodes == NULL || nodes->type != CSHM_RESP_ARRAY || i >= nodes->count)
        return NULL;
    const cshm_resp *node = &nodes->elements[i];
    if (!is_object(node) || !cshm_resp_is(field(node, "role"), "master"))
        return &not_a_master;
    return field(node, "id") != NULL ? field(node, "id") : &not_a_master;
}

static size_t count_shard_nodes(const cshm_resp *reply)
{
    size_t total = 0;
    for (size_t i = 0; i < reply->count; i++) {
        const cshm_resp *shard = &reply->elements[i];
        const cshm_resp *nodes = is_object(shard) ? field(shard, "nodes") : NULL;
        if (nodes != NULL && nodes->type == CSHM_RESP_ARRAY)
            total += nodes->count;
    }
    return total;
}

static int no_coverage(char *error, size_t error_size, const char *command)
{
    cshm_format_error(error, error_size,
              "%s lists no slot owner: the node has not joined a cluster (or was reset)", command);
    return -1;
}

/* ---- CLUSTER SLOTS ------------------------------------------------------ */

/* One [ip, port, id, metadata] entry: *index is its map index (or -1). */
static int read_slots_node(const cshm_resp *node, const cshm_redis_origin *origin, int is_master,
                           cshm_map *map, id_index *ix, int *index, char *error, size_t error_size)
{
    if (node->type != CSHM_RESP_ARRAY || node->count < 2) {
        cshm_format_error(error, error_size, "a node is %s of %zu elements, not [ip, port, id, ...]",
                  cshm_resp_type_name(node->type), node->count);
        return -1;
    }
    if (node->count < 3) {
        cshm_format_error(error, error_size,
                  "a node has no id (servers before Redis 4.0 are not supported)");
        return -1;
    }
    const cshm_resp *id = &node->elements[2];
    if (!valid_node_id(id))
        return bad_node_id(id, error, error_size);
    char host[CSHM_HOST_MAX];
    uint16_t port;
    if (host_field(&node->elements[0], "ip", host, error, error_size) != 0 ||
        port_field(&node->elements[1], "port", &port, error, error_size) != 0)
        return -1;
    if (port == 0) {
        cshm_format_error(error, error_size, "node %.40s has port 0", id->str);
        return -1;
    }
    /* The preferred endpoint: nil (unknown-endpoint) and "" mean the
     * address we asked, with this port; "?" (hostname preferred but none
     * announced) falls back to the ip of the metadata map (7.0+).  Under
     * tls-cluster yes a TLS client is given the TLS port here, so the port
     * is right for either kind of connection. */
    if (host[0] == '\0' && cshm_resp_is(&node->elements[0], "?") && node->count >= 4 &&
        is_object(&node->elements[3]) &&
        host_field(field(&node->elements[3], "ip"), "ip", host, error, error_size) != 0)
        return -1;
    if (host[0] == '\0' && fallback_host(origin, host, error, error_size) != 0)
        return -1;

    id_entry *entry = id_index_slot(ix, id->str);
    if (entry->id == NULL) {
        entry->id = id->str;
        entry->map_index = add_node(map, ix, id->str, host, port, is_master, 1);
    } else if (is_master && entry->map_index >= 0) {
        map->nodes[entry->map_index].is_master = 1;
    }
    *index = entry->map_index;
    return 0;
}

static int read_slot_range(const cshm_resp *range, const cshm_redis_origin *origin, cshm_map *map,
                           id_index *ix, slot_claims *claims, char *error, size_t error_size)
{
    if (range->type != CSHM_RESP_ARRAY || range->count < 3) {
        cshm_format_error(error, error_size, "%s of %zu elements, not [start, end, master, ...]",
                  cshm_resp_type_name(range->type), range->count);
        return -1;
    }
    uint32_t first, last;
    if (claim_range(claims, &range->elements[0], &range->elements[1], &first, &last, error,
                    error_size) != 0)
        return -1;
    range_owners owners = {.master = -1, .replica_count = 0};
    if (read_slots_node(&range->elements[2], origin, 1, map, ix, &owners.master, error,
                        error_size) != 0)
        return -1;
    size_t room = replica_columns(map);
    for (size_t i = 3; i < range->count; i++) {
        int index;
        if (read_slots_node(&range->elements[i], origin, 0, map, ix, &index, error,
                            error_size) != 0)
            return -1;
        if (index >= 0 && owners.replica_count < room)
            owners.replicas[owners.replica_count++] = index;
    }
    if (range->count - 3 > room)
        map->counts->flags |= CSHM_MAP_REPLICAS_TRUNCATED;
    assign_range(map, first, last, &owners);
    return 0;
}

/* count_masters' view of a slot range: its one master's id. */
static const cshm_resp *slots_master_id(const cshm_resp *range, size_t i)
{
    static const cshm_resp not_a_master;
    if (i > 0)
        return NULL;
    if (range->type != CSHM_RESP_ARRAY || range->count < 3 ||
        range->elements[2].type != CSHM_RESP_ARRAY || range->elements[2].count < 3)
        return &not_a_master;
    return &range->elements[2].elements[2];
}

static size_t count_slots_nodes(const cshm_resp *reply)
{
    size_t total = 0;
    for (size_t i = 0; i < reply->count; i++)
        if (reply->elements[i].type == CSHM_RESP_ARRAY && reply->elements[i].count > 2)
            total += reply->elements[i].count - 2;
    return total;
}

/* The two replies differ only in how one entry (a shard, or a slot range)
 * reads; validation of the whole and the final checks are shared. */
typedef int (*entry_reader)(const cshm_resp *entry, const cshm_redis_origin *origin, cshm_map *map,
                            id_index *ix, slot_claims *claims, char *error, size_t error_size);

static int map_from_reply(const cshm_resp *reply, const cshm_redis_origin *origin, cshm_map *map,
                          const char *command, const char *entry_word, size_t node_estimate,
                          entry_reader read_entry,
                          const cshm_resp *(*master_id)(const cshm_resp *entry, size_t i),
                          char *error, size_t error_size)
{
    cshm_map_clear(map);
    if (reply->type != CSHM_RESP_ARRAY) {
        cshm_format_error(error, error_size, "%s answered %s, not an array", command,
                  cshm_resp_type_name(reply->type));
        return -1;
    }
    id_index ix;
    if (id_index_init(&ix, node_estimate) != 0 ||
        count_masters(&ix, node_estimate, master_id, reply) != 0) {
        id_index_free(&ix);
        cshm_format_error(error, error_size, "out of memory parsing %s", command);
        return -1;
    }
    slot_claims claims;
    memset(&claims, 0, sizeof claims);
    int rc = 0;
    for (size_t i = 0; i < reply->count && rc == 0; i++) {
        char detail[200];
        if (read_entry(&reply->elements[i], origin, map, &ix, &claims, detail,
                       sizeof detail) != 0) {
            cshm_format_error(error, error_size, "%s: %s %zu: %s", command, entry_word, i, detail);
            rc = -1;
        }
    }
    id_index_free(&ix);
    if (rc != 0)
        return -1;
    if (claims.covered == 0)
        return no_coverage(error, error_size, command);
    cshm_map_sort_nodes(map);
    return 0;
}

int cshm_redis_map_from_shards(const cshm_resp *reply, const cshm_redis_origin *origin, cshm_map *map,
                               char *error, size_t error_size)
{
    size_t estimate = reply->type == CSHM_RESP_ARRAY ? count_shard_nodes(reply) : 0;
    return map_from_reply(reply, origin, map, "CLUSTER SHARDS", "shard", estimate, read_shard,
                          shard_master_id, error, error_size);
}

int cshm_redis_map_from_slots(const cshm_resp *reply, const cshm_redis_origin *origin, cshm_map *map,
                              char *error, size_t error_size)
{
    size_t estimate = reply->type == CSHM_RESP_ARRAY ? count_slots_nodes(reply) : 0;
    return map_from_reply(reply, origin, map, "CLUSTER SLOTS", "entry", estimate,
                          read_slot_range, slots_master_id, error, error_size);
}
