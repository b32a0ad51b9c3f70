/*
 * cshm-layout.c - prints where the parts of a segment header are, as one
 * JSON object, for tests that write into a live segment from outside (the
 * hostile-segment test of tests/integration) or read it (support/shm.py).
 * control_start is also where the write-once part of the header ends.  The offsets come from the
 * compiler (offsetof on core/src/segment.h), never from a copy of the
 * layout in the tests.
 */
#include <stddef.h>
#include <stdio.h>

#include "segment.h"

int main(void)
{
    printf("{\"layout_version\":%u,\"header_size\":%u,\"prefix_size\":%zu,"
           "\"control_start\":%zu,\"control_end\":%zu,"
           "\"owner_locks\":%zu,\"slot_locks\":%zu,\"locks_end\":%zu,"
           "\"state\":%zu,\"heartbeat\":%zu,\"tender\":%zu,\"refresh_seq\":%zu,"
           "\"slot_stride\":%zu,\"slot_head_size\":%zu}\n",
           (unsigned)CSHM_LAYOUT_VERSION, (unsigned)CSHM_HEADER_SIZE, sizeof(cshm_seg_prefix),
           offsetof(cshm_seg_header, state), offsetof(cshm_seg_header, owner_locks),
           offsetof(cshm_seg_header, owner_locks), offsetof(cshm_seg_header, slot_locks),
           offsetof(cshm_seg_header, slot_locks) + sizeof(((cshm_seg_header *)0)->slot_locks),
           offsetof(cshm_seg_header, state), offsetof(cshm_seg_header, heartbeat),
           offsetof(cshm_seg_header, tender), offsetof(cshm_seg_header, refresh_seq),
           offsetof(cshm_seg_header, slot_stride), sizeof(cshm_slot_head));
    return 0;
}
