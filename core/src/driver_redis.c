/*
 * driver_redis.c - the Redis Cluster driver: which node to ask, the one
 * connection, authentication and the tend loop.  Turning a reply into a map
 * is redis_topology.c's job.
 *
 * Invariants:
 *  - At most one connection is open, and only while it is in step: no
 *    request outstanding and, when credentials are configured, authenticated.
 *    Any failure or abort closes it, and so does release() when this
 *    process stops being tender; the next tend reconnects.
 *  - Each candidate node gets one deadline of ctx->op_timeout for everything
 *    it is asked (connect, AUTH, CLUSTER SHARDS, the CLUSTER SLOTS fallback).
 *  - The caller's map is written only when a whole reply parsed cleanly: the
 *    map is built in a scratch map of the same shape and copied over.
 *  - Candidates per tend: the node that answered last, then up to
 *    MAX_MAP_CANDIDATES other nodes of the last map (online ones first,
 *    starting at a different one every tend), then every seed; no endpoint
 *    twice.  The cap keeps a tend against an unreachable cluster to a few
 *    timeouts, so the map is marked stale promptly; the rotation still
 *    reaches every node over successive tends.
 *  - Credentials are wiped from memory when the driver is destroyed and from
 *    the command buffer after every send.
 *  - rediss://: every connection is TLS, handshake inside the node's
 *    deadline, verified against tls_server_name or the host we connect to
 *    (the URL's host for a seed, the node's preferred endpoint otherwise,
 *    which is its announced hostname under cluster-preferred-endpoint-type
 *    hostname).  The context is built at the first connection, in the
 *    tender thread, and kept until destroy(); a failure to build it fails
 *    the tend with the reason and is tried again at the next.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "driver.h"
#include "error.h"
#include "net.h"
#include "redis_topology.h"
#include "resp.h"
#include "tls.h"

#define MAX_MAP_CANDIDATES 8
#define MAX_CANDIDATES (1 + MAX_MAP_CANDIDATES + CSHM_MAX_SEEDS)
#define REDIS_COLUMNS 4
/* AUTH user password: 128 + 256 bytes of credentials and the framing. */
#define COMMAND_MAX 1024
#define REASON_MAX 224
/* Room kept at the end of the failure list for "; +N more". */
#define OMITTED_ROOM 16

typedef struct endpoint {
    char host[CSHM_HOST_MAX];
    uint16_t port;
} endpoint;

typedef struct redis_state {
    cshm_seed seeds[CSHM_MAX_SEEDS];
    size_t seed_count;
    int has_user, has_password;
    char user[CSHM_USER_MAX];
    char password[CSHM_PASSWORD_MAX];
    double tend_interval;          /* seconds a resolved host name is reused */
    int tls;                       /* rediss:// */
    cshm_options tls_options;      /* the tls_* settings (the rest unused) */
    cshm_tls_context *tls_context; /* built at the first TLS connection */

    int fd;                        /* -1 when not connected */
    endpoint connected;
    int shards_unknown;            /* this connection's server predates CLUSTER SHARDS */
    cshm_resp_buffer input;

    int has_last_answer;
    endpoint last_answer;
    uint32_t rotation;

    endpoint candidates[MAX_CANDIDATES];
    cshm_map scratch;
} redis_state;

enum {
    TRY_OK,
    TRY_FAILED,     /* the node could not give a usable map */
    TRY_BROKEN,     /* the connection failed before the deadline (worth one fresh retry) */
    TRY_ABORTED,
};

/* ---- the connection ---------------------------------------------------- */

static void disconnect(redis_state *s)
{
    cshm_net_close(&s->fd);
    cshm_resp_buffer_free(&s->input);
    s->shards_unknown = 0;
}

static int same_endpoint(const endpoint *a, const char *host, uint16_t port)
{
    return a->port == port && strcmp(a->host, host) == 0;
}

/* Send argv and read the reply (which may be an error reply).  Returns 0,
 * CSHM_RESP_READ_NETWORK when the connection failed (writing counts), or
 * CSHM_RESP_READ_PROTOCOL. */
