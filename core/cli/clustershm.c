/*
 * clustershm - inspect clustershm segments on this host.
 *
 *   clustershm stat --key KEY [--json]
 *
 * The CLI only ever attaches read-only (SHM_RDONLY): looking at a segment can
 * never disturb the processes using it.  Exit status: 0 success, 1 the segment
 * is missing or not usable, 2 bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>

#include "clock.h"
#include "map.h"
#include "segment.h"
#include "snapshot.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: clustershm stat --key KEY [--json]\n"
                 "  KEY is the segment's SysV key, in hex (0x43...) or decimal.\n");
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
    uint64_t publisher_epoch = 0;
    int has_map = cshm_snapshot_read(&seg, &map, &publisher_epoch, &error);
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
    char last_error[CSHM_ERROR_TEXT];
    cshm_shm_load_words(last_error, h->last_error, sizeof last_error);
    last_error[sizeof last_error - 1] = '\0';
    char identity[CSHM_IDENTITY_MAX];
    memcpy(identity, h->identity, sizeof identity);
    identity[sizeof identity - 1] = '\0';
    const char *driver = h->driver_kind == CSHM_DRIVER_REDIS ? "redis" : "aerospike";
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
        printf(",\"mode\":\"0%o\",\"creator_uid\":%u,\"created_at\":%.3f,", (unsigned)h->mode,
               (unsigned)h->creator_uid, (double)h->created_at_ms / 1000.0);
        printf("\"tender_pid\":%u,\"epoch\":%u,\"publisher_epoch\":%llu,\"generation\":%llu,",
               tender_pid, (unsigned)cshm_state_epoch(state),
               (unsigned long long)publisher_epoch, generation);
        printf("\"tended_at\":%.3f,\"age\":%.3f,\"stale\":%s,", tended_at, age,
               stale ? "true" : "false");
        printf("\"tends\":%llu,\"tend_failures\":%llu,\"handoffs\":%llu,\"dead_takeovers\":%llu,"
               "\"hung_takeovers\":%llu,",
               (unsigned long long)h->tends, (unsigned long long)h->tend_failures,
               (unsigned long long)h->handoffs, (unsigned long long)h->dead_takeovers,
               (unsigned long long)h->hung_takeovers);
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
        printf("driver       %s\nidentity     %s\nmode         0%o (creator uid %u)\n", driver,
               identity, (unsigned)h->mode, (unsigned)h->creator_uid);
        printf("attached     %u processes\ntender pid   %u\nepoch        %u\n", attached,
               tender_pid, (unsigned)cshm_state_epoch(state));
        printf("generation   %llu\n", generation);
        if (tended_at > 0)
            printf("tended       %.1f s ago%s\n", age, stale ? " (STALE: cluster unreachable)" : "");
        else
            printf("tended       never\n");
        printf("tends        %llu (%llu failed); handoffs %llu, takeovers after death %llu, "
               "after hang %llu\n",
               (unsigned long long)h->tends, (unsigned long long)h->tend_failures,
               (unsigned long long)h->handoffs, (unsigned long long)h->dead_takeovers,
               (unsigned long long)h->hung_takeovers);
        if (last_error[0])
            printf("last error   %s\n", last_error);
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
    if (strcmp(argv[1], "stat") == 0) {
        int as_json = 0, has_key = 0;
        uint32_t key = 0;
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--json") == 0)
                as_json = 1;
            else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
                if (parse_key(argv[++i], &key) != 0)
                    return 2;
                has_key = 1;
            } else {
                usage(stderr);
                return 2;
            }
        }
        if (!has_key) {
            usage(stderr);
            return 2;
        }
        return stat_segment(key, as_json);
    }
    fprintf(stderr, "clustershm: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
