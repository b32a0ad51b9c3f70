/*
 * cshm-monitor.c - watches one live segment from outside and logs every
 * change of tender and every publish it sees, for the reliability suites
 * (tests/reliability).
 *
 *   cshm-monitor <key> <seconds>
 *
 * It attaches read-only (cshm_segment_inspect, as `clustershm stat` does:
 * it never writes a byte of the segment) and then loops: sleep on the state
 * word's low half (every publish and every change of tender wakes it; a
 * 1 ms bound covers a wake it missed), read the state word, the tender word
 * and the published slot's head, record and counts under the slot's
 * seqlock, and print a line whenever what it read differs from the last
 * line:
 *
 *   ready <shmid>                                  once attached
 *   p <t> <state_epoch> <slot> <slot_epoch> <publisher_pid> <generation>
 *     <tends> <tender_epoch> <tender_pid> <checksum>
 *   end <observations> <lines> <torn_retries>      at the end
 *
 * t is CLOCK_MONOTONIC in seconds (Python's time.monotonic() on Linux), so
 * a test can put its own kills and stops on the same clock.  slot is -1
 * while nothing is published.  It ends after <seconds>, at SIGTERM or
 * SIGINT.  Exit status 0, 2 on bad usage, 1
 * when the segment cannot be inspected within the first 10 s.
 *
 * It uses the core's internal headers (segment.h, snapshot.h), like
 * cshm-layout.c, because it reads words no public call exposes: the
 * publisher pid and epoch of the published slot.  It is a test tool: its
 * lines are what a fast outside observer saw, and publishes that came and
 * went between two of its wake-ups are not in them.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "robust_lock.h"
#include "segment.h"
#include "snapshot.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct observation {
    uint32_t state_epoch;
    int slot;
    uint64_t slot_epoch;
    uint32_t publisher_pid;
    uint64_t generation;
    uint64_t tends;
    uint32_t tender_epoch;
    uint32_t tender_pid;
    uint64_t checksum;
} observation;

/* One consistent look at the segment.  Returns 0, or -1 when the slot kept
 * changing under the seqlock for a while (counted by the caller). */
static int observe(const cshm_segment *seg, observation *o)
{
    const cshm_seg_header *h = seg->header;
    for (int attempt = 0; attempt < 1000; attempt++) {
        uint64_t state = __atomic_load_n(&h->state, __ATOMIC_ACQUIRE);
        uint64_t tender = __atomic_load_n(&h->tender, __ATOMIC_ACQUIRE);
        memset(o, 0, sizeof *o);
        o->state_epoch = cshm_state_epoch(state);
        o->tender_epoch = (uint32_t)(tender >> 32);
        o->tender_pid = (uint32_t)tender;
        uint32_t slot_plus_one = cshm_state_slot_plus_one(state);
        if (slot_plus_one == 0 || slot_plus_one > CSHM_SLOTS) {
            o->slot = -1;
            return 0;
        }
        uint32_t slot = slot_plus_one - 1;
        const cshm_slot_head *head = cshm_segment_slot(seg, slot);
        const cshm_tend_record *record = cshm_segment_record(seg, slot);
        const cshm_map_counts *counts =
            (const cshm_map_counts *)(const void *)(cshm_segment_payload(seg, slot) +
                                                    seg->layout.counts_offset);
        uint64_t seq = __atomic_load_n(&head->seq, __ATOMIC_ACQUIRE);
        if (seq & 1)
            continue;
        o->slot = (int)slot;
        o->slot_epoch = __atomic_load_n(&head->epoch, __ATOMIC_RELAXED);
        o->publisher_pid = __atomic_load_n(&record->publisher_pid, __ATOMIC_RELAXED);
        o->tends = __atomic_load_n(&record->tends, __ATOMIC_RELAXED);
        o->checksum = __atomic_load_n(&record->payload_checksum, __ATOMIC_RELAXED);
        o->generation = __atomic_load_n(&counts->generation, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&head->seq, __ATOMIC_RELAXED) == seq)
            return 0;
    }
    return -1;
}

static int same(const observation *a, const observation *b)
{
    return a->state_epoch == b->state_epoch && a->slot == b->slot &&
           a->slot_epoch == b->slot_epoch && a->publisher_pid == b->publisher_pid &&
           a->generation == b->generation && a->tends == b->tends &&
           a->tender_epoch == b->tender_epoch && a->tender_pid == b->tender_pid &&
           a->checksum == b->checksum;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: cshm-monitor <key> <seconds>\n");
        return 2;
    }
    char *end;
    unsigned long long key = strtoull(argv[1], &end, 0);
    double seconds = strtod(argv[2], NULL);
    if (*end != '\0' || key > 0xFFFFFFFFull || seconds <= 0) {
        fprintf(stderr, "usage: cshm-monitor <key> <seconds>\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    cshm_segment seg;
    cshm_error error;
    double give_up = mono_now() + 10;
    while (cshm_segment_inspect((uint32_t)key, &seg, &error) != 0) {
        if (mono_now() > give_up || stop_requested) {
            fprintf(stderr, "cshm-monitor: %s\n", error.message);
            return 1;
        }
        usleep(2000);
    }
    printf("ready %d\n", seg.shmid);
    fflush(stdout);

    observation last, now;
    memset(&last, 0xFF, sizeof last);
    long observations = 0, lines = 0, torn = 0;
    double deadline = mono_now() + seconds;
    uint32_t *futex = cshm_state_futex(seg.header);
    while (!stop_requested) {
        uint32_t seen = __atomic_load_n(futex, __ATOMIC_ACQUIRE);
        if (observe(&seg, &now) != 0) {
            torn++;
            continue;
        }
        observations++;
        double t = mono_now();
        if (!same(&now, &last)) {
            printf("p %.6f %u %d %llu %u %llu %llu %u %u %016llx\n", t, (unsigned)now.state_epoch,
                   now.slot, (unsigned long long)now.slot_epoch, (unsigned)now.publisher_pid,
                   (unsigned long long)now.generation, (unsigned long long)now.tends,
                   (unsigned)now.tender_epoch, (unsigned)now.tender_pid,
                   (unsigned long long)now.checksum);
            lines++;
            last = now;
        }
        if (t >= deadline)
            break;
        cshm_futex_wait(futex, seen, 0.001);
    }
    printf("end %ld %ld %ld\n", observations, lines, torn);
    fflush(stdout);
    cshm_segment_close(&seg);
    return 0;
}
