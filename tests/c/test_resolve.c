/*
 * test_resolve.c - name resolution: numeric addresses without a thread,
 * "localhost" through getaddrinfo(), the deadline and the pending bound with
 * a lookup that cannot finish, the cache, and lookups in fork children
 * forked at any moment after (or during) a lookup of the parent.
 *
 * A lookup that hangs on demand cannot be had from the system here (no
 * network, no root to point it at a silent DNS server), so those tests pass
 * cshm_resolve_with() a lookup function that blocks on a gate until the test
 * opens it.  Every test leaves no lookup thread running, so that none
 * counts against the bound in the next one.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "resolve.h"
#include "test.h"

/* ---- a lookup function the test holds back ------------------------------ */

typedef struct gate {
    pthread_mutex_t lock;
    pthread_cond_t opened;
    int open;            /* under lock: lookups return */
    int inside;          /* under lock: lookups waiting in the gate */
    int answer;          /* under lock: 0 = 192.0.2.1, else this EAI_* code */
    int signals_blocked; /* under lock: every call found SIGINT..SIGUSR1 blocked */
} gate;

/* Static: an abandoned lookup thread still reads it after its test ended. */
static gate the_gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 1};

static int gated_lookup(const char *name, cshm_address_list *out, void *arg)
{
    (void)name;
    gate *g = arg;
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    int blocked = sigismember(&mask, SIGINT) && sigismember(&mask, SIGTERM) &&
                  sigismember(&mask, SIGUSR1) && sigismember(&mask, SIGCHLD) &&
                  sigismember(&mask, SIGPIPE);
    pthread_mutex_lock(&g->lock);
    if (!blocked)
        g->signals_blocked = 0;
    g->inside++;
    while (!g->open)
        pthread_cond_wait(&g->opened, &g->lock);
    g->inside--;
    int answer = g->answer;
    pthread_mutex_unlock(&g->lock);
    if (answer != 0)
        return answer;
    struct sockaddr_in v4;
    memset(&v4, 0, sizeof v4);
    v4.sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.1", &v4.sin_addr);
    memcpy(&out->addresses[0], &v4, sizeof v4);
    out->lengths[0] = sizeof v4;
    out->count = 1;
    return 0;
}

static void gate_set(int open, int answer)
{
    pthread_mutex_lock(&the_gate.lock);
    the_gate.open = open;
    the_gate.answer = answer;
    pthread_cond_broadcast(&the_gate.opened);
    pthread_mutex_unlock(&the_gate.lock);
}

static int gate_inside(void)
{
    pthread_mutex_lock(&the_gate.lock);
    int inside = the_gate.inside;
    pthread_mutex_unlock(&the_gate.lock);
    return inside;
}

/* 1 once no lookup thread runs any more (waits up to seconds). */
static int settle(double seconds)
{
    double until = cshm_mono_now() + seconds;
    while (cshm_resolve_lookups_pending() != 0) {
        if (cshm_mono_now() > until)
            return 0;
        usleep(1000);
    }
    return 1;
}

static uint16_t port_of(const cshm_address_list *list, size_t i)
{
    const struct sockaddr_storage *a = &list->addresses[i];
    return ntohs(a->ss_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port
                                         : ((const struct sockaddr_in6 *)a)->sin6_port);
}

/* ---- fork children -------------------------------------------------------- */

/* The sanitizer runtimes of this compiler (GCC 12) do not survive a fork
 * taken while another thread is inside them, whatever the program does:
 * ASan's allocator takes no lock across fork() (upstream fixed that in LLVM
 * 18, llvm/llvm-project#75290), so a child forked while a thread of the
 * parent allocates can hang in its first malloc(); TSan refuses to start a
 * thread in the child of a multi-threaded parent (die_after_fork) and, with
 * that overridden, "is on its own" there.  Under them, fork children are
 * made only while the parent's other threads are parked, and the test that
 * forks amid running lookups is left to the plain and valgrind runs. */
#if defined(__SANITIZE_THREAD__)
#define THREAD_SANITIZER 1
#else
#define THREAD_SANITIZER 0
#endif
#if defined(__SANITIZE_ADDRESS__) || THREAD_SANITIZER
#define FORK_NEEDS_QUIET_THREADS 1
#else
#define FORK_NEEDS_QUIET_THREADS 0
#endif

/* Threads of this process (-1 if /proc cannot tell). */
static int thread_count(void)
{
    DIR *dir = opendir("/proc/self/task");
    if (dir == NULL)
        return -1;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] != '.')
            count++;
    }
    closedir(dir);
    return count;
}

