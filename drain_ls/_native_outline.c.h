/* member_outline: the walk of drain_ls.analysis.docstrings.statement_findings (D101-D107),
 * on the bytes instead of the tree. Included by _native.c (its helpers: logical_line,
 * string_end, skip_blank_lines, measure).
 *
 * statement_findings walks the tree-sitter tree of a module statement by statement, through
 * class bodies and compound statements, never into a function. This walks the same members
 * in the logical lines of a source that parsed without an error: a line's indentation says
 * which block it is in (the block the nearest less indented line before it opened), its
 * first word what it is. For each public definition it answers whether it lacks a docstring,
 * or asks the tree (a first statement made of strings with a comment inside their brackets,
 * or a \N or \U escape, whose decoding could fail); it gives up (None) on what it does not
 * read the way the tree does: a name that is not ASCII (Python normalises names, NFKC), a
 * `lambda` before a definition's colon, a line that starts with a backslash or whose
 * indentation has spaces before a tab (tree-sitter reads both otherwise than Python), a line
 * more indented than one that opens no block, a string or a bracket left open.
 * tests/test_native_outline.py holds its answers to statement_findings' on the standard
 * library with its tests and on generated modules. */

enum { IN_MODULE, IN_CLASS, IN_FUNCTION, IN_NOTHING }; /* what the lines of a block are */
enum { DOC_NO, DOC_YES, DOC_ASK };

typedef struct {
    long col;         /* the indentation of the line that opened the block */
    int inside;       /* IN_*: what the lines of the block are members of */
    int private_;     /* IN_CLASS: whether the class is private */
    PyObject *prefix; /* the qualified name of its members starts with it (a reference) */
} Block;

typedef struct {
    Block *items;
    Py_ssize_t len, cap;
} Blocks;

static void blocks_pop(Blocks *b) {
    b->len--;
    Py_XDECREF(b->items[b->len].prefix);
}

static void blocks_free(Blocks *b) {
    while (b->len) blocks_pop(b);
    PyMem_Free(b->items);
}

/* Push a block (steals `prefix`); 0 on failure (no memory). */
static int blocks_push(Blocks *b, long col, int inside, int private_, PyObject *prefix) {
    if (b->len == b->cap) {
        Py_ssize_t cap = b->cap ? 2 * b->cap : 16;
        Block *items = PyMem_Realloc(b->items, (size_t)cap * sizeof(Block));
        if (items == NULL) {
            Py_XDECREF(prefix);
            PyErr_NoMemory();
            return 0;
        }
        b->items = items;
        b->cap = cap;
    }
    b->items[b->len++] = (Block){col, inside, private_, prefix};
    return 1;
}

static inline int is_name_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* The end of the word at `at` (ASCII letters, digits, underscores); *wide when a byte of
 * 0x80 or more follows it, as part of the same name. */
static Py_ssize_t word_end(const Src *src, Py_ssize_t at, int *wide) {
    while (at < src->n && is_name_byte(src->s[at])) at++;
    *wide = at < src->n && src->s[at] >= 0x80;
    return at;
}

static inline int word_is(const Src *src, Py_ssize_t start, Py_ssize_t end, const char *w) {
    size_t len = strlen(w);
    return (size_t)(end - start) == len && memcmp(src->s + start, w, len) == 0;
}

/* Past blanks and backslash-joined line breaks, and inside brackets line breaks and comments
 * too (a comment there sets *comment). */
static Py_ssize_t skip_gap(const Src *src, Py_ssize_t at, Py_ssize_t to, int bracketed,
                           int *comment) {
    const unsigned char *s = src->s;
    while (at < to) {
        unsigned char c = s[at];
        if (is_blank(c)) {
            at++;
        } else if (c == '\\' && at + 1 < to && (s[at + 1] == '\n' || s[at + 1] == '\r')) {
            at += (s[at + 1] == '\r' && at + 2 < to && s[at + 2] == '\n') ? 3 : 2;
        } else if (bracketed && (c == '\r' || c == '\n')) {
            at++;
        } else if (bracketed && c == '#') {
            *comment = 1;
            at = line_end(src, at);
        } else {
            break;
        }
    }
    return at;
}

/* Whether the string at `at` (its prefix included) starts there: 0 to 3 prefix letters and
 * a quote; sets *quote to the quote's offset. */
