/*
 * render_json: jansson ↔ Lua conversion for the template engine, and the
 * `json` helper table. Inputs become read-only proxies: an empty table
 * whose metatable holds the real table (under a light-userdata registry
 * key, so the conversion back never allocates to find it), __index,
 * __newindex (error), __len, __pairs and a protected __metatable. See
 * render_json.h for the conversion rule.
 */
#include "render_json.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Light-userdata keys: their addresses are the identities. */
static const char RO_TABLE = 't'; /* proxy metatable: the real table */
static const char RO_ARRAY = 'a'; /* proxy metatable: true for arrays */
static const char ARRAY_MT = 'm'; /* registry: json.array_mt */
static const char NULL_KEY = 'n'; /* json.null is this address */

/* ---- read-only proxies ---- */

/* Push the real table behind proxy `idx` (or nil). */
static int ro_target(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx)) {
        lua_pushnil(L);
        return LUA_TNIL;
    }
    int t = lua_rawgetp(L, -1, &RO_TABLE);
    lua_remove(L, -2);
    return t;
}

static int ro_newindex(lua_State *L)
{
    return luaL_error(L, "attempt to modify a read-only input table (copy it with json.copy)");
}

static int ro_len(lua_State *L)
{
    ro_target(L, 1);
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

static int ro_next(lua_State *L)
{
    ro_target(L, 1);
    lua_pushvalue(L, 2);
    if (lua_next(L, -2))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int ro_pairs(lua_State *L)
{
    lua_pushcfunction(L, ro_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Turn the table on top of the stack into a proxy (replaces it). */
static void ro_wrap(lua_State *L, int is_array)
{
    lua_createtable(L, 0, 0); /* T P */
    lua_createtable(L, 0, 7); /* T P M */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -3);
    lua_rawsetp(L, -2, &RO_TABLE);
    lua_pushboolean(L, is_array);
    lua_rawsetp(L, -2, &RO_ARRAY);
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, ro_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, ro_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushliteral(L, "read-only");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2); /* T P */
    lua_remove(L, -2);       /* P */
}

void render_json_protect(lua_State *L)
{
    ro_wrap(L, 0);
}

static void push_value(lua_State *L, const json_t *v, int depth, int skip_managed);

static void push_object(lua_State *L, const json_t *v, int depth, int skip_managed)
{
    const char *k;
    json_t *e;
    lua_createtable(L, 0, (int)json_object_size(v));
    json_object_foreach((json_t *)v, k, e)
    {
        if (json_is_null(e))
            continue;
        if (skip_managed == 2 && !strcmp(k, "managedFields"))
            continue;
        int sub = (skip_managed == 1 && !strcmp(k, "metadata")) ? 2 : 0;
        push_value(L, e, depth + 1, sub);
        lua_setfield(L, -2, k);
    }
    ro_wrap(L, 0);
}

static void push_value(lua_State *L, const json_t *v, int depth, int skip_managed)
{
    luaL_checkstack(L, 6, "input too deep");
    if (depth > RENDER_JSON_MAX_DEPTH)
        luaL_error(L, "input nested deeper than %d levels", RENDER_JSON_MAX_DEPTH);
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        push_object(L, v, depth, skip_managed);
        break;
    case JSON_ARRAY: {
        size_t i;
        json_t *e;
        lua_createtable(L, (int)json_array_size(v), 0);
        json_array_foreach(v, i, e)
        {
            push_value(L, e, depth + 1, 0);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        ro_wrap(L, 1);
        break;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(v));
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        break;
    default:
        lua_pushlightuserdata(L, (void *)&NULL_KEY);
        break;
    }
}

void render_json_push(lua_State *L, const json_t *v, int skip_managed)
{
    push_value(L, v, 0, skip_managed ? 1 : 0);
}

/* ---- Lua → JSON ---- */

/* The path to the value being converted is kept as a stack of segments
 * and only formatted when a conversion fails. */
struct conv_seg {
    const char *key; /* object member, or NULL for an array index */
    lua_Integer index;
};

struct conv {
    lua_State *L;
    const char *root;
    struct conv_seg segs[RENDER_JSON_MAX_DEPTH + 2];
    int nsegs;
    char *err;
    size_t errlen;
};

static json_t *conv_value(struct conv *c, int idx, int depth);

static json_t *conv_fail(struct conv *c, const char *problem)
{
    char path[256];
    size_t len = (size_t)snprintf(path, sizeof path, "%s", c->root ? c->root : "");
    for (int i = 0; i < c->nsegs && len < sizeof path; i++) {
        int n =
            c->segs[i].key
                ? snprintf(path + len, sizeof path - len, "%s%s", len ? "." : "", c->segs[i].key)
                : snprintf(path + len, sizeof path - len, "[%lld]", (long long)c->segs[i].index);
        if (n < 0)
            break;
        len += (size_t)n;
    }
    snprintf(c->err, c->errlen, "at %s: %s", path[0] ? path : "(top)", problem);
    return NULL;
}

static void path_push_key(struct conv *c, const char *k)
{
    c->segs[c->nsegs].key = k;
    c->nsegs++;
}

static void path_push_index(struct conv *c, lua_Integer i)
{
    c->segs[c->nsegs].key = NULL;
    c->segs[c->nsegs].index = i;
    c->nsegs++;
}

static void path_pop(struct conv *c)
{
    c->nsegs--;
}

/* Classify the keys of table `t`: *n = number of keys; returns 1 when they
 * are exactly the integers 1..n, 2 when all are strings, 0 otherwise. */
static int table_keys(lua_State *L, int t, lua_Integer *n)
{
    lua_Integer count = 0, max = 0;
    int ints = 1, strs = 1;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        count++;
        if (lua_type(L, -2) == LUA_TNUMBER && lua_isinteger(L, -2)) {
            lua_Integer k = lua_tointeger(L, -2);
            if (k < 1)
                ints = 0;
            else if (k > max)
                max = k;
            strs = 0;
        } else if (lua_type(L, -2) == LUA_TSTRING) {
            ints = 0;
        } else {
            ints = strs = 0;
        }
        lua_pop(L, 1);
    }
    *n = count;
    if (ints && max == count)
        return 1;
    return strs ? 2 : 0;
}

static json_t *conv_array(struct conv *c, int t, lua_Integer n, int depth)
{
    json_t *arr = json_array();
    for (lua_Integer i = 1; i <= n; i++) {
        path_push_index(c, i);
        lua_rawgeti(c->L, t, i);
        json_t *e = conv_value(c, lua_gettop(c->L), depth + 1);
        lua_pop(c->L, 1);
        path_pop(c);
        if (!e) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, e);
    }
    return arr;
}

