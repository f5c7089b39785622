/*
 * kobjmeta: one pass over a checked metadata text (see kobjmeta.h).
 *
 * A cursor walks the text; every step checks the bound, and any byte that
 * is not where the expected shape puts it ends the read with `false` (the
 * caller then parses with jansson). Values are taken as jansson would give
 * them to kobj: a repeated member counts by its last value, a label or
 * owner list of another type counts as none, a non-string namespace, name,
 * uid or resourceVersion as "".
 */
#include "kobjmeta.h"

#include <string.h>

#include "kjsontoken.h"

struct kom_cur {
    const char *t;
    size_t i, n;
};

static void kom_ws(struct kom_cur *c)
{
    while (c->i < c->n && kjt_is_ws(c->t[c->i]))
        c->i++;
}

/* The next byte after whitespace, 0 at the end. */
static char kom_peek(struct kom_cur *c)
{
    kom_ws(c);
    return c->i < c->n ? c->t[c->i] : '\0';
}

static bool kom_eat(struct kom_cur *c, char want)
{
    if (kom_peek(c) != want)
        return false;
    c->i++;
    return true;
}

/* A string at the cursor without escapes: its bytes (between the quotes). */
static bool kom_plain_string(struct kom_cur *c, struct kobjmeta_str *out)
{
    if (!kom_eat(c, '"'))
        return false;
    size_t start = c->i;
    while (c->i < c->n && c->t[c->i] != '"') {
        if (c->t[c->i] == '\\')
            return false;
        c->i++;
    }
    if (c->i >= c->n)
        return false;
    out->p = c->t + start;
    out->n = c->i - start;
    c->i++;
    return true;
}

static bool kom_skip_string(struct kom_cur *c)
{
    c->i++; /* the opening quote */
    while (c->i < c->n && c->t[c->i] != '"')
        c->i += c->t[c->i] == '\\' ? 2 : 1;
    if (c->i >= c->n)
        return false;
    c->i++;
    return true;
}

/* Any value: a string, an object or array by its brackets and quotes, or a
 * bare scalar up to the byte that ends it. */
static bool kom_skip_value(struct kom_cur *c)
{
    char v = kom_peek(c);
    if (v == '"')
        return kom_skip_string(c);
    if (v != '{' && v != '[') {
        size_t start = c->i;
        while (c->i < c->n && kjt_is_bare(c->t[c->i]))
            c->i++;
        return c->i > start;
    }
    size_t depth = 0;
    while (c->i < c->n) {
        char b = c->t[c->i];
        if (b == '"') {
            if (!kom_skip_string(c))
                return false;
            continue;
        }
        c->i++;
        if (b == '{' || b == '[')
            depth++;
        else if ((b == '}' || b == ']') && --depth == 0)
            return true;
    }
    return false;
}

/* The literal `lit` at the cursor (true, false, null), whole. */
static bool kom_literal(struct kom_cur *c, const char *lit)
{
    size_t n = strlen(lit);
    if (kom_peek(c) != lit[0] || c->n - c->i < n || memcmp(c->t + c->i, lit, n) != 0)
        return false;
    if (c->i + n < c->n && kjt_is_bare(c->t[c->i + n]))
        return false;
    c->i += n;
    return true;
}

/* Object and array walking: `open` consumes the bracket and says whether a
 * member follows (1), the container is empty (0) or the shape is wrong
 * (-1); `sep` after each member says the same of the next one. */
static int kom_open(struct kom_cur *c, char bracket, char close)
{
    if (!kom_eat(c, bracket))
        return -1;
    return kom_eat(c, close) ? 0 : 1;
}

static int kom_sep(struct kom_cur *c, char close)
{
    if (kom_eat(c, ','))
        return 1;
    return kom_eat(c, close) ? 0 : -1;
}

static bool kom_key(struct kom_cur *c, struct kobjmeta_str *key)
{
    return kom_plain_string(c, key) && kom_eat(c, ':');
}

static bool kom_is(const struct kobjmeta_str *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->n == n && memcmp(s->p, lit, n) == 0;
}

/* A string field: a string without escapes, or "" (another type). */
static bool kom_string_field(struct kom_cur *c, struct kobjmeta_str *out)
{
    if (kom_peek(c) == '"')
        return kom_plain_string(c, out);
    *out = (struct kobjmeta_str){"", 0};
    return kom_skip_value(c);
}

/* metadata.generation: an integer of up to 18 digits (else jansson's). */
static bool kom_generation(struct kom_cur *c, long long *out)
{
    bool neg = kom_peek(c) == '-';
    size_t start = c->i + neg, i = start;
    long long v = 0;
    while (i < c->n && c->t[i] >= '0' && c->t[i] <= '9' && i - start < 18)
        v = v * 10 + (c->t[i++] - '0');
    if (i == start || (i < c->n && kjt_is_bare(c->t[i])))
        return false;
    c->i = i;
    *out = neg ? -v : v;
    return true;
}

