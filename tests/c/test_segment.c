/*
 * test_segment.c - real SysV segments: creation, attachment, validation of
 * foreign and incompatible segments; robust locks across real processes
 * (fork, SIGKILL, SIGSTOP); fenced publication and seqlock reads.
 *
 * Keys are derived from the test process's pid so that parallel runs do not
 * meet, and every segment is removed at the end of its test.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "segment.h"
#include "snapshot.h"
#include "test.h"

static uint32_t test_key(int n)
{
    return 0x5C000000u | (((uint32_t)getpid() & 0xFFFFu) << 8) | (uint32_t)n;
}

static void remove_key(uint32_t key)
{
    int id = shmget((key_t)key, 0, 0);
    if (id >= 0)
        shmctl(id, IPC_RMID, NULL);
}

static cshm_config *make_config(const char *url, uint32_t key, void (*tweak)(cshm_options *))
{
    static cshm_config configs[8];
    static int next;
    cshm_config *c = &configs[next++ % 8];
    cshm_options o;
    cshm_options_init(&o);
    o.has_key = 1;
    o.key = key;
    o.connect_timeout = 0.2;
    if (tweak)
        tweak(&o);
    cshm_error e;
    if (cshm_config_parse(url, &o, c, &e) != 0) {
        fprintf(stderr, "config: %s\n", e.message);
        abort();
    }
    return c;
}

static void test_create_then_attach(void)
{
    uint32_t key = test_key(1);
    remove_key(key);
    cshm_config *c = make_config("redis://127.0.0.1:1", key, NULL);
    cshm_segment a, b;
    cshm_error e;
    CHECK(cshm_segment_open(c, &a, &e) == 0);
    CHECK(cshm_segment_open(c, &b, &e) == 0);
    CHECK(a.shmid == b.shmid);
    CHECK(a.size == b.size);
    struct shmid_ds ds;
    CHECK(shmctl(a.shmid, IPC_STAT, &ds) == 0);
    CHECK((ds.shm_perm.mode & 0777) == 0600);
    CHECK(ds.shm_nattch == 2);
    CHECK(strcmp(a.header->identity, c->identity) == 0);
    CHECK(a.header->creator_uid == (uint32_t)geteuid());
    cshm_segment_close(&a);
    cshm_segment_close(&b);
    remove_key(key);
}

/* docs/design.md, "Segment lifetime": the last detach removes the segment;
 * a detach while others are attached, or a read-only inspection, does not;
 * a segment removed under an attacher is not used. */
static void test_last_detach_removes(void)
{
    uint32_t key = test_key(40);
    remove_key(key);
    cshm_config *c = make_config("redis://127.0.0.1:1", key, NULL);
    cshm_segment a, b, look;
    cshm_error e;
    CHECK(cshm_segment_open(c, &a, &e) == 0);
    CHECK(cshm_segment_open(c, &b, &e) == 0);
    int shmid = a.shmid;
    CHECK(cshm_segment_inspect(key, &look, &e) == 0);
    cshm_segment_close(&a);
    CHECK(shmget((key_t)key, 0, 0) == shmid);          /* b is attached */
    CHECK(!cshm_segment_removed(&b));
    cshm_segment_close(&b);
    CHECK(shmget((key_t)key, 0, 0) == shmid);          /* the inspection still is */
    cshm_segment_close(&look);
    CHECK(shmget((key_t)key, 0, 0) == shmid);          /* and it never removes */
    remove_key(key);

    CHECK(cshm_segment_open(c, &a, &e) == 0);
    shmid = a.shmid;
    cshm_segment_close(&a);
    CHECK(shmget((key_t)key, 0, 0) < 0 && errno == ENOENT);
    struct shmid_ds ds;
    CHECK(shmctl(shmid, IPC_STAT, &ds) != 0);

    /* Removed while attached: the attached process can tell. */
    CHECK(cshm_segment_open(c, &a, &e) == 0);
    CHECK(shmctl(a.shmid, IPC_RMID, NULL) == 0);
    CHECK(cshm_segment_removed(&a));
    CHECK(cshm_segment_open(c, &b, &e) == 0);
    CHECK(b.shmid != a.shmid);
    cshm_segment_close(&a);
    cshm_segment_close(&b);
    CHECK(shmget((key_t)key, 0, 0) < 0);
}

/* Publish an empty snapshot with this record into seg (epoch 1), as a
 * tender would. */
static void publish_with(cshm_segment *seg, const cshm_tend_record *record)
{
    static cshm_robust_owner owner;  /* registered with the kernel: it must outlive us */
    size_t area_size;
    const void *area = cshm_segment_lock_area(seg, &area_size);
    CHECK(cshm_robust_thread_init(&owner, area, area_size) == 0);
    uint64_t state = __atomic_load_n(&seg->header->state, __ATOMIC_ACQUIRE);
    uint32_t epoch = cshm_state_epoch(state) + 1;
    __atomic_store_n(&seg->header->state, cshm_state_make(epoch, 0, cshm_state_slot_plus_one(state)),
                     __ATOMIC_RELEASE);
    cshm_map map;
    CHECK(cshm_map_init(&map, &seg->shape) == 0);
    CHECK(cshm_snapshot_publish(seg, &owner, epoch, record, &map) == CSHM_PUBLISH_OK);
    cshm_map_free(&map);
}

