/* drain_ls._native: the byte scans of drain-ls's syntax checks, the walk of the D1xx checks
 * over a module's definitions (_native_outline.c.h) and the scan of the tokens that the tree
 * must check (argument and parameter lists, literals: _native_tokens.c.h), in C.
 *
 * Optional: every scan here is also written in Python (drain_ls.analysis.indentation,
 * legacy_candidates and source), which runs when this module was not built (no C compiler
 * when drain-ls was installed). Both must give the same answer for every input:
 * tests/test_native.py compares them on the standard library, on generated inputs and on
 * real files spliced at random. (token_sites has no Python twin: without it a query of the
 * tree gives every list and literal, and tests/test_token_scan.py holds both to the same
 * errors.)
 *
 * Every read is bounds-checked against the length of the bytes object: the source is an
 * untrusted file from the user's workspace. Recursion (f-strings in f-strings) is bounded by
 * MAX_FSTRING_NESTING, as CPython bounds it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define TAB_SIZE 8
#define MAX_INDENT 100          /* CPython's MAXINDENT */
#define MAX_FSTRING_NESTING 150 /* CPython's MAXFSTRINGLEVEL */

/* What indentation_scan reports (drain_ls.analysis.indentation builds the messages). */
enum {
    EV_STOP = 0,       /* a string or a bracket left open: the check stops there */
    EV_TAB = 1,        /* TabError */
    EV_UNINDENT = 2,   /* unindent does not match any outer indentation level */
    EV_UNEXPECTED = 3, /* unexpected indent */
    EV_EXPECTED = 4,   /* expected an indented block */
    EV_INVALID = 5,    /* a line ending in ':' that no compound statement begins */
    EV_TOO_DEEP = 6,   /* too many levels of indentation */
};

typedef struct {
    const unsigned char *s;
    Py_ssize_t n;
} Src;

static inline int is_word(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c >= 0x80;
}

/* bytes.strip()'s whitespace */
static inline int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x0b || c == 0x0c;
}

static inline int is_blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\f'; }

static inline int is_prefix_char(unsigned char c) {
    switch (c) {
    case 'r': case 'R': case 'b': case 'B': case 'u': case 'U':
    case 'f': case 'F': case 't': case 'T':
        return 1;
    default:
        return 0;
    }
}

/* Where the token that a quote at p ends begins: the string prefix before it (1 to 3 prefix
 * letters that are a word of their own), or p. Only positions from `from` on are tried, as
 * a regular-expression search from there would. */
static Py_ssize_t prefix_start(const Src *src, Py_ssize_t from, Py_ssize_t p) {
    const unsigned char *s = src->s;
    Py_ssize_t q = p - 3 > from ? p - 3 : from;
    for (; q < p; q++) {
        Py_ssize_t i = q;
        while (i < p && is_prefix_char(s[i])) i++;
        if (i == p && (q == 0 || !is_word(s[q - 1]))) return q;
    }
    return p;
}

static Py_ssize_t string_end(const Src *src, Py_ssize_t prefix, Py_ssize_t at, int depth);
static Py_ssize_t line_end(const Src *src, Py_ssize_t at);

/* The end of a plain (not f-) string whose quote is at `at`, or -1. A triple quote that is
 * never closed reads as an empty string, as the Python rule's pattern reads it. */
