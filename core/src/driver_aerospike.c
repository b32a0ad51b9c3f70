/*
 * driver_aerospike.c - the Aerospike driver: the C client's tend cycle over
 * the info protocol (spec section 2), feeding a cshm_map.
 *
 * One tend:
 *   1. reset per-tend counters;
 *   2. no nodes: seed (2.3) and go to 6.  Candidates, each tried once per
 *      tend: the configured seeds, then addresses of nodes seen before, then
 *      the nodes of the last published map (which may come from another
 *      process's tender);
 *   3. refresh every active node (2.5): one request per node;
 *   4. if a peers generation changed or a refresh failed: peers pass over the
 *      healthy nodes (2.6), then remove nodes by the rules of 2.8;
 *   5. add the nodes the peers pass discovered and fetch their peers, until
 *      no new node appears;
 *   6. fetch replicas (2.7) of nodes whose partition generation changed,
 *      parse into scratch, apply to the tables only after a full parse;
 *   7. remove nodes that answer but nobody lists and that hold nothing (the
 *      2.8 rule, also after partitions moved away, not only at a peers pass);
 *   8. rebuild the map from the node list and the tables.
 * In steady state this is one request per node per tend, as in the C client.
 *
 * Differences from the C client, each to avoid a pitfall of spec 2.10 or to
 * fit a map that many processes route with:
 *  - replicas and peers values are checked for ERROR: and parsed whole
 *    before anything is applied (2.10 #1, #2, #4);
 *  - node names up to 47 bytes are kept whole; longer ones are refused with
 *    a message instead of being cut (2.10 #5);
 *  - with a cluster_name set, the refresh also asks cluster-name, so a node
 *    moved to another cluster is dropped at once (same request count);
 *  - claims cannot outlive their source (see aerospike_table.h), and step 7;
 *    but a partition that no node in the driver claims keeps its owner of
 *    the last map, listed inactive (spec 2.8: entries are not cleared on
 *    removal), unless that owner is no longer the node it was;
 *  - a refresh whose `node` value is not a node name at all is a broken
 *    answer (failure), not a rename (removal);
 *  - racks are always tracked (rebalance-generation rides in the refresh;
 *    rack-ids is asked only when it changed), since any process sharing
 *    the map may route prefer_rack; a Community Edition server's
 *    "enterprise only" answer is logged once per tender (a warning only when
 *    this process set the rack_id option, else info) and never counts as a
 *    failure;
 *  - no user-agent-set, no TLS.
 *
 * Invariants:
 *  - The map is written only in step 8, and only when some node answered in
 *    this tend; otherwise tend() returns CSHM_TEND_UNREACHABLE and the map is
 *    as it came in.
 *  - A node reference (cshm_as_node.ref) is unique among live and pending
 *    nodes; a removed node's reference is cleared from every table before it
 *    can be reused.
 *  - Pending nodes (validated this tend, not yet added) own open sockets;
 *    they are added or closed before tend() returns, whatever the outcome.
 *  - Nodes beyond max_nodes stay tended (they may own partitions) but the
 *    map reports them through its truncation flag; the driver itself holds
 *    at most CSHM_AS_MAX_NODES nodes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aerospike_key.h"
#include "aerospike_node.h"
#include "aerospike_parse.h"
#include "aerospike_table.h"
#include "driver.h"
#include "error.h"
#include "log.h"
#include "net.h"

#define CSHM_AS_MAX_NODES 4096
#define CSHM_AS_REF_MAX 8191          /* > 2 * CSHM_AS_MAX_NODES: live + pending fit */
#define CSHM_AS_LEARNED_MAX 64
#define CSHM_AS_MAP_SEEDS_MAX 64
#define CSHM_AS_TRIED_MAX 512
#define CSHM_AS_REMOVE_FAILURES 5     /* 2.8 rule 2 */
#define CSHM_AS_DISOWNED_MAX 64

typedef struct as_address {
    char host[CSHM_HOST_MAX];
    uint16_t port;
    char tls_name[CSHM_AS_TLS_NAME_MAX + 1]; /* with TLS: the name to verify */
} as_address;

typedef struct as_node_list {
    cshm_as_node **items;
    size_t count, capacity;
} as_node_list;

typedef struct as_driver {
    as_address seeds[CSHM_MAX_SEEDS];
    size_t seed_count;
    as_address learned[CSHM_AS_LEARNED_MAX];   /* addresses of nodes seen (2.3) */
    size_t learned_count;
    char cluster_name[sizeof(((cshm_options *)0)->cluster_name)];

    as_node_list nodes;                         /* the cluster, in discovery order */
    as_node_list pending;                       /* validated this tend, not added yet */
    cshm_as_tables tables;
    cshm_as_replicas *replicas;                 /* scratch of one replicas parse */
    cshm_as_peers peers;                        /* scratch of one peers parse */
    cshm_info_response response;
    uint16_t next_ref;
    int16_t ref_to_map[CSHM_AS_REF_MAX + 1];

    /* The map as it came into this tend, and per node of it the index it
     * was carried to (carry_last_owners). */
    cshm_map previous;
    int32_t *carried;
    /* Nodes removed because they are no longer the node they were (renamed,
     * moved to another cluster): their last claims are never carried. */
    char disowned[CSHM_AS_DISOWNED_MAX][CSHM_NODE_NAME_MAX];
    size_t disowned_count;

    /* per tend */
    as_address tried[CSHM_AS_TRIED_MAX];        /* addresses that failed (invalid_hosts) */
    size_t tried_count;
    uint32_t refresh_count;
    uint32_t answered;
    int gen_changed;
    cshm_as_io io;

    cshm_as_auth auth;                          /* io.auth points here when a user is set */
    cshm_options tls_options;                   /* the tls_* settings (the rest unused) */
    int no_racks_logged;                        /* "no rack information" said once */
    int wants_racks;                            /* this process set the rack_id option */
} as_driver;

/* ---- small helpers ------------------------------------------------------- */

static void note_error(cshm_tend_ctx *ctx, const char *fmt, ...) CSHM_PRINTF(2, 3);

