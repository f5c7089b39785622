/*
 * fuzz_yaml: the two YAML loaders, kyaml (kubeconfig: libyaml's document
 * API, first document) and kyamljson (manifests, the configuration: the
 * event API, every document), and kyamljson's emitter.
 *
 * Invariants:
 *  - whatever a loader accepts dumps as JSON;
 *  - kyamljson: the documents emitted as YAML (kyamljson_emit) load again
 *    to the same documents (what `grace-operator render` prints reads back);
 *  - kyaml typed: the first document, as JSON text, loads again the same;
 *  - both loaders bound alias expansion: nothing accepted is larger than
 *    their node budgets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "kyaml.h"
#include "kyamljson.h"

#define H "yaml"

static size_t nodes(const json_t *v)
{
    size_t n = 1, i;
    const char *k;
    json_t *c;
    if (json_is_object(v))
        json_object_foreach((json_t *)v, k, c) n += nodes(c);
    else if (json_is_array(v))
        json_array_foreach(v, i, c) n += nodes(c);
    return n;
}

static void emit_roundtrip(const json_t *docs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    enum kerr rc = kyamljson_emit(f, docs, NULL);
    fclose(f);
    if (rc != KERR_OK)
        fz_fail(H, "accepted documents do not emit");
    json_t *again = NULL;
    struct kerr_info err = {0};
    if (kyamljson_load_string(buf, len, &again, &err) != KERR_OK)
        fz_fail(H, "emitted YAML does not load: %s\n%.400s", err.message, buf);
    if (!json_equal((json_t *)docs, again)) {
        char *a = fz_dump(H, docs), *b = fz_dump(H, again);
        fz_fail(H, "emit + load changes the documents:\n%.400s\n%.400s", a, b);
    }
    json_decref(again);
    free(buf);
}

static void kyaml_roundtrip(const char *text, size_t len)
{
    json_t *doc = NULL, *again = NULL;
    if (kyaml_load_string_ex(text, len, KYAML_TYPED, &doc, NULL) != KERR_OK)
        return;
    if (nodes(doc) > KYAML_MAX_NODES)
        fz_fail(H, "kyaml produced more than its node budget");
    char *js = fz_dump(H, doc);
    if (kyaml_load_string_ex(js, strlen(js), KYAML_TYPED, &again, NULL) != KERR_OK)
        fz_fail(H, "kyaml: its own result as JSON does not load: %.300s", js);
    if (!json_equal(doc, again))
        fz_fail(H, "kyaml: result as JSON loads differently: %.300s", js);
    free(js);
    json_decref(doc);
    json_decref(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    json_t *doc = NULL, *docs = NULL;
    if (kyaml_load_string(text, size, &doc, NULL) == KERR_OK)
        free(fz_dump(H, doc));
    json_decref(doc);
    kyaml_roundtrip(text, size);
    if (kyamljson_load_string(text, size, &docs, NULL) == KERR_OK) {
        if (!json_is_array(docs) || nodes(docs) > KYAMLJSON_MAX_NODES + 1)
            fz_fail(H, "kyamljson result is not an array within its budget");
        emit_roundtrip(docs);
    }
    json_decref(docs);
    return 0;
}
