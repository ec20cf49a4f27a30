/*
 * Optional C speedups for ratchet_tx.websocket.codecs.hybi.
 *
 * applyMask(data, key) -> bytes: XOR data with the 4-byte masking key,
 * repeated (RFC 6455 section 5.3).  The same as the pure-Python applyMask in
 * hybi.py, which is used when this module could not be built; pure Python
 * unmasks about 1 GB/s at best, this does several times the memory bandwidth
 * the rest of the stack needs.
 *
 * maskedFrame(b0, payload, key) -> bytes: a whole masked frame (what a
 * client sends): header byte b0, the mask bit and the payload length, the
 * key, and the payload XORed with it, written into one new bytes object, so
 * the payload is copied once.  The same as pythonMaskedFrame in hybi.py.
 *
 * maskedText(text, key) -> bytes: the masked frame of a whole text message
 * (FIN and the text opcode), the str's UTF-8 read in place when it is ASCII
 * (no intermediate bytes), so a client's text costs one new object.  The
 * same as pythonMaskedText in hybi.py.
 *
 * PayloadBuffer(size, key=None): the payload of one large frame, received
 * where it will stay: a bytes object of its final size, made at once and
 * kept private (nobody else holds it) until it is complete, filled in order
 * by write() (a copy of received bytes, unmasked as they are copied) or by a
 * socket reading straight into window() and then advance() (unmasking in
 * place), and handed out by take().  The same as PythonPayloadBuffer in
 * hybi.py, which fills a bytearray and copies it out at the end.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MASK_KEY_SIZE 4

static void
xor_with_key(const unsigned char *in, unsigned char *out, Py_ssize_t n,
             const unsigned char key[MASK_KEY_SIZE])
{
    uint32_t key32;
    uint64_t key64;
    Py_ssize_t i = 0;

    /* Eight bytes at a time: the key twice over, in memory order whatever
     * the machine's byte order. */
    memcpy(&key32, key, MASK_KEY_SIZE);
    key64 = ((uint64_t)key32 << 32) | key32;
    for (; i + 8 <= n; i += 8) {
        uint64_t word;
        memcpy(&word, in + i, 8);
        word ^= key64;
        memcpy(out + i, &word, 8);
    }
    for (; i < n; i++) {
        out[i] = in[i] ^ key[i & (MASK_KEY_SIZE - 1)];
    }
}

/* XOR n bytes at p with the key in place (what a socket read into a
 * payload buffer needs).  The compiler cannot vectorize xor_with_key for
 * in == out (its overlap check fails), so this says it: 64 bytes a turn in
 * 16-byte vectors where the compiler has vector types (SSE2, NEON). */
static void
xor_in_place(unsigned char *p, Py_ssize_t n, const unsigned char key[MASK_KEY_SIZE])
{
#if defined(__GNUC__) || defined(__clang__)
    typedef unsigned char vector16 __attribute__((vector_size(16)));
    unsigned char repeated[16];
    vector16 k, a, b, c, d;
    Py_ssize_t i = 0;
    int j;

    for (j = 0; j < 16; j++) {
        repeated[j] = key[j & (MASK_KEY_SIZE - 1)];
    }
    memcpy(&k, repeated, 16);
    for (; i + 64 <= n; i += 64) {
        memcpy(&a, p + i, 16);
        memcpy(&b, p + i + 16, 16);
        memcpy(&c, p + i + 32, 16);
        memcpy(&d, p + i + 48, 16);
        a ^= k;
        b ^= k;
        c ^= k;
        d ^= k;
        memcpy(p + i, &a, 16);
        memcpy(p + i + 16, &b, 16);
        memcpy(p + i + 32, &c, 16);
        memcpy(p + i + 48, &d, 16);
    }
    /* The rest starts at a multiple of 4: the key's phase is unchanged. */
    xor_with_key(p + i, p + i, n - i, key);
#else
    xor_with_key(p, p, n, key);
#endif
}

