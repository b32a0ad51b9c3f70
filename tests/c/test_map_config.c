/*
 * test_map_config.c - the map builder and URL/option parsing.
 */
#include <string.h>

#include "config.h"
#include "credentials.h"
#include "driver.h"
#include "map.h"
#include "test.h"

static cshm_map_shape small_shape(void)
{
    cshm_map_shape s = {.partitions = 16, .max_nodes = 3, .max_namespaces = 2, .columns = 2,
                        .has_regimes = 0};
    return s;
}

static void test_add_nodes_until_limit(void)
{
    cshm_map m;
    cshm_map_shape s = small_shape();
    CHECK(cshm_map_init(&m, &s) == 0);
    CHECK(cshm_map_add_node(&m, "b", "10.0.0.2", 7002, 1, 1) == 0);
    CHECK(cshm_map_add_node(&m, "a", "10.0.0.1", 7001, 1, 1) == 1);
    CHECK(cshm_map_add_node(&m, "c", "10.0.0.3", 7003, 0, 0) == 2);
    CHECK(cshm_map_add_node(&m, "d", "10.0.0.4", 7004, 0, 1) == -1);
    CHECK(m.counts->node_count == 3);
    CHECK(m.counts->nodes_seen == 4);
    CHECK(m.counts->flags & CSHM_MAP_NODES_TRUNCATED);
    cshm_map_free(&m);
}

static void test_long_names_refused_not_cut(void)
{
    cshm_map m;
    cshm_map_shape s = small_shape();
    CHECK(cshm_map_init(&m, &s) == 0);
    char name[100];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    CHECK(cshm_map_add_node(&m, name, "h", 1, 1, 1) == -1);
    CHECK(m.counts->node_count == 0);
    CHECK(cshm_map_add_namespace(&m, "0123456789012345678901234567890123") == -1);
    cshm_map_free(&m);
}

static void test_sort_renumbers_owners(void)
{
    cshm_map m;
    cshm_map_shape s = small_shape();
    CHECK(cshm_map_init(&m, &s) == 0);
    int ns = cshm_map_add_namespace(&m, "test");
    CHECK(ns == 0);
    int b = cshm_map_add_node(&m, "b", "hb", 2, 1, 1);
    int a = cshm_map_add_node(&m, "a", "ha", 1, 1, 1);
    cshm_map_set_owner(&m, 0, 5, 0, (uint16_t)b);
    cshm_map_set_owner(&m, 0, 5, 1, (uint16_t)a);
    cshm_map_sort_nodes(&m);
    CHECK(strcmp(m.nodes[0].name, "a") == 0);
    CHECK(cshm_map_owner(&m, 0, 5, 0) == 1);
    CHECK(strcmp(m.nodes[cshm_map_owner(&m, 0, 5, 0)].host, "hb") == 0);
    CHECK(cshm_map_owner(&m, 0, 5, 1) == 0);
    CHECK(cshm_map_owner(&m, 0, 6, 0) == CSHM_NO_NODE);
    CHECK(cshm_map_owner(&m, 0, 99, 0) == CSHM_NO_NODE); /* out of range reads as none */
    cshm_map_free(&m);
}

static void test_differs_detects_owner_change(void)
{
    cshm_map a, b;
    cshm_map_shape s = small_shape();
    CHECK(cshm_map_init(&a, &s) == 0);
    CHECK(cshm_map_init(&b, &s) == 0);
    cshm_map_add_namespace(&a, "n");
    cshm_map_add_node(&a, "a", "h", 1, 1, 1);
    cshm_map_set_owner(&a, 0, 3, 0, 0);
    cshm_map_copy(&b, &a);
    CHECK(!cshm_map_differs(&a, &b));
    b.counts->tended_at_ms = 12345; /* not part of the map's content */
    b.counts->flags |= CSHM_MAP_STALE;
    CHECK(!cshm_map_differs(&a, &b));
    cshm_map_set_owner(&b, 0, 4, 0, 0);
    CHECK(cshm_map_differs(&a, &b));
    cshm_map_free(&a);
    cshm_map_free(&b);
}

