/* C builtins for the testbed's hot paths: schedule points, recording and the core request.
 *
 * A ctypes call costs 0.3-0.6 us here (argument conversion, the call machinery), more than
 * the work behind a schedule point or a request's handshake. These functions are built into
 * the same library as the other C files (tb.h lists them) and loaded the same way
 * (ctypes.PyDLL, testbed/ipc/native.py), but each factory below is called once and answers a
 * Python builtin function (a PyCFunction, METH_O or METH_FASTCALL, bound to its state in a
 * capsule): the hot path then is one call of a builtin, with no ctypes in it. They call the
 * library's own functions (recorder.c, mailbox.c), so a recorded event or a request is
 * exactly what the ctypes path does.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"

static void free_state(PyObject *capsule)
{
    free(PyCapsule_GetPointer(capsule, NULL));
}

/* A builtin function of `def` bound to a copy of `state` (freed with the function). */
static PyObject *bind(PyMethodDef *def, const void *state, size_t size, PyCapsule_Destructor d)
{
    void *copy = malloc(size);
    if (!copy)
        return PyErr_NoMemory();
    memcpy(copy, state, size);
    PyObject *self = PyCapsule_New(copy, NULL, d ? d : free_state);
    if (!self) {
        free(copy);
        return NULL;
    }
    PyObject *fn = PyCFunction_New(def, self);
    Py_DECREF(self);
    return fn;
}

static inline void *state_of(PyObject *self)
{
    return PyCapsule_GetPointer(self, NULL);
}

static int u64_arg(PyObject *o, uint64_t *out)
{
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

/* ---- A schedule point: `point(name)` ------------------------------------------------------
 * `ids` maps a point's name to its event id, or to None for a point whose step records it
 * at its access (Env.recorded_store): that point records nothing here. `point` answers None;
 * `point_ticket` answers the event's ticket (or, for a point recorded at its access, the
 * ticket that access is about to take), for a perturbation that needs it. */

struct point_state {
    PyObject *ids;
    const uint64_t *counter;
};

static void free_point(PyObject *capsule)
{
    struct point_state *s = PyCapsule_GetPointer(capsule, NULL);
    Py_XDECREF(s->ids);
    free(s);
}

static PyObject *point_event(struct point_state *s, PyObject *name, int *recorded, uint64_t *t)
{
    PyObject *id = PyDict_GetItemWithError(s->ids, name); /* borrowed */
    if (!id) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_KeyError, "no schedule point %R", name);
        return NULL;
    }
    if (id == Py_None) {
        *recorded = 0;
        *t = __atomic_load_n(s->counter, __ATOMIC_SEQ_CST);
        return id;
    }
    long ev = PyLong_AsLong(id);
    if (ev == -1 && PyErr_Occurred())
        return NULL;
    *recorded = 1;
    *t = tb_rec((uint32_t)ev);
    return id;
}

static PyObject *point(PyObject *self, PyObject *name)
{
    int recorded;
    uint64_t ticket;
    if (!point_event(state_of(self), name, &recorded, &ticket))
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *point_ticket(PyObject *self, PyObject *name)
{
    int recorded;
    uint64_t ticket;
    if (!point_event(state_of(self), name, &recorded, &ticket))
        return NULL;
    return PyLong_FromUnsignedLongLong(ticket);
}

static PyMethodDef point_def = {"point", point, METH_O, "record a schedule point by name"};
static PyMethodDef point_ticket_def = {
    "point_ticket", point_ticket, METH_O, "record a schedule point by name; its ticket"};

/* The point hook of a recording process (tb_recorder_bind done): `ids` as above, the
 * ticket counter's address; with `ticket` the hook answers the ticket. */
PyObject *tb_hook_point(PyObject *ids, void *counter, int ticket)
{
    if (!PyDict_Check(ids)) {
        PyErr_SetString(PyExc_TypeError, "tb_hook_point: ids must be a dict");
        return NULL;
    }
    struct point_state s = {ids, counter};
    Py_INCREF(ids);
    PyObject *fn = bind(ticket ? &point_ticket_def : &point_def, &s, sizeof s, free_point);
    if (!fn)
        Py_DECREF(ids);
    return fn;
}

/* ---- `record(event)`: one event in this process's ring; answers the ticket --------------- */

static PyObject *record(PyObject *self, PyObject *event)
{
    (void)self;
    long ev = PyLong_AsLong(event);
    if (ev == -1 && PyErr_Occurred())
        return NULL;
    if (ev < 0 || ev > 0xFFFF) {
        PyErr_Format(PyExc_ValueError, "event id %ld outside [0, 65535]", ev);
        return NULL;
    }
    return PyLong_FromUnsignedLongLong(tb_rec((uint32_t)ev));
}

static PyMethodDef record_def = {"record", record, METH_O, "record an event; its ticket"};

PyObject *tb_hook_record(void)
{
    return PyCFunction_New(&record_def, NULL);
}

/* ---- Steps recorded at their access: `store(index, value)`, `find(value, n)` -------------
 * Each is bound to its region's words and their number: an index or a count outside the
 * region raises IndexError before anything is recorded or written. */

struct access_state {
    uint32_t event;
    uint64_t *words;
    uint64_t len; /* the region's words, at most UINT32_MAX (tb_rec_store's index) */
};

static PyObject *store(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    struct access_state *s = state_of(self);
    uint64_t index, value;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "store(index, value) takes 2 arguments, %zd given", nargs);
        return NULL;
    }
    if (u64_arg(args[0], &index) || u64_arg(args[1], &value))
        return NULL;
    if (index >= s->len) {
        PyErr_Format(PyExc_IndexError, "store(%llu, value): expected an index in 0..%lld (the "
                     "region's words)", (unsigned long long)index, (long long)s->len - 1);
        return NULL;
    }
    tb_rec_store(s->event, s->words, (uint32_t)index, (uint32_t)value, (uint32_t)(value >> 32));
    Py_RETURN_NONE;
}