static PyObject *
apply_mask(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, key;
    PyObject *result = NULL;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "applyMask() takes data and key");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &key, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (key.len != MASK_KEY_SIZE) {
        PyErr_SetString(PyExc_ValueError, "the masking key is 4 bytes");
    }
    else {
        result = PyBytes_FromStringAndSize(NULL, data.len);
        if (result != NULL) {
            xor_with_key((const unsigned char *)data.buf,
                         (unsigned char *)PyBytes_AS_STRING(result), data.len,
                         (const unsigned char *)key.buf);
        }
    }
    PyBuffer_Release(&key);
    PyBuffer_Release(&data);
    return result;
}

/* RFC 6455 section 5.2: the 7-bit length field, and the lengths of the
 * extended length fields. */
#define MASK_BIT 0x80
#define MAX_PAYLOAD_NORMAL 125
#define PAYLOAD_LENGTH_16 126
#define PAYLOAD_LENGTH_64 127
#define MAX_PAYLOAD_16 0xFFFF

/* A new bytes object holding a whole masked frame: header byte b0, the
 * mask bit and the length of the n payload bytes at data, the key, and the
 * payload XORed with it. */
static PyObject *
build_masked_frame(unsigned char b0, const unsigned char *data, Py_ssize_t n,
                   const unsigned char key[MASK_KEY_SIZE])
{
    unsigned char header[2 + 8];
    Py_ssize_t headerSize, i;
    unsigned char *out;
    PyObject *result;

    header[0] = b0;
    if (n <= MAX_PAYLOAD_NORMAL) {
        header[1] = MASK_BIT | (unsigned char)n;
        headerSize = 2;
    }
    else if (n <= MAX_PAYLOAD_16) {
        header[1] = MASK_BIT | PAYLOAD_LENGTH_16;
        header[2] = (unsigned char)(n >> 8);
        header[3] = (unsigned char)n;
        headerSize = 4;
    }
    else {
        uint64_t length = (uint64_t)n;
        header[1] = MASK_BIT | PAYLOAD_LENGTH_64;
        for (i = 0; i < 8; i++) {
            header[2 + i] = (unsigned char)(length >> (8 * (7 - i)));
        }
        headerSize = 10;
    }
    result = PyBytes_FromStringAndSize(NULL, headerSize + MASK_KEY_SIZE + n);
    if (result != NULL) {
        out = (unsigned char *)PyBytes_AS_STRING(result);
        memcpy(out, header, headerSize);
        memcpy(out + headerSize, key, MASK_KEY_SIZE);
        xor_with_key(data, out + headerSize + MASK_KEY_SIZE, n, key);
    }
    return result;
}

static PyObject *
masked_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, key;
    PyObject *result = NULL;
    long b0;

    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "maskedFrame() takes b0, payload and key");
        return NULL;
    }
    b0 = PyLong_AsLong(args[0]);
    if (b0 == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (b0 < 0 || b0 > 0xFF) {
        PyErr_SetString(PyExc_ValueError, "b0 is one byte");
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[2], &key, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (key.len != MASK_KEY_SIZE) {
        PyErr_SetString(PyExc_ValueError, "the masking key is 4 bytes");
    }
    else {
        result = build_masked_frame((unsigned char)b0, (const unsigned char *)data.buf,
                                    data.len, (const unsigned char *)key.buf);
    }
    PyBuffer_Release(&key);
    PyBuffer_Release(&data);
    return result;
}

/* maskedText(text, key): the masked frame of a whole text message.  An
 * ASCII str is its own UTF-8, read in place; any other is encoded first
 * (failing as str.encode("utf-8") does, on a lone surrogate). */
#define FIN_TEXT 0x81

static PyObject *
masked_text(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer key;
    PyObject *text, *encoded = NULL, *result = NULL;
    const unsigned char *data;
    Py_ssize_t n;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "maskedText() takes text and key");
        return NULL;
    }
    text = args[0];
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "maskedText() takes a str");
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &key, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (key.len != MASK_KEY_SIZE) {
        PyErr_SetString(PyExc_ValueError, "the masking key is 4 bytes");
        goto done;
    }
    if (PyUnicode_IS_ASCII(text)) {
        data = (const unsigned char *)PyUnicode_DATA(text);
        n = PyUnicode_GET_LENGTH(text);
    }
    else {
        encoded = PyUnicode_AsUTF8String(text);
        if (encoded == NULL) {
            goto done;
        }
        data = (const unsigned char *)PyBytes_AS_STRING(encoded);
        n = PyBytes_GET_SIZE(encoded);
    }
    result = build_masked_frame(FIN_TEXT, data, n, (const unsigned char *)key.buf);
