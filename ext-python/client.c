/*
 * client.c - the clustershm.Client type: construction, lifecycle, status.
 *
 * Invariants:
 *  - A Client is validated when it is made (URL and options, through
 *    cshm_default_key, without touching the network or shared memory), so a
 *    bad configuration fails at the line that wrote it.
 *  - `client` is NULL or a connected cshm_client owned by this object; it is
 *    published only after cshm_connect returned and taken out before
 *    cshm_close runs, both of which run without the GIL (they wait for the
 *    cluster map and for the background thread, and meanwhile the core's
 *    log delivery thread may need the GIL to forward a line).  While
 *    connected the object is on its module's open list, which the atexit
 *    hook closes, so interpreter exit never leaves a client's thread running
 *    into a finalizing interpreter.
 *  - close() is idempotent; a closed client may connect again; garbage
 *    collection of a connected client closes it (with a ResourceWarning,
 *    like an unclosed file).
 *  - close() may run in any thread, a logging handler of clustershm's lines
 *    included: handlers run on the core's log delivery thread, never on a
 *    client's own background thread.  The core refuses a close only there
 *    (CSHM_ERR_STATE), which no Python code reaches; should it happen,
 *    close() raises clustershm.Error and keeps the client, and garbage
 *    collection and the exit hook, which cannot raise, report it as
 *    unraisable and leak the client rather than crash.
 *  - Fork needs nothing here: the core notices it at the child's first call.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "binding.h"
#include "structmember.h"

/* ---- the open list ---------------------------------------------------- */

static void open_link(ClientObject *self)
{
    cshm_py_state *st = self->st;
    self->open_prev = NULL;
    self->open_next = st->open;
    if (st->open != NULL)
        st->open->open_prev = self;
    st->open = self;
}

static void open_unlink(ClientObject *self)
{
    if (self->open_prev != NULL)
        self->open_prev->open_next = self->open_next;
    else if (self->st->open == self)
        self->st->open = self->open_next;
    if (self->open_next != NULL)
        self->open_next->open_prev = self->open_prev;
    self->open_prev = self->open_next = NULL;
}

/* Waits, with the GIL released, until no thread of this process is inside
 * cshm_refresh_wait() (refresh(wait=True)) on the client being closed: they
 * use it without the GIL.  The caller has taken the pointer out of the
 * object, so no new wait starts; the running ones end within their
 * timeout.  Threads counted in another process (before a fork) do not
 * exist here. */
static void refresh_drain(ClientObject *self)
{
    if (self->refreshing_pid != getpid() ||
        __atomic_load_n(&self->refreshing, __ATOMIC_SEQ_CST) == 0)
        return;
    Py_BEGIN_ALLOW_THREADS
    struct timespec pause = {0, 1000000};
    while (__atomic_load_n(&self->refreshing, __ATOMIC_SEQ_CST) != 0)
        nanosleep(&pause, NULL);
    Py_END_ALLOW_THREADS
}

/* Takes the client out of self (and the open list) and closes it without
 * the GIL.  Returns 0, or -1 when the core refused to close (this is the
 * client's own background thread): then *refused is the client, still open
 * and no longer in self. */
static int shutdown_client(ClientObject *self, cshm_client **refused)
{
    cshm_client *c = self->client;
    *refused = NULL;
    if (c == NULL)
        return 0;
    self->client = NULL;
    open_unlink(self);
    int rc;
    refresh_drain(self);
    Py_BEGIN_ALLOW_THREADS
    rc = cshm_close(c);
    Py_END_ALLOW_THREADS
    if (rc == 0)
        return 0;
    *refused = c;
    return -1;
}

void cshm_py_client_shutdown(ClientObject *self)
{
    cshm_client *refused;
    if (shutdown_client(self, &refused) == 0)
        return;
    /* Freeing the client under its own running thread would crash; keeping
     * it costs its thread and its segment attachment until the process
     * ends. */
    char text[128];
    snprintf(text, sizeof text,
             "clustershm.Client (key 0x%08x) cannot be closed on its own background thread; "
             "it is left open", (unsigned)self->key);
    PyErr_SetString(self->st->error, text);
    PyErr_WriteUnraisable(NULL);
}

/* ---- construction and destruction ------------------------------------- */

/* The module state of type or of the first of its bases that is ours (a
 * Python subclass has no module of its own). */
