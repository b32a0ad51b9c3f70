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
#include "driver.h"
#include "error.h"

_Static_assert(sizeof(cshm_seg_header) <= CSHM_HEADER_SIZE, "header must fit its page");
_Static_assert(sizeof(cshm_slot_head) % 64 == 0, "slot head keeps the payload aligned");

static uint64_t round_up(uint64_t n, uint64_t to)
{
    return (n + to - 1) / to * to;
}

static int compute_geometry(const cshm_config *config, cshm_segment *seg, cshm_error *error)
{
    memset(&seg->shape, 0, sizeof seg->shape);
    config->driver->shape(config, &seg->shape);
    if (cshm_map_layout_of(&seg->shape, &seg->layout) != 0)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad options: max_nodes=%u, max_namespaces=%u give a map layout out of "
                         "range",
                         (unsigned)seg->shape.max_nodes, (unsigned)seg->shape.max_namespaces);
    seg->slot_stride = round_up(sizeof(cshm_slot_head) + seg->layout.size, 64);
    seg->size = CSHM_HEADER_SIZE + (uint64_t)CSHM_SLOTS * seg->slot_stride;
    return 0;
}

static void fill_header(cshm_segment *seg, const cshm_config *config)
{
    cshm_seg_header *h = seg->header;
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
    h->payload_size = seg->layout.size;
    h->slot_stride = seg->slot_stride;
    h->slots_offset = CSHM_HEADER_SIZE;

    h->creator_uid = (uint32_t)geteuid();
    h->creator_pid = (uint32_t)getpid();
    h->created_at_ms = cshm_wall_ms();
    h->mode = config->options.mode;
    h->identity_len = (uint32_t)strlen(config->identity);
    memcpy(h->identity, config->identity, h->identity_len + 1);

    h->state = cshm_state_make(0, 0, 0);
    h->heartbeat = 0;
    for (uint32_t i = 0; i < CSHM_OWNER_LOCKS; i++)
        cshm_robust_lock_init(&h->owner_locks[i]);
    for (uint32_t i = 0; i < CSHM_SLOTS; i++) {
        cshm_robust_lock_init(&h->slot_locks[i]);
        h->slot_writer_epoch[i] = 0;
        cshm_segment_slot(seg, i)->seq = 0;
    }
    memcpy(h->prefix.magic, CSHM_MAGIC, 8);
    __atomic_store_n(&h->prefix.init_state, CSHM_INIT_READY, __ATOMIC_RELEASE);
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

/* Internal consistency of a header, needed before trusting any offset. */
static int check_geometry(const cshm_seg_header *h, uint64_t real_size, const char *what,
                          cshm_segment *seg, cshm_error *error)
{
    cshm_map_layout layout;
    if (h->pointer_size != sizeof(void *) || h->lock_size != sizeof(cshm_robust_lock) ||
        h->node_entry_size != sizeof(cshm_map_node) || h->slot_count != CSHM_SLOTS ||
        h->owner_lock_count != CSHM_OWNER_LOCKS || h->slots_offset != CSHM_HEADER_SIZE)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s was built for another architecture or build of clustershm "
                         "(pointer %u, lock %u, node %u bytes); use another key",
                         what, (unsigned)h->pointer_size, (unsigned)h->lock_size,
                         (unsigned)h->node_entry_size);
    if (cshm_map_layout_of(&h->shape, &layout) != 0 || layout.size != h->payload_size ||
        h->slot_stride != round_up(sizeof(cshm_slot_head) + layout.size, 64) ||
        h->prefix.total_size != CSHM_HEADER_SIZE + (uint64_t)CSHM_SLOTS * h->slot_stride ||
        h->prefix.total_size > real_size || h->identity_len >= CSHM_IDENTITY_MAX)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s is corrupt: its layout fields disagree with each other or with its "
                         "size; remove it with `clustershm rm` once its processes are gone",
                         what);
    seg->shape = h->shape;
    seg->layout = layout;
    seg->slot_stride = h->slot_stride;
    seg->size = h->prefix.total_size;
    return 0;
}