/* docs/design.md §1b: the chain of a base key, the successor's key, and a
 * forward pointer that is followed only to the segment it names. */
static void test_chain_and_forward_pointer(void)
{
    uint32_t key = test_key(41);
    cshm_config *c = make_config("redis://h:1", key, NULL);
    for (uint32_t g = 0; g < CSHM_CHAIN_MAX; g++) {
        remove_key(cshm_chain_key(key, g));
        if (g > 0)
            CHECK((cshm_chain_key(key, g) & 0xFF000000u) == CSHM_CHAIN_KEY_BASE);
    }
    CHECK(cshm_chain_key(key, 0) == key && cshm_chain_key(key, 1) != cshm_chain_key(key, 2));
    cshm_segment old, next, followed, fresh;
    cshm_error e;
    CHECK(cshm_segment_open(c, &old, &e) == 0);
    CHECK(old.generation == 0 && old.base_key == key);
    cshm_map_shape bigger = old.shape;
    bigger.max_nodes = 128;
    CHECK(cshm_segment_open_successor(c, &old, &bigger, &next, &e) == 0);
    CHECK(next.generation == 1 && next.key == cshm_chain_key(key, 1));
    CHECK(next.shape.max_nodes == 128 && next.size > old.size);

    cshm_tend_record record;
    memset(&record, 0, sizeof record);
    cshm_forward good = {next.key, next.shmid, 1, 128, next.shape.max_namespaces, 0,
                         next.size, next.created_at_ms};
    /* Scribbled pointers: each a clean error, never another segment. */
    cshm_forward bad = good;
    bad.key = key;                                          /* not the chain's key */
    CHECK(cshm_segment_follow(c, &old, &bad, &followed, &e) == CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "scribbled") != NULL);
    bad = good;
    bad.generation = 5;
    CHECK(cshm_segment_follow(c, &old, &bad, &followed, &e) == CSHM_ERR_SEGMENT);
    bad = good;
    bad.max_nodes = 0xFFFFFFu;                              /* a layout out of range */
    CHECK(cshm_segment_follow(c, &old, &bad, &followed, &e) == CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "layout") != NULL);
    bad = good;
    bad.shmid = next.shmid + 1;                             /* another segment at the key */
    CHECK(cshm_segment_follow(c, &old, &bad, &followed, &e) == CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "is not the successor") != NULL);
    CHECK(cshm_segment_follow(c, &old, &good, &followed, &e) == 0);
    CHECK(followed.shmid == next.shmid && followed.generation == 1);
    cshm_segment_close(&followed);

    /* A newcomer finds the current segment: the first of the chain that is
     * not forwarded.  Before the forward, that is the old one... */
    CHECK(cshm_segment_open(c, &fresh, &e) == 0);
    CHECK(fresh.shmid == old.shmid);
    cshm_segment_close(&fresh);
    /* ...after it, the successor, whatever its own options say. */
    record.forward = good;
    publish_with(&old, &record);
    cshm_forward seen;
    CHECK(cshm_snapshot_forward(&old, &seen) == 1 && seen.shmid == next.shmid);
    CHECK(cshm_segment_open(c, &fresh, &e) == 0);
    CHECK(fresh.shmid == next.shmid && fresh.shape.max_nodes == 128);
    cshm_segment_close(&fresh);
    /* The old one gone (its last process left), the successor is still
     * found; a chain with only a forwarded segment gets its next
     * generation, as large as the one it named. */
    cshm_segment_close(&old);
    CHECK(shmget((key_t)key, 0, 0) < 0);
    CHECK(cshm_segment_open(c, &fresh, &e) == 0);
    CHECK(fresh.shmid == next.shmid);
    cshm_segment_close(&fresh);
    cshm_segment_close(&next);
    for (uint32_t g = 0; g < CSHM_CHAIN_MAX; g++)
        CHECK(shmget((key_t)cshm_chain_key(key, g), 0, 0) < 0);
}

static void fill_foreign(uint32_t key, size_t size, unsigned char byte)
{
    int id = shmget((key_t)key, size, IPC_CREAT | IPC_EXCL | 0600);
    unsigned char *p = shmat(id, NULL, 0);
    memset(p, byte, size);
    shmdt(p);
}

static int foreign_unchanged(uint32_t key, size_t size, unsigned char byte)
{
    int id = shmget((key_t)key, 0, 0);
    unsigned char *p = shmat(id, NULL, SHM_RDONLY);
    int same = 1;
    for (size_t i = 0; i < size; i++)
        same &= p[i] == byte;
    shmdt(p);
    return same;
}

