/* Unit tests for operator/dirpub.c's encoding: plain JSON while small, gzip
 * (byte-for-byte the same JSON) beyond, an error past what a ConfigMap can
 * hold; and the ConfigMap's size at 100, 1,000 and 5,000 typical services. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <zlib.h>

#include "dirpub.h"

static char *filled(size_t n, unsigned seed)
{
    char *t = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        t[i] = (char)('a' + (seed >> 16) % 26);
    }
    t[n] = '\0';
    return t;
}

START_TEST(dirpub_small_directory_is_plain_json)
{
    json_t *data = NULL, *bin = NULL;
    struct kerr_info err = {0};
    ck_assert_int_eq(dirpub_encode("{}\n", 3, &data, &bin, &err), KERR_OK);
    ck_assert_str_eq(json_string_value(json_object_get(data, DIRPUB_KEY)), "{}\n");
    ck_assert_uint_eq(json_object_size(bin), 0);
    json_decref(data);
    json_decref(bin);
}
END_TEST

START_TEST(dirpub_large_directory_is_gzip_of_the_same_bytes)
{
    size_t n = DIRPUB_PLAIN_MAX + 1;
    char *text = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        text[i] = "{\"services\":[]} "[i % 16];
    text[n] = '\0';
    json_t *data = NULL, *bin = NULL;
    struct kerr_info err = {0};
    ck_assert_msg(dirpub_encode(text, n, &data, &bin, &err) == KERR_OK, "%s", err.message);
    ck_assert_uint_eq(json_object_size(data), 0);
    const char *b64 = json_string_value(json_object_get(bin, DIRPUB_GZ_KEY));
    ck_assert_ptr_nonnull(b64);
    char *gz = malloc(strlen(b64));
    int gz_len = lws_b64_decode_string(b64, gz, (int)strlen(b64));
    ck_assert_int_gt(gz_len, 0);
    char *back = malloc(n + 16);
    z_stream z = {0};
    ck_assert_int_eq(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)gz;
    z.avail_in = (uInt)gz_len;
    z.next_out = (Bytef *)back;
    z.avail_out = (uInt)(n + 16);
    ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
    ck_assert_uint_eq(z.total_out, n);
    ck_assert(memcmp(back, text, n) == 0);
    inflateEnd(&z);
    /* the same bytes give the same encoding (no timestamp in the header) */
    json_t *d2 = NULL, *b2 = NULL;
    ck_assert_int_eq(dirpub_encode(text, n, &d2, &b2, &err), KERR_OK);
    ck_assert(json_equal(bin, b2));
    json_decref(d2);
    json_decref(b2);
    free(back);
    free(gz);
    free(text);
    json_decref(data);
    json_decref(bin);
}
END_TEST

START_TEST(dirpub_directory_past_a_configmap_is_an_error)
{
    size_t n = 2 * 1024 * 1024;
    char *text = filled(n, 7); /* random letters: gzip gets ~1.6x, not enough */
    json_t *data = NULL, *bin = NULL;
    struct kerr_info err = {0};
    ck_assert_int_eq(dirpub_encode(text, n, &data, &bin, &err), KERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "over the"));
    json_decref(data);
    json_decref(bin);
    free(text);
}
END_TEST

/* A typical service: a distinct ~120-character description (random words),
 * one owned topic, one consumed, a database, shared tailnet, Ready. */
static json_t *typical(size_t i)
{
    static const char *const words[] = {
        "invoices", "answers", "questions", "about",  "customers", "lists",  "totals",
        "payments", "per",     "month",     "emits",  "events",    "reads",  "orders",
        "people",   "looks",   "up",        "merges", "contacts",  "sends",  "reminders",
        "calendar", "tracks",  "shipments", "stock",  "refunds",   "search", "reports"};
    char desc[160] = "";
    unsigned seed = (unsigned)i * 2654435761u;
    size_t len = 0;
    while (len < 115) {
        seed = seed * 1103515245u + 12345u;
        len += (size_t)snprintf(desc + len, sizeof desc - len, "%s%s", len ? " " : "",
                                words[(seed >> 16) % 28]);
    }
    desc[120] = '\0';
    json_t *gs = json_pack(
        "{s:{s:s+, s:s+, s:s}, s:{s:s, s:{}, s:{s:[{s:s+}], s:[s+]}},"
        " s:{s:[{s:s, s:s, s:s}]}}",
        "metadata", "namespace", "team-", i % 50 < 10 ? "0" : "", "name", "service-", "x",
        "creationTimestamp", "2026-01-01T00:00:00Z", "spec", "description", desc, "postgres",
        "kafka", "topics", "name", "service-", "x", "consumes", "service-", "y", "status",
        "conditions", "type", "Ready", "status", "True", "lastTransitionTime",
        "2026-01-02T03:04:05Z");
    char name[32], ns[32], topic[48], cons[48];
    snprintf(name, sizeof name, "service-%05zu", i);
    snprintf(ns, sizeof ns, "team-%02zu", i % 50);
    snprintf(topic, sizeof topic, "service-%05zu.events", i);
    snprintf(cons, sizeof cons, "service-%05zu.events", (i + 1) % 5000);
    json_t *md = json_object_get(gs, "metadata");
    json_object_set_new(md, "name", json_string(name));
    json_object_set_new(md, "namespace", json_string(ns));
    json_t *k = json_object_get(json_object_get(gs, "spec"), "kafka");
    json_object_set_new(json_array_get(json_object_get(k, "topics"), 0), "name",
                        json_string(topic));
    json_array_set_new(json_object_get(k, "consumes"), 0, json_string(cons));
    return gs;
}

START_TEST(dirpub_configmap_under_1mib_at_5000_services)
{
    static const size_t ns[] = {100, 1000, 5000};
    struct dir_config cfg = {.base_domain = "grace.example.com", .tailscale = true};
    size_t object = 0;
    for (size_t k = 0; k < 3; k++) {
        json_t *items = json_array();
        for (size_t i = 0; i < ns[k]; i++)
            json_array_append_new(items, typical(i));
        json_t *doc = dir_build(items, &cfg, NULL);
        size_t len = 0;
        char *text = dir_dump(doc, &len);
        json_t *data = NULL, *bin = NULL;
        struct kerr_info err = {0};
        ck_assert_int_eq(dirpub_encode(text, len, &data, &bin, &err), KERR_OK);
        object = json_string_length(json_object_get(data, DIRPUB_KEY)) +
                 json_string_length(json_object_get(bin, DIRPUB_GZ_KEY));
        fprintf(stderr, "directory size: %zu services: JSON %zu bytes (%.0f per service), "
                "ConfigMap %s %zu bytes\n", ns[k], len, (double)len / (double)ns[k],
                json_object_size(bin) ? "directory.json.gz (base64)" : "directory.json", object);
        json_decref(data);
        json_decref(bin);
        free(text);
        json_decref(doc);
        json_decref(items);
    }
    ck_assert_uint_lt(object, 1024 * 1024);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dirpub");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, dirpub_small_directory_is_plain_json);
    tcase_add_test(t, dirpub_large_directory_is_gzip_of_the_same_bytes);
    tcase_add_test(t, dirpub_directory_past_a_configmap_is_an_error);
    tcase_add_test(t, dirpub_configmap_under_1mib_at_5000_services);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
