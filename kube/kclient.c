/*
 * kclient: the Kubernetes verbs on top of the transport (kclient_http.c):
 * path and query building (every name and query value URL-escaped), the
 * request bodies and content types of each verb, response decoding, and
 * LIST pagination with each page decoded as it streams (kjsonstream), so
 * that a list of any length costs the memory of its largest item.
 */
#include "kclient.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kclient_http.h"
#include "kjsonstream.h"

#define KC_PATH_MAX 2048

/* A growable string for query building. */
struct kc_buf {
    char *p;
    size_t len, cap;
};

static void kc_buf_add(struct kc_buf *b, const char *s, size_t n)
{
    if (!b->p || b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = kerr_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void kc_buf_str(struct kc_buf *b, const char *s)
{
    kc_buf_add(b, s, strlen(s));
}

/* Append the percent-encoding of `s` (everything but RFC 3986 unreserved). */
static void kc_buf_escaped(struct kc_buf *b, const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (!e)
        kerr_oom();
    else
        kc_buf_str(b, e);
    curl_free(e);
}

/* Append "?k=v" or "&k=v" (v escaped); NULL or "" values are skipped. */
static void kc_query(struct kc_buf *b, const char *k, const char *v)
{
    if (!v || !*v)
        return;
    kc_buf_str(b, b->p && strchr(b->p, '?') ? "&" : "?");
    kc_buf_str(b, k);
    kc_buf_str(b, "=");
    kc_buf_escaped(b, v);
}

enum kerr kclient_path(char *buf, size_t size, const struct kres *r, const char *ns,
                       const char *name, const char *sub)
{
    if (!r || !r->version || !*r->version || !r->plural || !*r->plural || (sub && !name))
        return KERR_INVAL;
    struct kc_buf b = {0};
    kc_buf_str(&b, r->group && *r->group ? "/apis/" : "/api");
    if (r->group && *r->group)
        kc_buf_escaped(&b, r->group);
    kc_buf_str(&b, "/");
    kc_buf_escaped(&b, r->version);
    if (ns && *ns) {
        kc_buf_str(&b, "/namespaces/");
        kc_buf_escaped(&b, ns);
    }
    kc_buf_str(&b, "/");
    kc_buf_escaped(&b, r->plural);
    if (name && *name) {
        kc_buf_str(&b, "/");
        kc_buf_escaped(&b, name);
    }
    if (sub && *sub) {
        kc_buf_str(&b, "/");
        kc_buf_escaped(&b, sub);
    }
    enum kerr rc = KERR_OK;
    if (b.len + 1 > size)
        rc = KERR_INVAL;
    else
        memcpy(buf, b.p, b.len + 1);
    free(b.p);
    return rc;
}

/* The path into a kc_buf (for queries to be appended). */
static enum kerr kc_path_buf(struct kc_buf *b, const struct kres *r, const char *ns,
                             const char *name, const char *sub, bool need_name,
                             struct kerr_info *err)
{
    char path[KC_PATH_MAX];
    if (need_name && (!name || !*name)) {
        kerr_set(err, KERR_INVAL, 0, "BadRequest", "kclient: an object name is required");
        return KERR_INVAL;
    }
    if (kclient_path(path, sizeof path, r, ns, name, sub) != KERR_OK) {
        kerr_set(err, KERR_INVAL, 0, "BadRequest",
                 "kclient: bad resource (group/version/plural) or path too long");
        return KERR_INVAL;
    }
    b->len = 0;
    kc_buf_str(b, path);
    return KERR_OK;
}

/* kc_parse_object's splitter callback: the one item, parsed. */
static int kc_parse_item(void *ud, const char *text, size_t len)
{
    json_t **out = ud;
    json_decref(*out);
    *out = json_loadb(text, len, 0, NULL);
    return 0;
}

/*
 * An object answer without its metadata.managedFields, which no caller
 * reads and which is as large as the rest of a server-side-applied object:
 * the splitter cuts it while minifying (the body handed to it as the one
 * element of {"items":[...]}), so jansson builds only the part that is
 * used. NULL when that fails; the caller then parses the body whole (and
 * reports the parser's error if it is not JSON).
 */
static json_t *kc_parse_object(const char *body, size_t len)
{
    json_t *out = NULL;
    struct kjs_callbacks cb = {kc_parse_item, NULL};
    struct kjs *s = kjs_new(KJS_ITEMS, "items", 0, &cb, &out);
    kjs_drop_meta_key(s, "managedFields");
    if (kjs_feed(s, "{\"items\":[", 10, NULL) != KERR_OK ||
        kjs_feed(s, body, len, NULL) != KERR_OK || kjs_feed(s, "]}", 2, NULL) != KERR_OK ||
        kjs_finish(s, NULL) != KERR_OK || kjs_count(s) != 1) {
        json_decref(out);
        out = NULL;
    }
    kjs_free(s);
    return out;
}

/* Run a request whose 2xx body is one JSON value, decoded into *out
 * (when out is non-NULL; an object without metadata.managedFields). */
static enum kerr kc_exchange(struct kclient *c, struct kclient_request *req, json_t **out,
                             struct kerr_info *err)
{
    struct kclient_response resp;
    if (out)
        *out = NULL;
    enum kerr rc = kclient_http_do(c, req, &resp, err);
    if (rc == KERR_OK && out) {
        json_error_t jerr;
        if (resp.len > 0 && resp.body[0] == '{')
            *out = kc_parse_object(resp.body, resp.len);
        if (!*out)
            *out = json_loadb(resp.body ? resp.body : "", resp.len, 0, &jerr);
        if (!*out)
            rc = kerr_set(err, KERR_PARSE, resp.status, "BadJSON",
                          "%s %s: response is not JSON: %s", req->method, req->path, jerr.text);
    }
    kclient_response_free(&resp);
    return rc;
}

/* Same with a JSON request body. */
static enum kerr kc_exchange_body(struct kclient *c, struct kclient_request *req,
                                  const json_t *body, json_t **out, struct kerr_info *err)
{
    char *text = NULL;
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text)
            return kerr_set(err, KERR_INVAL, 0, "BadRequest", "kclient: body cannot be encoded");
        req->body = text;
        req->body_len = strlen(text);
    }
    enum kerr rc = kc_exchange(c, req, out, err);
    free(text);
    return rc;
}

