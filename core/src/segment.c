/*
 * segment.c - create-or-attach of the SysV segment, and its validation.
 *
 * Creation is race-free: shmget(IPC_CREAT | IPC_EXCL) has exactly one winner;
 * the winner marks the prefix BUSY, fills the header, then stores the magic and
 * READY with release ordering.  Everyone else attaches and waits (bounded) for
 * READY.  A segment that does not carry our magic is described and refused,
 * and nothing is ever written to it.
 */
#include "segment.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "credentials.h"
#include "driver.h"
#include "error.h"
#include "sha256.h"
#include "snapshot.h"

_Static_assert(sizeof(cshm_seg_header) <= CSHM_HEADER_SIZE, "header must fit its page");
_Static_assert(sizeof(cshm_slot_head) % 64 == 0, "slot head keeps the payload aligned");
_Static_assert(sizeof(cshm_tend_record) % 64 == 0, "the record keeps the payload aligned");
_Static_assert(sizeof(cshm_seg_header) % 8 == 0, "the header is copied as words");

static uint64_t round_up(uint64_t n, uint64_t to)
{
    return (n + to - 1) / to * to;
}

static uint64_t slot_stride_of(uint64_t payload_size)
{
    return round_up(sizeof(cshm_slot_head) + sizeof(cshm_tend_record) + payload_size, 64);
}

/* seg's layout, stride and size for seg->shape. */
static int geometry_of_shape(cshm_segment *seg, cshm_error *error)
{
    if (cshm_map_layout_of(&seg->shape, &seg->layout) != 0)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad options: max_nodes=%u, max_namespaces=%u give a map layout out of "
                         "range",
                         (unsigned)seg->shape.max_nodes, (unsigned)seg->shape.max_namespaces);
    seg->slot_stride = slot_stride_of(seg->layout.size);
    seg->size = CSHM_HEADER_SIZE + (uint64_t)CSHM_SLOTS * seg->slot_stride;
    return 0;
}

static int compute_geometry(const cshm_config *config, cshm_segment *seg, cshm_error *error)
{
    memset(&seg->shape, 0, sizeof seg->shape);
    config->driver->shape(config, &seg->shape);
    return geometry_of_shape(seg, error);
}

static uint64_t micros(double seconds)
{
    return (uint64_t)(seconds * 1e6 + 0.5);
}

/* Fill a header we created (or finish one whose creator died while filling
 * it).  The fingerprint is computed only for a shared segment: a private map
 * is never shared with anybody.  Returns 0, or -1 when the kernel's random
 * source failed (the header stays BUSY and the caller removes it). */
static int fill_header(cshm_seg_header *h, const cshm_segment *seg, const cshm_config *config,
                       int shared)
{
    /* Claim the prefix before anything else, so an attacher that sees it
     * knows a clustershm creator is at work and waits. */
    __atomic_store_n(&h->prefix.init_state, CSHM_INIT_BUSY, __ATOMIC_RELEASE);
    h->prefix.layout_version = CSHM_LAYOUT_VERSION;
    h->prefix.header_size = CSHM_HEADER_SIZE;
    h->prefix.byte_order = CSHM_BYTE_ORDER;
    h->prefix.total_size = seg->size;

    h->driver_kind = (uint32_t)config->kind;
    h->pointer_size = (uint32_t)sizeof(void *);
    h->shape = seg->shape;
    h->slot_count = CSHM_SLOTS;
    h->owner_lock_count = CSHM_OWNER_LOCKS;
    h->lock_size = (uint32_t)sizeof(cshm_robust_lock);
    h->node_entry_size = (uint32_t)sizeof(cshm_map_node);
    h->record_size = (uint32_t)sizeof(cshm_tend_record);
    h->chain_generation = seg->generation;
    h->chain_base = seg->base_key;
    h->reserved2 = 0;
    h->payload_size = seg->layout.size;
    h->slot_stride = seg->slot_stride;
    h->slots_offset = CSHM_HEADER_SIZE;

    h->creator_uid = (uint32_t)geteuid();
    h->creator_pid = (uint32_t)getpid();
    h->created_at_ms = cshm_wall_ms();
    h->mode = config->options.mode;
    h->identity_len = (uint32_t)strlen(config->identity);
    memset(h->identity, 0, sizeof h->identity);
    memcpy(h->identity, config->identity, h->identity_len);
    h->credentials_kind = CSHM_CREDENTIALS_NONE;
    h->credentials_iterations = 0;
    memset(h->credentials_salt, 0, sizeof h->credentials_salt);
    memset(h->credentials_fingerprint, 0, sizeof h->credentials_fingerprint);
    if (shared && cshm_credentials_present(config)) {
        if (cshm_random_bytes(h->credentials_salt, sizeof h->credentials_salt) != 0)
            return -1;
        h->credentials_kind = CSHM_CREDENTIALS_PBKDF2_SHA256;
        h->credentials_iterations = cshm_credentials_iterations(config);
        cshm_credentials_fingerprint(config, h->credentials_salt, sizeof h->credentials_salt,
                                     h->credentials_iterations, h->credentials_fingerprint);
    }

    h->tend_interval_us = micros(config->options.tend_interval);
    h->takeover_timeout_us = micros(config->options.takeover_timeout);
    h->min_refresh_interval_us = micros(config->options.min_refresh_interval);
    h->op_timeout_us = micros(cshm_op_timeout_for(config->options.connect_timeout));

    h->state = cshm_state_make(0, 0, 0);
    h->heartbeat = 0;
    h->tender = 0;
    h->refresh_seq = 0;
    h->forwarded = 0;
    for (uint32_t i = 0; i < CSHM_OWNER_LOCKS; i++)
        cshm_robust_lock_init(&h->owner_locks[i]);
    for (uint32_t i = 0; i < CSHM_SLOTS; i++) {
        cshm_robust_lock_init(&h->slot_locks[i]);
        h->slot_writer_epoch[i] = 0;
        cshm_slot_head *head = (cshm_slot_head *)(void *)((unsigned char *)h + CSHM_HEADER_SIZE +
                                                          (uint64_t)i * seg->slot_stride);
        head->seq = 0;
        head->epoch = 0;
    }
    memcpy(h->prefix.magic, CSHM_MAGIC, 8);
    __atomic_store_n(&h->prefix.init_state, CSHM_INIT_READY, __ATOMIC_RELEASE);
    return 0;
}

