/*
 * options.c - Client(url, **options) keyword arguments -> cshm_options.
 *
 * Invariants: only the Python side is checked here (the type of each value,
 * and that it fits the C field); the accepted ranges are the core's, checked
 * by cshm_default_key() right after, so the rules live in one place.  Every
 * failure is a ConfigError whose message starts "bad option NAME" or names
 * the unknown option.  None means "the default" for every option.
 */
#include <stddef.h>
#include <string.h>

#include "binding.h"

typedef enum {
    OPT_KEY,
    OPT_BOOL,
    OPT_COUNT,
    OPT_SECONDS,
    OPT_MODE,
    OPT_NAME,
    OPT_TEXT,
    OPT_USER,
    OPT_PASSWORD,
    OPT_RACK
} opt_kind;

static const struct option_def {
    const char *name;
    opt_kind kind;
    size_t offset;              /* of the field in cshm_options */
    size_t size;                /* OPT_TEXT: the char array's size */
} OPTIONS[] = {
    {"key", OPT_KEY, offsetof(cshm_options, key), 0},
    {"shared", OPT_BOOL, offsetof(cshm_options, shared), 0},
    {"max_nodes", OPT_COUNT, offsetof(cshm_options, max_nodes), 0},
    {"max_namespaces", OPT_COUNT, offsetof(cshm_options, max_namespaces), 0},
    {"tend_interval", OPT_SECONDS, offsetof(cshm_options, tend_interval), 0},
    {"takeover_timeout", OPT_SECONDS, offsetof(cshm_options, takeover_timeout), 0},
    {"connect_timeout", OPT_SECONDS, offsetof(cshm_options, connect_timeout), 0},
    {"min_refresh_interval", OPT_SECONDS, offsetof(cshm_options, min_refresh_interval), 0},
    {"mode", OPT_MODE, offsetof(cshm_options, mode), 0},
    {"cluster_name", OPT_NAME, offsetof(cshm_options, cluster_name), 0},
    {"tls_ca_file", OPT_TEXT, offsetof(cshm_options, tls_ca_file), CSHM_TLS_PATH_MAX},
    {"tls_ca_dir", OPT_TEXT, offsetof(cshm_options, tls_ca_dir), CSHM_TLS_PATH_MAX},
    {"tls_cert_file", OPT_TEXT, offsetof(cshm_options, tls_cert_file), CSHM_TLS_PATH_MAX},
    {"tls_key_file", OPT_TEXT, offsetof(cshm_options, tls_key_file), CSHM_TLS_PATH_MAX},
    {"tls_server_name", OPT_TEXT, offsetof(cshm_options, tls_server_name),
     sizeof(((cshm_options *)0)->tls_server_name)},
    {"tls_insecure_skip_verify", OPT_BOOL, offsetof(cshm_options, tls_insecure_skip_verify), 0},
    {"user", OPT_USER, offsetof(cshm_options, user), 0},
    {"password", OPT_PASSWORD, offsetof(cshm_options, password), 0},
    {"use_alternate_access_address", OPT_BOOL,
     offsetof(cshm_options, use_alternate_access_address), 0},
    {"rack_id", OPT_RACK, offsetof(cshm_options, rack_id), 0},
};
#define OPTION_COUNT (sizeof OPTIONS / sizeof OPTIONS[0])

static int bad_type(cshm_py_state *st, const char *name, PyObject *value, const char *expected)
{
    return cshm_py_wrong_type(st->config_error, value, "bad option %s: expected %s", name,
                              expected);
}

