/*
 * config.c - URL and option parsing, identity and default key.
 *
 * URL grammar (see README):
 *   redis://[USER:PASSWORD@ | :PASSWORD@]HOST:PORT[,HOST:PORT...]
 *   rediss://...  the same over TLS
 *   aerospike://[USER:PASSWORD@]HOST[:TLS_NAME]:PORT[,HOST[:TLS_NAME]:PORT...]
 * (a TLS_NAME, Aerospike's seed syntax, makes the connections TLS and is
 * the name the node's certificate is verified against).
 * Credentials come from the URL or from the user/password options, never
 * both (two sources that could disagree).  Aerospike's internal
 * authentication needs both a user and a password.
 * HOST is a name, an IPv4 address or a bracketed IPv6 address.  USER and
 * PASSWORD may be percent-encoded.  Nothing may follow the host list: options
 * travel in cshm_options, never in the URL, so a typo cannot be mistaken for a
 * host.  Every rejection names the offending part and the expected form.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "error.h"
#include "map.h"

void cshm_options_init(cshm_options *options)
{
    memset(options, 0, sizeof *options);
    options->shared = 1;
    options->max_nodes = 64;
    options->max_namespaces = 8;
    options->tend_interval = 1.0;
    options->takeover_timeout = 30.0;
    options->connect_timeout = 5.0;
    options->min_refresh_interval = 0.05;
    options->mode = 0600;
    options->rack_id = -1;
}

double cshm_op_timeout_for(double connect_timeout)
{
    return connect_timeout < CSHM_OP_TIMEOUT_MAX ? connect_timeout : CSHM_OP_TIMEOUT_MAX;
}

int cshm_validate_timing(double tend_interval, double takeover_timeout,
                         double min_refresh_interval, double op_timeout, cshm_error *error)
{
    if (!(tend_interval >= 0.01 && tend_interval <= 3600))
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option tend_interval: %g s; use 0.01 to 3600 seconds",
                         tend_interval);
    if (!(takeover_timeout >= 0.05 && takeover_timeout <= 86400))
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option takeover_timeout: %g s; use 0.05 to 86400 seconds",
                         takeover_timeout);
    if (!(takeover_timeout > tend_interval))
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option takeover_timeout: %g s must be longer than tend_interval "
                         "(%g s), or a healthy tender would be taken over between two tends",
                         takeover_timeout, tend_interval);
    if (!(op_timeout >= 0.005 && op_timeout <= CSHM_OP_TIMEOUT_MAX))
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad network step %g s; it is min(connect_timeout, %g s)", op_timeout,
                         CSHM_OP_TIMEOUT_MAX);
    /* A tender beats its heartbeat between network operations, each bounded
     * by op_timeout: a threshold below two of them lets a follower take over
     * a healthy tender that waits on one slow node. */
    if (!(takeover_timeout >= 2 * op_timeout))
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option takeover_timeout: %g s is shorter than two network "
                         "operations of the tender (each up to min(connect_timeout, %g s) = "
                         "%g s), so a healthy tender waiting on one slow node would be taken "
                         "over; use takeover_timeout >= %g s, or a smaller connect_timeout",
                         takeover_timeout, CSHM_OP_TIMEOUT_MAX, op_timeout, 2 * op_timeout);
    if (!(min_refresh_interval >= 0.001 && min_refresh_interval <= 60))
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option min_refresh_interval: %g s; use 0.001 to 60 seconds (the "
                         "tender tends at most once per this interval on refresh requests)",
                         min_refresh_interval);
    return 0;
}

static uint32_t fnv1a32_continue(uint32_t hash, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        hash ^= p[i];
        hash *= 16777619u;
    }
    return hash;
}

uint32_t cshm_fnv1a32(const void *data, size_t len)
{
    return fnv1a32_continue(2166136261u, data, len);
}

