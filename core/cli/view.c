/*
 * view.c - reading one segment for the clustershm command, read-only (see
 * view.h for the invariants: SHM_RDONLY, bounds-checked copies only).
 */
#include "view.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include "clock.h"
#include "error.h"
#include "snapshot.h"

const char *cli_key_text(uint32_t key, char *buf, size_t size)
{
    snprintf(buf, size, "0x%08x", (unsigned)key);
    return buf;
}

static void view_reset(cli_view *v)
{
    memset(v, 0, sizeof *v);
    v->seg.shmid = -1;
}

int cli_view_open_shmid(int shmid, cli_view *v, cshm_error *error)
{
    view_reset(v);
    int rc = cshm_segment_inspect_shmid(shmid, &v->seg, error);
    if (rc != 0)
        return rc;
    if (cshm_map_init(&v->map, &v->seg.shape) != 0) {
        cshm_segment_close(&v->seg);
        return cshm_fail(error, CSHM_ERR_SYSTEM, "out of memory");
    }
    uint32_t n = v->seg.shape.max_nodes ? v->seg.shape.max_nodes : 1;
    v->masters = calloc(n, sizeof *v->masters);
    v->replicas = calloc(n, sizeof *v->replicas);
    if (v->masters == NULL || v->replicas == NULL) {
        cli_view_close(v);
        return cshm_fail(error, CSHM_ERR_SYSTEM, "out of memory");
    }
    v->map_ready = 1;
    return 0;
}

int cli_view_open(uint32_t key, cli_view *v, cshm_error *error)
{
    view_reset(v);
    int shmid = shmget((key_t)key, 0, 0);
    if (shmid < 0 && errno == ENOENT) {
        cshm_fail(error, CSHM_ERR_SEGMENT, "no segment at key 0x%08x", (unsigned)key);
        return CLI_VIEW_MISSING;
    }
    if (shmid < 0) {
        /* The segment API names the cause (permissions: whose, which mode). */
        int rc = cshm_segment_inspect(key, &v->seg, error);
        if (rc != 0)
            return rc;
        cshm_segment_close(&v->seg); /* created in between: look again */
        return cshm_fail(error, CSHM_ERR_SEGMENT, "segment 0x%08x changed while looked at; "
                         "try again", (unsigned)key);
    }
    return cli_view_open_shmid(shmid, v, error);
}

void cli_view_close(cli_view *v)
{
    if (v->map_ready)
        cshm_map_free(&v->map);
    free(v->masters);
    free(v->replicas);
    cshm_segment_close(&v->seg);
    view_reset(v);
}

/* The figures of the validated header copy and of the kernel's table. */
static void read_segment(const cli_view *v, cli_status *s)
{
    const cshm_segment *seg = &v->seg;
    s->key = seg->key;
    s->shmid = seg->shmid;
    s->segment_size = seg->size;
    struct shmid_ds ds;
    if (shmctl(seg->shmid, IPC_STAT, &ds) == 0) {
        /* this command's own attachment is not one of the segment's users */
        s->attached = ds.shm_nattch > 0 ? (uint32_t)ds.shm_nattch - 1 : 0;
        s->removed = (ds.shm_perm.mode & SHM_DEST) != 0;
    }
    snprintf(s->driver, sizeof s->driver, "%s",
             seg->driver_kind == CSHM_DRIVER_REDIS ? "redis" : "aerospike");
    snprintf(s->identity, sizeof s->identity, "%.*s", (int)sizeof seg->identity - 1,
             seg->identity);
    s->mode = seg->mode;
    s->creator_uid = seg->creator_uid;
    s->created_at = (double)seg->created_at_ms / 1000.0;
    s->credentials = seg->credentials_kind != CSHM_CREDENTIALS_NONE;
    s->max_nodes = seg->shape.max_nodes;
    s->max_namespaces = seg->shape.max_namespaces;
    s->partitions = seg->shape.partitions;
    s->chain_generation = seg->generation;
    s->chain_base = cshm_segment_chain_base(seg);
    s->tend_interval = seg->tend_interval;
    s->takeover_timeout = seg->takeover_timeout;
    s->min_refresh_interval = seg->min_refresh_interval;
    /* single words: any value is harmless to show */
    s->owner_pid = cshm_segment_tender_pid(seg->header);
    s->has_tender = cshm_segment_tender_held(seg->header);
    s->epoch = cshm_state_epoch(__atomic_load_n(&seg->header->state, __ATOMIC_ACQUIRE));
}

