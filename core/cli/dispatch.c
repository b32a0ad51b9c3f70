/*
 * dispatch.c - the command line of clustershm: which command, its options,
 * and the help of every command (the man page docs/clustershm.1 and
 * docs/operations.md say the same).
 *
 * Invariants: options are parsed completely before anything is looked at;
 * a bad command line prints the command's usage on stderr and returns 2
 * (3, UNKNOWN, for check, as monitoring plugins must); --help prints on
 * stdout and returns 0; nothing here touches a segment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clustershm.h"

typedef struct command {
    const char *name;
    const char *synopsis;
    const char *help;
    int (*run)(const cli_args *args);
} command;

static int run_stat(const cli_args *args)
{
    return args->prometheus || args->textfile != NULL ? cli_metrics(args) : cli_stat(args);
}

static const command COMMANDS[] = {
    {"list", "clustershm list [--json]",
     "Every clustershm segment on this host, one line each: key, shmid, size,\n"
     "attached processes, driver, tender pid ('-' while the role is vacant),\n"
     "epoch, generation, age of the map ('!' when stale, 'never') and cluster.\n"
     "Segments of other programs are never listed.\n"
     "\n"
     "  --json   one JSON document {\"schema_version\", \"segments\": [...]}\n"
     "           (docs/schema/list.schema.json)\n",
     cli_list},
    {"stat",
     "clustershm stat --key KEY [--json]\n"
     "       clustershm stat --prometheus [--key KEY] [--textfile DIR]",
     "One segment in full: key, shmid, size, driver, identity, mode, timing,\n"
     "attached processes, tender pid, epoch, generation, age of the map, stale,\n"
     "tends and failed tends, handoffs, takeovers after death and after hang,\n"
     "step-downs with their reasons, the last error, limits, the verdict on the\n"
     "published snapshot's checksum, and every node with the partitions (slots)\n"
     "it masters and replicates.\n"
     "\n"
     "  --key KEY        the segment's SysV key, hex (0x43...) or decimal\n"
     "  --json           one JSON document (docs/schema/stat.schema.json)\n"
     "  --prometheus     the figures as Prometheus metrics (text exposition\n"
     "                   format 0.0.4) of every clustershm segment on the host,\n"
     "                   or of KEY only; labels key and cluster\n"
     "  --textfile DIR   write the metrics to DIR/clustershm.prom atomically\n"
     "                   (temporary file, then rename) for the node exporter's\n"
     "                   textfile collector; implies --prometheus\n",
     run_stat},
    {"check",
     "clustershm check --key KEY [--max-age SECONDS] [--critical-age SECONDS] [--json]",
     "Judge one segment as a monitoring plugin: one line\n"
     "'CLUSTERSHM STATE - summary | perfdata' and the exit status\n"
     "  0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
     "CRITICAL: no segment at KEY; no tender (no process attached, or the role\n"
     "stays vacant); no map; a stale map (with the last error); a snapshot that\n"
     "cannot be read or fails its checksum; the map older than --critical-age.\n"
     "WARNING: the map older than --max-age; a tend error while the map is\n"
     "fresh; a limit reached (nodes, namespaces or replicas truncated); the\n"
     "segment removed while processes use it.\n"
     "UNKNOWN: the segment cannot be judged (permission denied, not a clustershm\n"
     "segment, another layout version) or a bad command line.\n"
     "\n"
     "  --key KEY              the segment's SysV key, hex (0x43...) or decimal\n"
     "  --max-age SECONDS      WARNING above this age of the map (default:\n"
     "                         3 x the segment's tend_interval, at least 5 s)\n"
     "  --critical-age SECONDS CRITICAL above this age (default: none)\n"
     "  --json                 one JSON document with the state, exit_code,\n"
     "                         problems and status (docs/schema/check.schema.json)\n",
     cli_check},
    {"watch", "clustershm watch --key KEY [--interval SECONDS] [--duration SECONDS] [--json]",
     "A live view of one segment: on a terminal, a status block redrawn in\n"
     "place (tender, epoch, attached processes, generation, nodes, age, tends,\n"
     "failures, handoffs, takeovers, step-downs, last error, timing) above a\n"
     "scrolling list of events: changes of tender with their cause (death, hang,\n"
     "step-down, handoff), generations, stale and fresh again, failed tends,\n"
     "step-downs with their reasons, processes attaching and leaving, limits,\n"
     "the segment removed or replaced.  q or Ctrl-C quits; the terminal is\n"
     "always restored (also on SIGTERM and SIGHUP; Ctrl-Z suspends cleanly).\n"
     "When stdout is not a terminal: one plain line per event, no escapes.\n"
     "A missing segment is waited for.\n"
     "\n"
     "  --key KEY            the segment's SysV key, hex (0x43...) or decimal\n"
     "  --interval SECONDS   time between two samples (default 0.5; 0.05 to 3600)\n"
     "  --duration SECONDS   stop after this long (default: run until quit)\n"
     "  --json               one JSON object per line per event, the first one\n"
     "                       describing the segment (docs/schema/watch.schema.json)\n",
     cli_watch},
    {"rm", "clustershm rm --key KEY [--force]",
     "Remove a clustershm segment (IPC_RMID).  Only a segment that carries\n"
     "clustershm's magic is removed (use ipcrm for others), and only when no\n"
     "process is attached, unless --force: attached processes then keep the\n"
     "removed segment until they detach, and new processes create a new one.\n"
     "\n"
     "  --key KEY   the segment's SysV key, hex (0x43...) or decimal\n"
     "  --force     remove it even while processes are attached\n",
     cli_rm},
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage_all(FILE *out)
{
    fputs("usage:", out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "%s%s\n", i ? "       " : " ", COMMANDS[i].synopsis);
    fputs("       clustershm help [COMMAND] | COMMAND --help | --version\n"
          "\n"
          "Inspect the clustershm segments of this host: SysV shared-memory segments\n"
          "where one process per cluster (the tender) publishes the cluster map for\n"
          "every other.  Every command attaches read-only and never disturbs the\n"
          "processes using a segment; rm removes only unused clustershm segments.\n"
          "\n"
          "Exit status: 0 success; 1 the segment is missing, not clustershm's, in use\n"
          "(rm) or a file cannot be written; 2 bad usage.  check: 0 OK, 1 WARNING,\n"
          "2 CRITICAL, 3 UNKNOWN.  JSON documents carry \"schema_version\" (now 1).\n"
          "See clustershm(1) and docs/operations.md.\n",
          out);
}

static void help_command(FILE *out, const command *c)
{
    fprintf(out, "usage: %s\n\n%s", c->synopsis, c->help);
}

static const command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0)
            return &COMMANDS[i];
    return NULL;
}

static int parse_key(const char *text, uint32_t *key)
{
    char *end;
    unsigned long long v = strtoull(text, &end, 0);
    if (*text == '\0' || *text == '-' || *end != '\0' || v > 0xFFFFFFFFull) {
        fprintf(stderr, "clustershm: bad key '%s': give a SysV key in hex (0x43...) or decimal\n",
                text);
        return -1;
    }
    *key = (uint32_t)v;
    return 0;
}

static int parse_seconds(const char *option, const char *text, double low, double high,
                         double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (*text == '\0' || *end != '\0' || !(v >= low && v <= high)) {
        fprintf(stderr, "clustershm: bad %s '%s': give seconds from %g to %g\n", option, text,
                low, high);
        return -1;
    }
    *out = v;
    return 0;
}

/* Which options each command takes. */
static int allowed(const char *name, const char *option)
{
    static const struct {
        const char *command, *options;
    } table[] = {
        {"list", " --json "},
        {"stat", " --json --key --prometheus --textfile "},
        {"check", " --json --key --max-age --critical-age "},
        {"watch", " --json --key --interval --duration "},
        {"rm", " --key --force "},
    };
    char needle[80];
    snprintf(needle, sizeof needle, " %.64s ", option);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].command, name) == 0)
            return strstr(table[i].options, needle) != NULL;
    return 0;
}

