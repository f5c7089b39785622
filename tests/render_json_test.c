/*
 * render_json_test: the conversion between jansson and Lua values the
 * template engine uses (render_json.h): Lua results to JSON (types, arrays
 * versus objects, the json helper table, errors with their path, the
 * depth bound) and JSON inputs to read-only Lua values (null handling,
 * managedFields skipped, writes refused, a round trip).
 */
#include <check.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "render_json.h"

static int open_json(lua_State *L)
{
    render_json_open(L);
    lua_setglobal(L, "json");
    return 0;
}

static lua_State *state(void)
{
    lua_State *L = luaL_newstate();
    ck_assert_ptr_nonnull(L);
    luaL_openlibs(L);
    lua_pushcfunction(L, open_json);
    ck_assert_int_eq(lua_pcall(L, 0, 0, 0), LUA_OK);
    return L;
}

/* Run `code` (a chunk that returns one value) and convert its result. */
static json_t *eval(lua_State *L, const char *code, char *err, size_t n)
{
    ck_assert_int_eq(luaL_loadstring(L, code), LUA_OK);
    ck_assert_msg(lua_pcall(L, 0, 1, 0) == LUA_OK, "%s", lua_tostring(L, -1));
    err[0] = '\0';
    json_t *v = render_json_from_lua(L, -1, "result", err, n);
    lua_pop(L, 1);
    return v;
}

/* eval, then compare with the JSON text `want`. */
static void check_eval(lua_State *L, const char *code, const char *want)
{
    char err[256];
    json_t *v = eval(L, code, err, sizeof err);
    ck_assert_msg(v != NULL, "%s: %s", code, err);
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    ck_assert_ptr_nonnull(w);
    char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    ck_assert_msg(json_equal(v, w), "%s: got %s, want %s", code, got, want);
    free(got);
    json_decref(v);
    json_decref(w);
}

static void check_error(lua_State *L, const char *code, const char *want_in_message)
{
    char err[256];
    json_t *v = eval(L, code, err, sizeof err);
    ck_assert_msg(v == NULL, "%s: converted, want an error", code);
    ck_assert_msg(strstr(err, want_in_message) != NULL, "%s: message %s", code, err);
}

START_TEST(lua_scalars_become_json_scalars)
{
    lua_State *L = state();
    check_eval(L, "return 42", "42");
    check_eval(L, "return 3.0", "3.0");
    check_eval(L, "return 'x'", "\"x\"");
    check_eval(L, "return true", "true");
    check_eval(L, "return json.null", "null");
    char err[64];
    json_t *v = eval(L, "return 3.0", err, sizeof err);
    ck_assert(json_is_real(v)); /* a float stays a real */
    json_decref(v);
    lua_close(L);
}
END_TEST

START_TEST(lua_tables_become_arrays_or_objects_by_their_keys)
{
    lua_State *L = state();
    check_eval(L, "return {1, 2, 3}", "[1,2,3]");
    check_eval(L, "return {a = 1, b = {c = 'd'}}", "{\"a\":1,\"b\":{\"c\":\"d\"}}");
    check_eval(L, "return {}", "{}");
    check_eval(L, "return json.array{}", "[]");
    check_eval(L, "return setmetatable({}, json.array_mt)", "[]");
    check_eval(L, "return {json.null, 1}", "[null,1]");
    lua_close(L);
}
END_TEST

START_TEST(lua_values_without_json_form_are_errors_with_their_path)
{
    lua_State *L = state();
    check_error(L, "return {a = {1, x = 2}}", "result.a");
    check_error(L, "return {f = print}", "result.f");
    check_error(L, "return {n = 0/0}", "result.n");
    check_error(L, "return {[1] = 1, [3] = 3}", "result");
    check_error(L, "return {[1.5] = 1}", "result");
    lua_close(L);
}
END_TEST

START_TEST(nesting_beyond_the_bound_and_cycles_are_errors)
{
    lua_State *L = state();
    check_error(L, "local t = {} t.self = t return t", "result");
    check_error(L, "local t = {} local c = t for i = 1, 100 do c.x = {} c = c.x end return t",
                "result");
    check_eval(L, "local t = {} local c = t for i = 1, 10 do c.x = {} c = c.x end return 1", "1");
    lua_close(L);
}
END_TEST

struct push_ctx {
    const json_t *v;
    int skip;
};

static int push_input(lua_State *L)
{
    struct push_ctx *p = lua_touserdata(L, 1);
    render_json_push(L, p->v, p->skip);
    lua_setglobal(L, "input");
    return 0;
}

static void set_input(lua_State *L, const json_t *v, int skip)
{
    struct push_ctx p = {v, skip};
    lua_pushcfunction(L, push_input);
    lua_pushlightuserdata(L, &p);
    ck_assert_int_eq(lua_pcall(L, 1, 0, 0), LUA_OK);
}

START_TEST(json_inputs_are_read_only_lua_values)
{
    lua_State *L = state();
    json_t *in = json_loads("{\"metadata\":{\"name\":\"n\",\"managedFields\":[{}]},"
                            "\"a\":[1,null,3],\"z\":null,\"r\":2.5}",
                            0, NULL);
    set_input(L, in, 1);
    check_eval(L, "return #input.a", "3");
    check_eval(L, "return input.a[2] == json.null", "true");
    check_eval(L, "return input.z == nil", "true");
    check_eval(L, "return input.metadata.managedFields == nil", "true");
    check_eval(L, "local n = 0 for _, v in ipairs(input.a) do n = n + 1 end return n", "3");
    check_eval(L, "return input.r", "2.5");
    ck_assert_int_eq(luaL_loadstring(L, "input.a[1] = 9"), LUA_OK);
    ck_assert_int_ne(lua_pcall(L, 0, 0, 0), LUA_OK);
    ck_assert_ptr_nonnull(strstr(lua_tostring(L, -1), "read-only"));
    lua_pop(L, 1);
    json_decref(in);
    lua_close(L);
}
END_TEST

START_TEST(an_input_converted_back_is_the_same_json)
{
    lua_State *L = state();
    json_t *in = json_loads("{\"s\":\"x\",\"i\":1,\"f\":1.5,\"b\":false,\"a\":[1,[2],{}],"
                            "\"o\":{\"k\":[]}}",
                            0, NULL);
    set_input(L, in, 0);
    char err[128];
    json_t *back = eval(L, "return input", err, sizeof err);
    ck_assert_msg(back != NULL, "%s", err);
    ck_assert(json_equal(back, in));
    json_decref(back);
    json_decref(in);
    lua_close(L);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("render_json");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, lua_scalars_become_json_scalars);
    tcase_add_test(tc, lua_tables_become_arrays_or_objects_by_their_keys);
    tcase_add_test(tc, lua_values_without_json_form_are_errors_with_their_path);
    tcase_add_test(tc, nesting_beyond_the_bound_and_cycles_are_errors);
    tcase_add_test(tc, json_inputs_are_read_only_lua_values);
    tcase_add_test(tc, an_input_converted_back_is_the_same_json);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
