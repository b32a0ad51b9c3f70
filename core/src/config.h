/*
 * config.h - a parsed, validated connection configuration.
 *
 * Invariants after cshm_config_parse() succeeds:
 *  - 1 <= seed_count <= CSHM_MAX_SEEDS, every seed has a non-empty host of at
 *    most CSHM_HOST_MAX-1 bytes and a port in 1..65535;
 *  - every option is inside its documented range;
 *  - identity is the canonical description of the cluster (driver + cluster
 *    name, or driver + sorted, de-duplicated seeds) and key is the SysV key
 *    (explicit, or derived from identity as documented in docs/design.md).
 *  - tls is set for rediss:// and for an aerospike:// URL whose seeds name a
 *    tls_name (host:tls_name:port); tls_* options are refused without it,
 *    and the files they name were readable at parse time.
 * Credentials never enter the identity or the segment; neither do the TLS
 * settings beyond the scheme ("rediss:") and the seeds' tls_names, which
 * the salted fingerprint covers with the rest of them (credentials.h).
 */
#ifndef CSHM_CONFIG_H
#define CSHM_CONFIG_H

#include "clustershm.h"

#define CSHM_MAX_SEEDS 64
#define CSHM_IDENTITY_MAX 512
#define CSHM_USER_MAX 128
#define CSHM_PASSWORD_MAX 256

/* Default keys live in 0x43000000..0x43FFFFFF ('C' in the top byte). */
#define CSHM_KEY_BASE 0x43000000u
#define CSHM_KEY_MASK 0x00FFFFFFu

struct cshm_driver_ops;

typedef struct cshm_seed {
    char host[CSHM_HOST_MAX];
    uint16_t port;
    char tls_name[CSHM_HOST_MAX];  /* Aerospike host:tls_name:port; "" otherwise */
} cshm_seed;

typedef struct cshm_config {
    cshm_driver_kind kind;
    const struct cshm_driver_ops *driver;
    cshm_seed seeds[CSHM_MAX_SEEDS];
    size_t seed_count;
    int has_user;                  /* user given (Redis ACL: AUTH user password) */
    int has_password;
    char user[CSHM_USER_MAX];
    char password[CSHM_PASSWORD_MAX];
    cshm_options options;
    int tls;                       /* rediss://, or Aerospike seeds with a tls_name */
    char identity[CSHM_IDENTITY_MAX];
    uint32_t key;
} cshm_config;

int cshm_config_parse(const char *url, const cshm_options *options, cshm_config *out,
                      cshm_error *error);

/* The longest a tender waits on one network operation: min(connect_timeout,
 * this).  Followers' takeover threshold must exceed two of them. */
#define CSHM_OP_TIMEOUT_MAX 1.0
double cshm_op_timeout_for(double connect_timeout);

/* The one validator of the timing rules, for options and for the values a
 * segment's creator stored (seconds). */
int cshm_validate_timing(double tend_interval, double takeover_timeout,
                         double min_refresh_interval, double op_timeout, cshm_error *error);

/* The i-th key a derived-key configuration may use (0: the documented
 * default key; 1..CSHM_KEY_ALTERNATES-1: where the same cluster tended with
 * other credentials lives).  With an explicit key there is only i = 0. */
#define CSHM_KEY_ALTERNATES 8
uint32_t cshm_config_key(const cshm_config *config, unsigned i);

/* FNV-1a, 32 bits: the documented hash behind default keys. */
uint32_t cshm_fnv1a32(const void *data, size_t len);

#endif