static bool kom_labels(struct kom_cur *c, struct kobjmeta *m, struct kobjmeta_str *lab)
{
    m->nlabels = 0;
    if (kom_peek(c) != '{')
        return kom_skip_value(c); /* null or another type: no labels */
    int more = kom_open(c, '{', '}');
    while (more == 1) {
        struct kobjmeta_str k, v;
        if (m->nlabels == KOBJMETA_MAX_LABELS || !kom_key(c, &k) || !kom_plain_string(c, &v))
            return false;
        for (size_t j = 0; j < m->nlabels; j++)
            if (lab[2 * j].n == k.n && memcmp(lab[2 * j].p, k.p, k.n) == 0)
                return false; /* a repeated key: jansson's order rules */
        lab[2 * m->nlabels] = k;
        lab[2 * m->nlabels + 1] = v;
        m->nlabels++;
        more = kom_sep(c, '}');
    }
    return more == 0;
}

/* One ownerReference: its uid and whether it is the controller. */
static bool kom_owner(struct kom_cur *c, struct kobjmeta_str *uid, bool *controller)
{
    *uid = (struct kobjmeta_str){"", 0};
    *controller = false;
    int more = kom_open(c, '{', '}');
    while (more == 1) {
        struct kobjmeta_str k;
        if (!kom_key(c, &k))
            return false;
        bool ok = kom_is(&k, "uid") ? kom_string_field(c, uid)
                  : kom_is(&k, "controller")
                      ? ((*controller = kom_literal(c, "true")) || kom_skip_value(c))
                      : kom_skip_value(c);
        if (!ok)
            return false;
        more = kom_sep(c, '}');
    }
    return more == 0;
}

static bool kom_owners(struct kom_cur *c, struct kobjmeta *m, struct kobjmeta_str *own)
{
    m->nowners = 0;
    m->controller_idx = -1;
    if (kom_peek(c) != '[')
        return kom_skip_value(c); /* null or another type: no owners */
    int more = kom_open(c, '[', ']');
    while (more == 1) {
        bool controller = false;
        if (m->nowners == KOBJMETA_MAX_OWNERS || kom_peek(c) != '{' ||
            !kom_owner(c, &own[m->nowners], &controller))
            return false;
        if (controller && m->controller_idx < 0)
            m->controller_idx = (int)m->nowners;
        m->nowners++;
        more = kom_sep(c, ']');
    }
    return more == 0;
}

static bool kom_deletion(struct kom_cur *c, struct kobjmeta *m)
{
    m->deleting = !kom_literal(c, "null");
    return !m->deleting || kom_skip_value(c);
}

/* One member of metadata, `key` read. */
static bool kom_member(struct kom_cur *c, const struct kobjmeta_str *key, struct kobjmeta *m,
                       struct kobjmeta_buf *buf)
{
    if (kom_is(key, "name")) {
        m->has_name = kom_peek(c) == '"';
        return kom_string_field(c, &m->name);
    }
    if (kom_is(key, "namespace"))
        return kom_string_field(c, &m->ns);
    if (kom_is(key, "uid"))
        return kom_string_field(c, &m->uid);
    if (kom_is(key, "resourceVersion"))
        return kom_string_field(c, &m->rv);
    if (kom_is(key, "generation"))
        return kom_generation(c, &m->generation);
    if (kom_is(key, "deletionTimestamp"))
        return kom_deletion(c, m);
    if (kom_is(key, "labels"))
        return kom_labels(c, m, buf->labels);
    if (kom_is(key, "ownerReferences"))
        return kom_owners(c, m, buf->owners);
    if (kom_is(key, "managedFields"))
        return false; /* the text must be stripped: jansson's path */
    return kom_skip_value(c);
}

bool kobjmeta_read(const char *text, size_t len, struct kobjmeta_buf *buf, struct kobjmeta *m)
{
    static const struct kobjmeta_str none = {"", 0};
    struct kom_cur c = {text, 0, len};
    m->ns = m->name = m->uid = m->rv = none;
    m->has_name = false;
    m->generation = 0;
    m->deleting = false;
    m->nlabels = m->nowners = 0;
    m->controller_idx = -1;
    /* only where the arrays are, not what they hold: */
    // cppcheck-suppress ctuuninitvar
    m->labels = buf->labels;
    m->owners = buf->owners;
    int more = kom_open(&c, '{', '}');
    while (more == 1) {
        struct kobjmeta_str key;
        if (!kom_key(&c, &key) || !kom_member(&c, &key, m, buf))
            return false;
        more = kom_sep(&c, '}');
    }
    kom_ws(&c);
    return more == 0 && c.i == c.n;
}

bool kobjmeta_string(const char *text, size_t len, struct kobjmeta_str *out)
{
    struct kom_cur c = {text, 0, len};
    if (!kom_plain_string(&c, out))
        return false;
    kom_ws(&c);
    return c.i == c.n;
}
