/*
 * conditions: see conditions.h.
 */
#include "conditions.h"

#include <string.h>

#include "ktime.h"

json_t *conditions_find(const json_t *conds, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

void conditions_now(char buf[32])
{
    ktime_rfc3339(buf);
}

void conditions_set(json_t *conds, const json_t *old, const char *type, const char *status,
                    const char *reason, const char *message, json_int_t generation,
                    const char *now)
{
    const json_t *prev = conditions_find(old, type);
    const char *ltt = now;
    const char *pstatus = json_string_value(json_object_get(prev, "status"));
    const char *pltt = json_string_value(json_object_get(prev, "lastTransitionTime"));
    if (pstatus && pltt && strcmp(pstatus, status) == 0)
        ltt = pltt;
    json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "type", type, "status", status,
                          "observedGeneration", generation, "lastTransitionTime", ltt, "reason",
                          reason, "message", message ? message : "");
    size_t i;
    json_t *e;
    json_array_foreach(conds, i, e) {
        const char *t = json_string_value(json_object_get(e, "type"));
        if (t && strcmp(t, type) == 0) {
            json_array_set_new(conds, i, c);
            return;
        }
    }
    json_array_append_new(conds, c);
}

static bool field_equal(const json_t *a, const json_t *b, const char *key)
{
    const json_t *x = json_object_get(a, key);
    const json_t *y = json_object_get(b, key);
    if (!x || !y)
        return x == y;
    return json_equal(x, y);
}

bool conditions_equal(const json_t *a, const json_t *b)
{
    if (json_array_size(a) != json_array_size(b))
        return false;
    size_t i;
    json_t *c;
    json_array_foreach(a, i, c) {
        const json_t *d = conditions_find(b, json_string_value(json_object_get(c, "type")));
        if (!d)
            return false;
        static const char *const keys[] = {"status", "reason", "message", "observedGeneration"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (!field_equal(c, d, keys[k]))
                return false;
    }
    return true;
}
