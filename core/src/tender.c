/*
 * tender.c - the background thread: election with health, takeover,
 * tending, publishing, stepping down.
 *
 * Every attached process runs one thread.  It competes for the owner lock
 * named by the state word; the winner bumps the epoch with a compare-and-swap
 * and tends until it stops, loses, or steps down.
 *
 *  - Clean close: the tender releases the lock, which wakes the waiters at
 *    once; the first to take it becomes the next tender (handoff).
 *  - Crash: the kernel marks the lock OWNER_DIED when the tender thread dies
 *    and wakes a waiter, which takes over.  No pid is consulted.
 *  - Hang: the tender bumps the heartbeat (fenced by its epoch) at least every
 *    check period and between network operations.  A follower that sees it
 *    unchanged for takeover_timeout on its own monotonic clock takes the next
 *    free owner lock of the ring and bumps the epoch ("usurps").  The old
 *    tender still holds its own lock; when it resumes, its heartbeat and
 *    publish compare-and-swaps fail on the epoch and it becomes a follower.
 *  - Failing: a tender whose tends keep failing while another process
 *    waits for the role publishes why, releases the role and backs off
 *    before it competes again, so a process with better luck tends.  A
 *    tender that succeeds never steps down, and nothing but close, death or
 *    silence takes the role from it.  The role is never left vacant for
 *    long: with nobody waiting a failing tender keeps it, and a role that
 *    stays free is taken back even during a backoff.
 *
 * Invariants:
 *  - Only a thread whose epoch is the state word's epoch changes the
 *    published slot or the heartbeat, because both changes are CAS on words
 *    that carry the epoch.  Everything else a tender reports travels inside
 *    the snapshot it publishes, so a fenced tender writes nothing anyone
 *    reads.
 *  - The thread never runs user code: log lines are queued (log.h).
 *  - Every wait is bounded by a check period, so stop, loss and takeover are
 *    noticed promptly, and no loop runs without sleeping: a free lock that
 *    this process may not take yet (backoff) is slept on through `stop`.
 *  - Timing (tend_interval, takeover_timeout, min_refresh_interval, the
 *    network step) is the segment's, the same in every process.
 *  - The thread works in one segment at a time (c->tseg).  At every check
 *    period it looks whether its segment was forwarded (growth.c, follow.c)
 *    or removed under it; then it gives up any role it holds there, holds no
 *    lock, and moves: robust list, maps and driver are made anew for the
 *    successor's shape.  A segment whose adopted snapshot is forwarded is
 *    never tended.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "client.h"
#include "error.h"
#include "log.h"
#include "snapshot.h"

enum { SESSION_STOP, SESSION_LOST, SESSION_STEPPED_DOWN, SESSION_MOVED };
enum { TEND_DONE, TEND_LOST, TEND_STEP_DOWN };
/* acquire() result when the thread must move to another segment. */
#define ACQUIRE_MOVE (-2)
/* The thread asks the kernel whether its segment was removed under it
 * every this many checks (one IPC_STAT). */
#define REMOVED_CHECK_EVERY 4u

/* A tender steps down after this many failed tends in a row, or after one
 * failed tend when the last good one is older than step_down_window(). */
#define STEP_DOWN_FAILURES 3u
#define STEP_DOWN_MIN_WINDOW 3.0
/* The backoff after the k-th step-down in a row is window * 2^(k-1), up to
 * window * BACKOFF_MAX_FACTOR, with +-25% jitter so processes that failed
 * together do not return together. */
#define BACKOFF_MAX_FACTOR 16.0
/* A process in backoff takes a role that stayed vacant this many check
 * periods: longer than a process that failed before yields (one period), so
 * any other candidate takes it first. */
#define VACANCY_GRACE_PERIODS 2

static int stopping(const cshm_client *c)
{
    return __atomic_load_n(&c->stop, __ATOMIC_ACQUIRE) != 0;
}

static double check_period(const cshm_client *c)
{
    double p = c->tseg->tend_interval / 2;
    if (p > c->tseg->takeover_timeout / 4)
        p = c->tseg->takeover_timeout / 4;
    if (p > 1.0)
        p = 1.0;
    return p < 0.005 ? 0.005 : p;
}

