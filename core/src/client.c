/*
 * client.c - the public API: connect, close, route, partition, status,
 * verify_snapshot, request_refresh, refresh_wait (nodes and shards: table.c).
 *
 * Invariants:
 *  - Read calls never block on the tender: they read the published slot under
 *    its seqlock (snapshot.c).
 *  - Every API call first checks whether the process forked since the client
 *    last ran here (one load); in a fork child the background thread is
 *    restarted, the inherited driver sockets are dropped, and the child starts
 *    as a follower, because the owner lock records the parent's thread.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "client.h"
#include "error.h"
#include "log.h"
#include "snapshot.h"

static uint64_t fork_generation;          /* atomic */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void in_fork_child(void)
{
    __atomic_add_fetch(&fork_generation, 1, __ATOMIC_RELEASE);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, in_fork_child);
}

uint64_t cshm_current_fork_generation(void)
{
    return __atomic_load_n(&fork_generation, __ATOMIC_ACQUIRE);
}

/* The parent thread's state that fork children left behind (see
 * adopt_after_fork), pushed atomically: it is never freed or read, and is
 * kept on this list only so that it stays reachable - a leak checker (LSan,
 * valgrind) then tells it from memory that was really lost.  One entry per
 * client per fork generation, so it cannot grow in a loop. */
struct left_behind {
    struct left_behind *next;
    void *driver_state;
    cshm_map published, building;
    cshm_robust_owner robust;
};
static struct left_behind *left_behind_head;  /* atomic */

static void leave_behind(cshm_client *c)
{
    if (c->driver_state == NULL && c->published.payload == NULL &&
        c->building.payload == NULL && c->robust.shadow == NULL)
        return;
    struct left_behind *l = malloc(sizeof *l);
    if (l == NULL)
        return;   /* unreachable then, but no less safe */
    l->driver_state = c->driver_state;
    l->published = c->published;
    l->building = c->building;
    l->robust = c->robust;
    l->next = __atomic_load_n(&left_behind_head, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&left_behind_head, &l->next, l, 1, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED))
        ;
}

/* In a fork child: the parent's thread is not here, and whatever it was
 * doing at the instant of fork() may be half done in our copy of its state
 * (a driver buffer in mid-realloc, a map in mid-copy).  So that state is
 * left behind, never freed or reused: the child starts over with a fresh
 * driver, fresh maps and a fresh robust list, as a follower.  The sockets
 * were closed by net.c's fork handler already. */
static int adopt_after_fork(cshm_client *c, cshm_error *error)
{
    c->fork_generation = cshm_current_fork_generation();
    c->pid = getpid();
    c->thread_running = 0;
    c->role = CSHM_ROLE_FOLLOWER;
    leave_behind(c);
    c->driver_state = NULL;
    memset(&c->published, 0, sizeof c->published);
    memset(&c->building, 0, sizeof c->building);
    memset(&c->robust, 0, sizeof c->robust);
    c->has_map = 0;
    c->failures_in_row = 0;
    c->step_downs_in_row = 0;
    c->backoff_until = 0;
    c->pending_handoffs = c->pending_dead = c->pending_hung = 0;
    c->own_failure = 0;
    /* The parent's threads are not here: no call of theirs is in progress,
     * and a move the parent's thread was making is abandoned (a segment it
     * had attached but not recorded stays attached until we exit).  The
     * thread starts in the segment we read. */
    c->readers = 0;
    pthread_mutex_init(&c->move_lock, NULL);
    c->tseg = c->current;
    c->checked_state = 0;
    c->growth_retry_at = 0;
    if (!c->shared) {
        /* Our private copy of the map still has the parent thread's locks:
         * nobody else can hold them here. */
        cshm_seg_header *h = c->current->header;
        for (uint32_t i = 0; i < CSHM_OWNER_LOCKS; i++)
            cshm_robust_lock_init(&h->owner_locks[i]);
        for (uint32_t i = 0; i < CSHM_SLOTS; i++)
            cshm_robust_lock_init(&h->slot_locks[i]);
    }
    return cshm_thread_start(c, error);
}

int cshm_client_ready(cshm_client *c, cshm_error *error)
{
    if (c == NULL)
        return cshm_fail(error, CSHM_ERR_STATE, "client is NULL (closed or never connected)");
    if (c->fork_generation != cshm_current_fork_generation())
        return adopt_after_fork(c, error);
    return 0;
}

/* The last error a tender published ("" when none). */
static void published_error(const cshm_segment *seg, char *out, size_t cap)
{
    cshm_map_counts counts;
    cshm_tend_record record;
    if (cshm_snapshot_read_counts(seg, &counts, &record, NULL) == 0)
        snprintf(out, cap, "%s", record.last_error);
    else
        snprintf(out, cap, "%s", "");
}

