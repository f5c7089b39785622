/*
 * gskafka: Strimzi writes the KafkaUser's credentials Secret in the Kafka
 * namespace, where the workload cannot read it. This copies the keys the
 * workload needs (password, sasl.jaas.config) into a Secret of the same
 * name in the service's namespace, owned by the GraceService. Until
 * Strimzi has made the Secret, KafkaReady waits. Runs after the other
 * children were applied (it needs the KafkaUser as last seen); the copy is
 * applied by a second gs_apply_children.
 */
#include "gskafka.h"

#include <stdio.h>
#include <string.h>

#include "kobj.h"

/* Index of the desired KafkaUser, or -1. */
static long find_user(const json_t *desired)
{
    size_t i;
    json_t *o;
    json_array_foreach(desired, i, o) {
        const char *kind = json_string_value(json_object_get(o, "kind"));
        if (kind && strcmp(kind, "KafkaUser") == 0)
            return (long)i;
    }
    return -1;
}

/* Our copy from the cache, when there is one (no API read on a resync). */
static json_t *cached_copy(struct gs_run *r, const char *user)
{
    struct kinformer *inf = gs_child_informer(r->c, "v1", "Secret", NULL);
    struct kobj *o = inf ? kinformer_get(inf, r->ns, user) : NULL;
    json_t *src = o ? kobj_json(o) : NULL;
    kobj_unref(o);
    return src;
}

/* The data to copy out of `src` (borrowed), new reference, or NULL when it
 * has no password yet. */
static json_t *copy_data(const json_t *src)
{
    static const char *const keys[] = {"password", "sasl.jaas.config"};
    json_t *data = json_object();
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(json_object_get(src, "data"), keys[i]);
        if (json_is_string(v))
            json_object_set(data, keys[i], v);
    }
    if (!json_object_get(data, "password")) {
        json_decref(data);
        return NULL;
    }
    return data;
}

/* The data to copy: our existing copy when there is one, else Strimzi's
 * Secret (one GET), read only once the KafkaUser is Ready: Strimzi's User
 * Operator writes the Secret before it sets Ready, and that status update
 * requeues us, so nothing is read (or polled) while the user is pending. A
 * rotation of the KafkaUser's password reaches the copy when the copy is
 * deleted (it is then recreated from the source). New reference, or NULL;
 * *looked says whether Strimzi's Secret was asked for. */
static json_t *source_data(struct gs_run *r, const char *kns, const char *user,
                           const json_t *live_user, bool *looked)
{
    struct kres res = {"", "v1", "secrets"};
    json_t *src = cached_copy(r, user);
    *looked = false;
    if (!src) {
        struct ready_result rr;
        readiness_eval(json_is_object(live_user) ? live_user : NULL, "KafkaUser", user, &rr);
        if (rr.state != READY_TRUE)
            return NULL;
        *looked = true;
        if (kclient_get(r->c->d.client, &res, kns, user, &src, NULL) != KERR_OK)
            return NULL;
    }
    json_t *data = copy_data(src);
    json_decref(src);
    return data;
}

/* Strimzi's Secret missing although the KafkaUser says Ready (deleted by
 * hand, or a User Operator that reports Ready first): it is not watched,
 * so look again after a while. */
#define GS_KAFKA_SECRET_POLL_MS 10000

void gs_kafka_secret(struct gs_run *r)
{
    long ui = find_user(r->desired);
    if (ui < 0)
        return;
    const json_t *user = json_array_get(r->desired, (size_t)ui);
    const char *kns = gs_meta(user, "namespace"), *name = gs_meta(user, "name");
    if (strcmp(kns, r->ns) == 0)
        return; /* same namespace: the workload reads Strimzi's Secret itself */
    bool looked = false;
    json_t *data = source_data(r, kns, name, json_array_get(r->live, (size_t)ui), &looked);
    if (!data) {
        /* not looked: the KafkaUser's own readiness says what we wait for */
        if (!looked)
            return;
        struct gs_concern_state *cs = &r->cs[GC_KAFKA];
        r->poll_ms = GS_KAFKA_SECRET_POLL_MS;
        if (cs->state == READY_TRUE) {
            cs->state = READY_PENDING;
            snprintf(cs->reason, sizeof cs->reason, "UserSecretPending");
            snprintf(cs->message, sizeof cs->message,
                     "waiting for Strimzi to create the Secret %s/%s of KafkaUser %s", kns, name,
                     name);
        }
        return;
    }
    json_t *one = json_pack("[{s:s, s:s, s:{s:s, s:s}, s:s, s:o}]", "apiVersion", "v1", "kind",
                            "Secret", "metadata", "name", name, "namespace", r->ns, "type",
                            "Opaque", "data", data);
    if (render_finish(r->gs, one, NULL) == KERR_OK)
        gs_desired_add(r, one, GC_KAFKA);
    json_decref(one);
}
