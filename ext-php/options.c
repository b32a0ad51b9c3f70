/*
 * options.c - see options.h.  Option names are the product's (shared with
 * the Python binding); an unknown name is an error, never ignored, so a typo
 * cannot silently fall back to a default.
 */
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "php_clustershm.h"
#include "exceptions.h"

#define KNOWN_OPTIONS \
    "key, shared, max_nodes, max_namespaces, tend_interval, takeover_timeout, " \
    "connect_timeout, min_refresh_interval, mode, cluster_name, tls_ca_file, tls_ca_dir, " \
    "tls_cert_file, tls_key_file, tls_server_name, tls_insecure_skip_verify, user, " \
    "password, use_alternate_access_address, rack_id"

/* The string options of TLS: name, INI global, field and its size. */
#define TLS_TEXT_OPTIONS(X) \
    X(tls_ca_file) X(tls_ca_dir) X(tls_cert_file) X(tls_key_file) X(tls_server_name)

/* ---- INI settings ------------------------------------------------------- */

static zend_result ini_unsigned(const char *name, const char *text, int base, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, base);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v > UINT32_MAX) {
        cshm_php_throw_config("bad INI setting clustershm.%s = '%s': expected %s; fix php.ini or "
                              "ini_set()", name, text,
                              base == 8 ? "octal permission bits such as 0600"
                                        : "a non-negative integer");
        return FAILURE;
    }
    *out = (uint32_t)v;
    return SUCCESS;
}

static zend_result ini_seconds(const char *name, const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0') {
        cshm_php_throw_config("bad INI setting clustershm.%s = '%s': expected seconds such as "
                              "1.5; fix php.ini or ini_set()", name, text);
        return FAILURE;
    }
    *out = v;
    return SUCCESS;
}

static int ini_set_p(const char *value)
{
    return value != NULL && value[0] != '\0';
}