static json_t *conv_object(struct conv *c, int t, int depth)
{
    lua_State *L = c->L;
    json_t *obj = json_object();
    lua_pushnil(L);
    while (lua_next(L, t)) {
        size_t klen;
        const char *k = lua_tolstring(L, -2, &klen); /* a string key: no conversion */
        path_push_key(c, k);
        json_t *e = (strlen(k) == klen) ? conv_value(c, lua_gettop(L), depth + 1)
                                        : conv_fail(c, "key contains a NUL byte");
        if (e && json_object_set_new(obj, k, e) != 0)
            e = conv_fail(c, "key is not valid UTF-8");
        path_pop(c);
        if (!e) {
            lua_pop(L, 2);
            json_decref(obj);
            return NULL;
        }
        lua_pop(L, 1);
    }
    return obj;
}

static json_t *conv_table(struct conv *c, int idx, int depth)
{
    lua_State *L = c->L;
    int top = lua_gettop(L), t = idx, marked = 0;
    json_t *out = NULL;
    lua_Integer n = 0;

    if (lua_getmetatable(L, idx)) {
        if (lua_rawgetp(L, -1, &RO_TABLE) == LUA_TTABLE) {
            lua_rawgetp(L, -2, &RO_ARRAY);
            marked = lua_toboolean(L, -1);
            lua_pop(L, 1);
            t = lua_gettop(L);
        } else {
            lua_rawgetp(L, LUA_REGISTRYINDEX, &ARRAY_MT);
            marked = lua_rawequal(L, -1, -3);
        }
    }
    int kind = table_keys(L, t, &n);
    if (marked && n > 0 && kind != 1)
        out = conv_fail(c, "a table marked as an array must have exactly the keys 1..n");
    else if (marked || (kind == 1 && n > 0))
        out = conv_array(c, t, n, depth);
    else if (n == 0)
        out = json_object();
    else if (kind == 2)
        out = conv_object(c, t, depth);
    else
        out = conv_fail(c, "table keys must be all strings (object) or exactly 1..n (array)");
    lua_settop(L, top);
    return out;
}

