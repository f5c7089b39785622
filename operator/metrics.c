/*
 * metrics: Prometheus registry (counters, gauges, histograms with labels)
 * and the text exposition format 0.0.4. See metrics.h.
 *
 * A family keeps its children in the runtime's hash map (kmap, lookup by
 * label values) and in a doubly linked list (stable render order, O(1)
 * delete).
 * A child is one allocation: the struct, its label value pointers and the
 * value bytes. Histogram bucket counts are stored per bucket and summed into
 * cumulative counts when rendered.
 */
#include "metrics.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khash.h"
#include "kmap.h"

static const double default_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct metrics_child {
    struct kmap_node node;             /* in the family's table */
    struct metrics_child *prev, *next; /* insertion order */
    double value;                      /* counter, gauge; histogram sum */
    uint64_t count;                    /* histogram observations */
    uint64_t *buckets;                 /* histogram: per-bucket counts (nbounds), not cumulative */
    char **values;                     /* nlabels label values */
};

struct metrics_family {
    pthread_mutex_t mu; /* guards table, list and every child's values */
    char *name;
    char *help;
    enum metrics_type type;
    char **labels;
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    struct kmap table; /* metrics_child by label values */
    struct metrics_child *head, *tail;
    struct metrics_family *next;
    metrics_emit_fn emit; /* func family: samples come from emit(emit_ctx) */
    void *emit_ctx;
};

struct metrics_emitter {
    FILE *out;
    const struct metrics_family *f;
    bool started;    /* HELP and TYPE written */
    uint64_t resume; /* skip records at or before this mark */
    uint64_t mark;   /* the last mark reached */
    long limit;      /* piece size (bytes written to out); 0: no limit */
    bool full;       /* the piece is full: stop at this mark */
};

struct collector {
    metrics_collector_fn fn;
    void *ctx;
};

struct metrics {
    pthread_mutex_t mu; /* guards the family list and the collector array */
    struct metrics_family *head, *tail;
    struct collector *collectors;
    size_t ncollectors;
};

struct metrics *metrics_new(void)
{
    struct metrics *m = kerr_xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

static void family_free(struct metrics_family *f)
{
    struct metrics_child *c = f->head;
    while (c) {
        struct metrics_child *next = c->next;
        free(c);
        c = next;
    }
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->labels);
    free(f->bounds);
    kmap_free(&f->table);
    free(f->name);
    free(f->help);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    struct metrics_family *f = m->head;
    while (f) {
        struct metrics_family *next = f->next;
        family_free(f);
        f = next;
    }
    free(m->collectors);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static bool valid_name(const char *s, bool colon)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                     (colon && *p == ':');
        if (!alpha && !(p > s && *p >= '0' && *p <= '9'))
            return false;
    }
    return true;
}

static enum kerr check_labels(const struct metrics_desc *d, struct kerr_info *err)
{
    for (size_t i = 0; i < d->nlabels; i++) {
        const char *l = d->labels[i];
        if (!valid_name(l, false) || strncmp(l, "__", 2) == 0)
            return kerr_set(err, KERR_INVAL, 0, "BadLabel", "metric %s: invalid label name \"%s\"",
                            d->name, l ? l : "");
        if (d->type == METRICS_HISTOGRAM && strcmp(l, "le") == 0)
            return kerr_set(err, KERR_INVAL, 0, "BadLabel",
                            "metric %s: histograms cannot have a label \"le\"", d->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(d->labels[j], l) == 0)
                return kerr_set(err, KERR_INVAL, 0, "BadLabel", "metric %s: duplicate label \"%s\"",
                                d->name, l);
    }
    return KERR_OK;
}

