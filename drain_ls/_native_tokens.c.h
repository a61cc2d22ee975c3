/* token_sites: where the source's tokens may hold an error that tree-sitter-python accepts
 * and CPython rejects, for the tree to decide (drain_ls.analysis.token_scan):
 *
 * - argument and parameter lists (drain_ls.analysis.arguments): an argument after a keyword
 *   one or after `**` (`f(x=1, y)`, `f(**k, *a)`), a keyword repeated (`f(a=1, a=2)`), a
 *   generator among other arguments (`f(x for x in y, 1)`), a comprehension of a starred
 *   item (`[*a for a in b]`), a parameter without a default
 *   after one with a default, a bare `*` with no keyword parameter after it, a parameter
 *   after `**kwargs`, `/` or `*` out of place, or a name given twice (in a `def` or a
 *   `lambda`);
 * - literals (drain_ls.analysis.literals): bytes and text side by side (`"a" b"b"`), a number
 *   with an underscore that no digit follows (`1_`);
 * - one-quote strings that a line break ends (`x = '` then a line break: tree-sitter reads on
 *   when the line break comes first), every `del`, and the annotations of a statement that
 *   begins with a bracket or a star or holds a comma (`x, y: int`), for
 *   drain_ls.analysis.store_targets;
 * - stars that could stand where none may (`x = *a`, `(*a)`, `a + *b`, `[*a == b]`, `[**k]`;
 *   drain_ls.analysis.starred): a `*` or `**` after no operand, but a parameter's and the first
 *   token of a call's argument, a list's item or a dict's `**`, unless a loose token follows.
 *
 * Included by _native.c (its helpers: is_word, is_blank, prefix_start, string_end, line_end,
 * add).
 *
 * One pass over the bytes, reading tokens, with a stack of the open brackets (and of the
 * `lambda`s whose parameters are being read): each comma-separated element of a group is
 * classified by its first tokens (a name, `*`, `**`, `/`), whether it holds a `=` of its own,
 * and its name. A group found suspicious is given to the tree, which decides (strings,
 * comments and the fields of f-strings are not read here). The criteria are wider than the
 * errors (`f(x=1, *a)` is valid), never narrower: tests/test_token_scan.py holds the errors
 * found from these sites to those found by asking the tree about every list and literal. */

#define ARG_MAX_DEPTH 200 /* CPython's MAXLEVEL of nested brackets */
#define ARG_MAX_NAMES 64  /* names compared in one list; a longer one goes to the tree */

/* what token_sites gives: a bracket group, a def's parameters, a lambda's, a run of strings,
 * a number, a `del`, a one-quote string that a line break ends, a star, an annotation of
 * more than a name or whose colon ends its line, a bytes literal with a byte past ASCII */
enum {
    SITE_CALL,
    SITE_PARAMS,
    SITE_LAMBDA,
    SITE_STRINGS,
    SITE_NUMBER,
    SITE_DEL,
    SITE_UNCLOSED,
    SITE_STAR,
    SITE_ANNOTATED,
    SITE_BYTES
};
/* a simple statement's first token: none yet, a name, `(` or `[`, `*`, anything else */
enum { FIRST_NONE, FIRST_NAME, FIRST_BRACKET, FIRST_STAR, FIRST_OTHER };
enum { FR_CALL, FR_PARAMS, FR_LAMBDA, FR_OTHER };               /* ( ... ), def's ( ... ), ... */
enum { EL_NONE, EL_WORD, EL_STAR, EL_DSTAR, EL_SLASH, EL_OTHER }; /* an element's first token */

/* is_word as a table; the first letters of the words the scan looks for */
static unsigned char ARG_WORD[256], ARG_KEYWORD_START[256];

static void argument_tables(void) {
    for (int c = 0; c < 256; c++) ARG_WORD[c] = (unsigned char)is_word((unsigned char)c);
    ARG_KEYWORD_START['d'] = ARG_KEYWORD_START['l'] = ARG_KEYWORD_START['f'] = 1;
    ARG_KEYWORD_START['i'] = 1;
}

