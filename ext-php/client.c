/*
 * client.c - ClusterShm\Client: argument conversion, exceptions and the
 * object's lifecycle; routing, tending and ownership are the core's.
 *
 * Invariants:
 *  - The object never owns a core client: it holds a reference to the
 *    worker's persistent conn (persistent.h), so destroying objects at the
 *    end of a request never detaches or hands the tender role over.
 *  - Objects are not clonable and not serializable (a copy would make two
 *    handles out of one reference for no benefit).
 */
#include "client.h"

#include "zend_exceptions.h"
#include "zend_interfaces.h"
#include "exceptions.h"
#include "keys.h"
#include "options.h"
#include "persistent.h"
#include "php_clustershm.h"

zend_class_entry *cshm_php_ce_client;
static zend_object_handlers client_handlers;

typedef struct cshm_php_client {
    zend_string *url;            /* NULL until the constructor ran */
    zend_string *table_key;
    cshm_options options;
    cshm_php_conn *conn;         /* NULL until connect() */
    zend_object std;
} cshm_php_client;

static inline cshm_php_client *client_from(zend_object *obj)
{
    return (cshm_php_client *)((char *)obj - XtOffsetOf(cshm_php_client, std));
}
#define THIS_CLIENT() client_from(Z_OBJ_P(ZEND_THIS))

static zend_object *client_create(zend_class_entry *ce)
{
    cshm_php_client *c = zend_object_alloc(sizeof *c, ce);
    zend_object_std_init(&c->std, ce);
    object_properties_init(&c->std, ce);
    c->std.handlers = &client_handlers;
    return &c->std;
}

static void client_free(zend_object *obj)
{
    cshm_php_client *c = client_from(obj);
    cshm_php_conn_release(c->conn);
    c->conn = NULL;
    if (c->url != NULL)
        zend_string_release(c->url);
    if (c->table_key != NULL)
        zend_string_release(c->table_key);
    zend_object_std_dtor(obj);
}

void cshm_php_client_register(zend_class_entry *ce)
{
    cshm_php_ce_client = ce;
    ce->create_object = client_create;
    memcpy(&client_handlers, zend_get_std_object_handlers(), sizeof client_handlers);
    client_handlers.offset = XtOffsetOf(cshm_php_client, std);
    client_handlers.free_obj = client_free;
    client_handlers.clone_obj = NULL;
}

/* The open core client of this object, or NULL after throwing. */
static cshm_client *open_client(cshm_php_client *c)
{
    if (c->url == NULL) {
        zend_throw_exception(cshm_php_ce_exception,
                             "ClusterShm\\Client is not initialized: a subclass constructor must "
                             "call parent::__construct($url, $options)",
                             -CSHM_ERR_STATE);
        return NULL;
    }
    if (c->conn == NULL) {
        zend_throw_exception(cshm_php_ce_exception,
                             "ClusterShm\\Client is not connected: call connect() first, or use "
                             "ClusterShm\\connect($url, $options)",
                             -CSHM_ERR_STATE);
        return NULL;
    }
    if (c->conn->client == NULL) {
        zend_throw_exception(cshm_php_ce_exception,
                             "ClusterShm\\Client is closed: close() was called on it or on another "
                             "client of the same URL and options; call connect() again",
                             -CSHM_ERR_STATE);
        return NULL;
    }
    return c->conn->client;
}

static zend_result client_init(cshm_php_client *c, zend_string *url, HashTable *options)
{
    cshm_options resolved;
    if (cshm_php_options_resolve(options, &resolved) == FAILURE)
        return FAILURE;
    /* Validates the URL and every option now, without any I/O. */
    uint32_t key;
    cshm_error error;
    if (cshm_default_key(ZSTR_VAL(url), &resolved, &key, &error) != 0) {
        cshm_php_throw_error(&error);
        return FAILURE;
    }
    if (c->url != NULL)
        zend_string_release(c->url);
    if (c->table_key != NULL)
        zend_string_release(c->table_key);
    cshm_php_conn_release(c->conn);
    c->conn = NULL;
    c->url = zend_string_copy(url);
    c->options = resolved;
    c->table_key = cshm_php_options_table_key(url, &resolved);
    return SUCCESS;
}

static zend_result client_connect(cshm_php_client *c)
{
    if (c->url == NULL) {
        open_client(c);             /* throws "not initialized" */
        return FAILURE;
    }
    if (c->conn != NULL && c->conn->client != NULL)
        return SUCCESS;
    cshm_php_conn *conn = cshm_php_conn_get(c->table_key, c->url, &c->options);
    if (conn == NULL)
        return FAILURE;
    cshm_php_conn_release(c->conn);
    c->conn = conn;
    return SUCCESS;
}