static int string_at(const Src *src, Py_ssize_t at, Py_ssize_t to, Py_ssize_t *quote) {
    Py_ssize_t j = at;
    while (j < to && j - at < 3 && is_prefix_char(src->s[j])) j++;
    if (j < to && (src->s[j] == '\'' || src->s[j] == '"')) {
        *quote = j;
        return 1;
    }
    return 0;
}

/* has_docstring's answer for the statement in [from, to) (a logical line without its
 * comment, or what follows a definition's colon): a string or an implicit concatenation of
 * strings, in any number of parentheses, then nothing, a ';', or a ',' and nothing. */
static int docstring_state(const Src *src, Py_ssize_t from, Py_ssize_t to) {
    const unsigned char *s = src->s;
    int parens = 0, comment = 0, plain = 1, ask = 0, strings = 0;
    Py_ssize_t i = skip_gap(src, from, to, 0, &comment);
    while (i < to && s[i] == '(') {
        parens++;
        i = skip_gap(src, i + 1, to, 1, &comment);
    }
    Py_ssize_t quote;
    while (i < to && string_at(src, i, to, &quote)) {
        int raw = 0;
        for (Py_ssize_t k = i; k < quote; k++) {
            unsigned char c = s[k] | 0x20;
            if (c == 'f' || c == 't' || c == 'b') plain = 0;
            if (c == 'r') raw = 1;
        }
        Py_ssize_t end = string_end(src, i, quote, 0);
        if (end < 0 || end > to) return DOC_ASK;
        if (!raw)
            for (Py_ssize_t k = quote; k + 1 < end; k++)
                if (s[k] == '\\') {
                    if (s[k + 1] == 'N' || s[k + 1] == 'U') ask = 1;
                    k++;
                }
        strings++;
        i = skip_gap(src, end, to, parens > 0, &comment);
    }
    if (!strings) return DOC_NO;
    while (parens > 0) {
        if (i >= to || s[i] != ')') return DOC_NO;
        parens--;
        i = skip_gap(src, i + 1, to, parens > 0, &comment);
    }
    if (i < to && s[i] == ',') i = skip_gap(src, i + 1, to, 0, &comment);
    if (i < to && s[i] != ';') return DOC_NO;
    if (!plain) return DOC_NO;
    return (ask || comment) ? DOC_ASK : DOC_YES;
}

/* The colon that ends the header of the definition whose name ends at `at`, -1 when there is
 * none before `to`, -2 for a `lambda` outside brackets before it (the tree is asked). */
static Py_ssize_t header_colon(const Src *src, Py_ssize_t at, Py_ssize_t to) {
    const unsigned char *s = src->s;
    int depth = 0;
    while (at < to) {
        unsigned char c = s[at];
        Py_ssize_t quote;
        if (is_name_byte(c) || c >= 0x80) {
            if (string_at(src, at, to, &quote) && (quote == at || is_prefix_char(s[at]))) {
                Py_ssize_t end = string_end(src, at, quote, 0);
                if (end < 0) return -1;
                at = end;
                continue;
            }
            Py_ssize_t start = at;
            while (at < to && (is_name_byte(s[at]) || s[at] >= 0x80)) at++;
            if (depth == 0 && word_is(src, start, at, "lambda")) return -2;
        } else if (c == '\'' || c == '"') {
            Py_ssize_t end = string_end(src, at, at, 0);
            if (end < 0) return -1;
            at = end;
        } else if (c == '#') {
            at = line_end(src, at);
        } else {
            if (c == '(' || c == '[' || c == '{') depth++;
            if ((c == ')' || c == ']' || c == '}') && depth > 0) depth--;
            if (c == ':' && depth == 0) return at;
            at++;
        }
    }
    return -1;
}