static void describe(char *out, size_t cap, uint32_t key, int shmid, const struct shmid_ds *ds)
{
    snprintf(out, cap, "segment at key 0x%08x (shmid %d, %llu bytes, owner uid %u, mode 0%o)",
             (unsigned)key, shmid, (unsigned long long)ds->shm_segsz, (unsigned)ds->shm_perm.uid,
             (unsigned)(ds->shm_perm.mode & 0777));
}

/* Checks that need only the prefix: is it a clustershm segment of our layout? */
static int check_prefix(const cshm_seg_prefix *p, const char *what, cshm_error *error)
{
    if (memcmp(p->magic, CSHM_MAGIC, 8) != 0)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s is not a clustershm segment (no clustershm magic); it belongs to "
                         "another program: choose another key, or remove it with `ipcrm -M` if "
                         "you are sure it is unused. It was left untouched",
                         what);
    if (p->byte_order != CSHM_BYTE_ORDER)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s was written with another byte order; use another key", what);
    if (p->layout_version != CSHM_LAYOUT_VERSION || p->header_size != CSHM_HEADER_SIZE)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s has segment layout version %u (header %u bytes); this library "
                         "(clustershm " CSHM_VERSION ") uses layout version %u: run both versions "
                         "side by side with a different key (option key), or remove the old "
                         "segment with `clustershm rm` once its processes are gone",
                         what, (unsigned)p->layout_version, (unsigned)p->header_size,
                         (unsigned)CSHM_LAYOUT_VERSION);
    return 0;
}

/* Internal consistency of a header copy, needed before trusting any offset,
 * and the copy's write-once fields into seg. */
static int adopt_copy(const cshm_seg_header *h, uint64_t real_size, const char *what,
                      cshm_segment *seg, cshm_error *error)
{
    cshm_map_layout layout;
    if (h->pointer_size != sizeof(void *) || h->lock_size != sizeof(cshm_robust_lock) ||
        h->node_entry_size != sizeof(cshm_map_node) ||
        h->record_size != sizeof(cshm_tend_record) || h->slot_count != CSHM_SLOTS ||
        h->owner_lock_count != CSHM_OWNER_LOCKS || h->slots_offset != CSHM_HEADER_SIZE)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s was built for another architecture or build of clustershm "
                         "(pointer %u, lock %u, node %u, record %u bytes); use another key",
                         what, (unsigned)h->pointer_size, (unsigned)h->lock_size,
                         (unsigned)h->node_entry_size, (unsigned)h->record_size);
    if (cshm_map_layout_of(&h->shape, &layout) != 0 || layout.size != h->payload_size ||
        h->slot_stride != slot_stride_of(layout.size) ||
        h->prefix.total_size != CSHM_HEADER_SIZE + (uint64_t)CSHM_SLOTS * h->slot_stride ||
        h->prefix.total_size > real_size || h->identity_len >= CSHM_IDENTITY_MAX ||
        h->chain_generation >= CSHM_CHAIN_MAX ||
        (h->driver_kind != CSHM_DRIVER_REDIS && h->driver_kind != CSHM_DRIVER_AEROSPIKE) ||
        h->credentials_kind > CSHM_CREDENTIALS_PBKDF2_SHA256 ||
        (h->credentials_kind == CSHM_CREDENTIALS_PBKDF2_SHA256 &&
         (h->credentials_iterations < 1 ||
          h->credentials_iterations > CSHM_CREDENTIALS_ITERATIONS_MAX)))
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s is corrupt: its layout fields disagree with each other or with its "
                         "size; remove it with `clustershm rm` once its processes are gone",
                         what);
    cshm_error timing;
    if (cshm_validate_timing((double)h->tend_interval_us / 1e6,
                             (double)h->takeover_timeout_us / 1e6,
                             (double)h->min_refresh_interval_us / 1e6,
                             (double)h->op_timeout_us / 1e6, &timing) != 0)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s is corrupt: the timing its creator stored is invalid (%s); remove "
                         "it with `clustershm rm` once its processes are gone",
                         what, timing.message);
    seg->shape = h->shape;
    seg->layout = layout;
    seg->slot_stride = h->slot_stride;
    seg->size = h->prefix.total_size;
    seg->generation = h->chain_generation;
    seg->base_key = h->chain_base;
    seg->driver_kind = h->driver_kind;
    seg->creator_uid = h->creator_uid;
    seg->creator_pid = h->creator_pid;
    seg->mode = h->mode;
    seg->created_at_ms = h->created_at_ms;
    memcpy(seg->identity, h->identity, h->identity_len);
    seg->identity[h->identity_len] = '\0';
    seg->credentials_kind = h->credentials_kind;
    seg->tend_interval = (double)h->tend_interval_us / 1e6;
    seg->takeover_timeout = (double)h->takeover_timeout_us / 1e6;
    seg->min_refresh_interval = (double)h->min_refresh_interval_us / 1e6;
    seg->op_timeout = (double)h->op_timeout_us / 1e6;
    return 0;
}

static const char *driver_name(uint32_t kind)
{
    return kind == CSHM_DRIVER_REDIS ? "redis" : kind == CSHM_DRIVER_AEROSPIKE ? "aerospike" : "?";
}