void suite_map(void)
{
    RUN(test_add_nodes_until_limit);
    RUN(test_long_names_refused_not_cut);
    RUN(test_sort_renumbers_owners);
    RUN(test_differs_detects_owner_change);
}

static int parse(const char *url, const cshm_options *o, cshm_config *c, cshm_error *e)
{
    return cshm_config_parse(url, o, c, e);
}

static void test_parse_redis_url(void)
{
    static cshm_config c;
    cshm_error e;
    CHECK(parse("redis://127.0.0.1:7002,LocalHost:7001,127.0.0.1:7002", NULL, &c, &e) == 0);
    CHECK(c.kind == CSHM_DRIVER_REDIS);
    CHECK(c.seed_count == 2); /* duplicate dropped */
    CHECK(strcmp(c.seeds[1].host, "localhost") == 0);
    CHECK(strcmp(c.identity, "redis:127.0.0.1:7002,localhost:7001") == 0);
    CHECK((c.key & ~CSHM_KEY_MASK) == CSHM_KEY_BASE);
    CHECK(c.key == (CSHM_KEY_BASE | (cshm_fnv1a32(c.identity, strlen(c.identity)) & CSHM_KEY_MASK)));
    CHECK(!c.has_user && !c.has_password);
}

static void test_seed_order_does_not_change_identity(void)
{
    static cshm_config a, b;
    CHECK(parse("redis://h2:2,h1:1", NULL, &a, NULL) == 0);
    CHECK(parse("redis://h1:1,h2:2", NULL, &b, NULL) == 0);
    CHECK(strcmp(a.identity, b.identity) == 0);
    CHECK(a.key == b.key);
}

static void test_parse_credentials_and_ipv6(void)
{
    static cshm_config c;
    cshm_error e;
    CHECK(parse("redis://app:p%40ss%3Aword@[::1]:7001", NULL, &c, &e) == 0);
    CHECK(c.has_user && strcmp(c.user, "app") == 0);
    CHECK(c.has_password && strcmp(c.password, "p@ss:word") == 0);
    CHECK(strcmp(c.seeds[0].host, "::1") == 0 && c.seeds[0].port == 7001);
    CHECK(strstr(c.identity, "p@ss") == NULL); /* secrets never in the identity */
    CHECK(parse("redis://:secret@h:1", NULL, &c, &e) == 0);
    CHECK(!c.has_user && strcmp(c.password, "secret") == 0);
}

static void expect_config_error(const char *url, const cshm_options *o, const char *needle)
{
    static cshm_config c;
    cshm_error e;
    memset(&e, 0, sizeof e);
    int rc = parse(url, o, &c, &e);
    CHECK(rc == CSHM_ERR_CONFIG);
    CHECK(e.code == CSHM_ERR_CONFIG);
    if (strstr(e.message, needle) == NULL) {
        fprintf(stderr, "    message for '%s' lacks '%s': %s\n", url ? url : "(null)", needle,
                e.message);
        CHECK(0);
    }
}

static void test_bad_urls(void)
{
    expect_config_error("", NULL, "empty");
    expect_config_error(NULL, NULL, "empty");
    expect_config_error("http://h:1", NULL, "unknown scheme 'http'");
    expect_config_error("redis://", NULL, "no host");
    expect_config_error("redis://h", NULL, "no port");
    expect_config_error("redis://h:0", NULL, "out of range");
    expect_config_error("redis://h:99999", NULL, "out of range");
    expect_config_error("redis://h:12x", NULL, "invalid port");
    expect_config_error("redis://h:1,", NULL, "empty host");
    expect_config_error("redis://h:1/0", NULL, "options go in the options argument");
    expect_config_error("redis://h:1?x=1", NULL, "options go in the options argument");
    expect_config_error("redis://bad host:1", NULL, "contains ' '");
    expect_config_error("redis://[::1:1", NULL, "never closes");
    expect_config_error("redis://user@h:1", NULL, "has no ':'");
    expect_config_error("redis://u:%zz@h:1", NULL, "invalid %-escape");
    expect_config_error("aerospike://:p@h:3000", NULL, "needs a user");
    expect_config_error("aerospike://u@h:3000", NULL, "aerospike://USER:PASSWORD@host:port");
}

