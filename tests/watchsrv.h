/*
 * watchsrv: a fake Kubernetes collection endpoint (list + watch) on top of
 * testsrv, for the kwatch and kinformer suites (shared test helper).
 *
 * Lists (GET without watch=1) answer the current list (set with
 * watchsrv_set_list), or a scripted error for the next N lists. Watches
 * (GET with watch=1) take the next scripted watch response in order; when
 * none is left they answer an "idle" watch: one BOOKMARK at the idle
 * resourceVersion, held open ~50 ms, then a normal end. Every watch
 * request's resourceVersion parameter is recorded.
 *
 * Strings given are copied; everything is freed by watchsrv_stop.
 */
#ifndef GRACE_WATCHSRV_H
#define GRACE_WATCHSRV_H

#include <stdbool.h>
#include <stddef.h>

struct watchsrv;

struct watchsrv *watchsrv_start(void);
void watchsrv_stop(struct watchsrv *ws);
const char *watchsrv_url(const struct watchsrv *ws);

/* The list answered from now on: a v1 ConfigMapList at `rv` with `items`
 * (comma-separated JSON objects, may be ""). */
void watchsrv_set_list(struct watchsrv *ws, const char *rv, const char *items);

/* The next `times` lists answer HTTP `status` with a Status body. */
void watchsrv_fail_lists(struct watchsrv *ws, int status, int times);

/* Queue a watch response: HTTP `status` (200: chunked stream), `body` (the
 * event lines), cut the connection after `cut_after` body bytes (0: no
 * cut), wait `delay_ms` before answering. */
void watchsrv_push_watch(struct watchsrv *ws, int status, const char *body, long cut_after,
                         int delay_ms);

/* The resourceVersion idle watches bookmark (default "1"). */
void watchsrv_set_idle_rv(struct watchsrv *ws, const char *rv);

int watchsrv_lists(struct watchsrv *ws);
int watchsrv_watches(struct watchsrv *ws);

/* resourceVersion parameter of the i-th watch (0-based), or NULL (copied
 * into buf). */
const char *watchsrv_watch_rv(struct watchsrv *ws, int i, char *buf, size_t size);

/* The path (with query) of the i-th list (0-based), copied into buf, or NULL. */
const char *watchsrv_list_path(struct watchsrv *ws, int i, char *buf, size_t size);

/* The path (with query) of the i-th watch, copied into buf, or NULL. */
const char *watchsrv_watch_path(struct watchsrv *ws, int i, char *buf, size_t size);

/* One watch event line (ending in "\n") for ConfigMap ns/name at rv with
 * data {"x": x}; managedFields included like a real server. Static buffer
 * rotation: valid for the next 8 calls. type "BOOKMARK" makes a bookmark
 * (ns, name, x ignored). */
const char *watchsrv_event(const char *type, const char *ns, const char *name, const char *rv,
                           const char *x);

/* A list item (no kind/apiVersion, like built-in list items). Same
 * buffer rotation as watchsrv_event. */
const char *watchsrv_item(const char *ns, const char *name, const char *rv, const char *x);

/* Poll `pred(ctx)` every 5 ms until true or timeout; returns its last value. */
bool watchsrv_wait(bool (*pred)(void *ctx), void *ctx, int timeout_ms);

#endif
