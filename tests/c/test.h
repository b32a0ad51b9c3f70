/*
 * test.h - the C test harness: a test is a function; RUN() runs it and counts
 * it as passed when none of its CHECKs failed.  The runner (main.c) prints
 * "N passed, N failed" and exits non-zero on any failure.
 */
#ifndef CSHM_TEST_H
#define CSHM_TEST_H

#include <stdio.h>

extern int test_checks_failed_in_current;
extern int tests_passed, tests_failed;

void test_check(int ok, const char *expr, const char *file, int line);
void test_run(void (*fn)(void), const char *name);

#define CHECK(cond) test_check(!!(cond), #cond, __FILE__, __LINE__)
#define RUN(fn) test_run(fn, #fn)

/* Suites: one per test file, listed in main.c. */
void suite_map(void);
void suite_config(void);
void suite_crc16(void);
void suite_resp(void);
void suite_redis_parse(void);
void suite_resolve(void);
void suite_net(void);
void suite_driver_redis(void);
void suite_segment(void);
void suite_ownership(void);
void suite_ripemd(void);
void suite_aerospike_parse(void);
void suite_aerospike_driver(void);
void suite_aerospike_admin(void);
void suite_sha256(void);
void suite_log(void);
void suite_cli_json(void);

#endif