static Py_ssize_t plain_string_end(const Src *src, Py_ssize_t at) {
    const unsigned char *s = src->s;
    Py_ssize_t n = src->n;
    unsigned char q = s[at];
    Py_ssize_t i;
    if (at + 2 < n && s[at + 1] == q && s[at + 2] == q) {
        i = at + 3;
        for (;;) {
            while (i < n && s[i] != q && s[i] != '\\') i++;
            if (i >= n) break;
            if (s[i] == '\\') {
                if (i + 1 >= n) break;
                i += 2;
                continue;
            }
            if (i + 2 < n && s[i + 1] == q && s[i + 2] == q) return i + 3;
            i++;
        }
    }
    i = at + 1;
    for (;;) {
        while (i < n && s[i] != q && s[i] != '\\' && s[i] != '\r' && s[i] != '\n') i++;
        if (i >= n) return -1;
        if (s[i] == q) return i + 1;
        if (s[i] != '\\') return -1; /* a line break */
        if (i + 1 >= n) return -1;
        if (s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n')
            i += 3;
        else
            i += 2;
    }
}

static inline int starts_with_quote(const Src *src, Py_ssize_t i, unsigned char q, int qlen) {
    if (i + qlen > src->n) return 0;
    for (int k = 0; k < qlen; k++)
        if (src->s[i + k] != q) return 0;
    return 1;
}

/* The first byte at or after `at` that stops an f-string's literal part. */
static Py_ssize_t fstring_stop(const Src *src, Py_ssize_t at, unsigned char q, int qlen) {
    const unsigned char *s = src->s;
    for (Py_ssize_t i = at; i < src->n; i++) {
        unsigned char c = s[i];
        if (c == '\\' || c == '{' || c == '}' || c == q) return i;
        if (qlen == 1 && (c == '\r' || c == '\n')) return i;
    }
    return -1;
}

static Py_ssize_t field_end(const Src *src, Py_ssize_t at, unsigned char q, int qlen, int depth);

static Py_ssize_t fstring_end(const Src *src, Py_ssize_t at, unsigned char q, int qlen, int raw,
                              int depth) {
    const unsigned char *s = src->s;
    Py_ssize_t n = src->n;
    for (;;) {
        Py_ssize_t i = fstring_stop(src, at, q, qlen);
        if (i < 0) return -1;
        unsigned char c = s[i];
        if (c == '\\') {
            int after = i + 1 < n ? s[i + 1] : -1;
            if (!raw && after == 'N' && i + 2 < n && s[i + 2] == '{') {
                const unsigned char *close = memchr(s + i, '}', (size_t)(n - i));
                at = close == NULL ? i + 2 : close - s + 1;
            } else {
                at = (after == '{' || after == '}') ? i + 1 : i + 2;
            }
        } else if (c == '{') {
            if (i + 1 < n && s[i + 1] == '{') {
                at = i + 2;
                continue;
            }
            at = field_end(src, i + 1, q, qlen, depth);
            if (at < 0) return -1;
        } else if (c == '}') {
            at = i + 1;
        } else if (c == '\r' || c == '\n') {
            return -1;
        } else if (starts_with_quote(src, i, q, qlen)) {
            return i + qlen;
        } else {
            at = i + 1;
        }
    }
}

static Py_ssize_t spec_end(const Src *src, Py_ssize_t at, unsigned char q, int qlen, int depth) {
    const unsigned char *s = src->s;
    for (;;) {
        Py_ssize_t i = fstring_stop(src, at, q, qlen);
        if (i < 0) return -1;
        unsigned char c = s[i];
        if (c == '\\') {
            at = i + 2;
        } else if (c == '{') {
            if (depth >= MAX_FSTRING_NESTING) return -1;
            at = field_end(src, i + 1, q, qlen, depth + 1);
            if (at < 0) return -1;
        } else if (c == '}') {
            return i + 1;
        } else if (c == '\r' || c == '\n' || starts_with_quote(src, i, q, qlen)) {
            return -1;
        } else {
            at = i + 1;
        }
    }
}

/* The end of a replacement field whose expression starts at `at`, or -1. */
static Py_ssize_t field_end(const Src *src, Py_ssize_t at, unsigned char q, int qlen, int depth) {
    const unsigned char *s = src->s;
    Py_ssize_t n = src->n;
    int brackets = 0;
    for (;;) {
        Py_ssize_t i = at;
        for (; i < n; i++) {
            unsigned char c = s[i];
            if (c == '\'' || c == '"' || c == '#' || c == '(' || c == ')' || c == '[' ||
                c == ']' || c == '{' || c == '}' || c == ':' || c == '!' || c == '\\')
                break;
        }
        if (i >= n) return -1;
        unsigned char c = s[i];
        if (c == '\'' || c == '"') {
            at = string_end(src, prefix_start(src, at, i), i, depth);
            if (at < 0) return -1;
            continue;
        }
        at = i + 1;
        if (c == '#') {
            at = line_end(src, i);
        } else if (c == '(' || c == '[' || c == '{') {
            brackets++;
        } else if (c == ')' || c == ']') {
            if (brackets > 0) brackets--;
        } else if (c == '}') {
            if (brackets == 0) return i + 1;
            brackets--;
        } else if (c == ':' && brackets == 0) {
            return spec_end(src, i + 1, q, qlen, depth);
        } else if (c == '\\') {
            at = i + 2;
        }
    }
}

/* The end of the string whose quote is at `at`, its prefix starting at `prefix` (== at: no
 * prefix), or -1 when unterminated (or nested in `depth` f-strings already). */
static Py_ssize_t string_end(const Src *src, Py_ssize_t prefix, Py_ssize_t at, int depth) {
    const unsigned char *s = src->s;
    int f = 0, raw = 0;
    for (Py_ssize_t i = prefix; i < at; i++) {
        unsigned char c = s[i] | 0x20;
        if (c == 'f' || c == 't') f = 1;
        if (c == 'r') raw = 1;
    }
    if (!f) return plain_string_end(src, at);
    if (depth >= MAX_FSTRING_NESTING) return -1;
    unsigned char q = s[at];
    int qlen = (at + 2 < src->n && s[at + 1] == q && s[at + 2] == q) ? 3 : 1;
    return fstring_end(src, at + qlen, q, qlen, raw, depth + 1);
}

/* The bytes that end a stretch of plain code in a logical line. */
static unsigned char LINE_TOKEN[256];

/* One logical line whose code starts at `code`: sets *last (the end of its last significant
 * byte) and *end (the end of the line, its line break included); 0 when a string or a
 * bracket stays open to the end of the source. */
static int logical_line(const Src *src, Py_ssize_t code, Py_ssize_t *last_out,
                        Py_ssize_t *end_out) {
    const unsigned char *s = src->s;
    Py_ssize_t n = src->n;
    int depth = 0;
    Py_ssize_t at = code, last = code;
    for (;;) {
        Py_ssize_t i = at;
        while (i < n && !LINE_TOKEN[s[i]]) i++;
        Py_ssize_t pos = i;
        int quote = i < n && (s[i] == '\'' || s[i] == '"');
        if (quote) pos = prefix_start(src, at, i);
        /* the last non-blank byte of the code before the token */
        for (Py_ssize_t k = pos; k > at; k--)
            if (!is_space(s[k - 1])) {
                last = k;
                break;
            }
        if (i >= n) {
            if (depth) return 0;
            *last_out = last;
            *end_out = n;
            return 1;
        }
        if (quote) {
            Py_ssize_t end = string_end(src, pos, i, 0);
            if (end < 0) return 0;
            at = last = end;
            continue;
        }
        unsigned char c = s[i];
        at = i + 1;
        if (c == '#') {
            at = line_end(src, i);
        } else if (c == '(' || c == '[' || c == '{') {
            depth++;
            last = at;
        } else if (c == ')' || c == ']' || c == '}') {
            if (depth > 0) depth--;
            last = at;
        } else if (c == '\\') {
            if (at + 1 < n && s[at] == '\r' && s[at + 1] == '\n')
                at += 2;
            else if (at < n && (s[at] == '\r' || s[at] == '\n'))
                at += 1;
            else
                last = at;
        } else if (depth == 0) { /* a line break ends the logical line */
            if (c == '\r' && at < n && s[at] == '\n') at += 1;
            *last_out = last;
            *end_out = at;
            return 1;
        }
    }
}

/* [ \t\f]*+(?:#[^\r\n]*+)? at `at`, then (?=\r?\n): where the blanks and the comment end,
 * or -1 when no line break follows them. */
static Py_ssize_t rest_of_line(const unsigned char *s, Py_ssize_t n, Py_ssize_t at) {
    while (at < n && is_blank(s[at])) at++;
    if (at < n && s[at] == '#')
        while (at < n && s[at] != '\r' && s[at] != '\n') at++;
    Py_ssize_t k = at < n && s[at] == '\r' ? at + 1 : at;
    return k < n && s[k] == '\n' ? at : -1;
}

static Py_ssize_t past_joins(const Src *src, Py_ssize_t at);

/* The start of the first line at or after `at` that is not blank or a comment; with `joins`,
 * as CPython's tokenizer reads a line's indentation: blanks and backslash-joined line breaks
 * (`  \\` then an empty line is one blank line). */
static Py_ssize_t skip_lines(const Src *src, Py_ssize_t at, int joins) {
    if (at > src->n) at = src->n;
    for (;;) {
        Py_ssize_t rest = rest_of_line(src->s, src->n, joins ? past_joins(src, at) : at);
        if (rest < 0) return at;
        at = rest + (src->s[rest] == '\r' ? 2 : 1);
    }
}

static Py_ssize_t skip_blank_lines(const Src *src, Py_ssize_t at) { return skip_lines(src, at, 0); }

static Py_ssize_t line_end(const Src *src, Py_ssize_t at) {
    for (Py_ssize_t i = at; i < src->n; i++)
        if (src->s[i] == '\r' || src->s[i] == '\n') return i;
    return src->n;
}

/* The first byte of code at or after the line starting at *at, blank and comment lines
 * skipped (*at moved to the start of its line), while *at is before `limit`; -1 when there
 * is none. With `joins`, the indentation goes on past backslash-joined line breaks, as
 * CPython reads it (`skip_lines`). */
static Py_ssize_t next_code(const Src *src, Py_ssize_t *at, Py_ssize_t limit, int joins) {
    while (*at < limit) {
        Py_ssize_t code = *at;
        if (joins)
            code = past_joins(src, code);
        else
            while (code < src->n && is_blank(src->s[code])) code++;
        if (code >= src->n) return -1;
        unsigned char c = src->s[code];
        if (c != '\r' && c != '\n' && c != '#') return code;
        *at = skip_lines(src, line_end(src, code) + 1, joins);
    }
    return -1;
}

/* Past blanks and backslash-joined line breaks. */
static Py_ssize_t past_joins(const Src *src, Py_ssize_t at) {
    const unsigned char *s = src->s;
    Py_ssize_t n = src->n;
    while (at < n) {
        if (is_blank(s[at]))
            at++;
        else if (s[at] == '\\' && at + 2 < n && s[at + 1] == '\r' && s[at + 2] == '\n')
            at += 3;
        else if (s[at] == '\\' && at + 1 < n && (s[at + 1] == '\n' || s[at + 1] == '\r'))
            at += 2;
        else
            break;
    }
    return at;
}

static const char *const COMPOUND[] = {"if", "elif", "else", "for", "while", "try", "except",
                                       "finally", "with", "def", "class", "async", "match",
                                       "case", NULL};

/* Whether a compound statement's keyword (a word of its own) starts at `at`. */
static int compound_at(const Src *src, Py_ssize_t at) {
    for (int k = 0; COMPOUND[k]; k++) {
        Py_ssize_t len = (Py_ssize_t)strlen(COMPOUND[k]);
        if (at + len <= src->n && memcmp(src->s + at, COMPOUND[k], (size_t)len) == 0 &&
            (at + len == src->n || !is_word(src->s[at + len])))
            return 1;
    }
    return 0;
}

/* CPython's (col, altcol) of an indentation (Parser/lexer/lexer.c, tok_get_normal_mode).
 * One split by backslash-joined line breaks counts as far as its first backslash that is not
 * at column 0, for both (the lexer's `cont_line_col`, 0 meaning none); without such a
 * backslash, all of it counts. */
static void measure(const Src *src, Py_ssize_t from, Py_ssize_t to, long *col, long *alt) {
    long c = 0, a = 0, cont = 0;
    for (Py_ssize_t i = from; i < to; i++) {
        unsigned char ch = src->s[i];
        if (ch == ' ') {
            c++;
            a++;
        } else if (ch == '\t') {
            c = (c / TAB_SIZE + 1) * TAB_SIZE;
            a++;
        } else if (ch == '\f') {
            c = a = 0;
        } else if (ch == '\\') {
            if (!cont) cont = c;
        } /* else the line break after a backslash */
    }
    *col = cont ? cont : c;
    *alt = cont ? cont : a;
}

static PyObject *event(int kind, Py_ssize_t start, Py_ssize_t end, Py_ssize_t header) {
    return Py_BuildValue("(innn)", kind, start, end, header);
}

static PyObject *indentation_scan(PyObject *self, PyObject *args) {
    PyObject *bytes;
    Py_ssize_t start, stop;
    if (!PyArg_ParseTuple(args, "Snn", &bytes, &start, &stop)) return NULL;
    Src src = {(const unsigned char *)PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes)};
    const unsigned char *s = src.s;
    Py_ssize_t n = src.n;
    if (start < 0) start = 0;
    if (stop > n) stop = n;
    if (start == 0 && n >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf) start = 3;
    Py_ssize_t at = skip_lines(&src, start, 1);
    long cols[MAX_INDENT + 1], alts[MAX_INDENT + 1];
    int depth = 1;
    cols[0] = alts[0] = 0;
    Py_ssize_t header = -1;
    while (at < stop) {
        Py_ssize_t code = next_code(&src, &at, stop, 1);
        if (code < 0) break;
        Py_ssize_t last, end;
        if (!logical_line(&src, code, &last, &end)) return event(EV_STOP, code, code, -1);
        Py_ssize_t next_header = (last > code && s[last - 1] == ':') ? code : -1;
        Py_ssize_t next_at = skip_lines(&src, end, 1);
        long col, alt;
        measure(&src, at, code, &col, &alt);
        long top = cols[depth - 1];
        int pushed = 0;
        if (col == top) {
            if (alt != alts[depth - 1]) return event(EV_TAB, at, code, -1);
        } else if (col > top) {
            if (alt <= alts[depth - 1]) return event(EV_TAB, at, code, -1);
            if (depth >= MAX_INDENT) return event(EV_TOO_DEEP, at, code, -1);
            cols[depth] = col;
            alts[depth] = alt;
            depth++;
            pushed = 1;
        } else {
            while (depth > 1 && col < cols[depth - 1]) depth--;
            if (col != cols[depth - 1]) return event(EV_UNINDENT, at, code, -1);
            if (alt != alts[depth - 1]) return event(EV_TAB, at, code, -1);
        }
        if (header >= 0) {
            if (!pushed) return event(EV_EXPECTED, code, line_end(&src, code), header);
        } else if (pushed) {
            return event(EV_UNEXPECTED, at, code, -1);
        }
        header = next_header < stop ? next_header : -1;
        if (header >= 0 && !compound_at(&src, past_joins(&src, header))) {
            Py_ssize_t hl, he;
            Py_ssize_t where = logical_line(&src, header, &hl, &he) ? hl : header;
            return event(EV_INVALID, where, where, header);
        }
        at = next_at;
    }
    Py_ssize_t code = past_joins(&src, at);
    if (header >= 0 && code < n) {
        long col, alt;
        measure(&src, at, code, &col, &alt);
        if (col > cols[depth - 1]) Py_RETURN_NONE;
        return event(EV_EXPECTED, code, line_end(&src, code), header);
    }
    if (header >= 0) {
        Py_ssize_t hl, he;
        Py_ssize_t where = logical_line(&src, header, &hl, &he) ? hl : n;
        return event(EV_EXPECTED, where, where, header);
    }
    Py_RETURN_NONE;
}