/* 1 once the process is down to at most `threads` threads (up to 5 s). */
static int wait_for_threads(int threads)
{
    double until = cshm_mono_now() + 5;
    for (;;) {
        int now = thread_count();
        if (now < 0 || now <= threads)
            return 1;
        if (cshm_mono_now() > until)
            return 0;
        usleep(1000);
    }
}

/* In a fork child: resolve "localhost" afresh (no cache) within 3 s, and
 * with also_cached once more through the cache (its lock must not have been
 * inherited taken); leave with 0, or 1 with the reason on stderr. */
static void child_resolves_localhost(int also_cached)
{
    cshm_address_list list;
    char error[160] = "";
    int rc = cshm_resolve("localhost", 6379, cshm_mono_now() + 3, 0, &list, error, sizeof error);
    if (rc == 0 && also_cached)
        rc = cshm_resolve("localhost", 6379, cshm_mono_now() + 3, 60, &list, error,
                          sizeof error);
    if (rc != 0 || list.count == 0) {
        fprintf(stderr, "    fork child %d: %s\n", (int)getpid(), error);
        _exit(1);
    }
    _exit(0);
}

/* Forks a child that runs child_resolves_localhost(); returns its pid. */
static pid_t fork_resolver(int also_cached)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
        child_resolves_localhost(also_cached);
    return pid;
}

