/*
 * map.c - the payload layout and the builder functions of map.h.
 *
 * The layout is a pure function of the shape, computed with overflow checks,
 * so a reader can recompute it from a segment header and compare instead of
 * trusting offsets it finds in shared memory.
 */
#include "map.h"

#include <stdlib.h>
#include <string.h>

static size_t round8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

/* a * b, or 0 on overflow (no region of ours is legitimately empty). */
static size_t mul_checked(size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    return a * b;
}

int cshm_map_layout_of(const cshm_map_shape *s, cshm_map_layout *l)
{
    if (s->partitions < 1 || s->partitions > 16384 || s->max_nodes < 1 ||
        s->max_nodes >= CSHM_NO_NODE || s->max_namespaces < 1 || s->max_namespaces > 64 ||
        s->columns < 1 || s->columns > 8 || s->has_regimes > 1)
        return -1;
    size_t at = 0;
    l->counts_offset = at;
    at += round8(sizeof(cshm_map_counts));
    l->nodes_offset = at;
    at += round8(mul_checked(s->max_nodes, sizeof(cshm_map_node)));
    l->namespaces_offset = at;
    at += round8(mul_checked(s->max_namespaces, sizeof(cshm_map_namespace)));
    l->owners_offset = at;
    size_t cells = mul_checked(mul_checked(s->max_namespaces, s->partitions), s->columns);
    at += round8(mul_checked(cells, sizeof(uint16_t)));
    l->regimes_offset = at;
    if (s->has_regimes)
        at += round8(mul_checked(mul_checked(s->max_namespaces, s->partitions), sizeof(uint32_t)));
    l->racks_offset = at;
    if (s->has_regimes)
        at += round8(mul_checked(mul_checked(s->max_namespaces, s->max_nodes), sizeof(int32_t)));
    l->size = at;
    return 0;
}

static void bind_regions(cshm_map *m, const cshm_map_layout *l)
{
    m->counts = (cshm_map_counts *)(void *)(m->payload + l->counts_offset);
    m->nodes = (cshm_map_node *)(void *)(m->payload + l->nodes_offset);
    m->namespaces = (cshm_map_namespace *)(void *)(m->payload + l->namespaces_offset);
    m->owners = (uint16_t *)(void *)(m->payload + l->owners_offset);
    m->regimes = m->shape.has_regimes ? (uint32_t *)(void *)(m->payload + l->regimes_offset) : NULL;
    m->racks = m->shape.has_regimes ? (int32_t *)(void *)(m->payload + l->racks_offset) : NULL;
}

static size_t rack_cells(const cshm_map *m)
{
    return (size_t)m->shape.max_namespaces * m->shape.max_nodes;
}

int cshm_map_init(cshm_map *m, const cshm_map_shape *shape)
{
    cshm_map_layout l;
    memset(m, 0, sizeof *m);
    if (cshm_map_layout_of(shape, &l) != 0)
        return -1;
    m->payload = aligned_alloc(64, (l.size + 63u) & ~(size_t)63u);
    if (m->payload == NULL)
        return -1;
    memset(m->payload, 0, l.size);
    m->shape = *shape;
    m->payload_size = l.size;
    bind_regions(m, &l);
    cshm_map_clear(m);
    return 0;
}

void cshm_map_free(cshm_map *m)
{
    free(m->payload);
    memset(m, 0, sizeof *m);
}

static size_t owner_cells(const cshm_map *m)
{
    return (size_t)m->shape.max_namespaces * m->shape.partitions * m->shape.columns;
}

void cshm_map_clear(cshm_map *m)
{
    m->counts->flags = 0;
    m->counts->node_count = 0;
    m->counts->nodes_seen = 0;
    m->counts->ns_count = 0;
    m->counts->ns_seen = 0;
    memset(m->nodes, 0, (size_t)m->shape.max_nodes * sizeof *m->nodes);
    memset(m->namespaces, 0, (size_t)m->shape.max_namespaces * sizeof *m->namespaces);
    size_t cells = owner_cells(m);
    for (size_t i = 0; i < cells; i++)
        m->owners[i] = CSHM_NO_NODE;
    if (m->regimes != NULL)
        memset(m->regimes, 0, (size_t)m->shape.max_namespaces * m->shape.partitions * sizeof(uint32_t));
    if (m->racks != NULL)
        for (size_t i = 0; i < rack_cells(m); i++)
            m->racks[i] = CSHM_NO_RACK;
}

