/*
 * stat.c - `clustershm stat --key K [--json]`: one segment in full.
 *
 * Invariants: read-only (view.c); the JSON keys of earlier versions keep
 * their names and meanings (tender_pid, size, has_map, nodes as a list,
 * ...), and every figure of the status object is also present under its
 * status() name (owner_pid, segment_size, ...), as docs/cli-json.md lists,
 * with the verdict on the published snapshot's checksum (snapshot_ok);
 * a segment that cannot be read is reported on stderr with exit status 1.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "clock.h"

static void stat_json(const cli_view *v, const cli_status *s)
{
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_object(&j, NULL);
    cli_json_uint(&j, "schema_version", CLI_SCHEMA_VERSION);
    cli_json_key(&j, "key", s->key);
    cli_json_int(&j, "shmid", s->shmid);
    cli_json_uint(&j, "size", s->segment_size);
    cli_json_uint(&j, "segment_size", s->segment_size);
    cli_json_uint(&j, "attached", s->attached);
    cli_json_bool(&j, "removed", s->removed);
    cli_json_string(&j, "driver", s->driver);
    cli_json_string(&j, "identity", s->identity);
    char mode[16];
    snprintf(mode, sizeof mode, "0%o", (unsigned)s->mode);
    cli_json_string(&j, "mode", mode);
    cli_json_uint(&j, "creator_uid", s->creator_uid);
    cli_json_number(&j, "created_at", s->created_at, 3);
    cli_json_bool(&j, "credentials", s->credentials);
    cli_json_number(&j, "tend_interval", s->tend_interval, -1);
    cli_json_number(&j, "takeover_timeout", s->takeover_timeout, -1);
    cli_json_number(&j, "min_refresh_interval", s->min_refresh_interval, -1);
    cli_json_uint(&j, "tender_pid", s->owner_pid);
    cli_json_uint(&j, "owner_pid", s->owner_pid);
    cli_json_bool(&j, "has_tender", s->has_tender);
    cli_json_uint(&j, "epoch", s->epoch);
    cli_json_uint(&j, "publisher_epoch", s->publisher_epoch);
    cli_json_uint(&j, "generation", s->generation);
    cli_json_number(&j, "tended_at", s->tended_at, 3);
    cli_json_number(&j, "age", s->age, 3);
    cli_json_bool(&j, "stale", s->stale);
    cli_json_bool(&j, "snapshot_ok", s->snapshot_ok);
    cli_json_string(&j, "snapshot_error", s->snapshot_error);
    cli_json_bool(&j, "has_map", s->has_map);
    cli_json_uint(&j, "tends", s->record.tends);
    cli_json_uint(&j, "tend_failures", s->record.tend_failures);
    cli_json_uint(&j, "handoffs", s->record.handoffs);
    cli_json_uint(&j, "dead_takeovers", s->record.dead_takeovers);
    cli_json_uint(&j, "hung_takeovers", s->record.hung_takeovers);
    cli_json_uint(&j, "step_downs", s->record.step_downs);
    cli_json_uint(&j, "failures_in_row", s->record.failures_in_row);
    cli_json_step_downs(&j, "step_down_history", &s->record);
    cli_json_uint(&j, "max_nodes", s->max_nodes);
    cli_json_uint(&j, "max_namespaces", s->max_namespaces);
    cli_json_uint(&j, "partitions", s->partitions);
    cli_json_uint(&j, "chain_generation", s->chain_generation);
    cli_json_key(&j, "chain_base", s->chain_base);
    const cshm_forward *f = &s->record.forward;
    if (f->key == 0) {
        cli_json_null(&j, "forwarded_to");
    } else {
        cli_json_object(&j, "forwarded_to");
        cli_json_key(&j, "key", f->key);
        cli_json_int(&j, "shmid", f->shmid);
        cli_json_uint(&j, "chain_generation", f->generation);
        cli_json_uint(&j, "max_nodes", f->max_nodes);
        cli_json_uint(&j, "max_namespaces", f->max_namespaces);
        cli_json_uint(&j, "size", f->size);
        cli_json_end_object(&j);
    }
    cli_json_uint(&j, "nodes_seen", s->nodes_seen);
    cli_json_uint(&j, "namespaces_seen", s->namespaces_seen);
    cli_json_bool(&j, "nodes_truncated", s->nodes_truncated);
    cli_json_bool(&j, "namespaces_truncated", s->namespaces_truncated);
    cli_json_bool(&j, "replicas_truncated", s->replicas_truncated);
    cli_json_string(&j, "last_error", s->record.last_error);
    cli_json_array(&j, "namespaces");
    for (uint32_t ns = 0; ns < s->namespaces; ns++)
        cli_json_string(&j, NULL, v->map.namespaces[ns].name);
    cli_json_end_array(&j);
    cli_json_array(&j, "nodes");
    for (uint32_t i = 0; i < s->nodes; i++) {
        const cshm_map_node *n = &v->map.nodes[i];
        cli_json_object(&j, NULL);
        cli_json_string(&j, "name", n->name);
        cli_json_string(&j, "host", n->host);
        cli_json_uint(&j, "port", n->port);
        cli_json_bool(&j, "active", n->active);
        cli_json_bool(&j, "is_master", n->is_master);
        cli_json_uint(&j, "partitions", v->masters[i]);
        cli_json_uint(&j, "replica_partitions", v->replicas[i]);
        cli_json_end_object(&j);
    }
    cli_json_end_array(&j);
    cli_json_end_object(&j);
    cli_json_finish(&j);
}

static void stat_text(const cli_view *v, const cli_status *s)
{
    const cshm_tend_record *r = &s->record;
    printf("key          0x%08x\nshmid        %d%s\nsize         %llu bytes\n", (unsigned)s->key,
           s->shmid, s->removed ? " (removed: gone when its last process detaches)" : "",
           (unsigned long long)s->segment_size);
    printf("driver       %s\nidentity     %s\nmode         0%o (creator uid %u)%s\n", s->driver,
           s->identity, (unsigned)s->mode, (unsigned)s->creator_uid,
           s->credentials ? ", with credentials" : "");
    printf("timing       tend_interval %g s, takeover_timeout %g s, min_refresh_interval "
           "%g s\n",
           s->tend_interval, s->takeover_timeout, s->min_refresh_interval);
    printf("attached     %u processes\ntender pid   %u%s\nepoch        %llu\n", s->attached,
           (unsigned)s->owner_pid,
           s->has_tender ? "" : " (role vacant: no live process holds the tender lock)",
           (unsigned long long)s->epoch);
    printf("generation   %llu\n", (unsigned long long)s->generation);
    if (s->chain_generation > 0 || s->record.forward.key != 0)
        printf("chain        generation %u of the chain at 0x%08x%s\n",
               (unsigned)s->chain_generation, (unsigned)s->chain_base,
               s->record.forward.key ? "" : " (current)");
    if (s->record.forward.key != 0)
        printf("grown        forwarded to 0x%08x (generation %u, shmid %d, max_nodes %u, "
               "max_namespaces %u): the processes move there and this segment goes with the "
               "last of them\n",
               (unsigned)s->record.forward.key, (unsigned)s->record.forward.generation,
               s->record.forward.shmid, (unsigned)s->record.forward.max_nodes,
               (unsigned)s->record.forward.max_namespaces);
    if (!s->published)
        printf("snapshot     none published\n");
    else if (s->snapshot_ok)
        printf("snapshot     checksum ok\n");
    else
        printf("snapshot     %s\n", s->snapshot_error);
    if (s->tended_at > 0)
        printf("tended       %.1f s ago%s\n", s->age,
               s->stale ? " (STALE: cluster unreachable)" : "");
    else
        printf("tended       never%s\n",
               s->published && !s->has_map ? " (no tend has reached the cluster)" : "");
    printf("tends        %llu (%llu failed, %u in a row now); handoffs %llu, takeovers after "
           "death %llu, after hang %llu; step-downs %llu\n",
           (unsigned long long)r->tends, (unsigned long long)r->tend_failures,
           (unsigned)r->failures_in_row, (unsigned long long)r->handoffs,
           (unsigned long long)r->dead_takeovers, (unsigned long long)r->hung_takeovers,
           (unsigned long long)r->step_downs);
    if (r->last_error[0])
        printf("last error   %s\n", r->last_error);
    for (uint32_t i = 0; i < r->step_down_count && i < CSHM_STEP_DOWN_HISTORY; i++) {
        const cshm_step_down *d = &r->step_down_history[i];
        printf("%s pid %u (epoch %u) stepped down %.1f s ago after %u failed tends: %s\n",
               i == 0 ? "stepped down" : "            ", (unsigned)d->pid, (unsigned)d->epoch,
               (double)cshm_wall_ms() / 1000.0 - (double)d->at_ms / 1000.0,
               (unsigned)d->failures, d->reason);
    }
    if (s->nodes_truncated || s->namespaces_truncated || s->replicas_truncated)
        printf("limits       REACHED:%s%s%s\n",
               s->nodes_truncated ? " more nodes than max_nodes" : "",
               s->namespaces_truncated ? " more namespaces than max_namespaces" : "",
               s->replicas_truncated ? " more replicas than the map stores" : "");
    printf("nodes        %u (max %u)\n", (unsigned)s->nodes, (unsigned)s->max_nodes);
    for (uint32_t i = 0; i < s->nodes; i++) {
        const cshm_map_node *n = &v->map.nodes[i];
        printf("  %-40s %s:%u %-7s %-8s %5u partitions, %5u replica\n", n->name, n->host,
               (unsigned)n->port, n->is_master ? "master" : "replica",
               n->active ? "active" : "INACTIVE", (unsigned)v->masters[i],
               (unsigned)v->replicas[i]);
    }
}

int cli_stat(const cli_args *args)
{
    cli_view v;
    cshm_error error;
    if (cli_view_open(args->key, &v, &error) != 0) {
        fprintf(stderr, "clustershm: %s\n", error.message);
        return CLI_FAILED;
    }
    cli_status s;
    if (cli_view_read(&v, &s, &error) != 0) {
        fprintf(stderr, "clustershm: %s\n", error.message);
        cli_view_close(&v);
        return CLI_FAILED;
    }
    if (args->json)
        stat_json(&v, &s);
    else
        stat_text(&v, &s);
    cli_view_close(&v);
    fflush(stdout);
    return CLI_OK;
}
