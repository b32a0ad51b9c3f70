/*
 * test_net.c - sockets with deadlines: connect (numeric, by name, refused,
 * timed out), writes that cannot finish, a peer that went away (no
 * SIGPIPE), waits that signals interrupt but do not cut short, and fork
 * children that do not keep the parent's connections.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "net.h"
#include "resolve.h"
#include "test.h"
#include "test_ports.h"

void suite_net(void);

/* A listening socket on an ephemeral port of addr (AF_INET or AF_INET6
 * loopback); -1 when the family is not available here. */
static int listen_loopback(int family, int backlog, uint16_t *port)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_storage address;
    socklen_t length;
    memset(&address, 0, sizeof address);
    if (family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        length = sizeof *v4;
    } else {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
        v6->sin6_family = AF_INET6;
        v6->sin6_addr = in6addr_loopback;
        length = sizeof *v6;
    }
    if (bind(fd, (struct sockaddr *)&address, length) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&address)->sin_port
                                    : ((struct sockaddr_in6 *)&address)->sin6_port);
    return fd;
}

static void test_net_connect_numeric_and_by_name(void)
{
    uint16_t port;
    int listener = listen_loopback(AF_INET, 8, &port);
    CHECK(listener >= 0);
    char error[CSHM_NET_ERROR_MAX] = "";
    int fd = -1;
    CHECK(cshm_net_connect("127.0.0.1", port, cshm_mono_now() + 2, 0, &fd, error, sizeof error) ==
          0);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
        int nodelay = 0;
        socklen_t length = sizeof nodelay;
        CHECK(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &length) == 0 && nodelay);
    }
    cshm_net_close(&fd);
    CHECK(fd == -1);
    cshm_net_close(&fd);   /* closing twice is harmless */

    /* "localhost" goes through the resolver's lookup thread; if it resolves
     * to ::1 first, that address is refused and 127.0.0.1 is tried next.
     * Twice within cache_seconds: the second connect starts no lookup. */
    uint64_t lookups = cshm_resolve_lookups_started();
    for (int i = 0; i < 2; i++) {
        CHECK(cshm_net_connect("localhost", port, cshm_mono_now() + 5, 60, &fd, error,
                               sizeof error) == 0);
        if (fd < 0)
            fprintf(stderr, "    localhost: %s\n", error);
        cshm_net_close(&fd);
    }
    CHECK(cshm_resolve_lookups_started() <= lookups + 1);
    close(listener);

    uint16_t port6;
    int listener6 = listen_loopback(AF_INET6, 8, &port6);
    if (listener6 >= 0) {
        CHECK(cshm_net_connect("::1", port6, cshm_mono_now() + 2, 0, &fd, error, sizeof error) ==
              0);
        cshm_net_close(&fd);
        close(listener6);
    } else {
        printf("     (no IPv6 loopback here: IPv6 connect not tested)\n");
    }
}

static void test_net_connect_failures(void)
{
    char error[CSHM_NET_ERROR_MAX] = "";
    int fd = 123;
    CHECK(cshm_net_connect("127.0.0.1", test_closed_port(), cshm_mono_now() + 2, 0, &fd, error,
                           sizeof error) == -1);
    CHECK(fd == -1);
    CHECK(strcmp(error, "connection refused") == 0);

    CHECK(cshm_net_connect("127.0.0.1", 0, cshm_mono_now() + 2, 0, &fd, error, sizeof error) ==
          -1);
    CHECK(strstr(error, "port 0") != NULL);

    /* .invalid never resolves (RFC 2606); a resolver that cannot be reached
     * at all is cut off by the deadline instead.  Failures are not cached,
     * so the second attempt asks again. */
    for (int i = 0; i < 2; i++) {
        double started = cshm_mono_now();
        uint64_t lookups = cshm_resolve_lookups_started();
        CHECK(cshm_net_connect("no-such-host.invalid", 6379, started + 3, 10, &fd, error,
                               sizeof error) == -1);
        CHECK(strncmp(error, "cannot resolve 'no-such-host.invalid'", 37) == 0 ||
              strncmp(error, "timed out after 3.0 s resolving", 31) == 0);
        CHECK(cshm_mono_now() - started < 4.0);
        CHECK(cshm_resolve_lookups_started() == lookups + 1);
    }

    /* A small error buffer is filled, truncated, never overrun. */
    char tiny[8];
    CHECK(cshm_net_connect("127.0.0.1", test_closed_port(), cshm_mono_now() + 2, 0, &fd, tiny,
                           sizeof tiny) == -1);
    CHECK(strcmp(tiny, "connect") == 0);
}