static const char *driver_name(uint32_t kind)
{
    return kind == CSHM_DRIVER_REDIS ? "redis" : kind == CSHM_DRIVER_AEROSPIKE ? "aerospike" : "?";
}

/* Our configuration against a valid header. */
static int check_matches(const cshm_seg_header *h, const cshm_config *config,
                         const cshm_segment *want, const char *what, cshm_error *error)
{
    if (h->identity_len != strlen(config->identity) ||
        memcmp(h->identity, config->identity, h->identity_len) != 0)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s serves cluster '%.*s', but this client is configured for '%s'; give "
                         "each cluster its own key (or leave key unset to derive one per cluster)",
                         what, (int)h->identity_len, h->identity, config->identity);
    if (memcmp(&h->shape, &want->shape, sizeof h->shape) != 0 ||
        h->driver_kind != (uint32_t)config->kind)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s was created for %s with max_nodes=%u, max_namespaces=%u; this client "
                         "asks for %s with max_nodes=%u, max_namespaces=%u: use the same options "
                         "in every process, or a new key for the new ones",
                         what, driver_name(h->driver_kind), (unsigned)h->shape.max_nodes,
                         (unsigned)h->shape.max_namespaces, driver_name((uint32_t)config->kind),
                         (unsigned)want->shape.max_nodes, (unsigned)want->shape.max_namespaces);
    return 0;
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

static int shm_failure(int err, uint32_t key, uint64_t size, cshm_error *error)
{
    if (err == EINVAL)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "cannot create a %llu-byte segment at key 0x%08x: over the kernel's "
                         "limit; raise it with `sysctl -w kernel.shmmax=%llu`, or lower "
                         "max_nodes/max_namespaces",
                         (unsigned long long)size, (unsigned)key, (unsigned long long)size);
    if (err == ENOSPC)
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "cannot create a %llu-byte segment at key 0x%08x: the kernel's segment "
                         "count or total is exhausted; raise `sysctl kernel.shmmni` or "
                         "`kernel.shmall`, or remove unused segments (`clustershm list`)",
                         (unsigned long long)size, (unsigned)key);
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

/* Attach to an existing segment and validate it against our configuration.
 * Returns 0, a cshm_code, or 1 when the segment vanished (caller retries). */
