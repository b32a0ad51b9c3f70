/*
 * clustershm.h - public C API of clustershm.
 *
 * One cluster tender per host, shared by every worker process: the first
 * process to connect to a cluster owns a SysV shared-memory segment, tends the
 * cluster (nodes, partition map) and publishes whole snapshots there; every
 * other attached process reads them lock-free.
 *
 * Invariants the API keeps:
 *  - Every function that can fail returns 0 on success and a negative
 *    cshm_code on failure, and fills the caller's cshm_error (if non-NULL)
 *    with a message that names the problem and the fix.
 *  - Read functions (cshm_route, cshm_partition, cshm_nodes, cshm_status)
 *    never block on the tender and never return a mix of two maps.
 *  - A client may be used by one thread at a time; distinct clients are
 *    independent.  A client connected before fork() keeps working in the child,
 *    which is always a follower.
 *  - Linux only (SysV shm, futexes, robust futex lists).
 */
#ifndef CLUSTERSHM_H
#define CLUSTERSHM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CSHM_VERSION "0.1.0"

typedef enum cshm_code {
    CSHM_OK = 0,
    CSHM_ERR_CONFIG = -1,   /* bad URL or option */
    CSHM_ERR_CLUSTER = -2,  /* no seed answers, cluster name mismatch, unknown namespace */
    CSHM_ERR_SEGMENT = -3,  /* foreign/incompatible segment, permissions, kernel limits */
    CSHM_ERR_TIMEOUT = -4,  /* a wait ran past its deadline */
    CSHM_ERR_SYSTEM = -5,   /* an unexpected system call failure (errno in the message) */
    CSHM_ERR_STATE = -6,    /* call not valid in this state (e.g. route before connect) */
} cshm_code;

typedef struct cshm_error {
    int code;               /* a cshm_code */
    char message[512];
} cshm_error;

/* Which cluster protocol a URL names. */
typedef enum cshm_driver_kind {
    CSHM_DRIVER_REDIS = 1,
    CSHM_DRIVER_AEROSPIKE = 2,
} cshm_driver_kind;

/* Longest TLS file or directory path, including the NUL. */
#define CSHM_TLS_PATH_MAX 1024

typedef struct cshm_options {
    int has_key;               /* 0: derive the key from the cluster identity */
    uint32_t key;              /* SysV IPC key when has_key */
    int shared;                /* 1 (default): share one tender per host; 0: private */
    uint32_t max_nodes;        /* default 64 */
    uint32_t max_namespaces;   /* default 8 (Aerospike); Redis uses one table */
    double tend_interval;      /* seconds, default 1.0 */
    double takeover_timeout;   /* seconds, default 30 */
    double connect_timeout;    /* seconds, default 5: connect() and each socket operation budget */
    double min_refresh_interval; /* seconds, default 0.05: refresh requests tend at most this often */
    uint32_t mode;             /* segment permissions, default 0600 */
    char cluster_name[64];     /* Aerospike: expected cluster name (part of the identity) */
    /* TLS (rediss://, or Aerospike seeds with a tls_name).  Empty strings are
     * unset.  Part of the identity check as a salted fingerprint, never
     * stored in the segment (see docs/design.md, "TLS"). */
    char tls_ca_file[CSHM_TLS_PATH_MAX];   /* PEM CA bundle; default: the system's */
    char tls_ca_dir[CSHM_TLS_PATH_MAX];    /* c_rehash'ed CA directory */
    char tls_cert_file[CSHM_TLS_PATH_MAX]; /* client certificate (mutual TLS) */
    char tls_key_file[CSHM_TLS_PATH_MAX];  /* its private key; default: tls_cert_file */
    char tls_server_name[256];  /* SNI and the name verified; default: the host */
    int tls_insecure_skip_verify;          /* tests only: accept any certificate */
    /* Credentials, instead of in the URL (not both).  Aerospike: user and
     * password of its internal authentication; Redis: AUTH [user] password.
     * Part of the identity check as a salted fingerprint, never stored. */
    char user[128];
    char password[256];
    int use_alternate_access_address; /* Aerospike: 1 = use the nodes' alternate-access
                                         addresses (peers-clear-alt, service-clear-alt) */
    int32_t rack_id;           /* Aerospike: this process's rack for cshm_route_prefer_rack
                                  when the call gives none; -1 (default) = none */
} cshm_options;

