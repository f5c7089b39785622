/*
 * gstrace: see gstrace.h.
 */
#include "gstrace.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

struct ktrace_span *gs_trace_begin(struct ktrace *t, const char *key)
{
    struct ktrace_span *s = ktrace_span_start(t, "reconcile", KTRACE_INTERNAL, NULL);
    if (!s)
        return NULL;
    const char *slash = strchr(key, '/');
    char ns[256];
    snprintf(ns, sizeof ns, "%.*s", slash ? (int)(slash - key) : 0, key);
    ktrace_set_str(s, "grace.service", slash ? slash + 1 : key);
    ktrace_set_str(s, "k8s.namespace.name", ns);
    ktrace_set_str(s, "grace.reconcile_id", log_ctx_reconcile_id());
    ktrace_current_set(s);
    char id[33];
    ktrace_trace_id(s, id);
    log_ctx_set_trace_id(id);
    return s;
}

void gs_trace_service(const json_t *gs)
{
    struct ktrace_span *s = ktrace_current();
    if (!s)
        return;
    const json_t *md = json_object_get(gs, "metadata");
    const json_t *spec = json_object_get(gs, "spec");
    ktrace_set_str(s, "grace.uid", json_string_value(json_object_get(md, "uid")));
    ktrace_set_int(s, "grace.generation", json_integer_value(json_object_get(md, "generation")));
    ktrace_set_str(s, "grace.image", json_string_value(json_object_get(spec, "image")));
}

void gs_trace_end(struct ktrace_span *s, const char *outcome)
{
    if (!s)
        return;
    ktrace_set_str(s, "grace.outcome", outcome);
    if (strcmp(outcome, "retry") == 0)
        ktrace_set_error(s, "reconcile failed; retrying with backoff");
    ktrace_current_set(NULL);
    log_ctx_set_trace_id(NULL);
    ktrace_span_end(s);
}

struct ktrace_span *gs_trace_step(const char *name)
{
    return ktrace_child_current(name, KTRACE_INTERNAL);
}

void gs_trace_step_end(struct ktrace_span *s, bool failed, const char *message)
{
    if (failed)
        ktrace_set_error(s, message);
    ktrace_span_end(s);
}
