/*
 * errors.c - the exception classes and the mapping of the core's error codes.
 *
 * Invariants: every exception this module raises for a core failure is a
 * clustershm.Error carrying the core's message unchanged (it already names
 * the problem and the fix); TimeoutError is also the builtin TimeoutError so
 * `except TimeoutError` works as Python programmers expect; the classes are
 * heap objects owned by the module state (one set per module instance).
 */
#include <stdarg.h>

#include "binding.h"

static PyObject *new_exception(PyObject *module, const char *name, const char *doc,
                               PyObject *bases)
{
    PyObject *type = PyErr_NewExceptionWithDoc(name, doc, bases, NULL);
    if (type == NULL)
        return NULL;
    /* The attribute name is what follows "clustershm.". */
    if (PyModule_AddObjectRef(module, name + sizeof "clustershm." - 1, type) < 0) {
        Py_DECREF(type);
        return NULL;
    }
    return type;
}

int cshm_py_add_exceptions(PyObject *module, cshm_py_state *st)
{
    st->error = new_exception(module, "clustershm.Error",
                              "Base class of every clustershm error.", PyExc_Exception);
    if (st->error == NULL)
        return -1;
    st->config_error = new_exception(
        module, "clustershm.ConfigError",
        "A bad URL or option; the message names it and the accepted values.", st->error);
    st->cluster_error = new_exception(
        module, "clustershm.ClusterError",
        "No seed answered, the cluster name differs, or a namespace is unknown.", st->error);
    st->segment_error = new_exception(
        module, "clustershm.SegmentError",
        "The shared-memory segment is foreign, incompatible, not ours to use, or over a "
        "kernel limit (the message gives the sysctl to raise it).",
        st->error);
    if (st->config_error == NULL || st->cluster_error == NULL || st->segment_error == NULL)
        return -1;
    PyObject *bases = PyTuple_Pack(2, st->error, PyExc_TimeoutError);
    if (bases == NULL)
        return -1;
    st->timeout_error = new_exception(
        module, "clustershm.TimeoutError",
        "A wait ran past its deadline (e.g. no cluster map within connect_timeout).", bases);
    Py_DECREF(bases);
    return st->timeout_error == NULL ? -1 : 0;
}

PyObject *cshm_py_raise(cshm_py_state *st, const cshm_error *error)
{
    PyObject *type;
    switch (error->code) {
    case CSHM_ERR_CONFIG:
        type = st->config_error;
        break;
    case CSHM_ERR_CLUSTER:
        type = st->cluster_error;
        break;
    case CSHM_ERR_SEGMENT:
        type = st->segment_error;
        break;
    case CSHM_ERR_TIMEOUT:
        type = st->timeout_error;
        break;
    default: /* CSHM_ERR_SYSTEM, CSHM_ERR_STATE */
        type = st->error;
        break;
    }
    /* One argument only: OSError (TimeoutError's base) would read two as
     * (errno, strerror). */
    PyErr_SetString(type, error->message[0] ? error->message : "clustershm: unknown error");
    return NULL;
}

PyObject *cshm_py_not_connected(cshm_py_state *st)
{
    PyErr_SetString(st->error, "the client is not connected: call connect() first "
                               "(a closed client can connect again)");
    return NULL;
}

/* Raises exc("<fmt>, not <type name>") and returns -1.  The limited API
 * has no type-name accessor before 3.11, hence the attribute lookup (on an
 * error path only). */
int cshm_py_wrong_type(PyObject *exc, PyObject *obj, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    PyOS_vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    PyObject *name = PyObject_GetAttrString((PyObject *)Py_TYPE(obj), "__name__");
    if (name == NULL)
        return -1;
    PyErr_Format(exc, "%s, not %U", what, name);
    Py_DECREF(name);
    return -1;
}
