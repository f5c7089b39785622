/*
 * fuzz_config: the operator configuration loader (grace_config_load_string,
 * YAML through kyaml (KYAML_MANIFESTS), then the field checks of config.c).
 *
 * Invariants, when a configuration is accepted:
 *  - the accessors the operator reads at start-up are usable (base domain,
 *    field manager, the route, issuer, postgres and kafka views);
 *  - the configuration as JSON (grace_config_json) loads again and gives
 *    the same configuration: loading is idempotent.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzzutil.h"

#define H "config"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init_quiet();
    return 0;
}

static void check_views(const struct grace_config *c)
{
    if (!grace_config_base_domain(c) || !grace_config_field_manager(c))
        fz_fail(H, "no base domain or field manager");
    const struct grace_config_route *r = grace_config_route(c);
    if (!r || !r->kind_name)
        fz_fail(H, "no route kind");
    if (!grace_config_issuer(c) || !grace_config_postgres(c) || !grace_config_kafka(c) ||
        !grace_config_backup(c) || !grace_config_egress(c))
        fz_fail(H, "a configuration view is missing");
    if (grace_config_postgres(c)->port < 0 || grace_config_postgres(c)->port > 65535)
        fz_fail(H, "postgres port %d accepted", grace_config_postgres(c)->port);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fz_strndup(data, size);
    struct grace_config *c = NULL, *again = NULL;
    struct kerr_info err = {0};
    if (grace_config_load_string(text, "fuzz", &c, &err) == KERR_OK) {
        check_views(c);
        char *js = fz_dump(H, grace_config_json(c));
        if (grace_config_load_string(js, "again", &again, &err) != KERR_OK)
            fz_fail(H, "the accepted configuration, as JSON, is refused: %s", err.message);
        if (!json_equal(grace_config_json(c), grace_config_json(again)))
            fz_fail(H, "loading the configuration again changes it");
        free(js);
    }
    grace_config_free(c);
    grace_config_free(again);
    free(text);
    return 0;
}