static void test_foreign_segment_refused_and_untouched(void)
{
    uint32_t key = test_key(2);
    remove_key(key);
    fill_foreign(key, 100000, 0xA5);
    cshm_config *c = make_config("redis://127.0.0.1:1", key, NULL);
    cshm_segment s;
    cshm_error e;
    CHECK(cshm_segment_open(c, &s, &e) == CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "not a clustershm segment") != NULL);
    CHECK(strstr(e.message, "0x5c") != NULL);
    CHECK(foreign_unchanged(key, 100000, 0xA5));
    remove_key(key);

    /* All zeros: a foreign segment, or one whose creator died at once. */
    fill_foreign(key, 100000, 0);
    CHECK(cshm_segment_open(c, &s, &e) == CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "only zeros") != NULL);
    CHECK(foreign_unchanged(key, 100000, 0));
    remove_key(key);

    /* Too small to hold a header. */
    fill_foreign(key, 16, 0x11);
    CHECK(cshm_segment_open(c, &s, &e) == CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "too small") != NULL);
    CHECK(foreign_unchanged(key, 16, 0x11));
    remove_key(key);
}

static void test_other_identity_refused(void)
{
    uint32_t key = test_key(3);
    remove_key(key);
    cshm_segment a, b;
    cshm_error e;
    CHECK(cshm_segment_open(make_config("redis://10.0.0.1:7001", key, NULL), &a, &e) == 0);
    CHECK(cshm_segment_open(make_config("redis://10.0.0.2:7001", key, NULL), &b, &e) ==
          CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "redis:10.0.0.1:7001") != NULL);
    CHECK(strstr(e.message, "redis:10.0.0.2:7001") != NULL);
    cshm_segment_close(&a);
    remove_key(key);
}

static void more_nodes(cshm_options *o)
{
    o->max_nodes = 128;
}

static void wide_mode(cshm_options *o)
{
    o->mode = 0666;
}

static void test_other_layout_refused(void)
{
    uint32_t key = test_key(4);
    remove_key(key);
    cshm_segment a, b;
    cshm_error e;
    CHECK(cshm_segment_open(make_config("redis://h:1", key, NULL), &a, &e) == 0);
    /* Other limits are not another layout: the segment is used at the size
     * it has (its tender grows it when the cluster needs more). */
    CHECK(cshm_segment_open(make_config("redis://h:1", key, more_nodes), &b, &e) == 0);
    CHECK(b.shmid == a.shmid && b.shape.max_nodes == 64);
    cshm_segment_close(&b);

    /* Another layout version of ours: named, untouched. */
    a.header->prefix.layout_version = 99;
    CHECK(cshm_segment_open(make_config("redis://h:1", key, NULL), &b, &e) == CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "layout version 99") != NULL);
    CHECK(a.header->prefix.layout_version == 99);
    a.header->prefix.layout_version = CSHM_LAYOUT_VERSION;

    /* Fields that disagree with the size: corrupt. */
    a.header->payload_size += 8;
    CHECK(cshm_segment_open(make_config("redis://h:1", key, NULL), &b, &e) == CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "corrupt") != NULL);
    a.header->payload_size -= 8;
    cshm_segment_close(&a);
    remove_key(key);
}

static void test_wider_mode_refused(void)
{
    uint32_t key = test_key(5);
    remove_key(key);
    cshm_segment a, b;
    cshm_error e;
    CHECK(cshm_segment_open(make_config("redis://h:1", key, wide_mode), &a, &e) == 0);
    CHECK(cshm_segment_open(make_config("redis://h:1", key, NULL), &b, &e) == CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "mode 0666") != NULL);
    CHECK(cshm_segment_open(make_config("redis://h:1", key, wide_mode), &b, &e) == 0);
    cshm_segment_close(&a);
    cshm_segment_close(&b);
    remove_key(key);
}


/* ---- credentials, timing and the validated copy ---- */

static void set_password(cshm_config *c, const char *password)
{
    c->has_password = password != NULL;
    memset(c->password, 0, sizeof c->password);
    if (password != NULL)
        strcpy(c->password, password);
}

/* The segment's bytes never hold the password itself. */
static int segment_contains(const cshm_segment *s, const char *text)
{
    return memmem(s->base, CSHM_HEADER_SIZE, text, strlen(text)) != NULL;
}

static void test_credentials_at_an_explicit_key(void)
{
    uint32_t key = test_key(8);
    remove_key(key);
    cshm_config *one = make_config("redis://h:1", key, NULL);
    set_password(one, "swordfish-one");
    cshm_config *two = make_config("redis://h:1", key, NULL);
    set_password(two, "swordfish-two");
    cshm_config *none = make_config("redis://h:1", key, NULL);
    cshm_segment a, b, c;
    cshm_error e;
    CHECK(cshm_segment_open(one, &a, &e) == 0);
    CHECK(a.credentials_kind == CSHM_CREDENTIALS_PBKDF2_SHA256);
    CHECK(!segment_contains(&a, "swordfish"));
    CHECK(cshm_segment_open(two, &b, &e) == CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "other credentials") != NULL);
    CHECK(strstr(e.message, "another key") != NULL);
    CHECK(cshm_segment_open(none, &b, &e) == CSHM_ERR_SEGMENT);
    CHECK(cshm_segment_open(one, &b, &e) == 0);
    CHECK(b.shmid == a.shmid);
    int first = a.shmid;
    cshm_segment_close(&a);
    cshm_segment_close(&b);
    /* Nobody uses it any more: the other credentials reclaim the key. */
    CHECK(cshm_segment_open(two, &c, &e) == 0);
    CHECK(c.shmid != first && c.key == key);
    cshm_segment_close(&c);
    remove_key(key);
}

