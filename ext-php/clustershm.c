/*
 * clustershm.c - the clustershm PHP extension: module lifecycle, INI
 * settings, phpinfo() and the namespaced functions.
 *
 * Invariants:
 *  - MINIT only registers classes, constants and INI entries.  PHP-FPM runs
 *    it in the master, which then forks the workers: a thread or a segment
 *    ownership started here would belong to the master, not to a worker.
 *  - GSHUTDOWN (after MSHUTDOWN, in every process that ran GINIT: the master,
 *    each worker, each pcntl_fork() child) closes the process's persistent
 *    clients, which hands the tender role to another process at once.
 *  - Nothing here installs a core log handler: the core's background thread
 *    must never call into the Zend engine, and its default handler writes
 *    warnings and errors to stderr ("clustershm: ..."), which PHP-FPM sends
 *    to its log with `catch_workers_output = yes`.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "php.h"
#include "php_ini.h"
#include "SAPI.h"
#include "ext/standard/info.h"
#include "zend_exceptions.h"
#include "spl/spl_exceptions.h"

#include "php_clustershm.h"
#include "client.h"
#include "exceptions.h"
#include "keys.h"
#include "persistent.h"
#include "clustershm_arginfo.h"

ZEND_DECLARE_MODULE_GLOBALS(clustershm)

/* phpinfo()'s display of clustershm.password: "********" (or "no value"),
 * never the password. */
static ZEND_INI_DISP(display_secret)
{
    zend_string *value = type == ZEND_INI_DISPLAY_ORIG && ini_entry->modified
                             ? ini_entry->orig_value
                             : ini_entry->value;
    if (value != NULL && ZSTR_LEN(value) > 0)
        PUTS("********");
    else
        PUTS(sapi_module.phpinfo_as_text ? "no value" : "<i>no value</i>");
}

/* Option defaults.  Empty means "the core's default" (see README), so the
 * defaults live in one place, cshm_options_init(). */
