/*
 * redis_topology.h - a Redis Cluster map from a CLUSTER SHARDS or CLUSTER
 * SLOTS reply, without any network (the driver does the I/O).
 *
 * Map shape expected: 16384 partitions, namespace 0 only, column 0 the
 * master of a slot and columns 1.. its replicas (online ones first).
 *
 * Invariants: both functions clear the map first and on success leave a
 * complete map with nodes sorted by name.  On failure they return -1 with a
 * message and the map holds a partial result: callers build into a scratch
 * map and copy it over the real one only on success.  Every value from the
 * reply is checked (types, slot ranges, ports, node ids, host characters)
 * before it is used; a reply that covers no slot at all is refused, so a node
 * that has not joined (or left) the cluster cannot wipe a good map.
 */
#ifndef CSHM_REDIS_TOPOLOGY_H
#define CSHM_REDIS_TOPOLOGY_H

#include <stddef.h>

#include "map.h"
#include "resp.h"

#define CSHM_REDIS_SLOTS 16384u

/* Where a reply came from: host is the address we asked, which is where
 * nodes with an unknown endpoint live (Redis: "the same endpoint it used to
 * send the command"); tls says which port a node is reached on (tls-port or
 * port in CLUSTER SHARDS). */
typedef struct cshm_redis_origin {
    const char *host;
    int tls;
} cshm_redis_origin;

int cshm_redis_map_from_shards(const cshm_resp *reply, const cshm_redis_origin *origin,
                               cshm_map *map, char *error, size_t error_size);
int cshm_redis_map_from_slots(const cshm_resp *reply, const cshm_redis_origin *origin,
                              cshm_map *map, char *error, size_t error_size);

#endif
