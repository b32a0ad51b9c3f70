/*
 * snapshot.c - see snapshot.h for the protocol.
 *
 * Memory ordering follows the classic seqlock: the writer makes seq odd,
 * issues a release fence, writes the payload, then stores seq+2 with release;
 * the reader loads seq with acquire, reads, issues an acquire fence and
 * reloads seq.  Equal even values mean the reader saw one whole payload.
 */
#include "snapshot.h"

#include <sched.h>
#include <string.h>

#include "error.h"

/* A reader retries this often before calling the segment unusable; a
 * healthy tender rewrites a given slot at most once per tend interval, so
 * even a few retries mean something is badly wrong. */
#define READ_ATTEMPTS 10000

void cshm_shm_store_words(void *dst, const void *src, size_t n)
{
    uint64_t *d = dst;
    const uint64_t *s = src;
    for (size_t i = 0; i < n / 8; i++)
        __atomic_store_n(&d[i], s[i], __ATOMIC_RELAXED);
}

void cshm_shm_load_words(void *dst, const void *src, size_t n)
{
    uint64_t *d = dst;
    const uint64_t *s = src;
    for (size_t i = 0; i < n / 8; i++)
        d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

/* Like cshm_shm_load_words for a NUL-terminated string: stops after the
 * word that holds the terminator (host names are short; the field is 256). */
static void load_string_words(char *dst, const char *src, size_t n)
{
    uint64_t *d = (uint64_t *)(void *)dst;
    const uint64_t *s = (const uint64_t *)(const void *)src;
    for (size_t i = 0; i < n / 8; i++) {
        uint64_t word = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
        d[i] = word;
        /* Any zero byte in the word (the classic has-zero-byte test). */
        if (((word - 0x0101010101010101ull) & ~word & 0x8080808080808080ull) != 0)
            return;
    }
}

/* A record copied out of shared memory: make every string safe to print
 * and every count safe to index with. */
static void terminate_record(cshm_tend_record *r)
{
    r->last_error[sizeof r->last_error - 1] = '\0';
    if (r->step_down_count > CSHM_STEP_DOWN_HISTORY)
        r->step_down_count = CSHM_STEP_DOWN_HISTORY;
    for (uint32_t i = 0; i < CSHM_STEP_DOWN_HISTORY; i++)
        r->step_down_history[i].reason[sizeof r->step_down_history[i].reason - 1] = '\0';
}

static uint64_t load_state(const cshm_segment *seg)
{
    return __atomic_load_n(&seg->header->state, __ATOMIC_ACQUIRE);
}

int64_t cshm_snapshot_published_epoch(const cshm_segment *seg)
{
    uint32_t slot_plus_one = cshm_state_slot_plus_one(load_state(seg));
    if (slot_plus_one == 0 || slot_plus_one > CSHM_SLOTS)
        return -1;
    return (int64_t)__atomic_load_n(&cshm_segment_slot(seg, slot_plus_one - 1)->epoch,
                                    __ATOMIC_ACQUIRE);
}

/* Take a slot for writing: not the published one, lock free, and not written
 * by a newer epoch.  Returns the slot index, -1 when none is free, or -2
 * when a newer tender has been at work (we lost). */
static int claim_slot(cshm_segment *seg, cshm_robust_owner *owner, uint32_t epoch,
                      uint32_t published)
{
    cshm_seg_header *h = seg->header;
    /* Start after the published slot: the slot published longest ago is the
     * least likely to still be read. */
    for (uint32_t k = 1; k <= CSHM_SLOTS; k++) {
        uint32_t i = (published + k) % CSHM_SLOTS;
        if (i == published)
            continue;
        if (cshm_robust_trylock(owner, &h->slot_locks[i]) == CSHM_LOCK_BUSY)
            continue;
        uint32_t writer = __atomic_load_n(&h->slot_writer_epoch[i], __ATOMIC_ACQUIRE);
        if (writer > epoch) {
            /* A newer epoch wrote it, so we lost, unless the state word
             * still names us: then the word was scribbled (no epoch beyond
             * the state's can have written), and the slot is ours to take. */
            uint32_t current = cshm_state_epoch(__atomic_load_n(&h->state, __ATOMIC_ACQUIRE));
            if (current != epoch || writer <= current) {
                cshm_robust_unlock(owner, &h->slot_locks[i]);
                return -2;
            }
        }
        __atomic_store_n(&h->slot_writer_epoch[i], epoch, __ATOMIC_RELEASE);
        return (int)i;
    }
    return -1;
}

int cshm_snapshot_publish(cshm_segment *seg, cshm_robust_owner *owner, uint32_t epoch,
                          const cshm_tend_record *record, const cshm_map *map)
{
    cshm_seg_header *h = seg->header;
    uint64_t state = load_state(seg);
    if (cshm_state_epoch(state) != epoch)
        return CSHM_PUBLISH_LOST;
    uint32_t slot_plus_one = cshm_state_slot_plus_one(state);
    /* With nothing published (or a scribbled index), any slot will do;
     * CSHM_SLOTS never matches. */
    uint32_t published =
        slot_plus_one == 0 || slot_plus_one > CSHM_SLOTS ? CSHM_SLOTS : slot_plus_one - 1;
    int slot = claim_slot(seg, owner, epoch, published);
    if (slot < 0)
        return slot == -2 ? CSHM_PUBLISH_LOST : CSHM_PUBLISH_NO_SLOT;

    /* The checksum is computed from our private copy, before the slot is
     * touched: what it vouches for is what we meant to publish. */
    cshm_tend_record stamped = *record;
    stamped.payload_checksum = cshm_payload_checksum(map->payload, map->payload_size);

    cshm_slot_head *head = cshm_segment_slot(seg, (uint32_t)slot);
    uint64_t seq = __atomic_load_n(&head->seq, __ATOMIC_RELAXED);
    if (seq & 1)
        seq++; /* a writer died mid-write: its odd value is void */
    __atomic_store_n(&head->seq, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&head->epoch, epoch, __ATOMIC_RELAXED);
    cshm_shm_store_words(cshm_segment_record(seg, (uint32_t)slot), &stamped, sizeof stamped);
    cshm_shm_store_words(cshm_segment_payload(seg, (uint32_t)slot), map->payload,
                         map->payload_size);
    __atomic_store_n(&head->seq, seq + 2, __ATOMIC_RELEASE);

    uint64_t desired = cshm_state_make(epoch, cshm_state_lock(state), (uint32_t)slot + 1);
    int ok = __atomic_compare_exchange_n(&h->state, &state, desired, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE);
    cshm_robust_unlock(owner, &h->slot_locks[slot]);
    if (!ok)
        return CSHM_PUBLISH_LOST;
    /* A wake is not a write: readers waiting for a map sleep on the state
     * word's low half, which the compare-and-swap just changed. */
    cshm_futex_wake_all(cshm_state_futex(h));
    return CSHM_PUBLISH_OK;
}

/* Copy the published record (when record is not NULL) and the first
 * `length` bytes of the published payload, consistently, with the
 * record's payload checksum (when checksum_out is not NULL) and the slot
 * they came from (when slot_out is not NULL).  Returns 0, 1 when nothing
 * is published, or a negative cshm_code. */
static int read_published(const cshm_segment *seg, cshm_tend_record *record, void *dst,
                          size_t length, uint64_t *epoch_out, uint64_t *checksum_out,
                          uint32_t *slot_out, cshm_error *error)
{
    for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
        uint32_t slot_plus_one = cshm_state_slot_plus_one(load_state(seg));
        if (slot_plus_one == 0)
            return 1;
        if (slot_plus_one > CSHM_SLOTS)
            return cshm_fail(error, CSHM_ERR_SEGMENT,
                             "corrupt segment at key 0x%08x: published slot %u out of range",
                             (unsigned)seg->key, (unsigned)slot_plus_one);
        const cshm_slot_head *head = cshm_segment_slot(seg, slot_plus_one - 1);
        uint64_t seq = __atomic_load_n(&head->seq, __ATOMIC_ACQUIRE);
        if (seq & 1) {
            sched_yield();
            continue;
        }
        uint64_t epoch = __atomic_load_n(&head->epoch, __ATOMIC_RELAXED);
        const cshm_tend_record *shared = cshm_segment_record(seg, slot_plus_one - 1);
        if (record != NULL)
            cshm_shm_load_words(record, shared, sizeof *record);
        uint64_t checksum = __atomic_load_n(&shared->payload_checksum, __ATOMIC_RELAXED);
        cshm_shm_load_words(dst, cshm_segment_payload(seg, slot_plus_one - 1), length);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&head->seq, __ATOMIC_RELAXED) != seq)
            continue;
        if (epoch_out != NULL)
            *epoch_out = epoch;
        if (checksum_out != NULL)
            *checksum_out = checksum;
        if (slot_out != NULL)
            *slot_out = slot_plus_one - 1;
        if (record != NULL)
            terminate_record(record);
        return 0;
    }
    return cshm_fail(error, CSHM_ERR_TIMEOUT,
                     "the map in segment 0x%08x changed during %d consecutive reads",
                     (unsigned)seg->key, READ_ATTEMPTS);
}

