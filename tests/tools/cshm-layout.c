/*
 * cshm-layout.c - prints where the parts of a segment header are, as one
 * JSON object, for tests that write into a live segment from outside (the
 * hostile-segment test of tests/integration) or read one (the reliability
 * suites, support/shm.py).  control_start is also where the write-once part
 * of the header ends; slot_stride is the offset of the header field that
 * holds a segment's slot stride.  The offsets come from the compiler (offsetof on
 * core/src/segment.h), never from a copy of the layout in the tests.
 *
 * Slots: slot i starts at header_size + i * stride, where stride =
 * (segment size - header_size) / slots; its payload starts slot_head_size +
 * record_size bytes in, and the payload begins with the counts block
 * (counts_size bytes, a multiple of 8), followed by the node table.
 */
#include <stddef.h>
#include <stdio.h>

#include "map.h"
#include "segment.h"

int main(void)
{
    printf("{\"layout_version\":%u,\"header_size\":%u,\"prefix_size\":%zu,"
           "\"control_start\":%zu,\"control_end\":%zu,"
           "\"owner_locks\":%zu,\"slot_locks\":%zu,\"locks_end\":%zu,"
           "\"state\":%zu,\"heartbeat\":%zu,\"tender\":%zu,\"refresh_seq\":%zu,"
           "\"slot_stride\":%zu,",
           (unsigned)CSHM_LAYOUT_VERSION, (unsigned)CSHM_HEADER_SIZE, sizeof(cshm_seg_prefix),
           offsetof(cshm_seg_header, state), offsetof(cshm_seg_header, owner_locks),
           offsetof(cshm_seg_header, owner_locks), offsetof(cshm_seg_header, slot_locks),
           offsetof(cshm_seg_header, slot_locks) + sizeof(((cshm_seg_header *)0)->slot_locks),
           offsetof(cshm_seg_header, state), offsetof(cshm_seg_header, heartbeat),
           offsetof(cshm_seg_header, tender), offsetof(cshm_seg_header, refresh_seq),
           offsetof(cshm_seg_header, slot_stride));
    printf("\"slots\":%u,\"slot_head_size\":%zu,\"slot_seq\":%zu,\"slot_epoch\":%zu,"
           "\"slot_locks_stride\":%zu,\"record_size\":%zu,\"record_tends\":%zu,"
           "\"record_publisher_pid\":%zu,\"record_checksum\":%zu,"
           "\"counts_generation\":%zu,\"counts_node_count\":%zu,\"counts_size\":%zu}\n",
           (unsigned)CSHM_SLOTS, sizeof(cshm_slot_head), offsetof(cshm_slot_head, seq),
           offsetof(cshm_slot_head, epoch), sizeof(cshm_robust_lock), sizeof(cshm_tend_record),
           offsetof(cshm_tend_record, tends), offsetof(cshm_tend_record, publisher_pid),
           offsetof(cshm_tend_record, payload_checksum), offsetof(cshm_map_counts, generation),
           offsetof(cshm_map_counts, node_count), sizeof(cshm_map_counts));
    return 0;
}
