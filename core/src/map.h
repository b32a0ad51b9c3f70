/*
 * map.h - a cluster map: nodes, namespaces and partition owners.
 *
 * The same byte layout ("payload") is used by the tender's private builder and
 * by every snapshot slot of the segment, so publishing is one bounded copy.
 * The payload is a sequence of fixed-size regions whose sizes follow from the
 * shape alone:
 *
 *   cshm_map_counts                 counts and flags
 *   cshm_map_node[max_nodes]        nodes, sorted by name, node_count used
 *   cshm_map_namespace[max_namespaces]
 *   uint16_t owners[max_namespaces][partitions][columns]   node index or CSHM_NO_NODE
 *   uint32_t regimes[max_namespaces][partitions]           only when has_regimes
 *   int32_t  racks[max_namespaces][max_nodes]              only when has_regimes:
 *                                                          the node's rack in that
 *                                                          namespace, CSHM_NO_RACK
 *                                                          when the cluster has none
 *
 * Every region is 8-byte aligned and a multiple of 8 bytes long.
 * Invariant kept by the builder functions: node_count <= max_nodes,
 * ns_count <= max_namespaces, every owner is CSHM_NO_NODE or < node_count.
 * Readers of a slot must still bounds-check every value (a slot is shared
 * memory: it can be corrupt); see snapshot.c.
 */
#ifndef CSHM_MAP_H
#define CSHM_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "clustershm.h"

#define CSHM_NO_NODE 0xFFFFu
#define CSHM_NO_RACK (-1)
/* Aerospike rack ids are 0..1000000 (server config rack-id). */
#define CSHM_RACK_MAX 1000000

/* flags */
#define CSHM_MAP_STALE 0x1u                /* the last tend reached no node */
#define CSHM_MAP_NODES_TRUNCATED 0x2u      /* more nodes than max_nodes */
#define CSHM_MAP_NAMESPACES_TRUNCATED 0x4u /* more namespaces than max_namespaces */
#define CSHM_MAP_REPLICAS_TRUNCATED 0x8u   /* more replicas than columns - 1 */
#define CSHM_MAP_EMPTY 0x10u               /* no tend has succeeded yet: nothing to route */

typedef struct cshm_map_shape {
    uint32_t partitions;      /* 16384 Redis, 4096 Aerospike */
    uint32_t max_nodes;       /* 1..CSHM_NO_NODE-1 */
    uint32_t max_namespaces;  /* Redis: 1 */
    uint32_t columns;         /* replica columns stored: master + replicas */
    uint32_t has_regimes;     /* Aerospike maps: strong-consistency regimes and racks */
} cshm_map_shape;

typedef struct cshm_map_counts {
    uint64_t generation;      /* set at publish: +1 when the map changed */
    uint64_t tended_at_ms;    /* unix ms of the last successful tend */
    uint32_t flags;
    uint32_t node_count;
    uint32_t nodes_seen;      /* nodes the cluster reported (>= node_count) */
    uint32_t ns_count;
    uint32_t ns_seen;
    uint32_t reserved;
} cshm_map_counts;

typedef struct cshm_map_node {
    char name[CSHM_NODE_NAME_MAX];
    char host[CSHM_HOST_MAX];
    uint16_t port;
    uint8_t active;
    uint8_t is_master;
    uint32_t reserved;
} cshm_map_node;

typedef struct cshm_map_namespace {
    char name[CSHM_NAMESPACE_MAX];
    uint32_t sc_mode;
    uint32_t columns_used;    /* replication factor seen, capped at columns */
} cshm_map_namespace;

/* A private, heap-allocated map (the tender's builder, or a reader's copy). */
typedef struct cshm_map {
    cshm_map_shape shape;
    unsigned char *payload;
    size_t payload_size;
    cshm_map_counts *counts;
    cshm_map_node *nodes;
    cshm_map_namespace *namespaces;
    uint16_t *owners;
    uint32_t *regimes;        /* NULL unless shape.has_regimes */
    int32_t *racks;           /* NULL unless shape.has_regimes */
} cshm_map;

/* Offsets of the regions inside a payload of this shape. */
typedef struct cshm_map_layout {
    size_t counts_offset, nodes_offset, namespaces_offset, owners_offset, regimes_offset,
        racks_offset;
    size_t size;
} cshm_map_layout;

/* Returns 0, or -1 when the shape is out of range or the size overflows. */
int cshm_map_layout_of(const cshm_map_shape *shape, cshm_map_layout *layout);

int cshm_map_init(cshm_map *map, const cshm_map_shape *shape);
void cshm_map_free(cshm_map *map);

/* Forget nodes, namespaces and owners (counts, generation and tended_at kept). */
void cshm_map_clear(cshm_map *map);
void cshm_map_copy(cshm_map *dst, const cshm_map *src);  /* same shape */
/* 1 when nodes, namespaces, owners, regimes or truncation flags differ. */
int cshm_map_differs(const cshm_map *a, const cshm_map *b);

/* Builder functions used by drivers.  add_node returns the node's index, or
 * -1 when max_nodes is reached (nodes_seen still counts it and the
 * NODES_TRUNCATED flag is set).  Names longer than the field are refused (-1)
 * rather than cut, so two nodes can never collapse into one. */
int cshm_map_add_node(cshm_map *map, const char *name, const char *host, uint16_t port,
                      int is_master, int active);
int cshm_map_find_node(const cshm_map *map, const char *name);
/* Returns the namespace index (created if new) or -1 when max_namespaces is reached. */
int cshm_map_add_namespace(cshm_map *map, const char *name);
void cshm_map_set_owner(cshm_map *map, uint32_t ns, uint32_t partition, uint32_t column,
                        uint16_t node_index);
uint16_t cshm_map_owner(const cshm_map *map, uint32_t ns, uint32_t partition, uint32_t column);
/* A node's rack in a namespace (maps with racks only; ignored otherwise). */
void cshm_map_set_rack(cshm_map *map, uint32_t ns, uint32_t node_index, int32_t rack);
int32_t cshm_map_rack(const cshm_map *map, uint32_t ns, uint32_t node_index);
/* Per node, how many partitions it holds in column 0 (masters) and in the
 * other columns (replicas), over every namespace; arrays of node_count. */
void cshm_map_count_partitions(const cshm_map *map, uint32_t *masters, uint32_t *replicas);
/* Sort nodes by name and renumber owners: makes equal clusters give equal
 * payloads, so change detection is a comparison. */
void cshm_map_sort_nodes(cshm_map *map);

#endif
