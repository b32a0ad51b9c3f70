/*
 * resolve.c - see resolve.h.
 *
 * One lookup is one block of a fixed pool, shared by two parties, the
 * caller and the lookup thread, each holding a reference.  The thread writes
 * the result into the block, then sets `done` under the block's own mutex
 * and signals; the caller reads the result only after seeing `done` under
 * that mutex, or gives up at its deadline without reading it.  Each side
 * drops its reference when it is finished with the block, and the last one
 * returns it to the pool, so an abandoned lookup never writes into a block
 * that someone else is using and never needs the caller to come back.
 *
 * The pool is static, not malloc()ed, and its size is the bound on pending
 * lookups: a block is taken with one compare-and-swap, so racing callers
 * cannot together pass the bound, and a fork child, which has neither the
 * callers nor the threads of its parent's lookups, gets every block back by
 * plain stores in its atfork handler.  Heap blocks would instead be lost in
 * every such child, reachable from no thread it has.
 *
 * The rest of the process-wide state is an atomic count of lookups started
 * (for the tests) and the cache behind one mutex, which the atfork handlers
 * take before fork() and release after it in both processes.
 */
#include "resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "clustershm.h"
#include "error.h"

typedef struct lookup {
    int in_use;                  /* atomic: 0 free, 1 taken (set by the taker) */
    int references;              /* atomic: caller + thread while in use */
    pthread_mutex_t lock;        /* initialised when taken, destroyed when given back */
    pthread_cond_t answered;     /* CLOCK_MONOTONIC, like every deadline here */
    int done;                    /* under lock */
    int status;                  /* 0 or EAI_*: written before done is set */
    int status_errno;            /* errno after EAI_SYSTEM */
    cshm_address_list result;    /* written before done is set */
    cshm_resolve_lookup_fn *fn;
    void *arg;
    char name[CSHM_HOST_MAX];
} lookup;

static lookup pool[CSHM_RESOLVE_MAX_PENDING];
static uint64_t started_count;       /* atomic: lookup threads ever started */

typedef struct cache_entry {
    int used;
    double resolved_at;              /* cshm_mono_now() */
    char name[CSHM_HOST_MAX];
    cshm_address_list addresses;     /* ports 0 */
} cache_entry;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cache_entry cache[CSHM_RESOLVE_CACHE_NAMES];   /* under cache_lock */

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* ---- fork ----------------------------------------------------------------
 *
 * The cache lock is taken before fork() so that no other thread is inside
 * the cache at the moment of the copy: both processes then release it, and
 * the child's copy of the cache is consistent.  The child has none of the
 * parent's lookup threads nor of their callers, so every block of the pool
 * is free there: nobody is left to let go of it.  Its mutex and condition
 * variable may be in any state (a thread that vanished may have held the
 * mutex), which does not matter: they are initialised afresh when the block
 * is next taken. */

static void before_fork(void)
{
    pthread_mutex_lock(&cache_lock);
}

static void after_fork_in_parent(void)
{
    pthread_mutex_unlock(&cache_lock);
}

static void after_fork_in_child(void)
{
    for (size_t i = 0; i < CSHM_RESOLVE_MAX_PENDING; i++) {
        __atomic_store_n(&pool[i].references, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&pool[i].in_use, 0, __ATOMIC_RELAXED);
    }
    /* Only the thread that called fork() exists here, and it is the one that
     * took the lock in before_fork(). */
    pthread_mutex_unlock(&cache_lock);
}

static void register_atfork(void)
{
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
}

/* ---- addresses --------------------------------------------------------- */

static void set_port(cshm_address_list *list, uint16_t port)
{
    for (size_t i = 0; i < list->count; i++) {
        struct sockaddr_storage *a = &list->addresses[i];
        if (a->ss_family == AF_INET)
            ((struct sockaddr_in *)a)->sin_port = htons(port);
        else if (a->ss_family == AF_INET6)
            ((struct sockaddr_in6 *)a)->sin6_port = htons(port);
    }
}

static int numeric_address(const char *host, cshm_address_list *out)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    if (inet_pton(AF_INET, host, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        memcpy(&out->addresses[0], &v4, sizeof v4);
        out->lengths[0] = sizeof v4;
        out->count = 1;
        return 1;
    }
    if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        memcpy(&out->addresses[0], &v6, sizeof v6);
        out->lengths[0] = sizeof v6;
        out->count = 1;
        return 1;
    }
    return 0;
}

int cshm_resolve_getaddrinfo(const char *name, cshm_address_list *out, void *arg)
{
    (void)arg;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(name, NULL, &hints, &found);
    if (rc != 0)
        return rc;
    out->count = 0;
    for (const struct addrinfo *ai = found; ai != NULL && out->count < CSHM_RESOLVE_MAX_ADDRESSES;
         ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof out->addresses[0])
            continue;
        memcpy(&out->addresses[out->count], ai->ai_addr, ai->ai_addrlen);
        out->lengths[out->count] = ai->ai_addrlen;
        out->count++;
    }
    freeaddrinfo(found);
    return 0;
}

