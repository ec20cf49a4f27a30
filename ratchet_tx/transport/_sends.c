/*
 * Optional C speedup for ratchet_tx.transport.turn: the end of a reactor
 * turn's loop over the transports that were written to.
 *
 * sendPending(writers) -> list: for each writer (a WriteThroughConnection)
 * in the simple case, where one write of the turn waits in its _pending and
 * nothing else is to be done once it is sent (nothing queued, not closing,
 * no producer to resume), send those bytes to its socket and set _pending to
 * None, as its endOfTurn would.  Return the writers it did not finish, in
 * order, for endOfTurn to deal with in Python: the other cases, a send the
 * kernel refused (EAGAIN: nothing sent, _pending as it was) or took part of
 * (_pending then holds the rest), and a failed send (left for endOfTurn to
 * send again and see fail).  The same as calling each writer's endOfTurn;
 * the point is to spare a thousand receivers of a broadcast four Python
 * calls each between their sends, so the sends of a turn go out back to
 * back, up to 256 of them within one release of the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>

static PyObject *str_pending, *str_queue, *str_producer, *str_streaming,
    *str_paused, *str_disconnecting, *str_socket;

/* Whether attribute name of obj is obj2 (a borrowed singleton); -1 on error. */
static int
attr_is(PyObject *obj, PyObject *name, PyObject *expected)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    int result;

    if (value == NULL)
        return -1;
    result = value == expected;
    Py_DECREF(value);
    return result;
}

static int
attr_true(PyObject *obj, PyObject *name)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    int result;

    if (value == NULL)
        return -1;
    result = PyObject_IsTrue(value);
    Py_DECREF(value);
    return result;
}

/* Nothing to do once the pending bytes are sent: 1; else 0; -1 on error. */
static int
simple_case(PyObject *writer)
{
    int result;
    PyObject *producer;

    result = attr_is(writer, str_queue, Py_None);
    if (result != 1)
        return result;
    result = attr_true(writer, str_disconnecting);
    if (result != 0)
        return result < 0 ? -1 : 0;
    producer = PyObject_GetAttr(writer, str_producer);
    if (producer == NULL)
        return -1;
    if (producer == Py_None) {
        Py_DECREF(producer);
        return 1;
    }
    Py_DECREF(producer);
    /* A streaming producer that is not paused needs nothing. */
    result = attr_true(writer, str_streaming);
    if (result != 1)
        return result;
    result = attr_true(writer, str_paused);
    if (result != 0)
        return result < 0 ? -1 : 0;
    return 1;
}

/* How many sends one release of the GIL covers at most. */
#define BATCH 256

typedef struct {
    PyObject *writer;  /* owned */
    PyObject *pending; /* owned: the bytes being sent */
    int fd;
    Py_ssize_t sent;
} send_slot;

/* The writer's socket and pending bytes if it is the simple case: 1 (and
 * slot filled), 0 when endOfTurn must see to it, -1 on a Python error. */
static int
prepare(PyObject *writer, send_slot *slot)
{
    PyObject *pending, *sock;
    int fd, simple;

    pending = PyObject_GetAttr(writer, str_pending);
    if (pending == NULL)
        return -1;
    if (!PyBytes_CheckExact(pending)) {
        Py_DECREF(pending);
        return 0;
    }
    simple = simple_case(writer);
    if (simple != 1) {
        Py_DECREF(pending);
        return simple;
    }
    sock = PyObject_GetAttr(writer, str_socket);
    if (sock == NULL) {
        Py_DECREF(pending);
        return -1;
    }
    fd = PyObject_AsFileDescriptor(sock);
    Py_DECREF(sock);
    if (fd < 0) {
        Py_DECREF(pending);
        return -1;
    }
    /* Taken now: a writer in the list twice (written again after a large
     * write sent its bytes at once) is then not sent the same bytes twice. */
    if (PyObject_SetAttr(writer, str_pending, Py_None) < 0) {
        Py_DECREF(pending);
        return -1;
    }
    Py_INCREF(writer);
    slot->writer = writer;
    slot->pending = pending;
    slot->fd = fd;
    slot->sent = -1;
    return 1;
}

/* After the send: set _pending as endOfTurn would have.  Returns whether
 * the writer is done (0: endOfTurn must see to it), -1 on a Python error. */
