/*
 * log.c - the core's log lines go to logging.getLogger("clustershm").
 *
 * The core calls its (process-wide) handler on its log delivery thread,
 * never on a client's background thread (core/src/log.h), so a logging
 * handler may take locks, block a while or close clients without running
 * on a thread that owns the core's robust locks.  That thread is
 * one Python does not know, so the handler takes the GIL with
 * PyGILState_Ensure.  Taking the GIL from a foreign thread is only safe
 * while the interpreter is not finalizing (then it hangs or ends the
 * thread), and the limited API cannot ask whether it is.  Hence these
 * invariants:
 *  - Python is entered only while `forwarding` is set: from module exec until
 *    cshm_py_log_stop(), which the atexit hook calls after closing every
 *    client, before the interpreter starts finalizing.  Lines logged after
 *    that are dropped.
 *  - cshm_py_log_stop() first lets the lines already queued reach logging
 *    (cshm_log_flush, bounded by LOG_EXIT_FLUSH, with the GIL released so
 *    that the delivery thread can take it): the lines the clients logged
 *    while closing at exit are not lost.
 *  - `inflight` counts handler calls between their check of `forwarding` and
 *    their return; cshm_py_log_stop() clears the flag and then waits (GIL
 *    released) until none is in flight.  Both are sequentially consistent, so
 *    a call either sees the cleared flag or is waited for.
 *  - In a fork child no handler call of the parent runs: a pthread_atfork
 *    child handler zeroes `inflight` (the parent's delivery thread may have
 *    been counted at the fork and does not exist here; the core drops the
 *    lines the parent had queued).
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "binding.h"

static int forwarding;
static int inflight;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Seconds the exit hook gives the queued lines to reach logging. */
#define LOG_EXIT_FLUSH 2.0

/* The core's levels 0..3 (debug, info, warning, error) as logging's. */
static const int LEVELS[] = {10, 20, 30, 40};

static void emit(int level, const char *message)
{
    PyObject *logging = PyImport_ImportModule("logging");
    PyObject *logger = logging == NULL ? NULL
                       : PyObject_CallMethod(logging, "getLogger", "s", "clustershm");
    PyObject *text = PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "replace");
    PyObject *result = NULL;
    if (logger != NULL && text != NULL) {
        /* No args: logging formats "%" only when args are given, so the
         * line is passed through as it is. */
        result = PyObject_CallMethod(logger, "log", "iO", LEVELS[level], text);
    }
    if (result == NULL)
        PyErr_WriteUnraisable(logger);
    Py_XDECREF(result);
    Py_XDECREF(text);
    Py_XDECREF(logger);
    Py_XDECREF(logging);
}

static void handler(int level, const char *message, void *user)
{
    (void)user;
    if (level < 0)
        level = 0;
    if (level > 3)
        level = 3;
    __atomic_add_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&forwarding, __ATOMIC_SEQ_CST)) {
        PyGILState_STATE gil = PyGILState_Ensure();
        /* Checked again: the flag may have been cleared while we waited,
         * and the stopper waits for us with the GIL released. */
        if (__atomic_load_n(&forwarding, __ATOMIC_SEQ_CST))
            emit(level, message);
        PyGILState_Release(gil);
    }
    __atomic_sub_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
}

static void after_fork_child(void)
{
    __atomic_store_n(&inflight, 0, __ATOMIC_SEQ_CST);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
}

/* Called with the GIL held (module exec); idempotent. */
void cshm_py_log_start(void)
{
    pthread_once(&atfork_once, register_atfork);
    __atomic_store_n(&forwarding, 1, __ATOMIC_SEQ_CST);
    cshm_set_log_handler(handler, NULL);
}

/* Called with the GIL held (the atexit hook), after every client is closed:
 * the lines they queued while closing go to logging first, then forwarding
 * stops.  Both waits are bounded, so a stuck logging handler cannot hang
 * the exit; the lines it holds up are then dropped. */
void cshm_py_log_stop(void)
{
    Py_BEGIN_ALLOW_THREADS
    cshm_log_flush(LOG_EXIT_FLUSH);
    Py_END_ALLOW_THREADS
    __atomic_store_n(&forwarding, 0, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&inflight, __ATOMIC_SEQ_CST) == 0)
        return;
    /* A call in flight may be waiting for the GIL: let it through. */
    Py_BEGIN_ALLOW_THREADS
    struct timespec pause = {0, 1000000};
    for (int i = 0; i < 5000 && __atomic_load_n(&inflight, __ATOMIC_SEQ_CST) != 0; i++)
        nanosleep(&pause, NULL);
    Py_END_ALLOW_THREADS
}