static enum kerr check_desc(const struct metrics_desc *d, struct kerr_info *err)
{
    if (!valid_name(d->name, true))
        return kerr_set(err, KERR_INVAL, 0, "BadName", "invalid metric name \"%s\"",
                        d->name ? d->name : "");
    if (d->type != METRICS_COUNTER && d->type != METRICS_GAUGE && d->type != METRICS_HISTOGRAM)
        return kerr_set(err, KERR_INVAL, 0, "BadType", "metric %s: unknown type", d->name);
    enum kerr e = check_labels(d, err);
    if (e != KERR_OK)
        return e;
    if (d->type == METRICS_HISTOGRAM && d->buckets) {
        if (d->nbuckets == 0)
            return kerr_set(err, KERR_INVAL, 0, "BadBuckets", "metric %s: no buckets", d->name);
        for (size_t i = 0; i < d->nbuckets; i++)
            if (!isfinite(d->buckets[i]) || (i > 0 && d->buckets[i] <= d->buckets[i - 1]))
                return kerr_set(err, KERR_INVAL, 0, "BadBuckets",
                                "metric %s: buckets must be finite and strictly increasing",
                                d->name);
    }
    return KERR_OK;
}

static struct metrics_family *find_locked(struct metrics *m, const char *name)
{
    for (struct metrics_family *f = m->head; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static struct metrics_family *family_new(const struct metrics_desc *d)
{
    struct metrics_family *f = kerr_xcalloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->name = kerr_xstrdup(d->name);
    f->help = kerr_xstrdup(d->help ? d->help : "");
    f->type = d->type;
    f->nlabels = d->nlabels;
    f->labels = kerr_xcalloc(d->nlabels ? d->nlabels : 1, sizeof *f->labels);
    for (size_t i = 0; i < d->nlabels; i++)
        f->labels[i] = kerr_xstrdup(d->labels[i]);
    if (d->type == METRICS_HISTOGRAM) {
        const double *b = d->buckets ? d->buckets : default_buckets;
        f->nbounds = d->buckets ? d->nbuckets : sizeof default_buckets / sizeof default_buckets[0];
        f->bounds = kerr_xmalloc(f->nbounds * sizeof *f->bounds);
        memcpy(f->bounds, b, f->nbounds * sizeof *f->bounds);
    }
    kmap_init(&f->table);
    return f;
}

static enum kerr register_family(struct metrics *m, const struct metrics_desc *d,
                                 metrics_emit_fn fn, void *ctx, struct metrics_family **out,
                                 struct kerr_info *err)
{
    enum kerr e = check_desc(d, err);
    if (e != KERR_OK)
        return e;
    pthread_mutex_lock(&m->mu);
    if (find_locked(m, d->name)) {
        pthread_mutex_unlock(&m->mu);
        return kerr_set(err, KERR_EXISTS, 0, "Duplicate", "metric %s is already registered",
                        d->name);
    }
    struct metrics_family *f = family_new(d);
    f->emit = fn;
    f->emit_ctx = ctx;
    if (m->tail)
        m->tail->next = f;
    else
        m->head = f;
    m->tail = f;
    pthread_mutex_unlock(&m->mu);
    if (out)
        *out = f;
    return KERR_OK;
}

enum kerr metrics_register(struct metrics *m, const struct metrics_desc *d,
                           struct metrics_family **out, struct kerr_info *err)
{
    return register_family(m, d, NULL, NULL, out, err);
}

enum kerr metrics_register_func(struct metrics *m, const struct metrics_desc *d, metrics_emit_fn fn,
                                void *ctx, struct metrics_family **out, struct kerr_info *err)
{
    if (!fn || d->type == METRICS_HISTOGRAM)
        return kerr_set(err, KERR_INVAL, 0, "BadType",
                        "metric %s: a func family is a counter or gauge with a function",
                        d->name ? d->name : "");
    return register_family(m, d, fn, ctx, out, err);
}

struct metrics_family *metrics_find(struct metrics *m, const char *name)
{
    pthread_mutex_lock(&m->mu);
    struct metrics_family *f = find_locked(m, name);
    pthread_mutex_unlock(&m->mu);
    return f;
}

void metrics_add_collector(struct metrics *m, metrics_collector_fn fn, void *ctx)
{
    pthread_mutex_lock(&m->mu);
    m->collectors = kerr_xrealloc(m->collectors, (m->ncollectors + 1) * sizeof *m->collectors);
    m->collectors[m->ncollectors++] = (struct collector){fn, ctx};
    pthread_mutex_unlock(&m->mu);
}

/* ---- children ---- */

static const char *val_at(const char *const *values, size_t i)
{
    return (values && values[i]) ? values[i] : "";
}

static uint64_t hash_values(const struct metrics_family *f, const char *const *values)
{
    uint64_t h = KHASH_INIT;
    for (size_t i = 0; i < f->nlabels; i++) /* terminated: "a","bc" != "ab","c" */
        h = khash_field(h, val_at(values, i));
    return h;
}

/* What same_values compares a child with. */
struct values_key {
    const struct metrics_family *f;
    const char *const *values;
};

static bool same_values(const struct kmap_node *n, const void *key)
{
    const struct metrics_child *c = KMAP_ENTRY(n, const struct metrics_child, node);
    const struct values_key *k = key;
    for (size_t i = 0; i < k->f->nlabels; i++)
        if (strcmp(c->values[i], val_at(k->values, i)) != 0)
            return false;
    return true;
}

/* One allocation: child, bucket counts, value pointers, value bytes. */
static struct metrics_child *child_alloc(struct metrics_family *f, const char *const *values)
{
    size_t bytes = 0;
    for (size_t i = 0; i < f->nlabels; i++)
        bytes += strlen(val_at(values, i)) + 1;
    size_t nb = f->type == METRICS_HISTOGRAM ? f->nbounds : 0;
    size_t size =
        sizeof(struct metrics_child) + nb * sizeof(uint64_t) + f->nlabels * sizeof(char *) + bytes;
    struct metrics_child *c = kerr_xcalloc(1, size);
    unsigned char *p = (unsigned char *)(c + 1);
    c->buckets = nb ? (uint64_t *)p : NULL;
    p += nb * sizeof(uint64_t);
    c->values = (char **)p;
    char *s = (char *)(p + f->nlabels * sizeof(char *));
    for (size_t i = 0; i < f->nlabels; i++) {
        size_t n = strlen(val_at(values, i)) + 1;
        memcpy(s, val_at(values, i), n);
        c->values[i] = s;
        s += n;
    }
    return c;
}

/* Find (or with `create`, make) the child. Family must be locked. */
static struct metrics_child *child_get(struct metrics_family *f, const char *const *values,
                                       bool create)
{
    uint64_t h = hash_values(f, values);
    struct values_key k = {f, values};
    struct metrics_child *c =
        KMAP_ENTRY(kmap_find(&f->table, h, same_values, &k), struct metrics_child, node);
    if (c || !create)
        return c;
    c = child_alloc(f, values);
    kmap_insert(&f->table, &c->node, h);
    c->prev = f->tail;
    if (f->tail)
        f->tail->next = c;
    else
        f->head = c;
    f->tail = c;
    return c;
}

static void child_unlink(struct metrics_family *f, struct metrics_child *c)
{
    kmap_remove(&f->table, &c->node);
    if (c->prev)
        c->prev->next = c->next;
    else
        f->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        f->tail = c->prev;
    free(c);
}

static void update(struct metrics_family *f, enum metrics_type want, const char *const *values,
                   double v, bool set)
{
    if (!f || f->type != want || f->emit)
        return;
    pthread_mutex_lock(&f->mu);
    struct metrics_child *c = child_get(f, values, true);
    if (want == METRICS_HISTOGRAM) {
        size_t i = 0;
        while (i < f->nbounds && !(v <= f->bounds[i]))
            i++;
        if (i < f->nbounds)
            c->buckets[i]++;
        c->count++;
        c->value += v;
    } else if (set) {
        c->value = v;
    } else {
        c->value += v;
    }
    pthread_mutex_unlock(&f->mu);
}

void metrics_counter_add(struct metrics_family *f, const char *const *values, double v)
{
    if (v >= 0) /* also rejects NaN */
        update(f, METRICS_COUNTER, values, v, false);
}

void metrics_counter_set(struct metrics_family *f, const char *const *values, double v)
{
    if (v >= 0)
        update(f, METRICS_COUNTER, values, v, true);
}

void metrics_gauge_set(struct metrics_family *f, const char *const *values, double v)
{
    update(f, METRICS_GAUGE, values, v, true);
}

void metrics_gauge_add(struct metrics_family *f, const char *const *values, double v)
{
    update(f, METRICS_GAUGE, values, v, false);
}

void metrics_histogram_observe(struct metrics_family *f, const char *const *values, double v)
{
    update(f, METRICS_HISTOGRAM, values, v, false);
}

bool metrics_value(struct metrics_family *f, const char *const *values, double *out)
{
    pthread_mutex_lock(&f->mu);
    struct metrics_child *c = child_get(f, values, false);
    if (c)
        *out = f->type == METRICS_HISTOGRAM ? (double)c->count : c->value;
    pthread_mutex_unlock(&f->mu);
    return c != NULL;
}

size_t metrics_children(struct metrics_family *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = kmap_count(&f->table);
    pthread_mutex_unlock(&f->mu);
    return n;
}

bool metrics_delete(struct metrics_family *f, const char *const *values)
{
    pthread_mutex_lock(&f->mu);
    struct metrics_child *c = child_get(f, values, false);
    if (c)
        child_unlink(f, c);
    pthread_mutex_unlock(&f->mu);
    return c != NULL;
}

size_t metrics_delete_if(struct metrics_family *f, metrics_pred_fn pred, void *ctx)
{
    size_t n = 0;
    pthread_mutex_lock(&f->mu);
    struct metrics_child *c = f->head;
    while (c) {
        struct metrics_child *next = c->next;
        if (pred(ctx, (const char *const *)c->values)) {
            child_unlink(f, c);
            n++;
        }
        c = next;
    }
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* ---- rendering ---- */

/* Shortest text that reads back as v; integers without a fraction. */
static void fmt_double(char *buf, size_t size, double v)
{
    if (isnan(v)) {
        snprintf(buf, size, "NaN");
    } else if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
    } else if (v == 0) {
        snprintf(buf, size, "0");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, size, "%.0f", v);
    } else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, size, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
    }
}

