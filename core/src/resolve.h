/*
 * resolve.h - host names to addresses, with a deadline, safe across fork().
 *
 * Invariants:
 *  - No call waits past its deadline.  A name goes to a plain blocking
 *    getaddrinfo() on a short-lived detached thread of its own; the caller
 *    waits for it on a condition variable (CLOCK_MONOTONIC, so a wall-clock
 *    step cannot stretch the wait) and, at the deadline, abandons it.  An
 *    abandoned lookup keeps running: its block (request and result) is
 *    shared by a reference count and given back by whichever side lets go
 *    last.
 *  - The number of lookups still pending (abandoned ones included) is
 *    bounded: the blocks come from a fixed pool of CSHM_RESOLVE_MAX_PENDING.
 *    Past it a lookup fails at once, without a thread, with "the resolver is
 *    not answering: N lookups still pending": a resolver that hangs costs a
 *    few threads, never an unbounded number, and lookup blocks are never
 *    allocated.
 *  - Lookup threads run with every signal blocked: signals belong to the
 *    application, which cannot expect them on a thread it does not know of.
 *  - Fork-safe as far as this file goes: nothing a lookup needs lives in
 *    state that a fork child inherits from threads it does not have.  A
 *    pthread_atfork child handler gives back every block of the pool (the
 *    threads and callers that held them are not in the child) and releases
 *    the cache lock, which the prepare handler holds across fork() so that no
 *    child inherits it taken.  A lookup in a child works whenever the child
 *    was forked, even while lookup threads of the parent were running.
 *    glibc's getaddrinfo_a() was given up for exactly this: its request
 *    queue and helper-thread count are process-global, so a child forked
 *    while a helper was alive (about a second after any lookup) waited
 *    forever for helpers that fork did not copy.
 *  - What is left is glibc's own: getaddrinfo() takes, for a few
 *    microseconds at its start and end, locks that glibc does not reset
 *    across fork() (its resolv.conf state in resolv/resolv_conf.c, its
 *    interface list for sorting addresses).  A child forked at exactly such
 *    a moment of a parent's lookup thread can never resolve a name (about
 *    1 fork in 5000 while lookups run without pause; none when no lookup is
 *    running, which the cache makes the usual case).  Its lookups then time
 *    out and, once CSHM_RESOLVE_MAX_PENDING are stuck, fail at once with
 *    the reason above: numeric addresses keep working.
 *  - Numeric addresses (IPv4, IPv6 without brackets) are converted locally:
 *    no thread, no cache.
 *  - Successful resolutions of names are cached process-wide for the number
 *    of seconds the caller passes (its tend interval), up to
 *    CSHM_RESOLVE_CACHE_NAMES names (the oldest is evicted).  Failures are
 *    never cached: the next tend asks again.  The cache lock is never held
 *    across anything that blocks.
 *  - Failures write a short lower-case reason into the caller's buffer and
 *    return -1 (cshm_format_error), like the rest of the network layer.
 */
#ifndef CSHM_RESOLVE_H
#define CSHM_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A name with more addresses than this is tried on its first ones only. */
#define CSHM_RESOLVE_MAX_ADDRESSES 16
/* Lookups still running (abandoned ones included) before new ones fail. */
#define CSHM_RESOLVE_MAX_PENDING 8
/* Names the cache keeps. */
#define CSHM_RESOLVE_CACHE_NAMES 64

typedef struct cshm_address_list {
    struct sockaddr_storage addresses[CSHM_RESOLVE_MAX_ADDRESSES];
    socklen_t lengths[CSHM_RESOLVE_MAX_ADDRESSES];
    size_t count;
} cshm_address_list;

/* The addresses of host (a name, or an IPv4 or IPv6 address without
 * brackets), each with port set, IPv4 and IPv6 only, in the resolver's
 * order.  deadline is in cshm_mono_now() seconds; cache_seconds <= 0 neither
 * uses nor fills the cache.  Returns 0, or -1 with the reason in error
 * ("cannot resolve 'h': ...", "timed out after 2.0 s resolving 'h'", "the
 * resolver is not answering: 8 lookups still pending"). */
int cshm_resolve(const char *host, uint16_t port, double deadline, double cache_seconds,
                 cshm_address_list *out, char *error, size_t error_size);

/* ---- internal: for the tests ---------------------------------------------
 *
 * The blocking step that runs on a lookup thread: fill out (ports 0) and
 * return 0, or return a getaddrinfo() error (EAI_*; EAI_SYSTEM with errno
 * set).  It is a parameter so the tests can supply one that blocks until
 * released: nothing else here can make getaddrinfo() hang on demand (no
 * network, no root to point the system at a silent DNS server), and the
 * abandon, reference-count and pending-bound paths are only reached by a
 * lookup that does not finish.  The library itself only ever passes
 * cshm_resolve_getaddrinfo. */
typedef int cshm_resolve_lookup_fn(const char *name, cshm_address_list *out, void *arg);

/* getaddrinfo(name, AF_UNSPEC, SOCK_STREAM) into out. */
int cshm_resolve_getaddrinfo(const char *name, cshm_address_list *out, void *arg);

/* cshm_resolve() with lookup (and arg, which must outlive the lookup thread,
 * since an abandoned lookup still calls it) in place of getaddrinfo(). */
int cshm_resolve_with(cshm_resolve_lookup_fn *lookup, void *arg, const char *host,
                      uint16_t port, double deadline, double cache_seconds,
                      cshm_address_list *out, char *error, size_t error_size);

/* Lookup threads started so far (a fork child goes on from its parent's
 * count), and blocks of the pool still held (by a lookup thread that has
 * not finished or by a caller that has not yet read its answer). */
uint64_t cshm_resolve_lookups_started(void);
unsigned cshm_resolve_lookups_pending(void);

/* Empties the cache. */
void cshm_resolve_cache_clear(void);

#endif