/* Our configuration against a validated copy. */
static int check_matches(const cshm_segment *seg, const cshm_config *config,
                         const cshm_map_shape *want, const char *what, cshm_error *error)
{
    if (strcmp(seg->identity, config->identity) != 0)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s serves cluster '%s', but this client is configured for '%s'; give "
                         "each cluster its own key (or leave key unset to derive one per cluster)",
                         what, seg->identity, config->identity);
    /* max_nodes and max_namespaces may differ: a process's options are the
     * size of a segment it creates, and an existing one is used at the size
     * it has, since its tender grows it when the cluster outgrows it
     * (docs/design.md §1b).  What the driver fixes must be the same. */
    if (seg->driver_kind != (uint32_t)config->kind || seg->shape.partitions != want->partitions ||
        seg->shape.columns != want->columns || seg->shape.has_regimes != want->has_regimes)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s was created for %s with %u partitions and %u replica columns; this "
                         "client is %s with %u partitions and %u columns (another build of "
                         "clustershm?): use the same version in every process, or a new key",
                         what, driver_name(seg->driver_kind), (unsigned)seg->shape.partitions,
                         (unsigned)seg->shape.columns, driver_name((uint32_t)config->kind),
                         (unsigned)want->partitions, (unsigned)want->columns);
    return 0;
}

/* 1 when the copy's credential fingerprint is the one of our credentials. */
static int same_credentials(const cshm_seg_header *h, const cshm_config *config)
{
    if (h->credentials_kind == CSHM_CREDENTIALS_NONE)
        return !cshm_credentials_present(config);
    if (!cshm_credentials_present(config))
        return 0;
    unsigned char mine[CSHM_FINGERPRINT_SIZE];
    cshm_credentials_fingerprint(config, h->credentials_salt, sizeof h->credentials_salt,
                                 h->credentials_iterations, mine);
    int same = cshm_bytes_equal(mine, h->credentials_fingerprint, sizeof mine);
    explicit_bzero(mine, sizeof mine);
    return same;
}

/* Permissions: refuse a segment we would trust more than our options allow. */
static int check_permissions(const struct shmid_ds *ds, const cshm_config *config,
                             const char *what, cshm_error *error)
{
    uid_t me = geteuid();
    uint32_t mode = config->options.mode;
    int shared_with_others = (mode & 0077) != 0;
    if (ds->shm_perm.uid != me && ds->shm_perm.cuid != me && !shared_with_others)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s belongs to uid %u, but this process runs as uid %u and its mode 0%o "
                         "shares with nobody: run the processes as the same user, or set the same "
                         "key and a group mode (e.g. mode=0660) in all of them",
                         what, (unsigned)ds->shm_perm.uid, (unsigned)me, (unsigned)mode);
    if ((ds->shm_perm.mode & 0777 & ~mode) != 0)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s has mode 0%o, wider than this client's mode 0%o: other users could "
                         "rewrite the map. Remove it with `clustershm rm`, or connect with "
                         "mode=0%o if that is intended",
                         what, (unsigned)(ds->shm_perm.mode & 0777), (unsigned)mode,
                         (unsigned)(ds->shm_perm.mode & 0777));
    return 0;
}

/* The kernel's limits on SysV segments and what is in use now (Linux
 * IPC_INFO and SHM_INFO, which any user may ask), to tell which limit a
 * failed create hit.  0, or -1 when the kernel does not say. */
typedef struct shm_limits {
    unsigned long long shmmax;         /* bytes of one segment */
    unsigned long long shmall;         /* pages of all segments together */
    unsigned long long shmmni;         /* number of segments */
    unsigned long long used_pages;
    unsigned long long used_ids;
    unsigned long long page_size;
} shm_limits;

static int read_shm_limits(shm_limits *out)
{
#if defined(IPC_INFO) && defined(SHM_INFO)
    struct shminfo info;
    struct shm_info usage;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || shmctl(0, IPC_INFO, (struct shmid_ds *)(void *)&info) < 0 ||
        shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&usage) < 0)
        return -1;
    out->shmmax = info.shmmax;
    out->shmall = info.shmall;
    out->shmmni = info.shmmni;
    out->used_pages = usage.shm_tot;
    out->used_ids = usage.used_ids < 0 ? 0 : (unsigned long long)usage.used_ids;
    out->page_size = (unsigned long long)page;
    return 0;
#else
    (void)out;
    return -1;
#endif
}

/* Owner, group and mode of the segment at key, from /proc/sysvipc/shm,
 * which every user may read (IPC_STAT needs read permission on the segment
 * itself).  0, or -1 when it is not listed there. */
static int shm_owner_of(uint32_t key, unsigned *uid, unsigned *gid, unsigned *mode)
{
    FILE *f = fopen("/proc/sysvipc/shm", "re");
    if (f == NULL)
        return -1;
    char line[512];
    int rc = -1;
    if (fgets(line, sizeof line, f) != NULL) { /* the column names */
        while (rc != 0 && fgets(line, sizeof line, f) != NULL) {
            int k;
            unsigned perms, u, g;
            /* key shmid perms size cpid lpid nattch uid gid ... */
            if (sscanf(line, "%d %*d %o %*s %*s %*s %*s %u %u", &k, &perms, &u, &g) == 4 &&
                (uint32_t)k == key) {
                *uid = u;
                *gid = g;
                *mode = perms & 0777;
                rc = 0;
            }
        }
    }
    fclose(f);
    return rc;
}

/* One message per cause, each with the command that removes it.  For a
 * failed create the kernel's limits tell which one was hit, checked in the
 * kernel's order (shmmax, then shmall, then shmmni). */
