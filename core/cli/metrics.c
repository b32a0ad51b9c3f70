/*
 * metrics.c - `clustershm stat --prometheus [--key K] [--textfile DIR]`:
 * the figures of every clustershm segment on the host (or of one) in the
 * Prometheus text exposition format (version 0.0.4), for a scrape or for
 * the node exporter's textfile collector.
 *
 * Invariants:
 *  - A metric is named clustershm_<status() name>, with the unit suffix
 *    (_seconds, _bytes) where the figure has one and _total for counters;
 *    docs/operations.md lists them all.  Every sample carries the labels
 *    key="0x%08x" and cluster="<identity>".
 *  - Each family is written once, HELP and TYPE first, then one sample per
 *    segment: the format forbids a family split over the output.
 *  - Label values are escaped (\\, \", \n) and hold only valid UTF-8.
 *  - No timestamps (the textfile collector refuses them).
 *  - --textfile writes DIR/.clustershm.prom.<pid>.tmp, flushes and fsyncs
 *    it, then renames it to DIR/clustershm.prom: the collector reads the
 *    old file or the new one, never a part (the temp name does not end in
 *    .prom, so the collector never reads it either).
 *  - Read-only (view.c).  A segment whose snapshot cannot be read is left
 *    out, with a message on stderr naming it.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

enum figure {
    FIG_ATTACHED, FIG_OWNER_PID, FIG_HAS_TENDER, FIG_EPOCH, FIG_GENERATION, FIG_HAS_MAP, FIG_TENDED_AT, FIG_AGE,
    FIG_STALE, FIG_TENDS, FIG_TEND_FAILURES, FIG_HANDOFFS, FIG_DEAD_TAKEOVERS, FIG_HUNG_TAKEOVERS,
    FIG_STEP_DOWNS, FIG_FAILURES_IN_ROW, FIG_NODES, FIG_NODES_SEEN, FIG_MAX_NODES, FIG_NAMESPACES,
    FIG_NAMESPACES_SEEN, FIG_MAX_NAMESPACES, FIG_NODES_TRUNCATED, FIG_NAMESPACES_TRUNCATED,
    FIG_REPLICAS_TRUNCATED, FIG_TEND_INTERVAL, FIG_TAKEOVER_TIMEOUT, FIG_MIN_REFRESH_INTERVAL,
    FIG_SEGMENT_SIZE,
};

typedef struct metric {
    enum figure figure;
    const char *name;
    const char *type;
    const char *help;
} metric;

static const metric METRICS[] = {
    {FIG_ATTACHED, "clustershm_attached", "gauge", "Processes attached to the segment."},
    {FIG_OWNER_PID, "clustershm_owner_pid", "gauge",
     "Pid of the current epoch's tender, as it recorded itself."},
    {FIG_HAS_TENDER, "clustershm_has_tender", "gauge",
     "1 while a live process holds the tender role, 0 while the role is vacant."},
    {FIG_EPOCH, "clustershm_epoch", "gauge", "Epoch of the tender role: +1 at every change of tender."},
    {FIG_GENERATION, "clustershm_generation", "gauge",
     "Generation of the map: +1 at every publish of a changed map."},
    {FIG_HAS_MAP, "clustershm_has_map", "gauge",
     "1 once a successful tend has published a map, 0 while every tend failed."},
    {FIG_TENDED_AT, "clustershm_tended_at_seconds", "gauge",
     "Unix time of the last successful tend, 0 when there was none."},
    {FIG_AGE, "clustershm_age_seconds", "gauge",
     "Seconds since the last successful tend (absent while there was none)."},
    {FIG_STALE, "clustershm_stale", "gauge",
     "1 when the last tend reached no node: the map is kept but may be out of date."},
    {FIG_TENDS, "clustershm_tends_total", "counter", "Tends published by every tender of the segment."},
    {FIG_TEND_FAILURES, "clustershm_tend_failures_total", "counter",
     "Tends that reached no node."},
    {FIG_HANDOFFS, "clustershm_handoffs_total", "counter",
     "A tender closed or stepped down and another took over."},
    {FIG_DEAD_TAKEOVERS, "clustershm_dead_takeovers_total", "counter",
     "A tender died holding the role and another took over at once."},
    {FIG_HUNG_TAKEOVERS, "clustershm_hung_takeovers_total", "counter",
     "A tender was silent for takeover_timeout and another took over."},
    {FIG_STEP_DOWNS, "clustershm_step_downs_total", "counter",
     "Tenders that gave the role up after failing while others could try."},
    {FIG_FAILURES_IN_ROW, "clustershm_failures_in_row", "gauge",
     "Failed tends in a row of the current tender."},
    {FIG_NODES, "clustershm_nodes", "gauge", "Nodes in the published map."},
    {FIG_NODES_SEEN, "clustershm_nodes_seen", "gauge",
     "Nodes the cluster reported (above nodes when max_nodes is reached)."},
    {FIG_MAX_NODES, "clustershm_max_nodes", "gauge", "Nodes the segment's map can hold."},
    {FIG_NAMESPACES, "clustershm_namespaces", "gauge", "Namespaces in the published map."},
    {FIG_NAMESPACES_SEEN, "clustershm_namespaces_seen", "gauge", "Namespaces the cluster reported."},
    {FIG_MAX_NAMESPACES, "clustershm_max_namespaces", "gauge",
     "Namespaces the segment's map can hold."},
    {FIG_NODES_TRUNCATED, "clustershm_nodes_truncated", "gauge",
     "1 when the cluster has more nodes than max_nodes."},
    {FIG_NAMESPACES_TRUNCATED, "clustershm_namespaces_truncated", "gauge",
     "1 when the cluster has more namespaces than max_namespaces."},
    {FIG_REPLICAS_TRUNCATED, "clustershm_replicas_truncated", "gauge",
     "1 when partitions have more replicas than the map stores."},
    {FIG_TEND_INTERVAL, "clustershm_tend_interval_seconds", "gauge",
     "The segment's tend interval, which every process uses."},
    {FIG_TAKEOVER_TIMEOUT, "clustershm_takeover_timeout_seconds", "gauge",
     "The segment's takeover timeout: a silent tender is replaced after it."},
    {FIG_MIN_REFRESH_INTERVAL, "clustershm_min_refresh_interval_seconds", "gauge",
     "The segment's minimum time between tends asked for by refresh requests."},
    {FIG_SEGMENT_SIZE, "clustershm_segment_size_bytes", "gauge", "Size of the segment."},
};

/* 0 when the figure has no value for this segment (the sample is left out). */
static int value_of(const cli_status *s, enum figure f, double *out)
{
    const cshm_tend_record *r = &s->record;
    switch (f) {
    case FIG_ATTACHED: *out = s->attached; break;
    case FIG_OWNER_PID: *out = s->owner_pid; break;
    case FIG_HAS_TENDER: *out = s->has_tender; break;
    case FIG_EPOCH: *out = (double)s->epoch; break;
    case FIG_GENERATION: *out = (double)s->generation; break;
    case FIG_HAS_MAP: *out = s->has_map; break;
    case FIG_TENDED_AT: *out = round(s->tended_at * 1000) / 1000; break;
    case FIG_AGE:
        if (s->tended_at <= 0)
            return 0;
        *out = round(s->age * 1000) / 1000; /* the map's time is in ms */
        break;
    case FIG_STALE: *out = s->stale; break;
    case FIG_TENDS: *out = (double)r->tends; break;
    case FIG_TEND_FAILURES: *out = (double)r->tend_failures; break;
    case FIG_HANDOFFS: *out = (double)r->handoffs; break;
    case FIG_DEAD_TAKEOVERS: *out = (double)r->dead_takeovers; break;
    case FIG_HUNG_TAKEOVERS: *out = (double)r->hung_takeovers; break;
    case FIG_STEP_DOWNS: *out = (double)r->step_downs; break;
    case FIG_FAILURES_IN_ROW: *out = r->failures_in_row; break;
    case FIG_NODES: *out = s->nodes; break;
    case FIG_NODES_SEEN: *out = s->nodes_seen; break;
    case FIG_MAX_NODES: *out = s->max_nodes; break;
    case FIG_NAMESPACES: *out = s->namespaces; break;
    case FIG_NAMESPACES_SEEN: *out = s->namespaces_seen; break;
    case FIG_MAX_NAMESPACES: *out = s->max_namespaces; break;
    case FIG_NODES_TRUNCATED: *out = s->nodes_truncated; break;
    case FIG_NAMESPACES_TRUNCATED: *out = s->namespaces_truncated; break;
    case FIG_REPLICAS_TRUNCATED: *out = s->replicas_truncated; break;
    case FIG_TEND_INTERVAL: *out = s->tend_interval; break;
    case FIG_TAKEOVER_TIMEOUT: *out = s->takeover_timeout; break;
    case FIG_MIN_REFRESH_INTERVAL: *out = s->min_refresh_interval; break;
    case FIG_SEGMENT_SIZE: *out = (double)s->segment_size; break;
    default: return 0;
    }
    return 1;
}

