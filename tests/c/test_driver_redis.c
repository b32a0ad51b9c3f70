/*
 * test_driver_redis.c - the Redis driver's tend loop against in-process fake
 * servers: CLUSTER SHARDS, the CLUSTER SLOTS fallback, AUTH, a persistent
 * connection, failing candidates, hanging and lying servers, aborts.
 *
 * The fake replies name only the fake servers themselves or ports where
 * nothing listens, so a real Redis running on this machine cannot interfere.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "driver.h"
#include "error.h"
#include "map.h"
#include "resp.h"
#include "resp_text.h"
#include "test.h"
#include "test_ports.h"

void suite_driver_redis(void);

/* ---- a fake Redis node ------------------------------------------------- */

typedef struct fake_server {
    int listen_fd;
    uint16_t port;
    pthread_t thread;
    int running;
    int stop;
    /* Behaviour; the reply pointers may be swapped between tends. */
    const char *shards;          /* NULL: "unknown subcommand" like Redis 6 */
    size_t shards_len;
    const char *slots;
    size_t slots_len;
    const char *user;            /* NULL: the default user */
    const char *password;        /* NULL: no authentication required */
    int hang;                    /* read requests, never answer */
    int close_after_reply;
    /* What it saw. */
    int connections, disconnections, shards_requests, slots_requests, auth_requests;
} fake_server;

static void bump(int *counter)
{
    __atomic_add_fetch(counter, 1, __ATOMIC_ACQ_REL);
}

static int seen(int *counter)
{
    return __atomic_load_n(counter, __ATOMIC_ACQUIRE);
}

static void send_text(int fd, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, text, len, MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return;
        }
        text += n;
        len -= (size_t)n;
    }
}

static int arg_is(const cshm_resp *command, size_t i, const char *text)
{
    return i < command->count && cshm_resp_is(&command->elements[i], text);
}

static int case_arg_is(const cshm_resp *command, size_t i, const char *text)
{
    return i < command->count && command->elements[i].type == CSHM_RESP_STRING &&
           strcasecmp(command->elements[i].str, text) == 0;
}

/* Answer one command; returns 0 to keep the connection. */
static int answer(fake_server *f, const cshm_resp *command, int fd, int *authenticated)
{
    static const char wrongpass[] =
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    if (__atomic_load_n(&f->hang, __ATOMIC_ACQUIRE))
        return 0;
    if (case_arg_is(command, 0, "AUTH")) {
        bump(&f->auth_requests);
        int ok;
        if (command->count == 2)
            ok = f->user == NULL && f->password != NULL && arg_is(command, 1, f->password);
        else
            ok = command->count == 3 && f->password != NULL &&
                 arg_is(command, 1, f->user != NULL ? f->user : "default") &&
                 arg_is(command, 2, f->password);
        if (ok)
            send_text(fd, "+OK\r\n", 5);
        else
            send_text(fd, wrongpass, sizeof wrongpass - 1);
        *authenticated = ok;
        return 0;
    }
    if (!*authenticated) {
        send_text(fd, "-NOAUTH Authentication required.\r\n", 34);
        return 0;
    }
    if (case_arg_is(command, 0, "CLUSTER") && case_arg_is(command, 1, "SHARDS")) {
        bump(&f->shards_requests);
        const char *reply = __atomic_load_n(&f->shards, __ATOMIC_ACQUIRE);
        if (reply != NULL)
            send_text(fd, reply, __atomic_load_n(&f->shards_len, __ATOMIC_ACQUIRE));
        else
            send_text(fd, "-ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP.\r\n", 53);
    } else if (case_arg_is(command, 0, "CLUSTER") && case_arg_is(command, 1, "SLOTS")) {
        bump(&f->slots_requests);
        send_text(fd, f->slots, f->slots_len);
    } else {
        send_text(fd, "-ERR unknown command\r\n", 22);
    }
    return f->close_after_reply ? -1 : 0;
}

