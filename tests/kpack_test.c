/*
 * kpack_test: texts deflated against a kind's dictionary come back byte for
 * byte (NUL bytes included), much smaller than deflate alone makes them;
 * what does not pay is refused; damaged data or a wrong length is refused
 * without harm; and a codec is shared safely between threads. Also the
 * kobj side: a packed kobj reads like the text it was made from.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kobj.h"
#include "kpack.h"

/* A Deployment-like text, different per i in name, uid, image, time. */
static char *deployment(int i)
{
    char *t = malloc(2048);
    ck_assert_ptr_nonnull(t);
    snprintf(t, 2048,
             "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"svc-%d\","
             "\"namespace\":\"grace\",\"uid\":\"6f1c%04d-1a2b-4c3d-8e9f-%012d\","
             "\"resourceVersion\":\"%d\",\"generation\":1,\"creationTimestamp\":"
             "\"2026-12-06T21:%02d:%02dZ\",\"labels\":{\"app.kubernetes.io/name\":\"svc-%d\","
             "\"app.kubernetes.io/managed-by\":\"grace-operator\",\"grace.dev/service\":\"svc-%d\"},"
             "\"ownerReferences\":[{\"apiVersion\":\"grace.dev/v1alpha1\",\"kind\":\"GraceService\","
             "\"name\":\"svc-%d\",\"uid\":\"9a8b%04d-0000-4000-8000-%012d\",\"controller\":true,"
             "\"blockOwnerDeletion\":true}]},\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":"
             "{\"app.kubernetes.io/name\":\"svc-%d\"}},\"template\":{\"metadata\":{\"labels\":{"
             "\"app.kubernetes.io/name\":\"svc-%d\"}},\"spec\":{\"containers\":[{\"name\":\"app\","
             "\"image\":\"ghcr.io/example/svc-%d:1.%d.0\",\"ports\":[{\"containerPort\":8000}],"
             "\"readinessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":8000}}}]}}},"
             "\"status\":{\"observedGeneration\":1,\"replicas\":1,\"availableReplicas\":1}}",
             i, i, i * 7919, 1000 + i, i % 60, (i * 7) % 60, i, i, i, i, i * 31, i, i, i, i % 10);
    return t;
}

static size_t plain_deflate(const char *t)
{
    uLongf n = compressBound(strlen(t));
    unsigned char *b = malloc(n);
    ck_assert_int_eq(compress2(b, &n, (const Bytef *)t, strlen(t), 1), Z_OK);
    free(b);
    return n;
}

START_TEST(kpack_round_trip_against_the_first_text)
{
    struct kpack *c = kpack_new();
    size_t raw = 0, packed = 0, plain = 0;
    for (int i = 0; i < 50; i++) {
        char *t = deployment(i);
        size_t len = strlen(t);
        unsigned char *z = malloc(len);
        size_t zlen = kpack_compress(c, t, len, z);
        ck_assert_uint_gt(zlen, 0);
        char *back = malloc(len);
        ck_assert(kpack_expand(c, z, zlen, back, len));
        ck_assert(memcmp(back, t, len) == 0);
        if (i > 0) { /* the first is the dictionary itself */
            raw += len;
            packed += zlen;
            plain += plain_deflate(t);
        }
        free(back);
        free(z);
        free(t);
    }
    fprintf(stderr, "kpack_test: 49 Deployments: %zu B of text, %zu deflated alone, %zu packed\n",
            raw, plain, packed);
    ck_assert_uint_lt(packed * 3, plain); /* the dictionary is what pays */
    kpack_unref(c);
}
END_TEST

START_TEST(kpack_keeps_nul_bytes_and_refuses_what_does_not_pay)
{
    struct kpack *c = kpack_new();
    static const char text[] = "{\"data\":{\"k\":\"a\0b\"},\"metadata\":{\"name\":\"x\"}}";
    size_t len = sizeof text - 1;
    unsigned char z[sizeof text];
    size_t zlen = kpack_compress(c, text, len, z);
    ck_assert_uint_gt(zlen, 0);
    char back[sizeof text];
    ck_assert(kpack_expand(c, z, zlen, back, len));
    ck_assert(memcmp(back, text, len) == 0);
    /* bytes unlike the dictionary and too short to repeat themselves */
    unsigned char noise[16];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (unsigned char)(i * 151 + 7);
    ck_assert_uint_eq(kpack_compress(c, (const char *)noise, sizeof noise, z), 0);
    ck_assert_uint_eq(kpack_compress(c, text, 0, z), 0);
    kpack_unref(c);
}
END_TEST

