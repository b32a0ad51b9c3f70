/*
 * php_clustershm.h - module entry and per-process globals of the clustershm
 * PHP extension.
 *
 * Invariants:
 *  - The globals hold only what lives for the whole process (worker): the
 *    table of persistent clients and the INI values.  Nothing here is shared
 *    with the core's background threads, which never call into PHP.
 *  - MINIT registers classes and INI entries only.  It runs in the PHP-FPM
 *    master before it forks the workers, so it must not start a thread or
 *    take ownership of anything: clients are created lazily in the worker.
 */
#ifndef PHP_CLUSTERSHM_H
#define PHP_CLUSTERSHM_H

#include "php.h"
#include "clustershm.h"

#define PHP_CLUSTERSHM_VERSION CSHM_VERSION

extern zend_module_entry clustershm_module_entry;
#define phpext_clustershm_ptr &clustershm_module_entry

ZEND_BEGIN_MODULE_GLOBALS(clustershm)
    HashTable conns;            /* persistent clients: key -> cshm_php_conn * */
    /* INI settings clustershm.*: option defaults; "" means the core's default. */
    char *ini_key;
    bool ini_shared;
    char *ini_max_nodes;
    char *ini_max_namespaces;
    char *ini_tend_interval;
    char *ini_takeover_timeout;
    char *ini_connect_timeout;
    char *ini_min_refresh_interval;
    char *ini_mode;
    char *ini_cluster_name;
    char *ini_tls_ca_file;
    char *ini_tls_ca_dir;
    char *ini_tls_cert_file;
    char *ini_tls_key_file;
    char *ini_tls_server_name;
    bool ini_tls_insecure_skip_verify;
    char *ini_user;
    char *ini_password;
    bool ini_use_alternate_access_address;
    char *ini_rack_id;
ZEND_END_MODULE_GLOBALS(clustershm)

ZEND_EXTERN_MODULE_GLOBALS(clustershm)
#define CLUSTERSHM_G(v) ZEND_MODULE_GLOBALS_ACCESSOR(clustershm, v)

#if defined(ZTS) && defined(COMPILE_DL_CLUSTERSHM)
ZEND_TSRMLS_CACHE_EXTERN()
#endif

#endif