enum kerr kclient_get(struct kclient *c, const struct kres *r, const char *ns, const char *name,
                      json_t **out, struct kerr_info *err)
{
    if (out)
        *out = NULL;
    struct kc_buf b = {0};
    enum kerr rc = kc_path_buf(&b, r, ns, name, NULL, true, err);
    if (rc == KERR_OK) {
        struct kclient_request req = {.verb = "GET", .method = "GET", .path = b.p};
        rc = kc_exchange(c, &req, out, err);
    }
    free(b.p);
    return rc;
}

enum kerr kclient_get_path(struct kclient *c, const char *path, json_t **out, struct kerr_info *err)
{
    if (out)
        *out = NULL;
    if (!path || path[0] != '/')
        return kerr_set(err, KERR_INVAL, 0, "BadRequest", "kclient: path must start with '/'");
    struct kclient_request req = {.verb = "GET", .method = "GET", .path = path};
    return kc_exchange(c, &req, out, err);
}

enum kerr kclient_create(struct kclient *c, const struct kres *r, const char *ns, const json_t *obj,
                         json_t **out, struct kerr_info *err)
{
    if (out)
        *out = NULL;
    struct kc_buf b = {0};
    enum kerr rc = kc_path_buf(&b, r, ns, NULL, NULL, false, err);
    if (rc == KERR_OK) {
        struct kclient_request req = {
            .verb = "POST", .method = "POST", .path = b.p, .content_type = "application/json"};
        rc = kc_exchange_body(c, &req, obj, out, err);
    }
    free(b.p);
    return rc;
}

enum kerr kclient_update(struct kclient *c, const struct kres *r, const char *ns, const char *name,
                         const char *sub, const json_t *obj, json_t **out, struct kerr_info *err)
{
    if (out)
        *out = NULL;
    struct kc_buf b = {0};
    enum kerr rc = kc_path_buf(&b, r, ns, name, sub, true, err);
    if (rc == KERR_OK) {
        struct kclient_request req = {
            .verb = "PUT", .method = "PUT", .path = b.p, .content_type = "application/json"};
        rc = kc_exchange_body(c, &req, obj, out, err);
    }
    free(b.p);
    return rc;
}