uint32_t cshm_config_key(const cshm_config *c, unsigned i)
{
    if (i == 0 || c->options.has_key)
        return c->key;
    /* Alternate i hashes the identity followed by "#i": a different key per
     * alternate, in the same documented range, and nothing about the
     * credentials themselves (keys are visible to every user in ipcs). */
    char suffix[16];
    int n = snprintf(suffix, sizeof suffix, "#%u", i);
    uint32_t hash = fnv1a32_continue(cshm_fnv1a32(c->identity, strlen(c->identity)), suffix,
                                     (size_t)n);
    return CSHM_KEY_BASE | (hash & CSHM_KEY_MASK);
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode src[0..len) into dst (capacity cap, NUL-terminated). */
static int percent_decode(const char *src, size_t len, char *dst, size_t cap, const char *what,
                          cshm_error *error)
{
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)src[i];
        if (c == '%') {
            if (i + 2 >= len)
                return cshm_fail(error, CSHM_ERR_CONFIG,
                                 "bad URL: incomplete %%-escape in the %s; write %%XX with two hex digits",
                                 what);
            int h = hex_value((unsigned char)src[i + 1]), l = hex_value((unsigned char)src[i + 2]);
            if (h < 0 || l < 0)
                return cshm_fail(error, CSHM_ERR_CONFIG,
                                 "bad URL: invalid %%-escape in the %s; write %%XX with two hex digits",
                                 what);
            c = h * 16 + l;
            i += 2;
        }
        if (c == 0)
            return cshm_fail(error, CSHM_ERR_CONFIG, "bad URL: the %s contains a NUL byte", what);
        if (out + 1 >= cap)
            return cshm_fail(error, CSHM_ERR_CONFIG, "bad URL: the %s is longer than %zu bytes",
                             what, cap - 1);
        dst[out++] = (char)c;
    }
    dst[out] = '\0';
    return 0;
}

static int valid_host_char(int c)
{
    return isalnum(c) || c == '.' || c == '-' || c == '_';
}

/* Split ":TLS_NAME:PORT" (Aerospike seeds only) into the name and ":PORT".
 * *rest and *rest_len move past the name; 0, or -1 with the error set. */
static int take_tls_name(const char *item, size_t len, const char **rest, size_t *rest_len,
                         char tls_name[CSHM_HOST_MAX], cshm_error *error)
{
    tls_name[0] = '\0';
    if (*rest_len < 2 || (*rest)[0] != ':')
        return 0;
    const char *second = memchr(*rest + 1, ':', *rest_len - 1);
    if (second == NULL)
        return 0;
    const char *name = *rest + 1;
    size_t name_len = (size_t)(second - name);
    if (name_len == 0 || name_len >= CSHM_HOST_MAX)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad URL: '%.*s' has an empty or too long TLS name; write "
                         "host:tls_name:port (Aerospike) or host:port",
                         (int)len, item);
    for (size_t i = 0; i < name_len; i++)
        if (!valid_host_char((unsigned char)name[i]))
            return cshm_fail(error, CSHM_ERR_CONFIG,
                             "bad URL: TLS name '%.*s' contains '%c'; it is the name in the "
                             "node's certificate",
                             (int)name_len, name, name[i]);
    memcpy(tls_name, name, name_len);
    tls_name[name_len] = '\0';
    *rest_len -= (size_t)(second - *rest);
    *rest = second;
    return 0;
}

/* Parse one "host:port" item of the host list (Aerospike: with_tls_name,
 * "host:tls_name:port" too). */