static int shm_failure(int err, uint32_t key, uint64_t size, cshm_error *error)
{
    shm_limits lim = {0};
    int have_limits = (err == EINVAL || err == ENOSPC) && size > 0 && read_shm_limits(&lim) == 0;
    if (err == EINVAL && (!have_limits || size > lim.shmmax))
        return have_limits
                   ? cshm_fail(error, CSHM_ERR_SEGMENT,
                               "cannot create a %llu-byte segment at key 0x%08x: over the "
                               "kernel's limit on one segment (kernel.shmmax = %llu bytes); raise "
                               "it to at least %llu bytes with `sysctl -w kernel.shmmax=%llu`, "
                               "or lower max_nodes/max_namespaces",
                               (unsigned long long)size, (unsigned)key, lim.shmmax,
                               (unsigned long long)size, (unsigned long long)size)
                   : cshm_fail(error, CSHM_ERR_SEGMENT,
                               "cannot create a %llu-byte segment at key 0x%08x: over the "
                               "kernel's limit; raise it with `sysctl -w kernel.shmmax=%llu`, or "
                               "lower max_nodes/max_namespaces",
                               (unsigned long long)size, (unsigned)key,
                               (unsigned long long)size);
    if (err == ENOSPC && have_limits) {
        unsigned long long pages = (size + lim.page_size - 1) / lim.page_size;
        if (lim.used_pages > lim.shmall || pages > lim.shmall - lim.used_pages)
            return cshm_fail(error, CSHM_ERR_SEGMENT,
                             "cannot create a %llu-byte segment (%llu pages of %llu bytes) at key "
                             "0x%08x: the kernel's limit on all segments together is reached "
                             "(kernel.shmall = %llu pages, %llu in use); raise it to at least %llu "
                             "pages with `sysctl -w kernel.shmall=%llu`, or remove unused "
                             "segments (`clustershm list`, `ipcs -m`)",
                             (unsigned long long)size, pages, lim.page_size, (unsigned)key,
                             lim.shmall, lim.used_pages, lim.used_pages + pages,
                             lim.used_pages + pages);
    }
    if (err == ENOSPC && have_limits && lim.used_ids >= lim.shmmni)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "cannot create a segment at key 0x%08x: the kernel's limit on the number "
                         "of segments is reached (kernel.shmmni = %llu, %llu in use); raise it "
                         "to at least %llu with `sysctl -w kernel.shmmni=%llu`, or remove unused "
                         "segments (`clustershm list`, `ipcs -m`)",
                         (unsigned)key, lim.shmmni, lim.used_ids, lim.used_ids + 1,
                         lim.used_ids + 1);
    if (err == ENOSPC)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "cannot create a %llu-byte segment at key 0x%08x: the kernel's segment "
                         "count or total is exhausted; raise `sysctl kernel.shmmni` or "
                         "`kernel.shmall`, or remove unused segments (`clustershm list`)",
                         (unsigned long long)size, (unsigned)key);
    unsigned uid, gid, mode;
    if (err == EACCES && shm_owner_of(key, &uid, &gid, &mode) == 0)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "permission denied for the segment at key 0x%08x (owner uid %u, group "
                         "%u, mode 0%o) to this process (uid %u, group %u): run it as uid %u, or "
                         "share the segment through a group: run every process with that group "
                         "as its effective group and with mode=0660 (remove a segment created "
                         "0600 first, `clustershm rm`); or use another key",
                         (unsigned)key, uid, gid, mode, (unsigned)geteuid(), (unsigned)getegid(),
                         uid);
    if (err == EACCES)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "permission denied for the segment at key 0x%08x: it belongs to another "
                         "user (see `ipcs -m`); run as that user, or use another key",
                         (unsigned)key);
    if (err == ENOMEM)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "not enough memory for a %llu-byte segment at key 0x%08x",
                         (unsigned long long)size, (unsigned)key);
    return cshm_fail(error, CSHM_ERR_SYSTEM, "shared memory call failed for key 0x%08x: %s",
                     (unsigned)key, strerror(err));
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* What one attempt at one key found, besides 0 (attached) and errors. */
enum {
    OPEN_ABSENT = 1,              /* no segment at the key */
    OPEN_VANISHED = 2,            /* it disappeared (or we removed it): look again */
    OPEN_OTHER_CREDENTIALS = 3,   /* ours, but tended with other credentials */
};

/* How open_at may treat a key. */
enum {
    MAY_CREATE = 1,               /* create the segment if there is none */
    MAY_RECLAIM = 2,              /* remove one of other credentials that nobody uses */
};

/* Copy the header once, then validate the copy: a same-uid process may
 * rewrite the shared header at any instant, so nothing is read from it twice. */
static int validate_attached(const cshm_config *config, const void *base, uint64_t real_size,
                             const char *what, cshm_segment *seg, cshm_error *error,
                             int *other_credentials)
{
    cshm_seg_header copy;
    cshm_segment wanted = *seg;
    cshm_shm_load_words(&copy, base, sizeof copy);
    int rc = check_prefix(&copy.prefix, what, error);
    if (rc == 0 && copy.prefix.init_state != CSHM_INIT_READY)
        rc = cshm_fail(error, CSHM_ERR_SEGMENT, "%s is corrupt: unknown init state", what);
    if (rc == 0)
        rc = adopt_copy(&copy, real_size, what, seg, error);
    if (rc == 0 && config != NULL)
        rc = check_matches(seg, config, &wanted.shape, what, error);
    if (rc == 0 && config != NULL && other_credentials != NULL)
        *other_credentials = !same_credentials(&copy, config);
    /* The next key we try is measured against what we wanted, not against
     * this segment. */
    if (rc != 0 || (other_credentials != NULL && *other_credentials))
        *seg = wanted;
    return rc;
}