static void test_bad_options(void)
{
    cshm_options o;
    cshm_options_init(&o);
    o.tend_interval = -1;
    expect_config_error("redis://h:1", &o, "tend_interval");
    cshm_options_init(&o);
    o.max_nodes = 0;
    expect_config_error("redis://h:1", &o, "max_nodes");
    cshm_options_init(&o);
    o.takeover_timeout = 0.5;
    o.tend_interval = 1.0;
    expect_config_error("redis://h:1", &o, "longer than tend_interval");
    cshm_options_init(&o);
    o.mode = 0400;
    expect_config_error("redis://h:1", &o, "mode");
    cshm_options_init(&o);
    o.has_key = 1;
    o.key = 0;
    expect_config_error("redis://h:1", &o, "IPC_PRIVATE");
    cshm_options_init(&o);
    o.connect_timeout = 0;
    expect_config_error("redis://h:1", &o, "connect_timeout");
    /* Shorter than two network steps of the tender: named, with the
     * minimum and the way out. */
    cshm_options_init(&o);
    o.takeover_timeout = 1.5;
    o.tend_interval = 0.2;
    expect_config_error("redis://h:1", &o, "takeover_timeout >= 2 s");
    o.connect_timeout = 0.5;
    static cshm_config ok;
    CHECK(parse("redis://h:1", &o, &ok, NULL) == 0);
    cshm_options_init(&o);
    o.takeover_timeout = 0.05;
    o.tend_interval = 0.01;
    expect_config_error("redis://h:1", &o, "smaller connect_timeout");
    cshm_options_init(&o);
    o.min_refresh_interval = 0;
    expect_config_error("redis://h:1", &o, "min_refresh_interval");
    o.min_refresh_interval = 61;
    expect_config_error("redis://h:1", &o, "min_refresh_interval");
}

static void test_rediss_and_tls_options(void)
{
    static cshm_config plain, tls, other;
    cshm_options o;
    CHECK(parse("redis://h:1", NULL, &plain, NULL) == 0);
    CHECK(parse("rediss://h:1", NULL, &tls, NULL) == 0);
    CHECK(!plain.tls && tls.tls && tls.kind == CSHM_DRIVER_REDIS);
    /* TLS is another default key, and a fingerprint even without a password. */
    CHECK(strcmp(tls.identity, "rediss:h:1") == 0 && plain.key != tls.key);
    CHECK(!cshm_credentials_present(&plain) && cshm_credentials_present(&tls));
    CHECK(cshm_credentials_iterations(&tls) == CSHM_CREDENTIALS_ITERATIONS_TLS_ONLY);
    /* Other TLS settings, another fingerprint (same salt). */
    cshm_options_init(&o);
    o.tls_insecure_skip_verify = 1;
    CHECK(parse("rediss://h:1", &o, &other, NULL) == 0);
    unsigned char salt[16] = {1, 2, 3}, f1[32], f2[32];
    cshm_credentials_fingerprint(&tls, salt, sizeof salt, 1, f1);
    cshm_credentials_fingerprint(&other, salt, sizeof salt, 1, f2);
    CHECK(memcmp(f1, f2, sizeof f1) != 0);

    cshm_options_init(&o);
    snprintf(o.tls_ca_file, sizeof o.tls_ca_file, "/etc/hosts");
    expect_config_error("redis://h:1", &o, "use rediss://");
    snprintf(o.tls_ca_file, sizeof o.tls_ca_file, "/nonexistent/ca.pem");
    expect_config_error("rediss://h:1", &o, "cannot read '/nonexistent/ca.pem'");
    cshm_options_init(&o);
    snprintf(o.tls_key_file, sizeof o.tls_key_file, "/etc/hosts");
    expect_config_error("rediss://h:1", &o, "without tls_cert_file");
    cshm_options_init(&o);
    o.tls_insecure_skip_verify = 1;
    snprintf(o.tls_ca_file, sizeof o.tls_ca_file, "/etc/hosts");
    expect_config_error("rediss://h:1", &o, "drop one of them");
    cshm_options_init(&o);
    snprintf(o.tls_server_name, sizeof o.tls_server_name, "bad name");
    expect_config_error("rediss://h:1", &o, "tls_server_name");
    cshm_options_init(&o);
    memset(o.tls_ca_dir, 'a', sizeof o.tls_ca_dir);
    expect_config_error("rediss://h:1", &o, "longer than");
    /* Aerospike's host:tls_name:port makes the whole cluster TLS: a seed
     * without a name would have nothing to verify against. */
    static cshm_config as_tls;
    CHECK(parse("aerospike://10.0.0.1:node-a.example:4333,10.0.0.2:node-b.example:4333", NULL,
                &as_tls, NULL) == 0);
    CHECK(as_tls.tls == 1);
    CHECK(strcmp(as_tls.seeds[0].tls_name, "node-a.example") == 0 ||
          strcmp(as_tls.seeds[1].tls_name, "node-a.example") == 0);
    expect_config_error("aerospike://10.0.0.1:node-a.example:4333,10.0.0.2:3000", NULL,
                        "10.0.0.2:3000 has no tls_name");
    cshm_options_init(&o);
    snprintf(o.tls_ca_file, sizeof o.tls_ca_file, "/etc/hosts");
    expect_config_error("aerospike://10.0.0.1:3000", &o, "the URL is not TLS");
    expect_config_error("aerospike://10.0.0.1::4333", NULL, "TLS name");
    expect_config_error("aerospike://10.0.0.1:node-a:4333,10.0.0.1:node-b:4333", NULL,
                        "listed twice with different TLS names");
    CHECK(parse("aerospike://10.0.0.1:node-a:4333,10.0.0.1:node-a:4333", NULL, &as_tls, NULL) == 0);
    CHECK(as_tls.seed_count == 1);
    expect_config_error("redis://10.0.0.1:name:4333", NULL, "invalid port");
}

