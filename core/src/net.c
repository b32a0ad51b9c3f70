/*
 * net.c - see net.h.
 *
 * Name resolution: numeric addresses are converted locally; names go through
 * getaddrinfo_a() so that a hanging DNS server cannot hold the caller past
 * its deadline.  A lookup abandoned at its deadline may still be running in
 * glibc's helper thread, so its memory is shared between us and the
 * completion notification and freed by whichever lets go last (a reference
 * count of two).  All I/O uses MSG_DONTWAIT and poll(), so it never blocks
 * even on a socket someone else left in blocking mode.
 */
#include "net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "clustershm.h"
#include "error.h"

/* A name with more addresses than this is tried on its first ones only. */
#define MAX_ADDRESSES 16

typedef struct address_list {
    struct sockaddr_storage addresses[MAX_ADDRESSES];
    socklen_t lengths[MAX_ADDRESSES];
    size_t count;
} address_list;

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

static int numeric_address(const char *host, uint16_t port, address_list *out)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    if (inet_pton(AF_INET, host, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(port);
        memcpy(&out->addresses[0], &v4, sizeof v4);
        out->lengths[0] = sizeof v4;
        out->count = 1;
        return 1;
    }
    if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(port);
        memcpy(&out->addresses[0], &v6, sizeof v6);
        out->lengths[0] = sizeof v6;
        out->count = 1;
        return 1;
    }
    return 0;
}

/* One asynchronous lookup, shared with glibc's completion notification. */
typedef struct lookup {
    struct gaicb request;
    struct addrinfo hints;
    char name[CSHM_HOST_MAX];
    char service[8];
    int references;
} lookup;

static void lookup_release(lookup *l)
{
    if (__atomic_sub_fetch(&l->references, 1, __ATOMIC_ACQ_REL) == 0) {
        if (l->request.ar_result != NULL)
            freeaddrinfo(l->request.ar_result);
        free(l);
    }
}

static void lookup_finished(union sigval value)
{
    lookup_release(value.sival_ptr);
}

static int resolve_name(const char *host, uint16_t port, double deadline, double started,
                        address_list *out, char *error, size_t error_size)
{
    size_t host_len = strlen(host);
    if (host_len == 0 || host_len >= CSHM_HOST_MAX) {
        cshm_format_error(error, error_size, "invalid host name (%zu bytes)", host_len);
        return -1;
    }
    lookup *l = calloc(1, sizeof *l);
    if (l == NULL) {
        cshm_format_error(error, error_size, "out of memory resolving '%.64s'", host);
        return -1;
    }
    memcpy(l->name, host, host_len + 1);
    snprintf(l->service, sizeof l->service, "%u", (unsigned)port);
    l->hints.ai_family = AF_UNSPEC;
    l->hints.ai_socktype = SOCK_STREAM;
    l->hints.ai_protocol = IPPROTO_TCP;
    l->hints.ai_flags = AI_NUMERICSERV;
    l->request.ar_name = l->name;
    l->request.ar_service = l->service;
    l->request.ar_request = &l->hints;
    l->references = 2;

    struct sigevent notify;
    memset(&notify, 0, sizeof notify);
    notify.sigev_notify = SIGEV_THREAD;
    notify.sigev_notify_function = lookup_finished;
    notify.sigev_value.sival_ptr = l;
    struct gaicb *list[1] = {&l->request};
    int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &notify);
    if (rc != 0) {
        /* Not queued: no notification will come. */
        free(l);
        cshm_format_error(error, error_size, "cannot resolve '%.64s': %s", host, gai_strerror(rc));
        return -1;
    }
    while ((rc = gai_error(&l->request)) == EAI_INPROGRESS) {
        double left = deadline - cshm_mono_now();
        if (left <= 0)
            break;
        struct timespec wait = cshm_timespec_from_seconds(left);
        const struct gaicb *const *waiting = (const struct gaicb *const *)list;
        gai_suspend(waiting, 1, &wait);
    }
    if (rc == EAI_INPROGRESS) {
        if (gai_cancel(&l->request) == EAI_CANCELED)
            lookup_release(l);   /* dequeued: the notification's reference too */
        lookup_release(l);
        cshm_format_error(error, error_size, "timed out after %.1f s resolving '%.64s'",
                  budget_of(started, deadline), host);
        return -1;
    }
    if (rc != 0) {
        lookup_release(l);
        cshm_format_error(error, error_size, "cannot resolve '%.64s': %s", host, gai_strerror(rc));
        return -1;
    }
    out->count = 0;
    for (const struct addrinfo *ai = l->request.ar_result; ai != NULL && out->count < MAX_ADDRESSES;
         ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof out->addresses[0])
            continue;
        memcpy(&out->addresses[out->count], ai->ai_addr, ai->ai_addrlen);
        out->lengths[out->count] = ai->ai_addrlen;
        out->count++;
    }
    lookup_release(l);
    if (out->count == 0) {
        cshm_format_error(error, error_size, "cannot resolve '%.64s': no IPv4 or IPv6 address", host);
        return -1;
    }
    return 0;
}

/* 0 connected, 1 this address failed (*failure = errno), -1 deadline passed. */
static int connect_one(const struct sockaddr_storage *address, socklen_t length, double deadline,
                       int *fd_out, int *failure)
{
    int fd = socket(address->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) {
        *failure = errno;
        return 1;
    }
    /* A non-blocking connect interrupted by a signal goes on in the
     * background, exactly like EINPROGRESS. */
    if (connect(fd, (const struct sockaddr *)address, length) != 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
            *failure = errno;
            close(fd);
            return 1;
        }
        int ready = wait_for(fd, POLLOUT, deadline);
        if (ready == 0) {
            close(fd);
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
            close(fd);
            return 1;
        }
    }
    /* Failure only costs latency, never correctness. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *fd_out = fd;
    return 0;
}

int cshm_net_connect(const char *host, uint16_t port, double deadline, int *fd_out,
                     char *error, size_t error_size)
{
    double started = cshm_mono_now();
    address_list list;
    *fd_out = -1;
    if (port == 0) {
        cshm_format_error(error, error_size, "invalid port 0");
        return -1;
    }
    if (!numeric_address(host, port, &list) &&
        resolve_name(host, port, deadline, started, &list, error, error_size) != 0)
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

int cshm_net_write_all(int fd, const void *data, size_t len, double deadline, char *error,
                       size_t error_size)
{
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

void cshm_net_close(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
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
