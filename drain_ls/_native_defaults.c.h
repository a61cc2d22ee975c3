/* default_order: the `def` headers whose parameters put one without a default after one with
 * a default (`def f(a=1, b):`), which tree-sitter-python accepts and CPython rejects
 * ("parameter without a default follows parameter with a default"). Included by _native.c
 * (its helpers: is_blank, is_word, word_at, prefix_start, string_end, line_end).
 *
 * Only the bytes decide here, and only where a line starts with `def` or `async def` (after
 * its indentation): drain_ls.analysis.legacy asks the tree about each offset found, which
 * drops those in a string or a comment. Without this module, legacy asks the tree about every
 * `def` instead; tests/test_native.py holds both to the same errors. */

/* Whether the line after the line break at `at` starts with `def`, `class` or `async` (after
 * blanks): a statement, which no header holds. A header read from broken code (`def f(`
 * never closed) stops there, so that a file of such lines is read once, not once per line. */
static int statement_follows(const Src *src, Py_ssize_t at) {
    const unsigned char *s = src->s;
    Py_ssize_t n = src->n;
    at++;
    while (at < n && is_blank(s[at])) at++;
    return (word_at(s, n, at, "def", 3) && end_of_word(s, n, at + 3)) ||
           (word_at(s, n, at, "class", 5) && end_of_word(s, n, at + 5)) ||
           (word_at(s, n, at, "async", 5) && end_of_word(s, n, at + 5));
}

/* The end of the bracket group opening at `at` (strings, comments and nested brackets inside),
 * or -1 if it stays open (or a line break before a statement, statement_follows, comes first). */
static Py_ssize_t group_end(const Src *src, Py_ssize_t at) {
    const unsigned char *s = src->s;
    Py_ssize_t n = src->n;
    int depth = 0;
    Py_ssize_t from = at;
    while (at < n) {
        unsigned char c = s[at];
        if (c == '\'' || c == '"') {
            Py_ssize_t end = string_end(src, prefix_start(src, from, at), at, 0);
            if (end < 0) return -1;
            at = end;
            continue;
        }
        if (c == '#') {
            at = line_end(src, at);
            continue;
        }
        if (c == '\n' && statement_follows(src, at)) return -1;
        at++;
        if (c == '(' || c == '[' || c == '{') {
            depth++;
        } else if (c == ')' || c == ']' || c == '}') {
            if (--depth == 0) return at;
        }
    }
    return -1;
}

/* The first parameter of the header whose name ends at `at` that has no default and follows
 * one with a default, before any starred parameter or bare `*` (keyword-only parameters need
 * none): its start (*end: the end of its first word), or -1. A `/` between them does not
 * matter (`def f(a=1, /, b)` is the same error). */
static Py_ssize_t defaults_offender(const Src *src, Py_ssize_t at, Py_ssize_t *end) {
    const unsigned char *s = src->s;
    Py_ssize_t n = src->n;
    while (at < n && is_blank(s[at])) at++;
    if (at < n && s[at] == '[') { /* type parameters */
        at = group_end(src, at);
        if (at < 0) return -1;
        while (at < n && is_blank(s[at])) at++;
    }
    if (at >= n || s[at] != '(') return -1;
    Py_ssize_t from = ++at;
    int seen_default = 0, has_default = 0, separator = 0;
    Py_ssize_t param = -1;
    while (at < n) {
        unsigned char c = s[at];
        if (c == '\n' && statement_follows(src, at)) return -1;
        if (is_blank(c) || c == '\r' || c == '\n' || c == '\\') {
            at++;
            continue;
        }
        if (c == '#') {
            at = line_end(src, at);
            continue;
        }
        if (c == ',' || c == ')') {
            if (param >= 0 && !separator) {
                if (has_default) {
                    seen_default = 1;
                } else if (seen_default) {
                    Py_ssize_t e = param;
                    while (e < n && is_word(s[e])) e++;
                    *end = e;
                    return param;
                }
            }
            if (c == ')') return -1;
            param = -1;
            has_default = separator = 0;
            at++;
            continue;
        }
        if (param < 0) {
            if (c == '*') return -1; /* `*args`, `**kwargs` or a bare `*` */
            param = at;
            separator = c == '/';
        }
        if (c == '\'' || c == '"') {
            at = string_end(src, prefix_start(src, from, at), at, 0);
            if (at < 0) return -1;
            continue;
        }
        if (c == '(' || c == '[' || c == '{') {
            at = group_end(src, at);
            if (at < 0) return -1;
            continue;
        }
        if (c == '=') {
            /* not `==`, `!=`, `<=`, `>=` (in an annotation or a default) */
            if (at + 1 < n && s[at + 1] == '=') {
                at += 2;
                continue;
            }
            unsigned char b = s[at - 1];
            if (b != '!' && b != '<' && b != '>' && b != '=') has_default = 1;
        }
        at++;
    }
    return -1;
}

/* The `def` (or `async def`) that starts the line at `at`, after its indentation: the end of
 * its name, or -1. */
static Py_ssize_t def_name_end(const Src *src, Py_ssize_t at) {
    const unsigned char *s = src->s;
    Py_ssize_t n = src->n;
    while (at < n && is_blank(s[at])) at++;
    if (word_at(s, n, at, "async", 5)) {
        Py_ssize_t i = at + 5;
        while (i < n && is_blank(s[i])) i++;
        if (i == at + 5) return -1;
        at = i;
    }
    if (!word_at(s, n, at, "def", 3)) return -1;
    Py_ssize_t i = at + 3;
    while (i < n && is_blank(s[i])) i++;
    if (i == at + 3) return -1;
    Py_ssize_t name = i;
    while (i < n && is_word(s[i])) i++;
    return i > name ? i : -1;
}

static PyObject *default_order(PyObject *self, PyObject *args) {
    PyObject *bytes;
    Py_ssize_t begin, stop;
    if (!PyArg_ParseTuple(args, "Snn", &bytes, &begin, &stop)) return NULL;
    Src src = {(const unsigned char *)PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes)};
    if (begin < 0) begin = 0;
    if (stop > src.n) stop = src.n;
    PyObject *found = PyList_New(0);
    if (found == NULL) return NULL;
    Py_ssize_t at = begin;
    while (at < stop) {
        Py_ssize_t name_end = def_name_end(&src, at);
        if (name_end >= 0) {
            Py_ssize_t end, start = defaults_offender(&src, name_end, &end);
            if (start >= 0) {
                PyObject *item = Py_BuildValue("(nn)", start, end);
                if (item == NULL || PyList_Append(found, item) < 0) {
                    Py_XDECREF(item);
                    Py_DECREF(found);
                    return NULL;
                }
                Py_DECREF(item);
            }
        }
        const unsigned char *eol = memchr(src.s + at, '\n', (size_t)(stop - at));
        if (eol == NULL) break;
        at = eol - src.s + 1;
    }
    return found;
}