/* The check every period: follow a forward pointer, notice a removed
 * segment, detach what nobody uses; 1 when the thread must move. */
static int must_move(cshm_client *c)
{
    if (!c->shared)
        return 0;
    static __thread unsigned checks;
    cshm_segment *t = c->tseg;
    int removed_due = ++checks % REMOVED_CHECK_EVERY == 0;
    if (removed_due || __atomic_load_n(&t->header->forwarded, __ATOMIC_RELAXED) != 0 ||
        __atomic_load_n(&c->pending, __ATOMIC_SEQ_CST) != NULL)
        cshm_client_follow(c, removed_due ? CSHM_FOLLOW_CHECK_REMOVED : 0);
    cshm_client_reclaim(c);
    return cshm_client_target(c) != t;
}

static double step_down_window(const cshm_client *c)
{
    double w = 3 * c->tseg->tend_interval;
    return w > STEP_DOWN_MIN_WINDOW ? w : STEP_DOWN_MIN_WINDOW;
}

/* Sleep up to `seconds` on our own stop word: for waits that have no
 * shared word to sleep on.  close() wakes it. */
static void pause_unless_stopped(cshm_client *c, double seconds)
{
    if (seconds <= 0 || stopping(c))
        return;
    struct timespec ts = cshm_timespec_from_seconds(seconds);
    syscall(SYS_futex, &c->stop, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
}

/* Bump the heartbeat if our epoch still owns it.  0, or -1 when lost. */
static int heartbeat(cshm_client *c)
{
    uint64_t *hb = &c->tseg->header->heartbeat;
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
    __atomic_store_n(&c->role, CSHM_ROLE_TENDER, __ATOMIC_RELEASE);
    install_for_epoch(&c->tseg->header->heartbeat, c->epoch, 0);
    install_for_epoch(&c->tseg->header->tender, c->epoch, (uint32_t)getpid());
    /* Readers waiting for a map re-check the new epoch. */
    cshm_futex_wake_all(cshm_state_futex(c->tseg->header));
}

static int progress(void *arg)
{
    cshm_client *c = arg;
    if (stopping(c))
        return 1;
    return heartbeat(c) != 0;
}

/* Copy text into a fixed field, cut at the field's size, zero-padded. */
static void set_text(char *dst, size_t cap, const char *text)
{
    size_t len = strnlen(text, cap - 1);
    memset(dst, 0, cap);
    memcpy(dst, text, len);
}

static void report_flags(cshm_client *c, const cshm_map *map)
{
    uint32_t flags = map->counts->flags;
    uint32_t fresh = flags & ~c->reported_flags;
    if (fresh & CSHM_MAP_NODES_TRUNCATED)
        cshm_log(CSHM_LOG_WARNING,
                 "max_nodes=%u reached: the cluster reports %u nodes and the map holds %u; "
                 "routes to the others fail until the segment has grown (the tender grows it "
                 "now)",
                 (unsigned)map->shape.max_nodes, (unsigned)map->counts->nodes_seen,
                 (unsigned)map->counts->node_count);
    if (fresh & CSHM_MAP_NAMESPACES_TRUNCATED)
        cshm_log(CSHM_LOG_WARNING,
                 "max_namespaces=%u reached: the cluster has %u namespaces; the others are not "
                 "routed until the segment has grown (the tender grows it now)",
                 (unsigned)map->shape.max_namespaces, (unsigned)map->counts->ns_seen);
    if (fresh & CSHM_MAP_REPLICAS_TRUNCATED)
        cshm_log(CSHM_LOG_WARNING,
                 "some partitions have more replicas than the map stores (%u); the extra "
                 "replicas are not routed to",
                 (unsigned)map->shape.columns - 1);
    c->reported_flags = flags & ~(CSHM_MAP_STALE | CSHM_MAP_EMPTY);
}

/* Should a tender that just failed give the role to another process?  Only
 * when one may be waiting for it: followers that may compete sleep on our
 * owner lock and so set its FUTEX_WAITERS bit, while processes that stepped
 * down themselves sleep elsewhere during their backoff.  Without a waiter
 * nobody would take the role, and a vacant role tends nothing: the map would
 * stay stale after the cluster came back, which is worse than tending
 * alone.  The bit can be stale (it is cleared only by a release, and we may
 * have set it ourselves while we waited for this lock), so alone we never
 * step down, and when nobody takes the role we take it back after a short
 * grace (see acquire()); the word is fresh from then on. */
static int should_step_down(cshm_client *c, double now)
{
    if (c->failures_in_row == 0 || !c->shared)
        return 0;
    if (c->failures_in_row < STEP_DOWN_FAILURES && now - c->last_success < step_down_window(c))
        return 0;
    return cshm_robust_has_waiters(&c->tseg->header->owner_locks[c->lock_index]) &&
           cshm_segment_attached(c->tseg) > 1;
}

/* Newest first: the history shows each failing reason when every process
 * fails in turn. */
static void record_step_down(cshm_client *c, const char *reason)
{
    cshm_tend_record *r = &c->record;
    memmove(&r->step_down_history[1], &r->step_down_history[0],
            (CSHM_STEP_DOWN_HISTORY - 1) * sizeof r->step_down_history[0]);
    cshm_step_down *d = &r->step_down_history[0];
    memset(d, 0, sizeof *d);
    d->at_ms = cshm_wall_ms();
    d->pid = (uint32_t)getpid();
    d->epoch = c->epoch;
    d->failures = c->failures_in_row;
    set_text(d->reason, sizeof d->reason, reason);
    if (r->step_down_count < CSHM_STEP_DOWN_HISTORY)
        r->step_down_count++;
    r->step_downs++;
}

/* Tell connect() of this process that its own tender could not get a map. */
static void note_own_failure(cshm_client *c, const char *reason)
{
    if (__atomic_load_n(&c->own_failure, __ATOMIC_ACQUIRE))
        return;
    set_text(c->own_error, sizeof c->own_error, reason);
    __atomic_store_n(&c->own_failure, 1, __ATOMIC_RELEASE);
}

/* One tend and its publication. */
static int tend_once(cshm_client *c)
{
    cshm_tend_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.op_timeout = c->tseg->op_timeout;
    ctx.progress = progress;
    ctx.progress_arg = c;

    /* Every request made before this instant is answered by this tend. */
    c->refresh_seen = __atomic_load_n(&c->tseg->header->refresh_seq, __ATOMIC_ACQUIRE);
    cshm_map_copy(&c->building, &c->published);
    int rc = c->config.driver->tend(c->driver_state, &c->building, &ctx);
    if (rc == CSHM_TEND_ABORTED)
        return TEND_LOST;

    cshm_tend_record *record = &c->record;
    record->tends++;
    record->publisher_pid = (uint32_t)getpid();
    record->refresh_answered = c->refresh_seen;
    cshm_map_counts *counts = c->building.counts;
    double now = cshm_mono_now();
    int step_down = 0;
    if (rc == CSHM_TEND_OK) {
        counts->flags &= ~(CSHM_MAP_STALE | CSHM_MAP_EMPTY);
        counts->tended_at_ms = cshm_wall_ms();
        int changed = !c->has_map || cshm_map_differs(&c->building, &c->published);
        counts->generation = c->published.counts->generation + (changed ? 1 : 0);
        set_text(record->last_error, sizeof record->last_error, ctx.error);
        if (c->was_stale)
            cshm_log(CSHM_LOG_INFO, "segment 0x%08x: cluster reachable again",
                     (unsigned)c->tseg->key);
        c->was_stale = 0;
        c->failures_in_row = 0;
        c->step_downs_in_row = 0;
        c->last_success = now;
        report_flags(c, &c->building);
    } else {
        const char *why = ctx.error[0] ? ctx.error : "no node answered";
        record->tend_failures++;
        c->failures_in_row++;
        set_text(record->last_error, sizeof record->last_error, why);
        if (!c->was_stale)
            cshm_log(CSHM_LOG_WARNING,
                     "segment 0x%08x: cannot reach the cluster (%s); keeping the last map and "
                     "marking it stale",
                     (unsigned)c->tseg->key, why);
        c->was_stale = 1;
        cshm_map_copy(&c->building, &c->published);
        if (!c->has_map) {
            /* Nothing to keep: publish the failure itself, so that every
             * process waiting for a map learns why. */
            cshm_map_clear(&c->building);
            counts->flags |= CSHM_MAP_EMPTY;
            note_own_failure(c, why);
        }
        counts->flags |= CSHM_MAP_STALE;
        step_down = should_step_down(c, now);
        if (step_down)
            record_step_down(c, why);
    }
    record->failures_in_row = c->failures_in_row;

    int published = cshm_snapshot_publish(c->tseg, &c->robust, c->epoch, record,
                                          &c->building);
    if (published == CSHM_PUBLISH_LOST)
        return TEND_LOST;
    if (published == CSHM_PUBLISH_NO_SLOT) {
        cshm_log(CSHM_LOG_ERROR,
                 "segment 0x%08x: every snapshot slot is held by a stopped former tender; "
                 "will retry",
                 (unsigned)c->tseg->key);
    } else {
        cshm_map_copy(&c->published, &c->building);
        c->has_map = !(counts->flags & CSHM_MAP_EMPTY);
    }
    return step_down ? TEND_STEP_DOWN : TEND_DONE;
}

/* Sleep until the next tend is due, a refresh is requested (and the
 * debounce allows it), or we stop.  Keeps the heartbeat going.  Returns -1
 * on stop or loss. */
static int wait_next_tend(cshm_client *c, double tend_started)
{
    cshm_seg_header *h = c->tseg->header;
    double deadline = tend_started + c->tseg->tend_interval;
    double refresh_due = tend_started + c->tseg->min_refresh_interval;
    double beat = check_period(c);
    for (;;) {
        if (stopping(c))
            return -1;
        double now = cshm_mono_now();
        uint32_t seen = __atomic_load_n(&h->refresh_seq, __ATOMIC_ACQUIRE);
        if (seen != c->refresh_seen) {
            /* A request this tend did not answer.  However many processes
             * ask, the next tend waits for min_refresh_interval; the word
             * keeps changing, so we sleep on our own stop word instead. */
            if (now >= refresh_due)
                return 0;
            double left = refresh_due - now;
            pause_unless_stopped(c, left < beat ? left : beat);
        } else {
            double remaining = deadline - now;
            if (remaining <= 0)
                return 0;
            cshm_futex_wait(&h->refresh_seq, seen, remaining < beat ? remaining : beat);
        }
        if (heartbeat(c) != 0 || must_move(c))
            return -1;
    }
}

/* Continue from what the previous tender published: its map, its counters
 * and its step-down history.  A corrupt snapshot starts us afresh. */
static void adopt_published(cshm_client *c)
{
    cshm_tend_record previous;
    int rc = cshm_snapshot_read(c->tseg, &c->published, &previous, NULL, NULL);
    if (rc != 0) {
        cshm_map_clear(&c->published);
        c->published.counts->generation = 0;
        c->published.counts->tended_at_ms = 0;
        memset(&previous, 0, sizeof previous);
    }
    c->has_map = rc == 0 && !(c->published.counts->flags & CSHM_MAP_EMPTY);
    if (!c->has_map) {
        uint64_t generation = c->published.counts->generation;
        cshm_map_clear(&c->published);
        c->published.counts->generation = generation;
        c->published.counts->flags = CSHM_MAP_EMPTY;
    }
    c->record = previous;
    c->record.handoffs += c->pending_handoffs;
    c->record.dead_takeovers += c->pending_dead;
    c->record.hung_takeovers += c->pending_hung;
    c->pending_handoffs = c->pending_dead = c->pending_hung = 0;
    c->reported_flags = c->has_map ? c->published.counts->flags & ~CSHM_MAP_STALE : 0;
}

static int tender_session(cshm_client *c)
{
    /* Followers never need the tender's two private maps nor the driver's
     * state (its scratch map, its buffers): allocate them here, off
     * connect()'s path and out of every follower's memory.  A growth
     * frees both, so they are made again for the new shape. */
    if (c->published.payload == NULL &&
        (cshm_map_init(&c->published, &c->tseg->shape) != 0 ||
         cshm_map_init(&c->building, &c->tseg->shape) != 0)) {
        cshm_map_free(&c->published);
        cshm_map_free(&c->building);
        cshm_log(CSHM_LOG_ERROR, "segment 0x%08x: out of memory for the tender's maps; "
                                 "leaving the role to another process",
                 (unsigned)c->tseg->key);
        __atomic_store_n(&c->role, CSHM_ROLE_FOLLOWER, __ATOMIC_RELEASE);
        pause_unless_stopped(c, 1.0);
        return SESSION_LOST;
    }
    cshm_error error;
    if (c->driver_state == NULL &&
        c->config.driver->create(&c->config, &c->driver_state, &error) != 0) {
        cshm_log(CSHM_LOG_ERROR, "segment 0x%08x: cannot start tending (%s); leaving the role "
                                 "to another process", (unsigned)c->tseg->key, error.message);
        __atomic_store_n(&c->role, CSHM_ROLE_FOLLOWER, __ATOMIC_RELEASE);
        pause_unless_stopped(c, 1.0);
        return SESSION_LOST;
    }
    adopt_published(c);
    c->failures_in_row = 0;
    c->last_success = cshm_mono_now();

    int result = SESSION_STOP;
    if (c->record.forward.key != 0) {
        /* The segment grew and its last snapshot says where to: it is
         * never tended again.  Follow it instead, unless the pointer cannot
         * be followed (scribbled: cshm_segment_follow logged why); then this
         * is still the cluster's segment, and we tend it. */
        cshm_client_follow(c, CSHM_FOLLOW_BLOCK);
        if (cshm_client_target(c) != c->tseg)
            result = SESSION_MOVED;
        else
            memset(&c->record.forward, 0, sizeof c->record.forward);
    }
    while (result != SESSION_MOVED) {
        double started = cshm_mono_now();
        int tended = tend_once(c);
        if (tended == TEND_STEP_DOWN) {
            result = SESSION_STEPPED_DOWN;
            break;
        }
        if (tended == TEND_DONE) {
            int grew = cshm_tender_grow(c);
            if (grew > 0) {
                result = SESSION_MOVED;
                break;
            }
            if (grew < 0)
                tended = TEND_LOST;
        }
        if (tended == TEND_LOST || wait_next_tend(c, started) != 0) {
            result = stopping(c) ? SESSION_STOP
                     : cshm_client_target(c) != c->tseg ? SESSION_MOVED
                                                        : SESSION_LOST;
            break;
        }
    }
    __atomic_store_n(&c->role, CSHM_ROLE_FOLLOWER, __ATOMIC_RELEASE);
    /* Only the tender talks to the cluster: a process that lost the role,
     * stepped down or is closing lets its connections go now, instead of
     * holding them idle for as long as it stays a follower. */
    c->config.driver->release(c->driver_state);
    if (result == SESSION_LOST)
        cshm_log(CSHM_LOG_WARNING,
                 "segment 0x%08x: this process (pid %d) lost tendership of epoch %u to a newer "
                 "tender; it is a follower now and published nothing after the takeover",
                 (unsigned)c->tseg->key, (int)getpid(), (unsigned)c->epoch);
    return result;
}

/* After stepping down: stay out of the election for a while, longer each
 * time in a row, so that if every process fails the role rotates slowly
 * and nobody spins. */
static void start_backoff(cshm_client *c)
{
    c->step_downs_in_row++;
    c->stepped_down_at_ms = cshm_wall_ms();
    double window = step_down_window(c);
    double factor = 1.0;
    for (uint32_t i = 1; i < c->step_downs_in_row && factor < BACKOFF_MAX_FACTOR; i++)
        factor *= 2;
    unsigned seed = (unsigned)getpid() ^ (unsigned)c->stepped_down_at_ms;
    double jitter = 0.75 + 0.5 * ((double)(rand_r(&seed) & 0xFFFF) / 65535.0);
    double backoff = window * factor * jitter;
    c->backoff_until = cshm_mono_now() + backoff;
    cshm_log(CSHM_LOG_WARNING,
             "segment 0x%08x: pid %d steps down as tender after %u failed tends (%s); another "
             "process may tend; this one stays out for %.1f s",
             (unsigned)c->tseg->key, (int)getpid(), (unsigned)c->failures_in_row,
             c->record.last_error, backoff);
}

/* While backing off: has someone else published a good map since we
 * stepped down?  Then our backoff has no purpose left. */
static int others_succeed(const cshm_client *c)
{
    cshm_map_counts counts;
    return cshm_snapshot_read_counts(c->tseg, &counts, NULL, NULL) == 0 &&
           !(counts.flags & (CSHM_MAP_STALE | CSHM_MAP_EMPTY)) &&
           counts.tended_at_ms > c->stepped_down_at_ms;
}

/* Holding owner lock `index`: move the state word from `seen` to the next
 * epoch on that lock, and take office.  Returns 1 (we are the tender;
 * *old_pid is the previous tender's pid, for the log), or 0 when the state
 * word moved meanwhile: another process won, and the lock is released. */
static int claim_epoch(cshm_client *c, uint32_t index, uint64_t seen, uint32_t *old_pid)
{
    cshm_seg_header *h = c->tseg->header;
    uint64_t desired =
        cshm_state_make(cshm_state_epoch(seen) + 1, index, cshm_state_slot_plus_one(seen));
    if (!__atomic_compare_exchange_n(&h->state, &seen, desired, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        cshm_robust_unlock(&c->robust, &h->owner_locks[index]);
        return 0;
    }
    *old_pid = cshm_segment_tender_pid(h);
    c->epoch = cshm_state_epoch(desired);
    take_office(c);
    return 1;
}

/* Take the next free owner lock of the ring and bump the epoch past a tender
 * whose heartbeat stopped.  Returns the lock index or -1. */
static int usurp(cshm_client *c, uint64_t state)
{
    cshm_seg_header *h = c->tseg->header;
    uint32_t current = cshm_state_lock(state) % CSHM_OWNER_LOCKS;
    for (uint32_t k = 1; k < CSHM_OWNER_LOCKS; k++) {
        uint32_t index = (current + k) % CSHM_OWNER_LOCKS;
        if (cshm_robust_trylock(&c->robust, &h->owner_locks[index]) == CSHM_LOCK_BUSY)
            continue;
        uint32_t old_pid;
        if (!claim_epoch(c, index, state, &old_pid))
            return -1;
        c->pending_hung++;
        cshm_log(CSHM_LOG_WARNING,
                 "segment 0x%08x: tender pid %u sent no heartbeat for %g s (takeover_timeout); "
                 "pid %d takes over as epoch %u",
                 (unsigned)c->tseg->key, (unsigned)old_pid, c->tseg->takeover_timeout,
                 (int)getpid(), (unsigned)c->epoch);
        /* Followers sleeping on the old lock move to the new one. */
        cshm_robust_wake_all(&h->owner_locks[current]);
        return (int)index;
    }
    cshm_log(CSHM_LOG_ERROR,
             "segment 0x%08x: the tender is silent but every owner lock is held by a stopped "
             "process; cannot take over",
             (unsigned)c->tseg->key);
    return -1;
}

/* Try to become tender through the lock the state word names.  Returns the
 * lock index, or -1 (busy, or the ring moved on while we looked). */
static int try_lock_named(cshm_client *c, uint64_t state)
{
    cshm_seg_header *h = c->tseg->header;
    uint32_t index = cshm_state_lock(state) % CSHM_OWNER_LOCKS;
    int got = cshm_robust_trylock(&c->robust, &h->owner_locks[index]);
    if (got == CSHM_LOCK_BUSY)
        return -1;
    uint64_t now_state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
    uint32_t old_pid;
    if (cshm_state_lock(now_state) != index) {
        /* The ring moved on (a takeover) while we looked: not ours. */
        cshm_robust_unlock(&c->robust, &h->owner_locks[index]);
        return -1;
    }
    if (!claim_epoch(c, index, now_state, &old_pid))
        return -1;
    if (got == CSHM_LOCK_ACQUIRED_OWNER_DIED) {
        c->pending_dead++;
        cshm_log(CSHM_LOG_WARNING,
                 "segment 0x%08x: the tender (pid %u) died; pid %d takes over as epoch %u",
                 (unsigned)c->tseg->key, (unsigned)old_pid, (int)getpid(), (unsigned)c->epoch);
    } else if (cshm_state_epoch(now_state) != 0) {
        c->pending_handoffs++;
        cshm_log(CSHM_LOG_INFO, "segment 0x%08x: pid %d is the tender (epoch %u)",
                 (unsigned)c->tseg->key, (int)getpid(), (unsigned)c->epoch);
    }
    return (int)index;
}

/* Become tender, or return -1 when asked to stop.  Sets c->epoch and returns
 * the owner lock index we hold. */
static int acquire(cshm_client *c)
{
    cshm_seg_header *h = c->tseg->header;
    /* What we watch for signs of life: the heartbeat and the epoch.  A new
     * epoch whose tender has not yet installed its heartbeat is a takeover
     * in progress, not silence. */
    uint64_t last_beat = __atomic_load_n(&h->heartbeat, __ATOMIC_ACQUIRE);
    uint32_t last_epoch = cshm_state_epoch(__atomic_load_n(&h->state, __ATOMIC_ACQUIRE));
    double last_change = cshm_mono_now();
    double period = check_period(c);
    double vacant_since = 0;

    while (!stopping(c)) {
        if (must_move(c))
            return ACQUIRE_MOVE;
        uint64_t state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
        uint32_t index = cshm_state_lock(state) % CSHM_OWNER_LOCKS;
        double now = cshm_mono_now();

        if (now < c->backoff_until) {
            /* Out of the election: neither take a free lock nor usurp,
             * unless the role stays vacant (every process backs off): then
             * we take it back rather than leave the map untended. */
            if (others_succeed(c)) {
                c->backoff_until = 0;
            } else if (cshm_robust_owner_tid(&h->owner_locks[index]) != 0) {
                vacant_since = 0;
            } else if (vacant_since == 0) {
                vacant_since = now;
            } else if (now - vacant_since >= VACANCY_GRACE_PERIODS * period) {
                int taken = try_lock_named(c, state);
                if (taken >= 0)
                    return taken;
            }
            if (now < c->backoff_until) {
                double left = c->backoff_until - now;
                pause_unless_stopped(c, left < period ? left : period);
                continue;
            }
        }
        if (cshm_robust_owner_tid(&h->owner_locks[index]) == 0 && c->step_downs_in_row > 0) {
            /* We failed as tender before: let a process without that
             * history take the free role first. */
            pause_unless_stopped(c, period);
            if (stopping(c))
                break;
            state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
        }
        int taken = try_lock_named(c, state);
        if (taken >= 0)
            return taken;

        uint64_t beat = __atomic_load_n(&h->heartbeat, __ATOMIC_ACQUIRE);
        now = cshm_mono_now();
        if (beat != last_beat || cshm_state_epoch(state) != last_epoch) {
            last_beat = beat;
            last_epoch = cshm_state_epoch(state);
            last_change = now;
        } else if (now - last_change >= c->tseg->takeover_timeout) {
            taken = usurp(c, state);
            if (taken >= 0)
                return taken;
            last_change = now;
        }
        if (cshm_robust_owner_tid(&h->owner_locks[index]) == 0)
            pause_unless_stopped(c, period); /* free but not ours (the ring moved) */
        else
            cshm_robust_wait(&h->owner_locks[index], period);
    }
    /* We may have been the one waiter the kernel woke for a dead owner:
     * pass the wake-up on so that another process takes over. */
    for (uint32_t i = 0; i < CSHM_OWNER_LOCKS; i++)
        if (cshm_robust_owner_tid(&h->owner_locks[i]) == 0)
            cshm_robust_wake_all(&h->owner_locks[i]);
    return -1;
}

/* Move the thread, which holds no lock, to the segment it should be in:
 * a robust list for the new lock area, and maps and driver of the new
 * shape (the driver's connections are made again at the next tend).
 * Returns 0, or -1 when this process cannot tend any more (logged). */
static int move_thread(cshm_client *c)
{
    cshm_segment *to = cshm_client_target(c);
    cshm_robust_owner_free(&c->robust);
    size_t area_size;
    const void *area = cshm_segment_lock_area(to, &area_size);
    int rc = cshm_robust_thread_init(&c->robust, area, area_size);
    if (rc != 0) {
        cshm_log(CSHM_LOG_ERROR, "cannot register the robust futex list: %s; this process "
                                 "will not tend", strerror(-rc));
        return -1;
    }
    cshm_map_free(&c->published);
    cshm_map_free(&c->building);
    c->has_map = 0;
    c->failures_in_row = 0;
    c->step_downs_in_row = 0;
    c->backoff_until = 0;
    c->growth_retry_at = 0;
    c->reported_flags = 0;
    memset(&c->record, 0, sizeof c->record);
    pthread_mutex_lock(&c->move_lock);
    c->config.options.max_nodes = to->shape.max_nodes;
    c->config.options.max_namespaces = to->shape.max_namespaces;
    pthread_mutex_unlock(&c->move_lock);
    /* The driver's state is sized for the old shape; the next session
     * creates it afresh for the new one (tender_session). */
    c->config.driver->destroy(c->driver_state);
    c->driver_state = NULL;
    __atomic_store_n(&c->tseg, to, __ATOMIC_SEQ_CST);
    cshm_client_reclaim(c);
    return 0;
}

static void *thread_main(void *arg)
{
    cshm_client *c = arg;
    size_t area_size;
    const void *area = cshm_segment_lock_area(c->tseg, &area_size);
    int rc = cshm_robust_thread_init(&c->robust, area, area_size);
    if (rc != 0) {
        cshm_log(CSHM_LOG_ERROR, "cannot register the robust futex list: %s; this process "
                                 "will not tend", strerror(-rc));
        return NULL;
    }
    while (!stopping(c)) {
        int index = acquire(c);
        if (index == ACQUIRE_MOVE) {
            if (move_thread(c) != 0)
                break;
            continue;
        }
        if (index < 0)
            break;
        c->lock_index = (uint32_t)index;
        int ended = tender_session(c);
        /* Release whether we stopped, lost, stepped down or move: a lost
         * session's lock is the old one of the ring, and releasing it frees
         * it for reuse; a released lock wakes the next tender at once (in a
         * forwarded segment, one that will follow the pointer too). */
        cshm_robust_unlock(&c->robust, &c->tseg->header->owner_locks[index]);
        if (ended == SESSION_STEPPED_DOWN)
            start_backoff(c);
        else if (ended == SESSION_LOST)
            pause_unless_stopped(c, check_period(c)); /* never a hot loop of lost sessions */
        else if (ended == SESSION_MOVED && cshm_client_target(c) == c->tseg)
            pause_unless_stopped(c, check_period(c)); /* moved back meanwhile: never a hot loop */
        else if (ended == SESSION_MOVED && move_thread(c) != 0)
            break;
    }
    return NULL;
}

int cshm_thread_start(cshm_client *c, cshm_error *error)
{
    __atomic_store_n(&c->stop, 0, __ATOMIC_RELEASE);
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
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
    /* The thread sleeps on the refresh word (tender), on an owner lock
     * (follower) or on its stop word.  A wake can slip in just before it goes
     * to sleep, so keep waking until it has exited.  Wakes write nothing. */
    for (;;) {
        /* The thread's segment, read afresh: it may move.  A wake on a
         * segment it just left is a futex call on an address it no longer
         * sleeps on, which does nothing. */
        cshm_seg_header *h = __atomic_load_n(&c->tseg, __ATOMIC_SEQ_CST)->header;
        syscall(SYS_futex, &c->stop, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
        if (__atomic_load_n(&c->role, __ATOMIC_ACQUIRE) == CSHM_ROLE_TENDER)
            cshm_futex_wake_all(&h->refresh_seq);
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
    cshm_robust_owner_free(&c->robust);
}