static int
finish(send_slot *slot)
{
    PyObject *rest;
    Py_ssize_t size = PyBytes_GET_SIZE(slot->pending);

    if (slot->sent == size)
        return 1;
    if (slot->sent <= 0) {
        /* Refused or failed: endOfTurn sends again and sees which. */
        return PyObject_SetAttr(slot->writer, str_pending, slot->pending) < 0 ? -1 : 0;
    }
    {
        rest = PyBytes_FromStringAndSize(PyBytes_AS_STRING(slot->pending) + slot->sent,
                                         size - slot->sent);
        if (rest == NULL)
            return -1;
        if (PyObject_SetAttr(slot->writer, str_pending, rest) < 0) {
            Py_DECREF(rest);
            return -1;
        }
        Py_DECREF(rest);
    }
    return 0;
}

/* Append writer to left unless done; 0, or -1 on a Python error. */
static int
keep(PyObject *left, PyObject *writer, int done)
{
    if (done < 0) {
        /* Not a transport this knows (or one already lost): Python's
         * endOfTurn deals with it. */
        PyErr_Clear();
        done = 0;
    }
    return done ? 0 : PyList_Append(left, writer);
}

static PyObject *
send_pending(PyObject *module, PyObject *writers)
{
    send_slot slots[BATCH];
    PyObject *left, *writer;
    Py_ssize_t i = 0, j, filled;
    int ready, failed = 0;

    (void)module;
    if (!PyList_CheckExact(writers)) {
        PyErr_SetString(PyExc_TypeError, "sendPending() takes a list");
        return NULL;
    }
    left = PyList_New(0);
    if (left == NULL)
        return NULL;
    while (i < PyList_GET_SIZE(writers) && !failed) {
        /* The simple cases of the next writers, in order; the others go to
         * left as they come (their order among themselves is kept, and
         * each connection's bytes are its own). */
        filled = 0;
        for (; i < PyList_GET_SIZE(writers) && filled < BATCH; i++) {
            writer = PyList_GET_ITEM(writers, i);
            ready = prepare(writer, &slots[filled]);
            if (ready == 1)
                filled++;
            else if (keep(left, writer, ready) < 0) {
                failed = 1;
                break;
            }
        }
        Py_BEGIN_ALLOW_THREADS
        for (j = 0; j < filled; j++)
            slots[j].sent = send(slots[j].fd, PyBytes_AS_STRING(slots[j].pending),
                                 (size_t)PyBytes_GET_SIZE(slots[j].pending), 0);
        Py_END_ALLOW_THREADS
        for (j = 0; j < filled; j++) {
            if (!failed && keep(left, slots[j].writer, finish(&slots[j])) < 0)
                failed = 1;
            Py_DECREF(slots[j].writer);
            Py_DECREF(slots[j].pending);
        }
    }
    if (failed) {
        Py_DECREF(left);
        return NULL;
    }
    return left;
}

static PyMethodDef sends_methods[] = {
    {"sendPending", send_pending, METH_O,
     "Send each writer's pending bytes where that is all there is to do; "
     "return the writers left for endOfTurn."},
    {NULL, NULL, 0, NULL},
};

static int
sends_exec(PyObject *module)
{
    (void)module;
#define INTERN(var, text)                                                      \
    if ((var = PyUnicode_InternFromString(text)) == NULL)                      \
        return -1;
    INTERN(str_pending, "_pending");
    INTERN(str_queue, "_queue");
    INTERN(str_producer, "producer");
    INTERN(str_streaming, "streamingProducer");
    INTERN(str_paused, "producerPaused");
    INTERN(str_disconnecting, "disconnecting");
    INTERN(str_socket, "socket");
#undef INTERN
    return 0;
}

static PyModuleDef_Slot sends_slots[] = {
    {Py_mod_exec, sends_exec},
    {0, NULL},
};

static struct PyModuleDef sends_module = {
    PyModuleDef_HEAD_INIT,
    "ratchet_tx.transport._sends",
    "Optional C speedup for the end of a reactor turn (see turn.py).",
    0,
    sends_methods,
    sends_slots,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__sends(void)
{
    return PyModuleDef_Init(&sends_module);
}
