/*
 * keys.h - a PHP key (string or int) as a cshm_key.
 *
 * Invariants: Aerospike keys keep their PHP type (string -> CSHM_KEY_STRING,
 * int -> CSHM_KEY_INTEGER), so a key routes to the partition the Aerospike
 * clients compute for the same PHP value.  Redis keys are bytes: a string as
 * it is, an int as its decimal text (what phpredis sends for an int key).
 * The cshm_key points into the zval or into the caller's buffer; it is valid
 * while both are.
 */
#ifndef CSHM_PHP_KEYS_H
#define CSHM_PHP_KEYS_H

#include "php.h"
#include "clustershm.h"

#define CSHM_PHP_KEY_BUF 24   /* "-9223372036854775808" and its NUL */

/* str != NULL: a string key; otherwise the int lval. */
void cshm_php_key(zend_string *str, zend_long lval, cshm_driver_kind kind, cshm_key *key,
                  char buf[CSHM_PHP_KEY_BUF]);

#endif
