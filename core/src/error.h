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

#include <stdarg.h>
#include <stddef.h>

#include "clustershm.h"

#if defined(__GNUC__)
#define CSHM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CSHM_PRINTF(a, b)
#endif

int cshm_fail(cshm_error *error, int code, const char *fmt, ...) CSHM_PRINTF(3, 4);
/* For the layers below the API that report into a plain buffer (network,
 * protocol parsers): format into out (NULL or size 0: nothing) and return -1,
 * so that a failing path can `return cshm_format_error(...)`. */
int cshm_format_error(char *out, size_t size, const char *fmt, ...) CSHM_PRINTF(3, 4);
int cshm_vformat_error(char *out, size_t size, const char *fmt, va_list ap);
void cshm_error_clear(cshm_error *error);

#endif