typedef struct {
    Py_ssize_t open;    /* the bracket, or the `lambda` */
    unsigned char kind; /* FR_* */
    unsigned char suspicious, seen_keyword, seen_dstar, seen_star, seen_slash, bare_star;
    unsigned char for_state, elements; /* elements: how many ended so far (saturating) */
    unsigned char non_ascii;
    unsigned char bracket, call, dict_like; /* `(` of a call; `{` of a dict (`:` or `**` first) */
    int names; /* how many names this list has in the stack's buffer (from `base`) */
    int base;
    /* the element being read */
    int tokens;
    unsigned char first, equals;
    Py_ssize_t name, name_end;
    Py_ssize_t star, star_end; /* a first `*` (or `**`) that must not go on with a loose token */
} Frame;

typedef struct {
    Frame frames[ARG_MAX_DEPTH];
    int depth;    /* frames in use */
    int overflow; /* brackets opened past ARG_MAX_DEPTH, not tracked */
    Py_ssize_t names[ARG_MAX_DEPTH * 2][2];
    int names_used;
} ArgStack;

static void element_reset(Frame *f) {
    f->tokens = 0;
    f->first = EL_NONE;
    f->equals = 0;
    f->name = f->name_end = -1;
    f->star = f->star_end = -1;
}

/* Whether `f`'s element names a name that `f` already holds (a repeated parameter or
 * keyword); the name is added. Lists longer than ARG_MAX_NAMES, and names that are not ASCII
 * (Python compares them NFKC-normalised), are left to the tree. */
static int repeated(const unsigned char *s, ArgStack *st, Frame *f) {
    Py_ssize_t len = f->name_end - f->name;
    for (Py_ssize_t i = f->name; i < f->name_end; i++)
        if (s[i] >= 0x80) f->non_ascii = 1;
    if (f->non_ascii && f->names >= 1) return 1;
    for (int k = f->base; k < f->base + f->names; k++) {
        Py_ssize_t a = st->names[k][0], b = st->names[k][1];
        if (b - a == len && memcmp(s + a, s + f->name, (size_t)len) == 0) return 1;
    }
    if (f->names >= ARG_MAX_NAMES || st->names_used >= ARG_MAX_DEPTH * 2) return 1;
    st->names[st->names_used][0] = f->name;
    st->names[st->names_used][1] = f->name_end;
    st->names_used++;
    f->names++;
    return 0;
}

/* The element of `f` ends (at a comma or at the end of the list). */
static void element_end(const unsigned char *s, ArgStack *st, Frame *f) {
    if (f->tokens == 0) return; /* (a trailing comma) */
    int first = f->elements == 0;
    if (f->elements < 2) f->elements++;
    if (f->kind == FR_CALL) {
        if (f->first == EL_DSTAR) {
            f->seen_dstar = 1;
        } else if (f->first == EL_WORD && f->equals) { /* a keyword argument */
            f->seen_keyword = 1;
            if (repeated(s, st, f)) f->suspicious = 1;
        } else if (f->seen_dstar || (f->seen_keyword && f->first != EL_STAR)) {
            f->suspicious = 1; /* after `**` or a keyword: positional, or `*` after `**` */
        }
    } else if (f->kind == FR_PARAMS || f->kind == FR_LAMBDA) {
        /* CPython's order: `a, /, b, *c (or *), d, **e`, each separator once */
        if (f->seen_dstar) f->suspicious = 1; /* anything after `**kwargs` */
        if (f->first == EL_SLASH && f->tokens == 1) {
            if (first || f->seen_slash || f->seen_star) f->suspicious = 1;
            f->seen_slash = 1;
        } else if (f->first == EL_DSTAR) {
            f->seen_dstar = 1;
            if (f->bare_star) f->suspicious = 1;
        } else if (f->first == EL_STAR) {
            if (f->seen_star) f->suspicious = 1;
            f->seen_star = 1;
            if (f->name < 0) f->bare_star = 1;
        } else {
            f->bare_star = 0;
            if (!f->seen_star) {
                if (f->equals)
                    f->seen_keyword = 1;
                else if (f->seen_keyword)
                    f->suspicious = 1;
            }
        }
        if (f->name >= 0 && repeated(s, st, f)) f->suspicious = 1;
    }
}

