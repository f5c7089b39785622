/*
 * childdiff: subset comparison of a desired child against the live object.
 * See childdiff.h.
 */
#include "childdiff.h"

#include <math.h>

static bool subset(const json_t *want, const json_t *have);

static bool subset_object(const json_t *want, const json_t *have)
{
    if (!json_is_object(have))
        return false;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)want, k, v) {
        json_t *h = json_object_get(have, k);
        if (!h) {
            /* An empty object or array we send may be dropped by the server
             * (omitempty); null means "absent". */
            if (json_is_null(v) || (json_is_object(v) && json_object_size(v) == 0) ||
                (json_is_array(v) && json_array_size(v) == 0))
                continue;
            return false;
        }
        if (!subset(v, h))
            return false;
    }
    return true;
}

static bool subset_array(const json_t *want, const json_t *have)
{
    if (!json_is_array(have) || json_array_size(want) != json_array_size(have))
        return false;
    for (size_t i = 0; i < json_array_size(want); i++)
        if (!subset(json_array_get(want, i), json_array_get(have, i)))
            return false;
    return true;
}

static bool subset(const json_t *want, const json_t *have)
{
    if (json_is_object(want))
        return subset_object(want, have);
    if (json_is_array(want))
        return subset_array(want, have);
    if (json_is_number(want) && json_is_number(have))
        return fabs(json_number_value(want) - json_number_value(have)) < 1e-9;
    return json_equal(want, have);
}

bool childdiff_matches(const json_t *desired, const json_t *live)
{
    if (!desired || !live)
        return false;
    return subset(desired, live);
}
