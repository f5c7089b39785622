/*
 * render: the Lua template engine (see render.h). One lua_State per engine
 * with a counting allocator (the memory bound) and a count hook (the
 * instruction bound); templates run in a sandbox environment built here
 * from a whitelist, plus the `json` table (render_json.c) and the `grace`
 * helpers (a small Lua prelude compiled in below). Everything that can
 * raise a Lua error runs under lua_pcall, so a template can never take the
 * process down; jansson values built during a render are owned by the
 * render context and freed on failure.
 */
#include "render.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgname.h"
#include "render_json.h"

#define RENDER_HOOK_EVERY 1000
#define RENDER_MAX_FILE (1u << 20)

const char *const render_template_names[RENDER_NTEMPLATES] = {
    "workload", "route", "certificate", "tailscale", "kafka", "backup", "egress"};

struct render {
    lua_State *L;
    size_t used;      /* bytes the Lua heap holds now */
    bool rendered;    /* a render ran since the last render_collect */
    size_t limit;     /* allocation fails beyond this */
    size_t max_bytes; /* growth allowed per render */
    long steps, max_steps;
    int fn_ref[RENDER_NTEMPLATES];
    int env_ref;
    int cfg_ref;      /* LUA_NOREF or the cached config proxy */
    json_t *cfg_copy; /* what cfg_ref was built from */
    char *dir;
    char chunk[RENDER_NTEMPLATES][96]; /* "templates/workload.lua" */
};

/* The `grace` helper table (documented in docs/templates.md). */
static const char render_prelude[] =
    "local byte, fmt, sub, lower, gsub = string.byte, string.format, string.sub,\n"
    "  string.lower, string.gsub\n"
    "local g = {}\n"
    "function g.hash8(s)\n"
    "  local h = 0x811c9dc5\n"
    "  for i = 1, #s do h = ((h ~ byte(s, i)) * 0x01000193) & 0xffffffff end\n"
    "  return fmt('%08x', h)\n"
    "end\n"
    "function g.shorten(s, max)\n"
    "  max = max or 63\n"
    "  if #s <= max then return s end\n"
    "  local p = gsub(sub(s, 1, max - 9), '[-._]+$', '')\n"
    "  return p .. '-' .. g.hash8(s)\n"
    "end\n"
    "function g.dns_label(s)\n"
    "  s = gsub(gsub(lower(s), '[^a-z0-9-]', '-'), '^-+', '')\n"
    "  s = gsub(g.shorten(s, 63), '-+$', '')\n"
    "  if s == '' then return 'x' end\n"
    "  return s\n"
    "end\n"
    "function g.name(...)\n"
    "  local parts = table.pack(...)\n"
    "  local s = table.concat(parts, '-', 1, parts.n)\n"
    "  return g.dns_label(s)\n"
    "end\n"
    "function g.unique_name(ns, name)\n"
    "  local p = gsub(gsub(lower(ns .. '-' .. name), '[^a-z0-9-]', '-'), '^-+', '')\n"
    "  p = gsub(sub(p, 1, 46), '-+$', '')\n"
    "  if p == '' then p = 'x' end\n"
    "  return p .. '-' .. g.service_hash(ns, name)\n"
    "end\n"
    "function g.hostname(gs)\n"
    "  return (gs.spec and gs.spec.hostname) or gs.metadata.name\n"
    "end\n"
    "function g.fqdn(gs, config)\n"
    "  return g.hostname(gs) .. '.' .. config.baseDomain\n"
    "end\n"
    "function g.database_name(gs)\n"
    "  local pg = gs.spec and gs.spec.postgres\n"
    "  if pg and pg.database then return pg.database end\n"
    "  local s = gsub(lower(gs.metadata.namespace .. '_' .. gs.metadata.name), '[^a-z0-9_]', '_')\n"
    "  if s:match('^[0-9]') then s = '_' .. s end\n"
    "  if #s > 63 then s = sub(s, 1, 54) .. '_' .. g.hash8(s) end\n"
    "  return s\n"
    "end\n"
    "function g.selector(gs)\n"
    "  return { ['app.kubernetes.io/name'] = gs.metadata.name,\n"
    "           ['grace.dev/service'] = gs.metadata.name }\n"
    "end\n"
    "function g.enabled(section, default)\n"
    "  if section == nil then return default end\n"
    "  if section.enabled == nil then return true end\n"
    "  return section.enabled\n"
    "end\n"
    "return g\n";

