/*
 * module.c - the clustershm module: multi-phase init, its state, the module
 * functions, and the exit hook.
 *
 * Invariants:
 *  - Everything a module instance owns is in its state (exception classes,
 *    the Client heap type, the list of connected clients), so a second
 *    instance (importlib reload, a subinterpreter sharing the GIL) is
 *    independent; only the log bridge is process-wide (log.c).
 *  - The atexit hook closes every connected client, lets the lines they
 *    queued reach logging (a bounded cshm_log_flush with the GIL released,
 *    in cshm_py_log_stop) and then stops log forwarding, in that order: the
 *    clients' threads log while they hand the tender role over, the core's
 *    delivery thread needs the GIL to forward those lines, and no thread may
 *    enter the interpreter once it finalizes.  A client the core refuses to
 *    close is reported as unraisable and leaked, so the hook always ends.
 *    Processes that end with os._exit (multiprocessing fork workers) skip
 *    it: the kernel drops their locks and another process takes over at
 *    once.
 */
#include <inttypes.h>
#include <stdio.h>

#include "binding.h"

static PyObject *module_connect(PyObject *module, PyObject *args, PyObject *kwargs)
{
    cshm_py_state *st = PyModule_GetState(module);
    PyObject *client = PyObject_Call(st->client_type, args, kwargs);
    if (client == NULL)
        return NULL;
    PyObject *r = cshm_py_client_connect(client, NULL);
    if (r == NULL) {
        Py_DECREF(client);
        return NULL;
    }
    Py_DECREF(r);
    return client;
}

static const char *const DIGEST_ARGS[] = {"set", "key", NULL};

static PyObject *module_aerospike_digest(PyObject *module, PyObject *const *args,
                                         Py_ssize_t nargs, PyObject *kwnames)
{
    cshm_py_state *st = PyModule_GetState(module);
    PyObject *a[2];
    const char *set;
    cshm_key key;
    if (cshm_py_parse("aerospike_digest", args, nargs, kwnames, DIGEST_ARGS, 2, a) < 0 ||
        cshm_py_optional_str(a[0], "set", &set) < 0 || cshm_py_key(a[1], &key) < 0)
        return NULL;
    uint8_t digest[20];
    cshm_error error;
    if (cshm_aerospike_digest(set, &key, digest, &error) != 0)
        return cshm_py_raise(st, &error);
    return PyBytes_FromStringAndSize((const char *)digest, sizeof digest);
}

static PyObject *module_redis_slot(PyObject *module, PyObject *arg)
{
    (void)module;
    cshm_key key;
    if (cshm_py_key(arg, &key) < 0)
        return NULL;
    if (key.type == CSHM_KEY_INTEGER) {
        /* Redis keys are strings: an int is its decimal text, as the Redis
         * driver reads it in route(). */
        char digits[24];
        int n = snprintf(digits, sizeof digits, "%" PRId64, key.integer);
        return PyLong_FromUnsignedLong(cshm_redis_slot(digits, (size_t)n));
    }
    return PyLong_FromUnsignedLong(cshm_redis_slot(key.data, key.len));
}

