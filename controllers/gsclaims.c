/*
 * gsclaims: see gsclaims.h.
 */
#include "gsclaims.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kobj.h"

static const char *meta_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(o, "metadata"), key));
    return s ? s : "";
}

const char *gsclaims_hostname(const json_t *gs)
{
    const char *h = json_string_value(json_object_get(json_object_get(gs, "spec"), "hostname"));
    return (h && *h) ? h : meta_str(gs, "name");
}

static size_t index_host(const json_t *obj, char keys[][256], size_t max)
{
    if (max < 1)
        return 0;
    snprintf(keys[0], 256, "%s", gsclaims_hostname(obj));
    return 1;
}

static size_t index_topic(const json_t *obj, char keys[][256], size_t max)
{
    const json_t *topics =
        json_object_get(json_object_get(json_object_get(obj, "spec"), "kafka"), "topics");
    size_t n = 0, i;
    json_t *t;
    json_array_foreach(topics, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        if (name && n < max)
            snprintf(keys[n++], 256, "%s", name);
    }
    return n;
}

void gsclaims_add_indexes(struct kinformer *gs_inf)
{
    kinformer_add_spec_index(gs_inf, GSCLAIMS_INDEX_HOST, index_host);
    kinformer_add_spec_index(gs_inf, GSCLAIMS_INDEX_TOPIC, index_topic);
}

/* <0 when a's claim is older than b's. */
static int claim_cmp(const char *ts_a, const char *key_a, const char *ts_b, const char *key_b)
{
    /* RFC 3339 UTC timestamps of equal precision sort as strings; an object
     * without one (admission of a new object) is the newest. */
    int empty_a = !*ts_a, empty_b = !*ts_b;
    if (empty_a != empty_b)
        return empty_a ? 1 : -1;
    int c = strcmp(ts_a, ts_b);
    return c ? c : strcmp(key_a, key_b);
}

bool gsclaims_loses(struct kinformer *gs_inf, const char *index, const char *value,
                    const json_t *gs, char *winner, size_t n)
{
    char self[512];
    snprintf(self, sizeof self, "%s/%s", meta_str(gs, "namespace"), meta_str(gs, "name"));
    const char *self_ts = meta_str(gs, "creationTimestamp");
    struct kobj **objs = NULL;
    size_t count = kinformer_by_index(gs_inf, index, value, &objs);
    bool lost = false;
    char best_key[512] = "", best_ts[64] = "";
    for (size_t i = 0; i < count; i++) {
        char key[512];
        snprintf(key, sizeof key, "%s/%s", kobj_namespace(objs[i]), kobj_name(objs[i]));
        if (strcmp(key, self) == 0 || kobj_deleting(objs[i]))
            continue;
        json_t *o = kobj_json(objs[i]);
        const char *ts = meta_str(o, "creationTimestamp");
        if (!o && !lost) { /* unreadable (kobj.h says never): fail closed, it wins */
            lost = true;
            snprintf(best_key, sizeof best_key, "%s", key);
            continue;
        }
        if (claim_cmp(ts, key, self_ts, self) < 0 &&
            (!best_key[0] || claim_cmp(ts, key, best_ts, best_key) < 0)) {
            lost = true;
            snprintf(best_key, sizeof best_key, "%s", key);
            snprintf(best_ts, sizeof best_ts, "%s", ts);
        }
        json_decref(o);
    }
    for (size_t i = 0; i < count; i++)
        kobj_unref(objs[i]);
    free(objs);
    snprintf(winner, n, "%s", lost ? best_key : "");
    return lost;
}