/* ---- the cache ------------------------------------------------------------ */

static int cache_find(const char *name, double cache_seconds, cshm_address_list *out)
{
    int hit = 0;
    double now = cshm_mono_now();
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < CSHM_RESOLVE_CACHE_NAMES; i++) {
        const cache_entry *e = &cache[i];
        if (e->used && strcasecmp(e->name, name) == 0) {
            /* Freshness is the asking caller's: each passes its own interval. */
            if (now >= e->resolved_at && now - e->resolved_at < cache_seconds) {
                *out = e->addresses;
                hit = 1;
            }
            break;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static void cache_store(const char *name, const cshm_address_list *addresses)
{
    double now = cshm_mono_now();
    pthread_mutex_lock(&cache_lock);
    cache_entry *slot = NULL;
    for (size_t i = 0; i < CSHM_RESOLVE_CACHE_NAMES && slot == NULL; i++)
        if (cache[i].used && strcasecmp(cache[i].name, name) == 0)
            slot = &cache[i];
    for (size_t i = 0; i < CSHM_RESOLVE_CACHE_NAMES && slot == NULL; i++)
        if (!cache[i].used)
            slot = &cache[i];
    if (slot == NULL) {
        slot = &cache[0];
        for (size_t i = 1; i < CSHM_RESOLVE_CACHE_NAMES; i++)
            if (cache[i].resolved_at < slot->resolved_at)
                slot = &cache[i];
    }
    slot->used = 1;
    slot->resolved_at = now;
    snprintf(slot->name, sizeof slot->name, "%s", name);
    slot->addresses = *addresses;
    pthread_mutex_unlock(&cache_lock);
}

void cshm_resolve_cache_clear(void)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&cache_lock);
    memset(cache, 0, sizeof cache);
    pthread_mutex_unlock(&cache_lock);
}

/* ---- one lookup on its own thread ----------------------------------------- */

static void lookup_release(lookup *l)
{
    if (__atomic_sub_fetch(&l->references, 1, __ATOMIC_ACQ_REL) == 0) {
        pthread_cond_destroy(&l->answered);
        pthread_mutex_destroy(&l->lock);
        /* Last: from here on another caller may take the block. */
        __atomic_store_n(&l->in_use, 0, __ATOMIC_RELEASE);
    }
}

static void *lookup_thread(void *arg)
{
    lookup *l = arg;
    errno = 0;
    int status = l->fn(l->name, &l->result, l->arg);
    l->status_errno = errno;
    l->status = status;
    pthread_mutex_lock(&l->lock);
    l->done = 1;
    pthread_cond_signal(&l->answered);
    pthread_mutex_unlock(&l->lock);
    lookup_release(l);
    return NULL;
}

/* A free block of the pool, set up for name; NULL when every block is
 * taken (*taken then says how many) or its mutex cannot be set up. */
static lookup *lookup_take(cshm_resolve_lookup_fn *fn, void *arg, const char *name,
                           unsigned *taken)
{
    lookup *l = NULL;
    for (size_t i = 0; i < CSHM_RESOLVE_MAX_PENDING && l == NULL; i++) {
        int expected = 0;
        if (__atomic_compare_exchange_n(&pool[i].in_use, &expected, 1, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            l = &pool[i];
    }
    if (l == NULL) {
        *taken = CSHM_RESOLVE_MAX_PENDING;
        return NULL;
    }
    *taken = 0;
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc == 0) {
        rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (rc == 0)
            rc = pthread_cond_init(&l->answered, &attr);
        pthread_condattr_destroy(&attr);
    }
    if (rc == 0 && pthread_mutex_init(&l->lock, NULL) != 0) {
        pthread_cond_destroy(&l->answered);
        rc = -1;
    }
    if (rc != 0) {
        __atomic_store_n(&l->in_use, 0, __ATOMIC_RELEASE);
        return NULL;
    }
    l->done = 0;
    l->status = 0;
    l->status_errno = 0;
    l->result.count = 0;
    l->fn = fn;
    l->arg = arg;
    snprintf(l->name, sizeof l->name, "%s", name);
    __atomic_store_n(&l->references, 2, __ATOMIC_RELAXED);
    return l;
}

/* Starts the thread; on failure nothing is left behind. */
static int lookup_start(lookup *l, const char *host, char *error, size_t error_size)
{
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) {
        rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (rc == 0) {
            /* A new thread inherits the creator's mask: blocking everything
             * around pthread_create() leaves no moment at which the lookup
             * thread could take one of the application's signals. */
            sigset_t all, previous;
            sigfillset(&all);
            pthread_sigmask(SIG_SETMASK, &all, &previous);
            pthread_t thread;
            rc = pthread_create(&thread, &attr, lookup_thread, l);
            pthread_sigmask(SIG_SETMASK, &previous, NULL);
        }
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        char reason[96];
        char *text = strerror_r(rc, reason, sizeof reason);
        return cshm_format_error(error, error_size, "cannot start a thread to resolve '%.64s': %s",
                                 host, text);
    }
    __atomic_add_fetch(&started_count, 1, __ATOMIC_RELAXED);
    return 0;
}

