/*
 * kleader_test: Lease leader election against a fake Lease endpoint that
 * follows the API server's rules (transcript 18): 404 then create, 409 on
 * a racing create or a stale resourceVersion, 422 without one, MicroTime
 * with exactly 6 fractional digits or 400.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kleader.h"
#include "testsrv.h"

#define LEASE_PATH "/apis/coordination.k8s.io/v1/namespaces/ns/leases"

struct fake {
    pthread_mutex_t mu;
    json_t *lease; /* NULL: absent */
    long rv;
    int gets, creates, updates, conflicts, bad_times;
    bool fail;         /* answer 403 to everything */
    int conflict_puts; /* answer 409 to this many PUTs */
    bool other_renews; /* each GET shows "other" renewing (new RV) */
    char **keep;
    size_t nkeep;
    int started, stopped; /* callback counts */
};

static const char *keep(struct fake *f, char *s)
{
    f->keep = realloc(f->keep, (f->nkeep + 1) * sizeof *f->keep);
    ck_assert_ptr_nonnull(f->keep);
    f->keep[f->nkeep++] = s;
    return s;
}

static void status(struct fake *f, struct testsrv_resp *out, int code, const char *reason)
{
    char buf[256];
    snprintf(buf, sizeof buf,
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
             "\"message\":\"fake %d\",\"reason\":\"%s\",\"code\":%d}",
             code, reason, code);
    out->status = code;
    out->body = keep(f, strdup(buf));
}