void cshm_php_client_connect_new(zval *return_value, zend_string *url, HashTable *options)
{
    object_init_ex(return_value, cshm_php_ce_client);
    cshm_php_client *c = client_from(Z_OBJ_P(return_value));
    if (client_init(c, url, options) == FAILURE || client_connect(c) == FAILURE) {
        zval_ptr_dtor(return_value);
        ZVAL_NULL(return_value);
    }
}

ZEND_METHOD(ClusterShm_Client, __construct)
{
    zend_string *url;
    HashTable *options = NULL;
    ZEND_PARSE_PARAMETERS_START(1, 2)
        Z_PARAM_PATH_STR(url)
        Z_PARAM_OPTIONAL
        Z_PARAM_ARRAY_HT(options)
    ZEND_PARSE_PARAMETERS_END();
    client_init(THIS_CLIENT(), url, options);
}

ZEND_METHOD(ClusterShm_Client, connect)
{
    ZEND_PARSE_PARAMETERS_NONE();
    client_connect(THIS_CLIENT());
}

ZEND_METHOD(ClusterShm_Client, close)
{
    ZEND_PARSE_PARAMETERS_NONE();
    cshm_php_client *c = THIS_CLIENT();
    if (c->conn != NULL) {
        cshm_php_conn_close(c->conn);
        cshm_php_conn_release(c->conn);
        c->conn = NULL;
    }
}

/* Shared argument parsing of route() and partition(). */
typedef struct route_args {
    zend_string *key_str;        /* NULL: the key is key_long */
    zend_long key_long;
    zend_string *namespace_name;
    zend_string *set;
    zend_long replica;
    zend_string *replica_str;    /* replica given as a string: only "prefer_rack" */
    zend_long rack_id;
    bool rack_id_null;
} route_args;

static void key_of(cshm_php_client *c, route_args *a, cshm_key *key, char buf[CSHM_PHP_KEY_BUF])
{
    cshm_php_key(a->key_str, a->key_long, c->conn->kind, key, buf);
}

ZEND_METHOD(ClusterShm_Client, route)
{
    route_args a = {.rack_id_null = true};
    ZEND_PARSE_PARAMETERS_START(1, 5)
        Z_PARAM_STR_OR_LONG(a.key_str, a.key_long)
        Z_PARAM_OPTIONAL
        Z_PARAM_PATH_STR_OR_NULL(a.namespace_name)
        Z_PARAM_PATH_STR(a.set)
        Z_PARAM_STR_OR_LONG(a.replica_str, a.replica)
        Z_PARAM_LONG_OR_NULL(a.rack_id, a.rack_id_null)
    ZEND_PARSE_PARAMETERS_END();
    cshm_php_client *c = THIS_CLIENT();
    cshm_client *client = open_client(c);
    if (client == NULL)
        RETURN_THROWS();
    if (a.replica_str != NULL && !zend_string_equals_literal(a.replica_str, "prefer_rack")) {
        cshm_php_throw_config("replica '%s': use an int (0 for the master, 1.. for replicas) or "
                              "'prefer_rack'", ZSTR_VAL(a.replica_str));
        RETURN_THROWS();
    }
    if (a.replica_str == NULL && !a.rack_id_null) {
        cshm_php_throw_config("rackId is for replica 'prefer_rack'; give both or neither");
        RETURN_THROWS();
    }
    /* prefer_rack: a negative or huge rack id is left to the core's range
     * check (rack ids are 0..1000000); null means the rack_id option. */
    int32_t rack = a.rack_id_null ? -1
                   : a.rack_id < 0 || a.rack_id > INT32_MAX ? INT32_MAX
                                                            : (int32_t)a.rack_id;
    if (a.replica_str == NULL && (a.replica < 0 || a.replica > INT_MAX)) {
        cshm_php_throw_config("replica " ZEND_LONG_FMT ": use 0 for the master, 1.. for replicas",
                              a.replica);
        RETURN_THROWS();
    }
    cshm_key key;
    char buf[CSHM_PHP_KEY_BUF];
    key_of(c, &a, &key, buf);
    cshm_route_result where;
    cshm_error error;
    const char *ns = a.namespace_name ? ZSTR_VAL(a.namespace_name) : NULL;
    const char *set = a.set ? ZSTR_VAL(a.set) : "";
    int rc = a.replica_str != NULL
                 ? cshm_route_prefer_rack(client, &key, ns, set, rack, &where, &error)
                 : cshm_route(client, &key, ns, set, (int)a.replica, &where, &error);
    if (rc != 0) {
        cshm_php_throw_error(&error);
        RETURN_THROWS();
    }
    array_init_size(return_value, 2);
    add_next_index_string(return_value, where.host);
    add_next_index_long(return_value, where.port);
}

