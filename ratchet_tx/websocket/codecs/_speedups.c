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
    return PyModuleDef_Init(&speedups_module);
}
