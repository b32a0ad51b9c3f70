/*
 * route.c - Client.route() and Client.partition(), the per-request calls.
 *
 * Invariants: on a ready client route() allocates nothing: its arguments are
 * read in place (args.c) and its (host, port) answer comes from a cache
 * indexed by the node's index in the snapshot, reused while that node's host
 * and port are the same as in the answer the core just gave.  The cache is a
 * mirror of answers, never a source of them: every call asks the core, so a
 * changed map is seen at once.  Only ASCII hosts are cached, because the
 * comparison (PyUnicode_CompareWithASCIIString) is exact only for them.
 */
#include <limits.h>
#include <string.h>

#include "binding.h"

static const char *const ROUTE_ARGS[] = {"key", "namespace", "set", "replica", "rack_id", NULL};
static const char *const PARTITION_ARGS[] = {"key", "namespace", "set", NULL};

void cshm_py_route_cache_clear(ClientObject *self)
{
    for (uint32_t i = 0; i < self->cache_len; i++) {
        Py_CLEAR(self->cache[i].tuple);
        self->cache[i].host = NULL;
    }
}

static PyObject *answer(ClientObject *self, const cshm_route_result *r)
{
    route_cache_entry *e = NULL;
    if (r->node_index >= 0 && (uint32_t)r->node_index < self->cache_len) {
        e = &self->cache[r->node_index];
        if (e->tuple != NULL && e->port == r->port &&
            PyUnicode_CompareWithASCIIString(e->host, r->host) == 0) {
            Py_INCREF(e->tuple);
            return e->tuple;
        }
    }
    size_t len = strnlen(r->host, sizeof r->host);
    int ascii = 1;
    for (size_t i = 0; i < len; i++)
        ascii &= (unsigned char)r->host[i] < 0x80;
    PyObject *host = PyUnicode_DecodeUTF8(r->host, (Py_ssize_t)len, "surrogateescape");
    PyObject *port = host == NULL ? NULL : PyLong_FromLong(r->port);
    PyObject *tuple = port == NULL ? NULL : PyTuple_Pack(2, host, port);
    Py_XDECREF(host);
    Py_XDECREF(port);
    if (tuple != NULL && e != NULL && ascii) {
        PyObject *old = e->tuple;
        Py_INCREF(tuple);
        e->tuple = tuple;
        e->host = PyTuple_GetItem(tuple, 0);
        Py_XDECREF(old);
        e->port = r->port;
    }
    return tuple;
}

/* Converts what route() and partition() share; fails on a client that is
 * not connected. */
static int common(PyObject *op, PyObject *key_obj, PyObject *ns_obj, PyObject *set_obj,
                  cshm_key *key, const char **ns, const char **set)
{
    ClientObject *self = (ClientObject *)op;
    if (self->client == NULL) {
        cshm_py_not_connected(self->st);
        return -1;
    }
    if (cshm_py_key(key_obj, key) < 0 || cshm_py_optional_str(ns_obj, "namespace", ns) < 0 ||
        cshm_py_optional_str(set_obj, "set", set) < 0)
        return -1;
    return 0;
}

PyObject *cshm_py_client_route(PyObject *op, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    ClientObject *self = (ClientObject *)op;
    PyObject *a[5];
    if (cshm_py_parse("route", args, nargs, kwnames, ROUTE_ARGS, 1, a) < 0)
        return NULL;
    cshm_key key;
    const char *ns, *set;
    if (common(op, a[0], a[1], a[2], &key, &ns, &set) < 0)
        return NULL;
    int replica = 0;
    if (a[3] != NULL && PyUnicode_Check(a[3])) {
        /* replica="prefer_rack" (Aerospike): rack_id, or the rack_id option. */
        if (PyUnicode_CompareWithASCIIString(a[3], "prefer_rack") != 0) {
            /* A wrong type (as for any other non-int), not a wrong value. */
            PyErr_Format(PyExc_TypeError,
                         "replica must be an int (0 master, 1.. replicas) or \"prefer_rack\", "
                         "not %R",
                         a[3]);
            return NULL;
        }
        long rack = -1;
        if (a[4] != NULL && a[4] != Py_None) {
            if (!PyLong_Check(a[4]) || PyBool_Check(a[4])) {
                cshm_py_wrong_type(PyExc_TypeError, a[4], "rack_id must be an int");
                return NULL;
            }
            int overflow;
            rack = PyLong_AsLongAndOverflow(a[4], &overflow);
            if (rack == -1 && PyErr_Occurred())
                return NULL;
            if (overflow || rack < 0 || rack > INT32_MAX) {
                PyErr_Format(self->st->config_error, "rack_id %R: use 0 to 1000000", a[4]);
                return NULL;
            }
        }
        cshm_route_result result;
        cshm_error error;
        if (cshm_route_prefer_rack(self->client, &key, ns, set, (int32_t)rack, &result,
                                   &error) != 0)
            return cshm_py_raise(self->st, &error);
        return answer(self, &result);
    }
    if (a[4] != NULL && a[4] != Py_None) {
        PyErr_SetString(self->st->config_error,
                        "rack_id is for replica=\"prefer_rack\"; give both or neither");
        return NULL;
    }
    if (a[3] != NULL) {
        if (!PyLong_Check(a[3]) || PyBool_Check(a[3])) {
            cshm_py_wrong_type(PyExc_TypeError, a[3], "replica must be an int");
            return NULL;
        }
        int overflow;
        long value = PyLong_AsLongAndOverflow(a[3], &overflow);
        if (value == -1 && PyErr_Occurred())
            return NULL;
        /* The core judges the range (and names it); clamping keeps an
         * absurd value absurd. */
        if (overflow)
            value = overflow > 0 ? INT_MAX : INT_MIN;
        replica = value < INT_MIN ? INT_MIN : value > INT_MAX ? INT_MAX : (int)value;
    }
    cshm_route_result result;
    cshm_error error;
    if (cshm_route(self->client, &key, ns, set, replica, &result, &error) != 0)
        return cshm_py_raise(self->st, &error);
    return answer(self, &result);
}

PyObject *cshm_py_client_partition(PyObject *op, PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames)
{
    ClientObject *self = (ClientObject *)op;
    PyObject *a[3];
    if (cshm_py_parse("partition", args, nargs, kwnames, PARTITION_ARGS, 1, a) < 0)
        return NULL;
    cshm_key key;
    const char *ns, *set;
    /* The namespace does not change a partition id; it is accepted (and
     * type-checked) so partition() and route() take the same arguments. */
    if (common(op, a[0], a[1], a[2], &key, &ns, &set) < 0)
        return NULL;
    uint32_t partition;
    cshm_error error;
    if (cshm_partition(self->client, &key, set, &partition, &error) != 0)
        return cshm_py_raise(self->st, &error);
    return PyLong_FromUnsignedLong(partition);
}
