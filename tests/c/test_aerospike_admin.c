/*
 * test_aerospike_admin.c - the Aerospike credential (bcrypt) and the admin
 * message codec of login and authentication.
 *
 * bcrypt: published crypt_blowfish vectors ($2a$, cost 5), then the salt
 * every Aerospike client uses; the simulator suite checks that the official
 * client sends those exact bytes.  Codec: the byte layout of a LOGIN and an
 * AUTHENTICATE request, and answers that are short, overlong or lie about
 * their field sizes.
 */
#include <string.h>

#include "aerospike_admin.h"
#include "test.h"

static void test_bcrypt_published_vectors(void)
{
    static const struct { const char *password, *hash; } v[] = {
        {"U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
        {"U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"},
        {"U*U*U", "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a"},
        {"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after "
         "72 are ignored",
         "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[CSHM_AS_CREDENTIAL_SIZE + 1];
        char setting[30];
        memcpy(setting, v[i].hash, 29);
        setting[29] = '\0';
        CHECK(cshm_as_bcrypt(v[i].password, setting, out) == 0);
        CHECK(strcmp(out, v[i].hash) == 0);
    }
}

static void test_credential_uses_the_clients_salt(void)
{
    char out[CSHM_AS_CREDENTIAL_SIZE + 1];
    CHECK(cshm_as_credential("password", out) == 0);
    CHECK(strcmp(out, "$2a$10$7EqJtq98hPqEX7fNZaFWoOqUH6KN8IKy3Yk5Kz..RHGKNAUCoP/LG") == 0);
    CHECK(cshm_as_credential("", out) == 0);
    CHECK(strcmp(out, "$2a$10$7EqJtq98hPqEX7fNZaFWoOLCkFexA7A9eoJ0Ew.mTDdk.E60D.9zS") == 0);
}

static void test_login_request_layout(void)
{
    unsigned char buf[256];
    const char *cred = "$2a$10$7EqJtq98hPqEX7fNZaFWoOqUH6KN8IKy3Yk5Kz..RHGKNAUCoP/LG";
    size_t len = cshm_as_admin_login_request(buf, sizeof buf, "app", cred);
    /* 8 proto + 16 admin header + (5 + 3) user + (5 + 60) credential. */
    CHECK(len == 8 + 16 + 8 + 65);
    static const unsigned char proto[8] = {2, 2, 0, 0, 0, 0, 0, 16 + 8 + 65};
    CHECK(memcmp(buf, proto, 8) == 0);
    CHECK(buf[8 + 2] == CSHM_AS_ADMIN_LOGIN && buf[8 + 3] == 2);
    static const unsigned char user[8] = {0, 0, 0, 4, CSHM_AS_FIELD_USER, 'a', 'p', 'p'};
    CHECK(memcmp(buf + 24, user, 8) == 0);
    static const unsigned char cred_head[5] = {0, 0, 0, 61, CSHM_AS_FIELD_CREDENTIAL};
    CHECK(memcmp(buf + 32, cred_head, 5) == 0 && memcmp(buf + 37, cred, 60) == 0);
    CHECK(cshm_as_admin_login_request(buf, len - 1, "app", cred) == 0);

    const unsigned char token[3] = {0xde, 0xad, 0x00};
    len = cshm_as_admin_authenticate_request(buf, sizeof buf, "app", token, sizeof token);
    CHECK(len == 8 + 16 + 8 + 8);
    CHECK(buf[8 + 2] == CSHM_AS_ADMIN_AUTHENTICATE && buf[8 + 3] == 2);
    CHECK(buf[32 + 3] == 4 && buf[32 + 4] == CSHM_AS_FIELD_SESSION_TOKEN &&
          memcmp(buf + 37, token, 3) == 0);
}

static void test_answer_parse(void)
{
    unsigned char body[64] = {0};
    unsigned char token[8];
    cshm_as_admin_answer a;
    char why[160];
    /* OK with a token "abc" and a TTL of 120 s. */
    body[3] = 2;
    static const unsigned char fields[] = {0, 0, 0, 4, 5, 'a', 'b', 'c', 0, 0, 0, 5, 6, 0, 0, 0, 120};
    memcpy(body + 16, fields, sizeof fields);
    CHECK(cshm_as_admin_parse(body, 16 + sizeof fields, token, sizeof token, &a, why,
                              sizeof why) == 0);
    CHECK(a.result == 0 && a.token_len == 3 && memcmp(token, "abc", 3) == 0 &&
          a.ttl_seconds == 120);
    /* A field that claims more than the answer holds. */
    CHECK(cshm_as_admin_parse(body, 16 + 7, token, sizeof token, &a, why, sizeof why) == -1);
    /* Header shorter than 16 bytes. */
    CHECK(cshm_as_admin_parse(body, 15, token, sizeof token, &a, why, sizeof why) == -1);
    /* A token longer than the caller's buffer. */
    CHECK(cshm_as_admin_parse(body, 16 + sizeof fields, token, 2, &a, why, sizeof why) == -1);
    /* A refusal: result code only. */
    unsigned char refusal[16] = {0, 65};
    CHECK(cshm_as_admin_parse(refusal, 16, token, sizeof token, &a, why, sizeof why) == 0);
    CHECK(a.result == CSHM_AS_RESULT_INVALID_CREDENTIAL && a.token_len == 0);
    CHECK(strcmp(cshm_as_admin_result_name(65), "INVALID_CREDENTIAL") == 0);
}

void suite_aerospike_admin(void)
{
    RUN(test_bcrypt_published_vectors);
    RUN(test_credential_uses_the_clients_salt);
    RUN(test_login_request_layout);
    RUN(test_answer_parse);
}
