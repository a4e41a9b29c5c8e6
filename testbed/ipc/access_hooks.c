/* C builtins for the access-level views of a recording actor (testbed/harness/access.py).
 *
 * Under --points access every read and write of `env.words(...)` and every operation of an
 * `env.bitmap(...)` is a schedule point, recorded in the same call as the access (recorder.c,
 * tb_acc_*). Through ctypes each costs 0.3-0.6 us of argument handling, and a creation of
 * genode-race `fixed` makes about 22 of them: the access points then cost more than all the
 * rest of the creator's model. As hooks.c does for the named points, each factory below is
 * called once (through ctypes) and answers builtin functions bound to one view (its event
 * ids, its address, its length): the hot path is one call of a builtin that checks the
 * index as the Python view does, then calls the same tb_acc_* function, so a recorded access
 * is exactly what the ctypes path records.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"

struct view_state {
    uint32_t read, write; /* event ids: the region's read and write families */
    uint64_t *words;      /* the region's first word (a bitmap's first word) */
    Py_ssize_t n;         /* words (a bitmap: bits) */
};

static void free_view(PyObject *capsule)
{
    free(PyCapsule_GetPointer(capsule, NULL));
}

/* Builtin functions of `defs` (NULL-terminated), each bound to one copy of `s`. */
static PyObject *bind_all(PyMethodDef *defs, const struct view_state *s)
{
    struct view_state *copy = malloc(sizeof *copy);
    if (!copy)
        return PyErr_NoMemory();
    *copy = *s;
    PyObject *self = PyCapsule_New(copy, NULL, free_view);
    if (!self) {
        free(copy);
        return NULL;
    }
    Py_ssize_t k = 0;
    while (defs[k].ml_name)
        k++;
    PyObject *out = PyTuple_New(k);
    for (Py_ssize_t i = 0; out && i < k; i++) {
        PyObject *fn = PyCFunction_New(&defs[i], self);
        if (!fn)
            Py_CLEAR(out);
        else
            PyTuple_SET_ITEM(out, i, fn);
    }
    Py_DECREF(self);
    return out;
}

static inline struct view_state *view_of(PyObject *self)
{
    return PyCapsule_GetPointer(self, NULL);
}

static int nargs_is(Py_ssize_t nargs, Py_ssize_t want, const char *what)
{
    if (nargs == want)
        return 1;
    PyErr_Format(PyExc_TypeError, "%s takes %zd arguments, %zd given", what, want, nargs);
    return 0;
}

/* ---- words: `load(i)`, `store(i, value)`, `copy(start, n)` --------------------------------
 * `i` may be negative (from the end); out of range: IndexError, a value outside 0..2**64-1:
 * ValueError, with AccessWords' messages. */

static int word_index(const struct view_state *s, PyObject *o, uint32_t *out)
{
    Py_ssize_t i = PyLong_AsSsize_t(o);
    if (i == -1 && PyErr_Occurred())
        return -1;
    if (i < 0)
        i += s->n;
    if (i < 0 || i >= s->n) {
        PyErr_Format(PyExc_IndexError, "word %zd outside 0..%zd", i, s->n - 1);
        return -1;
    }
    *out = (uint32_t)i;
    return 0;
}

/* Words [start, start+n) into `out` as ints, taking every `step`-th from `first` (an index
 * in the range), `count` of them; the range is one access (the caller has checked it). */
static PyObject *words_list(const struct view_state *s, Py_ssize_t start, Py_ssize_t n,
                            Py_ssize_t first, Py_ssize_t step, Py_ssize_t count)
{
    uint64_t small[64], *buf = n <= 64 ? small : malloc(sizeof(uint64_t) * (size_t)n);
    if (!buf)
        return PyErr_NoMemory();
    tb_acc_copy(s->read, s->words, (uint32_t)start, (uint32_t)n, buf);
    PyObject *out = PyList_New(count);
    for (Py_ssize_t k = 0; out && k < count; k++) {
        PyObject *v = PyLong_FromUnsignedLongLong(buf[first - start + k * step]);
        if (!v)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, k, v);
    }
    if (buf != small)
        free(buf);
    return out;
}

/* `load(i)`: word i; `load(slice)`: the words it picks as a list, the words from its first
 * to its last one access (none if it picks none), as AccessWords.__getitem__. */
static PyObject *words_load(PyObject *self, PyObject *key)
{
    struct view_state *s = view_of(self);
    if (PySlice_Check(key)) {
        Py_ssize_t start, stop, step;
        if (PySlice_Unpack(key, &start, &stop, &step) < 0)
            return NULL;
        Py_ssize_t count = PySlice_AdjustIndices(s->n, &start, &stop, step);
        if (count == 0)
            return PyList_New(0);
        Py_ssize_t last = start + (count - 1) * step, lo = step > 0 ? start : last;
        return words_list(s, lo, (step > 0 ? last - start : start - last) + 1, start, step,
                          count);
    }
    uint32_t i;
    if (word_index(s, key, &i))
        return NULL;
    return PyLong_FromUnsignedLongLong(tb_acc_load(s->read, s->words, i));
}

static int store_one(const struct view_state *s, uint32_t i, PyObject *value)
{
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "word value %R: expected an int", value);
        return -1;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(value);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear(); /* negative or too large */
        PyErr_Format(PyExc_ValueError, "word value %R: expected 0..2**64-1", value);
        return -1;
    }
    tb_acc_store(s->write, s->words, i, (uint32_t)v, (uint32_t)(v >> 32));
    return 0;
}