/* A decorator's text as _decorator_text makes it: "".join(text.split()). */
static PyObject *decorator_text(const Src *src, Py_ssize_t start, Py_ssize_t end) {
    char *buffer = PyMem_Malloc((size_t)(end - start) + 1);
    if (buffer == NULL) return PyErr_NoMemory();
    Py_ssize_t len = 0;
    int wide = 0;
    for (Py_ssize_t k = start; k < end; k++) {
        unsigned char c = src->s[k];
        wide |= c >= 0x80;
        if (c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f)) continue;
        buffer[len++] = (char)c;
    }
    PyObject *text = NULL;
    if (!wide) {
        text = PyUnicode_FromStringAndSize(buffer, len);
    } else { /* str.split() leaves out more whitespace than ASCII's: let it */
        PyObject *whole = PyUnicode_DecodeUTF8((const char *)src->s + start, end - start,
                                               "replace");
        PyObject *parts = whole ? PyUnicode_Split(whole, NULL, -1) : NULL;
        PyObject *none = parts ? PyUnicode_FromString("") : NULL;
        text = none ? PyUnicode_Join(none, parts) : NULL;
        Py_XDECREF(none);
        Py_XDECREF(parts);
        Py_XDECREF(whole);
    }
    PyMem_Free(buffer);
    return text;
}

typedef struct {
    PyObject *exported;  /* frozenset or None */
    PyObject *overloads; /* frozenset */
    PyObject *modules;   /* frozenset */
} Context;

/* 1 when a set holds the string, 0 when not, -1 on an error. */
static int holds(PyObject *set, const char *text, Py_ssize_t len) {
    PyObject *key = PyUnicode_FromStringAndSize(text, len);
    if (key == NULL) return -1;
    int found = PySet_Contains(set, key);
    Py_DECREF(key);
    return found;
}

/* _exempt and _is_property_mutator of a function whose decorators are the logical lines
 * [starts[k] + 1, ends[k]): bit 1 exempt, bit 2 a property's setter or deleter; -1 on an
 * error. */
static int decorator_flags(const Src *src, const Py_ssize_t *starts, const Py_ssize_t *ends,
                           Py_ssize_t count, const Context *ctx, int method, PyObject *name) {
    int flags = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *text = decorator_text(src, starts[k] + 1, ends[k]);
        if (text == NULL) return -1;
        Py_ssize_t len, nlen;
        const char *t = PyUnicode_AsUTF8AndSize(text, &len);
        const char *n = PyUnicode_AsUTF8AndSize(name, &nlen);
        if (t == NULL || n == NULL) {
            Py_DECREF(text);
            return -1;
        }
        const char *dot = NULL; /* text.rpartition(".") */
        for (const char *c = t + len; c > t; c--)
            if (c[-1] == '.') {
                dot = c - 1;
                break;
            }
        int found = 0;
        if (dot != NULL) { /* _is_property_mutator: name.setter, name.deleter */
            const char *attribute = dot + 1;
            size_t alen = (size_t)(t + len - attribute);
            if (dot - t == nlen && memcmp(t, n, (size_t)nlen) == 0 &&
                ((alen == 6 && memcmp(attribute, "setter", 6) == 0) ||
                 (alen == 7 && memcmp(attribute, "deleter", 7) == 0)))
                flags |= 2;
        }
        if (dot != NULL && dot > t) { /* a module's attribute: typing.overload */
            const char *attribute = dot + 1;
            size_t alen = (size_t)(t + len - attribute);
            int overload = alen == 8 && memcmp(attribute, "overload", 8) == 0;
            int override = alen == 8 && memcmp(attribute, "override", 8) == 0;
            if (overload || (method && override)) found = holds(ctx->modules, t, dot - t);
        } else {
            found = PySet_Contains(ctx->overloads, text);
            if (found == 0 && method) {
                PyObject *key = PyUnicode_FromFormat("method:%U", text);
                found = key == NULL ? -1 : PySet_Contains(ctx->overloads, key);
                Py_XDECREF(key);
            }
        }
        Py_DECREF(text);
        if (found < 0) return -1;
        if (found) flags |= 1;
    }
    return flags;
}

/* The column tree-sitter-python's scanner gives an indentation: a tab counts 8 wherever it
 * is (CPython moves to the next multiple of 8), a form feed starts again. Where the two
 * differ (spaces before a tab), the tree's blocks are not Python's. */
static long scanner_column(const Src *src, Py_ssize_t from, Py_ssize_t to) {
    long column = 0;
    for (Py_ssize_t i = from; i < to; i++) {
        unsigned char c = src->s[i];
        column = c == '\t' ? column + 8 : c == ' ' ? column + 1 : 0;
    }
    return column;
}

static int is_dunder(const char *name, Py_ssize_t len) {
    return len >= 2 && name[0] == '_' && name[1] == '_' && name[len - 2] == '_' &&
           name[len - 1] == '_';
}

