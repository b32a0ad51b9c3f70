/*
 * exceptions.h - ClusterShm\Exception and its subclasses, and the one place
 * where a core error becomes a PHP exception.
 *
 * Invariant: every failure of the core reaches PHP code as an exception of
 * the class its cshm_code names, with the core's message unchanged (it names
 * the problem and the fix) and getCode() = -cshm_code (a positive number).
 */
#ifndef CSHM_PHP_EXCEPTIONS_H
#define CSHM_PHP_EXCEPTIONS_H

#include "php.h"
#include "clustershm.h"

extern zend_class_entry *cshm_php_ce_exception;
extern zend_class_entry *cshm_php_ce_config;
extern zend_class_entry *cshm_php_ce_cluster;
extern zend_class_entry *cshm_php_ce_segment;
extern zend_class_entry *cshm_php_ce_timeout;

/* Throws the exception matching error->code. */
void cshm_php_throw_error(const cshm_error *error);

/* Throws a ConfigException with a printf-style message. */
void cshm_php_throw_config(const char *format, ...) ZEND_ATTRIBUTE_FORMAT(printf, 1, 2);

#endif
