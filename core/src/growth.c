/*
 * growth.c - the tender grows the segment when the cluster outgrew it
 * (docs/design.md §1b, "Online growth").
 *
 * After a good tend whose map had to leave nodes or namespaces out, the
 * tender creates the next generation of its segment's chain with room to
 * spare (the growth rule below), then publishes, in the old segment, the
 * same map again with a forward pointer to the successor in its record.
 * That publish is the ordinary fenced publish (a compare-and-swap on the
 * state word that carries the tender's epoch), so a tender that lost the
 * role cannot forward.  The tender then moves to the successor like every
 * other process, and whoever becomes tender there publishes the complete
 * map.
 *
 * Invariants:
 *  - A forward is published only after the successor exists and is
 *    attached by this process, and this process stays attached to it
 *    (cshm_client_adopt_successor) until it has moved there: the pointer
 *    never names a segment that the last detach could have removed.
 *  - A segment that was forwarded is never tended again (tender.c checks
 *    the record it adopts), so a forward is never withdrawn.
 *  - A failed growth (the chain is full, the kernel's limits, a foreign
 *    segment at the successor's key) is logged and retried after a pause,
 *    never in a loop; the map stays truncated meanwhile, as without growth.
 *
 * Test hook: CSHM_TEST_HOOK_GROWTH=created or =forwarded makes the tender
 * SIGKILL its own process right after creating the successor, or right
 * after publishing the forward pointer; =created:stop stops the whole
 * process (SIGSTOP) right after creating the successor instead, so that a
 * test can let another tender take over and then resume this one
 * (tests/integration/test_growth.py).  Unset in production; it is read
 * only when a segment grows.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "client.h"
#include "error.h"
#include "log.h"
#include "snapshot.h"

/* The largest limits the option validator accepts (config.c). */
#define GROWTH_MAX_NODES 4096u
#define GROWTH_MAX_NAMESPACES 32u
/* A failed growth is tried again after this long (or 10 tend intervals). */
#define GROWTH_RETRY_MIN 5.0

/* The growth rule: double the limit, and keep doubling until it holds what
 * the cluster reports; capped at the validator's maximum.  Doubling leaves
 * room to spare, so a cluster that keeps growing moves segment a
 * logarithmic number of times (at most CSHM_CHAIN_MAX - 1). */
static uint32_t grown(uint32_t limit, uint32_t seen, uint32_t cap)
{
    uint64_t n = (uint64_t)limit * 2;
    while (n < seen)
        n *= 2;
    return n > cap ? cap : (uint32_t)n;
}

static void test_hook(const char *stage)
{
    const char *hook = getenv("CSHM_TEST_HOOK_GROWTH");
    size_t n = strlen(stage);
    if (hook == NULL || strncmp(hook, stage, n) != 0)
        return;
    if (hook[n] == '\0')
        kill(getpid(), SIGKILL);
    else if (strcmp(hook + n, ":stop") == 0)
        raise(SIGSTOP);   /* this thread stops at once (a kill() of the process could let
                             it publish first); returns once the test sends SIGCONT */
}

int cshm_tender_grow(cshm_client *c)
{
    cshm_segment *seg = c->tseg;
    const cshm_map_counts *counts = c->published.counts;
    uint32_t flags = counts->flags;
    if (!c->shared ||
        !(flags & (CSHM_MAP_NODES_TRUNCATED | CSHM_MAP_NAMESPACES_TRUNCATED)) ||
        cshm_mono_now() < c->growth_retry_at)
        return 0;
    cshm_map_shape shape = seg->shape;
    if (flags & CSHM_MAP_NODES_TRUNCATED)
        shape.max_nodes = grown(shape.max_nodes, counts->nodes_seen, GROWTH_MAX_NODES);
    if (flags & CSHM_MAP_NAMESPACES_TRUNCATED)
        shape.max_namespaces =
            grown(shape.max_namespaces, counts->ns_seen, GROWTH_MAX_NAMESPACES);
    double retry = 10 * seg->tend_interval;
    if (retry < GROWTH_RETRY_MIN)
        retry = GROWTH_RETRY_MIN;
    if (shape.max_nodes == seg->shape.max_nodes &&
        shape.max_namespaces == seg->shape.max_namespaces) {
        c->growth_retry_at = cshm_mono_now() + 3600;  /* at the caps: nothing to grow */
        return 0;
    }

    cshm_segment next;
    cshm_error e;
    cshm_error_clear(&e);
    if (cshm_segment_open_successor(&c->config, seg, &shape, &next, &e) != 0) {
        cshm_log(CSHM_LOG_ERROR,
                 "segment 0x%08x: the cluster outgrew it (%u nodes, %u namespaces seen) and "
                 "it cannot grow: %s; the map stays truncated, retrying in %g s",
                 (unsigned)seg->key, (unsigned)counts->nodes_seen, (unsigned)counts->ns_seen,
                 e.message, retry);
        c->growth_retry_at = cshm_mono_now() + retry;
        return 0;
    }
    test_hook("created");

    cshm_forward *f = &c->record.forward;
    memset(f, 0, sizeof *f);
    f->key = next.key;
    f->shmid = next.shmid;
    f->generation = next.generation;
    f->max_nodes = next.shape.max_nodes;
    f->max_namespaces = next.shape.max_namespaces;
    f->size = next.size;
    f->created_at_ms = next.created_at_ms;
    cshm_map_copy(&c->building, &c->published);
    int published = cshm_snapshot_publish(seg, &c->robust, c->epoch, &c->record, &c->building);
    if (published != CSHM_PUBLISH_OK) {
        /* Lost the role (a newer tender forwards, or not), or no slot:
         * the successor stays for whoever grows next. */
        memset(f, 0, sizeof *f);
        cshm_segment_close(&next);
        c->growth_retry_at = cshm_mono_now() + retry;
        return published == CSHM_PUBLISH_LOST ? -1 : 0;
    }
    __atomic_store_n(&seg->header->forwarded, 1, __ATOMIC_RELEASE);
    test_hook("forwarded");
    cshm_log(CSHM_LOG_INFO,
             "segment 0x%08x: the cluster has %u nodes and %u namespaces, more than its "
             "max_nodes=%u, max_namespaces=%u hold; the map moves to segment 0x%08x "
             "(generation %u, max_nodes=%u, max_namespaces=%u, %llu bytes) and every process "
             "follows",
             (unsigned)seg->key, (unsigned)counts->nodes_seen,
             (unsigned)(counts->ns_seen > counts->ns_count ? counts->ns_seen : counts->ns_count),
             (unsigned)seg->shape.max_nodes, (unsigned)seg->shape.max_namespaces,
             (unsigned)next.key, (unsigned)next.generation, (unsigned)next.shape.max_nodes,
             (unsigned)next.shape.max_namespaces, (unsigned long long)next.size);
    cshm_client_adopt_successor(c, &next);
    return 1;
}
