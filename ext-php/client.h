/*
 * client.h - the ClusterShm\Client class.
 *
 * Invariants: an object holds its URL and resolved options from the
 * constructor on (both validated there, so a bad URL or option fails at
 * `new`, before any I/O), and a reference to a persistent conn from
 * connect() on.  Every method other than the constructor, connect() and
 * close() needs an open conn and throws ClusterShm\Exception otherwise.
 */
#ifndef CSHM_PHP_CLIENT_H
#define CSHM_PHP_CLIENT_H

#include "php.h"
#include "clustershm.h"

extern zend_class_entry *cshm_php_ce_client;

/* MINIT: class entry returned by the generated register function. */
void cshm_php_client_register(zend_class_entry *ce);

/* ClusterShm\connect(): construct + connect into return_value. */
void cshm_php_client_connect_new(zval *return_value, zend_string *url, HashTable *options);

#endif
