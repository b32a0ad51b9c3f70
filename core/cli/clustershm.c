/*
 * clustershm - inspect clustershm segments on this host.
 *
 *   clustershm list [--json]
 *   clustershm stat --key KEY [--json]
 *   clustershm rm --key KEY [--force]
 *
 * list and stat only ever attach read-only (SHM_RDONLY): looking at a segment
 * can never disturb the processes using it.  rm removes only segments that
 * carry the clustershm magic, and by default only when no process is
 * attached.  Exit status: 0 success, 1 the segment is missing, not ours or
 * in use, 2 bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include "clock.h"
#include "map.h"
#include "segment.h"
#include "snapshot.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: clustershm list [--json]\n"
                 "       clustershm stat --key KEY [--json]\n"
                 "       clustershm rm --key KEY [--force]\n"
                 "  KEY is the segment's SysV key, in hex (0x43...) or decimal.\n"
                 "  rm refuses a segment with attached processes unless --force.\n");
}

static void json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static int stat_segment(uint32_t key, int as_json)
{
    cshm_segment seg;
    cshm_error error;
    if (cshm_segment_inspect(key, &seg, &error) != 0) {
        fprintf(stderr, "clustershm: %s\n", error.message);
        return 1;
    }
    const cshm_seg_header *h = seg.header;
    cshm_map map;
    if (cshm_map_init(&map, &seg.shape) != 0) {
        fprintf(stderr, "clustershm: out of memory\n");
        cshm_segment_close(&seg);
        return 1;
    }
    /* The whole snapshot's verdict first (its own copy), then the copy we
     * show, which is shown whatever its checksum says. */
    cshm_error verify_error;
    memset(&verify_error, 0, sizeof verify_error);
    int verified = cshm_snapshot_verify(&seg, &map, &verify_error);
    uint64_t publisher_epoch = 0;
    cshm_tend_record record;
    memset(&record, 0, sizeof record);
    int has_map = cshm_snapshot_read_unverified(&seg, &map, &record, &publisher_epoch, &error);
    if (has_map < 0) {
        fprintf(stderr, "clustershm: %s\n", error.message);
        cshm_map_free(&map);
        cshm_segment_close(&seg);
        return 1;
    }
    uint32_t n = has_map == 0 ? map.counts->node_count : 0;
    uint32_t *masters = calloc(n ? n : 1, sizeof *masters);
    uint32_t *replicas = calloc(n ? n : 1, sizeof *replicas);
    if (masters == NULL || replicas == NULL) {
        fprintf(stderr, "clustershm: out of memory\n");
        return 1;
    }
    if (has_map == 0)
        cshm_map_count_partitions(&map, masters, replicas);

    uint64_t state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
    const char *last_error = record.last_error;
    const char *identity = seg.identity;
    const char *driver = seg.driver_kind == CSHM_DRIVER_REDIS ? "redis" : "aerospike";
    int empty = has_map == 0 && (map.counts->flags & CSHM_MAP_EMPTY);
    double tended_at = has_map == 0 ? (double)map.counts->tended_at_ms / 1000.0 : 0;
    double age = tended_at > 0 ? (double)cshm_wall_ms() / 1000.0 - tended_at : 0;
    int stale = has_map == 0 && (map.counts->flags & CSHM_MAP_STALE);
    uint32_t attached = cshm_segment_attached(&seg) - 1; /* not counting ourselves */
    unsigned tender_pid = cshm_segment_tender_pid(h);
    unsigned long long generation = has_map == 0 ? (unsigned long long)map.counts->generation : 0;

    if (as_json) {
        printf("{\"key\":\"0x%08x\",\"shmid\":%d,\"size\":%llu,\"attached\":%u,", (unsigned)key,
               seg.shmid, (unsigned long long)seg.size, attached);
        printf("\"driver\":\"%s\",\"identity\":", driver);
        json_string(identity);
        printf(",\"mode\":\"0%o\",\"creator_uid\":%u,\"created_at\":%.3f,", (unsigned)seg.mode,
               (unsigned)seg.creator_uid, (double)seg.created_at_ms / 1000.0);
        printf("\"credentials\":%s,\"tend_interval\":%g,\"takeover_timeout\":%g,"
               "\"min_refresh_interval\":%g,",
               seg.credentials_kind != CSHM_CREDENTIALS_NONE ? "true" : "false",
               seg.tend_interval, seg.takeover_timeout, seg.min_refresh_interval);
        printf("\"tender_pid\":%u,\"epoch\":%u,\"publisher_epoch\":%llu,\"generation\":%llu,",
               tender_pid, (unsigned)cshm_state_epoch(state),
               (unsigned long long)publisher_epoch, generation);
        printf("\"tended_at\":%.3f,\"age\":%.3f,\"stale\":%s,", tended_at, age,
               stale ? "true" : "false");
        printf("\"snapshot_ok\":%s,\"snapshot_error\":", verified == 0 ? "true" : "false");
        json_string(verified == 0 ? "" : verify_error.message);
        printf(",");
        printf("\"has_map\":%s,\"tends\":%llu,\"tend_failures\":%llu,\"handoffs\":%llu,"
               "\"dead_takeovers\":%llu,\"hung_takeovers\":%llu,\"step_downs\":%llu,"
               "\"failures_in_row\":%u,",
               has_map == 0 && !empty ? "true" : "false", (unsigned long long)record.tends,
               (unsigned long long)record.tend_failures, (unsigned long long)record.handoffs,
               (unsigned long long)record.dead_takeovers,
               (unsigned long long)record.hung_takeovers, (unsigned long long)record.step_downs,
               (unsigned)record.failures_in_row);
        printf("\"step_down_history\":[");
        for (uint32_t i = 0; i < record.step_down_count; i++) {
            const cshm_step_down *d = &record.step_down_history[i];
            printf("%s{\"pid\":%u,\"epoch\":%u,\"at\":%.3f,\"failures\":%u,\"reason\":",
                   i ? "," : "", (unsigned)d->pid, (unsigned)d->epoch, (double)d->at_ms / 1000.0,
                   (unsigned)d->failures);
            json_string(d->reason);
            printf("}");
        }
        printf("],");
        printf("\"max_nodes\":%u,\"max_namespaces\":%u,\"partitions\":%u,",
               (unsigned)seg.shape.max_nodes, (unsigned)seg.shape.max_namespaces,
               (unsigned)seg.shape.partitions);
        printf("\"nodes_seen\":%u,\"nodes_truncated\":%s,\"last_error\":",
               has_map == 0 ? (unsigned)map.counts->nodes_seen : 0,
               has_map == 0 && (map.counts->flags & CSHM_MAP_NODES_TRUNCATED) ? "true" : "false");
        json_string(last_error);
        printf(",\"namespaces\":[");
        for (uint32_t ns = 0; has_map == 0 && ns < map.counts->ns_count; ns++) {
            printf(ns ? "," : "");
            json_string(map.namespaces[ns].name);
        }
        printf("],\"nodes\":[");
        for (uint32_t i = 0; i < n; i++) {
            printf(i ? ",{\"name\":" : "{\"name\":");
            json_string(map.nodes[i].name);
            printf(",\"host\":");
            json_string(map.nodes[i].host);
            printf(",\"port\":%u,\"active\":%s,\"is_master\":%s,\"partitions\":%u,"
                   "\"replica_partitions\":%u}",
                   (unsigned)map.nodes[i].port, map.nodes[i].active ? "true" : "false",
                   map.nodes[i].is_master ? "true" : "false", (unsigned)masters[i],
                   (unsigned)replicas[i]);
        }
        printf("]}\n");
    } else {
        printf("key          0x%08x\nshmid        %d\nsize         %llu bytes\n", (unsigned)key,
               seg.shmid, (unsigned long long)seg.size);
        printf("driver       %s\nidentity     %s\nmode         0%o (creator uid %u)%s\n", driver,
               identity, (unsigned)seg.mode, (unsigned)seg.creator_uid,
               seg.credentials_kind != CSHM_CREDENTIALS_NONE ? ", with credentials" : "");
        printf("timing       tend_interval %g s, takeover_timeout %g s, min_refresh_interval "
               "%g s\n",
               seg.tend_interval, seg.takeover_timeout, seg.min_refresh_interval);
        printf("attached     %u processes\ntender pid   %u\nepoch        %u\n", attached,
               tender_pid, (unsigned)cshm_state_epoch(state));
        printf("generation   %llu\n", generation);
        if (has_map != 0)
            printf("snapshot     none published\n");
        else if (verified == 0)
            printf("snapshot     checksum ok\n");
        else
            printf("snapshot     %s\n", verify_error.message);
        if (tended_at > 0)
            printf("tended       %.1f s ago%s\n", age, stale ? " (STALE: cluster unreachable)" : "");
        else
            printf("tended       never%s\n", empty ? " (no tend has reached the cluster)" : "");
        printf("tends        %llu (%llu failed, %u in a row now); handoffs %llu, takeovers after "
               "death %llu, after hang %llu; step-downs %llu\n",
               (unsigned long long)record.tends, (unsigned long long)record.tend_failures,
               (unsigned)record.failures_in_row, (unsigned long long)record.handoffs,
               (unsigned long long)record.dead_takeovers,
               (unsigned long long)record.hung_takeovers, (unsigned long long)record.step_downs);
        if (last_error[0])
            printf("last error   %s\n", last_error);
        for (uint32_t i = 0; i < record.step_down_count; i++) {
            const cshm_step_down *d = &record.step_down_history[i];
            printf("%s pid %u (epoch %u) stepped down %.1f s ago after %u failed tends: %s\n",
                   i == 0 ? "stepped down" : "            ", (unsigned)d->pid, (unsigned)d->epoch,
                   (double)cshm_wall_ms() / 1000.0 - (double)d->at_ms / 1000.0,
                   (unsigned)d->failures, d->reason);
        }
        printf("nodes        %u (max %u)\n", (unsigned)n, (unsigned)seg.shape.max_nodes);
        for (uint32_t i = 0; i < n; i++)
            printf("  %-40s %s:%u %-7s %-8s %5u partitions, %5u replica\n", map.nodes[i].name,
                   map.nodes[i].host, (unsigned)map.nodes[i].port,
                   map.nodes[i].is_master ? "master" : "replica",
                   map.nodes[i].active ? "active" : "INACTIVE", (unsigned)masters[i],
                   (unsigned)replicas[i]);
    }
    free(masters);
    free(replicas);
    cshm_map_free(&map);
    cshm_segment_close(&seg);
    return 0;
}