static void remove_alternates(const cshm_config *c)
{
    for (unsigned i = 0; i < CSHM_KEY_ALTERNATES; i++)
        remove_key(cshm_config_key(c, i));
}

static void test_credentials_at_a_derived_key(void)
{
    /* An identity of this test run only, so the derived keys are ours. */
    char url[64];
    snprintf(url, sizeof url, "redis://derived-%d:1", (int)getpid());
    static cshm_config one, two, three;
    cshm_options o;
    cshm_options_init(&o);
    o.connect_timeout = 0.2;
    cshm_error e;
    CHECK(cshm_config_parse(url, &o, &one, &e) == 0);
    CHECK(cshm_config_parse(url, &o, &two, &e) == 0);
    CHECK(cshm_config_parse(url, &o, &three, &e) == 0);
    set_password(&one, "alpha");
    set_password(&two, "bravo");
    set_password(&three, "charlie");
    remove_alternates(&one);

    cshm_segment a, b, b2, c;
    CHECK(cshm_segment_open(&one, &a, &e) == 0);
    CHECK(a.key == cshm_config_key(&one, 0));
    /* Other credentials: a segment of their own, never the first one. */
    CHECK(cshm_segment_open(&two, &b, &e) == 0);
    CHECK(b.key == cshm_config_key(&two, 1) && b.shmid != a.shmid);
    CHECK(cshm_segment_open(&two, &b2, &e) == 0);
    CHECK(b2.shmid == b.shmid);
    /* The first key's processes leave; the next credentials reclaim it
     * while the second ones keep theirs. */
    cshm_segment_close(&a);
    CHECK(cshm_segment_open(&three, &c, &e) == 0);
    CHECK(c.key == cshm_config_key(&three, 0));
    CHECK(cshm_segment_open(&two, &a, &e) == 0);
    CHECK(a.shmid == b.shmid);
    cshm_segment_close(&a);
    cshm_segment_close(&b);
    cshm_segment_close(&b2);
    cshm_segment_close(&c);
    remove_alternates(&one);
}

static void slow_timing(cshm_options *o)
{
    o->tend_interval = 0.3;
    o->takeover_timeout = 9;
    o->min_refresh_interval = 0.2;
    o->connect_timeout = 0.25;
}

static void test_timing_is_the_segments(void)
{
    uint32_t key = test_key(9);
    remove_key(key);
    cshm_segment a, b;
    cshm_error e;
    CHECK(cshm_segment_open(make_config("redis://h:1", key, slow_timing), &a, &e) == 0);
    CHECK(cshm_segment_open(make_config("redis://h:1", key, NULL), &b, &e) == 0);
    CHECK(b.tend_interval == 0.3 && b.takeover_timeout == 9 && b.min_refresh_interval == 0.2);
    CHECK(b.op_timeout == 0.25);
    cshm_segment_close(&b);

    /* A value no creator could have stored: the segment is corrupt. */
    uint64_t saved = a.header->takeover_timeout_us;
    a.header->takeover_timeout_us = 10000; /* 0.01 s */
    CHECK(cshm_segment_open(make_config("redis://h:1", key, NULL), &b, &e) == CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "timing") != NULL && strstr(e.message, "takeover_timeout") != NULL);
    a.header->takeover_timeout_us = saved;
    cshm_segment_close(&a);
    remove_key(key);
}

static void test_validated_copy_is_not_reread(void)
{
    uint32_t key = test_key(10);
    remove_key(key);
    cshm_segment a, b;
    cshm_error e;
    CHECK(cshm_segment_open(make_config("redis://h:1", key, NULL), &a, &e) == 0);
    CHECK(cshm_segment_open(make_config("redis://h:1", key, NULL), &b, &e) == 0);
    /* Another process rewrites the write-once part: b's bounds and identity
     * stay those it validated. */
    a.header->shape.max_nodes = 4000;
    a.header->slot_stride = 1;
    memset(a.header->identity, 'X', sizeof a.header->identity);
    CHECK(b.shape.max_nodes == 64);
    CHECK(b.slot_stride != 1);
    CHECK(strcmp(b.identity, "redis:h:1") == 0);
    cshm_segment_close(&a);
    cshm_segment_close(&b);
    remove_key(key);
}

/* The validator on plain memory (what tests/fuzz feeds): a header that a
 * creator wrote passes with the creator's geometry; the same bytes measured
 * against a smaller segment, or with a field scribbled, do not. */
