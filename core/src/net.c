/*
 * net.c - see net.h.
 *
 * Names and numeric addresses both go through cshm_resolve() (resolve.h),
 * which bounds a lookup by the caller's deadline and keeps working in fork
 * children.  All I/O uses MSG_DONTWAIT and poll(), so it never blocks even
 * on a socket someone else left in blocking mode.
 *
 * The socket registry is a fixed array because the fork child handler that
 * walks it should do nothing but close() and plain stores: no allocation,
 * no pointers into memory another thread of the parent may have been
 * changing at the moment of the fork.
 */
#include "net.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "resolve.h"
#include "tls.h"

/* fd + 1 of each registered socket, 0 for a free entry, and its TLS
 * session (NULL for plain TCP); under registry_lock (taken across fork(), so
 * the child handler sees a settled array).  A session is used only by the
 * thread that owns the socket: the lock guards the entry, not the session. */
typedef struct registered {
    int fd_plus_one;
    cshm_tls_session *tls;
} registered;
static registered registry[CSHM_NET_REGISTRY_MAX];
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void before_fork(void)
{
    pthread_mutex_lock(&registry_lock);
}

static void after_fork_in_parent(void)
{
    pthread_mutex_unlock(&registry_lock);
}

/* The child's copies of the parent's cluster connections go at once: a
 * child that kept them would hold the parent's TCP connections open after
 * the parent closed them, and any byte it wrote would corrupt the parent's
 * request stream. */
static void after_fork_in_child(void)
{
    for (size_t i = 0; i < CSHM_NET_REGISTRY_MAX; i++) {
        if (registry[i].fd_plus_one != 0) {
            close(registry[i].fd_plus_one - 1);
            registry[i].fd_plus_one = 0;
        }
        /* Left behind, never freed: the parent's thread may have been
         * inside it at the fork (tls.h). */
        registry[i].tls = NULL;
    }
    /* Only the forking thread exists here, and it took the lock. */
    pthread_mutex_unlock(&registry_lock);
}

static void register_atfork(void)
{
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
}

/* socket() and its registry entry, with no fork() in between. */
static int open_registered(int family)
{
    pthread_mutex_lock(&registry_lock);
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    int saved = errno;
    if (fd >= 0) {
        for (size_t i = 0; i < CSHM_NET_REGISTRY_MAX; i++) {
            if (registry[i].fd_plus_one == 0) {
                registry[i].fd_plus_one = fd + 1;
                registry[i].tls = NULL;
                break;
            }
        }
    }
    pthread_mutex_unlock(&registry_lock);
    errno = saved;
    return fd;
}

/* Out of the registry, then close(): the registry must never name a number
 * that is free again, or a fork child would close whatever reused it. */
static void close_registered(int fd)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < CSHM_NET_REGISTRY_MAX; i++) {
        if (registry[i].fd_plus_one == fd + 1) {
            assert(registry[i].tls == NULL);
            registry[i].fd_plus_one = 0;
            break;
        }
    }
    close(fd);
    pthread_mutex_unlock(&registry_lock);
}