/* grace.service_hash(ns, name): pg_name_hash() of the pair, so a name in a
 * shared namespace is unique per GraceService (and the same hash as the
 * PostgreSQL names). */
static int grace_service_hash(lua_State *L)
{
    const char *ns = luaL_checkstring(L, 1), *name = luaL_checkstring(L, 2);
    char hex[PG_NAME_HASH_HEX + 1];
    pg_name_hash(ns, name, hex);
    lua_pushstring(L, hex);
    return 1;
}

/* ---- bounds ---- */

static void *render_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct render *r = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        r->used -= old;
        return NULL;
    }
    if (nsize > old && (nsize - old > r->limit || r->used > r->limit - (nsize - old)))
        return NULL;
    void *p = realloc(ptr, nsize);
    if (!p)
        return nsize <= old ? ptr : NULL; /* a shrink must not fail */
    r->used = r->used - old + nsize;
    return p;
}

static void render_hook(lua_State *L, lua_Debug *ar)
{
    struct render *r = *(struct render **)lua_getextraspace(L);
    r->steps += RENDER_HOOK_EVERY;
    if (r->steps <= r->max_steps)
        return;
    /* From now on every instruction fails, so a template's pcall cannot
     * swallow the bound and keep looping. */
    lua_sethook(L, render_hook, LUA_MASKCOUNT, 1);
    lua_getinfo(L, "Sl", ar);
    if (ar->currentline > 0)
        lua_pushfstring(L, "%s:%d: instruction limit exceeded (%I steps)", ar->short_src,
                        ar->currentline, (lua_Integer)r->max_steps);
    else
        lua_pushfstring(L, "instruction limit exceeded (%I steps)", (lua_Integer)r->max_steps);
    lua_error(L);
}

static void bounds_arm(struct render *r)
{
    r->steps = 0;
    r->limit = r->used + r->max_bytes;
    lua_sethook(r->L, render_hook, LUA_MASKCOUNT, RENDER_HOOK_EVERY);
}

static void bounds_disarm(struct render *r)
{
    r->limit = SIZE_MAX;
    lua_sethook(r->L, NULL, 0, 0);
}

static int render_panic(lua_State *L)
{
    fprintf(stderr, "grace-operator: unprotected Lua error: %s\n", lua_tostring(L, -1));
    abort();
}

/* ---- sandbox ---- */

static int sb_newindex(lua_State *L)
{
    return luaL_error(L, "assignment to global '%s' (templates cannot set globals; use local)",
                      lua_tostring(L, 2));
}

static int sb_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "count");
    if (strcmp(opt, "count") != 0)
        return luaL_error(L, "collectgarbage: only \"count\" is allowed in templates");
    lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT, 0) +
                          (lua_Number)lua_gc(L, LUA_GCCOUNTB, 0) / 1024.0);
    return 1;
}

/* load(text [, chunkname]): text chunks only, always in the sandbox. */
static int sb_load(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "=(load)");
    if (luaL_loadbufferx(L, s, len, name, "t") != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    struct render *r = *(struct render **)lua_getextraspace(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->env_ref);
    lua_setupvalue(L, -2, 1);
    return 1;
}

static const char *const sb_base[] = {
    "assert",   "error",    "getmetatable", "ipairs", "next",     "pairs",
    "pcall",    "rawequal", "rawget",       "rawlen", "select",   "setmetatable",
    "tonumber", "tostring", "type",         "xpcall", "_VERSION", NULL};

static void sb_copy_base(lua_State *L, int lib)
{
    for (int i = 0; sb_base[i]; i++) {
        lua_getglobal(L, sb_base[i]);
        lua_setfield(L, lib, sb_base[i]);
    }
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "unpack");
    lua_setfield(L, lib, "unpack");
    lua_pop(L, 1);
    lua_pushcfunction(L, sb_load);
    lua_setfield(L, lib, "load");
    lua_pushcfunction(L, sb_collectgarbage);
    lua_setfield(L, lib, "collectgarbage");
}

/* Expose the real library `name` (trimmed of `drop`) read-only in lib. */
static void sb_library(lua_State *L, int lib, const char *name, const char *const *drop)
{
    lua_getglobal(L, name);
    for (int i = 0; drop && drop[i]; i++) {
        lua_pushnil(L);
        lua_setfield(L, -2, drop[i]);
    }
    render_json_protect(L);
    lua_setfield(L, lib, name);
}

