/* resp_text.c - see resp_text.h. */
#include "resp_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void resp_text_add(resp_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->bytes + t->len, sizeof t->bytes - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n < sizeof t->bytes - t->len ? (size_t)n : sizeof t->bytes - 1 - t->len;
}

void resp_text_bulk(resp_text *t, const char *s)
{
    resp_text_add(t, "$%zu\r\n%s\r\n", strlen(s), s);
}
