/*
 * fuzz_config.c - feeds a connection URL and options to cshm_config_parse
 * (core/src/config.c), as an application passes them to cshm_connect.
 *
 * Input layout: 12 bytes of options, then the cluster_name up to the first
 * '\n' (when there is one), then the URL (up to a NUL, as a C string):
 *   byte 0     flags: 1 pass the options (else NULL: the defaults), 2 has_key,
 *              4 shared = 0, 8 shared = byte 11 (an invalid value)
 *   bytes 1-4  key (little-endian)
 *   bytes 5-6  max_nodes (little-endian)
 *   byte 7     max_namespaces
 *   byte 8     tend_interval (low nibble) and takeover_timeout (high nibble),
 *   byte 9     connect_timeout (low) and min_refresh_interval (high): each an
 *              index into `seconds` below
 *   bytes 10-11 mode (little-endian)
 * (tests/fuzz/corpus/fuzz_config/ holds real URLs with the default options:
 * 01 00000000 4000 08 a7 49 8001.)
 *
 * Checks, besides the sanitizers: the result is 0 or CSHM_ERR_CONFIG with a
 * message; on success the invariants of core/src/config.h hold: 1 <=
 * seed_count <= CSHM_MAX_SEEDS, every seed has a non-empty NUL-terminated
 * lower-case host and a port in 1..65535, seeds are distinct, the options
 * are in their documented ranges, identity is NUL-terminated and starts with
 * the driver's name, the key is the explicit one or in the derived range,
 * credentials are NUL-terminated and a password given is not empty; and
 * parsing again gives the same configuration, and cshm_default_key the same
 * key.
 */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

#define OPTIONS_BYTES 12

static const double seconds[16] = {0,   0.001, 0.005, 0.01, 0.05, 0.1,  0.5,   1,
                                   2,   5,     30,    60,   600,  3600, 86400, NAN};

static void check_nul(const char *text, size_t size, int non_empty)
{
    FUZZ_CHECK(memchr(text, '\0', size) != NULL);
    if (non_empty)
        FUZZ_CHECK(text[0] != '\0');
}

