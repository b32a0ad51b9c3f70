/*
 * test_log.c - the log delivery thread (core/src/log.c): order and thread of
 * delivery, the bounded queue and its drop notice, cshm_log_flush, fork, a
 * robust mutex taken in a handler of a process that is killed, and closing a
 * client from a handler (the self-join guard of cshm_close).
 *
 * Invariants: the suite runs last (main.c), starts from a flushed queue and
 * leaves the default handler installed; every wait is bounded, so a broken
 * delivery fails a CHECK instead of hanging the run; fork children leave
 * through _exit (or SIGKILL) and report through pipes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "log.h"
#include "resp_text.h"
#include "test.h"
#include "test_ports.h"

/* ---- a recording handler -------------------------------------------------- */

enum { REC_MAX = 256 };

/* What the handler saw.  While `hold` is set, each call blocks after
 * recording until it gets a token (or hold is cleared): the test decides
 * when the delivery thread moves on. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int hold, tokens;
    int n;
    int levels[REC_MAX];
    char lines[REC_MAX][96];
    pthread_t threads[REC_MAX];
    useconds_t delay;            /* per call, after recording */
    int flush_inside;            /* call cshm_log_flush(10) in the handler */
    double flush_inside_took;
} rec = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};

static void rec_reset(void)
{
    pthread_mutex_lock(&rec.lock);
    rec.hold = rec.tokens = rec.n = 0;
    rec.delay = 0;
    rec.flush_inside = 0;
    rec.flush_inside_took = -1;
    pthread_mutex_unlock(&rec.lock);
}

static void record(int level, const char *message, void *user)
{
    (void)user;
    pthread_mutex_lock(&rec.lock);
    if (rec.n < REC_MAX) {
        rec.levels[rec.n] = level;
        snprintf(rec.lines[rec.n], sizeof rec.lines[rec.n], "%s", message);
        rec.threads[rec.n] = pthread_self();
    }
    rec.n++;
    pthread_cond_broadcast(&rec.changed);
    while (rec.hold && rec.tokens == 0)
        pthread_cond_wait(&rec.changed, &rec.lock);
    if (rec.hold)
        rec.tokens--;
    useconds_t delay = rec.delay;
    int flush_inside = rec.flush_inside;
    pthread_mutex_unlock(&rec.lock);
    if (delay > 0)
        usleep(delay);
    if (flush_inside) {
        double start = cshm_mono_now();
        cshm_log_flush(10);
        pthread_mutex_lock(&rec.lock);
        rec.flush_inside_took = cshm_mono_now() - start;
        pthread_mutex_unlock(&rec.lock);
    }
}

static int recorded(void)
{
    pthread_mutex_lock(&rec.lock);
    int n = rec.n;
    pthread_mutex_unlock(&rec.lock);
    return n;
}

/* Wait (up to 10 s) until the handler has been called at least n times. */
static int wait_recorded(int n)
{
    double give_up = cshm_mono_now() + 10;
    while (recorded() < n && cshm_mono_now() < give_up)
        usleep(1000);
    return recorded() >= n;
}

static void set_hold(int hold, int tokens)
{
    pthread_mutex_lock(&rec.lock);
    rec.hold = hold;
    rec.tokens += tokens;
    pthread_cond_broadcast(&rec.changed);
    pthread_mutex_unlock(&rec.lock);
}

static int line_is(int i, const char *text)
{
    return i < recorded() && strcmp(rec.lines[i], text) == 0;
}

/* ---- (a) order, and never the caller's thread ----------------------------- */

static void *log_from_another_thread(void *unused)
{
    (void)unused;
    for (int i = 0; i < 10; i++)
        cshm_log(CSHM_LOG_WARNING, "other %d", i);
    return NULL;
}

static void test_lines_arrive_in_order_on_the_delivery_thread(void)
{
    rec_reset();
    cshm_set_log_handler(record, NULL);
    for (int i = 0; i < 20; i++)
        cshm_log(i % 4, "line %d", i);
    cshm_log_flush(10);
    CHECK(recorded() == 20);
    int in_order = 1, elsewhere = 1, same_thread = 1;
    for (int i = 0; i < 20 && i < recorded(); i++) {
        char want[32];
        snprintf(want, sizeof want, "line %d", i);
        in_order &= strcmp(rec.lines[i], want) == 0 && rec.levels[i] == i % 4;
        elsewhere &= !pthread_equal(rec.threads[i], pthread_self());
        same_thread &= pthread_equal(rec.threads[i], rec.threads[0]);
    }
    CHECK(in_order);
    CHECK(elsewhere);
    CHECK(same_thread); /* one delivery thread per process */

    /* Lines of a background thread: not delivered on that thread either. */
    rec_reset();
    pthread_t t;
    CHECK(pthread_create(&t, NULL, log_from_another_thread, NULL) == 0);
    pthread_join(t, NULL);
    cshm_log_flush(10);
    CHECK(recorded() == 10);
    int not_t = 1;
    for (int i = 0; i < 10 && i < recorded(); i++)
        not_t &= !pthread_equal(rec.threads[i], t) && !pthread_equal(rec.threads[i], pthread_self());
    CHECK(not_t);
    CHECK(line_is(0, "other 0") && line_is(9, "other 9"));
    cshm_set_log_handler(NULL, NULL);
}