static cshm_py_state *state_of(PyTypeObject *type)
{
    PyObject *mro = PyObject_GetAttrString((PyObject *)type, "__mro__");
    if (mro == NULL)
        return NULL;
    cshm_py_state *st = NULL;
    for (Py_ssize_t i = 0; st == NULL && i < PyTuple_Size(mro); i++) {
        PyObject *t = PyTuple_GetItem(mro, i);
        if (!PyType_Check(t) || !(PyType_GetFlags((PyTypeObject *)t) & Py_TPFLAGS_HEAPTYPE))
            continue;
        PyObject *module = PyType_GetModule((PyTypeObject *)t);
        if (module == NULL)
            PyErr_Clear();
        else if (PyModule_GetDef(module) == &cshm_py_module_def)
            st = PyModule_GetState(module);
    }
    Py_DECREF(mro);
    if (st == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_TypeError, "not a clustershm.Client type");
    return st;
}

static PyObject *client_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    cshm_py_state *st = state_of(type);
    if (st == NULL)
        return NULL;
    PyObject *url_obj = NULL;
    const char *skip = NULL;
    Py_ssize_t nargs = PyTuple_Size(args);
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError,
                     "Client() takes one positional argument, the URL (%zd given); "
                     "options are keyword arguments", nargs);
        return NULL;
    }
    if (nargs == 1) {
        url_obj = PyTuple_GetItem(args, 0);
        if (kwargs != NULL && PyDict_GetItemString(kwargs, "url") != NULL) {
            PyErr_SetString(PyExc_TypeError, "Client() got multiple values for argument 'url'");
            return NULL;
        }
    } else if (kwargs != NULL && (url_obj = PyDict_GetItemString(kwargs, "url")) != NULL) {
        skip = "url";
    }
    if (url_obj == NULL) {
        PyErr_SetString(PyExc_TypeError, "Client() missing required argument 'url' (pos 1)");
        return NULL;
    }
    if (!PyUnicode_Check(url_obj)) {
        cshm_py_wrong_type(st->config_error, url_obj, "bad URL: expected a str");
        return NULL;
    }
    Py_ssize_t url_len;
    const char *url = PyUnicode_AsUTF8AndSize(url_obj, &url_len);
    if (url == NULL)
        return NULL;
    if (strlen(url) != (size_t)url_len) {
        PyErr_SetString(st->config_error, "bad URL: contains a NUL character");
        return NULL;
    }

    cshm_options options;
    cshm_options_init(&options);
    if (cshm_py_options(st, kwargs, skip, &options) < 0)
        return NULL;
    uint32_t key;
    cshm_error error;
    if (cshm_default_key(url, &options, &key, &error) != 0) {
        memset(options.password, 0, sizeof options.password);
        return cshm_py_raise(st, &error);
    }

    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    ClientObject *self = (ClientObject *)alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->st = st;
    self->options = options;
    self->key = key;
    self->url = PyMem_Malloc((size_t)url_len + 1);
    /* max_nodes is the core's bound on a node index (validated above). */
    self->cache_len = options.max_nodes;
    self->cache = PyMem_Calloc(self->cache_len, sizeof *self->cache);
    if (self->url == NULL || self->cache == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    memcpy(self->url, url, (size_t)url_len + 1);
    return (PyObject *)self;
}

static int client_traverse(PyObject *op, visitproc visit, void *arg)
{
    ClientObject *self = (ClientObject *)op;
    Py_VISIT(Py_TYPE(op));
    for (uint32_t i = 0; self->cache != NULL && i < self->cache_len; i++)
        Py_VISIT(self->cache[i].tuple);
    return 0;
}

static int client_clear(PyObject *op)
{
    ClientObject *self = (ClientObject *)op;
    if (self->cache != NULL)
        cshm_py_route_cache_clear(self);
    return 0;
}