/* Appends "; text" to ctx->error (what the tender shows as last_error). */
static void note_error(cshm_tend_ctx *ctx, const char *fmt, ...)
{
    size_t used = strnlen(ctx->error, sizeof ctx->error);
    if (used + 3 >= sizeof ctx->error)
        return;
    if (used > 0) {
        memcpy(ctx->error + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->error + used, sizeof ctx->error - used, fmt, ap);
    va_end(ap);
}

/* Puts "prefix: " before ctx->error (or makes it "prefix" when empty). */
static void prefix_error(cshm_tend_ctx *ctx, const char *prefix)
{
    size_t cap = sizeof ctx->error;
    size_t used = strnlen(ctx->error, cap - 1);
    size_t head = strlen(prefix) + (used > 0 ? 2 : 0);
    if (head >= cap)
        head = cap - 1;
    size_t keep = used + head < cap ? used : cap - 1 - head;
    memmove(ctx->error + head, ctx->error, keep);
    ctx->error[head + keep] = '\0';
    memcpy(ctx->error, prefix, head >= 2 && used > 0 ? head - 2 : head);
    if (used > 0 && head >= 2)
        memcpy(ctx->error + head - 2, ": ", 2);
}

static void node_label(const cshm_as_node *n, char *out, size_t out_size)
{
    char endpoint[CSHM_HOST_MAX + 8];
    cshm_net_format_endpoint(endpoint, sizeof endpoint, n->host, n->port);
    snprintf(out, out_size, "node %s (%s)", n->name, endpoint);
}

static int list_push(as_node_list *list, cshm_as_node *n)
{
    if (list->count == list->capacity) {
        size_t cap = list->capacity ? list->capacity * 2 : 8;
        cshm_as_node **grown = realloc(list->items, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        list->items = grown;
        list->capacity = cap;
    }
    list->items[list->count++] = n;
    return 0;
}

static cshm_as_node *list_find(const as_node_list *list, const char *name)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i]->name, name) == 0)
            return list->items[i];
    return NULL;
}

static cshm_as_node *find_by_ref(const as_driver *d, uint16_t ref)
{
    for (size_t i = 0; i < d->nodes.count; i++)
        if (d->nodes.items[i]->ref == ref)
            return d->nodes.items[i];
    return NULL;
}

static int ref_in_use(const as_driver *d, uint16_t ref)
{
    if (find_by_ref(d, ref) != NULL)
        return 1;
    for (size_t i = 0; i < d->pending.count; i++)
        if (d->pending.items[i]->ref == ref)
            return 1;
    return 0;
}

static uint16_t allocate_ref(as_driver *d)
{
    for (int tries = 0; tries < CSHM_AS_REF_MAX; tries++) {
        d->next_ref = (uint16_t)(d->next_ref % CSHM_AS_REF_MAX + 1);
        if (!ref_in_use(d, d->next_ref))
            return d->next_ref;
    }
    return 0; /* unreachable: at most 2 * CSHM_AS_MAX_NODES references are in use */
}

static int address_listed(const as_address *list, size_t count, const char *host, uint16_t port)
{
    for (size_t i = 0; i < count; i++)
        if (list[i].port == port && cshm_as_same_host(list[i].host, host))
            return 1;
    return 0;
}

static void remember_tried(as_driver *d, const char *host, uint16_t port)
{
    if (d->tried_count < CSHM_AS_TRIED_MAX && !address_listed(d->tried, d->tried_count, host, port)) {
        snprintf(d->tried[d->tried_count].host, CSHM_HOST_MAX, "%s", host);
        d->tried[d->tried_count++].port = port;
    }
}

static void learn_address(as_driver *d, const char *host, uint16_t port, const char *tls_name)
{
    if (address_listed(d->learned, d->learned_count, host, port) ||
        address_listed(d->seeds, d->seed_count, host, port))
        return;
    if (d->learned_count == CSHM_AS_LEARNED_MAX) {
        /* Keep the newest: drop the oldest learned address. */
        memmove(&d->learned[0], &d->learned[1], (CSHM_AS_LEARNED_MAX - 1) * sizeof d->learned[0]);
        d->learned_count--;
    }
    snprintf(d->learned[d->learned_count].host, CSHM_HOST_MAX, "%s", host);
    snprintf(d->learned[d->learned_count].tls_name, sizeof d->learned[0].tls_name, "%s", tls_name);
    d->learned[d->learned_count++].port = port;
}

static int is_disowned(const as_driver *d, const char *name)
{
    for (size_t i = 0; i < d->disowned_count; i++)
        if (strcmp(d->disowned[i], name) == 0)
            return 1;
    return 0;
}

static void set_disowned(as_driver *d, const char *name, int disowned)
{
    for (size_t i = 0; i < d->disowned_count; i++) {
        if (strcmp(d->disowned[i], name) == 0) {
            if (!disowned)
                memmove(&d->disowned[i], &d->disowned[i + 1],
                        (--d->disowned_count - i) * sizeof d->disowned[0]);
            return;
        }
    }
    if (!disowned)
        return;
    if (d->disowned_count == CSHM_AS_DISOWNED_MAX) {
        memmove(&d->disowned[0], &d->disowned[1],
                (CSHM_AS_DISOWNED_MAX - 1) * sizeof d->disowned[0]);
        d->disowned_count--;
    }
    snprintf(d->disowned[d->disowned_count++], CSHM_NODE_NAME_MAX, "%s", name);
}

static void free_node(cshm_as_node *n)
{
    cshm_as_node_close(n);
    explicit_bzero(n->token, sizeof n->token);
    free(n);
}

static void drop_pending(as_driver *d)
{
    for (size_t i = 0; i < d->pending.count; i++)
        free_node(d->pending.items[i]);
    d->pending.count = 0;
}

/* ---- node membership ------------------------------------------------------- */