static json_t *conv_value(struct conv *c, int idx, int depth)
{
    lua_State *L = c->L;
    if (depth > RENDER_JSON_MAX_DEPTH)
        return conv_fail(c, "nested too deep (a cycle?)");
    if (!lua_checkstack(L, 8))
        return conv_fail(c, "Lua stack exhausted");
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return json_integer((json_int_t)lua_tointeger(L, idx));
        if (!isfinite(lua_tonumber(L, idx)))
            return conv_fail(c, "NaN and infinity cannot be represented in JSON");
        return json_real(lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        json_t *j = json_stringn(s, len);
        return j ? j : conv_fail(c, "string is not valid UTF-8");
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == (void *)&NULL_KEY)
            return json_null();
        return conv_fail(c, "cannot convert a userdata value to JSON");
    case LUA_TTABLE:
        return conv_table(c, idx, depth);
    case LUA_TNIL:
        return conv_fail(c, "nil is not a value (use json.null)");
    default: {
        char msg[96];
        snprintf(msg, sizeof msg, "cannot convert a %s value to JSON",
                 lua_typename(L, lua_type(L, idx)));
        return conv_fail(c, msg);
    }
    }
}

json_t *render_json_from_lua(lua_State *L, int idx, const char *path, char *errbuf, size_t errlen)
{
    struct conv c;
    memset(&c, 0, sizeof c);
    c.L = L;
    c.err = errbuf;
    c.errlen = errlen;
    c.root = path;
    return conv_value(&c, lua_absindex(L, idx), 0);
}

/* ---- the json table ---- */

static int is_marked_array(lua_State *L, int idx)
{
    int r = 0;
    if (!lua_getmetatable(L, idx))
        return 0;
    if (lua_rawgetp(L, -1, &RO_TABLE) == LUA_TTABLE) {
        lua_rawgetp(L, -2, &RO_ARRAY);
        r = lua_toboolean(L, -1);
        lua_pop(L, 3);
        return r;
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &ARRAY_MT);
    r = lua_rawequal(L, -1, -3);
    lua_pop(L, 3);
    return r;
}

static int l_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1))
        lua_newtable(L);
    else
        luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &ARRAY_MT);
    lua_setmetatable(L, 1);
    return 1;
}

static int l_isarray(lua_State *L)
{
    lua_pushboolean(L, lua_type(L, 1) == LUA_TTABLE && is_marked_array(L, 1));
    return 1;
}

static void copy_value(lua_State *L, int idx, int depth)
{
    luaL_checkstack(L, 6, "json.copy: too deep");
    if (depth > RENDER_JSON_MAX_DEPTH)
        luaL_error(L, "json.copy: nested deeper than %d levels", RENDER_JSON_MAX_DEPTH);
    if (lua_type(L, idx) != LUA_TTABLE) {
        lua_pushvalue(L, idx);
        return;
    }
    int marked = is_marked_array(L, idx);
    int src = idx;
    if (ro_target(L, idx) == LUA_TTABLE)
        src = lua_gettop(L);
    lua_newtable(L);
    int dst = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, src)) {
        lua_pushvalue(L, -2);
        copy_value(L, lua_gettop(L) - 1, depth + 1);
        lua_rawset(L, dst);
        lua_pop(L, 1);
    }
    if (marked) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &ARRAY_MT);
        lua_setmetatable(L, dst);
    }
    lua_replace(L, dst - 1); /* drop the target (or the nil placeholder) */
}

static int l_copy(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    copy_value(L, 1, 0);
    return 1;
}

void render_json_open(lua_State *L)
{
    lua_newtable(L); /* json.array_mt */
    lua_pushliteral(L, "json.array");
    lua_setfield(L, -2, "__name");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ARRAY_MT);

    lua_createtable(L, 0, 5); /* json */
    lua_insert(L, -2);
    lua_setfield(L, -2, "array_mt");
    lua_pushlightuserdata(L, (void *)&NULL_KEY);
    lua_setfield(L, -2, "null");
    lua_pushcfunction(L, l_array);
    lua_setfield(L, -2, "array");
    lua_pushcfunction(L, l_isarray);
    lua_setfield(L, -2, "isarray");
    lua_pushcfunction(L, l_copy);
    lua_setfield(L, -2, "copy");
}