/* Wait for a map.  Fails at once when this process's own thread tended and
 * got nothing (the cluster is unreachable from here); while another
 * process's tender fails, it keeps waiting: that tender steps down after a
 * few failures and this process may have better luck. */
static int wait_for_map_in(cshm_client *c, cshm_segment *seg, double deadline,
                           cshm_error *error)
{
    cshm_seg_header *h = seg->header;
    double timeout = c->config.options.connect_timeout;
    {
        uint32_t seen = __atomic_load_n(cshm_state_futex(h), __ATOMIC_ACQUIRE);
        if (cshm_snapshot_map_ready(seg))
            return 0;
        if (__atomic_load_n(&c->own_failure, __ATOMIC_ACQUIRE))
            return cshm_fail(error, CSHM_ERR_CLUSTER,
                             "no node of %s answered: %s. Check the URL, the credentials, and "
                             "that the cluster is up and reachable from this host",
                             c->config.identity, c->own_error);
        double remaining = deadline - cshm_mono_now();
        if (remaining <= 0) {
            /* A published map we cannot read (an index or count out of
             * range, a seqlock that never settles) is why we waited in vain:
             * say so, with the reader's own error, instead of a bare
             * timeout that blames the cluster. */
            cshm_map_counts counts;
            cshm_error unreadable;
            cshm_error_clear(&unreadable);
            int read = cshm_snapshot_read_counts(seg, &counts, NULL, &unreadable);
            if (read < 0)
                return cshm_fail(error, read,
                                 "no usable cluster map within connect_timeout=%g s (tender pid "
                                 "%u): %s",
                                 timeout, (unsigned)cshm_segment_tender_pid(h),
                                 unreadable.message);
            char last[CSHM_ERROR_TEXT];
            published_error(seg, last, sizeof last);
            return cshm_fail(error, CSHM_ERR_TIMEOUT,
                             "no cluster map within connect_timeout=%g s (tender pid %u%s%s); "
                             "raise connect_timeout or check the cluster",
                             timeout, (unsigned)cshm_segment_tender_pid(h),
                             last[0] ? ", last error: " : "", last);
        }
        /* Woken by every publish and every change of tender; bounded, as
         * our own thread's failure is not a shared word. */
        cshm_futex_wait(cshm_state_futex(h), seen, remaining < 0.05 ? remaining : 0.05);
    }
    return 1;
}

/* Each round reads the segment current then: it may move (growth). */
static int wait_for_map(cshm_client *c, cshm_error *error)
{
    double deadline = cshm_mono_now() + c->config.options.connect_timeout;
    for (;;) {
        cshm_segment *seg = cshm_client_enter(c);
        int rc = wait_for_map_in(c, seg, deadline, error);
        cshm_client_leave(c);
        if (rc <= 0)
            return rc;
    }
}

/* Every process of a segment uses its creator's timing, so one
 * misconfigured process can neither take over healthy tenders too early nor
 * make the tender poll the cluster harder.  A difference is worth a line. */
static void adopt_segment_timing(cshm_client *c)
{
    cshm_options *o = &c->config.options;
    const cshm_segment *seg = c->current;
    if (c->shared && (o->tend_interval != seg->tend_interval ||
                      o->takeover_timeout != seg->takeover_timeout ||
                      o->min_refresh_interval != seg->min_refresh_interval))
        cshm_log(CSHM_LOG_WARNING,
                 "segment 0x%08x was created with tend_interval=%g s, takeover_timeout=%g s, "
                 "min_refresh_interval=%g s; this process asked for %g s, %g s, %g s and uses "
                 "the segment's values (every process of a segment uses its creator's timing; "
                 "use a new key to change it)",
                 (unsigned)seg->key, seg->tend_interval, seg->takeover_timeout,
                 seg->min_refresh_interval, o->tend_interval, o->takeover_timeout,
                 o->min_refresh_interval);
    o->tend_interval = seg->tend_interval;
    o->takeover_timeout = seg->takeover_timeout;
    o->min_refresh_interval = seg->min_refresh_interval;
    /* Options are the size of a segment this process creates; an existing
     * one is used at the size it has (docs/design.md §1b), and the driver
     * builds maps of that size. */
    o->max_nodes = seg->shape.max_nodes;
    o->max_namespaces = seg->shape.max_namespaces;
}