/* The TLS session of fd, NULL for plain TCP (or an unregistered socket). */
static cshm_tls_session *session_of(int fd)
{
    cshm_tls_session *found = NULL;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < CSHM_NET_REGISTRY_MAX; i++) {
        if (registry[i].fd_plus_one == fd + 1) {
            found = registry[i].tls;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return found;
}

/* Attach (or, with NULL, detach and return) fd's session.  -1 when fd is
 * not registered (the registry was full). */
static int swap_session(int fd, cshm_tls_session *tls, cshm_tls_session **old)
{
    int rc = -1;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < CSHM_NET_REGISTRY_MAX; i++) {
        if (registry[i].fd_plus_one == fd + 1) {
            if (old != NULL)
                *old = registry[i].tls;
            registry[i].tls = tls;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return rc;
}

/* strerror text with a lower-case first letter, to read well after "host:port: ". */
static void errno_text(int err, char *out, size_t out_size)
{
    char scratch[128];
    const char *text = strerror_r(err, scratch, sizeof scratch);
    snprintf(out, out_size, "%s", text);
    if (out_size > 0 && isupper((unsigned char)out[0]))
        out[0] = (char)tolower((unsigned char)out[0]);
}

static double budget_of(double started, double deadline)
{
    return deadline > started ? deadline - started : 0.0;
}

/* 1 when fd is ready for events, 0 when the deadline passed first, -1 when
 * poll() itself failed (errno set). */
static int wait_for(int fd, short events, double deadline)
{
    for (;;) {
        double left = deadline - cshm_mono_now();
        if (left <= 0)
            return 0;
        /* Rounded up: poll must not wake before the deadline and spin. */
        int ms = left >= (double)(INT_MAX / 1000) ? INT_MAX : (int)(left * 1000.0) + 1;
        struct pollfd pfd = {.fd = fd, .events = events, .revents = 0};
        int ready = poll(&pfd, 1, ms);
        if (ready > 0)
            return 1;
        if (ready < 0 && errno != EINTR)
            return -1;
    }
}

/* 0 connected, 1 this address failed (*failure = errno), -1 deadline passed. */
static int connect_one(const struct sockaddr_storage *address, socklen_t length, double deadline,
                       int *fd_out, int *failure)
{
    int fd = open_registered(address->ss_family);
    if (fd < 0) {
        *failure = errno;
        return 1;
    }
    /* A non-blocking connect interrupted by a signal goes on in the
     * background, exactly like EINPROGRESS. */
    if (connect(fd, (const struct sockaddr *)address, length) != 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
            *failure = errno;
            close_registered(fd);
            return 1;
        }
        int ready = wait_for(fd, POLLOUT, deadline);
        if (ready == 0) {
            close_registered(fd);
            return -1;
        }
        int so_error = 0;
        socklen_t so_length = sizeof so_error;
        if (ready < 0)
            so_error = errno;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_length) != 0)
            so_error = errno;
        if (so_error != 0) {
            *failure = so_error;
            close_registered(fd);
            return 1;
        }
    }
    /* Failure only costs latency, never correctness. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *fd_out = fd;
    return 0;
}

int cshm_net_connect(const char *host, uint16_t port, double deadline, double cache_seconds,
                     int *fd_out, char *error, size_t error_size)
{
    double started = cshm_mono_now();
    cshm_address_list list;
    *fd_out = -1;
    if (port == 0) {
        cshm_format_error(error, error_size, "invalid port 0");
        return -1;
    }
    /* Before the first socket: a fork must find the child handler in place. */
    pthread_once(&atfork_once, register_atfork);
    if (cshm_resolve(host, port, deadline, cache_seconds, &list, error, error_size) != 0)
        return -1;
    int failure = 0;
    for (size_t i = 0; i < list.count; i++) {
        int rc = connect_one(&list.addresses[i], list.lengths[i], deadline, fd_out, &failure);
        if (rc == 0)
            return 0;
        if (rc < 0) {
            cshm_format_error(error, error_size, "timed out after %.1f s connecting",
                      budget_of(started, deadline));
            return -1;
        }
    }
    errno_text(failure, error, error_size);
    return -1;
}

/* Wait for what a TLS call asked for (want: CSHM_TLS_WANT_*).  0 ready, -1
 * with the reason written. */
static int wait_for_tls(int fd, ssize_t want, double started, double deadline,
                        const char *doing, char *error, size_t error_size)
{
    int ready = wait_for(fd, want == CSHM_TLS_WANT_WRITE ? POLLOUT : POLLIN, deadline);
    if (ready == 0) {
        cshm_format_error(error, error_size, "timed out after %.1f s %s",
                          budget_of(started, deadline), doing);
        return -1;
    }
    if (ready < 0) {
        char reason[96];
        errno_text(errno, reason, sizeof reason);
        cshm_format_error(error, error_size, "%s while %s", reason, doing);
        return -1;
    }
    return 0;
}

int cshm_net_start_tls(int fd, cshm_tls_context *context, const char *server_name,
                       double deadline, char *error, size_t error_size)
{
    double started = cshm_mono_now();
    cshm_tls_session *session;
    if (cshm_tls_session_new(context, fd, server_name, &session, error, error_size) != 0)
        return -1;
    if (swap_session(fd, session, NULL) != 0) {
        cshm_tls_session_free(session);
        cshm_format_error(error, error_size,
                          "more than %d cluster connections open in this process; TLS needs "
                          "each in the registry",
                          CSHM_NET_REGISTRY_MAX);
        return -1;
    }
    for (;;) {
        int rc = cshm_tls_handshake(session, error, error_size);
        if (rc == 0)
            return 0;
        if (rc == CSHM_TLS_FAILED)
            return -1;
        if (wait_for_tls(fd, rc, started, deadline, "in the TLS handshake", error,
                         error_size) != 0)
            return -1;
    }
}