int cshm_segment_validate_buffer(const void *base, uint64_t size, cshm_segment *seg,
                                 cshm_error *error)
{
    memset(seg, 0, sizeof *seg);
    seg->shmid = -1;
    if (size < CSHM_HEADER_SIZE)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "a segment of %llu bytes is too small to hold a header",
                         (unsigned long long)size);
    return validate_attached(NULL, base, size, "the buffer", seg, error, NULL);
}

/* IPC_STAT into a zeroed ds: valgrind (3.19) does not see the kernel fill
 * every field of it, and an error it reports in a process is inherited by
 * every child forked after it. */
static int shm_stat(int shmid, struct shmid_ds *ds)
{
    memset(ds, 0, sizeof *ds);
    return shmctl(shmid, IPC_STAT, ds);
}

/* 1 when the segment was marked removed (IPC_RMID while attached: the
 * kernel sets SHM_DEST and frees the key), or is gone altogether. */
static int segment_removed(int shmid)
{
    struct shmid_ds ds;
    if (shm_stat(shmid, &ds) != 0)
        return 1;
    return (ds.shm_perm.mode & SHM_DEST) != 0;
}

/* Attach to an existing segment and validate it against our configuration. */
static int attach_existing(const cshm_config *config, uint32_t key, int flags, cshm_segment *seg,
                           cshm_error *error)
{
    int shmid = shmget((key_t)key, 0, 0);
    if (shmid < 0)
        return errno == ENOENT ? OPEN_ABSENT : shm_failure(errno, key, seg->size, error);

    struct shmid_ds ds;
    if (shm_stat(shmid, &ds) != 0)
        return errno == EINVAL || errno == EIDRM ? OPEN_VANISHED
                                                 : shm_failure(errno, key, seg->size, error);
    char what[200];
    describe(what, sizeof what, key, shmid, &ds);
    if (check_permissions(&ds, config, what, error) != 0)
        return CSHM_ERR_SEGMENT;
    if (ds.shm_segsz < CSHM_HEADER_SIZE)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s is too small to be a clustershm segment; it belongs to another "
                         "program: choose another key. It was left untouched",
                         what);

    void *base = shmat(shmid, NULL, 0);
    if (base == (void *)-1)
        return errno == EINVAL || errno == EIDRM ? OPEN_VANISHED
                                                 : shm_failure(errno, key, seg->size, error);
    cshm_seg_header *h = base;

    /* Wait for a creator that is still filling the header. */
    double deadline = cshm_mono_now() + config->options.connect_timeout;
    for (;;) {
        uint32_t init = __atomic_load_n(&h->prefix.init_state, __ATOMIC_ACQUIRE);
        if (init == CSHM_INIT_READY)
            break;
        int fresh = init == 0 && memcmp(h->prefix.magic, "\0\0\0\0\0\0\0\0", 8) == 0;
        if (init != CSHM_INIT_BUSY && !fresh)
            break; /* not ours, or corrupt: the prefix check says which */
        if (init == CSHM_INIT_BUSY && ds.shm_segsz == seg->size &&
            shm_stat(shmid, &ds) == 0 && ds.shm_nattch == 1) {
            /* Marked by a clustershm creator that is gone (we are the only
             * process attached): finish its work. */
            if (fill_header(h, seg, config, 1) != 0) {
                shmdt(base);
                return cshm_fail(error, CSHM_ERR_SYSTEM,
                                 "cannot read the kernel's random source to salt the segment's "
                                 "credential fingerprint: %s", strerror(errno));
            }
            break;
        }
        if (cshm_mono_now() > deadline) {
            shmdt(base);
            if (fresh)
                return cshm_fail(error, CSHM_ERR_SEGMENT,
                                 "%s holds only zeros: it was not created by clustershm, or its "
                                 "creator died while creating it. Choose another key, or remove "
                                 "it with `ipcrm -M 0x%08x` if no program uses it. It was left "
                                 "untouched",
                                 what, (unsigned)key);
            return cshm_fail(error, CSHM_ERR_SEGMENT,
                             "%s is still being initialised after %g s (its creator may be "
                             "stopped); retry, or remove it with `clustershm rm`",
                             what, config->options.connect_timeout);
        }
        sleep_ms(1);
    }

    int other_credentials = 0;
    cshm_segment wanted = *seg;
    int rc = validate_attached(config, base, ds.shm_segsz, what, seg, error, &other_credentials);
    /* The last process of this segment may have removed it while we
     * attached (docs/design.md, "Segment lifetime"): a removed segment is no
     * longer at its key, so the processes that come after us would never
     * meet us here.  Look again. */
    if (rc == 0 && segment_removed(shmid)) {
        shmdt(base);
        *seg = wanted;
        return OPEN_VANISHED;
    }
    if (rc == 0 && other_credentials) {
        rc = OPEN_OTHER_CREDENTIALS;
        /* Left behind by processes that are all gone (a password rotation):
         * removing it is what `clustershm rm` would do, and frees the key. */
        if ((flags & MAY_RECLAIM) && shm_stat(shmid, &ds) == 0 && ds.shm_nattch == 1 &&
            shmctl(shmid, IPC_RMID, NULL) == 0)
            rc = OPEN_VANISHED;
    }
    if (rc != 0) {
        shmdt(base);
        return rc;
    }
    seg->shmid = shmid;
    seg->key = key;
    seg->base = base;
    seg->header = h;
    seg->read_only = 0;
    return 0;
}

/* Create-or-attach at one key.  Returns 0, a cshm_code, OPEN_ABSENT (only
 * without MAY_CREATE) or OPEN_OTHER_CREDENTIALS. */
