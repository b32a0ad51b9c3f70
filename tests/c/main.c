/*
 * main.c - runs every C suite and prints the summary line CI reads.
 * A suite selected by name on the command line runs alone.
 */
#include <stdio.h>
#include <string.h>

#include "test.h"

/* ThreadSanitizer by default kills a fork child of a multi-threaded process
 * that starts threads.  Once anything has logged, this process runs the
 * core's log delivery thread, and the log suite's fork children start the
 * core's threads, as an application that forks after logging does. */
#if defined(__SANITIZE_THREAD__)
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "die_after_fork=0";
}
#endif

int test_checks_failed_in_current;
int tests_passed, tests_failed;

void test_check(int ok, const char *expr, const char *file, int line)
{
    if (!ok) {
        test_checks_failed_in_current++;
        fprintf(stderr, "    FAILED %s:%d: %s\n", file, line, expr);
    }
}

void test_run(void (*fn)(void), const char *name)
{
    test_checks_failed_in_current = 0;
    fn();
    if (test_checks_failed_in_current == 0) {
        tests_passed++;
        printf("ok   %s\n", name);
    } else {
        tests_failed++;
        printf("FAIL %s\n", name);
    }
    fflush(stdout);
}

static const struct {
    const char *name;
    void (*run)(void);
} suites[] = {
    {"map", suite_map},
    {"config", suite_config},
    {"crc16", suite_crc16},
    {"resp", suite_resp},
    {"redis_parse", suite_redis_parse},
    {"resolve", suite_resolve},
    {"net", suite_net},
    {"driver_redis", suite_driver_redis},
    {"segment", suite_segment},
    {"ownership", suite_ownership},
    {"ripemd", suite_ripemd},
    {"aerospike_parse", suite_aerospike_parse},
    {"aerospike_driver", suite_aerospike_driver},
    {"aerospike_admin", suite_aerospike_admin},
    {"sha256", suite_sha256},
    {"cli_json", suite_cli_json},
    /* Last: it checks every line it delivers, so no earlier suite's client
     * may still be logging. */
    {"log", suite_log},
};

int main(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        if (argc > 1 && strcmp(argv[1], suites[i].name) != 0)
            continue;
        printf("# suite %s\n", suites[i].name);
        suites[i].run();
    }
    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed == 0 ? 0 : 1;
}
