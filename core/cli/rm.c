/*
 * rm.c - `clustershm rm --key K [--force]`: remove a clustershm segment.
 *
 * Invariants: only a segment that proves to be ours (the clustershm magic
 * and a valid header, checked through a read-only attach) is removed, never
 * another program's segment at the key; without --force, only when no
 * process is attached.  Removal is IPC_RMID: attached processes keep the
 * segment until they detach, new ones create a new one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include "cli.h"

int cli_rm(const cli_args *args)
{
    cli_view v;
    cshm_error error;
    if (cli_view_open(args->key, &v, &error) != 0) {
        fprintf(stderr, "clustershm: %s; not removed (use ipcrm for segments that are not "
                        "clustershm's)\n",
                error.message);
        return CLI_FAILED;
    }
    cli_status s;
    cli_view_read(&v, &s, &error); /* the header's figures suffice here */
    int shmid = s.shmid;
    cli_view_close(&v);
    if (s.attached > 0 && !args->force) {
        fprintf(stderr,
                "clustershm: segment 0x%08x has %u attached processes (tender pid %u); stop them "
                "first, or use --force (they keep working on the removed segment while new "
                "processes create a new one)\n",
                (unsigned)args->key, (unsigned)s.attached, (unsigned)s.owner_pid);
        return CLI_FAILED;
    }
    if (shmctl(shmid, IPC_RMID, NULL) != 0) {
        fprintf(stderr, "clustershm: cannot remove segment 0x%08x (shmid %d): %s\n",
                (unsigned)args->key, shmid, strerror(errno));
        return CLI_FAILED;
    }
    printf("removed segment 0x%08x (shmid %d)%s\n", (unsigned)args->key, shmid,
           s.attached ? "; attached processes keep it until they detach" : "");
    fflush(stdout);
    return CLI_OK;
}