static PyObject *find(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    struct access_state *s = state_of(self);
    uint64_t value, n;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "find(value, n) takes 2 arguments, %zd given", nargs);
        return NULL;
    }
    if (u64_arg(args[0], &value) || u64_arg(args[1], &n))
        return NULL;
    if (n > s->len) {
        PyErr_Format(PyExc_IndexError, "find(value, %llu): expected n in 0..%llu (the region's "
                     "words)", (unsigned long long)n, (unsigned long long)s->len);
        return NULL;
    }
    int found = tb_rec_find(s->event, s->words, (uint32_t)n, (uint32_t)value,
                            (uint32_t)(value >> 32));
    return PyBool_FromLong(found);
}

static PyMethodDef store_def = {"store", (PyCFunction)(void (*)(void))store, METH_FASTCALL,
                                "record the event and store a word"};
static PyMethodDef find_def = {"find", (PyCFunction)(void (*)(void))find, METH_FASTCALL,
                               "record the event and look for a word"};

/* `len`: how many words from `words` the builtin may touch. */
PyObject *tb_hook_store(uint32_t event, uint64_t *words, uint64_t len)
{
    struct access_state s = {event, words, len < UINT32_MAX ? len : UINT32_MAX};
    return bind(&store_def, &s, sizeof s, NULL);
}

PyObject *tb_hook_find(uint32_t event, uint64_t *words, uint64_t len)
{
    struct access_state s = {event, words, len < UINT32_MAX ? len : UINT32_MAX};
    return bind(&find_def, &s, sizeof s, NULL);
}

/* ---- A request to core: `call(op, a0=0, a1=0, a2=0) -> (status, value)` ------------------
 * Writes the request into the client's mailbox, does mailbox.c's handshake (tb_call) and
 * answers core's status and value; raises `error(message)` if no reply came (the messages
 * for "aborted" and "timed out" are given, formatted, when the function is made). */

struct call_state {
    void *client;
    uint64_t *mb;
    PyObject *error, *aborted, *timed_out;
};

static void free_call(PyObject *capsule)
{
    struct call_state *s = PyCapsule_GetPointer(capsule, NULL);
    Py_XDECREF(s->error);
    Py_XDECREF(s->aborted);
    Py_XDECREF(s->timed_out);
    free(s);
}

static const char *const call_names[4] = {"op", "a0", "a1", "a2"};