static void test_net_connect_timeout(void)
{
    /* A listener whose accept queue is full drops new SYNs, so connect()
     * hangs: the deadline must end it. */
    uint16_t port;
    int listener = listen_loopback(AF_INET, 0, &port);
    CHECK(listener >= 0);
    int fillers[8];
    size_t filled = 0;
    for (; filled < 8; filled++) {
        fillers[filled] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connect(fillers[filled], (struct sockaddr *)&to, sizeof to);
    }
    usleep(50000);
    char error[CSHM_NET_ERROR_MAX] = "";
    int fd = -1;
    double started = cshm_mono_now();
    int rc = cshm_net_connect("127.0.0.1", port, started + 0.3, 0, &fd, error, sizeof error);
    double waited = cshm_mono_now() - started;
    CHECK(rc == -1);
    CHECK(strcmp(error, "timed out after 0.3 s connecting") == 0);
    CHECK(waited >= 0.29 && waited < 2.0);
    cshm_net_close(&fd);
    for (size_t i = 0; i < filled; i++)
        close(fillers[i]);
    close(listener);
}

static void test_net_write_timeout_and_broken_pipe(void)
{
    int pair[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    size_t big = 16u << 20;
    char *data = calloc(1, big);
    CHECK(data != NULL);
    if (data == NULL)
        return;
    char error[CSHM_NET_ERROR_MAX] = "";
    double started = cshm_mono_now();
    CHECK(cshm_net_write_all(pair[0], data, big, started + 0.2, error, sizeof error) == -1);
    CHECK(strcmp(error, "timed out after 0.2 s writing") == 0);
    CHECK(cshm_mono_now() - started >= 0.19);

    /* The reader is gone: EPIPE, and this process is still alive (no SIGPIPE). */
    close(pair[1]);
    CHECK(cshm_net_write_all(pair[0], data, 10, cshm_mono_now() + 1, error, sizeof error) == -1);
    CHECK(strcmp(error, "broken pipe while writing") == 0 ||
          strcmp(error, "connection reset by peer while writing") == 0);
    close(pair[0]);
    free(data);
}

static void on_signal(int signal_number)
{
    (void)signal_number;
}

typedef struct interrupter {
    pthread_t target;
    int stop;
} interrupter;

static void *interrupt_repeatedly(void *arg)
{
    interrupter *in = arg;
    while (!__atomic_load_n(&in->stop, __ATOMIC_ACQUIRE)) {
        pthread_kill(in->target, SIGUSR1);
        usleep(20000);
    }
    return NULL;
}

static void test_net_read_survives_signals(void)
{
    struct sigaction action, previous;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;   /* no SA_RESTART: poll returns EINTR */
    sigemptyset(&action.sa_mask);
    CHECK(sigaction(SIGUSR1, &action, &previous) == 0);

    int pair[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    interrupter in = {.target = pthread_self(), .stop = 0};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, interrupt_repeatedly, &in) == 0);
    char byte;
    char error[CSHM_NET_ERROR_MAX] = "";
    double started = cshm_mono_now();
    CHECK(cshm_net_read_some(pair[0], &byte, 1, started + 0.3, error, sizeof error) == -1);
    double waited = cshm_mono_now() - started;
    __atomic_store_n(&in.stop, 1, __ATOMIC_RELEASE);
    pthread_join(thread, NULL);
    CHECK(waited >= 0.29 && waited < 2.0);
    CHECK(strcmp(error, "timed out after 0.3 s reading") == 0);

    /* Data that is already there is returned at once. */
    CHECK(write(pair[1], "xy", 2) == 2);
    char two[8];
    CHECK(cshm_net_read_some(pair[0], two, sizeof two, cshm_mono_now() + 1, error,
                             sizeof error) == 2);
    CHECK(cshm_net_read_some(pair[0], two, 0, cshm_mono_now() + 1, error, sizeof error) == -1);
    close(pair[0]);
    close(pair[1]);
    sigaction(SIGUSR1, &previous, NULL);
}

