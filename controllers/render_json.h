/*
 * render_json: the conversion between jansson values and Lua 5.4 values used
 * by the template engine (render.c), and the `json` helper table templates
 * see. The rule (documented for template authors in docs/templates.md):
 *
 * JSON → Lua (inputs gs and config): objects and arrays become read-only
 * tables (writes raise "read-only"; pairs, ipairs and # work; next() does
 * not: use pairs), strings/booleans/numbers map directly (JSON integers
 * become Lua integers, reals become floats). A null object member is
 * absent (nil); a null array element is json.null.
 *
 * Lua → JSON (template results):
 *  - json.null → null; booleans, strings (must be UTF-8) map directly;
 *    Lua integers → JSON integers; floats → JSON reals (3.0 stays 3.0);
 *    NaN and infinities are an error.
 *  - a table marked as an array (json.array{...}, setmetatable(t,
 *    json.array_mt), or an input array) → a JSON array of t[1..#t]; its keys
 *    must be exactly 1..n (an empty marked table is []).
 *  - any other table with no keys → {} (an empty object).
 *  - any other table whose keys are exactly the integers 1..n (n >= 1) → an
 *    array; one whose keys are all strings → an object; anything else
 *    (mixed keys, holes, float or boolean keys) is an error.
 *  - functions, coroutines and userdata are errors. Nesting is limited to
 *    RENDER_JSON_MAX_DEPTH (this also catches cycles).
 */
#ifndef GRACE_RENDER_JSON_H
#define GRACE_RENDER_JSON_H

#include <jansson.h>
#include <lua.h>
#include <stddef.h>

#define RENDER_JSON_MAX_DEPTH 64

/* Create the `json` helper table (null, array, array_mt, copy, isarray) and
 * the shared metatables in the registry; leaves the table on the stack.
 * Call once per state, before any other function here. May raise a Lua
 * error (memory), so call it in protected mode. */
void render_json_open(lua_State *L);

/* Replace the table on top of the stack by a read-only proxy of it (not an
 * array). May raise (memory). */
void render_json_protect(lua_State *L);

/* Push `v` as a read-only Lua value. When `skip_managed` is set and `v` is
 * an object, its metadata.managedFields is not converted. May raise (memory):
 * protected mode only. */
void render_json_push(lua_State *L, const json_t *v, int skip_managed);

/*
 * Convert the Lua value at `idx` to a new JSON value (owned). On failure
 * returns NULL and writes "at PATH: problem" into errbuf. `path` names the
 * value in messages (e.g. "[2]"). Raises no Lua error.
 */
json_t *render_json_from_lua(lua_State *L, int idx, const char *path, char *errbuf, size_t errlen);

#endif
