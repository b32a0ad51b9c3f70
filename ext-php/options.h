/*
 * options.h - the options array and the clustershm.* INI settings turned
 * into a cshm_options.
 *
 * Invariants:
 *  - Precedence: the core's defaults, then each non-empty INI setting, then
 *    the options array.  Only conversion happens here; ranges and meanings are
 *    checked by the core (cshm_default_key), so the two bindings and the C
 *    API reject the same values with the same messages.
 *  - Any problem throws ConfigException naming the option or INI setting
 *    and returns FAILURE; nothing is half-applied that a caller could use.
 */
#ifndef CSHM_PHP_OPTIONS_H
#define CSHM_PHP_OPTIONS_H

#include "php.h"
#include "clustershm.h"

zend_result cshm_php_options_resolve(HashTable *options, cshm_options *out);

/* The key of the persistent-client table: the URL and every resolved option,
 * so two clients share a core client only when they would behave the same. */
zend_string *cshm_php_options_table_key(zend_string *url, const cshm_options *options);

#endif
