/*
 * test_aerospike.c - RIPEMD-160, Aerospike digests and partition ids, info
 * framing, the peers/replicas parsers and the partition-table rules.
 *
 * Expected values come from the protocol reference
 * (/work/shared/spec/aerospike-tend-protocol.md): the digests of section 7.1
 * (computed there with two independent RIPEMD-160 implementations), the
 * byte examples of sections 1.5, 3 and 7.2, and the published RIPEMD-160
 * test vectors.  Malformed inputs are copied into buffers of their exact
 * size, so under AddressSanitizer a parser that reads one byte too far fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aerospike_key.h"
#include "aerospike_parse.h"
#include "aerospike_table.h"
#include "clustershm.h"
#include "info_proto.h"
#include "ripemd160.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------- */

static void to_hex(const uint8_t *bytes, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

static int ripemd_hex_is(const void *data, size_t len, const char *hex)
{
    uint8_t d[20];
    char text[41];
    cshm_ripemd160(data, len, d);
    to_hex(d, 20, text);
    if (strcmp(text, hex) != 0)
        fprintf(stderr, "    ripemd160 got %s expected %s\n", text, hex);
    return strcmp(text, hex) == 0;
}

/* A heap copy of exactly len bytes (no terminator), for over-read checks. */
static cshm_slice exact_copy(const char *data, size_t len)
{
    char *copy = malloc(len > 0 ? len : 1);
    if (len > 0)
        memcpy(copy, data, len);
    cshm_slice s = {copy, len};
    return s;
}

static void free_slice(cshm_slice s)
{
    free((void *)s.data);
}

static cshm_slice slice_of(const char *text)
{
    cshm_slice s = {text, strlen(text)};
    return s;
}

/* ---- RIPEMD-160 ----------------------------------------------------------- */

static void test_ripemd_published_vectors(void)
{
    CHECK(ripemd_hex_is("", 0, "9c1185a5c5e9fc54612808977ee8f548b2258d31"));
    CHECK(ripemd_hex_is("a", 1, "0bdc9d2d256b3ee9daae347be6f4dc835a467ffe"));
    CHECK(ripemd_hex_is("abc", 3, "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"));
    CHECK(ripemd_hex_is("message digest", 14, "5d0689ef49d2fae572b881b123a85ffa21595f36"));
    CHECK(ripemd_hex_is("abcdefghijklmnopqrstuvwxyz", 26,
                        "f71c27109c692c1b56bbdceb5b9d2865b3708dbc"));
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(ripemd_hex_is(two_blocks, strlen(two_blocks), "12a053384a9c0c88e405a06c27dcf49ada62eb2b"));
    const char *alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    CHECK(ripemd_hex_is(alnum, strlen(alnum), "b0e20b6e3116640286ed3a87a5713079b21f5189"));
    char digits[80];
    for (int i = 0; i < 8; i++)
        memcpy(digits + 10 * i, "1234567890", 10);
    CHECK(ripemd_hex_is(digits, 80, "9b752e45573d4b39f4dbd3323cab82bf63326bfb"));
}

static void test_ripemd_million_a(void)
{
    cshm_ripemd160_ctx ctx;
    char block[1000];
    memset(block, 'a', sizeof block);
    cshm_ripemd160_init(&ctx);
    for (int i = 0; i < 1000; i++)
        cshm_ripemd160_update(&ctx, block, sizeof block);
    uint8_t d[20];
    char text[41];
    cshm_ripemd160_final(&ctx, d);
    to_hex(d, 20, text);
    CHECK(strcmp(text, "52783243c1697bdbe16d37f97f68f08325dc1528") == 0);
}

/* Any split of the input into update() calls gives the one-shot digest,
 * across every padding boundary (lengths 0..200). */
static void test_ripemd_incremental_splits(void)
{
    unsigned char data[200];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7 + 3);
    int mismatches = 0;
    for (size_t len = 0; len <= sizeof data; len++) {
        uint8_t whole[20];
        cshm_ripemd160(data, len, whole);
        for (size_t split = 0; split <= len; split += (len > 70 ? 13 : 1)) {
            cshm_ripemd160_ctx ctx;
            uint8_t parts[20];
            cshm_ripemd160_init(&ctx);
            cshm_ripemd160_update(&ctx, data, split);
            cshm_ripemd160_update(&ctx, data + split, len - split);
            cshm_ripemd160_final(&ctx, parts);
            mismatches += memcmp(whole, parts, 20) != 0;
        }
    }
    CHECK(mismatches == 0);
}

/* ---- digests and partition ids (spec 7.1) ---------------------------------- */

typedef struct digest_row {
    const char *set;               /* NULL = no set */
    cshm_key_type type;
    const char *bytes;             /* string / blob keys */
    size_t len;
    int64_t integer;
    const char *digest;
    uint32_t pid;
} digest_row;

static const digest_row spec_rows[] = {
    {"set", CSHM_KEY_STRING, "", 0, 0, "2819b1ff6e346a43b4f5f6b77a88bc3eaac22a83", 2344},
    {"set", CSHM_KEY_STRING, "s", 1, 0, "607cddba7cd111745ef0a3d783d57f0e83c8f311", 3168},
    {"set", CSHM_KEY_STRING, "aaaaaaaaaa", 10, 0, "5979fb32a80da070ff356f7695455592272e36c2", 2393},
    {"set", CSHM_KEY_INTEGER, NULL, 0, 0, "93d943aae37b017ad7e011b0c1d2e2143c2fb37d", 2451},
    {"set", CSHM_KEY_INTEGER, NULL, 0, 1, "82d7213b469812947c109a6d341e3b5b1dedec1f", 1922},
    {"set", CSHM_KEY_INTEGER, NULL, 0, -1, "22116d253745e29fc63fdf760b6e26f7e197e01d", 290},
    {NULL, CSHM_KEY_STRING, "key1", 4, 0, "579f05ecf9e6a9e796f4da2ab0b1323364df5c10", 3927},
    {"demo", CSHM_KEY_STRING, "key1", 4, 0, "ec91192d4b7f8ce35d5d78d34bca65cbaaaac960", 492},
    {"test", CSHM_KEY_STRING, "hello", 5, 0, "adc03a48e7969ecb3674b4065b35b9fe0ea3bd50", 173},
    {"users", CSHM_KEY_STRING, "alice", 5, 0, "da59d2c81357e4165b50cef5f1feaa053ae7fdf9", 2522},
    {NULL, CSHM_KEY_INTEGER, NULL, 0, 1, "a443f05d05d962202b59abb402afae1737dbf66a", 932},
    {NULL, CSHM_KEY_INTEGER, NULL, 0, 0, "b346137ba9189579da520162dfdcd61a10fe37d6", 1715},
    {"demo", CSHM_KEY_INTEGER, NULL, 0, 1, "b7f4b83889e2da67de683e1df6919a1eacc446c8", 1207},
    {"test", CSHM_KEY_INTEGER, NULL, 0, 1234567890123LL, "1e383049610beeafbb7ef70791c40ffb6c07578f",
     2078},
    {"demo", CSHM_KEY_BYTES, "\x01\x02\x03", 3, 0, "ff31c926fbef445648ce63ca72a698a5473425c1", 511},
};