static void test_validate_buffer(void)
{
    cshm_segment private_seg, seg;
    cshm_error e;
    CHECK(cshm_segment_private(make_config("redis://h:1", 1, NULL), &private_seg, &e) == 0);
    CHECK(cshm_segment_validate_buffer(private_seg.base, private_seg.size, &seg, &e) == 0);
    CHECK(seg.size == private_seg.size && seg.slot_stride == private_seg.slot_stride);
    CHECK(memcmp(&seg.shape, &private_seg.shape, sizeof seg.shape) == 0);
    CHECK(strcmp(seg.identity, "redis:h:1") == 0 && seg.base == NULL && seg.shmid == -1);
    CHECK(cshm_segment_validate_buffer(private_seg.base, private_seg.size - 1, &seg, &e) ==
          CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "corrupt") != NULL && seg.size == 0);
    CHECK(cshm_segment_validate_buffer(private_seg.base, CSHM_HEADER_SIZE - 1, &seg, &e) ==
          CSHM_ERR_SEGMENT);
    private_seg.header->slot_stride += 64;
    CHECK(cshm_segment_validate_buffer(private_seg.base, private_seg.size, &seg, &e) ==
          CSHM_ERR_SEGMENT);
    cshm_segment_close(&private_seg);
}

void suite_segment(void)
{
    RUN(test_create_then_attach);
    RUN(test_last_detach_removes);
    RUN(test_chain_and_forward_pointer);
    RUN(test_foreign_segment_refused_and_untouched);
    RUN(test_other_identity_refused);
    RUN(test_other_layout_refused);
    RUN(test_wider_mode_refused);
    RUN(test_credentials_at_an_explicit_key);
    RUN(test_credentials_at_a_derived_key);
    RUN(test_timing_is_the_segments);
    RUN(test_validated_copy_is_not_reread);
    RUN(test_validate_buffer);
}

/* ---- robust locks across processes ---- */

static cshm_robust_lock *shared_lock(int *shmid)
{
    *shmid = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    cshm_robust_lock *lock = shmat(*shmid, NULL, 0);
    shmctl(*shmid, IPC_RMID, NULL); /* freed when the last process detaches */
    cshm_robust_lock_init(lock);
    return lock;
}

/* Fork a child that takes the lock, reports through a pipe, then waits to be
 * signalled. */
static pid_t child_holding(cshm_robust_lock *lock)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        static cshm_robust_owner owner;
        cshm_robust_thread_init(&owner, lock, sizeof *lock);
        char ok = cshm_robust_trylock(&owner, lock) == CSHM_LOCK_ACQUIRED ? 'y' : 'n';
        if (write(fds[1], &ok, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char got = 0;
    if (read(fds[0], &got, 1) != 1)
        got = 0;
    close(fds[0]);
    close(fds[1]);
    return got == 'y' ? pid : -1;
}

static void test_lock_released_by_kernel_on_sigkill(void)
{
    int shmid;
    cshm_robust_lock *lock = shared_lock(&shmid);
    static cshm_robust_owner me;
    CHECK(cshm_robust_thread_init(&me, lock, sizeof *lock) == 0);
    pid_t child = child_holding(lock);
    CHECK(child > 0);
    CHECK(cshm_robust_trylock(&me, lock) == CSHM_LOCK_BUSY);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    CHECK(cshm_robust_trylock(&me, lock) == CSHM_LOCK_ACQUIRED_OWNER_DIED);
    CHECK(cshm_robust_held(&me, lock));
    cshm_robust_unlock(&me, lock);
    CHECK(!cshm_robust_held(&me, lock));
    CHECK(cshm_robust_trylock(&me, lock) == CSHM_LOCK_ACQUIRED);
    cshm_robust_unlock(&me, lock);
    shmdt(lock);
}

static void test_stopped_owner_keeps_lock_and_waiter_wakes_on_death(void)
{
    int shmid;
    cshm_robust_lock *lock = shared_lock(&shmid);
    static cshm_robust_owner me;
    CHECK(cshm_robust_thread_init(&me, lock, sizeof *lock) == 0);
    pid_t child = child_holding(lock);
    CHECK(child > 0);
    kill(child, SIGSTOP);
    CHECK(cshm_robust_trylock(&me, lock) == CSHM_LOCK_BUSY);
    /* A waiter must be woken by the death, long before its 10 s timeout. */
    pid_t killer = fork();
    if (killer == 0) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        kill(child, SIGKILL);
        _exit(0);
    }
    double start = cshm_mono_now();
    while (cshm_robust_owner_tid(lock) != 0 && cshm_mono_now() - start < 10)
        cshm_robust_wait(lock, 10);
    double waited = cshm_mono_now() - start;
    CHECK(waited < 5); /* woken by the kernel, not by the timeout */
    CHECK(cshm_robust_trylock(&me, lock) == CSHM_LOCK_ACQUIRED_OWNER_DIED);
    cshm_robust_unlock(&me, lock);
    waitpid(killer, NULL, 0);
    waitpid(child, NULL, 0);
    shmdt(lock);
}

/* A same-uid process scribbles every other byte of the lock area (words and
 * their neighbours): the kernel still releases the lock the owner really
 * held, because its robust list never lived there. */
