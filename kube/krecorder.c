/*
 * krecorder: events.k8s.io/v1 Event recorder with de-duplication (see
 * krecorder.h).
 *
 * The de-duplication cache holds one small allocation per recent Event,
 * identified by a 64-bit FNV-1a hash of (object, type, reason, action,
 * note) rather than the strings themselves, plus the Event's namespace and
 * name (needed for the series patch). Entries sit in the runtime's hash map
 * (kmap, keyed by that hash alone) and in a list in creation order (the
 * oldest first), so expiry and eviction pop the list's head. Memory
 * follows the Events recorded in the last window (~100 B each), not the
 * bound: an operator that records nothing holds no table at all.
 */
#include "krecorder.h"
#include "khash.h"
#include "kmap.h"
#include "ktime.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KREC_CACHE 4096 /* default bound on entries */

static const struct kres krec_res = {"events.k8s.io", "v1", "events"};

struct krec_entry {
    struct kmap_node node;          /* in the cache; its hash identifies the Event */
    struct krec_entry *prev, *next; /* creation order, oldest at head */
    double first_at;                /* monotonic seconds of the Event's creation */
    double patched_at;
    long count; /* occurrences so far (the first included) */
    char *name; /* points into ns[] after the namespace's NUL */
    char ns[];  /* "<namespace>\0<name>\0" */
};

struct krecorder {
    struct kclient *client;
    char *controller, *instance;
    pthread_mutex_t mu; /* guards the cache (table, list) and seq */
    struct kmap table;  /* krec_entry by hash */
    size_t cap;
    struct krec_entry *head, *tail;
    unsigned long seq;
    double window_s, interval_s; /* set before sharing, then read-only */
};

static uint64_t krec_hash(uint64_t h, const char *s)
{
    return khash_step(khash_str(h, s), 0x1f); /* field separator */
}

/* Cut `s` to at most max bytes without splitting a UTF-8 sequence. */
static void krec_truncate_utf8(char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--; /* s[n] is a continuation byte: its sequence started earlier */
    s[n] = '\0';
}

static const char *krec_meta(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), key));
}

static json_t *krec_regarding(const json_t *obj)
{
    json_t *r = json_object();
    const char *fields[][2] = {{"apiVersion", NULL}, {"kind", NULL}, {"namespace", "m"},
                               {"name", "m"},        {"uid", "m"},   {"resourceVersion", "m"}};
    if (!r)
        kerr_oom();
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = fields[i][1] ? krec_meta(obj, fields[i][0])
                                     : json_string_value(json_object_get(obj, fields[i][0]));
        if (v && *v)
            json_object_set_new(r, fields[i][0], json_string(v));
    }
    return r;
}

/* Event name: "<object name>.<hex nanoseconds><seq>", at most 253 bytes. */
static void krec_event_name(struct krecorder *rec, const char *obj_name, char out[254])
{
    struct timespec ts;
    unsigned long seq;
    char suffix[48];
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&rec->mu);
    seq = rec->seq++;
    pthread_mutex_unlock(&rec->mu);
    snprintf(suffix, sizeof suffix, ".%llx%lx",
             (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec,
             seq % 4096);
    int room = 253 - (int)strlen(suffix);
    snprintf(out, 254, "%.*s%s", room, obj_name, suffix);
}

/* ---- the cache (lock held) ---- */

static void krec_unlink(struct krecorder *rec, struct krec_entry *e)
{
    kmap_remove(&rec->table, &e->node);
    if (rec->head == e)
        rec->head = e->next;
    else
        e->prev->next = e->next;
    if (rec->tail == e)
        rec->tail = e->prev;
    else
        e->next->prev = e->prev;
    free(e);
}

/* Drop the entries whose window has passed (the oldest are at the head). */
static void krec_expire(struct krecorder *rec, double now)
{
    while (rec->head && now - rec->head->first_at >= rec->window_s)
        krec_unlink(rec, rec->head);
}

/* The live entry for h; one whose window has passed is dropped (threads
 * may insert slightly out of time order, so expiry from the head can miss
 * it). */
static struct krec_entry *krec_find(struct krecorder *rec, uint64_t h, double now)
{
    struct krec_entry *e =
        KMAP_ENTRY(kmap_find(&rec->table, h, NULL, NULL), struct krec_entry, node);
    if (!e || now - e->first_at < rec->window_s)
        return e;
    krec_unlink(rec, e);
    return NULL;
}

/* A new entry (the newest), evicting the oldest when the cache is full. */
static void krec_insert(struct krecorder *rec, uint64_t h, double now, const char *ns,
                        const char *name)
{
    while (kmap_count(&rec->table) >= rec->cap && rec->head)
        krec_unlink(rec, rec->head);
    size_t nl = strlen(ns) + 1, ml = strlen(name) + 1;
    struct krec_entry *e = kerr_xmalloc(sizeof *e + nl + ml);
    *e = (struct krec_entry){.first_at = now, .patched_at = now, .count = 1};
    memcpy(e->ns, ns, nl);
    e->name = e->ns + nl;
    memcpy(e->name, name, ml);
    kmap_insert(&rec->table, &e->node, h);
    e->prev = rec->tail;
    if (rec->tail)
        rec->tail->next = e;
    else
        rec->head = e;
    rec->tail = e;
}

static void krec_forget(struct krecorder *rec, uint64_t h, const char *name)
{
    pthread_mutex_lock(&rec->mu);
    struct krec_entry *e = krec_find(rec, h, ktime_mono_s());
    if (e && strcmp(e->name, name) == 0)
        krec_unlink(rec, e);
    pthread_mutex_unlock(&rec->mu);
}

/* ---- writes ---- */