/* Every shmid on the host, from the kernel's own table. */
static int for_each_shmid(void (*visit)(int shmid, void *arg), void *arg)
{
    FILE *f = fopen("/proc/sysvipc/shm", "r");
    if (f == NULL) {
        fprintf(stderr, "clustershm: cannot read /proc/sysvipc/shm: %s\n", strerror(errno));
        return -1;
    }
    char line[512];
    if (fgets(line, sizeof line, f) == NULL) { /* the header line */
        fclose(f);
        return 0;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        long long key;
        int shmid;
        if (sscanf(line, "%lld %d", &key, &shmid) == 2)
            visit(shmid, arg);
    }
    fclose(f);
    return 0;
}

typedef struct list_state {
    int as_json;
    int count;
} list_state;

static void list_one(int shmid, void *arg)
{
    list_state *ls = arg;
    cshm_segment seg;
    cshm_error error;
    /* Segments of other programs (or unreadable ones) are not ours to list. */
    if (cshm_segment_inspect_shmid(shmid, &seg, &error) != 0)
        return;
    const cshm_seg_header *h = seg.header;
    cshm_map_counts counts;
    int has_map = cshm_snapshot_read_counts(&seg, &counts, NULL, &error) == 0;
    uint64_t state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
    const char *identity = seg.identity;
    double age = has_map && counts.tended_at_ms
                     ? (double)(cshm_wall_ms() - counts.tended_at_ms) / 1000.0 : -1;
    uint32_t attached = cshm_segment_attached(&seg) - 1; /* not counting ourselves */
    if (ls->as_json) {
        printf("%s{\"key\":\"0x%08x\",\"shmid\":%d,\"size\":%llu,\"attached\":%u,"
               "\"driver\":\"%s\",\"tender_pid\":%u,\"epoch\":%u,\"generation\":%llu,"
               "\"age\":%.3f,\"stale\":%s,\"identity\":",
               ls->count ? "," : "", (unsigned)seg.key, seg.shmid, (unsigned long long)seg.size,
               attached, seg.driver_kind == CSHM_DRIVER_REDIS ? "redis" : "aerospike",
               cshm_segment_tender_pid(h), (unsigned)cshm_state_epoch(state),
               has_map ? (unsigned long long)counts.generation : 0ull, age,
               has_map && (counts.flags & CSHM_MAP_STALE) ? "true" : "false");
        json_string(identity);
        printf("}");
    } else {
        if (ls->count == 0)
            printf("%-10s %-8s %9s %8s %-9s %7s %5s %10s %8s  %s\n", "key", "shmid", "size",
                   "attached", "driver", "tender", "epoch", "generation", "age", "cluster");
        char age_text[32];
        if (age >= 0)
            snprintf(age_text, sizeof age_text, "%.1fs%s", age,
                     counts.flags & CSHM_MAP_STALE ? "!" : "");
        else
            snprintf(age_text, sizeof age_text, "never");
        printf("0x%08x %-8d %9llu %8u %-9s %7u %5u %10llu %8s  %s\n", (unsigned)seg.key, seg.shmid,
               (unsigned long long)seg.size, attached,
               seg.driver_kind == CSHM_DRIVER_REDIS ? "redis" : "aerospike",
               cshm_segment_tender_pid(h), (unsigned)cshm_state_epoch(state),
               has_map ? (unsigned long long)counts.generation : 0ull, age_text, identity);
    }
    ls->count++;
    cshm_segment_close(&seg);
}