static void check_config(const cshm_config *c, const cshm_options *given)
{
    FUZZ_CHECK(c->kind == CSHM_DRIVER_REDIS || c->kind == CSHM_DRIVER_AEROSPIKE);
    FUZZ_CHECK(c->driver != NULL);
    FUZZ_CHECK(c->seed_count >= 1 && c->seed_count <= CSHM_MAX_SEEDS);
    for (size_t i = 0; i < c->seed_count; i++) {
        const cshm_seed *s = &c->seeds[i];
        check_nul(s->host, sizeof s->host, 1);
        for (const char *p = s->host; *p != '\0'; p++)
            FUZZ_CHECK(isgraph((unsigned char)*p) && !isupper((unsigned char)*p));
        FUZZ_CHECK(s->port >= 1);
        for (size_t k = 0; k < i; k++)
            FUZZ_CHECK(strcmp(c->seeds[k].host, s->host) != 0 || c->seeds[k].port != s->port);
    }
    const cshm_options *o = &c->options;
    FUZZ_CHECK(o->shared == 0 || o->shared == 1);
    FUZZ_CHECK(o->max_nodes >= 1 && o->max_nodes <= 4096);
    FUZZ_CHECK(o->max_namespaces >= 1 && o->max_namespaces <= 32);
    FUZZ_CHECK(o->connect_timeout >= 0.01 && o->connect_timeout <= 600);
    FUZZ_CHECK(o->tend_interval >= 0.01 && o->tend_interval <= 3600);
    FUZZ_CHECK(o->takeover_timeout > o->tend_interval && o->takeover_timeout <= 86400);
    FUZZ_CHECK(o->min_refresh_interval >= 0.001 && o->min_refresh_interval <= 60);
    FUZZ_CHECK(o->mode <= 0777 && (o->mode & 0600) == 0600);
    FUZZ_CHECK(!o->has_key || o->key != 0);
    check_nul(o->cluster_name, sizeof o->cluster_name, 0);
    if (given != NULL)
        FUZZ_CHECK(o->has_key == given->has_key && o->key == given->key &&
                   o->max_nodes == given->max_nodes && o->mode == given->mode &&
                   strcmp(o->cluster_name, given->cluster_name) == 0);

    check_nul(c->identity, sizeof c->identity, 1);
    const char *driver = c->kind != CSHM_DRIVER_REDIS ? "aerospike:" : c->tls ? "rediss:" : "redis:";
    FUZZ_CHECK(strncmp(c->identity, driver, strlen(driver)) == 0);
    if (o->has_key)
        FUZZ_CHECK(c->key == o->key);
    else
        FUZZ_CHECK((c->key & ~CSHM_KEY_MASK) == CSHM_KEY_BASE);
    for (unsigned i = 1; i < CSHM_KEY_ALTERNATES; i++) {
        uint32_t alternate = cshm_config_key(c, i);
        FUZZ_CHECK(o->has_key ? alternate == c->key
                              : (alternate & ~CSHM_KEY_MASK) == CSHM_KEY_BASE);
    }

    check_nul(c->user, sizeof c->user, c->has_user);
    check_nul(c->password, sizeof c->password, c->has_password);
    FUZZ_CHECK(c->has_password || (!c->has_user && c->password[0] == '\0'));
    /* Aerospike logs in as a user: a password never comes without one. */
    if (c->kind == CSHM_DRIVER_AEROSPIKE)
        FUZZ_CHECK(!c->has_password || c->has_user);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < OPTIONS_BYTES)
        return 0;
    cshm_options options;
    cshm_options_init(&options);
    uint8_t flags = data[0];
    options.has_key = (flags & 2) != 0;
    options.key = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
                  (uint32_t)data[4] << 24;
    if (flags & 4)
        options.shared = 0;
    if (flags & 8)
        options.shared = data[11];
    options.max_nodes = (uint32_t)data[5] | (uint32_t)data[6] << 8;
    options.max_namespaces = data[7];
    options.tend_interval = seconds[data[8] & 15];
    options.takeover_timeout = seconds[data[8] >> 4];
    options.connect_timeout = seconds[data[9] & 15];
    options.min_refresh_interval = seconds[data[9] >> 4];
    options.mode = (uint32_t)data[10] | (uint32_t)data[11] << 8;

    const uint8_t *rest = data + OPTIONS_BYTES;
    size_t rest_len = size - OPTIONS_BYTES;
    const uint8_t *newline = memchr(rest, '\n', rest_len);
    if (newline != NULL) {
        /* Up to the field's size, not always terminated: the parser must
         * notice a name that fills the whole field. */
        size_t n = (size_t)(newline - rest);
        memcpy(options.cluster_name, rest, n < sizeof options.cluster_name ? n
                                                                          : sizeof options.cluster_name);
        rest_len -= n + 1;
        rest = newline + 1;
    }
    char *url = malloc(rest_len + 1);
    FUZZ_CHECK(url != NULL);
    memcpy(url, rest, rest_len);
    url[rest_len] = '\0';

    const cshm_options *given = (flags & 1) ? &options : NULL;
    static cshm_config config, again;
    cshm_error error;
    memset(&error, 'x', sizeof error);
    int rc = cshm_config_parse(url, given, &config, &error);
    FUZZ_CHECK(rc == 0 || rc == CSHM_ERR_CONFIG);
    if (rc == 0) {
        check_config(&config, given);
        cshm_error error2;
        FUZZ_CHECK(cshm_config_parse(url, given, &again, &error2) == 0);
        FUZZ_CHECK(config.kind == again.kind && config.seed_count == again.seed_count);
        for (size_t i = 0; i < config.seed_count; i++)
            FUZZ_CHECK(strcmp(config.seeds[i].host, again.seeds[i].host) == 0 &&
                       config.seeds[i].port == again.seeds[i].port);
        FUZZ_CHECK(strcmp(config.identity, again.identity) == 0 && config.key == again.key &&
                   strcmp(config.user, again.user) == 0 &&
                   strcmp(config.password, again.password) == 0);
        uint32_t key = 0;
        FUZZ_CHECK(cshm_default_key(url, given, &key, &error2) == 0 && key == config.key);
    } else {
        FUZZ_CHECK(error.code == CSHM_ERR_CONFIG);
        check_nul(error.message, sizeof error.message, 1);
    }
    free(url);
    return 0;
}