static int check_counts(const cshm_segment *seg, const cshm_map_counts *c, cshm_error *error)
{
    if (c->node_count > seg->shape.max_nodes || c->ns_count > seg->shape.max_namespaces)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "corrupt segment at key 0x%08x: %u nodes / %u namespaces in a map "
                         "sized for %u / %u",
                         (unsigned)seg->key, (unsigned)c->node_count, (unsigned)c->ns_count,
                         (unsigned)seg->shape.max_nodes, (unsigned)seg->shape.max_namespaces);
    return 0;
}

uint64_t cshm_payload_checksum(const void *payload, size_t size)
{
    const uint64_t *word = payload;
    uint64_t h = 0xcbf29ce484222325ull;            /* FNV-1a-64 offset basis */
    for (size_t i = 0; i < size / 8; i++) {
        h = (h ^ word[i]) * 0x100000001b3ull;      /* FNV-1a-64 prime */
        h = (h << 31) | (h >> 33);
    }
    return h;
}

static int checksum_mismatch(const cshm_segment *seg, uint32_t slot, uint64_t epoch,
                             uint64_t stored, uint64_t computed, cshm_error *error)
{
    return cshm_fail(error, CSHM_ERR_SEGMENT,
                     "corrupt snapshot in segment 0x%08x: checksum mismatch in slot %u "
                     "(epoch %llu): the payload hashes to %016llx, its record says %016llx",
                     (unsigned)seg->key, (unsigned)slot, (unsigned long long)epoch,
                     (unsigned long long)computed, (unsigned long long)stored);
}