static void serve_connection(fake_server *f, int fd)
{
    char buffer[4096];
    size_t len = 0;
    int authenticated = f->password == NULL;
    while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        ssize_t n = recv(fd, buffer + len, sizeof buffer - len, 0);
        if (n <= 0)
            return;
        len += (size_t)n;
        for (;;) {
            cshm_reply command;
            size_t used;
            char error[128];
            int rc = cshm_resp_parse(buffer, len, &command, &used, error, sizeof error);
            if (rc != 1) {
                if (rc < 0 || len == sizeof buffer)
                    return;
                break;
            }
            int keep = answer(f, command.root, fd, &authenticated);
            cshm_reply_free(&command);
            memmove(buffer, buffer + used, len - used);
            len -= used;
            if (keep != 0)
                return;
        }
    }
}

static void *serve(void *arg)
{
    fake_server *f = arg;
    while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd pfd = {.fd = f->listen_fd, .events = POLLIN, .revents = 0};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        int fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        bump(&f->connections);
        serve_connection(f, fd);
        close(fd);
        bump(&f->disconnections);
    }
    return NULL;
}

static int fake_start(fake_server *f)
{
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (f->listen_fd < 0 || bind(f->listen_fd, (struct sockaddr *)&address, length) != 0 ||
        listen(f->listen_fd, 16) != 0 ||
        getsockname(f->listen_fd, (struct sockaddr *)&address, &length) != 0)
        return -1;
    f->port = ntohs(address.sin_port);
    if (pthread_create(&f->thread, NULL, serve, f) != 0)
        return -1;
    f->running = 1;
    return 0;
}

static void fake_stop(fake_server *f)
{
    if (!f->running)
        return;
    __atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
    f->running = 0;
}

static void fake_set_shards(fake_server *f, const char *reply, size_t len)
{
    __atomic_store_n(&f->shards_len, len, __ATOMIC_RELEASE);
    __atomic_store_n(&f->shards, reply, __ATOMIC_RELEASE);
}

/* Wait (a little) for a counter the server thread bumps. */
static int eventually(int *counter, int expected)
{
    for (int i = 0; i < 200 && seen(counter) != expected; i++)
        usleep(5000);
    return seen(counter) == expected;
}

/* ---- replies naming given ports ------------------------------------------ */

static void node_id(char out[41], uint16_t port)
{
    snprintf(out, 41, "%040x", (unsigned)port);
}

/* CLUSTER SHARDS for masters on 127.0.0.1 at ports[], slots split evenly. */
static void shards_reply(resp_text *t, size_t count, const uint16_t *ports)
{
    t->len = 0;
    resp_text_add(t, "*%zu\r\n", count);
    for (size_t i = 0; i < count; i++) {
        char id[41];
        node_id(id, ports[i]);
        resp_text_add(t, "*4\r\n");
        resp_text_bulk(t, "slots");
        resp_text_add(t, "*2\r\n:%zu\r\n:%zu\r\n", i * 16384 / count, (i + 1) * 16384 / count - 1);
        resp_text_bulk(t, "nodes");
        resp_text_add(t, "*1\r\n*12\r\n");
        resp_text_bulk(t, "id");
        resp_text_bulk(t, id);
        resp_text_bulk(t, "port");
        resp_text_add(t, ":%u\r\n", (unsigned)ports[i]);
        resp_text_bulk(t, "ip");
        resp_text_bulk(t, "127.0.0.1");
        resp_text_bulk(t, "endpoint");
        resp_text_bulk(t, "127.0.0.1");
        resp_text_bulk(t, "role");
        resp_text_bulk(t, "master");
        resp_text_bulk(t, "health");
        resp_text_bulk(t, "online");
    }
}

/* The same cluster as CLUSTER SLOTS. */
static void slots_reply(resp_text *t, size_t count, const uint16_t *ports)
{
    t->len = 0;
    resp_text_add(t, "*%zu\r\n", count);
    for (size_t i = 0; i < count; i++) {
        char id[41];
        node_id(id, ports[i]);
        resp_text_add(t, "*3\r\n:%zu\r\n:%zu\r\n*4\r\n", i * 16384 / count, (i + 1) * 16384 / count - 1);
        resp_text_bulk(t, "127.0.0.1");
        resp_text_add(t, ":%u\r\n", (unsigned)ports[i]);
        resp_text_bulk(t, id);
        resp_text_add(t, "*0\r\n");
    }
}

