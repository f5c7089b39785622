/*
 * manager_http: what the operator's HTTP server serves (manager.c starts
 * it): /healthz and /readyz (ready once every informer has synced),
 * /metrics streamed in pieces, GET /directory, and the GraceService
 * admission webhook (validation through the controller, defaulting from
 * the CRD's defaults) over TLS with a given or generated certificate.
 * The callbacks run on the httpd threads (see httpd.h).
 */
#include "manager_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_render.h"
#include "log.h"
#include "tlsgen.h"

static bool ready_cb(void *ctx, char *reason, size_t size)
{
    struct mgr *m = ctx;
    if (!atomic_load(&m->ready_ctl) || !mgr_synced(m)) {
        snprintf(reason, size, "informer caches have not synced yet");
        return false;
    }
    return true;
}

/* /metrics is streamed in pieces of about 64 KiB: at 1,000 GraceServices
 * the text is ~3 MB (30 condition samples per service). */
static void *metrics_open_cb(void *ctx)
{
    struct mgr *m = ctx;
    return metrics_stream_new(m->metrics);
}

static char *metrics_next_cb(void *stream, size_t *len)
{
    return metrics_stream_next(stream, (size_t)64 * 1024, len);
}

static void metrics_close_cb(void *stream)
{
    metrics_stream_free(stream);
}

/* GET /directory: 503 until the publisher exists (start-up). */
static char *directory_cb(void *ctx, const char *query, size_t *len, int *status)
{
    struct mgr *m = ctx;
    if (!atomic_load(&m->ready_ctl)) {
        static const char msg[] = "the directory is not available yet\n";
        *status = 503;
        *len = sizeof msg - 1;
        return kerr_xstrdup(msg);
    }
    return dirpub_http(m->dir, query, len, status);
}

static void validate_cb(void *ctx, const struct webhook_request *req, struct webhook_verdict *v)
{
    struct mgr *m = ctx;
    if (!req->object || strcmp(req->kind, "GraceService") != 0 || !atomic_load(&m->ready_ctl))
        return;
    json_t *gs = json_deep_copy(req->object);
    json_t *meta = json_object_get(gs, "metadata");
    if (json_is_object(meta) && !json_object_get(meta, "namespace") && req->ns)
        json_object_set_new(meta, "namespace", json_string(req->ns));
    char *msg = gs_admission_check(m->ctl, gs);
    if (msg)
        webhook_deny(v, "%s", msg);
    free(msg);
    json_decref(gs);
}

/* Defaulting: the CRD's defaults, as JSON patch "add" operations for the
 * top-level spec fields that are missing (agents see them in the reply). */
static void mutate_cb(void *ctx, const struct webhook_request *req, struct webhook_verdict *v)
{
    (void)ctx;
    cmd_render_defaults_patch(req->object, v);
}

/* A failure with the certificate directory names the flag. */
static enum kerr cert_dir_error(const char *dir, enum kerr e, struct kerr_info *err)
{
    char msg[sizeof err->message];
    snprintf(msg, sizeof msg, "%s", err->message);
    return kerr_set(err, KERR_CONFIG, 0, "BadCertDir", "--webhook-cert-dir %s: %s", dir, msg);
}

static enum kerr webhook_tls(struct mgr *m, struct httpd_options *o, struct tlsgen_pem *pem,
                             char *crt, char *key, size_t n, struct kerr_info *err)
{
    const char *dir = m->f.webhook_cert_dir;
    enum kerr e;
    if (dir && tlsgen_dir_has_cert(dir)) {
        snprintf(crt, n, "%s/tls.crt", dir);
        snprintf(key, n, "%s/tls.key", dir);
        o->cert_file = crt;
        o->key_file = key;
        e = tlsgen_check_files(crt, key, err);
        return e == KERR_OK ? e : cert_dir_error(dir, e, err);
    }
    const char *names[] = {"localhost", "127.0.0.1", "grace-operator-webhook",
                           "grace-operator-webhook.grace-system.svc"};
    e = tlsgen_serving_cert(names, 4, pem, err);
    if (e == KERR_OK && dir && (e = tlsgen_write_dir(pem, dir, err)) != KERR_OK)
        e = cert_dir_error(dir, e, err);
    o->cert_pem = pem->cert_pem;
    o->key_pem = pem->key_pem;
    return e;
}

enum kerr mgr_start_http(struct mgr *m, struct kerr_info *err)
{
    static const char *const paths[] = {"/validate-graceservice", "/mutate-graceservice", NULL};
    struct httpd_options o = {.health_addr = m->f.health_addr,
                              .metrics_addr = m->f.metrics_addr,
                              .ready = ready_cb,
                              .ready_ctx = m,
                              .metrics_ctx = m,
                              .metrics_open = metrics_open_cb,
                              .metrics_next = metrics_next_cb,
                              .metrics_close = metrics_close_cb,
                              .get_path = "/directory",
                              .get = directory_cb,
                              .get_ctx = m};
    struct tlsgen_pem pem = {0};
    char crt[1024], key[1024];
    bool webhook = strcmp(m->f.webhook_addr, "off") != 0 && m->f.webhook_addr[0] != '\0';
    enum kerr e = KERR_OK;
    if (webhook) {
        m->routes = (struct webhook_routes){.validate_path = paths[0],
                                            .validate = validate_cb,
                                            .mutate_path = paths[1],
                                            .mutate = mutate_cb,
                                            .ctx = m,
                                            .group = "grace.dev",
                                            .kind = "GraceService"};
        o.webhook_addr = m->f.webhook_addr;
        o.webhook_paths = paths;
        o.webhook = webhook_serve;
        o.webhook_ctx = &m->routes;
        e = webhook_tls(m, &o, &pem, crt, key, sizeof crt, err);
    }
    if (e == KERR_OK)
        e = httpd_new(&o, &m->http, err);
    if (e == KERR_OK)
        e = httpd_start(m->http, err);
    tlsgen_free(&pem);
    if (e == KERR_OK) {
        char hp[16], mp[16], wp[16];
        snprintf(hp, sizeof hp, "%d", httpd_port(m->http, HTTPD_HEALTH));
        snprintf(mp, sizeof mp, "%d", httpd_port(m->http, HTTPD_METRICS));
        snprintf(wp, sizeof wp, "%d", webhook ? httpd_port(m->http, HTTPD_WEBHOOK) : 0);
        log_msg(LOG_INFO, "http server listening", "healthPort", hp, "metricsPort", mp,
                "webhookPort", wp, LOG_END);
    }
    return e;
}