/* A consistent copy of the published map, made safe to use; with
 * check_sum, also checked against the checksum its record carries. */
static int read_map(const cshm_segment *seg, cshm_map *out, cshm_tend_record *record,
                    uint64_t *epoch_out, int check_sum, cshm_error *error)
{
    uint64_t checksum = 0, epoch = 0;
    uint32_t slot = 0;
    int rc = read_published(seg, record, out->payload, out->payload_size, &epoch, &checksum,
                            &slot, error);
    if (rc != 0)
        return rc;
    if (epoch_out != NULL)
        *epoch_out = epoch;
    /* A consistent copy; now make it safe to use.  The counts first: a
     * count out of range is named as such, which says more than a checksum
     * that does not match. */
    if (check_counts(seg, out->counts, error) != 0)
        return CSHM_ERR_SEGMENT;
    if (check_sum) {
        uint64_t computed = cshm_payload_checksum(out->payload, out->payload_size);
        if (computed != checksum)
            return checksum_mismatch(seg, slot, epoch, checksum, computed, error);
    }
    for (uint32_t i = 0; i < out->shape.max_nodes; i++) {
        out->nodes[i].name[CSHM_NODE_NAME_MAX - 1] = '\0';
        out->nodes[i].host[CSHM_HOST_MAX - 1] = '\0';
    }
    for (uint32_t i = 0; i < out->shape.max_namespaces; i++)
        out->namespaces[i].name[CSHM_NAMESPACE_MAX - 1] = '\0';
    return 0;
}

