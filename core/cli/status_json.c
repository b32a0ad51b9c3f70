/*
 * status_json.c - the status object: one segment's figures in JSON under
 * the names of cshm_status_info / status() (docs/cli-json.md, the
 * "status" definition of docs/schema/{check,watch}.schema.json).
 *
 * Invariants: every key written here is in that definition and has the
 * meaning status() gives it; key is the "0x%08x" text (status() gives the
 * integer); owner_pid, not the process-local role and pid.
 */
#include "cli.h"

void cli_json_step_downs(cli_json *j, const char *key, const cshm_tend_record *r)
{
    cli_json_array(j, key);
    /* step_down_count is bounded by the snapshot API's copy */
    for (uint32_t i = 0; i < r->step_down_count && i < CSHM_STEP_DOWN_HISTORY; i++) {
        const cshm_step_down *d = &r->step_down_history[i];
        cli_json_object(j, NULL);
        cli_json_uint(j, "pid", d->pid);
        cli_json_uint(j, "epoch", d->epoch);
        cli_json_number(j, "at", (double)d->at_ms / 1000.0, 3);
        cli_json_uint(j, "failures", d->failures);
        cli_json_string(j, "reason", d->reason);
        cli_json_end_object(j);
    }
    cli_json_end_array(j);
}

void cli_json_status(cli_json *j, const char *key, const cli_status *s)
{
    cli_json_object(j, key);
    cli_json_key(j, "key", s->key);
    cli_json_int(j, "shmid", s->shmid);
    cli_json_uint(j, "segment_size", s->segment_size);
    cli_json_uint(j, "attached", s->attached);
    cli_json_string(j, "driver", s->driver);
    cli_json_string(j, "identity", s->identity);
    cli_json_uint(j, "owner_pid", s->owner_pid);
    cli_json_bool(j, "has_tender", s->has_tender);
    cli_json_uint(j, "epoch", s->epoch);
    cli_json_uint(j, "generation", s->generation);
    cli_json_bool(j, "has_map", s->has_map);
    cli_json_number(j, "tended_at", s->tended_at, 3);
    cli_json_number(j, "age", s->age, 3);
    cli_json_bool(j, "stale", s->stale);
    cli_json_uint(j, "nodes", s->nodes);
    cli_json_uint(j, "namespaces", s->namespaces);
    cli_json_uint(j, "nodes_seen", s->nodes_seen);
    cli_json_uint(j, "namespaces_seen", s->namespaces_seen);
    cli_json_uint(j, "max_nodes", s->max_nodes);
    cli_json_uint(j, "max_namespaces", s->max_namespaces);
    cli_json_bool(j, "nodes_truncated", s->nodes_truncated);
    cli_json_bool(j, "namespaces_truncated", s->namespaces_truncated);
    cli_json_bool(j, "replicas_truncated", s->replicas_truncated);
    cli_json_uint(j, "tends", s->record.tends);
    cli_json_uint(j, "tend_failures", s->record.tend_failures);
    cli_json_uint(j, "handoffs", s->record.handoffs);
    cli_json_uint(j, "dead_takeovers", s->record.dead_takeovers);
    cli_json_uint(j, "hung_takeovers", s->record.hung_takeovers);
    cli_json_uint(j, "step_downs", s->record.step_downs);
    cli_json_uint(j, "failures_in_row", s->record.failures_in_row);
    cli_json_number(j, "tend_interval", s->tend_interval, -1);
    cli_json_number(j, "takeover_timeout", s->takeover_timeout, -1);
    cli_json_number(j, "min_refresh_interval", s->min_refresh_interval, -1);
    cli_json_string(j, "last_error", s->record.last_error);
    cli_json_step_downs(j, "step_down_history", &s->record);
    cli_json_end_object(j);
}