static PyObject *call(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    struct call_state *s = state_of(self);
    uint64_t w[4] = {0, 0, 0, 0};
    int given[4] = {0, 0, 0, 0};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs > 4) {
        PyErr_Format(PyExc_TypeError, "call(op, a0=0, a1=0, a2=0) takes 1 to 4 arguments, "
                                      "%zd given", nargs);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        if (u64_arg(args[i], &w[i]))
            return NULL;
        given[i] = 1;
    }
    for (Py_ssize_t k = 0; k < nkw; k++) { /* keywords, as the Python method took them */
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int i = 0;
        while (i < 4 && PyUnicode_CompareWithASCIIString(key, call_names[i]) != 0)
            i++;
        if (i == 4 || given[i]) {
            PyErr_Format(PyExc_TypeError, i == 4 ? "call() got an unexpected keyword argument %R"
                                                 : "call() got multiple values for argument %R",
                         key);
            return NULL;
        }
        if (u64_arg(args[nargs + k], &w[i]))
            return NULL;
        given[i] = 1;
    }
    if (!given[0]) {
        PyErr_SetString(PyExc_TypeError, "call(op, a0=0, a1=0, a2=0) takes 1 to 4 arguments, "
                                         "0 given");
        return NULL;
    }
    uint64_t *mb = s->mb;
    mb[TB_MB_OP] = w[0], mb[TB_MB_A0] = w[1], mb[TB_MB_A1] = w[2], mb[TB_MB_A2] = w[3];
    int rc = tb_call(s->client); /* its first store is sequentially consistent */
    if (rc < 0) {
        if (rc == -3)
            PyErr_Format(s->error, "waiting for core's reply: semaphore error (%s)",
                         strerror(errno));
        else
            PyErr_SetObject(s->error, rc == -2 ? s->aborted : s->timed_out);
        return NULL;
    }
    /* any word core wrote, as it wrote it: what a status means is the scenario's to say */
    PyObject *status = PyLong_FromUnsignedLongLong(mb[TB_MB_STATUS]);
    PyObject *value = status ? PyLong_FromUnsignedLongLong(mb[TB_MB_VALUE]) : NULL;
    if (!value) {
        Py_XDECREF(status);
        return NULL;
    }
    PyObject *out = PyTuple_New(2);
    if (!out) {
        Py_DECREF(status);
        Py_DECREF(value);
        return NULL;
    }
    PyTuple_SET_ITEM(out, 0, status);
    PyTuple_SET_ITEM(out, 1, value);
    return out;
}

static PyMethodDef call_def = {"call", (PyCFunction)(void (*)(void))call,
                               METH_FASTCALL | METH_KEYWORDS,
                               "one request to core and its reply: (status, value)"};

/* `client` from tb_client_new, `mb` its mailbox; `error` an exception class. */
PyObject *tb_hook_call(void *client, uint64_t *mb, PyObject *error, PyObject *aborted,
                       PyObject *timed_out)
{
    struct call_state s = {client, mb, error, aborted, timed_out};
    Py_INCREF(error);
    Py_INCREF(aborted);
    Py_INCREF(timed_out);
    PyObject *fn = bind(&call_def, &s, sizeof s, free_call);
    if (!fn) {
        Py_DECREF(error);
        Py_DECREF(aborted);
        Py_DECREF(timed_out);
    }
    return fn;
}

/* ---- Core's loop for a core in Python: `step(status, value)` -----------------------------
 * Writes the answer to the request being served into its mailbox (none with no arguments:
 * it is there already), does mailbox.c's tb_server_step (answer, then wait for the next) and
 * answers the next request as (client, op, a0, a1, a2), or None if none came in time. */

struct step_state {
    void *server;
    uint64_t *mailboxes;
    int64_t current;
    uint64_t stride; /* words from one mailbox to the next */
};

static PyObject *step(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    struct step_state *s = state_of(self);
    if (nargs != 0 && nargs != 2) {
        PyErr_Format(PyExc_TypeError, "step(status, value) takes 0 or 2 arguments, %zd given",
                     nargs);
        return NULL;
    }
    if (nargs == 2) {
        uint64_t status, value;
        if (s->current < 0) {
            PyErr_SetString(PyExc_RuntimeError, "step(status, value): no request is served");
            return NULL;
        }
        if (u64_arg(args[0], &status) || u64_arg(args[1], &value))
            return NULL;
        uint64_t *mb = s->mailboxes + s->stride * (uint64_t)s->current;
        mb[TB_MB_STATUS] = status, mb[TB_MB_VALUE] = value;
    }
    int64_t i = s->current = tb_server_step(s->server);
    if (i < 0)
        Py_RETURN_NONE;
    const uint64_t *mb = s->mailboxes + s->stride * (uint64_t)i;
    return Py_BuildValue("(LKKKK)", (long long)i, (unsigned long long)mb[TB_MB_OP],
                         (unsigned long long)mb[TB_MB_A0], (unsigned long long)mb[TB_MB_A1],
                         (unsigned long long)mb[TB_MB_A2]);
}