void cshm_map_copy(cshm_map *dst, const cshm_map *src)
{
    memcpy(dst->payload, src->payload, src->payload_size);
}

int cshm_map_differs(const cshm_map *a, const cshm_map *b)
{
    const uint32_t structural = CSHM_MAP_NODES_TRUNCATED | CSHM_MAP_NAMESPACES_TRUNCATED |
                                CSHM_MAP_REPLICAS_TRUNCATED;
    if (a->counts->node_count != b->counts->node_count ||
        a->counts->nodes_seen != b->counts->nodes_seen ||
        a->counts->ns_count != b->counts->ns_count || a->counts->ns_seen != b->counts->ns_seen ||
        (a->counts->flags & structural) != (b->counts->flags & structural))
        return 1;
    /* Everything after the counts block is compared byte for byte: the
     * builder zeroes unused entries, so equal maps have equal bytes. */
    size_t after_counts = (size_t)((unsigned char *)a->nodes - a->payload);
    return memcmp(a->payload + after_counts, b->payload + after_counts,
                  a->payload_size - after_counts) != 0;
}

int cshm_map_add_node(cshm_map *m, const char *name, const char *host, uint16_t port,
                      int is_master, int active)
{
    size_t name_len = strlen(name), host_len = strlen(host);
    m->counts->nodes_seen++;
    if (name_len == 0 || name_len >= CSHM_NODE_NAME_MAX || host_len == 0 ||
        host_len >= CSHM_HOST_MAX)
        return -1;
    if (m->counts->node_count >= m->shape.max_nodes) {
        m->counts->flags |= CSHM_MAP_NODES_TRUNCATED;
        return -1;
    }
    cshm_map_node *n = &m->nodes[m->counts->node_count];
    memset(n, 0, sizeof *n);
    memcpy(n->name, name, name_len);
    memcpy(n->host, host, host_len);
    n->port = port;
    n->is_master = is_master ? 1 : 0;
    n->active = active ? 1 : 0;
    return (int)m->counts->node_count++;
}

int cshm_map_find_node(const cshm_map *m, const char *name)
{
    for (uint32_t i = 0; i < m->counts->node_count; i++)
        if (strncmp(m->nodes[i].name, name, CSHM_NODE_NAME_MAX) == 0)
            return (int)i;
    return -1;
}

int cshm_map_add_namespace(cshm_map *m, const char *name)
{
    size_t len = strlen(name);
    for (uint32_t i = 0; i < m->counts->ns_count; i++)
        if (strncmp(m->namespaces[i].name, name, CSHM_NAMESPACE_MAX) == 0)
            return (int)i;
    m->counts->ns_seen++;
    if (len == 0 || len >= CSHM_NAMESPACE_MAX)
        return -1;
    if (m->counts->ns_count >= m->shape.max_namespaces) {
        m->counts->flags |= CSHM_MAP_NAMESPACES_TRUNCATED;
        return -1;
    }
    cshm_map_namespace *ns = &m->namespaces[m->counts->ns_count];
    memset(ns, 0, sizeof *ns);
    memcpy(ns->name, name, len);
    return (int)m->counts->ns_count++;
}

static size_t owner_index(const cshm_map *m, uint32_t ns, uint32_t partition, uint32_t column)
{
    return ((size_t)ns * m->shape.partitions + partition) * m->shape.columns + column;
}

void cshm_map_set_owner(cshm_map *m, uint32_t ns, uint32_t partition, uint32_t column,
                        uint16_t node_index)
{
    if (ns < m->shape.max_namespaces && partition < m->shape.partitions &&
        column < m->shape.columns)
        m->owners[owner_index(m, ns, partition, column)] = node_index;
}