static int request(redis_state *s, size_t argc, const char *const *argv, double deadline,
                   cshm_reply *reply, char *why, size_t why_size)
{
    char command[COMMAND_MAX];
    size_t lengths[3];
    if (argc > 3) {
        snprintf(why, why_size, "internal error: command of %zu words", argc);
        return CSHM_RESP_READ_PROTOCOL;
    }
    for (size_t i = 0; i < argc; i++)
        lengths[i] = strlen(argv[i]);
    size_t n = cshm_resp_encode(command, sizeof command, argc, argv, lengths);
    if (n > sizeof command) {
        snprintf(why, why_size, "internal error: %s command of %zu bytes", argv[0], n);
        return CSHM_RESP_READ_PROTOCOL;
    }
    int rc = cshm_net_write_all(s->fd, command, n, deadline, why, why_size);
    explicit_bzero(command, n);
    if (rc != 0)
        return CSHM_RESP_READ_NETWORK;
    return cshm_resp_read_reply(s->fd, &s->input, deadline, reply, why, why_size);
}

static int error_starts_with(const cshm_resp *reply, const char *prefix)
{
    size_t n = strlen(prefix);
    return reply->type == CSHM_RESP_ERROR && reply->len >= n && memcmp(reply->str, prefix, n) == 0;
}

static void describe_error_reply(const cshm_resp *reply, const char *command, char *why,
                                 size_t why_size)
{
    if (error_starts_with(reply, "NOAUTH")) {
        snprintf(why, why_size,
                 "the server requires a password (NOAUTH); give it in the URL: "
                 "redis://:PASSWORD@host:port or redis://USER:PASSWORD@host:port");
        return;
    }
    if (error_starts_with(reply, "WRONGPASS")) {
        snprintf(why, why_size,
                 "authentication failed (WRONGPASS): wrong user or password, or the user is "
                 "disabled; check the credentials in the URL");
        return;
    }
    char text[120];
    cshm_resp_printable(text, sizeof text, reply->str, reply->len);
    snprintf(why, why_size, "%s answered: %s", command, text);
}

static int authenticate(redis_state *s, double deadline, char *why, size_t why_size)
{
    const char *argv[3] = {"AUTH", s->user, s->password};
    size_t argc = 3;
    if (!s->has_user) {
        argv[1] = s->password;
        argc = 2;
    }
    cshm_reply reply;
    if (request(s, argc, argv, deadline, &reply, why, why_size) != 0)
        return -1;
    int rc = 0;
    if (reply.root->type == CSHM_RESP_ERROR) {
        describe_error_reply(reply.root, "AUTH", why, why_size);
        rc = -1;
    } else if (reply.root->type != CSHM_RESP_STRING) {
        snprintf(why, why_size, "AUTH answered %s instead of OK",
                 cshm_resp_type_name(reply.root->type));
        rc = -1;
    }
    cshm_reply_free(&reply);
    return rc;
}

static int aborted(cshm_tend_ctx *ctx)
{
    return ctx->progress != NULL && ctx->progress(ctx->progress_arg) != 0;
}

/* Redis 6 says "Unknown subcommand or wrong number of arguments for
 * 'SHARDS'", Redis 7 "unknown subcommand 'SHARDS'". */
static int is_unknown_subcommand(const cshm_resp *reply)
{
    return reply->type == CSHM_RESP_ERROR &&
           (strcasestr(reply->str, "unknown subcommand") != NULL ||
            strcasestr(reply->str, "unknown command") != NULL);
}

static int ask_topology(redis_state *s, const endpoint *e, double deadline, cshm_tend_ctx *ctx,
                        char *why, size_t why_size)
{
    static const char *const shards[2] = {"CLUSTER", "SHARDS"};
    static const char *const slots[2] = {"CLUSTER", "SLOTS"};
    cshm_reply reply;
    int sent = request(s, 2, s->shards_unknown ? slots : shards, deadline, &reply, why, why_size);
    if (sent == CSHM_RESP_READ_NETWORK && cshm_mono_now() < deadline)
        return TRY_BROKEN;
    if (sent != 0)
        return TRY_FAILED;
    if (!s->shards_unknown && is_unknown_subcommand(reply.root)) {
        cshm_reply_free(&reply);
        s->shards_unknown = 1;
        if (aborted(ctx))
            return TRY_ABORTED;
        if (request(s, 2, slots, deadline, &reply, why, why_size) != 0)
            return TRY_FAILED;
    }
    int rc = TRY_OK;
    if (reply.root->type == CSHM_RESP_ERROR) {
        describe_error_reply(reply.root, s->shards_unknown ? "CLUSTER SLOTS" : "CLUSTER SHARDS",
                             why, why_size);
        rc = TRY_FAILED;
    } else {
        cshm_redis_origin origin = {.host = e->host, .tls = s->tls};
        int parsed = s->shards_unknown
                         ? cshm_redis_map_from_slots(reply.root, &origin, &s->scratch, why, why_size)
                         : cshm_redis_map_from_shards(reply.root, &origin, &s->scratch, why,
                                                      why_size);
        if (parsed != 0)
            rc = TRY_FAILED;
    }
    cshm_reply_free(&reply);
    return rc;
}