static PyMethodDef step_def = {"step", (PyCFunction)(void (*)(void))step, METH_FASTCALL,
                               "answer the current request; the next one, or None"};

/* `server` from tb_server_new, `mailboxes` the first client's mailbox, `stride` words
 * from one mailbox to the next. */
PyObject *tb_hook_step(void *server, uint64_t *mailboxes, uint64_t stride)
{
    struct step_state s = {server, mailboxes, -1, stride};
    return bind(&step_def, &s, sizeof s, NULL);
}

/* ---- A request a core in Python served: `record_request(op, client, status, key)` --------
 * Records event `base + op` (an op from `max_op` on as `max_op`) with recorder.pack_core's
 * word (op, client, status, key), as the C core's fc_serve_recorded does: one call, where
 * the Python core's server took a ctypes call and two Python ones (0.6 us a request). */

struct request_state {
    uint64_t base, max_op;
};

static PyObject *record_request(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    struct request_state *s = state_of(self);
    uint64_t w[4];
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError,
                     "record_request(op, client, status, key) takes 4 arguments, %zd given",
                     nargs);
        return NULL;
    }
    for (int i = 0; i < 4; i++) { /* the low 64 bits, as Python's & takes them */
        w[i] = PyLong_AsUnsignedLongLongMask(args[i]);
        if (w[i] == (uint64_t)-1 && PyErr_Occurred())
            return NULL;
    }
    int over;
    long long o = PyLong_AsLongLongAndOverflow(args[0], &over); /* an int: checked above */
    uint64_t op = !over && o >= 0 && (uint64_t)o < s->max_op ? (uint64_t)o : s->max_op;
    uint64_t what = (op & 0xFF) | (w[1] & 0xFFF) << 8 | (w[2] & 0xFF) << 20 | (w[3] & 0xFFFFF)
                                                                                  << 28;
    tb_rec_what((uint32_t)(s->base + op), (uint32_t)what, (uint32_t)(what >> 32));
    Py_RETURN_NONE;
}

static PyMethodDef record_request_def = {
    "record_request", (PyCFunction)(void (*)(void))record_request, METH_FASTCALL,
    "record a request core served: (op, client, status, key)"};

PyObject *tb_hook_record_request(uint64_t base, uint64_t max_op)
{
    struct request_state s = {base, max_op};
    return bind(&record_request_def, &s, sizeof s, NULL);
}

/* ---- A named lock's uncontended path: `try_now()`, `release()` ----------------------------
 * locks.NamedLock's: take the semaphore if it is free now (sem_trywait) and write the holder
 * word; clear the holder word and post the semaphore (a watched pair: 3,253 instructions
 * against 4,535 through posix_ipc; two pairs a creation of genode-race bitalloc). The waits
 * with a timeout stay posix_ipc's. */

struct lock_state {
    sem_t *sem;
    uint64_t *holder, me;
};

static PyObject *lock_try_now(PyObject *self, PyObject *unused)
{
    (void)unused;
    struct lock_state *s = state_of(self);
    if (sem_trywait(s->sem) == 0) {
        __atomic_store_n(s->holder, s->me, __ATOMIC_RELEASE);
        Py_RETURN_TRUE;
    }
    if (errno == EAGAIN || errno == EINTR)
        Py_RETURN_FALSE;
    return PyErr_SetFromErrno(PyExc_OSError);
}

static PyObject *lock_release(PyObject *self, PyObject *unused)
{
    (void)unused;
    struct lock_state *s = state_of(self);
    __atomic_store_n(s->holder, 0, __ATOMIC_RELEASE);
    if (sem_post(s->sem) != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

static PyMethodDef lock_defs[2] = {
    {"try_now", lock_try_now, METH_NOARGS, "take the lock if it is free now; whether taken"},
    {"release", lock_release, METH_NOARGS, "clear the holder word and let the lock go"},
};

/* (try_now, release) for the semaphore `sem` (tb_sem_open), holder word `holder`, `me`. */
PyObject *tb_hook_lock(void *sem, uint64_t *holder, uint64_t me)
{
    struct lock_state s = {sem, holder, me};
    PyObject *a = bind(&lock_defs[0], &s, sizeof s, NULL);
    PyObject *b = a ? bind(&lock_defs[1], &s, sizeof s, NULL) : NULL;
    PyObject *out = b ? PyTuple_Pack(2, a, b) : NULL;
    Py_XDECREF(a);
    Py_XDECREF(b);
    return out;
}