/* ---- the driver under test ------------------------------------------------ */

typedef struct harness {
    cshm_config config;
    void *state;
    cshm_map map;
    cshm_tend_ctx ctx;
    int progress_calls;
    int abort_at_call;           /* 0: never abort */
} harness;

static int count_progress(void *arg)
{
    harness *h = arg;
    h->progress_calls++;
    return h->abort_at_call > 0 && h->progress_calls >= h->abort_at_call;
}

static int harness_open(harness *h, size_t seed_count, const uint16_t *ports, const char *user,
                        const char *password)
{
    memset(h, 0, sizeof *h);
    h->config.kind = CSHM_DRIVER_REDIS;
    h->config.driver = &cshm_driver_redis;
    cshm_options_init(&h->config.options);
    for (size_t i = 0; i < seed_count; i++) {
        snprintf(h->config.seeds[i].host, sizeof h->config.seeds[i].host, "127.0.0.1");
        h->config.seeds[i].port = ports[i];
    }
    h->config.seed_count = seed_count;
    if (user != NULL) {
        h->config.has_user = 1;
        snprintf(h->config.user, sizeof h->config.user, "%s", user);
    }
    if (password != NULL) {
        h->config.has_password = 1;
        snprintf(h->config.password, sizeof h->config.password, "%s", password);
    }
    cshm_map_shape shape;
    cshm_driver_redis.shape(&h->config, &shape);
    cshm_error error;
    if (cshm_map_init(&h->map, &shape) != 0 ||
        cshm_driver_redis.create(&h->config, &h->state, &error) != 0)
        return -1;
    h->ctx.op_timeout = 1.0;
    h->ctx.progress = count_progress;
    h->ctx.progress_arg = h;
    return 0;
}

static int harness_tend(harness *h)
{
    h->progress_calls = 0;
    return cshm_driver_redis.tend(h->state, &h->map, &h->ctx);
}

static void harness_close(harness *h)
{
    cshm_driver_redis.destroy(h->state);
    cshm_map_free(&h->map);
}

