/*
 * gvm_meta.c - the module metadata (.note.gamevm) as the console reads it.
 *
 * The note is canonical JSON.  This is a validating JSON parser for exactly the
 * rules gamevm_build.link.module.check_metadata applies on the host (docs/format.md,
 * "Metadata note"): any JSON is accepted around the known keys, the known keys
 * must have their types, and anything else is lsBadFormat.  Strings are
 * unescaped in place, so the names it returns point into the note's buffer.
 */
#include "gvm_int.h"

#define MAX_NESTING 32

typedef struct {
    u8 *p, *end;
    int bad;
} cursor;

static void ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int peek(cursor *c)
{
    ws(c);
    return c->p < c->end ? *c->p : -1;
}

static int expect(cursor *c, u8 ch)
{
    if (peek(c) != ch)
        return c->bad = 1, 0;
    c->p++;
    return 1;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Bytes of a valid UTF-8 sequence starting at p, a byte of 0x80 or more (string() copies
 * ASCII itself), as Python's strict decoder reads it; 0 if it is none. */
static u32 utf8_len(const u8 *p, const u8 *end)
{
    u32 n, i, cp;
    u8 b = p[0];
    if (b >= 0xC2 && b <= 0xDF) n = 2, cp = b & 0x1F;
    else if (b >= 0xE0 && b <= 0xEF) n = 3, cp = b & 0x0F;
    else if (b >= 0xF0 && b <= 0xF4) n = 4, cp = b & 0x07;
    else return 0;
    if ((u32)(end - p) < n) return 0;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

static u8 *put_utf8(u8 *o, u32 cp)
{
    if (cp < 0x80) { *o++ = (u8)cp; }
    else if (cp < 0x800) { *o++ = (u8)(0xC0 | cp >> 6); *o++ = (u8)(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
        *o++ = (u8)(0xE0 | cp >> 12); *o++ = (u8)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (u8)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (u8)(0xF0 | cp >> 18); *o++ = (u8)(0x80 | (cp >> 12 & 0x3F));
        *o++ = (u8)(0x80 | (cp >> 6 & 0x3F)); *o++ = (u8)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* The four hex digits of a \uXXXX escape, after its "\u". */
static u32 hex4(cursor *c)
{
    u32 cp = 0, i;
    if (c->end - c->p < 4)
        return c->bad = 1, 0;
    for (i = 0; i < 4; i++) {
        int h = hexval(c->p[i]);
        if (h < 0)
            return c->bad = 1, 0;
        cp = cp << 4 | (u32)h;
    }
    c->p += 4;
    return cp;
}

/* A string token, unescaped in place and NUL-terminated (the NUL lands at or
 * before the closing quote, which has been consumed). */
static const char *string(cursor *c)
{
    u8 *out, *start;
    if (!expect(c, '"'))
        return 0;
    start = out = c->p;
    while (c->p < c->end) {
        u8 ch = *c->p;
        if (ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\') {
            /* the common case, plain ASCII, in registers */
            u8 *p = c->p, *end = c->end;
            do
                *out++ = *p++;
            while (p < end && (ch = *p) >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\');
            c->p = p;
            continue;
        }
        if (ch == '"') {
            c->p++;
            *out = 0;
            return (const char *)start;
        }
        if (ch < 0x20)
            break;
        if (ch == '\\') {
            int e;
            if (c->end - c->p < 2)
                break;
            e = c->p[1];
            c->p += 2;
            switch (e) {
            case '"': case '\\': case '/': *out++ = (u8)e; break;
            case 'b': *out++ = 8; break;
            case 'f': *out++ = 12; break;
            case 'n': *out++ = 10; break;
            case 'r': *out++ = 13; break;
            case 't': *out++ = 9; break;
            case 'u': {
                u32 cp = hex4(c);
                if (c->bad)
                    return (const char *)0;
                if (cp == 0)                   /* would cut the name short */
                    return c->bad = 1, (const char *)0;
                /* a surrogate pair is one character (RFC 8259 section 7), as Python's
                 * json reads it: the low half combines with a high half written just
                 * before (those 3 bytes came from an escape: raw UTF-8 has no
                 * surrogates); a lone surrogate stays its 3 bytes */
                if (cp >= 0xDC00 && cp <= 0xDFFF && out - start >= 3 && out[-3] == 0xED &&
                    out[-2] >= 0xA0 && out[-2] <= 0xAF) {
                    out -= 3;
                    cp = 0x10000 + (((u32)(out[1] & 0x0F) << 16 | (u32)(out[2] & 0x3F) << 10) |
                                    (cp & 0x3FF));
                }
                /* an escape never needs more bytes than it took (6, or 12 for a pair) */
                out = put_utf8(out, cp);
                break;
            }
            default:
                return c->bad = 1, (const char *)0;
            }
            continue;
        }
        {
            u32 n = utf8_len(c->p, c->end), i;
            if (n == 0)
                break;
            for (i = 0; i < n; i++)
                *out++ = *c->p++;
        }
    }
    c->bad = 1;
    return 0;
}

/* A number token.  Sets *is_uint for a non-negative integer literal (or -0) and
 * saturates it at 0xFFFFFFFF (*big). */
static void number(cursor *c, u32 *value, int *is_uint, int *big)
{
    int neg = 0, digits = 0, frac = 0;
    u32 v = 0;
    *big = 0;
    if (c->p < c->end && *c->p == '-')
        neg = 1, c->p++;
    if (c->p < c->end && *c->p == '0') {
        c->p++;
        digits = 1;
    } else {
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            u32 d = (u32)(*c->p++ - '0');
            if (v > 429496729u || (v == 429496729u && d > 5))
                *big = 1;                      /* v * 10 + d would not fit 32 bits */
            if (!*big)
                v = (v << 3) + (v << 1) + d;
            digits++;
        }
    }
    if (!digits) {
        c->bad = 1;
        return;
    }
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        frac = 1;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            c->bad = 1;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
            c->p++;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        frac = 1;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            c->bad = 1;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
            c->p++;
    }
    *is_uint = !frac && (!neg || (v == 0 && !*big));
    *value = *big ? 0xFFFFFFFFu : v;
}

static int literal(cursor *c, const char *word)
{
    while (*word) {
        if (c->p >= c->end || *c->p != (u8)*word)
            return c->bad = 1, 0;
        c->p++, word++;
    }
    return 1;
}

static void skip(cursor *c, int depth);

static void skip_container(cursor *c, int depth, u8 close, int object)
{
    c->p++;
    if (peek(c) == close) {
        c->p++;
        return;
    }
    for (;;) {
        if (object) {
            if (!string(c) || !expect(c, ':'))
                return;
        }
        skip(c, depth + 1);
        if (c->bad)
            return;
        if (peek(c) == ',') {
            c->p++;
            continue;
        }
        expect(c, close);
        return;
    }
}

/* Any JSON value (what the loader does not need). */
static void skip(cursor *c, int depth)
{
    int ch = peek(c);
    u32 v;
    int u, big;
    if (depth > MAX_NESTING) {
        c->bad = 1;
        return;
    }
    switch (ch) {
    case '{': skip_container(c, depth, '}', 1); break;
    case '[': skip_container(c, depth, ']', 0); break;
    case '"': string(c); break;
    case 't': literal(c, "true"); break;
    case 'f': literal(c, "false"); break;
    case 'n': literal(c, "null"); break;
    default:
        if (ch == '-' || (ch >= '0' && ch <= '9'))
            number(c, &v, &u, &big);
        else
            c->bad = 1;
    }
}

/* A non-negative integer value that fits 32 bits, or bad. */
static u32 uint_value(cursor *c)
{
    u32 v = 0;
    int u = 0, big = 0, ch = peek(c);
    if (ch != '-' && (ch < '0' || ch > '9')) {
        c->bad = 1;
        return 0;
    }
    number(c, &v, &u, &big);
    if (!u || big)
        c->bad = 1;
    return v;
}

static int table_index(const char *key)
{
    static const char *const names[T_COUNT] = {"init_array", "fini_array", "ctors", "dtors"};
    int i;
    for (i = 0; i < T_COUNT; i++)
        if (gvm_strcmp(key, names[i]) == 0)
            return i;
    return -1;
}

static void init_tables(cursor *c, gvm_meta *m)
{
    int i;
    for (i = 0; i < T_COUNT; i++)
        m->init_has[i] = 0;
    if (!expect(c, '{'))
        return;
    if (peek(c) == '}') {
        c->p++;
        return;
    }
    for (;;) {
        const char *key = string(c);
        int t;
        if (!key || !expect(c, ':'))
            return;
        t = table_index(key);
        if (t < 0) {
            c->bad = 1;
            return;
        }
        expect(c, '[');
        m->init_off[t] = uint_value(c);
        expect(c, ',');
        m->init_count[t] = uint_value(c);
        expect(c, ']');
        m->init_has[t] = 1;
        if (c->bad)
            return;
        if (peek(c) == ',') {
            c->p++;
            continue;
        }
        expect(c, '}');
        return;
    }
}

static void needs_list(cursor *c, gvm_meta *m)
{
    m->nneeds = 0;
    if (!expect(c, '['))
        return;
    if (peek(c) == ']') {
        c->p++;
        return;
    }
    for (;;) {
        const char *s = string(c);
        if (!s)
            return;
        if (m->nneeds == META_MAX_NEEDS) {
            c->bad = 1;
            return;
        }
        m->needs[m->nneeds++] = s;
        if (peek(c) == ',') {
            c->p++;
            continue;
        }
        expect(c, ']');
        return;
    }
}

static void member(cursor *c, const char *key, gvm_meta *m)
{
    if (gvm_strcmp(key, "format") == 0) {
        m->format = uint_value(c);
        m->has_format = 1;
    } else if (gvm_strcmp(key, "image_size") == 0) {
        m->image_size = uint_value(c);
        m->has_image_size = 1;
    } else if (gvm_strcmp(key, "align") == 0) {
        m->align = uint_value(c);
    } else if (gvm_strcmp(key, "target") == 0) {
        m->target = string(c);
    } else if (gvm_strcmp(key, "name") == 0) {
        m->name = string(c);
    } else if (gvm_strcmp(key, "hash") == 0) {
        string(c);
    } else if (gvm_strcmp(key, "entry") == 0) {
        if (peek(c) == 'n')
            literal(c, "null");
        else
            string(c);
    } else if (gvm_strcmp(key, "needs") == 0) {
        needs_list(c, m);
    } else if (gvm_strcmp(key, "init") == 0) {
        init_tables(c, m);
    } else {
        skip(c, 1);
    }
}

/* noinline: inlined into its one caller, it made the loader's main function outgrow
 * GCC's -Os inlining limits, which then left other functions out of line (psx: +190 bytes) */
int __attribute__((noinline)) gvm_meta_parse(u8 *text, u32 len, gvm_meta *m)
{
    cursor c;
    int i;

    while (len && text[len - 1] == 0)          /* the descriptor is NUL-padded */
        len--;
    c.p = text;
    c.end = text + len;
    c.bad = 0;
    m->align = 4;                              /* the rest starts zeroed (gvm_int.h) */
    if (!expect(&c, '{'))
        return -1;
    if (peek(&c) == '}') {
        c.p++;
    } else {
        for (;;) {
            const char *key = string(&c);
            if (!key || !expect(&c, ':'))
                return -1;
            member(&c, key, m);
            if (c.bad)
                return -1;
            if (peek(&c) == ',') {
                c.p++;
                continue;
            }
            if (!expect(&c, '}'))
                return -1;
            break;
        }
    }
    if (peek(&c) != -1 || c.bad)
        return -1;
    if (!m->has_format || (m->format != 1 && m->format != 2) || !m->target || !m->name || !m->name[0] ||
        !m->has_image_size || m->align == 0 || m->align > 0x10000 || (m->align & (m->align - 1)))
        return -1;
    for (i = 0; i < T_COUNT; i++) {
        u32 off = m->init_off[i], n = m->init_count[i];
        if (!m->init_has[i])
            continue;
        if ((off & 3) || n > 0x3FFFFFFFu || off > m->image_size || (n << 2) > m->image_size - off)
            return -1;
    }
    return 0;
}
