/*
 * gskafka: Strimzi writes the KafkaUser's credentials Secret in the Kafka
 * namespace, where the workload cannot read it. This copies the keys the
 * workload needs (password, sasl.jaas.config) into a Secret of the same
 * name in the service's namespace, owned by the GraceService. Until
 * Strimzi has made the Secret, KafkaReady waits.
 */
#include <stdio.h>
#include <string.h>

#include "gsctl.h"
#include "kobj.h"

static const json_t *find_user(const json_t *desired)
{
    size_t i;
    json_t *o;
    json_array_foreach(desired, i, o) {
        const char *kind = json_string_value(json_object_get(o, "kind"));
        if (kind && strcmp(kind, "KafkaUser") == 0)
            return o;
    }
    return NULL;
}

/* The data to copy: our existing copy from the cache when there is one (no
 * API read on a resync), else Strimzi's Secret (one GET). A rotation of the
 * KafkaUser's password reaches the copy when the copy is deleted (it is
 * then recreated from the source). New reference, or NULL. */
static json_t *source_data(struct gs_run *r, const char *kns, const char *user)
{
    static const char *const keys[] = {"password", "sasl.jaas.config"};
    struct kres res = {"", "v1", "secrets"};
    struct kinformer *inf = gs_child_informer(r->c, "v1", "Secret", NULL);
    struct kobj *o = inf ? kinformer_get(inf, r->ns, user) : NULL;
    json_t *src = o ? kobj_json(o) : NULL;
    kobj_unref(o);
    if (!src && kclient_get(r->c->d.client, &res, kns, user, &src, NULL) != KERR_OK)
        return NULL;
    json_t *data = json_object();
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(json_object_get(src, "data"), keys[i]);
        if (json_is_string(v))
            json_object_set(data, keys[i], v);
    }
    json_decref(src);
    if (!json_object_get(data, "password")) {
        json_decref(data);
        return NULL;
    }
    return data;
}

void gs_kafka_secret(struct gs_run *r)
{
    const json_t *user = find_user(r->desired);
    if (!user)
        return;
    const char *kns = gs_meta(user, "namespace"), *name = gs_meta(user, "name");
    if (strcmp(kns, r->ns) == 0)
        return; /* same namespace: the workload reads Strimzi's Secret itself */
    json_t *data = source_data(r, kns, name);
    if (!data) {
        struct gs_concern_state *cs = &r->cs[GC_KAFKA];
        /* Strimzi's Secret is not watched; the KafkaUser's status update
         * that follows it requeues us. This is only a safety net. */
        r->poll_ms = 30000;
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
    if (render_finish(r->gs, r->c->d.cfg, one, NULL) == KERR_OK)
        json_array_extend(r->desired, one);
    json_decref(one);
}
