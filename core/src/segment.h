/*
 * segment.h - the shared-memory segment: layout, creation, attachment and
 * validation.
 *
 * Layout (all offsets from the start of the segment; no pointer is ever
 * stored in it):
 *
 *   0      cshm_seg_header   (CSHM_HEADER_SIZE bytes, page aligned)
 *            prefix          fixed for every layout version: magic, init
 *                            state, layout version, header size, total size
 *            layout          driver, map shape, slot geometry, struct sizes
 *            identity        cluster identity, creator uid/pid, created time,
 *                            credential fingerprint (salt + slow hash)
 *            timing          tend_interval, takeover_timeout,
 *                            min_refresh_interval, network step: the
 *                            creator's, adopted by every process
 *            control         ownership state word, heartbeat, tender pid,
 *                            refresh requests, owner locks, slot locks
 *   H      slot 0 .. CSHM_SLOTS-1, each slot_stride bytes:
 *            cshm_slot_head    seqlock counter, publisher epoch
 *            cshm_tend_record  the tender's counters, last error, step-downs,
 *                              and the checksum of the payload beside it
 *            payload           a cshm_map payload (map.h)
 *
 * Invariants:
 *  - A segment is ours only if its prefix has our magic and init state READY;
 *    until then nothing is written to it (never write into a segment that is
 *    not ours).  Its layout must equal the one we compute from our
 *    configuration, its identity must equal ours and its credential
 *    fingerprint must match our credentials.
 *  - The write-once part of the header is copied once at attach; the copy is
 *    validated and every later decision and bound uses the copy (the fields
 *    of cshm_segment), never the shared header, which a same-uid process can
 *    rewrite at any time.
 *  - state packs (epoch << 32) | (owner lock index << 8) | (published slot + 1):
 *    changing tender and publishing are compare-and-swaps on this one word,
 *    which is what fences a tender that lost ownership.  Its low 32 bits
 *    change with every publish, so they are also the futex that readers
 *    waiting for a map sleep on.
 *  - Everything a tender reports (counters, last error, why it stepped down)
 *    travels in the snapshot it publishes, so a fenced tender has no word of
 *    its own to write.  So does the forward pointer to a successor (growth,
 *    docs/design.md §1b): it is in the published record, fenced like a map;
 *    the header's `forwarded` word is only a hint to look, never trusted.
 *  - A segment's chain generation (0 for the segment at the base key) and
 *    its key agree: generation g lives at cshm_chain_key(base, g), and a
 *    forward pointer is followed only to generation g + 1 at that key, to a
 *    segment that passes the same identity check as any attach.
 */
#ifndef CSHM_SEGMENT_H
#define CSHM_SEGMENT_H

#include <stdint.h>

#include "config.h"
#include "map.h"
#include "robust_lock.h"

#define CSHM_MAGIC "CLSHMSEG"          /* 8 bytes, no NUL */
/* A build may be given another version (make LAYOUT_VERSION=N): that is how
 * tests/integration/test_rolling_upgrade.py gets a worker of a "next
 * release" whose segments the current one must refuse, and vice versa. */
#ifndef CSHM_LAYOUT_VERSION
/* 3: Aerospike maps carry each node's rack per namespace (map.h). */
#define CSHM_LAYOUT_VERSION 3u
#endif
#define CSHM_INIT_BUSY 0x43534949u     /* "CSII": creator is filling the header */
#define CSHM_INIT_READY 0x43534952u    /* "CSIR" */
#define CSHM_BYTE_ORDER 0x01020304u
#define CSHM_HEADER_SIZE 8192u
#define CSHM_SLOTS 4u
#define CSHM_OWNER_LOCKS 4u
#define CSHM_ERROR_TEXT 256u
#define CSHM_SALT_SIZE 16u
#define CSHM_FINGERPRINT_SIZE 32u
#define CSHM_STEP_DOWN_HISTORY 4u
#define CSHM_STEP_DOWN_TEXT 232u
#define CSHM_CHAIN_MAX 8u              /* generations of a chain: base + 7 successors */
#define CSHM_CHAIN_KEY_BASE 0x44000000u /* successors' keys: never a derived base key (0x43) */

