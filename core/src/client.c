/*
 * client.c - the public API: connect, close, route, partition, nodes, status,
 * request_refresh.
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

/* In a fork child: the parent's thread is not here and its sockets are not
 * ours to use.  Start over as a follower (or a fresh private tender). */
static int adopt_after_fork(cshm_client *c, cshm_error *error)
{
    c->fork_generation = cshm_current_fork_generation();
    c->pid = getpid();
    c->thread_running = 0;
    c->role = CSHM_ROLE_FOLLOWER;
    if (c->driver_state != NULL) {
        c->config.driver->destroy(c->driver_state);
        c->driver_state = NULL;
    }
    if (!c->shared) {
        /* Our private copy of the map still has the parent thread's locks:
         * nobody else can hold them here. */
        cshm_seg_header *h = c->segment.header;
        for (uint32_t i = 0; i < CSHM_OWNER_LOCKS; i++)
            cshm_robust_lock_init(&h->owner_locks[i]);
        for (uint32_t i = 0; i < CSHM_SLOTS; i++)
            cshm_robust_lock_init(&h->slot_locks[i]);
    }
    return cshm_thread_start(c, error);
}

static int ready_for_calls(cshm_client *c, cshm_error *error)
{
    if (c == NULL)
        return cshm_fail(error, CSHM_ERR_STATE, "client is NULL (closed or never connected)");
    if (c->fork_generation != cshm_current_fork_generation())
        return adopt_after_fork(c, error);
    return 0;
}

/* A map is ready when the current tender has published it and is still
 * alive (holds its owner lock): a map left by a tender that died, or by an
 * earlier tender, may be hours old.  A new tender republishes at once. */
static int map_ready(const cshm_client *c)
{
    const cshm_seg_header *h = c->segment.header;
    int64_t published = cshm_snapshot_published_epoch(&c->segment);
    uint64_t state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
    uint32_t lock = cshm_state_lock(state) % CSHM_OWNER_LOCKS;
    return published >= 0 && (uint64_t)published == cshm_state_epoch(state) &&
           cshm_robust_owner_tid(&h->owner_locks[lock]) != 0;
}

static void read_last_error(const cshm_client *c, char *out, size_t cap)
{
    char buf[CSHM_ERROR_TEXT];
    cshm_shm_load_words(buf, c->segment.header->last_error, sizeof buf);
    buf[sizeof buf - 1] = '\0';
    snprintf(out, cap, "%s", buf);
}

static int wait_for_map(cshm_client *c, cshm_error *error)
{
    cshm_seg_header *h = c->segment.header;
    double timeout = c->config.options.connect_timeout;
    double deadline = cshm_mono_now() + timeout;
    uint64_t failures_before = __atomic_load_n(&h->tend_failures, __ATOMIC_ACQUIRE);
    for (;;) {
        uint32_t seq = __atomic_load_n(&h->publish_seq, __ATOMIC_ACQUIRE);
        if (map_ready(c))
            return 0;
        char last[CSHM_ERROR_TEXT];
        if (cshm_snapshot_published_epoch(&c->segment) < 0 &&
            __atomic_load_n(&h->tend_failures, __ATOMIC_ACQUIRE) != failures_before) {
            read_last_error(c, last, sizeof last);
            return cshm_fail(error, CSHM_ERR_CLUSTER,
                             "no node of %s answered: %s. Check the URL, and that the cluster is "
                             "up and reachable from this host",
                             c->config.identity, last);
        }
        double remaining = deadline - cshm_mono_now();
        if (remaining <= 0) {
            read_last_error(c, last, sizeof last);
            return cshm_fail(error, CSHM_ERR_TIMEOUT,
                             "no cluster map within connect_timeout=%g s (tender pid %u%s%s); "
                             "raise connect_timeout or check the cluster",
                             timeout, (unsigned)cshm_segment_tender_pid(h),
                             last[0] ? ", last error: " : "", last);
        }
        cshm_futex_wait(&h->publish_seq, seq, remaining);
    }
}

