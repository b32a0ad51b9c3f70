/*
 * log.h - the core's log lines, and the one thread that hands them to the
 * application.
 *
 * Why a thread of its own: the core logs from its background threads
 * (tender.c), and each of those registers its OWN robust futex list head with
 * set_robust_list(2) (robust_lock.h), replacing glibc's for that thread.  A
 * handler is application code: a pthread robust mutex it took there would be
 * linked into glibc's list, which the kernel no longer walks, so if the
 * process died the mutex would never be marked EOWNERDEAD and its next locker
 * would hang forever.  A handler may also block (the tender's heartbeat would
 * stop and another process would take the role over) or close the client
 * whose thread it runs on (a join of itself).
 *
 * Invariants:
 *  - No user code ever runs on a thread that owns robust locks (the tender/
 *    background threads): handlers run on the delivery thread only.  That
 *    thread is made by pthread_create, so glibc's robust list is registered
 *    for it, and it never takes the core's robust locks.
 *  - cshm_log() only formats the line (at most CSHM_LOG_LINE_MAX bytes) and
 *    queues it: it never calls a handler, never waits beyond a short hold of
 *    the queue mutex and never allocates (the first queued line of a process
 *    starts the delivery thread, which pthread_create allocates for).
 *  - The queue is bounded (CSHM_LOG_QUEUE_LINES).  A line that finds it full
 *    is dropped and counted; the count is delivered as one warning
 *    "N log lines dropped (the log handler is too slow)" at the place of the
 *    gap: before the next line queued after the drops, or on its own once the
 *    queue has drained.
 *  - One delivery thread per process, started lazily, with every signal
 *    blocked (signals belong to the application).  It calls the handler (or
 *    the default: warnings and errors to stderr prefixed "clustershm: ")
 *    outside the mutex, one line at a time, in queue order.
 *  - fork(): the queue mutex is held across fork.  The child starts with an
 *    empty queue and no delivery thread: the parent delivers what it had
 *    queued, and the child's first line starts the child's own thread.
 *  - A handler set by cshm_set_log_handler() gets every line not yet taken
 *    for delivery when it returns; a call already in progress finishes on the
 *    old handler (cshm_log_flush() after the change waits for it).
 *  - exit(): an atexit hook, registered once, flushes for up to
 *    CSHM_LOG_EXIT_FLUSH seconds, then stops the delivery thread if it is
 *    idle (the hook also runs when a binding's shared object is unloaded,
 *    and the thread runs that object's code).  A handler still running when
 *    the bound passes keeps running while exit() goes on, concurrently with
 *    the remaining exit handlers, and dies with the process: the line it is
 *    handling may be cut short and the lines behind it are lost.  A handler
 *    that calls exit() itself runs the hook on the delivery thread, which
 *    does not wait for itself.
 */
#ifndef CSHM_LOG_H
#define CSHM_LOG_H

#include "error.h"

enum { CSHM_LOG_DEBUG = 0, CSHM_LOG_INFO = 1, CSHM_LOG_WARNING = 2, CSHM_LOG_ERROR = 3 };
#define CSHM_LOG_LINE_MAX 512
#define CSHM_LOG_QUEUE_LINES 64
#define CSHM_LOG_EXIT_FLUSH 0.2

void cshm_log(int level, const char *fmt, ...) CSHM_PRINTF(2, 3);

#endif
