/*
 * aerospike_table.h - the Aerospike driver's partition tables: for every
 * namespace, every partition's owners in columns 0..2 and its regime, kept
 * across tends (a node's `replicas` is fetched only when its
 * partition-generation changes, so the tables are the memory of all claims).
 *
 * Owners are node references: a driver-chosen number 1..65535 (0 = none).
 * The driver guarantees a reference names one node for as long as any cell
 * holds it (it calls forget_node before reusing one).
 *
 * Rules (spec 4.3), applied only from a fully parsed value, never a partial
 * one:
 *  - a claim (bit set) with regime >= the partition's regime raises the
 *    regime and takes the cell; the node it displaces is reported so the
 *    driver can make it re-send its replicas; an older regime is ignored;
 *  - a 0 bit does not clear a cell: a partition nobody claims keeps its last
 *    owner, as the C client does;
 * and, beyond the C client, so that claims cannot outlive their source:
 *  - columns >= the node's n-cols lose this node (replication factor shrank);
 *  - namespaces the node no longer lists lose this node;
 *  - sc_mode follows the latest regime (not only the first one seen);
 *  - a regime-0 (AP) claim always wins and resets the cell's regime to 0,
 *    so a namespace re-created as AP is not stuck behind old SC regimes.
 */
#ifndef CSHM_AEROSPIKE_TABLE_H
#define CSHM_AEROSPIKE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "aerospike_parse.h"

typedef struct cshm_as_cell {
    uint16_t nodes[CSHM_AS_COLUMNS];
    uint32_t regime;
} cshm_as_cell;

typedef struct cshm_as_table {
    char name[CSHM_AS_NAMESPACE_MAX + 1];
    uint32_t sc_mode;
    uint32_t n_cols;          /* last reported replica count (1..255) */
    cshm_as_cell cells[CSHM_AS_PARTITIONS];
} cshm_as_table;

typedef struct cshm_as_tables {
    size_t count;
    cshm_as_table *tables[CSHM_AS_REPLICAS_NS_MAX];
} cshm_as_tables;

/* What one apply did. */
typedef struct cshm_as_apply_result {
    uint32_t claims_taken;     /* cells that changed owner */
    uint32_t claims_ignored;   /* claims under an older regime */
    uint32_t namespaces_dropped; /* namespaces over the table limit, not stored */
} cshm_as_apply_result;

void cshm_as_tables_init(cshm_as_tables *t);
void cshm_as_tables_free(cshm_as_tables *t);

/* Applies node `ref`'s parsed replicas.  displaced(arg, other_ref) is called
 * for every other node that lost a cell.  Returns 0, or -1 when memory ran
 * out (the tables are then unchanged for the namespace that failed). */
int cshm_as_tables_apply(cshm_as_tables *t, uint16_t ref, const cshm_as_replicas *replicas,
                         void (*displaced)(void *arg, uint16_t other), void *arg,
                         cshm_as_apply_result *result);

/* Clears every cell naming ref (regimes are kept). */
void cshm_as_tables_forget_node(cshm_as_tables *t, uint16_t ref);

/* 1 when some cell names ref. */
int cshm_as_tables_node_has_partitions(const cshm_as_tables *t, uint16_t ref);

/* 1 when some cell of table names any node. */
int cshm_as_table_has_owners(const cshm_as_table *table);

#endif
