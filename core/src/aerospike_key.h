/*
 * aerospike_key.h - Aerospike key -> digest -> partition id (spec section 5).
 *
 * Invariants: both functions are pure and thread-safe (route() calls them on
 * every key); the partition id is computed from the digest bytes one by one,
 * so it does not depend on the host's byte order; it is always < 4096.
 */
#ifndef CSHM_AEROSPIKE_KEY_H
#define CSHM_AEROSPIKE_KEY_H

#include <stdint.h>

#include "clustershm.h"

#define CSHM_AEROSPIKE_PARTITIONS 4096u

/* (d[0] | d[1] << 8) & 0x0FFF */
uint32_t cshm_aerospike_partition_of_digest(const uint8_t digest[20]);

/* The driver's partition(): digest of (set, key), then its partition id. */
int cshm_aerospike_partition(const cshm_key *key, const char *set, uint32_t *partition,
                             cshm_error *error);

#endif
