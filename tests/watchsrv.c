/*
 * watchsrv: fake list/watch endpoint on testsrv (see watchsrv.h).
 * `mu` guards every field; bodies handed to testsrv are kept in `keep`
 * until watchsrv_stop, because testsrv sends them after the handler returns.
 */
#include "watchsrv.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testsrv.h"

#define WS_MAX_WATCHES 64
#define WS_MAX_RECORDED 512

struct ws_watch {
    int status;
    const char *body;
    long cut;
    int delay;
};

struct watchsrv {
    struct testsrv *ts;
    pthread_mutex_t mu;
    const char *list_body;
    char **keep;
    size_t nkeep;
    int fail_status, fail_times;
    struct ws_watch q[WS_MAX_WATCHES];
    size_t nq, qhead;
    const char *idle_body;
    int nlists, nwatches;
    char *paths[WS_MAX_RECORDED];
    char *list_paths[WS_MAX_RECORDED];
};

/* Keep a copy until stop (lock held). */
static const char *ws_keep(struct watchsrv *ws, const char *s)
{
    char *d = strdup(s);
    ws->keep = realloc(ws->keep, (ws->nkeep + 1) * sizeof *ws->keep);
    if (!d || !ws->keep)
        abort();
    ws->keep[ws->nkeep++] = d;
    return d;
}

static const char *ws_status_body(struct watchsrv *ws, int code)
{
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
             "\"message\":\"scripted failure %d\",\"reason\":\"%s\",\"code\":%d}",
             code, code == 410 ? "Expired" : "InternalError", code);
    return ws_keep(ws, buf);
}

static bool ws_is_watch(const char *path)
{
    return strstr(path, "watch=1") || strstr(path, "watch=true");
}

static void ws_answer_watch(struct watchsrv *ws, const struct testsrv_req *req,
                            struct testsrv_resp *out)
{
    if (ws->nwatches < WS_MAX_RECORDED)
        ws->paths[ws->nwatches] = strdup(req->path);
    ws->nwatches++;
    if (ws->qhead < ws->nq) {
        struct ws_watch *w = &ws->q[ws->qhead++];
        out->status = w->status;
        out->delay_ms = w->delay;
        if (w->status == 200) {
            out->body = w->body;
            out->chunked = true;
            out->cut_after = w->cut;
            out->piece = 64; /* arrives in several reads, like a real stream */
        } else {
            out->body = ws_status_body(ws, w->status);
        }
        return;
    }
    out->status = 200;
    out->body = ws->idle_body;
    out->chunked = true;
    out->hold_ms = 50;
}

static void ws_handler(void *ctx, const struct testsrv_req *req, struct testsrv_resp *out)
{
    struct watchsrv *ws = ctx;
    pthread_mutex_lock(&ws->mu);
    if (!ws_is_watch(req->path) && ws->nlists < WS_MAX_RECORDED)
        ws->list_paths[ws->nlists] = strdup(req->path);
    if (ws_is_watch(req->path)) {
        ws_answer_watch(ws, req, out);
    } else if (ws->fail_times > 0) {
        ws->nlists++;
        ws->fail_times--;
        out->status = ws->fail_status;
        out->body = ws_status_body(ws, ws->fail_status);
    } else {
        ws->nlists++;
        out->status = 200;
        out->body = ws->list_body;
    }
    pthread_mutex_unlock(&ws->mu);
}

struct watchsrv *watchsrv_start(void)
{
    struct watchsrv *ws = calloc(1, sizeof *ws);
    if (!ws)
        abort();
    pthread_mutex_init(&ws->mu, NULL);
    watchsrv_set_list(ws, "1", "");
    watchsrv_set_idle_rv(ws, "1");
    ws->ts = testsrv_start();
    testsrv_set_handler(ws->ts, ws_handler, ws);
    return ws;
}

void watchsrv_stop(struct watchsrv *ws)
{
    if (!ws)
        return;
    testsrv_stop(ws->ts);
    for (size_t i = 0; i < ws->nkeep; i++)
        free(ws->keep[i]);
    free(ws->keep);
    for (int i = 0; i < ws->nwatches && i < WS_MAX_RECORDED; i++)
        free(ws->paths[i]);
    for (int i = 0; i < ws->nlists && i < WS_MAX_RECORDED; i++)
        free(ws->list_paths[i]);
    pthread_mutex_destroy(&ws->mu);
    free(ws);
}

const char *watchsrv_url(const struct watchsrv *ws)
{
    return testsrv_url(ws->ts);
}

void watchsrv_set_list(struct watchsrv *ws, const char *rv, const char *items)
{
    size_t n = strlen(items) + strlen(rv) + 128;
    char *b = malloc(n);
    if (!b)
        abort();
    snprintf(b, n,
             "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
             "\"%s\"},\"items\":[%s]}",
             rv, items);
    pthread_mutex_lock(&ws->mu);
    ws->list_body = ws_keep(ws, b);
    pthread_mutex_unlock(&ws->mu);
    free(b);
}

