/*
 * gstopics: see gstopics.h.
 */
#include "gstopics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gsclaims.h"
#include "gsrun.h"

static size_t index_consumes(const json_t *obj, char keys[][256], size_t max)
{
    const json_t *l =
        json_object_get(json_object_get(json_object_get(obj, "spec"), "kafka"), "consumes");
    size_t n = 0, i;
    json_t *t;
    json_array_foreach(l, i, t) {
        if (json_is_string(t) && n < max)
            snprintf(keys[n++], 256, "%s", json_string_value(t));
    }
    return n;
}

void gstopics_add_index(struct kinformer *gs_inf)
{
    kinformer_add_spec_index(gs_inf, GSTOPICS_INDEX_CONSUMES, index_consumes);
}

static bool listed(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/* Does a GraceService not being deleted own `topic`? */
static bool produced(struct kinformer *gs_inf, const char *topic)
{
    struct kobj **objs = NULL;
    size_t n = kinformer_by_index(gs_inf, GSCLAIMS_INDEX_TOPIC, topic, &objs);
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        found = found || !kobj_deleting(objs[i]);
        kobj_unref(objs[i]);
    }
    free(objs);
    return found;
}

/* The KafkaReady message of the status as it was before this run. */
static const char *old_message(const json_t *gs)
{
    const json_t *conds = json_object_get(json_object_get(gs, "status"), "conditions");
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && strcmp(t, "KafkaReady") == 0)
            return json_string_value(json_object_get(c, "message"));
    }
    return NULL;
}

static void append_line(struct gs_concern_state *s, const char *line)
{
    if (s->state == READY_TRUE && !s->reason[0]) {
        /* what gsstatus would say, so that the line is added to it */
        snprintf(s->reason, sizeof s->reason, "Ready");
        snprintf(s->message, sizeof s->message, "%s",
                 s->has_children ? "all children are ready" : "nothing to provision");
    }
    size_t n = strlen(s->message);
    snprintf(s->message + n, sizeof s->message - n, "%s%s", n ? "; " : "", line);
}

void gstopics_check(struct gs_run *r, const json_t *external)
{
    struct gs_concern_state *s = &r->cs[GC_KAFKA];
    const json_t *consumes = json_object_get(gs_spec(r->gs, "kafka"), "consumes");
    if (!s->enabled || !json_array_size(consumes))
        return;
    const char *old = old_message(r->gs);
    char line[400] = "", quoted[300];
    size_t n = 0, i;
    json_t *t;
    json_array_foreach(consumes, i, t) {
        const char *tn = json_string_value(t);
        if (!tn || listed(external, tn) || produced(r->c->d.gs_inf, tn))
            continue;
        snprintf(quoted, sizeof quoted, "\"%s\"", tn);
        if (strstr(line, quoted))
            continue; /* listed twice */
        size_t len = strlen(line);
        snprintf(line + len, sizeof line - len, "%s%s", n++ ? ", " : "", quoted);
        if (r->c->d.rec && !(old && strstr(old, quoted)))
            krecorder_event(r->c->d.rec, r->gs, "Warning", "TopicWithoutProducer", "Reconcile",
                            "consumes topic %s, which no GraceService produces (declare it in "
                            "kafka.externalTopics if it is produced outside the cluster)",
                            quoted);
    }
    if (!n)
        return;
    char msg[512];
    snprintf(msg, sizeof msg, "TopicWithoutProducer: no GraceService produces %s %s",
             n > 1 ? "topics" : "topic", line);
    append_line(s, msg);
}

void gstopics_foreach_consumer(struct kinformer *gs_inf, const json_t *gs,
                               void (*fn)(void *ctx, const struct kobj *o), void *ctx)
{
    const json_t *topics = json_object_get(gs_spec(gs, "kafka"), "topics");
    size_t i;
    json_t *t;
    json_array_foreach(topics, i, t) {
        const char *tn = json_string_value(json_object_get(t, "name"));
        struct kobj **objs = NULL;
        size_t n = tn ? kinformer_by_index(gs_inf, GSTOPICS_INDEX_CONSUMES, tn, &objs) : 0;
        for (size_t j = 0; j < n; j++) {
            fn(ctx, objs[j]);
            kobj_unref(objs[j]);
        }
        free(objs);
    }
}