/* `store(i, value)`; `store(slice, values)`: a store a word it picks, in its order. */
static PyObject *words_store(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    struct view_state *s = view_of(self);
    if (!nargs_is(nargs, 2, "store(index, value)"))
        return NULL;
    if (PySlice_Check(args[0])) {
        Py_ssize_t start, stop, step;
        if (PySlice_Unpack(args[0], &start, &stop, &step) < 0)
            return NULL;
        Py_ssize_t count = PySlice_AdjustIndices(s->n, &start, &stop, step);
        PyObject *values = PySequence_List(args[1]);
        if (!values)
            return NULL;
        int bad = PyList_GET_SIZE(values) != count;
        if (bad)
            PyErr_Format(PyExc_ValueError, "%zd values for %zd words", PyList_GET_SIZE(values),
                         count);
        for (Py_ssize_t k = 0; !bad && k < count; k++)
            bad = store_one(s, (uint32_t)(start + k * step), PyList_GET_ITEM(values, k));
        Py_DECREF(values);
        if (bad)
            return NULL;
        Py_RETURN_NONE;
    }
    uint32_t i;
    if (word_index(s, args[0], &i) || store_one(s, i, args[1]))
        return NULL;
    Py_RETURN_NONE;
}

/* `copy(start, n)`: words [start, start+n) as a list, one access. */
static PyObject *words_copy(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    struct view_state *s = view_of(self);
    if (!nargs_is(nargs, 2, "copy(start, n)"))
        return NULL;
    Py_ssize_t start = PyLong_AsSsize_t(args[0]), n = PyLong_AsSsize_t(args[1]);
    if ((start == -1 || n == -1) && PyErr_Occurred())
        return NULL;
    if (start < 0 || n < 0 || start + n > s->n) {
        PyErr_Format(PyExc_IndexError, "words [%zd, %zd) outside [0, %zd)", start, start + n,
                     s->n);
        return NULL;
    }
    return words_list(s, start, n, start, 1, n);
}

static PyMethodDef words_defs[] = {
    {"load", words_load, METH_O, "record a read of word i (or a slice) and answer it"},
    {"store", (PyCFunction)(void (*)(void))words_store, METH_FASTCALL,
     "record a write of word i and store the value"},
    {"copy", (PyCFunction)(void (*)(void))words_copy, METH_FASTCALL,
     "record one read of n words from start and answer them as a list"},
    {NULL, NULL, 0, NULL},
};

/* (load, store, copy) for `n` words at `words`, recorded as events `read` and `write`. */
PyObject *tb_hook_words(uint32_t read, uint32_t write, uint64_t *words, Py_ssize_t n)
{
    struct view_state s = {read, write, words, n};
    return bind_all(words_defs, &s);
}

/* ---- a bitmap of `n` bits: `first_set`, `first_clear`, `count`, `set_range`, `clear_range`,
 * each (start, n), checked as native.Bitmap._check does */

static int bit_range(const struct view_state *s, PyObject *const *args, Py_ssize_t nargs,
                     const char *what, uint32_t *start, uint32_t *n)
{
    if (!nargs_is(nargs, 2, what))
        return -1;
    Py_ssize_t a = PyLong_AsSsize_t(args[0]), b = PyLong_AsSsize_t(args[1]);
    if ((a == -1 || b == -1) && PyErr_Occurred())
        return -1;
    if (a < 0 || b < 0 || a + b > s->n) {
        PyErr_Format(PyExc_IndexError, "bit range [%zd, %zd) outside [0, %zd)", a, a + b, s->n);
        return -1;
    }
    *start = (uint32_t)a, *n = (uint32_t)b;
    return 0;
}

#define BITS_FN(fname, call, box)                                                          \
    static PyObject *fname(PyObject *self, PyObject *const *args, Py_ssize_t nargs)        \
    {                                                                                      \
        struct view_state *s = view_of(self);                                              \
        uint32_t start, n;                                                                 \
        if (bit_range(s, args, nargs, #fname "(start, n)", &start, &n))                    \
            return NULL;                                                                   \
        return box(call);                                                                  \
    }

#define NONE(x) ((void)(x), Py_NewRef(Py_None))
BITS_FN(first_set, tb_acc_bm_first_set(s->read, s->words, start, n), PyLong_FromLongLong)
BITS_FN(first_clear, tb_acc_bm_first_clear(s->read, s->words, start, n), PyLong_FromLongLong)
BITS_FN(count, tb_acc_bm_count(s->read, s->words, start, n), PyLong_FromUnsignedLongLong)
BITS_FN(set_range, tb_acc_bm_apply(s->write, s->words, start, n, 1), NONE)
BITS_FN(clear_range, tb_acc_bm_apply(s->write, s->words, start, n, 0), NONE)

#define FASTCALL(fn) (PyCFunction)(void (*)(void))fn, METH_FASTCALL
static PyMethodDef bits_defs[] = {
    {"first_set", FASTCALL(first_set), "record a read; the first set bit of the range, or -1"},
    {"first_clear", FASTCALL(first_clear), "record a read; the first clear bit, or -1"},
    {"count", FASTCALL(count), "record a read; the set bits of the range"},
    {"set_range", FASTCALL(set_range), "record a write; set the range's bits"},
    {"clear_range", FASTCALL(clear_range), "record a write; clear the range's bits"},
    {NULL, NULL, 0, NULL},
};

/* (first_set, first_clear, count, set_range, clear_range) for `nbits` bits at `bm`. */
PyObject *tb_hook_bits(uint32_t read, uint32_t write, uint64_t *bm, Py_ssize_t nbits)
{
    struct view_state s = {read, write, bm, nbits};
    return bind_all(bits_defs, &s);
}
