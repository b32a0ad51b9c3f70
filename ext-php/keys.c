/*
 * keys.c - see keys.h.  Callers parse the key with Z_PARAM_STR_OR_LONG, so
 * the engine has already coerced (or, under strict_types, rejected with a
 * TypeError) anything that is neither a string nor an int.
 */
#include "keys.h"

#include <stdio.h>

void cshm_php_key(zend_string *str, zend_long lval, cshm_driver_kind kind, cshm_key *key,
                  char buf[CSHM_PHP_KEY_BUF])
{
    memset(key, 0, sizeof *key);
    if (str == NULL) {
        if (kind == CSHM_DRIVER_AEROSPIKE) {
            key->type = CSHM_KEY_INTEGER;
            key->integer = (int64_t)lval;
        } else {
            key->type = CSHM_KEY_BYTES;
            key->len = (size_t)snprintf(buf, CSHM_PHP_KEY_BUF, ZEND_LONG_FMT, lval);
            key->data = buf;
        }
        return;
    }
    key->type = kind == CSHM_DRIVER_AEROSPIKE ? CSHM_KEY_STRING : CSHM_KEY_BYTES;
    key->data = ZSTR_VAL(str);
    key->len = ZSTR_LEN(str);
}