static zend_result apply_ini(cshm_options *o)
{
    const char *v;
    if (ini_set_p(v = CLUSTERSHM_G(ini_key))) {
        if (ini_unsigned("key", v, 0, &o->key) == FAILURE)
            return FAILURE;
        o->has_key = 1;
    }
    o->shared = CLUSTERSHM_G(ini_shared) ? 1 : 0;
    if (ini_set_p(v = CLUSTERSHM_G(ini_max_nodes)) &&
        ini_unsigned("max_nodes", v, 10, &o->max_nodes) == FAILURE)
        return FAILURE;
    if (ini_set_p(v = CLUSTERSHM_G(ini_max_namespaces)) &&
        ini_unsigned("max_namespaces", v, 10, &o->max_namespaces) == FAILURE)
        return FAILURE;
    if (ini_set_p(v = CLUSTERSHM_G(ini_tend_interval)) &&
        ini_seconds("tend_interval", v, &o->tend_interval) == FAILURE)
        return FAILURE;
    if (ini_set_p(v = CLUSTERSHM_G(ini_takeover_timeout)) &&
        ini_seconds("takeover_timeout", v, &o->takeover_timeout) == FAILURE)
        return FAILURE;
    if (ini_set_p(v = CLUSTERSHM_G(ini_connect_timeout)) &&
        ini_seconds("connect_timeout", v, &o->connect_timeout) == FAILURE)
        return FAILURE;
    if (ini_set_p(v = CLUSTERSHM_G(ini_min_refresh_interval)) &&
        ini_seconds("min_refresh_interval", v, &o->min_refresh_interval) == FAILURE)
        return FAILURE;
    if (ini_set_p(v = CLUSTERSHM_G(ini_mode)) && ini_unsigned("mode", v, 8, &o->mode) == FAILURE)
        return FAILURE;
    if (ini_set_p(v = CLUSTERSHM_G(ini_cluster_name))) {
        /* Copied without its NUL when too long: the core then reports the
         * length with its own message. */
        size_t len = strlen(v);
        memcpy(o->cluster_name, v, MIN(len, sizeof o->cluster_name));
    }
    /* Too long to fit: refused here, since a cut path would name another
     * file. */
#define APPLY_INI_TEXT(name)                                                               \
    if (ini_set_p(v = CLUSTERSHM_G(ini_##name))) {                                         \
        if (strlen(v) >= sizeof o->name) {                                                 \
            cshm_php_throw_config("bad INI setting clustershm." #name ": longer than %zu " \
                                  "bytes; fix php.ini or ini_set()", sizeof o->name - 1);  \
            return FAILURE;                                                                \
        }                                                                                  \
        memcpy(o->name, v, strlen(v) + 1);                                                 \
    }
    TLS_TEXT_OPTIONS(APPLY_INI_TEXT)
#undef APPLY_INI_TEXT
    o->tls_insecure_skip_verify = CLUSTERSHM_G(ini_tls_insecure_skip_verify) ? 1 : 0;
    if (ini_set_p(v = CLUSTERSHM_G(ini_user)))
        memcpy(o->user, v, MIN(strlen(v), sizeof o->user));
    if (ini_set_p(v = CLUSTERSHM_G(ini_password)))
        memcpy(o->password, v, MIN(strlen(v), sizeof o->password));
    o->use_alternate_access_address = CLUSTERSHM_G(ini_use_alternate_access_address) ? 1 : 0;
    if (ini_set_p(v = CLUSTERSHM_G(ini_rack_id))) {
        char *end;
        errno = 0;
        long rack = strtol(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0' || rack < INT32_MIN || rack > INT32_MAX) {
            cshm_php_throw_config("bad INI setting clustershm.rack_id = '%s': expected an integer "
                                  "such as 2; fix php.ini or ini_set()", v);
            return FAILURE;
        }
        o->rack_id = (int32_t)rack;
    }
    return SUCCESS;
}

/* ---- the options array --------------------------------------------------- */

static void wrong_type(const char *name, const char *expected, zval *value, const char *example)
{
    cshm_php_throw_config("bad option %s: expected %s, got %s; e.g. '%s' => %s", name, expected,
                          zend_zval_type_name(value), name, example);
}

static zend_result option_uint32(const char *name, zval *value, uint32_t *out)
{
    if (Z_TYPE_P(value) != IS_LONG) {
        wrong_type(name, "int", value, "64");
        return FAILURE;
    }
    if (Z_LVAL_P(value) < 0 || (zend_ulong)Z_LVAL_P(value) > UINT32_MAX) {
        cshm_php_throw_config("bad option %s: " ZEND_LONG_FMT " is out of range", name,
                              Z_LVAL_P(value));
        return FAILURE;
    }
    *out = (uint32_t)Z_LVAL_P(value);
    return SUCCESS;
}

static zend_result option_seconds(const char *name, zval *value, double *out)
{
    if (Z_TYPE_P(value) == IS_LONG)
        *out = (double)Z_LVAL_P(value);
    else if (Z_TYPE_P(value) == IS_DOUBLE)
        *out = Z_DVAL_P(value);
    else {
        wrong_type(name, "seconds as int or float", value, "1.5");
        return FAILURE;
    }
    return SUCCESS;
}

static zend_result option_key(zval *value, cshm_options *o)
{
    switch (Z_TYPE_P(value)) {
    case IS_NULL:
        o->has_key = 0;
        return SUCCESS;
    case IS_LONG:
        if (Z_LVAL_P(value) < 0 || (zend_ulong)Z_LVAL_P(value) > UINT32_MAX) {
            cshm_php_throw_config("bad option key: " ZEND_LONG_FMT " is not a SysV key; use 1 to "
                                  "0xFFFFFFFF, or null for the default", Z_LVAL_P(value));
            return FAILURE;
        }
        o->key = (uint32_t)Z_LVAL_P(value);
        o->has_key = 1;
        return SUCCESS;
    case IS_STRING: {
        /* "0x43a1b2c3" as printed by `clustershm list`. */
        char *end;
        const char *text = Z_STRVAL_P(value);
        errno = 0;
        unsigned long long v = strtoull(text, &end, 0);
        if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v > UINT32_MAX ||
            strlen(text) != Z_STRLEN_P(value)) {
            cshm_php_throw_config("bad option key: '%s' is not a SysV key; write an int such as "
                                  "0x43a1b2c3, or null for the default", text);
            return FAILURE;
        }
        o->key = (uint32_t)v;
        o->has_key = 1;
        return SUCCESS;
    }
    default:
        wrong_type("key", "int, string or null", value, "0x43a1b2c3");
        return FAILURE;
    }
}

/* A path or a name: a string without NUL that fits the field (null: unset). */
static zend_result option_text(const char *name, zval *value, char *field, size_t size)
{
    if (Z_TYPE_P(value) == IS_NULL) {
        field[0] = '\0';
        return SUCCESS;
    }
    if (Z_TYPE_P(value) != IS_STRING) {
        wrong_type(name, "string", value, "'/etc/ssl/ca.pem'");
        return FAILURE;
    }
    if (memchr(Z_STRVAL_P(value), '\0', Z_STRLEN_P(value)) != NULL ||
        Z_STRLEN_P(value) >= size) {
        cshm_php_throw_config("bad option %s: contains a NUL byte or is longer than %zu bytes",
                              name, size - 1);
        return FAILURE;
    }
    memcpy(field, Z_STRVAL_P(value), Z_STRLEN_P(value) + 1);
    return SUCCESS;
}

/* user and password: strings without NUL, copied without their NUL when too
 * long so that the core reports the length; never echoed in a message. */
static zend_result option_secret(const char *name, zval *value, char *field, size_t cap)
{
    if (Z_TYPE_P(value) == IS_NULL) {
        memset(field, 0, cap);
        return SUCCESS;
    }
    if (Z_TYPE_P(value) != IS_STRING) {
        wrong_type(name, "string or null", value, "'app'");
        return FAILURE;
    }
    if (memchr(Z_STRVAL_P(value), '\0', Z_STRLEN_P(value)) != NULL) {
        cshm_php_throw_config("bad option %s: contains a NUL byte", name);
        return FAILURE;
    }
    memset(field, 0, cap);
    memcpy(field, Z_STRVAL_P(value), MIN(Z_STRLEN_P(value), cap));
    return SUCCESS;
}

static zend_result option_rack_id(zval *value, cshm_options *o)
{
    if (Z_TYPE_P(value) == IS_NULL) {
        o->rack_id = -1;
        return SUCCESS;
    }
    if (Z_TYPE_P(value) != IS_LONG) {
        wrong_type("rack_id", "int or null", value, "2");
        return FAILURE;
    }
    /* Out of int32 here; the core checks the range of rack ids. */
    if (Z_LVAL_P(value) < INT32_MIN || Z_LVAL_P(value) > INT32_MAX) {
        cshm_php_throw_config("bad option rack_id: " ZEND_LONG_FMT " is out of range",
                              Z_LVAL_P(value));
        return FAILURE;
    }
    o->rack_id = (int32_t)Z_LVAL_P(value);
    return SUCCESS;
}

static zend_result apply_option(zend_string *name, zval *value, cshm_options *o)
{
    const char *n = ZSTR_VAL(name);
    ZVAL_DEREF(value);
    if (zend_string_equals_literal(name, "key"))
        return option_key(value, o);
    if (zend_string_equals_literal(name, "shared")) {
        if (Z_TYPE_P(value) == IS_TRUE || Z_TYPE_P(value) == IS_FALSE)
            o->shared = Z_TYPE_P(value) == IS_TRUE;
        else if (Z_TYPE_P(value) == IS_LONG)
            /* The core rejects anything but 0 and 1 with its own message. */
            o->shared = Z_LVAL_P(value) == 0 ? 0 : Z_LVAL_P(value) == 1 ? 1 : 2;
        else {
            wrong_type(n, "bool", value, "false");
            return FAILURE;
        }
        return SUCCESS;
    }
    if (zend_string_equals_literal(name, "max_nodes"))
        return option_uint32(n, value, &o->max_nodes);
    if (zend_string_equals_literal(name, "max_namespaces"))
        return option_uint32(n, value, &o->max_namespaces);
    if (zend_string_equals_literal(name, "tend_interval"))
        return option_seconds(n, value, &o->tend_interval);
    if (zend_string_equals_literal(name, "takeover_timeout"))
        return option_seconds(n, value, &o->takeover_timeout);
    if (zend_string_equals_literal(name, "connect_timeout"))
        return option_seconds(n, value, &o->connect_timeout);
    if (zend_string_equals_literal(name, "min_refresh_interval"))
        return option_seconds(n, value, &o->min_refresh_interval);
    if (zend_string_equals_literal(name, "mode"))
        return option_uint32(n, value, &o->mode);
    if (zend_string_equals_literal(name, "cluster_name")) {
        if (Z_TYPE_P(value) != IS_STRING) {
            wrong_type(n, "string", value, "'prod'");
            return FAILURE;
        }
        if (memchr(Z_STRVAL_P(value), '\0', Z_STRLEN_P(value)) != NULL) {
            cshm_php_throw_config("bad option cluster_name: contains a NUL byte");
            return FAILURE;
        }
        memset(o->cluster_name, 0, sizeof o->cluster_name);
        memcpy(o->cluster_name, Z_STRVAL_P(value), MIN(Z_STRLEN_P(value), sizeof o->cluster_name));
        return SUCCESS;
    }
#define APPLY_TEXT(field)                                            \
    if (zend_string_equals_literal(name, #field))                    \
        return option_text(n, value, o->field, sizeof o->field);
    TLS_TEXT_OPTIONS(APPLY_TEXT)
#undef APPLY_TEXT
    if (zend_string_equals_literal(name, "tls_insecure_skip_verify")) {
        if (Z_TYPE_P(value) != IS_TRUE && Z_TYPE_P(value) != IS_FALSE) {
            wrong_type(n, "bool", value, "true");
            return FAILURE;
        }
        o->tls_insecure_skip_verify = Z_TYPE_P(value) == IS_TRUE;
        return SUCCESS;
    }
    if (zend_string_equals_literal(name, "user"))
        return option_secret(n, value, o->user, sizeof o->user);
    if (zend_string_equals_literal(name, "password"))
        return option_secret(n, value, o->password, sizeof o->password);
    if (zend_string_equals_literal(name, "use_alternate_access_address")) {
        if (Z_TYPE_P(value) == IS_TRUE || Z_TYPE_P(value) == IS_FALSE)
            o->use_alternate_access_address = Z_TYPE_P(value) == IS_TRUE;
        else if (Z_TYPE_P(value) == IS_LONG)
            /* The core rejects anything but 0 and 1 with its own message. */
            o->use_alternate_access_address =
                Z_LVAL_P(value) == 0 ? 0 : Z_LVAL_P(value) == 1 ? 1 : 2;
        else {
            wrong_type(n, "bool", value, "true");
            return FAILURE;
        }
        return SUCCESS;
    }
    if (zend_string_equals_literal(name, "rack_id"))
        return option_rack_id(value, o);
    cshm_php_throw_config("unknown option '%s'; known options: " KNOWN_OPTIONS, n);
    return FAILURE;
}

zend_result cshm_php_options_resolve(HashTable *options, cshm_options *out)
{
    cshm_options_init(out);
    if (apply_ini(out) == FAILURE)
        return FAILURE;
    if (options == NULL)
        return SUCCESS;
    zend_string *name;
    zend_ulong index;
    zval *value;
    ZEND_HASH_FOREACH_KEY_VAL(options, index, name, value) {
        if (name == NULL) {
            cshm_php_throw_config("bad options: entry " ZEND_ULONG_FMT " has no name; pass "
                                  "['name' => value, ...] with names among " KNOWN_OPTIONS,
                                  index);
            return FAILURE;
        }
        if (apply_option(name, value, out) == FAILURE)
            return FAILURE;
    } ZEND_HASH_FOREACH_END();
    return SUCCESS;
}

/* The bits of a double as 16 hex digits: exact.  Extension code gets PHP's
 * own snprintf (main/snprintf.h defines snprintf as ap_php_snprintf), which
 * has no %a and would print "%a" and leave the value out of the text. */
static void double_bits(double v, char out[17])
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    snprintf(out, 17, "%08x%08x", (unsigned)(bits >> 32), (unsigned)(bits & 0xffffffffu));
}

zend_string *cshm_php_options_table_key(zend_string *url, const cshm_options *o)
{
    char tend[17], takeover[17], connect[17], refresh[17];
    double_bits(o->tend_interval, tend);
    double_bits(o->takeover_timeout, takeover);
    double_bits(o->connect_timeout, connect);
    double_bits(o->min_refresh_interval, refresh);
    /* cluster_name, user and password may lack their NUL when too long.
     * The TLS settings are part of the key: other trust is another client.
     * Each path is printed with its length, so no path can imitate a
     * following field.  The credentials are part of the key as a URL with
     * credentials already is: a worker's table lives in its own memory only. */
    char text[1120 + 5 * (CSHM_TLS_PATH_MAX + 32)];
    snprintf(text, sizeof text, "|key=%d:%u|shared=%d|nodes=%u|ns=%u|tend=%s|takeover=%s|"
                                "connect=%s|refresh=%s|mode=%o|name=%.*s|tls=%zu:%s|%zu:%s|"
                                "%zu:%s|%zu:%s|%zu:%s|%d|alt=%d|rack=%d|user=%u:%.*s|"
                                "password=%u:%.*s",
             o->has_key, (unsigned)o->key, o->shared, (unsigned)o->max_nodes,
             (unsigned)o->max_namespaces, tend, takeover, connect, refresh, (unsigned)o->mode,
             (int)sizeof o->cluster_name, o->cluster_name, strlen(o->tls_ca_file),
             o->tls_ca_file, strlen(o->tls_ca_dir), o->tls_ca_dir, strlen(o->tls_cert_file),
             o->tls_cert_file, strlen(o->tls_key_file), o->tls_key_file,
             strlen(o->tls_server_name), o->tls_server_name, o->tls_insecure_skip_verify,
             o->use_alternate_access_address, (int)o->rack_id,
             (unsigned)strnlen(o->user, sizeof o->user), (int)sizeof o->user, o->user,
             (unsigned)strnlen(o->password, sizeof o->password), (int)sizeof o->password,
             o->password);
    zend_string *out = zend_string_concat2(ZSTR_VAL(url), ZSTR_LEN(url), text, strlen(text));
    explicit_bzero(text, sizeof text);
    return out;
}
