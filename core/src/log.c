/*
 * log.c - see log.h.  The handler pointer pair is read and written under a
 * mutex so that a binding can replace it while background threads log.
 */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static cshm_log_fn log_handler;
static void *log_user;

void cshm_set_log_handler(cshm_log_fn fn, void *user)
{
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

    pthread_mutex_lock(&log_mutex);
    cshm_log_fn fn = log_handler;
    void *user = log_user;
    pthread_mutex_unlock(&log_mutex);

    if (fn != NULL)
        fn(level, line, user);
    else if (level >= CSHM_LOG_WARNING)
        fprintf(stderr, "clustershm: %s\n", line);
}