/* An int (not a bool: True is no count) that fits a uint32_t. */
static int to_uint32(cshm_py_state *st, const char *name, PyObject *value, uint32_t *out)
{
    if (!PyLong_Check(value) || PyBool_Check(value))
        return bad_type(st, name, value, "an int");
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow || v < 0 || v > (long long)UINT32_MAX) {
        PyErr_Format(st->config_error, "bad option %s: %R is out of range (0 to 0xffffffff)", name,
                     value);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int set_option(cshm_py_state *st, const struct option_def *def, PyObject *value,
                      cshm_options *o)
{
    const char *name = def->name;
    void *field = (char *)o + def->offset;
    switch (def->kind) {
    case OPT_KEY:
        if (value == Py_None) {
            o->has_key = 0;
            return 0;
        }
        o->has_key = 1;
        return to_uint32(st, name, value, field);
    case OPT_BOOL:
        if (value == Py_None)
            return 0;
        if (!PyLong_Check(value))
            return bad_type(st, name, value, "a bool");
        /* 0 and 1 pass too (flags read from a config file or environment). */
        int on = PyObject_RichCompareBool(value, Py_True, Py_EQ);
        int off = on == 0 ? PyObject_RichCompareBool(value, Py_False, Py_EQ) : 0;
        if (on < 0 || off < 0)
            return -1;
        if (!on && !off) {
            PyErr_Format(st->config_error, "bad option %s: %R; use True or False", name, value);
            return -1;
        }
        *(int *)field = on;
        return 0;
    case OPT_COUNT:
    case OPT_MODE:
        if (value == Py_None)
            return 0;
        return to_uint32(st, name, value, field);
    case OPT_SECONDS: {
        if (value == Py_None)
            return 0;
        if ((!PyFloat_Check(value) && !PyLong_Check(value)) || PyBool_Check(value))
            return bad_type(st, name, value, "seconds as a float or int");
        double seconds = PyFloat_AsDouble(value);
        if (seconds == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            PyErr_Format(st->config_error, "bad option %s: %R is out of range", name, value);
            return -1;
        }
        *(double *)field = seconds;
        return 0;
    }
    case OPT_USER:
    case OPT_PASSWORD: {
        size_t cap = def->kind == OPT_USER ? sizeof o->user : sizeof o->password;
        if (value == Py_None) {
            memset(field, 0, cap);
            return 0;
        }
        if (!PyUnicode_Check(value))
            return bad_type(st, name, value, "a str");
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(value, &len);
        if (s == NULL)
            return -1;
        if ((size_t)len >= cap || strlen(s) != (size_t)len) {
            /* Never the value in the message: it may be a password. */
            PyErr_Format(st->config_error, "bad option %s: longer than %zu bytes or contains NUL",
                         name, cap - 1);
            return -1;
        }
        memcpy(field, s, (size_t)len + 1);
        return 0;
    }
    case OPT_RACK: {
        if (value == Py_None)
            return 0;
        if (!PyLong_Check(value) || PyBool_Check(value))
            return bad_type(st, name, value, "an int");
        int overflow;
        long v = PyLong_AsLongAndOverflow(value, &overflow);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (overflow || v < -1 || v > INT32_MAX) {
            PyErr_Format(st->config_error, "bad option %s: %R; use 0 to 1000000, or -1 for none",
                         name, value);
            return -1;
        }
        *(int32_t *)field = (int32_t)v;
        return 0;
    }
    case OPT_NAME: {
        if (value == Py_None) {
            o->cluster_name[0] = '\0';
            return 0;
        }
        if (!PyUnicode_Check(value))
            return bad_type(st, name, value, "a str");
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(value, &len);
        if (s == NULL)
            return -1;
        if ((size_t)len >= sizeof o->cluster_name || strlen(s) != (size_t)len) {
            PyErr_Format(st->config_error,
                         "bad option cluster_name: %R is longer than %zu bytes or contains NUL",
                         value, sizeof o->cluster_name - 1);
            return -1;
        }
        memcpy(o->cluster_name, s, (size_t)len + 1);
        return 0;
    }
    case OPT_TEXT: {
        /* A path or a name: str, or os.PathLike for the paths. */
        char *text = field;
        if (value == Py_None) {
            text[0] = '\0';
            return 0;
        }
        PyObject *path = NULL;
        if (!PyUnicode_Check(value)) {
            path = PyOS_FSPath(value);
            if (path == NULL || !PyUnicode_Check(path)) {
                Py_XDECREF(path);
                PyErr_Clear();
                return bad_type(st, name, value, "a str or a path");
            }
            value = path;
        }
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(value, &len);
        if (s == NULL || (size_t)len >= def->size || strlen(s) != (size_t)len) {
            if (s != NULL)
                PyErr_Format(st->config_error,
                             "bad option %s: %R is longer than %zu bytes or contains NUL", name,
                             value, def->size - 1);
            Py_XDECREF(path);
            return -1;
        }
        memcpy(text, s, (size_t)len + 1);
        Py_XDECREF(path);
        return 0;
    }
    }
    return 0;
}

static PyObject *option_names(void)
{
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list != NULL && i < OPTION_COUNT; i++) {
        PyObject *s = PyUnicode_FromString(OPTIONS[i].name);
        if (s == NULL || PyList_Append(list, s) < 0) {
            Py_XDECREF(s);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(s);
    }
    if (list == NULL)
        return NULL;
    PyObject *sep = PyUnicode_FromString(", ");
    PyObject *joined = sep == NULL ? NULL : PyUnicode_Join(sep, list);
    Py_XDECREF(sep);
    Py_DECREF(list);
    return joined;
}

/* options is initialised by the caller (cshm_options_init); skip names a
 * keyword to ignore (the URL given by name) or is NULL. */
int cshm_py_options(cshm_py_state *st, PyObject *kwargs, const char *skip, cshm_options *options)
{
    if (kwargs == NULL)
        return 0;
    Py_ssize_t pos = 0;
    PyObject *name, *value;
    while (PyDict_Next(kwargs, &pos, &name, &value)) {
        /* Keyword names are always str (the call machinery checks). */
        if (skip != NULL && PyUnicode_CompareWithASCIIString(name, skip) == 0)
            continue;
        const struct option_def *def = NULL;
        for (size_t i = 0; i < OPTION_COUNT && def == NULL; i++)
            if (PyUnicode_CompareWithASCIIString(name, OPTIONS[i].name) == 0)
                def = &OPTIONS[i];
        if (def == NULL) {
            PyObject *known = option_names();
            if (known != NULL)
                PyErr_Format(st->config_error, "unknown option %R; the options are %U", name,
                             known);
            Py_XDECREF(known);
            return -1;
        }
        if (set_option(st, def, value, options) < 0)
            return -1;
    }
    return 0;
}