static void test_scribbled_lock_area_keeps_death_detection(void)
{
    int shmid = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    cshm_robust_lock *locks = shmat(shmid, NULL, 0);
    shmctl(shmid, IPC_RMID, NULL);
    for (int i = 0; i < 8; i++)
        cshm_robust_lock_init(&locks[i]);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t child = fork();
    if (child == 0) {
        static cshm_robust_owner owner;
        cshm_robust_thread_init(&owner, locks, 8 * sizeof *locks);
        char ok = cshm_robust_trylock(&owner, &locks[3]) == CSHM_LOCK_ACQUIRED ? 'y' : 'n';
        if (write(fds[1], &ok, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char got = 0;
    CHECK(read(fds[0], &got, 1) == 1 && got == 'y');
    close(fds[0]);
    close(fds[1]);
    /* Everything but the held word: others' words (some with the child's
     * TID, as if it held them), the reserved halves, and past the area. */
    unsigned char *bytes = (unsigned char *)locks;
    for (size_t i = 0; i < 4096; i++)
        if (i < 3 * sizeof *locks || i >= 3 * sizeof *locks + 4)
            bytes[i] = (unsigned char)(i * 37 + 11);
    locks[5].word = (uint32_t)child;
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    static cshm_robust_owner me;
    CHECK(cshm_robust_thread_init(&me, locks, 8 * sizeof *locks) == 0);
    CHECK(cshm_robust_trylock(&me, &locks[3]) == CSHM_LOCK_ACQUIRED_OWNER_DIED);
    cshm_robust_unlock(&me, &locks[3]);
    /* A scribbled word is not a lock the kernel knows: it looks held. */
    CHECK(cshm_robust_trylock(&me, &locks[5]) == CSHM_LOCK_BUSY);
    shmdt(locks);
}

/* ---- publication ---- */

static void fill_map(cshm_map *m, const char *host)
{
    cshm_map_clear(m);
    cshm_map_add_namespace(m, "0");
    int n = cshm_map_add_node(m, host, host, 1, 1, 1);
    for (uint32_t p = 0; p < m->shape.partitions; p++)
        cshm_map_set_owner(m, 0, p, 0, (uint16_t)n);
}

static void test_publish_is_fenced_by_epoch(void)
{
    uint32_t key = test_key(6);
    remove_key(key);
    cshm_segment s;
    cshm_error e;
    CHECK(cshm_segment_open(make_config("redis://h:1", key, NULL), &s, &e) == 0);
    static cshm_robust_owner me;
    size_t area_size;
    const void *area = cshm_segment_lock_area(&s, &area_size);
    CHECK(cshm_robust_thread_init(&me, area, area_size) == 0);
    static const cshm_tend_record record;
    cshm_map m, got;
    CHECK(cshm_map_init(&m, &s.shape) == 0 && cshm_map_init(&got, &s.shape) == 0);

    s.header->state = cshm_state_make(1, 0, 0);
    fill_map(&m, "first");
    CHECK(cshm_snapshot_publish(&s, &me, 1, &record, &m) == CSHM_PUBLISH_OK);
    uint64_t epoch = 0;
    CHECK(cshm_snapshot_read(&s, &got, NULL, &epoch, &e) == 0);
    CHECK(epoch == 1 && strcmp(got.nodes[0].host, "first") == 0);

    /* A takeover moves the epoch on: the old tender's publish is refused and
     * the published map is untouched. */
    uint64_t state = s.header->state;
    s.header->state = cshm_state_make(2, 1, cshm_state_slot_plus_one(state));
    fill_map(&m, "zombie");
    CHECK(cshm_snapshot_publish(&s, &me, 1, &record, &m) == CSHM_PUBLISH_LOST);
    CHECK(cshm_snapshot_read(&s, &got, NULL, &epoch, &e) == 0);
    CHECK(strcmp(got.nodes[0].host, "first") == 0);

    /* The new tender publishes; a slot another (stopped) tender is writing
     * is never chosen. */
    static cshm_robust_owner other;
    other.tid = getpid() + 1000000; /* a TID that is not ours */
    other.head.list.next = &other.head.list;
    uint32_t published = cshm_state_slot_plus_one(s.header->state) - 1;
    uint32_t busy = (published + 1) % CSHM_SLOTS;
    s.header->slot_locks[busy].word = (uint32_t)other.tid;
    fill_map(&m, "second");
    CHECK(cshm_snapshot_publish(&s, &me, 2, &record, &m) == CSHM_PUBLISH_OK);
    CHECK(cshm_state_slot_plus_one(s.header->state) - 1 != busy);
    CHECK(cshm_snapshot_read(&s, &got, NULL, &epoch, &e) == 0);
    CHECK(epoch == 2 && strcmp(got.nodes[0].host, "second") == 0);
    s.header->slot_locks[busy].word = 0;

    /* A slot written by an epoch beyond the state word's cannot be a newer
     * tender's (the state word would carry it): it is a scribbled word, and
     * the current tender still publishes. */
    for (uint32_t i = 0; i < CSHM_SLOTS; i++)
        s.header->slot_writer_epoch[i] = 7;
    s.header->state = cshm_state_make(3, 1, cshm_state_slot_plus_one(s.header->state));
    fill_map(&m, "third");
    CHECK(cshm_snapshot_publish(&s, &me, 3, &record, &m) == CSHM_PUBLISH_OK);
    CHECK(cshm_snapshot_read(&s, &got, NULL, &epoch, &e) == 0);
    CHECK(epoch == 3 && strcmp(got.nodes[0].host, "third") == 0);

    /* A slot a newer tender wrote while we were stopped: we lost. */
    for (uint32_t i = 0; i < CSHM_SLOTS; i++)
        s.header->slot_writer_epoch[i] = 4;
    s.header->state = cshm_state_make(4, 1, cshm_state_slot_plus_one(s.header->state));
    CHECK(cshm_snapshot_publish(&s, &me, 3, &record, &m) == CSHM_PUBLISH_LOST);
    CHECK(cshm_snapshot_read(&s, &got, NULL, &epoch, &e) == 0);
    CHECK(epoch == 3 && strcmp(got.nodes[0].host, "third") == 0);

    cshm_map_free(&m);
    cshm_map_free(&got);
    cshm_segment_close(&s);
    remove_key(key);
}

/* The payload checksum: every change confined to one word is seen, so are
 * two flips of the same high bit (which cancel in plain word-wise FNV-1a),
 * and the order of the words matters. */
static void test_payload_checksum(void)
{
    static uint64_t words[512];
    for (size_t i = 0; i < 512; i++)
        words[i] = i * 0x9E3779B97F4A7C15ull;
    uint64_t base = cshm_payload_checksum(words, sizeof words);
    CHECK(base == cshm_payload_checksum(words, sizeof words));
    int missed = 0;
    for (size_t i = 0; i < 512; i += 7)
        for (unsigned bit = 0; bit < 64; bit += 9) {
            words[i] ^= 1ull << bit;
            missed += cshm_payload_checksum(words, sizeof words) == base;
            words[i] ^= 1ull << bit;
        }
    CHECK(missed == 0);
    words[3] ^= 1ull << 63;
    words[200] ^= 1ull << 63;
    CHECK(cshm_payload_checksum(words, sizeof words) != base);
    words[3] ^= 1ull << 63;
    words[200] ^= 1ull << 63;
    uint64_t t = words[10];
    words[10] = words[11];
    words[11] = t;
    CHECK(cshm_payload_checksum(words, sizeof words) != base);
    CHECK(cshm_payload_checksum(words, 0) != cshm_payload_checksum(words, 8));
}

/* A publish stores the checksum of what it wrote; verify finds a stray
 * write into the slot (checksum mismatch), counts out of range and an
 * owner index past node_count, each by name; the read of an assert build
 * refuses a mismatch with an error (never an abort), the unverified read
 * (clustershm stat) shows the copy anyway. */
static void test_verify_finds_what_is_wrong(void)
{
    uint32_t key = test_key(8);
    remove_key(key);
    cshm_segment s;
    cshm_error e;
    CHECK(cshm_segment_open(make_config("redis://h:1", key, NULL), &s, &e) == 0);
    static cshm_robust_owner me;
    size_t area_size;
    const void *area = cshm_segment_lock_area(&s, &area_size);
    CHECK(cshm_robust_thread_init(&me, area, area_size) == 0);
    static const cshm_tend_record record;
    cshm_map m, got;
    CHECK(cshm_map_init(&m, &s.shape) == 0 && cshm_map_init(&got, &s.shape) == 0);

    /* Nothing published: nothing wrong. */
    s.header->state = cshm_state_make(1, 0, 0);
    CHECK(cshm_snapshot_verify(&s, &got, &e) == 0);

    fill_map(&m, "first");
    CHECK(cshm_snapshot_publish(&s, &me, 1, &record, &m) == CSHM_PUBLISH_OK);
    uint32_t slot = cshm_state_slot_plus_one(s.header->state) - 1;
    cshm_tend_record *shared = cshm_segment_record(&s, slot);
    unsigned char *payload = cshm_segment_payload(&s, slot);
    CHECK(shared->payload_checksum == cshm_payload_checksum(m.payload, m.payload_size));
    CHECK(cshm_snapshot_verify(&s, &got, &e) == 0);

    /* One stray byte in the node table. */
    payload[s.layout.nodes_offset + 1] ^= 0x20;
    CHECK(cshm_snapshot_verify(&s, &got, &e) == CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "checksum mismatch") != NULL);
#ifndef NDEBUG
    CHECK(cshm_snapshot_read(&s, &got, NULL, NULL, &e) == CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "checksum mismatch") != NULL);
#endif
    CHECK(cshm_snapshot_read_unverified(&s, &got, NULL, NULL, &e) == 0);
    payload[s.layout.nodes_offset + 1] ^= 0x20;
    CHECK(cshm_snapshot_verify(&s, &got, &e) == 0);
    CHECK(cshm_snapshot_read(&s, &got, NULL, NULL, &e) == 0);

    /* An owner past node_count, with a checksum that matches it (a bug in a
     * builder, or a writer that knows the checksum). */
    uint16_t *owners = (uint16_t *)(void *)(payload + s.layout.owners_offset);
    owners[5 * s.shape.columns] = 3;
    shared->payload_checksum = cshm_payload_checksum(payload, s.layout.size);
    CHECK(cshm_snapshot_verify(&s, &got, &e) == CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "owner index past node_count") != NULL);
    CHECK(strstr(e.message, "partition 5 column 0 names node 3 of 1") != NULL);
    owners[5 * s.shape.columns] = 0;

    /* More nodes than the map holds. */
    cshm_map_counts *counts = (cshm_map_counts *)(void *)(payload + s.layout.counts_offset);
    counts->node_count = s.shape.max_nodes + 1;
    counts->nodes_seen = s.shape.max_nodes + 1;
    shared->payload_checksum = cshm_payload_checksum(payload, s.layout.size);
    CHECK(cshm_snapshot_verify(&s, &got, &e) == CSHM_ERR_SEGMENT);
    CHECK(strstr(e.message, "counts out of range") != NULL);

    /* The next publish is whole again. */
    fill_map(&m, "second");
    CHECK(cshm_snapshot_publish(&s, &me, 1, &record, &m) == CSHM_PUBLISH_OK);
    CHECK(cshm_snapshot_verify(&s, &got, &e) == 0);

    cshm_map_free(&m);
    cshm_map_free(&got);
    cshm_segment_close(&s);
    remove_key(key);
}