int cshm_connect(const char *url, const cshm_options *options, cshm_client **out,
                 cshm_error *error)
{
    cshm_error_clear(error);
    if (out == NULL)
        return cshm_fail(error, CSHM_ERR_CONFIG, "cshm_connect: out must not be NULL");
    *out = NULL;
    pthread_once(&atfork_once, register_atfork);

    cshm_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return cshm_fail(error, CSHM_ERR_SYSTEM, "out of memory");
    int rc = cshm_config_parse(url, options, &c->config, error);
    if (rc == 0) {
        c->shared = c->config.options.shared;
        rc = c->shared ? cshm_segment_open(&c->config, &c->segment, error)
                       : cshm_segment_private(&c->config, &c->segment, error);
    }
    if (rc == 0) {
        c->fork_generation = cshm_current_fork_generation();
        c->pid = getpid();
        rc = cshm_thread_start(c, error);
    }
    if (rc == 0)
        rc = wait_for_map(c, error);
    if (rc != 0) {
        cshm_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int cshm_close(cshm_client *c)
{
    if (c == NULL)
        return 0;
    /* In a fork child the thread handle is the parent's: nothing to join. */
    if (c->fork_generation == cshm_current_fork_generation()) {
        cshm_thread_stop(c);
        /* Still running: we are that thread, which cannot join itself.
         * Nothing was done, so the caller still owns an open client. */
        if (c->thread_running)
            return CSHM_ERR_STATE;
    }
    if (c->driver_state != NULL)
        c->config.driver->destroy(c->driver_state);
    cshm_map_free(&c->published);
    cshm_map_free(&c->building);
    cshm_map_free(&c->view);
    cshm_segment_close(&c->segment);
    /* The password lives in the config: do not leave it in freed memory. */
    memset(&c->config, 0, sizeof c->config);
    free(c);
    return 0;
}

int cshm_partition(cshm_client *c, const cshm_key *key, const char *set, uint32_t *partition,
                   cshm_error *error)
{
    int rc = ready_for_calls(c, error);
    if (rc != 0)
        return rc;
    return c->config.driver->partition(key, set, partition, error);
}

int cshm_route(cshm_client *c, const cshm_key *key, const char *namespace_name, const char *set,
               int replica, cshm_route_result *out, cshm_error *error)
{
    int rc = ready_for_calls(c, error);
    if (rc != 0)
        return rc;
    if (replica < 0)
        return cshm_fail(error, CSHM_ERR_CONFIG, "replica %d: use 0 for the master, 1.. for replicas",
                         replica);
    uint32_t partition;
    rc = c->config.driver->partition(key, set, &partition, error);
    if (rc != 0)
        return rc;
    if (c->config.kind == CSHM_DRIVER_AEROSPIKE) {
        if (namespace_name == NULL || namespace_name[0] == '\0')
            return cshm_fail(error, CSHM_ERR_CONFIG,
                             "route: Aerospike keys need a namespace; give the namespace argument");
    } else {
        namespace_name = NULL;
    }
    return cshm_snapshot_route(&c->segment, namespace_name, partition, (uint32_t)replica, out,
                               error);
}

int cshm_nodes(cshm_client *c, cshm_node_info *nodes, size_t capacity, size_t *count,
               cshm_error *error)
{
    int rc = ready_for_calls(c, error);
    if (rc != 0)
        return rc;
    /* Only callers of nodes() pay for a private copy of the map. */
    if (c->view.payload == NULL && cshm_map_init(&c->view, &c->segment.shape) != 0)
        return cshm_fail(error, CSHM_ERR_SYSTEM, "out of memory for a copy of the map");
    rc = cshm_snapshot_read(&c->segment, &c->view, NULL, error);
    if (rc > 0) {
        *count = 0;
        return 0;
    }
    if (rc < 0)
        return rc;
    const cshm_map *m = &c->view;
    uint32_t n = m->counts->node_count;
    *count = n;
    for (uint32_t i = 0; i < n && i < capacity; i++) {
        memset(&nodes[i], 0, sizeof nodes[i]);
        memcpy(nodes[i].name, m->nodes[i].name, sizeof nodes[i].name);
        memcpy(nodes[i].host, m->nodes[i].host, sizeof nodes[i].host);
        nodes[i].port = m->nodes[i].port;
        nodes[i].active = m->nodes[i].active;
        nodes[i].is_master = m->nodes[i].is_master;
    }
    uint32_t *masters = calloc(n ? n : 1, sizeof *masters);
    uint32_t *replicas = calloc(n ? n : 1, sizeof *replicas);
    if (masters == NULL || replicas == NULL) {
        free(masters);
        free(replicas);
        return cshm_fail(error, CSHM_ERR_SYSTEM, "out of memory");
    }
    cshm_map_count_partitions(m, masters, replicas);
    for (uint32_t i = 0; i < n && i < capacity; i++) {
        nodes[i].partitions = masters[i];
        nodes[i].replica_partitions = replicas[i];
    }
    free(masters);
    free(replicas);
    return 0;
}

int cshm_status(cshm_client *c, cshm_status_info *s, cshm_error *error)
{
    int rc = ready_for_calls(c, error);
    if (rc != 0)
        return rc;
    cshm_seg_header *h = c->segment.header;
    memset(s, 0, sizeof *s);
    int role = __atomic_load_n(&c->role, __ATOMIC_ACQUIRE);
    snprintf(s->role, sizeof s->role, "%s",
             !c->shared ? "private" : role == CSHM_ROLE_TENDER ? "tender" : "follower");
    s->pid = getpid();
    s->owner_pid = (pid_t)cshm_segment_tender_pid(h);
    s->epoch = cshm_state_epoch(__atomic_load_n(&h->state, __ATOMIC_ACQUIRE));
    s->key = c->segment.key;
    s->shmid = c->segment.shmid;
    s->segment_size = c->segment.size;
    s->attached = cshm_segment_attached(&c->segment);
    s->tends = __atomic_load_n(&h->tends, __ATOMIC_RELAXED);
    s->tend_failures = __atomic_load_n(&h->tend_failures, __ATOMIC_RELAXED);
    snprintf(s->driver, sizeof s->driver, "%s", c->config.driver->name);
    read_last_error(c, s->last_error, sizeof s->last_error);

    cshm_map_counts counts_copy;
    rc = cshm_snapshot_read_counts(&c->segment, &counts_copy, error);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        const cshm_map_counts *counts = &counts_copy;
        s->generation = counts->generation;
        s->tended_at = (double)counts->tended_at_ms / 1000.0;
        s->age = counts->tended_at_ms ? (double)cshm_wall_ms() / 1000.0 - s->tended_at : 0;
        s->stale = (counts->flags & CSHM_MAP_STALE) != 0;
        s->nodes = counts->node_count;
        s->namespaces = counts->ns_count;
        s->nodes_seen = counts->nodes_seen;
        s->namespaces_seen = counts->ns_seen;
        s->nodes_truncated = (counts->flags & CSHM_MAP_NODES_TRUNCATED) != 0;
        s->namespaces_truncated = (counts->flags & CSHM_MAP_NAMESPACES_TRUNCATED) != 0;
        s->replicas_truncated = (counts->flags & CSHM_MAP_REPLICAS_TRUNCATED) != 0;
    }
    return 0;
}

int cshm_request_refresh(cshm_client *c, cshm_error *error)
{
    int rc = ready_for_calls(c, error);
    if (rc != 0)
        return rc;
    cshm_seg_header *h = c->segment.header;
    __atomic_add_fetch(&h->refresh_seq, 1, __ATOMIC_RELEASE);
    cshm_futex_wake_all(&h->refresh_seq);
    return 0;
}
