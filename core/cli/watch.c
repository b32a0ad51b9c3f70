/*
 * watch.c - `clustershm watch --key K [--interval S] [--duration S]
 * [--json]`: the segment sampled every interval; what changed between two
 * samples becomes events (a change of tender with its cause, a new
 * generation, stale and fresh again, failed tends, step-downs with their
 * reasons, processes attaching and leaving, limits reached, the segment
 * removed, replaced or appearing).
 *
 * Three outputs: on a terminal, a status block redrawn in place above a
 * scrolling list of events (q or Ctrl-C quits); with stdout not a
 * terminal, one plain line per event, no escapes; with --json, one JSON
 * object per line per event (docs/schema/watch.schema.json), the first
 * one ("start") describing the segment as found.
 *
 * Invariants: read-only (view.c); a change of tender is reported from the
 * snapshot the new tender published (its epoch and its record's counters
 * come from one consistent copy, so the cause is known); the terminal is
 * given back on every way out (term.c); a failed write to stdout (the
 * reader went away) ends the watch.
 */
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "term.h"

#define EVENTS 256

typedef struct event {
    double at;                  /* unix time */
    char type[16];
    char message[480];
} event;

typedef struct sample {
    int present;                /* a clustershm segment is open at the key */
    int readable;
    cli_status s;
    char error[512];
} sample;

typedef struct watch {
    const cli_args *args;
    int screen;                 /* stdout is a terminal and not --json */
    const char *arrow;
    cli_view view;
    int view_open;
    sample now;
    event ring[EVENTS];
    unsigned events;            /* events so far; the ring keeps the last EVENTS */
} watch;

static double wall_now(void) { return (double)cshm_wall_ms() / 1000.0; }

static void clock_text(double at, int with_date, char *out, size_t size)
{
    time_t t = (time_t)at;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, size, with_date ? "%Y-%m-%dT%H:%M:%S" : "%H:%M:%S", &tm);
}

static void output_event(watch *w, const event *e)
{
    if (w->args->json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_object(&j, NULL);
        cli_json_uint(&j, "schema_version", CLI_SCHEMA_VERSION);
        cli_json_number(&j, "time", e->at, 3);
        cli_json_key(&j, "key", w->args->key);
        cli_json_string(&j, "event", e->type);
        cli_json_string(&j, "message", e->message);
        if (w->now.present && w->now.readable)
            cli_json_status(&j, "status", &w->now.s);
        else
            cli_json_null(&j, "status");
        cli_json_end_object(&j);
        cli_json_finish(&j);
    } else if (!w->screen) {
        char when[32];
        clock_text(e->at, 1, when, sizeof when);
        printf("%s 0x%08x %s\n", when, (unsigned)w->args->key, e->message);
        fflush(stdout);
    }
}

