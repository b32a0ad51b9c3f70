/*
 * aerospike_parse.h - pure parsers of the info values the tender reads:
 * `peers-clear-std` (spec section 3), `replicas` (section 4.1), numbers and
 * `build` versions (section 2.2).
 *
 * Invariants:
 *  - Input is a (pointer, length) slice; nothing is read outside it and no
 *    NUL terminator is expected.
 *  - Every field has a bound (names, hosts, counts, digits) and every
 *    violation rejects the whole value with a message in `why`; a rejected
 *    parse leaves no partial result the caller could use (the result's count
 *    is 0).
 *  - Results own their memory (free with the matching function); strings in
 *    them are NUL-terminated copies, never pointers into the input.
 */
#ifndef CSHM_AEROSPIKE_PARSE_H
#define CSHM_AEROSPIKE_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "clustershm.h"
#include "info_proto.h"

#define CSHM_AS_DEFAULT_PORT 3000
#define CSHM_AS_PARTITIONS 4096
#define CSHM_AS_BITMAP_BYTES 512        /* 4096 bits */
#define CSHM_AS_BITMAP_CHARS 684        /* base64 of 512 bytes */
#define CSHM_AS_COLUMNS 3               /* replica columns the client keeps */
#define CSHM_AS_NAMESPACE_MAX 31        /* name length limit (spec 1.5) */
#define CSHM_AS_REPLICAS_NS_MAX 64      /* namespaces one replicas value may list */
#define CSHM_AS_PEERS_MAX 4096          /* peers (and endpoints) one peers value may list */
#define CSHM_AS_PEER_ENDPOINTS_MAX 32   /* endpoints of one peer */
#define CSHM_AS_TLS_NAME_MAX 255

typedef struct cshm_as_endpoint {
    char host[CSHM_HOST_MAX];           /* without brackets */
    uint16_t port;
} cshm_as_endpoint;

typedef struct cshm_as_peer {
    char name[CSHM_NODE_NAME_MAX];
    char tls_name[CSHM_AS_TLS_NAME_MAX + 1]; /* "" in peers-clear-*, the node's in -tls-* */
    size_t first_endpoint;              /* index into cshm_as_peers.endpoints */
    size_t endpoint_count;
} cshm_as_peer;

typedef struct cshm_as_peers {
    uint32_t generation;                /* low 32 bits of the server's counter */
    uint16_t default_port;
    size_t count;
    cshm_as_peer *peers;
    size_t endpoint_count;
    cshm_as_endpoint *endpoints;
    size_t peer_capacity, endpoint_capacity;   /* allocated entries, reused */
} cshm_as_peers;

typedef struct cshm_as_replicas_ns {
    char name[CSHM_AS_NAMESPACE_MAX + 1];
    uint32_t regime;
    uint32_t n_cols;                    /* as reported: 1..255 */
    /* Decoded bitmaps of columns 0..min(n_cols, 3)-1.  Bit layout: partition
     * p is byte p >> 3, mask 0x80 >> (p & 7). */
    uint8_t bitmaps[CSHM_AS_COLUMNS][CSHM_AS_BITMAP_BYTES];
} cshm_as_replicas_ns;

typedef struct cshm_as_replicas {
    size_t count;
    cshm_as_replicas_ns ns[CSHM_AS_REPLICAS_NS_MAX];
} cshm_as_replicas;

void cshm_as_peers_init(cshm_as_peers *p);
void cshm_as_peers_free(cshm_as_peers *p);
/* Returns 0, or -1 with why (p is then empty). */
int cshm_as_parse_peers(const cshm_slice *value, cshm_as_peers *p, char *why, size_t why_size);

/* One endpoint "host", "host:port", "[v6]" or "[v6]:port". */
int cshm_as_parse_endpoint(const char *text, size_t len, uint16_t default_port,
                           cshm_as_endpoint *out, char *why, size_t why_size);

/* `service-clear-std` (seed validation, spec 2.2): "host:port[,host:port]"
 * with the port mandatory and IPv6 in brackets; an empty value is an empty
 * list.  At most max endpoints.  Returns the count, or -1 with why. */
#define CSHM_AS_SERVICE_MAX 16
int cshm_as_parse_service(const cshm_slice *value, cshm_as_endpoint *out, size_t max, char *why,
                          size_t why_size);

/* r is large (about 100 KB): allocate it on the heap.  Returns 0, or -1 with
 * why (r->count is then 0). */
int cshm_as_parse_replicas(const cshm_slice *value, cshm_as_replicas *r, char *why,
                           size_t why_size);

/* 684 base64 chars -> 512 bytes, strictly (alphabet, one final '=', zero
 * padding bits).  Returns 0 or -1. */
int cshm_as_decode_bitmap(const char *text, size_t len, uint8_t out[CSHM_AS_BITMAP_BYTES]);

static inline int cshm_as_bitmap_has(const uint8_t *bitmap, uint32_t partition)
{
    return (bitmap[partition >> 3] & (0x80u >> (partition & 7u))) != 0;
}

/* Decimal digits only, at most 20 of them, value <= max.  0 or -1. */
/* rack-ids (spec 2.7): ns ":" rack-id *(";" ns ":" rack-id), a trailing ";"
 * tolerated.  Names 1..31 bytes, rack ids 0..1000000.  Up to max entries
 * into out (more is an error); 0, or -1 with why. */
typedef struct cshm_as_rack {
    char ns[CSHM_NAMESPACE_MAX];
    int32_t rack;
} cshm_as_rack;
int cshm_as_parse_rack_ids(const cshm_slice *value, cshm_as_rack *out, uint32_t max,
                           uint32_t *count, char *why, size_t why_size);

int cshm_as_parse_u64(const cshm_slice *value, uint64_t max, uint64_t *out);
/* A generation: the server prints "-1" before its first rebalance; that is
 * returned as 0xFFFFFFFF (as the C client stores it).  Larger counters keep
 * their low 32 bits.  0 or -1. */
int cshm_as_parse_generation(const cshm_slice *value, uint32_t *out);

/* "major.minor.patch[.build][-suffix]" -> 0, the parts (missing build = 0).
 * At least three numeric parts are required. */
int cshm_as_parse_build(const cshm_slice *value, uint32_t version[4]);
/* 1 when version >= 4.9.0.3, the oldest server the C client accepts. */
int cshm_as_build_supported(const uint32_t version[4]);

/* A node name from `node` or a peers list: 1..CSHM_NODE_NAME_MAX-1 printable
 * bytes, none of ",[]:;".  Copies it into out.  0 or -1 with why. */
int cshm_as_copy_node_name(const char *text, size_t len, char out[CSHM_NODE_NAME_MAX], char *why,
                           size_t why_size);

#endif
