/*
 * json.h - a small streaming JSON writer for the clustershm command.
 *
 * Invariants:
 *  - The output is always valid JSON text (RFC 8259) whatever the input
 *    strings hold: '"', '\\' and control characters are escaped, valid
 *    UTF-8 is copied, and every byte that is not part of a valid UTF-8
 *    sequence becomes U+FFFD (shared memory and server messages are not
 *    trusted to be UTF-8).
 *  - Numbers that JSON cannot carry (NaN, infinities) are written as null.
 *  - Commas are placed by the writer: callers only open, add and close.
 *    Nesting deeper than CLI_JSON_DEPTH is a programming error and is
 *    refused (the value is dropped) rather than overflowing.
 *  - Keys are given by the caller as plain ASCII literals; a key argument is
 *    NULL for values inside arrays and for the top-level value.
 */
#ifndef CSHM_CLI_JSON_H
#define CSHM_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_JSON_DEPTH 16

typedef struct cli_json {
    FILE *out;
    int depth;
    int has_items[CLI_JSON_DEPTH];
    char closer[CLI_JSON_DEPTH];
} cli_json;

void cli_json_init(cli_json *j, FILE *out);
void cli_json_object(cli_json *j, const char *key);
void cli_json_end_object(cli_json *j);
void cli_json_array(cli_json *j, const char *key);
void cli_json_end_array(cli_json *j);
void cli_json_string(cli_json *j, const char *key, const char *value);
void cli_json_uint(cli_json *j, const char *key, uint64_t value);
void cli_json_int(cli_json *j, const char *key, int64_t value);
void cli_json_bool(cli_json *j, const char *key, int value);
/* A number with `decimals` digits after the point, or with decimals < 0 in
 * the shortest form of up to 15 significant digits (null when not finite). */
void cli_json_number(cli_json *j, const char *key, double value, int decimals);
void cli_json_null(cli_json *j, const char *key);
/* A SysV key as the string "0x%08x" (the form ipcs shows). */
void cli_json_key(cli_json *j, const char *key, uint32_t value);
/* Ends the top-level value with a newline and flushes. */
void cli_json_finish(cli_json *j);

/* Length of the valid UTF-8 sequence at p (1 to 4 bytes), or 0 when the
 * bytes there are not one (overlong forms and surrogates are not). */
size_t cli_utf8_sequence(const unsigned char *p);

/* Writes s as a JSON string literal (quotes included), as described above. */
void cli_json_write_string(FILE *out, const char *s);

#endif