static int tls_write_all(int fd, cshm_tls_session *session, const unsigned char *at, size_t len,
                         double deadline, char *error, size_t error_size)
{
    double started = cshm_mono_now();
    while (len > 0) {
        ssize_t sent = cshm_tls_write(session, at, len, error, error_size);
        if (sent > 0) {
            at += sent;
            len -= (size_t)sent;
            continue;
        }
        if (sent == CSHM_TLS_FAILED)
            return -1;
        if (wait_for_tls(fd, sent, started, deadline, "writing", error, error_size) != 0)
            return -1;
    }
    return 0;
}

int cshm_net_write_all(int fd, const void *data, size_t len, double deadline, char *error,
                       size_t error_size)
{
    cshm_tls_session *session = session_of(fd);
    if (session != NULL)
        return tls_write_all(fd, session, data, len, deadline, error, error_size);
    double started = cshm_mono_now();
    const unsigned char *at = data;
    while (len > 0) {
        ssize_t sent = send(fd, at, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) {
            at += sent;
            len -= (size_t)sent;
            continue;
        }
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            char reason[96];
            errno_text(errno, reason, sizeof reason);
            cshm_format_error(error, error_size, "%s while writing", reason);
            return -1;
        }
        int ready = wait_for(fd, POLLOUT, deadline);
        if (ready == 0) {
            cshm_format_error(error, error_size, "timed out after %.1f s writing",
                      budget_of(started, deadline));
            return -1;
        }
        if (ready < 0) {
            char reason[96];
            errno_text(errno, reason, sizeof reason);
            cshm_format_error(error, error_size, "%s while writing", reason);
            return -1;
        }
    }
    return 0;
}

ssize_t cshm_net_read_some(int fd, void *buffer, size_t capacity, double deadline, char *error,
                           size_t error_size)
{
    double started = cshm_mono_now();
    if (capacity == 0) {
        cshm_format_error(error, error_size, "no room to read into");
        return -1;
    }
    cshm_tls_session *session = session_of(fd);
    while (session != NULL) {
        ssize_t got = cshm_tls_read(session, buffer, capacity, error, error_size);
        if (got > 0)
            return got;
        if (got == CSHM_TLS_FAILED)
            return -1;
        if (wait_for_tls(fd, got, started, deadline, "reading", error, error_size) != 0)
            return -1;
    }
    for (;;) {
        ssize_t got = recv(fd, buffer, capacity, MSG_DONTWAIT);
        if (got > 0)
            return got;
        if (got == 0) {
            cshm_format_error(error, error_size, "connection closed by the server");
            return -1;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            char reason[96];
            errno_text(errno, reason, sizeof reason);
            cshm_format_error(error, error_size, "%s while reading", reason);
            return -1;
        }
        int ready = wait_for(fd, POLLIN, deadline);
        if (ready == 0) {
            cshm_format_error(error, error_size, "timed out after %.1f s reading",
                      budget_of(started, deadline));
            return -1;
        }
        if (ready < 0) {
            char reason[96];
            errno_text(errno, reason, sizeof reason);
            cshm_format_error(error, error_size, "%s while reading", reason);
            return -1;
        }
    }
}

int cshm_net_read_exact(int fd, void *buffer, size_t len, double deadline, char *error,
                        size_t error_size)
{
    unsigned char *at = buffer;
    size_t got = 0;
    while (got < len) {
        ssize_t n = cshm_net_read_some(fd, at + got, len - got, deadline, error, error_size);
        if (n < 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

void cshm_net_close(int *fd)
{
    if (*fd >= 0) {
        /* The session first, outside the registry lock (tls.c's lock never
         * nests with it); a fork between the two leaves the child nothing
         * to do but close the socket, as for plain TCP. */
        cshm_tls_session *session = NULL;
        (void)swap_session(*fd, NULL, &session);
        cshm_tls_session_free(session);
        close_registered(*fd);
        *fd = -1;
    }
}

void cshm_net_format_endpoint(char *out, size_t out_size, const char *host, uint16_t port)
{
    if (strchr(host, ':') != NULL)
        snprintf(out, out_size, "[%s]:%u", host, (unsigned)port);
    else
        snprintf(out, out_size, "%s:%u", host, (unsigned)port);
}