done:
    Py_XDECREF(encoded);
    PyBuffer_Release(&key);
    return result;
}

/* PayloadBuffer: see the comment at the top. */
typedef struct {
    PyObject_HEAD
    PyObject *payload;          /* bytes of size `size`; NULL once taken or closed */
    Py_ssize_t size;
    Py_ssize_t filled;          /* bytes [0, filled) are received and unmasked */
    Py_ssize_t exports;         /* buffer views of payload alive */
    int closed;                 /* given up unfinished */
    int masked;
    unsigned char key[MASK_KEY_SIZE];
} PayloadBuffer;

/* The key as it applies from payload offset `offset` on. */
static void
key_at(const PayloadBuffer *self, Py_ssize_t offset, unsigned char out[MASK_KEY_SIZE])
{
    int i;
    for (i = 0; i < MASK_KEY_SIZE; i++) {
        out[i] = self->key[(offset + i) & (MASK_KEY_SIZE - 1)];
    }
}

static PyObject *
payload_buffer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"size", "key", NULL};
    Py_ssize_t size;
    PyObject *keyObject = Py_None;
    PayloadBuffer *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "n|O:PayloadBuffer", names, &size,
                                     &keyObject)) {
        return NULL;
    }
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "a payload's size is not negative");
        return NULL;
    }
    self = (PayloadBuffer *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    if (keyObject != Py_None) {
        Py_buffer key;
        if (PyObject_GetBuffer(keyObject, &key, PyBUF_SIMPLE) < 0) {
            Py_DECREF(self);
            return NULL;
        }
        if (key.len != MASK_KEY_SIZE) {
            PyBuffer_Release(&key);
            Py_DECREF(self);
            PyErr_SetString(PyExc_ValueError, "the masking key is 4 bytes");
            return NULL;
        }
        memcpy(self->key, key.buf, MASK_KEY_SIZE);
        self->masked = 1;
        PyBuffer_Release(&key);
    }
    self->payload = PyBytes_FromStringAndSize(NULL, size);
    if (self->payload == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    self->size = size;
    return (PyObject *)self;
}

static void
payload_buffer_dealloc(PayloadBuffer *self)
{
    Py_XDECREF(self->payload);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
payload_buffer_getbuffer(PayloadBuffer *self, Py_buffer *view, int flags)
{
    if (self->payload == NULL || self->closed) {
        PyErr_SetString(PyExc_BufferError, "the payload was taken or given up");
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, PyBytes_AS_STRING(self->payload),
                          self->size, 0, flags) < 0) {
        return -1;
    }
    self->exports++;
    return 0;
}

static void
payload_buffer_releasebuffer(PayloadBuffer *self, Py_buffer *view)
{
    self->exports--;
}

static PyBufferProcs payload_buffer_as_buffer = {
    (getbufferproc)payload_buffer_getbuffer,
    (releasebufferproc)payload_buffer_releasebuffer,
};

/* A memoryview of payload bytes [start, stop). */
static PyObject *
make_view(PayloadBuffer *self, Py_ssize_t start, Py_ssize_t stop)
{
    PyObject *whole, *first, *last, *slice, *view = NULL;

    whole = PyMemoryView_FromObject((PyObject *)self);
    if (whole == NULL) {
        return NULL;
    }
    first = PyLong_FromSsize_t(start);
    last = PyLong_FromSsize_t(stop);
    slice = (first != NULL && last != NULL) ? PySlice_New(first, last, NULL) : NULL;
    Py_XDECREF(first);
    Py_XDECREF(last);
    if (slice != NULL) {
        view = PyObject_GetItem(whole, slice);
        Py_DECREF(slice);
    }
    Py_DECREF(whole);
    return view;
}

/* window() -> memoryview | None: the part not received yet, writable. */
static PyObject *
payload_buffer_window(PayloadBuffer *self, PyObject *unused)
{
    if (self->payload == NULL || self->closed || self->filled == self->size) {
        Py_RETURN_NONE;
    }
    return make_view(self, self->filled, self->size);
}

/* view(start, stop) -> memoryview: received bytes [start, stop). */
static PyObject *
payload_buffer_view(PayloadBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t start, stop;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "view() takes start and stop");
        return NULL;
    }
    start = PyLong_AsSsize_t(args[0]);
    if (start == -1 && PyErr_Occurred()) {
        return NULL;
    }
    stop = PyLong_AsSsize_t(args[1]);
    if (stop == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (start < 0 || start > stop || stop > self->filled) {
        PyErr_SetString(PyExc_ValueError, "view() of bytes not received");
        return NULL;
    }
    return make_view(self, start, stop);
}