ZEND_METHOD(ClusterShm_Client, partition)
{
    route_args a = {0};
    ZEND_PARSE_PARAMETERS_START(1, 3)
        Z_PARAM_STR_OR_LONG(a.key_str, a.key_long)
        Z_PARAM_OPTIONAL
        Z_PARAM_PATH_STR_OR_NULL(a.namespace_name)
        Z_PARAM_PATH_STR(a.set)
    ZEND_PARSE_PARAMETERS_END();
    cshm_php_client *c = THIS_CLIENT();
    cshm_client *client = open_client(c);
    if (client == NULL)
        RETURN_THROWS();
    cshm_key key;
    char buf[CSHM_PHP_KEY_BUF];
    key_of(c, &a, &key, buf);
    uint32_t partition;
    cshm_error error;
    /* The namespace does not change a partition id; it is accepted so that
     * partition() takes the same arguments as route(). */
    if (cshm_partition(client, &key, a.set ? ZSTR_VAL(a.set) : "", &partition, &error) != 0) {
        cshm_php_throw_error(&error);
        RETURN_THROWS();
    }
    RETURN_LONG((zend_long)partition);
}

static zend_long clamp_u64(uint64_t v)
{
    return v > (uint64_t)ZEND_LONG_MAX ? ZEND_LONG_MAX : (zend_long)v;
}

/* nodes() and shards()['nodes']: one array per node. */
static void nodes_array(zval *out, const cshm_node_info *nodes, size_t count)
{
    array_init_size(out, (uint32_t)count);
    for (size_t i = 0; i < count; i++) {
        zval node;
        array_init_size(&node, 7);
        add_assoc_string(&node, "name", nodes[i].name);
        add_assoc_string(&node, "host", nodes[i].host);
        add_assoc_long(&node, "port", nodes[i].port);
        add_assoc_bool(&node, "active", nodes[i].active != 0);
        add_assoc_bool(&node, "is_master", nodes[i].is_master != 0);
        add_assoc_long(&node, "partitions", (zend_long)nodes[i].partitions);
        add_assoc_long(&node, "replica_partitions", (zend_long)nodes[i].replica_partitions);
        add_next_index_zval(out, &node);
    }
}

/* A shard's master or replica: where to connect and which node it is. */
static void owner_array(zval *out, const cshm_node_info *node)
{
    array_init_size(out, 3);
    add_assoc_string(out, "host", node->host);
    add_assoc_long(out, "port", node->port);
    add_assoc_string(out, "name", node->name);
}

ZEND_METHOD(ClusterShm_Client, nodes)
{
    ZEND_PARSE_PARAMETERS_NONE();
    cshm_php_client *c = THIS_CLIENT();
    cshm_client *client = open_client(c);
    if (client == NULL)
        RETURN_THROWS();
    size_t capacity = c->conn->max_nodes ? c->conn->max_nodes : 1, count = 0;
    cshm_node_info *nodes = NULL;
    cshm_error error;
    /* The node count can change between calls: retry with the count seen. */
    for (;;) {
        nodes = safe_erealloc(nodes, capacity, sizeof *nodes, 0);
        if (cshm_nodes(client, nodes, capacity, &count, &error) != 0) {
            efree(nodes);
            cshm_php_throw_error(&error);
            RETURN_THROWS();
        }
        if (count <= capacity)
            break;
        capacity = count;
    }
    nodes_array(return_value, nodes, count);
    efree(nodes);
}

/* shards(?string $namespace = null): array.  One cshm_shards() call reads
 * one snapshot; when the nodes or ranges outgrow the arrays it is called
 * again with the counts it gave (the map may have changed in between, so
 * the counts are checked again), never cut. */
