/*
 * net.h - TCP client sockets where every operation has a deadline.
 *
 * Invariants:
 *  - No call blocks past its deadline (monotonic seconds, cshm_mono_now()):
 *    name resolution (resolve.h: a lookup thread the caller stops waiting
 *    for at the deadline), connect, write and read (poll()) are all bounded
 *    by it.  EINTR never ends a wait early and never makes it longer than
 *    the deadline.
 *  - Sockets are non-blocking, close-on-exec, TCP_NODELAY; writes use
 *    MSG_NOSIGNAL so a peer that went away gives an error, never SIGPIPE.
 *  - Failures return -1 and write a short lower-case reason into the caller's
 *    buffer, without the address ("connection refused", "timed out after
 *    1.0 s connecting"): callers prefix "host:port: " themselves, so a list of
 *    failures reads "127.0.0.1:7001: connection refused; ...".
 *  - TLS connections are the same sockets with a session attached in the
 *    registry (cshm_net_start_tls): reads, writes and the handshake poll
 *    under the same deadlines.  A fork child closes their sockets like any
 *    other and leaves their sessions behind unused (tls.h).
 *  - A fork child never keeps the parent's connections.  Every socket
 *    cshm_net_connect() opens is entered in a process-wide registry (up to
 *    CSHM_NET_REGISTRY_MAX at a time; beyond that a socket is not entered,
 *    and only close-on-exec protects it), and a pthread_atfork child handler
 *    closes every registered descriptor and empties the registry, so a
 *    child that never calls the library again holds none of them either.
 *    Entering and leaving the registry happen under a lock that fork() is
 *    made to wait for, together with the socket() and close() they go with,
 *    so no fork falls between a socket's creation (or closing) and its
 *    registry entry.
 *
 * The fork contract for callers (drivers and the core):
 *  - In a fork child every descriptor that a cshm_net_connect() of the
 *    parent returned is void: closed by the child handler before fork()
 *    returns there, so its number is free for the application's next open().
 *    The child must neither use it nor pass it to cshm_net_close(): the
 *    registry no longer names it, and closing it would close whatever the
 *    application has since opened under that number.  Closing a number twice
 *    is the one danger left, and only the holder of the copy (a driver's
 *    state, which net.c cannot see) can avoid it: so the core leaks a driver
 *    state inherited from the parent in the child, never destroys it
 *    (destroy() closes its descriptors), and creates a new driver there.
 */
#ifndef CSHM_NET_H
#define CSHM_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Enough for every reason net.c writes (callers may pass less: it truncates). */
#define CSHM_NET_ERROR_MAX 160

/* Sockets of cshm_net_connect() open at one time that a fork child closes. */
#define CSHM_NET_REGISTRY_MAX 256

/* Connect to host (a name, an IPv4 or an IPv6 address without brackets) and
 * port, trying every address the name resolves to until one accepts or the
 * deadline passes.  A name resolved less than cache_seconds ago (by any
 * thread of this process) is not looked up again: callers pass their tend
 * interval, so a tend that reconnects costs no lookup, and a name that moved
 * is seen at the next tend; <= 0 always looks the name up.  Returns 0 and
 * the socket in *fd_out, or -1. */
int cshm_net_connect(const char *host, uint16_t port, double deadline, double cache_seconds,
                     int *fd_out, char *error, size_t error_size);

struct cshm_tls_context;

/* Turn fd (from cshm_net_connect) into a TLS connection: the handshake,
 * bounded by the deadline, verifying the server against server_name (see
 * tls.h).  From then on cshm_net_write_all / cshm_net_read_some speak TLS
 * on fd, and cshm_net_close frees the session.  0, or -1 (the caller closes
 * fd with cshm_net_close as usual). */
int cshm_net_start_tls(int fd, struct cshm_tls_context *context, const char *server_name,
                       double deadline, char *error, size_t error_size);

/* Send all len bytes.  Returns 0, or -1 (the connection is then unusable). */
int cshm_net_write_all(int fd, const void *data, size_t len, double deadline, char *error,
                       size_t error_size);

/* Receive at least one and at most capacity bytes.  Returns the count, or -1
 * on error, timeout or end of stream ("connection closed by the server"). */
ssize_t cshm_net_read_some(int fd, void *buffer, size_t capacity, double deadline, char *error,
                           size_t error_size);

/* Receive exactly len bytes (the framed protocols: info, admin).  Returns 0,
 * or -1 as cshm_net_read_some. */
int cshm_net_read_exact(int fd, void *buffer, size_t len, double deadline, char *error,
                        size_t error_size);

/* Close *fd if open and set it to -1 (after taking it out of the registry,
 * so the registry never names a number that close() has freed).  Never on a
 * descriptor inherited across fork(): see the fork contract above. */
void cshm_net_close(int *fd);

/* "host:port", or "[host]:port" when host is an IPv6 address. */
void cshm_net_format_endpoint(char *out, size_t out_size, const char *host, uint16_t port);

#endif