/* 1 when the child exited with status 0. */
static int child_succeeded(pid_t pid)
{
    int status = 0;
    if (pid < 0)
        return 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return 0;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_resolve_numeric_without_thread(void)
{
    cshm_address_list list;
    char error[160] = "";
    uint64_t started = cshm_resolve_lookups_started();
    CHECK(cshm_resolve("127.0.0.1", 7000, cshm_mono_now() + 1, 10, &list, error,
                       sizeof error) == 0);
    CHECK(list.count == 1 && list.addresses[0].ss_family == AF_INET && port_of(&list, 0) == 7000);
    CHECK(cshm_resolve("::1", 7001, cshm_mono_now() + 1, 0, &list, error, sizeof error) == 0);
    CHECK(list.count == 1 && list.addresses[0].ss_family == AF_INET6 && port_of(&list, 0) == 7001);
    /* Even with the deadline already gone: nothing to wait for. */
    CHECK(cshm_resolve("10.1.2.3", 1, cshm_mono_now() - 1, 0, &list, error, sizeof error) == 0);
    CHECK(cshm_resolve_lookups_started() == started);

    CHECK(cshm_resolve("", 1, cshm_mono_now() + 1, 0, &list, error, sizeof error) == -1);
    CHECK(strcmp(error, "invalid host name (0 bytes)") == 0);
}

static void test_resolve_localhost(void)
{
    cshm_address_list list;
    char error[160] = "";
    sigset_t before, after;
    pthread_sigmask(SIG_BLOCK, NULL, &before);
    uint64_t started = cshm_resolve_lookups_started();
    CHECK(cshm_resolve("localhost", 6379, cshm_mono_now() + 5, 0, &list, error, sizeof error) ==
          0);
    if (list.count == 0)
        fprintf(stderr, "    localhost: %s\n", error);
    CHECK(cshm_resolve_lookups_started() == started + 1);
    CHECK(list.count >= 1);
    for (size_t i = 0; i < list.count; i++)
        CHECK(port_of(&list, i) == 6379);
    /* The caller's signal mask is its own again. */
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    CHECK(sigismember(&after, SIGUSR1) == sigismember(&before, SIGUSR1));
    CHECK(sigismember(&after, SIGTERM) == sigismember(&before, SIGTERM));
    CHECK(settle(5));
}

static void test_resolve_invalid_name_fails_within_deadline(void)
{
    /* .invalid never resolves (RFC 2606); a resolver that cannot be reached
     * at all is cut off by the deadline instead. */
    cshm_address_list list;
    char error[160] = "";
    double started = cshm_mono_now();
    CHECK(cshm_resolve("no-such-host.invalid", 6379, started + 2, 0, &list, error,
                       sizeof error) == -1);
    CHECK(strncmp(error, "cannot resolve 'no-such-host.invalid': ", 39) == 0 ||
          strcmp(error, "timed out after 2.0 s resolving 'no-such-host.invalid'") == 0);
    CHECK(cshm_mono_now() - started < 3.0);
    CHECK(list.count == 0);
}

static void test_resolve_deadline_abandons_a_stuck_lookup(void)
{
    CHECK(settle(30));
    gate_set(0, 0);
    cshm_address_list list;
    char error[160] = "";
    double started = cshm_mono_now();
    CHECK(cshm_resolve_with(gated_lookup, &the_gate, "stuck.test", 1, started + 0.2, 0, &list,
                            error, sizeof error) == -1);
    double waited = cshm_mono_now() - started;
    CHECK(strcmp(error, "timed out after 0.2 s resolving 'stuck.test'") == 0);
    CHECK(waited >= 0.19 && waited < 2.0);
    CHECK(list.count == 0);
    /* Abandoned, not finished: its thread still holds the block. */
    CHECK(cshm_resolve_lookups_pending() == 1);

    /* The thread now finishes into a block the caller has let go of, and
     * gives it back: nothing is pending any more. */
    gate_set(1, 0);
    CHECK(settle(5));
    pthread_mutex_lock(&the_gate.lock);
    CHECK(the_gate.signals_blocked);
    pthread_mutex_unlock(&the_gate.lock);

    /* An answer in time is returned, with the caller's port. */
    CHECK(cshm_resolve_with(gated_lookup, &the_gate, "quick.test", 9, cshm_mono_now() + 5, 0,
                            &list, error, sizeof error) == 0);
    CHECK(list.count == 1 && port_of(&list, 0) == 9);
    gate_set(1, EAI_NONAME);
    CHECK(cshm_resolve_with(gated_lookup, &the_gate, "gone.test", 9, cshm_mono_now() + 5, 0,
                            &list, error, sizeof error) == -1);
    CHECK(strncmp(error, "cannot resolve 'gone.test': ", 28) == 0);
    gate_set(0, 0);
    CHECK(settle(5));
}

static void test_resolve_pending_bound(void)
{
    CHECK(settle(30));
    gate_set(0, 0);
    cshm_address_list list;
    char error[160] = "";
    for (int i = 0; i < CSHM_RESOLVE_MAX_PENDING; i++) {
        char name[32];
        snprintf(name, sizeof name, "stuck-%d.test", i);
        CHECK(cshm_resolve_with(gated_lookup, &the_gate, name, 1, cshm_mono_now() + 0.02, 0, &list,
                                error, sizeof error) == -1);
        CHECK(strstr(error, "timed out") != NULL);
    }
    CHECK(cshm_resolve_lookups_pending() == CSHM_RESOLVE_MAX_PENDING);

    uint64_t started = cshm_resolve_lookups_started();
    double at = cshm_mono_now();
    CHECK(cshm_resolve_with(gated_lookup, &the_gate, "one-more.test", 1, at + 5, 0, &list, error,
                            sizeof error) == -1);
    CHECK(cshm_mono_now() - at < 1.0);   /* at once, not at the deadline */
    CHECK(strcmp(error, "the resolver is not answering: 8 lookups still pending (not resolving "
                        "'one-more.test')") == 0);
    /* The bound is the process's, whatever the lookup function. */
    CHECK(cshm_resolve("localhost", 1, cshm_mono_now() + 5, 0, &list, error, sizeof error) == -1);
    CHECK(strncmp(error, "the resolver is not answering: 8 lookups", 40) == 0);
    CHECK(cshm_resolve_lookups_started() == started);
    /* Numeric addresses need no lookup. */
    CHECK(cshm_resolve("127.0.0.1", 1, cshm_mono_now() + 5, 0, &list, error, sizeof error) == 0);

    gate_set(1, 0);
    CHECK(settle(5));
    CHECK(cshm_resolve_with(gated_lookup, &the_gate, "one-more.test", 1, cshm_mono_now() + 5, 0,
                            &list, error, sizeof error) == 0);
    gate_set(0, 0);
    CHECK(settle(5));
}

static void test_resolve_cache(void)
{
    CHECK(settle(30));
    cshm_resolve_cache_clear();
    cshm_address_list first, second;
    char error[160] = "";
    uint64_t started = cshm_resolve_lookups_started();
    CHECK(cshm_resolve("localhost", 6379, cshm_mono_now() + 5, 0.5, &first, error,
                       sizeof error) == 0);
    CHECK(cshm_resolve_lookups_started() == started + 1);
    /* Within cache_seconds: no thread, the same addresses, the new port. */
    CHECK(cshm_resolve("localhost", 6380, cshm_mono_now() + 5, 0.5, &second, error,
                       sizeof error) == 0);
    CHECK(cshm_resolve_lookups_started() == started + 1);
    CHECK(second.count == first.count && first.count > 0);
    for (size_t i = 0; i < first.count && i < second.count; i++) {
        CHECK(port_of(&second, i) == 6380);
        CHECK(second.lengths[i] == first.lengths[i]);
        CHECK(first.addresses[i].ss_family == second.addresses[i].ss_family);
        if (first.addresses[i].ss_family == AF_INET)
            CHECK(((struct sockaddr_in *)&first.addresses[i])->sin_addr.s_addr ==
                  ((struct sockaddr_in *)&second.addresses[i])->sin_addr.s_addr);
    }
    /* cache_seconds 0 neither reads nor fills the cache. */
    CHECK(cshm_resolve("localhost", 6379, cshm_mono_now() + 5, 0, &second, error, sizeof error) ==
          0);
    CHECK(cshm_resolve_lookups_started() == started + 2);
    /* Expired: resolved again. */
    usleep(600 * 1000);
    CHECK(cshm_resolve("localhost", 6379, cshm_mono_now() + 5, 0.5, &second, error,
                       sizeof error) == 0);
    CHECK(cshm_resolve_lookups_started() == started + 3);
    CHECK(cshm_resolve("localhost", 6379, cshm_mono_now() + 5, 0.5, &second, error,
                       sizeof error) == 0);
    CHECK(cshm_resolve_lookups_started() == started + 3);

    /* Failures are not cached. */
    gate_set(1, EAI_NONAME);
    started = cshm_resolve_lookups_started();
    for (int i = 0; i < 2; i++)
        CHECK(cshm_resolve_with(gated_lookup, &the_gate, "fails.test", 1, cshm_mono_now() + 5, 60,
                                &second, error, sizeof error) == -1);
    CHECK(cshm_resolve_lookups_started() == started + 2);

    /* Bounded: one name more than it keeps evicts the oldest. */
    gate_set(1, 0);
    char name[32];
    for (int i = 0; i <= CSHM_RESOLVE_CACHE_NAMES; i++) {
        snprintf(name, sizeof name, "name-%d.test", i);
        CHECK(cshm_resolve_with(gated_lookup, &the_gate, name, 1, cshm_mono_now() + 5, 60,
                                &second, error, sizeof error) == 0);
    }
    started = cshm_resolve_lookups_started();
    snprintf(name, sizeof name, "name-%d.test", CSHM_RESOLVE_CACHE_NAMES);
    CHECK(cshm_resolve_with(gated_lookup, &the_gate, name, 1, cshm_mono_now() + 5, 60, &second,
                            error, sizeof error) == 0);
    CHECK(cshm_resolve_with(gated_lookup, &the_gate, "name-1.test", 1, cshm_mono_now() + 5, 60,
                            &second, error, sizeof error) == 0);
    CHECK(cshm_resolve_lookups_started() == started);
    CHECK(cshm_resolve_with(gated_lookup, &the_gate, "name-0.test", 1, cshm_mono_now() + 5, 60,
                            &second, error, sizeof error) == 0);
    CHECK(cshm_resolve_lookups_started() == started + 1);
    gate_set(0, 0);
    cshm_resolve_cache_clear();
    CHECK(settle(5));
}

static void test_resolve_in_children_forked_after_a_lookup(void)
{
    /* glibc's getaddrinfo_a() kept its helper thread about a second after a
     * lookup, and a child forked in that second could never resolve again. */
    static const int delays_ms[] = {0, 10, 50, 200, 600, 1000};
    CHECK(settle(30));
    int threads = thread_count();
    if (FORK_NEEDS_QUIET_THREADS)
        printf("     (sanitizer run: each fork waits until the lookup thread has exited)\n");
    for (size_t i = 0; i < sizeof delays_ms / sizeof delays_ms[0]; i++) {
        cshm_address_list list;
        char error[160] = "";
        CHECK(cshm_resolve("localhost", 6379, cshm_mono_now() + 5, 0, &list, error,
                           sizeof error) == 0);
        usleep((useconds_t)delays_ms[i] * 1000);
        if (FORK_NEEDS_QUIET_THREADS)
            CHECK(wait_for_threads(threads));
        pid_t pid = fork_resolver(i % 2);
        CHECK(pid > 0);
        int ok = child_succeeded(pid);
        if (!ok)
            fprintf(stderr, "    child forked %d ms after a lookup failed\n", delays_ms[i]);
        CHECK(ok);
    }
    CHECK(settle(5));
}

typedef struct hammer {
    int stop;        /* atomic */
    int lookups;     /* atomic */
    int failures;    /* atomic */
} hammer;

/* Lookups without pause, half of them through the cache, so that forks land
 * inside lookups, inside lookup threads and inside the cache lock.  Through
 * the gate held open rather than getaddrinfo(): glibc does not reset the
 * lock of its resolv.conf state (nor that of its interface cache, used to
 * sort addresses) across fork(), so a child forked while a parent thread is
 * in those few microseconds of getaddrinfo() can never resolve again (about
 * 1 fork in 5000 with getaddrinfo() running without pause).  That is
 * glibc's to fix and resolve.h says so; what this test checks is that
 * nothing of ours is inherited half-done. */
static void *hammer_lookups(void *arg)
{
    hammer *h = arg;
    for (int i = 0; !__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE); i++) {
        cshm_address_list list;
        char error[160];
        if (cshm_resolve_with(gated_lookup, &the_gate, "hammer.test", 1, cshm_mono_now() + 5,
                              (i & 1) ? 60 : 0, &list, error, sizeof error) != 0)
            __atomic_add_fetch(&h->failures, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&h->lookups, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_resolve_in_children_forked_during_lookups(void)
{
    if (FORK_NEEDS_QUIET_THREADS) {
        printf("     (sanitizer run: not tested, see FORK_NEEDS_QUIET_THREADS)\n");
        return;
    }
    CHECK(settle(30));
    gate_set(1, 0);
    hammer h = {0, 0, 0};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, hammer_lookups, &h) == 0);
    while (__atomic_load_n(&h.lookups, __ATOMIC_RELAXED) < 2)
        usleep(1000);
    int failed = 0, forked_while_pending = 0;
    for (int i = 0; i < 24; i++) {
        usleep((useconds_t)(i % 4) * 300);
        if (cshm_resolve_lookups_pending() > 0)
            forked_while_pending++;
        pid_t pid = fork_resolver(1);
        CHECK(pid > 0);
        if (!child_succeeded(pid))
            failed++;
    }
    __atomic_store_n(&h.stop, 1, __ATOMIC_RELEASE);
    pthread_join(thread, NULL);
    CHECK(failed == 0);
    CHECK(__atomic_load_n(&h.failures, __ATOMIC_RELAXED) == 0);
    /* Not a check (it is up to the scheduler), but say how many forks met a
     * running lookup thread: the deterministic case is the next test. */
    printf("     (%d of 24 forks while a lookup thread ran)\n", forked_while_pending);
    gate_set(0, 0);
    cshm_resolve_cache_clear();
    CHECK(settle(5));
}

static void test_resolve_in_child_of_a_parent_with_stuck_lookups(void)
{
    /* The parent is at the pending bound, every lookup thread inside its
     * lookup at the moment of fork(): the child has none of them, so its
     * count starts from zero and its own lookups work. */
    if (THREAD_SANITIZER) {
        printf("     (ThreadSanitizer: not tested, a child of a multi-threaded parent cannot "
               "start threads under it)\n");
        return;
    }
    CHECK(settle(30));
    gate_set(0, 0);
    cshm_address_list list;
    char error[160] = "";
    for (int i = 0; i < CSHM_RESOLVE_MAX_PENDING; i++)
        CHECK(cshm_resolve_with(gated_lookup, &the_gate, "stuck.test", 1, cshm_mono_now() + 0.02,
                                0, &list, error, sizeof error) == -1);
    /* Parked in the gate: in none of the sanitizers' locks either. */
    double until = cshm_mono_now() + 5;
    while (gate_inside() < CSHM_RESOLVE_MAX_PENDING && cshm_mono_now() < until)
        usleep(1000);
    CHECK(gate_inside() == CSHM_RESOLVE_MAX_PENDING);

    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (cshm_resolve_lookups_pending() != 0)
            _exit(3);
        child_resolves_localhost(1);
    }
    CHECK(pid > 0);
    CHECK(child_succeeded(pid));
    CHECK(cshm_resolve_lookups_pending() == CSHM_RESOLVE_MAX_PENDING);
    gate_set(1, 0);
    CHECK(settle(5));
    gate_set(0, 0);
}

void suite_resolve(void)
{
    RUN(test_resolve_numeric_without_thread);
    RUN(test_resolve_localhost);
    RUN(test_resolve_invalid_name_fails_within_deadline);
    RUN(test_resolve_deadline_abandons_a_stuck_lookup);
    RUN(test_resolve_pending_bound);
    RUN(test_resolve_cache);
    RUN(test_resolve_in_children_forked_after_a_lookup);
    RUN(test_resolve_in_children_forked_during_lookups);
    RUN(test_resolve_in_child_of_a_parent_with_stuck_lookups);
}