/* A label value: escaped as the format wants, invalid UTF-8 as '?'. */
static void label_value(FILE *out, const char *text)
{
    fputc('"', out);
    const unsigned char *p = (const unsigned char *)text;
    while (*p != '\0') {
        if (*p == '\\' || *p == '"') {
            fputc('\\', out);
            fputc(*p++, out);
        } else if (*p == '\n') {
            fputs("\\n", out);
            p++;
        } else {
            size_t n = cli_utf8_sequence(p);
            if (n == 0) {
                fputc('?', out);
                p++;
            } else {
                fwrite(p, 1, n, out);
                p += n;
            }
        }
    }
    fputc('"', out);
}

static void labels(FILE *out, const cli_status *s)
{
    fprintf(out, "{key=\"0x%08x\",cluster=", (unsigned)s->key);
    label_value(out, s->identity);
    fputc('}', out);
}

typedef struct collected {
    cli_status *items;
    size_t count, capacity;
    int failed;
} collected;

static void collect_status(collected *c, const cli_status *s)
{
    if (c->count == c->capacity) {
        size_t capacity = c->capacity ? c->capacity * 2 : 8;
        cli_status *grown = realloc(c->items, capacity * sizeof *grown);
        if (grown == NULL) {
            c->failed = 1;
            return;
        }
        c->items = grown;
        c->capacity = capacity;
    }
    c->items[c->count++] = *s;
}

