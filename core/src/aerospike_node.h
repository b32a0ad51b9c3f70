/*
 * aerospike_node.h - talking to one Aerospike node: its tend socket, the
 * validation request (spec 2.2), the refresh request (2.5) and the fetches of
 * its peers (2.6) and replicas (2.7).
 *
 * Invariants:
 *  - Every network step (connect, one request/response) first calls
 *    ctx->progress() and stops with CSHM_AS_ABORTED when it says so; each
 *    step has its own deadline of ctx->op_timeout seconds.
 *  - A failure leaves the node's stored state (name, generations) as it was;
 *    only the socket may be closed: transport, framing and parse failures
 *    close it (it is re-opened at the next use), an `ERROR:` value keeps it.
 *  - Fetches parse into the caller's scratch result; the caller applies it
 *    only after a complete success.
 *  - With TLS (io->tls) every tend socket is a TLS connection verified
 *    against the node's tls_name (the seed's host:tls_name:port, or the
 *    name its peers list for it in peers-tls-*), and the login runs over it;
 *    a node without a tls_name is never connected in clear text instead.
 */
#ifndef CSHM_AEROSPIKE_NODE_H
#define CSHM_AEROSPIKE_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "aerospike_admin.h"
#include "aerospike_parse.h"
#include "driver.h"
#include "info_proto.h"
#include "tls.h"

#define CSHM_AS_GEN_UNKNOWN 0xFFFFFFFFu
#define CSHM_AS_WHY_MAX 240

enum { CSHM_AS_OK = 0, CSHM_AS_FAILED = -1, CSHM_AS_ABORTED = -2 };

typedef struct cshm_as_node {
    char name[CSHM_NODE_NAME_MAX];
    char host[CSHM_HOST_MAX];     /* numeric address we connected to */
    char tls_name[CSHM_AS_TLS_NAME_MAX + 1]; /* verified name with TLS, else "" */
    uint16_t port;
    int loopback;                 /* host is 127.0.0.0/8 or ::1 */
    int fd;                       /* tend socket, -1 when closed */
    uint16_t ref;                 /* partition-table reference, 0 until added */
    uint32_t peers_gen;           /* from the last complete peers fetch */
    uint32_t partition_gen;       /* from the last applied replicas fetch */
    uint32_t failures;            /* consecutive tends with a failed request */
    uint32_t peers_count;         /* peers listed by the last peers fetch */
    uint32_t friends;             /* nodes listing it in the last peers pass */
    int partition_changed;        /* replicas must be fetched this tend */
    int active;                   /* 0: renamed or moved, remove it */
    int replaced;                 /* same name found at a new address */
    int reported;                 /* its failure was logged; log the recovery once */
    /* Racks (spec 2.7): refetched when rebalance-generation changes. */
    uint32_t rebalance_gen;       /* of the last racks fetch (or CE answer) */
    int racks_changed;            /* rack-ids must be fetched this tend */
    uint32_t rack_count;          /* entries of racks; 0 = none known */
    cshm_as_rack racks[CSHM_AS_REPLICAS_NS_MAX];
    /* Login (spec 2.9): the session token of the last login at this node;
     * every new tend socket authenticates with it. */
    unsigned char token[CSHM_AS_TOKEN_MAX];
    size_t token_len;             /* 0: log in at the next connect */
    double token_expires;         /* monotonic seconds; 0 = no expiry given */
    int socket_authenticated;     /* fd passed login/authenticate */
    /* A request sent ahead (cshm_as_node_send) whose answer the next
     * cshm_as_node_info with the same body takes. */
    int sent;                     /* CSHM_AS_NOT_SENT, _SENT or _SEND_FAILED */
    char sent_body[128];
    char sent_why[CSHM_AS_WHY_MAX]; /* why the send failed */
} cshm_as_node;

enum { CSHM_AS_NOT_SENT = 0, CSHM_AS_SENT = 1, CSHM_AS_SEND_FAILED = 2 };

/* Credentials of the tender's logins; user[0] == 0 = no authentication.
 * The password is kept only until the credential (its bcrypt) is computed,
 * at the first login, then wiped. */
typedef struct cshm_as_auth {
    char user[CSHM_USER_MAX];
    char password[CSHM_PASSWORD_MAX];
    char credential[CSHM_AS_CREDENTIAL_SIZE + 1];
    int has_credential;
} cshm_as_auth;

/* What every request needs: the tend context, a reusable response buffer,
 * the expected cluster name ("" = none) and the tend interval (seconds a
 * resolved host name is reused by a reconnect; 0 = look it up each time). */
