/*
 * log.c - see log.h.  The handler pointer pair is read and written under a
 * mutex so that a binding can replace it while background threads log; the
 * mutex is held across fork() so that no child inherits it locked.
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static cshm_log_fn log_handler;
static void *log_user;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* A fork while a background thread holds the mutex would leave the child's
 * copy locked forever: hold it across fork() so the child's copy is clean. */
static void lock_for_fork(void)
{
    pthread_mutex_lock(&log_mutex);
}

static void unlock_after_fork(void)
{
    pthread_mutex_unlock(&log_mutex);
}

static void register_atfork(void)
{
    pthread_atfork(lock_for_fork, unlock_after_fork, unlock_after_fork);
}

void cshm_set_log_handler(cshm_log_fn fn, void *user)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&log_mutex);
    log_handler = fn;
    log_user = user;
    pthread_mutex_unlock(&log_mutex);
}

void cshm_log(int level, const char *fmt, ...)
{
    char line[CSHM_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);

    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&log_mutex);
    cshm_log_fn fn = log_handler;
    void *user = log_user;
    pthread_mutex_unlock(&log_mutex);

    if (fn != NULL)
        fn(level, line, user);
    else if (level >= CSHM_LOG_WARNING)
        fprintf(stderr, "clustershm: %s\n", line);
}