uint16_t cshm_map_owner(const cshm_map *m, uint32_t ns, uint32_t partition, uint32_t column)
{
    if (ns < m->shape.max_namespaces && partition < m->shape.partitions &&
        column < m->shape.columns)
        return m->owners[owner_index(m, ns, partition, column)];
    return CSHM_NO_NODE;
}

void cshm_map_set_rack(cshm_map *m, uint32_t ns, uint32_t node_index, int32_t rack)
{
    if (m->racks != NULL && ns < m->shape.max_namespaces && node_index < m->shape.max_nodes)
        m->racks[(size_t)ns * m->shape.max_nodes + node_index] = rack;
}

int32_t cshm_map_rack(const cshm_map *m, uint32_t ns, uint32_t node_index)
{
    if (m->racks != NULL && ns < m->shape.max_namespaces && node_index < m->shape.max_nodes)
        return m->racks[(size_t)ns * m->shape.max_nodes + node_index];
    return CSHM_NO_RACK;
}

void cshm_map_count_partitions(const cshm_map *m, uint32_t *masters, uint32_t *replicas)
{
    uint32_t n = m->counts->node_count < m->shape.max_nodes ? m->counts->node_count
                                                            : m->shape.max_nodes;
    memset(masters, 0, n * sizeof *masters);
    memset(replicas, 0, n * sizeof *replicas);
    /* Every namespace row: unused rows hold CSHM_NO_NODE, and Redis keeps
     * its one table in row 0 without naming a namespace. */
    for (uint32_t ns = 0; ns < m->shape.max_namespaces; ns++)
        for (uint32_t p = 0; p < m->shape.partitions; p++)
            for (uint32_t col = 0; col < m->shape.columns; col++) {
                uint16_t owner = m->owners[owner_index(m, ns, p, col)];
                if (owner >= n)
                    continue;
                if (col == 0)
                    masters[owner]++;
                else
                    replicas[owner]++;
            }
}

static int compare_node_names(const void *a, const void *b)
{
    const cshm_map_node *x = a, *y = b;
    return strncmp(x->name, y->name, CSHM_NODE_NAME_MAX);
}

void cshm_map_sort_nodes(cshm_map *m)
{
    uint32_t n = m->counts->node_count;
    if (n < 2)
        return;
    cshm_map_node *sorted = malloc(n * sizeof *sorted);
    uint16_t *renumber = malloc(n * sizeof *renumber);
    int32_t *racks = m->racks != NULL ? malloc(n * sizeof *racks) : NULL;
    if (sorted == NULL || renumber == NULL || (m->racks != NULL && racks == NULL)) {
        /* Unsorted is still a correct map; only change detection may see a
         * spurious change. */
        free(sorted);
        free(renumber);
        free(racks);
        return;
    }
    /* Each copy carries its old index in `reserved` while it is sorted. */
    memcpy(sorted, m->nodes, n * sizeof *sorted);
    for (uint32_t i = 0; i < n; i++)
        sorted[i].reserved = i;
    qsort(sorted, n, sizeof *sorted, compare_node_names);
    for (uint32_t i = 0; i < n; i++) {
        renumber[sorted[i].reserved] = (uint16_t)i;
        sorted[i].reserved = 0;
    }
    memcpy(m->nodes, sorted, n * sizeof *sorted);
    size_t cells = owner_cells(m);
    for (size_t i = 0; i < cells; i++)
        if (m->owners[i] < n)
            m->owners[i] = renumber[m->owners[i]];
    /* Racks are per (namespace, node index): they move with the nodes. */
    for (uint32_t ns = 0; racks != NULL && ns < m->shape.max_namespaces; ns++) {
        int32_t *row = m->racks + (size_t)ns * m->shape.max_nodes;
        for (uint32_t i = 0; i < n; i++)
            racks[renumber[i]] = row[i];
        memcpy(row, racks, n * sizeof *racks);
    }
    free(sorted);
    free(renumber);
    free(racks);
}
