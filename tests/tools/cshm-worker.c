/*
 * cshm-worker.c - one worker process for the integration tests and the demo.
 *
 * It reads commands from stdin, one per line, and answers every command with
 * exactly one JSON object on one line of stdout, flushed at once, so a test
 * can drive many workers in lock-step.  Commands (see tests/integration):
 *
 *   connect <url> [name=value ...]   key shared max_nodes max_namespaces
 *                                    tend_interval takeover_timeout
 *                                    connect_timeout min_refresh_interval
 *                                    mode cluster_name tls_ca_file
 *                                    tls_ca_dir tls_cert_file tls_key_file
 *                                    tls_server_name tls_insecure_skip_verify
 *                                    user password
 *                                    use_alternate_access_address rack_id
 *   route <hex-key> [replica]        routefile <in> <out> [replica]
 *   partition <hex-key>              status   nodes   refresh   pid
 *   refreshwait <timeout>            refreshloop <seconds>
 *   fork <in> <out>                  close    exit    (EOF = exit)
 *   forkmaps <in> <out>              fork, and the child reports its segment
 *                                    and the SysV mappings left after close
 *   verify                           verifyloop <seconds> [yield]
 *   exec                             (see "Reliability commands")
 *   aroute <ns> <set> <type> <key> [replica]      Aerospike typed keys;
 *                                    replica "rack" or "rack:N": prefer_rack
 *   apartition <set> <type> <key>                 (see "Aerospike typed keys")
 *   aroutefile <ns> <set> <type> <in> <out> [replica]
 *   afork <ns> <set> <type> <in> <out>            (fork, routing typed keys)
 *   sandwich <below-shmid> <above-shmid> <segment-bytes>
 *                                    foreign segments against both ends of
 *                                    the next connect's segment (see
 *                                    "Canaries")
 *
 * Invariants:
 *  - one input line -> one output line, always a JSON object with "ok";
 *    library failures carry the cshm_code as "code" and its message as
 *    "error"; failures of the worker itself (bad command, unreadable file)
 *    carry "code":null and "worker":true so tests never mistake them for
 *    library errors;
 *  - only the public API of clustershm.h is used;
 *  - stdout holds nothing unflushed at fork(), and the child leaves with
 *    _exit(), so no answer is ever printed twice.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clustershm.h"

#define MAX_ARGS 32

static cshm_client *client;
/* The last successful connect, so verifyloop's yield can connect again. */
static char last_url[1024];
static cshm_options last_options;

/* ---- JSON output ------------------------------------------------------- */

/* Writes s as a JSON string: every byte below 0x20, '"' and '\\' escaped;
 * bytes >= 0x80 are escaped as \u00XX so the output is valid JSON even when a
 * message carries bytes that are not UTF-8. */
