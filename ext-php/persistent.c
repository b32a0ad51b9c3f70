/*
 * persistent.c - see persistent.h.  The table and the conns are allocated
 * persistently (pemalloc(..., 1)): they outlive requests, and are touched
 * only by the PHP thread that owns these globals, never by the core's
 * background threads.
 */
#include "persistent.h"

#include "ext/standard/info.h"
#include "php_clustershm.h"
#include "exceptions.h"

void cshm_php_conns_init(HashTable *conns)
{
    zend_hash_init(conns, 4, NULL, NULL, 1);
}

static void conn_free(cshm_php_conn *conn)
{
    if (conn->client != NULL)
        cshm_close(conn->client);
    if (conn->table_key != NULL)
        zend_string_release(conn->table_key);
    pefree(conn->display_url, 1);
    pefree(conn, 1);
}

void cshm_php_conn_release(cshm_php_conn *conn)
{
    if (conn != NULL && --conn->refs == 0)
        conn_free(conn);
}

void cshm_php_conn_close(cshm_php_conn *conn)
{
    if (conn->client != NULL) {
        cshm_close(conn->client);
        conn->client = NULL;
    }
    if (conn->listed) {
        conn->listed = false;
        zend_hash_del(&CLUSTERSHM_G(conns), conn->table_key);
        cshm_php_conn_release(conn);
    }
}

void cshm_php_conns_shutdown(HashTable *conns)
{
    /* Objects are gone by now (they die with the request), so closing here
     * is what releases the tender role when a worker exits. */
    cshm_php_conn *conn;
    ZEND_HASH_FOREACH_PTR(conns, conn) {
        conn->listed = false;
        if (conn->client != NULL) {
            cshm_close(conn->client);
            conn->client = NULL;
        }
        cshm_php_conn_release(conn);
    } ZEND_HASH_FOREACH_END();
    zend_hash_destroy(conns);
}

/* The URL for display: "redis://user:***@host:port" (never the password). */
static char *masked_url(zend_string *url)
{
    const char *s = ZSTR_VAL(url);
    const char *scheme_end = strstr(s, "://");
    const char *hosts = scheme_end != NULL ? scheme_end + 3 : s;
    const char *at = strrchr(hosts, '@');
    if (at == NULL)
        return pestrdup(s, 1);
    const char *colon = memchr(hosts, ':', (size_t)(at - hosts));
    size_t keep = colon != NULL ? (size_t)(colon + 1 - s) : (size_t)(hosts - s);
    size_t tail = strlen(at);
    char *out = pemalloc(keep + 3 + tail + 1, 1);
    memcpy(out, s, keep);
    memcpy(out + keep, "***", 3);
    memcpy(out + keep + 3, at, tail + 1);
    return out;
}

cshm_php_conn *cshm_php_conn_get(zend_string *table_key, zend_string *url,
                                 const cshm_options *options)
{
    HashTable *conns = &CLUSTERSHM_G(conns);
    cshm_php_conn *conn = zend_hash_find_ptr(conns, table_key);
    if (conn != NULL) {
        conn->refs++;
        return conn;
    }

    cshm_client *client;
    cshm_error error;
    if (cshm_connect(ZSTR_VAL(url), options, &client, &error) != 0) {
        cshm_php_throw_error(&error);
        return NULL;
    }
    /* The key type depends on the driver; the core names it in status(). */
    cshm_status_info status;
    if (cshm_status(client, &status, &error) != 0) {
        cshm_close(client);
        cshm_php_throw_error(&error);
        return NULL;
    }

    conn = pecalloc(1, sizeof *conn, 1);
    conn->client = client;
    conn->kind = strcmp(status.driver, "aerospike") == 0 ? CSHM_DRIVER_AEROSPIKE
                                                          : CSHM_DRIVER_REDIS;
    conn->max_nodes = options->max_nodes;
    conn->table_key = zend_string_init(ZSTR_VAL(table_key), ZSTR_LEN(table_key), 1);
    conn->display_url = masked_url(url);
    conn->listed = true;
    conn->refs = 2;                 /* the table and the caller */
    zend_hash_add_new_ptr(conns, conn->table_key, conn);
    return conn;
}

uint32_t cshm_php_conns_count(void)
{
    return zend_hash_num_elements(&CLUSTERSHM_G(conns));
}

void cshm_php_conns_info(void)
{
    HashTable *conns = &CLUSTERSHM_G(conns);
    if (zend_hash_num_elements(conns) == 0)
        return;

    php_info_print_table_start();
    php_info_print_table_header(6, "URL", "Key", "shmid", "Role", "Tender pid", "Nodes");
    cshm_php_conn *conn;
    ZEND_HASH_FOREACH_PTR(conns, conn) {
        cshm_status_info s;
        cshm_error error;
        if (cshm_status(conn->client, &s, &error) != 0) {
            php_info_print_table_row(6, conn->display_url, "-", "-", error.message, "-", "-");
            continue;
        }
        char key[16], shmid[16], owner[16], nodes[16];
        snprintf(key, sizeof key, "0x%08x", (unsigned)s.key);
        snprintf(shmid, sizeof shmid, "%d", s.shmid);
        snprintf(owner, sizeof owner, "%d", (int)s.owner_pid);
        snprintf(nodes, sizeof nodes, "%u", (unsigned)s.nodes);
        php_info_print_table_row(6, conn->display_url, key, shmid, s.role, owner, nodes);
    } ZEND_HASH_FOREACH_END();
    php_info_print_table_end();
}