/* Protected: build the sandbox; registry[env_ref] = the environment proxy. */
static int sb_setup(lua_State *L)
{
    static const char *const no_string[] = {"dump", NULL};
    static const char *const no_math[] = {"random", "randomseed", NULL};
    struct render *r = lua_touserdata(L, 1);

    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    lua_settop(L, 1);

    lua_newtable(L); /* lib: what templates see */
    int lib = lua_gettop(L);
    sb_copy_base(L, lib);
    sb_library(L, lib, LUA_STRLIBNAME, no_string);
    sb_library(L, lib, LUA_TABLIBNAME, NULL);
    sb_library(L, lib, LUA_MATHLIBNAME, no_math);
    sb_library(L, lib, LUA_UTF8LIBNAME, NULL);
    render_json_open(L);
    render_json_protect(L);
    lua_setfield(L, lib, "json");

    /* getmetatable("") must not hand out the real string library. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushliteral(L, "string");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    if (luaL_loadbufferx(L, render_prelude, sizeof render_prelude - 1, "=grace", "t") != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, lib);
    lua_setupvalue(L, -2, 1);
    lua_call(L, 0, 1);
    lua_pushcfunction(L, grace_service_hash);
    lua_setfield(L, -2, "service_hash");
    render_json_protect(L);
    lua_setfield(L, lib, "grace");

    lua_newtable(L); /* the environment: empty, reads lib, refuses writes */
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, lib);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, sb_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "sandbox");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    r->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* ---- loading templates ---- */

static enum kerr read_template(const char *path, const char *shown, char **buf_out, size_t *len_out,
                               struct kerr_info *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return kerr_set(err, KERR_TEMPLATE, 0, "TemplateError", "%s: cannot open %s", shown, path);
    /* Sized from the file (a 1 MiB buffer per read per worker would stay
     * resident); one spare byte detects growth past the limit. */
    struct stat sb;
    size_t cap = fstat(fileno(f), &sb) == 0 && sb.st_size >= 0 && sb.st_size < RENDER_MAX_FILE
                     ? (size_t)sb.st_size + 1
                     : RENDER_MAX_FILE + 1;
    char *buf = kerr_xmalloc(cap);
    size_t len = fread(buf, 1, cap, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || len > RENDER_MAX_FILE || (len == cap && cap <= RENDER_MAX_FILE)) {
        free(buf);
        return kerr_set(err, KERR_TEMPLATE, 0, "TemplateError", "%s: %s", shown,
                        bad                     ? "read error"
                        : len > RENDER_MAX_FILE ? "file larger than 1 MiB"
                                                : "file grew while being read");
    }
    *buf_out = buf;
    *len_out = len;
    return KERR_OK;
}

struct load_ctx {
    struct render *r;
    int i;
    const char *buf;
    size_t len;
};

/* Protected: compile template i, run its chunk, keep the returned function. */
static int load_one(lua_State *L)
{
    struct load_ctx *c = lua_touserdata(L, 1);
    struct render *r = c->r;
    char chunkname[sizeof r->chunk[0] + 1];
    snprintf(chunkname, sizeof chunkname, "@%s", r->chunk[c->i]);
    if (luaL_loadbufferx(L, c->buf, c->len, chunkname, "t") != LUA_OK)
        return lua_error(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->env_ref);
    lua_setupvalue(L, -2, 1);
    lua_call(L, 0, 1);
    if (lua_type(L, -1) != LUA_TFUNCTION)
        return luaL_error(L, "%s: must return a function(gs, config), got %s", r->chunk[c->i],
                          luaL_typename(L, -1));
    r->fn_ref[c->i] = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static enum kerr error_from_lua(struct render *r, int status, const char *where,
                                struct kerr_info *err)
{
    lua_State *L = r->L;
    const char *msg = lua_tostring(L, -1);
    enum kerr rc;
    if (status == LUA_ERRMEM)
        rc = kerr_set(err, KERR_TEMPLATE, 0, "TemplateError",
                      "%s: memory limit exceeded (%zu MiB per render)", where, r->max_bytes >> 20);
    else if (!msg)
        rc = kerr_set(err, KERR_TEMPLATE, 0, "TemplateError", "%s: error object is a %s value",
                      where, luaL_typename(L, -1));
    else if (strncmp(msg, where, strlen(where)) == 0)
        rc = kerr_set(err, KERR_TEMPLATE, 0, "TemplateError", "%s", msg);
    else
        rc = kerr_set(err, KERR_TEMPLATE, 0, "TemplateError", "%s: %s", where, msg);
    lua_pop(L, 1);
    return rc;
}

static enum kerr load_templates(struct render *r, struct kerr_info *err)
{
    const char *base = strrchr(r->dir, '/');
    base = (base && base[1]) ? base + 1 : r->dir;
    for (int i = 0; i < RENDER_NTEMPLATES; i++) {
        char path[4096];
        struct load_ctx c = {r, i, NULL, 0};
        char *buf = NULL;
        snprintf(r->chunk[i], sizeof r->chunk[i], "%s/%s.lua", base, render_template_names[i]);
        snprintf(path, sizeof path, "%s/%s.lua", r->dir, render_template_names[i]);
        enum kerr rc = read_template(path, r->chunk[i], &buf, &c.len, err);
        if (rc)
            return rc;
        c.buf = buf;
        bounds_arm(r);
        lua_pushcfunction(r->L, load_one);
        lua_pushlightuserdata(r->L, &c);
        int st = lua_pcall(r->L, 1, 0, 0);
        bounds_disarm(r);
        free(buf);
        if (st != LUA_OK)
            return error_from_lua(r, st, r->chunk[i], err);
    }
    return KERR_OK;
}

char *render_default_dir(char *buf, size_t n)
{
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            char probe[4200];
            struct stat st;
            *slash = '\0';
            snprintf(probe, sizeof probe, "%s/../templates/workload.lua", exe);
            if (stat(probe, &st) == 0) {
                snprintf(buf, n, "%s/../templates", exe);
                return buf;
            }
        }
    }
    snprintf(buf, n, "%s", RENDER_SYSTEM_TEMPLATES);
    return buf;
}

