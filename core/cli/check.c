/*
 * check.c - `clustershm check --key K [--max-age S] [--critical-age S]
 * [--json]`: one segment judged as a monitoring plugin (Nagios, Icinga,
 * Sensu, ...) wants it: one status line "CLUSTERSHM STATE - summary |
 * perfdata" and the exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 *
 * What is judged, worst first (docs/operations.md has the same table):
 *   CRITICAL  no segment at the key (nobody on this host uses the cluster
 *             with this key: the application is down, or uses another key);
 *             no tender (no process attached, or the role stays vacant for
 *             two check periods); no map (nothing published, or no tend has
 *             ever reached the cluster); a stale map (the last tend reached
 *             no node; with its last error); a published snapshot that
 *             cannot be read or fails its checksum; the map older than
 *             --critical-age (if given)
 *   WARNING   the map older than --max-age (default: 3 x tend_interval, at
 *             least 5 s: several tends were missed, the tender is hung or
 *             slow); a tend error while the map is fresh (some node failed);
 *             a limit reached (nodes, namespaces or replicas truncated); the
 *             segment removed while processes still use it
 *   UNKNOWN   the segment cannot be judged: permission denied, not a
 *             clustershm segment, another layout version, bad arguments
 *
 * Invariants: read-only (view.c); exactly one line on stdout (or one JSON
 * document with --json), whatever happens; the summary never holds '|' or
 * a control character (they would cut the line or the perfdata); a vacant
 * role is re-sampled before it is called CRITICAL, so a handoff in
 * progress is not an alert.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clock.h"

#define MAX_PROBLEMS 12

typedef struct problem {
    int state;
    const char *check;
    char message[600];
} problem;

typedef struct verdict {
    int state;
    int count;
    problem problems[MAX_PROBLEMS];
} verdict;

static const char *state_name(int state)
{
    switch (state) {
    case CHECK_OK: return "OK";
    case CHECK_WARNING: return "WARNING";
    case CHECK_CRITICAL: return "CRITICAL";
    default: return "UNKNOWN";
    }
}

/* OK < UNKNOWN < WARNING < CRITICAL. */
static int rank(int state)
{
    return state == CHECK_OK ? 0 : state == CHECK_UNKNOWN ? 1 : state == CHECK_WARNING ? 2 : 3;
}

static void add(verdict *v, int state, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add(verdict *v, int state, const char *check, const char *fmt, ...)
{
    if (rank(state) > rank(v->state))
        v->state = state;
    if (v->count >= MAX_PROBLEMS)
        return;
    problem *p = &v->problems[v->count++];
    p->state = state;
    p->check = check;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof p->message, fmt, ap);
    va_end(ap);
    /* one line, and nothing a plugin parser would take for the perfdata */
    for (char *c = p->message; *c; c++)
        if (*c == '|')
            *c = '/';
        else if ((unsigned char)*c < 0x20 || *c == 0x7F)
            *c = ' ';
}

double cli_default_max_age(const cli_status *s)
{
    double a = 3 * s->tend_interval;
    return a > 5.0 ? a : 5.0;
}

/* The followers' check period (core/src/tender.c): a vacancy that is not a
 * failure lasts at most two of them. */
static double check_period(const cli_status *s)
{
    double p = s->tend_interval / 2;
    if (p > s->takeover_timeout / 4)
        p = s->takeover_timeout / 4;
    if (p > 1.0)
        p = 1.0;
    return p < 0.005 ? 0.005 : p;
}