int cshm_snapshot_read(const cshm_segment *seg, cshm_map *out, cshm_tend_record *record,
                       uint64_t *epoch_out, cshm_error *error)
{
#ifdef NDEBUG
    return read_map(seg, out, record, epoch_out, 0, error);
#else
    /* A debugging net under the seqlock: a consistent copy must be one
     * whole snapshot. */
    return read_map(seg, out, record, epoch_out, 1, error);
#endif
}

int cshm_snapshot_read_unverified(const cshm_segment *seg, cshm_map *out,
                                  cshm_tend_record *record, uint64_t *epoch_out,
                                  cshm_error *error)
{
    return read_map(seg, out, record, epoch_out, 0, error);
}

int cshm_snapshot_read_counts(const cshm_segment *seg, cshm_map_counts *out,
                              cshm_tend_record *record, cshm_error *error)
{
    _Static_assert(sizeof(cshm_map_counts) % 8 == 0, "counts are copied as words");
    _Static_assert(sizeof(cshm_tend_record) % 8 == 0, "records are copied as words");
    int rc = read_published(seg, record, out, sizeof *out, NULL, NULL, NULL, error);
    if (rc != 0)
        return rc;
    return check_counts(seg, out, error) != 0 ? CSHM_ERR_SEGMENT : 0;
}

int cshm_snapshot_forward(const cshm_segment *seg, cshm_forward *out)
{
    cshm_tend_record record;
    cshm_map_counts counts;
    memset(out, 0, sizeof *out);
    if (read_published(seg, &record, &counts, sizeof counts, NULL, NULL, NULL, NULL) != 0)
        return 0;
    if (record.forward.key == 0)
        return 0;
    *out = record.forward;
    return 1;
}

int cshm_snapshot_verify(const cshm_segment *seg, cshm_map *scratch, cshm_error *error)
{
    uint64_t checksum = 0, epoch = 0;
    uint32_t slot = 0;
    int rc = read_published(seg, NULL, scratch->payload, scratch->payload_size, &epoch,
                            &checksum, &slot, error);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    uint64_t computed = cshm_payload_checksum(scratch->payload, scratch->payload_size);
    if (computed != checksum)
        return checksum_mismatch(seg, slot, epoch, checksum, computed, error);
    const cshm_map_counts *c = scratch->counts;
    if (c->node_count > seg->shape.max_nodes || c->ns_count > seg->shape.max_namespaces ||
        c->node_count > c->nodes_seen || c->ns_count > c->ns_seen)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "corrupt snapshot in segment 0x%08x (slot %u, epoch %llu): counts out "
                         "of range: %u of %u nodes seen, %u of %u namespaces seen, in a map "
                         "sized for %u / %u",
                         (unsigned)seg->key, (unsigned)slot, (unsigned long long)epoch,
                         (unsigned)c->node_count, (unsigned)c->nodes_seen, (unsigned)c->ns_count,
                         (unsigned)c->ns_seen, (unsigned)seg->shape.max_nodes,
                         (unsigned)seg->shape.max_namespaces);
    /* Every owner row, used or not: the builder fills unused cells with
     * CSHM_NO_NODE, and Redis keeps its table in row 0 without a namespace. */
    size_t cells = (size_t)seg->shape.max_namespaces * seg->shape.partitions * seg->shape.columns;
    for (size_t i = 0; i < cells; i++) {
        uint16_t owner = scratch->owners[i];
        if (owner != CSHM_NO_NODE && owner >= c->node_count) {
            size_t per_ns = (size_t)seg->shape.partitions * seg->shape.columns;
            return cshm_fail(error, CSHM_ERR_SEGMENT,
                             "corrupt snapshot in segment 0x%08x (slot %u, epoch %llu): owner "
                             "index past node_count: namespace %zu partition %zu column %zu "
                             "names node %u of %u",
                             (unsigned)seg->key, (unsigned)slot, (unsigned long long)epoch,
                             i / per_ns, (i % per_ns) / seg->shape.columns,
                             i % seg->shape.columns, (unsigned)owner,
                             (unsigned)c->node_count);
        }
    }
    return 0;
}

