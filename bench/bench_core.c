/*
 * bench_core.c - the core's performance figures, each printed beside a
 * baseline measured in the same run (PRODUCT.md, "Targets").
 *
 *   bench-core URL KEY [ROUNDS-DIVISOR [JSON-PATH]]
 *
 * URL names a running cluster; KEY is a SysV key the benchmark may create and
 * remove.  ROUNDS-DIVISOR (default 1) divides every round count, for the
 * quick mode of CI; JSON-PATH receives every figure and the takeover
 * samples (bench/run.py plots them).  Figures are medians (and p99 where the target is a tail), in the
 * same units as the targets:
 *   - connect() of a follower to a ready segment, vs connect() in private mode
 *     (which tends the cluster itself, like an ordinary client);
 *   - clean handoff at close(), vs takeover after SIGKILL of the tender
 *     (from the tender's call to close(), or from kill(), until a follower
 *     sees the new epoch);
 *   - route() per call from shared memory, vs the same call in private mode;
 *   - redis_slot() alone (the hashing part of a route).
 * Nothing here asserts: the figures are for people and for the log of CI.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clustershm.h"

static int divisor = 1;
static FILE *json;

static int rounds(int n)
{
    return n / divisor > 2 ? n / divisor : 2;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, compare_doubles);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static void remove_segment(uint32_t key)
{
    int id = shmget((key_t)key, 0, 0);
    if (id >= 0)
        shmctl(id, IPC_RMID, NULL);
}

static cshm_options options_for(uint32_t key, int shared)
{
    cshm_options o;
    cshm_options_init(&o);
    o.has_key = 1;
    o.key = key;
    o.shared = shared;
    o.tend_interval = 1.0;
    o.takeover_timeout = 30;
    return o;
}

static cshm_client *connect_or_die(const char *url, const cshm_options *o)
{
    cshm_client *c;
    cshm_error e;
    if (cshm_connect(url, o, &c, &e) != 0) {
        fprintf(stderr, "bench-core: connect: %s\n", e.message);
        exit(1);
    }
    return c;
}

static uint64_t epoch_of(cshm_client *c)
{
    cshm_status_info s;
    return cshm_status(c, &s, NULL) == 0 ? s.epoch : 0;
}

/* A child that connects (becoming the tender when it is first), reports
 * through the pipe, then waits for SIGTERM (clean close) or SIGKILL. */
static volatile sig_atomic_t child_should_close;
static void on_term(int sig)
{
    (void)sig;
    child_should_close = 1;
}

static pid_t spawn_tender(const char *url, const cshm_options *o, int *close_time_fd)
{
    int fds[2];
    if (pipe(fds) != 0)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTERM, on_term);
        cshm_client *c = connect_or_die(url, o);
        char ok = 'y';
        if (write(fds[1], &ok, 1) != 1)
            _exit(1);
        while (!child_should_close)
            pause();
        /* The clock is system-wide: the parent subtracts this from the
         * moment it saw the new epoch. */
        double closing = now();
        cshm_close(c);
        if (write(fds[1], &closing, sizeof closing) != sizeof closing)
            _exit(1);
        _exit(0);
    }
    char got;
    if (read(fds[0], &got, 1) != 1)
        exit(1);
    close(fds[1]);
    if (close_time_fd != NULL)
        *close_time_fd = fds[0];
    else
        close(fds[0]);
    return pid;
}

static void bench_connect(const char *url, uint32_t key)
{
    enum { MAX_ROUNDS = 200, MAX_PRIVATE_ROUNDS = 50 };
    const int ROUNDS = rounds(MAX_ROUNDS), PRIVATE_ROUNDS = rounds(MAX_PRIVATE_ROUNDS);
    double follower[MAX_ROUNDS], private_mode[MAX_PRIVATE_ROUNDS];
    cshm_options shared = options_for(key, 1), alone = options_for(key, 0);
    remove_segment(key);
    pid_t tender = spawn_tender(url, &shared, NULL);
    for (int i = 0; i < ROUNDS; i++) {
        double t0 = now();
        cshm_client *c = connect_or_die(url, &shared);
        follower[i] = now() - t0;
        cshm_close(c);
    }
    kill(tender, SIGTERM);
    waitpid(tender, NULL, 0);
    for (int i = 0; i < PRIVATE_ROUNDS; i++) {
        double t0 = now();
        cshm_client *c = connect_or_die(url, &alone);
        private_mode[i] = now() - t0;
        cshm_close(c);
    }
    double f = percentile(follower, ROUNDS, 0.5), p = percentile(private_mode, PRIVATE_ROUNDS, 0.5);
    printf("connect (follower, ready segment)   p50 %8.1f us   baseline private-mode connect p50 "
           "%8.1f us   ratio %.1fx faster   (target: < 50 us, > 20x)\n",
           f * 1e6, p * 1e6, p / f);
    if (json)
        fprintf(json, "\"connect_follower_p50_us\": %.3f, \"connect_private_p50_us\": %.3f, "
                "\"connect_follower_p99_us\": %.3f,\n", f * 1e6, p * 1e6,
                percentile(follower, ROUNDS, 0.99) * 1e6);
    remove_segment(key);
}

/* Time from the tender's exit (clean close or SIGKILL) until this process,
 * a follower, sees the next epoch. */
