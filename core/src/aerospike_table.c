/*
 * aerospike_table.c - see aerospike_table.h.
 *
 * Invariant: a table is created only with all cells empty and regime 0, and
 * the only writers of cells are apply (claims, shrinks) and forget_node; so
 * every non-zero reference in a cell was set from a node's own claim.
 */
#include "aerospike_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cshm_as_tables_init(cshm_as_tables *t)
{
    memset(t, 0, sizeof *t);
}

void cshm_as_tables_free(cshm_as_tables *t)
{
    for (size_t i = 0; i < t->count; i++)
        free(t->tables[i]);
    memset(t, 0, sizeof *t);
}

static cshm_as_table *find_table(cshm_as_tables *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->tables[i]->name, name) == 0)
            return t->tables[i];
    return NULL;
}

/* Returns the table, creating it; NULL when full (dropped = 1) or out of
 * memory (dropped = 0). */
static cshm_as_table *find_or_create(cshm_as_tables *t, const char *name, int *dropped)
{
    *dropped = 0;
    cshm_as_table *table = find_table(t, name);
    if (table != NULL)
        return table;
    if (t->count == CSHM_AS_REPLICAS_NS_MAX) {
        *dropped = 1;
        return NULL;
    }
    table = calloc(1, sizeof *table);
    if (table == NULL)
        return NULL;
    snprintf(table->name, sizeof table->name, "%s", name);
    t->tables[t->count++] = table;
    return table;
}

static void apply_namespace(cshm_as_table *table, uint16_t ref, const cshm_as_replicas_ns *ns,
                            void (*displaced)(void *arg, uint16_t other), void *arg,
                            cshm_as_apply_result *result)
{
    table->sc_mode = ns->regime != 0;
    table->n_cols = ns->n_cols;
    uint32_t columns = ns->n_cols < CSHM_AS_COLUMNS ? ns->n_cols : CSHM_AS_COLUMNS;
    for (uint32_t p = 0; p < CSHM_AS_PARTITIONS; p++) {
        cshm_as_cell *cell = &table->cells[p];
        int claims = 0;
        for (uint32_t col = 0; col < columns; col++)
            claims |= cshm_as_bitmap_has(ns->bitmaps[col], p);
        int shrinks = 0;
        for (uint32_t col = columns; col < CSHM_AS_COLUMNS; col++)
            shrinks |= cell->nodes[col] == ref;
        if (!claims && !shrinks)
            continue;
        /* Regime 0 is AP: the last writer wins (and an SC namespace that was
         * recreated as AP is not stuck behind its old regimes). */
        if (ns->regime != 0 && ns->regime < cell->regime) {
            result->claims_ignored += (uint32_t)claims;
            continue;
        }
        cell->regime = ns->regime;
        for (uint32_t col = 0; col < columns; col++) {
            if (!cshm_as_bitmap_has(ns->bitmaps[col], p) || cell->nodes[col] == ref)
                continue;
            uint16_t before = cell->nodes[col];
            cell->nodes[col] = ref;
            result->claims_taken++;
            if (before != 0 && displaced != NULL)
                displaced(arg, before);
        }
        for (uint32_t col = columns; col < CSHM_AS_COLUMNS; col++)
            if (cell->nodes[col] == ref)
                cell->nodes[col] = 0;
    }
}

static void forget_in_table(cshm_as_table *table, uint16_t ref)
{
    for (uint32_t p = 0; p < CSHM_AS_PARTITIONS; p++)
        for (uint32_t col = 0; col < CSHM_AS_COLUMNS; col++)
            if (table->cells[p].nodes[col] == ref)
                table->cells[p].nodes[col] = 0;
}

int cshm_as_tables_apply(cshm_as_tables *t, uint16_t ref, const cshm_as_replicas *replicas,
                         void (*displaced)(void *arg, uint16_t other), void *arg,
                         cshm_as_apply_result *result)
{
    memset(result, 0, sizeof *result);
    int rc = 0;
    for (size_t i = 0; i < replicas->count; i++) {
        int dropped;
        cshm_as_table *table = find_or_create(t, replicas->ns[i].name, &dropped);
        if (table == NULL) {
            if (dropped)
                result->namespaces_dropped++;
            else
                rc = -1;
            continue;
        }
        apply_namespace(table, ref, &replicas->ns[i], displaced, arg, result);
    }
    /* Namespaces this node no longer lists keep none of its old claims. */
    for (size_t k = 0; k < t->count; k++) {
        int listed = 0;
        for (size_t i = 0; i < replicas->count && !listed; i++)
            listed = strcmp(replicas->ns[i].name, t->tables[k]->name) == 0;
        if (!listed)
            forget_in_table(t->tables[k], ref);
    }
    return rc;
}

void cshm_as_tables_forget_node(cshm_as_tables *t, uint16_t ref)
{
    for (size_t k = 0; k < t->count; k++)
        forget_in_table(t->tables[k], ref);
}

int cshm_as_table_has_owners(const cshm_as_table *table)
{
    for (uint32_t p = 0; p < CSHM_AS_PARTITIONS; p++)
        for (uint32_t col = 0; col < CSHM_AS_COLUMNS; col++)
            if (table->cells[p].nodes[col] != 0)
                return 1;
    return 0;
}

int cshm_as_tables_node_has_partitions(const cshm_as_tables *t, uint16_t ref)
{
    for (size_t k = 0; k < t->count; k++)
        for (uint32_t p = 0; p < CSHM_AS_PARTITIONS; p++)
            for (uint32_t col = 0; col < CSHM_AS_COLUMNS; col++)
                if (t->tables[k]->cells[p].nodes[col] == ref)
                    return 1;
    return 0;
}