/* Lines not yet taken for delivery go to the new handler. */
static int second_calls;
static void second(int level, const char *message, void *user)
{
    (void)level;
    (void)message;
    (void)user;
    __atomic_add_fetch(&second_calls, 1, __ATOMIC_RELAXED);
}

static void test_a_new_handler_gets_the_lines_not_yet_delivered(void)
{
    rec_reset();
    __atomic_store_n(&second_calls, 0, __ATOMIC_RELAXED);
    cshm_set_log_handler(record, NULL);
    set_hold(1, 0);
    cshm_log(CSHM_LOG_INFO, "in progress");
    CHECK(wait_recorded(1));
    for (int i = 0; i < 3; i++)
        cshm_log(CSHM_LOG_INFO, "queued %d", i);
    cshm_set_log_handler(second, NULL);
    set_hold(0, 0);
    cshm_log_flush(10);
    CHECK(recorded() == 1);
    CHECK(__atomic_load_n(&second_calls, __ATOMIC_RELAXED) == 3);
    cshm_set_log_handler(NULL, NULL);
}

/* ---- (b) a full queue drops and says how many ---------------------------- */

static void test_a_full_queue_drops_and_reports_the_count(void)
{
    rec_reset();
    cshm_set_log_handler(record, NULL);
    /* The delivery thread is held inside the handler: the queue is empty. */
    set_hold(1, 0);
    cshm_log(CSHM_LOG_INFO, "first");
    CHECK(wait_recorded(1));
    for (int i = 0; i < CSHM_LOG_QUEUE_LINES; i++)
        cshm_log(CSHM_LOG_INFO, "fill %d", i);
    for (int i = 0; i < 3; i++)
        cshm_log(CSHM_LOG_INFO, "dropped %d", i);
    /* One line delivered frees a slot: the next line closes the gap. */
    set_hold(1, 1);
    CHECK(wait_recorded(2));
    cshm_log(CSHM_LOG_INFO, "after the gap");
    set_hold(0, 0);
    cshm_log_flush(10);

    CHECK(recorded() == 1 + CSHM_LOG_QUEUE_LINES + 1 + 1);
    CHECK(line_is(0, "first"));
    int fill_in_order = 1;
    for (int i = 0; i < CSHM_LOG_QUEUE_LINES; i++) {
        char want[32];
        snprintf(want, sizeof want, "fill %d", i);
        fill_in_order &= line_is(1 + i, want);
    }
    CHECK(fill_in_order);
    int notice = 1 + CSHM_LOG_QUEUE_LINES;
    CHECK(line_is(notice, "3 log lines dropped (the log handler is too slow)"));
    CHECK(rec.levels[notice] == CSHM_LOG_WARNING);
    CHECK(line_is(notice + 1, "after the gap"));

    /* A gap that nothing follows is reported once the queue drains, and
     * cshm_log_flush waits for that notice too. */
    rec_reset();
    set_hold(1, 0);
    cshm_log(CSHM_LOG_INFO, "first");
    CHECK(wait_recorded(1));
    for (int i = 0; i < CSHM_LOG_QUEUE_LINES + 5; i++)
        cshm_log(CSHM_LOG_INFO, "line %d", i);
    set_hold(0, 0);
    cshm_log_flush(10);
    CHECK(recorded() == 1 + CSHM_LOG_QUEUE_LINES + 1);
    CHECK(line_is(CSHM_LOG_QUEUE_LINES, "line 63"));
    CHECK(line_is(CSHM_LOG_QUEUE_LINES + 1, "5 log lines dropped (the log handler is too slow)"));
    cshm_set_log_handler(NULL, NULL);
}

/* ---- (c) cshm_log_flush ----------------------------------------------------- */