ZEND_METHOD(ClusterShm_Client, shards)
{
    zend_string *namespace_name = NULL;
    ZEND_PARSE_PARAMETERS_START(0, 1)
        Z_PARAM_OPTIONAL
        Z_PARAM_PATH_STR_OR_NULL(namespace_name)
    ZEND_PARSE_PARAMETERS_END();
    cshm_php_client *c = THIS_CLIENT();
    cshm_client *client = open_client(c);
    if (client == NULL)
        RETURN_THROWS();
    size_t node_capacity = c->conn->max_nodes ? c->conn->max_nodes : 1, node_count = 0;
    size_t shard_capacity = 64, shard_count = 0;
    cshm_node_info *nodes = NULL;
    cshm_shard *shards = NULL;
    uint64_t generation = 0;
    cshm_error error;
    for (;;) {
        nodes = safe_erealloc(nodes, node_capacity, sizeof *nodes, 0);
        shards = safe_erealloc(shards, shard_capacity, sizeof *shards, 0);
        if (cshm_shards(client, namespace_name ? ZSTR_VAL(namespace_name) : NULL, nodes,
                        node_capacity, &node_count, shards, shard_capacity, &shard_count,
                        &generation, &error) != 0) {
            efree(nodes);
            efree(shards);
            cshm_php_throw_error(&error);
            RETURN_THROWS();
        }
        if (node_count <= node_capacity && shard_count <= shard_capacity)
            break;
        node_capacity = MAX(node_capacity, node_count);
        shard_capacity = MAX(shard_capacity, shard_count);
    }
    array_init_size(return_value, 3);
    add_assoc_long(return_value, "generation", clamp_u64(generation));
    zval list;
    nodes_array(&list, nodes, node_count);
    add_assoc_zval(return_value, "nodes", &list);
    array_init_size(&list, (uint32_t)shard_count);
    for (size_t i = 0; i < shard_count; i++) {
        const cshm_shard *sh = &shards[i];
        zval shard, owner, replicas;
        array_init_size(&shard, 4);
        add_assoc_long(&shard, "first", (zend_long)sh->first);
        add_assoc_long(&shard, "last", (zend_long)sh->last);
        /* The core checked every index against this snapshot's node count;
         * the check here only keeps a bad index from reading past the array. */
        if (sh->master >= 0 && (size_t)sh->master < node_count)
            owner_array(&owner, &nodes[sh->master]);
        else
            ZVAL_NULL(&owner);
        add_assoc_zval(&shard, "master", &owner);
        uint32_t n = MIN(sh->replica_count, (uint32_t)CSHM_SHARD_REPLICAS_MAX);
        array_init_size(&replicas, n);
        for (uint32_t r = 0; r < n; r++) {
            if (sh->replicas[r] < 0 || (size_t)sh->replicas[r] >= node_count)
                continue;
            owner_array(&owner, &nodes[sh->replicas[r]]);
            add_next_index_zval(&replicas, &owner);
        }
        add_assoc_zval(&shard, "replicas", &replicas);
        add_next_index_zval(&list, &shard);
    }
    add_assoc_zval(return_value, "shards", &list);
    efree(nodes);
    efree(shards);
}

