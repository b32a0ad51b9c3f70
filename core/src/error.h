/*
 * error.h - filling a cshm_error.
 *
 * Invariant: every failing path sets a code and a message that names the
 * problem and, where there is one, the fix.  The functions return the code so
 * that callers can write `return cshm_fail(err, CSHM_ERR_CONFIG, ...)`.
 * A NULL error pointer is accepted everywhere.
 */
#ifndef CSHM_ERROR_H
#define CSHM_ERROR_H

#include "clustershm.h"

#if defined(__GNUC__)
#define CSHM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CSHM_PRINTF(a, b)
#endif

int cshm_fail(cshm_error *error, int code, const char *fmt, ...) CSHM_PRINTF(3, 4);
void cshm_error_clear(cshm_error *error);

#endif