static void test_flush_waits_within_its_bound(void)
{
    rec_reset();
    cshm_set_log_handler(record, NULL);
    rec.delay = 20000;
    for (int i = 0; i < 5; i++)
        cshm_log(CSHM_LOG_INFO, "slow %d", i);
    cshm_log_flush(10);
    CHECK(recorded() == 5); /* all delivered when it returns */

    /* A handler that does not return: the bound holds. */
    rec_reset();
    set_hold(1, 0);
    cshm_log(CSHM_LOG_INFO, "stuck");
    CHECK(wait_recorded(1));
    cshm_log(CSHM_LOG_INFO, "behind it");
    double start = cshm_mono_now();
    cshm_log_flush(0.2);
    double took = cshm_mono_now() - start;
    CHECK(took >= 0.15 && took < 3);
    CHECK(recorded() == 1);
    set_hold(0, 0);
    cshm_log_flush(10);
    CHECK(recorded() == 2);

    /* In a handler it returns at once: the thread would wait for itself. */
    rec_reset();
    rec.flush_inside = 1;
    cshm_log(CSHM_LOG_INFO, "flush from inside");
    cshm_log(CSHM_LOG_INFO, "and another");
    cshm_log_flush(10);
    CHECK(recorded() == 2);
    CHECK(rec.flush_inside_took >= 0 && rec.flush_inside_took < 1);

    /* Nothing queued: immediate. */
    start = cshm_mono_now();
    cshm_log_flush(10);
    CHECK(cshm_mono_now() - start < 1);
    cshm_set_log_handler(NULL, NULL);
}

/* ---- (d) a robust mutex taken in a handler, process SIGKILLed ------------- */

static pthread_mutex_t *child_mutex;
static int child_pipe = -1;

/* An application's handler that takes a process-shared robust mutex (a
 * logging library, a shared-memory log ring) and then stalls. */
static void lock_then_stall(int level, const char *message, void *user)
{
    (void)level;
    (void)message;
    (void)user;
    static int locked;
    if (locked++)
        return;
    char ok = pthread_mutex_lock(child_mutex) == 0 ? 'L' : 'n';
    if (write(child_pipe, &ok, 1) != 1)
        _exit(2);
    for (;;)
        sleep(60);
}

/* Reads one byte within `seconds`; 0 if none came. */
static char read_byte(int fd, int seconds)
{
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    char c = 0;
    if (poll(&p, 1, seconds * 1000) == 1 && read(fd, &c, 1) != 1)
        c = 0;
    return c;
}

static void test_robust_mutex_in_a_handler_is_released_when_the_process_dies(void)
{
    pthread_mutex_t *m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                              -1, 0);
    CHECK(m != MAP_FAILED);
    if (m == MAP_FAILED)
        return;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    CHECK(pthread_mutex_init(m, &attr) == 0);
    pthread_mutexattr_destroy(&attr);
    int fds[2];
    CHECK(pipe(fds) == 0);
    uint16_t port = test_closed_port();

    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child_mutex = m;
        child_pipe = fds[1];
        cshm_set_log_handler(lock_then_stall, NULL);
        /* Private mode: this process's tender thread tends, fails, and logs
         * "cannot reach the cluster" from that thread. */
        cshm_options o;
        cshm_options_init(&o);
        o.shared = 0;
        o.connect_timeout = 0.5;
        char url[64];
        snprintf(url, sizeof url, "redis://127.0.0.1:%u", (unsigned)port);
        cshm_client *c = NULL;
        cshm_error e;
        if (cshm_connect(url, &o, &c, &e) == 0)
            cshm_close(c);
        for (;;)
            sleep(60);
    }
    close(fds[1]);
    CHECK(pid > 0);
    char got = pid > 0 ? read_byte(fds[0], 20) : 0;
    CHECK(got == 'L');
    close(fds[0]);
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    /* The kernel must have marked the dead owner's mutex; before handlers
     * moved off the tender thread this timed out. */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 2;
    int rc = pthread_mutex_timedlock(m, &deadline);
    CHECK(rc == EOWNERDEAD);
    if (rc != EOWNERDEAD)
        fprintf(stderr, "    pthread_mutex_timedlock: %s\n", strerror(rc));
    if (rc == EOWNERDEAD)
        CHECK(pthread_mutex_consistent(m) == 0);
    /* Left locked and unmapped, never unlocked: ThreadSanitizer's
     * pthread_mutex_timedlock does not record a lock that returned
     * EOWNERDEAD, and would report the unlock as one of an unlocked mutex. */
    munmap(m, sizeof *m);
}

/* ---- (e) fork with lines queued ------------------------------------------ */

static int fork_pipe = -1;