int cshm_connect(const char *url, const cshm_options *options, cshm_client **out,
                 cshm_error *error)
{
    cshm_error_clear(error);
    if (out == NULL)
        return cshm_fail(error, CSHM_ERR_CONFIG, "cshm_connect: out must not be NULL");
    *out = NULL;
    pthread_once(&atfork_once, register_atfork);

    /* The segment's last process may remove it just as we attach; the
     * attach checks for that, and so do we once more after the wait, which
     * leaves the instant between that process's two system calls (docs/
     * design.md, "Segment lifetime").  A few rounds settle it. */
    for (int round = 0;; round++) {
        cshm_client *c = calloc(1, sizeof *c);
        if (c == NULL)
            return cshm_fail(error, CSHM_ERR_SYSTEM, "out of memory");
        pthread_mutex_init(&c->move_lock, NULL);
        int rc = cshm_config_parse(url, options, &c->config, error);
        if (rc == 0) {
            c->shared = c->config.options.shared;
            rc = c->shared ? cshm_segment_open(&c->config, &c->segs[0], error)
                           : cshm_segment_private(&c->config, &c->segs[0], error);
            c->current = c->tseg = &c->segs[0];
        }
        if (rc == 0) {
            adopt_segment_timing(c);
            c->fork_generation = cshm_current_fork_generation();
            c->pid = getpid();
            rc = cshm_thread_start(c, error);
        }
        if (rc == 0)
            rc = wait_for_map(c, error);
        int removed = rc == 0 && c->shared && cshm_segment_removed(c->current);
        if (rc != 0 || (removed && round < 4)) {
            cshm_close(c);
            if (rc != 0)
                return rc;
            continue;
        }
        *out = c;
        return 0;
    }
}

int cshm_close(cshm_client *c)
{
    if (c == NULL)
        return 0;
    /* In a fork child the thread handle is the parent's: nothing to join,
     * and the thread's state is left behind (see adopt_after_fork). */
    if (c->fork_generation == cshm_current_fork_generation()) {
        cshm_thread_stop(c);
        /* Still running: we are that thread, which cannot join itself.
         * Nothing was done, so the caller still owns an open client. */
        if (c->thread_running)
            return CSHM_ERR_STATE;
        if (c->driver_state != NULL)
            c->config.driver->destroy(c->driver_state);
        cshm_map_free(&c->published);
        cshm_map_free(&c->building);
    } else {
        leave_behind(c);
    }
    cshm_map_free(&c->view);
    cshm_client_detach_all(c);
    pthread_mutex_destroy(&c->move_lock);
    /* The password lives in the config: do not leave it in freed memory. */
    explicit_bzero(&c->config, sizeof c->config);
    free(c);
    return 0;
}

int cshm_partition(cshm_client *c, const cshm_key *key, const char *set, uint32_t *partition,
                   cshm_error *error)
{
    int rc = cshm_client_ready(c, error);
    if (rc != 0)
        return rc;
    return c->config.driver->partition(key, set, partition, error);
}

static int route_column(cshm_client *c, const cshm_key *key, const char *namespace_name,
                        const char *set, uint32_t column, int32_t rack_id, cshm_route_result *out,
                        cshm_error *error)
{
    uint32_t partition;
    int rc = c->config.driver->partition(key, set, &partition, error);
    if (rc != 0)
        return rc;
    if (c->config.kind == CSHM_DRIVER_AEROSPIKE) {
        if (namespace_name == NULL || namespace_name[0] == '\0')
            return cshm_fail(error, CSHM_ERR_CONFIG,
                             "route: Aerospike keys need a namespace; give the namespace argument");
    } else {
        namespace_name = NULL;
    }
    cshm_segment *seg = cshm_client_enter(c);
    rc = cshm_snapshot_route(seg, namespace_name, partition, column, rack_id, out, error);
    cshm_client_leave(c);
    return rc;
}

/* c->view shaped for seg's maps (between enter and leave): made on first
 * use, made again when the segment grew. */
int cshm_client_fit_view(cshm_client *c, const cshm_segment *seg, cshm_error *error)
{
    if (c->view.payload != NULL && memcmp(&c->view.shape, &seg->shape, sizeof seg->shape) != 0)
        cshm_map_free(&c->view);
    if (c->view.payload == NULL && cshm_map_init(&c->view, &seg->shape) != 0)
        return cshm_fail(error, CSHM_ERR_SYSTEM, "out of memory for a copy of the map");
    return 0;
}

int cshm_route(cshm_client *c, const cshm_key *key, const char *namespace_name, const char *set,
               int replica, cshm_route_result *out, cshm_error *error)
{
    int rc = cshm_client_ready(c, error);
    if (rc != 0)
        return rc;
    if (replica < 0)
        return cshm_fail(error, CSHM_ERR_CONFIG, "replica %d: use 0 for the master, 1.. for replicas",
                         replica);
    return route_column(c, key, namespace_name, set, (uint32_t)replica, -1, out, error);
}

