/*
 * list.c - `clustershm list [--json]`: every clustershm segment on the host.
 *
 * Invariants: every shmid of the kernel's table is inspected read-only;
 * a segment that is not a clustershm segment (or cannot be read by this
 * user) is never listed and never an error; the JSON document is one
 * object {"schema_version", "segments": [...]}, whose entries keep the
 * keys of earlier versions (tender_pid, size, age = -1 when never tended)
 * and add status() names (owner_pid, segment_size, has_tender, ...).
 */
#include <stdio.h>

#include "cli.h"

typedef struct list_state {
    cli_json json;
    int as_json;
    int count;
} list_state;

static void list_one(int shmid, void *arg)
{
    list_state *ls = arg;
    cli_view v;
    cshm_error error;
    /* Segments of other programs (or unreadable ones) are not ours to list. */
    if (cli_view_open_shmid(shmid, &v, &error) != 0)
        return;
    cli_status s;
    int readable = cli_view_read(&v, &s, &error) == 0;
    double age = readable && s.tended_at > 0 ? s.age : -1;
    if (ls->as_json) {
        cli_json *j = &ls->json;
        cli_json_object(j, NULL);
        cli_json_key(j, "key", s.key);
        cli_json_int(j, "shmid", s.shmid);
        cli_json_uint(j, "size", s.segment_size);
        cli_json_uint(j, "segment_size", s.segment_size);
        cli_json_uint(j, "attached", s.attached);
        cli_json_bool(j, "removed", s.removed);
        cli_json_string(j, "driver", s.driver);
        cli_json_uint(j, "tender_pid", s.owner_pid);
        cli_json_uint(j, "owner_pid", s.owner_pid);
        cli_json_bool(j, "has_tender", s.has_tender);
        cli_json_uint(j, "epoch", s.epoch);
        cli_json_uint(j, "generation", s.generation);
        cli_json_number(j, "tended_at", s.tended_at, 3);
        cli_json_number(j, "age", age, 3);
        cli_json_bool(j, "stale", s.stale);
        cli_json_bool(j, "has_map", s.has_map);
        cli_json_string(j, "identity", s.identity);
        cli_json_uint(j, "chain_generation", s.chain_generation);
        cli_json_key(j, "chain_base", s.chain_base);
        if (readable && s.record.forward.key != 0)
            cli_json_key(j, "forwarded_to", s.record.forward.key);
        else
            cli_json_null(j, "forwarded_to");
        cli_json_string(j, "error", readable ? "" : error.message);
        cli_json_end_object(j);
    } else {
        if (ls->count == 0)
            printf("%-10s %-8s %9s %8s %-9s %7s %5s %10s %8s  %s\n", "key", "shmid", "size",
                   "attached", "driver", "tender", "epoch", "generation", "age", "cluster");
        char age_text[32];
        if (age >= 0)
            snprintf(age_text, sizeof age_text, "%.1fs%s", age, s.stale ? "!" : "");
        else
            snprintf(age_text, sizeof age_text, "never");
        char tender[16];
        if (s.has_tender)
            snprintf(tender, sizeof tender, "%u", (unsigned)s.owner_pid);
        else
            snprintf(tender, sizeof tender, "-");
        char chain[64] = "";
        if (readable && s.record.forward.key != 0)
            snprintf(chain, sizeof chain, " (grown: forwarded to 0x%08x)",
                     (unsigned)s.record.forward.key);
        else if (s.chain_generation > 0)
            snprintf(chain, sizeof chain, " (generation %u of 0x%08x)",
                     (unsigned)s.chain_generation, (unsigned)s.chain_base);
        printf("0x%08x %-8d %9llu %8u %-9s %7s %5llu %10llu %8s  %s%s%s\n", (unsigned)s.key,
               s.shmid, (unsigned long long)s.segment_size, (unsigned)s.attached, s.driver,
               tender, (unsigned long long)s.epoch, (unsigned long long)s.generation, age_text,
               s.identity, s.removed ? " (removed)" : "", chain);
    }
    ls->count++;
    cli_view_close(&v);
}

int cli_list(const cli_args *args)
{
    list_state ls = {.as_json = args->json, .count = 0};
    if (args->json) {
        cli_json_init(&ls.json, stdout);
        cli_json_object(&ls.json, NULL);
        cli_json_uint(&ls.json, "schema_version", CLI_SCHEMA_VERSION);
        cli_json_array(&ls.json, "segments");
    }
    if (cli_for_each_shmid(list_one, &ls) != 0)
        return CLI_FAILED;
    if (args->json) {
        cli_json_end_array(&ls.json);
        cli_json_end_object(&ls.json);
        cli_json_finish(&ls.json);
    } else if (ls.count == 0) {
        printf("no clustershm segments on this host\n");
    }
    fflush(stdout);
    return CLI_OK;
}