void watchsrv_fail_lists(struct watchsrv *ws, int status, int times)
{
    pthread_mutex_lock(&ws->mu);
    ws->fail_status = status;
    ws->fail_times = times;
    pthread_mutex_unlock(&ws->mu);
}

void watchsrv_push_watch(struct watchsrv *ws, int status, const char *body, long cut_after,
                         int delay_ms)
{
    pthread_mutex_lock(&ws->mu);
    if (ws->nq < WS_MAX_WATCHES)
        ws->q[ws->nq++] =
            (struct ws_watch){status, ws_keep(ws, body ? body : ""), cut_after, delay_ms};
    pthread_mutex_unlock(&ws->mu);
}

void watchsrv_set_idle_rv(struct watchsrv *ws, const char *rv)
{
    const char *line = watchsrv_event("BOOKMARK", NULL, NULL, rv, NULL);
    pthread_mutex_lock(&ws->mu);
    ws->idle_body = ws_keep(ws, line);
    pthread_mutex_unlock(&ws->mu);
}

int watchsrv_lists(struct watchsrv *ws)
{
    pthread_mutex_lock(&ws->mu);
    int n = ws->nlists;
    pthread_mutex_unlock(&ws->mu);
    return n;
}

int watchsrv_watches(struct watchsrv *ws)
{
    pthread_mutex_lock(&ws->mu);
    int n = ws->nwatches;
    pthread_mutex_unlock(&ws->mu);
    return n;
}

const char *watchsrv_watch_path(struct watchsrv *ws, int i, char *buf, size_t size)
{
    const char *r = NULL;
    pthread_mutex_lock(&ws->mu);
    if (i >= 0 && i < ws->nwatches && i < WS_MAX_RECORDED && ws->paths[i]) {
        snprintf(buf, size, "%s", ws->paths[i]);
        r = buf;
    }
    pthread_mutex_unlock(&ws->mu);
    return r;
}

const char *watchsrv_list_path(struct watchsrv *ws, int i, char *buf, size_t size)
{
    const char *r = NULL;
    pthread_mutex_lock(&ws->mu);
    if (i >= 0 && i < ws->nlists && i < WS_MAX_RECORDED && ws->list_paths[i]) {
        snprintf(buf, size, "%s", ws->list_paths[i]);
        r = buf;
    }
    pthread_mutex_unlock(&ws->mu);
    return r;
}

const char *watchsrv_watch_rv(struct watchsrv *ws, int i, char *buf, size_t size)
{
    char path[2048];
    if (!watchsrv_watch_path(ws, i, path, sizeof path))
        return NULL;
    const char *p = strstr(path, "resourceVersion=");
    if (!p)
        return NULL;
    p += strlen("resourceVersion=");
    size_t n = strcspn(p, "&");
    snprintf(buf, size, "%.*s", (int)n, p);
    return buf;
}

static char *ws_rot(void)
{
    static char bufs[8][2048];
    static int next;
    return bufs[next++ % 8];
}

static const char *ws_meta(char *b, size_t n, const char *ns, const char *name, const char *rv)
{
    snprintf(b, n,
             "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"uid-%s\","
             "\"resourceVersion\":\"%s\",\"labels\":{\"app\":\"%s\"},\"managedFields\":["
             "{\"manager\":\"test\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
             "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":{\".\":{},\"f:x\":{}}}}]}",
             name, ns, name, rv, name);
    return b;
}

const char *watchsrv_event(const char *type, const char *ns, const char *name, const char *rv,
                           const char *x)
{
    char *b = ws_rot(), meta[1024];
    if (strcmp(type, "BOOKMARK") == 0) {
        snprintf(b, 2048,
                 "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
                 "\"metadata\":{\"resourceVersion\":\"%s\",\"creationTimestamp\":null}}}\n",
                 rv);
        return b;
    }
    snprintf(b, 2048,
             "{\"type\":\"%s\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",%s,"
             "\"data\":{\"x\":\"%s\"}}}\n",
             type, ws_meta(meta, sizeof meta, ns, name, rv), x);
    return b;
}

const char *watchsrv_item(const char *ns, const char *name, const char *rv, const char *x)
{
    char *b = ws_rot(), meta[1024];
    snprintf(b, 2048, "{%s,\"data\":{\"x\":\"%s\"}}", ws_meta(meta, sizeof meta, ns, name, rv), x);
    return b;
}

bool watchsrv_wait(bool (*pred)(void *ctx), void *ctx, int timeout_ms)
{
    struct timespec d = {0, 5 * 1000000L};
    for (int waited = 0; waited < timeout_ms; waited += 5) {
        if (pred(ctx))
            return true;
        nanosleep(&d, NULL);
    }
    return pred(ctx);
}