int cli_view_read(cli_view *v, cli_status *s, cshm_error *error)
{
    memset(s, 0, sizeof *s);
    read_segment(v, s);
    if (!v->map_ready)
        return cshm_fail(error, CSHM_ERR_STATE, "segment not open");
    /* The whole snapshot's verdict first (its own copy, with the map as
     * scratch), then the copy shown, which is shown whatever the checksum
     * says: a tool must show a damaged snapshot, not refuse it. */
    cshm_error verify_error;
    memset(&verify_error, 0, sizeof verify_error);
    s->snapshot_ok = cshm_snapshot_verify(&v->seg, &v->map, &verify_error) == 0;
    if (!s->snapshot_ok)
        snprintf(s->snapshot_error, sizeof s->snapshot_error, "%s", verify_error.message);
    uint64_t publisher_epoch = 0;
    int rc = cshm_snapshot_read_unverified(&v->seg, &v->map, &s->record, &publisher_epoch,
                                           error);
    if (rc < 0) {
        memset(&s->record, 0, sizeof s->record);
        return rc;
    }
    if (rc != 0) /* nothing published yet */
        return 0;
    /* a checked copy: node_count <= max_nodes, ns_count <= max_namespaces */
    const cshm_map_counts *c = v->map.counts;
    s->published = 1;
    s->publisher_epoch = publisher_epoch;
    s->has_map = (c->flags & CSHM_MAP_EMPTY) == 0;
    s->generation = c->generation;
    s->stale = (c->flags & CSHM_MAP_STALE) != 0;
    s->tended_at = (double)c->tended_at_ms / 1000.0;
    if (c->tended_at_ms != 0) {
        s->age = (double)cshm_wall_ms() / 1000.0 - s->tended_at;
        if (s->age < 0) /* another clock, or a scribbled time */
            s->age = 0;
    }
    s->nodes = c->node_count;
    s->namespaces = c->ns_count;
    s->nodes_seen = c->nodes_seen;
    s->namespaces_seen = c->ns_seen;
    s->nodes_truncated = (c->flags & CSHM_MAP_NODES_TRUNCATED) != 0;
    s->namespaces_truncated = (c->flags & CSHM_MAP_NAMESPACES_TRUNCATED) != 0;
    s->replicas_truncated = (c->flags & CSHM_MAP_REPLICAS_TRUNCATED) != 0;
    memset(v->masters, 0, (size_t)v->seg.shape.max_nodes * sizeof *v->masters);
    memset(v->replicas, 0, (size_t)v->seg.shape.max_nodes * sizeof *v->replicas);
    cshm_map_count_partitions(&v->map, v->masters, v->replicas);
    return 0;
}

int cli_for_each_shmid(void (*visit)(int shmid, void *arg), void *arg)
{
    FILE *f = fopen("/proc/sysvipc/shm", "r");
    if (f == NULL) {
        fprintf(stderr, "clustershm: cannot read /proc/sysvipc/shm: %s\n", strerror(errno));
        return -1;
    }
    char line[512];
    if (fgets(line, sizeof line, f) != NULL) { /* the header line */
        while (fgets(line, sizeof line, f) != NULL) {
            long long key;
            int shmid;
            if (sscanf(line, "%lld %d", &key, &shmid) == 2)
                visit(shmid, arg);
        }
    }
    fclose(f);
    return 0;
}