/* credentials_kind */
enum { CSHM_CREDENTIALS_NONE = 0, CSHM_CREDENTIALS_PBKDF2_SHA256 = 1 };

typedef struct cshm_seg_prefix {
    char magic[8];
    uint32_t init_state;               /* atomic */
    uint32_t layout_version;
    uint32_t header_size;
    uint32_t byte_order;
    uint64_t total_size;
} cshm_seg_prefix;

typedef struct cshm_seg_header {
    cshm_seg_prefix prefix;

    /* layout: written once by the creator */
    uint32_t driver_kind;
    uint32_t pointer_size;
    cshm_map_shape shape;
    uint32_t slot_count;
    uint32_t owner_lock_count;
    uint32_t lock_size;
    uint32_t node_entry_size;
    uint32_t record_size;
    uint32_t chain_generation;         /* 0 at the base key, g at cshm_chain_key(base, g) */
    uint64_t payload_size;
    uint64_t slot_stride;
    uint64_t slots_offset;

    /* identity: written once by the creator */
    uint32_t creator_uid;
    uint32_t creator_pid;
    uint64_t created_at_ms;
    uint32_t mode;
    uint32_t identity_len;
    char identity[CSHM_IDENTITY_MAX];
    uint32_t credentials_kind;
    uint32_t credentials_iterations;
    unsigned char credentials_salt[CSHM_SALT_SIZE];
    unsigned char credentials_fingerprint[CSHM_FINGERPRINT_SIZE];

    /* timing: written once by the creator, in microseconds */
    uint64_t tend_interval_us;
    uint64_t takeover_timeout_us;
    uint64_t min_refresh_interval_us;
    uint64_t op_timeout_us;            /* bound of one network operation of a tend */

    /* control: written while running, always through atomics */
    _Alignas(64) uint64_t state;
    uint64_t heartbeat;                /* (epoch << 32) | beat count */
    uint64_t tender;                   /* (epoch << 32) | pid of that epoch's tender, as it sees it */
    uint32_t refresh_seq;              /* futex: +1 per refresh request */
    uint32_t forwarded;                /* hint: a forward pointer was published (§1b) */
    uint32_t slot_writer_epoch[CSHM_SLOTS];  /* under the slot's lock */

    /* The lock area: owner locks, then slot locks (robust_lock.h). */
    _Alignas(64) cshm_robust_lock owner_locks[CSHM_OWNER_LOCKS];
    cshm_robust_lock slot_locks[CSHM_SLOTS];

    /* written once by the creator, after every field above (which keep their
     * offsets): the base key of the chain this segment belongs to (0 in
     * segments made before growth existed, which are generation 0). */
    uint32_t chain_base;
    uint32_t reserved2;
} cshm_seg_header;

typedef struct cshm_slot_head {
    uint64_t seq;                      /* seqlock: odd while being written */
    uint64_t epoch;                    /* epoch of the tender that wrote it */
    uint64_t reserved[6];
} cshm_slot_head;

/* Why a tender stepped down (newest first in the record). */
typedef struct cshm_step_down {
    uint64_t at_ms;                    /* unix ms */
    uint32_t pid;                      /* as that tender saw itself */
    uint32_t epoch;
    uint32_t failures;                 /* failed tends in a row */
    uint32_t reserved;
    char reason[CSHM_STEP_DOWN_TEXT];  /* its last tend error */
} cshm_step_down;

/* Where the map moved when the cluster outgrew the segment (docs/design.md
 * §1b): the successor's key, shmid and layout, and its creation time, which
 * with the shmid names that one segment and not a later one at the key.
 * key == 0: not forwarded. */
typedef struct cshm_forward {
    uint32_t key;
    int32_t shmid;
    uint32_t generation;
    uint32_t max_nodes;
    uint32_t max_namespaces;
    uint32_t reserved;
    uint64_t size;
    uint64_t created_at_ms;
} cshm_forward;

/* What a tender reports with every snapshot.  Counters are carried from one
 * tender to the next through the snapshot the new tender starts from.
 * payload_checksum is not carried: cshm_snapshot_publish computes it over
 * the payload it writes beside this record (cshm_payload_checksum). */