/* Moves the pending nodes into the cluster (up to CSHM_AS_MAX_NODES). */
static void add_pending(as_driver *d)
{
    for (size_t i = 0; i < d->pending.count; i++) {
        cshm_as_node *n = d->pending.items[i];
        if (d->nodes.count >= CSHM_AS_MAX_NODES || list_push(&d->nodes, n) != 0) {
            cshm_log(CSHM_LOG_ERROR, "aerospike: cannot add node %s: the driver holds at most %d "
                                     "nodes",
                     n->name, CSHM_AS_MAX_NODES);
            free_node(n);
            continue;
        }
        char label[CSHM_HOST_MAX + 80];
        node_label(n, label, sizeof label);
        cshm_log(CSHM_LOG_INFO, "aerospike: %s added", label);
        learn_address(d, n->host, n->port, n->tls_name);
        set_disowned(d, n->name, 0);
    }
    d->pending.count = 0;
}

static void remove_node_at(as_driver *d, size_t index, const char *reason)
{
    cshm_as_node *n = d->nodes.items[index];
    char label[CSHM_HOST_MAX + 80];
    node_label(n, label, sizeof label);
    cshm_log(CSHM_LOG_INFO, "aerospike: %s removed: %s", label, reason);
    cshm_as_tables_forget_node(&d->tables, n->ref);
    free_node(n);
    memmove(&d->nodes.items[index], &d->nodes.items[index + 1],
            (d->nodes.count - index - 1) * sizeof d->nodes.items[0]);
    d->nodes.count--;
}

/* 2.8, evaluated after a peers pass.  cluster_size is the node count when
 * the pass ended (removing one node must not change the verdict on others). */
static const char *removal_reason(const as_driver *d, const cshm_as_node *n, size_t cluster_size)
{
    if (!n->active)
        return "it is no longer the node it was (renamed or moved to another cluster)";
    if (n->replaced)
        return "the same node answers at a new address";
    if (d->refresh_count == 0 && n->failures >= CSHM_AS_REMOVE_FAILURES)
        return "no node answered and it failed 5 tends in a row";
    if (cluster_size > 1 && d->refresh_count >= 1 && n->friends == 0) {
        if (n->failures > 0)
            return "it fails and no peer lists it";
        if (!cshm_as_tables_node_has_partitions(&d->tables, n->ref))
            return "no peer lists it and it holds no partition";
    }
    return NULL;
}

static void remove_nodes(as_driver *d)
{
    size_t cluster_size = d->nodes.count;
    for (size_t i = d->nodes.count; i-- > 0;) {
        const char *reason = removal_reason(d, d->nodes.items[i], cluster_size);
        if (reason == NULL)
            continue;
        if (!d->nodes.items[i]->active)
            set_disowned(d, d->nodes.items[i]->name, 1);
        remove_node_at(d, i, reason);
    }
}

/* Step 7: nodes that answer, that no peer listed in the last peers pass and
 * that lost every partition (they left the cluster but still run). */
static void remove_orphans(as_driver *d)
{
    if (d->nodes.count < 2 || d->refresh_count < 1)
        return;
    for (size_t i = d->nodes.count; i-- > 0;) {
        cshm_as_node *n = d->nodes.items[i];
        if (n->friends == 0 && n->failures == 0 &&
            !cshm_as_tables_node_has_partitions(&d->tables, n->ref))
            remove_node_at(d, i, "no peer lists it and it holds no partition");
    }
}

/* ---- failures -------------------------------------------------------------- */

static void node_failed(as_driver *d, cshm_as_node *n, cshm_tend_ctx *ctx, const char *why)
{
    char label[CSHM_HOST_MAX + 80];
    node_label(n, label, sizeof label);
    /* One warning per episode: a node that answers its refresh but fails a
     * later request would otherwise log twice per tend. */
    if (!n->reported)
        cshm_log(CSHM_LOG_WARNING, "aerospike: %s: %s", label, why);
    n->reported = 1;
    n->failures++;
    d->gen_changed = 1;
    note_error(ctx, "%s: %s", label, why);
}

/* ---- peers (2.6) --------------------------------------------------------------- */

/* Validates a peer at its endpoints in order; on success it becomes pending. */
static int discover_peer(as_driver *d, const cshm_as_peer *peer, cshm_tend_ctx *ctx)
{
    for (size_t e = 0; e < peer->endpoint_count; e++) {
        const cshm_as_endpoint *ep = &d->peers.endpoints[peer->first_endpoint + e];
        if (address_listed(d->tried, d->tried_count, ep->host, ep->port))
            continue;
        if (d->nodes.count + d->pending.count >= CSHM_AS_MAX_NODES)
            return CSHM_AS_FAILED;
        cshm_as_node *n = malloc(sizeof *n);
        if (n == NULL)
            return CSHM_AS_FAILED;
        char why[CSHM_AS_WHY_MAX];
        int rc = cshm_as_validate(&d->io, ep->host, ep->port, peer->tls_name, peer->name, 0, n,
                                  why, sizeof why);
        if (rc == CSHM_AS_OK) {
            n->ref = allocate_ref(d);
            n->friends = 1;
            if (list_push(&d->pending, n) != 0) {
                free_node(n);
                return CSHM_AS_FAILED;
            }
            return CSHM_AS_OK;
        }
        free(n);
        if (rc == CSHM_AS_ABORTED)
            return rc;
        remember_tried(d, ep->host, ep->port);
        note_error(ctx, "peer %s: %s", peer->name, why);
    }
    return CSHM_AS_FAILED;
}

/* An existing node listed by a peer: is one of the listed endpoints its
 * address?  (The C client also resolves names; we compare addresses.) */
static int endpoint_matches(const as_driver *d, const cshm_as_peer *peer, const cshm_as_node *n)
{
    for (size_t e = 0; e < peer->endpoint_count; e++) {
        const cshm_as_endpoint *ep = &d->peers.endpoints[peer->first_endpoint + e];
        if (ep->port == n->port && cshm_as_same_host(ep->host, n->host))
            return 1;
    }
    return 0;
}

/* Fetches n's peers and processes them.  On success n->peers_gen is updated
 * only when every listed peer is known or was validated. */