static void client_dealloc(PyObject *op)
{
    ClientObject *self = (ClientObject *)op;
    PyTypeObject *type = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    if (self->weakrefs != NULL)
        PyObject_ClearWeakRefs(op);
    if (self->client != NULL) {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        char text[160];
        snprintf(text, sizeof text,
                 "unclosed clustershm.Client (key 0x%08x) closed by the garbage collector; "
                 "call close() or use 'with'", (unsigned)self->key);
        /* No source object: the warning machinery must not keep a
         * reference to an object being freed. */
        if (PyErr_WarnEx(PyExc_ResourceWarning, text, 1) < 0)
            PyErr_WriteUnraisable(NULL);
        cshm_py_client_shutdown(self);
        PyErr_Restore(et, ev, tb);
    }
    client_clear(op);
    PyMem_Free(self->cache);
    if (self->url != NULL) {
        /* The URL may carry a password. */
        memset(self->url, 0, strlen(self->url));
        PyMem_Free(self->url);
    }
    /* So may the password option. */
    memset(self->options.password, 0, sizeof self->options.password);
    freefunc free_fn = (freefunc)PyType_GetSlot(type, Py_tp_free);
    free_fn(op);
    Py_DECREF(type);
}

/* ---- lifecycle methods ------------------------------------------------ */

PyObject *cshm_py_client_connect(PyObject *op, PyObject *unused)
{
    (void)unused;
    ClientObject *self = (ClientObject *)op;
    if (self->client != NULL)
        Py_RETURN_NONE;
    /* By pid: a fork child inherits the mark of a parent thread that was
     * connecting, but not the thread. */
    if (self->connecting == getpid()) {
        PyErr_SetString(self->st->error, "connect() is already running in another thread");
        return NULL;
    }
    self->connecting = getpid();
    cshm_client *c = NULL;
    cshm_error error;
    int rc;
    /* self stays alive: the caller holds a reference for the call. */
    Py_BEGIN_ALLOW_THREADS
    rc = cshm_connect(self->url, &self->options, &c, &error);
    Py_END_ALLOW_THREADS
    self->connecting = 0;
    if (rc != 0)
        return cshm_py_raise(self->st, &error);
    self->client = c;
    open_link(self);
    Py_RETURN_NONE;
}

/* close() and __exit__.  A refusal of the core leaves the client open:
 * it goes back into the object, unless another thread connected the object
 * while the GIL was released (then there is nowhere to keep it). */
static PyObject *close_checked(PyObject *op)
{
    ClientObject *self = (ClientObject *)op;
    cshm_client *refused;
    if (shutdown_client(self, &refused) == 0)
        Py_RETURN_NONE;
    if (self->client == NULL) {
        self->client = refused;
        open_link(self);
    }
    PyErr_SetString(self->st->error, "close() cannot run on this client's own background "
                                     "thread; close it from another thread");
    return NULL;
}

static PyObject *client_close(PyObject *op, PyObject *unused)
{
    (void)unused;
    return close_checked(op);
}

static PyObject *client_enter(PyObject *op, PyObject *unused)
{
    PyObject *r = cshm_py_client_connect(op, unused);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    Py_INCREF(op);
    return op;
}