typedef struct cshm_tend_record {
    uint64_t tends;                    /* published tends of every tender */
    uint64_t tend_failures;
    uint64_t handoffs;                 /* a tender closed or stepped down, another took over */
    uint64_t dead_takeovers;           /* tender died holding the lock */
    uint64_t hung_takeovers;           /* tender alive but silent past takeover_timeout */
    uint64_t step_downs;               /* tenders that gave up the role after failing */
    uint64_t payload_checksum;         /* of the map payload of this slot, set at publish */
    uint32_t publisher_pid;
    uint32_t failures_in_row;          /* of the publishing tender */
    uint32_t refresh_answered;         /* refresh_seq when this tend started */
    uint32_t step_down_count;          /* entries used in step_down_history */
    char last_error[CSHM_ERROR_TEXT];
    cshm_step_down step_down_history[CSHM_STEP_DOWN_HISTORY];
    cshm_forward forward;              /* set in the last snapshot of a segment that grew */
    uint64_t reserved[2];              /* keeps the record a multiple of 64 bytes */
} cshm_tend_record;

/* A process's view of an attached (or private) segment: the validated copy
 * of the header's write-once part, and where things are. */
typedef struct cshm_segment {
    int shmid;                         /* -1 when private */
    uint32_t key;
    uint32_t base_key;                 /* generation 0's key: the chain's name */
    uint32_t generation;               /* in the chain */
    unsigned char *base;
    uint64_t size;
    int read_only;
    cshm_seg_header *header;
    cshm_map_shape shape;
    cshm_map_layout layout;
    uint64_t slot_stride;
    /* the rest of the validated copy */
    uint32_t driver_kind;
    uint32_t creator_uid;
    uint32_t creator_pid;
    uint32_t mode;
    uint64_t created_at_ms;
    char identity[CSHM_IDENTITY_MAX];
    uint32_t credentials_kind;
    double tend_interval;
    double takeover_timeout;
    double min_refresh_interval;
    double op_timeout;
} cshm_segment;

static inline uint64_t cshm_state_make(uint32_t epoch, uint32_t lock_index, uint32_t slot_plus_one)
{
    return ((uint64_t)epoch << 32) | ((uint64_t)(lock_index & 0xFFu) << 8) | (slot_plus_one & 0xFFu);
}
static inline uint32_t cshm_state_epoch(uint64_t s) { return (uint32_t)(s >> 32); }
static inline uint32_t cshm_state_lock(uint64_t s) { return (uint32_t)((s >> 8) & 0xFFu); }
static inline uint32_t cshm_state_slot_plus_one(uint64_t s) { return (uint32_t)(s & 0xFFu); }

/* The low half of the state word, as a futex: it changes with every publish. */
static inline uint32_t *cshm_state_futex(cshm_seg_header *h)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (uint32_t *)(void *)&h->state + 1;
#else
    return (uint32_t *)(void *)&h->state;
#endif
}

/* The pid the current tender recorded (informational: pids are never used
 * for decisions). */
static inline uint32_t cshm_segment_tender_pid(const cshm_seg_header *h)
{
    return (uint32_t)__atomic_load_n(&h->tender, __ATOMIC_ACQUIRE);
}

/* 1 while a live thread holds the owner lock the state word names, that is
 * while someone holds the tender role; 0 while the role is vacant (free, or
 * its holder died and nobody took over yet).  Informational, like the pid:
 * one atomic load of each word, the lock index checked before use. */
static inline int cshm_segment_tender_held(const cshm_seg_header *h)
{
    uint32_t lock = cshm_state_lock(__atomic_load_n(&h->state, __ATOMIC_ACQUIRE));
    if (lock >= CSHM_OWNER_LOCKS)
        return 0;
    return (__atomic_load_n(&h->owner_locks[lock].word, __ATOMIC_ACQUIRE) & FUTEX_TID_MASK) != 0;
}

/* Create the segment for this configuration or attach to the existing one,
 * validating it.  Waits up to connect_timeout for a creator to finish.  With
 * a derived key, a segment of the same cluster tended with other credentials
 * is passed over for the next alternate key (docs/design.md); with an
 * explicit key it is an error. */