static int refresh_peers(as_driver *d, cshm_as_node *n, cshm_tend_ctx *ctx)
{
    char why[CSHM_AS_WHY_MAX];
    int rc = cshm_as_node_fetch_peers(&d->io, n, &d->peers, why, sizeof why);
    if (rc == CSHM_AS_ABORTED)
        return rc;
    if (rc != CSHM_AS_OK) {
        node_failed(d, n, ctx, why);
        return rc;
    }
    d->refresh_count++;
    d->answered++;
    n->peers_count = (uint32_t)d->peers.count;
    int complete = 1;
    for (size_t i = 0; i < d->peers.count; i++) {
        const cshm_as_peer *peer = &d->peers.peers[i];
        if (strcmp(peer->name, n->name) == 0)
            continue; /* a node never lists itself; ignore it if one does */
        cshm_as_node *known = list_find(&d->nodes, peer->name);
        if (known != NULL && !known->replaced) {
            if (known->failures == 0 || known->loopback || endpoint_matches(d, peer, known)) {
                known->friends++;
                continue;
            }
            /* Same name, new address: validate there, drop the old one. */
            rc = discover_peer(d, peer, ctx);
            if (rc == CSHM_AS_ABORTED)
                return rc;
            if (rc == CSHM_AS_OK)
                known->replaced = 1;
            else
                complete = 0;
            continue;
        }
        cshm_as_node *found = list_find(&d->pending, peer->name);
        if (found != NULL) {
            found->friends++;
            continue;
        }
        rc = discover_peer(d, peer, ctx);
        if (rc == CSHM_AS_ABORTED)
            return rc;
        if (rc != CSHM_AS_OK)
            complete = 0;
    }
    if (complete)
        n->peers_gen = d->peers.generation;
    return CSHM_AS_OK;
}

/* ---- sending ahead -------------------------------------------------------------------- */

typedef int (*as_wants)(const as_driver *d, const cshm_as_node *n);

/* Sends body to every node of nodes[from..to) that `wants`, before the step
 * reads any answer (cshm_as_node_send): the servers work at once, so a step
 * over N nodes costs about one round trip instead of N.  The step then asks
 * each node as before and takes the answer waiting for it; an answer the step
 * does not take is discarded at the end of the tend (aerospike_tend). */
static int send_ahead(as_driver *d, const as_node_list *nodes, size_t from, size_t to,
                      as_wants wants, const char *body)
{
    if (to - from < 2)
        return CSHM_AS_OK; /* nothing to overlap */
    for (size_t i = from; i < to; i++)
        if (wants(d, nodes->items[i]) && cshm_as_node_send(&d->io, nodes->items[i], body) ==
                                             CSHM_AS_ABORTED)
            return CSHM_AS_ABORTED;
    return CSHM_AS_OK;
}

static int wants_refresh(const as_driver *d, const cshm_as_node *n)
{
    (void)d;
    return n->active;
}

static int wants_peers(const as_driver *d, const cshm_as_node *n)
{
    (void)d;
    return n->active && n->failures == 0;
}

static int wants_partitions(const as_driver *d, const cshm_as_node *n)
{
    return n->partition_changed && n->failures == 0 && n->active &&
           (n->peers_count > 0 || d->refresh_count == 1);
}

static int wants_racks(const as_driver *d, const cshm_as_node *n)
{
    (void)d;
    return n->racks_changed && n->failures == 0 && n->active;
}

static void discard_sent(as_node_list *nodes)
{
    for (size_t i = 0; i < nodes->count; i++)
        cshm_as_node_discard_sent(nodes->items[i]);
}

/* Adds the pending nodes, then fetches the peers of every node added, until
 * no new node appears (bounded: every round adds at least one node).  The
 * first `fetched` pending nodes already had their peers fetched this tend. */
static int add_and_expand(as_driver *d, cshm_tend_ctx *ctx, size_t fetched)
{
    size_t next = d->nodes.count + fetched;
    add_pending(d);
    while (next < d->nodes.count) {
        /* One round: the nodes added so far, their peers asked at once. */
        size_t round_end = d->nodes.count;
        if (send_ahead(d, &d->nodes, next, round_end, wants_peers, d->io.peers_body) ==
            CSHM_AS_ABORTED)
            return CSHM_AS_ABORTED;
        while (next < round_end) {
            cshm_as_node *n = d->nodes.items[next++];
            if (wants_peers(d, n)) {
                int rc = refresh_peers(d, n, ctx);
                if (rc == CSHM_AS_ABORTED)
                    return rc;
            }
            add_pending(d);
        }
    }
    return CSHM_AS_OK;
}

/* ---- seeding (2.3) ---------------------------------------------------------------- */

/* Tries one seed address.  Returns OK with *winner set when it validated and
 * lists peers; keeps the first peerless one as *fallback. */
static int try_seed(as_driver *d, const char *host, uint16_t port, const char *tls_name,
                    cshm_tend_ctx *ctx, cshm_as_node **winner, cshm_as_node **fallback)
{
    /* The same address may come from the seeds, the learned addresses and
     * the map: try it once per tend. */
    if (address_listed(d->tried, d->tried_count, host, port))
        return CSHM_AS_FAILED;
    if (*fallback != NULL && (*fallback)->port == port && cshm_as_same_host((*fallback)->host, host))
        return CSHM_AS_FAILED;
    cshm_as_node *n = malloc(sizeof *n);
    if (n == NULL)
        return CSHM_AS_FAILED;
    char why[CSHM_AS_WHY_MAX];
    int rc = cshm_as_validate(&d->io, host, port, tls_name, NULL, 1, n, why, sizeof why);
    if (rc != CSHM_AS_OK) {
        free(n);
        if (rc == CSHM_AS_FAILED) {
            remember_tried(d, host, port);
            note_error(ctx, "%s", why);
        }
        return rc;
    }
    rc = refresh_peers(d, n, ctx);
    if (rc != CSHM_AS_OK) {
        if (rc == CSHM_AS_FAILED)
            remember_tried(d, host, port);
        free_node(n);
        drop_pending(d);
        return rc;
    }
    if (n->peers_count > 0) {
        *winner = n;
        return CSHM_AS_OK;
    }
    /* A node that believes it is alone is used only if nothing better is
     * found (it may be cut off from its cluster). */
    if (*fallback == NULL)
        *fallback = n;
    else
        free_node(n);
    return CSHM_AS_FAILED;
}