typedef struct seqlock_run {
    cshm_segment *seg;
    int stop;
    int publishes;
    int mixed;
    int reads;
} seqlock_run;

static void *publisher(void *arg)
{
    seqlock_run *run = arg;
    static cshm_robust_owner owner;
    size_t area_size;
    const void *area = cshm_segment_lock_area(run->seg, &area_size);
    cshm_robust_thread_init(&owner, area, area_size);
    static const cshm_tend_record record;
    cshm_map a, b;
    cshm_map_init(&a, &run->seg->shape);
    cshm_map_init(&b, &run->seg->shape);
    fill_map(&a, "A");
    fill_map(&b, "B");
    /* At least 3000 publishes, and on until the readers have read a while
     * (a serialising runner such as valgrind may start them late). */
    double give_up = cshm_mono_now() + 20;
    for (int i = 0; i < 3000 || (__atomic_load_n(&run->reads, __ATOMIC_RELAXED) < 200 &&
                                 cshm_mono_now() < give_up);
         i++) {
        if (cshm_snapshot_publish(run->seg, &owner, 1, &record, (i & 1) ? &a : &b) == CSHM_PUBLISH_OK)
            run->publishes++;
    }
    __atomic_store_n(&run->stop, 1, __ATOMIC_RELEASE);
    cshm_map_free(&a);
    cshm_map_free(&b);
    return NULL;
}