static int parse_seed(const char *item, size_t len, int with_tls_name, cshm_seed *seed,
                      cshm_error *error)
{
    const char *host;
    size_t host_len;
    const char *rest;

    if (len == 0)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad URL: empty host in the host list; write host:port[,host:port...]");
    if (item[0] == '[') {
        const char *close = memchr(item, ']', len);
        if (close == NULL)
            return cshm_fail(error, CSHM_ERR_CONFIG,
                             "bad URL: '%.*s' opens an IPv6 address with '[' but never closes it",
                             (int)len, item);
        host = item + 1;
        host_len = (size_t)(close - host);
        for (size_t i = 0; i < host_len; i++)
            if (!isxdigit((unsigned char)host[i]) && host[i] != ':' && host[i] != '.')
                return cshm_fail(error, CSHM_ERR_CONFIG,
                                 "bad URL: '%.*s' is not an IPv6 address", (int)len, item);
        rest = close + 1;
    } else {
        const char *colon = memchr(item, ':', len);
        host = item;
        host_len = colon != NULL ? (size_t)(colon - item) : len;
        for (size_t i = 0; i < host_len; i++)
            if (!valid_host_char((unsigned char)host[i]))
                return cshm_fail(error, CSHM_ERR_CONFIG,
                                 "bad URL: host '%.*s' contains '%c'; hosts are names or IP "
                                 "addresses (IPv6 in brackets)",
                                 (int)host_len, host, host[i]);
        rest = host + host_len;
    }
    if (host_len == 0)
        return cshm_fail(error, CSHM_ERR_CONFIG, "bad URL: '%.*s' has an empty host", (int)len, item);
    if (host_len >= CSHM_HOST_MAX)
        return cshm_fail(error, CSHM_ERR_CONFIG, "bad URL: host '%.40s...' is longer than %d bytes",
                         host, CSHM_HOST_MAX - 1);
    size_t rest_len = len - (size_t)(rest - item);
    if (with_tls_name && take_tls_name(item, len, &rest, &rest_len, seed->tls_name, error) != 0)
        return CSHM_ERR_CONFIG;
    if (rest_len == 0 || rest[0] != ':')
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad URL: '%.*s' has no port; write host:port (every seed needs its port)",
                         (int)len, item);
    if (rest_len == 1 || rest_len > 6)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad URL: '%.*s' has an invalid port; ports are 1 to 65535", (int)len, item);
    unsigned long port = 0;
    for (size_t i = 1; i < rest_len; i++) {
        if (!isdigit((unsigned char)rest[i]))
            return cshm_fail(error, CSHM_ERR_CONFIG,
                             "bad URL: '%.*s' has an invalid port; ports are 1 to 65535", (int)len,
                             item);
        port = port * 10 + (unsigned long)(rest[i] - '0');
    }
    if (port == 0 || port > 65535)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad URL: port %lu in '%.*s' is out of range; ports are 1 to 65535", port,
                         (int)len, item);
    for (size_t i = 0; i < host_len; i++)
        seed->host[i] = (char)tolower((unsigned char)host[i]);
    seed->host[host_len] = '\0';
    seed->port = (uint16_t)port;
    return 0;
}

static int compare_seeds(const void *a, const void *b)
{
    const cshm_seed *x = a, *y = b;
    int c = strcmp(x->host, y->host);
    if (c != 0)
        return c;
    if (x->port != y->port)
        return (int)x->port - (int)y->port;
    return strcmp(x->tls_name, y->tls_name);
}