static int seed(as_driver *d, const cshm_map *map, cshm_tend_ctx *ctx)
{
    cshm_as_node *winner = NULL, *fallback = NULL;
    int rc = CSHM_AS_FAILED;
    for (size_t i = 0; i < d->seed_count && rc == CSHM_AS_FAILED; i++)
        rc = try_seed(d, d->seeds[i].host, d->seeds[i].port, d->seeds[i].tls_name, ctx, &winner,
                      &fallback);
    for (size_t i = 0; i < d->learned_count && rc == CSHM_AS_FAILED; i++)
        rc = try_seed(d, d->learned[i].host, d->learned[i].port, d->learned[i].tls_name, ctx,
                      &winner, &fallback);
    /* The last published map (maybe from another process's tender) knows
     * nodes the configured seeds may not reach.  It holds no TLS names, so
     * with TLS only the seeds and the learned addresses are tried. */
    uint32_t map_nodes = map->counts->node_count < map->shape.max_nodes ? map->counts->node_count
                                                                         : map->shape.max_nodes;
    if (d->io.tls)
        map_nodes = 0;
    for (uint32_t i = 0; i < map_nodes && i < CSHM_AS_MAP_SEEDS_MAX && rc == CSHM_AS_FAILED; i++) {
        char host[CSHM_HOST_MAX];
        size_t len = strnlen(map->nodes[i].host, sizeof host - 1);
        memcpy(host, map->nodes[i].host, len);
        host[len] = '\0';
        if (len > 0 && map->nodes[i].port != 0)
            rc = try_seed(d, host, map->nodes[i].port, "", ctx, &winner, &fallback);
    }
    if (rc == CSHM_AS_ABORTED) {
        if (fallback != NULL)
            free_node(fallback);
        drop_pending(d);
        return rc;
    }
    cshm_as_node *chosen = winner != NULL ? winner : fallback;
    if (chosen == NULL)
        return CSHM_AS_FAILED;
    if (chosen != fallback && fallback != NULL)
        free_node(fallback);
    /* The seed goes first (node-array order decides AP ties), then its peers. */
    cshm_as_node *seed_node = chosen;
    if (list_push(&d->pending, NULL) != 0) {
        free_node(seed_node);
        drop_pending(d);
        return CSHM_AS_FAILED;
    }
    memmove(&d->pending.items[1], &d->pending.items[0],
            (d->pending.count - 1) * sizeof d->pending.items[0]);
    d->pending.items[0] = seed_node;
    seed_node->ref = allocate_ref(d);
    return add_and_expand(d, ctx, 1);
}

/* ---- refresh (2.5) and partitions (2.7) --------------------------------------------- */

static int refresh_node(as_driver *d, cshm_as_node *n, cshm_tend_ctx *ctx)
{
    uint32_t peers_gen, partition_gen, rebalance_gen;
    char why[CSHM_AS_WHY_MAX];
    int rc = cshm_as_node_refresh(&d->io, n, &peers_gen, &partition_gen, &rebalance_gen, why,
                                  sizeof why);
    if (rc == CSHM_AS_ABORTED)
        return rc;
    if (rc != CSHM_AS_OK) {
        node_failed(d, n, ctx, why);
        return rc;
    }
    if (peers_gen != n->peers_gen)
        d->gen_changed = 1;
    if (partition_gen != n->partition_gen)
        n->partition_changed = 1;
    if (rebalance_gen != CSHM_AS_GEN_UNKNOWN && rebalance_gen != n->rebalance_gen)
        n->racks_changed = 1;
    d->refresh_count++;
    d->answered++;
    if (n->failures > 0) {
        /* Back after failures: what it says may have changed meanwhile. */
        d->gen_changed = 1;
        n->partition_changed = 1;
        n->failures = 0;
    }
    return CSHM_AS_OK;
}

static void on_displaced(void *arg, uint16_t ref)
{
    as_driver *d = arg;
    cshm_as_node *loser = find_by_ref(d, ref);
    /* Make it re-send its replicas next tend: if it still claims, it wins
     * back (AP), so the map converges on what the servers say. */
    if (loser != NULL)
        loser->partition_gen = CSHM_AS_GEN_UNKNOWN;
}

static int refresh_partitions(as_driver *d, cshm_as_node *n, cshm_tend_ctx *ctx)
{
    uint32_t gen;
    char why[CSHM_AS_WHY_MAX];
    int rc = cshm_as_node_fetch_partitions(&d->io, n, &gen, d->replicas, why, sizeof why);
    if (rc == CSHM_AS_ABORTED)
        return rc;
    if (rc != CSHM_AS_OK) {
        node_failed(d, n, ctx, why);
        return rc;
    }
    d->answered++;
    cshm_as_apply_result result;
    if (cshm_as_tables_apply(&d->tables, n->ref, d->replicas, on_displaced, d, &result) != 0) {
        node_failed(d, n, ctx, "out of memory for a partition table");
        return CSHM_AS_FAILED;
    }
    n->partition_gen = gen;
    char label[CSHM_HOST_MAX + 80];
    if (result.claims_ignored > 0) {
        node_label(n, label, sizeof label);
        cshm_log(CSHM_LOG_DEBUG, "aerospike: %s: %u claims under an older regime ignored", label,
                 (unsigned)result.claims_ignored);
    }
    if (result.namespaces_dropped > 0) {
        node_label(n, label, sizeof label);
        cshm_log(CSHM_LOG_ERROR, "aerospike: %s lists more than %d namespaces; %u not tracked",
                 label, CSHM_AS_REPLICAS_NS_MAX, (unsigned)result.namespaces_dropped);
    }
    return CSHM_AS_OK;
}

