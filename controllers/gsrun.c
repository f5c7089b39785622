/*
 * gsrun: the state and helpers shared by the GraceService reconciler's
 * concerns (see gsrun.h).
 */
#include "gsrun.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const concern_types[GC__N] = {
    [GC_WORKLOAD] = "WorkloadReady",   [GC_ROUTE] = "RouteReady",
    [GC_CERT] = "CertificateReady",    [GC_TAILSCALE] = "TailscaleReady",
    [GC_DATABASE] = "DatabaseReady",   [GC_KAFKA] = "KafkaReady",
    [GC_BACKUP] = "BackupReady",       [GC_EGRESS] = "EgressReady",
    [GC_MIGRATIONS] = "MigrationsReady",
};

const char *gs_concern_type(enum gs_concern c)
{
    return concern_types[c];
}

const char *gs_meta(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(o, "metadata"), key));
    return s ? s : "";
}

const json_t *gs_spec(const json_t *gs, const char *key)
{
    return json_object_get(json_object_get(gs, "spec"), key);
}

bool gs_enabled(const json_t *gs, const char *key, bool dflt)
{
    const json_t *v = json_object_get(gs_spec(gs, key), "enabled");
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

void gs_concern_fail(struct gs_concern_state *s, bool terminal, const char *reason,
                     const char *fmt, ...)
{
    s->state = READY_FALSE;
    s->terminal = s->terminal || terminal;
    snprintf(s->reason, sizeof s->reason, "%s", reason);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->message, sizeof s->message, fmt, ap);
    va_end(ap);
}

/* Templates in render order (render_template_names) and their concerns. */
static const enum gs_concern template_concern[RENDER_NTEMPLATES] = {
    GC_WORKLOAD, GC_ROUTE, GC_CERT, GC_TAILSCALE, GC_KAFKA, GC_BACKUP, GC_EGRESS};

void gs_desired_rendered(struct gs_run *r, json_t *objects, const json_t *from)
{
    json_decref(r->desired);
    json_decref(r->concerns);
    r->desired = objects;
    r->concerns = json_array();
    for (size_t i = 0; i < json_array_size(objects); i++) {
        json_int_t t = json_integer_value(json_array_get(from, i));
        enum gs_concern c = t >= 0 && t < RENDER_NTEMPLATES ? template_concern[t] : GC_WORKLOAD;
        json_array_append_new(r->concerns, json_integer(c));
    }
}

void gs_desired_add(struct gs_run *r, const json_t *objects, enum gs_concern c)
{
    if (!r->desired)
        gs_desired_rendered(r, json_array(), NULL);
    for (size_t i = 0; i < json_array_size(objects); i++) {
        json_array_append(r->desired, json_array_get(objects, i));
        json_array_append_new(r->concerns, json_integer(c));
    }
}

void gs_desired_remove(struct gs_run *r, size_t i)
{
    json_array_remove(r->desired, i);
    json_array_remove(r->concerns, i);
}

enum gs_concern gs_desired_concern(const struct gs_run *r, size_t i)
{
    return (enum gs_concern)json_integer_value(json_array_get(r->concerns, i));
}

struct kinformer *gs_child_informer(struct gs_controller *c, const char *api_version,
                                    const char *kind, struct childkind **kind_out)
{
    struct childkind *k = childkinds_find(c->d.kinds, api_version, kind);
    if (kind_out)
        *kind_out = k;
    if (!k)
        return NULL;
    return c->d.child_inf[k - childkinds_at(c->d.kinds, 0)];
}