/* "2026-11-28T12:00:00.000000Z": exactly 6 fractional digits. */
static bool microtime_ok(const json_t *v)
{
    const char *s = json_string_value(v);
    if (!v)
        return true;
    if (!s || strlen(s) != 27 || s[10] != 'T' || s[19] != '.' || s[26] != 'Z')
        return false;
    for (int i = 20; i < 26; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static void store(struct fake *f, json_t *obj, struct testsrv_resp *out, int code)
{
    char rv[32];
    snprintf(rv, sizeof rv, "%ld", ++f->rv);
    json_t *meta = json_object_get(obj, "metadata");
    json_object_set_new(meta, "resourceVersion", json_string(rv));
    json_object_set_new(meta, "namespace", json_string("ns"));
    json_object_set_new(meta, "uid", json_string("lease-uid"));
    json_object_set_new(meta, "managedFields", json_pack("[{s:s}]", "manager", "x"));
    json_decref(f->lease);
    f->lease = obj;
    out->status = code;
    out->body = keep(f, json_dumps(obj, JSON_COMPACT));
}

static void put(struct fake *f, json_t *body, struct testsrv_resp *out)
{
    const char *want =
        json_string_value(json_object_get(json_object_get(body, "metadata"), "resourceVersion"));
    char cur[32];
    snprintf(cur, sizeof cur, "%ld", f->rv);
    f->updates++;
    if (!f->lease) {
        store(f, body, out, 201); /* Lease allows create-on-update */
    } else if (!want) {
        json_decref(body);
        status(f, out, 422, "Invalid");
    } else if (f->conflict_puts > 0 || strcmp(want, cur) != 0) {
        if (f->conflict_puts > 0)
            f->conflict_puts--;
        f->conflicts++;
        json_decref(body);
        status(f, out, 409, "Conflict");
    } else {
        store(f, body, out, 200);
    }
}

static void get(struct fake *f, struct testsrv_resp *out)
{
    f->gets++;
    if (!f->lease) {
        status(f, out, 404, "NotFound");
        return;
    }
    json_t *spec = json_object_get(f->lease, "spec");
    if (f->other_renews &&
        strcmp(json_string_value(json_object_get(spec, "holderIdentity")), "other") == 0)
        store(f, json_deep_copy(f->lease), out, 200); /* "other" renewed: new RV */
    else
        out->body = keep(f, json_dumps(f->lease, JSON_COMPACT));
    out->status = 200;
}

static void handler(void *ctx, const struct testsrv_req *req, struct testsrv_resp *out)
{
    struct fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    json_t *body = req->body_len ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
    json_t *spec = json_object_get(body, "spec");
    if (f->fail) {
        json_decref(body);
        status(f, out, 403, "Forbidden");
    } else if (body && (!microtime_ok(json_object_get(spec, "renewTime")) ||
                        !microtime_ok(json_object_get(spec, "acquireTime")))) {
        f->bad_times++;
        json_decref(body);
        status(f, out, 400, "BadRequest");
    } else if (strcmp(req->method, "GET") == 0) {
        get(f, out);
    } else if (strcmp(req->method, "POST") == 0 && strcmp(req->path, LEASE_PATH) == 0) {
        f->creates++;
        if (f->lease) {
            json_decref(body);
            status(f, out, 409, "AlreadyExists");
        } else {
            store(f, body, out, 201);
        }
    } else if (strcmp(req->method, "PUT") == 0) {
        put(f, body, out);
    } else {
        json_decref(body);
        status(f, out, 405, "MethodNotAllowed");
    }
    pthread_mutex_unlock(&f->mu);
}

static void on_started(void *ctx)
{
    struct fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->started++;
    pthread_mutex_unlock(&f->mu);
}

static void on_stopped(void *ctx)
{
    struct fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->stopped++;
    pthread_mutex_unlock(&f->mu);
}

struct fx {
    struct fake f;
    struct testsrv *srv;
    struct kconfig cfg;
    struct kclient *c;
    struct kleader *l;
};

static void fx_setup(struct fx *x, const char *preset)
{
    struct kerr_info err = {0};
    memset(x, 0, sizeof *x);
    pthread_mutex_init(&x->f.mu, NULL);
    if (preset)
        x->f.lease = json_loads(preset, 0, NULL);
    x->f.rv = 100;
    x->srv = testsrv_start();
    testsrv_set_handler(x->srv, handler, &x->f);
    x->cfg.server = (char *)testsrv_url(x->srv);
    ck_assert_int_eq(kclient_new(&x->cfg, NULL, &x->c, &err), KERR_OK);
    struct kleader_options o = {"ns", "grace-operator", "me_1",     1000, 600,
                                100,  on_started,       on_stopped, &x->f};
    ck_assert_int_eq(kleader_new(x->c, &o, &x->l, &err), KERR_OK);
}

static void fx_teardown(struct fx *x)
{
    kleader_free(x->l);
    kclient_free(x->c);
    testsrv_stop(x->srv);
    json_decref(x->f.lease);
    for (size_t i = 0; i < x->f.nkeep; i++)
        free(x->f.keep[i]);
    free(x->f.keep);
    pthread_mutex_destroy(&x->f.mu);
}

/* Value of spec.<key> as text (copied). */
static const char *spec_str(struct fx *x, const char *key)
{
    static char buf[128];
    pthread_mutex_lock(&x->f.mu);
    json_t *v = json_object_get(json_object_get(x->f.lease, "spec"), key);
    if (json_is_string(v))
        snprintf(buf, sizeof buf, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else
        snprintf(buf, sizeof buf, "(none)");
    pthread_mutex_unlock(&x->f.mu);
    return buf;
}

static bool wait_leader(struct kleader *l, bool want, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (kleader_is_leader(l) == want)
            return true;
        usleep(10000);
    }
    return kleader_is_leader(l) == want;
}

START_TEST(kleader_acquires_an_absent_lease)
{
    struct fx x;
    fx_setup(&x, NULL);
    ck_assert(!kleader_is_leader(x.l));
    ck_assert_int_eq(kleader_start(x.l), KERR_OK);
    ck_assert(wait_leader(x.l, true, 3000));
    ck_assert_str_eq(spec_str(&x, "holderIdentity"), "me_1");
    ck_assert_str_eq(spec_str(&x, "leaseDurationSeconds"), "1");
    ck_assert_str_eq(spec_str(&x, "leaseTransitions"), "0");
    ck_assert_int_eq(x.f.creates, 1);
    ck_assert_int_eq(x.f.bad_times, 0);
    ck_assert_int_eq(kleader_transitions(x.l), 0);
    ck_assert_int_eq(kleader_start(x.l), KERR_INVAL);
    kleader_stop(x.l);
    pthread_mutex_lock(&x.f.mu);
    ck_assert_int_eq(x.f.started, 1);
    pthread_mutex_unlock(&x.f.mu);
    fx_teardown(&x);
}
END_TEST

START_TEST(kleader_renews_from_its_own_write_without_reading)
{
    struct fx x;
    fx_setup(&x, NULL);
    ck_assert_int_eq(kleader_start(x.l), KERR_OK);
    ck_assert(wait_leader(x.l, true, 3000));
    char first[128], acquired[128];
    snprintf(first, sizeof first, "%s", spec_str(&x, "renewTime"));
    snprintf(acquired, sizeof acquired, "%s", spec_str(&x, "acquireTime"));
    usleep(450000);
    ck_assert(kleader_is_leader(x.l));
    pthread_mutex_lock(&x.f.mu);
    ck_assert_int_ge(x.f.updates, 2);
    ck_assert_int_eq(x.f.gets, 1); /* only the first 404 */
    ck_assert_int_eq(x.f.conflicts, 0);
    pthread_mutex_unlock(&x.f.mu);
    ck_assert_str_ne(spec_str(&x, "renewTime"), first);
    ck_assert_str_eq(spec_str(&x, "acquireTime"), acquired);
    fx_teardown(&x);
}
END_TEST

static const char *HELD_BY_OTHER =
    "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":"
    "\"grace-operator\",\"namespace\":\"ns\",\"resourceVersion\":\"100\"},\"spec\":{"
    "\"holderIdentity\":\"other\",\"leaseDurationSeconds\":1,\"acquireTime\":"
    "\"2026-11-28T12:00:00.000000Z\",\"renewTime\":\"2026-11-28T12:00:00.000000Z\","
    "\"leaseTransitions\":3}}";

START_TEST(kleader_does_not_lead_while_another_holder_renews)
{
    struct fx x;
    fx_setup(&x, HELD_BY_OTHER);
    x.f.other_renews = true;
    ck_assert_int_eq(kleader_start(x.l), KERR_OK);
    usleep(1400000);
    ck_assert(!kleader_is_leader(x.l));
    ck_assert_str_eq(spec_str(&x, "holderIdentity"), "other");
    ck_assert_int_eq(kleader_transitions(x.l), 3);
    pthread_mutex_lock(&x.f.mu);
    ck_assert_int_eq(x.f.started, 0);
    ck_assert_int_eq(x.f.updates, 0);
    pthread_mutex_unlock(&x.f.mu);
    fx_teardown(&x);
}
END_TEST

START_TEST(kleader_takes_over_an_expired_lease)
{
    struct fx x;
    fx_setup(&x, HELD_BY_OTHER);
    ck_assert_int_eq(kleader_start(x.l), KERR_OK);
    usleep(500000);
    ck_assert(!kleader_is_leader(x.l)); /* not yet a full lease duration */
    ck_assert(wait_leader(x.l, true, 3000));
    ck_assert_str_eq(spec_str(&x, "holderIdentity"), "me_1");
    ck_assert_str_eq(spec_str(&x, "leaseTransitions"), "4");
    ck_assert_str_ne(spec_str(&x, "acquireTime"), "2026-11-28T12:00:00.000000Z");
    ck_assert_int_eq(kleader_transitions(x.l), 4);
    ck_assert_int_eq(x.f.bad_times, 0);
    fx_teardown(&x);
}
END_TEST

START_TEST(kleader_takes_a_released_lease_at_once_despite_a_conflict)
{
    struct fx x;
    fx_setup(
        &x,
        "{\"metadata\":{\"name\":\"grace-operator\",\"resourceVersion\":\"100\"},"
        "\"spec\":{\"holderIdentity\":\"\",\"leaseDurationSeconds\":1,\"leaseTransitions\":1}}");
    x.f.conflict_puts = 1; /* someone else writes first once */
    ck_assert_int_eq(kleader_start(x.l), KERR_OK);
    ck_assert(wait_leader(x.l, true, 900));
    ck_assert_int_eq(x.f.conflicts, 1);
    ck_assert_str_eq(spec_str(&x, "leaseTransitions"), "2");
    fx_teardown(&x);
}
END_TEST

START_TEST(kleader_releases_the_lease_on_stop)
{
    struct fx x;
    fx_setup(&x, NULL);
    ck_assert_int_eq(kleader_start(x.l), KERR_OK);
    ck_assert(wait_leader(x.l, true, 3000));
    kleader_stop(x.l);
    ck_assert(!kleader_is_leader(x.l));
    ck_assert_str_eq(spec_str(&x, "holderIdentity"), "");
    ck_assert_str_eq(spec_str(&x, "leaseDurationSeconds"), "1");
    pthread_mutex_lock(&x.f.mu);
    ck_assert_int_eq(x.f.stopped, 1);
    ck_assert_int_eq(x.f.bad_times, 0);
    pthread_mutex_unlock(&x.f.mu);
    kleader_stop(x.l); /* idempotent */
    fx_teardown(&x);
}
END_TEST

START_TEST(kleader_stops_leading_after_the_renew_deadline_and_recovers)
{
    struct fx x;
    fx_setup(&x, NULL);
    ck_assert_int_eq(kleader_start(x.l), KERR_OK);
    ck_assert(wait_leader(x.l, true, 3000));
    pthread_mutex_lock(&x.f.mu);
    x.f.fail = true;
    pthread_mutex_unlock(&x.f.mu);
    usleep(300000);
    ck_assert(kleader_is_leader(x.l)); /* within the 600 ms deadline */
    ck_assert(wait_leader(x.l, false, 2000));
    pthread_mutex_lock(&x.f.mu);
    ck_assert_int_eq(x.f.stopped, 1);
    x.f.fail = false;
    pthread_mutex_unlock(&x.f.mu);
    ck_assert(wait_leader(x.l, true, 3000)); /* still our lease: renewed at once */
    pthread_mutex_lock(&x.f.mu);
    ck_assert_int_eq(x.f.started, 2);
    pthread_mutex_unlock(&x.f.mu);
    fx_teardown(&x);
}
END_TEST

START_TEST(kleader_new_rejects_bad_options)
{
    struct kleader *l = NULL;
    struct kerr_info err = {0};
    struct kleader_options o = {"ns", "lease", NULL, 0, 0, 0, NULL, NULL, NULL};
    ck_assert_int_eq(kleader_new(NULL, &o, &l, &err), KERR_INVAL);
    ck_assert_ptr_null(l);
    ck_assert_ptr_nonnull(strstr(err.message, "identity"));
    o.identity = "me";
    o.lease_duration_ms = 5000; /* < the default 10 s renew deadline */
    ck_assert_int_eq(kleader_new(NULL, &o, &l, &err), KERR_INVAL);
    o.lease_duration_ms = 15000;
    o.retry_period_ms = 10000;
    ck_assert_int_eq(kleader_new(NULL, &o, &l, &err), KERR_INVAL);
    o.retry_period_ms = 0;
    ck_assert_int_eq(kleader_new(NULL, &o, &l, &err), KERR_OK);
    ck_assert(!kleader_is_leader(l));
    ck_assert_int_eq(kleader_transitions(l), -1);
    kleader_free(l); /* never started */
    kleader_free(NULL);
}
END_TEST

static Suite *kleader_suite(void)
{
    Suite *s = suite_create("kleader");
    TCase *tc = tcase_create("lease");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, kleader_acquires_an_absent_lease);
    tcase_add_test(tc, kleader_renews_from_its_own_write_without_reading);
    tcase_add_test(tc, kleader_does_not_lead_while_another_holder_renews);
    tcase_add_test(tc, kleader_takes_over_an_expired_lease);
    tcase_add_test(tc, kleader_takes_a_released_lease_at_once_despite_a_conflict);
    tcase_add_test(tc, kleader_releases_the_lease_on_stop);
    tcase_add_test(tc, kleader_stops_leading_after_the_renew_deadline_and_recovers);
    tcase_add_test(tc, kleader_new_rejects_bad_options);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kleader_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
