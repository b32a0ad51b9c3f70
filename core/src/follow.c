/*
 * follow.c - a client follows its segment's chain when the cluster outgrew
 * a segment (docs/design.md §1b, "Online growth").
 *
 * Invariants:
 *  - current (what API calls read) only moves to a segment whose map is
 *    complete (a real map of its current epoch's live tender), so routing
 *    has no gap: the old map stays readable until then.
 *  - A segment is detached only when it is neither current, pending nor the
 *    thread's, and no API call is in progress: a call loads current after
 *    raising readers, so readers == 0 seen after current moved means no call
 *    still holds the old pointer.  Everything here is sequentially
 *    consistent for that reason.
 *  - move_lock serialises every writer of current, pending and segs[]
 *    (the API caller and the background thread).  Callers on the read path
 *    only try it: a move in progress in another thread is left to finish,
 *    and the old segment keeps serving meanwhile.
 *  - Whatever a forward pointer says is checked by cshm_segment_follow; a
 *    pointer that fails is logged once per change of the segment's state
 *    word and not followed.
 */
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "error.h"
#include "log.h"
#include "snapshot.h"

static cshm_segment *free_slot(cshm_client *c)
{
    for (unsigned i = 0; i < CSHM_CLIENT_SEGMENTS; i++)
        if (c->segs[i].base == NULL)
            return &c->segs[i];
    return NULL;
}