int cshm_route_prefer_rack(cshm_client *c, const cshm_key *key, const char *namespace_name,
                           const char *set, int32_t rack_id, cshm_route_result *out,
                           cshm_error *error)
{
    int rc = cshm_client_ready(c, error);
    if (rc != 0)
        return rc;
    if (c->config.kind != CSHM_DRIVER_AEROSPIKE)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "replica prefer_rack is for Aerospike clusters; Redis has no racks");
    if (rack_id < 0)
        rack_id = c->config.options.rack_id;
    if (rack_id < 0 || rack_id > CSHM_RACK_MAX)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "replica prefer_rack needs a rack id 0 to %d: pass rack_id or set the "
                         "rack_id option",
                         CSHM_RACK_MAX);
    return route_column(c, key, namespace_name, set, 0, rack_id, out, error);
}

int cshm_verify_snapshot(cshm_client *c, cshm_error *error)
{
    int rc = cshm_client_ready(c, error);
    if (rc != 0)
        return rc;
    cshm_segment *seg = cshm_client_enter(c);
    rc = cshm_client_fit_view(c, seg, error);
    if (rc == 0)
        rc = cshm_snapshot_verify(seg, &c->view, error);
    cshm_client_leave(c);
    return rc;
}

static void copy_step_downs(cshm_status_info *s, const cshm_tend_record *r)
{
    s->step_down_count = r->step_down_count;
    for (uint32_t i = 0; i < r->step_down_count && i < CSHM_STEP_DOWN_HISTORY; i++) {
        const cshm_step_down *d = &r->step_down_history[i];
        cshm_step_down_info *out = &s->step_down_history[i];
        out->pid = (pid_t)d->pid;
        out->epoch = d->epoch;
        out->at = (double)d->at_ms / 1000.0;
        out->failures = d->failures;
        snprintf(out->reason, sizeof out->reason, "%s", d->reason);
    }
}

static int status_of(cshm_client *c, const cshm_segment *seg, cshm_status_info *s,
                     cshm_error *error)
{
    int rc;
    cshm_seg_header *h = seg->header;
    memset(s, 0, sizeof *s);
    int role = __atomic_load_n(&c->role, __ATOMIC_ACQUIRE);
    snprintf(s->role, sizeof s->role, "%s",
             !c->shared ? "private" : role == CSHM_ROLE_TENDER ? "tender" : "follower");
    s->pid = getpid();
    s->owner_pid = (pid_t)cshm_segment_tender_pid(h);
    s->epoch = cshm_state_epoch(__atomic_load_n(&h->state, __ATOMIC_ACQUIRE));
    s->key = seg->key;
    s->shmid = seg->shmid;
    s->segment_size = seg->size;
    s->attached = cshm_segment_attached(seg);
    s->tend_interval = seg->tend_interval;
    s->takeover_timeout = seg->takeover_timeout;
    s->min_refresh_interval = seg->min_refresh_interval;
    snprintf(s->driver, sizeof s->driver, "%s", c->config.driver->name);
    _Static_assert(CSHM_IDENTITY_TEXT == CSHM_IDENTITY_MAX, "identity sizes differ");
    snprintf(s->identity, sizeof s->identity, "%s", seg->identity);
    s->max_nodes = seg->shape.max_nodes;
    s->max_namespaces = seg->shape.max_namespaces;
    s->has_tender = !c->shared || cshm_segment_tender_held(h);
    s->chain_generation = seg->generation;
    s->chain_base = cshm_segment_chain_base(seg);

    cshm_map_counts counts;
    cshm_tend_record record;
    rc = cshm_snapshot_read_counts(seg, &counts, &record, error);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        s->generation = counts.generation;
        s->tended_at = (double)counts.tended_at_ms / 1000.0;
        s->age = counts.tended_at_ms ? (double)cshm_wall_ms() / 1000.0 - s->tended_at : 0;
        s->stale = (counts.flags & CSHM_MAP_STALE) != 0;
        s->has_map = (counts.flags & CSHM_MAP_EMPTY) == 0;
        s->nodes = counts.node_count;
        s->namespaces = counts.ns_count;
        s->nodes_seen = counts.nodes_seen;
        s->namespaces_seen = counts.ns_seen;
        s->nodes_truncated = (counts.flags & CSHM_MAP_NODES_TRUNCATED) != 0;
        s->namespaces_truncated = (counts.flags & CSHM_MAP_NAMESPACES_TRUNCATED) != 0;
        s->replicas_truncated = (counts.flags & CSHM_MAP_REPLICAS_TRUNCATED) != 0;
        s->tends = record.tends;
        s->tend_failures = record.tend_failures;
        s->handoffs = record.handoffs;
        s->dead_takeovers = record.dead_takeovers;
        s->hung_takeovers = record.hung_takeovers;
        s->step_downs = record.step_downs;
        s->failures_in_row = record.failures_in_row;
        snprintf(s->last_error, sizeof s->last_error, "%s", record.last_error);
        copy_step_downs(s, &record);
        s->forwarded_to = record.forward.key;
    }
    return 0;
}