static int open_at(const cshm_config *config, uint32_t key, int flags, cshm_segment *seg,
                   cshm_error *error)
{
    /* A segment can vanish between our calls (clustershm rm); a few rounds
     * of create-or-attach settle it. */
    for (int attempt = 0; attempt < 8; attempt++) {
        if (flags & MAY_CREATE) {
            int shmid =
                shmget((key_t)key, seg->size, IPC_CREAT | IPC_EXCL | (int)config->options.mode);
            if (shmid >= 0) {
                void *base = shmat(shmid, NULL, 0);
                if (base == (void *)-1) {
                    int err = errno;
                    shmctl(shmid, IPC_RMID, NULL);
                    return shm_failure(err, key, seg->size, error);
                }
                char what[64];
                snprintf(what, sizeof what, "the new segment at key 0x%08x", (unsigned)key);
                /* Our own header: the fingerprint was just made from our
                 * credentials, so it is not checked again (NULL). */
                int rc = fill_header(base, seg, config, 1) != 0
                             ? cshm_fail(error, CSHM_ERR_SYSTEM,
                                         "cannot read the kernel's random source to salt the "
                                         "segment's credential fingerprint: %s", strerror(errno))
                             : validate_attached(config, base, seg->size, what, seg, error, NULL);
                if (rc != 0) {
                    shmdt(base);
                    shmctl(shmid, IPC_RMID, NULL);
                    return rc;
                }
                seg->shmid = shmid;
                seg->key = key;
                seg->base = base;
                seg->header = base;
                seg->read_only = 0;
                return 0;
            }
            if (errno != EEXIST)
                return shm_failure(errno, key, seg->size, error);
        }
        int rc = attach_existing(config, key, flags, seg, error);
        if (rc == OPEN_VANISHED || (rc == OPEN_ABSENT && (flags & MAY_CREATE)))
            continue;
        return rc;
    }
    return cshm_fail(error, CSHM_ERR_SEGMENT,
                     "the segment at key 0x%08x kept disappearing while attaching (is something "
                     "removing it in a loop?)",
                     (unsigned)key);
}

uint32_t cshm_chain_key(uint32_t base, uint32_t generation)
{
    if (generation == 0)
        return base;
    unsigned char bytes[8];
    for (int i = 0; i < 4; i++) {
        bytes[i] = (unsigned char)(base >> (8 * i));
        bytes[4 + i] = (unsigned char)(generation >> (8 * i));
    }
    return CSHM_CHAIN_KEY_BASE | (cshm_fnv1a32(bytes, sizeof bytes) & 0x00FFFFFFu);
}

/* The chain at `base` (docs/design.md §1b): its current segment is the
 * first of generations 0 .. CSHM_CHAIN_MAX-1 that exists and is not
 * forwarded.  Forwarded ones are passed over (detached at once, so the last
 * of them to be left is removed).  With MAY_CREATE and no current segment,
 * one is created after the last forwarded generation, at least as large as
 * the successor that one named.  Returns 0, a cshm_code, OPEN_ABSENT
 * (without MAY_CREATE) or OPEN_OTHER_CREDENTIALS. */
static int open_chain(const cshm_config *config, uint32_t base, int flags, cshm_segment *seg,
                      cshm_error *error)
{
    cshm_segment wanted = *seg;
    cshm_forward forward;
    for (int round = 0; round < 4; round++) {
        int last_forwarded = -1;
        memset(&forward, 0, sizeof forward);
        for (uint32_t g = 0; g < CSHM_CHAIN_MAX; g++) {
            *seg = wanted;
            uint32_t key = cshm_chain_key(base, g);
            int rc = open_at(config, key, flags & ~MAY_CREATE, seg, error);
            /* At a successor's key, whatever is not ours (a foreign
             * segment, other credentials) is passed over: the base key
             * names the cluster, and a growth into that key reports it. */
            if (rc == OPEN_ABSENT || (rc != 0 && g > 0)) {
                *seg = wanted;
                cshm_error_clear(error);
                continue;
            }
            if (rc != 0) {
                *seg = wanted;
                return rc;
            }
            if (seg->generation != g || (g > 0 && seg->base_key != base)) {
                uint32_t found = seg->generation;
                cshm_segment_close(seg);
                *seg = wanted;
                return cshm_fail(error, CSHM_ERR_SEGMENT,
                                 "the segment at key 0x%08x says it is generation %u of its "
                                 "chain, but that key is generation %u of the chain at 0x%08x: "
                                 "its header was rewritten; remove it with `clustershm rm` once "
                                 "its processes are gone",
                                 (unsigned)key, (unsigned)found, (unsigned)g, (unsigned)base);
            }
            cshm_forward fw;
            if (!cshm_snapshot_forward(seg, &fw)) {
                seg->base_key = base;
                return 0;
            }
            last_forwarded = (int)g;
            forward = fw;
            cshm_segment_close(seg);
        }
        *seg = wanted;
        if (!(flags & MAY_CREATE))
            return OPEN_ABSENT;
        uint32_t g = (uint32_t)(last_forwarded + 1);
        if (g >= CSHM_CHAIN_MAX)
            return cshm_fail(error, CSHM_ERR_SEGMENT,
                             "the chain of segments at key 0x%08x is full: all %u generations "
                             "are forwarded and none is current; remove the unused ones with "
                             "`clustershm rm` (see `clustershm list`)",
                             (unsigned)base, (unsigned)CSHM_CHAIN_MAX);
        seg->generation = g;
        seg->base_key = base;
        if (forward.max_nodes > seg->shape.max_nodes)
            seg->shape.max_nodes = forward.max_nodes;
        if (forward.max_namespaces > seg->shape.max_namespaces)
            seg->shape.max_namespaces = forward.max_namespaces;
        int rc = geometry_of_shape(seg, error);
        if (rc == 0)
            rc = open_at(config, cshm_chain_key(base, g), flags, seg, error);
        if (rc != 0) {
            *seg = wanted;
            return rc;
        }
        cshm_forward fw;
        if (seg->generation == g && !cshm_snapshot_forward(seg, &fw)) {
            seg->base_key = base;
            return 0;
        }
        cshm_segment_close(seg);  /* forwarded meanwhile: look again */
    }
    *seg = wanted;
    return cshm_fail(error, CSHM_ERR_SEGMENT,
                     "the chain of segments at key 0x%08x kept changing while attaching (is "
                     "something removing segments in a loop?)",
                     (unsigned)base);
}

