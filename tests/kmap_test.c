/*
 * kmap_test: the runtime's intrusive hash map: insert, find and remove;
 * nodes whose hashes collide told apart by the equality callback; growth
 * across many sizes; removing (and freeing) the current node while
 * iterating; the empty map.
 */
#include "kmap.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khash.h"

struct item {
    int pad; /* the node is not the first member: KMAP_ENTRY must subtract */
    struct kmap_node node;
    char key[32];
    int seen;
};

static bool item_eq(const struct kmap_node *n, const void *key)
{
    return strcmp(KMAP_ENTRY(n, const struct item, node)->key, key) == 0;
}

static struct item *item_find(const struct kmap *m, uint64_t h, const char *key)
{
    return KMAP_ENTRY(kmap_find(m, h, item_eq, key), struct item, node);
}

static struct item *item_new(const char *fmt, int i)
{
    struct item *it = calloc(1, sizeof *it);
    ck_assert_ptr_nonnull(it);
    snprintf(it->key, sizeof it->key, fmt, i);
    return it;
}

static uint64_t hash_of(const char *key)
{
    return khash_str(KHASH_INIT, key);
}

static void free_all(struct kmap *m)
{
    struct kmap_iter it;
    kmap_iter_init(&it, m);
    for (struct kmap_node *n; (n = kmap_iter_next(&it));)
        free(KMAP_ENTRY(n, struct item, node));
    kmap_free(m);
}

START_TEST(kmap_insert_find_remove)
{
    struct kmap m = {0};
    struct item *a = item_new("ns/a%d", 1), *b = item_new("ns/b%d", 2);
    kmap_insert(&m, &a->node, hash_of(a->key));
    kmap_insert(&m, &b->node, hash_of(b->key));
    ck_assert_uint_eq(kmap_count(&m), 2);
    ck_assert_ptr_eq(item_find(&m, hash_of("ns/a1"), "ns/a1"), a);
    ck_assert_ptr_eq(item_find(&m, hash_of("ns/b2"), "ns/b2"), b);
    ck_assert_ptr_null(item_find(&m, hash_of("ns/c3"), "ns/c3"));
    kmap_remove(&m, &a->node);
    ck_assert_uint_eq(kmap_count(&m), 1);
    ck_assert_ptr_null(item_find(&m, hash_of("ns/a1"), "ns/a1"));
    ck_assert_ptr_eq(item_find(&m, hash_of("ns/b2"), "ns/b2"), b);
    /* re-inserted after removal: found again */
    kmap_insert(&m, &a->node, hash_of(a->key));
    ck_assert_ptr_eq(item_find(&m, hash_of("ns/a1"), "ns/a1"), a);
    free_all(&m);
    ck_assert_uint_eq(kmap_count(&m), 0);
}
END_TEST

/* Every node under one hash: one chain; eq picks the right one, and
 * removing from the middle, head and tail of the chain keeps the rest. */
START_TEST(kmap_equal_hashes_are_told_apart_by_eq)
{
    struct kmap m = {0};
    struct item *its[50];
    for (int i = 0; i < 50; i++) {
        its[i] = item_new("k%d", i);
        kmap_insert(&m, &its[i]->node, 42);
    }
    for (int i = 0; i < 50; i++)
        ck_assert_ptr_eq(item_find(&m, 42, its[i]->key), its[i]);
    ck_assert_ptr_null(item_find(&m, 42, "k50"));
    ck_assert_ptr_null(item_find(&m, 43, "k1"));
    /* NULL eq: any node with that hash */
    ck_assert_ptr_nonnull(kmap_find(&m, 42, NULL, NULL));
    ck_assert_ptr_null(kmap_find(&m, 43, NULL, NULL));
    int order[] = {25, 0, 49, 1, 48};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        kmap_remove(&m, &its[order[k]]->node);
        ck_assert_ptr_null(item_find(&m, 42, its[order[k]]->key));
        free(its[order[k]]);
        its[order[k]] = NULL;
    }
    ck_assert_uint_eq(kmap_count(&m), 45);
    for (int i = 0; i < 50; i++)
        if (its[i])
            ck_assert_ptr_eq(item_find(&m, 42, its[i]->key), its[i]);
    free_all(&m);
}
END_TEST

/* For many sizes around the growth points: every key is found after
 * growing, absent keys are not, and iteration sees each node once. */