static int validate_options(const cshm_options *o, cshm_driver_kind kind, cshm_error *error)
{
    if (o->has_key && o->key == 0)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option key: 0 is IPC_PRIVATE; give a non-zero SysV key or leave key "
                         "unset for the default");
    if (o->shared != 0 && o->shared != 1)
        return cshm_fail(error, CSHM_ERR_CONFIG, "bad option shared: %d; use true or false",
                         o->shared);
    if (o->max_nodes < 1 || o->max_nodes > 4096)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option max_nodes: %u; use 1 to 4096", (unsigned)o->max_nodes);
    if (kind == CSHM_DRIVER_AEROSPIKE && (o->max_namespaces < 1 || o->max_namespaces > 32))
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option max_namespaces: %u; use 1 to 32 (Aerospike's limit)",
                         (unsigned)o->max_namespaces);
    if (kind == CSHM_DRIVER_REDIS && (o->max_namespaces < 1 || o->max_namespaces > 32))
        return cshm_fail(error, CSHM_ERR_CONFIG, "bad option max_namespaces: %u; use 1 to 32",
                         (unsigned)o->max_namespaces);
    if (!(o->connect_timeout >= 0.01 && o->connect_timeout <= 600))
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option connect_timeout: %g s; use 0.01 to 600 seconds",
                         o->connect_timeout);
    if (cshm_validate_timing(o->tend_interval, o->takeover_timeout, o->min_refresh_interval,
                             cshm_op_timeout_for(o->connect_timeout), error) != 0)
        return CSHM_ERR_CONFIG;
    if (o->mode > 0777 || (o->mode & 0600) != 0600)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option mode: 0%o; use permission bits up to 0777 that include 0600 "
                         "(the owner must read and write)",
                         (unsigned)o->mode);
    size_t name_len = strnlen(o->cluster_name, sizeof o->cluster_name);
    if (name_len == sizeof o->cluster_name)
        return cshm_fail(error, CSHM_ERR_CONFIG, "bad option cluster_name: longer than %zu bytes",
                         sizeof o->cluster_name - 1);
    for (size_t i = 0; i < name_len; i++)
        if (!isprint((unsigned char)o->cluster_name[i]))
            return cshm_fail(error, CSHM_ERR_CONFIG,
                             "bad option cluster_name: contains a non-printable byte");
    if (o->use_alternate_access_address != 0 && o->use_alternate_access_address != 1)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option use_alternate_access_address: %d; use true or false",
                         o->use_alternate_access_address);
    if (o->use_alternate_access_address && kind != CSHM_DRIVER_AEROSPIKE)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option use_alternate_access_address: Aerospike only; Redis nodes "
                         "announce one address");
    if (o->rack_id < -1 || o->rack_id > CSHM_RACK_MAX)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option rack_id: %d; use 0 to %d (Aerospike rack ids), or -1 for none",
                         (int)o->rack_id, CSHM_RACK_MAX);
    if (o->rack_id >= 0 && kind != CSHM_DRIVER_AEROSPIKE)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option rack_id: Aerospike only; Redis has no racks");
    return 0;
}

/* The user/password options into the configuration (validated like the
 * URL's), and the rules every credential source must meet. */
static int take_option_credentials(cshm_config *c, cshm_error *error)
{
    const cshm_options *o = &c->options;
    size_t user_len = strnlen(o->user, sizeof o->user);
    size_t password_len = strnlen(o->password, sizeof o->password);
    if (user_len == sizeof o->user || password_len == sizeof o->password)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option %s: longer than %zu bytes",
                         user_len == sizeof o->user ? "user" : "password",
                         (user_len == sizeof o->user ? sizeof o->user : sizeof o->password) - 1);
    if (user_len > 0 || password_len > 0) {
        if (c->has_user || c->has_password)
            return cshm_fail(error, CSHM_ERR_CONFIG,
                             "credentials given twice: in the URL and in the user/password "
                             "options; give them in one place");
        if (password_len == 0)
            return cshm_fail(error, CSHM_ERR_CONFIG,
                             "bad option user: given without a password; set the password "
                             "option too");
        memcpy(c->user, o->user, user_len);
        c->user[user_len] = '\0';
        memcpy(c->password, o->password, password_len);
        c->password[password_len] = '\0';
        c->has_user = user_len > 0;
        c->has_password = 1;
    }
    /* Never keep a second copy of the password in the options. */
    explicit_bzero(c->options.password, sizeof c->options.password);
    if (c->kind == CSHM_DRIVER_AEROSPIKE && c->has_password && !c->has_user)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "Aerospike authentication needs a user with the password: write "
                         "aerospike://USER:PASSWORD@host:port or set the user option");
    return 0;
}