static int
check_open(PayloadBuffer *self)
{
    if (self->payload == NULL || self->closed) {
        PyErr_SetString(PyExc_ValueError, "the payload buffer was taken or closed");
        return -1;
    }
    return 0;
}

/* advance(count): count bytes were received into window(); unmask them. */
static PyObject *
payload_buffer_advance(PayloadBuffer *self, PyObject *countObject)
{
    Py_ssize_t count = PyLong_AsSsize_t(countObject);
    unsigned char key[MASK_KEY_SIZE];
    unsigned char *at;

    if (count == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (check_open(self) < 0) {
        return NULL;
    }
    if (count < 0 || count > self->size - self->filled) {
        PyErr_SetString(PyExc_ValueError, "advance() past the end of the payload");
        return NULL;
    }
    if (self->masked) {
        at = (unsigned char *)PyBytes_AS_STRING(self->payload) + self->filled;
        key_at(self, self->filled, key);
        xor_in_place(at, count, key);
    }
    self->filled += count;
    Py_RETURN_NONE;
}

/* write(data, start) -> int: copy data[start:] (as much as fits), unmasked. */
static PyObject *
payload_buffer_write(PayloadBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data;
    Py_ssize_t start, count;
    unsigned char key[MASK_KEY_SIZE];
    unsigned char *at;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "write() takes data and start");
        return NULL;
    }
    start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (check_open(self) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (start < 0 || start > data.len) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "write() from outside the data");
        return NULL;
    }
    count = data.len - start;
    if (count > self->size - self->filled) {
        count = self->size - self->filled;
    }
    at = (unsigned char *)PyBytes_AS_STRING(self->payload) + self->filled;
    if (self->masked) {
        key_at(self, self->filled, key);
        xor_with_key((const unsigned char *)data.buf + start, at, count, key);
    }
    else {
        memcpy(at, (const unsigned char *)data.buf + start, count);
    }
    self->filled += count;
    PyBuffer_Release(&data);
    return PyLong_FromSsize_t(count);
}

/* take() -> bytes: the whole payload, once; the buffer is then spent. */
static PyObject *
payload_buffer_take(PayloadBuffer *self, PyObject *unused)
{
    PyObject *payload;

    if (check_open(self) < 0) {
        return NULL;
    }
    if (self->filled != self->size) {
        PyErr_SetString(PyExc_ValueError, "the payload is not complete");
        return NULL;
    }
    if (self->exports) {
        PyErr_SetString(PyExc_BufferError, "a view of the payload is still alive");
        return NULL;
    }
    payload = self->payload;
    self->payload = NULL;
    return payload;
}

