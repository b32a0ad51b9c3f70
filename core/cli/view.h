/*
 * view.h - what the clustershm command knows about one segment: its
 * figures, read through the segment and snapshot APIs, read-only.
 *
 * Invariants:
 *  - A segment is only ever attached with SHM_RDONLY (cshm_segment_inspect*):
 *    looking can neither write to it nor disturb the processes using it
 *    (no lock is taken, no futex is woken).
 *  - Every value from shared memory is either a copy made and checked by
 *    the snapshot API (counts and indices against the layout validated at
 *    attach, strings terminated, step-down count bounded) or one atomic
 *    word whose every value is harmless to show (epoch, pid, lock word; the
 *    lock index is checked before use).
 *  - A cli_status holds no pointer into shared memory: it is a plain copy
 *    that outlives the attachment, so commands compare, print and keep them.
 *  - The figures carry the names of cshm_status_info (status() in every
 *    binding): docs/cli-json.md lists them; the JSON, check and metrics
 *    writers use these names and no others for the same figures.
 */
#ifndef CSHM_CLI_VIEW_H
#define CSHM_CLI_VIEW_H

#include <stdint.h>

#include "map.h"
#include "segment.h"

typedef struct cli_status {
    /* the segment */
    uint32_t key;
    int shmid;
    uint64_t segment_size;
    uint32_t attached;              /* processes attached, this command not counted */
    int removed;                    /* marked for removal (rm --force): gone at the last detach */
    char driver[16];
    char identity[CSHM_IDENTITY_MAX];
    uint32_t mode;
    uint32_t creator_uid;
    double created_at;
    int credentials;                /* a credential fingerprint is recorded */
    uint32_t max_nodes;
    uint32_t max_namespaces;
    uint32_t partitions;
    uint32_t chain_generation;      /* in its chain (docs/design.md §1b) */
    uint32_t chain_base;            /* generation 0's key */
    double tend_interval;
    double takeover_timeout;
    double min_refresh_interval;
    /* the tender */
    uint32_t owner_pid;             /* as the current epoch's tender recorded itself */
    int has_tender;                 /* someone holds the owner lock the state word names */
    uint64_t epoch;                 /* of the state word */
    uint64_t publisher_epoch;       /* of the published snapshot (0: none) */
    /* the published snapshot */
    int published;                  /* a snapshot is published (maybe only an error) */
    int has_map;                    /* ... and it holds a map from a successful tend */
    uint64_t generation;
    double tended_at;               /* unix time, 0 when never */
    double age;                     /* seconds since tended_at, 0 when never */
    int stale;
    uint32_t nodes;
    uint32_t namespaces;
    uint32_t nodes_seen;
    uint32_t namespaces_seen;
    int nodes_truncated;
    int namespaces_truncated;
    int replicas_truncated;
    cshm_tend_record record;        /* counters, last error, step-downs (bounded copy) */
    /* cshm_snapshot_verify's verdict on the published snapshot as a whole
     * (checksum, counts, owners); the figures above are shown whatever it
     * says */
    int snapshot_ok;
    char snapshot_error[512];
} cli_status;

typedef struct cli_view {
    cshm_segment seg;
    cshm_map map;                   /* the whole published map, after cli_view_read() */
    int map_ready;
    uint32_t *masters;              /* per node of map: partitions mastered */
    uint32_t *replicas;             /*   and held as a replica */
} cli_view;

#define CLI_VIEW_MISSING 1

/* Attach the segment at key read-only and validate its header.  Returns 0,
 * CLI_VIEW_MISSING when no segment exists at key, or a negative cshm_code
 * with error filled (permission denied, not a clustershm segment, ...). */
int cli_view_open(uint32_t key, cli_view *v, cshm_error *error);
int cli_view_open_shmid(int shmid, cli_view *v, cshm_error *error);

/* Read every figure now into s, and the whole published map into v->map
 * with the partitions per node (one consistent copy: the record, the epoch
 * and the map are of the same snapshot), with the verdict of
 * cshm_snapshot_verify on it in snapshot_ok.  Returns 0 or a negative
 * cshm_code (a published snapshot that cannot be read); the figures of the
 * header are filled either way. */
int cli_view_read(cli_view *v, cli_status *s, cshm_error *error);

void cli_view_close(cli_view *v);

/* Every shmid on the host, from the kernel's /proc/sysvipc/shm, in its
 * order.  Returns 0, or -1 with a message on stderr. */
int cli_for_each_shmid(void (*visit)(int shmid, void *arg), void *arg);

/* "0x%08x" of a key, into buf (at least 11 bytes). */
const char *cli_key_text(uint32_t key, char *buf, size_t size);

#endif