static int attach_existing(const cshm_config *config, cshm_segment *seg, cshm_error *error)
{
    uint32_t key = config->key;
    int shmid = shmget((key_t)key, 0, 0);
    if (shmid < 0)
        return errno == ENOENT ? 1 : shm_failure(errno, key, seg->size, error);

    struct shmid_ds ds;
    if (shmctl(shmid, IPC_STAT, &ds) != 0)
        return errno == EINVAL || errno == EIDRM ? 1 : shm_failure(errno, key, seg->size, error);
    char what[200];
    describe(what, sizeof what, key, shmid, &ds);
    if (check_permissions(&ds, config, what, error) != 0)
        return CSHM_ERR_SEGMENT;
    if (ds.shm_segsz < sizeof(cshm_seg_prefix))
        return cshm_fail(error, CSHM_ERR_SEGMENT,
                         "%s is too small to be a clustershm segment; it belongs to another "
                         "program: choose another key. It was left untouched",
                         what);

    void *base = shmat(shmid, NULL, 0);
    if (base == (void *)-1)
        return errno == EINVAL || errno == EIDRM ? 1 : shm_failure(errno, key, seg->size, error);
    cshm_seg_header *h = base;

    /* Wait for a creator that is still filling the header. */
    double deadline = cshm_mono_now() + config->options.connect_timeout;
    for (;;) {
        uint32_t init = __atomic_load_n(&h->prefix.init_state, __ATOMIC_ACQUIRE);
        if (init == CSHM_INIT_READY)
            break;
        int fresh = init == 0 && memcmp(h->prefix.magic, "\0\0\0\0\0\0\0\0", 8) == 0;
        if (init != CSHM_INIT_BUSY && !fresh)
            break; /* not ours, or corrupt: check_prefix() says which */
        if (init == CSHM_INIT_BUSY && ds.shm_segsz == seg->size &&
            shmctl(shmid, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1) {
            /* Marked by a clustershm creator that is gone (we are the only
             * process attached): finish its work. */
            cshm_segment tmp = *seg;
            tmp.base = base;
            tmp.header = h;
            fill_header(&tmp, config);
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

    cshm_segment want = *seg;
    int rc = check_prefix(&h->prefix, what, error);
    if (rc == 0 && __atomic_load_n(&h->prefix.init_state, __ATOMIC_ACQUIRE) != CSHM_INIT_READY)
        rc = cshm_fail(error, CSHM_ERR_SEGMENT, "%s is corrupt: unknown init state", what);
    if (rc == 0)
        rc = check_geometry(h, ds.shm_segsz, what, seg, error);
    if (rc == 0)
        rc = check_matches(h, config, &want, what, error);
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

int cshm_segment_open(const cshm_config *config, cshm_segment *seg, cshm_error *error)
{
    memset(seg, 0, sizeof *seg);
    seg->shmid = -1;
    int rc = compute_geometry(config, seg, error);
    if (rc != 0)
        return rc;
    uint32_t key = config->key;

    /* A segment can vanish between our calls (clustershm rm); a few rounds
     * of create-or-attach settle it. */
    for (int attempt = 0; attempt < 8; attempt++) {
        int shmid = shmget((key_t)key, seg->size, IPC_CREAT | IPC_EXCL | (int)config->options.mode);
        if (shmid >= 0) {
            void *base = shmat(shmid, NULL, 0);
            if (base == (void *)-1) {
                int err = errno;
                shmctl(shmid, IPC_RMID, NULL);
                return shm_failure(err, key, seg->size, error);
            }
            seg->shmid = shmid;
            seg->key = key;
            seg->base = base;
            seg->header = base;
            fill_header(seg, config);
            return 0;
        }
        if (errno != EEXIST)
            return shm_failure(errno, key, seg->size, error);
        rc = attach_existing(config, seg, error);
        if (rc <= 0)
            return rc;
    }
    return cshm_fail(error, CSHM_ERR_SEGMENT,
                     "the segment at key 0x%08x kept disappearing while attaching (is something "
                     "removing it in a loop?)",
                     (unsigned)key);
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
    fill_header(seg, config);
    return 0;
}

int cshm_segment_inspect_shmid(int shmid, cshm_segment *seg, cshm_error *error)
{
    memset(seg, 0, sizeof *seg);
    seg->shmid = -1;
    struct shmid_ds ds;
    if (shmctl(shmid, IPC_STAT, &ds) != 0)
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
    cshm_seg_header *h = base;
    int rc = check_prefix(&h->prefix, what, error);
    if (rc == 0 && __atomic_load_n(&h->prefix.init_state, __ATOMIC_ACQUIRE) != CSHM_INIT_READY)
        rc = cshm_fail(error, CSHM_ERR_SEGMENT, "%s is not initialised", what);
    if (rc == 0)
        rc = check_geometry(h, ds.shm_segsz, what, seg, error);
    if (rc != 0) {
        shmdt(base);
        return rc;
    }
    seg->shmid = shmid;
    seg->key = key;
    seg->base = base;
    seg->header = h;
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

void cshm_segment_close(cshm_segment *seg)
{
    if (seg->base == NULL)
        return;
    if (seg->shmid >= 0)
        shmdt(seg->base);
    else
        free(seg->base);
    seg->base = NULL;
    seg->header = NULL;
}

uint32_t cshm_segment_attached(const cshm_segment *seg)
{
    struct shmid_ds ds;
    if (seg->shmid < 0)
        return 1;
    if (shmctl(seg->shmid, IPC_STAT, &ds) != 0)
        return 0;
    return (uint32_t)ds.shm_nattch;
}