enum kerr render_new(const char *templates_dir, struct render **out, struct kerr_info *err)
{
    char defdir[4096];
    struct render *r = kerr_xcalloc(1, sizeof *r);
    enum kerr rc = KERR_OK;

    r->limit = SIZE_MAX;
    r->max_bytes = RENDER_DEFAULT_MAX_BYTES;
    r->max_steps = RENDER_DEFAULT_MAX_STEPS;
    r->cfg_ref = LUA_NOREF;
    r->env_ref = LUA_NOREF;
    for (int i = 0; i < RENDER_NTEMPLATES; i++)
        r->fn_ref[i] = LUA_NOREF;
    r->dir =
        kerr_xstrdup(templates_dir ? templates_dir : render_default_dir(defdir, sizeof defdir));
    r->L = lua_newstate(render_alloc, r);
    if (!r->L)
        kerr_oom();
    lua_atpanic(r->L, render_panic);
    /* Renders make short-lived garbage: the generational collector suits it. */
    lua_gc(r->L, LUA_GCGEN, 0, 0);
    *(struct render **)lua_getextraspace(r->L) = r;

    lua_pushcfunction(r->L, sb_setup);
    lua_pushlightuserdata(r->L, r);
    int st = lua_pcall(r->L, 1, 0, 0);
    if (st != LUA_OK) {
        rc = error_from_lua(r, st, "sandbox", err);
        goto out;
    }
    rc = load_templates(r, err);
out:
    if (rc) {
        render_free(r);
        return rc;
    }
    *out = r;
    return KERR_OK;
}

void render_collect(struct render *r)
{
    if (!r->rendered)
        return;
    lua_gc(r->L, LUA_GCCOLLECT);
    r->rendered = false;
}

size_t render_heap_bytes(const struct render *r)
{
    return r->used;
}

void render_free(struct render *r)
{
    if (!r)
        return;
    if (r->L)
        lua_close(r->L);
    json_decref(r->cfg_copy);
    free(r->dir);
    free(r);
}

void render_set_limits(struct render *r, long max_steps, size_t max_bytes)
{
    if (max_steps > 0)
        r->max_steps = max_steps;
    if (max_bytes > 0)
        r->max_bytes = max_bytes;
}

const char *render_dir(const struct render *r)
{
    return r->dir;
}

/* ---- rendering ---- */

struct render_ctx {
    struct render *r;
    const json_t *gs, *config;
    json_t *out;  /* the objects so far (owned) */
    json_t *from; /* parallel to out: the index of the template that returned each (owned) */
    int cur;      /* template running, -1 while converting inputs */
};