enum kerr kclient_apply(struct kclient *c, const struct kres *r, const char *ns, const char *name,
                        const char *sub, const json_t *obj, const char *field_manager, bool force,
                        json_t **out, struct kerr_info *err)
{
    if (out)
        *out = NULL;
    if (!field_manager || !*field_manager)
        return kerr_set(err, KERR_INVAL, 0, "BadRequest",
                        "kclient: server-side apply needs a field manager");
    struct kc_buf b = {0};
    enum kerr rc = kc_path_buf(&b, r, ns, name, sub, true, err);
    if (rc == KERR_OK) {
        kc_query(&b, "fieldManager", field_manager);
        if (force)
            kc_query(&b, "force", "true");
        /* JSON is YAML, so the compact JSON text is a valid apply body. */
        struct kclient_request req = {.verb = "APPLY",
                                      .method = "PATCH",
                                      .path = b.p,
                                      .content_type = "application/apply-patch+yaml"};
        rc = kc_exchange_body(c, &req, obj, out, err);
    }
    free(b.p);
    return rc;
}

enum kerr kclient_merge_patch(struct kclient *c, const struct kres *r, const char *ns,
                              const char *name, const char *sub, const json_t *patch, json_t **out,
                              struct kerr_info *err)
{
    if (out)
        *out = NULL;
    struct kc_buf b = {0};
    enum kerr rc = kc_path_buf(&b, r, ns, name, sub, true, err);
    if (rc == KERR_OK) {
        struct kclient_request req = {.verb = "PATCH",
                                      .method = "PATCH",
                                      .path = b.p,
                                      .content_type = "application/merge-patch+json"};
        rc = kc_exchange_body(c, &req, patch, out, err);
    }
    free(b.p);
    return rc;
}

/* DeleteOptions body, or NULL when no option is set. */
static json_t *kc_delete_options(const char *propagation, const char *uid, const char *rv)
{
    if (!(propagation && *propagation) && !(uid && *uid) && !(rv && *rv))
        return NULL;
    json_t *o = json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
    if (propagation && *propagation)
        json_object_set_new(o, "propagationPolicy", json_string(propagation));
    if ((uid && *uid) || (rv && *rv)) {
        json_t *pre = json_object();
        if (uid && *uid)
            json_object_set_new(pre, "uid", json_string(uid));
        if (rv && *rv)
            json_object_set_new(pre, "resourceVersion", json_string(rv));
        json_object_set_new(o, "preconditions", pre);
    }
    return o;
}

enum kerr kclient_delete(struct kclient *c, const struct kres *r, const char *ns, const char *name,
                         const char *propagation, const char *precondition_uid,
                         const char *precondition_rv, json_t **out, struct kerr_info *err)
{
    if (out)
        *out = NULL;
    struct kc_buf b = {0};
    json_t *opts = kc_delete_options(propagation, precondition_uid, precondition_rv);
    enum kerr rc = kc_path_buf(&b, r, ns, name, NULL, true, err);
    if (rc == KERR_OK) {
        struct kclient_request req = {
            .verb = "DELETE", .method = "DELETE", .path = b.p, .content_type = "application/json"};
        rc = kc_exchange_body(c, &req, opts, out, err);
    }
    json_decref(opts);
    free(b.p);
    return rc;
}

/* LIST: per-page state shared with the kjsonstream callbacks. */
struct kc_list {
    kclient_item_fn fn;
    kclient_text_item_fn text_fn; /* instead of fn: items as text */
    void *ctx;
    const char *at; /* resourceVersion asked for (first page only), or NULL */
    char *rv;       /* metadata.resourceVersion of the last page */
    char *cont;     /* metadata.continue of the current page */
    enum kerr rc;   /* an item that did not parse, or KERR_STOPPED */
    struct kerr_info info;
};

static int kc_list_item(void *ud, const char *text, size_t len)
{
    struct kc_list *l = ud;
    json_error_t jerr;
    if (l->text_fn) {
        enum kerr e = l->text_fn(l->ctx, text, len, &l->info);
        if (e == KERR_OK)
            return 0;
        l->rc = e;
        if (e == KERR_STOPPED || !l->info.message[0])
            kerr_set(&l->info, e, 0, e == KERR_STOPPED ? "Stopped" : "BadItem",
                     "list stopped by the caller: %s", kerr_strerror(e));
        return 1;
    }
    json_t *item = json_loadb(text, len, 0, &jerr);
    if (!item) {
        l->rc = kerr_set(&l->info, KERR_PARSE, 0, "BadJSON", "list item is not valid JSON: %s",
                         jerr.text);
        return 1;
    }
    int stop = l->fn ? l->fn(l->ctx, item) : 0;
    json_decref(item);
    if (stop) {
        l->rc = kerr_set(&l->info, KERR_STOPPED, 0, "Stopped", "list stopped by the caller");
        return 1;
    }
    return 0;
}

