/*
 * aerospike_node.c - see aerospike_node.h.
 *
 * Validation parses positionally (the C client does not check the echoes of
 * that request); the refresh matches lines by echoed name and refuses a name
 * it did not ask for.  Values are checked for the server's error forms before
 * they are parsed, so "ERROR:..." is reported as the server's words instead
 * of as a parse failure.
 */
#include "aerospike_node.h"

#include <assert.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "clock.h"
#include "error.h"
#include "log.h"
#include "net.h"

static int aborted(cshm_as_io *io)
{
    return io->ctx->progress != NULL && io->ctx->progress(io->ctx->progress_arg) != 0;
}

static double deadline_of(const cshm_as_io *io)
{
    return cshm_mono_now() + io->ctx->op_timeout;
}

/* Up to 80 bytes of a value for a message, with unprintable bytes as '?'. */
static void printable(const cshm_slice *v, char *out, size_t out_size)
{
    size_t n = v->len < 80 ? v->len : 80;
    if (n >= out_size)
        n = out_size - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v->data[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[n] = '\0';
}

/* Bounded string copy that always terminates (src may be unterminated
 * within cap bytes only in theory; this keeps the compiler's bounds too). */
static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t len = strnlen(src, cap - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

void cshm_as_node_close(cshm_as_node *n)
{
    cshm_net_close(&n->fd);
    if (n->sent == CSHM_AS_SENT)
        n->sent = CSHM_AS_NOT_SENT;
}

/* ---- login (spec 2.9) ------------------------------------------------------ */

static int credential_of(cshm_as_auth *auth, char *why, size_t why_size)
{
    if (auth->has_credential)
        return 0;
    if (cshm_as_credential(auth->password, auth->credential) != 0) {
        snprintf(why, why_size,
                 "cannot compute the bcrypt credential of the password: the system's libcrypt "
                 "lacks bcrypt ($2a$); install Debian's libcrypt1 (libxcrypt)");
        return -1;
    }
    auth->has_credential = 1;
    explicit_bzero(auth->password, sizeof auth->password);
    return 0;
}

/* Sends one admin message on n's socket and parses the answer. */
static int admin_exchange(cshm_as_io *io, cshm_as_node *n, const unsigned char *request,
                          size_t request_len, cshm_as_admin_answer *answer, unsigned char *token,
                          char *why, size_t why_size)
{
    unsigned char body[CSHM_AS_ADMIN_MAX];
    size_t body_len = 0;
    char inner[CSHM_AS_WHY_MAX];
    if (aborted(io))
        return CSHM_AS_ABORTED;
    if (cshm_as_admin_call(&n->fd, request, request_len, deadline_of(io), body, &body_len, inner,
                           sizeof inner) != 0 ||
        cshm_as_admin_parse(body, body_len, token, CSHM_AS_TOKEN_MAX, answer, inner,
                            sizeof inner) != 0) {
        snprintf(why, why_size, "login: %s", inner);
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    return CSHM_AS_OK;
}

static int login(cshm_as_io *io, cshm_as_node *n, char *why, size_t why_size)
{
    cshm_as_auth *auth = io->auth;
    if (credential_of(auth, why, why_size) != 0) {
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    unsigned char request[8 + CSHM_AS_ADMIN_HEADER + 2 * 5 + CSHM_USER_MAX +
                          CSHM_AS_CREDENTIAL_SIZE];
    size_t len = cshm_as_admin_login_request(request, sizeof request, auth->user,
                                             auth->credential);
    cshm_as_admin_answer answer;
    int rc = len == 0 ? CSHM_AS_FAILED
                      : admin_exchange(io, n, request, len, &answer, n->token, why, why_size);
    if (rc != CSHM_AS_OK)
        return rc;
    if (answer.result == CSHM_AS_RESULT_SECURITY_NOT_ENABLED) {
        /* The server runs without security: the socket needs nothing. */
        n->token_len = 0;
        n->socket_authenticated = 1;
        return CSHM_AS_OK;
    }
    if (answer.result != CSHM_AS_RESULT_OK) {
        int refused = answer.result == CSHM_AS_RESULT_INVALID_USER ||
                      answer.result == CSHM_AS_RESULT_INVALID_PASSWORD ||
                      answer.result == CSHM_AS_RESULT_INVALID_CREDENTIAL ||
                      answer.result == CSHM_AS_RESULT_EXPIRED_PASSWORD;
        snprintf(why, why_size,
                 refused ? "login as user '%.64s' refused: %s (result %u); check the user and "
                           "password (aerospike://USER:PASSWORD@host:port, percent-encoded, or "
                           "the user and password options)"
                         : "login as user '%.64s' failed: %s (result %u)",
                 auth->user, cshm_as_admin_result_name(answer.result), (unsigned)answer.result);
        n->token_len = 0;
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    if (answer.token_len == 0) {
        snprintf(why, why_size, "login: the server's answer carries no session token");
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    n->token_len = answer.token_len;
    /* Renew a minute early, as the official client does, so the token never
     * expires between our check and the server's. */
    n->token_expires = answer.ttl_seconds > 60 ? cshm_mono_now() + answer.ttl_seconds - 60 : 0;
    n->socket_authenticated = 1;
    return CSHM_AS_OK;
}

/* AUTHENTICATE with the node's token; on refusal (expired, revoked) a new
 * login on the same socket, as the C client does. */
static int authenticate(cshm_as_io *io, cshm_as_node *n, char *why, size_t why_size)
{
    unsigned char request[8 + CSHM_AS_ADMIN_HEADER + 2 * 5 + CSHM_USER_MAX + CSHM_AS_TOKEN_MAX];
    size_t len = cshm_as_admin_authenticate_request(request, sizeof request, io->auth->user,
                                                    n->token, n->token_len);
    cshm_as_admin_answer answer;
    unsigned char ignored[CSHM_AS_TOKEN_MAX];
    int rc = len == 0 ? CSHM_AS_FAILED
                      : admin_exchange(io, n, request, len, &answer, ignored, why, why_size);
    if (rc != CSHM_AS_OK)
        return rc;
    if (answer.result == CSHM_AS_RESULT_OK ||
        answer.result == CSHM_AS_RESULT_SECURITY_NOT_ENABLED) {
        n->socket_authenticated = 1;
        return CSHM_AS_OK;
    }
    n->token_len = 0;
    return login(io, n, why, why_size);
}

/* A socket is usable when it passed login or authenticate with a token
 * that has not expired; an expired token means a new login. */
static int ensure_authenticated(cshm_as_io *io, cshm_as_node *n, char *why, size_t why_size)
{
    if (io->auth == NULL || io->auth->user[0] == '\0')
        return CSHM_AS_OK;
    int expired = n->token_len > 0 && n->token_expires > 0 && cshm_mono_now() >= n->token_expires;
    if (n->socket_authenticated && !expired)
        return CSHM_AS_OK;
    if (n->token_len > 0 && !expired)
        return authenticate(io, n, why, why_size);
    return login(io, n, why, why_size);
}

/* The TLS handshake on n's fresh socket, verified against n->tls_name. */
static int start_tls(cshm_as_io *io, cshm_as_node *n, char *why, size_t why_size)
{
    char inner[CSHM_AS_WHY_MAX];
    if (n->tls_name[0] == '\0') {
        snprintf(why, why_size,
                 "no TLS name for this node: give every seed as host:tls_name:port (the "
                 "name its certificate holds); discovered nodes take theirs from peers-tls-std");
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    if (io->tls_context == NULL) {
        if (cshm_tls_context_new(io->tls_options, &io->tls_context, inner, sizeof inner) != 0) {
            snprintf(why, why_size, "%s", inner);
            cshm_as_node_close(n);
            return CSHM_AS_FAILED;
        }
        cshm_tls_context_set_name_fix(io->tls_context,
                                      "give the seed as host:tls_name:port with a name the "
                                      "certificate holds; other nodes use their peers-tls-std "
                                      "name");
    }
    if (cshm_net_start_tls(n->fd, io->tls_context, n->tls_name, deadline_of(io), inner,
                           sizeof inner) != 0) {
        cshm_format_error(why, why_size, "TLS as '%.100s': %s", n->tls_name, inner);
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    return CSHM_AS_OK;
}

static int connect_node(cshm_as_io *io, cshm_as_node *n, char *why, size_t why_size)
{
    if (n->fd < 0) {
        if (aborted(io))
            return CSHM_AS_ABORTED;
        n->socket_authenticated = 0;
        if (cshm_net_connect(n->host, n->port, deadline_of(io), io->tend_interval, &n->fd, why,
                             why_size) != 0)
            return CSHM_AS_FAILED;
        /* Login and every request go over TLS: nothing is sent before it. */
        if (io->tls && start_tls(io, n, why, why_size) != CSHM_AS_OK)
            return CSHM_AS_FAILED;
    }
    return ensure_authenticated(io, n, why, why_size);
}

/* The server's one-line answer to a request on a socket it does not
 * consider authenticated (spec 1.4): the session was revoked or expired. */
static int not_authenticated(const cshm_info_response *r)
{
    return r->len >= 9 && memcmp(r->body, "ERROR:80:", 9) == 0;
}

int cshm_as_node_send(cshm_as_io *io, cshm_as_node *n, const char *body)
{
    assert(strlen(body) < sizeof n->sent_body);
    cshm_as_node_discard_sent(n);
    int rc = connect_node(io, n, n->sent_why, sizeof n->sent_why);
    if (rc == CSHM_AS_OK && aborted(io))
        rc = CSHM_AS_ABORTED;
    if (rc == CSHM_AS_OK && cshm_info_send(&n->fd, body, deadline_of(io), n->sent_why,
                                           sizeof n->sent_why) != 0)
        rc = CSHM_AS_FAILED;
    if (rc == CSHM_AS_ABORTED)
        return rc;
    snprintf(n->sent_body, sizeof n->sent_body, "%s", body);
    n->sent = rc == CSHM_AS_OK ? CSHM_AS_SENT : CSHM_AS_SEND_FAILED;
    return CSHM_AS_OK;
}

void cshm_as_node_discard_sent(cshm_as_node *n)
{
    /* An answer still on its way would be read as the next request's. */
    if (n->sent == CSHM_AS_SENT)
        cshm_as_node_close(n);
    n->sent = CSHM_AS_NOT_SENT;
}

int cshm_as_node_info(cshm_as_io *io, cshm_as_node *n, const char *body, char *why,
                      size_t why_size)
{
    int rc;
    if (n->sent != CSHM_AS_NOT_SENT && strcmp(n->sent_body, body) == 0) {
        /* Sent ahead by cshm_as_node_send: take its outcome. */
        int sent = n->sent;
        n->sent = CSHM_AS_NOT_SENT;
        if (sent == CSHM_AS_SEND_FAILED) {
            snprintf(why, why_size, "%s", n->sent_why);
            return CSHM_AS_FAILED;
        }
        if (aborted(io)) {
            cshm_as_node_close(n);
            return CSHM_AS_ABORTED;
        }
        rc = cshm_info_receive(&n->fd, CSHM_INFO_TEND_MAX, deadline_of(io), io->response, why,
                               why_size);
    } else {
        cshm_as_node_discard_sent(n);
        rc = connect_node(io, n, why, why_size);
        if (rc != CSHM_AS_OK)
            return rc;
        if (aborted(io))
            return CSHM_AS_ABORTED;
        rc = cshm_info_call(&n->fd, body, CSHM_INFO_TEND_MAX, deadline_of(io), io->response, why,
                            why_size);
    }
    if (rc == 0)
        return CSHM_AS_OK;
    if (io->auth == NULL || !not_authenticated(io->response))
        return CSHM_AS_FAILED;
    /* The session ended under us: log in again on this socket, ask once more. */
    cshm_log(CSHM_LOG_INFO, "aerospike: node %s at %s: session no longer accepted; logging in "
                            "again",
             n->name[0] != '\0' ? n->name : "(validating)", n->host);
    n->token_len = 0;
    n->socket_authenticated = 0;
    rc = connect_node(io, n, why, why_size);
    if (rc != CSHM_AS_OK)
        return rc;
    if (cshm_info_call(&n->fd, body, CSHM_INFO_TEND_MAX, deadline_of(io), io->response, why,
                       why_size) != 0)
        return CSHM_AS_FAILED;
    return CSHM_AS_OK;
}

/* The numeric text of the connected peer's address, and whether it is a
 * loopback address.  0 or -1. */
static int peer_address(int fd, char *host, size_t host_size, int *loopback)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (getnameinfo((struct sockaddr *)&ss, len, host, (socklen_t)host_size, NULL, 0,
                    NI_NUMERICHOST) != 0)
        return -1;
    *loopback = 0;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)&ss;
        *loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)&ss;
        *loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}

int cshm_as_same_host(const char *a, const char *b)
{
    unsigned char x[16], y[16];
    if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
        return memcmp(x, y, 4) == 0;
    if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
        return memcmp(x, y, 16) == 0;
    return strcasecmp(a, b) == 0;
}

/* Checks the validation answer; fills out->name.  ask_service: the last
 * name asked was service-clear-std (a server before 7.1 may omit it).
 * 0 or -1 with why. */
static int check_validation(cshm_as_io *io, const char *endpoint, const char *expected_name,
                            int ask_service, cshm_as_node *out, char *why, size_t why_size)
{
    static const char *const names[] = {"node", "partition-generation", "build", "cluster-name"};
    const cshm_info_response *r = io->response;
    size_t checked = io->cluster_name[0] != '\0' ? 4 : 3;
    size_t asked = checked + (ask_service ? 1 : 0);
    char text[96];
    if (r->line_count != asked && !(ask_service && r->line_count == checked)) {
        snprintf(why, why_size, "%s: validation answer has %zu lines for %zu names", endpoint,
                 r->line_count, asked);
        return -1;
    }
    for (size_t i = 0; i < checked; i++) {
        if (cshm_info_value_is_failure(&r->lines[i].value)) {
            printable(&r->lines[i].value, text, sizeof text);
            snprintf(why, why_size, "%s: server answered '%s' to %s", endpoint, text, names[i]);
            return -1;
        }
    }
    char inner[CSHM_INFO_WHY_MAX];
    const cshm_slice *node = &r->lines[0].value;
    if (cshm_as_copy_node_name(node->data, node->len, out->name, inner, sizeof inner) != 0) {
        snprintf(why, why_size, "%s: %s", endpoint, inner);
        return -1;
    }
    if (expected_name != NULL && strcmp(out->name, expected_name) != 0) {
        snprintf(why, why_size, "%s: answers as node %s, but its peers list it as %s", endpoint,
                 out->name, expected_name);
        return -1;
    }
    uint32_t gen;
    if (cshm_as_parse_generation(&r->lines[1].value, &gen) != 0) {
        printable(&r->lines[1].value, text, sizeof text);
        snprintf(why, why_size, "%s: bad partition-generation '%s'", endpoint, text);
        return -1;
    }
    if (gen == CSHM_AS_GEN_UNKNOWN) {
        snprintf(why, why_size, "%s: node %s is not fully initialized yet (partition-generation -1)",
                 endpoint, out->name);
        return -1;
    }
    uint32_t version[4];
    if (cshm_as_parse_build(&r->lines[2].value, version) != 0) {
        printable(&r->lines[2].value, text, sizeof text);
        snprintf(why, why_size, "%s: bad build '%s'", endpoint, text);
        return -1;
    }
    if (!cshm_as_build_supported(version)) {
        snprintf(why, why_size, "%s: server version %u.%u.%u.%u is older than 4.9.0.3", endpoint,
                 (unsigned)version[0], (unsigned)version[1], (unsigned)version[2],
                 (unsigned)version[3]);
        return -1;
    }
    if (checked == 4 && !cshm_slice_equals(&r->lines[3].value, io->cluster_name)) {
        printable(&r->lines[3].value, text, sizeof text);
        snprintf(why, why_size,
                 "cluster name mismatch: node %s at %s is in cluster '%s', but cluster_name is "
                 "'%s'",
                 out->name, endpoint, text, io->cluster_name);
        return -1;
    }
    return 0;
}

/* Load-balancer detection (spec 2.2): a seed reached at an address that the
 * node's own service list does not contain is a load balancer (or NAT); the
 * node is then used at the first listed address that answers with the same
 * node name, so routes never point at the balancer.  Nothing usable listed:
 * the seed address is kept. */
static int detect_load_balancer(cshm_as_io *io, cshm_as_node *out, const cshm_slice *service)
{
    cshm_as_endpoint listed[CSHM_AS_SERVICE_MAX];
    char why[CSHM_AS_WHY_MAX];
    int count = cshm_as_parse_service(service, listed, CSHM_AS_SERVICE_MAX, why, sizeof why);
    if (count <= 0)
        return CSHM_AS_OK;
    for (int i = 0; i < count; i++)
        if (cshm_as_same_host(listed[i].host, out->host))
            return CSHM_AS_OK;
    char seed[CSHM_HOST_MAX + 8];
    cshm_net_format_endpoint(seed, sizeof seed, out->host, out->port);
    for (int i = 0; i < count; i++) {
        cshm_as_node direct;
        memset(&direct, 0, sizeof direct);
        direct.fd = -1;
        copy_text(direct.host, sizeof direct.host, listed[i].host);
        copy_text(direct.tls_name, sizeof direct.tls_name, out->tls_name);
        direct.port = listed[i].port;
        int rc = cshm_as_node_info(io, &direct, "node\n", why, sizeof why);
        if (rc == CSHM_AS_ABORTED)
            return rc;
        const cshm_slice *name = rc == CSHM_AS_OK
                                     ? cshm_info_find(io->response->lines, io->response->line_count,
                                                      "node")
                                     : NULL;
        int loopback = 0;
        if (name != NULL && cshm_slice_equals(name, out->name) &&
            peer_address(direct.fd, direct.host, sizeof direct.host, &loopback) == 0) {
            cshm_log(CSHM_LOG_INFO,
                     "aerospike: seed %s is a load balancer or NAT: node %s lists itself at "
                     "%s:%u; using that address",
                     seed, out->name, direct.host, (unsigned)direct.port);
            cshm_as_node_close(out);
            out->fd = direct.fd;
            copy_text(out->host, sizeof out->host, direct.host);
            out->port = direct.port;
            out->loopback = loopback;
            return CSHM_AS_OK;
        }
        cshm_as_node_close(&direct);
    }
    return CSHM_AS_OK;
}

int cshm_as_validate(cshm_as_io *io, const char *host, uint16_t port, const char *tls_name,
                     const char *expected_name, int is_seed, cshm_as_node *out, char *why,
                     size_t why_size)
{
    char endpoint[CSHM_HOST_MAX + 8];
    cshm_net_format_endpoint(endpoint, sizeof endpoint, host, port);
    memset(out, 0, sizeof *out);
    out->fd = -1;
    out->port = port;
    out->peers_gen = CSHM_AS_GEN_UNKNOWN;
    out->partition_gen = CSHM_AS_GEN_UNKNOWN;
    out->partition_changed = 1;
    out->racks_changed = 1;
    out->rebalance_gen = CSHM_AS_GEN_UNKNOWN;
    out->active = 1;
    copy_text(out->host, sizeof out->host, host);
    copy_text(out->tls_name, sizeof out->tls_name, tls_name != NULL ? tls_name : "");

    char inner[CSHM_AS_WHY_MAX];
    inner[0] = '\0';
    int rc = connect_node(io, out, inner, sizeof inner);
    if (rc == CSHM_AS_OK && peer_address(out->fd, out->host, sizeof out->host, &out->loopback) != 0) {
        snprintf(inner, sizeof inner, "cannot read the connected address");
        rc = CSHM_AS_FAILED;
    }
    /* Only seeds reached at a non-loopback address can be a balancer. */
    int ask_service = is_seed && !out->loopback;
    if (rc == CSHM_AS_OK) {
        char body[128];
        snprintf(body, sizeof body, "node\npartition-generation\nbuild\n%s%s%s",
                 io->cluster_name[0] != '\0' ? "cluster-name\n" : "",
                 ask_service ? io->service_name : "", ask_service ? "\n" : "");
        rc = cshm_as_node_info(io, out, body, inner, sizeof inner);
    }
    if (rc == CSHM_AS_OK) {
        if (check_validation(io, endpoint, expected_name, ask_service, out, why, why_size) == 0) {
            const cshm_info_response *r = io->response;
            const cshm_slice *service =
                ask_service ? cshm_info_find(r->lines, r->line_count, io->service_name) : NULL;
            /* An error there (an old or odd server) only skips the check. */
            if (service == NULL || cshm_info_value_is_failure(service))
                return CSHM_AS_OK;
            rc = detect_load_balancer(io, out, service);
            if (rc == CSHM_AS_OK)
                return rc;
        } else {
            rc = CSHM_AS_FAILED;
        }
    } else if (rc == CSHM_AS_FAILED && !io->tls &&
               strcmp(inner, "connection closed by the server") == 0) {
        /* What a TLS-only port does to our first plain request. */
        snprintf(why, why_size,
                 "%s: connection closed by the server at the first request (a TLS port does "
                 "this: if the cluster runs TLS, give the seeds as host:tls_name:port)",
                 endpoint);
    } else if (rc == CSHM_AS_FAILED) {
        snprintf(why, why_size, "%s: %s", endpoint, inner);
    }
    cshm_as_node_close(out);
    return rc;
}

/* One of the refresh's names, by index. */
enum {
    REFRESH_NODE,
    REFRESH_PEERS_GEN,
    REFRESH_PARTITION_GEN,
    REFRESH_REBALANCE_GEN,
    REFRESH_CLUSTER_NAME
};

const char *cshm_as_refresh_body(const cshm_as_io *io)
{
    /* The cluster name is asked too when one is configured, so a node that
     * moved to another cluster is noticed without an extra request; the
     * rebalance generation tells when racks must be fetched again (2.7). */
    return io->cluster_name[0] != '\0'
               ? "node\npeers-generation\npartition-generation\nrebalance-generation\ncluster-name\n"
               : "node\npeers-generation\npartition-generation\nrebalance-generation\n";
}

int cshm_as_node_refresh(cshm_as_io *io, cshm_as_node *n, uint32_t *peers_gen,
                         uint32_t *partition_gen, uint32_t *rebalance_gen, char *why,
                         size_t why_size)
{
    static const char *const names[] = {"node", "peers-generation", "partition-generation",
                                        "rebalance-generation", "cluster-name"};
    size_t asked = io->cluster_name[0] != '\0' ? 5 : 4;
    int rc = cshm_as_node_info(io, n, cshm_as_refresh_body(io), why, why_size);
    if (rc != CSHM_AS_OK)
        return rc;

    const cshm_info_response *r = io->response;
    const cshm_slice *values[5] = {NULL, NULL, NULL, NULL, NULL};
    char text[96];
    for (size_t i = 0; i < r->line_count; i++) {
        size_t k = 0;
        while (k < asked && !cshm_slice_equals(&r->lines[i].name, names[k]))
            k++;
        if (k == asked || values[k] != NULL) {
            printable(&r->lines[i].name, text, sizeof text);
            snprintf(why, why_size, "unexpected line '%s' in the refresh answer", text);
            cshm_as_node_close(n);
            return CSHM_AS_FAILED;
        }
        values[k] = &r->lines[i].value;
    }
    for (size_t k = 0; k < asked; k++) {
        if (values[k] == NULL && k == REFRESH_REBALANCE_GEN)
            continue; /* a server before 7.1 omits names it does not know */
        if (values[k] == NULL) {
            snprintf(why, why_size, "the refresh answer lacks %s", names[k]);
            cshm_as_node_close(n);
            return CSHM_AS_FAILED;
        }
        if (cshm_info_value_is_error(values[k]) && k != REFRESH_REBALANCE_GEN) {
            printable(values[k], text, sizeof text);
            snprintf(why, why_size, "server answered '%s' to %s", text, names[k]);
            return CSHM_AS_FAILED;
        }
    }
    char answered_name[CSHM_NODE_NAME_MAX];
    char inner[CSHM_INFO_WHY_MAX];
    if (cshm_as_copy_node_name(values[REFRESH_NODE]->data, values[REFRESH_NODE]->len,
                               answered_name, inner, sizeof inner) != 0) {
        /* Not a node name at all: a broken answer, not a renamed node. */
        snprintf(why, why_size, "bad node value in the refresh answer: %s", inner);
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    if (strcmp(answered_name, n->name) != 0) {
        printable(values[REFRESH_NODE], text, sizeof text);
        snprintf(why, why_size, "node name changed from %s to '%s'", n->name, text);
        n->active = 0;
        return CSHM_AS_FAILED;
    }
    if (asked == 5 && !cshm_slice_equals(values[REFRESH_CLUSTER_NAME], io->cluster_name)) {
        printable(values[REFRESH_CLUSTER_NAME], text, sizeof text);
        snprintf(why, why_size, "node moved to cluster '%s' (cluster_name is '%s')", text,
                 io->cluster_name);
        n->active = 0;
        return CSHM_AS_FAILED;
    }
    if (cshm_as_parse_generation(values[REFRESH_PEERS_GEN], peers_gen) != 0 ||
        cshm_as_parse_generation(values[REFRESH_PARTITION_GEN], partition_gen) != 0) {
        snprintf(why, why_size, "bad generation in the refresh answer");
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    const cshm_slice *rebalance = values[REFRESH_REBALANCE_GEN];
    if (rebalance == NULL || cshm_info_value_is_error(rebalance) ||
        cshm_as_parse_generation(rebalance, rebalance_gen) != 0)
        *rebalance_gen = CSHM_AS_GEN_UNKNOWN;
    return CSHM_AS_OK;
}

int cshm_as_node_fetch_racks(cshm_as_io *io, cshm_as_node *n, uint32_t *gen, int *no_racks,
                             char *why, size_t why_size)
{
    *no_racks = 0;
    int rc = cshm_as_node_info(io, n, CSHM_AS_RACKS_BODY, why, why_size);
    if (rc != CSHM_AS_OK)
        return rc;
    const cshm_info_response *r = io->response;
    const cshm_slice *gen_value = cshm_info_find(r->lines, r->line_count, "rebalance-generation");
    const cshm_slice *value = cshm_info_find(r->lines, r->line_count, "rack-ids");
    char text[96];
    if (gen_value == NULL || value == NULL || r->line_count != 2) {
        snprintf(why, why_size, "the racks answer does not echo rebalance-generation and "
                                "rack-ids");
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    if (cshm_info_value_is_error(gen_value) || cshm_as_parse_generation(gen_value, gen) != 0)
        *gen = CSHM_AS_GEN_UNKNOWN;
    if (cshm_info_value_is_error(value)) {
        /* Community Edition: "ERROR:25:enterprise only".  No racks. */
        *no_racks = 1;
        n->rack_count = 0;
        return CSHM_AS_OK;
    }
    uint32_t count = 0;
    if (cshm_as_parse_rack_ids(value, n->racks, CSHM_AS_REPLICAS_NS_MAX, &count, why,
                               why_size) != 0) {
        printable(value, text, sizeof text);
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    n->rack_count = count;
    return CSHM_AS_OK;
}

int cshm_as_node_fetch_peers(cshm_as_io *io, cshm_as_node *n, cshm_as_peers *peers, char *why,
                             size_t why_size)
{
    int rc = cshm_as_node_info(io, n, io->peers_body, why, why_size);
    if (rc != CSHM_AS_OK)
        return rc;
    const cshm_info_response *r = io->response;
    const cshm_slice *value = cshm_info_find(r->lines, r->line_count, io->peers_name);
    char text[96];
    if (value == NULL || r->line_count != 1) {
        snprintf(why, why_size, "the peers answer does not echo %s", io->peers_name);
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    if (cshm_info_value_is_error(value)) {
        printable(value, text, sizeof text);
        snprintf(why, why_size, "server answered '%s' to %s", text, io->peers_name);
        return CSHM_AS_FAILED;
    }
    if (cshm_as_parse_peers(value, peers, why, why_size) != 0) {
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    return CSHM_AS_OK;
}

int cshm_as_node_fetch_partitions(cshm_as_io *io, cshm_as_node *n, uint32_t *gen,
                                  cshm_as_replicas *replicas, char *why, size_t why_size)
{
    int rc = cshm_as_node_info(io, n, CSHM_AS_PARTITIONS_BODY, why, why_size);
    if (rc != CSHM_AS_OK)
        return rc;
    const cshm_info_response *r = io->response;
    const cshm_slice *gen_value = cshm_info_find(r->lines, r->line_count, "partition-generation");
    const cshm_slice *value = cshm_info_find(r->lines, r->line_count, "replicas");
    char text[96];
    if (gen_value == NULL || value == NULL || r->line_count != 2) {
        snprintf(why, why_size, "the partitions answer does not echo partition-generation and "
                                "replicas");
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    const cshm_slice *checked[2] = {gen_value, value};
    for (int i = 0; i < 2; i++) {
        if (cshm_info_value_is_error(checked[i])) {
            printable(checked[i], text, sizeof text);
            snprintf(why, why_size, "server answered '%s' to %s", text,
                     i == 0 ? "partition-generation" : "replicas");
            return CSHM_AS_FAILED;
        }
    }
    if (cshm_as_parse_generation(gen_value, gen) != 0) {
        printable(gen_value, text, sizeof text);
        snprintf(why, why_size, "bad partition-generation '%s'", text);
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    if (cshm_as_parse_replicas(value, replicas, why, why_size) != 0) {
        cshm_as_node_close(n);
        return CSHM_AS_FAILED;
    }
    return CSHM_AS_OK;
}