static void to_pipe(int level, const char *message, void *user)
{
    (void)level;
    char line[160];
    int n = snprintf(line, sizeof line, "%s|%s\n", message,
                     pthread_equal(pthread_self(), *(pthread_t *)user) ? "main" : "other");
    if (write(fork_pipe, line, (size_t)n) != n)
        _exit(3);
}

static void test_a_fork_child_delivers_its_own_lines(void)
{
    rec_reset();
    cshm_set_log_handler(record, NULL);
    set_hold(1, 0);
    cshm_log(CSHM_LOG_INFO, "parent in progress");
    CHECK(wait_recorded(1));
    cshm_log(CSHM_LOG_INFO, "parent queued 1");
    cshm_log(CSHM_LOG_INFO, "parent queued 2");
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* The parent's queued lines are the parent's: this child gets only
         * its own, from a delivery thread of its own. */
        close(fds[0]);
        fork_pipe = fds[1];
        static pthread_t me;
        me = pthread_self();
        cshm_set_log_handler(to_pipe, &me);
        cshm_log(CSHM_LOG_WARNING, "child line");
        cshm_log_flush(10);
        if (write(fork_pipe, "end\n", 4) != 4)
            _exit(3);
        _exit(0);
    }
    close(fds[1]);
    char out[512];
    size_t len = 0;
    for (;;) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN, .revents = 0};
        if (poll(&p, 1, 20000) != 1)
            break;
        ssize_t n = read(fds[0], out + len, sizeof out - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    out[len] = '\0';
    close(fds[0]);
    int status = -1;
    if (pid > 0)
        waitpid(pid, &status, 0);
    CHECK(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(strcmp(out, "child line|other\nend\n") == 0);
    if (strcmp(out, "child line|other\nend\n") != 0)
        fprintf(stderr, "    child wrote: %s\n", out);

    /* The parent delivers what it had queued, in order. */
    set_hold(0, 0);
    cshm_log_flush(10);
    CHECK(recorded() == 3);
    CHECK(line_is(1, "parent queued 1") && line_is(2, "parent queued 2"));
    cshm_set_log_handler(NULL, NULL);
}

/* ---- (f) closing a client from a handler, and the self-join guard ---------- */

/* A one-node Redis Cluster: CLUSTER SHARDS is unknown (Redis 6), CLUSTER
 * SLOTS gives every slot to this server.  One connection at a time. */
typedef struct tiny_redis {
    int listen_fd;
    uint16_t port;
    pthread_t thread;
    int stop;                    /* atomic */
    resp_text slots;
} tiny_redis;

static void *tiny_serve(void *arg)
{
    tiny_redis *t = arg;
    static const char unknown[] = "-ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP.\r\n";
    int fd = -1;
    while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd p = {.fd = fd >= 0 ? fd : t->listen_fd, .events = POLLIN, .revents = 0};
        if (poll(&p, 1, 20) <= 0)
            continue;
        if (fd < 0) {
            fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            continue;
        }
        /* Requests are small and come one at a time: one read is one. */
        char request[512];
        ssize_t n = recv(fd, request, sizeof request - 1, 0);
        if (n <= 0) {
            close(fd);
            fd = -1;
            continue;
        }
        request[n] = '\0';
        if (strstr(request, "SHARDS") != NULL)
            (void)!send(fd, unknown, sizeof unknown - 1, MSG_NOSIGNAL);
        else if (strstr(request, "SLOTS") != NULL)
            (void)!send(fd, t->slots.bytes, t->slots.len, MSG_NOSIGNAL);
        else
            (void)!send(fd, "-ERR unknown command\r\n", 22, MSG_NOSIGNAL);
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int tiny_start(tiny_redis *t)
{
    memset(t, 0, sizeof *t);
    t->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (t->listen_fd < 0 || bind(t->listen_fd, (struct sockaddr *)&address, length) != 0 ||
        listen(t->listen_fd, 4) != 0 ||
        getsockname(t->listen_fd, (struct sockaddr *)&address, &length) != 0)
        return -1;
    t->port = ntohs(address.sin_port);
    resp_text_add(&t->slots, "*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n");
    resp_text_bulk(&t->slots, "127.0.0.1");
    resp_text_add(&t->slots, ":%u\r\n", (unsigned)t->port);
    resp_text_bulk(&t->slots, "0000000000000000000000000000000000000001");
    resp_text_add(&t->slots, "*0\r\n");
    return pthread_create(&t->thread, NULL, tiny_serve, t) == 0 ? 0 : -1;
}

/* Stops serving and closes the port: the next tend fails. */
static void tiny_stop(tiny_redis *t)
{
    __atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
    pthread_join(t->thread, NULL);
    close(t->listen_fd);
}

static struct {
    cshm_client *client;         /* closed by the handler */
    int rc;                      /* what cshm_close returned; atomic */
    int done;                    /* atomic */
} closer;

static void close_on_unreachable(int level, const char *message, void *user)
{
    (void)level;
    (void)user;
    if (closer.client == NULL || strstr(message, "cannot reach the cluster") == NULL)
        return;
    cshm_client *c = closer.client;
    closer.client = NULL;
    __atomic_store_n(&closer.rc, cshm_close(c), __ATOMIC_RELEASE);
    __atomic_store_n(&closer.done, 1, __ATOMIC_RELEASE);
}

static void test_a_handler_closes_the_client_whose_thread_logged(void)
{
    tiny_redis server;
    CHECK(tiny_start(&server) == 0);
    cshm_options o;
    cshm_options_init(&o);
    o.shared = 0;
    o.tend_interval = 0.05;
    o.connect_timeout = 2;
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%u", (unsigned)server.port);
    cshm_client *c = NULL;
    cshm_error e;
    CHECK(cshm_connect(url, &o, &c, &e) == 0);
    if (c == NULL) {
        fprintf(stderr, "    connect: %s\n", e.message);
        tiny_stop(&server);
        return;
    }
    closer.client = c;
    closer.rc = -99;
    closer.done = 0;
    cshm_set_log_handler(close_on_unreachable, NULL);
    /* The client's own tender thread logs "cannot reach the cluster"; the
     * handler, on the delivery thread, closes that very client. */
    tiny_stop(&server);
    double give_up = cshm_mono_now() + 10;
    while (!__atomic_load_n(&closer.done, __ATOMIC_ACQUIRE) && cshm_mono_now() < give_up)
        usleep(1000);
    CHECK(__atomic_load_n(&closer.done, __ATOMIC_ACQUIRE));
    CHECK(__atomic_load_n(&closer.rc, __ATOMIC_ACQUIRE) == 0);
    cshm_set_log_handler(NULL, NULL);
    cshm_log_flush(10);
    if (!__atomic_load_n(&closer.done, __ATOMIC_ACQUIRE) && closer.client != NULL)
        cshm_close(closer.client);
}

/* The guard itself: a thread registered as a client's background thread
 * asks to stop (and to close) that client.  Before the guard, stop spun
 * forever on a join of itself. */
typedef struct self_stop {
    cshm_client *client;
    int close_rc;
    int returned;                /* atomic */
} self_stop;

static void *stop_myself(void *arg)
{
    self_stop *s = arg;
    s->client->thread = pthread_self();
    s->client->thread_running = 1;
    cshm_thread_stop(s->client);
    s->close_rc = cshm_close(s->client);
    __atomic_store_n(&s->returned, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_a_client_thread_cannot_stop_or_close_itself(void)
{
    /* Only the fields the guard looks at: the refusal comes first. */
    static cshm_client fake;
    memset(&fake, 0, sizeof fake);
    fake.fork_generation = cshm_current_fork_generation();
    self_stop s = {.client = &fake, .close_rc = 0, .returned = 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, stop_myself, &s) == 0);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    int joined = pthread_timedjoin_np(t, NULL, &deadline) == 0;
    CHECK(joined);
    if (!joined) {
        /* Stuck in the join of itself: leave it, the CHECK failed. */
        pthread_detach(t);
        return;
    }
    CHECK(__atomic_load_n(&s.returned, __ATOMIC_ACQUIRE));
    CHECK(s.close_rc == CSHM_ERR_STATE);
    /* Nothing was done: not asked to stop, still marked running. */
    CHECK(fake.stop == 0 && fake.thread_running == 1);
    CHECK(cshm_close(NULL) == 0);
}

void suite_log(void)
{
    /* Lines of earlier suites' clients are theirs. */
    cshm_log_flush(10);
    RUN(test_lines_arrive_in_order_on_the_delivery_thread);
    RUN(test_a_new_handler_gets_the_lines_not_yet_delivered);
    RUN(test_a_full_queue_drops_and_reports_the_count);
    RUN(test_flush_waits_within_its_bound);
    RUN(test_robust_mutex_in_a_handler_is_released_when_the_process_dies);
    RUN(test_a_fork_child_delivers_its_own_lines);
    RUN(test_a_handler_closes_the_client_whose_thread_logged);
    RUN(test_a_client_thread_cannot_stop_or_close_itself);
    cshm_set_log_handler(NULL, NULL);
}
