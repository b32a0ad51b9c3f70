/*
 * tls.c - see tls.h.
 *
 * The lock: tls_lock is held around every OpenSSL call and taken by the
 * pthread_atfork prepare handler, so fork() waits until no thread of ours
 * is inside OpenSSL.  OpenSSL's own fork handling (3.x) covers its random
 * generator, not locks another thread holds at the instant of the fork;
 * that is what the lock adds, for our child and for an application that
 * uses OpenSSL itself in the child (PHP's openssl, Python's ssl).  No call
 * made under the lock waits for the network (the sockets are
 * non-blocking), so fork() waits microseconds at most, a handshake's
 * crypto at worst.  The lock never nests with net.c's registry lock.
 *
 * OpenSSL is initialised without its atexit cleanup: a tender thread of
 * the application may still be inside a session when exit() runs the
 * handlers, and a cleaned-up library under it would crash the process.
 */
#include "tls.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "error.h"

struct cshm_tls_context {
    SSL_CTX *ctx;
    int verify;                       /* 0 only with tls_insecure_skip_verify */
    int has_cert;                     /* a client certificate is configured */
    char server_name[256];            /* tls_server_name, "" when unset */
    const char *name_fix;             /* how to fix a name mismatch (a literal) */
};

struct cshm_tls_session {
    SSL *ssl;
    const cshm_tls_context *context;
    char name[CSHM_HOST_MAX];         /* the name verified, for messages */
    int has_read;                     /* a read returned data */
};

static pthread_mutex_t tls_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void before_fork(void)
{
    pthread_mutex_lock(&tls_lock);
}

static void after_fork(void)
{
    /* Parent and child alike: in the child only the forking thread exists,
     * and it holds the lock. */
    pthread_mutex_unlock(&tls_lock);
}

static void tls_init(void)
{
    OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_LOAD_SSL_STRINGS |
                         OPENSSL_INIT_LOAD_CRYPTO_STRINGS,
                     NULL);
    pthread_atfork(before_fork, after_fork, after_fork);
}

static void lock(void)
{
    pthread_once(&tls_once, tls_init);
    pthread_mutex_lock(&tls_lock);
}

static void unlock(void)
{
    pthread_mutex_unlock(&tls_lock);
}

int cshm_tls_options_given(const cshm_options *o)
{
    return o->tls_ca_file[0] != '\0' || o->tls_ca_dir[0] != '\0' || o->tls_cert_file[0] != '\0' ||
           o->tls_key_file[0] != '\0' || o->tls_server_name[0] != '\0' ||
           o->tls_insecure_skip_verify != 0;
}

/* The oldest queued OpenSSL reason (the root cause), then an empty queue. */
static const char *queued_reason(void)
{
    unsigned long first = ERR_get_error();
    ERR_clear_error();
    const char *reason = first != 0 ? ERR_reason_error_string(first) : NULL;
    return reason != NULL ? reason : "unknown TLS error";
}

