/*
 * tls.h - TLS for the drivers' cluster connections (OpenSSL).
 *
 * Invariants:
 *  - Nothing here blocks: sessions run on the non-blocking sockets of
 *    net.c, every call does what it can and says what it waits for
 *    (CSHM_TLS_WANT_READ / _WANT_WRITE); net.c polls under the caller's
 *    deadline.  So a handshake, read or write is bounded like any plain
 *    socket operation.
 *  - Every OpenSSL call of the core runs under one process-wide lock that
 *    fork() waits for (pthread_atfork), so no OpenSSL call of ours is half
 *    done when a process forks: the child never finds an OpenSSL lock or
 *    object that one of our threads left in mid-change.  Objects created in
 *    the parent (contexts in a driver state, sessions in net.c's registry)
 *    are left behind in the child, never used or freed there: the core
 *    builds a new driver (and so a new context) in the child.
 *  - A context is built by the driver in the tender thread at its first
 *    TLS connection, not at cshm_connect(): followers never load CA files.
 *    config.c checked the files are readable before that, so a typo in a
 *    path is a ConfigError at connect, not a tend failure.
 *  - Certificates are verified unless the configuration sets
 *    tls_insecure_skip_verify (tests only): chain against tls_ca_file /
 *    tls_ca_dir (default: the system store), and the name against
 *    tls_server_name or, without it, the name the driver connects to
 *    (IP addresses against the certificate's IP entries).  SNI carries
 *    the same name, except an IP address (RFC 6066 forbids it).
 *  - Failures write a lower-case reason that names the fix, like net.c.
 */
#ifndef CSHM_TLS_H
#define CSHM_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "clustershm.h"

typedef struct cshm_tls_context cshm_tls_context;
typedef struct cshm_tls_session cshm_tls_session;

enum {
    CSHM_TLS_WANT_READ = -2,
    CSHM_TLS_WANT_WRITE = -3,
    CSHM_TLS_FAILED = -1,
};

/* 1 when the options ask for any TLS setting (tls_* given). */
int cshm_tls_options_given(const cshm_options *options);

/* Build a client context from the tls_* options.  0 or -1 (reason in error). */
int cshm_tls_context_new(const cshm_options *options, cshm_tls_context **out, char *error,
                         size_t error_size);
void cshm_tls_context_free(cshm_tls_context *context);

/* How a name mismatch is fixed, for its message (a string literal that
 * outlives the context).  Default: "set tls_server_name to a name the
 * certificate holds"; the Aerospike driver names the seeds' tls_name. */
void cshm_tls_context_set_name_fix(cshm_tls_context *context, const char *fix);

/* A session on the connected socket fd, verifying against server_name
 * (tls_server_name overrides it).  Call cshm_tls_handshake until it returns
 * 0 (done), a WANT, or FAILED. */
int cshm_tls_session_new(cshm_tls_context *context, int fd, const char *server_name,
                         cshm_tls_session **out, char *error, size_t error_size);
int cshm_tls_handshake(cshm_tls_session *session, char *error, size_t error_size);

/* > 0 bytes moved, a WANT, or FAILED (reason in error; "connection closed
 * by the server" at a clean end of stream). */
ssize_t cshm_tls_read(cshm_tls_session *session, void *buffer, size_t capacity, char *error,
                      size_t error_size);
ssize_t cshm_tls_write(cshm_tls_session *session, const void *data, size_t len, char *error,
                       size_t error_size);

/* Free the session (sends no close_notify: the socket closes right after,
 * and a server treats both alike).  NULL is accepted. */
void cshm_tls_session_free(cshm_tls_session *session);

#endif
