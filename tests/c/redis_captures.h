/*
 * redis_captures.h - replies captured byte for byte from a real 6-node Redis
 * Cluster (redis-server 7.0.15, 127.0.0.1:7200-7205, --cluster-replicas 1),
 * for the parser tests.  See redis_captures.c for the state of the cluster
 * behind each one.
 */
#ifndef CSHM_TEST_REDIS_CAPTURES_H
#define CSHM_TEST_REDIS_CAPTURES_H

#include <stddef.h>

typedef struct redis_capture {
    const char *bytes;
    size_t len;
} redis_capture;

extern const redis_capture capture_shards_resharded;
extern const redis_capture capture_shards_failover;
extern const redis_capture capture_shards_loading;
extern const redis_capture capture_shards_hostname;
extern const redis_capture capture_shards_unknown_endpoint;
extern const redis_capture capture_shards_resp3;
extern const redis_capture capture_slots_resharded;
extern const redis_capture capture_slots_failover;
extern const redis_capture capture_slots_hostname;
extern const redis_capture capture_slots_unknown_endpoint;

/* The node ids of that cluster, by port. */
#define NODE_7200 "41494dbb0608b6ad7ba5438d88e6783f873a0103"
#define NODE_7201 "2e6b17232b73c28164bdda8914c8e8f84306a8b2"
#define NODE_7202 "5632ad1195c778c14cc34202adc3f36600e3106f"
#define NODE_7203 "9ebdb3214e576a2cd5766ec9935a481ef77c7f25"
#define NODE_7204 "e300a3f208de62768f9ed089d06c72f986b83f75"
#define NODE_7205 "b3d781c81cee50abcc234d0af504a0ed02f0a693"

#endif
