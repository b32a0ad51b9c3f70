/*
 * binding.h - what the files of the Python binding share.
 *
 * Invariants of the whole binding:
 *  - It is thin: it converts arguments, maps errors and manages the
 *    lifecycle; routing, tending, fork handling live in the C core.
 *  - Stable ABI only (Py_LIMITED_API 3.10): one abi3 wheel serves every
 *    CPython from 3.10 on.  3.10 is the first version whose limited API has
 *    PyUnicode_AsUTF8AndSize (route() reads str keys without a copy),
 *    METH_FASTCALL and PyType_FromModuleAndSpec.
 *  - Every use of a Client's cshm_client pointer happens with the GIL held
 *    and without releasing it, except inside connect() and close(), which
 *    take the pointer out of the object first (close) or publish it only
 *    after the call (connect), and refresh(wait=True), which waits in
 *    cshm_refresh_wait() without the GIL.  So the GIL is the lock that makes
 *    one client usable from many Python threads ("one thread at a time" in
 *    the core).  The wait only reads the segment, so other threads may route
 *    meanwhile; the one thing it must not see is close() freeing the client,
 *    hence `refreshing` (threads of `refreshing_pid` inside the wait), for
 *    which close waits once it has taken the pointer out of the object.
 *  - No Python code runs on a client's background thread: the core hands
 *    its log lines to the log bridge (log.c) on its own delivery thread.
 *  - Per-module state lives in the module object (multi-phase init, heap
 *    types); the only process-wide state is the log bridge (log.c), because
 *    the core's log handler is process-wide.
 */
#ifndef CLUSTERSHM_BINDING_H
#define CLUSTERSHM_BINDING_H

/* Must match py_limited_api in setup.py (the wheel's cp310-abi3 tag). */
#define Py_LIMITED_API 0x030A0000
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <sys/types.h>

#include "clustershm.h"

typedef struct ClientObject ClientObject;

typedef struct cshm_py_state {
    PyObject *client_type;
    PyObject *error;            /* clustershm.Error */
    PyObject *config_error;
    PyObject *cluster_error;
    PyObject *segment_error;
    PyObject *timeout_error;    /* also a builtin TimeoutError */
    ClientObject *open;         /* connected clients, closed at exit; not owned */
} cshm_py_state;

/* A route() answer kept per node index, so a ready client answers without
 * allocating: the tuple is reused while the node keeps its host and port. */
typedef struct route_cache_entry {
    PyObject *tuple;            /* (host, port), owned */
    PyObject *host;             /* borrowed from tuple */
    uint16_t port;
} route_cache_entry;

struct ClientObject {
    PyObject_HEAD
    cshm_client *client;        /* NULL while not connected */
    cshm_py_state *st;          /* lives as long as our type, which we hold */
    char *url;                  /* PyMem copy; may hold a password: wiped */
    cshm_options options;
    uint32_t key;               /* the SysV key these options select */
    pid_t connecting;           /* pid running connect() without the GIL, or 0 */
    int refreshing;             /* threads in cshm_refresh_wait (atomic), counted for: */
    pid_t refreshing_pid;       /* the process they run in (a fork child has none) */
    ClientObject *open_prev, *open_next;
    route_cache_entry *cache;
    uint32_t cache_len;
    PyObject *weakrefs;
};

/* module.c */
extern PyModuleDef cshm_py_module_def;

/* client.c */
extern PyType_Spec cshm_py_client_spec;
PyObject *cshm_py_client_connect(PyObject *self, PyObject *unused);
/* Closes self's client, if any, without the GIL; for callers that cannot
 * raise (garbage collection, the exit hook): a close the core refuses is
 * reported as unraisable and the client is leaked (see client.c). */
void cshm_py_client_shutdown(ClientObject *self);

/* route.c: methods of Client that read the map. */
PyObject *cshm_py_client_route(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames);
PyObject *cshm_py_client_partition(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames);
void cshm_py_route_cache_clear(ClientObject *self);

/* args.c */
int cshm_py_parse(const char *func, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                  const char *const *names, Py_ssize_t required, PyObject **out);
int cshm_py_key(PyObject *obj, cshm_key *key);
int cshm_py_optional_str(PyObject *obj, const char *what, const char **out);

/* command.c: clustershm.cli(argv=None), the clustershm command in-process */
PyObject *cshm_py_cli(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                      PyObject *kwnames);

/* options.c */
int cshm_py_options(cshm_py_state *st, PyObject *kwargs, const char *skip, cshm_options *options);

/* errors.c */
int cshm_py_add_exceptions(PyObject *module, cshm_py_state *st);
PyObject *cshm_py_raise(cshm_py_state *st, const cshm_error *error);
PyObject *cshm_py_not_connected(cshm_py_state *st);
int cshm_py_wrong_type(PyObject *exc, PyObject *obj, const char *fmt, ...);

/* log.c */
void cshm_py_log_start(void);
void cshm_py_log_stop(void);

#endif
