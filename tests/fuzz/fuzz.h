/*
 * fuzz.h - what the libFuzzer targets of tests/fuzz share: the entry point's
 * prototype and FUZZ_CHECK, which turns a broken invariant into a crash that
 * libFuzzer records (abort() after a message naming the invariant).
 */
#ifndef CSHM_FUZZ_H
#define CSHM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);      \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* A heap copy of exactly size bytes (at least one allocated), so that
 * AddressSanitizer catches a read one byte past the input. */
static inline char *fuzz_exact_copy(const uint8_t *data, size_t size)
{
    char *copy = malloc(size > 0 ? size : 1);
    FUZZ_CHECK(copy != NULL);
    if (size > 0)
        memcpy(copy, data, size);
    return copy;
}

#endif