/* A NUL-terminated, readable file or directory path (or unset). */
static int validate_tls_path(const char *name, const char *path, size_t size, int is_dir,
                             cshm_error *error)
{
    size_t len = strnlen(path, size);
    if (len == size)
        return cshm_fail(error, CSHM_ERR_CONFIG, "bad option %s: longer than %zu bytes", name,
                         size - 1);
    if (len == 0)
        return 0;
    if (access(path, is_dir ? R_OK | X_OK : R_OK) != 0)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option %s: cannot read '%.300s' (%s); give the path of a readable "
                         "PEM %s",
                         name, path, strerror(errno), is_dir ? "CA directory" : "file");
    return 0;
}

/* The TLS options: only with a TLS URL, paths readable, and no setting
 * that the others make meaningless. */
static int validate_tls(const cshm_config *c, cshm_error *error)
{
    const cshm_options *o = &c->options;
    if (o->tls_insecure_skip_verify != 0 && o->tls_insecure_skip_verify != 1)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option tls_insecure_skip_verify: %d; use true or false",
                         o->tls_insecure_skip_verify);
    int given = o->tls_ca_file[0] != '\0' || o->tls_ca_dir[0] != '\0' ||
                o->tls_cert_file[0] != '\0' || o->tls_key_file[0] != '\0' ||
                o->tls_server_name[0] != '\0' || o->tls_insecure_skip_verify;
    if (given && !c->tls)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option: tls_* options are set but the URL is not TLS; use "
                         "rediss://host:port, or aerospike://host:tls_name:port");
    if (validate_tls_path("tls_ca_file", o->tls_ca_file, sizeof o->tls_ca_file, 0, error) != 0 ||
        validate_tls_path("tls_ca_dir", o->tls_ca_dir, sizeof o->tls_ca_dir, 1, error) != 0 ||
        validate_tls_path("tls_cert_file", o->tls_cert_file, sizeof o->tls_cert_file, 0,
                          error) != 0 ||
        validate_tls_path("tls_key_file", o->tls_key_file, sizeof o->tls_key_file, 0, error) != 0)
        return CSHM_ERR_CONFIG;
    if (o->tls_key_file[0] != '\0' && o->tls_cert_file[0] == '\0')
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option tls_key_file: given without tls_cert_file; a client key "
                         "goes with its certificate");
    if (o->tls_insecure_skip_verify &&
        (o->tls_ca_file[0] != '\0' || o->tls_ca_dir[0] != '\0'))
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad option tls_insecure_skip_verify: it turns certificate checks off, "
                         "so tls_ca_file / tls_ca_dir would be ignored; drop one of them");
    size_t name_len = strnlen(o->tls_server_name, sizeof o->tls_server_name);
    if (name_len == sizeof o->tls_server_name)
        return cshm_fail(error, CSHM_ERR_CONFIG, "bad option tls_server_name: longer than %zu bytes",
                         sizeof o->tls_server_name - 1);
    for (size_t i = 0; i < name_len; i++)
        if (!valid_host_char((unsigned char)o->tls_server_name[i]) && o->tls_server_name[i] != ':')
            return cshm_fail(error, CSHM_ERR_CONFIG,
                             "bad option tls_server_name: '%.100s' contains '%c'; give the host "
                             "name (or address) the server's certificate holds",
                             o->tls_server_name, o->tls_server_name[i]);
    return 0;
}

