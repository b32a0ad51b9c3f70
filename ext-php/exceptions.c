/*
 * exceptions.c - see exceptions.h.  The class entries are set once in MINIT
 * (clustershm.c) and read-only afterwards.
 */
#include "exceptions.h"

#include "zend_exceptions.h"

zend_class_entry *cshm_php_ce_exception;
zend_class_entry *cshm_php_ce_config;
zend_class_entry *cshm_php_ce_cluster;
zend_class_entry *cshm_php_ce_segment;
zend_class_entry *cshm_php_ce_timeout;

static zend_class_entry *class_for(int code)
{
    switch (code) {
    case CSHM_ERR_CONFIG:
        return cshm_php_ce_config;
    case CSHM_ERR_CLUSTER:
        return cshm_php_ce_cluster;
    case CSHM_ERR_SEGMENT:
        return cshm_php_ce_segment;
    case CSHM_ERR_TIMEOUT:
        return cshm_php_ce_timeout;
    default:
        /* CSHM_ERR_SYSTEM, CSHM_ERR_STATE: no narrower class fits. */
        return cshm_php_ce_exception;
    }
}

void cshm_php_throw_error(const cshm_error *error)
{
    int code = error->code < 0 ? -error->code : error->code;
    const char *message = error->message[0] != '\0' ? error->message : "clustershm: unknown error";
    zend_throw_exception(class_for(error->code), message, code);
}

void cshm_php_throw_config(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    zend_string *message = zend_vstrpprintf(0, format, args);
    va_end(args);
    zend_throw_exception(cshm_php_ce_config, ZSTR_VAL(message), -CSHM_ERR_CONFIG);
    zend_string_release(message);
}
