/*
 * client.h - the client object shared by the API functions (client.c) and
 * the background thread (tender.c).
 *
 * Ownership of fields:
 *  - config, segment, driver: set by cshm_connect, read-only afterwards.
 *  - driver_state, published, building, robust: the background thread's only.
 *  - view: the API caller's scratch map (status, nodes).
 *  - stop, role: atomics shared by both.
 *  - fork_generation, pid, thread_running: the API caller's; compared with
 *    the process-wide fork generation to notice that we are in a fork child,
 *    where the background thread does not exist.
 */
#ifndef CSHM_CLIENT_H
#define CSHM_CLIENT_H

#include <pthread.h>

#include "config.h"
#include "driver.h"
#include "map.h"
#include "robust_lock.h"
#include "segment.h"

enum { CSHM_ROLE_FOLLOWER = 0, CSHM_ROLE_TENDER = 1 };

struct cshm_client {
    cshm_config config;
    cshm_segment segment;
    int shared;

    pthread_t thread;
    int thread_running;
    int stop;                          /* atomic */
    int role;                          /* atomic */
    uint64_t fork_generation;
    pid_t pid;

    /* background thread state */
    cshm_robust_owner robust;
    void *driver_state;
    cshm_map published;                /* last map this process published or adopted; */
    cshm_map building;                 /* both allocated when it first becomes tender */
    int has_map;
    uint32_t epoch;                    /* our epoch while tender */
    uint32_t refresh_seen;
    int was_stale;
    uint32_t reported_flags;

    /* API caller state */
    cshm_map view;                     /* allocated at the first nodes() */
};

/* Process-wide counter bumped in every fork child (see client.c). */
uint64_t cshm_current_fork_generation(void);

/* tender.c */
int cshm_thread_start(cshm_client *client, cshm_error *error);
void cshm_thread_stop(cshm_client *client);

#endif