static void *reader(void *arg)
{
    seqlock_run *run = arg;
    cshm_map m;
    cshm_map_init(&m, &run->seg->shape);
    while (!__atomic_load_n(&run->stop, __ATOMIC_ACQUIRE)) {
        if (cshm_snapshot_read(run->seg, &m, NULL, NULL, NULL) != 0)
            continue;
        /* Whole old or whole new: the node and every owner agree. */
        char expect = m.nodes[0].host[0];
        int mixed = !(expect == 'A' || expect == 'B');
        for (uint32_t p = 0; p < m.shape.partitions; p++)
            mixed |= cshm_map_owner(&m, 0, p, 0) != 0;
        cshm_error e;
        mixed |= cshm_snapshot_verify(run->seg, &m, &e) != 0;
        cshm_route_result r;
        if (cshm_snapshot_route(run->seg, NULL, 77, 0, -1, &r, NULL) == 0)
            mixed |= !(strcmp(r.host, "A") == 0 || strcmp(r.host, "B") == 0);
        __atomic_add_fetch(&run->mixed, mixed, __ATOMIC_RELAXED);
        __atomic_add_fetch(&run->reads, 1, __ATOMIC_RELAXED);
    }
    cshm_map_free(&m);
    return NULL;
}

static void test_readers_never_see_a_mix(void)
{
    uint32_t key = test_key(7);
    remove_key(key);
    cshm_segment s;
    cshm_error e;
    CHECK(cshm_segment_open(make_config("redis://h:1", key, NULL), &s, &e) == 0);
    s.header->state = cshm_state_make(1, 0, 0);
    seqlock_run run = {.seg = &s};
    pthread_t w, r1, r2;
    pthread_create(&r1, NULL, reader, &run);
    pthread_create(&r2, NULL, reader, &run);
    pthread_create(&w, NULL, publisher, &run);
    pthread_join(w, NULL);
    pthread_join(r1, NULL);
    pthread_join(r2, NULL);
    CHECK(run.publishes >= 3000);
    CHECK(run.reads >= 200);
    CHECK(run.mixed == 0);
    cshm_segment_close(&s);
    remove_key(key);
}

void suite_ownership(void)
{
    RUN(test_lock_released_by_kernel_on_sigkill);
    RUN(test_stopped_owner_keeps_lock_and_waiter_wakes_on_death);
    RUN(test_scribbled_lock_area_keeps_death_detection);
    RUN(test_publish_is_fenced_by_epoch);
    RUN(test_payload_checksum);
    RUN(test_verify_finds_what_is_wrong);
    RUN(test_readers_never_see_a_mix);
}
