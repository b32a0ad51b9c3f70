/*
 * cshm-layout.c - prints where the parts of a segment are, as one JSON
 * object, for tests that write into a segment from outside (the hostile-
 * segment tests of tests/integration).  The offsets come from the compiler
 * (offsetof on core/src/segment.h and core/src/map.h) and the payload layout
 * from cshm_map_layout_of() in core/src/map.c, never from a copy of the
 * layout in the tests.
 *
 *   cshm-layout                      header, slot head, record, counts, node
 *   cshm-layout P N NS C R           the same, plus "payload": the regions of
 *                                    a map payload of shape partitions=P,
 *                                    max_nodes=N, max_namespaces=NS,
 *                                    columns=C, has_regimes=R (read the shape
 *                                    from a live header at "shape")
 *
 * Offsets of header fields are from the start of the segment; slot_*,
 * record_* are from the start of a slot; counts_*, node_* from the start of
 * their struct.  A slot i starts at header_size + i * slot_stride (the
 * stride is in the header, at "slot_stride").
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "map.h"
#include "segment.h"

#define HEADER_FIELD(name) offsetof(cshm_seg_header, name)

int main(int argc, char **argv)
{
    printf("{\"header_size\":%u,\"prefix_size\":%zu,"
           "\"control_start\":%zu,\"control_end\":%zu,"
           "\"owner_locks\":%zu,\"slot_locks\":%zu,\"locks_end\":%zu,"
           "\"state\":%zu,\"heartbeat\":%zu,\"tender\":%zu,\"refresh_seq\":%zu,",
           (unsigned)CSHM_HEADER_SIZE, sizeof(cshm_seg_prefix), HEADER_FIELD(state),
           HEADER_FIELD(owner_locks), HEADER_FIELD(owner_locks), HEADER_FIELD(slot_locks),
           HEADER_FIELD(slot_locks) + sizeof(((cshm_seg_header *)0)->slot_locks),
           HEADER_FIELD(state), HEADER_FIELD(heartbeat), HEADER_FIELD(tender),
           HEADER_FIELD(refresh_seq));
    /* The write-once part: prefix, layout, identity, timing. */
    printf("\"magic\":%zu,\"init_state\":%zu,\"layout_version\":%zu,\"header_size_field\":%zu,"
           "\"byte_order\":%zu,\"total_size\":%zu,\"driver_kind\":%zu,\"pointer_size\":%zu,"
           "\"shape\":%zu,\"shape_size\":%zu,\"shape_partitions\":%zu,\"shape_max_nodes\":%zu,"
           "\"shape_max_namespaces\":%zu,\"shape_columns\":%zu,\"shape_has_regimes\":%zu,"
           "\"slot_count\":%zu,\"owner_lock_count\":%zu,\"lock_size\":%zu,"
           "\"node_entry_size\":%zu,\"record_size_field\":%zu,\"payload_size\":%zu,"
           "\"slot_stride\":%zu,\"slots_offset\":%zu,\"identity_len\":%zu,\"identity\":%zu,"
           "\"tend_interval_us\":%zu,\"takeover_timeout_us\":%zu,"
           "\"min_refresh_interval_us\":%zu,\"op_timeout_us\":%zu,\"layout_end\":%zu,"
           "\"slot_writer_epoch\":%zu,",
           HEADER_FIELD(prefix.magic), HEADER_FIELD(prefix.init_state),
           HEADER_FIELD(prefix.layout_version), HEADER_FIELD(prefix.header_size),
           HEADER_FIELD(prefix.byte_order), HEADER_FIELD(prefix.total_size),
           HEADER_FIELD(driver_kind), HEADER_FIELD(pointer_size), HEADER_FIELD(shape),
           sizeof(cshm_map_shape), HEADER_FIELD(shape.partitions), HEADER_FIELD(shape.max_nodes),
           HEADER_FIELD(shape.max_namespaces), HEADER_FIELD(shape.columns),
           HEADER_FIELD(shape.has_regimes), HEADER_FIELD(slot_count),
           HEADER_FIELD(owner_lock_count), HEADER_FIELD(lock_size), HEADER_FIELD(node_entry_size),
           HEADER_FIELD(record_size), HEADER_FIELD(payload_size), HEADER_FIELD(slot_stride),
           HEADER_FIELD(slots_offset), HEADER_FIELD(identity_len), HEADER_FIELD(identity),
           HEADER_FIELD(tend_interval_us), HEADER_FIELD(takeover_timeout_us),
           HEADER_FIELD(min_refresh_interval_us), HEADER_FIELD(op_timeout_us),
           HEADER_FIELD(op_timeout_us) + sizeof(uint64_t), HEADER_FIELD(slot_writer_epoch));
    printf("\"layout_version_value\":%u,\"magic_value\":\"%s\",\"init_ready\":%u,"
           "\"init_busy\":%u,\"slots\":%u,\"owner_lock_total\":%u,\"no_node\":%u,",
           (unsigned)CSHM_LAYOUT_VERSION, CSHM_MAGIC, (unsigned)CSHM_INIT_READY,
           (unsigned)CSHM_INIT_BUSY, (unsigned)CSHM_SLOTS, (unsigned)CSHM_OWNER_LOCKS,
           (unsigned)CSHM_NO_NODE);
    /* A slot: seqlock head, the tender's record, the payload. */
    printf("\"slot_head_size\":%zu,\"slot_seq\":%zu,\"slot_epoch\":%zu,\"record_size\":%zu,"
           "\"record\":%zu,\"record_last_error\":%zu,\"record_step_down_count\":%zu,"
           "\"record_failures_in_row\":%zu,\"payload\":%zu,",
           sizeof(cshm_slot_head), offsetof(cshm_slot_head, seq), offsetof(cshm_slot_head, epoch),
           sizeof(cshm_tend_record), sizeof(cshm_slot_head),
           sizeof(cshm_slot_head) + offsetof(cshm_tend_record, last_error),
           sizeof(cshm_slot_head) + offsetof(cshm_tend_record, step_down_count),
           sizeof(cshm_slot_head) + offsetof(cshm_tend_record, failures_in_row),
           sizeof(cshm_slot_head) + sizeof(cshm_tend_record));
    printf("\"counts_size\":%zu,\"counts_generation\":%zu,\"counts_flags\":%zu,"
           "\"counts_node_count\":%zu,\"counts_ns_count\":%zu,"
           "\"node_size\":%zu,\"node_host\":%zu,\"node_port\":%zu,\"namespace_size\":%zu",
           sizeof(cshm_map_counts), offsetof(cshm_map_counts, generation),
           offsetof(cshm_map_counts, flags), offsetof(cshm_map_counts, node_count),
           offsetof(cshm_map_counts, ns_count), sizeof(cshm_map_node),
           offsetof(cshm_map_node, host), offsetof(cshm_map_node, port),
           sizeof(cshm_map_namespace));
    if (argc == 6) {
        cshm_map_shape shape = {
            .partitions = (uint32_t)strtoul(argv[1], NULL, 10),
            .max_nodes = (uint32_t)strtoul(argv[2], NULL, 10),
            .max_namespaces = (uint32_t)strtoul(argv[3], NULL, 10),
            .columns = (uint32_t)strtoul(argv[4], NULL, 10),
            .has_regimes = (uint32_t)strtoul(argv[5], NULL, 10),
        };
        cshm_map_layout l;
        if (cshm_map_layout_of(&shape, &l) != 0) {
            printf("}\n");
            fprintf(stderr, "cshm-layout: shape out of range\n");
            return 2;
        }
        printf(",\"payload_layout\":{\"counts\":%zu,\"nodes\":%zu,\"namespaces\":%zu,"
               "\"owners\":%zu,\"regimes\":%zu,\"size\":%zu}",
               l.counts_offset, l.nodes_offset, l.namespaces_offset, l.owners_offset,
               l.regimes_offset, l.size);
    }
    printf("}\n");
    return 0;
}