static void put_escaped(FILE *out, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", out);
        else if (*s == '\n')
            fputs("\\n", out);
        else if (quote && *s == '"')
            fputs("\\\"", out);
        else
            fputc(*s, out);
    }
}

/* {a="x",b="y"[,le="..."]} or nothing when there are no labels at all. */
static void put_labels(FILE *out, const struct metrics_family *f, const struct metrics_child *c,
                       const char *le)
{
    if (f->nlabels == 0 && !le)
        return;
    fputc('{', out);
    for (size_t i = 0; i < f->nlabels; i++) {
        fprintf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
        put_escaped(out, c->values[i], true);
        fputc('"', out);
    }
    if (le)
        fprintf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    fputc('}', out);
}

static void put_sample(FILE *out, const struct metrics_family *f, const struct metrics_child *c,
                       const char *suffix, const char *le, double v)
{
    char num[40];
    fmt_double(num, sizeof num, v);
    fputs(f->name, out);
    fputs(suffix, out);
    put_labels(out, f, c, le);
    fprintf(out, " %s\n", num);
}

static void render_histogram(FILE *out, const struct metrics_family *f,
                             const struct metrics_child *c)
{
    char le[40];
    uint64_t cum = 0;
    for (size_t i = 0; i < f->nbounds; i++) {
        cum += c->buckets[i];
        fmt_double(le, sizeof le, f->bounds[i]);
        put_sample(out, f, c, "_bucket", le, (double)cum);
    }
    put_sample(out, f, c, "_bucket", "+Inf", (double)c->count);
    put_sample(out, f, c, "_sum", NULL, c->value);
    put_sample(out, f, c, "_count", NULL, (double)c->count);
}

