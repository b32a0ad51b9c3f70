/*
 * fuzz_segment_header.c - feeds a segment header to the validator every
 * attach runs (core/src/segment.c, through cshm_segment_validate_buffer: the
 * header is copied once and the copy checked, with no configuration, as
 * `clustershm list` inspects a segment).  A same-uid process can write
 * anything into a segment's header, so every byte of it is untrusted.
 *
 * Input layout: 8 bytes, the size of the segment (little-endian, what
 * shm_segsz says), then the header's bytes, zero-padded to CSHM_HEADER_SIZE
 * in an aligned buffer.  The corpus holds headers read from real segments.
 *
 * Checks, besides the sanitizers: acceptance returns 0, refusal
 * CSHM_ERR_SEGMENT with a message and the segment view left empty; an
 * accepted header gives every bound the readers (snapshot.c, client.c) rely
 * on: a shape inside map.h's ranges whose layout is the validated one, four
 * slots of a 64-byte multiple stride that holds a slot head, a record and
 * the payload, every slot's payload 64-byte aligned and inside a segment
 * that fits the real size, a driver kind the library has, a NUL-terminated
 * identity, and timing inside the ranges of cshm_validate_timing.
 */
#include <string.h>

#include "fuzz.h"
#include "segment.h"

#define SIZE_BYTES 8

static void check_accepted(const cshm_segment *seg, uint64_t real_size)
{
    const cshm_map_shape *s = &seg->shape;
    FUZZ_CHECK(s->partitions >= 1 && s->partitions <= 16384);
    FUZZ_CHECK(s->max_nodes >= 1 && s->max_nodes < CSHM_NO_NODE);
    FUZZ_CHECK(s->max_namespaces >= 1 && s->max_namespaces <= 64);
    FUZZ_CHECK(s->columns >= 1 && s->columns <= 8 && s->has_regimes <= 1);
    cshm_map_layout layout;
    FUZZ_CHECK(cshm_map_layout_of(s, &layout) == 0);
    FUZZ_CHECK(memcmp(&layout, &seg->layout, sizeof layout) == 0);
    uint64_t cells = (uint64_t)s->max_namespaces * s->partitions;
    FUZZ_CHECK(layout.nodes_offset + (uint64_t)s->max_nodes * sizeof(cshm_map_node) <=
               layout.namespaces_offset);
    FUZZ_CHECK(layout.owners_offset + cells * s->columns * sizeof(uint16_t) <= layout.size);
    if (s->has_regimes)
        FUZZ_CHECK(layout.regimes_offset + cells * sizeof(uint32_t) <= layout.size);

    FUZZ_CHECK(seg->slot_stride % 64 == 0);
    FUZZ_CHECK(seg->slot_stride >=
               sizeof(cshm_slot_head) + sizeof(cshm_tend_record) + layout.size);
    FUZZ_CHECK(seg->size == CSHM_HEADER_SIZE + (uint64_t)CSHM_SLOTS * seg->slot_stride);
    FUZZ_CHECK(seg->size <= real_size);
    for (uint32_t i = 0; i < CSHM_SLOTS; i++) {
        uint64_t slot = CSHM_HEADER_SIZE + (uint64_t)i * seg->slot_stride;
        uint64_t payload = slot + sizeof(cshm_slot_head) + sizeof(cshm_tend_record);
        FUZZ_CHECK(payload % 64 == 0);
        FUZZ_CHECK(payload + layout.size <= seg->size);
    }

    FUZZ_CHECK(seg->driver_kind == CSHM_DRIVER_REDIS || seg->driver_kind == CSHM_DRIVER_AEROSPIKE);
    FUZZ_CHECK(memchr(seg->identity, '\0', sizeof seg->identity) != NULL);
    FUZZ_CHECK(seg->credentials_kind <= CSHM_CREDENTIALS_PBKDF2_SHA256);
    FUZZ_CHECK(seg->tend_interval >= 0.01 && seg->tend_interval <= 3600);
    FUZZ_CHECK(seg->takeover_timeout > seg->tend_interval && seg->takeover_timeout <= 86400);
    FUZZ_CHECK(seg->op_timeout >= 0.005 && seg->op_timeout <= CSHM_OP_TIMEOUT_MAX);
    FUZZ_CHECK(seg->takeover_timeout >= 2 * seg->op_timeout);
    FUZZ_CHECK(seg->min_refresh_interval >= 0.001 && seg->min_refresh_interval <= 60);
    FUZZ_CHECK(seg->base == NULL && seg->header == NULL && seg->shmid == -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static _Alignas(64) unsigned char header[CSHM_HEADER_SIZE];
    if (size < SIZE_BYTES)
        return 0;
    uint64_t real_size = 0;
    for (int i = SIZE_BYTES - 1; i >= 0; i--)
        real_size = real_size << 8 | data[i];
    size_t n = size - SIZE_BYTES < sizeof header ? size - SIZE_BYTES : sizeof header;
    memset(header, 0, sizeof header);
    memcpy(header, data + SIZE_BYTES, n);

    cshm_segment seg;
    cshm_error error;
    memset(&error, 'x', sizeof error);
    int rc = cshm_segment_validate_buffer(header, real_size, &seg, &error);
    if (rc == 0) {
        check_accepted(&seg, real_size);
    } else {
        FUZZ_CHECK(rc == CSHM_ERR_SEGMENT);
        FUZZ_CHECK(memchr(error.message, '\0', sizeof error.message) != NULL &&
                   error.message[0] != '\0');
        FUZZ_CHECK(seg.size == 0 && seg.slot_stride == 0 && seg.identity[0] == '\0');
    }
    return 0;
}