struct krec_event {
    const json_t *regarding;
    const char *type, *reason, *action, *note, *ns;
    char name[254];
};

static enum kerr krec_create(struct krecorder *rec, const struct krec_event *ev)
{
    char now[48];
    ktime_microtime(now);
    json_t *body =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "apiVersion",
                  "events.k8s.io/v1", "kind", "Event", "metadata", "name", ev->name, "namespace",
                  ev->ns, "eventTime", now, "reportingController", rec->controller,
                  "reportingInstance", rec->instance, "action", ev->action, "reason", ev->reason,
                  "type", ev->type, "note", ev->note, "regarding", krec_regarding(ev->regarding));
    if (!body)
        kerr_oom();
    enum kerr e = kclient_create(rec->client, &krec_res, ev->ns, body, NULL, NULL);
    json_decref(body);
    return e;
}

static enum kerr krec_patch_series(struct krecorder *rec, const char *ns, const char *name,
                                   long count)
{
    char now[48];
    ktime_microtime(now);
    json_t *patch =
        json_pack("{s:{s:I, s:s}}", "series", "count", (json_int_t)count, "lastObservedTime", now);
    if (!patch)
        kerr_oom();
    enum kerr e = kclient_merge_patch(rec->client, &krec_res, ns, name, NULL, patch, NULL, NULL);
    json_decref(patch);
    return e;
}

/* ---- public API ---- */

struct krecorder *krecorder_new(struct kclient *c, const char *controller, const char *instance)
{
    struct krecorder *rec = kerr_xcalloc(1, sizeof *rec);
    rec->client = c;
    rec->controller = kerr_xstrdup(controller ? controller : "");
    rec->instance = kerr_xstrdup(instance ? instance : "");
    rec->cap = KREC_CACHE;
    kmap_init(&rec->table);
    pthread_mutex_init(&rec->mu, NULL);
    rec->window_s = KRECORDER_DEDUP_WINDOW_S;
    rec->interval_s = KRECORDER_SERIES_INTERVAL_S;
    return rec;
}

void krecorder_set_timing(struct krecorder *rec, double window_s, double series_interval_s)
{
    rec->window_s = window_s;
    rec->interval_s = series_interval_s;
}

void krecorder_set_capacity(struct krecorder *rec, size_t max_entries)
{
    rec->cap = max_entries ? max_entries : 1;
}

size_t krecorder_cached(struct krecorder *rec)
{
    pthread_mutex_lock(&rec->mu);
    size_t n = kmap_count(&rec->table);
    pthread_mutex_unlock(&rec->mu);
    return n;
}

void krecorder_free(struct krecorder *rec)
{
    if (!rec)
        return;
    pthread_mutex_destroy(&rec->mu);
    while (rec->head)
        krec_unlink(rec, rec->head);
    kmap_free(&rec->table);
    free(rec->controller);
    free(rec->instance);
    free(rec);
}

static bool krec_valid(const char *type, const char *reason, const char *action,
                       const json_t *regarding)
{
    if (!type || (strcmp(type, "Normal") != 0 && strcmp(type, "Warning") != 0))
        return false;
    if (!reason || !*reason || !action || !*action)
        return false;
    const char *name = krec_meta(regarding, "name");
    return name && *name;
}

/* Record ev (hash h): a new Event, a series patch, or folded. */
static enum kerr krec_record(struct krecorder *rec, struct krec_event *ev, uint64_t h)
{
    char ns[64], name[254];
    double now = ktime_mono_s();
    krec_event_name(rec, krec_meta(ev->regarding, "name"), ev->name);
    pthread_mutex_lock(&rec->mu);
    krec_expire(rec, now);
    struct krec_entry *e = krec_find(rec, h, now);
    if (e) {
        long count = ++e->count;
        bool due = now - e->patched_at >= rec->interval_s;
        if (due) {
            e->patched_at = now;
            snprintf(ns, sizeof ns, "%s", e->ns);
            snprintf(name, sizeof name, "%s", e->name);
        }
        pthread_mutex_unlock(&rec->mu);
        if (!due)
            return KERR_OK; /* folded into the next series update */
        enum kerr err = krec_patch_series(rec, ns, name, count);
        if (err != KERR_OK)
            krec_forget(rec, h, name); /* e.g. the Event expired: start over */
        return err;
    }
    krec_insert(rec, h, now, ev->ns, ev->name);
    pthread_mutex_unlock(&rec->mu);
    enum kerr err = krec_create(rec, ev);
    if (err != KERR_OK)
        krec_forget(rec, h, ev->name);
    return err;
}

enum kerr krecorder_event(struct krecorder *rec, const json_t *regarding, const char *type,
                          const char *reason, const char *action, const char *fmt, ...)
{
    char note[4096];
    va_list ap;
    if (!rec || !krec_valid(type, reason, action, regarding) || !fmt)
        return KERR_INVAL;
    va_start(ap, fmt);
    vsnprintf(note, sizeof note, fmt, ap);
    va_end(ap);
    krec_truncate_utf8(note, KRECORDER_NOTE_MAX);
    const char *ns = krec_meta(regarding, "namespace");
    const char *uid = krec_meta(regarding, "uid");
    struct krec_event ev = {.regarding = regarding,
                            .type = type,
                            .reason = reason,
                            .action = action,
                            .note = note,
                            .ns = (ns && *ns) ? ns : "default"};
    uint64_t h = KHASH_INIT;
    if (uid && *uid) {
        h = krec_hash(h, uid);
    } else {
        h = krec_hash(h, ev.ns);
        h = krec_hash(h, krec_meta(regarding, "name"));
    }
    h = krec_hash(krec_hash(krec_hash(krec_hash(h, type), reason), action), note);
    return krec_record(rec, &ev, h);
}
