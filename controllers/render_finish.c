/*
 * render_finish: the last step between templates and the API server (see
 * render.h): identity labels, the default namespace, the controller
 * ownerReference for same-namespace children, removal of GitOps tracking
 * metadata, and a final shape check. Templates (the operator's own or a
 * user's) cannot opt out of these rules, which is why they live in C.
 */
#include "render.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "khash.h"

#define LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define LABEL_SERVICE "grace.dev/service"
#define LABEL_NAMESPACE "grace.dev/namespace"
#define MANAGED_BY "grace-operator"
#define GITOPS_LABEL "app.kubernetes.io/instance"
#define GITOPS_ANNOTATION "argocd.argoproj.io/tracking-id"

void render_label_value(const char *in, char out[64])
{
    size_t len = strlen(in);
    if (len <= 63) {
        memcpy(out, in, len + 1);
        return;
    }
    uint32_t h = khash32_str(in, len);
    size_t keep = 54;
    while (keep > 0 && (in[keep - 1] == '-' || in[keep - 1] == '.' || in[keep - 1] == '_'))
        keep--;
    snprintf(out, 64, "%.*s-%08x", (int)keep, in, (unsigned)h);
}

static json_t *obj_child(json_t *parent, const char *key)
{
    json_t *c = json_object_get(parent, key);
    if (!json_is_object(c)) {
        c = json_object();
        json_object_set_new(parent, key, c);
    }
    return c;
}

static void set_labels(json_t *md, const char *name, const char *ns)
{
    char v[64];
    json_t *labels = obj_child(md, "labels");
    json_object_del(labels, GITOPS_LABEL);
    json_object_set_new(labels, LABEL_MANAGED_BY, json_string(MANAGED_BY));
    render_label_value(name, v);
    json_object_set_new(labels, LABEL_SERVICE, json_string(v));
    render_label_value(ns, v);
    json_object_set_new(labels, LABEL_NAMESPACE, json_string(v));
    json_t *ann = json_object_get(md, "annotations");
    if (json_is_object(ann)) {
        json_object_del(ann, GITOPS_ANNOTATION);
        if (json_object_size(ann) == 0)
            json_object_del(md, "annotations");
    }
}

static json_t *owner_ref(const json_t *gs, const char *name)
{
    const json_t *uid = json_object_get(json_object_get(gs, "metadata"), "uid");
    json_t *ref = json_pack("{s:s, s:s, s:s, s:b, s:b}", "apiVersion", "grace.dev/v1alpha1", "kind",
                            "GraceService", "name", name, "controller", 1, "blockOwnerDeletion", 1);
    if (json_is_string(uid) && json_string_length(uid))
        json_object_set(ref, "uid", (json_t *)uid);
    return ref;
}

/* Replace any controller reference by ours, keep the others. */
static void set_owner(json_t *md, const json_t *gs, const char *name)
{
    json_t *refs = json_object_get(md, "ownerReferences");
    json_t *keep = json_array();
    size_t i;
    json_t *ref;
    if (json_is_array(refs)) {
        json_array_foreach(refs, i, ref)
        {
            if (!json_is_object(ref) || json_is_true(json_object_get(ref, "controller")))
                continue;
            json_array_append(keep, ref);
        }
    }
    json_array_append_new(keep, owner_ref(gs, name));
    json_object_set_new(md, "ownerReferences", keep);
}

static const char *shape_problem(const json_t *o)
{
    const json_t *md = json_object_get(o, "metadata");
    if (!json_is_object(o))
        return "is not an object";
    if (!json_is_string(json_object_get(o, "apiVersion")))
        return "has no apiVersion string";
    if (!json_is_string(json_object_get(o, "kind")))
        return "has no kind string";
    if (!json_is_object(md) || !json_is_string(json_object_get(md, "name")))
        return "has no metadata.name string";
    return NULL;
}

enum kerr render_finish(const json_t *gs, json_t *objects, struct kerr_info *err)
{
    const json_t *gmd = json_object_get(gs, "metadata");
    const char *name = json_string_value(json_object_get(gmd, "name"));
    const char *ns = json_string_value(json_object_get(gmd, "namespace"));
    size_t i;
    json_t *o;

    if (!name || !*name)
        return kerr_set(err, KERR_INVAL, 0, "BadInput", "render: the GraceService has no name");
    if (!ns || !*ns)
        ns = "default";
    if (!json_is_array(objects))
        return kerr_set(err, KERR_INVAL, 0, "BadInput", "render: objects must be an array");
    json_array_foreach(objects, i, o)
    {
        const char *p = shape_problem(o);
        if (p)
            return kerr_set(err, KERR_TEMPLATE, 0, "TemplateError", "rendered object %zu %s", i + 1,
                            p);
        json_t *md = json_object_get(o, "metadata");
        const char *ons = json_string_value(json_object_get(md, "namespace"));
        if (!ons || !*ons) {
            json_object_set_new(md, "namespace", json_string(ns));
            ons = ns;
        }
        set_labels(md, name, ns);
        if (!strcmp(ons, ns))
            set_owner(md, gs, name);
    }
    return KERR_OK;
}
