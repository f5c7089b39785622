/*
 * render: the Lua 5.4 template engine. One `struct render` per worker
 * thread, reused for every reconcile: it owns one Lua state in which the
 * seven template files (workload, route, certificate, tailscale, kafka,
 * backup, egress; in that order) were loaded and compiled once. Each file
 * returns a function(gs, config) that returns a list of Kubernetes objects.
 *
 * Sandbox: templates see only the safe parts of the base library, string
 * (without dump), table, math (without random), utf8, a text-only `load`,
 * collectgarbage("count"), and the helper tables `json` (see render_json.h)
 * and `grace` (name helpers, see docs/templates.md). No io, os, require,
 * package, debug, dofile, loadfile or binary chunks. Globals cannot be
 * assigned, inputs are read-only. Every render runs under an instruction
 * bound and a memory bound. Any failure (syntax, runtime, wrong return
 * shape, bound exceeded) is KERR_TEMPLATE with a message such as
 * "templates/workload.lua:42: attempt to index a nil value (field 'spec')";
 * the engine stays usable afterwards.
 *
 * Not thread-safe: one struct render is used by one thread at a time.
 */
#ifndef GRACE_RENDER_H
#define GRACE_RENDER_H

#include <jansson.h>
#include <stddef.h>

#include "kerr.h"

#define RENDER_NTEMPLATES 7
#define RENDER_DEFAULT_MAX_STEPS 5000000L    /* VM instructions per render */
#define RENDER_DEFAULT_MAX_BYTES (32u << 20) /* Lua heap growth per render */
#define RENDER_SYSTEM_TEMPLATES "/usr/share/grace-operator/templates"

struct render; /* opaque */

/* Template names in render order ("workload", ... "egress"). */
extern const char *const render_template_names[RENDER_NTEMPLATES];

/*
 * Create an engine from `templates_dir` (NULL = render_default_dir()).
 * Loads and compiles <dir>/<name>.lua for every template; each must return
 * a function. On success *out is owned (render_free). KERR_TEMPLATE with
 * file and line on a missing file, a syntax error or a bad return value.
 */
enum kerr render_new(const char *templates_dir, struct render **out, struct kerr_info *err);

/* Free the engine; NULL allowed. */
void render_free(struct render *r);

/* Free the garbage past renders left (a full collection: ~15 us, measured
 * with the default templates) when a render ran since the last call, so
 * an idle engine holds its templates only: ~75 KB, where the generational
 * collector leaves ~125 KB between renders. For a thread going idle. */
void render_collect(struct render *r);

/* The bytes the engine's Lua heap holds now. */
size_t render_heap_bytes(const struct render *r);

/* Change the bounds (tests, tuning); 0 keeps the current value. */
void render_set_limits(struct render *r, long max_steps, size_t max_bytes);

/*
 * Render every template for GraceService `gs` with operator config `config`
 * (the daemon's configuration as JSON; both borrowed, not modified). On success
 * *objects_out is a new JSON array (owned) of the objects in template
 * order, each checked to have string apiVersion, kind and metadata.name.
 * On failure KERR_TEMPLATE (message names the file and, where known, the
 * line) and *objects_out is untouched.
 */
enum kerr render_objects(struct render *r, const json_t *gs, const json_t *config,
                         json_t **objects_out, struct kerr_info *err);

/*
 * The same, and *from_out (may be NULL; owned, set only on success) is an
 * array parallel to *objects_out: for each object, the index into
 * render_template_names of the template that returned it. Each template is
 * one concern of the GraceService, so this says which concern an object
 * serves without looking at its kind or name.
 */
enum kerr render_objects_from(struct render *r, const json_t *gs, const json_t *config,
                              json_t **objects_out, json_t **from_out, struct kerr_info *err);

/* The directory actually loaded (borrowed). */
const char *render_dir(const struct render *r);

/*
 * The default templates directory: <dir of the executable>/../templates if
 * it holds workload.lua, else RENDER_SYSTEM_TEMPLATES. Writes into buf
 * (NUL-terminated, truncated to n) and returns buf.
 */
char *render_default_dir(char *buf, size_t n);

/*
 * Finish rendered objects in place, as the operator applies them: on every
 * object set the labels app.kubernetes.io/managed-by=grace-operator,
 * grace.dev/service=<gs name>, grace.dev/namespace=<gs namespace> (values
 * longer than 63 characters are shortened with a hash suffix); default
 * metadata.namespace to the GraceService's namespace; give children in
 * that namespace the controller ownerReference to the GraceService (no uid
 * when `gs` has none, as in an offline render); remove the GitOps tracking
 * label app.kubernetes.io/instance and annotation
 * argocd.argoproj.io/tracking-id. KERR_TEMPLATE when an object lacks
 * apiVersion, kind or metadata.name (then `objects` may be partly finished).
 */
enum kerr render_finish(const json_t *gs, json_t *objects, struct kerr_info *err);

/* Shorten `in` to a valid label value of at most 63 characters: unchanged
 * when it fits, else a prefix plus "-" and 8 hex digits of its FNV-1a hash.
 * Writes into out[64]. */
void render_label_value(const char *in, char out[64]);

#endif