typedef struct cshm_client cshm_client;

/* A key to route.  Redis keys are always bytes; Aerospike keys are typed. */
typedef enum cshm_key_type {
    CSHM_KEY_BYTES = 0,        /* Redis key, or Aerospike blob (type byte 4) */
    CSHM_KEY_STRING = 3,       /* Aerospike string key (type byte 3) */
    CSHM_KEY_INTEGER = 1,      /* Aerospike integer key (type byte 1) */
} cshm_key_type;

typedef struct cshm_key {
    cshm_key_type type;
    const void *data;          /* BYTES / STRING */
    size_t len;
    int64_t integer;           /* INTEGER */
} cshm_key;

#define CSHM_HOST_MAX 256      /* including the NUL */
#define CSHM_NODE_NAME_MAX 48  /* including the NUL */
#define CSHM_NAMESPACE_MAX 32  /* including the NUL */

typedef struct cshm_route_result {
    char host[CSHM_HOST_MAX];
    uint16_t port;
    uint32_t partition;        /* Redis slot / Aerospike partition id */
    int node_index;            /* index in this snapshot's node list */
} cshm_route_result;

typedef struct cshm_node_info {
    char name[CSHM_NODE_NAME_MAX];
    char host[CSHM_HOST_MAX];
    uint16_t port;
    int active;                /* answering / healthy at the last tend */
    int is_master;             /* Redis: role master; Aerospike: 1 */
    uint32_t partitions;       /* partitions (slots) this node masters */
    uint32_t replica_partitions; /* partitions it holds as a replica */
} cshm_node_info;

/* Why a tender gave up the role (newest first in cshm_status_info). */
typedef struct cshm_step_down_info {
    pid_t pid;                 /* the tender that stepped down, as it saw itself */
    uint32_t epoch;
    double at;                 /* unix time */
    uint32_t failures;         /* its failed tends in a row */
    char reason[232];          /* its last tend error */
} cshm_step_down_info;

#define CSHM_STEP_DOWN_HISTORY_MAX 4
#define CSHM_IDENTITY_TEXT 512  /* including the NUL */

typedef struct cshm_status_info {
    char role[16];             /* "tender", "follower" or "private" */
    pid_t pid;
    pid_t owner_pid;           /* pid of the tender, as the tender saw it */
    uint64_t epoch;            /* +1 at every change of tender */
    uint64_t generation;       /* +1 at every publish of a changed map */
    double tended_at;          /* unix time of the last successful tend, 0 if none */
    double age;                /* seconds since tended_at */
    int stale;                 /* the last tend reached no node */
    uint32_t key;
    int shmid;                 /* -1 in private mode */
    uint64_t segment_size;
    uint32_t nodes;
    uint32_t namespaces;
    uint32_t attached;         /* processes attached to the segment (shm_nattch) */
    uint32_t nodes_seen;       /* nodes the cluster reported (> nodes if over max_nodes) */
    uint32_t namespaces_seen;
    int nodes_truncated;       /* max_nodes reached: some nodes are not in the map */
    int namespaces_truncated;  /* max_namespaces reached */
    int replicas_truncated;    /* more replicas per partition than the map stores */
    uint64_t tends;            /* tends published by all tenders of this segment */
    uint64_t tend_failures;
    uint64_t handoffs;         /* a tender closed or stepped down and another took over */
    uint64_t dead_takeovers;   /* the tender died and another took over at once */
    uint64_t hung_takeovers;   /* the tender was silent for takeover_timeout */
    uint64_t step_downs;       /* tenders that gave the role up after failing */
    uint32_t failures_in_row;  /* the current tender's failed tends in a row */
    double tend_interval;      /* the segment's timing, which every process uses */
    double takeover_timeout;
    double min_refresh_interval;
    char driver[16];
    char last_error[256];      /* the tender's last tend error, "" if none */
    uint32_t step_down_count;  /* entries used in step_down_history */
    cshm_step_down_info step_down_history[CSHM_STEP_DOWN_HISTORY_MAX];
    /* The figures `clustershm stat --json`, `check`, `watch --json` and the
     * Prometheus metrics show, under the same names (docs/cli-json.md). */
    char identity[CSHM_IDENTITY_TEXT]; /* the cluster identity the segment records */
    uint32_t max_nodes;        /* the segment's limits: nodes_seen above max_nodes */
    uint32_t max_namespaces;   /*   means nodes_truncated, and so on */
    int has_tender;            /* a live thread holds the tender role (its owner lock); 0
                                  while the role is vacant (nobody took over a dead tender) */
    int has_map;               /* a map from a successful tend is published (not just an
                                  error of a tender that never reached the cluster) */
    /* The segment's chain (online growth, docs/design.md §1b), as `clustershm
     * stat` shows it: the generation (0 at the base key) and the chain's base
     * key; forwarded_to is the key of the successor this segment forwards to,
     * 0 while it does not (a process reads a forwarded segment only until the
     * successor holds a complete map, then moves there). */
    uint32_t chain_generation;
    uint32_t chain_base;
    uint32_t forwarded_to;
} cshm_status_info;