static void test_digest_spec_rows(void)
{
    for (size_t i = 0; i < sizeof spec_rows / sizeof spec_rows[0]; i++) {
        const digest_row *row = &spec_rows[i];
        cshm_key key = {.type = row->type, .data = row->bytes, .len = row->len,
                        .integer = row->integer};
        uint8_t d[20];
        char text[41];
        cshm_error error = {0};
        CHECK(cshm_aerospike_digest(row->set, &key, d, &error) == 0);
        to_hex(d, 20, text);
        if (strcmp(text, row->digest) != 0)
            fprintf(stderr, "    row %zu: digest %s expected %s\n", i, text, row->digest);
        CHECK(strcmp(text, row->digest) == 0);
        CHECK(cshm_aerospike_partition_of_digest(d) == row->pid);
        uint32_t pid = 9999;
        CHECK(cshm_aerospike_partition(&key, row->set, &pid, &error) == 0);
        CHECK(pid == row->pid);
        /* The empty set and no set hash the same. */
        if (row->set == NULL) {
            uint8_t d2[20];
            CHECK(cshm_aerospike_digest("", &key, d2, &error) == 0 && memcmp(d, d2, 20) == 0);
        }
    }
}

static void test_partition_worked_example(void)
{
    uint8_t d[20] = {0xEC, 0x91};
    CHECK(cshm_aerospike_partition_of_digest(d) == 492);
    d[0] = 0xFF;
    d[1] = 0xFF;
    CHECK(cshm_aerospike_partition_of_digest(d) == 4095);
}

/* Both paths of the digest (one stack block up to 55 bytes, pieces above)
 * equal RIPEMD-160 of the concatenated bytes, at every length around the
 * boundary and for long keys. */
static void test_digest_short_and_long_paths(void)
{
    unsigned char key[300], joined[400];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (unsigned char)(i * 31 + 7);
    const char *set = "users";
    int mismatches = 0;
    for (size_t len = 0; len <= sizeof key; len += (len < 70 ? 1 : 23)) {
        cshm_key k = {.type = CSHM_KEY_BYTES, .data = key, .len = len};
        uint8_t got[20], want[20];
        cshm_error error = {0};
        memcpy(joined, set, 5);
        joined[5] = 4;
        memcpy(joined + 6, key, len);
        cshm_ripemd160(joined, 6 + len, want);
        mismatches += cshm_aerospike_digest(set, &k, got, &error) != 0 || memcmp(got, want, 20) != 0;
    }
    CHECK(mismatches == 0);
}

static void test_digest_rejects_bad_keys(void)
{
    uint8_t d[20];
    cshm_error error = {0};
    cshm_key bad_type = {.type = (cshm_key_type)2, .data = "x", .len = 1};
    CHECK(cshm_aerospike_digest("s", &bad_type, d, &error) == CSHM_ERR_CONFIG);
    CHECK(strstr(error.message, "key type") != NULL);
    cshm_key null_data = {.type = CSHM_KEY_STRING, .data = NULL, .len = 3};
    CHECK(cshm_aerospike_digest("s", &null_data, d, &error) == CSHM_ERR_CONFIG);
    cshm_key empty = {.type = CSHM_KEY_BYTES, .data = NULL, .len = 0};
    CHECK(cshm_aerospike_digest(NULL, &empty, d, &error) == 0);
}

/* ---- info framing (spec 1.1, 1.5) -------------------------------------------- */

static void test_info_request_bytes(void)
{
    unsigned char out[64];
    static const unsigned char node_request[] = {0x02, 0x01, 0, 0, 0, 0, 0, 0x05,
                                                 'n', 'o', 'd', 'e', '\n'};
    CHECK(cshm_info_build_request("node\n", out, sizeof out) == sizeof node_request);
    CHECK(memcmp(out, node_request, sizeof node_request) == 0);

    const char *tend = "node\npeers-generation\npartition-generation\n";
    static const unsigned char tend_header[] = {0x02, 0x01, 0, 0, 0, 0, 0, 0x2B};
    CHECK(strlen(tend) == 43);
    CHECK(cshm_info_build_request(tend, out, sizeof out) == 51);
    CHECK(memcmp(out, tend_header, 8) == 0);

    static const unsigned char partitions_header[] = {0x02, 0x01, 0, 0, 0, 0, 0, 0x1E};
    CHECK(cshm_info_build_request("partition-generation\nreplicas\n", out, sizeof out) == 38);
    CHECK(memcmp(out, partitions_header, 8) == 0);

    /* Refused: no final newline, a tab, empty, too small a buffer. */
    CHECK(cshm_info_build_request("node", out, sizeof out) == 0);
    CHECK(cshm_info_build_request("no\tde\n", out, sizeof out) == 0);
    CHECK(cshm_info_build_request("", out, sizeof out) == 0);
    CHECK(cshm_info_build_request("node\n", out, 12) == 0);
}

