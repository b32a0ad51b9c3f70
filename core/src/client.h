/*
 * client.h - the client object shared by the API functions (client.c) and
 * the background thread (tender.c).
 *
 * Ownership of fields:
 *  - config, segment, driver: set by cshm_connect, read-only afterwards.  The
 *    timing options in config are the segment's (its creator's), adopted at
 *    connect.
 *  - driver_state, published, building, record, robust and the health fields:
 *    the background thread's only.
 *  - view: the API caller's scratch map (status, nodes).
 *  - stop, role, own_failure: atomics shared by both; stop is also a private
 *    futex the thread sleeps on when it has no shared word to sleep on.
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
    uint32_t stop;                     /* atomic; futex */
    int role;                          /* atomic */
    uint64_t fork_generation;
    pid_t pid;

    /* background thread state */
    cshm_robust_owner robust;
    void *driver_state;
    cshm_map published;                /* last map this process published or adopted; */
    cshm_map building;                 /* both allocated when it first becomes tender */
    cshm_tend_record record;           /* what the next publish reports */
    int has_map;                       /* published holds a real map (not EMPTY) */
    uint32_t epoch;                    /* our epoch while tender */
    uint32_t lock_index;               /* the owner lock we hold while tender */
    uint32_t refresh_seen;             /* refresh_seq when the last tend started */
    int was_stale;
    uint32_t reported_flags;
    /* health (docs/design.md, "Election with health") */
    uint32_t failures_in_row;          /* failed tends of this session in a row */
    double last_success;               /* monotonic: last good tend, or the session's start */
    uint32_t step_downs_in_row;        /* sessions this process ended by stepping down */
    double backoff_until;              /* monotonic: do not compete before */
    uint64_t stepped_down_at_ms;       /* wall ms of the last step-down */
    uint64_t pending_handoffs, pending_dead, pending_hung;  /* counted at our first publish */

    /* this process's own first failure, for connect() (atomic flag, then text) */
    int own_failure;
    char own_error[CSHM_ERROR_TEXT];

    /* API caller state */
    cshm_map view;                     /* allocated at the first nodes() */
};

/* The check every API call starts with: a NULL client is an error, and in a
 * fork child the client is adopted (client.c).  0 or a cshm_code. */
int cshm_client_ready(cshm_client *client, cshm_error *error);

/* Process-wide counter bumped in every fork child (see client.c). */
uint64_t cshm_current_fork_generation(void);

/* tender.c */
int cshm_thread_start(cshm_client *client, cshm_error *error);
void cshm_thread_stop(cshm_client *client);

#endif