/* close(): give the payload up unfinished (window() is None from now on). */
static PyObject *
payload_buffer_close(PayloadBuffer *self, PyObject *unused)
{
    self->closed = 1;
    if (!self->exports) {
        /* (A view still alive keeps the memory until the buffer goes.) */
        Py_CLEAR(self->payload);
    }
    Py_RETURN_NONE;
}

static PyObject *
payload_buffer_get_size(PayloadBuffer *self, void *closure)
{
    return PyLong_FromSsize_t(self->size);
}

static PyObject *
payload_buffer_get_filled(PayloadBuffer *self, void *closure)
{
    return PyLong_FromSsize_t(self->filled);
}

static PyGetSetDef payload_buffer_getset[] = {
    {"size", (getter)payload_buffer_get_size, NULL, "The payload's size.", NULL},
    {"filled", (getter)payload_buffer_get_filled, NULL,
     "How many of its bytes were received.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef payload_buffer_methods[] = {
    {"window", (PyCFunction)payload_buffer_window, METH_NOARGS,
     "window() -> memoryview | None\n\nThe part not received yet (writable), "
     "or None once complete, taken or closed."},
    {"view", (PyCFunction)(void (*)(void))payload_buffer_view, METH_FASTCALL,
     "view(start, stop) -> memoryview\n\nReceived bytes [start, stop), unmasked."},
    {"advance", (PyCFunction)payload_buffer_advance, METH_O,
     "advance(count)\n\ncount bytes were received into window(): unmask them."},
    {"write", (PyCFunction)(void (*)(void))payload_buffer_write, METH_FASTCALL,
     "write(data, start) -> int\n\nCopy data[start:], unmasked, as much as fits; "
     "returns how much."},
    {"take", (PyCFunction)payload_buffer_take, METH_NOARGS,
     "take() -> bytes\n\nThe complete payload (once; no view of it may be alive)."},
    {"close", (PyCFunction)payload_buffer_close, METH_NOARGS,
     "close()\n\nGive the payload up unfinished."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PayloadBufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ratchet_tx.websocket.codecs._speedups.PayloadBuffer",
    .tp_basicsize = sizeof(PayloadBuffer),
    .tp_dealloc = (destructor)payload_buffer_dealloc,
    .tp_as_buffer = &payload_buffer_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The payload of one large frame, received in place.",
    .tp_methods = payload_buffer_methods,
    .tp_getset = payload_buffer_getset,
    .tp_new = payload_buffer_new,
};

static PyMethodDef speedups_methods[] = {
    {"applyMask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL,
     "applyMask(data, key) -> bytes\n\n"
     "XOR data with the 4-byte masking key, repeated (RFC 6455 5.3)."},
    {"maskedFrame", (PyCFunction)(void (*)(void))masked_frame, METH_FASTCALL,
     "maskedFrame(b0, payload, key) -> bytes\n\n"
     "A whole masked frame: header byte b0, length, key, masked payload."},
    {"maskedText", (PyCFunction)(void (*)(void))masked_text, METH_FASTCALL,
     "maskedText(text, key) -> bytes\n\n"
     "The masked frame (FIN, text) of a whole text message: text in UTF-8."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "ratchet_tx.websocket.codecs._speedups",
    "Optional C speedups for the RFC 6455 codec.",
    0,
    speedups_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    PyObject *module;

    if (PyType_Ready(&PayloadBufferType) < 0) {
        return NULL;
    }
    module = PyModule_Create(&speedups_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&PayloadBufferType);
    if (PyModule_AddObject(module, "PayloadBuffer", (PyObject *)&PayloadBufferType) < 0) {
        Py_DECREF(&PayloadBufferType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
