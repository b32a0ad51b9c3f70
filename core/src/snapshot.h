/*
 * snapshot.h - publishing whole maps into the segment's slots, and reading
 * them back consistently without ever blocking on the tender.
 *
 * Writers: only a tender, into a slot that is not the published one, holding
 * that slot's robust lock, and only if no newer epoch has written the slot
 * (slot_writer_epoch).  A slot holds the tender's record (counters, last
 * error, step-downs) and the map.  The slot becomes visible by a
 * compare-and-swap of the state word that also checks the tender's epoch: a
 * tender that lost ownership can neither publish nor scribble into a slot a
 * newer tender uses.  The only words a publish writes outside its claimed
 * slot are that slot's lock, its slot_writer_epoch and the state word.
 *
 * Readers: load the state word, then read the slot under its seqlock (seq is
 * odd while being written and changes with every rewrite); a read that
 * overlapped a rewrite is retried.  Every index read from a slot is checked
 * against the validated layout before use.
 *
 * Every publish stores a checksum of the payload in the slot's record
 * (cshm_payload_checksum), so a copy that is not one whole snapshot (a torn
 * read or publish, a stray write into the slot) can be told from a good one:
 * cshm_snapshot_read checks it in builds with assertions enabled (no
 * NDEBUG), cshm_snapshot_verify always.
 */
#ifndef CSHM_SNAPSHOT_H
#define CSHM_SNAPSHOT_H

#include "segment.h"

enum {
    CSHM_PUBLISH_OK = 0,
    CSHM_PUBLISH_LOST = 1,     /* our epoch is no longer current */
    CSHM_PUBLISH_NO_SLOT = 2,  /* every free slot is held by a stopped former tender */
};

/* Publish record and map (generation and tended_at already set) under
 * epoch, and wake the readers waiting for a map. */
int cshm_snapshot_publish(cshm_segment *seg, cshm_robust_owner *owner, uint32_t epoch,
                          const cshm_tend_record *record, const cshm_map *map);

/* Copy the published map into out (same shape) and, when record is not
 * NULL, its record.  Returns 0, 1 when nothing is published yet, or a
 * negative cshm_code (corrupt segment, or it never stopped changing).
 * *epoch_out receives the publisher's epoch.  The copies are safe to use:
 * counts are checked against the layout and strings are terminated.  In
 * builds without NDEBUG the copy's checksum is checked too: a mismatch is
 * CSHM_ERR_SEGMENT (an error, not an abort: a same-uid process can write
 * into a slot, and that must never crash a reader). */
int cshm_snapshot_read(const cshm_segment *seg, cshm_map *out, cshm_tend_record *record,
                       uint64_t *epoch_out, cshm_error *error);

/* cshm_snapshot_read without the checksum check, in every build: for tools
 * that show a snapshot whatever its checksum says (clustershm stat reports
 * cshm_snapshot_verify's verdict on a line of its own). */
int cshm_snapshot_read_unverified(const cshm_segment *seg, cshm_map *out,
                                  cshm_tend_record *record, uint64_t *epoch_out,
                                  cshm_error *error);

/* Check the published snapshot as a whole: copy it into scratch (same
 * shape) and check the payload against its checksum, the counts against
 * the layout, and every owner entry against node_count.  Returns 0 (also
 * when nothing is published yet), CSHM_ERR_SEGMENT naming what is wrong,
 * or CSHM_ERR_TIMEOUT when the map never stopped changing. */
int cshm_snapshot_verify(const cshm_segment *seg, cshm_map *scratch, cshm_error *error);

/* 1 and *out when the published snapshot carries a forward pointer (the
 * segment grew; docs/design.md §1b), else 0 (also when nothing readable is
 * published).  The pointer is only read here: cshm_segment_follow checks it. */
int cshm_snapshot_forward(const cshm_segment *seg, cshm_forward *out);

/* The checksum of a map payload that every publish stores in its record.
 *
 * FNV-1a-64 over 64-bit words, with the running value rotated after each
 * multiply so that high bits reach the low ones (plain word-wise FNV-1a
 * lets two flips of the same high bit cancel).  Each step is a bijection
 * of the running value, so a change confined to one word is always
 * detected; a copy that mixes two snapshots, or random corruption, is
 * missed only by a chance collision (about 2^-64 for unrelated data).  It
 * does not detect a snapshot that is whole but wrong (the tender published
 * a wrong map) or old, and it is not cryptographic: anyone who can write
 * the slot can write a matching checksum.  size must be a multiple of 8
 * and payload 8-byte aligned. */
uint64_t cshm_payload_checksum(const void *payload, size_t size);

/* Just the counts block of the published map and, when record is not NULL,
 * its record (for status()). */
int cshm_snapshot_read_counts(const cshm_segment *seg, cshm_map_counts *out,
                              cshm_tend_record *record, cshm_error *error);

/* The hot path of route(): one partition's owner in one column, copied into
 * result.  ns_name NULL means namespace 0 (Redis).  rack_id >= 0 (maps with
 * racks): the first active owner of the partition, in column order, that is
 * on that rack in that namespace, else the master (column is then ignored). */
int cshm_snapshot_route(const cshm_segment *seg, const char *ns_name, uint32_t partition,
                        uint32_t column, int32_t rack_id, cshm_route_result *result,
                        cshm_error *error);

/* 1 when the current tender has published a real map (not only its
 * failure) and is alive: what connect() waits for, and what a process
 * following a growth waits for in the successor. */
int cshm_snapshot_map_ready(const cshm_segment *seg);

/* Epoch of the published slot, or -1 when none is published. */
int64_t cshm_snapshot_published_epoch(const cshm_segment *seg);

/* Word-wise copies to and from shared memory with relaxed atomics, so that a
 * racing reader and writer are well defined (the seqlock decides validity).
 * n must be a multiple of 8 and both pointers 8-byte aligned. */
void cshm_shm_store_words(void *dst, const void *src, size_t n);
void cshm_shm_load_words(void *dst, const void *src, size_t n);

#endif
