/*
 * tender.c - the background thread: election, takeover, tending, publishing.
 *
 * Every attached process runs one thread.  It competes for the owner lock
 * named by the state word; the winner bumps the epoch with a compare-and-swap
 * and tends until it stops or loses.
 *
 *  - Clean close: the tender releases the lock, which wakes the waiters at
 *    once; the first to take it becomes the next tender (handoff).
 *  - Crash: the kernel marks the lock OWNER_DIED when the tender thread dies
 *    and wakes a waiter, which takes over.  No pid is consulted.
 *  - Hang: the tender bumps the heartbeat (fenced by its epoch) at least every
 *    tend interval and between network operations.  A follower that sees it
 *    unchanged for takeover_timeout on its own monotonic clock takes the next
 *    free owner lock of the ring and bumps the epoch ("usurps").  The old
 *    tender still holds its own lock; when it resumes, its heartbeat and
 *    publish compare-and-swaps fail on the epoch and it becomes a follower.
 *
 * Invariant: only a thread whose epoch is the state word's epoch changes the
 * published slot or the heartbeat, because both changes are CAS on words that
 * carry the epoch.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "client.h"
#include "error.h"
#include "log.h"
#include "snapshot.h"

enum { SESSION_STOP = 0, SESSION_LOST = 1 };

static int stopping(const cshm_client *c)
{
    return __atomic_load_n(&c->stop, __ATOMIC_ACQUIRE);
}

static double check_period(const cshm_client *c)
{
    double p = c->config.options.tend_interval / 2;
    if (p > c->config.options.takeover_timeout / 4)
        p = c->config.options.takeover_timeout / 4;
    if (p > 1.0)
        p = 1.0;
    return p < 0.005 ? 0.005 : p;
}

/* Bump the heartbeat if our epoch still owns it.  0, or -1 when lost. */
static int heartbeat(cshm_client *c)
{
    uint64_t *hb = &c->segment.header->heartbeat;
    uint64_t seen = __atomic_load_n(hb, __ATOMIC_ACQUIRE);
    for (;;) {
        if ((uint32_t)(seen >> 32) != c->epoch)
            return -1;
        uint64_t next = ((uint64_t)c->epoch << 32) | (uint32_t)(seen + 1);
        if (__atomic_compare_exchange_n(hb, &seen, next, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return 0;
    }
}

/* Store (epoch << 32) | low unless the word already belongs to a newer
 * epoch: a resumed old tender racing us with its own writes always loses. */
static void install_for_epoch(uint64_t *word, uint32_t epoch, uint32_t low)
{
    uint64_t seen = __atomic_load_n(word, __ATOMIC_ACQUIRE);
    uint64_t desired = ((uint64_t)epoch << 32) | low;
    while ((uint32_t)(seen >> 32) < epoch) {
        if (__atomic_compare_exchange_n(word, &seen, desired, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            break;
    }
}

/* The first things a new tender does, before anyone can mistake the old
 * tender's heartbeat or pid for its own. */
static void take_office(cshm_client *c)
{
    /* Before anything is logged: a log handler may ask status(). */
    __atomic_store_n(&c->role, CSHM_ROLE_TENDER, __ATOMIC_RELEASE);
    install_for_epoch(&c->segment.header->heartbeat, c->epoch, 0);
    install_for_epoch(&c->segment.header->tender, c->epoch, (uint32_t)getpid());
}

static int progress(void *arg)
{
    cshm_client *c = arg;
    if (stopping(c))
        return 1;
    return heartbeat(c) != 0;
}

static void set_last_error(cshm_client *c, const char *text)
{
    char buf[CSHM_ERROR_TEXT];
    memset(buf, 0, sizeof buf);
    snprintf(buf, sizeof buf, "%s", text);
    cshm_shm_store_words(c->segment.header->last_error, buf, sizeof buf);
}

static void announce_tend(cshm_client *c)
{
    __atomic_add_fetch(&c->segment.header->publish_seq, 1, __ATOMIC_RELEASE);
    cshm_futex_wake_all(&c->segment.header->publish_seq);
}

static void report_flags(cshm_client *c, const cshm_map *map)
{
    uint32_t flags = map->counts->flags;
    uint32_t fresh = flags & ~c->reported_flags;
    if (fresh & CSHM_MAP_NODES_TRUNCATED)
        cshm_log(CSHM_LOG_WARNING,
                 "max_nodes=%u reached: the cluster reports %u nodes and the map holds %u; "
                 "routes to the others fail. Raise max_nodes (with a new key)",
                 (unsigned)map->shape.max_nodes, (unsigned)map->counts->nodes_seen,
                 (unsigned)map->counts->node_count);
    if (fresh & CSHM_MAP_NAMESPACES_TRUNCATED)
        cshm_log(CSHM_LOG_WARNING,
                 "max_namespaces=%u reached: the cluster has %u namespaces; raise max_namespaces "
                 "(with a new key)",
                 (unsigned)map->shape.max_namespaces, (unsigned)map->counts->ns_seen);
    if (fresh & CSHM_MAP_REPLICAS_TRUNCATED)
        cshm_log(CSHM_LOG_WARNING,
                 "some partitions have more replicas than the map stores (%u); the extra "
                 "replicas are not routed to",
                 (unsigned)map->shape.columns - 1);
    c->reported_flags = flags & ~CSHM_MAP_STALE;
}

/* One tend and its publication.  Returns -1 when ownership was lost or the
 * thread is stopping, 0 otherwise. */
static int tend_once(cshm_client *c)
{
    cshm_seg_header *h = c->segment.header;
    cshm_tend_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.op_timeout = c->config.options.connect_timeout < 1.0 ? c->config.options.connect_timeout
                                                             : 1.0;
    ctx.progress = progress;
    ctx.progress_arg = c;

    cshm_map_copy(&c->building, &c->published);
    int rc = c->config.driver->tend(c->driver_state, &c->building, &ctx);
    if (rc == CSHM_TEND_ABORTED)
        return -1;
    __atomic_add_fetch(&h->tends, 1, __ATOMIC_RELAXED);

    cshm_map_counts *counts = c->building.counts;
    if (rc == CSHM_TEND_OK) {
        counts->flags &= ~CSHM_MAP_STALE;
        counts->tended_at_ms = cshm_wall_ms();
        int changed = !c->has_map || cshm_map_differs(&c->building, &c->published);
        counts->generation = c->published.counts->generation + (changed ? 1 : 0);
        set_last_error(c, ctx.error);
        if (c->was_stale)
            cshm_log(CSHM_LOG_INFO, "segment 0x%08x: cluster reachable again",
                     (unsigned)c->segment.key);
        c->was_stale = 0;
        report_flags(c, &c->building);
    } else {
        __atomic_add_fetch(&h->tend_failures, 1, __ATOMIC_RELAXED);
        set_last_error(c, ctx.error[0] ? ctx.error : "no node answered");
        if (!c->was_stale)
            cshm_log(CSHM_LOG_WARNING, "segment 0x%08x: cannot reach the cluster (%s); keeping "
                                       "the last map and marking it stale",
                     (unsigned)c->segment.key, ctx.error);
        c->was_stale = 1;
        if (!c->has_map) {
            announce_tend(c);
            return 0;
        }
        cshm_map_copy(&c->building, &c->published);
        counts->flags |= CSHM_MAP_STALE;
    }

    int published = cshm_snapshot_publish(&c->segment, &c->robust, c->epoch, &c->building);
    if (published == CSHM_PUBLISH_LOST)
        return -1;
    if (published == CSHM_PUBLISH_NO_SLOT) {
        cshm_log(CSHM_LOG_ERROR,
                 "segment 0x%08x: every snapshot slot is held by a stopped former tender; "
                 "will retry",
                 (unsigned)c->segment.key);
    } else {
        cshm_map_copy(&c->published, &c->building);
        c->has_map = 1;
    }
    announce_tend(c);
    return 0;
}

/* Sleep until the next tend is due, a refresh is requested, or we stop.
 * Keeps the heartbeat going.  Returns -1 on stop or loss. */
static int wait_next_tend(cshm_client *c, double tend_started)
{
    cshm_seg_header *h = c->segment.header;
    double deadline = tend_started + c->config.options.tend_interval;
    double beat = check_period(c);
    for (;;) {
        if (stopping(c))
            return -1;
        uint32_t seen = __atomic_load_n(&h->refresh_seq, __ATOMIC_ACQUIRE);
        if (seen != c->refresh_seen) {
            c->refresh_seen = seen;
            return 0;
        }
        double remaining = deadline - cshm_mono_now();
        if (remaining <= 0)
            return 0;
        cshm_futex_wait(&h->refresh_seq, seen, remaining < beat ? remaining : beat);
        if (heartbeat(c) != 0)
            return -1;
    }
}

static int tender_session(cshm_client *c)
{
    /* Followers never need the tender's two private maps: allocate them
     * here, off connect()'s path and out of every follower's memory. */
    if (c->published.payload == NULL &&
        (cshm_map_init(&c->published, &c->segment.shape) != 0 ||
         cshm_map_init(&c->building, &c->segment.shape) != 0)) {
        cshm_map_free(&c->published);
        cshm_log(CSHM_LOG_ERROR, "segment 0x%08x: out of memory for the tender's maps; "
                                 "leaving the role to another process",
                 (unsigned)c->segment.key);
        __atomic_store_n(&c->role, CSHM_ROLE_FOLLOWER, __ATOMIC_RELEASE);
        struct timespec pause_before_retry = {1, 0};
        nanosleep(&pause_before_retry, NULL);
        return SESSION_LOST;
    }
    __atomic_store_n(&c->role, CSHM_ROLE_TENDER, __ATOMIC_RELEASE);
    c->refresh_seen = __atomic_load_n(&c->segment.header->refresh_seq, __ATOMIC_ACQUIRE);

    /* Continue from the map the previous tender published. */
    uint64_t epoch = 0;
    int rc = cshm_snapshot_read(&c->segment, &c->published, &epoch, NULL);
    c->has_map = rc == 0;
    if (!c->has_map)
        cshm_map_clear(&c->published);
    c->reported_flags = c->has_map ? c->published.counts->flags & ~CSHM_MAP_STALE : 0;

    int result = SESSION_STOP;
    for (;;) {
        double started = cshm_mono_now();
        if (tend_once(c) != 0 || wait_next_tend(c, started) != 0) {
            result = stopping(c) ? SESSION_STOP : SESSION_LOST;
            break;
        }
    }
    __atomic_store_n(&c->role, CSHM_ROLE_FOLLOWER, __ATOMIC_RELEASE);
    if (result == SESSION_LOST)
        cshm_log(CSHM_LOG_WARNING,
                 "segment 0x%08x: this process (pid %d) lost tendership of epoch %u to a newer "
                 "tender; it is a follower now and published nothing after the takeover",
                 (unsigned)c->segment.key, (int)getpid(), (unsigned)c->epoch);
    return result;
}

/* Take the next free owner lock of the ring and bump the epoch past a tender
 * whose heartbeat stopped.  Returns the lock index or -1. */
static int usurp(cshm_client *c, uint64_t state)
{
    cshm_seg_header *h = c->segment.header;
    uint32_t current = cshm_state_lock(state) % CSHM_OWNER_LOCKS;
    for (uint32_t k = 1; k < CSHM_OWNER_LOCKS; k++) {
        uint32_t index = (current + k) % CSHM_OWNER_LOCKS;
        if (cshm_robust_trylock(&c->robust, &h->owner_locks[index]) == CSHM_LOCK_BUSY)
            continue;
        uint64_t desired =
            cshm_state_make(cshm_state_epoch(state) + 1, index, cshm_state_slot_plus_one(state));
        if (!__atomic_compare_exchange_n(&h->state, &state, desired, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE)) {
            cshm_robust_unlock(&c->robust, &h->owner_locks[index]);
            return -1;
        }
        uint32_t old_pid = cshm_segment_tender_pid(h);
        c->epoch = cshm_state_epoch(desired);
        take_office(c);
        __atomic_add_fetch(&h->hung_takeovers, 1, __ATOMIC_RELAXED);
        cshm_log(CSHM_LOG_WARNING,
                 "segment 0x%08x: tender pid %u sent no heartbeat for %g s (takeover_timeout); "
                 "pid %d takes over as epoch %u",
                 (unsigned)c->segment.key, (unsigned)old_pid, c->config.options.takeover_timeout, (int)getpid(), (unsigned)c->epoch);
        /* Followers sleeping on the old lock move to the new one. */
        cshm_robust_wake_all(&h->owner_locks[current]);
        return (int)index;
    }
    cshm_log(CSHM_LOG_ERROR,
             "segment 0x%08x: the tender is silent but every owner lock is held by a stopped "
             "process; cannot take over",
             (unsigned)c->segment.key);
    return -1;
}

/* Become tender, or return -1 when asked to stop.  Sets c->epoch and returns
 * the owner lock index we hold. */
static int acquire(cshm_client *c)
{
    cshm_seg_header *h = c->segment.header;
    /* What we watch for signs of life: the heartbeat and the epoch.  A new
     * epoch whose tender has not yet installed its heartbeat is a takeover
     * in progress, not silence. */
    uint64_t last_beat = __atomic_load_n(&h->heartbeat, __ATOMIC_ACQUIRE);
    uint32_t last_epoch = cshm_state_epoch(__atomic_load_n(&h->state, __ATOMIC_ACQUIRE));
    double last_change = cshm_mono_now();

    while (!stopping(c)) {
        uint64_t state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
        uint32_t index = cshm_state_lock(state) % CSHM_OWNER_LOCKS;
        int got = cshm_robust_trylock(&c->robust, &h->owner_locks[index]);
        if (got != CSHM_LOCK_BUSY) {
            uint64_t now_state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
            uint64_t desired = cshm_state_make(cshm_state_epoch(now_state) + 1, index,
                                               cshm_state_slot_plus_one(now_state));
            if (cshm_state_lock(now_state) == index &&
                __atomic_compare_exchange_n(&h->state, &now_state, desired, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                uint32_t old_pid = cshm_segment_tender_pid(h);
                c->epoch = cshm_state_epoch(desired);
                take_office(c);
                if (got == CSHM_LOCK_ACQUIRED_OWNER_DIED) {
                    __atomic_add_fetch(&h->dead_takeovers, 1, __ATOMIC_RELAXED);
                    cshm_log(CSHM_LOG_WARNING,
                             "segment 0x%08x: the tender (pid %u) died; pid %d takes over as "
                             "epoch %u",
                             (unsigned)c->segment.key, (unsigned)old_pid, (int)getpid(),
                             (unsigned)c->epoch);
                } else if (cshm_state_epoch(now_state) != 0) {
                    __atomic_add_fetch(&h->handoffs, 1, __ATOMIC_RELAXED);
                    cshm_log(CSHM_LOG_INFO, "segment 0x%08x: pid %d is the tender (epoch %u)",
                             (unsigned)c->segment.key, (int)getpid(), (unsigned)c->epoch);
                }
                return (int)index;
            }
            /* The ring moved on (a takeover) while we looked: not ours. */
            cshm_robust_unlock(&c->robust, &h->owner_locks[index]);
            continue;
        }

        uint64_t beat = __atomic_load_n(&h->heartbeat, __ATOMIC_ACQUIRE);
        double now = cshm_mono_now();
        if (beat != last_beat || cshm_state_epoch(state) != last_epoch) {
            last_beat = beat;
            last_epoch = cshm_state_epoch(state);
            last_change = now;
        } else if (now - last_change >= c->config.options.takeover_timeout) {
            int taken = usurp(c, state);
            if (taken >= 0)
                return taken;
            last_change = now;
        }
        cshm_robust_wait(&h->owner_locks[index], check_period(c));
    }
    /* We may have been the one waiter the kernel woke for a dead owner:
     * pass the wake-up on so that another process takes over. */
    for (uint32_t i = 0; i < CSHM_OWNER_LOCKS; i++)
        if (cshm_robust_owner_tid(&h->owner_locks[i]) == 0)
            cshm_robust_wake_all(&h->owner_locks[i]);
    return -1;
}

static void *thread_main(void *arg)
{
    cshm_client *c = arg;
    cshm_seg_header *h = c->segment.header;
    int rc = cshm_robust_thread_init(&c->robust);
    if (rc != 0) {
        cshm_log(CSHM_LOG_ERROR, "cannot register the robust futex list: %s; this process "
                                 "will not tend", strerror(-rc));
        return NULL;
    }
    while (!stopping(c)) {
        int index = acquire(c);
        if (index < 0)
            break;
        tender_session(c);
        /* Release whether we stopped or lost: a lost session's lock is the
         * old one of the ring, and releasing it frees it for reuse. */
        cshm_robust_unlock(&c->robust, &h->owner_locks[index]);
    }
    return NULL;
}

int cshm_thread_start(cshm_client *c, cshm_error *error)
{
    __atomic_store_n(&c->stop, 0, __ATOMIC_RELEASE);
    if (c->driver_state == NULL) {
        int rc = c->config.driver->create(&c->config, &c->driver_state, error);
        if (rc != 0)
            return rc;
    }
    /* The thread takes no signals: they belong to the application (PHP's
     * request timeouts, Python's handlers). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&c->thread, NULL, thread_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return cshm_fail(error, CSHM_ERR_SYSTEM, "cannot start the background thread: %s",
                         strerror(rc));
    c->thread_running = 1;
    return 0;
}

/* Refuses, doing nothing, when called on the thread it would stop: a
 * thread cannot join itself, and the loop below would spin forever.  The
 * refusal leaves thread_running set, which is how cshm_close() sees it. */
void cshm_thread_stop(cshm_client *c)
{
    if (!c->thread_running || pthread_equal(pthread_self(), c->thread))
        return;
    cshm_seg_header *h = c->segment.header;
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
    /* The thread sleeps on the refresh word (tender) or on an owner lock
     * (follower).  A wake can slip in just before it goes to sleep, so keep
     * waking until it has exited. */
    for (;;) {
        /* Only a tender sleeps on the shared refresh word; bumping it from a
         * follower would make the real tender tend for nothing. */
        if (__atomic_load_n(&c->role, __ATOMIC_ACQUIRE) == CSHM_ROLE_TENDER) {
            __atomic_add_fetch(&h->refresh_seq, 1, __ATOMIC_RELEASE);
            cshm_futex_wake_all(&h->refresh_seq);
        }
        for (uint32_t i = 0; i < CSHM_OWNER_LOCKS; i++)
            cshm_robust_wake_all(&h->owner_locks[i]);
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += 2000000;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        if (pthread_timedjoin_np(c->thread, NULL, &deadline) == 0)
            break;
    }
    c->thread_running = 0;
}