static void emit(watch *w, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void emit(watch *w, const char *type, const char *fmt, ...)
{
    event *e = &w->ring[w->events % EVENTS];
    w->events++;
    e->at = wall_now();
    snprintf(e->type, sizeof e->type, "%s", type);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    for (char *c = e->message; *c; c++) /* one line each */
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    output_event(w, e);
}

/* ---- sampling ------------------------------------------------------------ */

static void take_sample(watch *w, sample *out)
{
    memset(out, 0, sizeof *out);
    int shmid = shmget((key_t)w->args->key, 0, 0);
    if (w->view_open && shmid >= 0 && shmid != w->view.seg.shmid) {
        /* another segment at the key now: follow it */
        cli_view_close(&w->view);
        w->view_open = 0;
    }
    if (!w->view_open && shmid >= 0) {
        cshm_error error;
        if (cli_view_open_shmid(shmid, &w->view, &error) == 0) {
            w->view_open = 1;
        } else {
            snprintf(out->error, sizeof out->error, "%s", error.message);
            return;
        }
    }
    if (!w->view_open) {
        snprintf(out->error, sizeof out->error, "no segment at key 0x%08x",
                 (unsigned)w->args->key);
        return;
    }
    out->present = 1;
    cshm_error error;
    if (cli_view_read(&w->view, &out->s, &error) == 0)
        out->readable = 1;
    else
        snprintf(out->error, sizeof out->error, "%s", error.message);
}

static int same_step_down(const cshm_step_down *a, const cshm_step_down *b)
{
    return a->pid == b->pid && a->epoch == b->epoch && a->at_ms == b->at_ms;
}

static void tender_change(watch *w, const cli_status *p, const cli_status *c)
{
    const cshm_tend_record *a = &p->record, *b = &c->record;
    unsigned from = (unsigned)p->publisher_epoch, to = (unsigned)c->publisher_epoch;
    unsigned pid = (unsigned)c->owner_pid, old = (unsigned)p->owner_pid;
    if (!p->published)
        emit(w, "tender", "epoch %u: pid %u is the tender", to, pid);
    else if (b->dead_takeovers > a->dead_takeovers)
        emit(w, "tender", "epoch %u %s %u: pid %u took over after death (of pid %u)", from,
             w->arrow, to, pid, old);
    else if (b->hung_takeovers > a->hung_takeovers)
        emit(w, "tender",
             "epoch %u %s %u: pid %u took over after hang (pid %u sent no heartbeat for "
             "takeover_timeout %g s)",
             from, w->arrow, to, pid, old, c->takeover_timeout);
    else if (b->step_downs > a->step_downs)
        emit(w, "tender", "epoch %u %s %u: pid %u took over after pid %u stepped down", from,
             w->arrow, to, pid, old);
    else if (b->handoffs > a->handoffs)
        emit(w, "tender", "epoch %u %s %u: pid %u took over at handoff (pid %u closed)", from,
             w->arrow, to, pid, old);
    else
        emit(w, "tender", "epoch %u %s %u: pid %u is the tender (was pid %u)", from, w->arrow,
             to, pid, old);
}

static void compare(watch *w, const sample *ps, const sample *cs)
{
    if (!ps->present && cs->present) {
        const cli_status *c = &cs->s;
        emit(w, "segment", "segment appeared: shmid %d, %s; tender pid %u%s, epoch %llu, %s",
             c->shmid, c->identity, (unsigned)c->owner_pid,
             c->has_tender ? "" : " (role vacant)", (unsigned long long)c->epoch,
             !c->has_map ? "no map yet" : c->stale ? "stale map" : "fresh map");
        return;
    }
    if (ps->present && !cs->present) {
        emit(w, "segment", "segment gone: %s", cs->error);
        return;
    }
    if (!cs->present)
        return;
    if (ps->s.shmid != cs->s.shmid) {
        emit(w, "segment", "segment replaced: shmid %d %s %d", ps->s.shmid, w->arrow,
             cs->s.shmid);
        return;
    }
    if (ps->readable && !cs->readable) {
        emit(w, "unreadable", "the published map cannot be read: %s", cs->error);
        return;
    }
    if (!cs->readable)
        return;
    const cli_status *p = &ps->s, *c = &cs->s;
    const cshm_tend_record *a = &p->record, *b = &c->record;
    if (!p->removed && c->removed)
        emit(w, "segment", "segment removed (rm --force): %u processes still use it",
             (unsigned)c->attached);
    if (p->snapshot_ok && !c->snapshot_ok)
        emit(w, "snapshot", "the published snapshot fails its checks: %s", c->snapshot_error);
    else if (!p->snapshot_ok && c->snapshot_ok)
        emit(w, "snapshot", "the published snapshot passes its checks again");
    if (c->published && c->publisher_epoch != p->publisher_epoch)
        tender_change(w, p, c);
    if (p->has_tender && !c->has_tender)
        emit(w, "vacant", "no tender: the role is vacant (pid %u held it; %u processes attached)",
             (unsigned)p->owner_pid, (unsigned)c->attached);
    else if (!p->has_tender && c->has_tender && c->publisher_epoch == p->publisher_epoch)
        emit(w, "tender", "epoch %llu: pid %u holds the tender role",
             (unsigned long long)c->epoch, (unsigned)c->owner_pid);
    /* step-downs, oldest first: the entries of c not in p */
    for (uint32_t i = b->step_down_count; i-- > 0;) {
        const cshm_step_down *d = &b->step_down_history[i];
        int known = 0;
        for (uint32_t k = 0; k < a->step_down_count; k++)
            known |= same_step_down(d, &a->step_down_history[k]);
        if (!known)
            emit(w, "step_down", "pid %u (epoch %u) stepped down after %u failed tends: %s",
                 (unsigned)d->pid, (unsigned)d->epoch, (unsigned)d->failures, d->reason);
    }
    if (!p->has_map && c->has_map)
        emit(w, "map", "first map: generation %llu, %u nodes", (unsigned long long)c->generation,
             (unsigned)c->nodes);
    else if (c->generation != p->generation)
        emit(w, "generation", "generation %llu %s %llu: %u nodes%s",
             (unsigned long long)p->generation, w->arrow, (unsigned long long)c->generation,
             (unsigned)c->nodes, c->namespaces > 1 ? " (several namespaces)" : "");
    uint64_t failed = b->tend_failures > a->tend_failures ? b->tend_failures - a->tend_failures : 0;
    if (!p->stale && c->stale)
        emit(w, "stale", "stale: %s", b->last_error[0] ? b->last_error : "no node answered");
    else if (p->stale && !c->stale)
        emit(w, "fresh", "fresh again: the cluster answers (after %u failed tends in a row)",
             (unsigned)a->failures_in_row);
    else if (failed > 0)
        emit(w, "failure", "%llu failed tend%s (%u in a row now): %s", (unsigned long long)failed,
             failed == 1 ? "" : "s", (unsigned)b->failures_in_row,
             b->last_error[0] ? b->last_error : "no node answered");
    if (!c->stale && strcmp(a->last_error, b->last_error) != 0 && failed == 0) {
        if (b->last_error[0])
            emit(w, "error", "tend error while fresh: %s", b->last_error);
        else if (!p->stale)
            emit(w, "error", "tend errors cleared");
    }
    if (!p->nodes_truncated && c->nodes_truncated)
        emit(w, "limits", "limit reached: the cluster has %u nodes, max_nodes is %u",
             (unsigned)c->nodes_seen, (unsigned)c->max_nodes);
    if (!p->namespaces_truncated && c->namespaces_truncated)
        emit(w, "limits", "limit reached: the cluster has %u namespaces, max_namespaces is %u",
             (unsigned)c->namespaces_seen, (unsigned)c->max_namespaces);
    if (!p->replicas_truncated && c->replicas_truncated)
        emit(w, "limits", "limit reached: more replicas per partition than the map stores");
    if (p->attached != c->attached)
        emit(w, "attached", "attached %u %s %u", (unsigned)p->attached, w->arrow,
             (unsigned)c->attached);
}

/* ---- the screen ---------------------------------------------------------- */

/* One line, cut to cols characters (UTF-8 aware), then clear to its end. */
static void put_line(int cols, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put_line(int cols, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    int shown = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if ((*p & 0xC0) != 0x80) { /* a character starts here */
            if (shown == cols)
                break;
            shown++;
        }
        putchar(*p < 0x20 ? ' ' : *p);
    }
    fputs("\033[K\n", stdout);
}

static void draw(watch *w)
{
    int rows, cols;
    cli_term_size(&rows, &cols);
    const sample *n = &w->now;
    const cli_status *s = &n->s;
    const cshm_tend_record *r = &s->record;
    char clock[16];
    clock_text(wall_now(), 0, clock, sizeof clock);
    fputs("\033[H", stdout);
    put_line(cols, "clustershm watch 0x%08x   %s   every %g s   q quits   %s",
             (unsigned)w->args->key, n->present ? s->identity : "", w->args->interval, clock);
    int used = 1;
    if (!n->present) {
        put_line(cols, "segment  %s: waiting for one", n->error);
        used++;
    } else if (!n->readable) {
        put_line(cols, "segment  shmid %d: %s", s->shmid, n->error);
        used++;
    } else {
        if (s->has_tender)
            put_line(cols, "tender   pid %u, epoch %llu; attached %u%s",
                     (unsigned)s->owner_pid, (unsigned long long)s->epoch, (unsigned)s->attached,
                     s->removed ? "; segment REMOVED" : "");
        else
            put_line(cols, "tender   NONE: the role is vacant (pid %u held it, epoch %llu); "
                     "attached %u",
                     (unsigned)s->owner_pid, (unsigned long long)s->epoch,
                     (unsigned)s->attached);
        if (s->has_map)
            put_line(cols, "map      generation %llu, %u nodes (max %u), tended %.1f s ago%s",
                     (unsigned long long)s->generation, (unsigned)s->nodes,
                     (unsigned)s->max_nodes, s->age, s->stale ? "   STALE" : "");
        else
            put_line(cols, "map      none yet%s", s->published ? ": no tend reached the cluster" : "");
        put_line(cols, "tends    %llu (%llu failed, %u in a row); handoffs %llu; takeovers %llu "
                 "after death, %llu after hang; step-downs %llu",
                 (unsigned long long)r->tends, (unsigned long long)r->tend_failures,
                 (unsigned)r->failures_in_row, (unsigned long long)r->handoffs,
                 (unsigned long long)r->dead_takeovers, (unsigned long long)r->hung_takeovers,
                 (unsigned long long)r->step_downs);
        put_line(cols, "error    %s", r->last_error[0] ? r->last_error : "none");
        put_line(cols, "timing   tend_interval %g s, takeover_timeout %g s, min_refresh_interval "
                 "%g s", s->tend_interval, s->takeover_timeout, s->min_refresh_interval);
        used += 5;
    }
    put_line(cols, "-- events (newest last) --");
    used++;
    /* the bottom row stays empty: a newline there would scroll the screen */
    int room = rows - used - 1;
    unsigned kept = w->events < EVENTS ? w->events : EVENTS;
    unsigned shown = room > 0 ? ((unsigned)room < kept ? (unsigned)room : kept) : 0;
    for (unsigned i = w->events - shown; i < w->events; i++) {
        const event *e = &w->ring[i % EVENTS];
        char when[16];
        clock_text(e->at, 0, when, sizeof when);
        put_line(cols, "%s  %s", when, e->message);
        used++;
    }
    fputs("\033[J", stdout);
    fflush(stdout);
}

/* ---- the loop ------------------------------------------------------------ */

static void start_event(watch *w)
{
    const sample *n = &w->now;
    if (!n->present) {
        emit(w, "start", "watching: %s; waiting for one", n->error);
    } else if (!n->readable) {
        emit(w, "start", "watching shmid %d: %s", n->s.shmid, n->error);
    } else {
        const cli_status *s = &n->s;
        emit(w, "start",
             "watching %s: tender pid %u%s, epoch %llu, generation %llu, %u nodes, %u attached, "
             "%s",
             s->identity, (unsigned)s->owner_pid, s->has_tender ? "" : " (role vacant)",
             (unsigned long long)s->epoch, (unsigned long long)s->generation,
             (unsigned)s->nodes, (unsigned)s->attached,
             !s->has_map ? "no map yet" : s->stale ? "STALE" : "fresh");
    }
}

int cli_watch(const cli_args *args)
{
    static watch w; /* large (the event ring): not on the stack */
    memset(&w, 0, sizeof w);
    w.args = args;
    w.screen = !args->json && isatty(STDOUT_FILENO);
    setlocale(LC_CTYPE, "");
    w.arrow = strcmp(nl_langinfo(CODESET), "UTF-8") == 0 ? "\xe2\x86\x92" : "->";

    take_sample(&w, &w.now);
    cli_term_start(w.screen);
    start_event(&w);
    if (w.screen)
        draw(&w);
    double started = cshm_mono_now();
    double next = started + args->interval;
    int status = CLI_OK;
    for (;;) {
        if (cli_term_quit_signal())
            break;
        if (cli_term_handle_suspend() && w.screen)
            draw(&w);
        if (cli_term_resized() && w.screen)
            draw(&w);
        double now = cshm_mono_now();
        if (args->duration > 0 && now - started >= args->duration)
            break;
        if (now < next) {
            double wait = next - now;
            if (args->duration > 0 && started + args->duration - now < wait)
                wait = started + args->duration - now;
            int key = cli_term_wait_key(wait);
            if (key == 'q')
                break;
            continue;
        }
        next += args->interval;
        if (next < now) /* we were stopped, or slow: no burst of samples */
            next = now + args->interval;
        sample previous = w.now;
        take_sample(&w, &w.now);
        compare(&w, &previous, &w.now);
        if (w.screen)
            draw(&w);
        if (ferror(stdout)) { /* the reader went away */
            status = CLI_FAILED;
            break;
        }
    }
    cli_term_stop();
    if (w.view_open)
        cli_view_close(&w.view);
    fflush(stdout);
    return status;
}