static void test_info_response_header(void)
{
    char why[CSHM_INFO_WHY_MAX];
    size_t len = 0;
    static const unsigned char tend_answer[] = {0x02, 0x01, 0, 0, 0, 0, 0, 0x3F};
    CHECK(cshm_info_parse_header(tend_answer, CSHM_INFO_TEND_MAX, &len, why, sizeof why) == 0);
    CHECK(len == 63);
    static const unsigned char replicas_answer[] = {0x02, 0x01, 0, 0, 0, 0, 0x05, 0x83};
    CHECK(cshm_info_parse_header(replicas_answer, CSHM_INFO_TEND_MAX, &len, why, sizeof why) == 0);
    CHECK(len == 1411);
    static const unsigned char limit[] = {0x02, 0x01, 0, 0, 0, 0x08, 0, 0};
    CHECK(cshm_info_parse_header(limit, CSHM_INFO_TEND_MAX, &len, why, sizeof why) == 0);
    CHECK(len == 524288);
    static const unsigned char over[] = {0x02, 0x01, 0, 0, 0, 0x08, 0, 0x01};
    CHECK(cshm_info_parse_header(over, CSHM_INFO_TEND_MAX, &len, why, sizeof why) == -1);
    CHECK(strstr(why, "exceeds") != NULL);
    static const unsigned char huge[] = {0x02, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    CHECK(cshm_info_parse_header(huge, CSHM_INFO_TEND_MAX, &len, why, sizeof why) == -1);
    static const unsigned char empty[] = {0x02, 0x01, 0, 0, 0, 0, 0, 0};
    CHECK(cshm_info_parse_header(empty, CSHM_INFO_TEND_MAX, &len, why, sizeof why) == -1);
    static const unsigned char version[] = {0x03, 0x01, 0, 0, 0, 0, 0, 0x05};
    CHECK(cshm_info_parse_header(version, CSHM_INFO_TEND_MAX, &len, why, sizeof why) == -1);
    static const unsigned char type[] = {0x02, 0x03, 0, 0, 0, 0, 0, 0x05};
    CHECK(cshm_info_parse_header(type, CSHM_INFO_TEND_MAX, &len, why, sizeof why) == -1);
    static const unsigned char garbage[] = {0xFF, 0x0B, 0x30, 0x55, 0x7A, 0x9F, 0xC4, 0xE9};
    CHECK(cshm_info_parse_header(garbage, CSHM_INFO_TEND_MAX, &len, why, sizeof why) == -1);
}

static void test_info_split_example(void)
{
    const char *body = "node\tBB9020011AC4202\npeers-generation\t4\npartition-generation\t3\n";
    CHECK(strlen(body) == 63);
    cshm_slice s = exact_copy(body, 63);
    cshm_info_line lines[CSHM_INFO_MAX_LINES];
    size_t count = 0;
    char why[CSHM_INFO_WHY_MAX];
    CHECK(cshm_info_split(s.data, s.len, lines, CSHM_INFO_MAX_LINES, &count, why, sizeof why) == 0);
    CHECK(count == 3);
    const cshm_slice *v = cshm_info_find(lines, count, "node");
    CHECK(v != NULL && cshm_slice_equals(v, "BB9020011AC4202"));
    v = cshm_info_find(lines, count, "partition-generation");
    CHECK(v != NULL && cshm_slice_equals(v, "3"));
    CHECK(cshm_info_find(lines, count, "replicas") == NULL);
    CHECK(cshm_info_find(lines, count, "peers-gen") == NULL);
    free_slice(s);
}

static void test_info_split_edge_cases(void)
{
    cshm_info_line lines[4];
    size_t count = 0;
    char why[CSHM_INFO_WHY_MAX];
    /* Empty value and a name without a tab are legal. */
    cshm_slice s = exact_copy("build\t\nnode\n", 12);
    CHECK(cshm_info_split(s.data, s.len, lines, 4, &count, why, sizeof why) == 0);
    CHECK(count == 2 && lines[0].value.len == 0 && cshm_slice_equals(&lines[1].name, "node") &&
          lines[1].value.len == 0);
    free_slice(s);
    /* Last line without its newline: refused, never read past. */
    s = exact_copy("node\tA\npeers-generation\t4", 25);
    CHECK(cshm_info_split(s.data, s.len, lines, 4, &count, why, sizeof why) == -1);
    CHECK(strstr(why, "truncated") != NULL);
    free_slice(s);
    /* The whole-request error forms (no echo). */
    s = exact_copy("ERROR:80:not authenticated\n", 27);
    CHECK(cshm_info_split(s.data, s.len, lines, 4, &count, why, sizeof why) == -2);
    CHECK(strstr(why, "not authenticated") != NULL);
    free_slice(s);
    /* More lines than room. */
    s = exact_copy("a\t1\nb\t2\nc\t3\nd\t4\ne\t5\n", 20);
    CHECK(cshm_info_split(s.data, s.len, lines, 4, &count, why, sizeof why) == -1);
    free_slice(s);
    /* Error values. */
    cshm_slice e = slice_of("ERROR:4:unrecognized command");
    CHECK(cshm_info_value_is_error(&e) && cshm_info_value_is_failure(&e));
    cshm_slice f = slice_of("FAIL:1:x");
    CHECK(!cshm_info_value_is_error(&f) && cshm_info_value_is_failure(&f));
    cshm_slice u = slice_of("error=bad");
    CHECK(cshm_info_value_is_failure(&u));
    cshm_slice ok = slice_of("ERRORS");
    CHECK(!cshm_info_value_is_error(&ok) && !cshm_info_value_is_failure(&ok));
}

/* ---- numbers and builds ------------------------------------------------------- */

static void test_generations_and_builds(void)
{
    uint32_t g = 0;
    cshm_slice s = slice_of("-1");
    CHECK(cshm_as_parse_generation(&s, &g) == 0 && g == 0xFFFFFFFFu);
    s = slice_of("4294967297"); /* 2^32 + 1: the low 32 bits are kept */
    CHECK(cshm_as_parse_generation(&s, &g) == 0 && g == 1);
    s = slice_of("18446744073709551615");
    CHECK(cshm_as_parse_generation(&s, &g) == 0 && g == 0xFFFFFFFFu);
    const char *bad[] = {"", "-2", "1x", "18446744073709551616", "+1", " 1", "123456789012345678901"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = slice_of(bad[i]);
        CHECK(cshm_as_parse_generation(&s, &g) == -1);
    }
    uint32_t v[4];
    s = slice_of("8.1.2.0");
    CHECK(cshm_as_parse_build(&s, v) == 0 && v[0] == 8 && v[1] == 1 && v[2] == 2 && v[3] == 0);
    CHECK(cshm_as_build_supported(v));
    s = slice_of("4.9.0.3");
    CHECK(cshm_as_parse_build(&s, v) == 0 && cshm_as_build_supported(v));
    s = slice_of("4.9.0.2");
    CHECK(cshm_as_parse_build(&s, v) == 0 && !cshm_as_build_supported(v));
    s = slice_of("4.9.0");
    CHECK(cshm_as_parse_build(&s, v) == 0 && !cshm_as_build_supported(v));
    s = slice_of("5.0.0");
    CHECK(cshm_as_parse_build(&s, v) == 0 && cshm_as_build_supported(v));
    s = slice_of("7.2.0.1-rc3");
    CHECK(cshm_as_parse_build(&s, v) == 0 && v[3] == 1);
    s = slice_of("8.1");
    CHECK(cshm_as_parse_build(&s, v) == -1);
    s = slice_of("garbage");
    CHECK(cshm_as_parse_build(&s, v) == -1);
}

/* ---- peers (spec 3, 7.2) -------------------------------------------------------- */

static int parse_peers_text(const char *text, cshm_as_peers *p, char *why, size_t why_size)
{
    cshm_slice s = exact_copy(text, strlen(text));
    int rc = cshm_as_parse_peers(&s, p, why, why_size);
    free_slice(s);
    return rc;
}

static const cshm_as_endpoint *endpoint_of(const cshm_as_peers *p, size_t peer, size_t e)
{
    return &p->endpoints[p->peers[peer].first_endpoint + e];
}

static void test_peers_spec_examples(void)
{
    cshm_as_peers p;
    cshm_as_peers_init(&p);
    char why[CSHM_INFO_WHY_MAX];
    CHECK(parse_peers_text("12,3000,[[BB9030011AC4202,,[172.17.0.3]],[BB9040011AC4202,,"
                           "[172.17.0.4,10.0.0.4:3100,[2001:db8::4]]]]",
                           &p, why, sizeof why) == 0);
    CHECK(p.generation == 12 && p.default_port == 3000 && p.count == 2);
    CHECK(strcmp(p.peers[0].name, "BB9030011AC4202") == 0 && p.peers[0].endpoint_count == 1);
    CHECK(strcmp(endpoint_of(&p, 0, 0)->host, "172.17.0.3") == 0 && endpoint_of(&p, 0, 0)->port == 3000);
    CHECK(strcmp(p.peers[1].name, "BB9040011AC4202") == 0 && p.peers[1].endpoint_count == 3);
    CHECK(strcmp(endpoint_of(&p, 1, 0)->host, "172.17.0.4") == 0 && endpoint_of(&p, 1, 0)->port == 3000);
    CHECK(strcmp(endpoint_of(&p, 1, 1)->host, "10.0.0.4") == 0 && endpoint_of(&p, 1, 1)->port == 3100);
    CHECK(strcmp(endpoint_of(&p, 1, 2)->host, "2001:db8::4") == 0 && endpoint_of(&p, 1, 2)->port == 3000);

    CHECK(parse_peers_text("12,3000,[[BB9030011AC4202,node3.example,[172.17.0.3:4333]]]", &p, why,
                           sizeof why) == 0);
    CHECK(p.count == 1 && endpoint_of(&p, 0, 0)->port == 4333);
    CHECK(strcmp(p.peers[0].tls_name, "node3.example") == 0);
    /* The clear variants carry no TLS name; a name with a control byte is
     * refused (it would be verified and printed). */
    CHECK(parse_peers_text("5,3000,[[BB9020011AC4202,,[127.0.0.1]]]", &p, why, sizeof why) == 0);
    CHECK(p.peers[0].tls_name[0] == '\0');
    CHECK(parse_peers_text("5,3000,[[BB9020011AC4202,a\tb,[127.0.0.1]]]", &p, why, sizeof why) == -1);
    CHECK(strstr(why, "TLS name with byte 0x09") != NULL);

    CHECK(parse_peers_text("3,3000,[]", &p, why, sizeof why) == 0);
    CHECK(p.generation == 3 && p.count == 0);

    /* Section 7.2: A lists B with its port, B lists A bare (port 3000). */
    CHECK(parse_peers_text("5,3000,[[BB9030011AC4202,,[127.0.0.1:3001]]]", &p, why, sizeof why) == 0);
    CHECK(p.count == 1 && endpoint_of(&p, 0, 0)->port == 3001);
    CHECK(parse_peers_text("5,3000,[[BB9020011AC4202,,[127.0.0.1]]]", &p, why, sizeof why) == 0);
    CHECK(p.count == 1 && endpoint_of(&p, 0, 0)->port == 3000 &&
          strcmp(endpoint_of(&p, 0, 0)->host, "127.0.0.1") == 0);

    /* Empty default port means 3000; another default applies to bare hosts. */
    CHECK(parse_peers_text("7,,[[A2,,[127.0.0.1]]]", &p, why, sizeof why) == 0);
    CHECK(endpoint_of(&p, 0, 0)->port == 3000);
    CHECK(parse_peers_text("7,4000,[[A2,,[127.0.0.1,[::1]:3002,[fe80::1%eth0]]]]", &p, why,
                           sizeof why) == 0);
    CHECK(endpoint_of(&p, 0, 0)->port == 4000 && endpoint_of(&p, 0, 1)->port == 3002 &&
          strcmp(endpoint_of(&p, 0, 1)->host, "::1") == 0 && endpoint_of(&p, 0, 2)->port == 4000);

    /* A peer with no endpoint is legal (it cannot be reached). */
    CHECK(parse_peers_text("7,3000,[[A2,,[]]]", &p, why, sizeof why) == 0);
    CHECK(p.count == 1 && p.peers[0].endpoint_count == 0);

    /* Generation over 32 bits keeps the low bits, like the C client. */
    CHECK(parse_peers_text("4294967296,3000,[]", &p, why, sizeof why) == 0 && p.generation == 0);
    cshm_as_peers_free(&p);
}

static void test_peers_malformed(void)
{
    cshm_as_peers p;
    cshm_as_peers_init(&p);
    char why[CSHM_INFO_WHY_MAX];
    const char *bad[] = {
        "",
        "12",
        "12,3000",
        "12,3000,",
        "12,3000,[",
        "x,3000,[]",
        "-1,3000,[]",
        "12,0,[]",
        "12,65536,[]",
        "12,3000,[]x",
        "12,3000,[];",
        "12,3000,[[]]",
        "12,3000,[[A,,[1.2.3.4]]",
        "12,3000,[[A,[1.2.3.4]]]",
        "12,3000,[[,,[1.2.3.4]]]",
        "12,3000,[[A,,[1.2.3.4:]]]",
        "12,3000,[[A,,[1.2.3.4:0]]]",
        "12,3000,[[A,,[1.2.3.4:65536]]]",
        "12,3000,[[A,,[1.2.3.4:3000:1]]]",
        "12,3000,[[A,,[[::1]]]",
        "12,3000,[[A,,[[::1]x]]]",
        "12,3000,[[A,,[[1.2.3.4]]]]",
        "12,3000,[[A,,[1.2.3.4,]]]",
        "12,3000,[[A,,[,1.2.3.4]]]",
        "12,3000,[[A,,[1.2 .3.4]]]",
        "12,3000,[[A,,[1.2.3.4]],]",
        "12,3000,[[A,,[1.2.3.4]],[A,,[1.2.3.5]]]",
        "12,3000,[[A B,,[1.2.3.4]]]",
        "12,3000,[[A,,[1.2.3.4]]][[B,,[1.2.3.5]]]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        int rc = parse_peers_text(bad[i], &p, why, sizeof why);
        if (rc == 0)
            fprintf(stderr, "    accepted bad peers value '%s'\n", bad[i]);
        CHECK(rc == -1 && p.count == 0 && why[0] != '\0');
    }
    /* A node name longer than a map node name can hold is refused, not cut. */
    char longname[200];
    snprintf(longname, sizeof longname, "1,3000,[[%048d,,[1.2.3.4]]]", 7);
    CHECK(parse_peers_text(longname, &p, why, sizeof why) == -1 && strstr(why, "longer") != NULL);
    snprintf(longname, sizeof longname, "1,3000,[[%047d,,[1.2.3.4]]]", 7);
    CHECK(parse_peers_text(longname, &p, why, sizeof why) == 0);
    /* A host of 256 bytes is refused. */
    char longhost[400];
    char host[257];
    memset(host, 'h', 256);
    host[256] = '\0';
    snprintf(longhost, sizeof longhost, "1,3000,[[A,,[%s]]]", host);
    CHECK(parse_peers_text(longhost, &p, why, sizeof why) == -1);
    cshm_as_peers_free(&p);
}

static void test_service_list(void)
{
    cshm_as_endpoint eps[CSHM_AS_SERVICE_MAX];
    char why[CSHM_INFO_WHY_MAX];
    cshm_slice s = slice_of("10.0.0.1:3000,[2001:db8::1]:3100,node.example:4000");
    CHECK(cshm_as_parse_service(&s, eps, CSHM_AS_SERVICE_MAX, why, sizeof why) == 3);
    CHECK(strcmp(eps[0].host, "10.0.0.1") == 0 && eps[0].port == 3000);
    CHECK(strcmp(eps[1].host, "2001:db8::1") == 0 && eps[1].port == 3100);
    CHECK(strcmp(eps[2].host, "node.example") == 0 && eps[2].port == 4000);
    s = slice_of("");
    CHECK(cshm_as_parse_service(&s, eps, CSHM_AS_SERVICE_MAX, why, sizeof why) == 0);
    const char *bad[] = {"10.0.0.1", "10.0.0.1:3000,", ",10.0.0.1:3000", "[::1]", "a b:1",
                         "10.0.0.1:0", "1.2.3.4:1,1.2.3.4:2,1.2.3.4:3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cshm_slice b = exact_copy(bad[i], strlen(bad[i]));
        CHECK(cshm_as_parse_service(&b, eps, i == 6 ? 2 : CSHM_AS_SERVICE_MAX, why, sizeof why) == -1);
        free_slice(b);
    }
}

/* Every proper prefix of a valid value is rejected (or, for the empty value
 * of replicas, read as nothing) without reading past its end. */
static void test_peers_truncated_everywhere(void)
{
    const char *full = "12,3000,[[BB9030011AC4202,,[172.17.0.3]],[BB9040011AC4202,tls,"
                       "[172.17.0.4,10.0.0.4:3100,[2001:db8::4]:3200]]]";
    size_t len = strlen(full);
    cshm_as_peers p;
    cshm_as_peers_init(&p);
    char why[CSHM_INFO_WHY_MAX];
    int accepted = 0;
    for (size_t cut = 0; cut < len; cut++) {
        cshm_slice s = exact_copy(full, cut);
        accepted += cshm_as_parse_peers(&s, &p, why, sizeof why) == 0;
        free_slice(s);
    }
    CHECK(accepted == 0);
    cshm_slice s = exact_copy(full, len);
    CHECK(cshm_as_parse_peers(&s, &p, why, sizeof why) == 0 && p.count == 2);
    free_slice(s);
    cshm_as_peers_free(&p);
}

/* ---- replicas (spec 4.1, 7.2) ------------------------------------------------------ */

static char *repeat_bitmap(char symbol, const char *tail)
{
    char *text = malloc(CSHM_AS_BITMAP_CHARS + 1);
    memset(text, symbol, 680);
    memcpy(text + 680, tail, 4);
    text[CSHM_AS_BITMAP_CHARS] = '\0';
    return text;
}

/* "test:<regime>,2,<first>,<second>" */
static char *replicas_value(const char *ns, unsigned regime, const char *first, const char *second)
{
    size_t cap = strlen(ns) + 32 + 2 * (CSHM_AS_BITMAP_CHARS + 1);
    char *text = malloc(cap);
    snprintf(text, cap, "%s:%u,2,%s,%s", ns, regime, first, second);
    return text;
}

static void test_replicas_spec_sample(void)
{
    char *aa = repeat_bitmap('q', "qqo="), *v55 = repeat_bitmap('V', "VVU=");
    char *value_a = replicas_value("test", 0, aa, v55);
    char *value_b = replicas_value("test", 0, v55, aa);

    /* Node A's whole response body is 1411 bytes, as the spec says. */
    size_t body_cap = strlen(value_a) + 64;
    char *body = malloc(body_cap);
    int body_len = snprintf(body, body_cap, "partition-generation\t3\nreplicas\t%s\n", value_a);
    CHECK(body_len == 1411);
    cshm_info_line lines[CSHM_INFO_MAX_LINES];
    size_t count = 0;
    char why[CSHM_INFO_WHY_MAX];
    CHECK(cshm_info_split(body, (size_t)body_len, lines, CSHM_INFO_MAX_LINES, &count, why,
                          sizeof why) == 0 && count == 2);
    const cshm_slice *replicas = cshm_info_find(lines, count, "replicas");
    CHECK(replicas != NULL && replicas->len == strlen(value_a));

    cshm_as_replicas *ra = malloc(sizeof *ra), *rb = malloc(sizeof *rb);
    cshm_slice sa = exact_copy(value_a, strlen(value_a)), sb = exact_copy(value_b, strlen(value_b));
    CHECK(cshm_as_parse_replicas(&sa, ra, why, sizeof why) == 0);
    CHECK(cshm_as_parse_replicas(&sb, rb, why, sizeof why) == 0);
    CHECK(ra->count == 1 && strcmp(ra->ns[0].name, "test") == 0 && ra->ns[0].regime == 0 &&
          ra->ns[0].n_cols == 2);
    CHECK(ra->ns[0].bitmaps[0][0] == 0xAA && ra->ns[0].bitmaps[0][511] == 0xAA);
    CHECK(ra->ns[0].bitmaps[1][0] == 0x55 && ra->ns[0].bitmaps[1][511] == 0x55);

    /* The decoded table of 7.2: (pid, A is master). */
    static const struct { uint32_t pid; int a_master; } rows[] = {
        {0, 1}, {1, 0}, {7, 0}, {10, 1}, {492, 1}, {1207, 0}, {4094, 1}, {4095, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint32_t p = rows[i].pid;
        CHECK(cshm_as_bitmap_has(ra->ns[0].bitmaps[0], p) == rows[i].a_master);
        CHECK(cshm_as_bitmap_has(ra->ns[0].bitmaps[1], p) == !rows[i].a_master);
        CHECK(cshm_as_bitmap_has(rb->ns[0].bitmaps[0], p) == !rows[i].a_master);
        CHECK(cshm_as_bitmap_has(rb->ns[0].bitmaps[1], p) == rows[i].a_master);
    }
    /* Byte/mask positions named by the spec. */
    CHECK((ra->ns[0].bitmaps[0][61] & 0x08) != 0);   /* 492 */
    CHECK((rb->ns[0].bitmaps[0][150] & 0x01) != 0);  /* 1207 */
    uint32_t masters_a = 0;
    for (uint32_t p = 0; p < CSHM_AS_PARTITIONS; p++)
        masters_a += (uint32_t)cshm_as_bitmap_has(ra->ns[0].bitmaps[0], p);
    CHECK(masters_a == 2048);

    /* Applied in node-array order A then B: A masters the even partitions. */
    cshm_as_tables t;
    cshm_as_tables_init(&t);
    cshm_as_apply_result res;
    CHECK(cshm_as_tables_apply(&t, 1, ra, NULL, NULL, &res) == 0 && res.claims_taken == 4096);
    CHECK(cshm_as_tables_apply(&t, 2, rb, NULL, NULL, &res) == 0 && res.claims_taken == 4096);
    CHECK(t.count == 1 && t.tables[0]->sc_mode == 0 && t.tables[0]->n_cols == 2);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const cshm_as_cell *cell = &t.tables[0]->cells[rows[i].pid];
        CHECK(cell->nodes[0] == (rows[i].a_master ? 1 : 2));
        CHECK(cell->nodes[1] == (rows[i].a_master ? 2 : 1));
        CHECK(cell->nodes[2] == 0 && cell->regime == 0);
    }
    cshm_as_tables_free(&t);

    /* A trailing ';' is tolerated; two namespaces parse. */
    char *value_bar = replicas_value("bar", 0, v55, aa);
    size_t two_cap = strlen(value_a) + strlen(value_bar) + 8;
    char *two = malloc(two_cap);
    snprintf(two, two_cap, "%s;%s;", value_a, value_bar);
    cshm_slice s2 = exact_copy(two, strlen(two));
    CHECK(cshm_as_parse_replicas(&s2, ra, why, sizeof why) == 0);
    CHECK(ra->count == 2 && strcmp(ra->ns[1].name, "bar") == 0 &&
          cshm_as_bitmap_has(ra->ns[1].bitmaps[0], 1));
    free_slice(s2);
    free(two);
    free(value_bar);

    free_slice(sa);
    free_slice(sb);
    free(ra);
    free(rb);
    free(body);
    free(value_a);
    free(value_b);
    free(aa);
    free(v55);
}

static void test_replicas_single_node_and_empty(void)
{
    char *ones = repeat_bitmap('/', "//8=");
    size_t cap = CSHM_AS_BITMAP_CHARS + 32;
    char *value = malloc(cap);
    snprintf(value, cap, "test:0,1,%s", ones);
    cshm_as_replicas *r = malloc(sizeof *r);
    char why[CSHM_INFO_WHY_MAX];
    cshm_slice s = exact_copy(value, strlen(value));
    CHECK(cshm_as_parse_replicas(&s, r, why, sizeof why) == 0);
    CHECK(r->count == 1 && r->ns[0].n_cols == 1);
    int all = 1;
    for (uint32_t p = 0; p < CSHM_AS_PARTITIONS; p++)
        all &= cshm_as_bitmap_has(r->ns[0].bitmaps[0], p);
    CHECK(all);
    free_slice(s);
    /* A node without namespaces answers an empty value. */
    cshm_slice empty = exact_copy("", 0);
    CHECK(cshm_as_parse_replicas(&empty, r, why, sizeof why) == 0 && r->count == 0);
    free_slice(empty);
    /* Columns beyond 3 are validated and ignored. */
    size_t cap5 = 5 * (CSHM_AS_BITMAP_CHARS + 1) + 32;
    char *five = malloc(cap5);
    snprintf(five, cap5, "test:9,5,%s,%s,%s,%s,%s", ones, ones, ones, ones, ones);
    s = exact_copy(five, strlen(five));
    CHECK(cshm_as_parse_replicas(&s, r, why, sizeof why) == 0);
    CHECK(r->count == 1 && r->ns[0].n_cols == 5 && r->ns[0].regime == 9);
    free_slice(s);
    free(five);
    free(r);
    free(value);
    free(ones);
}

static int replicas_rejects(const char *text, const char *why_contains)
{
    cshm_as_replicas *r = malloc(sizeof *r);
    char why[CSHM_INFO_WHY_MAX] = "";
    cshm_slice s = exact_copy(text, strlen(text));
    int rc = cshm_as_parse_replicas(&s, r, why, sizeof why);
    int ok = rc == -1 && r->count == 0 && why[0] != '\0' &&
             (why_contains == NULL || strstr(why, why_contains) != NULL);
    if (!ok)
        fprintf(stderr, "    replicas value not rejected as expected (rc %d, why '%s')\n", rc, why);
    free_slice(s);
    free(r);
    return ok;
}

static void test_replicas_malformed(void)
{
    char *aa = repeat_bitmap('q', "qqo=");
    char buf[4096];
    /* n-cols 0 and 256 */
    snprintf(buf, sizeof buf, "test:0,0");
    CHECK(replicas_rejects(buf, "1 to 255"));
    snprintf(buf, sizeof buf, "test:0,256,%s", aa);
    CHECK(replicas_rejects(buf, "1 to 255"));
    /* Fewer and more bitmaps than n-cols. */
    snprintf(buf, sizeof buf, "test:0,2,%s", aa);
    CHECK(replicas_rejects(buf, "bitmaps"));
    snprintf(buf, sizeof buf, "test:0,1,%s,%s", aa, aa);
    CHECK(replicas_rejects(buf, "more bitmaps"));
    /* Wrong bitmap lengths. */
    snprintf(buf, sizeof buf, "test:0,1,%.683s", aa);
    CHECK(replicas_rejects(buf, "683 chars"));
    snprintf(buf, sizeof buf, "test:0,1,q%s", aa);
    CHECK(replicas_rejects(buf, "685 chars"));
    snprintf(buf, sizeof buf, "test:0,1,");
    CHECK(replicas_rejects(buf, "0 chars"));
    /* Bad base64: a symbol outside the alphabet, '=' inside, a bad tail. */
    const char *bad_bitmaps[] = {"!", "=", "-", "_", " "};
    for (size_t i = 0; i < sizeof bad_bitmaps / sizeof bad_bitmaps[0]; i++) {
        snprintf(buf, sizeof buf, "test:0,1,%s", aa);
        buf[9 + 100] = bad_bitmaps[i][0];
        CHECK(replicas_rejects(buf, "base64"));
    }
    snprintf(buf, sizeof buf, "test:0,1,%.680sqqqq", aa); /* no '=' */
    CHECK(replicas_rejects(buf, "base64"));
    snprintf(buf, sizeof buf, "test:0,1,%.680sqqp=", aa); /* non-zero padding bits */
    CHECK(replicas_rejects(buf, "base64"));
    snprintf(buf, sizeof buf, "test:0,1,%.680sqq==", aa); /* only one byte in the tail */
    CHECK(replicas_rejects(buf, "base64"));
    /* Namespace names: empty, too long, bad bytes; 31 bytes is fine. */
    snprintf(buf, sizeof buf, ":0,1,%s", aa);
    CHECK(replicas_rejects(buf, "namespace"));
    snprintf(buf, sizeof buf, "%s:0,1,%s", "abcdefghijklmnopqrstuvwxyz012345", aa);
    CHECK(replicas_rejects(buf, "32 bytes"));
    snprintf(buf, sizeof buf, "te st:0,1,%s", aa);
    CHECK(replicas_rejects(buf, "forbidden"));
    snprintf(buf, sizeof buf, "%s:0,1,%s", "abcdefghijklmnopqrstuvwxyz01234", aa);
    {
        cshm_as_replicas *r = malloc(sizeof *r);
        char why[CSHM_INFO_WHY_MAX];
        cshm_slice s = slice_of(buf);
        CHECK(cshm_as_parse_replicas(&s, r, why, sizeof why) == 0 && r->count == 1);
        free(r);
    }
    /* Regime and count fields. */
    snprintf(buf, sizeof buf, "test:x,1,%s", aa);
    CHECK(replicas_rejects(buf, "regime"));
    snprintf(buf, sizeof buf, "test:4294967296,1,%s", aa);
    CHECK(replicas_rejects(buf, "regime"));
    snprintf(buf, sizeof buf, "test:-1,1,%s", aa);
    CHECK(replicas_rejects(buf, "regime"));
    snprintf(buf, sizeof buf, "test:0,1x,%s", aa);
    CHECK(replicas_rejects(buf, NULL));
    snprintf(buf, sizeof buf, "test,0,1,%s", aa);
    CHECK(replicas_rejects(buf, "no ':'"));
    /* The same namespace twice, an empty entry between two. */
    snprintf(buf, sizeof buf, "test:0,1,%s;test:0,1,%s", aa, aa);
    CHECK(replicas_rejects(buf, "twice"));
    snprintf(buf, sizeof buf, "test:0,1,%s;;bar:0,1,%s", aa, aa);
    CHECK(replicas_rejects(buf, NULL));
    /* What a server sends for an error, and the simulator's bad_value. */
    CHECK(replicas_rejects("ERROR:4:unrecognized command", NULL));
    CHECK(replicas_rejects("#garbage,[not;a:value", NULL));
    free(aa);
}

static void test_replicas_truncated_everywhere(void)
{
    char *aa = repeat_bitmap('q', "qqo="), *v55 = repeat_bitmap('V', "VVU=");
    char *value = replicas_value("test", 7, aa, v55);
    size_t len = strlen(value);
    cshm_as_replicas *r = malloc(sizeof *r);
    char why[CSHM_INFO_WHY_MAX];
    int accepted = 0;
    for (size_t cut = 1; cut < len; cut++) {
        cshm_slice s = exact_copy(value, cut);
        accepted += cshm_as_parse_replicas(&s, r, why, sizeof why) == 0;
        free_slice(s);
    }
    CHECK(accepted == 0);
    cshm_slice s = exact_copy(value, len);
    CHECK(cshm_as_parse_replicas(&s, r, why, sizeof why) == 0 && r->ns[0].regime == 7);
    free_slice(s);
    free(r);
    free(value);
    free(aa);
    free(v55);
}

/* ---- partition tables (spec 4.3) ------------------------------------------------------ */

typedef struct displaced_log {
    uint16_t refs[16];
    int count;
} displaced_log;

static void record_displaced(void *arg, uint16_t ref)
{
    displaced_log *log = arg;
    if (log->count < 16)
        log->refs[log->count] = ref;
    log->count++;
}

/* One namespace entry claiming `partitions` in column 0 only (n_cols 1). */
static void one_column(cshm_as_replicas *r, const char *ns, uint32_t regime, uint32_t n_cols,
                       const uint32_t *partitions, size_t count)
{
    memset(r, 0, sizeof *r);
    r->count = 1;
    snprintf(r->ns[0].name, sizeof r->ns[0].name, "%s", ns);
    r->ns[0].regime = regime;
    r->ns[0].n_cols = n_cols;
    for (size_t i = 0; i < count; i++)
        r->ns[0].bitmaps[0][partitions[i] >> 3] |= (uint8_t)(0x80u >> (partitions[i] & 7));
}

static void test_table_regime_rule(void)
{
    cshm_as_tables t;
    cshm_as_tables_init(&t);
    cshm_as_replicas *r = malloc(sizeof *r);
    cshm_as_apply_result res;
    displaced_log log = {.count = 0};
    const uint32_t p5[] = {5};

    /* SC: regime 7 from node 1, then a stale claim (6) from node 2 is ignored. */
    one_column(r, "test", 7, 1, p5, 1);
    CHECK(cshm_as_tables_apply(&t, 1, r, record_displaced, &log, &res) == 0);
    CHECK(t.tables[0]->sc_mode == 1 && t.tables[0]->cells[5].nodes[0] == 1 &&
          t.tables[0]->cells[5].regime == 7);
    one_column(r, "test", 6, 1, p5, 1);
    CHECK(cshm_as_tables_apply(&t, 2, r, record_displaced, &log, &res) == 0);
    CHECK(res.claims_ignored == 1 && res.claims_taken == 0);
    CHECK(t.tables[0]->cells[5].nodes[0] == 1 && log.count == 0);
    /* The same regime from node 2 wins (>=), and node 1 is told. */
    one_column(r, "test", 7, 1, p5, 1);
    CHECK(cshm_as_tables_apply(&t, 2, r, record_displaced, &log, &res) == 0);
    CHECK(t.tables[0]->cells[5].nodes[0] == 2 && log.count == 1 && log.refs[0] == 1);
    /* A higher regime from node 1 takes it back and raises the regime. */
    one_column(r, "test", 8, 1, p5, 1);
    CHECK(cshm_as_tables_apply(&t, 1, r, record_displaced, &log, &res) == 0);
    CHECK(t.tables[0]->cells[5].nodes[0] == 1 && t.tables[0]->cells[5].regime == 8);
    /* A 0 bit clears nothing: node 1 claiming nothing keeps partition 5. */
    one_column(r, "test", 9, 1, NULL, 0);
    CHECK(cshm_as_tables_apply(&t, 1, r, NULL, NULL, &res) == 0);
    CHECK(t.tables[0]->cells[5].nodes[0] == 1);
    /* AP (regime 0): last writer wins and the regime resets. */
    one_column(r, "test", 0, 1, p5, 1);
    CHECK(cshm_as_tables_apply(&t, 3, r, NULL, NULL, &res) == 0);
    CHECK(t.tables[0]->cells[5].nodes[0] == 3 && t.tables[0]->cells[5].regime == 0 &&
          t.tables[0]->sc_mode == 0);
    CHECK(cshm_as_tables_node_has_partitions(&t, 3) && !cshm_as_tables_node_has_partitions(&t, 2));
    cshm_as_tables_forget_node(&t, 3);
    CHECK(!cshm_as_tables_node_has_partitions(&t, 3) && t.tables[0]->cells[5].nodes[0] == 0);
    CHECK(!cshm_as_table_has_owners(t.tables[0]));
    free(r);
    cshm_as_tables_free(&t);
}

static void test_table_shrinks_and_dropped_namespaces(void)
{
    cshm_as_tables t;
    cshm_as_tables_init(&t);
    cshm_as_replicas *r = malloc(sizeof *r);
    cshm_as_apply_result res;
    const uint32_t p9[] = {9};
    /* Node 1 holds partition 9 in columns 0 and 1 of "test" (n_cols 2). */
    one_column(r, "test", 0, 2, p9, 1);
    r->ns[0].bitmaps[1][1] = 0x40; /* partition 9 in column 1 too */
    CHECK(cshm_as_tables_apply(&t, 1, r, NULL, NULL, &res) == 0);
    CHECK(t.tables[0]->cells[9].nodes[0] == 1 && t.tables[0]->cells[9].nodes[1] == 1);
    /* Replication factor drops to 1: its column-1 claim goes. */
    one_column(r, "test", 0, 1, p9, 1);
    CHECK(cshm_as_tables_apply(&t, 1, r, NULL, NULL, &res) == 0);
    CHECK(t.tables[0]->cells[9].nodes[0] == 1 && t.tables[0]->cells[9].nodes[1] == 0);
    /* The node lists only "bar" now: its "test" claims go. */
    one_column(r, "bar", 0, 1, p9, 1);
    CHECK(cshm_as_tables_apply(&t, 1, r, NULL, NULL, &res) == 0);
    CHECK(t.count == 2 && t.tables[0]->cells[9].nodes[0] == 0 && t.tables[1]->cells[9].nodes[0] == 1);
    /* More than 64 namespaces over time: the extra ones are counted, not stored. */
    for (int i = 0; i < 70; i++) {
        char name[16];
        snprintf(name, sizeof name, "ns%d", i);
        one_column(r, name, 0, 1, p9, 1);
        CHECK(cshm_as_tables_apply(&t, 2, r, NULL, NULL, &res) == 0);
    }
    CHECK(t.count == CSHM_AS_REPLICAS_NS_MAX && res.namespaces_dropped == 1);
    free(r);
    cshm_as_tables_free(&t);
}

void suite_ripemd(void)
{
    RUN(test_ripemd_published_vectors);
    RUN(test_ripemd_million_a);
    RUN(test_ripemd_incremental_splits);
    RUN(test_digest_spec_rows);
    RUN(test_partition_worked_example);
    RUN(test_digest_short_and_long_paths);
    RUN(test_digest_rejects_bad_keys);
}

void suite_aerospike_parse(void)
{
    RUN(test_info_request_bytes);
    RUN(test_info_response_header);
    RUN(test_info_split_example);
    RUN(test_info_split_edge_cases);
    RUN(test_generations_and_builds);
    RUN(test_peers_spec_examples);
    RUN(test_peers_malformed);
    RUN(test_peers_truncated_everywhere);
    RUN(test_service_list);
    RUN(test_replicas_spec_sample);
    RUN(test_replicas_single_node_and_empty);
    RUN(test_replicas_malformed);
    RUN(test_replicas_truncated_everywhere);
    RUN(test_table_regime_rule);
    RUN(test_table_shrinks_and_dropped_namespaces);
}