/* Connect and authenticate; the connection is open only on TRY_OK. */
static int open_connection(redis_state *s, const endpoint *e, double deadline, cshm_tend_ctx *ctx,
                           char *why, size_t why_size)
{
    if (s->tls && s->tls_context == NULL &&
        cshm_tls_context_new(&s->tls_options, &s->tls_context, why, why_size) != 0)
        return TRY_FAILED;
    if (cshm_net_connect(e->host, e->port, deadline, s->tend_interval, &s->fd, why,
                         why_size) != 0)
        return TRY_FAILED;
    if (s->tls && cshm_net_start_tls(s->fd, s->tls_context, e->host, deadline, why,
                                     why_size) != 0) {
        disconnect(s);
        return TRY_FAILED;
    }
    s->connected = *e;
    s->shards_unknown = 0;
    if (aborted(ctx)) {
        disconnect(s);
        return TRY_ABORTED;
    }
    if (s->has_password) {
        if (authenticate(s, deadline, why, why_size) != 0) {
            disconnect(s);
            return TRY_FAILED;
        }
        if (aborted(ctx)) {
            disconnect(s);
            return TRY_ABORTED;
        }
    }
    return TRY_OK;
}

/* A TLS-only node drops a plain connection at its first command (OpenSSL
 * takes the command for a broken handshake): say so, since the plain
 * failure alone reads like a network fault. */
static void hint_tls_port(char *why, size_t why_size)
{
    if (strstr(why, "reset by peer") == NULL && strstr(why, "closed by the server") == NULL)
        return;
    size_t len = strlen(why);
    snprintf(why + len, why_size - len,
             " (a TLS-only node does this to a plain connection: if the cluster runs TLS, "
             "use rediss://)");
}

/* Connect (if needed), authenticate, ask; the map lands in s->scratch. */
static int try_candidate(redis_state *s, const endpoint *e, cshm_tend_ctx *ctx, char *why,
                         size_t why_size)
{
    double deadline = cshm_mono_now() + ctx->op_timeout;
    if (s->fd >= 0 && !same_endpoint(&s->connected, e->host, e->port))
        disconnect(s);
    /* A kept connection may have been closed by the server since the last
     * tend (idle timeout, restart): then one fresh connection is tried
     * within the same deadline rather than failing the node. */
    int reused = s->fd >= 0;
    for (;;) {
        if (s->fd < 0) {
            int opened = open_connection(s, e, deadline, ctx, why, why_size);
            if (opened != TRY_OK)
                return opened;
        }
        int rc = ask_topology(s, e, deadline, ctx, why, why_size);
        if (rc == TRY_OK)
            return TRY_OK;
        if (!reused && !s->tls)
            hint_tls_port(why, why_size);
        disconnect(s);
        if (rc == TRY_BROKEN && reused) {
            reused = 0;
            if (aborted(ctx))
                return TRY_ABORTED;
            continue;
        }
        return rc == TRY_BROKEN ? TRY_FAILED : rc;
    }
}

/* ---- candidates and failures ------------------------------------------- */

static void add_candidate(redis_state *s, size_t *count, const char *host, size_t host_cap,
                          uint16_t port)
{
    size_t len = strnlen(host, host_cap);
    if (*count >= MAX_CANDIDATES || len == 0 || len >= CSHM_HOST_MAX || port == 0)
        return;
    for (size_t i = 0; i < *count; i++)
        if (s->candidates[i].port == port && strncmp(s->candidates[i].host, host, len + 1) == 0)
            return;
    memcpy(s->candidates[*count].host, host, len);
    s->candidates[*count].host[len] = '\0';
    s->candidates[*count].port = port;
    (*count)++;
}