/* Log lines of the core (takeover, stale, limits).  level: 0 debug .. 3 error.
 * The handler is called on one process-wide delivery thread of the core's,
 * never on a client's background thread (which owns robust locks of its
 * own: see core/src/log.h), one line at a time, in order, so it may take
 * locks, block a while, or close clients.  The core queues at most 64 lines;
 * when the handler is slower than that, lines are dropped and one line
 * "N log lines dropped (the log handler is too slow)" says how many.
 * Without a handler (or with NULL), warnings and errors go to stderr
 * prefixed "clustershm: ".  Lines not yet delivered when
 * cshm_set_log_handler returns go to the new handler; a call already in
 * progress may finish on the old one (cshm_log_flush() afterwards waits
 * for it, before the old user data is freed). */
typedef void (*cshm_log_fn)(int level, const char *message, void *user);
void cshm_set_log_handler(cshm_log_fn fn, void *user);

/* Wait until every line queued before this call has been handed to the
 * handler and its call returned, or until `seconds` passed.  Returns at once
 * when called from a handler (the delivery thread never waits for itself).
 * At exit() the core flushes for up to 0.2 s by itself. */
void cshm_log_flush(double seconds);

void cshm_options_init(cshm_options *options);

/* Parse and validate url + options, attach to (or create) the segment, start
 * the background thread and wait (up to connect_timeout) for a published map. */
int cshm_connect(const char *url, const cshm_options *options, cshm_client **out,
                 cshm_error *error);

/* Stop the background thread (handing tendership over at once), detach and
 * free.  NULL is accepted.  Returns 0, or CSHM_ERR_STATE with nothing done
 * (the client stays open) when called on that client's own background
 * thread, which cannot join itself; no user code runs there (log handlers
 * run on the log delivery thread), so this only guards against misuse. */
int cshm_close(cshm_client *client);

int cshm_partition(cshm_client *client, const cshm_key *key, const char *set,
                   uint32_t *partition, cshm_error *error);

/* namespace: Aerospike namespace (required there), ignored for Redis.
 * replica: 0 master, 1.. replicas in map order. */
int cshm_route(cshm_client *client, const cshm_key *key, const char *namespace_name,
               const char *set, int replica, cshm_route_result *out, cshm_error *error);

/* Aerospike rack-aware read (replica "prefer_rack"): the first active owner
 * of the key's partition, master first, on rack rack_id (0..1000000; -1 =
 * the rack_id option) in that namespace, else the master.  A cluster
 * without rack information (Community Edition answers rack-ids with
 * "enterprise only") routes every key to its master. */
int cshm_route_prefer_rack(cshm_client *client, const cshm_key *key, const char *namespace_name,
                           const char *set, int32_t rack_id, cshm_route_result *out,
                           cshm_error *error);