int cshm_segment_open(const cshm_config *config, cshm_segment *seg, cshm_error *error);

/* The key of generation g of the chain whose base key is `base`: the base
 * itself for 0, else CSHM_CHAIN_KEY_BASE | 24 bits of FNV-1a of (base, g). */
uint32_t cshm_chain_key(uint32_t base, uint32_t generation);

/* The base key of seg's chain (its own key for generation 0): what
 * cshm_status() and `clustershm stat` show as chain_base. */
static inline uint32_t cshm_segment_chain_base(const cshm_segment *seg)
{
    return seg->generation == 0 || seg->base_key == 0 ? seg->key : seg->base_key;
}

/* The tender's growth: create (or attach, when an interrupted growth left
 * it) generation `from->generation + 1` of from's chain with at least
 * `shape`.  An existing one of another shape is used as it is (the next
 * tend there grows it again when it is still too small). */
int cshm_segment_open_successor(const cshm_config *config, const cshm_segment *from,
                                const cshm_map_shape *shape, cshm_segment *seg,
                                cshm_error *error);

/* Attach the successor a forward pointer names, after checking every field
 * of it against from's chain (generation + 1, its chain key, a layout in
 * range) and the segment found there against the pointer (shmid, shape,
 * size, creation time) and against our configuration like any attach.  A
 * scribbled pointer is an error, never another segment. */
int cshm_segment_follow(const cshm_config *config, const cshm_segment *from,
                        const cshm_forward *forward, cshm_segment *seg, cshm_error *error);

/* The same layout in private memory (shared=false). */
int cshm_segment_private(const cshm_config *config, cshm_segment *seg, cshm_error *error);

/* Attach read-only for inspection (CLI): validates the prefix and the
 * internal consistency of the layout, not the identity. */
int cshm_segment_inspect(uint32_t key, cshm_segment *seg, cshm_error *error);
int cshm_segment_inspect_shmid(int shmid, cshm_segment *seg, cshm_error *error);

/* For tests and tests/fuzz: the validator every attach runs (copy the
 * header once, then check the copy, without a configuration, as
 * cshm_segment_inspect does) on plain memory.  base: 8-byte aligned, at least
 * CSHM_HEADER_SIZE readable bytes; size: the size of the segment they stand
 * for (what shm_segsz would say), which the header must fit.  Fills the
 * validated fields of seg; base and header stay NULL, shmid -1. */
int cshm_segment_validate_buffer(const void *base, uint64_t size, cshm_segment *seg,
                                 cshm_error *error);

/* Detach; the last process to detach a shared segment removes it (a
 * read-only inspection never does).  docs/design.md, "Segment lifetime". */
void cshm_segment_close(cshm_segment *seg);

/* 1 when the shared segment was removed (marked SHM_DEST, or gone) while we
 * are attached: the processes that come after us will not find it. */
int cshm_segment_removed(const cshm_segment *seg);

/* Number of processes attached (shm_nattch); 1 in private mode. */
uint32_t cshm_segment_attached(const cshm_segment *seg);

/* The lock area a tender thread registers its robust list for. */
static inline const void *cshm_segment_lock_area(const cshm_segment *seg, size_t *size)
{
    *size = sizeof seg->header->owner_locks + sizeof seg->header->slot_locks;
    return seg->header->owner_locks;
}

static inline cshm_slot_head *cshm_segment_slot(const cshm_segment *seg, uint32_t index)
{
    return (cshm_slot_head *)(void *)(seg->base + CSHM_HEADER_SIZE +
                                      (uint64_t)index * seg->slot_stride);
}
static inline cshm_tend_record *cshm_segment_record(const cshm_segment *seg, uint32_t index)
{
    return (cshm_tend_record *)(void *)((unsigned char *)cshm_segment_slot(seg, index) +
                                        sizeof(cshm_slot_head));
}
static inline unsigned char *cshm_segment_payload(const cshm_segment *seg, uint32_t index)
{
    return (unsigned char *)cshm_segment_slot(seg, index) + sizeof(cshm_slot_head) +
           sizeof(cshm_tend_record);
}

#endif