PHP_INI_BEGIN()
    STD_PHP_INI_ENTRY("clustershm.key", "", PHP_INI_ALL, OnUpdateString, ini_key,
                      zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_BOOLEAN("clustershm.shared", "1", PHP_INI_ALL, OnUpdateBool, ini_shared,
                        zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_ENTRY("clustershm.max_nodes", "", PHP_INI_ALL, OnUpdateString, ini_max_nodes,
                      zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_ENTRY("clustershm.max_namespaces", "", PHP_INI_ALL, OnUpdateString,
                      ini_max_namespaces, zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_ENTRY("clustershm.tend_interval", "", PHP_INI_ALL, OnUpdateString,
                      ini_tend_interval, zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_ENTRY("clustershm.takeover_timeout", "", PHP_INI_ALL, OnUpdateString,
                      ini_takeover_timeout, zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_ENTRY("clustershm.connect_timeout", "", PHP_INI_ALL, OnUpdateString,
                      ini_connect_timeout, zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_ENTRY("clustershm.min_refresh_interval", "", PHP_INI_ALL, OnUpdateString,
                      ini_min_refresh_interval, zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_ENTRY("clustershm.mode", "", PHP_INI_ALL, OnUpdateString, ini_mode,
                      zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_ENTRY("clustershm.cluster_name", "", PHP_INI_ALL, OnUpdateString,
                      ini_cluster_name, zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_ENTRY("clustershm.tls_ca_file", "", PHP_INI_ALL, OnUpdateString,
                      ini_tls_ca_file, zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_ENTRY("clustershm.tls_ca_dir", "", PHP_INI_ALL, OnUpdateString,
                      ini_tls_ca_dir, zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_ENTRY("clustershm.tls_cert_file", "", PHP_INI_ALL, OnUpdateString,
                      ini_tls_cert_file, zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_ENTRY("clustershm.tls_key_file", "", PHP_INI_ALL, OnUpdateString,
                      ini_tls_key_file, zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_ENTRY("clustershm.tls_server_name", "", PHP_INI_ALL, OnUpdateString,
                      ini_tls_server_name, zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_BOOLEAN("clustershm.tls_insecure_skip_verify", "0", PHP_INI_ALL, OnUpdateBool,
                        ini_tls_insecure_skip_verify, zend_clustershm_globals,
                        clustershm_globals)
    STD_PHP_INI_ENTRY("clustershm.user", "", PHP_INI_ALL, OnUpdateString, ini_user,
                      zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_ENTRY_EX("clustershm.password", "", PHP_INI_ALL, OnUpdateString, ini_password,
                         zend_clustershm_globals, clustershm_globals, display_secret)
    STD_PHP_INI_BOOLEAN("clustershm.use_alternate_access_address", "0", PHP_INI_ALL,
                        OnUpdateBool, ini_use_alternate_access_address,
                        zend_clustershm_globals, clustershm_globals)
    STD_PHP_INI_ENTRY("clustershm.rack_id", "", PHP_INI_ALL, OnUpdateString, ini_rack_id,
                      zend_clustershm_globals, clustershm_globals)
PHP_INI_END()

static PHP_GINIT_FUNCTION(clustershm)
{
#if defined(COMPILE_DL_CLUSTERSHM) && defined(ZTS)
    ZEND_TSRMLS_CACHE_UPDATE();
#endif
    memset(clustershm_globals, 0, sizeof *clustershm_globals);
    cshm_php_conns_init(&clustershm_globals->conns);
}

static PHP_GSHUTDOWN_FUNCTION(clustershm)
{
    cshm_php_conns_shutdown(&clustershm_globals->conns);
}

static PHP_MINIT_FUNCTION(clustershm)
{
    REGISTER_INI_ENTRIES();
    register_clustershm_symbols(module_number);
    cshm_php_ce_exception = register_class_ClusterShm_Exception(spl_ce_RuntimeException);
    cshm_php_ce_config = register_class_ClusterShm_ConfigException(cshm_php_ce_exception);
    cshm_php_ce_cluster = register_class_ClusterShm_ClusterException(cshm_php_ce_exception);
    cshm_php_ce_segment = register_class_ClusterShm_SegmentException(cshm_php_ce_exception);
    cshm_php_ce_timeout = register_class_ClusterShm_TimeoutException(cshm_php_ce_exception);
    cshm_php_client_register(register_class_ClusterShm_Client());
    return SUCCESS;
}

static PHP_MSHUTDOWN_FUNCTION(clustershm)
{
    UNREGISTER_INI_ENTRIES();
    return SUCCESS;
}

static PHP_MINFO_FUNCTION(clustershm)
{
    char pid[16], count[16];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    snprintf(count, sizeof count, "%u", (unsigned)cshm_php_conns_count());
    php_info_print_table_start();
    php_info_print_table_row(2, "clustershm support", "enabled");
    php_info_print_table_row(2, "Version", PHP_CLUSTERSHM_VERSION);
    php_info_print_table_row(2, "Process id", pid);
    php_info_print_table_row(2, "Segments attached by this process", count);
    php_info_print_table_end();
    cshm_php_conns_info();
    DISPLAY_INI_ENTRIES();
}

ZEND_FUNCTION(ClusterShm_connect)
{
    zend_string *url;
    HashTable *options = NULL;
    ZEND_PARSE_PARAMETERS_START(1, 2)
        Z_PARAM_PATH_STR(url)
        Z_PARAM_OPTIONAL
        Z_PARAM_ARRAY_HT(options)
    ZEND_PARSE_PARAMETERS_END();
    cshm_php_client_connect_new(return_value, url, options);
}

ZEND_FUNCTION(ClusterShm_aerospike_digest)
{
    zend_string *set, *key_str = NULL;
    zend_long key_long = 0;
    ZEND_PARSE_PARAMETERS_START(2, 2)
        Z_PARAM_PATH_STR(set)
        Z_PARAM_STR_OR_LONG(key_str, key_long)
    ZEND_PARSE_PARAMETERS_END();
    cshm_key key;
    char buf[CSHM_PHP_KEY_BUF];
    cshm_php_key(key_str, key_long, CSHM_DRIVER_AEROSPIKE, &key, buf);
    uint8_t digest[20];
    cshm_error error;
    if (cshm_aerospike_digest(ZSTR_VAL(set), &key, digest, &error) != 0) {
        cshm_php_throw_error(&error);
        RETURN_THROWS();
    }
    RETURN_STRINGL((const char *)digest, sizeof digest);
}

ZEND_FUNCTION(ClusterShm_redis_slot)
{
    zend_string *key;
    ZEND_PARSE_PARAMETERS_START(1, 1)
        Z_PARAM_STR(key)
    ZEND_PARSE_PARAMETERS_END();
    RETURN_LONG((zend_long)cshm_redis_slot(ZSTR_VAL(key), ZSTR_LEN(key)));
}

zend_module_entry clustershm_module_entry = {
    STANDARD_MODULE_HEADER,
    "clustershm",
    ext_functions,
    PHP_MINIT(clustershm),
    PHP_MSHUTDOWN(clustershm),
    NULL,
    NULL,
    PHP_MINFO(clustershm),
    PHP_CLUSTERSHM_VERSION,
    PHP_MODULE_GLOBALS(clustershm),
    PHP_GINIT(clustershm),
    PHP_GSHUTDOWN(clustershm),
    NULL,
    STANDARD_MODULE_PROPERTIES_EX
};

#ifdef COMPILE_DL_CLUSTERSHM
#ifdef ZTS
ZEND_TSRMLS_CACHE_DEFINE()
#endif
ZEND_GET_MODULE(clustershm)
#endif