/* A token at the top of the stack, in the element being read: `kind` is its EL_* kind
 * (EL_WORD with its span, for a name). */
static void element_token(ArgStack *st, int kind, Py_ssize_t start, Py_ssize_t end) {
    if (st->depth == 0) return;
    Frame *f = &st->frames[st->depth - 1];
    if (f->tokens == 0) {
        f->first = (unsigned char)kind;
        if (kind == EL_WORD) {
            f->name = start;
            f->name_end = end;
        }
    } else if (f->tokens == 1 && kind == EL_WORD && (f->first == EL_STAR || f->first == EL_DSTAR)) {
        f->name = start;
        f->name_end = end;
    }
    if (f->tokens < 3) f->tokens++;
}

static int emit(PyObject *found, const Frame *f, Py_ssize_t end) {
    if (!f->suspicious) return 0;
    int kind = f->kind == FR_PARAMS ? SITE_PARAMS : f->kind == FR_LAMBDA ? SITE_LAMBDA : SITE_CALL;
    return add(found, kind, f->open, end);
}

static int frame_pop(PyObject *found, const unsigned char *s, ArgStack *st, Py_ssize_t end) {
    Frame *f = &st->frames[st->depth - 1];
    element_end(s, st, f);
    if ((f->kind == FR_PARAMS || f->kind == FR_LAMBDA) && f->bare_star) f->suspicious = 1;
    st->names_used = f->base;
    st->depth--;
    return emit(found, f, end);
}

static void frame_push(ArgStack *st, int kind, Py_ssize_t open, unsigned char bracket,
                       int call) {
    if (st->depth >= ARG_MAX_DEPTH) {
        st->overflow++;
        return;
    }
    Frame *f = &st->frames[st->depth++];
    memset(f, 0, sizeof *f);
    f->kind = (unsigned char)kind;
    f->open = open;
    f->bracket = bracket;
    f->call = (unsigned char)call;
    f->base = st->names_used;
    element_reset(f);
}

/* The lambdas open at the top of the stack end (at a bracket that closes, or at the end of a
 * line outside brackets: broken code). */
static int pop_lambdas(PyObject *found, const unsigned char *s, ArgStack *st, Py_ssize_t at) {
    while (st->overflow == 0 && st->depth > 0 && st->frames[st->depth - 1].kind == FR_LAMBDA)
        if (frame_pop(found, s, st, at) < 0) return -1;
    return 0;
}

/* Python's keywords that are no operand (not `True`, `False`, `None`), and with `soft` its
 * soft keywords: what a `*` after which is a star, not a product, and a `(` after which is no
 * call (`if (*a):`; `match (x)` counts as no call: wider). */
static int is_keyword(const unsigned char *w, Py_ssize_t len, int soft) {
#define KW(k) (memcmp(w, k, sizeof k - 1) == 0)
    switch (len) {
    case 2:
        return KW("as") || KW("if") || KW("in") || KW("is") || KW("or");
    case 3:
        return KW("and") || KW("def") || KW("del") || KW("for") || KW("not") || KW("try");
    case 4:
        return KW("elif") || KW("else") || KW("from") || KW("pass") || KW("with") ||
               (soft && (KW("case") || KW("type")));
    case 5:
        return KW("async") || KW("await") || KW("break") || KW("class") || KW("raise") ||
               KW("while") || KW("yield") || (soft && KW("match"));
    case 6:
        return KW("assert") || KW("except") || KW("global") || KW("import") || KW("lambda") ||
               KW("return");
    case 7:
        return KW("finally");
    case 8:
        return KW("continue") || KW("nonlocal");
    default:
        return 0;
    }
#undef KW
}

