/*
 * persistent.h - the worker's persistent core clients, like phpredis's
 * persistent connections.
 *
 * Invariants:
 *  - One core client per (URL, resolved options) per process, created on the
 *    first connect() in that process (lazily: never in MINIT, which runs in
 *    the PHP-FPM master), kept across requests so a request pays no
 *    attach/detach, and closed at process shutdown (GSHUTDOWN), which hands
 *    the tender role over at once.  A killed worker needs no shutdown: the
 *    kernel releases its ownership lock (the core's robust futex).
 *  - A conn is reference-counted: one reference for the table while it is
 *    listed there, one per ClusterShm\Client object using it.  close() closes
 *    the core client and unlists it; objects still holding it see
 *    client == NULL and report "closed" until they connect() again.
 *  - After pcntl_fork() the child inherits the table; the core makes each
 *    inherited client a follower with a thread of its own on its first call.
 */
#ifndef CSHM_PHP_PERSISTENT_H
#define CSHM_PHP_PERSISTENT_H

#include "php.h"
#include "clustershm.h"

typedef struct cshm_php_conn {
    cshm_client *client;         /* NULL once closed */
    cshm_driver_kind kind;       /* how keys are converted (keys.h) */
    uint32_t max_nodes;          /* first guess of the nodes() buffer */
    uint32_t refs;
    bool listed;                 /* in the table under table_key */
    zend_string *table_key;      /* persistent */
    char *display_url;           /* pemalloc'ed, password masked: for phpinfo() */
} cshm_php_conn;

void cshm_php_conns_init(HashTable *conns);
void cshm_php_conns_shutdown(HashTable *conns);

/* The listed conn for table_key, or a new one connected with url + options.
 * Returns it with a reference for the caller, or NULL after throwing. */
cshm_php_conn *cshm_php_conn_get(zend_string *table_key, zend_string *url,
                                 const cshm_options *options);

/* Closes the core client (handing tendership over) and unlists the conn. */
void cshm_php_conn_close(cshm_php_conn *conn);

/* Drops the caller's reference. */
void cshm_php_conn_release(cshm_php_conn *conn);

/* phpinfo(): how many conns are listed, and a table with one row each. */
uint32_t cshm_php_conns_count(void);
void cshm_php_conns_info(void);

#endif