static size_t collect_candidates(redis_state *s, const cshm_map *map)
{
    size_t count = 0;
    if (s->has_last_answer)
        add_candidate(s, &count, s->last_answer.host, sizeof s->last_answer.host,
                      s->last_answer.port);
    uint32_t nodes = map->counts->node_count;
    if (nodes > map->shape.max_nodes)
        nodes = map->shape.max_nodes;
    size_t from_map = 0;
    for (int want_active = 1; want_active >= 0; want_active--) {
        for (uint32_t k = 0; k < nodes && from_map < MAX_MAP_CANDIDATES; k++) {
            const cshm_map_node *node = &map->nodes[(s->rotation + k) % nodes];
            if ((node->active != 0) != want_active)
                continue;
            size_t before = count;
            add_candidate(s, &count, node->host, sizeof node->host, node->port);
            from_map += count - before;
        }
    }
    s->rotation++;
    for (size_t i = 0; i < s->seed_count; i++)
        add_candidate(s, &count, s->seeds[i].host, sizeof s->seeds[i].host, s->seeds[i].port);
    return count;
}

typedef struct failure_list {
    char text[sizeof(((cshm_tend_ctx *)0)->error)];
    size_t len;
    unsigned omitted;
} failure_list;

static void failures_add(failure_list *f, const endpoint *e, const char *why)
{
    char where[CSHM_HOST_MAX + 8];
    char entry[CSHM_HOST_MAX + REASON_MAX + 16];
    cshm_net_format_endpoint(where, sizeof where, e->host, e->port);
    int n = snprintf(entry, sizeof entry, "%s%s: %s", f->len > 0 ? "; " : "", where, why);
    size_t entry_len = n < 0 ? 0 : (size_t)n < sizeof entry ? (size_t)n : sizeof entry - 1;
    size_t room = sizeof f->text - 1 - OMITTED_ROOM;
    if (f->omitted == 0 && f->len + entry_len <= room) {
        memcpy(f->text + f->len, entry, entry_len);
        f->len += entry_len;
    } else if (f->len == 0) {
        /* One long reason: cut it rather than report nothing. */
        cshm_resp_printable(f->text, room + 1, entry, entry_len);
        f->len = strlen(f->text);
    } else {
        f->omitted++;
    }
    f->text[f->len] = '\0';
}

static void failures_finish(failure_list *f, char *out, size_t out_size)
{
    if (f->omitted > 0)
        snprintf(f->text + f->len, sizeof f->text - f->len, "; +%u more", f->omitted);
    snprintf(out, out_size, "%s", f->text);
}

/* ---- driver operations ------------------------------------------------- */

static void redis_shape(const cshm_config *config, cshm_map_shape *shape)
{
    memset(shape, 0, sizeof *shape);
    shape->partitions = CSHM_REDIS_SLOTS;
    shape->max_nodes = config->options.max_nodes;
    shape->max_namespaces = 1;
    shape->columns = REDIS_COLUMNS;
    shape->has_regimes = 0;
}

static int redis_create(const cshm_config *config, void **state, cshm_error *error)
{
    redis_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return cshm_fail(error, CSHM_ERR_SYSTEM, "out of memory creating the Redis driver");
    s->fd = -1;
    s->tend_interval = config->options.tend_interval;
    s->tls = config->tls;
    s->tls_options = config->options;
    s->seed_count = config->seed_count < CSHM_MAX_SEEDS ? config->seed_count : CSHM_MAX_SEEDS;
    memcpy(s->seeds, config->seeds, s->seed_count * sizeof s->seeds[0]);
    s->has_user = config->has_user;
    s->has_password = config->has_password;
    memcpy(s->user, config->user, sizeof s->user);
    memcpy(s->password, config->password, sizeof s->password);
    s->user[sizeof s->user - 1] = '\0';
    s->password[sizeof s->password - 1] = '\0';
    cshm_map_shape shape;
    redis_shape(config, &shape);
    if (cshm_map_init(&s->scratch, &shape) != 0) {
        explicit_bzero(s->password, sizeof s->password);
        free(s);
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "cannot allocate a Redis map for max_nodes=%u (out of memory or out "
                         "of range)",
                         (unsigned)shape.max_nodes);
    }
    *state = s;
    return 0;
}