int cshm_segment_open_successor(const cshm_config *config, const cshm_segment *from,
                                const cshm_map_shape *shape, cshm_segment *seg,
                                cshm_error *error)
{
    memset(seg, 0, sizeof *seg);
    seg->shmid = -1;
    seg->shape = *shape;
    seg->generation = from->generation + 1;
    seg->base_key = from->base_key;
    if (seg->generation >= CSHM_CHAIN_MAX)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "segment 0x%08x is generation %u of its chain, the last there may be: "
                         "the map cannot grow further; restart the processes with larger "
                         "max_nodes/max_namespaces (with `clustershm rm` of the old segments)",
                         (unsigned)from->key, (unsigned)from->generation);
    int rc = geometry_of_shape(seg, error);
    if (rc != 0)
        return rc;
    uint32_t key = cshm_chain_key(from->base_key, seg->generation);
    /* The successor gets the mode of the segment it replaces, not the
     * grower's own option: every process that may use the old one may use
     * the new one. */
    cshm_config *same_mode = malloc(sizeof *same_mode);
    if (same_mode == NULL)
        return cshm_fail(error, CSHM_ERR_SYSTEM, "out of memory");
    *same_mode = *config;
    same_mode->options.mode = from->mode;
    rc = open_at(same_mode, key, MAY_CREATE | MAY_RECLAIM, seg, error);
    explicit_bzero(same_mode, sizeof *same_mode);  /* it holds the password */
    free(same_mode);
    if (rc == OPEN_OTHER_CREDENTIALS)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "the successor's key 0x%08x holds a segment of this cluster tended with "
                         "other credentials, in use: the map cannot grow there; use the same "
                         "credentials in every process",
                         (unsigned)key);
    if (rc != 0)
        return rc;
    if (seg->generation != from->generation + 1 || seg->base_key != from->base_key) {
        uint32_t found = seg->generation;
        cshm_segment_close(seg);
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "the successor's key 0x%08x holds a segment of generation %u, not %u: "
                         "its header was rewritten; remove it with `clustershm rm`",
                         (unsigned)key, (unsigned)found, (unsigned)(from->generation + 1));
    }
    seg->base_key = from->base_key;
    return 0;
}

int cshm_segment_follow(const cshm_config *config, const cshm_segment *from,
                        const cshm_forward *forward, cshm_segment *seg, cshm_error *error)
{
    memset(seg, 0, sizeof *seg);
    seg->shmid = -1;
    uint32_t g = from->generation + 1;
    if (g >= CSHM_CHAIN_MAX || forward->generation != g ||
        forward->key != cshm_chain_key(from->base_key, g))
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "the forward pointer of segment 0x%08x names key 0x%08x, generation %u, "
                         "which is not generation %u of its chain at 0x%08x: it was scribbled, "
                         "and is not followed (this process stays on 0x%08x)",
                         (unsigned)from->key, (unsigned)forward->key,
                         (unsigned)forward->generation, (unsigned)g, (unsigned)from->base_key,
                         (unsigned)from->key);
    seg->shape = from->shape;
    seg->shape.max_nodes = forward->max_nodes;
    seg->shape.max_namespaces = forward->max_namespaces;
    seg->generation = g;
    cshm_error layout;
    if (geometry_of_shape(seg, &layout) != 0 || seg->size != forward->size)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "the forward pointer of segment 0x%08x gives a layout out of range "
                         "(max_nodes=%u, max_namespaces=%u, %llu bytes): it was scribbled, and "
                         "is not followed",
                         (unsigned)from->key, (unsigned)forward->max_nodes,
                         (unsigned)forward->max_namespaces,
                         (unsigned long long)forward->size);
    int rc = open_at(config, forward->key, 0, seg, error);
    if (rc == OPEN_ABSENT)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "the successor of segment 0x%08x, at key 0x%08x, is gone",
                         (unsigned)from->key, (unsigned)forward->key);
    if (rc == OPEN_OTHER_CREDENTIALS)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "the successor of segment 0x%08x, at key 0x%08x, is tended with other "
                         "credentials: not followed",
                         (unsigned)from->key, (unsigned)forward->key);
    if (rc != 0)
        return rc;
    if (seg->shmid != forward->shmid || seg->created_at_ms != forward->created_at_ms ||
        seg->generation != g || seg->base_key != from->base_key || seg->size != forward->size ||
        seg->shape.max_nodes != forward->max_nodes ||
        seg->shape.max_namespaces != forward->max_namespaces) {
        int shmid = seg->shmid;
        cshm_segment_close(seg);
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "the segment at key 0x%08x (shmid %d) is not the successor the forward "
                         "pointer of segment 0x%08x names (shmid %d): not followed",
                         (unsigned)forward->key, shmid, (unsigned)from->key, forward->shmid);
    }
    seg->base_key = from->base_key;
    return 0;
}

/* A derived key: the cluster's segment for our credentials is the first of
 * its alternate keys whose fingerprint matches; only when none does is one
 * created, at the first free (or reclaimable) alternate.  Looking before
 * creating keeps processes with the same credentials together even when an
 * earlier alternate became free.  A problem at the default key itself (a
 * foreign segment, another layout) is reported as it is; the same at an
 * alternate only makes us pass it over. */