int cshm_status(cshm_client *c, cshm_status_info *s, cshm_error *error)
{
    int rc = cshm_client_ready(c, error);
    if (rc != 0)
        return rc;
    cshm_segment *seg = cshm_client_enter(c);
    rc = status_of(c, seg, s, error);
    cshm_client_leave(c);
    return rc;
}

int cshm_request_refresh(cshm_client *c, cshm_error *error)
{
    int rc = cshm_client_ready(c, error);
    if (rc != 0)
        return rc;
    cshm_segment *seg = cshm_client_enter(c);
    cshm_seg_header *h = seg->header;
    __atomic_add_fetch(&h->refresh_seq, 1, __ATOMIC_RELEASE);
    cshm_futex_wake_all(&h->refresh_seq);
    cshm_client_leave(c);
    return 0;
}

/* (int32_t)(a - b) >= 0: a is b or later, across the wrap of the counter. */
static int sequence_reached(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) >= 0;
}

/* One request and the wait for its answer, in seg.  1: a newer map;
 * 0: the deadline passed; -1: ask again (answered with the same map, or
 * the segment moved meanwhile). */
static int refresh_round(cshm_segment *seg, int start_shmid, int had_map,
                         uint64_t start_generation, double deadline, cshm_map_counts *counts,
                         cshm_tend_record *record)
{
    cshm_seg_header *h = seg->header;
    /* Ask; the tender coalesces every request made before its next tend
     * starts, and tends at most once per min_refresh_interval. */
    uint32_t ticket = __atomic_add_fetch(&h->refresh_seq, 1, __ATOMIC_ACQ_REL);
    cshm_futex_wake_all(&h->refresh_seq);
    for (;;) {
        uint32_t seen = __atomic_load_n(cshm_state_futex(h), __ATOMIC_ACQUIRE);
        int read = cshm_snapshot_read_counts(seg, counts, record, NULL) == 0;
        if (read && !(counts->flags & CSHM_MAP_EMPTY) &&
            (!had_map || seg->shmid != start_shmid || counts->generation > start_generation))
            return 1;
        double remaining = deadline - cshm_mono_now();
        if (remaining <= 0)
            return 0;
        /* Answered by a tend that found the same map: the cluster may not
         * have settled yet (a failover in progress), so ask again. */
        if (read && sequence_reached(record->refresh_answered, ticket))
            return -1;
        if (__atomic_load_n(&h->forwarded, __ATOMIC_RELAXED) != 0)
            return -1;
        cshm_futex_wait(cshm_state_futex(h), seen, remaining < 0.05 ? remaining : 0.05);
    }
}

int cshm_refresh_wait(cshm_client *c, double timeout, int *newer, cshm_error *error)
{
    if (newer != NULL)
        *newer = 0;
    int rc = cshm_client_ready(c, error);
    if (rc != 0)
        return rc;
    if (!(timeout >= 0 && timeout <= 3600))
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "refresh: bad timeout %g s; use 0 to 3600 seconds", timeout);
    cshm_map_counts counts;
    cshm_tend_record record;
    uint64_t start_generation = 0;
    cshm_segment *start = cshm_client_enter(c);
    int start_shmid = start->shmid;
    int had_map = cshm_snapshot_read_counts(start, &counts, NULL, NULL) == 0 &&
                  !(counts.flags & CSHM_MAP_EMPTY);
    cshm_client_leave(c);
    if (had_map)
        start_generation = counts.generation;

    double deadline = cshm_mono_now() + timeout;
    int answer = -1;
    while (answer < 0) {
        /* Each round reads the segment current then: when the segment grew,
         * the successor's map is newer than any of the old one's. */
        cshm_segment *seg = cshm_client_enter(c);
        answer = refresh_round(seg, start_shmid, had_map, start_generation, deadline, &counts,
                               &record);
        cshm_client_leave(c);
    }
    if (newer != NULL)
        *newer = answer;
    return 0;
}