typedef struct cshm_as_io {
    cshm_tend_ctx *ctx;
    cshm_info_response *response;
    const char *cluster_name;
    double tend_interval;
    cshm_as_auth *auth;             /* NULL: the cluster needs no login */
    const char *peers_name;         /* peers-clear-std, or -alt (use_alternate_access_address) */
    const char *peers_body;         /* peers_name and a newline: the peers request */
    const char *service_name;       /* service-clear-std, or -alt */
    /* TLS: tls_options (the tls_* settings) make *tls_context at the first
     * connection (tls.h: only the tender loads CA files). */
    int tls;
    const cshm_options *tls_options;
    cshm_tls_context *tls_context;
} cshm_as_io;

/* Connects (if needed) and runs one request on the node's tend socket.
 * When the same body was sent ahead (cshm_as_node_send), only its answer is
 * read (or the send's failure returned); another body first discards it. */
int cshm_as_node_info(cshm_as_io *io, cshm_as_node *n, const char *body, char *why,
                      size_t why_size);

/* Sends body on n's tend socket (connecting, logging in first if needed)
 * without waiting for the answer, so a tend step sends to every node before
 * it reads any answer: the step costs one round trip, not one per node.  A
 * failure is kept for the cshm_as_node_info that takes this body; only
 * CSHM_AS_ABORTED is returned as such.  Bodies under 128 bytes. */
int cshm_as_node_send(cshm_as_io *io, cshm_as_node *n, const char *body);

/* Forgets a request sent ahead whose answer will not be read, closing the
 * socket when an answer may still arrive on it. */
void cshm_as_node_discard_sent(cshm_as_node *n);

/* The bodies of the refresh (2.5), partitions and racks (2.7) requests, as
 * the fetches below send them; the peers request (2.6) is io->peers_body. */
const char *cshm_as_refresh_body(const cshm_as_io *io);
#define CSHM_AS_PARTITIONS_BODY "partition-generation\nreplicas\n"
#define CSHM_AS_RACKS_BODY "rebalance-generation\nrack-ids\n"

/* 2.2: connect to host:port (with TLS: verified as tls_name) and validate
 * the server there.  expected_name NULL accepts any node name (seeds).  A seed (is_seed) reached at a
 * non-loopback address is also asked service-clear-std, and moved to the
 * address the node lists for itself when the seed is a load balancer.  On
 * success *out is a new node (tend socket open, generations unknown,
 * partition_changed set). */
int cshm_as_validate(cshm_as_io *io, const char *host, uint16_t port, const char *tls_name,
                     const char *expected_name, int is_seed, cshm_as_node *out, char *why,
                     size_t why_size);

/* 2.5: the refresh request.  On success the server's peers and partition
 * generations are returned (the node's stored ones are not touched).  A
 * different, well-formed node name (or cluster name, when one is configured)
 * marks the node inactive and fails; a value that is not a node name at all
 * is a broken answer and only fails.  rebalance-generation is asked too (for
 * racks); a server that answers it with an error gives CSHM_AS_GEN_UNKNOWN,
 * not a failure. */
int cshm_as_node_refresh(cshm_as_io *io, cshm_as_node *n, uint32_t *peers_gen,
                         uint32_t *partition_gen, uint32_t *rebalance_gen, char *why,
                         size_t why_size);

/* 2.6: io->peers_name (peers-clear-std or -alt) into *peers. */
int cshm_as_node_fetch_peers(cshm_as_io *io, cshm_as_node *n, cshm_as_peers *peers, char *why,
                             size_t why_size);

/* 2.7: partition-generation and replicas into *gen and *replicas. */
int cshm_as_node_fetch_partitions(cshm_as_io *io, cshm_as_node *n, uint32_t *gen,
                                  cshm_as_replicas *replicas, char *why, size_t why_size);

/* 2.7: rebalance-generation and rack-ids.  *no_racks is set (and the call
 * succeeds) when the server answers rack-ids with an error: Community
 * Edition has no racks, which is not a node failure. */
int cshm_as_node_fetch_racks(cshm_as_io *io, cshm_as_node *n, uint32_t *gen, int *no_racks,
                             char *why, size_t why_size);

void cshm_as_node_close(cshm_as_node *n);

/* 1 when two host texts name the same address (numeric forms compared as
 * addresses, names case-insensitively). */
int cshm_as_same_host(const char *a, const char *b);

#endif