static int open_derived(const cshm_config *config, cshm_segment *seg, cshm_error *error)
{
    for (int pass = 0; pass < 2; pass++) {
        int flags = pass == 0 ? 0 : MAY_CREATE | MAY_RECLAIM;
        for (unsigned i = 0; i < CSHM_KEY_ALTERNATES; i++) {
            int rc = open_chain(config, cshm_config_key(config, i), flags, seg, error);
            if (rc == 0 || (rc < 0 && i == 0))
                return rc;
        }
    }
    return cshm_fail(error, CSHM_ERR_SEGMENT,
                     "every one of the %u keys derived for cluster '%s' (0x%08x and its "
                     "alternates) holds a segment tended with other credentials or another "
                     "layout and in use; list them with `clustershm list`, remove unused ones "
                     "with `clustershm rm`, or set the key option",
                     (unsigned)CSHM_KEY_ALTERNATES, config->identity,
                     (unsigned)cshm_config_key(config, 0));
}

int cshm_segment_open(const cshm_config *config, cshm_segment *seg, cshm_error *error)
{
    memset(seg, 0, sizeof *seg);
    seg->shmid = -1;
    int rc = compute_geometry(config, seg, error);
    if (rc != 0)
        return rc;
    if (!config->options.has_key)
        return open_derived(config, seg, error);
    /* Reclaiming here too: a process with wrong credentials that failed to
     * connect must not leave behind a segment that locks every later
     * process out of the key. */
    rc = open_chain(config, config->key, MAY_CREATE | MAY_RECLAIM, seg, error);
    if (rc == OPEN_OTHER_CREDENTIALS)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "the segment at key 0x%08x is tended with other credentials for this "
                         "cluster (by processes still attached); use the same credentials in "
                         "every process, or another key (without the key option, processes "
                         "with other credentials get a segment of their own)",
                         (unsigned)config->key);
    return rc;
}

int cshm_segment_private(const cshm_config *config, cshm_segment *seg, cshm_error *error)
{
    memset(seg, 0, sizeof *seg);
    seg->shmid = -1;
    int rc = compute_geometry(config, seg, error);
    if (rc != 0)
        return rc;
    /* C11 wants the size a multiple of the alignment. */
    seg->base = aligned_alloc(4096, round_up(seg->size, 4096));
    if (seg->base == NULL)
        return cshm_fail(error, CSHM_ERR_SYSTEM, "out of memory for a %llu-byte private map",
                         (unsigned long long)seg->size);
    memset(seg->base, 0, seg->size);
    seg->header = (cshm_seg_header *)(void *)seg->base;
    seg->key = config->key;
    seg->base_key = config->key;
    fill_header(seg->header, seg, config, 0);
    rc = validate_attached(config, seg->base, seg->size, "the private map", seg, error, NULL);
    if (rc != 0)
        cshm_segment_close(seg);
    return rc;
}

int cshm_segment_inspect_shmid(int shmid, cshm_segment *seg, cshm_error *error)
{
    memset(seg, 0, sizeof *seg);
    seg->shmid = -1;
    struct shmid_ds ds;
    if (shm_stat(shmid, &ds) != 0)
        return cshm_fail(error, CSHM_ERR_SEGMENT, "cannot inspect shmid %d: %s", shmid,
                         strerror(errno));
    char what[200];
    uint32_t key = (uint32_t)ds.shm_perm.__key;
    describe(what, sizeof what, key, shmid, &ds);
    if (ds.shm_segsz < CSHM_HEADER_SIZE)
        return cshm_fail(error, CSHM_ERR_SEGMENT, "%s is not a clustershm segment (too small)",
                         what);
    void *base = shmat(shmid, NULL, SHM_RDONLY);
    if (base == (void *)-1)
        return cshm_fail(error, CSHM_ERR_SEGMENT, "cannot attach %s: %s", what, strerror(errno));
    int rc = validate_attached(NULL, base, ds.shm_segsz, what, seg, error, NULL);
    if (rc != 0) {
        shmdt(base);
        return rc;
    }
    seg->shmid = shmid;
    seg->key = key;
    seg->base = base;
    seg->header = base;
    seg->read_only = 1;
    return 0;
}

int cshm_segment_inspect(uint32_t key, cshm_segment *seg, cshm_error *error)
{
    int shmid = shmget((key_t)key, 0, 0);
    if (shmid < 0) {
        if (errno == ENOENT)
            return cshm_fail(error, CSHM_ERR_SEGMENT, "no segment at key 0x%08x", (unsigned)key);
        return shm_failure(errno, key, 0, error);
    }
    return cshm_segment_inspect_shmid(shmid, seg, error);
}

/* The last process to detach removes the segment (docs/design.md, "Segment
 * lifetime"): after our shmdt, a segment with no attachment left is ours to
 * remove.  Two processes closing together may both see nattch 0; the second
 * IPC_RMID fails harmlessly.  An attacher that arrives between our look and
 * our IPC_RMID sees SHM_DEST when it checks (attach_existing, and every
 * check period of its thread) and moves on.  A read-only inspection (the
 * command) never removes what it looked at. */
void cshm_segment_close(cshm_segment *seg)
{
    if (seg->base == NULL)
        return;
    if (seg->shmid >= 0) {
        shmdt(seg->base);
        struct shmid_ds ds;
        if (!seg->read_only && shm_stat(seg->shmid, &ds) == 0 && ds.shm_nattch == 0 &&
            !(ds.shm_perm.mode & SHM_DEST))
            shmctl(seg->shmid, IPC_RMID, NULL);
    } else {
        free(seg->base);
    }
    seg->base = NULL;
    seg->header = NULL;
}

int cshm_segment_removed(const cshm_segment *seg)
{
    return seg->shmid >= 0 && segment_removed(seg->shmid);
}

uint32_t cshm_segment_attached(const cshm_segment *seg)
{
    struct shmid_ds ds;
    if (seg->shmid < 0)
        return 1;
    if (shm_stat(seg->shmid, &ds) != 0)
        return 0;
    return (uint32_t)ds.shm_nattch;
}