/* In the child: 0 when fd is closed, 1 when it is still open, 2 when
 * other_fd (not ours) was closed. */
static int child_checks(int fd, int other_fd)
{
    errno = 0;
    if (!(fcntl(fd, F_GETFD) == -1 && errno == EBADF))
        return 1;
    if (other_fd >= 0 && fcntl(other_fd, F_GETFD) == -1)
        return 2;
    return 0;
}

static int child_status(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_net_fork_child_does_not_keep_sockets(void)
{
    uint16_t port;
    int listener = listen_loopback(AF_INET, 8, &port);
    CHECK(listener >= 0);
    char error[CSHM_NET_ERROR_MAX] = "";
    int fd = -1;
    CHECK(cshm_net_connect("127.0.0.1", port, cshm_mono_now() + 2, 0, &fd, error, sizeof error) ==
          0);
    int server = accept(listener, NULL, NULL);
    CHECK(server >= 0 && fd >= 0);
    if (server < 0 || fd < 0)
        return;

    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
        _exit(child_checks(fd, -1));
    CHECK(pid > 0);
    CHECK(child_status(pid) == 0);

    /* The parent's socket is untouched: a round trip through it. */
    char reply[8] = "";
    CHECK(cshm_net_write_all(fd, "ping", 4, cshm_mono_now() + 2, error, sizeof error) == 0);
    char got[8] = "";
    ssize_t n = 0;
    while (n < 4) {
        ssize_t r = recv(server, got + n, sizeof got - 1 - (size_t)n, 0);
        if (r <= 0)
            break;
        n += r;
    }
    CHECK(n == 4 && memcmp(got, "ping", 4) == 0);
    CHECK(send(server, "pong", 4, MSG_NOSIGNAL) == 4);
    ssize_t m = 0;
    while (m < 4) {
        ssize_t r = cshm_net_read_some(fd, reply + m, 4 - (size_t)m, cshm_mono_now() + 2, error,
                                       sizeof error);
        if (r < 0)
            break;
        m += r;
    }
    CHECK(m == 4 && memcmp(reply, "pong", 4) == 0);

    /* Closed sockets leave the registry before their number is free: a
     * descriptor that reuses the number is the application's, and a fork
     * child must keep it. */
    int old = fd;
    cshm_net_close(&fd);
    int pipe_fds[2];
    CHECK(pipe(pipe_fds) == 0);
    int reused = pipe_fds[0] == old ? pipe_fds[0] : pipe_fds[1] == old ? pipe_fds[1] : -1;
    if (reused < 0)
        printf("     (descriptor %d not reused by pipe(): reuse not tested)\n", old);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0)
        _exit(reused >= 0 && fcntl(reused, F_GETFD) == -1 ? 2 : 0);
    CHECK(pid > 0);
    CHECK(child_status(pid) == 0);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    close(server);
    close(listener);
}

static void test_net_format_endpoint(void)
{
    char out[64];
    cshm_net_format_endpoint(out, sizeof out, "127.0.0.1", 7000);
    CHECK(strcmp(out, "127.0.0.1:7000") == 0);
    cshm_net_format_endpoint(out, sizeof out, "::1", 7000);
    CHECK(strcmp(out, "[::1]:7000") == 0);
    cshm_net_format_endpoint(out, sizeof out, "redis-0.example", 6379);
    CHECK(strcmp(out, "redis-0.example:6379") == 0);
}

void suite_net(void)
{
    RUN(test_net_connect_numeric_and_by_name);
    RUN(test_net_connect_failures);
    RUN(test_net_connect_timeout);
    RUN(test_net_write_timeout_and_broken_pipe);
    RUN(test_net_read_survives_signals);
    RUN(test_net_fork_child_does_not_keep_sockets);
    RUN(test_net_format_endpoint);
}