static int list_segments(int as_json)
{
    list_state ls = {.as_json = as_json, .count = 0};
    if (as_json)
        printf("[");
    if (for_each_shmid(list_one, &ls) != 0)
        return 1;
    if (as_json)
        printf("]\n");
    else if (ls.count == 0)
        printf("no clustershm segments on this host\n");
    return 0;
}

static int remove_segment(uint32_t key, int force)
{
    cshm_segment seg;
    cshm_error error;
    /* Only a segment that proves to be ours is removed: never someone
     * else's segment that happens to sit at the key. */
    if (cshm_segment_inspect(key, &seg, &error) != 0) {
        fprintf(stderr, "clustershm: %s; not removed (use ipcrm for segments that are not "
                        "clustershm's)\n",
                error.message);
        return 1;
    }
    int shmid = seg.shmid;
    uint32_t attached = cshm_segment_attached(&seg) - 1;
    unsigned tender = cshm_segment_tender_pid(seg.header);
    cshm_segment_close(&seg);
    if (attached > 0 && !force) {
        fprintf(stderr,
                "clustershm: segment 0x%08x has %u attached processes (tender pid %u); stop them "
                "first, or use --force (they keep working on the removed segment while new "
                "processes create a new one)\n",
                (unsigned)key, attached, tender);
        return 1;
    }
    if (shmctl(shmid, IPC_RMID, NULL) != 0) {
        fprintf(stderr, "clustershm: cannot remove segment 0x%08x (shmid %d): %s\n",
                (unsigned)key, shmid, strerror(errno));
        return 1;
    }
    printf("removed segment 0x%08x (shmid %d)%s\n", (unsigned)key, shmid,
           attached ? "; attached processes keep it until they detach" : "");
    return 0;
}

static int parse_key(const char *text, uint32_t *key)
{
    char *end;
    unsigned long long v = strtoull(text, &end, 0);
    if (*text == '\0' || *end != '\0' || v > 0xFFFFFFFFull) {
        fprintf(stderr, "clustershm: bad key '%s': give a SysV key in hex (0x43...) or decimal\n",
                text);
        return -1;
    }
    *key = (uint32_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *command = argv[1];
    int as_json = 0, has_key = 0, force = 0;
    uint32_t key = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && strcmp(command, "rm") != 0)
            as_json = 1;
        else if (strcmp(argv[i], "--force") == 0 && strcmp(command, "rm") == 0)
            force = 1;
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc && strcmp(command, "list") != 0) {
            if (parse_key(argv[++i], &key) != 0)
                return 2;
            has_key = 1;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (strcmp(command, "list") == 0)
        return list_segments(as_json);
    if ((strcmp(command, "stat") == 0 || strcmp(command, "rm") == 0) && !has_key) {
        usage(stderr);
        return 2;
    }
    if (strcmp(command, "stat") == 0)
        return stat_segment(key, as_json);
    if (strcmp(command, "rm") == 0)
        return remove_segment(key, force);
    fprintf(stderr, "clustershm: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