/* Copies up to capacity nodes into nodes; *count receives the number of
 * nodes in the snapshot (which may exceed capacity). */
int cshm_nodes(cshm_client *client, cshm_node_info *nodes, size_t capacity, size_t *count,
               cshm_error *error);

/* One range of consecutive partitions (Redis slots) with the same owners.
 * Node indices refer to the nodes array of the same cshm_shards() call. */
#define CSHM_SHARD_REPLICAS_MAX 7
typedef struct cshm_shard {
    uint32_t first;            /* first partition of the range */
    uint32_t last;             /* last partition, inclusive */
    int master;                /* node index; -1 when the range has no master */
    uint32_t replica_count;
    int replicas[CSHM_SHARD_REPLICAS_MAX];   /* node indices, in map order */
} cshm_shard;

/* The whole table of one consistent snapshot (for clients that keep their
 * own connection per node, e.g. a redis-py subclass): its nodes (as
 * cshm_nodes), the ranges of partitions with their master and replicas
 * (Aerospike: of namespace_name, required; Redis: ignored) and the map's
 * generation (+1 at every changed map, so a caller can tell whether its
 * copy is current).  Each array is filled up to its capacity and the full
 * counts are returned: retry with larger arrays when they exceed them.  A
 * segment with no map yet gives counts of 0. */
int cshm_shards(cshm_client *client, const char *namespace_name, cshm_node_info *nodes,
                size_t node_capacity, size_t *node_count, cshm_shard *shards,
                size_t shard_capacity, size_t *shard_count, uint64_t *generation,
                cshm_error *error);

int cshm_status(cshm_client *client, cshm_status_info *status, cshm_error *error);

/* Diagnostic: check the published snapshot as a whole, on demand.  Copies
 * the whole map (a few hundred KiB with the default limits, about 1.4 MiB
 * with max_nodes=4096) and checks that its payload matches the 64-bit
 * checksum the tender stored with it at publish (FNV-1a-style over 64-bit
 * words: it catches torn copies and stray writes, and is not
 * cryptographic), that its node and namespace counts are within the
 * segment's limits and within what the tender saw, and that no partition
 * names a node index past node_count.  Returns 0 when the snapshot is
 * sound (or nothing is published yet); CSHM_ERR_SEGMENT with a message
 * naming what is wrong ("checksum mismatch", "counts out of range", "owner
 * index past node_count"); CSHM_ERR_TIMEOUT when the map never stopped
 * changing.  Never blocks on the tender.  Not for the hot path: route()
 * checks only what it uses. */
int cshm_verify_snapshot(cshm_client *client, cshm_error *error);

/* Ask the tender (this process or another) to tend now.  Requests from every
 * process coalesce: one tend answers every request made before it started,
 * and the tender tends at most once per min_refresh_interval. */
int cshm_request_refresh(cshm_client *client, cshm_error *error);

/* Ask for a refresh and wait until a map newer than the one published at
 * the call is published (e.g. after a -MOVED reply), or timeout seconds
 * pass.  While the tender's answers show the same map, it asks again (at
 * most once per min_refresh_interval).  Returns 0 with *newer (may be NULL)
 * 1 when a newer map is published, 0 when the timeout passed first; or an
 * error (CSHM_ERR_CONFIG for a timeout outside 0..3600). */
int cshm_refresh_wait(cshm_client *client, double timeout, int *newer, cshm_error *error);

/* Pure functions. */
uint32_t cshm_redis_slot(const void *key, size_t len);
/* RIPEMD-160 over set name + key type byte + key bytes (Aerospike digest);
 * the partition id is (d[0] | d[1] << 8) & 0x0FFF. */
int cshm_aerospike_digest(const char *set, const cshm_key *key, uint8_t digest[20],
                          cshm_error *error);
uint16_t cshm_crc16(const void *data, size_t len);

/* The key a URL + options would use by default (for tooling). */
int cshm_default_key(const char *url, const cshm_options *options, uint32_t *key,
                     cshm_error *error);

#ifdef __cplusplus
}
#endif
#endif