static PyObject *member_outline(PyObject *self, PyObject *args) {
    PyObject *bytes;
    Context ctx;
    if (!PyArg_ParseTuple(args, "SOO!O!", &bytes, &ctx.exported, &PyFrozenSet_Type,
                          &ctx.overloads, &PyFrozenSet_Type, &ctx.modules))
        return NULL;
    if (ctx.exported != Py_None && !PyAnySet_Check(ctx.exported)) {
        PyErr_SetString(PyExc_TypeError, "member_outline: exported must be a set or None");
        return NULL;
    }
    Src src = {(const unsigned char *)PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes)};
    const unsigned char *s = src.s;
    Py_ssize_t n = src.n;
    PyObject *found = PyList_New(0);
    if (found == NULL) return NULL;
    Blocks blocks = {NULL, 0, 0};
    Py_ssize_t *dec_starts = NULL, *dec_ends = NULL, decorators = 0, dec_cap = 0;
    PyObject *empty = PyUnicode_FromString("");
    if (empty == NULL || !blocks_push(&blocks, -1, IN_MODULE, 0, empty)) goto fail;
    long dec_col = -1;
    Py_ssize_t at = (n >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf) ? 3 : 0;
    at = skip_blank_lines(&src, at);
    while (at < n) {
        Py_ssize_t code = next_code(&src, &at, n, 0);
        if (code < 0) break;
        /* A line that a backslash joins to the next one: tree-sitter does not always read
         * it as Python does. */
        if (s[code] == '\\') goto give_up;
        Py_ssize_t last, end;
        if (!logical_line(&src, code, &last, &end)) goto give_up;
        long col, alt;
        measure(&src, at, code, &col, &alt);
        if (col != scanner_column(&src, at, code)) goto give_up;
        while (blocks.len > 1 && blocks.items[blocks.len - 1].col >= col) blocks_pop(&blocks);
        /* (copied: a push may move the array) */
        const Block owner_block = blocks.items[blocks.len - 1];
        const Block *owner = &owner_block;
        if (owner->inside == IN_NOTHING) goto give_up;
        at = skip_blank_lines(&src, end);
        if (s[code] == '@') {
            if (dec_col != col) decorators = 0;
            if (decorators == dec_cap) {
                dec_cap = dec_cap ? 2 * dec_cap : 8;
                Py_ssize_t *starts = PyMem_Realloc(dec_starts, (size_t)dec_cap * sizeof(Py_ssize_t));
                if (starts == NULL) goto no_memory;
                dec_starts = starts;
                Py_ssize_t *ends = PyMem_Realloc(dec_ends, (size_t)dec_cap * sizeof(Py_ssize_t));
                if (ends == NULL) goto no_memory;
                dec_ends = ends;
            }
            dec_starts[decorators] = code;
            dec_ends[decorators++] = last;
            dec_col = col;
            if (!blocks_push(&blocks, col, IN_NOTHING, 0, NULL)) goto fail;
            continue;
        }
        Py_ssize_t ndecorators = dec_col == col ? decorators : 0;
        decorators = 0;
        dec_col = -1;
        int wide;
        Py_ssize_t word = word_end(&src, code, &wide);
        Py_ssize_t keyword = code;
        if (!wide && word_is(&src, code, word, "async")) {
            keyword = past_joins(&src, word);
            word = word_end(&src, keyword, &wide);
        }
        int is_class = !wide && word_is(&src, keyword, word, "class");
        if (wide || !(is_class || word_is(&src, keyword, word, "def"))) {
            /* A compound statement's lines are members of what holds it; a simple
             * statement opens no block. */
            int compound = !wide && compound_at(&src, code);
            PyObject *prefix = compound ? owner->prefix : NULL;
            Py_XINCREF(prefix);
            if (!blocks_push(&blocks, col, compound ? owner->inside : IN_NOTHING,
                             owner->private_, prefix))
                goto fail;
            continue;
        }
        /* A definition. */
        Py_ssize_t name_start = past_joins(&src, word);
        Py_ssize_t name_end = word_end(&src, name_start, &wide);
        if (wide || name_end == name_start) goto give_up;
        int inside_owner = owner->inside, owner_private = owner->private_;
        if (inside_owner == IN_FUNCTION) { /* never visited: its members are private */
            if (!blocks_push(&blocks, col, IN_FUNCTION, 0, NULL)) goto fail;
            continue;
        }
        Py_ssize_t colon = header_colon(&src, name_end, last);
        if (colon < 0) goto give_up;
        const char *nm = (const char *)s + name_start;
        Py_ssize_t nlen = name_end - name_start;
        PyObject *name = PyUnicode_FromStringAndSize(nm, nlen);
        if (name == NULL) goto fail;
        PyObject *qualname = PyUnicode_Concat(owner->prefix, name);
        if (qualname == NULL) {
            Py_DECREF(name);
            goto fail;
        }
        int method = inside_owner == IN_CLASS;
        int private_, code_number;
        int underscore = nm[0] == '_';
        int listed = 1;
        if (!method && !underscore && ctx.exported != Py_None) {
            listed = PySet_Contains(ctx.exported, name);
            if (listed < 0) goto fail_names;
        }
        if (is_class) {
            private_ = method ? (owner_private || underscore) : (underscore || !listed);
            code_number = method ? 106 : 101;
            PyObject *prefix = PyUnicode_FromFormat("%U.", qualname);
            if (prefix == NULL || !blocks_push(&blocks, col, IN_CLASS, private_, prefix))
                goto fail_names;
        } else {
            if (!blocks_push(&blocks, col, IN_FUNCTION, 0, NULL)) goto fail_names;
            int flags = 0;
            if (ndecorators) {
                flags = decorator_flags(&src, dec_starts, dec_ends, ndecorators, &ctx, method,
                                        name);
                if (flags < 0) goto fail_names;
            }
            if (flags & 1) { /* @overload, or @override on a method */
                Py_DECREF(name);
                Py_DECREF(qualname);
                continue;
            }
            if (method) {
                private_ = owner_private || (flags & 2) || (underscore && !is_dunder(nm, nlen));
                if (nlen == 8 && memcmp(nm, "__init__", 8) == 0)
                    code_number = 107;
                else if (is_dunder(nm, nlen) && !(nlen == 8 && memcmp(nm, "__call__", 8) == 0) &&
                         !(nlen == 7 && memcmp(nm, "__new__", 7) == 0))
                    code_number = 105;
                else
                    code_number = 102;
            } else {
                private_ = underscore || !listed;
                code_number = 103;
            }
        }
        Py_DECREF(name);
        if (private_) {
            Py_DECREF(qualname);
            continue;
        }
        /* The body's first statement: after the colon, or the next line, more indented. */
        int state;
        Py_ssize_t inline_at = colon + 1;
        while (inline_at < last && is_blank(s[inline_at])) inline_at++;
        if (inline_at < last) {
            state = docstring_state(&src, inline_at, last);
        } else {
            Py_ssize_t body = at;
            while (body < n && is_blank(s[body])) body++;
            long body_col, body_alt;
            measure(&src, at, body, &body_col, &body_alt);
            Py_ssize_t body_last, body_end;
            if (body >= n || body_col <= col || !logical_line(&src, body, &body_last, &body_end)) {
                Py_DECREF(qualname);
                goto give_up;
            }
            state = docstring_state(&src, body, body_last);
        }
        if (state != DOC_YES) {
            PyObject *item =
                Py_BuildValue("(innNNN)", code_number, name_start, name_end, qualname,
                              PyBool_FromLong(method), PyBool_FromLong(state == DOC_ASK));
            if (item == NULL || PyList_Append(found, item) < 0) {
                Py_XDECREF(item);
                goto fail;
            }
            Py_DECREF(item);
        } else {
            Py_DECREF(qualname);
        }
        continue;
    fail_names:
        Py_DECREF(name);
        Py_DECREF(qualname);
        goto fail;
    }
    blocks_free(&blocks);
    PyMem_Free(dec_starts);
    PyMem_Free(dec_ends);
    return found;
give_up:
    blocks_free(&blocks);
    PyMem_Free(dec_starts);
    PyMem_Free(dec_ends);
    Py_DECREF(found);
    Py_RETURN_NONE;
no_memory:
    PyErr_NoMemory();
fail:
    blocks_free(&blocks);
    PyMem_Free(dec_starts);
    PyMem_Free(dec_ends);
    Py_DECREF(found);
    return NULL;
}