static PyObject *logical_line_py(PyObject *self, PyObject *args) {
    PyObject *bytes;
    Py_ssize_t code;
    if (!PyArg_ParseTuple(args, "Sn", &bytes, &code)) return NULL;
    Src src = {(const unsigned char *)PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes)};
    if (code < 0 || code > src.n) {
        PyErr_SetString(PyExc_ValueError, "logical_line: offset out of range");
        return NULL;
    }
    Py_ssize_t last, end;
    if (!logical_line(&src, code, &last, &end)) Py_RETURN_NONE;
    return Py_BuildValue("(nn)", last, end);
}

/* -- legacy_candidates: where drain_ls.analysis.legacy's rules look ------------------------
 *
 * The same matches as the regular expressions of drain_ls.analysis.legacy_candidates (each
 * rule's pattern, searched in [begin, end) with `end` as the end of the text for look-aheads, as
 * Pattern.finditer(source, begin, end) does), found in one pass: the tree decides each
 * candidate, in Python. */

enum {
    LG_PRINT, LG_EXEC, LG_NONLOCAL, LG_TRY, LG_RAISE, LG_EXCEPT, LG_DEF, LG_DEL, LG_DEBUG,
    LG_SPLIT, LG_OCTAL, LG_LONG, LG_NOT_EQUAL, LG_WALRUS, LG_OPERATOR_EOL, LG_KEYWORD_EOL,
    LG_AS, LG_UR, LG_BACKTICK, LG_CONVERSION, LG_KEYWORD_NAME,
};