static void put_help_type(FILE *out, const struct metrics_family *f)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    fprintf(out, "# HELP %s ", f->name);
    put_escaped(out, f->help, false);
    fprintf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
}

void metrics_emit(struct metrics_emitter *e, const char *const *values, double v)
{
    const struct metrics_family *f = e->f;
    char num[40];
    if (!e->started) {
        put_help_type(e->out, f);
        e->started = true;
    }
    fmt_double(num, sizeof num, v);
    fputs(f->name, e->out);
    if (f->nlabels > 0) {
        fputc('{', e->out);
        for (size_t i = 0; i < f->nlabels; i++) {
            fprintf(e->out, "%s%s=\"", i ? "," : "", f->labels[i]);
            put_escaped(e->out, val_at(values, i), true);
            fputc('"', e->out);
        }
        fputc('}', e->out);
    }
    fprintf(e->out, " %s\n", num);
}

uint64_t metrics_emit_resume(const struct metrics_emitter *e)
{
    return e->resume;
}

bool metrics_emit_mark(struct metrics_emitter *e, uint64_t pos)
{
    e->mark = pos;
    if (e->limit > 0 && ftell(e->out) >= e->limit)
        e->full = true;
    return !e->full;
}

static void render_family(FILE *out, struct metrics_family *f)
{
    if (f->emit) {
        struct metrics_emitter e = {.out = out, .f = f};
        f->emit(f->emit_ctx, &e);
        return;
    }
    pthread_mutex_lock(&f->mu);
    if (kmap_count(&f->table) > 0) {
        put_help_type(out, f);
        for (const struct metrics_child *c = f->head; c; c = c->next) {
            if (f->type == METRICS_HISTOGRAM)
                render_histogram(out, f, c);
            else
                put_sample(out, f, c, "", NULL, c->value);
        }
    }
    pthread_mutex_unlock(&f->mu);
}