static void collect_shmid(int shmid, void *arg)
{
    cli_view v;
    cshm_error error;
    if (cli_view_open_shmid(shmid, &v, &error) != 0)
        return; /* not a clustershm segment (or not ours to read) */
    cli_status s;
    if (cli_view_read(&v, &s, &error) == 0)
        collect_status(arg, &s);
    else
        fprintf(stderr, "clustershm: segment 0x%08x left out: %s\n", (unsigned)s.key,
                error.message);
    cli_view_close(&v);
}

static void write_exposition(FILE *out, const collected *c)
{
    fputs("# HELP clustershm_segments clustershm segments described here.\n"
          "# TYPE clustershm_segments gauge\n",
          out);
    fprintf(out, "clustershm_segments %zu\n", c->count);
    if (c->count > 0) {
        fputs("# HELP clustershm_info The segment's driver and shmid (value 1).\n"
              "# TYPE clustershm_info gauge\n",
              out);
        for (size_t i = 0; i < c->count; i++) {
            const cli_status *s = &c->items[i];
            fprintf(out, "clustershm_info{key=\"0x%08x\",cluster=", (unsigned)s->key);
            label_value(out, s->identity);
            fprintf(out, ",driver=\"%s\",shmid=\"%d\"} 1\n", s->driver, s->shmid);
        }
    }
    for (size_t m = 0; m < sizeof METRICS / sizeof METRICS[0] && c->count > 0; m++) {
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", METRICS[m].name, METRICS[m].help,
                METRICS[m].name, METRICS[m].type);
        for (size_t i = 0; i < c->count; i++) {
            double value;
            if (!value_of(&c->items[i], METRICS[m].figure, &value))
                continue;
            fputs(METRICS[m].name, out);
            labels(out, &c->items[i]);
            fprintf(out, " %.15g\n", value);
        }
    }
}

/* DIR/clustershm.prom replaced atomically; 0 or -1 with a message. */
static int write_textfile(const char *dir, const collected *c)
{
    char path[4096], temp[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/clustershm.prom", dir) >= sizeof path ||
        (size_t)snprintf(temp, sizeof temp, "%s/.clustershm.prom.%ld.tmp", dir,
                         (long)getpid()) >= sizeof temp) {
        fprintf(stderr, "clustershm: --textfile %s: path too long\n", dir);
        return -1;
    }
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        fprintf(stderr, "clustershm: cannot write %s: %s\n", temp, strerror(errno));
        return -1;
    }
    fchmod(fd, 0644); /* readable by the exporter whatever our umask */
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        fprintf(stderr, "clustershm: cannot write %s: %s\n", temp, strerror(errno));
        close(fd);
        unlink(temp);
        return -1;
    }
    write_exposition(f, c);
    int failed = fflush(f) != 0 || ferror(f) || fsync(fd) != 0;
    int saved = errno;
    if (fclose(f) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (!failed && rename(temp, path) != 0) {
        failed = 1;
        saved = errno;
    }
    if (failed) {
        fprintf(stderr, "clustershm: cannot write %s: %s\n", path, strerror(saved));
        unlink(temp);
        return -1;
    }
    return 0;
}

int cli_metrics(const cli_args *args)
{
    collected c = {0};
    int rc = CLI_OK;
    if (args->has_key) {
        cli_view v;
        cshm_error error;
        if (cli_view_open(args->key, &v, &error) != 0) {
            fprintf(stderr, "clustershm: %s\n", error.message);
            rc = CLI_FAILED; /* still written: clustershm_segments 0 says it */
        } else {
            cli_status s;
            if (cli_view_read(&v, &s, &error) == 0) {
                collect_status(&c, &s);
            } else {
                fprintf(stderr, "clustershm: %s\n", error.message);
                rc = CLI_FAILED;
            }
            cli_view_close(&v);
        }
    } else if (cli_for_each_shmid(collect_shmid, &c) != 0) {
        rc = CLI_FAILED;
    }
    if (c.failed) {
        fprintf(stderr, "clustershm: out of memory\n");
        free(c.items);
        return CLI_FAILED;
    }
    if (args->textfile != NULL) {
        if (write_textfile(args->textfile, &c) != 0)
            rc = CLI_FAILED;
    } else {
        write_exposition(stdout, &c);
        fflush(stdout);
    }
    free(c.items);
    return rc;
}