static int resolve_on_thread(cshm_resolve_lookup_fn *fn, void *arg, const char *host,
                             double started, double deadline, cshm_address_list *out,
                             char *error, size_t error_size)
{
    if (deadline <= cshm_mono_now())
        return cshm_format_error(error, error_size, "timed out after %.1f s resolving '%.64s'",
                                 deadline > started ? deadline - started : 0.0, host);
    unsigned taken = 0;
    lookup *l = lookup_take(fn, arg, host, &taken);
    if (l == NULL && taken > 0)
        return cshm_format_error(error, error_size,
                                 "the resolver is not answering: %u lookups still pending "
                                 "(not resolving '%.64s')",
                                 taken, host);
    if (l == NULL)
        return cshm_format_error(error, error_size, "cannot set up a lookup of '%.64s'", host);
    if (lookup_start(l, host, error, error_size) != 0) {
        __atomic_store_n(&l->references, 1, __ATOMIC_RELAXED);
        lookup_release(l);
        return -1;
    }

    struct timespec until = cshm_timespec_from_seconds(deadline);
    pthread_mutex_lock(&l->lock);
    while (!l->done) {
        /* Spurious wake-ups loop; ETIMEDOUT ends the wait (done is read
         * once more below, so an answer that raced the deadline counts). */
        if (pthread_cond_timedwait(&l->answered, &l->lock, &until) == ETIMEDOUT)
            break;
    }
    int done = l->done;
    pthread_mutex_unlock(&l->lock);

    int rc = 0;
    if (!done) {
        rc = cshm_format_error(error, error_size, "timed out after %.1f s resolving '%.64s'",
                               deadline > started ? deadline - started : 0.0, host);
    } else if (l->status == EAI_SYSTEM) {
        char reason[96];
        char *text = strerror_r(l->status_errno, reason, sizeof reason);
        rc = cshm_format_error(error, error_size, "cannot resolve '%.64s': %s", host, text);
    } else if (l->status != 0) {
        rc = cshm_format_error(error, error_size, "cannot resolve '%.64s': %s", host,
                               gai_strerror(l->status));
    } else if (l->result.count == 0) {
        rc = cshm_format_error(error, error_size,
                               "cannot resolve '%.64s': no IPv4 or IPv6 address", host);
    } else {
        *out = l->result;
    }
    lookup_release(l);
    return rc;
}

/* ---- entry points ------------------------------------------------------------ */

int cshm_resolve_with(cshm_resolve_lookup_fn *lookup_fn, void *arg, const char *host,
                      uint16_t port, double deadline, double cache_seconds,
                      cshm_address_list *out, char *error, size_t error_size)
{
    double started = cshm_mono_now();
    out->count = 0;
    size_t host_len = strnlen(host, CSHM_HOST_MAX);
    if (host_len == 0 || host_len >= CSHM_HOST_MAX)
        return cshm_format_error(error, error_size, "invalid host name (%zu bytes)", host_len);
    if (numeric_address(host, out)) {
        set_port(out, port);
        return 0;
    }
    pthread_once(&atfork_once, register_atfork);
    if (cache_seconds > 0 && cache_find(host, cache_seconds, out)) {
        set_port(out, port);
        return 0;
    }
    if (resolve_on_thread(lookup_fn, arg, host, started, deadline, out, error, error_size) != 0) {
        out->count = 0;
        return -1;
    }
    if (cache_seconds > 0)
        cache_store(host, out);
    set_port(out, port);
    return 0;
}

int cshm_resolve(const char *host, uint16_t port, double deadline, double cache_seconds,
                 cshm_address_list *out, char *error, size_t error_size)
{
    return cshm_resolve_with(cshm_resolve_getaddrinfo, NULL, host, port, deadline, cache_seconds,
                             out, error, error_size);
}

uint64_t cshm_resolve_lookups_started(void)
{
    return __atomic_load_n(&started_count, __ATOMIC_RELAXED);
}

unsigned cshm_resolve_lookups_pending(void)
{
    unsigned taken = 0;
    for (size_t i = 0; i < CSHM_RESOLVE_MAX_PENDING; i++)
        taken += __atomic_load_n(&pool[i].in_use, __ATOMIC_ACQUIRE) != 0;
    return taken;
}
