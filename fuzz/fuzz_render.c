/*
 * fuzz_render: the Lua template output, as render (render_objects),
 * render_json (Lua values to JSON) and render_finish (labels, owner,
 * namespace) turn it into the children to apply.
 *
 * Input: byte 0 picks the engine: bit 0 set, the operator's templates
 * (templates/ of the repository) render a GraceService whose spec is the
 * rest of the input (JSON; defaults applied as the webhook does); bit 0
 * clear, the rest is the body of a template (Lua, run through the
 * sandbox's load() by a workload.lua written for the harness; the other
 * templates return nothing).
 *
 * Invariants, when a render succeeds:
 *  - the result is an array of objects with non-empty apiVersion, kind
 *    and metadata.name strings;
 *  - it dumps as JSON and loads back equal (no NaN, no infinity, no
 *    invalid UTF-8 reaches the API server; a NUL in a string is sent as
 *    "\u0000", which is valid JSON);
 *  - after render_finish every object has a namespace, the labels
 *    app.kubernetes.io/managed-by and the GraceService's name, and in the
 *    GraceService's namespace exactly one controller ownerReference.
 * A failed render leaves a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_render.h"
#include "config.h"
#include "fuzzutil.h"
#include "render.h"

#define H "render"

static struct render *fuzz_engine, *repo_engine;
static struct grace_config *cfg;

static void write_template(const char *dir, const char *name, const char *body)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s.lua", dir, name);
    FILE *f = fopen(p, "w");
    if (!f || fputs(body, f) < 0 || fclose(f) != 0)
        abort();
}

static struct render *engine(const char *dir)
{
    struct render *r = NULL;
    struct kerr_info err = {0};
    if (render_new(dir, &r, &err) != KERR_OK) {
        fprintf(stderr, "fuzz_render: templates %s: %s\n", dir, err.message);
        abort();
    }
    render_set_limits(r, 200000, 16u << 20);
    return r;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static char dir[64];
    char repo[4200], cwd[4096];
    fz_init_quiet();
    fz_tmpdir(dir, sizeof dir, "render");
    if (!getcwd(cwd, sizeof cwd))
        abort();
    for (int i = 0; i < RENDER_NTEMPLATES; i++)
        write_template(dir, render_template_names[i], "return function() return nil end\n");
    write_template(dir, "workload",
                   "return function(gs, config)\n"
                   "  local f = load(gs.spec.code, '=fuzz')\n"
                   "  if not f then return nil end\n"
                   "  return f(gs, config)\n"
                   "end\n");
    fuzz_engine = engine(dir);
    /* run from the repository (make fuzz does), or GRACE_TEMPLATES=dir */
    const char *t = getenv("GRACE_TEMPLATES");
    snprintf(repo, sizeof repo, "%s%s", t ? t : cwd, t ? "" : "/templates");
    repo_engine = engine(repo);
    if (grace_config_load_string("baseDomain: example.com\n", "fuzz", &cfg, NULL) != KERR_OK)
        abort();
    return 0;
}

static const char *label(const json_t *o, const char *k)
{
    const json_t *l = json_object_get(json_object_get(o, "metadata"), "labels");
    const char *v = json_string_value(json_object_get(l, k));
    return v ? v : "";
}

static void check_finished(const json_t *gs, const json_t *objs)
{
    size_t i, j;
    json_t *o, *ref;
    json_array_foreach(objs, i, o)
    {
        const json_t *md = json_object_get(o, "metadata");
        const char *ns = json_string_value(json_object_get(md, "namespace"));
        if (!ns || !*ns)
            fz_fail(H, "object %zu has no namespace after render_finish", i);
        if (strcmp(label(o, "app.kubernetes.io/managed-by"), "grace-operator") != 0)
            fz_fail(H, "object %zu lacks the managed-by label", i);
        if (strcmp(ns, "ns") != 0)
            continue;
        size_t controllers = 0;
        json_array_foreach(json_object_get(md, "ownerReferences"), j, ref) controllers +=
            json_is_true(json_object_get(ref, "controller"));
        if (controllers != 1)
            fz_fail(H, "object %zu has %zu controller references", i, controllers);
    }
    (void)gs;
}

static void check_objects(const json_t *objs)
{
    size_t i;
    json_t *o;
    if (!json_is_array(objs))
        fz_fail(H, "render result is not an array");
    json_array_foreach(objs, i, o)
    {
        const json_t *md = json_object_get(o, "metadata");
        if (!json_string_length(json_object_get(o, "apiVersion")) ||
            !json_string_length(json_object_get(o, "kind")) ||
            !json_string_length(json_object_get(md, "name")))
            fz_fail(H, "object %zu lacks apiVersion, kind or metadata.name", i);
    }
    char *s = json_dumps(objs, JSON_COMPACT);
    json_t *back = s ? json_loads(s, JSON_ALLOW_NUL, NULL) : NULL; /* "\u0000" is JSON */
    if (!back || !json_equal((json_t *)objs, back))
        fz_fail(H, "render result does not survive JSON: %.300s", s ? s : "(no dump)");
    json_decref(back);
    free(s);
}

static json_t *make_gs(const uint8_t *data, size_t size, int repo)
{
    json_t *spec = repo ? json_loadb((const char *)data, size, 0, NULL)
                        : json_pack("{s:s%}", "code", (const char *)data, size);
    if (!json_is_object(spec)) {
        json_decref(spec);
        return NULL; /* not JSON, or not valid UTF-8 for a Lua string of JSON */
    }
    json_t *gs = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:o}", "apiVersion", "grace.dev/v1alpha1",
                           "kind", "GraceService", "metadata", "name", "fz", "namespace", "ns",
                           "uid", "u-1", "spec", spec);
    if (repo)
        cmd_render_apply_defaults(gs);
    return gs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int repo = data[0] & 1;
    json_t *gs = make_gs(data + 1, size - 1, repo), *objs = NULL;
    if (!gs)
        return 0;
    struct kerr_info err = {0};
    enum kerr rc =
        render_objects(repo ? repo_engine : fuzz_engine, gs, grace_config_json(cfg), &objs, &err);
    if (rc == KERR_OK) {
        check_objects(objs);
        if (render_finish(gs, objs, &err) == KERR_OK)
            check_finished(gs, objs);
    } else if (!err.message[0]) {
        fz_fail(H, "a failed render without a message");
    }
    json_decref(objs);
    json_decref(gs);
    return 0;
}