static int kc_list_field(void *ud, const char *path, const char *value)
{
    struct kc_list *l = ud;
    char **slot = strcmp(path, "metadata.resourceVersion") == 0 ? &l->rv
                  : strcmp(path, "metadata.continue") == 0      ? &l->cont
                                                                : NULL;
    if (slot) {
        free(*slot);
        *slot = value && *value ? kerr_xstrdup(value) : NULL;
    }
    return 0;
}

/* One page: GET with the list query, streamed into `s`. */
static enum kerr kc_list_page(struct kclient *c, const char *base, const char *label_selector,
                              const char *field_selector, long limit, struct kc_list *l,
                              struct kjs *s, struct kerr_info *err)
{
    struct kc_buf b = {0};
    char lim[32];
    char *cont = l->cont;
    l->cont = NULL;
    snprintf(lim, sizeof lim, "%ld", limit);
    kc_buf_str(&b, base);
    kc_query(&b, "labelSelector", label_selector);
    kc_query(&b, "fieldSelector", field_selector);
    if (limit > 0)
        kc_query(&b, "limit", lim);
    if (!cont) /* a continued page carries its resourceVersion in the token */
        kc_query(&b, "resourceVersion", l->at);
    kc_query(&b, "continue", cont);
    struct kclient_request req = {.verb = "LIST", .method = "GET", .path = b.p, .stream = s};
    struct kclient_response resp;
    enum kerr rc = kclient_http_do(c, &req, &resp, err);
    if (rc == KERR_STOPPED && l->rc != KERR_OK) {
        rc = l->rc;
        if (err)
            *err = l->info;
    }
    kclient_response_free(&resp);
    free(cont);
    free(b.p);
    return rc;
}

static enum kerr kc_list_all(struct kclient *c, const struct kres *r, const char *ns,
                             const char *label_selector, const char *field_selector, long limit,
                             struct kc_list *l, char **list_rv, struct kerr_info *err)
{
    struct kc_buf base = {0};
    struct kjs_callbacks cb = {kc_list_item, kc_list_field};
    struct kjs *s = NULL;
    if (list_rv)
        *list_rv = NULL;
    enum kerr rc = kc_path_buf(&base, r, ns, NULL, NULL, false, err);
    if (rc != KERR_OK)
        goto out;
    s = kjs_new(KJS_ITEMS, "items", 0, &cb, l);
    if (l->text_fn)
        kjs_drop_meta_key(s, "managedFields");
    do {
        l->rc = KERR_OK;
        rc = kc_list_page(c, base.p, label_selector, field_selector, limit, l, s, err);
    } while (rc == KERR_OK && l->cont);
    if (rc == KERR_OK && list_rv) {
        *list_rv = l->rv;
        l->rv = NULL;
    }
out:
    kjs_free(s);
    free(l->rv);
    free(l->cont);
    free(base.p);
    return rc;
}

enum kerr kclient_list(struct kclient *c, const struct kres *r, const char *ns,
                       const char *label_selector, const char *field_selector, long limit,
                       kclient_item_fn item_fn, void *ctx, char **list_rv, struct kerr_info *err)
{
    struct kc_list l = {.fn = item_fn, .ctx = ctx};
    return kc_list_all(c, r, ns, label_selector, field_selector, limit, &l, list_rv, err);
}

enum kerr kclient_list_text(struct kclient *c, const struct kres *r, const char *ns,
                            const char *label_selector, const char *field_selector, long limit,
                            kclient_text_item_fn item_fn, void *ctx, char **list_rv,
                            struct kerr_info *err)
{
    return kclient_list_text_at(c, r, ns, label_selector, field_selector, NULL, limit, item_fn, ctx,
                                list_rv, err);
}

enum kerr kclient_list_text_at(struct kclient *c, const struct kres *r, const char *ns,
                               const char *label_selector, const char *field_selector,
                               const char *resource_version, long limit,
                               kclient_text_item_fn item_fn, void *ctx, char **list_rv,
                               struct kerr_info *err)
{
    struct kc_list l = {.text_fn = item_fn, .ctx = ctx};
    if (!item_fn)
        return kerr_set(err, KERR_INVAL, 0, "BadRequest", "kclient: no item function");
    if (resource_version && *resource_version) {
        l.at = resource_version;
        limit = 0; /* answered from the watch cache, which does not paginate */
    }
    return kc_list_all(c, r, ns, label_selector, field_selector, limit, &l, list_rv, err);
}