static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20 || *p >= 0x7f)
                fprintf(out, "\\u%04x", (unsigned)*p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

static void answer_end(void)
{
    fputs("}\n", stdout);
    fflush(stdout);
}

static void answer_ok(void)
{
    fputs("{\"ok\":true", stdout);
    answer_end();
}

static void answer_error(const cshm_error *error)
{
    fprintf(stdout, "{\"ok\":false,\"code\":%d,\"error\":", error->code);
    json_string(stdout, error->message);
    answer_end();
}

static void answer_worker_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void answer_worker_error(const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    fputs("{\"ok\":false,\"code\":null,\"worker\":true,\"error\":", stdout);
    json_string(stdout, message);
    answer_end();
}

/* ---- parsing ----------------------------------------------------------- */

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes hex text of length len into buf (which holds at least len/2
 * bytes).  Returns the byte count, or -1 when the text is not hex. */
static long hex_decode(const char *text, size_t len, unsigned char *buf)
{
    if (len % 2 != 0)
        return -1;
    for (size_t i = 0; i < len; i += 2) {
        int hi = hex_digit((unsigned char)text[i]), lo = hex_digit((unsigned char)text[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        buf[i / 2] = (unsigned char)(hi * 16 + lo);
    }
    return (long)(len / 2);
}

static int parse_u32(const char *text, int base, uint32_t *out)
{
    char *end;
    errno = 0;
    if (text[0] == '-')
        return -1;
    unsigned long long v = strtoull(text, &end, base);
    if (errno != 0 || end == text || *end != '\0' || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_double(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *text, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < -1000000 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

/* Applies one name=value option.  Values the worker cannot even parse are a
 * worker error; values it can parse go to the library unchecked, so the
 * library's own validation is what the tests see (tend_interval=-1 etc). */
static int apply_option(cshm_options *o, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL) {
        answer_worker_error("option '%s' is not name=value", arg);
        return -1;
    }
    size_t name_len = (size_t)(eq - arg);
    const char *value = eq + 1;
    int bad = 0;
#define IS(n) (name_len == strlen(n) && strncmp(arg, n, name_len) == 0)
    if (IS("key")) {
        /* base 0: 0x.. is hex, a leading 0 octal, otherwise decimal */
        bad = parse_u32(value, 0, &o->key);
        o->has_key = 1;
    } else if (IS("shared")) {
        bad = parse_int(value, &o->shared);
    } else if (IS("max_nodes")) {
        bad = parse_u32(value, 10, &o->max_nodes);
    } else if (IS("max_namespaces")) {
        bad = parse_u32(value, 10, &o->max_namespaces);
    } else if (IS("tend_interval")) {
        bad = parse_double(value, &o->tend_interval);
    } else if (IS("takeover_timeout")) {
        bad = parse_double(value, &o->takeover_timeout);
    } else if (IS("connect_timeout")) {
        bad = parse_double(value, &o->connect_timeout);
    } else if (IS("min_refresh_interval")) {
        bad = parse_double(value, &o->min_refresh_interval);
    } else if (IS("mode")) {
        bad = parse_u32(value, 8, &o->mode);
    } else if (IS("cluster_name")) {
        if (strlen(value) >= sizeof o->cluster_name) {
            /* Too long to copy: truncating would hide the error the library
             * should report, so the worker refuses instead. */
            answer_worker_error("cluster_name longer than %zu bytes", sizeof o->cluster_name - 1);
            return -1;
        }
        strcpy(o->cluster_name, value);
    } else if (IS("tls_ca_file") || IS("tls_ca_dir") || IS("tls_cert_file") ||
               IS("tls_key_file") || IS("tls_server_name") || IS("user") ||
               IS("password")) {
        char *field = IS("tls_ca_file")     ? o->tls_ca_file
                      : IS("tls_ca_dir")    ? o->tls_ca_dir
                      : IS("tls_cert_file") ? o->tls_cert_file
                      : IS("tls_key_file")  ? o->tls_key_file
                      : IS("user")          ? o->user
                      : IS("password")      ? o->password
                                            : o->tls_server_name;
        size_t cap = IS("tls_server_name") ? sizeof o->tls_server_name
                     : IS("user")          ? sizeof o->user
                     : IS("password")      ? sizeof o->password
                                           : sizeof o->tls_ca_file;
        if (strlen(value) >= cap) {
            answer_worker_error("%.*s longer than %zu bytes", (int)name_len, arg, cap - 1);
            return -1;
        }
        strcpy(field, value);
    } else if (IS("tls_insecure_skip_verify")) {
        bad = parse_int(value, &o->tls_insecure_skip_verify);
    } else if (IS("use_alternate_access_address")) {
        bad = parse_int(value, &o->use_alternate_access_address);
    } else if (IS("rack_id")) {
        int rack = 0;
        bad = parse_int(value, &rack);
        o->rack_id = rack;
    } else {
        answer_worker_error("unknown option '%.*s'", (int)name_len, arg);
        return -1;
    }
#undef IS
    if (bad) {
        answer_worker_error("option '%s': value not understood by the worker", arg);
        return -1;
    }
    return 0;
}

/* ---- commands ---------------------------------------------------------- */

static int need_client(void)
{
    if (client != NULL)
        return 0;
    answer_worker_error("not connected");
    return -1;
}

static void cmd_connect(int argc, char **argv)
{
    if (argc < 2) {
        answer_worker_error("usage: connect <url> [name=value ...]");
        return;
    }
    if (client != NULL) {
        answer_worker_error("already connected; send close first");
        return;
    }
    cshm_options options;
    cshm_options_init(&options);
    for (int i = 2; i < argc; i++)
        if (apply_option(&options, argv[i]) != 0)
            return;
    /* The URL token "-" stands for the empty URL, which a line cannot carry. */
    const char *url = strcmp(argv[1], "-") == 0 ? "" : argv[1];
    cshm_error error = {0};
    if (cshm_connect(url, &options, &client, &error) != 0) {
        client = NULL;
        answer_error(&error);
        return;
    }
    snprintf(last_url, sizeof last_url, "%s", url);
    last_options = options;
    answer_ok();
}

/* Routes one key; "-" stands for the empty key. */
static int route_hex(const char *hex, int replica, cshm_route_result *result, cshm_error *error)
{
    size_t len = strcmp(hex, "-") == 0 ? 0 : strlen(hex);
    unsigned char *buf = malloc(len / 2 + 1);
    if (buf == NULL) {
        error->code = CSHM_ERR_SYSTEM;
        snprintf(error->message, sizeof error->message, "worker: out of memory");
        return -1;
    }
    long n = hex_decode(hex, len, buf);
    if (n < 0) {
        free(buf);
        error->code = 0;
        snprintf(error->message, sizeof error->message, "key '%.200s' is not hex", hex);
        return -1;
    }
    cshm_key key = {.type = CSHM_KEY_BYTES, .data = buf, .len = (size_t)n};
    int rc = cshm_route(client, &key, NULL, NULL, replica, result, error);
    free(buf);
    return rc;
}

static void cmd_route(int argc, char **argv)
{
    int replica = 0;
    if (argc < 2 || argc > 3 || (argc == 3 && parse_int(argv[2], &replica) != 0)) {
        answer_worker_error("usage: route <hex-key> [replica]");
        return;
    }
    if (need_client() != 0)
        return;
    cshm_route_result r;
    cshm_error error = {0};
    if (route_hex(argv[1], replica, &r, &error) != 0) {
        if (error.code == 0)
            answer_worker_error("%s", error.message);
        else
            answer_error(&error);
        return;
    }
    fputs("{\"ok\":true,\"host\":", stdout);
    json_string(stdout, r.host);
    fprintf(stdout, ",\"port\":%u,\"partition\":%" PRIu32 ",\"node_index\":%d", (unsigned)r.port,
            r.partition, r.node_index);
    answer_end();
}

static void cmd_partition(int argc, char **argv)
{
    if (argc != 2) {
        answer_worker_error("usage: partition <hex-key>");
        return;
    }
    if (need_client() != 0)
        return;
    size_t len = strcmp(argv[1], "-") == 0 ? 0 : strlen(argv[1]);
    unsigned char *buf = malloc(len / 2 + 1);
    long n = buf != NULL ? hex_decode(argv[1], len, buf) : -1;
    if (n < 0) {
        free(buf);
        answer_worker_error("key is not hex");
        return;
    }
    cshm_key key = {.type = CSHM_KEY_BYTES, .data = buf, .len = (size_t)n};
    uint32_t partition;
    cshm_error error = {0};
    int rc = cshm_partition(client, &key, NULL, &partition, &error);
    free(buf);
    if (rc != 0) {
        answer_error(&error);
        return;
    }
    fprintf(stdout, "{\"ok\":true,\"partition\":%" PRIu32, partition);
    answer_end();
}

/* Routes every line of in (a hex key per line; an empty line is the empty
 * key) and writes "host:port slot" per key to out.  Returns the key count,
 * or -1 after writing a one-line diagnostic into why. */
typedef struct typed_key {
    cshm_key key;
    unsigned char *buf;        /* decoded bytes, owned */
} typed_key;

/* Parses "<type> <key>" into k.  Returns 0, or -1 with a message in why. */
static int typed_key_parse(const char *type, const char *text, typed_key *k, char *why,
                           size_t why_size)
{
    memset(k, 0, sizeof *k);
    if (strcmp(type, "integer") == 0) {
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno != 0 || end == text || *end != '\0') {
            snprintf(why, why_size, "integer key '%.100s' is not a decimal int64", text);
            return -1;
        }
        k->key.type = CSHM_KEY_INTEGER;
        k->key.integer = (int64_t)v;
        return 0;
    }
    if (strcmp(type, "string") != 0 && strcmp(type, "bytes") != 0) {
        snprintf(why, why_size, "key type '%.40s' is not string, bytes or integer", type);
        return -1;
    }
    size_t len = strcmp(text, "-") == 0 ? 0 : strlen(text);
    k->buf = malloc(len / 2 + 1);
    long n = k->buf != NULL ? hex_decode(text, len, k->buf) : -1;
    if (n < 0) {
        free(k->buf);
        k->buf = NULL;
        snprintf(why, why_size, "key '%.100s' is not hex", text);
        return -1;
    }
    k->key.type = strcmp(type, "string") == 0 ? CSHM_KEY_STRING : CSHM_KEY_BYTES;
    k->key.data = k->buf;
    k->key.len = (size_t)n;
    return 0;
}

static const char *set_arg(const char *text)
{
    return strcmp(text, "-") == 0 ? NULL : text;
}

/* What a file of keys is routed as: Redis keys (type NULL: hex bytes, no
 * namespace) or typed Aerospike keys in a namespace and set. */
typedef struct route_spec {
    const char *ns;
    const char *set;
    const char *type;
    int replica;
    int prefer_rack; /* cshm_route_prefer_rack with rack (-1: the rack_id option) */
    int rack;
} route_spec;

/* An Aerospike replica argument: a number, "rack" (prefer_rack with the
 * rack_id option) or "rack:N" (prefer_rack on rack N, passed unchecked so
 * the library's validation is what the tests see).  0 or -1. */
static int parse_replica(const char *text, route_spec *spec)
{
    if (strcmp(text, "rack") == 0) {
        spec->prefer_rack = 1;
        spec->rack = -1;
        return 0;
    }
    if (strncmp(text, "rack:", 5) == 0) {
        spec->prefer_rack = 1;
        return parse_int(text + 5, &spec->rack);
    }
    return parse_int(text, &spec->replica);
}

/* Routes one typed Aerospike key as spec says. */
static int route_typed(const route_spec *spec, const cshm_key *key, cshm_route_result *r,
                       cshm_error *error)
{
    if (spec->prefer_rack)
        return cshm_route_prefer_rack(client, key, spec->ns, set_arg(spec->set),
                                      (int32_t)spec->rack, r, error);
    return cshm_route(client, key, spec->ns, set_arg(spec->set), spec->replica, r, error);
}

/* Routes one key of a file.  Returns 0, or -1 with why filled and *lib_code
 * set to the library's error code (0: the line itself was bad). */
static int route_line(const route_spec *spec, const char *line, cshm_route_result *r, char *why,
                      size_t why_size, int *lib_code)
{
    cshm_error error = {0};
    int rc;
    if (spec->type == NULL) {
        rc = route_hex(line, spec->replica, r, &error);
    } else {
        typed_key k;
        if (typed_key_parse(spec->type, line, &k, why, why_size) != 0) {
            *lib_code = 0;
            return -1;
        }
        rc = route_typed(spec, &k.key, r, &error);
        free(k.buf);
    }
    if (rc != 0) {
        *lib_code = error.code;
        snprintf(why, why_size, "%s", error.message);
    }
    return rc != 0 ? -1 : 0;
}

/* Routes every key of in_path (one per line) into out_path as
 * "host:port partition" lines.  Returns the count, or -1 with why set. */
static long route_file(const route_spec *spec, const char *in_path, const char *out_path,
                       char *why, size_t why_size, int *lib_code)
{
    *lib_code = 0;
    FILE *in = fopen(in_path, "r");
    if (in == NULL) {
        snprintf(why, why_size, "cannot open %s: %s", in_path, strerror(errno));
        return -1;
    }
    FILE *out = fopen(out_path, "w");
    if (out == NULL) {
        snprintf(why, why_size, "cannot create %s: %s", out_path, strerror(errno));
        fclose(in);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long count = 0;
    while ((got = getline(&line, &cap, in)) >= 0) {
        if (got > 0 && line[got - 1] == '\n')
            line[--got] = '\0';
        cshm_route_result r;
        char inner[512];
        if (route_line(spec, got == 0 ? "-" : line, &r, inner, sizeof inner, lib_code) != 0) {
            snprintf(why, why_size, "line %ld: %s", count + 1, inner);
            count = -1;
            break;
        }
        fprintf(out, "%s:%u %" PRIu32 "\n", r.host, (unsigned)r.port, r.partition);
        count++;
    }
    free(line);
    fclose(in);
    if (fclose(out) != 0 && count >= 0) {
        snprintf(why, why_size, "cannot write %s: %s", out_path, strerror(errno));
        count = -1;
    }
    return count;
}

static void answer_route_file(long count, const char *why, int lib_code)
{
    if (count < 0) {
        if (lib_code != 0) {
            fprintf(stdout, "{\"ok\":false,\"code\":%d,\"error\":", lib_code);
            json_string(stdout, why);
            answer_end();
        } else {
            answer_worker_error("%s", why);
        }
        return;
    }
    fprintf(stdout, "{\"ok\":true,\"count\":%ld", count);
    answer_end();
}

static void cmd_routefile(int argc, char **argv)
{
    int replica = 0;
    if (argc < 3 || argc > 4 || (argc == 4 && parse_int(argv[3], &replica) != 0)) {
        answer_worker_error("usage: routefile <in-path> <out-path> [replica]");
        return;
    }
    if (need_client() != 0)
        return;
    char why[600];
    int lib_code;
    route_spec spec = {.replica = replica};
    long count = route_file(&spec, argv[1], argv[2], why, sizeof why, &lib_code);
    answer_route_file(count, why, lib_code);
}

static void cmd_status(void)
{
    if (need_client() != 0)
        return;
    cshm_status_info s;
    cshm_error error = {0};
    if (cshm_status(client, &s, &error) != 0) {
        answer_error(&error);
        return;
    }
    fputs("{\"ok\":true,\"role\":", stdout);
    json_string(stdout, s.role);
    fprintf(stdout,
            ",\"pid\":%ld,\"owner_pid\":%ld,\"epoch\":%" PRIu64 ",\"generation\":%" PRIu64
            ",\"tended_at\":%.6f,\"age\":%.6f,\"stale\":%s,\"key\":%" PRIu32
            ",\"shmid\":%d,\"segment_size\":%" PRIu64 ",\"nodes\":%" PRIu32
            ",\"namespaces\":%" PRIu32 ",\"attached\":%" PRIu32 ",\"nodes_seen\":%" PRIu32
            ",\"namespaces_seen\":%" PRIu32
            ",\"nodes_truncated\":%s,\"namespaces_truncated\":%s,\"replicas_truncated\":%s"
            ",\"tends\":%" PRIu64 ",\"tend_failures\":%" PRIu64 ",\"handoffs\":%" PRIu64
            ",\"dead_takeovers\":%" PRIu64 ",\"hung_takeovers\":%" PRIu64
            ",\"step_downs\":%" PRIu64 ",\"failures_in_row\":%" PRIu32
            ",\"tend_interval\":%g,\"takeover_timeout\":%g,\"min_refresh_interval\":%g"
            ",\"driver\":",
            (long)s.pid, (long)s.owner_pid, s.epoch, s.generation, s.tended_at, s.age,
            s.stale ? "true" : "false", s.key, s.shmid, s.segment_size, s.nodes, s.namespaces,
            s.attached, s.nodes_seen, s.namespaces_seen, s.nodes_truncated ? "true" : "false",
            s.namespaces_truncated ? "true" : "false", s.replicas_truncated ? "true" : "false",
            s.tends, s.tend_failures, s.handoffs, s.dead_takeovers, s.hung_takeovers,
            s.step_downs, s.failures_in_row, s.tend_interval, s.takeover_timeout,
            s.min_refresh_interval);
    json_string(stdout, s.driver);
    fputs(",\"last_error\":", stdout);
    json_string(stdout, s.last_error);
    fputs(",\"step_down_history\":[", stdout);
    for (uint32_t i = 0; i < s.step_down_count && i < CSHM_STEP_DOWN_HISTORY_MAX; i++) {
        const cshm_step_down_info *d = &s.step_down_history[i];
        fprintf(stdout, "%s{\"pid\":%ld,\"epoch\":%" PRIu32 ",\"at\":%.3f,\"failures\":%" PRIu32
                ",\"reason\":", i ? "," : "", (long)d->pid, d->epoch, d->at, d->failures);
        json_string(stdout, d->reason);
        fputs("}", stdout);
    }
    fputs("],\"identity\":", stdout);
    json_string(stdout, s.identity);
    fprintf(stdout, ",\"max_nodes\":%" PRIu32 ",\"max_namespaces\":%" PRIu32
            ",\"has_tender\":%s,\"has_map\":%s", s.max_nodes, s.max_namespaces,
            s.has_tender ? "true" : "false", s.has_map ? "true" : "false");
    fprintf(stdout, ",\"chain_generation\":%" PRIu32 ",\"chain_base\":%" PRIu32,
            s.chain_generation, s.chain_base);
    if (s.forwarded_to != 0)
        fprintf(stdout, ",\"forwarded_to\":%" PRIu32, s.forwarded_to);
    else
        fputs(",\"forwarded_to\":null", stdout);
    answer_end();
}

static void cmd_nodes(void)
{
    if (need_client() != 0)
        return;
    /* The snapshot may grow between two calls: retry with the size it
     * reported until everything fits. */
    size_t capacity = 16, count = 0;
    cshm_node_info *nodes = NULL;
    for (;;) {
        cshm_node_info *grown = realloc(nodes, capacity * sizeof *nodes);
        if (grown == NULL) {
            free(nodes);
            answer_worker_error("out of memory");
            return;
        }
        nodes = grown;
        cshm_error error = {0};
        if (cshm_nodes(client, nodes, capacity, &count, &error) != 0) {
            free(nodes);
            answer_error(&error);
            return;
        }
        if (count <= capacity)
            break;
        capacity = count;
    }
    fputs("{\"ok\":true,\"nodes\":[", stdout);
    for (size_t i = 0; i < count; i++) {
        const cshm_node_info *n = &nodes[i];
        fputs(i == 0 ? "{\"name\":" : ",{\"name\":", stdout);
        json_string(stdout, n->name);
        fputs(",\"host\":", stdout);
        json_string(stdout, n->host);
        fprintf(stdout,
                ",\"port\":%u,\"active\":%s,\"is_master\":%s,\"partitions\":%" PRIu32
                ",\"replica_partitions\":%" PRIu32 "}",
                (unsigned)n->port, n->active ? "true" : "false", n->is_master ? "true" : "false",
                n->partitions, n->replica_partitions);
    }
    fputs("]", stdout);
    free(nodes);
    answer_end();
}

static void cmd_refresh(void)
{
    if (need_client() != 0)
        return;
    cshm_error error = {0};
    if (cshm_request_refresh(client, &error) != 0) {
        answer_error(&error);
        return;
    }
    answer_ok();
}

/* refreshwait <timeout>: cshm_refresh_wait; answers whether a newer map came. */
static void cmd_refreshwait(int argc, char **argv)
{
    double timeout;
    if (argc != 2 || parse_double(argv[1], &timeout) != 0) {
        answer_worker_error("usage: refreshwait <timeout-seconds>");
        return;
    }
    if (need_client() != 0)
        return;
    int newer = 0;
    cshm_error error = {0};
    if (cshm_refresh_wait(client, timeout, &newer, &error) != 0) {
        answer_error(&error);
        return;
    }
    fprintf(stdout, "{\"ok\":true,\"newer\":%s", newer ? "true" : "false");
    answer_end();
}

/* refreshloop <seconds>: request_refresh in a tight loop, as a worker that
 * asks after every reply might; answers how many requests it made. */
static void cmd_refreshloop(int argc, char **argv)
{
    double seconds;
    if (argc != 2 || parse_double(argv[1], &seconds) != 0) {
        answer_worker_error("usage: refreshloop <seconds>");
        return;
    }
    if (need_client() != 0)
        return;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long requests = 0;
    do {
        cshm_error error = {0};
        if (cshm_request_refresh(client, &error) != 0) {
            answer_error(&error);
            return;
        }
        requests++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9 <
             seconds);
    fprintf(stdout, "{\"ok\":true,\"requests\":%ld", requests);
    answer_end();
}

/* Appends to out the SysV segments this process has mapped, from
 * /proc/self/maps ("/SYSV<key>" mappings, whose inode is the shmid), as
 * " <shmid>:<key>" each; "-" when there are none. */
static void sysv_mappings(FILE *out)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    int found = 0;
    char line[512];
    while (maps != NULL && fgets(line, sizeof line, maps) != NULL) {
        unsigned long inode;
        char path[256];
        if (sscanf(line, "%*s %*s %*s %*s %lu %255s", &inode, path) == 2 &&
            strncmp(path, "/SYSV", 5) == 0) {
            fprintf(out, " %lu:%s", inode, path + 5);
            found = 1;
        }
    }
    if (maps != NULL)
        fclose(maps);
    if (!found)
        fputs(" -", out);
}

/* The child of fork: route, report its role, close, leave without touching
 * the parent's stdio buffers (_exit).  With report_maps, the STATUS line is
 * followed by "SEGMENT <key> <shmid> <chain_generation> <forwarded_to>" (of
 * the segment status() read) and, after close, "LEFT" and the SysV mappings
 * the child still has (sysv_mappings). */
static void fork_child(const route_spec *spec, const char *in_path, const char *out_path,
                       int report_maps)
{
    char why[600];
    int lib_code;
    long count = route_file(spec, in_path, out_path, why, sizeof why, &lib_code);
    FILE *out = fopen(out_path, "a");
    if (out == NULL)
        _exit(3);
    int code = 0;
    if (count < 0) {
        fprintf(out, "ERROR %s\n", why);
        code = 1;
    } else {
        cshm_status_info s;
        cshm_error error = {0};
        if (cshm_status(client, &s, &error) != 0) {
            fprintf(out, "ERROR status: %s\n", error.message);
            code = 2;
        } else {
            fprintf(out, "STATUS %s %ld\n", s.role, (long)s.pid);
            if (report_maps)
                fprintf(out, "SEGMENT %u %d %u %u\n", (unsigned)s.key, s.shmid,
                        (unsigned)s.chain_generation, (unsigned)s.forwarded_to);
        }
    }
    cshm_close(client);
    if (report_maps) {
        fputs("LEFT", out);
        sysv_mappings(out);
        fputc('\n', out);
    }
    fclose(out);
    _exit(code);
}

/* fork(); the child runs fork_child, the parent waits and answers with the
 * child's exit: its code, or -signal when a signal ended it. */
static void fork_and_wait(const route_spec *spec, const char *in_path, const char *out_path,
                          int report_maps)
{
    if (need_client() != 0)
        return;
    fflush(stdout);
    fflush(stderr);
    pid_t child = fork();
    if (child < 0) {
        answer_worker_error("fork: %s", strerror(errno));
        return;
    }
    if (child == 0)
        fork_child(spec, in_path, out_path, report_maps);
    int status;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) {
            answer_worker_error("waitpid: %s", strerror(errno));
            return;
        }
    }
    int child_exit = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    fprintf(stdout, "{\"ok\":true,\"child_exit\":%d,\"child_pid\":%ld", child_exit, (long)child);
    answer_end();
}

static void cmd_fork(int argc, char **argv)
{
    if (argc != 3) {
        answer_worker_error("usage: fork <in-path> <out-path>");
        return;
    }
    route_spec spec = {.replica = 0};
    fork_and_wait(&spec, argv[1], argv[2], strcmp(argv[0], "forkmaps") == 0);
}

/* ---- Reliability commands ----------------------------------------------
 *
 *   verify                    cshm_verify_snapshot once: {"ok":true} or the error
 *   verifyloop <seconds> [yield]
 *       calls cshm_verify_snapshot and routes random 8-byte keys nonstop (a
 *       refresh request every 64 rounds) and answers
 *       {"ok":true,"reads":N,"verifies":V,"routes":R,"refreshes":F,
 *        "invalid":I,"errors":{"<code>":count,...},"first_error":"...",
 *        "yields":Y}
 *       where invalid counts CSHM_ERR_SEGMENT answers (a snapshot that is
 *       not whole or not sound) and errors every failed call by code.  With
 *       yield, a reader that finds itself tender (every connected process
 *       is a candidate) closes and connects again with its last connect's
 *       URL and options: a clean handoff, so the role goes back to the
 *       processes a test means to kill, and readers are never killed.
 *   exec
 *       execve()s this worker's own binary (/proc/self/exe) with the same
 *       stdin, stdout and stderr, without closing the client first: the
 *       kernel ends its threads (releasing a tender's robust locks) and
 *       detaches the segment; descriptors the core opened must not survive
 *       (CLOEXEC).  The new image answers this command with
 *       {"ok":true,"execed":true,"pid":P} and starts unconnected.  Lines
 *       sent after exec but before its answer would be lost with the old
 *       image's stdin buffer: tests wait for the answer. */

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cmd_verify(void)
{
    if (need_client() != 0)
        return;
    cshm_error error = {0};
    if (cshm_verify_snapshot(client, &error) != 0) {
        answer_error(&error);
        return;
    }
    answer_ok();
}

/* Error codes are -1..-6: counted by -code. */
#define ERROR_CODES 8

typedef struct verify_counts {
    long reads, verifies, routes, refreshes, invalid, yields;
    long errors[ERROR_CODES];
    long other_errors;
    char first_error[600];
} verify_counts;

static void count_error(verify_counts *v, const cshm_error *error)
{
    if (error->code == CSHM_ERR_SEGMENT)
        v->invalid++;
    if (error->code < 0 && -error->code < ERROR_CODES)
        v->errors[-error->code]++;
    else
        v->other_errors++;
    if (v->first_error[0] == '\0')
        snprintf(v->first_error, sizeof v->first_error, "%d: %s", error->code, error->message);
}

/* A reader that became tender hands the role over: close, connect again. */
static int yield_role(verify_counts *v)
{
    cshm_status_info s;
    cshm_error error = {0};
    if (cshm_status(client, &s, &error) != 0) {
        count_error(v, &error);
        return 0;
    }
    if (strcmp(s.role, "tender") != 0)
        return 0;
    cshm_close(client);
    client = NULL;
    v->yields++;
    if (cshm_connect(last_url, &last_options, &client, &error) != 0) {
        client = NULL;
        count_error(v, &error);
        return -1;
    }
    return 0;
}

static void cmd_verifyloop(int argc, char **argv)
{
    double seconds;
    int yield = argc == 3 && strcmp(argv[2], "yield") == 0;
    if (argc < 2 || argc > 3 || parse_double(argv[1], &seconds) != 0 || (argc == 3 && !yield)) {
        answer_worker_error("usage: verifyloop <seconds> [yield]");
        return;
    }
    if (need_client() != 0)
        return;
    if (yield && last_url[0] == '\0') {
        answer_worker_error("verifyloop yield: no connect to repeat");
        return;
    }
    verify_counts v;
    memset(&v, 0, sizeof v);
    uint64_t x = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull + 1;
    double end = mono_seconds() + seconds;
    for (long round = 0; client != NULL && mono_seconds() < end; round++) {
        cshm_error error = {0};
        if (cshm_verify_snapshot(client, &error) == 0)
            v.reads++;
        else
            count_error(&v, &error);
        v.verifies++;
        for (int i = 0; i < 16; i++) {
            /* xorshift64: random keys, so every part of the map is read. */
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            unsigned char key_bytes[8];
            memcpy(key_bytes, &x, sizeof key_bytes);
            cshm_key key = {.type = CSHM_KEY_BYTES, .data = key_bytes, .len = sizeof key_bytes};
            cshm_route_result r;
            cshm_error route_error = {0};
            if (cshm_route(client, &key, NULL, NULL, 0, &r, &route_error) == 0 &&
                r.host[0] != '\0' && r.port != 0)
                v.reads++;
            else if (route_error.code != 0)
                count_error(&v, &route_error);
            v.routes++;
        }
        if (round % 64 == 63) {
            cshm_error refresh_error = {0};
            if (cshm_request_refresh(client, &refresh_error) == 0)
                v.refreshes++;
            else
                count_error(&v, &refresh_error);
        }
        if (yield && yield_role(&v) != 0)
            break;
    }
    fprintf(stdout,
            "{\"ok\":true,\"reads\":%ld,\"verifies\":%ld,\"routes\":%ld,\"refreshes\":%ld,"
            "\"invalid\":%ld,\"yields\":%ld,\"connected\":%s,\"errors\":{",
            v.reads, v.verifies, v.routes, v.refreshes, v.invalid, v.yields,
            client != NULL ? "true" : "false");
    int first = 1;
    for (int code = 1; code < ERROR_CODES; code++) {
        if (v.errors[code] == 0)
            continue;
        fprintf(stdout, "%s\"%d\":%ld", first ? "" : ",", -code, v.errors[code]);
        first = 0;
    }
    if (v.other_errors)
        fprintf(stdout, "%s\"other\":%ld", first ? "" : ",", v.other_errors);
    fputs("},\"first_error\":", stdout);
    json_string(stdout, v.first_error);
    answer_end();
}

static void cmd_exec(void)
{
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "%ld", (long)getpid());
    if (setenv("CSHM_WORKER_EXECED", pid_text, 1) != 0) {
        answer_worker_error("setenv: %s", strerror(errno));
        return;
    }
    fflush(stdout);
    fflush(stderr);
    extern char **environ;
    char *const args[] = {"cshm-worker", NULL};
    execve("/proc/self/exe", args, environ);
    int saved = errno;
    unsetenv("CSHM_WORKER_EXECED");
    answer_worker_error("execve: %s", strerror(saved));
}

/* ---- Aerospike typed keys ----------------------------------------------
 *
 *   aroute <ns> <set> <type> <key> [replica]
 *   apartition <set> <type> <key>
 *   aroutefile <ns> <set> <type> <in> <out> [replica]
 *   afork <ns> <set> <type> <in> <out>
 *
 * <set> "-" is no set.  <type> is string, bytes (hex key; "-" is the empty
 * key) or integer (decimal key).  aroutefile reads one key per line in the
 * same spelling and writes "host:port partition" per key. */

static void cmd_aroute(int argc, char **argv)
{
    route_spec spec = {.ns = argv[1], .set = argc > 2 ? argv[2] : NULL};
    if (argc < 5 || argc > 6 || (argc == 6 && parse_replica(argv[5], &spec) != 0)) {
        answer_worker_error("usage: aroute <ns> <set> <type> <key> [replica]");
        return;
    }
    if (need_client() != 0)
        return;
    typed_key k;
    char why[256];
    if (typed_key_parse(argv[3], argv[4], &k, why, sizeof why) != 0) {
        answer_worker_error("%s", why);
        return;
    }
    cshm_route_result r;
    cshm_error error = {0};
    int rc = route_typed(&spec, &k.key, &r, &error);
    free(k.buf);
    if (rc != 0) {
        answer_error(&error);
        return;
    }
    fputs("{\"ok\":true,\"host\":", stdout);
    json_string(stdout, r.host);
    fprintf(stdout, ",\"port\":%u,\"partition\":%" PRIu32 ",\"node_index\":%d", (unsigned)r.port,
            r.partition, r.node_index);
    answer_end();
}

static void cmd_apartition(int argc, char **argv)
{
    if (argc != 4) {
        answer_worker_error("usage: apartition <set> <type> <key>");
        return;
    }
    if (need_client() != 0)
        return;
    typed_key k;
    char why[256];
    if (typed_key_parse(argv[2], argv[3], &k, why, sizeof why) != 0) {
        answer_worker_error("%s", why);
        return;
    }
    uint32_t partition;
    cshm_error error = {0};
    int rc = cshm_partition(client, &k.key, set_arg(argv[1]), &partition, &error);
    free(k.buf);
    if (rc != 0) {
        answer_error(&error);
        return;
    }
    fprintf(stdout, "{\"ok\":true,\"partition\":%" PRIu32, partition);
    answer_end();
}

static void cmd_aroutefile(int argc, char **argv)
{
    route_spec spec = {.ns = argv[1], .set = argc > 2 ? argv[2] : NULL,
                       .type = argc > 3 ? argv[3] : NULL};
    if (argc < 6 || argc > 7 || (argc == 7 && parse_replica(argv[6], &spec) != 0)) {
        answer_worker_error("usage: aroutefile <ns> <set> <type> <in> <out> [replica]");
        return;
    }
    if (need_client() != 0)
        return;
    char why[600];
    int lib_code;
    long count = route_file(&spec, argv[4], argv[5], why, sizeof why, &lib_code);
    answer_route_file(count, why, lib_code);
}

/* afork <ns> <set> <type> <in> <out>: fork, whose child routes the typed
 * keys like aroutefile, appends "STATUS <role> <pid>", closes its client and
 * _exit()s; the parent waits and answers like fork. */
static void cmd_afork(int argc, char **argv)
{
    if (argc != 6) {
        answer_worker_error("usage: afork <ns> <set> <type> <in> <out>");
        return;
    }
    route_spec spec = {.ns = argv[1], .set = argv[2], .type = argv[3], .replica = 0};
    fork_and_wait(&spec, argv[4], argv[5], 0);
}

/* ---- Canaries ------------------------------------------------------------
 *
 *   sandwich <below-shmid> <above-shmid> <segment-bytes>     before connect
 *
 * For tests that check that the library writes nothing outside its own
 * segment: two foreign SysV segments ("canaries", which this worker never
 * touches) are attached read-write with a hole of exactly the clustershm
 * segment's size between them, and every gap of the address space above
 * them that could take the segment is filled with an inaccessible
 * reservation.  The kernel puts a mapping made without an address (the
 * library's shmat) in the highest gap that fits, so the segment attached by
 * the next connect lands in the hole, directly against both canaries: a
 * write just past either end of it lands in a canary instead of a guard gap
 * or another mapping.  The test checks where it landed in /proc/PID/maps.
 * Answers the hole's range. */

#define SANDWICH_FILLERS 64

static unsigned long page_round(unsigned long n)
{
    unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
    return (n + page - 1) & ~(page - 1);
}

static int segment_bytes(uint32_t shmid, unsigned long *size)
{
    struct shmid_ds ds;
    if (shmctl((int)shmid, IPC_STAT, &ds) != 0)
        return -1;
    *size = page_round((unsigned long)ds.shm_segsz);
    return 0;
}

static void *reserve(void *at, unsigned long size)
{
    return mmap(at, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
}

static void cmd_sandwich(int argc, char **argv)
{
    uint32_t below_id, above_id, bytes;
    unsigned long below, above;
    if (argc != 4 || parse_u32(argv[1], 10, &below_id) != 0 ||
        parse_u32(argv[2], 10, &above_id) != 0 || parse_u32(argv[3], 10, &bytes) != 0) {
        answer_worker_error("usage: sandwich <below-shmid> <above-shmid> <segment-bytes>");
        return;
    }
    if (client != NULL) {
        answer_worker_error("sandwich: before connect only");
        return;
    }
    if (segment_bytes(below_id, &below) != 0 || segment_bytes(above_id, &above) != 0) {
        answer_worker_error("sandwich: shmctl: %s", strerror(errno));
        return;
    }
    unsigned long hole = page_round(bytes);
    unsigned char *base = reserve(NULL, below + hole + above);
    if (base == MAP_FAILED) {
        answer_worker_error("sandwich: mmap: %s", strerror(errno));
        return;
    }
    /* Fill the gaps above base that could take the segment (kept for the
     * life of the process: inaccessible, and not SysV mappings). */
    int fillers = 0;
    for (;;) {
        unsigned char *probe = reserve(NULL, hole);
        if (probe == MAP_FAILED) {
            answer_worker_error("sandwich: mmap: %s", strerror(errno));
            return;
        }
        if (probe < base) {
            munmap(probe, hole);
            break;
        }
        if (++fillers > SANDWICH_FILLERS) {
            answer_worker_error("sandwich: more than %d gaps above the hole",
                                SANDWICH_FILLERS);
            return;
        }
    }
    /* The canaries replace the two ends of our own reservation. */
    if (shmat((int)below_id, base, SHM_REMAP) != (void *)base ||
        shmat((int)above_id, base + below + hole, SHM_REMAP) != (void *)(base + below + hole)) {
        answer_worker_error("sandwich: shmat: %s", strerror(errno));
        return;
    }
    munmap(base + below, hole);
    fprintf(stdout, "{\"ok\":true,\"hole_start\":%lu,\"hole_end\":%lu,\"fillers\":%d",
            (unsigned long)(base + below), (unsigned long)(base + below + hole), fillers);
    answer_end();
}

/* Library log lines go to stderr (the tests keep them per worker) with the
 * pid, since several workers may share one file.  Debug lines only with
 * CSHM_WORKER_DEBUG=1: a tend every 0.2 s would drown the useful ones. */
static int log_min_level = 1;

static void log_to_stderr(int level, const char *message, void *user)
{
    (void)user;
    if (level < log_min_level)
        return;
    static const char *names[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "[%ld] %s: %s\n", (long)getpid(), level >= 0 && level <= 3 ? names[level] : "?",
            message);
}

/* Splits line in place on spaces and tabs. */
static int split(char *line, char **argv)
{
    int argc = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t != NULL && argc < MAX_ARGS;
         t = strtok_r(NULL, " \t\r\n", &save))
        argv[argc++] = t;
    return argc;
}

int main(void)
{
    const char *debug = getenv("CSHM_WORKER_DEBUG");
    if (debug != NULL && strcmp(debug, "1") == 0)
        log_min_level = 0;
    cshm_set_log_handler(log_to_stderr, NULL);
    const char *execed = getenv("CSHM_WORKER_EXECED");
    if (execed != NULL) {
        /* The answer to the exec command of the image we replaced. */
        unsetenv("CSHM_WORKER_EXECED");
        fprintf(stdout, "{\"ok\":true,\"execed\":true,\"pid\":%ld", (long)getpid());
        answer_end();
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) >= 0) {
        char *argv[MAX_ARGS];
        int argc = split(line, argv);
        if (argc == 0) {
            answer_worker_error("empty command");
            continue;
        }
        const char *c = argv[0];
        if (strcmp(c, "connect") == 0) {
            cmd_connect(argc, argv);
        } else if (strcmp(c, "route") == 0) {
            cmd_route(argc, argv);
        } else if (strcmp(c, "routefile") == 0) {
            cmd_routefile(argc, argv);
        } else if (strcmp(c, "partition") == 0) {
            cmd_partition(argc, argv);
        } else if (strcmp(c, "status") == 0) {
            cmd_status();
        } else if (strcmp(c, "nodes") == 0) {
            cmd_nodes();
        } else if (strcmp(c, "refresh") == 0) {
            cmd_refresh();
        } else if (strcmp(c, "refreshwait") == 0) {
            cmd_refreshwait(argc, argv);
        } else if (strcmp(c, "refreshloop") == 0) {
            cmd_refreshloop(argc, argv);
        } else if (strcmp(c, "fork") == 0 || strcmp(c, "forkmaps") == 0) {
            cmd_fork(argc, argv);
        } else if (strcmp(c, "aroute") == 0) {
            cmd_aroute(argc, argv);
        } else if (strcmp(c, "apartition") == 0) {
            cmd_apartition(argc, argv);
        } else if (strcmp(c, "aroutefile") == 0) {
            cmd_aroutefile(argc, argv);
        } else if (strcmp(c, "afork") == 0) {
            cmd_afork(argc, argv);
        } else if (strcmp(c, "verify") == 0) {
            cmd_verify();
        } else if (strcmp(c, "verifyloop") == 0) {
            cmd_verifyloop(argc, argv);
        } else if (strcmp(c, "exec") == 0) {
            cmd_exec();
        } else if (strcmp(c, "sandwich") == 0) {
            cmd_sandwich(argc, argv);
        } else if (strcmp(c, "pid") == 0) {
            fprintf(stdout, "{\"ok\":true,\"pid\":%ld", (long)getpid());
            answer_end();
        } else if (strcmp(c, "close") == 0) {
            cshm_close(client);
            client = NULL;
            answer_ok();
        } else if (strcmp(c, "exit") == 0) {
            cshm_close(client);
            client = NULL;
            answer_ok();
            break;
        } else {
            answer_worker_error("unknown command '%.100s'", c);
        }
    }
    free(line);
    cshm_close(client);
    return 0;
}
