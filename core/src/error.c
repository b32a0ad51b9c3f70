/*
 * error.c - see error.h.  Messages are truncated only at the fixed buffer
 * size of cshm_error (512 bytes), which every message we write fits.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int cshm_fail(cshm_error *error, int code, const char *fmt, ...)
{
    if (error != NULL) {
        va_list ap;
        va_start(ap, fmt);
        error->code = code;
        vsnprintf(error->message, sizeof error->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

int cshm_vformat_error(char *out, size_t size, const char *fmt, va_list ap)
{
    if (out != NULL && size > 0)
        vsnprintf(out, size, fmt, ap);
    return -1;
}

int cshm_format_error(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cshm_vformat_error(out, size, fmt, ap);
    va_end(ap);
    return -1;
}

void cshm_error_clear(cshm_error *error)
{
    if (error != NULL) {
        error->code = CSHM_OK;
        error->message[0] = '\0';
    }
}
