/*
 * json.c - the JSON writer of the clustershm command (see json.h for its
 * invariants: always valid JSON, writer-placed commas, bounded nesting).
 */
#include "json.h"

#include <math.h>
#include <string.h>

void cli_json_init(cli_json *j, FILE *out)
{
    memset(j, 0, sizeof *j);
    j->out = out;
}

size_t cli_utf8_sequence(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

void cli_json_write_string(FILE *out, const char *s)
{
    fputc('"', out);
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
    while (*p != '\0') {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
            p++;
        } else if (c == '\n') {
            fputs("\\n", out);
            p++;
        } else if (c == '\t') {
            fputs("\\t", out);
            p++;
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(out, "\\u%04x", c);
            p++;
        } else {
            size_t n = cli_utf8_sequence(p);
            if (n == 0) {
                fputs("\\ufffd", out);
                p++;
            } else {
                fwrite(p, 1, n, out);
                p += n;
            }
        }
    }
    fputc('"', out);
}

/* The comma and key before a value. */
static void begin_value(cli_json *j, const char *key)
{
    if (j->depth > 0) {
        if (j->has_items[j->depth - 1])
            fputc(',', j->out);
        j->has_items[j->depth - 1] = 1;
    }
    if (key != NULL) {
        cli_json_write_string(j->out, key);
        fputc(':', j->out);
    }
}

static void open_container(cli_json *j, const char *key, char bracket)
{
    if (j->depth >= CLI_JSON_DEPTH)
        return;
    begin_value(j, key);
    fputc(bracket, j->out);
    j->closer[j->depth] = bracket == '{' ? '}' : ']';
    j->has_items[j->depth++] = 0;
}

static void close_container(cli_json *j)
{
    if (j->depth <= 0)
        return;
    j->depth--;
    fputc(j->closer[j->depth], j->out);
}

void cli_json_object(cli_json *j, const char *key) { open_container(j, key, '{'); }
void cli_json_end_object(cli_json *j) { close_container(j); }
void cli_json_array(cli_json *j, const char *key) { open_container(j, key, '['); }
void cli_json_end_array(cli_json *j) { close_container(j); }

void cli_json_string(cli_json *j, const char *key, const char *value)
{
    begin_value(j, key);
    cli_json_write_string(j->out, value);
}

void cli_json_uint(cli_json *j, const char *key, uint64_t value)
{
    begin_value(j, key);
    fprintf(j->out, "%llu", (unsigned long long)value);
}

void cli_json_int(cli_json *j, const char *key, int64_t value)
{
    begin_value(j, key);
    fprintf(j->out, "%lld", (long long)value);
}

void cli_json_bool(cli_json *j, const char *key, int value)
{
    begin_value(j, key);
    fputs(value ? "true" : "false", j->out);
}

void cli_json_number(cli_json *j, const char *key, double value, int decimals)
{
    begin_value(j, key);
    if (!isfinite(value)) {
        fputs("null", j->out);
        return;
    }
    if (decimals < 0) {
        fprintf(j->out, "%.15g", value);
        return;
    }
    if (decimals > 9)
        decimals = 9;
    fprintf(j->out, "%.*f", decimals, value);
}

void cli_json_null(cli_json *j, const char *key)
{
    begin_value(j, key);
    fputs("null", j->out);
}

void cli_json_key(cli_json *j, const char *key, uint32_t value)
{
    char text[16];
    snprintf(text, sizeof text, "0x%08x", (unsigned)value);
    cli_json_string(j, key, text);
}

void cli_json_finish(cli_json *j)
{
    while (j->depth > 0)
        close_container(j);
    fputc('\n', j->out);
    fflush(j->out);
}
