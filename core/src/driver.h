/*
 * driver.h - the interface between the tender and a cluster protocol.
 *
 * A driver owns its sockets and protocol state; the tender owns the map and
 * the segment.  tend() runs in the tender thread only, receives the map as last
 * published (so a failed tend can leave it untouched) and must:
 *  - bound every socket operation by ctx->op_timeout seconds;
 *  - call ctx->progress(ctx->progress_arg) between network operations and
 *    return CSHM_TEND_ABORTED at once when it returns non-zero (the tender
 *    lost ownership or is stopping);
 *  - on CSHM_TEND_OK leave a complete map (nodes sorted with
 *    cshm_map_sort_nodes); on CSHM_TEND_UNREACHABLE leave the map as it was and
 *    describe the failure in ctx->error.
 * release() runs in the tender thread too, between tends.  partition() is
 * pure and thread-safe (it runs on every route()).
 */
#ifndef CSHM_DRIVER_H
#define CSHM_DRIVER_H

#include "config.h"
#include "map.h"

enum {
    CSHM_TEND_OK = 0,
    CSHM_TEND_UNREACHABLE = 1,   /* no node answered usefully: keep the map, mark stale */
    CSHM_TEND_ABORTED = 2,       /* progress() asked to stop */
};

typedef struct cshm_tend_ctx {
    double op_timeout;                 /* seconds, per connect/read/write */
    int (*progress)(void *arg);        /* non-zero: abort the tend */
    void *progress_arg;
    char error[256];                   /* filled on failure, and for partial failures */
} cshm_tend_ctx;

typedef struct cshm_driver_ops {
    const char *name;                  /* "redis", "aerospike" */
    cshm_driver_kind kind;
    /* Shape of this driver's map for a configuration. */
    void (*shape)(const cshm_config *config, cshm_map_shape *shape);
    int (*create)(const cshm_config *config, void **state, cshm_error *error);
    int (*tend)(void *state, cshm_map *map, cshm_tend_ctx *ctx);
    /* Close every connection, keep what was learned (known nodes, the node
     * that answered last): called when this process stops being tender, so
     * only the tender holds connections to the cluster.  The next tend
     * reconnects. */
    void (*release)(void *state);
    void (*destroy)(void *state);
    /* key (+ set for Aerospike) -> partition id / slot. */
    int (*partition)(const cshm_key *key, const char *set, uint32_t *partition,
                     cshm_error *error);
} cshm_driver_ops;

extern const cshm_driver_ops cshm_driver_redis;
/* NULL while this build has no Aerospike driver (see drivers.c). */
const cshm_driver_ops *cshm_driver_aerospike_ops(void);

#endif
