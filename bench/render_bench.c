/* clang-format off */
/*
 * render_bench: microbenchmark of the template engine (not a test; never
 * fails on speed). Renders examples/peeps.yaml with the default config and
 * the templates in templates/ N times on one engine, as a worker does, and
 * prints microseconds per render (render_objects) and per render plus
 * render_finish. Run from the repository root after `make`:
 *
 *   gcc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -Ikube -Icontrollers -Ioperator $(pkg-config --cflags lua5.4) bench/render_bench.c build/libgrace.a $(pkg-config --libs lua5.4 yaml-0.1 jansson libcurl libwebsockets libpq openssl) -lpthread -lm -o build/render_bench && build/render_bench [N]
 */
/* clang-format on */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "kyaml.h"
#include "render.h"

static double now_us(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int fail(const char *what, const struct kerr_info *err)
{
    fprintf(stderr, "render_bench: %s: %s\n", what, err->message);
    return 1;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    struct kerr_info err;
    struct grace_config *cfg = NULL;
    struct render *r = NULL;
    json_t *docs = NULL;

    if (n <= 0)
        n = 20000;
    if (kyaml_load_file("examples/peeps.yaml", &(struct kyaml_opts){KYAML_MANIFESTS, NULL, 0},
                        &docs, &err))
        return fail("examples/peeps.yaml", &err);
    if (grace_config_load(NULL, &cfg, &err))
        return fail("config", &err);
    if (render_new("templates", &r, &err))
        return fail("templates", &err);
    json_t *gs = json_array_get(docs, 0);
    json_object_set_new(json_object_get(gs, "metadata"), "uid",
                        json_string("6f1c2d3e-0000-4000-8000-000000000001"));
    const json_t *config = grace_config_json(cfg);
    size_t objects = 0;

    for (int pass = 0; pass < 2; pass++) {
        double t0 = now_us(CLOCK_MONOTONIC), c0 = now_us(CLOCK_THREAD_CPUTIME_ID);
        for (long i = 0; i < n; i++) {
            json_t *out = NULL;
            if (render_objects(r, gs, config, &out, &err))
                return fail("render", &err);
            if (pass == 1 && render_finish(gs, out, &err))
                return fail("finish", &err);
            objects = json_array_size(out);
            json_decref(out);
        }
        double per = (now_us(CLOCK_MONOTONIC) - t0) / (double)n;
        double cpu = (now_us(CLOCK_THREAD_CPUTIME_ID) - c0) / (double)n;
        printf("%s: %ld renders of examples/peeps.yaml (%zu objects): %.1f us per render "
               "(%.1f us CPU)\n",
               pass ? "render_objects + render_finish" : "render_objects", n, objects, per, cpu);
    }
    render_free(r);
    grace_config_free(cfg);
    json_decref(docs);
    return 0;
}