static void push_config(lua_State *L, struct render_ctx *c)
{
    struct render *r = c->r;
    if (r->cfg_copy && json_equal(r->cfg_copy, (json_t *)c->config)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, r->cfg_ref);
        return;
    }
    render_json_push(L, c->config, 0);
    luaL_unref(L, LUA_REGISTRYINDEX, r->cfg_ref);
    lua_pushvalue(L, -1);
    r->cfg_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    json_decref(r->cfg_copy);
    r->cfg_copy = json_deep_copy(c->config);
}

/* "" when `o` has the shape of a Kubernetes object, else what is wrong. */
static const char *object_shape_problem(const json_t *o)
{
    if (!json_is_object(o))
        return "is not an object";
    const json_t *av = json_object_get(o, "apiVersion"), *k = json_object_get(o, "kind");
    const json_t *md = json_object_get(o, "metadata");
    if (!json_is_string(av) || !json_string_length(av))
        return "has no apiVersion string";
    if (!json_is_string(k) || !json_string_length(k))
        return "has no kind string";
    if (!json_is_object(md))
        return "has no metadata object";
    const json_t *nm = json_object_get(md, "name");
    if (!json_is_string(nm) || !json_string_length(nm))
        return "has no metadata.name string";
    return "";
}

/* The template's result is on top of the stack; append its objects. */
static void collect(lua_State *L, struct render_ctx *c)
{
    const char *chunk = c->r->chunk[c->cur];
    char msg[300];
    if (lua_isnil(L, -1))
        return;
    if (lua_type(L, -1) != LUA_TTABLE)
        luaL_error(L, "%s: must return a list of objects, got %s", chunk, luaL_typename(L, -1));
    json_t *res = render_json_from_lua(L, -1, "result", msg, sizeof msg);
    if (!res)
        luaL_error(L, "%s: cannot convert the result to JSON %s", chunk, msg);
    if (json_is_object(res) && json_object_size(res) == 0) {
        json_decref(res);
        return;
    }
    if (!json_is_array(res)) {
        json_decref(res);
        luaL_error(L, "%s: must return a list of objects, got a single object (wrap it: {obj})",
                   chunk);
    }
    size_t i;
    json_t *o;
    json_array_foreach(res, i, o)
    {
        const char *p = object_shape_problem(o);
        if (*p) {
            snprintf(msg, sizeof msg, "%s: object %zu of the result %s", chunk, i + 1, p);
            json_decref(res);
            luaL_error(L, "%s", msg);
        }
        json_array_append(c->out, o);
        json_array_append_new(c->from, json_integer(c->cur));
    }
    json_decref(res);
}

static int render_protected(lua_State *L)
{
    struct render_ctx *c = lua_touserdata(L, 1);
    struct render *r = c->r;
    c->cur = -1;
    render_json_push(L, c->gs, 1); /* 2 */
    push_config(L, c);             /* 3 */
    for (int i = 0; i < RENDER_NTEMPLATES; i++) {
        c->cur = i;
        lua_rawgeti(L, LUA_REGISTRYINDEX, r->fn_ref[i]);
        lua_pushvalue(L, 2);
        lua_pushvalue(L, 3);
        lua_call(L, 2, 1);
        collect(L, c);
        lua_settop(L, 3);
    }
    return 0;
}

enum kerr render_objects(struct render *r, const json_t *gs, const json_t *config,
                         json_t **objects_out, struct kerr_info *err)
{
    return render_objects_from(r, gs, config, objects_out, NULL, err);
}

enum kerr render_objects_from(struct render *r, const json_t *gs, const json_t *config,
                              json_t **objects_out, json_t **from_out, struct kerr_info *err)
{
    if (!json_is_object(gs) || !json_is_object(config))
        return kerr_set(err, KERR_INVAL, 0, "BadInput",
                        "render: the GraceService and the config must be JSON objects");
    struct render_ctx c = {r, gs, config, json_array(), json_array(), -1};
    int top = lua_gettop(r->L);
    r->rendered = true;
    bounds_arm(r);
    lua_pushcfunction(r->L, render_protected);
    lua_pushlightuserdata(r->L, &c);
    int st = lua_pcall(r->L, 1, 0, 0);
    bounds_disarm(r);
    if (st != LUA_OK) {
        enum kerr rc = error_from_lua(r, st, c.cur >= 0 ? r->chunk[c.cur] : "render inputs", err);
        lua_settop(r->L, top);
        json_decref(c.out);
        json_decref(c.from);
        return rc;
    }
    lua_settop(r->L, top);
    *objects_out = c.out;
    if (from_out)
        *from_out = c.from;
    else
        json_decref(c.from);
    return KERR_OK;
}
