/*
 * client.h - the client object shared by the API functions (client.c) and
 * the background thread (tender.c).
 *
 * Ownership of fields:
 *  - config, driver: set by cshm_connect, read-only afterwards, except
 *    config's max_nodes/max_namespaces, which follow the thread's segment
 *    (written under move_lock when the thread moves).  The timing options in
 *    config are the segment's (its creator's), adopted at connect.
 *  - segs[]: the segments this process has attached: the chain it follows
 *    (docs/design.md §1b).  current (atomic) is what API calls read, pending
 *    a successor whose map is not complete yet, tseg the background
 *    thread's.  Written under move_lock (follow.c); a segment is detached
 *    only when it is none of the three and no API call is in progress
 *    (readers, atomic).
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

#define CSHM_CLIENT_SEGMENTS (CSHM_CHAIN_MAX + 2)

struct cshm_client {
    cshm_config config;
    int shared;

    cshm_segment segs[CSHM_CLIENT_SEGMENTS];  /* attached when base != NULL */
    cshm_segment *current;             /* atomic: what API calls read */
    cshm_segment *pending;             /* atomic: successor, its map not complete yet */
    cshm_segment *tseg;                /* atomic: the background thread's segment */
    uint32_t readers;                  /* atomic: API calls in progress */
    pthread_mutex_t move_lock;
    uint64_t checked_state;            /* under move_lock: state word last looked at for a forward */
    double growth_retry_at;            /* thread: a failed growth is retried after this */

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
    uint32_t view_key;                 /* the segment view was read from */
};

/* The check every API call starts with: a NULL client is an error, and in a
 * fork child the client is adopted (client.c).  0 or a cshm_code. */
int cshm_client_ready(cshm_client *client, cshm_error *error);

/* Process-wide counter bumped in every fork child (see client.c). */
uint64_t cshm_current_fork_generation(void);

/* follow.c: API calls read the segment that cshm_client_enter returns and
 * call cshm_client_leave when done with it (no early return in between). */
cshm_segment *cshm_client_enter(cshm_client *client);
void cshm_client_leave(cshm_client *client);

/* client->view shaped for seg's maps, between enter and leave: made on first
 * use, made again when the segment grew.  0 or CSHM_ERR_SYSTEM. */
int cshm_client_fit_view(cshm_client *client, const cshm_segment *seg, cshm_error *error);

/* Look for a forward pointer of the newest segment we have (when its state
 * word changed since the last look), attach the successor as pending, and
 * make pending current once its map is complete.  CSHM_FOLLOW_CHECK_REMOVED:
 * also re-open the chain when the thread's segment was removed under us.
 * Without CSHM_FOLLOW_BLOCK it never blocks (a move in progress elsewhere
 * is left to finish); with it, it waits for the lock and looks again even
 * if the state word did not change. */
enum { CSHM_FOLLOW_CHECK_REMOVED = 1, CSHM_FOLLOW_BLOCK = 2 };
void cshm_client_follow(cshm_client *client, int flags);
/* The tender's successor, attached by growth.c: kept as pending. */
void cshm_client_adopt_successor(cshm_client *client, const cshm_segment *successor);
/* Detach the segments nobody in this process uses any more. */
void cshm_client_reclaim(cshm_client *client);
/* The segment the thread should be in: pending, else current. */
cshm_segment *cshm_client_target(cshm_client *client);
/* Detach every segment (close). */
void cshm_client_detach_all(cshm_client *client);

/* growth.c: after a good tend of a truncated map, grow (docs/design.md
 * §1b).  Returns 1 when the segment was forwarded (the session ends and the
 * thread moves), -1 when the publish found the role lost, else 0. */
int cshm_tender_grow(cshm_client *client);

/* tender.c */
int cshm_thread_start(cshm_client *client, cshm_error *error);
void cshm_thread_stop(cshm_client *client);

#endif
