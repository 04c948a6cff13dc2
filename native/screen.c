/* The hot path's byte screen (logzio_forwarder.pipeline.indexable.screen), in C: one pass over a record's
 * single-line JSON, nothing allocated.
 *
 * scan(raw, max_keys) -> int, for ``raw`` a valid JSON object on one line (the decoder validated it):
 *   -2  it has a top-level member shaping writes itself (``@timestamp``, ``eventType``, ``forwarder``), or a
 *       top-level name with an escape (which could read as one of them): the caller parses it, to keep both.
 *   -1  it may break one of Logz.io's invalid-log rules: longer than MAX_FIELD_CHARS bytes (else no name or value
 *       can be longer), more than MAX_DEPTH levels of objects and arrays (the top object is level 1), more than
 *       ``max_keys`` member names in all (a bound on the distinct key paths Logz.io counts), or a '.' in a member
 *       name. The caller parses it. (The scan still reads on, since -2 outranks it.)
 *    0  it breaks none, and its last member is not a plain top-level ``"type"`` string.
 *    n  it breaks none, and ``raw[n:]`` is ``,"type":"<a string without escapes>"}``: the member shaping renames.
 * The pure-Python screen in indexable.py decides the same and is the reference the tests hold this one to; this
 * one exists because it is fast: string contents, most of a record, are skipped sixteen bytes at a time (SSE2;
 * eight elsewhere), looking out for '.' on the way.
 *
 * Compiled into logzio_forwarder/pipeline/_screen by `deploy/image_tree.py native` (the image's build stage and
 * `make venv` run it); where it is missing, indexable.py uses its own screen.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_FIELD_CHARS 32700
#define MAX_DEPTH 10

/* To the first '"' or '\\' at or after ``p`` (or ``end``): past the plain content of a string, many bytes at a
 * time; ``*dot`` is set when a '.' comes before it. */
#if defined(__SSE2__)
#include <emmintrin.h>

static const unsigned char *
skip_plain(const unsigned char *p, const unsigned char *end, int *dot)
{
    const __m128i quotes = _mm_set1_epi8('"'), escapes = _mm_set1_epi8('\\'), dots = _mm_set1_epi8('.');
    while (end - p >= 16) {
        const __m128i block = _mm_loadu_si128((const __m128i *)p);
        const unsigned stops = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(block, quotes), _mm_cmpeq_epi8(block, escapes)));
        const unsigned dotted = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(block, dots));
        if (stops) {
            const unsigned first = (unsigned)__builtin_ctz(stops);
            *dot |= (dotted & ((1u << first) - 1)) != 0;
            return p + first;
        }
        *dot |= dotted != 0;
        p += 16;
    }
    for (; p < end && *p != '"' && *p != '\\'; p++) {
        *dot |= *p == '.';
    }
    return p;
}
#else
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)
/* The high bit of every byte of ``word`` equal to the byte ``repeated`` repeats; a byte after such a one may be
 * flagged too (the borrow), never one before it, so the lowest flag is exact. */
#define BYTES_EQUAL(word, repeated) ((((word) ^ (repeated)) - ONES) & ~((word) ^ (repeated)) & HIGHS)

static const unsigned char *
skip_plain(const unsigned char *p, const unsigned char *end, int *dot)
{
    const uint64_t quotes = ONES * '"', escapes = ONES * '\\', dots = ONES * '.';
    while (end - p >= 8) {
        uint64_t word, stops, dotted;
        memcpy(&word, p, 8);
        stops = BYTES_EQUAL(word, quotes) | BYTES_EQUAL(word, escapes);
        dotted = BYTES_EQUAL(word, dots);
        if (stops) {
            unsigned first = 0;
            while (!(stops & (UINT64_C(0x80) << (8 * first)))) { /* portable: no byte order or ctz assumed */
                first++;
            }
            for (unsigned i = 0; i < first; i++) {
                *dot |= p[i] == '.';
            }
            return p + first;
        }
        *dot |= dotted != 0;
        p += 8;
    }
    for (; p < end && *p != '"' && *p != '\\'; p++) {
        *dot |= *p == '.';
    }
    return p;
}
#endif

static Py_ssize_t
scan_bytes(const unsigned char *start, const unsigned char *end, Py_ssize_t max_keys)
{
    const unsigned char *p = start;
    const unsigned char *type_member = NULL; /* the ',' before a top-level "type": key, its value still to come */
    Py_ssize_t found = 0;
    int depth = 0, broken = 0;
    Py_ssize_t keys = 0;
    while (p < end) {
        unsigned char c = *p++;
        if (c == '"') {
            const unsigned char *opened = p - 1;
            int escaped = 0, dot = 0;
            for (;;) {
                p = skip_plain(p, end, &dot);
                if (p >= end) {
                    return -1; /* an unterminated string: not what the decoder validated */
                }
                if (*p++ == '"') {
                    break;
                }
                escaped = 1;
                p++; /* the escaped character (of \uXXXX, the 'u'; the hex digits are plain) */
            }
            if (type_member != NULL && opened == type_member + 8) { /* the value right after ,"type": */
                found = (!escaped && p + 1 == end && *p == '}') ? type_member - start : 0;
                type_member = NULL;
            }
            const unsigned char *after = p;
            while (after < end && (*after == ' ' || *after == '\t' || *after == '\r' || *after == '\n')) {
                after++;
            }
            if (after < end && *after == ':') {
                if (dot || ++keys > max_keys) {
                    broken = 1; /* a member name with a '.', or more names than fields allowed */
                }
                if (depth == 1) {
                    const unsigned char *name = opened + 1;
                    const size_t size = (size_t)(p - opened - 2);
                    if (escaped || (size == 10 && memcmp(name, "@timestamp", 10) == 0) ||
                        (size == 9 && (memcmp(name, "eventType", 9) == 0 || memcmp(name, "forwarder", 9) == 0))) {
                        return -2;
                    }
                    if (size == 4 && memcmp(opened - 1, ",\"type\":", 8) == 0) {
                        type_member = opened - 1;
                    }
                }
            }
        }
        else if (c == '{' || c == '[') {
            if (++depth > MAX_DEPTH) {
                broken = 1;
            }
        }
        else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return broken ? -1 : found;
}

static PyObject *
screen_scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    Py_ssize_t max_keys, verdict;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "scan(raw, max_keys) takes two arguments");
        return NULL;
    }
    max_keys = PyLong_AsSsize_t(args[1]);
    if (max_keys == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    {
        const unsigned char *p = (const unsigned char *)view.buf;
        verdict = scan_bytes(p, p + view.len, max_keys);
        if (verdict >= 0 && view.len > MAX_FIELD_CHARS) {
            verdict = -1; /* a name or value may be longer than Logz.io indexes */
        }
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(verdict);
}

static PyMethodDef screen_methods[] = {
    {"scan", (PyCFunction)(void (*)(void))screen_scan, METH_FASTCALL,
     "scan(raw, max_keys) -> int: -1 when a valid one-object JSON line may break Logz.io's rules; else where its "
     "last member, a plain top-level \"type\", starts (0: it has none)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef screen_module = {
    PyModuleDef_HEAD_INIT, "_screen", "The hot path's byte screen, in C (see native/screen.c).", -1, screen_methods,
};

PyMODINIT_FUNC
PyInit__screen(void)
{
    return PyModule_Create(&screen_module);
}