static int namespace_index(const unsigned char *payload, const cshm_segment *seg,
                           uint32_t ns_count, const char *ns_name)
{
    const cshm_map_namespace *names =
        (const cshm_map_namespace *)(const void *)(payload + seg->layout.namespaces_offset);
    for (uint32_t i = 0; i < ns_count; i++) {
        char name[CSHM_NAMESPACE_MAX];
        cshm_shm_load_words(name, names[i].name, sizeof name);
        if (strncmp(name, ns_name, sizeof name) == 0)
            return (int)i;
    }
    return -1;
}

/* prefer_rack: the column of the first active owner on `rack` in namespace
 * ns, else 0.  Reads inside the caller's seqlock window; every owner index is
 * bounded by node_count and max_nodes before it indexes nodes or racks. */
static uint32_t rack_column(const cshm_segment *seg, const unsigned char *payload, int ns,
                            uint32_t partition, uint32_t node_count, int32_t rack)
{
    const cshm_map_shape *shape = &seg->shape;
    if (!shape->has_regimes || ns < 0)
        return 0;
    const uint16_t *owners = (const uint16_t *)(const void *)(payload + seg->layout.owners_offset);
    const cshm_map_node *nodes =
        (const cshm_map_node *)(const void *)(payload + seg->layout.nodes_offset);
    const int32_t *racks = (const int32_t *)(const void *)(payload + seg->layout.racks_offset);
    for (uint32_t col = 0; col < shape->columns; col++) {
        uint16_t owner = __atomic_load_n(
            &owners[((size_t)ns * shape->partitions + partition) * shape->columns + col],
            __ATOMIC_RELAXED);
        if (owner >= node_count || owner >= shape->max_nodes)
            continue;
        if (__atomic_load_n(&racks[(size_t)ns * shape->max_nodes + owner], __ATOMIC_RELAXED) ==
                rack &&
            __atomic_load_n(&nodes[owner].active, __ATOMIC_RELAXED))
            return col;
    }
    return 0;
}