static int takes_value(const char *option)
{
    return strcmp(option, "--key") == 0 || strcmp(option, "--textfile") == 0 ||
           strcmp(option, "--interval") == 0 || strcmp(option, "--duration") == 0 ||
           strcmp(option, "--max-age") == 0 || strcmp(option, "--critical-age") == 0;
}

/* 0, or -1 after a message on stderr. */
static int parse(const command *c, int argc, char **argv, cli_args *a)
{
    memset(a, 0, sizeof *a);
    a->command = c->name;
    a->interval = 0.5;
    a->max_age = -1;
    a->critical_age = -1;
    for (int i = 2; i < argc; i++) {
        char option[64];
        const char *value = NULL;
        const char *eq = strchr(argv[i], '=');
        if (strncmp(argv[i], "--", 2) == 0 && eq != NULL && (size_t)(eq - argv[i]) < sizeof option) {
            snprintf(option, sizeof option, "%.*s", (int)(eq - argv[i]), argv[i]);
            value = eq + 1;
        } else {
            snprintf(option, sizeof option, "%s", argv[i]);
        }
        if (!allowed(c->name, option)) {
            fprintf(stderr, "clustershm %s: unknown option '%s'\n", c->name, argv[i]);
            return -1;
        }
        if (takes_value(option) && value == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "clustershm %s: %s needs a value\n", c->name, option);
                return -1;
            }
            value = argv[++i];
        } else if (!takes_value(option) && value != NULL) {
            fprintf(stderr, "clustershm %s: %s takes no value\n", c->name, option);
            return -1;
        }
        if (strcmp(option, "--json") == 0) {
            a->json = 1;
        } else if (strcmp(option, "--force") == 0) {
            a->force = 1;
        } else if (strcmp(option, "--prometheus") == 0) {
            a->prometheus = 1;
        } else if (strcmp(option, "--textfile") == 0) {
            if (value[0] == '\0') {
                fprintf(stderr, "clustershm stat: --textfile needs a directory\n");
                return -1;
            }
            a->textfile = value;
        } else if (strcmp(option, "--key") == 0) {
            if (parse_key(value, &a->key) != 0)
                return -1;
            a->has_key = 1;
        } else if (strcmp(option, "--interval") == 0) {
            if (parse_seconds(option, value, 0.05, 3600, &a->interval) != 0)
                return -1;
        } else if (strcmp(option, "--duration") == 0) {
            if (parse_seconds(option, value, 0, 1e9, &a->duration) != 0)
                return -1;
        } else if (strcmp(option, "--max-age") == 0) {
            if (parse_seconds(option, value, 0, 1e9, &a->max_age) != 0)
                return -1;
        } else if (strcmp(option, "--critical-age") == 0) {
            if (parse_seconds(option, value, 0, 1e9, &a->critical_age) != 0)
                return -1;
        }
    }
    int metrics = a->prometheus || a->textfile != NULL;
    if (strcmp(c->name, "list") != 0 && !a->has_key && !metrics) {
        fprintf(stderr, "clustershm %s: --key KEY is required\n", c->name);
        return -1;
    }
    if (metrics && a->json) {
        fprintf(stderr, "clustershm stat: --json and --prometheus exclude each other\n");
        return -1;
    }
    return 0;
}

int cshm_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage_all(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        usage_all(stdout);
        return CLI_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("clustershm %s (segment layout version %u, JSON schema version %u)\n",
               CSHM_VERSION, (unsigned)CSHM_LAYOUT_VERSION, (unsigned)CLI_SCHEMA_VERSION);
        return CLI_OK;
    }
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            usage_all(stdout);
            return CLI_OK;
        }
        const command *c = find(argv[2]);
        if (c == NULL) {
            fprintf(stderr, "clustershm: unknown command '%s'\n", argv[2]);
            usage_all(stderr);
            return CLI_USAGE;
        }
        help_command(stdout, c);
        return CLI_OK;
    }
    const command *c = find(name);
    if (c == NULL) {
        fprintf(stderr, "clustershm: unknown command '%s'\n", name);
        usage_all(stderr);
        return CLI_USAGE;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help_command(stdout, c);
            return CLI_OK;
        }
    cli_args args;
    if (parse(c, argc, argv, &args) != 0) {
        help_command(stderr, c);
        return strcmp(c->name, "check") == 0 ? CHECK_UNKNOWN : CLI_USAGE;
    }
    int status = c->run(&args);
    fflush(stdout);
    return status;
}