int cshm_tls_context_new(const cshm_options *o, cshm_tls_context **out, char *error,
                         size_t error_size)
{
    *out = NULL;
    cshm_tls_context *c = calloc(1, sizeof *c);
    if (c == NULL) {
        cshm_format_error(error, error_size, "out of memory for a TLS context");
        return -1;
    }
    c->verify = !o->tls_insecure_skip_verify;
    c->has_cert = o->tls_cert_file[0] != '\0';
    snprintf(c->server_name, sizeof c->server_name, "%s", o->tls_server_name);
    c->name_fix = "set tls_server_name to a name the certificate holds";
    const char *key_file = o->tls_key_file[0] != '\0' ? o->tls_key_file : o->tls_cert_file;
    const char *ca_file = o->tls_ca_file[0] != '\0' ? o->tls_ca_file : NULL;
    const char *ca_dir = o->tls_ca_dir[0] != '\0' ? o->tls_ca_dir : NULL;

    lock();
    ERR_clear_error();
    int ok = 0;
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (c->ctx == NULL) {
        cshm_format_error(error, error_size, "cannot create a TLS context: %s", queued_reason());
        goto done;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (c->verify) {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
        int loaded = ca_file != NULL || ca_dir != NULL
                         ? SSL_CTX_load_verify_locations(c->ctx, ca_file, ca_dir)
                         : SSL_CTX_set_default_verify_paths(c->ctx);
        if (loaded != 1) {
            cshm_format_error(error, error_size,
                              "cannot load the CA certificates (tls_ca_file '%.200s', tls_ca_dir "
                              "'%.200s'): %s; give a PEM file of CA certificates",
                              o->tls_ca_file, o->tls_ca_dir, queued_reason());
            goto done;
        }
    } else {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    }
    if (c->has_cert) {
        if (SSL_CTX_use_certificate_chain_file(c->ctx, o->tls_cert_file) != 1) {
            cshm_format_error(error, error_size,
                              "cannot load tls_cert_file '%.300s': %s; give the client "
                              "certificate in PEM",
                              o->tls_cert_file, queued_reason());
            goto done;
        }
        if (SSL_CTX_use_PrivateKey_file(c->ctx, key_file, SSL_FILETYPE_PEM) != 1) {
            cshm_format_error(error, error_size,
                              "cannot load the private key from '%.300s': %s; give an "
                              "unencrypted PEM key in tls_key_file",
                              key_file, queued_reason());
            goto done;
        }
        if (SSL_CTX_check_private_key(c->ctx) != 1) {
            cshm_format_error(error, error_size,
                              "tls_key_file '%.200s' is not the key of tls_cert_file '%.200s' (%s)",
                              key_file, o->tls_cert_file, queued_reason());
            goto done;
        }
    }
    ok = 1;
done:
    if (!ok && c->ctx != NULL)
        SSL_CTX_free(c->ctx);
    unlock();
    if (!ok) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void cshm_tls_context_free(cshm_tls_context *c)
{
    if (c == NULL)
        return;
    lock();
    SSL_CTX_free(c->ctx);
    unlock();
    free(c);
}

void cshm_tls_context_set_name_fix(cshm_tls_context *c, const char *fix)
{
    assert(c != NULL && fix != NULL);
    c->name_fix = fix;
}

static int is_ip_literal(const char *name)
{
    unsigned char scratch[16];
    return inet_pton(AF_INET, name, scratch) == 1 || inet_pton(AF_INET6, name, scratch) == 1;
}

int cshm_tls_session_new(cshm_tls_context *c, int fd, const char *server_name,
                         cshm_tls_session **out, char *error, size_t error_size)
{
    assert(c != NULL && fd >= 0);
    *out = NULL;
    cshm_tls_session *s = calloc(1, sizeof *s);
    if (s == NULL) {
        cshm_format_error(error, error_size, "out of memory for a TLS session");
        return -1;
    }
    s->context = c;
    snprintf(s->name, sizeof s->name, "%s", c->server_name[0] != '\0' ? c->server_name : server_name);
    int ip = is_ip_literal(s->name);

    lock();
    ERR_clear_error();
    int ok = 0;
    s->ssl = SSL_new(c->ctx);
    if (s->ssl == NULL || SSL_set_fd(s->ssl, fd) != 1) {
        cshm_format_error(error, error_size, "cannot create a TLS session: %s", queued_reason());
        goto done;
    }
    if (!ip && s->name[0] != '\0' && SSL_set_tlsext_host_name(s->ssl, s->name) != 1) {
        cshm_format_error(error, error_size, "cannot use '%.100s' as the TLS server name: %s",
                          s->name, queued_reason());
        goto done;
    }
    if (c->verify) {
        X509_VERIFY_PARAM *param = SSL_get0_param(s->ssl);
        int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, s->name)
                     : X509_VERIFY_PARAM_set1_host(param, s->name, 0);
        if (set != 1) {
            cshm_format_error(error, error_size, "cannot verify against '%.100s': %s", s->name,
                              queued_reason());
            goto done;
        }
    }
    SSL_set_connect_state(s->ssl);
    ok = 1;
done:
    if (!ok && s->ssl != NULL)
        SSL_free(s->ssl);
    unlock();
    if (!ok) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

/* Why a handshake (or a read right after it: TLS 1.3 reports a refused
 * client certificate there) failed, with the fix. */
static void describe_failure(cshm_tls_session *s, const char *doing, unsigned long code,
                             char *error, size_t error_size)
{
    long verify = SSL_get_verify_result(s->ssl);
    int reason = code != 0 ? ERR_GET_REASON(code) : 0;
    const char *text = code != 0 ? ERR_reason_error_string(code) : NULL;
    if (text == NULL)
        text = "the connection broke";
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && verify == X509_V_ERR_HOSTNAME_MISMATCH) {
        cshm_format_error(error, error_size,
                          "TLS certificate verify failed: the server's certificate is not for "
                          "'%.100s'; %s",
                          s->name, s->context->name_fix);
    } else if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        cshm_format_error(error, error_size,
                          "TLS certificate verify failed: the server's certificate does not "
                          "hold the address %.60s; %s",
                          s->name, s->context->name_fix);
    } else if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        cshm_format_error(error, error_size,
                          "TLS certificate verify failed (%s); set tls_ca_file (or tls_ca_dir) "
                          "to the CA that signed the server's certificate",
                          X509_verify_cert_error_string(verify));
    } else if (reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED ||
               reason == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE ||
               reason == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
               reason == SSL_R_TLSV1_ALERT_UNKNOWN_CA) {
        if (s->context->has_cert)
            cshm_format_error(error, error_size,
                              "TLS %s failed: the server refused our client certificate (%s); "
                              "give tls_cert_file signed by a CA the server trusts",
                              doing, text);
        else
            cshm_format_error(error, error_size,
                              "TLS %s failed: the server wants a client certificate (%s); set "
                              "tls_cert_file and tls_key_file",
                              doing, text);
    } else if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG) {
        cshm_format_error(error, error_size,
                          "TLS %s failed: the server does not speak TLS on this port (%s); use "
                          "its TLS port, or a plain URL for a plain port",
                          doing, text);
    } else {
        cshm_format_error(error, error_size, "TLS %s failed: %s", doing, text);
    }
}