static int build_identity(cshm_config *c, cshm_error *error)
{
    size_t used = 0;
    int n;
    /* "rediss" keeps a TLS configuration off a plain one's default key; the
     * rest of the TLS settings are in the fingerprint (credentials.h). */
    const char *driver = c->kind == CSHM_DRIVER_REDIS ? (c->tls ? "rediss" : "redis") : "aerospike";

    if (c->options.cluster_name[0] != '\0') {
        n = snprintf(c->identity, sizeof c->identity, "%s:name=%s", driver,
                     c->options.cluster_name);
        return n < (int)sizeof c->identity ? 0 : cshm_fail(error, CSHM_ERR_CONFIG, "cluster_name too long");
    }
    cshm_seed sorted[CSHM_MAX_SEEDS];
    memcpy(sorted, c->seeds, c->seed_count * sizeof sorted[0]);
    qsort(sorted, c->seed_count, sizeof sorted[0], compare_seeds);
    n = snprintf(c->identity, sizeof c->identity, "%s:", driver);
    used = (size_t)n;
    for (size_t i = 0; i < c->seed_count; i++) {
        const char *fmt = strchr(sorted[i].host, ':') != NULL ? "%s[%s]%s%s:%u" : "%s%s%s%s:%u";
        n = snprintf(c->identity + used, sizeof c->identity - used, fmt, i == 0 ? "" : ",",
                     sorted[i].host, sorted[i].tls_name[0] != '\0' ? ":" : "",
                     sorted[i].tls_name, (unsigned)sorted[i].port);
        if (n < 0 || (size_t)n >= sizeof c->identity - used)
            return cshm_fail(error, CSHM_ERR_CONFIG,
                             "bad URL: the seed list is too long to identify the cluster (over %d "
                             "bytes); list fewer seeds or set cluster_name",
                             CSHM_IDENTITY_MAX - 1);
        used += (size_t)n;
    }
    return 0;
}