/* re's \w on bytes: ASCII letters, digits, underscore */
static inline int is_ascii_word(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static inline int word_at(const unsigned char *s, Py_ssize_t n, Py_ssize_t at, const char *w,
                          Py_ssize_t len) {
    return at + len <= n && memcmp(s + at, w, (size_t)len) == 0;
}

/* (?![\w\x80-\xff]) at `at` */
static inline int end_of_word(const unsigned char *s, Py_ssize_t n, Py_ssize_t at) {
    return at >= n || !is_word(s[at]);
}

static int add(PyObject *list, int kind, Py_ssize_t start, Py_ssize_t end) {
    PyObject *item = Py_BuildValue("(inn)", kind, start, end);
    if (item == NULL) return -1;
    int failed = PyList_Append(list, item);
    Py_DECREF(item);
    return failed;
}

/* The statement of a line start (the pattern _LINE_START at `at`): its kind and the span of
 * what the rule looks at, or -1. */
static int line_start(const unsigned char *s, Py_ssize_t n, Py_ssize_t at, Py_ssize_t *start,
                      Py_ssize_t *stop) {
    while (at < n && is_blank(s[at])) at++;
    if (at >= n) return -1;
    *start = at;
    Py_ssize_t i;
    switch (s[at]) {
    case 'p':
    case 'e':
        if (word_at(s, n, at, "print", 5) || word_at(s, n, at, "exec", 4)) {
            Py_ssize_t len = s[at] == 'p' ? 5 : 4;
            if (!end_of_word(s, n, at + len)) break;
            /* (?![ \t\f]*[(=.,)\]}:;\r\n#]) */
            i = at + len;
            while (i < n && is_blank(s[i])) i++;
            if (i < n && s[i] != 0 && strchr("(=.,)]}:;\r\n#", s[i]) != NULL) return -1;
            *stop = at + len;
            return s[at] == 'p' ? LG_PRINT : LG_EXEC;
        }
        if (word_at(s, n, at, "except", 6) && end_of_word(s, n, at + 6)) {
            /* (?=[^:\r\n]*,[^:\r\n]*\bas\b) */
            Py_ssize_t limit = at + 6;
            while (limit < n && s[limit] != ':' && s[limit] != '\r' && s[limit] != '\n') limit++;
            Py_ssize_t comma = at + 6;
            while (comma < limit && s[comma] != ',') comma++;
            if (comma >= limit) return -1;
            for (i = comma + 1; i + 2 <= limit; i++) {
                if (s[i] == 'a' && s[i + 1] == 's' && !is_ascii_word(s[i - 1]) &&
                    (i + 2 >= n || !is_ascii_word(s[i + 2]))) {
                    *stop = at + 6;
                    return LG_EXCEPT;
                }
            }
            return -1;
        }
        break;
    case 'n':
        if (word_at(s, n, at, "nonlocal", 8) && end_of_word(s, n, at + 8)) {
            *stop = at + 8;
            return LG_NONLOCAL;
        }
        break;
    case 't':
        if (word_at(s, n, at, "try", 3)) {
            i = at + 3;
            while (i < n && is_blank(s[i])) i++;
            if (i < n && s[i] == ':') {
                *stop = at + 3;
                return LG_TRY;
            }
        }
        break;
    case 'r':
        if (word_at(s, n, at, "raise", 5) && end_of_word(s, n, at + 5)) {
            for (i = at + 5; i < n && s[i] != '\r' && s[i] != '\n' && s[i] != ';'; i++)
                if (s[i] == ',') {
                    *stop = at + 5;
                    return LG_RAISE;
                }
        }
        break;
    case 'd':
        if (word_at(s, n, at, "def", 3)) {
            /* def[ \t\f]+[\w\x80-\xff]+[ \t\f]*\([ \t\f]*\( */
            i = at + 3;
            Py_ssize_t mark = i;
            while (i < n && is_blank(s[i])) i++;
            if (i == mark) return -1;
            mark = i;
            while (i < n && is_word(s[i])) i++;
            if (i == mark) return -1;
            while (i < n && is_blank(s[i])) i++;
            if (i >= n || s[i] != '(') return -1;
            i++;
            while (i < n && is_blank(s[i])) i++;
            if (i >= n || s[i] != '(') return -1;
            *start = i;
            *stop = i + 1;
            return LG_DEF;
        }
        if (word_at(s, n, at, "del", 3) && end_of_word(s, n, at + 3)) {
            for (i = at + 3; i + 9 <= n && s[i] != '\r' && s[i] != '\n' && s[i] != ';'; i++)
                if (memcmp(s + i, "__debug__", 9) == 0) {
                    *stop = at + 3;
                    return LG_DEL;
                }
        }
        return -1;
    case '_':
        if (word_at(s, n, at, "__debug__", 9) && end_of_word(s, n, at + 9)) {
            *stop = at + 9;
            return LG_DEBUG;
        }
        return -1;
    }
    /* (?P<split>...): an import, assert or global line that ends before its statement */
    Py_ssize_t kw = 0;
    if (word_at(s, n, at, "from", 4)) {
        /* from[ \t\f]+[\w.\x80-\xff]+(?:[ \t\f]+import)?[ \t\f]*+(?:#[^\r\n]*+)?(?=\r?\n) */
        i = at + 4;
        Py_ssize_t mark = i;
        while (i < n && is_blank(s[i])) i++;
        if (i > mark) {
            mark = i;
            while (i < n && (is_word(s[i]) || s[i] == '.')) i++;
            if (i > mark) {
                Py_ssize_t after_name = i;
                /* with the optional " import" first, then without it */
                for (int with_import = 1; with_import >= 0; with_import--) {
                    Py_ssize_t j = after_name;
                    if (with_import) {
                        Py_ssize_t b = j;
                        while (j < n && is_blank(s[j])) j++;
                        if (j == b || !word_at(s, n, j, "import", 6)) continue;
                        j += 6;
                    }
                    j = rest_of_line(s, n, j);
                    if (j >= 0) {
                        *stop = j;
                        return LG_SPLIT;
                    }
                }
            }
        }
        kw = 4;
    } else if (word_at(s, n, at, "import", 6)) {
        kw = 6;
    } else if (word_at(s, n, at, "assert", 6) || word_at(s, n, at, "global", 6)) {
        kw = 6;
    }
    if (kw && end_of_word(s, n, at + kw)) {
        /* [^\r\n(#\\'";]*, then [ \t\f]*+(?:#[^\r\n]*+)?(?=\r?\n): the last comma */
        Py_ssize_t x = at + kw, comma = -1;
        for (; x < n; x++) {
            unsigned char c = s[x];
            if (c == '\r' || c == '\n' || c == '(' || c == '#' || c == '\\' || c == '\'' ||
                c == '"' || c == ';')
                break;
            if (c == ',') comma = x;
        }
        if (comma < 0) return -1;
        Py_ssize_t j = rest_of_line(s, n, comma + 1);
        if (j >= 0) {
            *stop = j;
            return LG_SPLIT;
        }
    }
    return -1;
}

/* The bytes at which a legacy candidate may start (or a line). */
static unsigned char LEGACY_INTEREST[256];

/* The candidates of the rules for an operator or a keyword ending its line (before blanks
 * and a comment): `t` is where the blanks after it end (a '#' whose comment runs to a line
 * break, or the line break), looked back from. */
static int eol_candidates(PyObject *found, const unsigned char *s, Py_ssize_t begin,
                          Py_ssize_t t) {
    Py_ssize_t e = t;
    while (e > 0 && is_blank(s[e - 1])) e--;
    if (e - 1 < begin) return 0;
    switch (s[e - 1]) {
    case '-': case '+': case '*': case '/': case '%': case '&': case '|': case '^':
    case '<': case '>': case '=': case '!': case '@': case '.': case '~':
        return add(found, LG_OPERATOR_EOL, e - 1, e);
    case 'd':
    case 't':
        if (e - 3 >= begin && (memcmp(s + e - 3, "and", 3) == 0 || memcmp(s + e - 3, "not", 3) == 0))
            return add(found, LG_KEYWORD_EOL, e - 3, e);
        return 0;
    case 'r':
    case 'n':
    case 's':
        if (e - 2 >= begin && (memcmp(s + e - 2, "or", 2) == 0 || memcmp(s + e - 2, "in", 2) == 0 ||
                               memcmp(s + e - 2, "is", 2) == 0))
            return add(found, LG_KEYWORD_EOL, e - 2, e);
        return 0;
    }
    return 0;
}

/* Whether the `async` or `await` at `p` is followed as the keyword is: `async` by blanks and
 * `def`, `with` or `for`; `await` by an operand ([ \t\f]*+[\w\x80-\xff(\[{'"~+-]). */
static int keyword_use(const unsigned char *s, Py_ssize_t n, Py_ssize_t p) {
    Py_ssize_t i = p + 5;
    while (i < n && is_blank(s[i])) i++;
    if (s[p + 1] == 's') {
        if (i == p + 5) return 0;
        return (word_at(s, n, i, "def", 3) && end_of_word(s, n, i + 3)) ||
               (word_at(s, n, i, "with", 4) && end_of_word(s, n, i + 4)) ||
               (word_at(s, n, i, "for", 3) && end_of_word(s, n, i + 3));
    }
    return i < n && (is_word(s[i]) || (s[i] != 0 && strchr("([{'\"~+-", s[i]) != NULL));
}

static PyObject *legacy_candidates(PyObject *self, PyObject *args) {
    PyObject *bytes;
    Py_ssize_t begin, end, from, to;
    int at_line_start;
    if (!PyArg_ParseTuple(args, "Snnpnn", &bytes, &begin, &end, &at_line_start, &from, &to))
        return NULL;
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(bytes);
    Py_ssize_t size = PyBytes_GET_SIZE(bytes);
    if (begin < 0) begin = 0;
    Py_ssize_t n = end < size ? end : size; /* the end of the text for every look-ahead */
    /* The candidates that start at a byte of [from, to) (the caller takes a long range in
     * slices, so that a file made of candidates never makes one huge list). */
    Py_ssize_t lo = from > begin ? from : begin, hi = to < n ? to : n;
    PyObject *found = PyList_New(0);
    if (found == NULL) return NULL;
    Py_ssize_t start, stop;
    int kind;
    if (at_line_start && lo == begin && begin <= n) {
        kind = line_start(s, n, begin, &start, &stop);
        if (kind >= 0 && add(found, kind, start, stop) < 0) goto fail;
    }
    /* `as`, a word of its own, not after a dot: the most frequent letters, on their own; and
     * `async` or `await`, words of their own, unless used as the keywords (keyword_use) */
    for (Py_ssize_t p = lo; p < hi && p + 2 <= n; p++) {
        if (s[p] != 'a' || (p > 0 && is_word(s[p - 1]))) continue;
        if (s[p + 1] == 's' && end_of_word(s, n, p + 2)) {
            if (!(p > 0 && s[p - 1] == '.') && add(found, LG_AS, p, p + 2) < 0) goto fail;
        } else if (p + 5 <= n &&
                   (memcmp(s + p, "async", 5) == 0 || memcmp(s + p, "await", 5) == 0) &&
                   end_of_word(s, n, p + 5) && !keyword_use(s, n, p)) {
            if (add(found, LG_KEYWORD_NAME, p, p + 5) < 0) goto fail;
        }
    }
    /* the rest starts at a rarer byte (or, for an operator or a keyword ending its line,
     * is found from the line break or comment after it, in [lo, hi)) */
    for (Py_ssize_t p = lo; p < hi; p++) {
        unsigned char c = s[p];
        if (!LEGACY_INTEREST[c]) continue;
        switch (c) {
        case '\n':
            if (eol_candidates(found, s, begin, p > 0 && s[p - 1] == '\r' ? p - 1 : p) < 0)
                goto fail;
            kind = line_start(s, n, p + 1, &start, &stop);
            if (kind >= 0 && add(found, kind, start, stop) < 0) goto fail;
            break;
        case '#': {
            /* #[^\r\n]*+ then \r?\n */
            if (rest_of_line(s, n, p) >= 0 && eol_candidates(found, s, begin, p) < 0) goto fail;
            break;
        }
        case '0':
            /* 0(?<![\w\x80-\xff.]0)[0-9_]*[1-9][0-9_]*(?![\w\x80-\xff.]) */
            if (p == 0 || !(is_word(s[p - 1]) || s[p - 1] == '.')) {
                Py_ssize_t i = p + 1;
                int nonzero = 0;
                while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_')) {
                    if (s[i] >= '1' && s[i] <= '9') nonzero = 1;
                    i++;
                }
                if (nonzero && (i >= n || !(is_word(s[i]) || s[i] == '.'))) {
                    if (add(found, LG_OCTAL, p, i) < 0) goto fail;
                    p = i - 1;
                }
            }
            break;
        case 'L':
            if (p > 0 && s[p - 1] >= '0' && s[p - 1] <= '9' && end_of_word(s, n, p + 1))
                if (add(found, LG_LONG, p, p + 1) < 0) goto fail;
            break;
        case '`':
            if (add(found, LG_BACKTICK, p, p + 1) < 0) goto fail;
            break;
        case '\'':
        case '"':
            /* r['"](?<=[uU]r.)(?<![\w\x80-\xff][uU]r.), the match starting at the r */
            if (p - 1 >= begin && s[p - 1] == 'r' && p >= 2 && (s[p - 2] == 'u' || s[p - 2] == 'U') &&
                !(p > 2 && is_word(s[p - 3])))
                if (add(found, LG_UR, p - 1, p + 1) < 0) goto fail;
            break;
        case '!':
            if (add(found, LG_CONVERSION, p, p + 1) < 0) goto fail;
            break;
        case '<':
            if (p + 1 < n && s[p + 1] == '>')
                if (add(found, LG_NOT_EQUAL, p, p + 2) < 0) goto fail;
            break;
        case ':':
            if (p + 1 < n && s[p + 1] == '=')
                if (add(found, LG_WALRUS, p, p + 2) < 0) goto fail;
            break;
        }
    }
    return found;
fail:
    Py_DECREF(found);
    return NULL;
}