START_TEST(kpack_refuses_damaged_data_and_a_wrong_length)
{
    struct kpack *c = kpack_new();
    char *t = deployment(1), *u = deployment(2);
    size_t len = strlen(u);
    unsigned char *z = malloc(strlen(t) > len ? strlen(t) : len);
    ck_assert_uint_gt(kpack_compress(c, t, strlen(t), z), 0);
    size_t zlen = kpack_compress(c, u, len, z);
    ck_assert_uint_gt(zlen, 0);
    char *back = malloc(len + 1);
    back[len] = 0x7f; /* a canary just past what expand may write */
    ck_assert(!kpack_expand(c, z, zlen, back, len - 1)); /* too short a buffer */
    ck_assert_int_eq(back[len], 0x7f);
    ck_assert(!kpack_expand(c, z, zlen - 1, back, len)); /* truncated */
    ck_assert_int_eq(back[len], 0x7f);
    size_t wrong = 0;
    for (size_t i = 0; i < zlen; i += 3) { /* damaged: refused or wrong, never past len */
        unsigned char *d = malloc(zlen);
        memcpy(d, z, zlen);
        d[i] ^= 0x5a;
        if (!kpack_expand(c, d, zlen, back, len) || memcmp(back, u, len) != 0)
            wrong++;
        ck_assert_int_eq(back[len], 0x7f);
        free(d);
    }
    ck_assert_uint_gt(wrong, 0); /* damage is not read back as the text */
    struct kpack *empty = kpack_new(); /* no dictionary yet */
    ck_assert(!kpack_expand(empty, z, zlen, back, len));
    kpack_unref(empty);
    free(back);
    free(z);
    free(t);
    free(u);
    kpack_unref(c);
}
END_TEST

static void *pack_many(void *arg)
{
    struct kpack *c = arg;
    for (int i = 0; i < 300; i++) {
        char *t = deployment(i);
        size_t len = strlen(t);
        unsigned char *z = malloc(len);
        size_t zlen = kpack_compress(c, t, len, z);
        if (zlen) {
            char *back = malloc(len);
            ck_assert(kpack_expand(c, z, zlen, back, len));
            ck_assert(memcmp(back, t, len) == 0);
            free(back);
        }
        free(z);
        free(t);
    }
    return NULL;
}

START_TEST(kpack_codec_is_shared_between_threads)
{
    struct kpack *c = kpack_new();
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, pack_many, kpack_ref(c)), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        kpack_unref(c);
    }
    kpack_unref(c);
}
END_TEST