/* Map SSL_get_error for a call that returned rc <= 0. */
static int outcome(cshm_tls_session *s, int rc, const char *doing, char *error,
                   size_t error_size)
{
    int e = SSL_get_error(s->ssl, rc);
    if (e == SSL_ERROR_WANT_READ)
        return CSHM_TLS_WANT_READ;
    if (e == SSL_ERROR_WANT_WRITE)
        return CSHM_TLS_WANT_WRITE;
    if (e == SSL_ERROR_ZERO_RETURN) {
        cshm_format_error(error, error_size, "connection closed by the server");
        return CSHM_TLS_FAILED;
    }
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    int eof = (e == SSL_ERROR_SYSCALL && code == 0) ||
              (code != 0 && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING);
    /* With TLS 1.3 a server checks the client certificate after our
     * handshake ended: one that wants a certificate and sends no alert
     * (Python's ssl servers, for one) shows as an end of stream at our
     * first read. */
    if (eof && strcmp(doing, "read") == 0 && !s->has_read && !s->context->has_cert) {
        cshm_format_error(error, error_size,
                          "TLS read failed: the server closed the connection before its first "
                          "answer (does it want a client certificate? then set tls_cert_file "
                          "and tls_key_file)");
        return CSHM_TLS_FAILED;
    }
    if (e == SSL_ERROR_SYSCALL && code == 0) {
        /* EOF without close_notify: a plain server or a server that
         * dropped us during the handshake. */
        if (strcmp(doing, "handshake") == 0)
            cshm_format_error(error, error_size,
                              "TLS handshake failed: the server closed the connection (is it a "
                              "TLS port? does it want a client certificate?)");
        else
            cshm_format_error(error, error_size, "connection closed by the server");
        return CSHM_TLS_FAILED;
    }
    describe_failure(s, doing, code, error, error_size);
    return CSHM_TLS_FAILED;
}

int cshm_tls_handshake(cshm_tls_session *s, char *error, size_t error_size)
{
    lock();
    ERR_clear_error();
    int rc = SSL_do_handshake(s->ssl);
    int result = rc == 1 ? 0 : outcome(s, rc, "handshake", error, error_size);
    unlock();
    return result;
}

ssize_t cshm_tls_read(cshm_tls_session *s, void *buffer, size_t capacity, char *error,
                      size_t error_size)
{
    int n = capacity > (size_t)INT32_MAX ? INT32_MAX : (int)capacity;
    lock();
    ERR_clear_error();
    int rc = SSL_read(s->ssl, buffer, n);
    ssize_t result = rc > 0 ? rc : outcome(s, rc, "read", error, error_size);
    if (rc > 0)
        s->has_read = 1;
    unlock();
    return result;
}

ssize_t cshm_tls_write(cshm_tls_session *s, const void *data, size_t len, char *error,
                       size_t error_size)
{
    int n = len > (size_t)INT32_MAX ? INT32_MAX : (int)len;
    lock();
    ERR_clear_error();
    int rc = SSL_write(s->ssl, data, n);
    ssize_t result = rc > 0 ? rc : outcome(s, rc, "write", error, error_size);
    unlock();
    return result;
}

void cshm_tls_session_free(cshm_tls_session *s)
{
    if (s == NULL)
        return;
    lock();
    SSL_free(s->ssl);
    unlock();
    free(s);
}