/* Racks (2.7): fetched when the node's rebalance generation moved. */
static int refresh_racks(as_driver *d, cshm_as_node *n, cshm_tend_ctx *ctx)
{
    uint32_t gen;
    int no_racks;
    char why[CSHM_AS_WHY_MAX];
    int rc = cshm_as_node_fetch_racks(&d->io, n, &gen, &no_racks, why, sizeof why);
    if (rc == CSHM_AS_ABORTED)
        return rc;
    if (rc != CSHM_AS_OK) {
        node_failed(d, n, ctx, why);
        return rc;
    }
    n->rebalance_gen = gen;
    n->racks_changed = 0;
    if (no_racks && !d->no_racks_logged) {
        char label[CSHM_HOST_MAX + 80];
        node_label(n, label, sizeof label);
        /* Only a process that configured a rack asked for racks: for it the
         * missing information is worth a warning; for everyone else (most
         * Community Edition users) it is a fact, said at info level. */
        cshm_log(d->wants_racks ? CSHM_LOG_WARNING : CSHM_LOG_INFO,
                 "aerospike: the cluster has no rack information (%s answers rack-ids with an "
                 "error, as Community Edition does: racks are an Enterprise feature); "
                 "replica prefer_rack routes to masters",
                 label);
        d->no_racks_logged = 1;
    } else if (!no_racks && n->rack_count > 0) {
        d->no_racks_logged = 0;
    }
    return CSHM_AS_OK;
}

static int32_t rack_of(const cshm_as_node *n, const char *ns)
{
    for (uint32_t i = 0; i < n->rack_count && i < CSHM_AS_REPLICAS_NS_MAX; i++)
        if (strcmp(n->racks[i].ns, ns) == 0)
            return n->racks[i].rack;
    return CSHM_NO_RACK;
}

/* ---- the map (step 8) ------------------------------------------------------------------ */