int cshm_config_parse(const char *url, const cshm_options *options, cshm_config *c,
                      cshm_error *error)
{
    memset(c, 0, sizeof *c);
    if (options != NULL)
        c->options = *options;
    else
        cshm_options_init(&c->options);

    if (url == NULL || url[0] == '\0')
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad URL: empty; write redis://host:port[,host:port...] or "
                         "aerospike://host:port[,host:port...]");
    const char *rest;
    if (strncmp(url, "redis://", 8) == 0) {
        c->kind = CSHM_DRIVER_REDIS;
        c->driver = &cshm_driver_redis;
        rest = url + 8;
    } else if (strncmp(url, "rediss://", 9) == 0) {
        c->kind = CSHM_DRIVER_REDIS;
        c->driver = &cshm_driver_redis;
        c->tls = 1;
        rest = url + 9;
    } else if (strncmp(url, "aerospike://", 12) == 0) {
        c->kind = CSHM_DRIVER_AEROSPIKE;
        c->driver = cshm_driver_aerospike_ops();
        rest = url + 12;
    } else {
        const char *sep = strstr(url, "://");
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad URL '%.200s': unknown scheme '%.*s'; use redis://, rediss:// (TLS) or "
                         "aerospike://", url,
                         sep != NULL ? (int)(sep - url) : (int)strlen(url), url);
    }

    const char *at = strrchr(rest, '@');
    if (at != NULL) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        if (colon == NULL)
            return cshm_fail(error, CSHM_ERR_CONFIG,
                             c->kind == CSHM_DRIVER_REDIS
                                 ? "bad URL: the part before '@' has no ':'; write "
                                   "redis://:PASSWORD@host:port for a password or "
                                   "redis://USER:PASSWORD@host:port for an ACL user"
                                 : "bad URL: the part before '@' has no ':'; write "
                                   "aerospike://USER:PASSWORD@host:port");
        if (colon > rest) {
            if (percent_decode(rest, (size_t)(colon - rest), c->user, sizeof c->user, "user name",
                               error) != 0)
                return error != NULL ? error->code : CSHM_ERR_CONFIG;
            c->has_user = 1;
        }
        if (percent_decode(colon + 1, (size_t)(at - colon - 1), c->password, sizeof c->password,
                           "password", error) != 0)
            return error != NULL ? error->code : CSHM_ERR_CONFIG;
        if (c->password[0] == '\0')
            return cshm_fail(error, CSHM_ERR_CONFIG,
                             "bad URL: empty password before '@'; remove the '@' part or give the "
                             "password");
        c->has_password = 1;
        rest = at + 1;
    }

    size_t hosts_len = strcspn(rest, "/?#");
    if (rest[hosts_len] != '\0')
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad URL: unexpected '%.60s' after the host list; options go in the options "
                         "argument, not in the URL",
                         rest + hosts_len);
    if (hosts_len == 0)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad URL '%.200s': no host; write host:port[,host:port...]", url);

    const char *item = rest;
    while (item <= rest + hosts_len) {
        const char *comma = memchr(item, ',', (size_t)(rest + hosts_len - item));
        size_t item_len = comma != NULL ? (size_t)(comma - item) : (size_t)(rest + hosts_len - item);
        if (c->seed_count == CSHM_MAX_SEEDS)
            return cshm_fail(error, CSHM_ERR_CONFIG, "bad URL: more than %d seeds",
                             CSHM_MAX_SEEDS);
        cshm_seed seed;
        memset(&seed, 0, sizeof seed);
        if (parse_seed(item, item_len, c->kind == CSHM_DRIVER_AEROSPIKE, &seed, error) != 0)
            return CSHM_ERR_CONFIG;
        int duplicate = 0;
        for (size_t i = 0; i < c->seed_count; i++) {
            const cshm_seed *earlier = &c->seeds[i];
            if (strcmp(earlier->host, seed.host) != 0 || earlier->port != seed.port)
                continue;
            /* One address, one server: it cannot hold two TLS names. */
            if (strcmp(earlier->tls_name, seed.tls_name) != 0)
                return cshm_fail(error, CSHM_ERR_CONFIG,
                                 "bad URL: seed %s:%u is listed twice with different TLS "
                                 "names ('%s' and '%s'); give each address once",
                                 seed.host, (unsigned)seed.port, earlier->tls_name,
                                 seed.tls_name);
            duplicate = 1;
        }
        if (!duplicate)
            c->seeds[c->seed_count++] = seed;
        if (comma == NULL)
            break;
        item = comma + 1;
    }

    if (c->driver == NULL)
        return cshm_fail(error, CSHM_ERR_CONFIG,
                         "bad URL '%.200s': this build has no Aerospike driver; use redis://", url);
    for (size_t i = 0; i < c->seed_count; i++)
        if (c->seeds[i].tls_name[0] != '\0')
            c->tls = 1;
    if (validate_options(&c->options, c->kind, error) != 0)
        return CSHM_ERR_CONFIG;
    if (validate_tls(c, error) != 0)
        return CSHM_ERR_CONFIG;
    /* TLS is for the whole cluster: a seed without a tls_name would have
     * no name to verify its certificate against, and would never be
     * tended in clear text instead. */
    for (size_t i = 0; c->tls && c->kind == CSHM_DRIVER_AEROSPIKE && i < c->seed_count; i++)
        if (c->seeds[i].tls_name[0] == '\0')
            return cshm_fail(error, CSHM_ERR_CONFIG,
                             "bad URL: seed %.200s:%u has no tls_name but other seeds have "
                             "one; TLS is for every node: give each seed as "
                             "host:tls_name:port",
                             c->seeds[i].host, (unsigned)c->seeds[i].port);
    if (take_option_credentials(c, error) != 0)
        return CSHM_ERR_CONFIG;
    if (build_identity(c, error) != 0)
        return CSHM_ERR_CONFIG;
    c->key = c->options.has_key ? c->options.key
                                : CSHM_KEY_BASE | (cshm_fnv1a32(c->identity, strlen(c->identity)) &
                                                   CSHM_KEY_MASK);
    return 0;
}

int cshm_default_key(const char *url, const cshm_options *options, uint32_t *key,
                     cshm_error *error)
{
    cshm_config *c = malloc(sizeof *c);
    if (c == NULL)
        return cshm_fail(error, CSHM_ERR_SYSTEM, "out of memory");
    int rc = cshm_config_parse(url, options, c, error);
    if (rc == 0)
        *key = c->key;
    free(c);
    return rc;
}
