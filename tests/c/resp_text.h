/*
 * resp_text.h - building RESP replies by hand for the C tests (fake servers
 * and parser inputs).  A resp_text is a fixed buffer; text past its end is
 * dropped, which a test notices as a reply that does not parse.
 */
#ifndef CSHM_RESP_TEXT_H
#define CSHM_RESP_TEXT_H

#include <stddef.h>

#include "error.h"

typedef struct resp_text {
    char bytes[16384];
    size_t len;
} resp_text;

void resp_text_add(resp_text *t, const char *fmt, ...) CSHM_PRINTF(2, 3);
/* A bulk string: $<len>\r\n<s>\r\n */
void resp_text_bulk(resp_text *t, const char *s);

#endif