static void pause_seconds(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Re-reads s until someone holds the role or two check periods passed. */
static void wait_for_tender(cli_view *view, cli_status *s)
{
    double deadline = cshm_mono_now() + 2 * check_period(s) + 0.25;
    cshm_error error;
    while (!s->has_tender && s->attached > 0 && cshm_mono_now() < deadline) {
        pause_seconds(0.05);
        cli_status again;
        if (cli_view_read(view, &again, &error) == 0)
            *s = again;
        else
            break;
    }
}

static void judge(const cli_status *s, double max_age, double critical_age, verdict *v)
{
    const char *err = s->record.last_error[0] ? s->record.last_error : "no error recorded";
    if (!s->has_tender) {
        if (s->attached == 0)
            add(v, CHECK_CRITICAL, "tender",
                "no tender: no process is attached (the last one exited or was killed; pid "
                "%u was the tender)",
                (unsigned)s->owner_pid);
        else
            add(v, CHECK_CRITICAL, "tender",
                "no tender: the role stays vacant with %u processes attached (pid %u died or "
                "left and nobody took over)",
                (unsigned)s->attached, (unsigned)s->owner_pid);
    }
    if (s->published && !s->snapshot_ok)
        add(v, CHECK_CRITICAL, "snapshot", "the published snapshot fails its checks: %s",
            s->snapshot_error);
    if (!s->published) {
        add(v, CHECK_CRITICAL, "map", "no map: nothing is published yet");
    } else if (!s->has_map) {
        add(v, CHECK_CRITICAL, "map", "no map: no tend has reached the cluster (%u failed in "
            "a row): %s", (unsigned)s->record.failures_in_row, err);
    } else if (s->stale) {
        add(v, CHECK_CRITICAL, "stale",
            "stale map: the last tend reached no node (%u failed in a row, last good tend "
            "%.1f s ago): %s",
            (unsigned)s->record.failures_in_row, s->age, err);
    } else {
        if (critical_age >= 0 && s->age > critical_age)
            add(v, CHECK_CRITICAL, "age", "map %.1f s old (critical above %g s)", s->age,
                critical_age);
        else if (s->age > max_age)
            add(v, CHECK_WARNING, "age",
                "map %.1f s old (warning above %g s): the tender is not tending", s->age,
                max_age);
        if (s->record.last_error[0])
            add(v, CHECK_WARNING, "error", "tend error while the map is fresh: %s",
                s->record.last_error);
    }
    if (s->nodes_truncated)
        add(v, CHECK_WARNING, "limits",
            "limit reached: the cluster has %u nodes, max_nodes is %u (the map misses some)",
            (unsigned)s->nodes_seen, (unsigned)s->max_nodes);
    if (s->namespaces_truncated)
        add(v, CHECK_WARNING, "limits",
            "limit reached: the cluster has %u namespaces, max_namespaces is %u",
            (unsigned)s->namespaces_seen, (unsigned)s->max_namespaces);
    if (s->replicas_truncated)
        add(v, CHECK_WARNING, "limits",
            "limit reached: more replicas per partition than the map stores");
    if (s->removed)
        add(v, CHECK_WARNING, "removed",
            "segment removed (rm --force): %u processes still use it, new ones make another",
            (unsigned)s->attached);
}

static void summary(const cli_args *args, const cli_status *s, int readable, const verdict *v,
                    char *out, size_t size)
{
    int n = snprintf(out, size, "0x%08x%s%s: ", (unsigned)args->key, readable ? " " : "",
                     readable ? s->identity : "");
    if (n < 0 || (size_t)n >= size)
        return;
    if (v->count == 0) {
        snprintf(out + n, size - (size_t)n,
                 "tender pid %u, epoch %llu, generation %llu, %u nodes, map %.1f s old",
                 (unsigned)s->owner_pid, (unsigned long long)s->epoch,
                 (unsigned long long)s->generation, (unsigned)s->nodes, s->age);
        return;
    }
    for (int i = 0; i < v->count && (size_t)n < size; i++) {
        int m = snprintf(out + n, size - (size_t)n, "%s%s", i ? "; " : "", v->problems[i].message);
        if (m < 0)
            break;
        n += m;
    }
    /* the identity comes from the segment: keep the line one line */
    for (char *c = out; *c; c++)
        if (*c == '|')
            *c = '/';
        else if ((unsigned char)*c < 0x20 || *c == 0x7F)
            *c = ' ';
}

static void perfdata(const cli_status *s, double max_age, double critical_age, char *out,
                     size_t size)
{
    char crit[32] = "";
    if (critical_age >= 0)
        snprintf(crit, sizeof crit, "%g", critical_age);
    const cshm_tend_record *r = &s->record;
    snprintf(out, size,
             "age=%.3fs;%g;%s;0 attached=%u;;;0 nodes=%u;;;0;%u namespaces=%u;;;0;%u "
             "failures_in_row=%u;;;0 epoch=%llu;;;0 generation=%lluc tends=%lluc "
             "tend_failures=%lluc handoffs=%lluc dead_takeovers=%lluc hung_takeovers=%lluc "
             "step_downs=%lluc",
             s->age, max_age, crit, (unsigned)s->attached, (unsigned)s->nodes,
             (unsigned)s->max_nodes, (unsigned)s->namespaces, (unsigned)s->max_namespaces,
             (unsigned)r->failures_in_row, (unsigned long long)s->epoch,
             (unsigned long long)s->generation, (unsigned long long)r->tends,
             (unsigned long long)r->tend_failures, (unsigned long long)r->handoffs,
             (unsigned long long)r->dead_takeovers, (unsigned long long)r->hung_takeovers,
             (unsigned long long)r->step_downs);
}

static void emit(const cli_args *args, const cli_status *s, int readable, double max_age,
                 double critical_age, const verdict *v)
{
    char line[4096];
    summary(args, s, readable, v, line, sizeof line);
    if (args->json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_object(&j, NULL);
        cli_json_uint(&j, "schema_version", CLI_SCHEMA_VERSION);
        cli_json_key(&j, "key", args->key);
        cli_json_string(&j, "state", state_name(v->state));
        cli_json_int(&j, "exit_code", v->state);
        cli_json_string(&j, "summary", line);
        if (readable)
            cli_json_number(&j, "max_age", max_age, -1);
        else
            cli_json_null(&j, "max_age");
        if (critical_age >= 0)
            cli_json_number(&j, "critical_age", critical_age, -1);
        else
            cli_json_null(&j, "critical_age");
        cli_json_array(&j, "problems");
        for (int i = 0; i < v->count; i++) {
            cli_json_object(&j, NULL);
            cli_json_string(&j, "state", state_name(v->problems[i].state));
            cli_json_string(&j, "check", v->problems[i].check);
            cli_json_string(&j, "message", v->problems[i].message);
            cli_json_end_object(&j);
        }
        cli_json_end_array(&j);
        if (readable)
            cli_json_status(&j, "status", s);
        else
            cli_json_null(&j, "status");
        cli_json_end_object(&j);
        cli_json_finish(&j);
        return;
    }
    if (readable) {
        char perf[1024];
        perfdata(s, max_age, critical_age, perf, sizeof perf);
        printf("CLUSTERSHM %s - %s | %s\n", state_name(v->state), line, perf);
    } else {
        printf("CLUSTERSHM %s - %s\n", state_name(v->state), line);
    }
    fflush(stdout);
}

int cli_check(const cli_args *args)
{
    verdict v;
    memset(&v, 0, sizeof v);
    v.state = CHECK_OK;
    cli_status s;
    memset(&s, 0, sizeof s);
    cli_view view;
    cshm_error error;
    int rc = cli_view_open(args->key, &view, &error);
    if (rc == CLI_VIEW_MISSING) {
        add(&v, CHECK_CRITICAL, "segment",
            "no segment at key 0x%08x: no process on this host uses the cluster with this key "
            "(the application is down, or uses another key)",
            (unsigned)args->key);
        emit(args, &s, 0, args->max_age, args->critical_age, &v);
        return v.state;
    }
    if (rc != 0) {
        add(&v, CHECK_UNKNOWN, "segment", "cannot judge the segment: %s", error.message);
        emit(args, &s, 0, args->max_age, args->critical_age, &v);
        return v.state;
    }
    if (cli_view_read(&view, &s, &error) != 0) {
        add(&v, CHECK_CRITICAL, "snapshot", "the published map cannot be read: %s",
            error.message);
    } else {
        if (!s.has_tender)
            wait_for_tender(&view, &s);
    }
    double max_age = args->max_age >= 0 ? args->max_age : cli_default_max_age(&s);
    if (v.count == 0)
        judge(&s, max_age, args->critical_age, &v);
    emit(args, &s, 1, max_age, args->critical_age, &v);
    cli_view_close(&view);
    return v.state;
}