static int compare_tables(const void *a, const void *b)
{
    const cshm_as_table *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* A node of the previous map whose last claims are carried into `map`:
 * its index there (added inactive), or -1 when it must not be (a node the
 * driver holds decides its own claims; a disowned node is not this
 * cluster's) or cannot be (the map is full). */
static int32_t carry_node(const as_driver *d, cshm_map *map, const cshm_map_node *old)
{
    char name[CSHM_NODE_NAME_MAX], host[CSHM_HOST_MAX];
    size_t name_len = strnlen(old->name, sizeof name - 1);
    size_t host_len = strnlen(old->host, sizeof host - 1);
    memcpy(name, old->name, name_len);
    name[name_len] = '\0';
    memcpy(host, old->host, host_len);
    host[host_len] = '\0';
    if (list_find(&d->nodes, name) != NULL || is_disowned(d, name) ||
        cshm_map_find_node(map, name) >= 0 || map->counts->node_count >= map->shape.max_nodes)
        return -1;
    return cshm_map_add_node(map, name, host, old->port, old->is_master, 0);
}

/* Spec 2.8 ("partition entries are not cleared on removal") and 4.3 ("a
 * partition nobody claims keeps its last owner"): a cell that no node of
 * the driver claims keeps its owner of the map this tend started from (the
 * last published one, maybe by another process's tender), listed inactive,
 * until a live node claims it.  Without this, a node removed while down -
 * every node after an outage (2.8 rule 2), before all are back - would
 * leave its partitions with no owner at all, and route() would fail where
 * the last good map routed. */
static void carry_last_owners(as_driver *d, cshm_map *map)
{
    const cshm_map *old = &d->previous;
    if (old->payload == NULL || d->carried == NULL)
        return;
    uint32_t old_nodes = old->counts->node_count < old->shape.max_nodes ? old->counts->node_count
                                                                        : old->shape.max_nodes;
    uint32_t old_ns = old->counts->ns_count < old->shape.max_namespaces ? old->counts->ns_count
                                                                        : old->shape.max_namespaces;
    uint32_t columns = map->shape.columns < CSHM_AS_COLUMNS ? map->shape.columns : CSHM_AS_COLUMNS;
    for (uint32_t i = 0; i < old_nodes; i++)
        d->carried[i] = -2; /* not looked at yet */
    for (uint32_t ons = 0; ons < old_ns; ons++) {
        int ns = -1;
        char ns_name[CSHM_NAMESPACE_MAX];
        size_t len = strnlen(old->namespaces[ons].name, sizeof ns_name - 1);
        memcpy(ns_name, old->namespaces[ons].name, len);
        ns_name[len] = '\0';
        for (uint32_t k = 0; k < map->counts->ns_count; k++)
            if (strcmp(map->namespaces[k].name, ns_name) == 0)
                ns = (int)k;
        for (uint32_t p = 0; p < map->shape.partitions; p++) {
            for (uint32_t col = 0; col < columns; col++) {
                uint16_t o = cshm_map_owner(old, ons, p, col);
                if (o >= old_nodes || (ns >= 0 && cshm_map_owner(map, (uint32_t)ns, p, col) !=
                                                      CSHM_NO_NODE))
                    continue;
                if (d->carried[o] == -2)
                    d->carried[o] = carry_node(d, map, &old->nodes[o]);
                if (d->carried[o] < 0)
                    continue;
                if (ns < 0) {
                    /* Every owner of the namespace is gone from the driver. */
                    ns = cshm_map_add_namespace(map, ns_name);
                    if (ns < 0)
                        goto next_namespace; /* over max_namespaces: the map flags it */
                    map->namespaces[ns].sc_mode = old->namespaces[ons].sc_mode;
                    map->namespaces[ns].columns_used = old->namespaces[ons].columns_used;
                }
                cshm_map_set_owner(map, (uint32_t)ns, p, col, (uint16_t)d->carried[o]);
            }
        }
    next_namespace:;
    }
}

static void fill_map(as_driver *d, cshm_map *map)
{
    if (d->previous.payload == NULL && cshm_map_init(&d->previous, &map->shape) == 0)
        d->carried = calloc(map->shape.max_nodes, sizeof *d->carried);
    if (d->previous.payload != NULL && d->previous.payload_size == map->payload_size)
        cshm_map_copy(&d->previous, map);
    cshm_map_clear(map);
    memset(d->ref_to_map, 0xFF, sizeof d->ref_to_map); /* -1 everywhere */
    for (size_t i = 0; i < d->nodes.count; i++) {
        const cshm_as_node *n = d->nodes.items[i];
        int index = cshm_map_add_node(map, n->name, n->host, n->port, 1,
                                      n->active && n->failures == 0);
        if (n->ref <= CSHM_AS_REF_MAX)
            d->ref_to_map[n->ref] = (int16_t)index;
    }
    /* Namespaces in name order, so equal clusters give equal maps whatever
     * order they were discovered in; those nobody owns any more are left out
     * (route() then says the namespace is unknown). */
    cshm_as_table *sorted[CSHM_AS_REPLICAS_NS_MAX];
    size_t count = 0;
    for (size_t k = 0; k < d->tables.count; k++)
        if (cshm_as_table_has_owners(d->tables.tables[k]))
            sorted[count++] = d->tables.tables[k];
    qsort(sorted, count, sizeof sorted[0], compare_tables);
    uint32_t columns = map->shape.columns < CSHM_AS_COLUMNS ? map->shape.columns : CSHM_AS_COLUMNS;
    for (size_t k = 0; k < count; k++) {
        const cshm_as_table *table = sorted[k];
        int ns = cshm_map_add_namespace(map, table->name);
        if (ns < 0)
            continue; /* over max_namespaces: the map flags it */
        map->namespaces[ns].sc_mode = table->sc_mode;
        map->namespaces[ns].columns_used = table->n_cols < columns ? table->n_cols : columns;
        for (size_t i = 0; i < d->nodes.count; i++) {
            const cshm_as_node *n = d->nodes.items[i];
            if (n->ref <= CSHM_AS_REF_MAX && d->ref_to_map[n->ref] >= 0)
                cshm_map_set_rack(map, (uint32_t)ns, (uint32_t)d->ref_to_map[n->ref],
                                  rack_of(n, table->name));
        }
        if (table->n_cols > map->shape.columns)
            map->counts->flags |= CSHM_MAP_REPLICAS_TRUNCATED;
        for (uint32_t p = 0; p < CSHM_AS_PARTITIONS && p < map->shape.partitions; p++) {
            const cshm_as_cell *cell = &table->cells[p];
            for (uint32_t col = 0; col < columns; col++) {
                uint16_t ref = cell->nodes[col];
                if (ref != 0 && ref <= CSHM_AS_REF_MAX && d->ref_to_map[ref] >= 0)
                    cshm_map_set_owner(map, (uint32_t)ns, p, col, (uint16_t)d->ref_to_map[ref]);
            }
            if (map->regimes != NULL)
                map->regimes[(size_t)ns * map->shape.partitions + p] = cell->regime;
        }
    }
    carry_last_owners(d, map);
    cshm_map_sort_nodes(map);
}

/* ---- tend ------------------------------------------------------------------------------------ */

static int tend_steps(as_driver *d, cshm_map *map, cshm_tend_ctx *ctx)
{
    int rc;
    for (size_t i = 0; i < d->nodes.count; i++)
        d->nodes.items[i]->partition_changed = 0;

    if (d->nodes.count == 0) {
        rc = seed(d, map, ctx);
        if (rc != CSHM_AS_OK)
            return rc;
        d->refresh_count = (uint32_t)d->nodes.count;
    } else {
        /* Step 3. */
        if (send_ahead(d, &d->nodes, 0, d->nodes.count, wants_refresh,
                       cshm_as_refresh_body(&d->io)) == CSHM_AS_ABORTED)
            return CSHM_AS_ABORTED;
        for (size_t i = 0; i < d->nodes.count; i++) {
            cshm_as_node *n = d->nodes.items[i];
            if (n->active && refresh_node(d, n, ctx) == CSHM_AS_ABORTED)
                return CSHM_AS_ABORTED;
        }
        /* Step 4. */
        if (d->gen_changed) {
            d->refresh_count = 0;
            for (size_t i = 0; i < d->nodes.count; i++)
                d->nodes.items[i]->friends = 0;
            if (send_ahead(d, &d->nodes, 0, d->nodes.count, wants_peers, d->io.peers_body) ==
                CSHM_AS_ABORTED)
                return CSHM_AS_ABORTED;
            for (size_t i = 0; i < d->nodes.count; i++) {
                cshm_as_node *n = d->nodes.items[i];
                if (wants_peers(d, n) && refresh_peers(d, n, ctx) == CSHM_AS_ABORTED)
                    return CSHM_AS_ABORTED;
            }
            remove_nodes(d);
        }
        /* Step 5. */
        if (d->pending.count > 0) {
            if (add_and_expand(d, ctx, 0) == CSHM_AS_ABORTED)
                return CSHM_AS_ABORTED;
            remove_nodes(d); /* nodes found at a new address during the expansion */
        }
    }
    /* Step 6: the partitions of every node, then the racks (each node's
     * racks after its partitions, as before, since a failure skips both). */
    if (send_ahead(d, &d->nodes, 0, d->nodes.count, wants_partitions, CSHM_AS_PARTITIONS_BODY) ==
        CSHM_AS_ABORTED)
        return CSHM_AS_ABORTED;
    for (size_t i = 0; i < d->nodes.count; i++) {
        cshm_as_node *n = d->nodes.items[i];
        if (wants_partitions(d, n) && refresh_partitions(d, n, ctx) == CSHM_AS_ABORTED)
            return CSHM_AS_ABORTED;
    }
    if (send_ahead(d, &d->nodes, 0, d->nodes.count, wants_racks, CSHM_AS_RACKS_BODY) ==
        CSHM_AS_ABORTED)
        return CSHM_AS_ABORTED;
    for (size_t i = 0; i < d->nodes.count; i++) {
        cshm_as_node *n = d->nodes.items[i];
        if (wants_racks(d, n) && refresh_racks(d, n, ctx) == CSHM_AS_ABORTED)
            return CSHM_AS_ABORTED;
    }
    /* Step 7. */
    remove_orphans(d);
    for (size_t i = 0; i < d->nodes.count; i++) {
        cshm_as_node *n = d->nodes.items[i];
        if (n->reported && n->failures == 0) {
            char label[CSHM_HOST_MAX + 80];
            node_label(n, label, sizeof label);
            cshm_log(CSHM_LOG_INFO, "aerospike: %s answers again", label);
            n->reported = 0;
        }
    }
    return CSHM_AS_OK;
}

static int aerospike_tend(void *state, cshm_map *map, cshm_tend_ctx *ctx)
{
    as_driver *d = state;
    d->io.ctx = ctx;
    d->tried_count = 0;
    d->refresh_count = 0;
    d->answered = 0;
    d->gen_changed = 0;
    int seeding = d->nodes.count == 0;

    int rc = tend_steps(d, map, ctx);
    discard_sent(&d->nodes);
    drop_pending(d);
    if (rc == CSHM_AS_ABORTED)
        return CSHM_TEND_ABORTED;
    if (d->answered == 0 || d->nodes.count == 0) {
        prefix_error(ctx, seeding ? "no seed could be used" : "no node answered");
        return CSHM_TEND_UNREACHABLE;
    }
    fill_map(d, map);
    return CSHM_TEND_OK;
}

/* ---- driver interface --------------------------------------------------------------------- */

static void aerospike_shape(const cshm_config *config, cshm_map_shape *shape)
{
    shape->partitions = CSHM_AS_PARTITIONS;
    shape->max_nodes = config->options.max_nodes;
    shape->max_namespaces = config->options.max_namespaces;
    shape->columns = CSHM_AS_COLUMNS;
    shape->has_regimes = 1;
}

static int aerospike_create(const cshm_config *config, void **state, cshm_error *error)
{
    as_driver *d = calloc(1, sizeof *d);
    if (d != NULL)
        d->replicas = malloc(sizeof *d->replicas);
    if (d == NULL || d->replicas == NULL) {
        free(d);
        return cshm_fail(error, CSHM_ERR_SYSTEM, "out of memory for the Aerospike driver");
    }
    for (size_t i = 0; i < config->seed_count && i < CSHM_MAX_SEEDS; i++) {
        snprintf(d->seeds[i].host, CSHM_HOST_MAX, "%s", config->seeds[i].host);
        snprintf(d->seeds[i].tls_name, sizeof d->seeds[i].tls_name, "%s",
                 config->seeds[i].tls_name);
        d->seeds[i].port = config->seeds[i].port;
    }
    d->seed_count = config->seed_count < CSHM_MAX_SEEDS ? config->seed_count : CSHM_MAX_SEEDS;
    snprintf(d->cluster_name, sizeof d->cluster_name, "%s", config->options.cluster_name);
    cshm_as_tables_init(&d->tables);
    cshm_as_peers_init(&d->peers);
    cshm_info_response_init(&d->response);
    d->io.response = &d->response;
    d->io.cluster_name = d->cluster_name;
    d->io.tend_interval = config->options.tend_interval;
    d->wants_racks = config->options.rack_id >= 0;
    /* Which peers and service lists, as the official client picks them
     * (spec 2.1): the TLS ones carry the nodes' TLS ports and names. */
    int alt = config->options.use_alternate_access_address;
    d->io.tls = config->tls;
    d->io.tls_options = &d->tls_options;
    d->tls_options = config->options;
    if (config->tls) {
        d->io.peers_name = alt ? "peers-tls-alt" : "peers-tls-std";
        d->io.peers_body = alt ? "peers-tls-alt\n" : "peers-tls-std\n";
        d->io.service_name = alt ? "service-tls-alt" : "service-tls-std";
    } else {
        d->io.peers_name = alt ? "peers-clear-alt" : "peers-clear-std";
        d->io.peers_body = alt ? "peers-clear-alt\n" : "peers-clear-std\n";
        d->io.service_name = alt ? "service-clear-alt" : "service-clear-std";
    }
    if (config->has_user) {
        snprintf(d->auth.user, sizeof d->auth.user, "%s", config->user);
        memcpy(d->auth.password, config->password, sizeof d->auth.password);
        d->auth.password[sizeof d->auth.password - 1] = '\0';
        d->io.auth = &d->auth;
    }
    *state = d;
    return 0;
}

/* Between tends only the cluster's nodes hold sockets (pending nodes live
 * within one tend); each reconnects at its next info request. */
static void aerospike_release(void *state)
{
    as_driver *d = state;
    for (size_t i = 0; i < d->nodes.count; i++)
        cshm_as_node_close(d->nodes.items[i]);
    for (size_t i = 0; i < d->pending.count; i++)
        cshm_as_node_close(d->pending.items[i]);
}

static void aerospike_destroy(void *state)
{
    as_driver *d = state;
    if (d == NULL)
        return;
    drop_pending(d);
    for (size_t i = 0; i < d->nodes.count; i++)
        free_node(d->nodes.items[i]);
    free(d->nodes.items);
    free(d->pending.items);
    cshm_as_tables_free(&d->tables);
    cshm_as_peers_free(&d->peers);
    cshm_info_response_free(&d->response);
    cshm_map_free(&d->previous);
    free(d->carried);
    free(d->replicas);
    explicit_bzero(&d->auth, sizeof d->auth);
    explicit_bzero(&d->tls_options, sizeof d->tls_options);
    cshm_tls_context_free(d->io.tls_context);
    free(d);
}

const cshm_driver_ops cshm_driver_aerospike = {
    .name = "aerospike",
    .kind = CSHM_DRIVER_AEROSPIKE,
    .shape = aerospike_shape,
    .create = aerospike_create,
    .tend = aerospike_tend,
    .release = aerospike_release,
    .destroy = aerospike_destroy,
    .partition = cshm_aerospike_partition,
};