/* Words and operators that end a starred item where CPython stars a `bitwise_or` (`[*a == b]`,
 * `[*a if b else c]`, `[*not a]`, `{**a or b}`, `a[*b:1]`, `f(*a := b)`). */
static int is_loose_word(const unsigned char *w, Py_ssize_t len) {
    static const char *const words[] = {"if", "else", "or", "and", "not", "in", "is", "lambda",
                                        NULL};
    for (const char *const *k = words; *k != NULL; k++)
        if ((Py_ssize_t)strlen(*k) == len && memcmp(*k, w, (size_t)len) == 0) return 1;
    return 0;
}

/* A loose token at the top of the stack: the item's first star, if any, goes to the tree. */
static int loose_token(PyObject *found, ArgStack *st) {
    if (st->overflow != 0 || st->depth == 0) return 0;
    Frame *f = &st->frames[st->depth - 1];
    if (f->star < 0) return 0;
    int r = add(found, SITE_STAR, f->star, f->star_end);
    f->star = f->star_end = -1;
    return r;
}

/* A `*` or `**` (`kind`: EL_STAR or EL_DSTAR) that is no product: where it could stand
 * where CPython does not allow it, a site (the tree decides, drain_ls.analysis.starred).
 * Left out: a def's or a lambda's parameters, and the first token of an item of a call, a
 * list (`*` only) or a dict (`**` only); such an item is given to the tree if a loose token
 * follows (`loose_token`). */
static int star_site(PyObject *found, ArgStack *st, int kind, Py_ssize_t at, Py_ssize_t end) {
    if (st->overflow != 0) return 0;
    if (st->depth == 0) return add(found, SITE_STAR, at, end); /* `x = *a`, `*a = b` */
    Frame *f = &st->frames[st->depth - 1];
    if (f->kind == FR_PARAMS || f->kind == FR_LAMBDA) /* a parameter's `*`, or a star inside */
        return f->tokens > 0 ? add(found, SITE_STAR, at, end) : 0;
    int safe;
    if (f->tokens > 0) {
        safe = 0; /* inside an item: `f(x=*a)`, `[a + *b]`, `[x for x in *a]` */
    } else if (f->bracket == '(') {
        safe = f->call; /* a group: `(*a)` (or a tuple) */
    } else if (f->bracket == '[') {
        safe = kind == EL_STAR;
    } else if (kind == EL_DSTAR) { /* `{`: a dict's `**` */
        safe = f->elements == 0 || f->dict_like;
        if (f->elements == 0) f->dict_like = 1;
    } else {
        safe = 0; /* a set's `*` (`{*a, *b}`: few) */
    }
    if (!safe) return add(found, SITE_STAR, at, end);
    f->star = at;
    f->star_end = end;
    return 0;
}

/* Whether only blanks, then a comment or a line break (or the end), follow `at`: an annotation
 * whose colon ends its line (`x:` then its type on the next line: no type, for Python). */
static int ends_line(const Src *src, Py_ssize_t at) {
    while (at < src->n && (src->s[at] == ' ' || src->s[at] == '\t' || src->s[at] == '\f')) at++;
    return at >= src->n || src->s[at] == '\n' || src->s[at] == '\r' || src->s[at] == '#';
}

static inline int digit_of(unsigned char c, int base) {
    if (base == 16) return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
    return c >= '0' && c < '0' + base;
}

/* The end of the number at `at` as tree-sitter-python's lexer reads it (its integer and float
 * rules; a number that starts with `.` is read from its digits). */