START_TEST(kmap_grows_across_many_sizes)
{
    static const int sizes[] = {1, 15, 16, 17, 31, 32, 33, 100, 1000, 4097, 20000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s];
        struct kmap m = {0};
        for (int i = 0; i < n; i++) {
            struct item *it = item_new("default/obj-%d", i);
            kmap_insert(&m, &it->node, hash_of(it->key));
        }
        ck_assert_uint_eq(kmap_count(&m), (size_t)n);
        ck_assert_uint_ge(m.nslots, (size_t)n);
        char key[32];
        for (int i = 0; i < n; i++) {
            snprintf(key, sizeof key, "default/obj-%d", i);
            struct item *it = item_find(&m, hash_of(key), key);
            ck_assert_ptr_nonnull(it);
            ck_assert_str_eq(it->key, key);
            snprintf(key, sizeof key, "default/nope-%d", i);
            ck_assert_ptr_null(item_find(&m, hash_of(key), key));
        }
        size_t walked = 0;
        struct kmap_iter iter;
        kmap_iter_init(&iter, &m);
        for (struct kmap_node *nd; (nd = kmap_iter_next(&iter));) {
            struct item *it = KMAP_ENTRY(nd, struct item, node);
            ck_assert_int_eq(it->seen, 0);
            it->seen = 1;
            walked++;
        }
        ck_assert_uint_eq(walked, (size_t)n);
        free_all(&m);
    }
}
END_TEST

/* Removing and freeing the node just returned, for every other node and
 * for every node; chains of several nodes included (few distinct hashes). */
START_TEST(kmap_remove_while_iterating)
{
    for (int hashes = 0; hashes < 2; hashes++) {
        struct kmap m = {0};
        for (int i = 0; i < 1000; i++) {
            struct item *it = item_new("k%d", i);
            it->seen = i;
            kmap_insert(&m, &it->node, hashes ? (uint64_t)(i % 7) : hash_of(it->key));
        }
        struct kmap_iter iter;
        size_t removed = 0;
        kmap_iter_init(&iter, &m);
        for (struct kmap_node *n; (n = kmap_iter_next(&iter));) {
            struct item *it = KMAP_ENTRY(n, struct item, node);
            if (it->seen % 2 == 0) {
                kmap_remove(&m, n);
                free(it);
                removed++;
            }
        }
        ck_assert_uint_eq(removed, 500);
        ck_assert_uint_eq(kmap_count(&m), 500);
        for (int i = 0; i < 1000; i++) {
            char key[32];
            snprintf(key, sizeof key, "k%d", i);
            uint64_t h = hashes ? (uint64_t)(i % 7) : hash_of(key);
            struct item *it = item_find(&m, h, key);
            ck_assert(i % 2 ? it != NULL : it == NULL);
        }
        /* and all the rest, each freed as it is returned */
        kmap_iter_init(&iter, &m);
        for (struct kmap_node *n; (n = kmap_iter_next(&iter));) {
            kmap_remove(&m, n);
            free(KMAP_ENTRY(n, struct item, node));
        }
        ck_assert_uint_eq(kmap_count(&m), 0);
        kmap_free(&m);
    }
}
END_TEST

START_TEST(kmap_empty_map)
{
    struct kmap m;
    kmap_init(&m);
    ck_assert_uint_eq(kmap_count(&m), 0);
    ck_assert_ptr_null(kmap_find(&m, 1, NULL, NULL));
    ck_assert_ptr_null(item_find(&m, hash_of("x"), "x"));
    ck_assert_ptr_null(KMAP_ENTRY((struct kmap_node *)NULL, struct item, node));
    struct kmap_iter it;
    kmap_iter_init(&it, &m);
    ck_assert_ptr_null(kmap_iter_next(&it));
    kmap_free(&m);
    kmap_free(NULL);
    /* emptied after use: slots remain, nothing is found or walked */
    struct item *a = item_new("a%d", 0);
    kmap_insert(&m, &a->node, hash_of(a->key));
    kmap_remove(&m, &a->node);
    ck_assert_ptr_null(item_find(&m, hash_of(a->key), a->key));
    kmap_iter_init(&it, &m);
    ck_assert_ptr_null(kmap_iter_next(&it));
    free(a);
    kmap_free(&m);
    ck_assert_ptr_null(m.slots);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kmap");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, kmap_insert_find_remove);
    tcase_add_test(tc, kmap_equal_hashes_are_told_apart_by_eq);
    tcase_add_test(tc, kmap_grows_across_many_sizes);
    tcase_add_test(tc, kmap_remove_while_iterating);
    tcase_add_test(tc, kmap_empty_map);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