ZEND_METHOD(ClusterShm_Client, status)
{
    ZEND_PARSE_PARAMETERS_NONE();
    cshm_client *client = open_client(THIS_CLIENT());
    if (client == NULL)
        RETURN_THROWS();
    cshm_status_info s;
    cshm_error error;
    if (cshm_status(client, &s, &error) != 0) {
        cshm_php_throw_error(&error);
        RETURN_THROWS();
    }
    array_init_size(return_value, 40);
    add_assoc_string(return_value, "role", s.role);
    add_assoc_long(return_value, "pid", (zend_long)s.pid);
    add_assoc_long(return_value, "owner_pid", (zend_long)s.owner_pid);
    add_assoc_long(return_value, "epoch", clamp_u64(s.epoch));
    add_assoc_long(return_value, "generation", clamp_u64(s.generation));
    add_assoc_double(return_value, "tended_at", s.tended_at);
    add_assoc_double(return_value, "age", s.age);
    add_assoc_bool(return_value, "stale", s.stale != 0);
    add_assoc_long(return_value, "key", (zend_long)s.key);
    add_assoc_long(return_value, "shmid", (zend_long)s.shmid);
    add_assoc_long(return_value, "segment_size", clamp_u64(s.segment_size));
    add_assoc_long(return_value, "nodes", (zend_long)s.nodes);
    add_assoc_long(return_value, "namespaces", (zend_long)s.namespaces);
    add_assoc_long(return_value, "attached", (zend_long)s.attached);
    add_assoc_long(return_value, "nodes_seen", (zend_long)s.nodes_seen);
    add_assoc_long(return_value, "namespaces_seen", (zend_long)s.namespaces_seen);
    add_assoc_bool(return_value, "nodes_truncated", s.nodes_truncated != 0);
    add_assoc_bool(return_value, "namespaces_truncated", s.namespaces_truncated != 0);
    add_assoc_bool(return_value, "replicas_truncated", s.replicas_truncated != 0);
    add_assoc_long(return_value, "tends", clamp_u64(s.tends));
    add_assoc_long(return_value, "tend_failures", clamp_u64(s.tend_failures));
    add_assoc_long(return_value, "handoffs", clamp_u64(s.handoffs));
    add_assoc_long(return_value, "dead_takeovers", clamp_u64(s.dead_takeovers));
    add_assoc_long(return_value, "hung_takeovers", clamp_u64(s.hung_takeovers));
    add_assoc_long(return_value, "step_downs", clamp_u64(s.step_downs));
    add_assoc_long(return_value, "failures_in_row", (zend_long)s.failures_in_row);
    add_assoc_double(return_value, "tend_interval", s.tend_interval);
    add_assoc_double(return_value, "takeover_timeout", s.takeover_timeout);
    add_assoc_double(return_value, "min_refresh_interval", s.min_refresh_interval);
    add_assoc_string(return_value, "driver", s.driver);
    add_assoc_string(return_value, "last_error", s.last_error);
    /* Newest first, as the core gives them. */
    zval history;
    uint32_t n = MIN(s.step_down_count, (uint32_t)CSHM_STEP_DOWN_HISTORY_MAX);
    array_init_size(&history, n);
    for (uint32_t i = 0; i < n; i++) {
        const cshm_step_down_info *d = &s.step_down_history[i];
        zval entry;
        array_init_size(&entry, 5);
        add_assoc_long(&entry, "pid", (zend_long)d->pid);
        add_assoc_long(&entry, "epoch", (zend_long)d->epoch);
        add_assoc_double(&entry, "at", d->at);
        add_assoc_long(&entry, "failures", (zend_long)d->failures);
        add_assoc_stringl(&entry, "reason", d->reason, strnlen(d->reason, sizeof d->reason));
        add_next_index_zval(&history, &entry);
    }
    add_assoc_zval(return_value, "step_down_history", &history);
    add_assoc_stringl(return_value, "identity", s.identity, strnlen(s.identity, sizeof s.identity));
    add_assoc_long(return_value, "max_nodes", (zend_long)s.max_nodes);
    add_assoc_long(return_value, "max_namespaces", (zend_long)s.max_namespaces);
    add_assoc_bool(return_value, "has_tender", s.has_tender != 0);
    add_assoc_bool(return_value, "has_map", s.has_map != 0);
    add_assoc_long(return_value, "chain_generation", (zend_long)s.chain_generation);
    add_assoc_long(return_value, "chain_base", (zend_long)s.chain_base);
    if (s.forwarded_to != 0)
        add_assoc_long(return_value, "forwarded_to", (zend_long)s.forwarded_to);
    else
        add_assoc_null(return_value, "forwarded_to");
}

ZEND_METHOD(ClusterShm_Client, requestRefresh)
{
    ZEND_PARSE_PARAMETERS_NONE();
    cshm_client *client = open_client(THIS_CLIENT());
    if (client == NULL)
        RETURN_THROWS();
    cshm_error error;
    if (cshm_request_refresh(client, &error) != 0)
        cshm_php_throw_error(&error);
}

/* refresh(bool $wait = true, float $timeout = 1.0): bool.  Without $wait
 * it only asks (like requestRefresh()) and returns false; with it, it
 * blocks the request until a newer map is published (true) or $timeout
 * passes (false).  The timeout's range is the core's (ConfigException);
 * it is not used without $wait, as in the Python binding. */
ZEND_METHOD(ClusterShm_Client, refresh)
{
    bool wait = true;
    double timeout = 1.0;
    ZEND_PARSE_PARAMETERS_START(0, 2)
        Z_PARAM_OPTIONAL
        Z_PARAM_BOOL(wait)
        Z_PARAM_DOUBLE(timeout)
    ZEND_PARSE_PARAMETERS_END();
    cshm_client *client = open_client(THIS_CLIENT());
    if (client == NULL)
        RETURN_THROWS();
    cshm_error error;
    if (!wait) {
        if (cshm_request_refresh(client, &error) != 0) {
            cshm_php_throw_error(&error);
            RETURN_THROWS();
        }
        RETURN_FALSE;
    }
    int newer = 0;
    if (cshm_refresh_wait(client, timeout, &newer, &error) != 0) {
        cshm_php_throw_error(&error);
        RETURN_THROWS();
    }
    RETURN_BOOL(newer != 0);
}