static PyObject *client_exit(PyObject *op, PyObject *args)
{
    (void)args;
    PyObject *r = close_checked(op);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyObject *client_request_refresh(PyObject *op, PyObject *unused)
{
    (void)unused;
    ClientObject *self = (ClientObject *)op;
    if (self->client == NULL)
        return cshm_py_not_connected(self->st);
    cshm_error error;
    if (cshm_request_refresh(self->client, &error) != 0)
        return cshm_py_raise(self->st, &error);
    Py_RETURN_NONE;
}

static const char *const REFRESH_ARGS[] = {"wait", "timeout", NULL};

/* refresh(wait=True, timeout=1.0).  wait must be a bool: refresh(0.5), a
 * timeout passed in the wrong place, would otherwise wait 1 s.  The range
 * of timeout is the core's (CSHM_ERR_CONFIG -> ConfigError). */
static PyObject *client_refresh(PyObject *op, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    ClientObject *self = (ClientObject *)op;
    PyObject *a[2];
    if (cshm_py_parse("refresh", args, nargs, kwnames, REFRESH_ARGS, 0, a) < 0)
        return NULL;
    int wait = 1;
    if (a[0] != NULL) {
        if (!PyBool_Check(a[0])) {
            cshm_py_wrong_type(PyExc_TypeError, a[0],
                               "refresh() argument 'wait' must be True or False");
            return NULL;
        }
        wait = a[0] == Py_True;
    }
    double timeout = 1.0;
    if (a[1] != NULL) {
        if ((!PyFloat_Check(a[1]) && !PyLong_Check(a[1])) || PyBool_Check(a[1])) {
            cshm_py_wrong_type(PyExc_TypeError, a[1],
                               "refresh() argument 'timeout' must be seconds as a float or int");
            return NULL;
        }
        timeout = PyFloat_AsDouble(a[1]);
        if (timeout == -1.0 && PyErr_Occurred()) {
            /* An int beyond a double: out of range, which the core says. */
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                return NULL;
            PyErr_Clear();
            PyObject *zero = PyLong_FromLong(0);
            int negative = zero == NULL ? -1 : PyObject_RichCompareBool(a[1], zero, Py_LT);
            Py_XDECREF(zero);
            if (negative < 0)
                return NULL;
            timeout = negative ? -INFINITY : INFINITY;
        }
    }
    if (self->client == NULL)
        return cshm_py_not_connected(self->st);
    cshm_error error;
    if (!wait) {
        if (cshm_request_refresh(self->client, &error) != 0)
            return cshm_py_raise(self->st, &error);
        Py_RETURN_FALSE;
    }
    /* The wait asks by itself, after it has read the generation it waits
     * past: asking here first would let a quick tender publish the new map
     * before the wait looked, and the wait would then wait past that map
     * too (for its whole timeout, asking for tend after tend).  A read with
     * the GIL held comes first instead: in a fork child the core adopts the
     * client at its first call, which must not run in two threads at once. */
    cshm_status_info status;
    if (cshm_status(self->client, &status, &error) != 0)
        return cshm_py_raise(self->st, &error);
    cshm_client *c = self->client;
    pid_t pid = getpid();
    if (self->refreshing_pid != pid) {
        self->refreshing_pid = pid;
        __atomic_store_n(&self->refreshing, 0, __ATOMIC_SEQ_CST);
    }
    __atomic_add_fetch(&self->refreshing, 1, __ATOMIC_SEQ_CST);
    int rc, newer = 0;
    Py_BEGIN_ALLOW_THREADS
    rc = cshm_refresh_wait(c, timeout, &newer, &error);
    /* From here on c may be closed by another thread. */
    __atomic_sub_fetch(&self->refreshing, 1, __ATOMIC_SEQ_CST);
    Py_END_ALLOW_THREADS
    if (rc != 0)
        return cshm_py_raise(self->st, &error);
    return PyBool_FromLong(newer);
}

/* ---- nodes() and status() --------------------------------------------- */

/* d[name] = value, stealing value; -1 if value is NULL or the store fails. */
static int put(PyObject *d, const char *name, PyObject *value)
{
    if (value == NULL)
        return -1;
    int rc = PyDict_SetItemString(d, name, value);
    Py_DECREF(value);
    return rc;
}

static PyObject *text(const char *s, size_t cap)
{
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strnlen(s, cap), "replace");
}

