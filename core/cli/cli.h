/*
 * cli.h - what the files of the clustershm command share.
 *
 * One concern per file:
 *   main.c      the process entry point: main() calls cshm_cli_main()
 *   dispatch.c  arguments, --help of every command, which command runs
 *   list.c      list: every clustershm segment of the host
 *   stat.c      stat: one segment in full (text or JSON)
 *   check.c     check: a monitoring-plugin verdict with exit codes 0..3
 *   watch.c     watch: a live view, and the events between two samples
 *   term.c      the terminal of watch: raw mode, restored on every exit path
 *   metrics.c   stat --prometheus / --textfile: the exposition format
 *   rm.c        rm: remove an unused clustershm segment
 *   status_json.c  the status object (status() names) in JSON
 *   view.c      reading one segment, read-only (view.h)
 *   json.c      the JSON writer (json.h)
 *
 * Invariants every command keeps:
 *  - Segments are attached read-only through view.c; only rm changes
 *    anything, and only with IPC_RMID on a segment proven to be ours.
 *  - A command returns its exit status and never calls exit(): the same
 *    code runs as build/clustershm and inside the Python module
 *    (clustershm.cli(), the wheel's `clustershm` console script).
 *  - Every JSON document carries "schema_version" (CLI_SCHEMA_VERSION; the
 *    schemas are docs/schema/<command>.schema.json, described in docs/cli-json.md).
 */
#ifndef CSHM_CLI_H
#define CSHM_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "json.h"
#include "view.h"

/* Bumped only when a key is removed or renamed or changes its type or
 * meaning; new keys may appear within a version (consumers ignore them). */
#define CLI_SCHEMA_VERSION 1

/* Exit statuses of every command but check. */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

/* Exit statuses of check (the monitoring-plugin convention). */
enum { CHECK_OK = 0, CHECK_WARNING = 1, CHECK_CRITICAL = 2, CHECK_UNKNOWN = 3 };

typedef struct cli_args {
    const char *command;
    int json;
    int force;                      /* rm */
    int prometheus;                 /* stat */
    const char *textfile;           /* stat: DIR of clustershm.prom */
    int has_key;
    uint32_t key;
    double interval;                /* watch: seconds between samples */
    double duration;                /* watch: stop after this many seconds; 0 = never */
    double max_age;                 /* check: WARNING above; < 0 = the default */
    double critical_age;            /* check: CRITICAL above; < 0 = never */
} cli_args;

/* The whole command: argv as main() gets it.  Returns the exit status. */
int cshm_cli_main(int argc, char **argv);

int cli_list(const cli_args *args);
int cli_stat(const cli_args *args);
int cli_metrics(const cli_args *args);
int cli_check(const cli_args *args);
int cli_watch(const cli_args *args);
int cli_rm(const cli_args *args);

/* The status object: every figure of s under its status() name. */
void cli_json_status(cli_json *j, const char *key, const cli_status *s);
/* The step-down history of a record, newest first. */
void cli_json_step_downs(cli_json *j, const char *key, const cshm_tend_record *r);

/* The default of check --max-age for a segment: see check.c. */
double cli_default_max_age(const cli_status *s);

#endif