static cshm_segment *load(cshm_segment **p)
{
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

cshm_segment *cshm_client_target(cshm_client *c)
{
    cshm_segment *p = load(&c->pending);
    return p != NULL ? p : load(&c->current);
}

cshm_segment *cshm_client_enter(cshm_client *c)
{
    __atomic_add_fetch(&c->readers, 1, __ATOMIC_SEQ_CST);
    cshm_segment *seg = load(&c->current);
    if (c->shared && (load(&c->pending) != NULL ||
                      __atomic_load_n(&seg->header->forwarded, __ATOMIC_RELAXED) != 0)) {
        cshm_client_follow(c, 0);
        seg = load(&c->current);
    }
    return seg;
}

void cshm_client_leave(cshm_client *c)
{
    __atomic_sub_fetch(&c->readers, 1, __ATOMIC_SEQ_CST);
}

/* Under move_lock: attach what `from` forwards to, as pending. */
static void look_for_forward(cshm_client *c, cshm_segment *from)
{
    uint64_t state = __atomic_load_n(&from->header->state, __ATOMIC_ACQUIRE);
    if (state == c->checked_state)
        return;
    c->checked_state = state;
    cshm_forward forward;
    if (!cshm_snapshot_forward(from, &forward))
        return;
    cshm_segment *slot = free_slot(c);
    if (slot == NULL)
        return;   /* every slot in use by calls in progress: next time */
    cshm_error e;
    cshm_error_clear(&e);
    if (cshm_segment_follow(&c->config, from, &forward, slot, &e) != 0) {
        cshm_log(CSHM_LOG_ERROR, "%s", e.message);
        memset(slot, 0, sizeof *slot);
        return;
    }
    cshm_log(CSHM_LOG_INFO,
             "segment 0x%08x grew into segment 0x%08x (generation %u, max_nodes=%u, "
             "max_namespaces=%u); pid %d follows it",
             (unsigned)from->key, (unsigned)slot->key, (unsigned)slot->generation,
             (unsigned)slot->shape.max_nodes, (unsigned)slot->shape.max_namespaces,
             (int)getpid());
    __atomic_store_n(&c->pending, slot, __ATOMIC_SEQ_CST);
}

/* Under move_lock: the thread's segment was removed under us (an attach that
 * raced the last detach, docs/design.md "Segment lifetime"): open the
 * cluster's segment again, as pending. */
static void reopen_if_removed(cshm_client *c)
{
    cshm_segment *t = load(&c->tseg);
    if (t == NULL || load(&c->pending) != NULL || t != load(&c->current) ||
        !cshm_segment_removed(t))
        return;
    cshm_forward forward;
    if (cshm_snapshot_forward(t, &forward))
        return;   /* forwarded: look_for_forward's business */
    cshm_segment *slot = free_slot(c);
    if (slot == NULL)
        return;
    cshm_error e;
    cshm_error_clear(&e);
    if (cshm_segment_open(&c->config, slot, &e) != 0) {
        cshm_log(CSHM_LOG_ERROR, "segment 0x%08x was removed while in use, and opening the "
                                 "cluster's segment again failed: %s",
                 (unsigned)t->key, e.message);
        memset(slot, 0, sizeof *slot);
        return;
    }
    __atomic_store_n(&c->pending, slot, __ATOMIC_SEQ_CST);
}

void cshm_client_follow(cshm_client *c, int flags)
{
    if (!c->shared)
        return;
    if (flags & CSHM_FOLLOW_BLOCK) {
        pthread_mutex_lock(&c->move_lock);
        c->checked_state = 0;
    } else if (pthread_mutex_trylock(&c->move_lock) != 0) {
        return;
    }
    cshm_segment *pending = load(&c->pending);
    look_for_forward(c, pending != NULL ? pending : load(&c->current));
    if (flags & CSHM_FOLLOW_CHECK_REMOVED)
        reopen_if_removed(c);
    pending = load(&c->pending);
    if (pending != NULL && cshm_snapshot_map_ready(pending)) {
        __atomic_store_n(&c->current, pending, __ATOMIC_SEQ_CST);
        __atomic_store_n(&c->pending, NULL, __ATOMIC_SEQ_CST);
    }
    pthread_mutex_unlock(&c->move_lock);
}

void cshm_client_adopt_successor(cshm_client *c, const cshm_segment *successor)
{
    pthread_mutex_lock(&c->move_lock);
    cshm_segment *pending = load(&c->pending);
    if (pending != NULL && pending->shmid == successor->shmid) {
        /* Another thread of ours followed the pointer first: keep that
         * attachment, drop ours (the segment stays: it is attached). */
        cshm_segment copy = *successor;
        cshm_segment_close(&copy);
        pthread_mutex_unlock(&c->move_lock);
        return;
    }
    cshm_segment *slot = free_slot(c);
    if (slot == NULL) {
        /* Cannot happen while the thread moves one generation at a time;
         * detaching would remove the successor nobody else attached yet. */
        pthread_mutex_unlock(&c->move_lock);
        return;
    }
    *slot = *successor;
    __atomic_store_n(&c->pending, slot, __ATOMIC_SEQ_CST);
    c->checked_state = 0;
    pthread_mutex_unlock(&c->move_lock);
}

void cshm_client_reclaim(cshm_client *c)
{
    if (!c->shared || pthread_mutex_trylock(&c->move_lock) != 0)
        return;
    cshm_segment *keep[3] = {load(&c->current), load(&c->pending), load(&c->tseg)};
    for (unsigned i = 0; i < CSHM_CLIENT_SEGMENTS; i++) {
        cshm_segment *s = &c->segs[i];
        if (s->base == NULL || s == keep[0] || s == keep[1] || s == keep[2])
            continue;
        if (__atomic_load_n(&c->readers, __ATOMIC_SEQ_CST) != 0)
            break;
        cshm_log(CSHM_LOG_INFO, "pid %d detaches segment 0x%08x (generation %u): it moved on",
                 (int)getpid(), (unsigned)s->key, (unsigned)s->generation);
        cshm_segment_close(s);   /* the last process to detach removes it */
        memset(s, 0, sizeof *s);
    }
    pthread_mutex_unlock(&c->move_lock);
}

void cshm_client_detach_all(cshm_client *c)
{
    for (unsigned i = 0; i < CSHM_CLIENT_SEGMENTS; i++) {
        cshm_segment_close(&c->segs[i]);
        memset(&c->segs[i], 0, sizeof c->segs[i]);
    }
    c->current = c->pending = c->tseg = NULL;
}