/* -- word_occurrences ------------------------------------------------------------------------ */

/* Where `word` occurs as a whole identifier-like word in source[first:] (comments and strings
 * included): after each occurrence, whole or not, the search goes on past it, as
 * drain_ls.analysis.source.word_occurrences's bytes.find loop does. */
static PyObject *word_occurrences(PyObject *self, PyObject *args) {
    PyObject *source, *word;
    Py_ssize_t first;
    if (!PyArg_ParseTuple(args, "SSn", &source, &word, &first)) return NULL;
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(source);
    const unsigned char *w = (const unsigned char *)PyBytes_AS_STRING(word);
    Py_ssize_t n = PyBytes_GET_SIZE(source), m = PyBytes_GET_SIZE(word);
    PyObject *found = PyList_New(0);
    if (found == NULL || m == 0) return found;
    if (first < 0) first = 0;
    Py_ssize_t i = first;
    while (i + m <= n) {
        const unsigned char *hit = memchr(s + i, w[0], (size_t)(n - m + 1 - i));
        if (hit == NULL) break;
        i = hit - s;
        if (memcmp(s + i, w, (size_t)m) != 0) {
            i++;
            continue;
        }
        Py_ssize_t j = i + m;
        if ((i == first || !is_word(s[i - 1])) && (j >= n || !is_word(s[j]))) {
            PyObject *item = Py_BuildValue("(nn)", i, j);
            if (item == NULL || PyList_Append(found, item) < 0) {
                Py_XDECREF(item);
                Py_DECREF(found);
                return NULL;
            }
            Py_DECREF(item);
        }
        i = j;
    }
    return found;
}