/* Copy the new map over the caller's, keeping what the tender owns. */
static void install_map(cshm_map *map, const cshm_map *built)
{
    uint64_t generation = map->counts->generation;
    uint64_t tended_at_ms = map->counts->tended_at_ms;
    cshm_map_copy(map, built);
    map->counts->generation = generation;
    map->counts->tended_at_ms = tended_at_ms;
}

/* The connection goes to a node that is neither in the new map nor a seed:
 * it left the cluster, so stop talking to it and stop asking it first. */
static void close_if_departed(redis_state *s, const cshm_map *map)
{
    if (s->fd < 0)
        return;
    for (uint32_t i = 0; i < map->counts->node_count && i < map->shape.max_nodes; i++)
        if (same_endpoint(&s->connected, map->nodes[i].host, map->nodes[i].port))
            return;
    for (size_t i = 0; i < s->seed_count; i++)
        if (same_endpoint(&s->connected, s->seeds[i].host, s->seeds[i].port))
            return;
    disconnect(s);
    s->has_last_answer = 0;
}

static int redis_tend(void *state, cshm_map *map, cshm_tend_ctx *ctx)
{
    redis_state *s = state;
    failure_list failures;
    memset(&failures, 0, sizeof failures);
    ctx->error[0] = '\0';
    if (map->payload_size != s->scratch.payload_size) {
        snprintf(ctx->error, sizeof ctx->error,
                 "internal error: the map's shape differs from the Redis driver's");
        return CSHM_TEND_UNREACHABLE;
    }
    size_t count = collect_candidates(s, map);
    for (size_t i = 0; i < count; i++) {
        if (aborted(ctx))
            return CSHM_TEND_ABORTED;
        char why[REASON_MAX];
        why[0] = '\0';
        int rc = try_candidate(s, &s->candidates[i], ctx, why, sizeof why);
        if (rc == TRY_ABORTED)
            return CSHM_TEND_ABORTED;
        if (rc == TRY_OK) {
            install_map(map, &s->scratch);
            s->last_answer = s->candidates[i];
            s->has_last_answer = 1;
            close_if_departed(s, map);
            /* Nodes that failed before this one are worth a line in status. */
            failures_finish(&failures, ctx->error, sizeof ctx->error);
            return CSHM_TEND_OK;
        }
        failures_add(&failures, &s->candidates[i], why);
    }
    if (count == 0)
        snprintf(failures.text, sizeof failures.text, "no node to ask (no seed, empty map)");
    failures_finish(&failures, ctx->error, sizeof ctx->error);
    return CSHM_TEND_UNREACHABLE;
}

static void redis_release(void *state)
{
    disconnect(state);
}

static void redis_destroy(void *state)
{
    redis_state *s = state;
    if (s == NULL)
        return;
    disconnect(s);
    cshm_tls_context_free(s->tls_context);
    cshm_map_free(&s->scratch);
    explicit_bzero(s->password, sizeof s->password);
    explicit_bzero(s->user, sizeof s->user);
    free(s);
}

static int redis_partition(const cshm_key *key, const char *set, uint32_t *partition,
                           cshm_error *error)
{
    (void)set;
    switch (key->type) {
    case CSHM_KEY_BYTES:
    case CSHM_KEY_STRING:
        if (key->data == NULL && key->len > 0)
            return cshm_fail(error, CSHM_ERR_CONFIG, "key has %zu bytes but no data", key->len);
        *partition = cshm_redis_slot(key->data, key->len);
        return 0;
    case CSHM_KEY_INTEGER: {
        /* Redis keys are strings: an integer key is stored as its decimal text. */
        char text[24];
        int n = snprintf(text, sizeof text, "%" PRId64, key->integer);
        *partition = cshm_redis_slot(text, (size_t)n);
        return 0;
    }
    }
    return cshm_fail(error, CSHM_ERR_CONFIG, "unknown key type %d", (int)key->type);
}

const cshm_driver_ops cshm_driver_redis = {
    .name = "redis",
    .kind = CSHM_DRIVER_REDIS,
    .shape = redis_shape,
    .create = redis_create,
    .tend = redis_tend,
    .release = redis_release,
    .destroy = redis_destroy,
    .partition = redis_partition,
};