static PyObject *module_close_all(PyObject *module, PyObject *unused)
{
    (void)unused;
    cshm_py_state *st = PyModule_GetState(module);
    /* Closing releases the GIL: take the head each time, whatever other
     * threads did meanwhile.  Each call unlinks the head, closed or not. */
    while (st->open != NULL)
        cshm_py_client_shutdown(st->open);
    /* Delivers the lines the closes queued, then stops forwarding. */
    cshm_py_log_stop();
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"connect", (PyCFunction)(void (*)(void))module_connect, METH_VARARGS | METH_KEYWORDS,
     "connect(url, **options)\n--\n\n"
     "Client(url, **options) connected; raises like Client() and Client.connect()."},
    {"aerospike_digest", (PyCFunction)(void (*)(void))module_aerospike_digest,
     METH_FASTCALL | METH_KEYWORDS,
     "aerospike_digest(set, key)\n--\n\n"
     "The 20-byte RIPEMD-160 digest Aerospike gives key (str, bytes or int) in set\n"
     "(str, or None / '' for no set)."},
    {"redis_slot", module_redis_slot, METH_O,
     "redis_slot(key, /)\n--\n\n"
     "The Redis Cluster slot of key: CRC16/XMODEM of the key (or of its {hash tag})\n"
     "mod 16384.  str is encoded as UTF-8; an int is its decimal text."},
    {"cli", (PyCFunction)(void (*)(void))cshm_py_cli, METH_FASTCALL | METH_KEYWORDS,
     "cli(argv=None)\n--\n\n"
     "Run the clustershm command (list, stat, check, watch, rm; see `clustershm --help`)\n"
     "in this process with the arguments argv (default: sys.argv[1:]) and return its\n"
     "exit status.  It is the C command of `make install`, compiled into this module;\n"
     "the wheel's `clustershm` console script calls it."},
    {"_close_all", module_close_all, METH_NOARGS,
     "_close_all($module, /)\n--\n\n"
     "Close every connected client, let their last log lines reach logging, and stop\n"
     "forwarding log lines (the atexit hook)."},
    {NULL, NULL, 0, NULL},
};

/* logging is imported first so that its own exit hook (logging.shutdown)
 * is registered before ours and therefore runs after it: the lines clients
 * log while closing at exit still reach open handlers. */
static int register_atexit(PyObject *module)
{
    PyObject *logging = PyImport_ImportModule("logging");
    if (logging == NULL)
        return -1;
    Py_DECREF(logging);
    PyObject *atexit = PyImport_ImportModule("atexit");
    PyObject *hook = atexit == NULL ? NULL : PyObject_GetAttrString(module, "_close_all");
    PyObject *r = hook == NULL ? NULL : PyObject_CallMethod(atexit, "register", "O", hook);
    Py_XDECREF(r);
    Py_XDECREF(hook);
    Py_XDECREF(atexit);
    return r == NULL ? -1 : 0;
}

static int module_exec(PyObject *module)
{
    cshm_py_state *st = PyModule_GetState(module);
    if (cshm_py_add_exceptions(module, st) < 0)
        return -1;
    st->client_type = PyType_FromModuleAndSpec(module, &cshm_py_client_spec, NULL);
    if (st->client_type == NULL || PyModule_AddObjectRef(module, "Client", st->client_type) < 0)
        return -1;
    if (PyModule_AddStringConstant(module, "__version__", CSHM_VERSION) < 0)
        return -1;
    if (register_atexit(module) < 0)
        return -1;
    cshm_py_log_start();
    return 0;
}

static int module_traverse(PyObject *module, visitproc visit, void *arg)
{
    cshm_py_state *st = PyModule_GetState(module);
    Py_VISIT(st->client_type);
    Py_VISIT(st->error);
    Py_VISIT(st->config_error);
    Py_VISIT(st->cluster_error);
    Py_VISIT(st->segment_error);
    Py_VISIT(st->timeout_error);
    return 0;
}

static int module_clear(PyObject *module)
{
    cshm_py_state *st = PyModule_GetState(module);
    Py_CLEAR(st->client_type);
    Py_CLEAR(st->error);
    Py_CLEAR(st->config_error);
    Py_CLEAR(st->cluster_error);
    Py_CLEAR(st->segment_error);
    Py_CLEAR(st->timeout_error);
    return 0;
}

static void module_free(void *module)
{
    module_clear(module);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

PyModuleDef cshm_py_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "clustershm",
    .m_doc = "One cluster tender per host, shared by every worker process.\n\n"
             "The first process to connect to a cluster (Redis Cluster or Aerospike)\n"
             "tends it and publishes its map in shared memory; every other process of\n"
             "the host routes keys from that map without talking to the cluster.\n"
             "Log lines go to the logging logger 'clustershm'.",
    .m_size = sizeof(cshm_py_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit_clustershm(void)
{
    return PyModuleDef_Init(&cshm_py_module_def);
}
