/*
 * args.c - argument conversion for the vectorcall (METH_FASTCALL) methods.
 *
 * Invariants: nothing here allocates or keeps a reference: every result is
 * borrowed from the caller's arguments (str data through
 * PyUnicode_AsUTF8AndSize, which caches the UTF-8 form inside the str and is
 * the str's own data for ASCII), so route() can convert its arguments
 * without touching the heap.  Messages follow CPython's own argument errors.
 */
#include <string.h>

#include "binding.h"

static Py_ssize_t find_name(PyObject *name, const char *const *names, Py_ssize_t count)
{
    for (Py_ssize_t i = 0; i < count; i++)
        if (PyUnicode_CompareWithASCIIString(name, names[i]) == 0)
            return i;
    return -1;
}

/* Fills out[0..count) (count = entries of the NULL-terminated names) with
 * borrowed references, NULL for an omitted argument. */
int cshm_py_parse(const char *func, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                  const char *const *names, Py_ssize_t required, PyObject **out)
{
    Py_ssize_t count = 0;
    while (names[count] != NULL)
        out[count++] = NULL;
    if (nargs > count) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %zd arguments (%zd given)", func, count,
                     nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_Size(kwnames);
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *name = PyTuple_GetItem(kwnames, k);
        Py_ssize_t i = name == NULL ? -1 : find_name(name, names, count);
        if (i < 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%S'", func,
                         name);
            return -1;
        }
        if (out[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", func,
                         names[i]);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    for (Py_ssize_t i = 0; i < required; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %zd)", func,
                         names[i], i + 1);
            return -1;
        }
    }
    return 0;
}

/* str -> Aerospike string (UTF-8), bytes/bytearray -> blob, int -> integer.
 * For Redis the core reads a string or blob as the key's bytes and an
 * integer as its decimal text, so one mapping serves both drivers. */
int cshm_py_key(PyObject *obj, cshm_key *key)
{
    memset(key, 0, sizeof *key);
    if (PyUnicode_Check(obj)) {
        Py_ssize_t len;
        key->data = PyUnicode_AsUTF8AndSize(obj, &len);
        if (key->data == NULL)
            return -1;
        key->type = CSHM_KEY_STRING;
        key->len = (size_t)len;
        return 0;
    }
    if (PyBytes_Check(obj)) {
        char *data;
        Py_ssize_t len;
        if (PyBytes_AsStringAndSize(obj, &data, &len) < 0)
            return -1;
        key->type = CSHM_KEY_BYTES;
        key->data = data;
        key->len = (size_t)len;
        return 0;
    }
    if (PyByteArray_Check(obj)) {
        key->type = CSHM_KEY_BYTES;
        key->data = PyByteArray_AsString(obj);
        key->len = (size_t)PyByteArray_Size(obj);
        return 0;
    }
    /* bool is an int subclass, but True as a key is almost surely a bug
     * (Aerospike has no boolean key type either). */
    if (PyLong_Check(obj) && !PyBool_Check(obj)) {
        int overflow;
        long long value = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (overflow) {
            PyErr_SetString(PyExc_OverflowError,
                            "integer key out of range: keys are 64-bit signed integers");
            return -1;
        }
        if (value == -1 && PyErr_Occurred())
            return -1;
        key->type = CSHM_KEY_INTEGER;
        key->integer = value;
        return 0;
    }
    return cshm_py_wrong_type(PyExc_TypeError, obj, "key must be str, bytes, bytearray or int");
}

/* None or absent -> NULL; str -> its UTF-8 (no NUL inside). */
int cshm_py_optional_str(PyObject *obj, const char *what, const char **out)
{
    *out = NULL;
    if (obj == NULL || obj == Py_None)
        return 0;
    if (!PyUnicode_Check(obj)) {
        return cshm_py_wrong_type(PyExc_TypeError, obj, "%s must be str or None", what);
    }
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(obj, &len);
    if (s == NULL)
        return -1;
    if (strlen(s) != (size_t)len) {
        PyErr_Format(PyExc_ValueError, "%s contains a NUL character", what);
        return -1;
    }
    *out = s;
    return 0;
}