int cshm_snapshot_route(const cshm_segment *seg, const char *ns_name, uint32_t partition,
                        uint32_t column, int32_t rack_id, cshm_route_result *result,
                        cshm_error *error)
{
    const cshm_map_shape *shape = &seg->shape;
    if (partition >= shape->partitions || column >= shape->columns)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "replica %u out of range: this map stores the master and %u replicas",
                         (unsigned)column, (unsigned)shape->columns - 1);
    for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
        uint32_t slot_plus_one = cshm_state_slot_plus_one(load_state(seg));
        if (slot_plus_one == 0 || slot_plus_one > CSHM_SLOTS)
            return cshm_fail(error, slot_plus_one == 0 ? CSHM_ERR_STATE : CSHM_ERR_SEGMENT,
                             slot_plus_one == 0 ? "no cluster map is published yet"
                                                : "corrupt segment: published slot out of range");
        const cshm_slot_head *head = cshm_segment_slot(seg, slot_plus_one - 1);
        const unsigned char *payload = cshm_segment_payload(seg, slot_plus_one - 1);
        uint64_t seq = __atomic_load_n(&head->seq, __ATOMIC_ACQUIRE);
        if (seq & 1) {
            sched_yield();
            continue;
        }
        const cshm_map_counts *counts =
            (const cshm_map_counts *)(const void *)(payload + seg->layout.counts_offset);
        uint32_t node_count = __atomic_load_n(&counts->node_count, __ATOMIC_RELAXED);
        uint32_t flags = __atomic_load_n(&counts->flags, __ATOMIC_RELAXED);
        uint32_t ns_count = __atomic_load_n(&counts->ns_count, __ATOMIC_RELAXED);
        int ns = 0;
        if (ns_name != NULL)
            ns = namespace_index(payload, seg, ns_count < shape->max_namespaces
                                                   ? ns_count : shape->max_namespaces, ns_name);
        const uint16_t *owners = (const uint16_t *)(const void *)(payload + seg->layout.owners_offset);
        uint16_t owner = CSHM_NO_NODE;
        if (rack_id >= 0)
            column = rack_column(seg, payload, ns, partition, node_count, rack_id);
        if (ns >= 0)
            owner = __atomic_load_n(
                &owners[((size_t)ns * shape->partitions + partition) * shape->columns + column],
                __ATOMIC_RELAXED);
        const cshm_map_node *nodes =
            (const cshm_map_node *)(const void *)(payload + seg->layout.nodes_offset);
        if (owner < node_count && owner < shape->max_nodes) {
            load_string_words(result->host, nodes[owner].host, CSHM_HOST_MAX);
            result->port = __atomic_load_n(&nodes[owner].port, __ATOMIC_RELAXED);
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&head->seq, __ATOMIC_RELAXED) != seq)
            continue;

        /* A consistent read: now judge what it said. */
        if (flags & CSHM_MAP_EMPTY)
            return cshm_fail(error, CSHM_ERR_STATE,
                             "no cluster map yet: no tend has reached the cluster (see "
                             "status()['last_error'])");
        if (ns < 0)
            return cshm_fail(error, CSHM_ERR_CLUSTER,
                             "unknown namespace '%.31s': the cluster map has no such namespace",
                             ns_name);
        if (owner == CSHM_NO_NODE && (flags & CSHM_MAP_NODES_TRUNCATED))
            return cshm_fail(error, CSHM_ERR_CLUSTER,
                             "partition %u has no node in the map because max_nodes=%u was "
                             "reached; raise max_nodes (with a new key)",
                             (unsigned)partition, (unsigned)shape->max_nodes);
        if (owner == CSHM_NO_NODE)
            return cshm_fail(error, CSHM_ERR_CLUSTER,
                             column == 0 ? "partition %u has no master in the current map (the "
                                           "cluster does not cover it)"
                                         : "partition %u has no replica %u in the current map",
                             (unsigned)partition, (unsigned)column);
        if (owner >= node_count || owner >= shape->max_nodes)
            return cshm_fail(error, CSHM_ERR_SEGMENT,
                             "corrupt segment at key 0x%08x: partition %u names node %u of %u",
                             (unsigned)seg->key, (unsigned)partition, (unsigned)owner,
                             (unsigned)node_count);
        result->host[CSHM_HOST_MAX - 1] = '\0';
        result->partition = partition;
        result->node_index = owner;
        return 0;
    }
    return cshm_fail(error, CSHM_ERR_TIMEOUT, "the map kept changing during %d reads",
                     READ_ATTEMPTS);
}

/* A map is ready when the current tender has published a real map (not just
 * its failure) and is still alive (holds its owner lock): a map left by a
 * tender that died, or by an earlier tender, may be hours old.  A new
 * tender republishes at once. */
int cshm_snapshot_map_ready(const cshm_segment *seg)
{
    const cshm_seg_header *h = seg->header;
    int64_t published = cshm_snapshot_published_epoch(seg);
    uint64_t state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
    uint32_t lock = cshm_state_lock(state) % CSHM_OWNER_LOCKS;
    if (published < 0 || (uint64_t)published != cshm_state_epoch(state) ||
        cshm_robust_owner_tid(&h->owner_locks[lock]) == 0)
        return 0;
    cshm_map_counts counts;
    return cshm_snapshot_read_counts(seg, &counts, NULL, NULL) == 0 &&
           !(counts.flags & CSHM_MAP_EMPTY);
}
