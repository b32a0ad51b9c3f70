/*
 * test_cli_json.c - the clustershm command's JSON writer (core/cli/json.c):
 * whatever the strings hold (bytes from shared memory, server messages),
 * the output is valid JSON; commas and nesting are the writer's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "test.h"

/* What `write` prints through a writer on a memory stream. */
static char *capture(void (*write)(cli_json *j))
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    cli_json j;
    cli_json_init(&j, f);
    write(&j);
    fclose(f);
    return text;
}

static void write_strings(cli_json *j)
{
    cli_json_object(j, NULL);
    cli_json_string(j, "plain", "redis:127.0.0.1:7000");
    cli_json_string(j, "escapes", "a\"b\\c\nd\te\x01" "f\x7f");
    cli_json_string(j, "utf8", "epoch 4 \xe2\x86\x92 5, caf\xc3\xa9, \xf0\x9f\x98\x80");
    cli_json_string(j, "bad", "x\xff" "y\xc3" "z\xe2\x86" "w\xc0\xaf" "v\xed\xa0\x80");
    cli_json_end_object(j);
    cli_json_finish(j);
}

static void test_strings_are_always_valid_json(void)
{
    char *text = capture(write_strings);
    CHECK(strstr(text, "\"plain\":\"redis:127.0.0.1:7000\"") != NULL);
    CHECK(strstr(text, "\"escapes\":\"a\\\"b\\\\c\\nd\\te\\u0001f\\u007f\"") != NULL);
    /* valid UTF-8 is copied as it is */
    CHECK(strstr(text, "epoch 4 \xe2\x86\x92 5, caf\xc3\xa9, \xf0\x9f\x98\x80") != NULL);
    /* a lone byte, a truncated sequence, an overlong form and a surrogate
     * each become U+FFFD, byte by byte */
    CHECK(strstr(text, "\"bad\":\"x\\ufffdy\\ufffdz\\ufffd\\ufffdw\\ufffd\\ufffdv"
                       "\\ufffd\\ufffd\\ufffd\"") != NULL);
    CHECK(text[strlen(text) - 1] == '\n');
    free(text);
}

static void write_structure(cli_json *j)
{
    cli_json_object(j, NULL);
    cli_json_uint(j, "schema_version", 1);
    cli_json_key(j, "key", 0x43a1b2c3u);
    cli_json_array(j, "empty");
    cli_json_end_array(j);
    cli_json_array(j, "list");
    cli_json_int(j, NULL, -1);
    cli_json_bool(j, NULL, 1);
    cli_json_null(j, NULL);
    cli_json_object(j, NULL);
    cli_json_number(j, "age", 0.4567, 3);
    cli_json_number(j, "interval", 0.05, -1);
    cli_json_number(j, "nan", NAN, 3);
    cli_json_number(j, "inf", INFINITY, -1);
    cli_json_end_object(j);
    cli_json_end_array(j);
    cli_json_object(j, "open");      /* left open: finish closes it */
    cli_json_uint(j, "big", 18446744073709551615ull);
    cli_json_finish(j);
}

static void test_commas_nesting_and_numbers(void)
{
    char *text = capture(write_structure);
    CHECK(strcmp(text, "{\"schema_version\":1,\"key\":\"0x43a1b2c3\",\"empty\":[],"
                       "\"list\":[-1,true,null,{\"age\":0.457,\"interval\":0.05,\"nan\":null,"
                       "\"inf\":null}],\"open\":{\"big\":18446744073709551615}}\n") == 0);
    free(text);
}

static void write_deep(cli_json *j)
{
    for (int i = 0; i < CLI_JSON_DEPTH + 5; i++)
        cli_json_array(j, NULL);
    cli_json_finish(j);
}

static void test_nesting_is_bounded(void)
{
    char *text = capture(write_deep);
    size_t opens = 0, closes = 0;
    for (char *p = text; *p; p++) {
        opens += *p == '[';
        closes += *p == ']';
    }
    CHECK(opens == CLI_JSON_DEPTH && closes == CLI_JSON_DEPTH);
    free(text);
}

void suite_cli_json(void)
{
    RUN(test_strings_are_always_valid_json);
    RUN(test_commas_nesting_and_numbers);
    RUN(test_nesting_is_bounded);
}