static PyObject *node_dict(const cshm_node_info *n)
{
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    if (put(d, "name", text(n->name, sizeof n->name)) < 0 ||
        put(d, "host", text(n->host, sizeof n->host)) < 0 ||
        put(d, "port", PyLong_FromLong(n->port)) < 0 ||
        put(d, "active", PyBool_FromLong(n->active)) < 0 ||
        put(d, "is_master", PyBool_FromLong(n->is_master)) < 0 ||
        put(d, "partitions", PyLong_FromUnsignedLong(n->partitions)) < 0 ||
        put(d, "replica_partitions", PyLong_FromUnsignedLong(n->replica_partitions)) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *client_nodes(PyObject *op, PyObject *unused)
{
    (void)unused;
    ClientObject *self = (ClientObject *)op;
    if (self->client == NULL)
        return cshm_py_not_connected(self->st);
    size_t capacity = self->options.max_nodes, count = 0;
    cshm_node_info *nodes = NULL;
    cshm_error error;
    /* The snapshot holds at most max_nodes nodes; the loop only guards
     * against a segment whose shape says otherwise. */
    for (;;) {
        cshm_node_info *grown = PyMem_Realloc(nodes, (capacity ? capacity : 1) * sizeof *nodes);
        if (grown == NULL) {
            PyMem_Free(nodes);
            return PyErr_NoMemory();
        }
        nodes = grown;
        if (cshm_nodes(self->client, nodes, capacity, &count, &error) != 0) {
            PyMem_Free(nodes);
            return cshm_py_raise(self->st, &error);
        }
        if (count <= capacity)
            break;
        capacity = count;
    }
    PyObject *list = PyList_New((Py_ssize_t)count);
    for (size_t i = 0; list != NULL && i < count; i++) {
        PyObject *d = node_dict(&nodes[i]);
        if (d == NULL || PyList_SetItem(list, (Py_ssize_t)i, d) < 0)
            Py_CLEAR(list);
    }
    PyMem_Free(nodes);
    return list;
}

/* A range of shards(): the master and the replicas are the dicts of `nodes`
 * (borrowed from it), so the answer holds each node once. */
static PyObject *shard_dict(const cshm_shard *s, PyObject *nodes)
{
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    PyObject *master = s->master < 0 ? Py_None : PyList_GetItem(nodes, s->master);
    uint32_t n = s->replica_count < CSHM_SHARD_REPLICAS_MAX ? s->replica_count
                                                            : CSHM_SHARD_REPLICAS_MAX;
    PyObject *replicas = master == NULL ? NULL : PyList_New((Py_ssize_t)n);
    for (uint32_t i = 0; replicas != NULL && i < n; i++) {
        PyObject *r = PyList_GetItem(nodes, s->replicas[i]);
        if (r == NULL || PyList_SetItem(replicas, (Py_ssize_t)i, Py_NewRef(r)) < 0)
            Py_CLEAR(replicas);
    }
    if (replicas == NULL || put(d, "first", PyLong_FromUnsignedLong(s->first)) < 0 ||
        put(d, "last", PyLong_FromUnsignedLong(s->last)) < 0 ||
        put(d, "master", Py_NewRef(master)) < 0 || put(d, "replicas", Py_NewRef(replicas)) < 0) {
        Py_XDECREF(replicas);
        Py_DECREF(d);
        return NULL;
    }
    Py_DECREF(replicas);
    return d;
}

static const char *const SHARDS_ARGS[] = {"namespace", NULL};

/* shards(namespace=None): cshm_shards() with arrays grown to its full
 * counts (the snapshot may change between two calls: the loop ends on an
 * answer that fitted whole). */
static PyObject *client_shards(PyObject *op, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    ClientObject *self = (ClientObject *)op;
    PyObject *a[1];
    const char *ns;
    if (cshm_py_parse("shards", args, nargs, kwnames, SHARDS_ARGS, 0, a) < 0 ||
        cshm_py_optional_str(a[0], "namespace", &ns) < 0)
        return NULL;
    if (self->client == NULL)
        return cshm_py_not_connected(self->st);
    size_t node_capacity = self->options.max_nodes, shard_capacity = 64;
    size_t node_count = 0, shard_count = 0;
    uint64_t generation = 0;
    cshm_node_info *nodes = NULL;
    cshm_shard *shards = NULL;
    cshm_error error;
    for (;;) {
        cshm_node_info *grown_nodes =
            PyMem_Realloc(nodes, (node_capacity ? node_capacity : 1) * sizeof *nodes);
        if (grown_nodes != NULL)
            nodes = grown_nodes;
        cshm_shard *grown_shards =
            PyMem_Realloc(shards, (shard_capacity ? shard_capacity : 1) * sizeof *shards);
        if (grown_shards != NULL)
            shards = grown_shards;
        if (grown_nodes == NULL || grown_shards == NULL) {
            PyMem_Free(nodes);
            PyMem_Free(shards);
            return PyErr_NoMemory();
        }
        if (cshm_shards(self->client, ns, nodes, node_capacity, &node_count, shards,
                        shard_capacity, &shard_count, &generation, &error) != 0) {
            PyMem_Free(nodes);
            PyMem_Free(shards);
            return cshm_py_raise(self->st, &error);
        }
        if (node_count <= node_capacity && shard_count <= shard_capacity)
            break;
        node_capacity = node_count > node_capacity ? node_count : node_capacity;
        shard_capacity = shard_count > shard_capacity ? shard_count : shard_capacity;
    }
    PyObject *node_list = PyList_New((Py_ssize_t)node_count);
    for (size_t i = 0; node_list != NULL && i < node_count; i++) {
        PyObject *d = node_dict(&nodes[i]);
        if (d == NULL || PyList_SetItem(node_list, (Py_ssize_t)i, d) < 0)
            Py_CLEAR(node_list);
    }
    PyObject *shard_list = node_list == NULL ? NULL : PyList_New((Py_ssize_t)shard_count);
    for (size_t i = 0; shard_list != NULL && i < shard_count; i++) {
        PyObject *d = shard_dict(&shards[i], node_list);
        if (d == NULL || PyList_SetItem(shard_list, (Py_ssize_t)i, d) < 0)
            Py_CLEAR(shard_list);
    }
    PyMem_Free(nodes);
    PyMem_Free(shards);
    PyObject *r = shard_list == NULL ? NULL : PyDict_New();
    if (r == NULL || put(r, "generation", PyLong_FromUnsignedLongLong(generation)) < 0 ||
        put(r, "nodes", Py_NewRef(node_list)) < 0 || put(r, "shards", Py_NewRef(shard_list)) < 0)
        Py_CLEAR(r);
    Py_XDECREF(node_list);
    Py_XDECREF(shard_list);
    return r;
}

static PyObject *step_down_dict(const cshm_step_down_info *d)
{
    PyObject *r = PyDict_New();
    if (r == NULL)
        return NULL;
    if (put(r, "pid", PyLong_FromLong(d->pid)) < 0 ||
        put(r, "epoch", PyLong_FromUnsignedLong(d->epoch)) < 0 ||
        put(r, "at", PyFloat_FromDouble(d->at)) < 0 ||
        put(r, "failures", PyLong_FromUnsignedLong(d->failures)) < 0 ||
        put(r, "reason", text(d->reason, sizeof d->reason)) < 0) {
        Py_DECREF(r);
        return NULL;
    }
    return r;
}

/* Newest first, as the core gives them. */
static PyObject *step_down_list(const cshm_status_info *s)
{
    uint32_t n = s->step_down_count < CSHM_STEP_DOWN_HISTORY_MAX ? s->step_down_count
                                                                 : CSHM_STEP_DOWN_HISTORY_MAX;
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (uint32_t i = 0; list != NULL && i < n; i++) {
        PyObject *d = step_down_dict(&s->step_down_history[i]);
        if (d == NULL || PyList_SetItem(list, (Py_ssize_t)i, d) < 0)
            Py_CLEAR(list);
    }
    return list;
}

static PyObject *client_status(PyObject *op, PyObject *unused)
{
    (void)unused;
    ClientObject *self = (ClientObject *)op;
    if (self->client == NULL)
        return cshm_py_not_connected(self->st);
    cshm_status_info s;
    cshm_error error;
    if (cshm_status(self->client, &s, &error) != 0)
        return cshm_py_raise(self->st, &error);
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    if (put(d, "role", text(s.role, sizeof s.role)) < 0 ||
        put(d, "pid", PyLong_FromLong(s.pid)) < 0 ||
        put(d, "owner_pid", PyLong_FromLong(s.owner_pid)) < 0 ||
        put(d, "epoch", PyLong_FromUnsignedLongLong(s.epoch)) < 0 ||
        put(d, "generation", PyLong_FromUnsignedLongLong(s.generation)) < 0 ||
        put(d, "tended_at", PyFloat_FromDouble(s.tended_at)) < 0 ||
        put(d, "age", PyFloat_FromDouble(s.age)) < 0 ||
        put(d, "stale", PyBool_FromLong(s.stale)) < 0 ||
        put(d, "key", PyLong_FromUnsignedLong(s.key)) < 0 ||
        put(d, "shmid", PyLong_FromLong(s.shmid)) < 0 ||
        put(d, "segment_size", PyLong_FromUnsignedLongLong(s.segment_size)) < 0 ||
        put(d, "nodes", PyLong_FromUnsignedLong(s.nodes)) < 0 ||
        put(d, "namespaces", PyLong_FromUnsignedLong(s.namespaces)) < 0 ||
        put(d, "attached", PyLong_FromUnsignedLong(s.attached)) < 0 ||
        put(d, "nodes_seen", PyLong_FromUnsignedLong(s.nodes_seen)) < 0 ||
        put(d, "namespaces_seen", PyLong_FromUnsignedLong(s.namespaces_seen)) < 0 ||
        put(d, "nodes_truncated", PyBool_FromLong(s.nodes_truncated)) < 0 ||
        put(d, "namespaces_truncated", PyBool_FromLong(s.namespaces_truncated)) < 0 ||
        put(d, "replicas_truncated", PyBool_FromLong(s.replicas_truncated)) < 0 ||
        put(d, "tends", PyLong_FromUnsignedLongLong(s.tends)) < 0 ||
        put(d, "tend_failures", PyLong_FromUnsignedLongLong(s.tend_failures)) < 0 ||
        put(d, "handoffs", PyLong_FromUnsignedLongLong(s.handoffs)) < 0 ||
        put(d, "dead_takeovers", PyLong_FromUnsignedLongLong(s.dead_takeovers)) < 0 ||
        put(d, "hung_takeovers", PyLong_FromUnsignedLongLong(s.hung_takeovers)) < 0 ||
        put(d, "step_downs", PyLong_FromUnsignedLongLong(s.step_downs)) < 0 ||
        put(d, "failures_in_row", PyLong_FromUnsignedLong(s.failures_in_row)) < 0 ||
        put(d, "tend_interval", PyFloat_FromDouble(s.tend_interval)) < 0 ||
        put(d, "takeover_timeout", PyFloat_FromDouble(s.takeover_timeout)) < 0 ||
        put(d, "min_refresh_interval", PyFloat_FromDouble(s.min_refresh_interval)) < 0 ||
        put(d, "driver", text(s.driver, sizeof s.driver)) < 0 ||
        put(d, "last_error", text(s.last_error, sizeof s.last_error)) < 0 ||
        put(d, "step_down_history", step_down_list(&s)) < 0 ||
        put(d, "identity", text(s.identity, sizeof s.identity)) < 0 ||
        put(d, "max_nodes", PyLong_FromUnsignedLong(s.max_nodes)) < 0 ||
        put(d, "max_namespaces", PyLong_FromUnsignedLong(s.max_namespaces)) < 0 ||
        put(d, "has_tender", PyBool_FromLong(s.has_tender)) < 0 ||
        put(d, "has_map", PyBool_FromLong(s.has_map)) < 0 ||
        put(d, "chain_generation", PyLong_FromUnsignedLong(s.chain_generation)) < 0 ||
        put(d, "chain_base", PyLong_FromUnsignedLong(s.chain_base)) < 0 ||
        put(d, "forwarded_to", s.forwarded_to != 0 ? PyLong_FromUnsignedLong(s.forwarded_to)
                                                   : Py_NewRef(Py_None)) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *client_repr(PyObject *op)
{
    ClientObject *self = (ClientObject *)op;
    /* Never the URL: it may carry a password. */
    char key[16];
    snprintf(key, sizeof key, "0x%08x", (unsigned)self->key);
    return PyUnicode_FromFormat("<clustershm.Client key=%s %s>", key,
                                self->client != NULL ? "connected" : "not connected");
}

/* ---- the type --------------------------------------------------------- */

static PyMethodDef client_methods[] = {
    {"connect", cshm_py_client_connect, METH_NOARGS,
     "connect($self, /)\n--\n\n"
     "Attach to the host's segment for this cluster (creating it if needed) and wait,\n"
     "up to connect_timeout, for a cluster map.  The first process becomes the tender.\n"
     "Does nothing if already connected; a closed client connects again."},
    {"close", client_close, METH_NOARGS,
     "close($self, /)\n--\n\n"
     "Stop this process's background thread (a tender hands its role over at once)\n"
     "and detach.  Idempotent; may run in any thread, a logging handler of\n"
     "clustershm's lines included."},
    {"route", (PyCFunction)(void (*)(void))cshm_py_client_route, METH_FASTCALL | METH_KEYWORDS,
     "route($self, /, key, namespace=None, set='', replica=0)\n--\n\n"
     "Return (host, port) of the node serving key: the master for replica=0, the\n"
     "replica of that rank otherwise.  Keys are str, bytes or int.  Aerospike needs\n"
     "namespace (and set, if any); Redis ignores both."},
    {"partition", (PyCFunction)(void (*)(void))cshm_py_client_partition,
     METH_FASTCALL | METH_KEYWORDS,
     "partition($self, /, key, namespace=None, set='')\n--\n\n"
     "Return the Aerospike partition id (0-4095) or Redis slot (0-16383) of key."},
    {"nodes", client_nodes, METH_NOARGS,
     "nodes($self, /)\n--\n\n"
     "Return the nodes of the current map as dicts: name, host, port, active,\n"
     "is_master, partitions, replica_partitions."},
    {"shards", (PyCFunction)(void (*)(void))client_shards, METH_FASTCALL | METH_KEYWORDS,
     "shards($self, /, namespace=None)\n--\n\n"
     "Return the whole map of one snapshot as a dict: generation (+1 at every changed\n"
     "map), nodes (dicts as nodes() returns them) and shards: the ranges of consecutive\n"
     "partitions (Redis slots) with the same owners, in order, as dicts first, last\n"
     "(inclusive), master (a dict of nodes, or None for a range without a master) and\n"
     "replicas (dicts of nodes, in map order).  master and replicas are the same dict\n"
     "objects as in nodes.  Aerospike needs the namespace (ConfigError without it);\n"
     "Redis ignores it.  A segment with no map yet gives generation 0 and empty lists."},
    {"status", client_status, METH_NOARGS,
     "status($self, /)\n--\n\n"
     "Return a dict: role ('tender', 'follower' or 'private'), pid, owner_pid, epoch,\n"
     "generation, tended_at, age, stale, key, shmid, segment_size, nodes, namespaces,\n"
     "attached, nodes_seen, namespaces_seen, nodes_truncated, namespaces_truncated,\n"
     "replicas_truncated, tends, tend_failures, handoffs, dead_takeovers,\n"
     "hung_takeovers, step_downs, failures_in_row, tend_interval, takeover_timeout,\n"
     "min_refresh_interval (the segment's timing, which every process uses), driver,\n"
     "last_error, step_down_history: dicts pid, epoch, at, failures, reason of the\n"
     "last tenders that gave the role up after failing, newest first; identity,\n"
     "max_nodes, max_namespaces, has_tender, has_map; chain_generation (0 at the\n"
     "base key, +1 each time the cluster outgrew the segment), chain_base (the\n"
     "chain's base key) and forwarded_to (the successor's key, or None).  The names\n"
     "are those of `clustershm stat --json` and of the Prometheus metrics\n"
     "(docs/cli-json.md)."},
    {"request_refresh", client_request_refresh, METH_NOARGS,
     "request_refresh($self, /)\n--\n\n"
     "Ask the tender (this process or another) to tend now, e.g. after a MOVED reply."},
    {"refresh", (PyCFunction)(void (*)(void))client_refresh, METH_FASTCALL | METH_KEYWORDS,
     "refresh($self, /, wait=True, timeout=1.0)\n--\n\n"
     "Ask the tender (this process or another) to tend now, e.g. after a MOVED reply.\n"
     "wait=False only asks and returns False.  wait=True then waits, without the GIL,\n"
     "until a map newer than the one published at the call is published (True) or\n"
     "timeout seconds (0 to 3600) pass (False).  The tender tends at most once per\n"
     "min_refresh_interval however many processes ask.  wait must be a bool\n"
     "(TypeError otherwise); a timeout out of range raises ConfigError.  close() from\n"
     "another thread waits for a running refresh to return."},
    {"__enter__", client_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\nConnect if not connected; return the client."},
    {"__exit__", client_exit, METH_VARARGS,
     "__exit__($self, exc_type, exc_value, traceback, /)\n--\n\nClose the client."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef client_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(ClientObject, weakrefs), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot client_slots[] = {
    {Py_tp_doc,
     "Client(url, **options)\n--\n\n"
     "A client of one cluster whose map is shared by every process of the host.\n\n"
     "url is redis://[user:password@]host:port[,host:port...] (rediss:// for TLS)\n"
     "or aerospike://host[:tls_name]:port[,...].  Options: key, shared, max_nodes,\n"
     "max_namespaces, tend_interval, takeover_timeout, connect_timeout,\n"
     "min_refresh_interval, mode, cluster_name, tls_ca_file, tls_ca_dir,\n"
     "tls_cert_file, tls_key_file, tls_server_name, tls_insecure_skip_verify (tests\n"
     "only).  URL and options are checked here\n"
     "(ConfigError); nothing is contacted before connect().  tend_interval,\n"
     "takeover_timeout and min_refresh_interval are the segment's: the first process\n"
     "sets them for every process of the host (others log a warning)."},
    {Py_tp_new, client_new},
    {Py_tp_dealloc, client_dealloc},
    {Py_tp_traverse, client_traverse},
    {Py_tp_clear, client_clear},
    {Py_tp_repr, client_repr},
    {Py_tp_methods, client_methods},
    {Py_tp_members, client_members},
    {0, NULL},
};

PyType_Spec cshm_py_client_spec = {
    .name = "clustershm.Client",
    .basicsize = sizeof(ClientObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = client_slots,
};