START_TEST(kobj_packed_reads_like_its_text)
{
    struct kpack *c = kpack_new();
    char *t0 = deployment(0), *t1 = deployment(1);
    struct kobj *first = kobj_pack(kobj_new_from_text(t0, strlen(t0), NULL, NULL, NULL, NULL), c);
    struct kobj *o = kobj_new_from_text(t1, strlen(t1), NULL, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(o);
    struct kobj *shared = kobj_ref(o);
    ck_assert_ptr_eq(kobj_pack(o, c), o); /* shared: left alone */
    kobj_unref(shared);
    struct kobj *p = kobj_pack(o, c);
    ck_assert(kobj_packed(p));
    ck_assert_ptr_null(kobj_text(p));
    ck_assert_uint_eq(kobj_text_len(p), strlen(t1));
    char *back = kobj_text_copy(p);
    ck_assert_str_eq(back, t1);
    free(back);
    json_t *want = json_loads(t1, 0, NULL), *got = kobj_json(p);
    ck_assert(json_equal(want, got));
    json_decref(want);
    json_decref(got);
    ck_assert_str_eq(kobj_name(p), "svc-1");
    ck_assert_str_eq(kobj_namespace(p), "grace");
    ck_assert_str_eq(kobj_resource_version(p), "1001");
    ck_assert_str_eq(kobj_kind(p), "Deployment");
    ck_assert_str_eq(kobj_label(p, "grace.dev/service"), "svc-1");
    ck_assert_uint_eq(kobj_label_count(p), 3);
    ck_assert_uint_eq(kobj_owner_count(p), 1);
    ck_assert_str_eq(kobj_controller_uid(p), "9a8b0001-0000-4000-8000-000000000031");
    ck_assert_int_eq(kobj_generation(p), 1);
    ck_assert_ptr_null(kobj_packed_copy(p, c)); /* already packed */
    kobj_unref(p);
    kpack_unref(c); /* the kobjs keep the codec alive */
    back = kobj_text_copy(first);
    ck_assert_str_eq(back, t0);
    free(back);
    kobj_unref(first);
    free(t0);
    free(t1);
}
END_TEST

/* The codec keeps one copy of a pair's key, and of its value while it is
 * the first value seen with that key; bounded in count and size. */
START_TEST(kpack_shares_keys_and_their_first_values)
{
    struct kpack *c = kpack_new();
    const char *k1, *v1, *k2, *v2;
    char key[16], big[KPACK_SHARED_LEN + 2];
    kpack_share(c, "app.kubernetes.io/managed-by", "grace-operator", &k1, &v1);
    kpack_share(c, "app.kubernetes.io/managed-by", "grace-operator", &k2, &v2);
    ck_assert_str_eq(k1, "app.kubernetes.io/managed-by");
    ck_assert_str_eq(v1, "grace-operator");
    ck_assert_ptr_eq(k1, k2);
    ck_assert_ptr_eq(v1, v2);
    kpack_share(c, "app.kubernetes.io/managed-by", "someone-else", &k2, &v2);
    ck_assert_ptr_eq(k1, k2);
    ck_assert_ptr_null(v2);
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    kpack_share(c, big, "v", &k2, &v2); /* too long: not kept */
    ck_assert_ptr_null(k2);
    ck_assert_ptr_null(v2);
    for (int i = 1; i < KPACK_SHARED_MAX; i++) {
        snprintf(key, sizeof key, "k%d", i);
        kpack_share(c, key, "v", &k2, &v2);
        ck_assert_str_eq(k2, key);
    }
    kpack_share(c, "one-too-many", "v", &k2, &v2); /* full */
    ck_assert_ptr_null(k2);
    ck_assert_ptr_null(v2);
    kpack_share(c, "k1", "v", &k2, &v2); /* still found */
    ck_assert_str_eq(k2, "k1");
    ck_assert_str_eq(v2, "v");
    kpack_unref(c);
}
END_TEST

/* Packed objects of one kind point to their codec's copies of kind,
 * apiVersion, label keys and the values all of them have, and keep their
 * own copies of the rest; each reads back the same. */
START_TEST(kobj_packed_copies_share_strings_with_their_codec)
{
    struct kpack *c = kpack_new();
    struct kobj *p[3];
    for (int i = 0; i < 3; i++) {
        char *t = deployment(i);
        p[i] = kobj_pack(kobj_new_from_text(t, strlen(t), NULL, NULL, NULL, NULL), c);
        free(t);
        ck_assert(kobj_packed(p[i]));
    }
    for (int i = 1; i < 3; i++) {
        ck_assert_ptr_eq(kobj_kind(p[i]), kobj_kind(p[0]));
        ck_assert_ptr_eq(kobj_api_version(p[i]), kobj_api_version(p[0]));
        for (size_t l = 0; l < kobj_label_count(p[i]); l++)
            ck_assert_ptr_eq(kobj_label_key(p[i], l), kobj_label_key(p[0], l));
        ck_assert_ptr_eq(kobj_label(p[i], "app.kubernetes.io/managed-by"),
                         kobj_label(p[0], "app.kubernetes.io/managed-by"));
        ck_assert_ptr_ne(kobj_label(p[i], "grace.dev/service"),
                         kobj_label(p[0], "grace.dev/service"));
    }
    ck_assert_str_eq(kobj_kind(p[2]), "Deployment");
    ck_assert_str_eq(kobj_api_version(p[2]), "apps/v1");
    ck_assert_str_eq(kobj_label(p[2], "grace.dev/service"), "svc-2");
    ck_assert_str_eq(kobj_label(p[2], "app.kubernetes.io/managed-by"), "grace-operator");
    ck_assert_str_eq(kobj_label_key(p[2], 0), "app.kubernetes.io/name");
    kpack_unref(c); /* the kobjs keep the codec and its strings alive */
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(kobj_label_key(p[i], 1), "app.kubernetes.io/managed-by");
        kobj_unref(p[i]);
    }
}
END_TEST

static Suite *kpack_suite(void)
{
    Suite *s = suite_create("kpack");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, kpack_round_trip_against_the_first_text);
    tcase_add_test(tc, kpack_keeps_nul_bytes_and_refuses_what_does_not_pay);
    tcase_add_test(tc, kpack_refuses_damaged_data_and_a_wrong_length);
    tcase_add_test(tc, kpack_codec_is_shared_between_threads);
    tcase_add_test(tc, kobj_packed_reads_like_its_text);
    tcase_add_test(tc, kpack_shares_keys_and_their_first_values);
    tcase_add_test(tc, kobj_packed_copies_share_strings_with_their_codec);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kpack_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
