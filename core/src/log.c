/*
 * log.c - see log.h.  A bounded ring of formatted lines, one mutex, and one
 * delivery thread per process.
 *
 * Items are counted in one sequence: every queued line is an item, and so is
 * the drop notice of every gap (its number is taken when the gap opens, so it
 * sorts before the first line queued after the gap).  `queued` counts items
 * ever queued and `delivered` the items whose handler call has returned;
 * cshm_log_flush() waits for `delivered` to reach the `queued` it saw.
 *
 * Everything below is guarded by `mutex`, except on_delivery_thread
 * (thread-local) and the condition variables' own state.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct queued_line {
    int level;
    uint32_t dropped_before;      /* lines dropped just before this one */
    char text[CSHM_LOG_LINE_MAX];
} queued_line;

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work;       /* the delivery thread waits for lines here */
static pthread_cond_t progress;   /* flushers wait here (CLOCK_MONOTONIC) */
static queued_line ring[CSHM_LOG_QUEUE_LINES];
static uint32_t head, count;
static uint32_t trailing_dropped; /* drops after the last queued line: a gap still open */
static uint64_t queued, delivered;
static int running;               /* a delivery thread exists in this process */
static int quit;                  /* the exit hook asks the idle thread to end */
static pthread_t deliverer;
static cshm_log_fn handler;
static void *handler_user;
static _Thread_local int on_delivery_thread;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

static void *deliver_main(void *unused);

static void init_conds(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&progress, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&work, NULL);
}

/* Called with the mutex held.  On failure the lines stay queued and the
 * next cshm_log() or cshm_log_flush() tries again. */
static void start_thread(void)
{
    /* Signals belong to the application (PHP's request timeouts, Python's
     * handlers): the thread inherits a mask that blocks them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    running = pthread_create(&deliverer, NULL, deliver_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* A fork while another thread holds the mutex would leave the child's copy
 * locked forever: hold it across fork() so the child's copy is clean. */
static void before_fork(void)
{
    pthread_mutex_lock(&mutex);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&mutex);
}

/* The parent delivers what it queued; the child has no delivery thread. */
static void after_fork_child(void)
{
    head = count = trailing_dropped = 0;
    queued = delivered = 0;
    running = quit = 0;
    on_delivery_thread = 0;     /* a handler that forked: the child is not the deliverer */
    /* Initialised afresh, not destroyed: the parent's delivery thread may be
     * counted as a waiter in them, and destroy would wait for it. */
    init_conds();
    pthread_mutex_unlock(&mutex);
}

/* exit(), and dlclose() of a binding's shared object (glibc runs a DSO's
 * atexit hooks then): deliver what is queued, within a bound, then end the
 * delivery thread if it is idle, so that no thread is left in code that may
 * be unmapped.  A thread still inside a handler is left alone (see log.h). */
static void at_exit(void)
{
    cshm_log_flush(CSHM_LOG_EXIT_FLUSH);
    pthread_mutex_lock(&mutex);
    /* Idle: nothing queued and every handler call returned, so the thread
     * waits on `work` and leaves at once, without running a handler. */
    int stop = running && !on_delivery_thread && count == 0 && trailing_dropped == 0 &&
               delivered == queued;
    pthread_t thread = deliverer;
    if (stop) {
        quit = 1;
        pthread_cond_signal(&work);
    }
    pthread_mutex_unlock(&mutex);
    if (!stop)
        return;
    pthread_join(thread, NULL);
    /* A line queued while it left (a background thread still running
     * during exit) gets a new thread. */
    pthread_mutex_lock(&mutex);
    if (!running && (count > 0 || trailing_dropped > 0))
        start_thread();
    pthread_mutex_unlock(&mutex);
}

static void setup(void)
{
    init_conds();
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    atexit(at_exit);
}

static void deliver(cshm_log_fn fn, void *user, int level, const char *text)
{
    if (fn != NULL)
        fn(level, text, user);
    else if (level >= CSHM_LOG_WARNING)
        fprintf(stderr, "clustershm: %s\n", text);
}

static void *deliver_main(void *unused)
{
    (void)unused;
    on_delivery_thread = 1;
    pthread_mutex_lock(&mutex);
    while (!quit) {
        if (count == 0 && trailing_dropped == 0) {
            pthread_cond_wait(&work, &mutex);
            continue;
        }
        /* Copied out, so that the slot is free while the handler runs. */
        queued_line line;
        uint32_t dropped;
        int has_line = count > 0;
        if (has_line) {
            const queued_line *slot = &ring[head];
            dropped = slot->dropped_before;
            line.level = slot->level;
            memcpy(line.text, slot->text, strlen(slot->text) + 1);
            head = (head + 1) % CSHM_LOG_QUEUE_LINES;
            count--;
        } else {
            dropped = trailing_dropped;  /* the queue drained: close the gap */
            trailing_dropped = 0;
        }
        cshm_log_fn fn = handler;
        void *user = handler_user;
        pthread_mutex_unlock(&mutex);

        if (dropped > 0) {
            char notice[96];
            snprintf(notice, sizeof notice, "%u log lines dropped (the log handler is too slow)",
                     (unsigned)dropped);
            deliver(fn, user, CSHM_LOG_WARNING, notice);
        }
        if (has_line)
            deliver(fn, user, line.level, line.text);

        pthread_mutex_lock(&mutex);
        delivered += (uint64_t)(dropped > 0) + (uint64_t)has_line;
        pthread_cond_broadcast(&progress);
    }
    running = 0;
    quit = 0;
    pthread_mutex_unlock(&mutex);
    return NULL;
}

void cshm_set_log_handler(cshm_log_fn fn, void *user)
{
    pthread_once(&setup_once, setup);
    pthread_mutex_lock(&mutex);
    handler = fn;
    handler_user = user;
    pthread_mutex_unlock(&mutex);
}

void cshm_log(int level, const char *fmt, ...)
{
    char text[CSHM_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);

    pthread_once(&setup_once, setup);
    pthread_mutex_lock(&mutex);
    if (count == CSHM_LOG_QUEUE_LINES) {
        if (trailing_dropped++ == 0)
            queued++;               /* this gap's notice */
    } else {
        queued_line *slot = &ring[(head + count) % CSHM_LOG_QUEUE_LINES];
        slot->level = level;
        slot->dropped_before = trailing_dropped;
        trailing_dropped = 0;
        memcpy(slot->text, text, strlen(text) + 1);
        count++;
        queued++;
    }
    if (!running)
        start_thread();
    else
        pthread_cond_signal(&work);
    pthread_mutex_unlock(&mutex);
}

static struct timespec deadline_after(double seconds)
{
    if (seconds > 1e8)              /* "forever": years, without overflow */
        seconds = 1e8;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    time_t whole = (time_t)seconds;
    t.tv_sec += whole;
    t.tv_nsec += (long)((seconds - (double)whole) * 1e9);
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

void cshm_log_flush(double seconds)
{
    /* A handler must never wait for itself. */
    if (on_delivery_thread || !(seconds > 0))
        return;
    pthread_once(&setup_once, setup);
    struct timespec deadline = deadline_after(seconds);
    pthread_mutex_lock(&mutex);
    uint64_t target = queued;
    if (!running && delivered < target)
        start_thread();
    while (delivered < target)
        if (pthread_cond_timedwait(&progress, &mutex, &deadline) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&mutex);
}