static void test_alternate_keys(void)
{
    static cshm_config derived, explicit_key;
    CHECK(parse("redis://h:1", NULL, &derived, NULL) == 0);
    CHECK(cshm_config_key(&derived, 0) == derived.key);
    for (unsigned i = 0; i < CSHM_KEY_ALTERNATES; i++) {
        uint32_t k = cshm_config_key(&derived, i);
        CHECK((k & ~CSHM_KEY_MASK) == CSHM_KEY_BASE);
        for (unsigned j = 0; j < i; j++)
            CHECK(cshm_config_key(&derived, j) != k);
    }
    cshm_options o;
    cshm_options_init(&o);
    o.has_key = 1;
    o.key = 0x1234;
    CHECK(parse("redis://h:1", &o, &explicit_key, NULL) == 0);
    for (unsigned i = 0; i < CSHM_KEY_ALTERNATES; i++)
        CHECK(cshm_config_key(&explicit_key, i) == 0x1234);
}

static void test_cluster_name_is_the_identity(void)
{
    static cshm_config a, b;
    cshm_options o;
    cshm_options_init(&o);
    strcpy(o.cluster_name, "prod");
    CHECK(parse("redis://h1:1", &o, &a, NULL) == 0);
    CHECK(parse("redis://h2:2", &o, &b, NULL) == 0);
    CHECK(strcmp(a.identity, "redis:name=prod") == 0);
    CHECK(a.key == b.key);
}

static void test_explicit_key_wins(void)
{
    static cshm_config c;
    cshm_options o;
    cshm_options_init(&o);
    o.has_key = 1;
    o.key = 0x1234;
    CHECK(parse("redis://h:1", &o, &c, NULL) == 0);
    CHECK(c.key == 0x1234);
}

void suite_config(void)
{
    RUN(test_parse_redis_url);
    RUN(test_seed_order_does_not_change_identity);
    RUN(test_parse_credentials_and_ipv6);
    RUN(test_bad_urls);
    RUN(test_bad_options);
    RUN(test_cluster_name_is_the_identity);
    RUN(test_explicit_key_wins);
    RUN(test_alternate_keys);
    RUN(test_rediss_and_tls_options);
}