static Py_ssize_t number_end(const unsigned char *s, Py_ssize_t n, Py_ssize_t at) {
    Py_ssize_t e = at + 1;
    int base = 10;
    if (s[at] == '0' && e < n) {
        unsigned char x = s[e] | 0x20;
        base = x == 'x' ? 16 : x == 'o' ? 8 : x == 'b' ? 2 : 10;
        if (base != 10) e++;
    }
    while (e < n && (digit_of(s[e], base) || s[e] == '_')) e++;
    if (base == 10 && e < n && s[e] == '.') { /* a fraction (`1.`, `1.5`, `1.e5`) */
        e++;
        while (e < n && ((s[e] >= '0' && s[e] <= '9') || s[e] == '_')) e++;
    }
    if (base == 10 && e < n && (s[e] | 0x20) == 'e') {
        Py_ssize_t d = e + 1;
        if (d < n && (s[d] == '+' || s[d] == '-')) d++;
        if (d < n && s[d] >= '0' && s[d] <= '9') {
            e = d;
            while (e < n && ((s[e] >= '0' && s[e] <= '9') || s[e] == '_')) e++;
        }
    }
    if (e < n && ((s[e] | 0x20) == 'l' || (s[e] | 0x20) == 'j')) e++;
    return e;
}

static PyObject *token_sites(PyObject *self, PyObject *args) {
    PyObject *bytes;
    Py_ssize_t begin, stop;
    if (!PyArg_ParseTuple(args, "Snn", &bytes, &begin, &stop)) return NULL;
    Src src = {(const unsigned char *)PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes)};
    const unsigned char *s = src.s;
    if (begin < 0) begin = 0;
    if (stop > src.n) stop = src.n;
    Py_ssize_t n = stop;
    PyObject *found = PyList_New(0);
    if (found == NULL) return NULL;
    ArgStack *st = PyMem_Calloc(1, sizeof(ArgStack));
    if (st == NULL) {
        Py_DECREF(found);
        return PyErr_NoMemory();
    }
    /* `def`, its name, then (after type parameters) its parameters' `(`: def_state 1 after
     * `def`, 2 after the name, at stack depth def_depth */
    int def_state = 0, def_depth = 0;
    /* where a search for the closing triple quote (' then ") found none */
    Py_ssize_t unclosed[2] = {PY_SSIZE_T_MAX, PY_SSIZE_T_MAX};
    /* the strings side by side so far (run: the first one's start, or -1): 1 text, 2 bytes */
    Py_ssize_t run = -1;
    int run_kinds = 0;
    /* the token before: an operand (a number, a string, a closing bracket), a word (a name or
     * a keyword: prev_word), or anything else; it tells a star from a product */
    enum { PREV_OTHER, PREV_OPERAND, PREV_WORD } prev = PREV_OTHER;
    Py_ssize_t prev_word = 0, prev_word_end = 0;
    /* the statement's first token, and whether a comma outside brackets followed: at a colon
     * outside brackets, an annotated target to look at (`x, y: int`, `[x]: int`, `*a: int`) */
    int first = FIRST_NONE, first_comma = 0;
