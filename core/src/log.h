/*
 * log.h - the core's log lines.
 *
 * One process-wide handler (set by the application or a binding); without one,
 * warnings and errors go to stderr prefixed "clustershm:".  Lines are formatted
 * into a bounded buffer before the handler is called, so a handler never sees
 * more than CSHM_LOG_LINE_MAX bytes.
 */
#ifndef CSHM_LOG_H
#define CSHM_LOG_H

#include "error.h"

enum { CSHM_LOG_DEBUG = 0, CSHM_LOG_INFO = 1, CSHM_LOG_WARNING = 2, CSHM_LOG_ERROR = 3 };
#define CSHM_LOG_LINE_MAX 512

void cshm_log(int level, const char *fmt, ...) CSHM_PRINTF(2, 3);

#endif