static unsigned owner_port(const cshm_map *map, uint32_t slot)
{
    uint16_t owner = cshm_map_owner(map, 0, slot, 0);
    return owner == CSHM_NO_NODE || owner >= map->counts->node_count ? 0 : map->nodes[owner].port;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_driver_shape(void)
{
    cshm_config config;
    memset(&config, 0, sizeof config);
    cshm_options_init(&config.options);
    config.options.max_nodes = 500;
    cshm_map_shape shape;
    cshm_driver_redis.shape(&config, &shape);
    CHECK(shape.partitions == 16384 && shape.max_nodes == 500 && shape.max_namespaces == 1 &&
          shape.columns == 4 && shape.has_regimes == 0);
    CHECK(strcmp(cshm_driver_redis.name, "redis") == 0 &&
          cshm_driver_redis.kind == CSHM_DRIVER_REDIS);
}

static void test_driver_tends_with_shards_on_one_connection(void)
{
    fake_server a = {0};
    CHECK(fake_start(&a) == 0);
    resp_text reply;
    uint16_t ports[2] = {a.port, test_closed_port()};
    shards_reply(&reply, 2, ports);
    fake_set_shards(&a, reply.bytes, reply.len);
    harness h;
    CHECK(harness_open(&h, 1, &a.port, NULL, NULL) == 0);
    h.map.counts->generation = 41;   /* the tender's, kept */
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    CHECK(h.ctx.error[0] == '\0');
    CHECK(h.map.counts->node_count == 2 && h.map.counts->generation == 41);
    CHECK(owner_port(&h.map, 0) == a.port && owner_port(&h.map, 16383) == ports[1]);
    CHECK(h.progress_calls >= 2);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    CHECK(seen(&a.connections) == 1 && seen(&a.shards_requests) == 3);
    CHECK(seen(&a.slots_requests) == 0 && seen(&a.auth_requests) == 0);
    harness_close(&h);
    CHECK(eventually(&a.disconnections, 1));
    fake_stop(&a);
}

static void test_driver_falls_back_to_slots(void)
{
    fake_server a = {0};
    CHECK(fake_start(&a) == 0);
    resp_text reply;
    slots_reply(&reply, 1, &a.port);
    a.slots = reply.bytes;
    a.slots_len = reply.len;
    harness h;
    CHECK(harness_open(&h, 1, &a.port, NULL, NULL) == 0);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    CHECK(h.map.counts->node_count == 1 && owner_port(&h.map, 777) == a.port);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    /* The connection remembers: SHARDS was asked once only. */
    CHECK(seen(&a.shards_requests) == 1 && seen(&a.slots_requests) == 2);
    harness_close(&h);
    fake_stop(&a);
}

static void test_driver_authentication(void)
{
    fake_server a = {.password = "s3cret"};
    CHECK(fake_start(&a) == 0);
    resp_text reply;
    shards_reply(&reply, 1, &a.port);
    fake_set_shards(&a, reply.bytes, reply.len);
    char expected[256];

    harness h;
    CHECK(harness_open(&h, 1, &a.port, NULL, NULL) == 0);
    CHECK(harness_tend(&h) == CSHM_TEND_UNREACHABLE);
    snprintf(expected, sizeof expected, "127.0.0.1:%u: the server requires a password (NOAUTH)",
             (unsigned)a.port);
    CHECK(strncmp(h.ctx.error, expected, strlen(expected)) == 0);
    harness_close(&h);

    CHECK(harness_open(&h, 1, &a.port, NULL, "hunter2") == 0);
    CHECK(harness_tend(&h) == CSHM_TEND_UNREACHABLE);
    CHECK(strstr(h.ctx.error, "authentication failed (WRONGPASS)") != NULL);
    CHECK(strstr(h.ctx.error, "hunter2") == NULL);
    harness_close(&h);

    CHECK(harness_open(&h, 1, &a.port, NULL, "s3cret") == 0);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    harness_close(&h);
    /* wrong + right once each: AUTH is per connection, not per tend. */
    CHECK(seen(&a.auth_requests) == 2);
    fake_stop(&a);

    fake_server acl = {.user = "alice", .password = "pw"};
    CHECK(fake_start(&acl) == 0);
    shards_reply(&reply, 1, &acl.port);
    fake_set_shards(&acl, reply.bytes, reply.len);
    CHECK(harness_open(&h, 1, &acl.port, "alice", "pw") == 0);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    harness_close(&h);
    CHECK(harness_open(&h, 1, &acl.port, "bob", "pw") == 0);
    CHECK(harness_tend(&h) == CSHM_TEND_UNREACHABLE);
    CHECK(strstr(h.ctx.error, "WRONGPASS") != NULL);
    harness_close(&h);
    fake_stop(&acl);
}

/* After a good tend, a bad answer must leave the map exactly as it was. */
static void check_bad_answer_keeps_map(const char *bad, size_t bad_len, const char *words)
{
    fake_server a = {0};
    CHECK(fake_start(&a) == 0);
    resp_text good;
    shards_reply(&good, 1, &a.port);
    fake_set_shards(&a, good.bytes, good.len);
    harness h;
    CHECK(harness_open(&h, 1, &a.port, NULL, NULL) == 0);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    unsigned char *before = malloc(h.map.payload_size);
    CHECK(before != NULL);
    if (before == NULL)
        return;
    memcpy(before, h.map.payload, h.map.payload_size);
    fake_set_shards(&a, bad, bad_len);
    CHECK(harness_tend(&h) == CSHM_TEND_UNREACHABLE);
    CHECK(memcmp(before, h.map.payload, h.map.payload_size) == 0);
    if (strstr(h.ctx.error, words) == NULL)
        fprintf(stderr, "    error '%s' lacks '%s'\n", h.ctx.error, words);
    CHECK(strstr(h.ctx.error, words) != NULL);
    /* The broken connection was dropped; the next good answer is used. */
    fake_set_shards(&a, good.bytes, good.len);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    CHECK(seen(&a.connections) == 2);
    free(before);
    harness_close(&h);
    fake_stop(&a);
}

static void test_driver_rejects_garbage_and_keeps_map(void)
{
    static const char http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    check_bad_answer_keeps_map(http, sizeof http - 1, "not a reply type");
    static const char out_of_range[] =
        "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16384\r\n$5\r\nnodes\r\n*0\r\n";
    check_bad_answer_keeps_map(out_of_range, sizeof out_of_range - 1, "slot 16384 out of range");
    static const char reversed[] =
        "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:9\r\n:3\r\n$5\r\nnodes\r\n*0\r\n";
    check_bad_answer_keeps_map(reversed, sizeof reversed - 1, "ends before it starts");
    static const char empty[] = "*0\r\n";
    check_bad_answer_keeps_map(empty, sizeof empty - 1, "no slot owner");
    static const char loading[] = "-LOADING Redis is loading the dataset in memory\r\n";
    check_bad_answer_keeps_map(loading, sizeof loading - 1,
                               "CLUSTER SHARDS answered: LOADING Redis is loading");
}

static void test_driver_hanging_server_times_out(void)
{
    fake_server a = {.hang = 1};
    CHECK(fake_start(&a) == 0);
    harness h;
    CHECK(harness_open(&h, 1, &a.port, NULL, NULL) == 0);
    h.ctx.op_timeout = 0.2;
    double started = cshm_mono_now();
    CHECK(harness_tend(&h) == CSHM_TEND_UNREACHABLE);
    double waited = cshm_mono_now() - started;
    CHECK(waited >= 0.19 && waited < 2.0);
    char expected[128];
    snprintf(expected, sizeof expected, "127.0.0.1:%u: timed out after 0.2 s reading",
             (unsigned)a.port);
    CHECK(strcmp(h.ctx.error, expected) == 0);
    harness_close(&h);
    fake_stop(&a);
}

static void test_driver_unreachable_lists_every_candidate(void)
{
    uint16_t ports[2] = {test_closed_port(), test_closed_port()};
    if (ports[1] == ports[0])
        ports[1]++;
    harness h;
    CHECK(harness_open(&h, 2, ports, NULL, NULL) == 0);
    CHECK(harness_tend(&h) == CSHM_TEND_UNREACHABLE);
    char expected[128];
    snprintf(expected, sizeof expected,
             "127.0.0.1:%u: connection refused; 127.0.0.1:%u: connection refused",
             (unsigned)ports[0], (unsigned)ports[1]);
    CHECK(strcmp(h.ctx.error, expected) == 0);
    harness_close(&h);

    /* 64 seeds: the list is cut at an entry and says how many are left out.
     * (The whole of 127/8 is loopback, so each host refuses on its own.) */
    CHECK(harness_open(&h, 0, ports, NULL, NULL) == 0);
    cshm_driver_redis.destroy(h.state);
    for (size_t i = 0; i < CSHM_MAX_SEEDS; i++) {
        snprintf(h.config.seeds[i].host, sizeof h.config.seeds[i].host, "127.0.0.%zu", i + 1);
        h.config.seeds[i].port = ports[0];
    }
    h.config.seed_count = CSHM_MAX_SEEDS;
    cshm_error error;
    CHECK(cshm_driver_redis.create(&h.config, &h.state, &error) == 0);
    CHECK(harness_tend(&h) == CSHM_TEND_UNREACHABLE);
    size_t len = strlen(h.ctx.error);
    CHECK(len < sizeof h.ctx.error && len > 200);
    CHECK(strncmp(h.ctx.error, "127.0.0.1:", 10) == 0);
    const char *more = strstr(h.ctx.error, " more");
    CHECK(more != NULL && more[5] == '\0');
    harness_close(&h);

    /* No seed at all (cannot come from a parsed URL, but must not crash). */
    CHECK(harness_open(&h, 0, ports, NULL, NULL) == 0);
    CHECK(harness_tend(&h) == CSHM_TEND_UNREACHABLE);
    CHECK(strstr(h.ctx.error, "no node to ask") != NULL);
    harness_close(&h);
}

static void test_driver_partial_failure_is_reported(void)
{
    fake_server a = {0};
    CHECK(fake_start(&a) == 0);
    resp_text reply;
    shards_reply(&reply, 1, &a.port);
    fake_set_shards(&a, reply.bytes, reply.len);
    uint16_t seeds[2] = {test_closed_port(), a.port};
    harness h;
    CHECK(harness_open(&h, 2, seeds, NULL, NULL) == 0);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    char expected[64];
    snprintf(expected, sizeof expected, "127.0.0.1:%u: connection refused", (unsigned)seeds[0]);
    CHECK(strcmp(h.ctx.error, expected) == 0);
    /* Next time the node that answered is asked first: no failure. */
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    CHECK(h.ctx.error[0] == '\0');
    harness_close(&h);
    fake_stop(&a);
}

static void test_driver_follows_the_map_and_drops_departed_nodes(void)
{
    fake_server a = {0}, b = {0};
    CHECK(fake_start(&a) == 0 && fake_start(&b) == 0);
    resp_text both;
    uint16_t ports[2] = {a.port, b.port};
    shards_reply(&both, 2, ports);
    fake_set_shards(&a, both.bytes, both.len);
    fake_set_shards(&b, both.bytes, both.len);
    harness h;
    CHECK(harness_open(&h, 1, &a.port, NULL, NULL) == 0);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    CHECK(seen(&a.shards_requests) == 1 && seen(&b.shards_requests) == 0);

    /* The seed dies: b, known only from the map, answers. */
    fake_stop(&a);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    CHECK(seen(&b.shards_requests) == 1);
    CHECK(strstr(h.ctx.error, "connection refused") != NULL);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    CHECK(h.ctx.error[0] == '\0' && seen(&b.shards_requests) == 2);
    CHECK(seen(&b.connections) == 1);

    /* b answers with a map without itself (it was removed from the
     * cluster): it is neither a node nor a seed, so the driver hangs up. */
    resp_text only_a;
    shards_reply(&only_a, 1, &a.port);
    fake_set_shards(&b, only_a.bytes, only_a.len);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    CHECK(h.map.counts->node_count == 1 && h.map.nodes[0].port == a.port);
    CHECK(eventually(&b.disconnections, 1));
    harness_close(&h);
    fake_stop(&b);
}

static void test_driver_reconnects_after_close(void)
{
    fake_server a = {.close_after_reply = 1};
    CHECK(fake_start(&a) == 0);
    resp_text reply;
    shards_reply(&reply, 1, &a.port);
    fake_set_shards(&a, reply.bytes, reply.len);
    harness h;
    CHECK(harness_open(&h, 1, &a.port, NULL, NULL) == 0);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    CHECK(eventually(&a.disconnections, 1));
    /* The kept connection turns out closed: one fresh connection, no failure. */
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    CHECK(h.ctx.error[0] == '\0');
    CHECK(seen(&a.connections) == 2 && seen(&a.shards_requests) == 2);
    harness_close(&h);
    fake_stop(&a);
}

/* release(): the tender that stops being tender lets its connection go;
 * the next tend (if it becomes tender again) connects afresh. */
static void test_driver_release_closes_the_connection(void)
{
    fake_server a = {0};
    CHECK(fake_start(&a) == 0);
    resp_text reply;
    shards_reply(&reply, 1, &a.port);
    fake_set_shards(&a, reply.bytes, reply.len);
    harness h;
    CHECK(harness_open(&h, 1, &a.port, NULL, NULL) == 0);
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    CHECK(seen(&a.connections) == 1 && seen(&a.disconnections) == 0);
    cshm_driver_redis.release(h.state);
    CHECK(eventually(&a.disconnections, 1));
    cshm_driver_redis.release(h.state);   /* twice is harmless */
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    CHECK(h.ctx.error[0] == '\0');
    CHECK(seen(&a.connections) == 2 && seen(&a.shards_requests) == 2);
    harness_close(&h);
    fake_stop(&a);
}

static void test_driver_abort(void)
{
    fake_server a = {0};
    CHECK(fake_start(&a) == 0);
    resp_text reply;
    shards_reply(&reply, 1, &a.port);
    fake_set_shards(&a, reply.bytes, reply.len);
    harness h;
    CHECK(harness_open(&h, 1, &a.port, NULL, NULL) == 0);
    unsigned char *before = malloc(h.map.payload_size);
    CHECK(before != NULL);
    if (before == NULL)
        return;
    memcpy(before, h.map.payload, h.map.payload_size);
    /* Before anything: nothing happens. */
    h.abort_at_call = 1;
    CHECK(harness_tend(&h) == CSHM_TEND_ABORTED);
    CHECK(seen(&a.connections) == 0);
    /* Right after connecting. */
    h.abort_at_call = 2;
    CHECK(harness_tend(&h) == CSHM_TEND_ABORTED);
    CHECK(memcmp(before, h.map.payload, h.map.payload_size) == 0);
    CHECK(eventually(&a.disconnections, 1));
    CHECK(seen(&a.shards_requests) == 0);
    h.abort_at_call = 0;
    CHECK(harness_tend(&h) == CSHM_TEND_OK);
    free(before);
    harness_close(&h);
    fake_stop(&a);
}

/* ---- the whole client, threads and all, in one process ------------------ */

/* The integration suite covers processes against real clusters; this runs
 * connect, the tender and follower threads, reads, refresh, handoff and close
 * inside one process so that ASan and TSan see every thread of the client. */
static int wait_for_role(cshm_client *c, const char *role)
{
    cshm_status_info s;
    for (int i = 0; i < 400; i++) {
        if (cshm_status(c, &s, NULL) == 0 && strcmp(s.role, role) == 0)
            return 1;
        usleep(5000);
    }
    return 0;
}

static void test_client_threads_in_one_process(void)
{
    static fake_server f;
    static resp_text reply;
    memset(&f, 0, sizeof f);
    CHECK(fake_start(&f) == 0);
    uint16_t ports[1] = {f.port};
    shards_reply(&reply, 1, ports);
    fake_set_shards(&f, reply.bytes, reply.len);

    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%u", (unsigned)f.port);
    cshm_options o;
    cshm_options_init(&o);
    o.has_key = 1;
    o.key = 0x5D000000u | (((uint32_t)getpid() & 0xFFFFu) << 4);
    /* No timed tend within the test: only connect, a refresh or a handoff
     * makes the tender ask the server. */
    o.tend_interval = 60;
    o.takeover_timeout = 120;
    int old = shmget((key_t)o.key, 0, 0);
    if (old >= 0)
        shmctl(old, IPC_RMID, NULL);

    cshm_client *a = NULL, *b = NULL;
    cshm_error e;
    CHECK(cshm_connect(url, &o, &a, &e) == 0);
    CHECK(cshm_connect(url, &o, &b, &e) == 0);
    cshm_status_info sa, sb;
    CHECK(cshm_status(a, &sa, &e) == 0 && cshm_status(b, &sb, &e) == 0);
    CHECK(strcmp(sa.role, "tender") == 0 && strcmp(sb.role, "follower") == 0);
    CHECK(sa.epoch == 1 && sb.epoch == 1 && sb.generation == 1);
    CHECK(sb.nodes == 1 && !sb.stale);

    cshm_key key = {.type = CSHM_KEY_BYTES, .data = "foo", .len = 3};
    cshm_route_result r;
    CHECK(cshm_route(b, &key, NULL, NULL, 0, &r, &e) == 0);
    CHECK(strcmp(r.host, "127.0.0.1") == 0 && r.port == f.port);
    CHECK(r.partition == cshm_redis_slot("foo", 3));
    CHECK(cshm_route(b, &key, NULL, NULL, 1, &r, &e) == CSHM_ERR_CLUSTER); /* no replica */

    cshm_node_info nodes[4];
    size_t count = 0;
    CHECK(cshm_nodes(b, nodes, 4, &count, &e) == 0);
    CHECK(count == 1 && nodes[0].partitions == 16384 && nodes[0].is_master);

    int before = seen(&f.shards_requests);
    CHECK(cshm_request_refresh(b, &e) == 0);
    for (int i = 0; i < 200 && seen(&f.shards_requests) == before; i++)
        usleep(5000);
    CHECK(seen(&f.shards_requests) > before);

    /* Clean close of the tender hands over to the other client's thread. */
    cshm_close(a);
    CHECK(wait_for_role(b, "tender"));
    CHECK(cshm_status(b, &sb, &e) == 0 && sb.epoch == 2);
    CHECK(cshm_route(b, &key, NULL, NULL, 0, &r, &e) == 0 && r.port == f.port);
    cshm_close(b);

    o.shared = 0;
    cshm_client *p = NULL;
    CHECK(cshm_connect(url, &o, &p, &e) == 0);
    CHECK(cshm_status(p, &sa, &e) == 0 && strcmp(sa.role, "private") == 0 && sa.shmid == -1);
    CHECK(cshm_route(p, &key, NULL, NULL, 0, &r, &e) == 0 && r.port == f.port);
    cshm_close(p);

    old = shmget((key_t)o.key, 0, 0);
    if (old >= 0)
        shmctl(old, IPC_RMID, NULL);
    fake_stop(&f);
}


/* The whole table of a snapshot: ranges with their owners, nodes, generation. */
static void test_client_shards(void)
{
    static fake_server f;
    static resp_text reply;
    memset(&f, 0, sizeof f);
    CHECK(fake_start(&f) == 0);
    /* Three masters; only the first is a server: the map is what counts. */
    uint16_t ports[3] = {f.port, test_closed_port(), test_closed_port()};
    shards_reply(&reply, 3, ports);
    fake_set_shards(&f, reply.bytes, reply.len);

    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%u", (unsigned)f.port);
    cshm_options o;
    cshm_options_init(&o);
    o.shared = 0;
    o.tend_interval = 60;
    o.takeover_timeout = 120;
    cshm_client *c = NULL;
    cshm_error e;
    CHECK(cshm_connect(url, &o, &c, &e) == 0);

    cshm_node_info nodes[4];
    cshm_shard shards[4];
    size_t node_count = 0, shard_count = 0;
    uint64_t generation = 0;
    CHECK(cshm_shards(c, NULL, nodes, 4, &node_count, shards, 4, &shard_count, &generation,
                      &e) == 0);
    CHECK(node_count == 3 && shard_count == 3 && generation == 1);
    uint32_t next = 0;
    for (size_t i = 0; i < shard_count && i < 4; i++) {
        CHECK(shards[i].first == next);
        CHECK(shards[i].last == (uint32_t)((i + 1) * 16384 / 3 - 1));
        CHECK(shards[i].master >= 0 && shards[i].master < 3);
        CHECK(shards[i].replica_count == 0);
        if (shards[i].master >= 0 && shards[i].master < 3)
            CHECK(nodes[shards[i].master].port == ports[i]);
        next = shards[i].last + 1;
    }
    CHECK(next == 16384);
    /* Every slot's route agrees with its range. */
    for (uint32_t slot = 0; slot < 16384; slot += 97) {
        size_t i = slot * 3 / 16384;
        CHECK(shards[i].first <= slot && slot <= shards[i].last);
    }

    /* Arrays too small: filled as far as they go, full counts returned. */
    cshm_shard one;
    CHECK(cshm_shards(c, NULL, nodes, 1, &node_count, &one, 1, &shard_count, NULL, &e) == 0);
    CHECK(node_count == 3 && shard_count == 3 && one.first == 0);
    cshm_close(c);
    fake_stop(&f);
}

void suite_driver_redis(void)
{
    RUN(test_driver_shape);
    RUN(test_driver_tends_with_shards_on_one_connection);
    RUN(test_driver_falls_back_to_slots);
    RUN(test_driver_authentication);
    RUN(test_driver_rejects_garbage_and_keeps_map);
    RUN(test_driver_hanging_server_times_out);
    RUN(test_driver_unreachable_lists_every_candidate);
    RUN(test_driver_partial_failure_is_reported);
    RUN(test_driver_follows_the_map_and_drops_departed_nodes);
    RUN(test_driver_reconnects_after_close);
    RUN(test_driver_release_closes_the_connection);
    RUN(test_driver_abort);
    RUN(test_client_threads_in_one_process);
    RUN(test_client_shards);
}