static void run_collectors(struct metrics *m)
{
    pthread_mutex_lock(&m->mu);
    size_t n = m->ncollectors;
    struct collector *copy = kerr_xmalloc((n ? n : 1) * sizeof *copy);
    if (n)
        memcpy(copy, m->collectors, n * sizeof *copy);
    pthread_mutex_unlock(&m->mu);
    for (size_t i = 0; i < n; i++)
        copy[i].fn(copy[i].ctx);
    free(copy);
}

char *metrics_render(struct metrics *m, size_t *len)
{
    run_collectors(m);
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    if (!out)
        kerr_oom();
    pthread_mutex_lock(&m->mu);
    for (struct metrics_family *f = m->head; f; f = f->next)
        render_family(out, f);
    pthread_mutex_unlock(&m->mu);
    if (fclose(out) != 0)
        kerr_oom();
    if (len)
        *len = size;
    return buf;
}

/* ---- incremental rendering ---- */

struct metrics_stream {
    struct metrics *m;
    size_t family;   /* index of the next family to render */
    uint64_t resume; /* within a func family: the last mark written */
    bool started;    /* that family's HELP and TYPE are out */
};

struct metrics_stream *metrics_stream_new(struct metrics *m)
{
    struct metrics_stream *s = kerr_xcalloc(1, sizeof *s);
    s->m = m;
    run_collectors(m);
    return s;
}

/* Render family f into out, from where the stream stopped; true when the
 * family is done, false when the piece filled up inside it. */
static bool stream_family(struct metrics_stream *s, struct metrics_family *f, FILE *out, long limit)
{
    if (!f->emit) {
        render_family(out, f);
        return true;
    }
    struct metrics_emitter e = {.out = out,
                                .f = f,
                                .started = s->started,
                                .resume = s->resume,
                                .mark = s->resume,
                                .limit = limit};
    f->emit(f->emit_ctx, &e);
    s->started = e.started;
    s->resume = e.mark;
    return !e.full;
}

char *metrics_stream_next(struct metrics_stream *s, size_t hint, size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    if (!out)
        kerr_oom();
    long limit = hint > 0 && hint < (size_t)LONG_MAX ? (long)hint : 1;
    pthread_mutex_lock(&s->m->mu);
    struct metrics_family *f = s->m->head;
    for (size_t i = 0; f && i < s->family; i++)
        f = f->next;
    while (f && ftell(out) < limit) {
        if (!stream_family(s, f, out, limit))
            break;
        f = f->next;
        s->family++;
        s->resume = 0;
        s->started = false;
    }
    pthread_mutex_unlock(&s->m->mu);
    if (fclose(out) != 0)
        kerr_oom();
    if (size == 0 && !f) {
        free(buf);
        return NULL;
    }
    if (len)
        *len = size;
    return buf;
}

void metrics_stream_free(struct metrics_stream *s)
{
    free(s);
}
