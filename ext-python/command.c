/*
 * command.c - clustershm.cli(argv=None): the clustershm command (core/cli,
 * compiled into this module by setup.py) run in this process.  The wheel's
 * `clustershm` console script is this function, so pip users run the same C
 * code as build/clustershm, built from the same core as the module itself.
 *
 * Invariants: argv is copied into C strings before the call and freed after;
 * the command runs without the GIL (it touches no Python object, and a
 * watch may run for hours); Python's sys.stdout is flushed before, C's
 * stdout and stderr after, so the outputs keep their order; the command
 * never calls exit() (core/cli/cli.h), so the interpreter keeps control and
 * the exit status is the return value.  watch's signal handlers are its own
 * only while it runs: it restores the interpreter's (core/cli/term.h).
 */
#include "binding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *const CLI_ARGS[] = {"argv", NULL};

static void free_argv(char **argv, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        free(argv[i]);
    free(argv);
}

static int flush_python_stdout(void)
{
    PyObject *out = PySys_GetObject("stdout"); /* borrowed; may be None */
    if (out == NULL || out == Py_None)
        return 0;
    PyObject *r = PyObject_CallMethod(out, "flush", NULL);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

PyObject *cshm_py_cli(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                      PyObject *kwnames)
{
    (void)module;
    PyObject *given = NULL;
    if (cshm_py_parse("cli", args, nargs, kwnames, CLI_ARGS, 0, &given) < 0)
        return NULL;
    PyObject *list;
    if (given == NULL || given == Py_None) {
        /* the console script: sys.argv[1:] are the command's arguments */
        PyObject *sys_argv = PySys_GetObject("argv"); /* borrowed */
        if (sys_argv == NULL || !PyList_Check(sys_argv)) {
            PyErr_SetString(PyExc_RuntimeError, "cli(): sys.argv is not a list");
            return NULL;
        }
        Py_ssize_t n = PyList_Size(sys_argv);
        list = PyList_GetSlice(sys_argv, n > 0 ? 1 : 0, n);
    } else {
        list = PySequence_List(given);
    }
    if (list == NULL)
        return NULL;
    Py_ssize_t n = PyList_Size(list);
    char **argv = calloc((size_t)n + 2, sizeof *argv);
    if (argv == NULL) {
        Py_DECREF(list);
        return PyErr_NoMemory();
    }
    argv[0] = strdup("clustershm");
    Py_ssize_t made = 1;
    for (Py_ssize_t i = 0; argv[0] != NULL && i < n; i++, made++) {
        PyObject *item = PyList_GetItem(list, i); /* borrowed */
        const char *text =
            item != NULL && PyUnicode_Check(item) ? PyUnicode_AsUTF8AndSize(item, NULL) : NULL;
        if (text == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "cli(): every argument must be a str");
            free_argv(argv, made);
            Py_DECREF(list);
            return NULL;
        }
        argv[made] = strdup(text);
        if (argv[made] == NULL)
            break;
    }
    Py_DECREF(list);
    if (argv[0] == NULL || made < n + 1) {
        free_argv(argv, made);
        return PyErr_NoMemory();
    }
    if (flush_python_stdout() < 0) {
        free_argv(argv, made);
        return NULL;
    }
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = cshm_cli_main((int)made, argv);
    fflush(stdout);
    fflush(stderr);
    Py_END_ALLOW_THREADS
    free_argv(argv, made);
    return PyLong_FromLong(status);
}