#include "_native_outline.c.h"
#include "_native_tokens.c.h"

static PyMethodDef methods[] = {
    {"indentation_scan", indentation_scan, METH_VARARGS,
     "indentation_scan(source, start, stop) -> (kind, start, end, header) | None\n\n"
     "The first indentation event of the logical lines starting in [start, stop)."},
    {"legacy_candidates", legacy_candidates, METH_VARARGS,
     "legacy_candidates(source, begin, end, at_line_start, from, to)\n"
     "    -> [(kind, start, end), ...]\n\n"
     "Where the rules of drain_ls.analysis.legacy look in [begin, end): those found at a\n"
     "byte of [from, to)."},
    {"token_sites", token_sites, METH_VARARGS,
     "token_sites(source, begin, end) -> [(kind, start, end), ...]\n\n"
     "Where the tokens in [begin, end) may hold an error that tree-sitter accepts: kind 0 a\n"
     "bracket group (start: the bracket), 1 a def's parameters, 2 a lambda's (start: the\n"
     "`lambda`), 3 strings side by side, bytes and text (start: the first), 4 a number,\n"
     "5 a `del`, 6 a one-quote string that a line break ends, 7 a star, 8 an annotation's\n"
     "colon, 9 a bytes literal with a byte past ASCII (start: its prefix)."},
    {"word_occurrences", word_occurrences, METH_VARARGS,
     "word_occurrences(source, word, first) -> [(start, end), ...]\n\n"
     "Where word occurs as a whole identifier-like word in source[first:]."},
    {"member_outline", member_outline, METH_VARARGS,
     "member_outline(source, exported, overloads, modules)\n"
     "    -> [(code, name_start, name_end, qualname, method, ask), ...] | None\n\n"
     "The definitions of a module that parses that lack a docstring (D101-D107), as\n"
     "drain_ls.analysis.docstrings.statement_findings finds them; ask: the tree must say\n"
     "whether its first statement is a docstring. None: the tree must do it all."},
    {"logical_line", logical_line_py, METH_VARARGS,
     "logical_line(source, code) -> (last, end) | None\n\n"
     "The end of the last significant byte and the end of the logical line whose code\n"
     "starts at code; None when a string or a bracket stays open to the end."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "drain_ls._native",
    "The byte scans of drain-ls's syntax checks, in C (optional).", -1, methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    for (const char *c = "'\"#()[]{}\\\r\n"; *c; c++) LINE_TOKEN[(unsigned char)*c] = 1;
    for (const char *c = "\n#0L`'\"!<:"; *c; c++)
        LEGACY_INTEREST[(unsigned char)*c] = 1;
    argument_tables();
    return PyModule_Create(&module);
}