static void bench_takeover(const char *url, uint32_t key)
{
    enum { MAX_ROUNDS = 40 };
    const int ROUNDS = rounds(MAX_ROUNDS);
    double handoff[MAX_ROUNDS], crash[MAX_ROUNDS];
    cshm_options o = options_for(key, 1);
    for (int kind = 0; kind < 2; kind++) {
        for (int i = 0; i < ROUNDS; i++) {
            remove_segment(key);
            int close_time_fd;
            pid_t tender = spawn_tender(url, &o, &close_time_fd);
            cshm_client *me = connect_or_die(url, &o);
            uint64_t epoch = epoch_of(me);
            double t0 = now();
            kill(tender, kind == 0 ? SIGTERM : SIGKILL);
            /* Poll, yielding the CPU between looks: a busy loop would take
             * the very core this process's own background thread (the
             * follower that takes over) needs to run on (2 cores). */
            while (epoch_of(me) == epoch && now() - t0 < 10)
                sched_yield();
            double seen = now();
            if (kind == 0) {
                /* Handoff is timed from the tender's call to close(). */
                double closing;
                if (read(close_time_fd, &closing, sizeof closing) == sizeof closing)
                    t0 = closing;
            }
            (kind == 0 ? handoff : crash)[i] = seen - t0;
            close(close_time_fd);
            waitpid(tender, NULL, 0);
            cshm_close(me);
        }
    }
    if (json) {
        /* The samples, before percentile() sorts them in place. */
        for (int kind = 0; kind < 2; kind++) {
            fprintf(json, "\"%s_ms\": [", kind == 0 ? "handoff" : "takeover");
            for (int i = 0; i < ROUNDS; i++)
                fprintf(json, "%s%.4f", i ? ", " : "", (kind == 0 ? handoff : crash)[i] * 1e3);
            fprintf(json, "],\n");
        }
    }
    printf("handoff (close() -> new epoch seen)    p50 %6.3f ms p99 %6.3f ms   baseline takeover "
           "after SIGKILL p50 %6.3f ms p99 %6.3f ms   (targets: p99 < 1 ms, < 1 ms)\n",
           percentile(handoff, ROUNDS, 0.5) * 1e3, percentile(handoff, ROUNDS, 0.99) * 1e3,
           percentile(crash, ROUNDS, 0.5) * 1e3, percentile(crash, ROUNDS, 0.99) * 1e3);
    remove_segment(key);
}

static double route_ns(cshm_client *c, char keys[][16], size_t nkeys)
{
    enum { BATCHES = 9 };
    double per_call[BATCHES];
    cshm_route_result r;
    volatile unsigned sink = 0;
    for (int b = 0; b < BATCHES; b++) {
        double t0 = now();
        for (size_t i = 0; i < nkeys; i++) {
            cshm_key k = {.type = CSHM_KEY_BYTES, .data = keys[i], .len = strlen(keys[i])};
            if (cshm_route(c, &k, NULL, NULL, 0, &r, NULL) == 0)
                sink += r.port;
        }
        per_call[b] = (now() - t0) / (double)nkeys;
    }
    (void)sink;
    return percentile(per_call, BATCHES, 0.5) * 1e9;
}

static void bench_route(const char *url, uint32_t key)
{
    enum { MAX_KEYS = 200000 };
    const size_t NKEYS = (size_t)rounds(MAX_KEYS);
    static char keys[MAX_KEYS][16];
    for (size_t i = 0; i < NKEYS; i++)
        snprintf(keys[i], sizeof keys[i], "user:%zu", i * 7919u);
    remove_segment(key);
    cshm_options shared = options_for(key, 1), alone = options_for(key, 0);
    cshm_client *s = connect_or_die(url, &shared);
    cshm_client *p = connect_or_die(url, &alone);
    double shared_ns = route_ns(s, keys, NKEYS), private_ns = route_ns(p, keys, NKEYS);

    enum { BATCHES = 9 };
    double slot_ns[BATCHES];
    volatile unsigned sink = 0;
    for (int b = 0; b < BATCHES; b++) {
        double t0 = now();
        for (size_t i = 0; i < NKEYS; i++)
            sink += cshm_redis_slot(keys[i], strlen(keys[i]));
        slot_ns[b] = (now() - t0) / (double)NKEYS * 1e9;
    }
    (void)sink;
    printf("route() from shared memory           p50 %6.1f ns/call   baseline private-mode route "
           "%6.1f ns/call   (of which redis_slot %.1f ns)\n",
           shared_ns, private_ns, percentile(slot_ns, BATCHES, 0.5));
    if (json)
        fprintf(json, "\"route_shared_ns\": %.2f, \"route_private_ns\": %.2f, "
                "\"redis_slot_ns\": %.2f\n", shared_ns, private_ns, percentile(slot_ns, BATCHES, 0.5));
    cshm_close(s);
    cshm_close(p);
    remove_segment(key);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: bench-core URL KEY [ROUNDS-DIVISOR [JSON-PATH]]\n");
        return 2;
    }
    uint32_t key = (uint32_t)strtoul(argv[2], NULL, 0);
    if (argc >= 4)
        divisor = atoi(argv[3]) > 0 ? atoi(argv[3]) : 1;
    if (argc == 5 && (json = fopen(argv[4], "w")) == NULL) {
        perror(argv[4]);
        return 1;
    }
    printf("clustershm %s core benchmarks against %s\n", CSHM_VERSION, argv[1]);
    if (json)
        fprintf(json, "{\n");
    bench_connect(argv[1], key);
    bench_takeover(argv[1], key);
    bench_route(argv[1], key);
    if (json) {
        fprintf(json, "}\n");
        fclose(json);
    }
    return 0;
}