#define FIRST(kind)                                                                          \
    do {                                                                                     \
        if (first == FIRST_NONE && st->depth == 0 && st->overflow == 0) first = (kind);      \
    } while (0)
    Py_ssize_t at = begin;
    while (at < n) {
        unsigned char c = s[at];
        if (run >= 0 && !(c == '\'' || c == '"' || is_blank(c) || c == '#' || c == '\\' ||
                          c == '\r' || c == '\n' || (ARG_WORD[c] && !(c >= '0' && c <= '9')))) {
            run = -1; /* (a word may be a string's prefix: the word branch decides) */
        }
        if (c >= '0' && c <= '9') { /* a number (`0def` is `0` then `def`, as the tree reads it) */
            Py_ssize_t end = number_end(s, n, at);
            int base = 10;
            if (s[at] == '0' && at + 1 < end) {
                unsigned char x = s[at + 1] | 0x20;
                base = x == 'x' ? 16 : x == 'o' ? 8 : x == 'b' ? 2 : 10;
            }
            for (Py_ssize_t i = at; i < end; i++)
                if (s[i] == '_' && !(i + 1 < end && digit_of(s[i + 1], base))) {
                    if (add(found, SITE_NUMBER, at, end) < 0) goto fail;
                    break;
                }
            run = -1;
            at = end;
            prev = PREV_OPERAND;
            FIRST(FIRST_OTHER);
            if (st->overflow == 0) element_token(st, EL_OTHER, at, at);
            if (st->depth == def_depth) def_state = 0;
            continue;
        }
        if (ARG_WORD[c]) {
            Py_ssize_t end = at + 1;
            while (end < n && ARG_WORD[s[end]]) end++;
            if (end < n && (s[end] == '\'' || s[end] == '"') && end - at <= 3 &&
                prefix_start(&src, begin, end) == at) {
                at = end; /* a string's prefix: the string is the token */
                continue;
            }
            run = -1;
            Py_ssize_t len = end - at;
            Frame *top = st->depth > 0 && st->overflow == 0 ? &st->frames[st->depth - 1] : NULL;
            int handled = 0;
            if (top != NULL && top->star >= 0 && is_loose_word(s + at, len) &&
                loose_token(found, st) < 0)
                goto fail;
            prev = PREV_WORD;
            prev_word = at;
            prev_word_end = end;
            FIRST(is_keyword(s + at, len, 1) ? FIRST_OTHER : FIRST_NAME);
            if (def_state == 1 && st->depth == def_depth) { /* the function's name */
                def_state = 2;
                handled = 1;
            } else if (!ARG_KEYWORD_START[c]) {
                /* not `def`, `del`, `lambda`, `for` or `in` */
            } else if (len == 3 && memcmp(s + at, "del", 3) == 0) {
                if (add(found, SITE_DEL, at, end) < 0) goto fail;
            } else if (len == 3 && memcmp(s + at, "def", 3) == 0) {
                def_state = 1;
                def_depth = st->depth;
                handled = 1;
            } else if (len == 6 && memcmp(s + at, "lambda", 6) == 0) {
                /* `[x for x in lambda: y]`, `[x for x in y if lambda: z]` */
                if (top != NULL && top->kind != FR_PARAMS && top->kind != FR_LAMBDA &&
                    top->for_state == 2)
                    top->suspicious = 1;
                if (st->overflow == 0) element_token(st, EL_OTHER, at, end);
                /* (at full depth its parameters are read as the group's elements: wider) */
                if (st->overflow == 0 && st->depth < ARG_MAX_DEPTH)
                    frame_push(st, FR_LAMBDA, at, 0, 0);
                at = end;
                continue;
            } else if (top != NULL && top->kind != FR_PARAMS && top->kind != FR_LAMBDA) {
                if (len == 3 && memcmp(s + at, "for", 3) == 0) {
                    top->for_state = 1;
                    /* `[*a for a in b]`: a starred first element before the `for` */
                    if (top->elements == 0 && (top->first == EL_STAR || top->first == EL_DSTAR))
                        top->suspicious = 1;
                }
                else if (len == 2 && memcmp(s + at, "in", 2) == 0 && top->for_state == 1)
                    top->for_state = 2;
            }
            if (!handled && st->depth == def_depth) def_state = 0;
            if (st->overflow == 0) element_token(st, EL_WORD, at, end);
            at = end;
            continue;
        }
        if (c == ' ') { /* runs of blanks: indentation, mostly */
            do at++;
            while (at < n && s[at] == ' ');
            continue;
        }
        if (c == '\t' || c == '\f') {
            at++;
            continue;
        }
        if (c == '\'' || c == '"') {
            Py_ssize_t prefix = prefix_start(&src, begin, at);
            int q = c == '"', triple = at + 2 < n && s[at + 1] == c && s[at + 2] == c;
            Py_ssize_t end;
            if (triple && at > unclosed[q]) {
                end = at + 2; /* no closing triple quote after an earlier one: `''` (as below) */
            } else {
                end = string_end(&src, prefix, at, 0);
                /* a plain triple quote never closed reads as an empty string (plain_string_end)
                 * after a search to the end: searched once, not once per such quote */
                if (triple && end == at + 2) unclosed[q] = at;
            }
            int kind = 1;
            for (Py_ssize_t i = prefix; i < at; i++)
                if ((s[i] | 0x20) == 'b') kind = 2;
            if (run < 0) {
                run = prefix;
                run_kinds = kind;
            } else if ((run_kinds | kind) == 3 && run_kinds != 3) {
                if (add(found, SITE_STRINGS, run, at) < 0) goto fail; /* once a run */
                run_kinds = 3;
            }
            if (end < 0) { /* never closed: read on at the next line */
                if (!triple && add(found, SITE_UNCLOSED, prefix, at) < 0) goto fail;
                end = line_end(&src, at);
            }
            if (kind == 2) /* bytes: ASCII only */
                for (Py_ssize_t i = at; i < end && i < n; i++)
                    if (s[i] >= 0x80) {
                        if (add(found, SITE_BYTES, prefix, at + 1) < 0) goto fail;
                        break;
                    }
            if (st->overflow == 0) element_token(st, EL_OTHER, at, end);
            if (st->depth == def_depth) def_state = 0;
            prev = PREV_OPERAND;
            FIRST(FIRST_OTHER);
            at = end;
            continue;
        }
        if (c == '#') {
            at = line_end(&src, at);
            continue;
        }
        if (c == '\\') { /* a line continuation (or a stray backslash) */
            at++;
            if (at < n && s[at] == '\r') at++;
            if (at < n && s[at] == '\n') at++;
            continue;
        }
        Frame *top = st->depth > 0 && st->overflow == 0 ? &st->frames[st->depth - 1] : NULL;
        int track = top != NULL && top->kind != FR_OTHER;
        if (c == '\n' || c == '\r' || c == ';') {
            int brackets = 0;
            for (int k = 0; k < st->depth && !brackets; k++)
                brackets = st->frames[k].kind != FR_LAMBDA;
            if (!brackets) run = -1; /* the statement ends */
            if (!brackets || c == ';') prev = PREV_OTHER;
            if (!brackets) first = FIRST_NONE, first_comma = 0;
            if (!brackets && st->overflow == 0) {
                if (pop_lambdas(found, s, st, at) < 0) goto fail;
                def_state = 0;
            }
            at++;
            continue;
        }
        if (c == '(' || c == '[' || c == '{') {
            if (st->overflow == 0) element_token(st, EL_OTHER, at, at + 1);
            int params = c == '(' && def_state == 2 && st->depth == def_depth;
            if (st->depth == def_depth && !(c == '[' && def_state == 2)) def_state = 0;
            FIRST(c == '{' ? FIRST_OTHER : FIRST_BRACKET);
            int call = prev == PREV_OPERAND ||
                       (prev == PREV_WORD &&
                        !is_keyword(s + prev_word, prev_word_end - prev_word, 1));
            prev = PREV_OTHER;
            frame_push(st, params ? FR_PARAMS : c == '(' ? FR_CALL : FR_OTHER, at, c, call);
            at++;
            continue;
        }
        if (c == ')' || c == ']' || c == '}') {
            at++;
            prev = PREV_OPERAND;
            if (st->overflow > 0) {
                st->overflow--;
                continue;
            }
            if (pop_lambdas(found, s, st, at) < 0) goto fail;
            if (st->depth > 0 && frame_pop(found, s, st, at) < 0) goto fail;
            continue;
        }
        if (st->depth == def_depth) def_state = 0;
        int before = prev;
        prev = PREV_OTHER; /* (an operator, a comma, a colon: all that is left) */
        FIRST(c == '*' ? FIRST_STAR : FIRST_OTHER);
        if (c == ',' && st->depth == 0) first_comma = 1;
        if (c == ':' && !(at + 1 < n && s[at + 1] == '=') && st->depth == 0 && st->overflow == 0) {
            /* an annotation, or the end of a compound statement's header (`for a, b in c:`,
             * `if x:`: a keyword first), after which another statement may begin */
            if (((first == FIRST_NAME && (first_comma || ends_line(&src, at + 1))) ||
                 first == FIRST_BRACKET || first == FIRST_STAR) &&
                add(found, SITE_ANNOTATED, at, at + 1) < 0)
                goto fail;
            first = FIRST_NONE;
            first_comma = 0;
        }
        if (c == ',') {
            if (top != NULL) {
                if (top->for_state == 2) top->suspicious = 1; /* `f(x for x in y, 1)` */
                element_end(s, st, top); /* (a list's or a dict's: counted, for its stars) */
                element_reset(top);
            }
            at++;
            continue;
        }
        if (c == ':' && !(at + 1 < n && s[at + 1] == '=') && top != NULL) {
            if (top->bracket == '{' && top->elements == 0) top->dict_like = 1; /* `{a: 1, **b}` */
            if (loose_token(found, st) < 0) goto fail;                        /* `a[*b:1]` */
        }
        if (c == ':' && !(at + 1 < n && s[at + 1] == '=') && top != NULL &&
            top->kind == FR_LAMBDA) {
            if (frame_pop(found, s, st, at) < 0) goto fail;
            at++;
            continue;
        }
        /* an operator: `*` and `**` (and `/`) first in an element mark it; a `=` alone (not
         * `==`, `<=`, `:=`, `+=`, ...) is a keyword or a default */
        int kind = EL_OTHER;
        Py_ssize_t end = at + 1;
        if (c == '=') {
            if (!(end < n && s[end] == '=')) {
                if (track && top->tokens > 0) top->equals = 1;
                at = end;
                continue;
            }
            end++; /* `==` */
        } else if (c == '*') {
            kind = EL_STAR;
            if (end < n && s[end] == '*') {
                kind = EL_DSTAR;
                end++;
            }
            /* a star, not a product (nor `*=`, nor `from m import *`): after no operand, after
             * a keyword, or after `match` or `case` (`match *a, b:`; a product otherwise, but
             * few) */
            Py_ssize_t word = prev_word_end - prev_word;
            int star = before == PREV_OTHER ||
                       (before == PREV_WORD && is_keyword(s + prev_word, word, 1) &&
                        !(word == 6 && memcmp(s + prev_word, "import", 6) == 0) &&
                        !(word == 4 && memcmp(s + prev_word, "type", 4) == 0));
            if (star && !(end < n && s[end] == '=') && star_site(found, st, kind, at, end) < 0)
                goto fail;
        } else if (c == '/') {
            kind = EL_SLASH;
            if (end < n && s[end] == '/') end++;
        }
        if (c != '=' && end < n && s[end] == '=') end++; /* `<=`, `:=`, `*=`, ... */
        /* `==`, `!=`, `<`, `>`, `<=`, `>=`, `:=`: a comparison or a name's binding */
        if ((c == '=' || c == '!' || c == ':' || ((c == '<' || c == '>') && !(at + 1 < n &&
                                                                             s[at + 1] == c))) &&
            (end - at == 2 || c == '<' || c == '>') && loose_token(found, st) < 0)
            goto fail;
        if (st->overflow == 0) element_token(st, kind, at, end);
        at = end;
    }
#undef FIRST
    while (st->overflow == 0 && st->depth > 0)
        if (frame_pop(found, s, st, n) < 0) goto fail;
    PyMem_Free(st);
    return found;
fail:
    PyMem_Free(st);
    Py_DECREF(found);
    return NULL;
}
